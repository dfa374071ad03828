"""The periodic sweep (``integrity.analyse_ended_attempts``) on PostgreSQL: each attempt is
analysed in a transaction of its own, so the sweep never holds one attempt's lock while it
waits for another's, and an attempt whose analysis fails is logged and tried again on the
next run without stopping the attempts after it."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import delete, func, select, update

from tests.support.exams import exam, submit_answers, wait_for_state
from tests.support.factories import Factory
from waa_ads.core.db import Database
from waa_ads.core.tasks import TaskContext
from waa_ads.delivery.models import Attempt
from waa_ads.integrity import tasks
from waa_ads.integrity.models import IntegrityPolicyVersion, IntegritySummary

pytestmark = [
    pytest.mark.asyncio,
    pytest.mark.parametrize("backend", ["postgresql"], indirect=True),
]

POLICY = """\
format: 1
rules:
  - id: pasted
    when: paste_count > 0
    severity: low
    reason: Pasted text
"""


def _context(app: FastAPI) -> TaskContext:
    return TaskContext(
        db=app.state.db,
        settings=app.state.settings,
        blobs=app.state.blobs,
        task_name="integrity.analyse_ended_attempts",
        task_id=str(uuid.uuid4()),
        attempt=0,
    )


async def _summaries(db: Database, *attempt_ids: str) -> int:
    async with db.transaction(write=False) as session:
        return int(
            await session.scalar(
                select(func.count())
                .select_from(IntegritySummary)
                .where(IntegritySummary.attempt_id.in_([uuid.UUID(a) for a in attempt_ids]))
            )
            or 0
        )


async def _ended_without_summaries(
    app: FastAPI, client: httpx.AsyncClient, make: Factory, count: int
) -> tuple[uuid.UUID, list[str]]:
    """``count`` attempts of one organization, ended one after the other (so the sweep
    takes them in that order), analysed at their end and then stripped of their summary
    as if those jobs had been lost; the organization's id and the attempts' ids."""
    ex = await exam(client, make, candidates=count, policy=POLICY)
    attempts = [await submit_answers(client, code, {"Q1": "B"}) for code in ex.codes]
    for attempt_id in attempts:
        assert await wait_for_state(app, attempt_id, "scored") == "scored"
    deadline = asyncio.get_running_loop().time() + 20
    while await _summaries(app.state.db, *attempts) < count:
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.05)
    await app.state.background.runner.wait_idle()
    async with app.state.db.transaction() as session:
        await session.execute(
            delete(IntegritySummary).where(
                IntegritySummary.attempt_id.in_([uuid.UUID(a) for a in attempts])
            )
        )
    return ex.world.org.id, attempts


async def test_an_attempt_that_fails_is_logged_and_the_sweep_goes_on(
    app: FastAPI, client: httpx.AsyncClient, make: Factory
) -> None:
    broken_org, [broken] = await _ended_without_summaries(app, client, make, 1)
    _, [fine] = await _ended_without_summaries(app, client, make, 1)
    async with app.state.db.transaction() as session:
        # A policy text that no longer parses: the first attempt's analysis raises.
        result = await session.execute(
            update(IntegrityPolicyVersion)
            .where(IntegrityPolicyVersion.organization_id == broken_org)
            .values(source="format: 1\nrules: [\n")
        )
        assert result.rowcount == 1

    assert await tasks.analyse_ended_attempts(_context(app)) == 1
    assert await _summaries(app.state.db, fine) == 1
    assert await _summaries(app.state.db, broken) == 0

    # Mended, the attempt is analysed on the next run; then nothing is left to do.
    async with app.state.db.transaction() as session:
        await session.execute(
            update(IntegrityPolicyVersion)
            .where(IntegrityPolicyVersion.organization_id == broken_org)
            .values(source=POLICY)
        )
    assert await tasks.analyse_ended_attempts(_context(app)) == 1
    assert await _summaries(app.state.db, broken) == 1
    assert await tasks.analyse_ended_attempts(_context(app)) == 0


async def test_the_sweep_commits_each_attempt_before_it_locks_the_next(
    live_app: FastAPI,
    live_client: httpx.AsyncClient,
    live_make: Factory,
    fresh_database: Database,
) -> None:
    _, [first, second] = await _ended_without_summaries(live_app, live_client, live_make, 2)
    sweep: asyncio.Task[int] | None = None
    try:
        async with fresh_database.transaction() as holder:
            # Other work holds the second attempt (rating, scoring and delivery lock
            # attempts by id, whatever order they ended in).
            await holder.execute(
                select(Attempt.id).where(Attempt.id == uuid.UUID(second)).with_for_update()
            )
            sweep = asyncio.create_task(tasks.analyse_ended_attempts(_context(live_app)))
            # While the sweep waits for the second attempt, the first one's analysis is
            # committed already, and so its lock is released: nothing is held across.
            deadline = asyncio.get_running_loop().time() + 15
            while not await _summaries(fresh_database, first):
                assert not sweep.done(), sweep
                assert asyncio.get_running_loop().time() < deadline, (
                    "the first attempt's analysis was not committed while the sweep waited"
                )
                await asyncio.sleep(0.05)
            assert not sweep.done()
            assert await _summaries(fresh_database, second) == 0
    finally:
        # The holder's transaction has ended either way: the sweep can finish.
        analysed = await sweep if sweep is not None else None
    assert analysed == 2
    assert await _summaries(fresh_database, first, second) == 2
