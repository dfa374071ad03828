"""What an administrator changes reaches the attempts already running: a new window or new
accommodations move live attempts' deadlines, cancelling ends them (terminated, then
scored), and breaks end when their longest time is up."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from tests.support.exams import begin, exam, wait_for_state
from tests.support.factories import Factory
from waa_ads.delivery.models import Attempt

pytestmark = pytest.mark.asyncio


async def view(client: httpx.AsyncClient, attempt_id: str, headers: dict[str, str]) -> Any:
    response = await client.get(f"/api/v1/attempts/{attempt_id}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def deadline_becomes(
    client: httpx.AsyncClient,
    attempt_id: str,
    headers: dict[str, str],
    expected: datetime,
) -> datetime:
    """The attempt's deadline once it is ``expected`` (to the second; background work moves
    it), or whatever it is after 10 s."""
    loop = asyncio.get_running_loop()
    until = loop.time() + 10
    while True:
        raw = (await view(client, attempt_id, headers))["attempt"]["deadline_at"]
        seen = datetime.fromisoformat(raw)
        if abs((seen - expected).total_seconds()) < 1 or loop.time() > until:
            return seen
        await asyncio.sleep(0.05)


async def test_a_new_window_moves_live_deadlines(client: httpx.AsyncClient, make: Factory) -> None:
    ex = await exam(client, make, time_limit_s=1800)
    attempt_id, headers = await begin(client, ex.codes[0])
    started = datetime.fromisoformat(
        (await view(client, attempt_id, headers))["attempt"]["started_at"]
    )
    administration = ex.administration["id"]
    sooner = datetime.now(UTC) + timedelta(minutes=10)
    changed = await client.patch(
        f"/api/v1/administrations/{administration}",
        json={"closes_at": sooner.isoformat()},
        headers=ex.world.headers,
    )
    assert changed.status_code == 200, changed.text
    assert await deadline_becomes(client, attempt_id, headers, sooner) == sooner
    later = datetime.now(UTC) + timedelta(hours=5)
    await client.patch(
        f"/api/v1/administrations/{administration}",
        json={"closes_at": later.isoformat()},
        headers=ex.world.headers,
    )
    full = started + timedelta(seconds=1800)
    assert await deadline_becomes(client, attempt_id, headers, full) == full


async def test_new_accommodations_move_a_live_deadline(
    client: httpx.AsyncClient, make: Factory
) -> None:
    ex = await exam(client, make, candidates=1, time_limit_s=1000)
    attempt_id, headers = await begin(client, ex.codes[0])
    started = datetime.fromisoformat(
        (await view(client, attempt_id, headers))["attempt"]["started_at"]
    )
    administration = ex.administration["id"]
    (entry,) = (
        await client.get(
            f"/api/v1/administrations/{administration}/roster", headers=ex.world.headers
        )
    ).json()
    changed = await client.put(
        f"/api/v1/administrations/{administration}/roster/{entry['id']}/accommodations",
        json={"extra_time_multiplier": 2.0, "extra_attempts": 0, "extra_breaks": 0},
        headers=ex.world.headers,
    )
    assert changed.status_code == 200, changed.text
    doubled = started + timedelta(seconds=2000)
    assert await deadline_becomes(client, attempt_id, headers, doubled) == doubled


async def test_cancelling_an_administration_ends_its_live_attempts(
    app: FastAPI, client: httpx.AsyncClient, make: Factory
) -> None:
    ex = await exam(client, make, time_limit_s=1800)
    attempt_id, headers = await begin(client, ex.codes[0])
    await client.put(
        f"/api/v1/attempts/{attempt_id}/responses/Q1",
        json={"seq": 1, "value": "B"},
        headers=headers,
    )
    cancelled = await client.post(
        f"/api/v1/administrations/{ex.administration['id']}/cancel", headers=ex.world.headers
    )
    assert cancelled.status_code == 200, cancelled.text
    state = await wait_for_state(app, attempt_id, "scored", "released")
    assert state in ("scored", "released")
    ended = (await view(client, attempt_id, headers))["attempt"]
    assert ended["ended_because"] == "terminated"
    refused = await client.put(
        f"/api/v1/attempts/{attempt_id}/responses/Q2",
        json={"seq": 1, "value": "B"},
        headers=headers,
    )
    assert refused.status_code == 410


async def test_a_break_ends_when_its_longest_time_is_up(
    app: FastAPI, client: httpx.AsyncClient, make: Factory
) -> None:
    ex = await exam(
        client,
        make,
        time_limit_s=1800,
        breaks={"allowed": True, "max_breaks": 2, "max_break_s": 60},
    )
    attempt_id, headers = await begin(client, ex.codes[0])
    before = datetime.fromisoformat(
        (await view(client, attempt_id, headers))["attempt"]["deadline_at"]
    )
    on_break = await client.post(f"/api/v1/attempts/{attempt_id}/break", headers=headers)
    assert on_break.status_code == 200, on_break.text
    shown = await view(client, attempt_id, headers)
    assert shown["attempt"]["paused"] is True
    assert shown["breaks"] == {
        "allowed": True,
        "remaining": 1,
        "max_break_s": 60,
        "count_against_time": False,
    }
    # The break began 10 minutes ago: it ended after its 60 seconds, the clock ran since.
    async with app.state.db.transaction() as session:
        row = await session.get(Attempt, uuid.UUID(attempt_id))
        assert row is not None and row.paused_at is not None
        await session.execute(
            update(Attempt)
            .where(Attempt.id == row.id)
            .values(paused_at=row.paused_at - timedelta(minutes=10))
        )
    resumed = await view(client, attempt_id, headers)
    assert resumed["attempt"]["state"] == "in_progress"
    assert resumed["attempt"]["paused"] is False
    after = datetime.fromisoformat(resumed["attempt"]["deadline_at"])
    assert abs((after - before).total_seconds() - 60) < 2, (before, after)
    assert resumed["items"], "the questions are shown again"


async def test_section_time_limits_are_refused_not_ignored(
    client: httpx.AsyncClient, make: Factory
) -> None:
    ex = await exam(client, make)
    body = ex.world.definition(
        sections=[
            {
                "identifier": "timed",
                "title": "Timed",
                "time_limit_s": 600,
                "items": [{"item_id": ex.world.items["Q1"]}],
            }
        ]
    )
    created = await client.post(
        "/api/v1/assessments",
        json={"slug": "timed", "definition": body},
        headers=ex.world.headers,
    )
    assert created.status_code == 422, created.text
    assert created.json()["type"].endswith("/section-time-limit-unsupported")
