"""Cloned items end to end: each candidate sees their own values of the same item, saves
are checked against their own instance, each is scored (one by one and, on PostgreSQL,
by the bulk scorer) against their own key, and neither the page nor the state ever holds
a key; the QTI results report carries each attempt's own values."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from lxml import etree
from sqlalchemy import delete, select, update

from tests.support.cloned import SUM_QUESTION, pick_item, sum_item, values_of
from tests.support.exams import World, begin, wait_for_state
from tests.support.factories import Factory
from waa_ads.content.item.definition import ItemDefinition
from waa_ads.content.models import ItemVersion
from waa_ads.delivery.models import Attempt, AttemptItem
from waa_ads.scoring import service as scoring
from waa_ads.scoring.models import AttemptResult, ItemScore
from waa_ads.scoring.qti_results import RESULT_NS

pytestmark = pytest.mark.asyncio

_IDS_AND_TIMES = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|\d{4}-\d\d-\d\dT[0-9:.+-]+Z?"
)


async def _drawn(app: FastAPI, attempt_id: str) -> dict[str, dict[str, Any]]:
    """The values the attempt's seed draws for each cloned item on its form."""
    async with app.state.db.transaction(write=False) as session:
        attempt = await session.get(Attempt, uuid.UUID(attempt_id))
        assert attempt is not None
        rows = (
            await session.execute(
                select(AttemptItem.ref, ItemVersion.definition)
                .join(ItemVersion, ItemVersion.id == AttemptItem.item_version_id)
                .where(AttemptItem.attempt_id == attempt.id)
            )
        ).all()
        return {
            ref: values_of(ItemDefinition.from_dict(definition), attempt.seed, ref)
            for ref, definition in rows
        }


async def _item_scores(app: FastAPI, attempt_ids: list[uuid.UUID]) -> list[tuple[Any, ...]]:
    async with app.state.db.transaction(write=False) as session:
        rows = await session.execute(
            select(ItemScore.attempt_id, ItemScore.item_ref, ItemScore.score, ItemScore.outcomes)
            .where(ItemScore.attempt_id.in_(attempt_ids))
            .order_by(ItemScore.attempt_id, ItemScore.item_ref)
        )
        return [tuple(r) for r in rows.all()]


async def test_each_candidate_answers_their_own_values_and_is_scored_by_their_own_key(
    live_app: FastAPI, live_client: httpx.AsyncClient, live_make: Factory
) -> None:
    app, client = live_app, live_client
    world = await World(client, live_make).setup(tagged={})
    items = [{"item_id": await world.publish_item(sum_item("S1"))}]
    items.append({"item_id": await world.publish_item(pick_item("P1"))})
    definition = world.definition(
        sections=[{"identifier": "s", "title": "S", "items": items}],
        scoring={"release": "immediately"},
    )
    people = [await live_make.candidate(world.org, name=f"Cand {n}") for n in range(3)]
    administration, codes = await world.open_administration(
        slug="clones", definition=definition, title="Now", candidate_ids=[p.id for p in people]
    )

    sessions: list[tuple[str, dict[str, str]]] = []
    shown: list[tuple[int, int]] = []
    drawn: list[dict[str, dict[str, Any]]] = []
    for code in codes:
        attempt_id, headers = await begin(client, code)
        view = await client.get(f"/api/v1/attempts/{attempt_id}", headers=headers)
        assert view.status_code == 200, view.text
        pages = {i["ref"]: i["item"] for i in view.json()["items"]}
        found = SUM_QUESTION.search(pages["S1"]["html"])
        assert found is not None, pages["S1"]["html"]
        a, b = int(found.group(1)), int(found.group(2))
        values = await _drawn(app, attempt_id)
        # The page shows the attempt's own draw, and a reload shows it again.
        assert values["S1"] == {"A": a, "B": b}
        again = await client.get(f"/api/v1/attempts/{attempt_id}", headers=headers)
        assert {i["ref"]: i["item"] for i in again.json()["items"]} == pages
        # No key anywhere in what the candidate receives (ids and instants set aside).
        assert str(a + b) not in _IDS_AND_TIMES.sub("", view.text)
        assert "correct" not in view.text
        # The hidden choice of the pick item is not shown, the others are.
        hidden = values["P1"]["HIDDEN"]
        assert f'value="{hidden}"' not in pages["P1"]["html"]
        for other in {"c1", "c2", "c3", "c4", "c5"} - {hidden}:
            assert f'value="{other}"' in pages["P1"]["html"]
        sessions.append((attempt_id, headers))
        shown.append((a, b))
        drawn.append(values)
    # Same item, different values (two draws of 1000..99999 practically never agree).
    assert shown[0] != shown[1] and sum(shown[0]) != sum(shown[1])

    # A save naming the choice this candidate was not shown is refused, and kept out.
    for (attempt_id, headers), values in zip(sessions, drawn, strict=True):
        hidden = values["P1"]["HIDDEN"]
        refused = await client.put(
            f"/api/v1/attempts/{attempt_id}/responses/P1",
            json={"seq": 1, "value": hidden},
            headers=headers,
        )
        assert refused.status_code == 422, refused.text
        assert hidden in refused.json()["detail"]
        visible = next(c for c in ("c1", "c2") if c != hidden)
        accepted = await client.put(
            f"/api/v1/attempts/{attempt_id}/responses/P1",
            json={"seq": 2, "value": visible},
            headers=headers,
        )
        assert accepted.status_code == 200 and accepted.json()["accepted"], accepted.text

    # The first two answer their own sums; the third answers the first one's sum.
    answers = [sum(shown[0]), sum(shown[1]), sum(shown[0])]
    for (attempt_id, headers), answer in zip(sessions, answers, strict=True):
        for seq, (ref, value) in enumerate((("S1", answer), ("P1", "c5")), start=3):
            saved = await client.put(
                f"/api/v1/attempts/{attempt_id}/responses/{ref}",
                json={"seq": seq, "value": value},
                headers=headers,
            )
            assert saved.status_code == 200 and saved.json()["accepted"], saved.text
        submitted = await client.post(f"/api/v1/attempts/{attempt_id}/submit", headers=headers)
        assert submitted.status_code == 200, submitted.text
        assert await wait_for_state(app, attempt_id, "released") == "released"
    attempt_ids = [uuid.UUID(a) for a, _ in sessions]
    one_by_one = await _item_scores(app, attempt_ids)
    by_attempt = {(a, ref): score for a, ref, score, _ in one_by_one}
    assert [by_attempt[(a, "S1")] for a in attempt_ids] == [1.0, 1.0, 0.0]
    assert all(by_attempt[(a, "P1")] == 1.0 for a in attempt_ids)
    async with app.state.db.transaction(write=False) as session:
        totals = dict(
            (
                await session.execute(
                    select(AttemptResult.attempt_id, AttemptResult.raw).where(
                        AttemptResult.attempt_id.in_(attempt_ids)
                    )
                )
            ).all()
        )
    assert [totals[a] for a in attempt_ids] == [2.0, 2.0, 1.0]

    # The QTI results report carries each attempt's own values, and no key.
    for (attempt_id, _), values in zip(sessions, drawn, strict=True):
        report = await client.get(f"/api/v1/results/{attempt_id}/qti", headers=world.headers)
        assert report.status_code == 200, report.text
        root = etree.fromstring(report.content)
        ns = {"r": RESULT_NS}
        written = {
            v.get("identifier"): [x.text for x in v.findall("r:value", ns)]
            for v in root.iterfind("r:itemResult[@identifier='S1']/r:templateVariable", ns)
        }
        assert written == {"A": [str(values["S1"]["A"])], "B": [str(values["S1"]["B"])]}
        hidden = root.find("r:itemResult[@identifier='P1']/r:templateVariable/r:value", ns)
        assert hidden is not None and hidden.text == values["P1"]["HIDDEN"]
        assert root.find(".//r:correctResponse", ns) is None

    # The whole administration scored again at once (on PostgreSQL, the bulk scorer):
    # the same scores, each attempt against its own instance.
    db = app.state.db
    async with db.transaction() as session:
        await session.execute(
            delete(AttemptResult).where(AttemptResult.attempt_id.in_(attempt_ids))
        )
        await session.execute(
            update(Attempt).where(Attempt.id.in_(attempt_ids)).values(state="submitted")
        )
    scored = await scoring.score_administration(db, world.org.id, uuid.UUID(administration["id"]))
    assert scored == 3
    assert await _item_scores(app, attempt_ids) == one_by_one
