"""The reports area and the public verification page in a real browser: an
administration's cohort report, scorecards generated in bulk with live progress and a
download, the item report; a scorecard's code checked on /verify by someone not signed
in, and an unknown code. axe on every page, screenshots (console-reports-*.png), and the
scorecard's first page rendered as a picture when pdftoppm is installed."""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from pypdf import PdfReader

from tests.support.browser import SCREENSHOTS, check_axe, checked_page, shot
from tests.support.items import choice_item
from tests.support.live_exams import open_exam
from tests.web.console.conftest import Site
from tests.web.console.test_results_browser import api_as, scored, take

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_reports_area_and_public_verification(site: Site, admin_page: Any, browser: Any) -> None:
    page = admin_page
    api = api_as(site.one, site.admin)
    administration, _, codes = open_exam(
        api,
        bank="Reports",
        slug="rep",
        sources=(choice_item("Q1", "Colours"), choice_item("Q2", "Shapes")),
        title="Reading check",
        section="Reading",
        administration_title="Spring sitting",
        definition={
            "scoring": {
                "release": "immediately",
                "bands": [
                    {"name": "Not yet", "min_score": 0, "passed": False},
                    {"name": "Secure", "min_score": 1, "passed": True},
                ],
            }
        },
        names=["Ada Lovelace", "Alan Turing", "Grace Hopper"],
    )
    attempts = [
        take(site.one, codes[0], {"Q1": "B", "Q2": "B"}),
        take(site.one, codes[1], {"Q1": "A", "Q2": "B"}),
        take(site.one, codes[2], {"Q1": "A", "Q2": "A"}),
    ]
    for attempt in attempts:
        scored(api, attempt)

    page.goto(f"{site.one}/console/reports")
    check_axe(page, "reports list")
    page.get_by_role("link", name=administration["title"]).click()
    page.get_by_role(
        "heading", level=1, name=f"Cohort report: {administration['title']}"
    ).wait_for()
    summary = page.get_by_role("table", name="Attempts and scaled scores")
    expect(summary).to_contain_text("Pass rate")
    chart = page.get_by_role("img", name=re.compile(r"^Histogram of 3 scaled scores"))
    expect(chart).to_be_visible()
    # The chart is drawn by the API when the page asks for it: loaded, not a broken image.
    page.wait_for_function(
        "() => { const i = document.querySelector('img.report-chart');"
        " return i && i.complete && i.naturalWidth > 0; }"
    )
    check_axe(page, "cohort report")
    shot(page, "console-reports-01-cohort")

    page.get_by_role("button", name="Generate scorecards (3 released)").click()
    expect(page.get_by_role("status")).to_contain_text("Generating 3 scorecards")
    runs = page.get_by_role("table", name="Scorecard runs, newest first")
    expect(runs.get_by_role("link", name="ZIP of 3 scorecards")).to_be_visible(timeout=30_000)
    check_axe(page, "scorecards generated")
    shot(page, "console-reports-02-scorecards")

    page.get_by_role("link", name="Item report").click()
    page.get_by_role("heading", level=1, name=f"Item report: {administration['title']}").wait_for()
    expect(page.get_by_role("table", name="Item statistics")).to_contain_text("Q2")
    expect(page.get_by_role("table", name="Options of Q2")).to_contain_text("distractor")
    check_axe(page, "item report")
    shot(page, "console-reports-03-items")

    card = api.get(f"/api/v1/reports/attempts/{attempts[0]}/scorecard.pdf")
    assert card.status_code == 200, card.text
    api.close()
    receipt = json.loads(PdfReader(io.BytesIO(card.content)).attachments["receipt.json"][0])
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    pdf_path = SCREENSHOTS / "console-reports-scorecard.pdf"
    pdf_path.write_bytes(card.content)
    if shutil.which("pdftoppm"):  # a picture of the page, to look at as a reader would
        subprocess.run(
            ["pdftoppm", "-png", "-r", "80", "-singlefile", str(pdf_path),
             str(SCREENSHOTS / "console-reports-04-scorecard-page")],
            check=True,
        )  # fmt: skip

    with checked_page(browser) as public:  # not signed in
        public.goto(f"{site.one}/verify/{receipt['code']}")
        public.get_by_role("heading", level=1).wait_for()
        expect(public.get_by_role("status")).to_contain_text("Verified")
        facts = public.get_by_role("table", name="The figures this score report prints")
        expect(facts).to_contain_text("Ada Lovelace")
        expect(facts).to_contain_text("2 / 2")
        check_axe(public, "public verification")
        shot(public, "console-reports-05-verify")

        public.get_by_label("Verification code").fill("0000-0000-0000-0000")
        public.get_by_role("button", name="Verify").click()
        public.get_by_role("heading", level=1, name="Unknown verification code").wait_for()
        expect(public.get_by_role("alert")).to_contain_text("no scorecard was issued")
        check_axe(public, "unknown code")
        shot(public, "console-reports-06-unknown")
    assert Path(pdf_path).stat().st_size > 0
