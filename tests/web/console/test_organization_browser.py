"""The organization pages in a real browser, in an organization of the test's own (the demo
organization's look is shared by other tests): settings with a refused and an accepted brand
colour, a logo, the player's header in that colour with that logo, people invited and
edited, candidates; axe on every page and screenshots (console-organization-*.png)."""

from __future__ import annotations

import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.support.browser import check_axe, checked_page, shot
from tests.web.console.conftest import Login, Site, sign_in
from tests.web.console.test_results_browser import api_as, new_exam

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# A 64x64 logo: a dark blue square with a white diagonal (PNG, made once here).
LOGO_SIZE = 64


def _logo(path: Path) -> Path:
    import struct
    import zlib

    rows = []
    for y in range(LOGO_SIZE):
        row = bytearray([0])
        for x in range(LOGO_SIZE):
            row += b"\xff\xff\xff" if abs(x - y) < 6 else b"\x1e\x3a\x8a"
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", LOGO_SIZE, LOGO_SIZE, 8, 2, 0, 0, 0)
    png = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"".join(rows)))
        + chunk(b"IEND", b"")
    )
    path.write_bytes(png)
    return path


def _own_organization(site: Site) -> Login:
    """A new organization and its first admin, made as an operator makes them (CLI)."""
    slug = f"org-{secrets.token_hex(3)}"
    login = Login(f"admin@{slug}.example.com", "a long admin password")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "waa_ads",
            "create-admin",
            "--email",
            login.email,
            "--password",
            login.password,
            "--organization",
            slug,
            "--organization-name",
            "Riverside College",
        ],
        env=site.env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    return login


def test_settings_logo_and_the_players_header(site: Site, browser: Any, tmp_path: Path) -> None:
    admin = _own_organization(site)
    api = api_as(site.one, admin)
    _, codes = new_exam(api, ["Ada Lovelace"])
    api.close()
    with checked_page(browser) as page:
        sign_in(page, site.one, admin)
        page.goto(f"{site.one}/console/organization")
        check_axe(page, "organization settings")
        shot(page, "console-organization-01-settings")

        page.get_by_label("Brand colour").fill("#ffcc00")
        page.get_by_role("button", name="Save settings").click()
        expect(page.locator("#brand_color-error")).to_contain_text("too light")
        check_axe(page, "organization settings refused")
        shot(page, "console-organization-02-colour-refused")

        page.get_by_label("Brand colour").fill("#6b2c91")
        page.get_by_label("Time zone").fill("Europe/Dublin")
        page.get_by_role("button", name="Save settings").click()
        expect(page.get_by_role("status")).to_have_text("Settings saved.")
        page.get_by_label("New logo").set_input_files(str(_logo(tmp_path / "logo.png")))
        page.get_by_role("button", name="Upload logo").click()
        expect(page.get_by_role("status")).to_have_text("Logo saved.")
        expect(
            page.get_by_role("img", name="The current logo of Riverside College")
        ).to_be_visible()
        check_axe(page, "organization settings with a logo")
        shot(page, "console-organization-03-branded")

        page.get_by_role("link", name="People and roles").click()
        page.get_by_role("link", name="Add or invite a person").click()
        page.get_by_label("E-mail address").fill("new.author@riverside.example.com")
        page.get_by_label("Name").fill("Nia Author")
        page.get_by_label("Author: item bank and assessments").check()
        page.get_by_role("button", name="Add or invite").click()
        link = page.get_by_label("Invitation link").input_value()
        assert "/console/invitation?token=" in link
        check_axe(page, "invitation")
        shot(page, "console-organization-04-invited")
        page.get_by_role("link", name="All people").click()
        expect(page.get_by_role("table")).to_contain_text("Nia Author")
        check_axe(page, "people")
        shot(page, "console-organization-05-people")
        page.get_by_role("link", name="Nia Author").click()
        page.get_by_label("Rater: scores responses").check()
        page.get_by_role("button", name="Save", exact=True).click()
        expect(page.get_by_role("status")).to_have_text("Account saved.")
        check_axe(page, "an account")
        shot(page, "console-organization-06-account")

        page.goto(f"{site.one}/console/organization/candidates")
        expect(page.get_by_role("table")).to_contain_text("Ada Lovelace")
        check_axe(page, "candidates")

    with checked_page(browser) as player:
        # The invited person sets a password; then the candidate's player, branded.
        player.goto(link)
        player.get_by_label("New password").fill("nia's own long password")
        player.get_by_role("button", name="Set password").click()
        player.wait_for_url(f"{site.one}/console/login")
        expect(player.get_by_role("status")).to_contain_text("Your password is set.")

        player.goto(f"{site.one}/")
        player.get_by_label("Access code").fill(codes[0])
        player.keyboard.press("Enter")
        logo = player.locator("#org-logo")
        logo.wait_for()
        assert player.locator("#org-name").inner_text() == "Riverside College"
        header = player.locator(".topbar")
        expect(header).to_have_css("background-color", "rgb(107, 44, 145)")
        assert logo.evaluate("(img) => img.naturalWidth") == LOGO_SIZE
        check_axe(player, "branded player")
        shot(player, "console-organization-07-player-branded")
