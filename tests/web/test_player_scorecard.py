"""The candidate's scorecard in the player (Chromium): once the result is released, the
finished screen and the welcome page of the access code offer the candidate's own
scorecard PDF; the file comes down through the button. Screenshots go to
``test-artifacts/screenshots/``."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.browser import check_axe, checked_page, chromium, shot
from tests.support.servers import serve
from tests.support.services import require_chromium
from tests.support.settings import make_settings
from tests.web.test_player import _env, _short_assessment
from waa_ads.reporting.pdf import read_scorecard

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _prepare(data_dir: Path) -> str:
    """The demo organization and a short quiz released at once; its candidate's code."""
    from waa_ads.auth.service import build_auth
    from waa_ads.core import migrate
    from waa_ads.core.db import database_from_settings
    from waa_ads.core.storage import blob_store_from_settings
    from waa_ads.demo.loader import load_demo

    settings = make_settings(data_dir=data_dir)
    migrate.upgrade(settings.resolved_database_url)

    async def go() -> str:
        db = database_from_settings(settings)
        blobs = blob_store_from_settings(settings)
        try:
            await load_demo(db, blobs, build_auth(settings, db, None))
            code, _ = await _short_assessment(
                db, settings, slug="scorecard-quiz", external_id="card-0"
            )
        finally:
            await blobs.aclose()
            await db.dispose()
        return code

    return asyncio.run(go())


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(the server's URL, the candidate's access code)."""
    require_chromium()
    data_dir = tmp_path_factory.mktemp("scorecard")
    code = _prepare(data_dir)
    with serve(_env(data_dir), data_dir / "server.log") as url:
        yield url, code


def _enter(page: Any, url: str, code: str) -> None:
    from playwright.sync_api import expect

    page.goto(f"{url}/take")
    page.get_by_label("Access code").fill(code)
    page.get_by_role("button", name="Continue").click()
    expect(page.locator("#welcome-heading")).to_be_focused()


def test_the_candidate_downloads_their_released_scorecard(server: tuple[str, str]) -> None:
    from playwright.sync_api import expect

    url, code = server
    with chromium() as browser:
        with checked_page(browser) as page:
            _enter(page, url, code)
            expect(page.locator("#welcome-attempts")).to_be_hidden()  # nothing to download
            page.locator("#welcome-start").click()
            expect(page.locator("#item-heading")).to_have_text("Question 1 of 3")
            page.locator("#item-form").get_by_label("quick").check()
            page.get_by_role("button", name="Submit the test").click()
            page.get_by_role("dialog", name="Submit the test?").get_by_role(
                "button", name="Submit now"
            ).click()
            result = page.locator("#result")
            expect(result).to_contain_text("Score1 out of 3", timeout=15_000)
            button = result.get_by_role("button", name="Download your scorecard (PDF)")
            with page.expect_download() as download:
                button.click()
            saved = Path(download.value.path()).read_bytes()
            receipt, _ = read_scorecard(saved)  # a scorecard carrying its receipt
            assert json.loads(receipt)
            assert download.value.suggested_filename.startswith("scorecard-")
            expect(result.get_by_role("status")).to_contain_text("downloaded")
            shot(page, "player-scorecard-01-finished")
            check_axe(page, "finished screen with the scorecard button")

        # coming back with the code: the attempt's row offers its scorecard too
        with checked_page(browser) as later:
            _enter(later, url, code)
            row = later.locator("#welcome-attempt-rows tr")
            expect(row).to_contain_text("1 out of 3")
            with later.expect_download() as again:
                row.get_by_role("button", name="Scorecard of attempt 1 (PDF)").click()
            assert Path(again.value.path()).read_bytes() == saved  # the same file
            shot(later, "player-scorecard-02-welcome")
            check_axe(later, "welcome page with the scorecard button")
