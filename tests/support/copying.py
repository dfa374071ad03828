"""An administration of 30 items and 60 ended attempts whose answers are stored straight in
the database, drawn from the integrity simulator with two planted copying pairs."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
from fastapi import FastAPI
from sqlalchemy import select, update

from tests.support.exams import World, begin
from tests.support.factories import Factory
from waa_ads.delivery.models import Attempt, AttemptItem, Response
from waa_ads.integrity.simulate import Simulated, honest, with_copying

ITEMS = [f"I{n:02d}" for n in range(30)]
LETTERS = ("B", "A", "C")  # code 0 is the key (B)
CANDIDATES = 60


@dataclass(frozen=True)
class CopyingCohort:
    """The organization, the administration, its attempts in the simulator's row order and
    the simulation (``sim.copiers`` are the planted pairs, as row indexes)."""

    world: World
    administration_id: str
    attempts: list[uuid.UUID]
    sim: Simulated


async def planted_copying(
    app: FastAPI, client: httpx.AsyncClient, make: Factory, *, title: str
) -> CopyingCohort:
    """Publish a test of :data:`ITEMS`, open an administration ``title`` with 60 candidates,
    start their attempts and store the simulated answers (letters :data:`LETTERS`, 10 s
    each) as submitted attempts."""
    world = await World(client, make).setup(tagged={ident: [] for ident in ITEMS})
    body = world.definition(
        sections=[
            {"identifier": "s", "title": "S", "items": [{"item_id": world.items[i]} for i in ITEMS]}
        ]
    )
    people = [await make.candidate(world.org, name=f"C{n}") for n in range(CANDIDATES)]
    administration, codes = await world.open_administration(
        slug="long", definition=body, title=title, candidate_ids=[p.id for p in people]
    )
    administration_id = administration["id"]
    attempts = [uuid.UUID((await begin(client, code))[0]) for code in codes]

    sim = with_copying(
        honest(CANDIDATES, len(ITEMS), options=3, seed=1), pairs=2, share=0.9, seed=1
    )
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
    return CopyingCohort(world, administration_id, attempts, sim)
