"""A bank's shared stimuli in the console, in a real browser: a package with a passage
imported, the bank's stimuli listed, a stimulus's page showing what candidates see, a new
version stored from a file (and the same file again storing nothing, a broken one refused
beside its field), a stimulus added from a file, and the item page showing the passage its
version was stored with. Axe on every page, screenshots (console-stimuli-*.png)."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.support.browser import check_axe, shot
from tests.support.stimuli import PASSAGE_SENTENCE, PASSAGE_TITLE, passage, stimulus_package
from tests.web.console.conftest import Site

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_stimuli_are_listed_shown_versioned_added_and_shown_beside_their_items(
    site: Site, admin_page: Any, tmp_path: Path
) -> None:
    page = admin_page
    slug = f"reading-{secrets.token_hex(3)}"
    page.goto(f"{site.one}/console/banks")
    page.get_by_label("Name").fill(f"Reading {slug}")
    page.get_by_label("Slug").fill(slug)
    page.get_by_role("button", name="Create bank").click()
    page.wait_for_url(f"{site.one}/console/banks/*")
    bank = str(page.url)

    zipped = tmp_path / "tide.zip"
    zipped.write_bytes(stimulus_package("TIDE-1", "TIDE-2"))
    page.goto(f"{bank}/import")
    page.get_by_label("File").set_input_files(str(zipped))
    page.get_by_role("button", name="Import").click()
    page.get_by_role("heading", name="Import report").wait_for()
    expect(page.locator(".report")).to_contain_text("Every item was stored: 2 new")
    brought = page.get_by_role("table", name="The shared stimuli the import brought")
    expect(brought.locator("tbody tr")).to_have_count(1)
    expect(brought).to_contain_text("tide-passage")
    expect(brought).to_contain_text("imported version 1")
    check_axe(page, "import report with a stimulus")

    page.goto(bank)
    page.get_by_role("link", name="Shared stimuli").click()
    page.get_by_role("heading", level=1, name="Shared stimuli").wait_for()
    row = page.locator("table tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("tide-passage")
    check_axe(page, "stimulus list")
    shot(page, "console-stimuli-01-list")

    page.get_by_role("link", name=PASSAGE_TITLE).click()
    page.get_by_role("heading", level=1, name=PASSAGE_TITLE).wait_for()
    shown = page.get_by_role("region", name="What candidates see beside its items")
    expect(shown).to_contain_text(PASSAGE_SENTENCE)
    picture = shown.get_by_role("img", name="A rock pool with a crab")
    expect(picture).to_be_visible()
    src = picture.get_attribute("src")
    status = page.evaluate("async (u) => (await fetch(u)).status", src)
    assert status == 200, (src, status)
    page.wait_for_function(
        "(img) => img.complete && img.naturalWidth > 0", arg=picture.element_handle()
    )
    check_axe(page, "stimulus page")
    shot(page, "console-stimuli-02-stimulus")
    stimulus = str(page.url)

    newer = tmp_path / "tide-2.xml"
    newer.write_text(passage(sentence="Once a day the sea"))
    page.get_by_label("File").set_input_files(str(newer))
    page.get_by_role("button", name="Store the version").click()
    expect(page.get_by_role("status")).to_have_text("Version 2 stored.")
    expect(shown).to_contain_text("Once a day the sea")
    expect(shown.get_by_role("img", name="A rock pool with a crab")).to_be_visible()
    page.get_by_label("File").set_input_files(str(newer))
    page.get_by_role("button", name="Store the version").click()
    expect(page.get_by_role("status")).to_have_text("Unchanged: the file is the stimulus as it is.")
    broken = tmp_path / "broken.xml"
    broken.write_text("<qti-assessment-stimulus")
    page.get_by_label("File").set_input_files(str(broken))
    page.get_by_role("button", name="Store the version").click()
    expect(page.locator(".error-summary")).to_contain_text("malformed XML")
    check_axe(page, "stimulus page refusing a file")
    shot(page, "console-stimuli-03-refused")

    other = tmp_path / "other.xml"
    other.write_text(passage(identifier="harbour-passage"))
    page.goto(f"{bank}/stimuli")
    page.get_by_label("File").set_input_files(str(other))
    page.get_by_role("button", name="Add the stimulus").click()
    expect(page.get_by_role("status")).to_have_text("Shared stimulus harbour-passage added.")
    assert page.url != stimulus

    # The item keeps the version it was stored with (the first).
    page.goto(bank)
    page.get_by_role("link", name="Tide question TIDE-1").click()
    page.get_by_role("heading", level=1, name="Tide question TIDE-1").wait_for()
    beside = page.get_by_role("region", name=f"Shown beside it: {PASSAGE_TITLE}")
    expect(beside).to_contain_text(PASSAGE_SENTENCE)
    check_axe(page, "item page with its stimulus")
    shot(page, "console-stimuli-04-item")
