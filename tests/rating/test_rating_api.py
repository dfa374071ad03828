"""Rating over HTTP on both backends: plans, the queue, double marking, adjudication,
resolution into result revisions, bad input, pausing, seeded responses and tenancy."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import delete, func, select, update

from tests.rating.world import RUBRIC_MAX, UPLOADED, RatingWorld, levels, rating_world
from tests.support.exams import wait_for_state
from tests.support.factories import Factory, login
from tests.support.problems import problem
from waa_ads.audit.models import AuditEvent
from waa_ads.auth.models import Role
from waa_ads.core.db import utcnow
from waa_ads.rating.models import Rating, RatingLease, RatingOutcome, RatingTask

pytestmark = pytest.mark.asyncio


async def _count(app: FastAPI, model: Any) -> int:
    async with app.state.db.transaction(write=False) as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def _actions(app: FastAPI, organization_id: uuid.UUID) -> list[str]:
    async with app.state.db.transaction(write=False) as session:
        return list(
            (
                await session.execute(
                    select(AuditEvent.action)
                    .where(AuditEvent.organization_id == organization_id)
                    .order_by(AuditEvent.seq)
                )
            ).scalars()
        )


async def _result(rw: RatingWorld, attempt: str) -> dict[str, Any]:
    detail = await rw.client.get(f"/api/v1/results/{attempt}", headers=rw.admin)
    assert detail.status_code == 200, detail.text
    body: dict[str, Any] = detail.json()
    return body


async def test_double_marking_that_agrees_resolves_into_a_result_revision(
    app: FastAPI, client: httpx.AsyncClient, make: Factory
) -> None:
    rw = await rating_world(app, client, make)
    plan = (await rw.plan(double_share=1.0, disagreement_rule="adjacent", resolution="mean"))[
        "plan"
    ]
    first = await rw.next(rw.rater_headers[0])
    assert first is not None
    # What the rater sees: the item, the response as stored, the rubric; nobody's identity.
    text = str(first)
    assert rw.attempts[0] not in text
    assert "candidate" not in first and "attempt_id" not in first
    assert first["kind"] == "rating" and first["item_ref"] == "E1"
    assert [c["id"] for c in first["rubric"]["criteria"]] == ["content", "language"]
    assert first["rubric"]["criteria"][0]["levels"][1]["descriptor"] == "Some relevant ideas."
    assert first["item_max_score"] == RUBRIC_MAX
    assert first["item"]["item_identifier"] == "E1"
    assert "Argue for or against homework." in first["item"]["html"]
    assert "says writer 0." in str(first["response"])
    # Asking again while holding a lease gives it back.
    assert (await rw.next(rw.rater_headers[0]))["lease_id"] == first["lease_id"]
    saved = await rw.rate(
        rw.rater_headers[0],
        first["lease_id"],
        levels("strong", "fair"),
        comment="Clear position.",
        annotations=[{"note": "good opening", "start": 0, "end": 8}],
    )
    assert saved.status_code == 201, saved.text
    assert saved.json()["score"] == 4.0
    assert (await _result(rw, rw.attempts[0]))["latest"]["pending_items"] == 1
    # Never the same response twice to one rater: its second rating waits for another.
    assert await rw.next(rw.rater_headers[0]) is None
    second = await rw.next(rw.rater_headers[1])
    assert second is not None and second["lease_id"] != first["lease_id"]
    saved = await rw.rate(rw.rater_headers[1], second["lease_id"], levels("good", "fluent"))
    assert saved.status_code == 201, saved.text

    detail = await _result(rw, rw.attempts[0])
    item = next(i for i in detail["items"] if i["item_ref"] == "E1")
    assert item["score"] == 4.0 and item["max_score"] == RUBRIC_MAX
    assert detail["latest"]["complete"] is True
    assert await wait_for_state(app, rw.attempts[0], "released") == "released"

    progress = await client.get(
        f"/api/v1/rating/plans/{plan['id']}/progress", headers=rw.lead_headers
    )
    assert progress.json()["items"] == [
        {
            "item_ref": "E1",
            "responses": 1,
            "ratings_needed": 2,
            "ratings_done": 2,
            "adjudicating": 0,
            "resolved": 1,
        }
    ]
    figures = await client.get(f"/api/v1/rating/plans/{plan['id']}/stats", headers=rw.lead_headers)
    assert figures.status_code == 200, figures.text
    assert figures.json()["items"][0]["pairs"] == 1
    assert figures.json()["items"][0]["adjacent"] == 1.0
    assert len(figures.json()["pairs"]) == 1
    assert {r["rater_id"] for r in figures.json()["raters"]} == {str(r.user.id) for r in rw.raters}
    exported = await client.get(
        f"/api/v1/rating/plans/{plan['id']}/export.csv", headers=rw.lead_headers
    )
    assert exported.status_code == 200
    rows = exported.text.strip().splitlines()
    assert len(rows) == 3 and rows[0].startswith("rating_id,plan_id,kind")
    assert all(",resolved,4.0," in row for row in rows[1:])
    actions = await _actions(app, rw.world.org.id)
    assert actions.count("rating.submitted") == 2
    assert "rating.plan_created" in actions and "rating.resolved" in actions
    assert actions.index("rating.resolved") > actions.index("result.revised")


async def test_disagreement_goes_to_the_adjudicator_and_their_score_stands(
    app: FastAPI, client: httpx.AsyncClient, make: Factory
) -> None:
    rw = await rating_world(app, client, make, release="manual")
    plan = (await rw.plan(double_share=1.0, disagreement_rule="exact"))["plan"]
    leases = [await rw.next(h) for h in rw.rater_headers]
    assert await rw.next(rw.adjudicator_headers) is None  # nothing to adjudicate yet
    await rw.rate(rw.rater_headers[0], leases[0]["lease_id"], levels("excellent", "fluent"))
    await rw.rate(rw.rater_headers[1], leases[1]["lease_id"], levels("partial", "weak"))
    assert (await _result(rw, rw.attempts[0]))["latest"]["pending_items"] == 1

    waiting = await client.get(
        f"/api/v1/rating/plans/{plan['id']}/disagreements", headers=rw.lead_headers
    )
    assert waiting.status_code == 200
    assert [sorted(r["score"] for r in w["ratings"]) for w in waiting.json()] == [[1.0, 6.0]]
    # The raters never adjudicate responses they rated.
    assert await rw.next(rw.rater_headers[0]) is None
    adjudication = await rw.next(rw.adjudicator_headers)
    assert adjudication["kind"] == "adjudication"
    assert sorted(p["score"] for p in adjudication["prior_ratings"]) == [1.0, 6.0]
    saved = await rw.rate(rw.adjudicator_headers, adjudication["lease_id"], levels("good", "fair"))
    assert saved.status_code == 201, saved.text

    detail = await _result(rw, rw.attempts[0])
    assert next(i for i in detail["items"] if i["item_ref"] == "E1")["score"] == 3.0
    assert detail["latest"]["complete"] is True
    assert await wait_for_state(app, rw.attempts[0], "scored") == "scored"
    revision = detail["latest"]["revision"]
    # A later change is a new revision, never an overwrite.
    changed = await client.post(
        f"/api/v1/results/{rw.attempts[0]}/items/E1/score",
        json={"score": 3.5, "reason": "appeal"},
        headers=rw.admin,
    )
    assert changed.status_code == 200, changed.text
    assert (await _result(rw, rw.attempts[0]))["latest"]["revision"] == revision + 1
    actions = await _actions(app, rw.world.org.id)
    for action in ("rating.adjudication_opened", "rating.adjudicated", "rating.resolved"):
        assert action in actions


async def test_bad_input_is_refused_and_nothing_is_stored(
    app: FastAPI, client: httpx.AsyncClient, make: Factory
) -> None:
    rw = await rating_world(app, client, make)
    await rw.plan(double_share=1.0)
    lease = await rw.next(rw.rater_headers[0])
    other = await rw.next(rw.rater_headers[1])
    bad_levels: list[dict[str, str]] = [
        levels("sublime", "fair"),  # a level the criterion does not have
        {"content": "good"},  # a criterion missing
        {**levels("good", "fair"), "style": "neat"},  # a criterion the rubric lacks
        {"level": "good"},
    ]
    for chosen in bad_levels:
        refused = await rw.rate(rw.rater_headers[0], lease["lease_id"], chosen)
        assert (refused.status_code, problem(refused)) == (422, "rating-levels-invalid"), chosen
        assert refused.json()["invalid_params"]
    refused = await client.post(
        f"/api/v1/rating/leases/{lease['lease_id']}/rating",
        json={"levels": "good"},
        headers=rw.rater_headers[0],
    )
    assert refused.status_code == 422
    # Another rater's lease.
    refused = await rw.rate(rw.rater_headers[0], other["lease_id"], levels("good", "fair"))
    assert (refused.status_code, problem(refused)) == (403, "rating-not-assigned")
    refused = await rw.rate(rw.rater_headers[0], str(uuid.uuid4()), levels("good", "fair"))
    assert (refused.status_code, problem(refused)) == (404, "lease-not-found")
    assert await _count(app, Rating) == 0

    ok = await rw.rate(rw.rater_headers[0], lease["lease_id"], levels("good", "fair"))
    assert ok.status_code == 201, ok.text
    again = await rw.rate(rw.rater_headers[0], lease["lease_id"], levels("good", "fluent"))
    assert (again.status_code, problem(again)) == (409, "lease-already-rated")
    assert await _count(app, Rating) == 1

    # Expired: the response goes back to the queue, and the late rating is refused.
    async with app.state.db.transaction() as session:
        past = utcnow() - timedelta(seconds=1)
        await session.execute(
            update(RatingLease)
            .where(RatingLease.id == uuid.UUID(other["lease_id"]))
            .values(expires_at=past)
        )
        await session.execute(
            update(RatingTask)
            .where(RatingTask.lease_id == uuid.UUID(other["lease_id"]))
            .values(lease_expires_at=past)
        )
    late = await rw.rate(rw.rater_headers[1], other["lease_id"], levels("good", "fair"))
    assert (late.status_code, problem(late)) == (410, "lease-expired")
    assert await _count(app, Rating) == 1
    again_leased = await rw.next(rw.rater_headers[1])
    assert again_leased is not None and again_leased["lease_id"] != other["lease_id"]
    # The rater who rated it already never gets it back.
    assert await rw.next(rw.rater_headers[0]) is None

    # Plans: one per administration; people must be of the organization.
    twice = await client.post(
        "/api/v1/rating/plans",
        json={"administration_id": rw.administration_id, "title": "Again"},
        headers=rw.admin,
    )
    assert (twice.status_code, problem(twice)) == (409, "rating-plan-exists")
    # Raters cannot make plans, see statistics or pause others.
    plan_id = (await client.get("/api/v1/rating/plans", headers=rw.rater_headers[0])).json()[0][
        "id"
    ]
    for method, path in (
        ("GET", f"/api/v1/rating/plans/{plan_id}/stats"),
        ("GET", f"/api/v1/rating/plans/{plan_id}/export.csv"),
        ("POST", f"/api/v1/rating/plans/{plan_id}/raters/{rw.raters[1].user.id}/pause"),
    ):
        refused = await client.request(method, path, headers=rw.rater_headers[0])
        assert (refused.status_code, problem(refused)) == (403, "role-required"), path


async def test_a_paused_rater_gets_no_leases(
    app: FastAPI, client: httpx.AsyncClient, make: Factory
) -> None:
    rw = await rating_world(app, client, make, candidates=2)
    plan = (await rw.plan())["plan"]
    rater = rw.raters[0].user.id
    paused = await client.post(
        f"/api/v1/rating/plans/{plan['id']}/raters/{rater}/pause", headers=rw.lead_headers
    )
    assert paused.status_code == 200, paused.text
    assert paused.json()[0]["paused_at"] is not None
    refused = await client.post("/api/v1/rating/next", headers=rw.rater_headers[0])
    assert (refused.status_code, problem(refused)) == (409, "rater-paused")
    resumed = await client.post(
        f"/api/v1/rating/plans/{plan['id']}/raters/{rater}/resume", headers=rw.lead_headers
    )
    assert resumed.status_code == 200
    assert await rw.next(rw.rater_headers[0]) is not None
    nobody = await client.post(
        f"/api/v1/rating/plans/{plan['id']}/raters/{uuid.uuid4()}/pause", headers=rw.admin
    )
    assert (nobody.status_code, problem(nobody)) == (404, "rater-not-on-plan")
    assert "rating.rater_paused" in await _actions(app, rw.world.org.id)


async def test_seeded_responses_are_rated_unannounced_and_scored_for_accuracy(
    app: FastAPI, client: httpx.AsyncClient, make: Factory
) -> None:
    rw = await rating_world(app, client, make)
    plan = (await rw.plan(seeded_share=1.0))["plan"]
    seeds = []
    for chosen in (levels("excellent", "fluent"), levels("partial", "weak")):
        seed = await client.post(
            f"/api/v1/rating/plans/{plan['id']}/seeds",
            json={"item_ref": "E1", "response": {"value": "A seeded essay."}, "levels": chosen},
            headers=rw.lead_headers,
        )
        assert seed.status_code == 201, seed.text
        seeds.append(seed.json())
    bad = await client.post(
        f"/api/v1/rating/plans/{plan['id']}/seeds",
        json={"item_ref": "E1", "response": {}, "levels": levels("none", "weak")},
        headers=rw.lead_headers,
    )
    assert (bad.status_code, problem(bad)) == (422, "seed-invalid")
    rated = []
    for _ in range(3):
        lease = await rw.next(rw.rater_headers[0])
        assert lease is not None and lease["kind"] == "rating"  # seeded looks like any other
        rated.append(lease["response"])
        saved = await rw.rate(rw.rater_headers[0], lease["lease_id"], levels("excellent", "fluent"))
        assert saved.status_code == 201, saved.text
    assert rated.count({"value": "A seeded essay."}) == 2
    assert await rw.next(rw.rater_headers[0]) is None
    mine = await client.get(f"/api/v1/rating/plans/{plan['id']}/me", headers=rw.rater_headers[0])
    assert mine.status_code == 200, mine.text
    assert mine.json()["seeded"] == 2
    assert mine.json()["seeded_exact"] == 0.5
    assert mine.json()["ratings"] == 3


async def test_another_organizations_plan_is_not_found(
    app: FastAPI, client: httpx.AsyncClient, make: Factory
) -> None:
    rw = await rating_world(app, client, make, raters=1)
    plan = (await rw.plan())["plan"]
    stranger_org = await make.organization()
    stranger = await login(client, await make.user(stranger_org, Role.admin))
    outsider = await login(client, await make.user(stranger_org, Role.rater))
    for path in ("", "/progress", "/stats", "/disagreements", "/export.csv"):
        seen = await client.get(f"/api/v1/rating/plans/{plan['id']}{path}", headers=stranger)
        assert (seen.status_code, problem(seen)) == (404, "rating-plan-not-found"), path
    assert (await client.get("/api/v1/rating/plans", headers=stranger)).json() == []
    leased = await client.post(
        "/api/v1/rating/next", json={"plan_id": plan["id"]}, headers=outsider
    )
    assert (leased.status_code, problem(leased)) == (404, "rating-plan-not-found")
    made = await client.post(
        "/api/v1/rating/plans",
        json={"administration_id": rw.administration_id, "title": "Theirs"},
        headers=stranger,
    )
    assert (made.status_code, problem(made)) == (404, "administration-not-found")
    foreign = await client.post(
        "/api/v1/rating/plans",
        json={
            "administration_id": rw.administration_id,
            "title": "x",
            "raters": [{"user_id": str(uuid.uuid4())}],
        },
        headers=rw.admin,
    )
    assert foreign.status_code in (409, 422)


async def test_answers_not_queued_yet_join_the_queue_when_a_rater_asks(
    app: FastAPI, client: httpx.AsyncClient, make: Factory
) -> None:
    rw = await rating_world(app, client, make, raters=1)
    await rw.plan()
    # As if the attempt had ended after the last sweep: nothing of it is queued.
    async with app.state.db.transaction() as session:
        await session.execute(delete(RatingTask))
        await session.execute(delete(RatingOutcome))
    lease = await rw.next(rw.rater_headers[0])
    assert lease is not None and lease["item_ref"] == "E1"
    assert await _count(app, RatingOutcome) == 1


async def test_leads_change_who_rates(
    app: FastAPI, client: httpx.AsyncClient, make: Factory
) -> None:
    rw = await rating_world(app, client, make, raters=2)
    plan = (await rw.plan())["plan"]
    only = rw.raters[1].user.id
    changed = await client.put(
        f"/api/v1/rating/plans/{plan['id']}/members",
        json={"raters": [{"user_id": str(only), "item_refs": ["E1"]}]},
        headers=rw.lead_headers,
    )
    assert changed.status_code == 200, changed.text
    assert [(m["user_id"], m["role"]) for m in changed.json()["members"]] == [(str(only), "rater")]
    assert rw.lead is not None
    assert changed.json()["plan"]["leads"] == [str(rw.lead.user.id)]
    refused = await client.post("/api/v1/rating/next", headers=rw.rater_headers[0])
    assert (refused.status_code, problem(refused)) == (403, "rating-not-assigned")
    assert await rw.next(rw.rater_headers[1]) is not None
    stranger = await make.user(await make.organization(), Role.rater)
    invalid = await client.put(
        f"/api/v1/rating/plans/{plan['id']}/members",
        json={"raters": [{"user_id": str(stranger.user.id)}]},
        headers=rw.lead_headers,
    )
    assert (invalid.status_code, problem(invalid)) == (422, "rating-plan-invalid")
    not_lead = await client.put(
        f"/api/v1/rating/plans/{plan['id']}/members", json={}, headers=rw.rater_headers[1]
    )
    assert (not_lead.status_code, problem(not_lead)) == (403, "role-required")
    assert "rating.members_changed" in await _actions(app, rw.world.org.id)


async def test_a_rater_fetches_the_uploaded_file_of_their_lease(
    app: FastAPI, client: httpx.AsyncClient, make: Factory
) -> None:
    rw = await rating_world(app, client, make, upload=True)
    await rw.plan(double_share=1.0)
    lease = await rw.next(rw.rater_headers[0])
    assert lease["file_url"] == f"/api/v1/rating/leases/{lease['lease_id']}/file"
    # Without a rubric: one level per point up to the item's maximum (here 1).
    assert [lv["id"] for lv in lease["rubric"]["criteria"][0]["levels"]] == ["0", "1"]
    fetched = await client.get(lease["file_url"], headers=rw.rater_headers[0])
    assert fetched.status_code == 200, fetched.text
    assert fetched.content == UPLOADED
    # Not a picture the bytes prove: a download that cannot run in this origin's pages,
    # whatever type the candidate declared.
    assert fetched.headers["content-type"] == "application/octet-stream"
    assert fetched.headers["content-disposition"] == "attachment"
    assert "sandbox" in fetched.headers["content-security-policy"]
    other = await client.get(lease["file_url"], headers=rw.rater_headers[1])
    assert (other.status_code, problem(other)) == (403, "rating-not-assigned")
    assert (await client.get(lease["file_url"], headers=rw.lead_headers)).status_code == 200
    first = await rw.rate(rw.rater_headers[0], lease["lease_id"], {"level": "1"})
    assert first.status_code == 201, first.text
    second = await rw.next(rw.rater_headers[1])
    assert (await rw.rate(rw.rater_headers[1], second["lease_id"], {"level": "1"})).is_success
    scored = await _result(rw, rw.attempts[0])
    assert next(i for i in scored["items"] if i["item_ref"] == "E1")["score"] == 1.0
    essay = await rating_world(app, client, make)
    await essay.plan()
    text_lease = await essay.next(essay.rater_headers[0])
    assert text_lease["file_url"] is None
    none = await client.get(
        f"/api/v1/rating/leases/{text_lease['lease_id']}/file", headers=essay.rater_headers[0]
    )
    assert (none.status_code, problem(none)) == (404, "response-file-not-found")


async def test_a_seeded_response_whose_lease_ran_out_returns_to_its_rater(
    app: FastAPI, client: httpx.AsyncClient, make: Factory
) -> None:
    rw = await rating_world(app, client, make, raters=1)
    plan = (await rw.plan(seeded_share=1.0))["plan"]
    seeded_essay = {"value": "A seeded essay."}
    seed = await client.post(
        f"/api/v1/rating/plans/{plan['id']}/seeds",
        json={"item_ref": "E1", "response": seeded_essay, "levels": levels("good", "fair")},
        headers=rw.lead_headers,
    )
    assert seed.status_code == 201, seed.text
    (rater,) = rw.rater_headers
    seeded = await rw.next(rater)
    assert seeded["response"] == seeded_essay
    async with app.state.db.transaction() as session:
        past = utcnow() - timedelta(seconds=1)
        await session.execute(
            update(RatingTask).where(RatingTask.kind == "seeded").values(lease_expires_at=past)
        )
        await session.execute(update(RatingLease).values(expires_at=past))
    # Open tasks first, then those whose lease ran out: the seeded one among them.
    answer = await rw.next(rater)
    assert answer["response"] != seeded_essay
    assert (await rw.rate(rater, answer["lease_id"], levels("good", "fair"))).status_code == 201
    again = await rw.next(rater)
    assert again is not None and again["response"] == seeded_essay
    assert again["lease_id"] != seeded["lease_id"]
    late = await rw.rate(rater, seeded["lease_id"], levels("good", "fair"))
    assert (late.status_code, problem(late)) == (410, "lease-expired")
    saved = await rw.rate(rater, again["lease_id"], levels("good", "fair"))
    assert saved.status_code == 201, saved.text
    assert await rw.next(rater) is None
