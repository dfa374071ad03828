"""Shared stimuli in the player, in Chromium: two questions about one passage (imported in a
QTI 3.0 package with it) and a third without. The passage shows beside the question as a
region named by its title, with its picture and nothing the sanitizer removed; moving to
the next question about it keeps it as it was (not rendered again, where the candidate
scrolled it to) and focus goes to the question itself, so a screen reader reads the passage
once for the two; a question without it has the whole width. On a narrow screen the
passage comes above the question. Keyboard only, axe on every state, screenshots in
``test-artifacts/screenshots/``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.browser import check_axe, checked_page, shot
from tests.support.items import choice_item
from tests.support.player_browser import (
    Demo,
    add_candidates,
    demo_principal,
    prepare_demo,
    press,
    publish_and_open,
    server_fixture,
    start_attempt,
)
from tests.support.stimuli import PASSAGE_SENTENCE, PASSAGE_TITLE, stimulus_package

pytestmark = [pytest.mark.browser, pytest.mark.slow]

#: The heading of the first question, once an attempt has started.
FIRST = "Question 1 of 3"

CANDIDATES = {"Sam Stimulus": "stim-wide", "Nia Narrow": "stim-narrow"}


def _prepare(data_dir: Path) -> dict[str, str]:
    """The demo, a bank holding the tide package (TIDE-1 and TIDE-2 about one passage) and
    a plain choice item, a published assessment of the three in that order, open with its
    candidates; the access codes by candidate."""

    async def build(demo: Demo) -> dict[str, str]:
        from sqlalchemy import select

        from waa_ads.content import schemas as c_schemas
        from waa_ads.content import service as c_service
        from waa_ads.content import transfer
        from waa_ads.content.models import Item

        async with demo.db.transaction() as session:
            principal = await demo_principal(session)
            bank = await c_service.create_bank(
                session, principal, c_schemas.BankCreate(slug="reading", name="Reading")
            )
            candidates = transfer.candidates_from_bytes(
                "tide.zip", stimulus_package("TIDE-1", "TIDE-2")
            )
            candidates += transfer.candidates_from_bytes(
                "LAST.xml", choice_item("LAST", "Last", prompt="A question on its own").encode()
            )
            await transfer.import_items(
                session, demo.blobs, principal, bank.id, candidates, publish=True
            )
            ids = dict(
                (
                    await session.execute(
                        select(Item.identifier, Item.id).where(Item.bank_id == bank.id)
                    )
                ).all()
            )
            administration_id = await publish_and_open(
                session,
                principal,
                {
                    "title": "The tide pool",
                    "sections": [
                        {
                            "identifier": "s",
                            "title": "Reading",
                            "items": [
                                {"item_id": str(ids[i])} for i in ("TIDE-1", "TIDE-2", "LAST")
                            ],
                        }
                    ],
                    "time_limit_s": 1800,
                },
                slug="tide-pool",
                title="The tide pool",
            )
        return await add_candidates(demo, administration_id, CANDIDATES)

    return prepare_demo(data_dir, build)


#: (the server's URL, the access codes by candidate).
server = server_fixture("player-stimulus", _prepare)


def passage_region(page: Any) -> Any:
    return page.get_by_role("region", name=PASSAGE_TITLE)


def assert_passage_shown(page: Any) -> None:
    """The passage as a region named by its title: its text, its picture loaded, nothing
    the sanitizer removed."""
    from playwright.sync_api import expect

    region = passage_region(page)
    expect(region).to_be_visible()
    expect(region.get_by_role("heading", name=PASSAGE_TITLE)).to_be_visible()
    expect(region).to_contain_text(PASSAGE_SENTENCE)
    picture = region.get_by_role("img", name="A rock pool with a crab")
    expect(picture).to_be_visible()
    # Loaded (waited for: visible comes before the bytes have arrived on a busy machine).
    page.wait_for_function(
        "(img) => img.complete && img.naturalWidth > 0", arg=picture.element_handle()
    )
    assert "/api/v1/media/signed/" in (picture.get_attribute("src") or "")
    html = page.locator("#item-stimuli").inner_html()
    assert "<script" not in html and "onclick" not in html


def test_the_passage_shows_beside_its_questions_and_is_read_once_for_them(
    server: tuple[str, dict[str, str]], browser: Any
) -> None:
    from playwright.sync_api import expect

    url, codes = server
    with checked_page(browser) as page:
        start_attempt(page, url, codes["Sam Stimulus"], heading=FIRST)
        assert_passage_shown(page)
        # Beside the question: to its left, level with it.
        region = passage_region(page).bounding_box()
        question = page.locator("#item-form").bounding_box()
        assert region["x"] + region["width"] <= question["x"]
        assert abs(region["y"] - question["y"]) < 5
        check_axe(page, "stimulus: question 1")
        shot(page, "stimulus-01-beside-question-1")

        # The candidate scrolls the passage (keyboard: it takes focus), answers, goes on.
        page.set_viewport_size({"width": 1280, "height": 520})
        passage_region(page).focus()
        page.keyboard.press("End")
        page.wait_for_function(
            "() => { const e = document.querySelector('#item-stimuli .stimulus');"
            " return e.scrollTop > 0 && e.scrollTop + e.clientHeight >= e.scrollHeight - 1; }"
        )
        # End scrolls smoothly: read the position once it has stopped moving.
        scrolled = passage_region(page).evaluate(
            """e => new Promise(done => {
                let last = -1;
                const tick = () => {
                    if (e.scrollTop === last) { done(e.scrollTop); return; }
                    last = e.scrollTop;
                    setTimeout(tick, 150);
                };
                tick();
            })"""
        )
        passage_region(page).evaluate("e => { e.dataset.marker = 'first'; }")
        option = page.locator("#item-form").get_by_role("radio", name="A pool full of life")
        option.focus()
        page.keyboard.press("Space")
        expect(page.locator("#save-state")).to_have_text("Saved", timeout=10_000)
        press(page, "Next")

        # Question 2 is about the same passage: it stays as it was, focus goes to the question.
        expect(page.locator("#item-heading")).to_have_text("Question 2 of 3")
        expect(page.locator("#item-form")).to_be_focused()
        expect(page.locator("#item-form")).to_contain_text("Question TIDE-2")
        assert passage_region(page).evaluate("e => e.dataset.marker") == "first"
        assert passage_region(page).evaluate("e => e.scrollTop") == scrolled
        page.set_viewport_size({"width": 1280, "height": 900})
        assert_passage_shown(page)
        check_axe(page, "stimulus: question 2, the same passage")
        shot(page, "stimulus-02-same-passage-question-2")

        # Question 3 has none: the question has the whole width, its heading takes focus.
        press(page, "Next")
        expect(page.locator("#item-heading")).to_have_text("Question 3 of 3")
        expect(page.locator("#item-heading")).to_be_focused()
        expect(page.locator("#item-stimuli")).to_be_hidden()
        expect(page.locator(".item-area.has-stimulus")).to_have_count(0)
        check_axe(page, "stimulus: question 3 without one")

        # Back to question 2: the passage comes back, read from the top with its question.
        press(page, "Previous")
        expect(page.locator("#item-heading")).to_have_text("Question 2 of 3")
        expect(page.locator("#item-heading")).to_be_focused()
        assert_passage_shown(page)
        assert passage_region(page).evaluate("e => e.dataset.marker") is None


def test_on_a_narrow_screen_the_passage_comes_above_the_question(
    server: tuple[str, dict[str, str]], browser: Any
) -> None:
    from playwright.sync_api import expect

    url, codes = server
    with checked_page(browser) as page:
        page.set_viewport_size({"width": 390, "height": 844})
        start_attempt(page, url, codes["Nia Narrow"], heading=FIRST)
        assert_passage_shown(page)
        region = passage_region(page).bounding_box()
        question = page.locator("#item-form").bounding_box()
        assert region["y"] + region["height"] <= question["y"]
        expect(page.locator("#item-form")).to_contain_text("Question TIDE-1")
        check_axe(page, "stimulus: narrow screen")
        shot(page, "stimulus-03-narrow")
