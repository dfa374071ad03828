"""The psychometrics area in a real browser: an administration's item statistics with a
flagged item (one keyed against the others), its options' shares with the distractor that
attracts high scorers, and the reliability summary, a calibration with its parameters and curves
(PNGs drawn by the API), the CSV export, and a DIF analysis by groups typed into the form
(a malformed line first). axe on every page; screenshots console-psychometrics-*.png."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.support.browser import check_axe, shot
from tests.support.items import choice_item
from tests.support.live_exams import open_exam
from tests.web.console.conftest import Site
from tests.web.console.test_results_browser import api_as, scored, take

pytestmark = [pytest.mark.browser, pytest.mark.slow]

#: Q1-Q3 (key B) are answered right by the stronger candidates; Q4 only by the weakest.
SHEETS = [
    {"Q1": "B", "Q2": "B", "Q3": "B", "Q4": "A"},
    {"Q1": "B", "Q2": "B", "Q3": "B", "Q4": "A"},
    {"Q1": "B", "Q2": "B", "Q3": "A", "Q4": "A"},
    {"Q1": "B", "Q2": "A", "Q3": "B", "Q4": "A"},
    {"Q1": "B", "Q2": "A", "Q3": "A", "Q4": "B"},
    {"Q1": "A", "Q2": "B", "Q3": "A", "Q4": "B"},
    {"Q1": "A", "Q2": "A", "Q3": "A", "Q4": "B"},
    {"Q1": "A", "Q2": "A", "Q3": "A", "Q4": "B"},
]


def test_psychometrics_area(site: Site, admin_page: Any) -> None:
    page = admin_page
    api = api_as(site.one, site.admin)
    administration, _, codes = open_exam(
        api,
        bank="Psychometrics",
        slug="psy",
        sources=tuple(choice_item(f"Q{n}", f"Item {n}") for n in range(1, 5)),
        title="Item check",
        section="All",
        administration_title="Autumn sitting",
        definition={"scoring": {"release": "immediately"}},
        names=[f"Person {n}" for n in range(len(SHEETS))],
    )
    for code, sheet in zip(codes, SHEETS, strict=True):
        scored(api, take(site.one, code, sheet))
    roster = api.get(f"/api/v1/administrations/{administration['id']}/roster").json()
    api.close()

    page.goto(f"{site.one}/console/psychometrics")
    check_axe(page, "psychometrics list")
    page.get_by_role("link", name=administration["title"]).click()
    page.get_by_role(
        "heading", level=1, name=f"Item analysis: {administration['title']}"
    ).wait_for()
    expect(page.get_by_role("table", name="Reliability summary")).to_contain_text("Candidates")
    statistics = page.get_by_role("table", name="Item statistics")
    expect(statistics.get_by_role("row", name="Q4")).to_contain_text("negative discrimination")
    expect(page.get_by_role("table", name="Reliability summary")).to_contain_text("4")
    expect(page.get_by_text("to check before releasing results")).to_be_visible()
    # Q4's options from the stored responses: the distractor A is chosen by the strong
    options = page.get_by_role("table", name="Options of Q4")
    a_row = options.get_by_role("row").filter(
        has=page.get_by_role("rowheader", name="A", exact=True)
    )
    expect(a_row).to_contain_text("distractor")
    expect(a_row).to_contain_text("50%")
    expect(a_row).to_contain_text("attracts high scorers")
    b_row = options.get_by_role("row").filter(
        has=page.get_by_role("rowheader", name="B", exact=True)
    )
    expect(b_row).to_contain_text("key")
    expect(b_row).not_to_contain_text("attracts high scorers")
    expect(page.get_by_role("table", name="Options of Q1")).not_to_contain_text("attracts")
    csv_link = page.get_by_role("link", name="Item statistics (CSV)")
    with page.expect_download() as download:
        csv_link.click()
    assert download.value.suggested_filename.startswith("item-analysis-")
    check_axe(page, "item analysis")
    shot(page, "console-psychometrics-01-items")

    page.get_by_label("Model").select_option("rasch")
    page.get_by_role("button", name="Calibrate").click()
    expect(page.get_by_role("status")).to_contain_text("Calibrated 4 items with rasch")
    expect(page.get_by_role("table", name="Stored IRT parameters of the items")).to_contain_text(
        "Q2"
    )
    # eight candidates cannot support a Rasch fit with an item keyed against the others
    expect(page.get_by_role("note")).to_contain_text("Unstable calibration")
    image = page.get_by_role("img", name="Test information and standard error", exact=False)
    expect(image).to_be_visible()
    # every curve image (the test's and one per item) arrives as a decodable PNG
    page.wait_for_function(
        "() => { const curves = [...document.images].filter(i => i.src.includes('/curves/'));"
        " return curves.length === 5 && curves.every(i => i.complete && i.naturalWidth > 0); }",
        timeout=60_000,  # five charts drawn one after another by a busy server
    )
    page.get_by_role("img", name="Characteristic curve and information of item Q4", exact=False)
    check_axe(page, "calibrated")
    shot(page, "console-psychometrics-02-curves")

    page.get_by_role("link", name="DIF analysis").click()
    page.get_by_role("heading", level=1, name=f"DIF analysis: {administration['title']}").wait_for()
    page.get_by_label("Reference group").fill("north")
    page.get_by_label("Candidates' groups").fill("just one cell")
    page.get_by_role("button", name="Analyse").click()
    expect(page.get_by_role("alert")).to_contain_text("line 1: write candidate,group")
    check_axe(page, "dif refused")
    lines = ["candidate,group"] + [
        f"{entry['candidate_id']},{'north' if n < 4 else 'south'}" for n, entry in enumerate(roster)
    ]
    page.get_by_label("Candidates' groups").fill("\n".join(lines))
    page.get_by_role("button", name="Analyse").click()
    table = page.get_by_role("table", name="north (reference, 4) against south (focal, 4)")
    expect(table).to_contain_text("Q1")
    expect(table.get_by_role("row", name="Q4")).to_be_visible()
    check_axe(page, "dif results")
    shot(page, "console-psychometrics-03-dif")
