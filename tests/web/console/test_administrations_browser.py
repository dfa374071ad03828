"""Administrations in a real browser: the list at a glance, the roster filled from the page
(its sheet of access codes on screen and as printed), a CSV with bad rows, accommodations
and the scheduling form; axe on every page and screenshots (console-administrations-*.png)."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.support.browser import check_axe, shot
from tests.web.console.conftest import Site

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def api(site: Site) -> Iterator[httpx.Client]:
    """The API as the demo administrator, to set up what the test needs."""
    with httpx.Client(base_url=site.one, timeout=30) as client:
        token = client.post(
            "/api/v1/auth/token",
            data={"username": site.admin.email, "password": site.admin.password},
        )
        assert token.status_code == 200, token.text
        client.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        yield client


def _administration(api: httpx.Client, title: str) -> dict[str, Any]:
    demo = next(a for a in api.get("/api/v1/assessments").json() if a["slug"] == "demo-placement")
    version = api.get(f"/api/v1/assessments/{demo['id']}/versions/{demo['published_version']}")
    start = datetime.now(UTC) - timedelta(minutes=5)
    created = api.post(
        "/api/v1/administrations",
        json={
            "assessment_version_id": version.json()["version"]["id"],
            "title": title,
            "opens_at": start.isoformat(),
            "closes_at": (start + timedelta(hours=3)).isoformat(),
        },
    )
    assert created.status_code == 201, created.text
    body: dict[str, Any] = created.json()
    return body


def test_roster_codes_sheet_csv_errors_and_accommodations(
    site: Site, admin_page: Any, api: httpx.Client, tmp_path: Path
) -> None:
    page = admin_page
    tag = secrets.token_hex(3)
    administration = _administration(api, f"Room {tag}")
    names = [f"{first} {tag}" for first in ("Ada", "Grace", "Linus")]
    for n, name in enumerate(names):
        made = api.post(
            "/api/v1/candidates", json={"full_name": name, "external_id": f"S-{tag}-{n}"}
        )
        assert made.status_code == 201, made.text
    base = f"{site.one}/console/administrations/{administration['id']}"

    # Candidates found by search, ticked and added: one slip each, with its code.
    page.goto(f"{base}/roster/add?q={tag}")
    for name in names:
        page.get_by_label(name).check()
    page.get_by_label("Time multiplier").fill("1.5")
    page.get_by_role("button", name="Add and show their codes").click()
    slips = page.locator(".slip")
    expect(slips).to_have_count(3)
    expect(slips.first).to_contain_text(names[0])
    expect(slips.first.locator(".slip-code")).to_have_text(
        re.compile(r"^[0-9A-Z]{4}(-[0-9A-Z]{4}){3}$")
    )
    expect(page.get_by_role("button", name="Print the slips")).to_be_visible()
    check_axe(page, "codes sheet")
    shot(page, "console-administrations-03-codes-sheet")
    page.emulate_media(media="print")
    expect(page.locator(".site-header")).to_be_hidden()
    expect(page.locator(".notice-warning")).to_be_hidden()
    shot(page, "console-administrations-04-codes-print")
    page.emulate_media(media="screen")

    page.goto(base)
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Room {tag}")
    expect(page.locator("#roster ~ .table-wrap").first).to_contain_text(names[2])
    expect(page.get_by_role("link", name="Proctor live view")).to_have_attribute(
        "href", f"/console/administrations/{administration['id']}/live"
    )
    check_axe(page, "administration page")
    shot(page, "console-administrations-02-detail")
    page.set_viewport_size({"width": 640, "height": 900})
    shot(page, "console-administrations-08-detail-narrow")
    page.set_viewport_size({"width": 1280, "height": 900})

    # A CSV with rows that name nobody, or accommodations out of range: the rows are listed.
    bad = tmp_path / "roster.csv"
    bad.write_text(
        f"external_id,extra_time_multiplier\nS-{tag}-0,1.5\nS-NOBODY-{tag},\nS-{tag}-9,9\n"
    )
    page.goto(f"{base}/roster/csv")
    page.get_by_label("CSV file").set_input_files(str(bad))
    page.get_by_role("button", name="Upload and show the codes").click()
    problems = page.locator("table.row-problems tbody tr")
    expect(problems).to_have_count(2)
    expect(problems.nth(0)).to_contain_text("no candidate with external_id")
    expect(problems.nth(1)).to_contain_text("extra_time_multiplier")
    check_axe(page, "roster CSV refused")
    shot(page, "console-administrations-05-csv-errors")

    page.goto(base)
    page.get_by_role("link", name=f"Accommodations of {names[1]}").click()
    page.get_by_label("Extra attempts").fill("12")
    page.get_by_role("button", name="Save accommodations").click()
    expect(page.locator(".field-error")).to_have_count(1)
    check_axe(page, "accommodations refused")
    shot(page, "console-administrations-06-accommodations")
    page.get_by_label("Extra attempts").fill("1")
    page.get_by_role("button", name="Save accommodations").click()
    expect(page.get_by_role("status").first).to_contain_text("Accommodations saved")

    page.goto(f"{site.one}/console/administrations")
    row = page.get_by_role("row").filter(has_text=f"Room {tag}")
    expect(row).to_contain_text("open")
    expect(row.locator("td.num")).to_have_text("3")
    check_axe(page, "administration list")
    shot(page, "console-administrations-01-list")

    page.goto(f"{site.one}/console/administrations/new")
    expect(page.get_by_label("Assessment (its published version)")).to_contain_text(
        "Demo placement test"
    )
    check_axe(page, "schedule form")
    shot(page, "console-administrations-07-new")
