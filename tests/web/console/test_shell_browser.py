"""The console's shell in a real browser: sign-in, the start page, keyboard use, axe."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.browser import check_axe, checked_page, shot
from tests.web.console.conftest import Site, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_sign_in_by_keyboard_lands_on_the_start_page(site: Site, browser: Any) -> None:
    with checked_page(browser) as page:
        page.goto(f"{site.one}/console/")
        page.wait_for_url(f"{site.one}/console/login?next=/console/")
        check_axe(page, "console sign-in")
        shot(page, "console-01-sign-in")
        page.get_by_label("Email address").fill(site.admin.email)
        page.get_by_label("Password").fill("not the password")
        page.keyboard.press("Enter")
        summary = page.locator(".error-summary")
        summary.wait_for()
        assert page.evaluate("document.activeElement.className") == "error-summary"
        check_axe(page, "console sign-in refused")
        shot(page, "console-02-sign-in-refused")
        page.get_by_label("Password").fill(site.admin.password)
        page.keyboard.press("Enter")
        page.wait_for_url(f"{site.one}/console/")


def test_start_page_names_the_organization_and_its_sections(site: Site, browser: Any) -> None:
    from playwright.sync_api import expect

    with checked_page(browser) as page:
        sign_in(page, site.one, site.admin)
        assert page.get_by_role("heading", level=1).inner_text() == "Demo Academy"
        nav = page.get_by_role("navigation", name="Console sections")
        # Twelve sections under five menus, one open at a time.
        menus = {
            "Content": ["Item bank", "Assessments"],
            "Delivery": ["Administrations", "Integrity"],
            "Scoring": ["Rating", "Automated scoring", "Results"],
            "Analysis": ["Reports", "Psychometrics"],
            "Organization": ["Organization", "Integrations", "Audit log"],
        }
        for menu, labels in menus.items():
            nav.locator("summary", has_text=menu).click()
            for label in labels:
                expect(nav.get_by_role("link", name=label, exact=True)).to_be_visible()
        expect(nav.locator("details[open]")).to_have_count(1)
        check_axe(page, "console start page, a menu open")
        shot(page, "console-03-start-menu")
        # By keyboard: Escape closes the menu and leaves the focus on its heading; Enter opens.
        page.keyboard.press("Escape")
        expect(nav.locator("details[open]")).to_have_count(0)
        assert page.evaluate("document.activeElement.textContent") == "Organization"
        page.keyboard.press("Enter")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent") == "Organization"
        page.keyboard.press("Enter")
        page.wait_for_url(f"{site.one}/console/organization")
        current = nav.locator("summary[aria-current=true]")
        expect(current).to_have_text("Organization")
        current.click()
        expect(nav.get_by_role("link", name="Organization")).to_have_attribute(
            "aria-current", "page"
        )
        page.keyboard.press("Escape")
        # The navigation fits on one line at a laptop's width.
        box = nav.bounding_box()
        assert box is not None and box["height"] < 48, box
        page.goto(f"{site.one}/console/")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent") == "Skip to main content"
        check_axe(page, "console start page")
        shot(page, "console-03-start")
        page.set_viewport_size({"width": 640, "height": 900})
        shot(page, "console-04-start-narrow")
        page.get_by_role("button", name="Sign out").click()
        page.wait_for_url(f"{site.one}/console/login")
        assert page.get_by_role("status").inner_text() == "You are signed out."


def test_a_page_coming_back_after_a_long_pause_refreshes_the_session(
    site: Site, browser: Any
) -> None:
    """A laptop waking up: timers slept, so focusing the page refreshes the session at once
    when the last refresh is minutes old (and not when it is recent)."""
    with checked_page(browser) as page:
        sign_in(page, site.one, site.admin)
        page.clock.install()
        page.goto(f"{site.one}/console/")
        refreshed: list[str] = []
        page.on("request", lambda r: refreshed.append(r.url) if "/auth/refresh" in r.url else None)
        page.evaluate("window.dispatchEvent(new Event('focus'))")
        page.wait_for_timeout(300)
        assert refreshed == []
        page.clock.fast_forward("04:00")
        with page.expect_request("**/api/v1/auth/refresh", timeout=3000):
            page.evaluate("window.dispatchEvent(new Event('focus'))")
