"""The words the item renderer adds (the accessible names of blanks, the default button of
an end-attempt interaction) reach each candidate in the attempt's language, and the
rendered-item cache keeps one rendering per language."""

from __future__ import annotations

import uuid

import httpx
import pytest
from fastapi import FastAPI

from tests.support.exams import World
from tests.support.factories import Factory
from tests.support.items import QTI3
from waa_ads.core import i18n
from waa_ads.delivery import service as delivery_service

pytestmark = pytest.mark.asyncio

BLANKS = f"""<qti-assessment-item xmlns="{QTI3}" identifier="B1" title="Blanks"
    adaptive="false" time-dependent="false" xml:lang="en">
  <qti-response-declaration identifier="R1" cardinality="single" base-type="string">
    <qti-correct-response><qti-value>Paris</qti-value></qti-correct-response>
  </qti-response-declaration>
  <qti-response-declaration identifier="R2" cardinality="single" base-type="string">
    <qti-correct-response><qti-value>Rome</qti-value></qti-correct-response>
  </qti-response-declaration>
  <qti-outcome-declaration identifier="SCORE" cardinality="single" base-type="float"/>
  <qti-item-body>
    <p>The capital of France is <qti-text-entry-interaction response-identifier="R1"/>
       and that of Italy is <qti-text-entry-interaction response-identifier="R2"/>.</p>
  </qti-item-body>
</qti-assessment-item>"""


class Blanks:
    def __init__(self, world: World, version_id: uuid.UUID, codes: list[str]) -> None:
        self.world = world
        self.version_id = version_id
        self.codes = codes


async def _world(client: httpx.AsyncClient, make: Factory) -> Blanks:
    """An administration of the one item :data:`BLANKS`, in English or French, without
    shuffling (every attempt's rendering then has the same seed, none)."""
    world = await World(client, make).setup(tagged={})
    created = await client.post(
        f"/api/v1/banks/{world.bank_id}/items",
        json={"source": {"format": "qti", "content": BLANKS}},
        headers=world.headers,
    )
    assert created.status_code == 201, created.text
    item_id = created.json()["item"]["id"]
    published = await client.post(f"/api/v1/items/{item_id}/publish", headers=world.headers)
    assert published.status_code == 200, published.text
    people = [await make.candidate(world.org, name=f"Cand {n}") for n in range(2)]
    administration, codes = await world.open_administration(
        slug="blanks",
        definition=world.definition(
            sections=[{"identifier": "s", "title": "S", "items": [{"item_id": item_id}]}],
            shuffle_choices=False,
        ),
        title="Now",
        candidate_ids=[p.id for p in people],
    )
    changed = await client.patch(
        f"/api/v1/administrations/{administration['id']}",
        json={"locale": "en", "locales": ["fr"]},
        headers=world.headers,
    )
    assert changed.status_code == 200, changed.text
    return Blanks(world, uuid.UUID(published.json()["version"]["id"]), codes)


async def _start(client: httpx.AsyncClient, code: str, language: str) -> tuple[str, dict[str, str]]:
    started = await client.post(
        "/api/v1/attempts", json={"access_code": code}, headers={"Accept-Language": language}
    )
    assert started.status_code in (200, 201), started.text
    body = started.json()
    assert body["locale"] == language
    return body["attempt"]["id"], {"X-Attempt-Token": body["credential"]}


async def _html(client: httpx.AsyncClient, attempt_id: str, token: dict[str, str]) -> str:
    view = await client.get(f"/api/v1/attempts/{attempt_id}", headers=token)
    assert view.status_code == 200, view.text
    (item,) = view.json()["items"]
    html: str = item["item"]["html"]
    return html


async def test_a_cached_english_rendering_never_reaches_a_french_candidate(
    client: httpx.AsyncClient, make: Factory
) -> None:
    codes = (await _world(client, make)).codes
    # The English candidate renders the item first (and fills the cache).
    english_id, english_token = await _start(client, codes[0], "en")
    english = await _html(client, english_id, english_token)
    assert 'aria-label="Blank 1"' in english and 'aria-label="Blank 2"' in english

    # The French candidate gets the same item version with the same (absent) seed.
    french_id, french_token = await _start(client, codes[1], "fr")
    french = await _html(client, french_id, french_token)
    assert 'aria-label="Trou 1"' in french and 'aria-label="Trou 2"' in french
    assert "Blank" not in french
    # The item's own text is the author's.
    assert "The capital of France is" in french

    # And the English candidate, served from the cache again, is still in English.
    assert await _html(client, english_id, english_token) == english


async def test_switching_the_attempts_language_switches_the_labels(
    client: httpx.AsyncClient, make: Factory
) -> None:
    codes = (await _world(client, make)).codes
    attempt_id, token = await _start(client, codes[0], "en")
    assert 'aria-label="Blank 1"' in await _html(client, attempt_id, token)
    url = f"/api/v1/attempts/{attempt_id}/locale"
    switched = await client.put(url, json={"locale": "fr"}, headers=token)
    assert switched.status_code == 200, switched.text
    assert 'aria-label="Trou 1"' in switched.json()["items"][0]["item"]["html"]
    assert 'aria-label="Trou 1"' in await _html(client, attempt_id, token)
    # The request's own language (the browser's) does not decide: the attempt's does.
    view = await client.get(
        f"/api/v1/attempts/{attempt_id}", headers={**token, "Accept-Language": "en"}
    )
    assert 'aria-label="Trou 1"' in view.json()["items"][0]["item"]["html"]
    await client.put(url, json={"locale": "en"}, headers=token)
    assert 'aria-label="Blank 1"' in await _html(client, attempt_id, token)


async def test_the_cache_keeps_one_rendering_per_language(
    app: FastAPI, client: httpx.AsyncClient, make: Factory
) -> None:
    version_id = (await _world(client, make)).version_id
    settings = app.state.settings
    async with app.state.db.transaction(write=False) as session:
        english = await delivery_service.candidate_item(
            session, settings, version_id, None, locale="en"
        )
        french = await delivery_service.candidate_item(
            session, settings, version_id, None, locale="fr"
        )
        again = await delivery_service.candidate_item(
            session, settings, version_id, None, locale="en"
        )
        # Without a language, the locale in force (a rater's, a staff preview's).
        with i18n.use_locale("fr"):
            in_force = await delivery_service.candidate_item(session, settings, version_id, None)
    assert "Blank 1" in english.html and "Trou 1" in french.html
    assert again is english, "the English rendering is remembered"
    assert in_force is french
