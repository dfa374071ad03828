"""Answer similarity over stored attempts (both backends): planted copying among 60
candidates on 30 items is flagged through the API and its task, with the shared answers and
the time overlap, and the copier's summary names its partner."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update

from tests.support.exams import World, begin
from tests.support.factories import Factory
from waa_ads.audit.models import AuditEvent
from waa_ads.delivery.models import Attempt, AttemptItem, Response
from waa_ads.integrity.simulate import honest, with_copying

pytestmark = pytest.mark.asyncio

ITEMS = [f"I{n:02d}" for n in range(30)]
LETTERS = ("B", "A", "C")  # code 0 is the key (B)


async def test_planted_copying_is_flagged_from_stored_answers(
    app: FastAPI, client: httpx.AsyncClient, make: Factory
) -> None:
    world = await World(client, make).setup(tagged={ident: [] for ident in ITEMS})
    body = world.definition(
        sections=[
            {"identifier": "s", "title": "S", "items": [{"item_id": world.items[i]} for i in ITEMS]}
        ]
    )
    created = await client.post(
        "/api/v1/assessments", json={"slug": "long", "definition": body}, headers=world.headers
    )
    published = await client.post(
        f"/api/v1/assessments/{created.json()['assessment']['id']}/publish",
        headers=world.headers,
    )
    now = datetime.now(UTC)
    administration = await client.post(
        "/api/v1/administrations",
        json={
            "assessment_version_id": published.json()["version"]["id"],
            "title": "Now",
            "opens_at": (now - timedelta(minutes=1)).isoformat(),
            "closes_at": (now + timedelta(hours=3)).isoformat(),
        },
        headers=world.headers,
    )
    administration_id = administration.json()["id"]
    people = [await make.candidate(world.org, name=f"C{n}") for n in range(60)]
    roster = await client.post(
        f"/api/v1/administrations/{administration_id}/roster",
        json={"entries": [{"candidate_id": str(p.id)} for p in people]},
        headers=world.headers,
    )
    attempts = [uuid.UUID((await begin(client, e["access_code"]))[0]) for e in roster.json()]

    sim = with_copying(honest(60, 30, options=3, seed=1), pairs=2, share=0.9, seed=1)
    item_of = {item_id: ITEMS.index(ident) for ident, item_id in world.items.items()}
    ended = datetime.now(UTC)
    async with app.state.db.transaction() as session:
        refs = {
            (attempt_id, item_of[str(item_id)]): ref
            for attempt_id, ref, item_id in await session.execute(
                select(AttemptItem.attempt_id, AttemptItem.ref, AttemptItem.item_id).where(
                    AttemptItem.attempt_id.in_(attempts)
                )
            )
        }
        for row, attempt_id in enumerate(attempts):
            for column in range(len(ITEMS)):
                session.add(
                    Response(
                        attempt_id=attempt_id,
                        item_ref=refs[(attempt_id, column)],
                        seq=1,
                        value={"value": LETTERS[int(sim.codes[row, column])]},
                        time_spent_ms=10_000,
                        updated_at=ended,
                    )
                )
        await session.execute(
            update(Attempt)
            .where(Attempt.id.in_(attempts))
            .values(state="submitted", ended_at=ended, ended_because="submitted")
        )

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
