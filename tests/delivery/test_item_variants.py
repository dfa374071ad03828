"""Translated items in an attempt: each item is shown in the attempt's language where it
has a variant in it (else the administration's, else the item itself), the response is
stored under the item's own ref, scored by the shown variant's processing, and counted as
one item by the statistics."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tests.support.exams import World, begin, wait_for_state
from tests.support.factories import Factory
from tests.support.translations import french_choice, text_entry_item
from waa_ads.assessments.models import Administration
from waa_ads.content.models import Item, ItemVersion
from waa_ads.delivery.models import Attempt, AttemptItem, Response
from waa_ads.scoring import service as scoring
from waa_ads.scoring.models import AttemptResult, ItemScore

pytestmark = pytest.mark.asyncio

ENGLISH_PROMPT = "The animal that barks:"
FRENCH_PROMPT = "L'animal qui aboie :"


async def _publish(world: World, xml: str, *, translation_of: str | None = None) -> str:
    if translation_of is None:
        created = await world.client.post(
            f"/api/v1/banks/{world.bank_id}/items",
            json={"source": {"format": "qti", "content": xml}},
            headers=world.headers,
        )
    else:
        created = await world.client.post(
            f"/api/v1/items/{translation_of}/translations",
            json={"source": {"format": "qti", "content": xml}},
            headers=world.headers,
        )
    assert created.status_code == 201, created.text
    item_id: str = created.json()["item"]["id"]
    published = await world.client.post(f"/api/v1/items/{item_id}/publish", headers=world.headers)
    assert published.status_code == 200, published.text
    return item_id


async def _set_locale(db_session: AsyncSession, attempt_id: str, locale: str) -> None:
    await db_session.execute(
        update(Attempt).where(Attempt.id == uuid.UUID(attempt_id)).values(locale=locale)
    )


async def _view(client: httpx.AsyncClient, attempt_id: str, headers: dict[str, str]) -> Any:
    reply = await client.get(f"/api/v1/attempts/{attempt_id}", headers=headers)
    assert reply.status_code == 200, reply.text
    return reply


def _shown(view: httpx.Response) -> dict[str, dict[str, Any]]:
    return {i["ref"]: i["item"] for i in view.json()["items"]}


async def _answer_and_submit(
    app: FastAPI,
    client: httpx.AsyncClient,
    attempt_id: str,
    headers: dict[str, str],
    answers: dict[str, str],
) -> None:
    for seq, (ref, value) in enumerate(answers.items(), start=1):
        saved = await client.put(
            f"/api/v1/attempts/{attempt_id}/responses/{ref}",
            json={"seq": seq, "value": value},
            headers=headers,
        )
        assert saved.status_code == 200 and saved.json()["accepted"], saved.text
    submitted = await client.post(f"/api/v1/attempts/{attempt_id}/submit", headers=headers)
    assert submitted.status_code == 200, submitted.text
    assert await wait_for_state(app, attempt_id, "released", "scored") in ("released", "scored")


async def test_each_candidate_reads_their_language_and_is_scored_as_one_item(
    app: FastAPI, client: httpx.AsyncClient, make: Factory, db_session: AsyncSession
) -> None:
    world = await World(client, make).setup(tagged={"Q1": [], "Q2": []})
    await _publish(world, french_choice("Q1"), translation_of=world.items["Q1"])
    t1 = await _publish(
        world, text_entry_item("T1", lang="en", prompt=ENGLISH_PROMPT, answer="dog")
    )
    t1_fr = await _publish(
        world,
        text_entry_item("T1", lang="fr", prompt=FRENCH_PROMPT, answer="chien"),
        translation_of=t1,
    )
    items = [{"item_id": world.items["Q1"]}, {"item_id": t1}, {"item_id": world.items["Q2"]}]
    definition = world.definition(
        sections=[{"identifier": "s", "title": "S", "items": items}],
        scoring={"release": "immediately"},
    )
    people = [await make.candidate(world.org, name=f"Cand {n}") for n in range(3)]
    administration, codes = await world.open_administration(
        slug="bilingual", definition=definition, title="Now", candidate_ids=[p.id for p in people]
    )

    # French: the French variants of Q1 and T1, Q2 (no variant) in English
    french_id, french = await begin(client, codes[0])
    await _set_locale(db_session, french_id, "fr")
    view = await _view(client, french_id, french)
    shown = _shown(view)
    assert FRENCH_PROMPT in shown["T1"]["html"] and ENGLISH_PROMPT not in view.text
    assert shown["T1"]["language"] == "fr"
    assert "Choisissez-en une" in view.text and "Alpha (fr)" in view.text
    assert shown["Q2"]["language"] == "en"
    assert "chien" not in view.text and "dog" not in view.text  # no key leaks
    # a reload shows the same
    assert _shown(await _view(client, french_id, french)) == shown

    # English: the items themselves
    english_id, english = await begin(client, codes[1])
    await _set_locale(db_session, english_id, "en")
    view = await _view(client, english_id, english)
    assert ENGLISH_PROMPT in _shown(view)["T1"]["html"] and FRENCH_PROMPT not in view.text
    assert "Choisissez-en une" not in view.text

    # A language without variants: the administration's language, else the item itself
    other_id, other = await begin(client, codes[2])
    await _set_locale(db_session, other_id, "en-XA")
    view = await _view(client, other_id, other)
    assert ENGLISH_PROMPT in _shown(view)["T1"]["html"]
    await db_session.execute(
        update(Administration)
        .where(Administration.id == uuid.UUID(administration["id"]))
        .values(locale="fr")
    )
    view = await _view(client, other_id, other)
    assert FRENCH_PROMPT in _shown(view)["T1"]["html"]

    # What was shown is recorded on the form row, which keeps the item's own version
    t1_version = (
        await db_session.execute(select(ItemVersion.id).where(ItemVersion.item_id == uuid.UUID(t1)))
    ).scalar_one()
    t1_fr_version = (
        await db_session.execute(
            select(ItemVersion.id).where(ItemVersion.item_id == uuid.UUID(t1_fr))
        )
    ).scalar_one()
    rows = {
        (row.attempt_id, row.ref): row
        for row in (
            await db_session.execute(
                select(AttemptItem).where(
                    AttemptItem.attempt_id.in_(
                        [uuid.UUID(a) for a in (french_id, english_id, other_id)]
                    )
                )
            )
        ).scalars()
    }
    fr_row = rows[(uuid.UUID(french_id), "T1")]
    assert (fr_row.item_version_id, fr_row.variant_version_id, fr_row.language) == (
        t1_version,
        t1_fr_version,
        "fr",
    )
    en_row = rows[(uuid.UUID(english_id), "T1")]
    assert (en_row.variant_version_id, en_row.language) == (None, "en")
    assert rows[(uuid.UUID(french_id), "Q2")].variant_version_id is None

    # Each answers in the language read: each key is the variant's own
    await _answer_and_submit(app, client, french_id, french, {"Q1": "B", "T1": "chien", "Q2": "B"})
    await _answer_and_submit(app, client, english_id, english, {"Q1": "B", "T1": "dog", "Q2": "A"})
    await _answer_and_submit(app, client, other_id, other, {"Q1": "A", "T1": "dog", "Q2": "A"})

    stored = (
        await db_session.execute(
            select(Response.attempt_id, Response.item_ref).where(
                Response.attempt_id == uuid.UUID(french_id)
            )
        )
    ).all()
    assert sorted(ref for _, ref in stored) == ["Q1", "Q2", "T1"]
    scores = {
        (attempt_id, ref): (score, version)
        for attempt_id, ref, score, version in (
            await db_session.execute(
                select(
                    ItemScore.attempt_id,
                    ItemScore.item_ref,
                    ItemScore.score,
                    ItemScore.item_version_id,
                ).where(ItemScore.item_ref == "T1")
            )
        ).all()
    }
    # "chien" is right in French, "dog" in English; the French reader of the fallback
    # answered "dog", which the French key does not accept
    assert scores[(uuid.UUID(french_id), "T1")] == (1.0, t1_version)
    assert scores[(uuid.UUID(english_id), "T1")] == (1.0, t1_version)
    assert scores[(uuid.UUID(other_id), "T1")] == (0.0, t1_version)

    # Statistics: one row per item, whatever language each candidate read
    analysis = await client.get(
        f"/api/v1/psychometrics/administrations/{administration['id']}/item-analysis",
        headers=world.headers,
    )
    assert analysis.status_code == 200, analysis.text
    body = analysis.json()
    assert body["test"]["persons"] == 3 and body["test"]["items"] == 3
    by_item = {i["item"]: i for i in body["items"]}
    assert sorted(by_item) == ["Q1", "Q2", "T1"]
    assert by_item["T1"]["facility"] == pytest.approx(2 / 3)
    assert by_item["Q1"]["facility"] == pytest.approx(2 / 3)
    # translations are never drawn on their own
    drawn = (
        await db_session.execute(
            select(Item.identifier)
            .join(AttemptItem, AttemptItem.item_id == Item.id)
            .where(AttemptItem.attempt_id == uuid.UUID(french_id))
        )
    ).scalars()
    assert sorted(drawn) == ["Q1", "Q2", "T1"]


async def test_a_bank_draw_never_picks_a_translation(
    client: httpx.AsyncClient, make: Factory
) -> None:
    world = await World(client, make).setup(tagged={"A1": []})
    await _publish(world, french_choice("A1"), translation_of=world.items["A1"])
    definition = world.definition(
        sections=[
            {
                "identifier": "drawn",
                "title": "Drawn",
                "selection": {"bank_id": world.bank_id, "count": 2},
            }
        ]
    )
    created = await client.post(
        "/api/v1/assessments",
        json={"slug": "draw", "definition": definition},
        headers=world.headers,
    )
    assert created.status_code == 201, created.text
    published = await client.post(
        f"/api/v1/assessments/{created.json()['assessment']['id']}/publish",
        headers=world.headers,
    )
    # the bank holds one item (and its translation): two cannot be drawn
    assert published.status_code == 422, published.text


async def test_scoring_a_whole_administration_applies_each_shown_variant(
    live_app: FastAPI, live_client: httpx.AsyncClient, live_make: Factory
) -> None:
    client = live_client
    world = await World(client, live_make).setup(tagged={"Q1": []})
    t1 = await _publish(
        world, text_entry_item("T1", lang="en", prompt=ENGLISH_PROMPT, answer="dog")
    )
    await _publish(
        world,
        text_entry_item("T1", lang="fr", prompt=FRENCH_PROMPT, answer="chien"),
        translation_of=t1,
    )
    definition = world.definition(
        sections=[{"identifier": "s", "title": "S", "items": [{"item_id": t1}]}],
        scoring={"release": "immediately"},
    )
    people = [await live_make.candidate(world.org, name=f"Cand {n}") for n in range(2)]
    administration, codes = await world.open_administration(
        slug="bulk", definition=definition, title="Now", candidate_ids=[p.id for p in people]
    )
    db = live_app.state.db
    sheets = {"fr": "chien", "en": "dog"}
    attempt_ids = []
    for code, (locale, answer) in zip(codes, sheets.items(), strict=True):
        attempt_id, headers = await begin(client, code)
        async with db.transaction() as session:
            await session.execute(
                update(Attempt).where(Attempt.id == uuid.UUID(attempt_id)).values(locale=locale)
            )
        await _view(client, attempt_id, headers)
        await _answer_and_submit(live_app, client, attempt_id, headers, {"T1": answer})
        attempt_ids.append(uuid.UUID(attempt_id))

    async def t1_scores() -> list[tuple[uuid.UUID, float | None]]:
        async with db.transaction(write=False) as session:
            rows = await session.execute(
                select(ItemScore.attempt_id, ItemScore.score)
                .where(ItemScore.attempt_id.in_(attempt_ids))
                .order_by(ItemScore.attempt_id)
            )
            return [(a, s) for a, s in rows.all()]

    one_by_one = await t1_scores()
    assert [s for _, s in one_by_one] == [1.0, 1.0]
    async with db.transaction() as session:
        await session.execute(
            delete(AttemptResult).where(AttemptResult.attempt_id.in_(attempt_ids))
        )
        await session.execute(
            update(Attempt).where(Attempt.id.in_(attempt_ids)).values(state="submitted")
        )
    scored = await scoring.score_administration(db, world.org.id, uuid.UUID(administration["id"]))
    assert scored == 2
    assert await t1_scores() == one_by_one


async def test_switching_language_shows_the_items_in_the_new_ones_variants(
    client: httpx.AsyncClient, make: Factory
) -> None:
    world = await World(client, make).setup(tagged={"Q1": []})
    t1 = await _publish(
        world, text_entry_item("T1", lang="en", prompt=ENGLISH_PROMPT, answer="dog")
    )
    await _publish(
        world,
        text_entry_item("T1", lang="fr", prompt=FRENCH_PROMPT, answer="chien"),
        translation_of=t1,
    )
    definition = world.definition(
        sections=[{"identifier": "s", "title": "S", "items": [{"item_id": t1}]}]
    )
    person = await make.candidate(world.org, name="Switcher")
    administration, codes = await world.open_administration(
        slug="switch", definition=definition, title="Now", candidate_ids=[person.id]
    )
    offered = await client.patch(
        f"/api/v1/administrations/{administration['id']}",
        json={"locale": "en", "locales": ["en", "fr"]},
        headers=world.headers,
    )
    assert offered.status_code == 200, offered.text
    attempt_id, headers = await begin(client, codes[0])
    view = await _view(client, attempt_id, headers)
    assert view.json()["locale"] == "en"
    assert ENGLISH_PROMPT in _shown(view)["T1"]["html"]
    switched = await client.put(
        f"/api/v1/attempts/{attempt_id}/locale", json={"locale": "fr"}, headers=headers
    )
    assert switched.status_code == 200, switched.text
    assert FRENCH_PROMPT in _shown(switched)["T1"]["html"]
    back = await client.put(
        f"/api/v1/attempts/{attempt_id}/locale", json={"locale": "en"}, headers=headers
    )
    assert ENGLISH_PROMPT in _shown(back)["T1"]["html"]


async def test_correcting_the_items_key_leaves_the_readers_of_a_translation_alone(
    app: FastAPI, client: httpx.AsyncClient, make: Factory, db_session: AsyncSession
) -> None:
    world = await World(client, make).setup(tagged={"Q1": []})
    t1 = await _publish(
        world, text_entry_item("T1", lang="en", prompt=ENGLISH_PROMPT, answer="dog")
    )
    await _publish(
        world,
        text_entry_item("T1", lang="fr", prompt=FRENCH_PROMPT, answer="chien"),
        translation_of=t1,
    )
    definition = world.definition(
        sections=[{"identifier": "s", "title": "S", "items": [{"item_id": t1}]}],
        scoring={"release": "immediately"},
    )
    people = [await make.candidate(world.org, name=f"Cand {n}") for n in range(2)]
    _, codes = await world.open_administration(
        slug="rescore", definition=definition, title="Now", candidate_ids=[p.id for p in people]
    )
    attempts = {}
    for code, (locale, answer) in zip(codes, (("en", "hound"), ("fr", "chien")), strict=True):
        attempt_id, headers = await begin(client, code)
        await _set_locale(db_session, attempt_id, locale)
        await _view(client, attempt_id, headers)
        await _answer_and_submit(app, client, attempt_id, headers, {"T1": answer})
        attempts[locale] = attempt_id
    # The English key should have been "hound": the English reader's score changes, the
    # French reader's (scored by the French key) does not
    fixed = await client.patch(
        f"/api/v1/items/{t1}",
        json={
            "source": {
                "format": "qti",
                "content": text_entry_item("T1", lang="en", prompt=ENGLISH_PROMPT, answer="hound"),
            }
        },
        headers=world.headers,
    )
    assert fixed.status_code == 200, fixed.text
    await client.post(f"/api/v1/items/{t1}/publish", headers=world.headers)
    report = await client.post(
        "/api/v1/rescore",
        json={"item_id": t1, "from_version": 1, "to_version": 2, "reason": "wrong key"},
        headers=world.headers,
    )
    assert report.status_code == 200, report.text
    changes = {c["attempt_id"]: c for c in report.json()["changes"]}
    assert list(changes) == [attempts["en"]]
    assert changes[attempts["en"]]["item_score"] == {"before": 0.0, "after": 1.0}
