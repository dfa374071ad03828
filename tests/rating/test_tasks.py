"""The periodic sweep queues answers that started waiting, once."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import delete, func, select

from tests.rating.world import rating_world
from tests.support.factories import Factory
from waa_ads.rating import service
from waa_ads.rating.models import RatingOutcome, RatingTask

pytestmark = pytest.mark.asyncio


async def test_the_sweep_queues_waiting_answers_once(
    app: FastAPI, client: httpx.AsyncClient, make: Factory
) -> None:
    rw = await rating_world(app, client, make, candidates=2)
    await rw.plan(double_share=1.0)
    async with app.state.db.transaction() as session:
        await session.execute(delete(RatingTask))
        await session.execute(delete(RatingOutcome))
    assert await service.sync_all(app.state.db) == 2
    assert await service.sync_all(app.state.db) == 0
    async with app.state.db.transaction() as session:
        tasks = await session.scalar(select(func.count()).select_from(RatingTask))
    assert tasks == 4
