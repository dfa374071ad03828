"""Rating's lock order against the rest of the product, on PostgreSQL with real commits:
another unit of work holds a lock, the rating code runs into it, and the holder then does
what it always does next (append to the audit chain, commit). Nothing deadlocks, nothing
fails, and what each side decides is read under the locks that order it."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import delete, select, text, update

from tests.rating.world import RatingWorld, levels, rating_world
from tests.support.factories import Factory
from waa_ads.audit import service as audit
from waa_ads.audit.service import Actor
from waa_ads.auth.deps import Principal
from waa_ads.auth.models import Role
from waa_ads.core.db import Database
from waa_ads.delivery.models import Attempt
from waa_ads.rating import schemas, service
from waa_ads.rating.models import RatingOutcome, RatingPlan, RatingTask
from waa_ads.rating.rules import DisagreementRule
from waa_ads.scoring.models import AttemptResult, ItemScore

pytestmark = [
    pytest.mark.asyncio,
    pytest.mark.parametrize("backend", ["postgresql"], indirect=True),
]

HOLDER = Actor("system", "test-holder")


async def _waiting_for_a_lock(db: Database) -> bool:
    async with db.transaction(write=False) as session:
        waiting = await session.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        )
    return bool(waiting)


async def _until_done_or_waiting(db: Database, task: asyncio.Task[Any]) -> None:
    """Until ``task`` ends or some connection waits for a lock (the holder's)."""
    for _ in range(1500):
        if task.done() or await _waiting_for_a_lock(db):
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the work neither ended nor waited for a lock")


async def _hold_attempt_then_audit(rw: RatingWorld, attempt_id: str, work: Any) -> httpx.Response:
    """Run ``work`` (a coroutine making a request) while another unit of work holds the
    attempt's row, as a result change does; once the work ended or waits, the holder
    appends to the audit chain (as a result change does next) and commits."""
    db: Database = rw.app.state.db
    async with db.transaction() as holder:
        await holder.get(Attempt, uuid.UUID(attempt_id), with_for_update=True)
        running = asyncio.create_task(work)
        await _until_done_or_waiting(db, running)
        await audit.record(
            holder,
            organization_id=rw.world.org.id,
            action="test.result_changed",
            actor=HOLDER,
            target_type="attempt",
            target_id=attempt_id,
        )
    reply: httpx.Response = await running
    return reply


async def _newest_score(db: Database, attempt_id: str) -> float | None:
    async with db.transaction(write=False) as session:
        newest = (
            select(AttemptResult.id)
            .where(AttemptResult.attempt_id == uuid.UUID(attempt_id))
            .order_by(AttemptResult.revision.desc())
            .limit(1)
            .scalar_subquery()
        )
        score: float | None = await session.scalar(
            select(ItemScore.score).where(ItemScore.result_id == newest)
        )
    return score


@pytest.mark.parametrize("trigger", ["lead_sync", "plan_change", "save_and_next"])
async def test_scoring_unanswered_responses_never_deadlocks_with_a_result_change(
    live_app: FastAPI, live_client: httpx.AsyncClient, live_make: Factory, trigger: str
) -> None:
    rw = await rating_world(live_app, live_client, live_make, candidates=4, blank=2, raters=1)
    blank, also_blank, answered, unqueued = rw.attempts
    plan = (await rw.plan(score_unanswered=False))["plan"]
    plan_id = uuid.UUID(plan["id"])
    # The two unanswered responses and the last answer started waiting after the plan
    # began scoring unanswered ones 0.
    async with live_app.state.db.transaction() as session:
        late = [uuid.UUID(a) for a in (blank, also_blank, unqueued)]
        await session.execute(delete(RatingTask).where(RatingTask.attempt_id.in_(late)))
        await session.execute(delete(RatingOutcome).where(RatingOutcome.attempt_id.in_(late)))
        await session.execute(
            update(RatingPlan).where(RatingPlan.id == plan_id).values(score_unanswered=True)
        )
    rater = rw.rater_headers[0]
    if trigger == "lead_sync":
        work = live_client.post(f"/api/v1/rating/plans/{plan_id}/sync", headers=rw.lead_headers)
    elif trigger == "plan_change":
        async with live_app.state.db.transaction() as session:
            await session.execute(
                update(RatingPlan).where(RatingPlan.id == plan_id).values(score_unanswered=False)
            )
        work = live_client.patch(
            f"/api/v1/rating/plans/{plan_id}",
            json={"expected_version": 1, "score_unanswered": True},
            headers=rw.lead_headers,
        )
    else:
        lease = await rw.next(rater)
        assert "says writer 2." in str(lease["response"])  # the only task queued
        work = live_client.post(
            f"/api/v1/rating/leases/{lease['lease_id']}/rating",
            json={"levels": {"content": "good", "language": "fair"}, "next": True},
            headers=rater,
        )
    # The later of the two unanswered attempts is held: the old code scored the first
    # (taking the audit chain's head) and then waited for it. A rater's request, which
    # scores none, met the unqueued answer's attempt instead (a foreign-key check of the
    # rows queueing it, after the rating was audited).
    held = unqueued if trigger == "save_and_next" else also_blank
    reply = await _hold_attempt_then_audit(rw, held, work)
    assert reply.status_code == (201 if trigger == "save_and_next" else 200), reply.text
    if trigger == "save_and_next":
        # A rater's request scores no unanswered response, and queues no answer whose
        # attempt is held: the next sync does.
        assert reply.json()["next"]["lease"] is None
        assert await _newest_score(live_app.state.db, blank) is None
        assert await service.sync_all(live_app.state.db) == 1
    async with live_app.state.db.transaction(write=False) as session:
        queued = await session.scalar(
            select(RatingOutcome.status).where(RatingOutcome.attempt_id == uuid.UUID(unqueued))
        )
    assert queued == "open"
    for attempt_id in (blank, also_blank):
        assert await _newest_score(live_app.state.db, attempt_id) == 0.0
    assert answered


def _person(rw: RatingWorld, account: Any) -> Principal:
    """The principal a request of ``account`` (a rater or a lead) acts as."""
    return Principal(
        account.user.id, rw.world.org.id, frozenset({Role.rater.value}), "bearer", None
    )


async def test_a_rule_change_and_a_resolution_are_serialized(
    live_app: FastAPI, live_client: httpx.AsyncClient, live_make: Factory
) -> None:
    rw = await rating_world(live_app, live_client, live_make)
    plan = (await rw.plan(double_share=1.0, disagreement_rule="adjacent"))["plan"]
    plan_id = uuid.UUID(plan["id"])
    first, second = rw.rater_headers
    lease = await rw.next(first)
    assert (await rw.rate(first, lease["lease_id"], levels("good", "fair"))).status_code == 201
    other = await rw.next(second)
    db: Database = live_app.state.db
    # The lead makes every difference a disagreement while the second rating is saved: the
    # rating waits for the change and is judged by the new rule (one point apart: "exact"
    # disagrees, "adjacent" did not).
    async with db.transaction() as changer:
        await service.update_plan(
            changer,
            _person(rw, rw.lead),
            plan_id,
            schemas.PlanUpdate(expected_version=1, disagreement_rule=DisagreementRule.exact),
        )
        saving = asyncio.create_task(rw.rate(second, other["lease_id"], levels("strong", "fair")))
        await _until_done_or_waiting(db, saving)
    reply = await saving
    assert reply.status_code == 201, reply.text
    async with db.transaction(write=False) as session:
        outcome = (
            await session.execute(select(RatingOutcome).where(RatingOutcome.plan_id == plan_id))
        ).scalar_one()
    assert outcome.status == "adjudicating"


async def test_two_tabs_of_one_rater_asking_at_once_get_the_same_lease(
    live_app: FastAPI, live_client: httpx.AsyncClient, live_make: Factory
) -> None:
    rw = await rating_world(live_app, live_client, live_make, raters=1)
    await rw.plan(double_share=1.0)  # one response, two rating tasks
    db: Database = live_app.state.db
    (rater,) = rw.rater_headers
    # The first tab's lease is taken and not yet committed when the second tab asks: the
    # second would find no lease held and take the response's other rating task.
    async with db.transaction() as first_tab:
        first = await service.lease_next(
            first_tab, live_app.state.settings, _person(rw, rw.raters[0]), None
        )
        assert first.lease is not None
        asking = asyncio.create_task(live_client.post("/api/v1/rating/next", headers=rater))
        await _until_done_or_waiting(db, asking)
    second = await asking
    assert second.status_code == 200, second.text
    assert second.json()["lease"]["lease_id"] == str(first.lease.lease_id)
