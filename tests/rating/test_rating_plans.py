"""Changing a plan (from the version read; what would leave ratings under other rules is
refused), assignment per bank, raters' names for leads, unanswered responses scored 0, and
the feedback a candidate reads with the released result."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from tests.rating.world import RatingWorld, levels, rating_world
from tests.support.exams import wait_for_state
from tests.support.factories import Factory, login
from tests.support.problems import problem
from waa_ads.audit.models import AuditEvent
from waa_ads.auth.models import Role
from waa_ads.rating.models import Rating, RatingOutcome, RatingTask

pytestmark = pytest.mark.asyncio


async def _count(app: FastAPI, model: Any, *where: Any) -> int:
    async with app.state.db.transaction(write=False) as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def _audited(app: FastAPI, organization_id: uuid.UUID, action: str) -> list[Any]:
    async with app.state.db.transaction(write=False) as session:
        return [
            json.loads(canonical)["data"]
            for canonical in (
                await session.execute(
                    select(AuditEvent.canonical)
                    .where(
                        AuditEvent.organization_id == organization_id, AuditEvent.action == action
                    )
                    .order_by(AuditEvent.seq)
                )
            ).scalars()
        ]


async def _patch(rw: RatingWorld, plan_id: str, headers: dict[str, str], **body: Any) -> Any:
    return await rw.client.patch(f"/api/v1/rating/plans/{plan_id}", json=body, headers=headers)


async def test_a_plan_changes_from_the_version_read_and_never_under_its_ratings(
    app: FastAPI, client: httpx.AsyncClient, make: Factory
) -> None:
    rw = await rating_world(app, client, make, candidates=2)
    plan = (await rw.plan(double_share=0.0, resolution="mean"))["plan"]
    assert plan["version"] == 1 and plan["score_unanswered"] is True
    pid = plan["id"]
    assert await _count(app, RatingTask) == 2

    changed = await _patch(
        rw, pid, rw.lead_headers, expected_version=1, title="Essays, June", lease_seconds=60
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()["plan"]
    assert (body["title"], body["lease_seconds"], body["version"]) == ("Essays, June", 60, 2)
    assert body["resolution"] == "mean"  # not given: unchanged
    # A change made from the old version is refused, not written over the newer one.
    stale = await _patch(rw, pid, rw.lead_headers, expected_version=1, title="Lost")
    assert (stale.status_code, problem(stale)) == (409, "rating-plan-changed")
    assert stale.json()["version"] == 2
    # Raters do not change plans; unknown fields and bad values are 422.
    refused = await _patch(rw, pid, rw.rater_headers[0], expected_version=2, title="Mine")
    assert (refused.status_code, problem(refused)) == (403, "role-required")
    assert (await _patch(rw, pid, rw.lead_headers, expected_version=2, x=1)).status_code == 422
    bad = await _patch(rw, pid, rw.lead_headers, expected_version=2, double_share=2)
    assert bad.status_code == 422
    null = await _patch(rw, pid, rw.lead_headers, expected_version=2, title=None)
    assert (null.status_code, problem(null)) == (422, "rating-plan-invalid")

    # An item taken off before anyone rated it loses its queued tasks; put back, it is
    # queued again at once.
    off = await _patch(rw, pid, rw.lead_headers, expected_version=2, item_refs=["E9"])
    assert off.status_code == 200, off.text
    assert await _count(app, RatingTask) == 0
    assert await rw.next(rw.rater_headers[0]) is None
    back = await _patch(rw, pid, rw.lead_headers, expected_version=3, item_refs=[])
    assert back.status_code == 200, back.text
    assert await _count(app, RatingTask) == 2

    # The new lease time applies to the next lease.
    lease = await rw.next(rw.rater_headers[0])
    saved = await rw.rate(rw.rater_headers[0], lease["lease_id"], levels("good", "fair"))
    assert saved.status_code == 201, saved.text
    # One response is scored under the plan's rules: they can no longer change, nor can
    # its item be taken off; nothing of a refused change is written.
    for change in (
        {"resolution": "adjudicator"},
        {"disagreement_rule": "exact"},
        {"per_criterion": True},
        {"item_refs": ["E9"]},
        {"title": "Both", "resolution": "adjudicator"},
    ):
        refused = await _patch(rw, pid, rw.lead_headers, expected_version=4, **change)
        assert (refused.status_code, problem(refused)) == (409, "rating-plan-in-use"), change
        assert refused.json()["invalid_params"]
    detail = (await client.get(f"/api/v1/rating/plans/{pid}", headers=rw.lead_headers)).json()
    assert (detail["plan"]["version"], detail["plan"]["title"]) == (4, "Essays, June")
    # What applies from now on may still change, and the people with it.
    only = rw.raters[1]
    later = await _patch(
        rw,
        pid,
        rw.lead_headers,
        expected_version=4,
        double_share=1.0,
        agreement_threshold=0.5,
        raters=[{"user_id": str(only.user.id)}],
    )
    assert later.status_code == 200, later.text
    assert [m["user_id"] for m in later.json()["members"] if m["role"] == "rater"] == [
        str(only.user.id)
    ]
    refused = await client.post("/api/v1/rating/next", headers=rw.rater_headers[0])
    assert (refused.status_code, problem(refused)) == (403, "rating-not-assigned")
    changes = await _audited(app, rw.world.org.id, "rating.plan_changed")
    assert [c["version"] for c in changes] == [2, 3, 4, 5]
    assert changes[0]["changes"]["title"] == {"before": "Essays", "after": "Essays, June"}
    assert changes[1]["tasks_dropped_for"] == ["E1"]
    assert "people" in changes[3]["changes"]


async def test_raters_assigned_to_a_bank_rate_its_items_only(
    app: FastAPI, client: httpx.AsyncClient, make: Factory
) -> None:
    rw = await rating_world(app, client, make, candidates=2)
    other = await client.post(
        "/api/v1/banks", json={"slug": "other", "name": "Other"}, headers=rw.admin
    )
    assert other.status_code == 201, other.text
    mine, theirs = rw.world.bank_id, other.json()["id"]
    plan = (
        await rw.plan(
            raters=[
                {"user_id": str(rw.raters[0].user.id), "bank_ids": [mine]},
                {"user_id": str(rw.raters[1].user.id), "bank_ids": [theirs]},
            ]
        )
    )["plan"]
    detail = (
        await client.get(f"/api/v1/rating/plans/{plan['id']}", headers=rw.lead_headers)
    ).json()
    assert {m["user_id"]: m["bank_ids"] for m in detail["members"] if m["role"] == "rater"} == {
        str(rw.raters[0].user.id): [mine],
        str(rw.raters[1].user.id): [theirs],
    }
    assert await rw.next(rw.rater_headers[1]) is None  # E1 is in the main bank
    lease = await rw.next(rw.rater_headers[0])
    assert lease is not None and lease["item_ref"] == "E1"

    # Reassigned to the other bank while holding the lease: the rating is refused, and
    # nothing is stored.
    moved = await client.put(
        f"/api/v1/rating/plans/{plan['id']}/members",
        json={"raters": [{"user_id": str(rw.raters[0].user.id), "bank_ids": [theirs]}]},
        headers=rw.lead_headers,
    )
    assert moved.status_code == 200, moved.text
    late = await rw.rate(rw.rater_headers[0], lease["lease_id"], levels("good", "fair"))
    assert (late.status_code, problem(late)) == (403, "rating-not-assigned")
    assert await _count(app, Rating) == 0

    # A bank of another organization (or none at all) is no bank here.
    stranger = await make.organization()
    admin = await make.user(stranger, Role.admin)
    foreign = await client.post(
        "/api/v1/banks",
        json={"slug": "theirs", "name": "Theirs"},
        headers=await login(client, admin),
    )
    assert foreign.status_code == 201, foreign.text
    invalid = await client.put(
        f"/api/v1/rating/plans/{plan['id']}/members",
        json={
            "raters": [{"user_id": str(rw.raters[0].user.id), "bank_ids": [foreign.json()["id"]]}]
        },
        headers=rw.lead_headers,
    )
    assert (invalid.status_code, problem(invalid)) == (422, "rating-plan-invalid")
    assert invalid.json()["invalid_params"][0]["name"] == "bank_ids"


async def test_leads_read_raters_names_and_raters_read_none(
    app: FastAPI, client: httpx.AsyncClient, make: Factory
) -> None:
    rw = await rating_world(app, client, make)
    plan = (await rw.plan())["plan"]
    lead_view = (
        await client.get(f"/api/v1/rating/plans/{plan['id']}", headers=rw.lead_headers)
    ).json()
    assert lead_view["names"][str(rw.raters[0].user.id)] == rw.raters[0].user.email
    assert rw.adjudicator is not None and str(rw.adjudicator.user.id) in lead_view["names"]
    rater_view = (
        await client.get(f"/api/v1/rating/plans/{plan['id']}", headers=rw.rater_headers[0])
    ).json()
    assert rater_view["names"] == {}
    people = await client.get("/api/v1/rating/people", headers=rw.lead_headers)
    assert people.status_code == 200, people.text
    assert {p["user_id"] for p in people.json()} >= {str(r.user.id) for r in rw.raters}
    refused = await client.get("/api/v1/rating/people", headers=rw.rater_headers[0])
    assert (refused.status_code, problem(refused)) == (403, "role-required")

    lease = await rw.next(rw.rater_headers[0])
    await rw.rate(rw.rater_headers[0], lease["lease_id"], levels("good", "fair"))
    exported = await client.get(
        f"/api/v1/rating/plans/{plan['id']}/export.csv", headers=rw.lead_headers
    )
    header, row = exported.text.strip().splitlines()
    assert header.split(",")[6:8] == ["rater_id", "rater_name"]
    assert row.split(",")[6:8] == [str(rw.raters[0].user.id), rw.raters[0].user.email]


async def test_the_candidate_reads_comments_and_levels_once_released(
    app: FastAPI, client: httpx.AsyncClient, make: Factory
) -> None:
    rw = await rating_world(app, client, make, release="manual")
    await rw.plan(double_share=1.0, disagreement_rule="exact", resolution="adjudicator")
    leases = [await rw.next(h) for h in rw.rater_headers]
    await rw.rate(
        rw.rater_headers[0], leases[0]["lease_id"], levels("strong", "fair"), comment="Good."
    )
    await rw.rate(rw.rater_headers[1], leases[1]["lease_id"], levels("partial", "weak"))
    adjudication = await rw.next(rw.adjudicator_headers)
    saved = await rw.rate(
        rw.adjudicator_headers,
        adjudication["lease_id"],
        levels("good", "fluent"),
        comment="Develop your second argument.",
        annotations=[{"note": "for the record only"}],
    )
    assert saved.status_code == 201, saved.text
    attempt = rw.attempts[0]
    assert await wait_for_state(app, attempt, "scored") == "scored"
    path = f"/api/v1/attempts/{attempt}/result"
    before = await client.get(path, headers=rw.credentials[0])
    assert before.status_code == 404  # nothing before release
    released = await client.post(f"/api/v1/results/{attempt}/release", headers=rw.admin)
    assert released.status_code == 200, released.text
    seen = await client.get(path, headers=rw.credentials[0])
    assert seen.status_code == 200, seen.text
    assert seen.json()["feedback"] == [
        {
            "item_ref": "E1",
            "position": 1,
            "comments": ["Develop your second argument."],
            "criteria": [
                {"criterion": "Content", "level": "good", "descriptor": "Relevant and developed."},
                {"criterion": "Language", "level": "fluent", "descriptor": "Fluent."},
            ],
        }
    ]
    # No rater, no rater's own comment that lost to the adjudicator's, no notes.
    text = seen.text
    for hidden in [str(r.user.id) for r in rw.raters] + ["Good.", "for the record", "rater"]:
        assert hidden not in text


async def test_unanswered_responses_are_scored_zero_and_never_queued(
    app: FastAPI, client: httpx.AsyncClient, make: Factory
) -> None:
    rw = await rating_world(app, client, make, candidates=2, blank=1, raters=1)
    plan = (await rw.plan())["plan"]
    blank, answered = rw.attempts
    assert await _count(app, RatingTask) == 1
    detail = await client.get(f"/api/v1/results/{blank}", headers=rw.admin)
    item = next(i for i in detail.json()["items"] if i["item_ref"] == "E1")
    assert item["score"] == 0.0 and detail.json()["latest"]["complete"] is True
    assert await wait_for_state(app, blank, "released") == "released"
    lease = await rw.next(rw.rater_headers[0])
    assert "says writer 1." in str(lease["response"])
    assert await _count(app, RatingOutcome, RatingOutcome.needed == 0) == 1
    scored = await _audited(app, rw.world.org.id, "rating.unanswered_scored")
    assert [(d["item_refs"], d["score"]) for d in scored] == [(["E1"], 0.0)]
    progress = await client.get(
        f"/api/v1/rating/plans/{plan['id']}/progress", headers=rw.lead_headers
    )
    assert progress.json()["items"][0]["resolved"] == 1
    assert answered

    # A plan that rates unanswered responses too queues them like any other.
    rated = await rating_world(app, client, make, blank=1, raters=1)
    await rated.plan(score_unanswered=False)
    lease = await rated.next(rated.rater_headers[0])
    assert lease is not None and lease["response"] is None
