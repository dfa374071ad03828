"""Items with lookup tables, context variables, ``random`` in their response processing and
an adaptive item, delivered and scored: each is published, answered once and scored from
the stored answer (an adaptive item as its one attempt)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from tests.support.exams import World, begin, wait_for_state
from tests.support.factories import Factory
from waa_ads.scoring.models import ItemScore

pytestmark = pytest.mark.asyncio

FIXTURES = Path(__file__).parents[1] / "fixtures" / "items" / "processing"


async def _publish(world: World, name: str) -> str:
    created = await world.client.post(
        f"/api/v1/banks/{world.bank_id}/items",
        json={"source": {"format": "qti", "content": (FIXTURES / name).read_text()}},
        headers=world.headers,
    )
    assert created.status_code == 201, created.text
    item_id: str = created.json()["item"]["id"]
    published = await world.client.post(f"/api/v1/items/{item_id}/publish", headers=world.headers)
    assert published.status_code == 200, published.text
    return item_id


async def test_items_using_the_new_processing_are_delivered_and_scored(
    live_app: FastAPI, live_client: httpx.AsyncClient, live_make: Factory
) -> None:
    app, client = live_app, live_client
    world = await World(client, live_make).setup(tagged={})
    names = {
        "adaptive-capital": "adaptive.v2p1.xml",
        "lookup-tables": "lookup_tables.v3p0.xml",
        "context-weight": "context.v3p0.xml",
        "random-praise": "random_response.v3p0.xml",
    }
    items = [{"item_id": await _publish(world, name)} for name in names.values()]
    definition = world.definition(
        sections=[{"identifier": "s", "title": "S", "items": items}],
        scoring={"release": "immediately"},
    )
    people = [await live_make.candidate(world.org, name=f"Cand {n}") for n in range(2)]
    _, codes = await world.open_administration(
        slug="processing", definition=definition, title="Now", candidate_ids=[p.id for p in people]
    )
    answers: list[dict[str, Any]] = [
        {
            "adaptive-capital": "canberra",
            "lookup-tables": 6,
            "context-weight": "hundred",
            "random-praise": "blue",
        },
        {
            "adaptive-capital": "sydney",
            "lookup-tables": 7,
            "context-weight": "fifty",
            "random-praise": "yellow",
        },
    ]
    attempt_ids: list[uuid.UUID] = []
    for code, given in zip(codes, answers, strict=True):
        attempt_id, headers = await begin(client, code)
        view = await client.get(f"/api/v1/attempts/{attempt_id}", headers=headers)
        assert view.status_code == 200, view.text
        refs = {i["ref"] for i in view.json()["items"]}
        assert refs == set(names)
        for seq, (ref, value) in enumerate(given.items(), start=1):
            saved = await client.put(
                f"/api/v1/attempts/{attempt_id}/responses/{ref}",
                json={"seq": seq, "value": value},
                headers=headers,
            )
            assert saved.status_code == 200 and saved.json()["accepted"], saved.text
        submitted = await client.post(f"/api/v1/attempts/{attempt_id}/submit", headers=headers)
        assert submitted.status_code == 200, submitted.text
        assert await wait_for_state(app, attempt_id, "released") == "released"
        attempt_ids.append(uuid.UUID(attempt_id))

    async with app.state.db.transaction(write=False) as session:
        rows = (
            await session.execute(
                select(
                    ItemScore.attempt_id, ItemScore.item_ref, ItemScore.score, ItemScore.outcomes
                ).where(ItemScore.attempt_id.in_(attempt_ids))
            )
        ).all()
    scored = {(a, ref): (score, outcomes) for a, ref, score, outcomes in rows}
    first, second = attempt_ids
    # The adaptive item: one attempt. Right at once is 2 points and completed; wrong once
    # leaves it incomplete with the hint, and no points.
    assert scored[(first, "adaptive-capital")][0] == 2.0
    assert scored[(first, "adaptive-capital")][1]["completionStatus"] == "completed"
    assert scored[(second, "adaptive-capital")][0] == 0.0
    assert scored[(second, "adaptive-capital")][1]["completionStatus"] == "incomplete"
    assert scored[(second, "adaptive-capital")][1]["FEEDBACK"] == "hint"
    # Lookup tables: 6 is above 5 (excluded) and below 7: half a point; 7 is the answer.
    assert scored[(first, "lookup-tables")][0] == 0.5
    assert scored[(second, "lookup-tables")][0] == 1.0
    assert scored[(second, "lookup-tables")][1]["DAY"] == "sunday"
    # The context variable's default weighs the right answer.
    assert scored[(first, "context-weight")][0] == 2.0
    assert scored[(second, "context-weight")][0] == 0.0
    # random: one of the praises for the right answer, none for the wrong one.
    assert scored[(first, "random-praise")][0] == 1.0
    assert scored[(first, "random-praise")][1]["PRAISE"] in {
        "well_done",
        "excellent",
        "great",
        "superb",
    }
    assert scored[(second, "random-praise")][1]["PRAISE"] is None
