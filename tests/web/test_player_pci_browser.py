"""A portable custom interaction in the player, in Chromium: the tests' own Likert scale
(tests/fixtures/pci/likert.js), imported in a QTI 3.0 package with its module, runs in a
sandboxed frame of the player's origin. The candidate answers one question by keyboard and
one by pointer; each answer autosaves, the first comes back after a reload (the PCI's state
given back), and the test is scored by the items' response processing. axe on the
question, screenshots in ``test-artifacts/screenshots/``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.browser import check_axe, checked_page, shot
from tests.support.pci_items import LIKERT_JS, likert_item
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
from waa_ads.content.interchange.qti.package import build_package

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CANDIDATES = {"Lia Likert": "pci-likert"}


def _prepare(data_dir: Path) -> dict[str, str]:
    """The demo, a bank with two Likert questions (both keyed 4) from one package, a
    published assessment of the two released at once, open with its candidate."""

    async def build(demo: Demo) -> dict[str, str]:
        from sqlalchemy import select

        from waa_ads.content import schemas as c_schemas
        from waa_ads.content import service as c_service
        from waa_ads.content import transfer
        from waa_ads.content.models import Item

        data = build_package(
            [(i, likert_item(i).encode()) for i in ("PCI-1", "PCI-2")],
            {"media/likert.js": LIKERT_JS},
        )
        async with demo.db.transaction() as session:
            principal = await demo_principal(session)
            bank = await c_service.create_bank(
                session, principal, c_schemas.BankCreate(slug="scales", name="Scales")
            )
            candidates = transfer.candidates_from_bytes("likert.zip", data)
            report = await transfer.import_items(
                session, demo.blobs, principal, bank.id, candidates, publish=True
            )
            assert {o.status for o in report.outcomes} == {"imported"}, report
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
                    "title": "How sure are you",
                    "sections": [
                        {
                            "identifier": "s",
                            "title": "Scales",
                            "items": [{"item_id": str(ids[i])} for i in ("PCI-1", "PCI-2")],
                        }
                    ],
                    "time_limit_s": 1800,
                    "scoring": {"release": "immediately"},
                },
                slug="likert",
                title="How sure are you",
            )
        return await add_candidates(demo, administration_id, CANDIDATES)

    return prepare_demo(data_dir, build)


#: (the server's URL, the access codes by candidate).
server = server_fixture("player-pci", _prepare)


def _frame(page: Any) -> Any:
    return page.frame_locator("#item-form iframe.waa-pci-frame")


def _wait_saved(page: Any) -> None:
    from playwright.sync_api import expect

    expect(page.locator("#save-state")).to_have_text("Saved", timeout=10_000)


def test_a_candidate_answers_the_pci_by_keyboard_and_pointer_and_it_is_scored(
    server: tuple[str, dict[str, str]], browser: Any
) -> None:
    from playwright.sync_api import expect

    url, codes = server
    with checked_page(browser) as page:
        start_attempt(page, url, codes["Lia Likert"], heading="Question 1 of 2")
        frame_element = page.locator("#item-form iframe.waa-pci-frame")
        expect(frame_element).to_have_attribute("sandbox", "allow-scripts")
        expect(frame_element).to_have_attribute("src", "/player/pci-frame")
        # Named by the question before it, and reachable with the keyboard.
        expect(frame_element).to_have_accessible_name(
            "How sure are you that the tide turns twice a day?"
        )
        frame = _frame(page)
        scale = frame.get_by_role("radiogroup", name="How sure are you")
        expect(scale.get_by_role("radio")).to_have_count(5)
        # The frame cannot reach the player: its origin is opaque.
        reached = frame.locator("body").evaluate(
            "() => { try { return String(window.parent.document.title); }"
            " catch (e) { return 'blocked'; } }"
        )
        assert reached == "blocked"

        # Keyboard: Tab into the frame, choose 1, then the arrow keys move to 4.
        frame_element.focus()
        page.keyboard.press("Tab")
        expect(scale.get_by_role("radio", name="1 (not sure)")).to_be_focused()
        page.keyboard.press("Space")
        for _ in range(3):
            page.keyboard.press("ArrowRight")
        expect(scale.get_by_role("radio", name="4", exact=True)).to_be_checked()
        _wait_saved(page)
        check_axe(page, "pci: question 1 answered")
        shot(page, "pci-01-keyboard")

        # The PCI's state is kept in the tab (getState), and a reload gives it back.
        states = page.evaluate(
            "() => Object.keys(sessionStorage).filter(k => k.startsWith('waa-pci-state:'))"
            ".map(k => sessionStorage.getItem(k))"
        )
        assert states == ['{"level":4}']
        page.reload()
        expect(page.locator("#item-heading")).to_have_text("Question 1 of 2")
        expect(_frame(page).get_by_role("radio", name="4", exact=True)).to_be_checked()

        # Pointer: question 2, a click on the second point.
        press(page, "Next")
        expect(page.locator("#item-heading")).to_have_text("Question 2 of 2")
        _frame(page).get_by_text("2", exact=True).click()
        expect(_frame(page).get_by_role("radio", name="2", exact=True)).to_be_checked()
        _wait_saved(page)
        shot(page, "pci-02-pointer")

        # Back to question 1: its answer is still there.
        press(page, "Previous")
        expect(page.locator("#item-heading")).to_have_text("Question 1 of 2")
        expect(_frame(page).get_by_role("radio", name="4", exact=True)).to_be_checked()

        session = page.evaluate(
            "() => JSON.parse(sessionStorage.getItem('waa-player:session') || 'null')"
        )
        assert session
        page.get_by_role("button", name="Submit the test").click()
        page.get_by_role("dialog", name="Submit the test?").get_by_role(
            "button", name="Submit now"
        ).click()
        # Question 1 keyed 4 and answered 4, question 2 answered 2.
        expect(page.locator("#result")).to_contain_text("Score1 out of 2", timeout=15_000)
        shot(page, "pci-03-scored")
        headers = {"X-Attempt-Token": session["credential"]}
        result = httpx.get(f"{url}/api/v1/attempts/{session['attemptId']}/result", headers=headers)
        assert result.json()["raw"] == 1
