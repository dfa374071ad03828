"""A large rescore commits batch by batch: the organization's audit chain is locked for one
batch at a time, so other audited work of the organization goes on while it runs."""

from __future__ import annotations

import uuid

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, text

from tests.support.exams import exam, submit_answers, wait_for_state
from tests.support.factories import Factory
from tests.support.items import choice_item
from waa_ads.audit import service as audit
from waa_ads.audit.service import Actor
from waa_ads.auth.deps import Principal
from waa_ads.scoring import service as scoring
from waa_ads.scoring.models import AttemptResult

pytestmark = pytest.mark.asyncio


async def test_a_rescore_commits_per_batch_and_never_holds_the_audit_chain(
    live_app: FastAPI, live_client: httpx.AsyncClient, live_make: Factory
) -> None:
    client = live_client
    ex = await exam(client, live_make, candidates=5, scoring={"release": "immediately"})
    world = ex.world
    attempt_ids = [await submit_answers(client, code, {"Q1": "A"}) for code in ex.codes]
    for attempt_id in attempt_ids:
        assert await wait_for_state(live_app, attempt_id, "released") == "released"
    fixed = await client.patch(
        f"/api/v1/items/{world.items['Q1']}",
        json={"source": {"format": "qti", "content": choice_item("Q1", "Q1", correct="A")}},
        headers=world.headers,
    )
    assert fixed.status_code == 200, fixed.text
    await client.post(f"/api/v1/items/{world.items['Q1']}/publish", headers=world.headers)

    db = live_app.state.db
    organization_id = world.org.id
    progress: list[tuple[int, int]] = []

    async def between_batches(changed_so_far: int) -> None:
        # What the batches before did is committed: another connection sees it.
        async with db.transaction(write=False) as session:
            committed = (
                await session.execute(
                    select(func.count())
                    .select_from(AttemptResult)
                    .where(
                        AttemptResult.organization_id == organization_id,
                        AttemptResult.reason.like("answer key corrected%"),
                    )
                )
            ).scalar_one()
        # Another audited write of the same organization goes through at once, while the
        # rescore still has batches to go.
        async with db.transaction() as session:
            if session.get_bind().dialect.name == "postgresql":
                await session.execute(text("SET LOCAL lock_timeout = '2s'"))
            await audit.record(
                session,
                organization_id=organization_id,
                action="test.meanwhile",
                actor=Actor("system", "test"),
                target_type="organization",
                target_id=organization_id,
                data={"changed_so_far": changed_so_far},
            )
        progress.append((changed_so_far, int(committed)))

    principal = Principal.system(organization_id, via="test")
    changes = await scoring.rescore_item(
        db,
        principal,
        item_id=uuid.UUID(world.items["Q1"]),
        from_version=1,
        to_version=2,
        administration_id=None,
        reason="wrong key",
        batch=2,
        after_batch=between_batches,
    )
    assert len(changes) == 5
    assert progress == [(2, 2), (4, 4), (5, 5)]
    again = await client.post(
        "/api/v1/rescore",
        json={"item_id": world.items["Q1"], "from_version": 1, "to_version": 2, "reason": "x"},
        headers=world.headers,
    )
    assert again.status_code == 200, again.text
    assert again.json() == {"changed": 0, "changes": []}
