"""Results: release policy, withholding, manual scores for items people score, answer-key
corrections with rescoring, CSV, and tenancy."""

from __future__ import annotations

import asyncio
import csv
import io
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.support.exams import begin, exam, wait_for_state
from tests.support.factories import Factory, login
from tests.support.items import choice_item
from tests.support.problems import problem
from waa_ads.auth.models import Role

pytestmark = pytest.mark.asyncio


async def _answer_and_submit(
    client: httpx.AsyncClient, code: str, answers: dict[str, Any]
) -> tuple[str, dict[str, str]]:
    attempt_id, headers = await begin(client, code)
    for seq, (ref, value) in enumerate(answers.items(), start=1):
        saved = await client.put(
            f"/api/v1/attempts/{attempt_id}/responses/{ref}",
            json={"seq": seq, "value": value},
            headers=headers,
        )
        assert saved.status_code == 200, saved.text
    submitted = await client.post(f"/api/v1/attempts/{attempt_id}/submit", headers=headers)
    assert submitted.status_code == 200
    return attempt_id, headers


async def test_release_after_review_and_withholding(
    app: FastAPI, client: httpx.AsyncClient, make: Factory
) -> None:
    ex = await exam(client, make, scoring={"release": "after_review"})
    admin = ex.world.headers
    attempt_id, headers = await _answer_and_submit(client, ex.codes[0], {"Q1": "B", "Q2": "A"})
    assert await wait_for_state(app, attempt_id, "scored") == "scored"
    hidden = await client.get(f"/api/v1/attempts/{attempt_id}/result", headers=headers)
    assert (hidden.status_code, problem(hidden)) == (404, "result-not-released")

    detail = await client.get(f"/api/v1/results/{attempt_id}", headers=admin)
    assert detail.status_code == 200, detail.text
    body = detail.json()
    assert body["latest"]["raw"] == 1.0
    assert body["latest"]["max_raw"] == 3.0
    assert {i["item_ref"]: i["method"] for i in body["items"]} == {
        "Q1": "objective",
        "Q2": "objective",
        "Q3": "objective",
    }
    assert all(i["confidence"] == 1.0 for i in body["items"])

    released = await client.post(f"/api/v1/results/{attempt_id}/release", headers=admin)
    assert released.status_code == 200
    shown = await client.get(f"/api/v1/attempts/{attempt_id}/result", headers=headers)
    assert shown.status_code == 200
    assert shown.json()["raw"] == 1.0
    assert "items" not in shown.json()

    withheld = await client.post(
        f"/api/v1/results/{attempt_id}/withhold",
        json={"reason": "under investigation"},
        headers=admin,
    )
    assert withheld.json()["withheld"] is True
    while_withheld = await client.get(f"/api/v1/attempts/{attempt_id}/result", headers=headers)
    assert (while_withheld.status_code, problem(while_withheld)) == (404, "result-not-released")
    await client.post(
        f"/api/v1/results/{attempt_id}/unwithhold", json={"reason": "cleared"}, headers=admin
    )
    assert (
        await client.get(f"/api/v1/attempts/{attempt_id}/result", headers=headers)
    ).status_code == 200

    events = (
        await client.get(
            "/api/v1/audit/events", params={"target_id": attempt_id, "limit": 100}, headers=admin
        )
    ).json()
    actions = [e["action"] for e in events["items"]]
    for expected in (
        "attempt.submit",
        "attempt.begin_scoring",
        "attempt.finish_scoring",
        "attempt.release",
        "result.released",
        "result.withheld",
        "result.unwithheld",
    ):
        assert expected in actions, (expected, actions)

    xml = await client.get(f"/api/v1/results/{attempt_id}/qti", headers=admin)
    assert xml.status_code == 200
    assert b"imsqti_result_v3p0" in xml.content
    assert f"attempt-{attempt_id}".encode() in xml.content
    assert b"correctResponse" not in xml.content
    bundle = await client.get(
        "/api/v1/results/qti", params={"administration_id": ex.administration["id"]}, headers=admin
    )
    assert bundle.status_code == 200
    import zipfile

    assert len(zipfile.ZipFile(io.BytesIO(bundle.content)).namelist()) == 1

    table = await client.get("/api/v1/results/export.csv", headers=admin)
    rows = list(csv.DictReader(io.StringIO(table.text)))
    assert [r["attempt_id"] for r in rows] == [attempt_id]
    assert rows[0]["raw"] == "1.0"


async def test_items_people_score_wait_in_scoring_until_a_manual_score(
    app: FastAPI, client: httpx.AsyncClient, make: Factory
) -> None:
    ex = await exam(client, make, scoring={"release": "immediately"})
    world = ex.world
    definition = await world.with_essay(scoring={"release": "immediately"})
    roster = (
        await client.get(
            f"/api/v1/administrations/{ex.administration['id']}/roster", headers=world.headers
        )
    ).json()
    _, (code,) = await world.open_administration(
        slug="with-essay",
        definition=definition,
        title="Essay day",
        candidate_ids=[roster[0]["candidate_id"]],
        hours=1,
    )
    attempt_id, headers = await _answer_and_submit(
        client, code, {"Q1": "B", "E1": "Light scatters."}
    )
    assert await wait_for_state(app, attempt_id, "scoring", "scored", "released") == "scoring"
    for _ in range(200):  # the scoring task runs after the submit commits
        response = await client.get(f"/api/v1/results/{attempt_id}", headers=world.headers)
        if response.status_code == 200:
            break
        await asyncio.sleep(0.05)
    detail = response.json()
    assert detail["attempt_state"] == "scoring"
    assert detail["latest"]["pending_items"] == 1
    assert {i["item_ref"]: i["method"] for i in detail["items"]}["E1"] == "pending"

    too_high = await client.post(
        f"/api/v1/results/{attempt_id}/items/E1/score",
        json={"score": 5, "reason": "excellent"},
        headers=world.headers,
    )
    assert (too_high.status_code, problem(too_high)) == (422, "score-out-of-range")
    scored = await client.post(
        f"/api/v1/results/{attempt_id}/items/E1/score",
        json={"score": 3, "reason": "clear and correct"},
        headers=world.headers,
    )
    assert scored.status_code == 200, scored.text
    assert scored.json()["revision"] == 2
    assert scored.json()["raw"] == 4.0
    assert scored.json()["complete"] is True
    assert await wait_for_state(app, attempt_id, "released") == "released"
    shown = await client.get(f"/api/v1/attempts/{attempt_id}/result", headers=headers)
    assert shown.json()["raw"] == 4.0
    revisions = (await client.get(f"/api/v1/results/{attempt_id}", headers=world.headers)).json()[
        "revisions"
    ]
    assert [r["revision"] for r in revisions] == [1, 2]
    assert revisions[0]["raw"] == 1.0  # the first revision was never overwritten


async def test_an_answer_key_correction_rescores_affected_attempts(
    app: FastAPI, client: httpx.AsyncClient, make: Factory
) -> None:
    ex = await exam(client, make, candidates=3, scoring={"release": "immediately"})
    world = ex.world
    answers = [{"Q1": "A"}, {"Q1": "B"}, {"Q1": "C"}]
    attempt_ids = []
    for code, answer in zip(ex.codes, answers, strict=True):
        attempt_id, _ = await _answer_and_submit(client, code, answer)
        attempt_ids.append(attempt_id)
    for attempt_id in attempt_ids:
        assert await wait_for_state(app, attempt_id, "released") == "released"
    # The key said B; it should have been A.
    fixed = await client.patch(
        f"/api/v1/items/{world.items['Q1']}",
        json={"source": {"format": "qti", "content": choice_item("Q1", "Q1", correct="A")}},
        headers=world.headers,
    )
    assert fixed.json()["version"]["version"] == 2
    await client.post(f"/api/v1/items/{world.items['Q1']}/publish", headers=world.headers)
    body = {"item_id": world.items["Q1"], "from_version": 1, "to_version": 2, "reason": "wrong key"}
    report = await client.post("/api/v1/rescore", json=body, headers=world.headers)
    assert report.status_code == 200, report.text
    changes = {c["attempt_id"]: c for c in report.json()["changes"]}
    assert report.json()["changed"] == 2
    assert changes[attempt_ids[0]]["item_score"] == {"before": 0.0, "after": 1.0}
    assert changes[attempt_ids[1]]["item_score"] == {"before": 1.0, "after": 0.0}
    assert attempt_ids[2] not in changes
    detail = (await client.get(f"/api/v1/results/{attempt_ids[0]}", headers=world.headers)).json()
    q1 = next(i for i in detail["items"] if i["item_ref"] == "Q1")
    assert detail["latest"]["revision"] == 2
    assert (
        q1["item_version_id"]
        == (
            await client.get(f"/api/v1/items/{world.items['Q1']}/versions/2", headers=world.headers)
        ).json()["id"]
    )
    again = await client.post("/api/v1/rescore", json=body, headers=world.headers)
    assert again.json() == {"changed": 0, "changes": []}


async def test_results_are_admin_only_and_tenant_scoped(
    app: FastAPI, client: httpx.AsyncClient, make: Factory
) -> None:
    ex = await exam(client, make)
    attempt_id, _ = await _answer_and_submit(client, ex.codes[0], {"Q1": "B"})
    await wait_for_state(app, attempt_id, "scored", "released")
    other = await make.organization()
    foreign = await login(client, await make.user(other, Role.admin))
    for hidden in (
        await client.get(f"/api/v1/results/{attempt_id}", headers=foreign),
        await client.post(
            f"/api/v1/results/{attempt_id}/items/Q1/score",
            json={"score": 1, "reason": "x"},
            headers=foreign,
        ),
    ):
        assert (hidden.status_code, problem(hidden)) == (404, "attempt-not-found")
    assert (await client.get("/api/v1/results", headers=foreign)).json()["items"] == []
    rater = await login(client, await make.user(ex.world.org, Role.rater))
    refused = await client.get(f"/api/v1/results/{attempt_id}", headers=rater)
    assert (refused.status_code, problem(refused)) == (403, "role-required")
    listed = (
        await client.get(
            "/api/v1/results",
            params={"administration_id": ex.administration["id"]},
            headers=ex.world.headers,
        )
    ).json()
    assert [r["attempt_id"] for r in listed["items"]] == [attempt_id]
