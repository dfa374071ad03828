"""Starting an attempt with an access code: what a start stores (the attempt in progress,
its whole form, its deadline, the audit event), resuming, racing starts of one code, and a
new attempt after an ended one. On PostgreSQL the common cases take the few-statement way
(``delivery.service.start_at_once``); these tests hold both ways to the same answers."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, update

from tests.support.exams import begin, exam
from tests.support.factories import Factory
from tests.support.problems import problem
from waa_ads.audit.models import AuditEvent
from waa_ads.delivery.models import Attempt, AttemptItem

pytestmark = pytest.mark.asyncio


async def _start_events(app: FastAPI, attempt_id: str) -> list[AuditEvent]:
    async with app.state.db.transaction(write=False) as session:
        return list(
            (
                await session.execute(
                    select(AuditEvent).where(
                        AuditEvent.target_id == attempt_id, AuditEvent.action == "attempt.start"
                    )
                )
            ).scalars()
        )


async def test_a_start_stores_the_attempt_its_form_deadline_and_audit_event(
    app: FastAPI, client: httpx.AsyncClient, make: Factory
) -> None:
    ex = await exam(client, make, time_limit_s=1200)
    before = datetime.now(UTC)
    response = await client.post("/api/v1/attempts", json={"access_code": ex.codes[0]})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["resumed"] is False
    reply = body["attempt"]
    assert (reply["state"], reply["number"], reply["paused"]) == ("in_progress", 1, False)
    assert reply["administration_id"] == ex.administration["id"]
    started_at = datetime.fromisoformat(reply["started_at"])
    assert before <= started_at <= datetime.now(UTC)
    assert datetime.fromisoformat(reply["deadline_at"]) == started_at + timedelta(seconds=1200)
    attempt_id = uuid.UUID(reply["id"])
    assert body["credential"].startswith(f"{attempt_id}.0.")

    async with app.state.db.transaction(write=False) as session:
        stored = (await session.execute(select(Attempt).where(Attempt.id == attempt_id))).one()[0]
        items = list(
            (
                await session.execute(
                    select(AttemptItem)
                    .where(AttemptItem.attempt_id == attempt_id)
                    .order_by(AttemptItem.position)
                )
            ).scalars()
        )
    assert stored.state == "in_progress"
    assert stored.started_at == started_at
    assert stored.deadline_at == started_at + timedelta(seconds=1200)
    assert (stored.credential_epoch, stored.current_position, stored.breaks_taken) == (0, 1, 0)
    assert stored.ended_at is None and stored.ended_because is None
    assert [(i.ref, i.position, i.section) for i in items] == [
        ("Q1", 1, "s"),
        ("Q2", 2, "s"),
        ("Q3", 3, "s"),
    ]
    assert {i.presented_at for i in items} == {started_at}
    assert {str(i.item_id) for i in items} == {ex.world.items[r] for r in ("Q1", "Q2", "Q3")}

    (event,) = await _start_events(app, str(attempt_id))
    assert (event.actor_type, event.actor_id) == ("candidate", str(stored.candidate_id))
    assert event.organization_id == stored.organization_id
    assert json.loads(event.canonical)["data"] == {"from": "scheduled", "to": "in_progress"}

    # The same code resumes the same attempt with the same credential, and records nothing.
    again = await client.post("/api/v1/attempts", json={"access_code": ex.codes[0]})
    assert again.status_code == 200
    assert again.json()["resumed"] is True
    assert again.json()["attempt"] == reply
    assert again.json()["credential"] == body["credential"]
    assert len(await _start_events(app, str(attempt_id))) == 1

    # The form is there for the first save and the view.
    headers = {"X-Attempt-Token": body["credential"]}
    saved = await client.put(
        f"/api/v1/attempts/{attempt_id}/responses/Q2",
        json={"seq": 1, "value": "B"},
        headers=headers,
    )
    assert saved.json() == {"accepted": True, "seq": 1, "current_seq": 1}
    view = (await client.get(f"/api/v1/attempts/{attempt_id}", headers=headers)).json()
    assert [i["ref"] for i in view["items"]] == ["Q1", "Q2", "Q3"]


async def test_the_deadline_never_passes_the_window_close(
    app: FastAPI, client: httpx.AsyncClient, make: Factory
) -> None:
    ex = await exam(client, make, time_limit_s=4 * 3600)  # the window closes in 3 hours
    response = await client.post("/api/v1/attempts", json={"access_code": ex.codes[0]})
    closes_at = datetime.fromisoformat(ex.administration["closes_at"])
    assert datetime.fromisoformat(response.json()["attempt"]["deadline_at"]) == closes_at


async def test_starts_racing_with_one_code_make_one_attempt(
    live_app: FastAPI, live_client: httpx.AsyncClient, live_make: Factory
) -> None:
    ex = await exam(live_client, live_make)
    replies = await asyncio.gather(
        *(live_client.post("/api/v1/attempts", json={"access_code": ex.codes[0]}) for _ in range(6))
    )
    assert sorted(r.status_code for r in replies) == [200, 200, 200, 200, 200, 201]
    assert len({r.json()["attempt"]["id"] for r in replies}) == 1
    assert len({r.json()["credential"] for r in replies}) == 1
    assert {r.json()["attempt"]["state"] for r in replies} == {"in_progress"}
    attempt_id = replies[0].json()["attempt"]["id"]
    async with live_app.state.db.transaction(write=False) as session:
        attempts = (await session.execute(select(func.count()).select_from(Attempt))).scalar_one()
        items = (
            await session.execute(
                select(func.count())
                .select_from(AttemptItem)
                .where(AttemptItem.attempt_id == uuid.UUID(attempt_id))
            )
        ).scalar_one()
    assert (attempts, items) == (1, 3)
    assert len(await _start_events(live_app, attempt_id)) == 1


async def test_a_new_attempt_after_an_ended_one_until_none_are_left(
    app: FastAPI, client: httpx.AsyncClient, make: Factory
) -> None:
    ex = await exam(client, make, attempts_allowed=2)
    first_id, headers = await begin(client, ex.codes[0])
    await client.post(f"/api/v1/attempts/{first_id}/submit", headers=headers)
    second = await client.post("/api/v1/attempts", json={"access_code": ex.codes[0]})
    assert second.status_code == 201
    assert (second.json()["attempt"]["number"], second.json()["resumed"]) == (2, False)
    assert second.json()["attempt"]["id"] != first_id
    second_id = second.json()["attempt"]["id"]
    await client.post(
        f"/api/v1/attempts/{second_id}/submit",
        headers={"X-Attempt-Token": second.json()["credential"]},
    )
    third = await client.post("/api/v1/attempts", json={"access_code": ex.codes[0]})
    assert (third.status_code, problem(third)) == (409, "attempts-exhausted")
    assert len(await _start_events(app, second_id)) == 1


async def test_an_attempt_past_its_deadline_is_expired_not_resumed(
    app: FastAPI, client: httpx.AsyncClient, make: Factory
) -> None:
    ex = await exam(client, make, attempts_allowed=2)
    attempt_id, _ = await begin(client, ex.codes[0])
    grace = app.state.settings.save_grace_s
    async with app.state.db.transaction() as session:
        await session.execute(
            update(Attempt)
            .where(Attempt.id == uuid.UUID(attempt_id))
            .values(deadline_at=datetime.now(UTC) - timedelta(seconds=grace + 5))
        )
    again = await client.post("/api/v1/attempts", json={"access_code": ex.codes[0]})
    assert again.status_code == 201
    assert again.json()["attempt"]["number"] == 2
    async with app.state.db.transaction(write=False) as session:
        ended_because = (
            await session.execute(
                select(Attempt.ended_because).where(Attempt.id == uuid.UUID(attempt_id))
            )
        ).scalar_one()
    assert ended_because == "expired"  # (scoring may have moved it on since)


async def test_unknown_and_malformed_codes_are_not_valid(
    client: httpx.AsyncClient, make: Factory
) -> None:
    await exam(client, make)
    for code in ("AAAA-BBBB-CCCC-DDDD", "--------", "X" * 64):
        response = await client.post("/api/v1/attempts", json={"access_code": code})
        assert (response.status_code, problem(response)) == (404, "access-code-invalid")
