"""The console in French and right to left, in a real browser: the language chosen with the
switcher by keyboard, the content pages walked in French with no English sentence of the
catalogue left on screen, and the frame mirrored in the ar-XB pseudo-locale; axe on every
page and screenshots (console-language-*.png)."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import pytest
from babel.messages.pofile import read_po
from playwright.sync_api import expect

from tests.support.browser import check_axe, checked_page, shot
from tests.web.console.conftest import Site, new_staff, sign_in
from waa_ads.core.catalogues import LOCALES

pytestmark = [pytest.mark.browser, pytest.mark.slow]

_PLACEHOLDER = re.compile(r"%\([a-z_]+\)[sd]|\{[a-z_]+\}|<[^>]+>")


@cache
def english_sentences() -> frozenset[str]:
    """The console catalogue's English sentences that French changes (two words or more,
    without placeholders or markup): none of them may be on a page shown in French."""
    with (
        open(LOCALES / "console.pot", "rb") as pot,
        open(LOCALES / "fr" / "LC_MESSAGES" / "console.po", "rb") as po,
    ):
        template = read_po(pot)
        french = read_po(po, locale="fr")
    found: set[str] = set()
    for message in template:
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        translated = french.get(message.id, context=message.context)
        raw = translated.string if translated is not None else ""
        strings = {str(s) for s in raw} if isinstance(raw, tuple) else {str(raw)}
        for english in (str(i) for i in ids):
            if not english or _PLACEHOLDER.search(english) or len(english.split()) < 2:
                continue
            if english not in strings:
                found.add(english)
    return frozenset(found)


def _english_left(page: Any) -> list[str]:
    text = " ".join(page.locator("body").inner_text().split())
    return sorted(sentence for sentence in english_sentences() if sentence in text)


def _switch_to_french_by_keyboard(page: Any) -> None:
    """Tab to the switcher at the foot of the page, choose Français, press its button."""
    page.locator("body").focus()
    for _ in range(200):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "language-choice":
            break
    else:
        raise AssertionError("the language switcher cannot be reached with Tab")
    page.keyboard.press("ArrowDown")
    assert page.evaluate("document.activeElement.value") == "fr"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Change language"
    page.keyboard.press("Enter")
    expect(page.locator("html")).to_have_attribute("lang", "fr")


def _walk(page: Any, name: str, h1: str) -> None:
    expect(page.get_by_role("heading", level=1)).to_have_text(h1)
    assert page.evaluate("document.documentElement.lang") == "fr"
    assert page.evaluate("document.documentElement.dir") == "ltr"
    assert _english_left(page) == [], name
    check_axe(page, f"console in French: {name}")
    shot(page, f"console-language-{name}")


def test_the_content_pages_in_french_chosen_with_the_switcher(site: Site, browser: Any) -> None:
    # The switcher saves the reader's language: an administrator of this test's own, so the
    # demo administrator the other tests sign in as keeps hers.
    with checked_page(browser) as page:
        sign_in(page, site.one, new_staff(site, ["admin"]))
        _switch_to_french_by_keyboard(page)
        assert page.url.rstrip("/") == f"{site.one}/console"
        nav = page.get_by_role("navigation", name="Rubriques de la console")
        expect(nav.locator("summary", has_text="Contenu")).to_be_visible()
        expect(page.get_by_role("button", name="Se déconnecter")).to_be_visible()
        expect(page.get_by_label("Langue")).to_have_value("fr")
        _walk(page, "01-start", "Demo Academy")

        # The menus in French, by keyboard.
        nav.locator("summary", has_text="Contenu").click()
        expect(nav.get_by_role("link", name="Banque d'items", exact=True)).to_be_visible()
        expect(nav.get_by_role("link", name="Évaluations", exact=True)).to_be_visible()
        page.keyboard.press("Escape")

        page.goto(f"{site.one}/console/banks")
        _walk(page, "02-banks", "Banques d'items")
        expect(page.get_by_role("columnheader", name="Nom")).to_be_visible()
        expect(page.get_by_role("button", name="Créer la banque")).to_be_visible()
        caption = page.locator("table caption").first.inner_text()
        assert re.fullmatch(r"\d+ banques?", caption), caption

        page.locator("tbody th a").first.click()
        page.wait_for_url(re.compile(r".*/console/banks/[0-9a-f-]+$"))
        expect(page.get_by_role("heading", name="Items", exact=True)).to_be_visible()
        expect(page.get_by_role("link", name="Nouvel item")).to_be_visible()
        page.locator("table tbody th a").first.click()
        page.wait_for_url(re.compile(r".*/items/[0-9a-f-]+$"))
        title = page.get_by_role("heading", level=1).inner_text()
        _walk(page, "03-item", title)
        expect(page.get_by_role("heading", name="Circuit de validation")).to_be_visible()
        expect(page.get_by_role("heading", name="Versions")).to_be_visible()
        expect(page.get_by_role("button", name="Noter cette réponse")).to_be_visible()
        facts = page.locator("dl.facts").inner_text()
        assert "Identifiant" in facts and "Mis à jour" in facts, facts

        page.goto(f"{site.one}/console/assessments")
        expect(page.get_by_role("heading", level=1)).to_have_text("Évaluations")
        assert _english_left(page) == []
        page.locator("tbody th a").first.click()
        page.wait_for_url(re.compile(r".*/console/assessments/[0-9a-f-]+$"))
        title = page.get_by_role("heading", level=1).inner_text()
        _walk(page, "04-builder", title)
        expect(page.get_by_role("heading", name="Sections", exact=True)).to_be_visible()
        expect(
            page.get_by_role("heading", name="Navigation, durée, tentatives et score")
        ).to_be_visible()
        expect(page.get_by_role("button", name="Enregistrer les paramètres")).to_be_visible()
        # The pool of a new rule is counted in French by the page's script.
        pool = page.locator("#add-rule ~ form [data-pool-output]")
        expect(pool).to_contain_text("Vivier\u00a0:")


def test_the_frame_mirrors_right_to_left(site: Site, browser: Any) -> None:
    with checked_page(browser) as page:
        sign_in(page, site.one, site.admin)
        page.context.add_cookies([{"name": "waa_lang", "value": "ar-XB", "url": site.one}])
        for name, path in (("05-rtl-start", "/console"), ("06-rtl-banks", "/console/banks")):
            page.goto(f"{site.one}{path}")
            assert page.evaluate("document.documentElement.dir") == "rtl"
            assert page.evaluate("document.documentElement.lang") == "ar-XB"
            # The switcher says which language the page is in, and still offers the others.
            assert page.locator("#language-choice").input_value() == "ar-XB"
            assert page.locator("#language-choice option").all_inner_texts()[:2] == [
                "English",
                "Français",
            ]
            width = page.viewport_size["width"]
            brand = page.locator(".site-header .brand").bounding_box()
            account = page.locator(".site-header .account").bounding_box()
            assert brand is not None and account is not None
            # Mirrored: the brand at the right edge, the account at the left.
            assert brand["x"] + brand["width"] > width - 40, brand
            assert account["x"] < 40, account
            heading = page.get_by_role("heading", level=1).bounding_box()
            assert heading is not None and heading["x"] + heading["width"] > width - 60
            direction = page.evaluate("getComputedStyle(document.querySelector('main')).direction")
            assert direction == "rtl"
            check_axe(page, f"console right to left: {path}")
            shot(page, f"console-language-{name}")
        # Table cells start at the right.
        align = page.evaluate("getComputedStyle(document.querySelector('tbody th')).textAlign")
        assert align == "start"
        cell = page.locator("tbody th").first.bounding_box()
        link = page.locator("tbody th a").first.bounding_box()
        assert cell is not None and link is not None
        assert link["x"] + link["width"] > cell["x"] + cell["width"] - 20
