"""Glossary terms in the player, in Chromium: a question whose text refers to an
accessibility catalog shows the term as a button; Enter opens its card (the definition,
and in a French attempt the French translation too), Escape closes it and focus stays on
the term, Space and a click open it again, only one card is open at a time, and answering
works as ever. Keyboard first, axe on every state. Screenshots go to
``test-artifacts/screenshots/``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.browser import check_axe, shot
from tests.support.player_browser import (
    Demo,
    add_candidates,
    demo_principal,
    prepare_demo,
    publish_and_open,
    server_fixture,
    set_candidate_locales,
    start_attempt,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ITEM = Path(__file__).parents[1] / "fixtures" / "items" / "catalog" / "glossary.v3p0.xml"
DEFINITION = "The regular rise and fall of the level of the sea."
#: Candidates: name -> (external id, language).
CANDIDATES = {"Gil Glossary": ("glossary-en", None), "Flo French": ("glossary-fr", "fr")}


def _prepare(data_dir: Path) -> dict[str, str]:
    """The demo, a bank with the glossary item, a published one-question assessment of it
    open in English and French, and the candidates above; the access codes by name."""

    async def build(demo: Demo) -> dict[str, str]:
        from waa_ads.content import schemas as c_schemas
        from waa_ads.content import service as c_service
        from waa_ads.content.sources import parse_source

        async with demo.db.transaction() as session:
            principal = await demo_principal(session)
            bank = await c_service.create_bank(
                session, principal, c_schemas.BankCreate(slug="glossary", name="Glossary")
            )
            source = c_schemas.ItemSource(format="qti", content=ITEM.read_text("utf-8"))
            ((item, _),) = await c_service.create_items(
                session,
                principal,
                bank.id,
                [c_service.NewItem(parse_source(source), c_schemas.ItemMetadata())],
                publish=True,
            )
            administration_id = await publish_and_open(
                session,
                principal,
                {
                    "title": "Tides",
                    "sections": [
                        {"identifier": "s", "title": "Tides", "items": [{"item_id": str(item.id)}]}
                    ],
                    "time_limit_s": 1800,
                },
                slug="tides",
                title="Tides",
                locales=["fr"],
            )
        codes = await add_candidates(
            demo,
            administration_id,
            {name: external_id for name, (external_id, _) in CANDIDATES.items()},
        )
        await set_candidate_locales(demo, dict(CANDIDATES.values()))
        return codes

    return prepare_demo(data_dir, build)


#: (the server's URL, the access codes by candidate).
server = server_fixture("player-glossary", _prepare)


def start(page: Any, url: str, code: str, lang: str) -> None:
    """Open the player in ``lang``, enter the code and start: the question on screen."""
    from playwright.sync_api import expect

    start_attempt(page, url, code, lang=lang)
    expect(page.locator("#item-heading")).to_contain_text("1")


def test_a_glossary_term_opens_by_keyboard_and_pointer(
    page: Any, server: tuple[str, dict[str, str]]
) -> None:
    from playwright.sync_api import expect

    url, codes = server
    start(page, url, codes["Gil Glossary"], "en")
    form = page.locator("#item-form")
    terms = form.get_by_role("button", name="tides (word help)")
    expect(terms).to_have_count(2)  # in the passage and in the question
    term = terms.first
    card = page.locator(f"#{term.get_attribute('aria-controls')}")
    expect(term).to_have_attribute("aria-expanded", "false")
    expect(card).to_be_hidden()
    check_axe(page, "question with glossary terms")

    term.focus()
    page.keyboard.press("Enter")
    expect(term).to_have_attribute("aria-expanded", "true")
    expect(card).to_be_visible()
    expect(card).to_have_text(f"Definition: {DEFINITION}")
    expect(card).not_to_contain_text("marées")
    expect(term).to_be_focused()
    check_axe(page, "glossary card open")
    shot(page, "player-glossary-open")

    page.keyboard.press("Escape")
    expect(term).to_have_attribute("aria-expanded", "false")
    expect(card).to_be_hidden()
    expect(term).to_be_focused()

    page.keyboard.press("Space")
    expect(card).to_be_visible()
    # One card at a time: the pointer opens the question's term, the passage's closes.
    second = terms.nth(1)
    second.click()
    expect(second).to_have_attribute("aria-expanded", "true")
    expect(page.locator(f"#{second.get_attribute('aria-controls')}")).to_be_visible()
    expect(card).to_be_hidden()
    second.click()
    expect(second).to_have_attribute("aria-expanded", "false")

    # Answering is unchanged: the term in the legend is no answer.
    option = form.get_by_role("radio", name="The pull of the Moon")
    option.focus()
    page.keyboard.press("Space")
    expect(option).to_be_checked()
    expect(page.locator("#save-state")).to_have_text("Saved", timeout=10_000)


def test_a_french_attempt_shows_the_french_translation(
    page: Any, server: tuple[str, dict[str, str]]
) -> None:
    from playwright.sync_api import expect

    url, codes = server
    start(page, url, codes["Flo French"], "fr")
    term = page.locator("#item-form").get_by_role("button", name="tides (aide sur le mot)").first
    card = page.locator(f"#{term.get_attribute('aria-controls')}")
    term.focus()
    page.keyboard.press("Enter")
    expect(card).to_be_visible()
    expect(card).to_contain_text(f"Définition : {DEFINITION}")
    expect(card).to_contain_text("Traduction : les marées")
    translation = card.locator("[data-support=keyword-translation]")
    expect(translation).to_have_attribute("lang", "fr")
    expect(translation).to_have_text("Traduction : les marées")
    expect(card).not_to_contain_text("mareas")
    check_axe(page, "glossary card open (fr)")
    shot(page, "player-glossary-open-fr")
    page.keyboard.press("Escape")
    expect(card).to_be_hidden()
    expect(term).to_be_focused()
