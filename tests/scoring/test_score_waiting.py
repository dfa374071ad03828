"""An ended attempt whose scoring task was lost (the broker was down or emptied when it was
published) is scored by the periodic sweep once it has waited a minute; never twice."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, update

from tests.support.exams import exam, submit_answers
from tests.support.factories import Factory
from waa_ads.core.db import utcnow
from waa_ads.core.tasks import use_dispatcher
from waa_ads.delivery.models import Attempt
from waa_ads.scoring import service as scoring
from waa_ads.scoring.models import AttemptResult


class LostJobs:
    """A broker that accepts nothing: every job published is gone."""

    def __init__(self) -> None:
        self.lost: list[Any] = []

    def dispatch(self, jobs: Sequence[Any]) -> None:
        self.lost.extend(jobs)


async def _state_and_results(app: FastAPI, attempt_id: str) -> tuple[str, int]:
    async with app.state.db.transaction(write=False) as session:
        state = (
            await session.execute(select(Attempt.state).where(Attempt.id == uuid.UUID(attempt_id)))
        ).scalar_one()
        results = (
            await session.execute(
                select(func.count()).where(AttemptResult.attempt_id == uuid.UUID(attempt_id))
            )
        ).scalar_one()
    return str(state), int(results)


@pytest.mark.asyncio
async def test_the_sweep_scores_attempts_whose_task_was_lost(
    live_app: FastAPI, live_client: httpx.AsyncClient, live_make: Factory
) -> None:
    ex = await exam(live_client, live_make, candidates=2)
    broker = LostJobs()
    with use_dispatcher(broker):
        old, new = [await submit_answers(live_client, code, {"Q1": "B"}) for code in ex.codes]
    assert any(job.name == "scoring.score_attempt" for job in broker.lost)
    assert await _state_and_results(live_app, old) == ("submitted", 0)
    async with live_app.state.db.transaction() as session:
        await session.execute(
            update(Attempt)
            .where(Attempt.id == uuid.UUID(old))
            .values(ended_at=utcnow() - timedelta(seconds=scoring.WAITING_AFTER_S + 5))
        )

    # Only the attempt that has waited past the threshold: the other's task may still come.
    assert await scoring.score_waiting(live_app.state.db) == 1
    state, results = await _state_and_results(live_app, old)
    assert state in ("scored", "released") and results == 1
    assert await _state_and_results(live_app, new) == ("submitted", 0)

    # Nothing waits any more: the next run scores nothing and adds no second result.
    assert await scoring.score_waiting(live_app.state.db) == 0
    assert (await _state_and_results(live_app, old))[1] == 1
    detail = await live_client.get(f"/api/v1/results/{old}", headers=ex.world.headers)
    assert detail.status_code == 200 and detail.json()["latest"]["raw"] == 1.0
