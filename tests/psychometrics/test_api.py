"""GET /api/v1/psychometrics/administrations/{id}/item-analysis over stored item scores."""

from __future__ import annotations

import csv
import io
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from tests.support.exams import begin, exam, wait_for_state
from tests.support.factories import Factory, login
from tests.support.problems import problem
from waa_ads.assessments import adaptive
from waa_ads.auth.models import Candidate, Role
from waa_ads.content.models import ItemVersion
from waa_ads.delivery.models import Attempt
from waa_ads.psychometrics import service
from waa_ads.psychometrics.classical import ItemAnalysisAccumulator
from waa_ads.psychometrics.models import StoredItemAnalysis

pytestmark = pytest.mark.asyncio


async def _sit(client: httpx.AsyncClient, code: str, answers: dict[str, Any]) -> str:
    attempt_id, headers = await begin(client, code)
    for seq, (ref, value) in enumerate(answers.items(), start=1):
        saved = await client.put(
            f"/api/v1/attempts/{attempt_id}/responses/{ref}",
            json={"seq": seq, "value": value},
            headers=headers,
        )
        assert saved.status_code == 200, saved.text
    submitted = await client.post(f"/api/v1/attempts/{attempt_id}/submit", headers=headers)
    assert submitted.status_code == 200, submitted.text
    return attempt_id


async def test_item_analysis_of_an_administration(
    app: FastAPI, client: httpx.AsyncClient, make: Factory
) -> None:
    ex = await exam(client, make, candidates=6, scoring={"release": "immediately"})
    # B is right everywhere; Q3 is answered right only by a candidate weak on the others
    sheets = [
        {"Q1": "B", "Q2": "B", "Q3": "A"},
        {"Q1": "B", "Q2": "B", "Q3": "A"},
        {"Q1": "B", "Q2": "A", "Q3": "A"},
        {"Q1": "A", "Q2": "A", "Q3": "B"},
        {"Q1": "A", "Q2": "A", "Q3": "A"},
    ]
    for code, sheet in zip(ex.codes[:5], sheets, strict=True):
        attempt_id = await _sit(client, code, sheet)
        assert await wait_for_state(app, attempt_id, "released", "scored") in ("released", "scored")
    # a sixth candidate is still answering: their responses are stored but not analysed
    live_id, live = await begin(client, ex.codes[5])
    for seq, ref in enumerate(("Q2", "Q3"), start=1):
        saved = await client.put(
            f"/api/v1/attempts/{live_id}/responses/{ref}",
            json={"seq": seq, "value": "C"},
            headers=live,
        )
        assert saved.status_code == 200, saved.text
    admin_id = ex.administration["id"]
    url = f"/api/v1/psychometrics/administrations/{admin_id}/item-analysis"

    reply = await client.get(url, headers=ex.world.headers)
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["administration_id"] == admin_id
    assert body["test"]["persons"] == 5 and body["test"]["items"] == 3
    items = {i["item"]: i for i in body["items"]}
    assert items["Q1"]["facility"] == pytest.approx(0.6)
    assert items["Q2"]["facility"] == pytest.approx(0.4)
    assert items["Q3"]["facility"] == pytest.approx(0.2)
    assert items["Q2"]["discrimination"] == pytest.approx(1.0)
    assert items["Q3"]["point_biserial"] < 0
    assert "negative-discrimination" in items["Q3"]["flags"]
    assert items["Q1"]["flags"] == []
    # distractors, from the options the stored responses chose: totals 2, 2, 1, 1, 0, so
    # the fifths are one person each (the two at 1 shared out between the middle fifths)
    q2 = {o["option"]: o for o in items["Q2"]["options"]}
    q3 = {o["option"]: o for o in items["Q3"]["options"]}
    assert set(q3) == {"A", "B", "C"} and q3["B"]["key"] and not q3["A"]["key"]
    assert q3["A"]["groups"] == pytest.approx([1.0, 0.5, 0.5, 1.0, 1.0])
    assert q2["A"]["groups"] == pytest.approx([1.0, 1.0, 1.0, 0.0, 0.0])
    assert q3["C"]["share"] == 0 and q3["C"]["groups"] == [0.0] * 5  # nobody chose it
    assert q3["A"]["upper"] > q3["A"]["lower"]
    assert "distractor-attracts-high-scorers" in items["Q3"]["flags"]
    assert "distractor-attracts-high-scorers" not in items["Q2"]["flags"]
    assert {o: q2[o]["share"] for o in q2} == pytest.approx({"A": 0.6, "B": 0.4, "C": 0.0})
    # the lower 27% is 1.35 persons: the one at 0 (A) and 0.35 of the two tied at 1 (A, B)
    assert (q3["A"]["upper"], q3["A"]["lower"]) == pytest.approx((1.0, 1.175 / 1.35))

    # the item statistics CSV carries the key and the option shares
    exported = await client.get(f"{url}.csv", headers=ex.world.headers)
    assert exported.status_code == 200, exported.text
    table = list(csv.reader(io.StringIO(exported.text)))
    header, rows = table[0], {r[0]: r for r in table[1:] if r and r[0].startswith("Q")}
    cells = dict(zip(header, rows["Q3"], strict=True))
    assert (cells["key"], cells["option_share"]) == ("B", "A=0.8 B=0.2 C=0")
    assert (cells["option_lower"], cells["option_upper"]) == (
        "A=0.8704 B=0.1296 C=0",
        "A=1 B=0 C=0",
    )
    assert "distractor-attracts-high-scorers" in cells["flags"]

    author = await make.user(ex.world.org, Role.author)
    as_author = await client.get(url, headers=await login(client, author))
    assert as_author.status_code == 200
    rater = await make.user(ex.world.org, Role.rater)
    refused = await client.get(url, headers=await login(client, rater))
    assert refused.status_code == 403 and problem(refused) == "role-required"

    # another organization sees nothing of this one
    other_org = await make.organization()
    stranger = await make.user(other_org, Role.admin)
    hidden = await client.get(url, headers=await login(client, stranger))
    assert hidden.status_code == 404 and problem(hidden) == "administration-not-found"


async def test_calibration_is_stored_on_the_item_versions(
    app: FastAPI, client: httpx.AsyncClient, make: Factory
) -> None:
    ex = await exam(client, make, candidates=6, scoring={"release": "immediately"})
    sheets = [
        {"Q1": "B", "Q2": "B", "Q3": "B"},
        {"Q1": "B", "Q2": "B", "Q3": "A"},
        {"Q1": "B", "Q2": "A", "Q3": "A"},
        {"Q1": "A", "Q2": "B", "Q3": "A"},
        {"Q1": "B", "Q2": "A", "Q3": "B"},
        {"Q1": "A", "Q2": "A", "Q3": "A"},
    ]
    for code, sheet in zip(ex.codes, sheets, strict=True):
        attempt_id = await _sit(client, code, sheet)
        assert await wait_for_state(app, attempt_id, "released", "scored") in ("released", "scored")
    admin_id = ex.administration["id"]
    made = await client.post(
        "/api/v1/psychometrics/calibrations",
        json={"administration_ids": [admin_id], "model": "rasch"},
        headers=ex.world.headers,
    )
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["model"] == "rasch" and body["persons"] == 6
    assert {i["item"] for i in body["items"]} == {"Q1", "Q2", "Q3"}
    easiest = min(body["items"], key=lambda i: i["b"])
    assert easiest["item"] == "Q1"  # right 4 times out of 6, the others 3 and 2 times

    async with app.state.db.transaction(write=False) as session:
        stored = {
            str(v.id): v.irt
            for v in (await session.scalars(select(ItemVersion))).all()
            if v.organization_id == ex.world.org.id
        }
    for item in body["items"]:
        irt = stored[item["item_version_id"]]
        assert irt["model"] == "rasch" and irt["b"] == pytest.approx(item["b"])
        assert irt["calibration"]["id"] == body["id"]
        assert irt["calibration"]["administration_ids"] == [admin_id]

    # the bank's calibrated items, as an adaptive test or `waa-ads cat simulate` reads them
    async with app.state.db.transaction(write=False) as session:
        bank_items = await service.calibrated_bank_items(
            session, uuid.UUID(ex.world.bank_id), ex.world.org.id
        )
    by_version = {i["item_version_id"]: i for i in bank_items}
    assert len(bank_items) == 3 and set(by_version) == {i["item_version_id"] for i in body["items"]}
    for item in body["items"]:
        assert by_version[item["item_version_id"]]["d"] == pytest.approx(item["d"])
    assert len(adaptive.CatBank.from_items(bank_items).items) == 3

    # the parameters, the curves drawn from them and the item statistics as CSV
    base = f"/api/v1/psychometrics/administrations/{admin_id}"
    params = await client.get(f"{base}/parameters", headers=ex.world.headers)
    assert params.status_code == 200, params.text
    assert [p["item"] for p in params.json()] == ["Q1", "Q2", "Q3"]
    assert all(p["model"] == "rasch" and p["calibration_id"] == body["id"] for p in params.json())
    for name in ("test", "item-Q2"):
        png = await client.get(f"{base}/curves/{name}.png", headers=ex.world.headers)
        assert png.status_code == 200 and png.headers["content-type"] == "image/png"
        assert png.content.startswith(b"\x89PNG")
    unknown = await client.get(f"{base}/curves/item-Q9.png", headers=ex.world.headers)
    assert unknown.status_code == 404 and problem(unknown) == "irt-parameters-not-found"
    exported = await client.get(f"{base}/item-analysis.csv", headers=ex.world.headers)
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    lines = exported.text.splitlines()
    assert lines[0].startswith("item,presented,max_score,mean,facility")
    assert "test_persons,6" in lines and len([row for row in lines if row.startswith("Q")]) == 3

    other = await make.organization()
    stranger = await make.user(other, Role.admin)
    hidden = await client.post(
        "/api/v1/psychometrics/calibrations",
        json={"administration_ids": [admin_id], "model": "2pl"},
        headers=await login(client, stranger),
    )
    assert hidden.status_code == 404 and problem(hidden) == "administration-not-found"


async def test_dif_of_an_administration_by_groups_the_caller_gives(
    app: FastAPI, client: httpx.AsyncClient, make: Factory
) -> None:
    ex = await exam(client, make, candidates=7, scoring={"release": "immediately"})
    sheets = [
        {"Q1": "B", "Q2": "B", "Q3": "B"},
        {"Q1": "B", "Q2": "B", "Q3": "A"},
        {"Q1": "B", "Q2": "A", "Q3": "A"},
        {"Q1": "A", "Q2": "B", "Q3": "B"},
        {"Q1": "A", "Q2": "B", "Q3": "A"},
        {"Q1": "A", "Q2": "A", "Q3": "B"},
        {"Q1": "B", "Q2": "B", "Q3": "B"},
    ]
    attempts = []
    for code, sheet in zip(ex.codes, sheets, strict=True):
        attempt_id = await _sit(client, code, sheet)
        assert await wait_for_state(app, attempt_id, "released", "scored") in ("released", "scored")
        attempts.append(attempt_id)
    async with app.state.db.transaction(write=False) as session:
        owners = {
            str(a.id): (str(c.id), c.external_id)
            for a, c in (
                await session.execute(
                    select(Attempt, Candidate).join(Candidate, Candidate.id == Attempt.candidate_id)
                )
            ).all()
        }
    groups: dict[str, str] = {}
    for n, attempt_id in enumerate(attempts[:6]):  # the seventh candidate has no group
        candidate_id, external_id = owners[attempt_id]
        key = external_id if n % 2 and external_id else candidate_id  # either key works
        groups[key] = "R" if n < 3 else "F"
    url = f"/api/v1/psychometrics/administrations/{ex.administration['id']}/dif"
    reply = await client.post(
        url, json={"reference": "R", "groups": groups}, headers=ex.world.headers
    )
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["reference"] == "R" and body["ungrouped"] == 1
    assert body["items"] == ["Q1", "Q2", "Q3"] and body["skipped"] == []
    (comparison,) = body["comparisons"]
    assert comparison["focal"] == "F"
    assert (comparison["reference_persons"], comparison["focal_persons"]) == (3, 3)
    q1 = {i["item"]: i for i in comparison["items"]}["Q1"]
    # Q1: all three of R right, none of F: the focal group is far behind at every total
    assert q1["logistic"]["group_effect"] < 0 and q1["logistic"]["uniform_chi_square"] > 0

    # without groups in the request, the candidates' stored groups are used
    for n, attempt_id in enumerate(attempts[:6]):
        patched = await client.patch(
            f"/api/v1/candidates/{owners[attempt_id][0]}",
            json={"group": "R" if n < 3 else "F"},
            headers=ex.world.headers,
        )
        assert patched.status_code == 200, patched.text
    stored = await client.post(url, json={"reference": "R"}, headers=ex.world.headers)
    assert stored.status_code == 200, stored.text
    assert stored.json()["comparisons"] == body["comparisons"] and stored.json()["ungrouped"] == 1

    missing = await client.post(
        url, json={"reference": "Z", "groups": groups}, headers=ex.world.headers
    )
    assert missing.status_code == 422 and problem(missing) == "dif-input-invalid"
    assert "reference group 'Z'" in missing.json()["detail"]
    rater = await make.user(ex.world.org, Role.rater)
    refused = await client.post(
        url, json={"reference": "R", "groups": groups}, headers=await login(client, rater)
    )
    assert refused.status_code == 403 and problem(refused) == "role-required"
    stranger = await make.user(await make.organization(), Role.admin)
    hidden = await client.post(
        url, json={"reference": "R", "groups": groups}, headers=await login(client, stranger)
    )
    assert hidden.status_code == 404 and problem(hidden) == "administration-not-found"


async def test_linking_two_calibrations(client: httpx.AsyncClient, make: Factory) -> None:
    org = await make.organization()
    author = await login(client, await make.user(org, Role.author))
    items_y: list[dict[str, Any]] = [
        {"item": f"i{j}", "a": 1.0 + 0.2 * j, "d": 0.5 * j - 1} for j in range(5)
    ]
    form_y = {"model": "2pl", "items": items_y}
    # form X: the same items where theta_X = (theta_Y - 1) / 2
    items_x = [{"item": i["item"], "a": 2 * i["a"], "d": i["d"] + i["a"]} for i in items_y]
    form_x = {"model": "2pl", "items": items_x}
    reply = await client.post(
        "/api/v1/psychometrics/linkings",
        json={"form_x": form_x, "form_y": form_y, "method": "mean-mean"},
        headers=author,
    )
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["slope"] == pytest.approx(2.0) and body["intercept"] == pytest.approx(1.0)
    assert body["methods"]["stocking-lord"]["slope"] == pytest.approx(2.0, abs=1e-4)
    bad = await client.post(
        "/api/v1/psychometrics/linkings",
        json={"form_x": {"model": "2pl", "items": []}, "form_y": form_y},
        headers=author,
    )
    assert bad.status_code == 422 and problem(bad) == "calibration-input-invalid"
    rater = await login(client, await make.user(org, Role.rater))
    refused = await client.post(
        "/api/v1/psychometrics/linkings", json={"form_x": form_x, "form_y": form_y}, headers=rater
    )
    assert refused.status_code == 403 and problem(refused) == "role-required"


async def test_stored_item_analysis_follows_the_scores(
    app: FastAPI, client: httpx.AsyncClient, make: Factory
) -> None:
    ex = await exam(client, make, candidates=5, scoring={"release": "immediately"})
    sheets = [
        {"Q1": "B", "Q2": "B", "Q3": "A"},
        {"Q1": "B", "Q2": "A", "Q3": "A"},
        {"Q1": "A", "Q2": "A", "Q3": "B"},
        {"Q1": "B", "Q2": "B", "Q3": "B"},
        {"Q1": "A", "Q2": "B", "Q3": "A"},
    ]
    org, admin_id = ex.world.org.id, uuid.UUID(ex.administration["id"])
    url = f"/api/v1/psychometrics/administrations/{admin_id}/item-analysis"
    for code, sheet in zip(ex.codes[:3], sheets[:3], strict=True):
        attempt_id = await _sit(client, code, sheet)
        assert await wait_for_state(app, attempt_id, "released", "scored") in ("released", "scored")
    async with app.state.db.transaction() as session:
        assert (org, admin_id) in await service.stale_item_analyses(session, limit=10_000)
        assert await service.refresh_item_analysis(session, org, admin_id) == 3
    async with app.state.db.transaction() as session:
        assert (org, admin_id) not in await service.stale_item_analyses(session, limit=10_000)
        stored = await session.scalar(
            select(StoredItemAnalysis).where(StoredItemAnalysis.administration_id == admin_id)
        )
        assert (
            stored is not None
            and len(stored.folded) == 3
            and set(stored.items)
            == {
                "Q1",
                "Q2",
                "Q3",
            }
        )
    for code, sheet in zip(ex.codes[3:], sheets[3:], strict=True):
        attempt_id = await _sit(client, code, sheet)
        assert await wait_for_state(app, attempt_id, "released", "scored") in ("released", "scored")
    # the API adds the two new attempts to the stored three without writing
    reply = await client.get(url, headers=ex.world.headers)
    assert reply.status_code == 200 and reply.json()["test"]["persons"] == 5
    async with app.state.db.transaction() as session:
        assert (org, admin_id) in await service.stale_item_analyses(session, limit=10_000)
        assert await service.refresh_item_analysis(session, org, admin_id) == 5
    async with app.state.db.transaction() as session:
        stored = await session.scalar(
            select(StoredItemAnalysis).where(StoredItemAnalysis.administration_id == admin_id)
        )
        assert stored is not None
        incremental = ItemAnalysisAccumulator.from_state(stored.state).result().to_dict()
        scratch, _, _, _ = await service._current_analysis(session, org, admin_id, None)
        expected = scratch.result().to_dict()
        assert incremental["test"] == pytest.approx(expected["test"])
        for ours, theirs in zip(incremental["items"], expected["items"], strict=True):  # type: ignore[call-overload]
            assert ours["item"] == theirs["item"] and ours["flags"] == theirs["flags"]
            numbers = {k: v for k, v in theirs.items() if isinstance(v, float)}
            assert {k: ours[k] for k in numbers} == pytest.approx(numbers)
            # the options chosen, counted one attempt at a time or read in one query
            assert [o["option"] for o in ours["options"]] == ["A", "B", "C"]
            for mine, full in zip(ours["options"], theirs["options"], strict=True):
                assert mine["option"] == full["option"] and mine["key"] == full["key"]
                assert [mine[k] for k in ("share", "upper", "lower")] == pytest.approx(
                    [full[k] for k in ("share", "upper", "lower")]
                )
                assert mine["groups"] == pytest.approx(full["groups"])
        assert reply.json()["test"] == pytest.approx(scratch.result().to_dict()["test"])
        # an attempt folded at another revision than its newest: rebuilt from scratch
        first = next(iter(stored.folded))
        stored.folded = {**stored.folded, first: 99}
        rebuilt, _, folded, _ = await service._current_analysis(session, org, admin_id, stored)
        assert folded[first] != 99 and len(folded) == 5
        assert rebuilt.result().to_dict()["test"] == pytest.approx(
            scratch.result().to_dict()["test"]
        )
