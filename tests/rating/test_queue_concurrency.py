"""Raters asking at once never share a lease: real concurrent requests, each in its own
session on a database of the test's own (PostgreSQL: FOR UPDATE SKIP LOCKED; SQLite: one
writer at a time)."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from tests.rating.world import rating_world
from tests.support.factories import Factory
from waa_ads.core.db import utcnow
from waa_ads.rating.models import RatingLease, RatingPlan, RatingTask
from waa_ads.rating.rules import order_key

pytestmark = pytest.mark.asyncio

RATERS = 12
#: A rater asking again while holding a lease gets that lease back.
ASKS = 2


async def test_concurrent_raters_get_distinct_leases(
    live_app: FastAPI, live_client: httpx.AsyncClient, live_make: Factory
) -> None:
    rw = await rating_world(live_app, live_client, live_make, raters=RATERS)
    plan = (await rw.plan())["plan"]
    # More responses than the raters will take: the queue's rows, as sync would add them.
    async with live_app.state.db.transaction() as session:
        template = (
            await session.execute(
                select(RatingTask).where(RatingTask.plan_id == uuid.UUID(plan["id"]))
            )
        ).scalar_one()
        owner = await session.get(RatingPlan, template.plan_id)
        assert owner is not None
        for n in range(RATERS * ASKS + 10):
            key = f"{template.attempt_id}:E1#{n}"
            session.add(
                RatingTask(
                    organization_id=template.organization_id,
                    plan_id=template.plan_id,
                    response_key=key,
                    kind="rating",
                    item_ref="E1",
                    item_version_id=template.item_version_id,
                    attempt_id=template.attempt_id,
                    slot=0,
                    order_key=order_key(key),
                    created_at=utcnow(),
                )
            )

    async def ask(headers: dict[str, str]) -> str:
        reply = await live_client.post("/api/v1/rating/next", headers=headers)
        assert reply.status_code == 200, reply.text
        lease = reply.json()["lease"]
        assert lease is not None
        return str(lease["lease_id"])

    leases = await asyncio.gather(*[ask(h) for h in rw.rater_headers])
    assert len(set(leases)) == RATERS
    again = await asyncio.gather(*[ask(h) for h in rw.rater_headers])
    assert again == leases
    async with live_app.state.db.transaction(write=False) as session:
        tasks = list(
            (
                await session.execute(
                    select(RatingLease.task_id).where(
                        RatingLease.id.in_([uuid.UUID(x) for x in leases])
                    )
                )
            ).scalars()
        )
        held = list(
            (
                await session.execute(
                    select(RatingTask.lease_id).where(RatingTask.state == "leased")
                )
            ).scalars()
        )
    assert len(tasks) == len(set(tasks)) == RATERS
    assert sorted(map(str, held)) == sorted(leases)
