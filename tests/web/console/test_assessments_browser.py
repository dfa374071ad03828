"""Assessments in a real browser: created from the list, a selection rule whose pool is
counted as it is typed, publishing refused with the problem in its section, then published
and previewed as a candidate; axe on every page and screenshots (console-assessments-*.png)."""

from __future__ import annotations

import secrets
import zipfile
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.support.browser import check_axe, shot
from tests.web.console.conftest import Site

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_build_a_rule_publish_refused_then_published_and_previewed(
    site: Site, admin_page: Any
) -> None:
    page = admin_page
    slug = f"quiz-{secrets.token_hex(3)}"
    page.goto(f"{site.one}/console/assessments/new")
    check_axe(page, "new assessment")
    shot(page, "console-assessments-06-new")
    page.locator("#title").fill(f"Quiz {slug}")
    page.get_by_label("Slug").fill(slug)
    expect(page.locator("[data-pool-output]")).to_contain_text("published items match")
    page.get_by_label("items drawn by a selection rule").check()
    page.get_by_label("Items to draw").fill("2")
    page.get_by_role("button", name="Create assessment").click()
    page.wait_for_url(f"{site.one}/console/assessments/*")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Quiz {slug}")
    section = page.locator("#section-section-1")
    pool = section.locator("[data-pool-output]")
    expect(pool).to_contain_text("published items match")
    check_axe(page, "assessment builder")
    shot(page, "console-assessments-02-builder")
    page.set_viewport_size({"width": 640, "height": 900})
    shot(page, "console-assessments-05-builder-narrow")
    page.set_viewport_size({"width": 1280, "height": 900})

    # The pool is counted as the rule is typed (no submit): a tag nothing carries.
    section.get_by_label("Tags").fill("no-such-tag")
    expect(pool).to_contain_text("0 published items match")
    expect(pool).to_contain_text("fewer than the 2 drawn")
    section.get_by_role("button", name="Save section").click()
    page.wait_for_url(f"{site.one}/console/assessments/*#section-section-1")
    page.get_by_role("button", name="Publish version 1").click()
    summary = page.locator(".error-summary")
    summary.wait_for()
    expect(section.locator(".notice-error")).to_contain_text(
        "draws 2 items but the bank has only 0"
    )
    assert page.evaluate("document.activeElement.className") == "error-summary"
    check_axe(page, "publish refused")
    shot(page, "console-assessments-03-publish-refused")

    section.get_by_label("Tags").fill("")
    section.get_by_role("button", name="Save section").click()
    page.wait_for_url(f"{site.one}/console/assessments/*#section-section-1")
    page.get_by_role("button", name="Publish version 1").click()
    expect(page.get_by_role("status").first).to_have_text("Version 1 published.")
    page.get_by_role("link", name="Preview as a candidate").click()
    expect(page.locator(".preview-item")).to_have_count(2)
    check_axe(page, "assessment preview")
    shot(page, "console-assessments-04-preview")

    page.goto(f"{site.one}/console/assessments")
    expect(page.get_by_role("link", name=f"Quiz {slug}")).to_be_visible()
    check_axe(page, "assessment list")
    shot(page, "console-assessments-01-list")


def test_a_qti_test_package_becomes_an_assessment_and_exports_again(
    site: Site, admin_page: Any, tmp_path: Path
) -> None:
    from tests.assessments.test_qti_tests import package21

    page = admin_page
    slug = f"geo-{secrets.token_hex(3)}"
    package = tmp_path / "geo-quiz.zip"
    package.write_bytes(package21())
    page.goto(f"{site.one}/console/assessments")
    page.get_by_role("link", name="Import a QTI test").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Import a QTI test")
    # Refused first (a slug with spaces): the problem sits by its field, nothing stored.
    page.get_by_label("Package").set_input_files(str(package))
    page.get_by_label("Slug of the new assessment").fill("Not a slug")
    page.get_by_role("button", name="Import").click()
    expect(page.locator(".error-summary")).to_be_visible()
    expect(page.locator("#slug-error")).to_be_visible()
    check_axe(page, "QTI test import refused")
    page.get_by_label("Package").set_input_files(str(package))
    page.get_by_label("Slug of the new assessment").fill(slug)
    page.get_by_role("button", name="Import").click()
    expect(page.get_by_role("status")).to_contain_text(
        "“Geography quiz” is a new draft with 5 items"
    )
    expect(page.locator("ul.notes")).to_contain_text("time limit is not kept")
    check_axe(page, "QTI test imported")
    shot(page, "console-assessments-08-qti-imported")

    page.get_by_role("link", name="Open the assessment").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Geography quiz")
    with page.expect_download() as download:
        page.get_by_role("link", name="Export as QTI 3").click()
    with zipfile.ZipFile(download.value.path()) as archive:
        assert f"{slug}.xml" in archive.namelist()
