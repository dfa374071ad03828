"""Answer similarity over stored attempts (both backends): planted copying among 60
candidates on 30 items is flagged through the API and its task, with the shared answers and
the time overlap, and the copier's summary names its partner (analysed again after the run,
which locks no attempt itself)."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update

from tests.support.copying import LETTERS, planted_copying
from tests.support.factories import Factory
from waa_ads.audit.models import AuditEvent
from waa_ads.core.db import Database
from waa_ads.core.tasks import TaskContext
from waa_ads.delivery.models import Attempt
from waa_ads.integrity import tasks
from waa_ads.integrity.models import IntegritySummary

pytestmark = pytest.mark.asyncio


async def test_planted_copying_is_flagged_from_stored_answers(
    app: FastAPI, client: httpx.AsyncClient, make: Factory
) -> None:
    cohort = await planted_copying(app, client, make, title="Now")
    world, administration_id = cohort.world, cohort.administration_id
    attempts, sim = cohort.attempts, cohort.sim

    requested = await client.post(
        f"/api/v1/integrity/administrations/{administration_id}/similarity", headers=world.headers
    )
    assert requested.status_code == 202
    report = httpx.Response(404)
    for _ in range(400):
        report = await client.get(
            f"/api/v1/integrity/administrations/{administration_id}/similarity",
            headers=world.headers,
        )
        if report.status_code == 200:
            break
        await asyncio.sleep(0.05)
    assert report.status_code == 200, report.text
    run, pairs = report.json()["run"], report.json()["pairs"]
    assert (run["candidates"], run["items"]) == (60, 30)
    planted = {frozenset((attempts[a], attempts[b])) for a, b in sim.copiers}
    flagged = {
        frozenset((uuid.UUID(p["attempt_id"]), uuid.UUID(p["source_attempt_id"]))) for p in pairs
    }
    assert flagged and flagged <= planted
    pair = pairs[0]
    assert pair["q_value"] <= 0.01 and pair["matches"] > pair["expected"]
    assert len(pair["identical"]) == pair["matches"] and pair["overlap_s"] > 0

    copier = pair["attempt_id"]
    line = await client.get(f"/api/v1/integrity/attempts/{copier}/timeline", headers=world.headers)
    assert line.status_code == 200, line.text
    [partner] = line.json()["partners"]
    assert partner["attempt_id"] == pair["source_attempt_id"]
    assert partner["direction"] == "copies_from"
    assert partner["matches"] == pair["matches"] and partner["compared"] == 30
    assert set(partner["shared_answers"]) == set(pair["identical"])
    assert all(v["value"] in LETTERS for v in partner["shared_answers"].values())
    # The attempts of a flagged pair are analysed again after the run commits.
    await app.state.background.runner.wait_idle()
    summary = await client.get(f"/api/v1/integrity/attempts/{copier}", headers=world.headers)
    assert summary.json()["signals"]["similarity_partner_count"]["value"] == 1
    async with app.state.db.transaction(write=False) as session:
        audited = (
            await session.execute(
                select(AuditEvent.actor_type, AuditEvent.actor_id).where(
                    AuditEvent.action == "integrity.similarity_analysed",
                    AuditEvent.target_id == administration_id,
                )
            )
        ).all()
    assert audited == [("user", str(world.admin.user.id))]


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
async def test_a_similarity_run_locks_no_attempt(
    live_app: FastAPI,
    live_client: httpx.AsyncClient,
    live_make: Factory,
    fresh_database: Database,
) -> None:
    """The run holds the audit chain's head once it records itself, and work on an
    attempt (a state change: an UPDATE of its row) takes the row first and the head after:
    so, past that point, the run must not wait for an attempt's row (the two would wait for
    each other). It queues the pairs' new analyses for after its commit instead."""
    cohort = await planted_copying(live_app, live_client, live_make, title="Now")
    await live_app.state.background.runner.wait_idle()
    copier = cohort.attempts[cohort.sim.copiers[0][0]]
    context = TaskContext(
        db=live_app.state.db,
        settings=live_app.state.settings,
        blobs=live_app.state.blobs,
        task_name="integrity.analyse_similarity",
        task_id=str(uuid.uuid4()),
        attempt=0,
    )
    run: asyncio.Task[int] | None = None
    try:
        async with fresh_database.transaction() as holder:
            # Another transaction has changed the copier's row and not committed yet.
            await holder.execute(
                update(Attempt).where(Attempt.id == copier).values(state=Attempt.state)
            )
            run = asyncio.create_task(
                tasks.analyse_similarity(
                    context,
                    organization_id=str(cohort.world.org.id),
                    administration_id=cohort.administration_id,
                )
            )
            deadline = asyncio.get_running_loop().time() + 20
            while not run.done():
                assert asyncio.get_running_loop().time() < deadline, (
                    "the run waited for an attempt another transaction changed"
                )
                await asyncio.sleep(0.05)
    finally:
        flagged = await run if run is not None else None
    assert flagged
    await live_app.state.background.runner.wait_idle()
    async with fresh_database.transaction(write=False) as session:
        summary = await session.scalar(
            select(IntegritySummary).where(IntegritySummary.attempt_id == copier)
        )
    assert summary is not None
    assert summary.signals["similarity_partner_count"]["value"] >= 1
