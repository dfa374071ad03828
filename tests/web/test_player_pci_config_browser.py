"""A portable custom interaction given more than its modules, in Chromium: the tests'
Likert scale (tests/fixtures/pci/likert.js) in a cloned item whose module path comes from
the package's module configuration file (the primary one missing, the fallback one
there), whose number of points is a template variable drawn per candidate and given to
the PCI (``templateVariables``), with a context variable and a style sheet of its own.
The frame gets the drawn value, the context value and its style sheet, never the correct
response; the candidate answers the point before the last (the key the template computed
from the drawn number) and scores 1.
axe on the question, screenshots in ``test-artifacts/screenshots/``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.browser import check_axe, checked_page, shot
from tests.support.pci_items import LIKERT_JS, likert_item
from tests.support.player_browser import (
    Demo,
    add_candidates,
    demo_principal,
    prepare_demo,
    publish_and_open,
    server_fixture,
    start_attempt,
)
from waa_ads.content.interchange.qti.package import build_package

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CANDIDATES = {"Tam Template": "pci-template"}
LIKERT_CSS = b".likert-host { border: 4px solid rgb(0, 90, 160); padding: 8px; }\n"
CONFIGURATION = json.dumps({"paths": {"likert": "../media/likert"}}).encode()


def cloned_item(identifier: str = "PCI-DRAWN") -> str:
    """The Likert item as a cloned item: LEVELS drawn from 6 to 9, the key LEVELS - 1 (a
    variable that is the key as it is is never given to a PCI)."""
    xml = likert_item(identifier, correct=5)
    xml = xml.replace(
        "  <qti-item-body>",
        """  <qti-context-declaration identifier="REGION" cardinality="single" base-type="identifier">
    <qti-default-value><qti-value>coast</qti-value></qti-default-value>
  </qti-context-declaration>
  <qti-template-declaration identifier="LEVELS" cardinality="single" base-type="integer">
    <qti-default-value><qti-value>5</qti-value></qti-default-value>
  </qti-template-declaration>
  <qti-template-processing>
    <qti-set-template-value identifier="LEVELS"><qti-random-integer min="6" max="9"/></qti-set-template-value>
    <qti-set-correct-response identifier="RESPONSE"><qti-subtract><qti-variable identifier="LEVELS"/><qti-base-value base-type="integer">1</qti-base-value></qti-subtract></qti-set-correct-response>
  </qti-template-processing>
  <qti-item-body>""",
        1,
    )
    return xml.replace(
        '<qti-interaction-modules>\n        <qti-interaction-module id="likert" '
        'primary-path="../media/likert.js"/>\n      </qti-interaction-modules>',
        '<qti-interaction-modules primary-configuration="modules/gone.json" '
        'fallback-configuration="../media/config.json">\n'
        '        <qti-interaction-module id="likert"/>\n      </qti-interaction-modules>\n'
        '      <qti-context-variable identifier="REGION"/>\n'
        '      <qti-template-variable template-identifier="LEVELS" pci-identifier="levels"/>\n'
        '      <qti-stylesheet href="../media/likert.css" type="text/css"/>',
        1,
    )


def _prepare(data_dir: Path) -> dict[str, str]:
    """The demo, a bank with the cloned Likert item, a published one-question assessment
    released at once, open with its candidate."""

    async def build(demo: Demo) -> dict[str, str]:
        from sqlalchemy import select

        from waa_ads.content import schemas as c_schemas
        from waa_ads.content import service as c_service
        from waa_ads.content import transfer
        from waa_ads.content.models import Item

        data = build_package(
            [("PCI-DRAWN", cloned_item().encode())],
            {
                "media/likert.js": LIKERT_JS,
                "media/likert.css": LIKERT_CSS,
                "media/config.json": CONFIGURATION,
            },
        )
        async with demo.db.transaction() as session:
            principal = await demo_principal(session)
            bank = await c_service.create_bank(
                session, principal, c_schemas.BankCreate(slug="drawn", name="Drawn scales")
            )
            candidates = transfer.candidates_from_bytes("drawn.zip", data)
            report = await transfer.import_items(
                session, demo.blobs, principal, bank.id, candidates, publish=True
            )
            assert {o.status for o in report.outcomes} == {"imported"}, report
            item_id = (
                await session.execute(select(Item.id).where(Item.bank_id == bank.id))
            ).scalar_one()
            administration_id = await publish_and_open(
                session,
                principal,
                {
                    "title": "A drawn scale",
                    "sections": [
                        {"identifier": "s", "title": "Scale", "items": [{"item_id": str(item_id)}]}
                    ],
                    "time_limit_s": 1800,
                    "scoring": {"release": "immediately"},
                },
                slug="drawn-scale",
                title="A drawn scale",
            )
        return await add_candidates(demo, administration_id, CANDIDATES)

    return prepare_demo(data_dir, build)


#: (the server's URL, the access codes by candidate).
server = server_fixture("player-pci-config", _prepare)


def test_the_pci_gets_its_drawn_values_and_style_sheet_but_no_key(
    server: tuple[str, dict[str, str]], browser: Any
) -> None:
    from playwright.sync_api import expect

    url, codes = server
    with checked_page(browser) as page:
        start_attempt(page, url, codes["Tam Template"], heading="Question 1 of 1")
        frame = page.frame_locator("#item-form iframe.waa-pci-frame")
        scale = frame.get_by_role("radiogroup", name="How sure are you")
        expect(scale.get_by_role("radio").first).to_be_visible()
        given = json.loads(
            frame.locator("body").evaluate(
                "() => JSON.stringify({templateVariables: window.likertConfig.templateVariables,"
                " contextVariables: window.likertConfig.contextVariables,"
                " properties: window.likertConfig.properties,"
                " boundTo: window.likertConfig.boundTo})"
            )
        )
        levels = given["templateVariables"]["levels"]["base"]["integer"]
        assert 6 <= levels <= 9
        # The module came from the fallback configuration's path; the scale has as many
        # points as this candidate's drawn value.
        expect(scale.get_by_role("radio")).to_have_count(levels)
        assert given["templateVariables"] == {"levels": {"base": {"integer": levels}}}
        assert given["contextVariables"] == {"REGION": {"base": {"identifier": "coast"}}}
        assert given["boundTo"] == {"RESPONSE": {"base": None}}  # nothing answered yet
        # What the frame holds names no correct response (the template computed it).
        everything = frame.locator("body").evaluate(
            "() => JSON.stringify(window.likertConfig) + document.documentElement.outerHTML"
        )
        assert "correct" not in everything.lower()
        # Its own style sheet styles the frame.
        border = frame.locator(".likert-host").evaluate(
            "el => getComputedStyle(el).borderTopWidth + ' ' + getComputedStyle(el).borderTopColor"
        )
        assert border == "4px rgb(0, 90, 160)"
        # ...and nothing of the page.
        page_border = page.locator("#item-form").evaluate(
            "el => getComputedStyle(el).borderTopColor"
        )
        assert page_border != "rgb(0, 90, 160)"

        scale.get_by_role("radio", name=str(levels - 1), exact=True).check()
        expect(page.locator("#save-state")).to_have_text("Saved", timeout=10_000)
        check_axe(page, "pci: drawn scale answered")
        shot(page, "pci-04-drawn-scale")

        page.get_by_role("button", name="Submit the test").click()
        page.get_by_role("dialog", name="Submit the test?").get_by_role(
            "button", name="Submit now"
        ).click()
        # The key comes from this candidate's drawn value: the point before the last scores.
        expect(page.locator("#result")).to_contain_text("Score1 out of 1", timeout=15_000)
        shot(page, "pci-05-drawn-scored")
