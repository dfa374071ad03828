"""The item bank area in a real browser: a bank made and filled by import, the item page's
preview answered with the player's own code and scored, versions compared, the editor;
axe on every page and screenshots (console-banks-*.png)."""

from __future__ import annotations

import re
import secrets
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.support.browser import check_axe, shot
from tests.support.items import package
from tests.support.media import png
from tests.web.console.conftest import Site

pytestmark = [pytest.mark.browser, pytest.mark.slow]

RUBRICS = Path(__file__).resolve().parents[2] / "fixtures" / "rubrics"

NATIVE = """identifier: {identifier}
title: {title}
language: en
body: |
  <p>Which planet is the largest in the solar system?</p>
  {{{{RESPONSE}}}}
interactions:
  - type: choice
    prompt: Choose one planet.
    choices:
      - {{id: earth, content: Earth}}
      - {{id: jupiter, content: Jupiter}}
      - {{id: mars, content: Mars}}
    correct: {correct}
scoring: match_correct
metadata:
  subject: astronomy
  tags: [planets]
"""


def _new_bank(page: Any, site: Site) -> str:
    """A bank made through the list page's form; its page's URL."""
    slug = f"bank-{secrets.token_hex(3)}"
    page.goto(f"{site.one}/console/banks")
    page.get_by_label("Name").fill(f"Planets {slug}")
    page.get_by_label("Slug").fill(slug)
    page.get_by_role("button", name="Create bank").click()
    page.wait_for_url(f"{site.one}/console/banks/*")
    assert page.get_by_role("status").inner_text() == f"Bank “Planets {slug}” created."
    return str(page.url)


def _import(page: Any, bank: str, path: Path, *, publish: bool = False) -> None:
    page.goto(f"{bank}/import")
    page.get_by_label("File").set_input_files(str(path))
    if publish:
        page.get_by_label("Publish every imported item").check()
    page.get_by_role("button", name="Import").click()
    page.get_by_role("heading", name="Import report").wait_for()


def test_import_preview_try_and_compare_versions(
    site: Site, admin_page: Any, tmp_path: Path
) -> None:
    page = admin_page
    page.goto(f"{site.one}/console/banks")
    check_axe(page, "bank list")
    shot(page, "console-banks-01-list")
    bank = _new_bank(page, site)

    zipped = tmp_path / "figures.zip"
    zipped.write_bytes(package("FIG1", "FIG2"))
    _import(page, bank, zipped)
    assert "Every item was stored: 2 new" in page.locator(".report").inner_text()
    check_axe(page, "import report")
    shot(page, "console-banks-02-import-report")

    identifier = f"planet-{secrets.token_hex(3)}"
    native = tmp_path / f"{identifier}.yaml"
    native.write_text(NATIVE.format(identifier=identifier, title="Largest planet", correct="mars"))
    _import(page, bank, native, publish=True)
    native.write_text(
        NATIVE.format(identifier=identifier, title="The largest planet", correct="jupiter")
    )
    _import(page, bank, native)
    assert "new version" in page.locator(".report").inner_text()

    page.goto(bank)
    page.get_by_label("Text").fill("planet")
    page.get_by_role("button", name="Search").click()
    rows = page.locator("table tbody tr")
    assert rows.count() == 1
    check_axe(page, "bank page")
    shot(page, "console-banks-03-bank")

    page.get_by_role("link", name="The largest planet").click()
    page.get_by_role("heading", level=1, name="The largest planet").wait_for()
    preview = page.locator("#item-preview")
    # The player's own code reads the controls into the response as they change.
    preview.get_by_label("Jupiter").check()
    responses = page.get_by_label("Response (JSON, by response identifier)")
    expect(responses).to_have_value('{"RESPONSE":"jupiter"}')
    page.get_by_role("button", name="Score this response").click()
    page.get_by_role("heading", name="Outcome").wait_for()
    assert page.locator(".try-result .score").inner_text() == "Score: 1.0 of 1.0"
    expect(page.locator("#item-preview").get_by_label("Jupiter")).to_be_checked()
    check_axe(page, "item page")
    shot(page, "console-banks-04-item")
    page.set_viewport_size({"width": 640, "height": 900})
    shot(page, "console-banks-04-item-narrow")
    page.set_viewport_size({"width": 1280, "height": 900})

    page.get_by_role("button", name="Compare versions").click()
    page.get_by_role("heading", level=1).wait_for()
    diff = page.locator("pre.diff").inner_text()
    assert '+ title: "The largest planet"' in diff
    assert '\u2212 title: "Largest planet"' in diff
    check_axe(page, "version differences")
    shot(page, "console-banks-05-diff")


def test_the_editor_refuses_beside_the_field_then_creates(site: Site, admin_page: Any) -> None:
    page = admin_page
    bank = _new_bank(page, site)
    page.goto(f"{bank}/items/new")
    check_axe(page, "new item chooser")
    page.get_by_role("link", name="Choice", exact=True).click()
    page.locator("#identifier").fill(f"moons-{secrets.token_hex(3)}")
    page.get_by_label("Title").fill("Moons of Mars")
    page.get_by_label("Question text (HTML)").fill("<p>How many moons has Mars?")
    page.get_by_label("Identifier of row 1").fill("one")
    page.get_by_label("Content of row 1").fill("One")
    page.get_by_label("Identifier of row 2").fill("two")
    page.get_by_label("Content of row 2").fill("Two")
    page.get_by_label("Row 2 is correct").check()
    page.get_by_label("Tags").fill("mars, moons")
    page.get_by_role("button", name="Create item").click()
    summary = page.locator(".error-summary")
    summary.wait_for()
    assert "not well-formed" in page.locator("#stem-error").inner_text()
    check_axe(page, "editor refused")
    shot(page, "console-banks-06-editor-refused")
    page.get_by_label("Question text (HTML)").fill("<p>How many moons has Mars?</p>")
    page.get_by_role("button", name="Create item").click()
    page.get_by_role("heading", level=1, name="Moons of Mars").wait_for()
    assert "Saved as version 1 (draft)." in page.get_by_role("status").first.inner_text()
    page.get_by_role("link", name="Edit the source").click()
    page.get_by_label("Item source").wait_for()
    assert "qti-choice-interaction" in page.get_by_label("Item source").input_value()
    check_axe(page, "source view")
    shot(page, "console-banks-07-source")


def test_media_library_and_rubric_editor(site: Site, admin_page: Any, tmp_path: Path) -> None:
    page = admin_page
    picture = tmp_path / f"chart-{secrets.token_hex(3)}.png"
    picture.write_bytes(png(40, 20, color=(secrets.randbelow(256), 80, 160)))
    page.goto(f"{site.one}/console/banks/media")
    page.get_by_label("File").set_input_files(str(picture))
    page.get_by_role("button", name="Upload").click()
    page.get_by_role("heading", level=1, name=picture.name).wait_for()
    assert "40 \u00d7 20 px" in page.locator("dl.facts").inner_text()
    check_axe(page, "media page")
    shot(page, "console-banks-08-media")
    page.get_by_role("link", name="Media library").click()
    check_axe(page, "media library")

    page.goto(f"{site.one}/console/banks/rubrics")
    slug = f"photo-{secrets.token_hex(3)}"
    page.get_by_label("Slug").fill(slug)
    text = (RUBRICS / "photosynthesis-short-answer.yaml").read_text()
    page.get_by_label("Rubric (YAML)").fill(text.replace("points: 1", "points: 2"))
    page.get_by_role("button", name="Create rubric").click()
    page.locator(".error-summary").wait_for()
    assert "levels" in page.locator("#yaml-error").inner_text()
    check_axe(page, "rubric refused")
    shot(page, "console-banks-09-rubric-refused")
    page.get_by_label("Rubric (YAML)").fill(text)
    page.get_by_role("button", name="Create rubric").click()
    page.get_by_role("heading", name="Version 1").wait_for()
    check_axe(page, "rubric page")
    shot(page, "console-banks-10-rubric")


def test_a_graphic_items_preview_is_answered_with_the_players_markers(
    site: Site, admin_page: Any
) -> None:
    page = admin_page
    page.goto(f"{site.one}/console/banks")
    page.get_by_role("link", name="Sample placement bank").click()
    page.get_by_label("Text").fill("sample-point-coordinates")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name="Plotting coordinates").click()
    # The player's point picker has turned the picture into a stage with markers.
    page.get_by_text("Point 1: not placed").wait_for()
    picture = page.locator("#item-preview .waa-point-stage img")
    box = picture.bounding_box()
    assert box is not None
    # A(3, 2) is at pixel (235, 110) of the 320 x 320 grid.
    picture.click(position={"x": box["width"] * 235 / 320, "y": box["height"] * 110 / 320})
    responses = page.get_by_label("Response (JSON, by response identifier)")
    expect(responses).to_have_value(re.compile(r'^\{"RESPONSE":\[\[23[4-6],1(09|10|11)\]\]\}$'))
    page.get_by_role("button", name="Score this response").click()
    page.get_by_role("heading", name="Outcome").wait_for()
    assert page.locator(".try-result .score").inner_text() == "Score: 1.0 of 2.0"
    check_axe(page, "graphic item page")
    shot(page, "console-banks-11-select-point")


def test_a_glossary_term_opens_in_the_preview(site: Site, admin_page: Any) -> None:
    page = admin_page
    bank = _new_bank(page, site)
    _import(
        page,
        bank,
        Path(__file__).resolve().parents[2]
        / "fixtures"
        / "items"
        / "catalog"
        / "glossary.v3p0.xml",
    )
    assert "shown only to candidates whose accommodations give them this support" in (
        page.locator(".report").inner_text()
    )
    page.goto(bank)
    page.get_by_role("link", name="Tides and the Moon").click()
    preview = page.locator("#item-preview")
    term = preview.get_by_role("button", name="tides (word help)").first
    card = page.locator(f"#{term.get_attribute('aria-controls')}")
    expect(card).to_be_hidden()
    term.focus()
    page.keyboard.press("Enter")
    expect(term).to_have_attribute("aria-expanded", "true")
    expect(card).to_have_text("Definition: The regular rise and fall of the level of the sea.")
    check_axe(page, "item page with a glossary term open")
    shot(page, "console-banks-glossary")
    page.keyboard.press("Escape")
    expect(card).to_be_hidden()
    expect(term).to_be_focused()
    # Previewed as a candidate with the spoken support: its card, with the Listen control.
    page.get_by_role("checkbox", name="Spoken (read aloud)").check()
    page.get_by_role("button", name="Show").click()
    term = page.locator("#item-preview").get_by_role("button", name="tides (word help)").first
    term.click()
    spoken = page.locator(f"#{term.get_attribute('aria-controls')}").locator(
        "[data-support=spoken]"
    )
    expect(spoken).to_contain_text("Read aloud: tides, rhymes with rides")
    expect(page.get_by_role("checkbox", name="Spoken (read aloud)")).to_be_checked()
    check_axe(page, "item page previewed with the spoken support")
    shot(page, "console-banks-glossary-spoken")
