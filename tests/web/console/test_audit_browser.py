"""The audit log in a real browser: events newest first, a filter by subject, one event, the
chain's verification; axe on every page and screenshots (console-audit-*.png)."""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.support.browser import check_axe, shot
from tests.support.live_exams import ok
from tests.web.console.conftest import Site
from tests.web.console.test_results_browser import api_as

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_browse_filter_read_and_verify_the_chain(site: Site, admin_page: Any) -> None:
    page = admin_page
    api = api_as(site.one, site.admin)
    person = ok(
        api.post(
            "/api/v1/users",
            json={"email": f"audit-{secrets.token_hex(3)}@example.com", "roles": ["author"]},
        )
    )
    ok(api.patch(f"/api/v1/users/{person['id']}", json={"roles": ["rater"]}))
    api.close()

    page.goto(f"{site.one}/console/audit")
    table = page.get_by_role("table")
    expect(table).to_contain_text("user.roles_changed")
    check_axe(page, "audit log")
    shot(page, "console-audit-01-list")

    page.get_by_label("Subject id").fill(person["id"])
    page.get_by_role("button", name="Filter").click()
    rows = page.get_by_role("table").locator("tbody tr")
    expect(rows).to_have_count(2)  # created, roles changed: newest first
    expect(rows.first).to_contain_text("user.roles_changed")
    check_axe(page, "audit log filtered")
    shot(page, "console-audit-02-filtered")

    rows.first.get_by_role("link").first.click()
    page.get_by_role("heading", level=1).wait_for()
    assert "user.roles_changed" in page.get_by_role("heading", level=1).inner_text()
    expect(page.locator("pre.source").first).to_contain_text('"after": [')
    check_axe(page, "audit event")
    shot(page, "console-audit-03-event")

    page.goto(f"{site.one}/console/audit")
    page.get_by_role("button", name="Verify the chain").click()
    expect(page.get_by_role("status")).to_contain_text("Intact.")
    check_axe(page, "audit verification")
    shot(page, "console-audit-04-verified")
