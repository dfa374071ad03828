"""A staff member's language follows them, in a real browser: chosen with the switcher in
one browser, it is the console's language after signing in from a fresh browser (no
cookie, a browser asking for English); axe on both pages and screenshots
(console-staff-language-*.png)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.support.browser import check_axe, checked_page, shot
from tests.web.console.conftest import Site, new_staff, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_the_switchers_choice_follows_the_person_to_a_fresh_browser(
    site: Site, browser: Any
) -> None:
    author = new_staff(site, ["author"])
    with checked_page(browser, locale="en-US") as page:
        sign_in(page, site.one, author)
        assert page.evaluate("document.documentElement.lang") == "en"
        page.get_by_label("Language").select_option("fr")
        page.get_by_role("button", name="Change language").click()
        expect(page.locator("html")).to_have_attribute("lang", "fr")
        expect(page.get_by_role("button", name="Se déconnecter")).to_be_visible()
        check_axe(page, "console after switching to French")
        shot(page, "console-staff-language-01-switched")

    # Another browser: no cookie of the first, and it asks for English.
    with checked_page(
        browser, locale="en-US", extra_http_headers={"Accept-Language": "en"}
    ) as page:
        page.goto(f"{site.one}/console/login")
        assert page.evaluate("document.documentElement.lang") == "en"
        assert not [c for c in page.context.cookies() if c["name"] == "waa_lang"]
        sign_in(page, site.one, author)
        expect(page.locator("html")).to_have_attribute("lang", "fr")
        expect(page.get_by_label("Langue")).to_have_value("fr")
        expect(page.get_by_role("button", name="Se déconnecter")).to_be_visible()
        page.goto(f"{site.one}/console/banks")
        expect(page.get_by_role("heading", level=1)).to_have_text("Banques d'items")
        check_axe(page, "console in the person's language in a fresh browser")
        shot(page, "console-staff-language-02-fresh-browser")

        # Choosing English there saves that in turn.
        page.get_by_label("Langue").select_option("en")
        page.get_by_role("button", name="Changer de langue").click()
        expect(page.locator("html")).to_have_attribute("lang", "en")
    with httpx.Client(base_url=site.one, timeout=30) as api:
        token = api.post(
            "/api/v1/auth/token", data={"username": author.email, "password": author.password}
        )
        me = api.get(
            "/api/v1/auth/me", headers={"Authorization": f"Bearer {token.json()['access_token']}"}
        )
        assert me.json()["locale"] == "en"
