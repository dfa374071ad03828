"""Webcam stills in the player, in Chromium with its fake camera
(``--use-fake-device-for-media-stream --use-fake-ui-for-media-stream``): consent is asked
first in an accessible dialog, stills reach the server and are analysed; "Don't allow" is
recorded and takes no picture. Screenshots go to ``test-artifacts/screenshots/``."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.browser import CHROMIUM_ARGS, check_axe, shot
from tests.support.services import require_chromium
from tests.support.settings import make_settings
from tests.web.test_player import _add_candidate, _env, _free_port, _short_assessment

pytestmark = [pytest.mark.browser, pytest.mark.slow]

POLICY = """\
format: 1
camera:
  frames: true
  interval_s: 5
  retention_days: 3
  without_camera: note
rules:
  - id: no-camera
    when: camera_refused == 1
    severity: low
    reason: Took the test without the camera
"""
FAKE_CAMERA = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]


@dataclass
class Server:
    url: str
    data_dir: Path
    codes: dict[str, str]

    def rows(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.data_dir / "waa.db") as con:
            return con.execute(sql, args).fetchall()


def _prepare(data_dir: Path) -> dict[str, str]:
    """The demo organization, a camera policy, a short quiz naming it, two candidates."""
    from sqlalchemy import select

    from waa_ads.auth.deps import Principal
    from waa_ads.auth.models import Organization
    from waa_ads.auth.service import build_auth
    from waa_ads.core import migrate
    from waa_ads.core.db import database_from_settings
    from waa_ads.core.storage import blob_store_from_settings
    from waa_ads.demo.loader import load_demo
    from waa_ads.integrity import service as integrity_service

    settings = make_settings(data_dir=data_dir)
    migrate.upgrade(settings.resolved_database_url)

    async def go() -> dict[str, str]:
        db = database_from_settings(settings)
        blobs = blob_store_from_settings(settings)
        try:
            await load_demo(db, blobs, build_auth(settings, db, None))
            async with db.transaction() as session:
                org = (
                    await session.execute(select(Organization).where(Organization.slug == "demo"))
                ).scalar_one()
                await integrity_service.save_policy(
                    session, Principal.system(org.id, via="test"), "camera", POLICY
                )
            allows, administration = await _short_assessment(
                db, settings, slug="camera-quiz", external_id="cam-0", integrity_policy="camera"
            )
            refuses = await _add_candidate(db, settings, administration, "Rey Refuse", "cam-1")
        finally:
            await blobs.aclose()
            await db.dispose()
        return {"allows": allows, "refuses": refuses}

    return asyncio.run(go())


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    require_chromium()
    data_dir = tmp_path_factory.mktemp("camera")
    codes = _prepare(data_dir)
    port = _free_port()
    log = (data_dir / "server.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "waa_ads.main:app_from_env",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        env=_env(data_dir), stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((data_dir / "server.log").read_text())
            time.sleep(0.2)
        yield Server(url, data_dir, codes)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.fixture(scope="module")
def browser(server: Server) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(
            executable_path=require_chromium(), headless=True, args=CHROMIUM_ARGS + FAKE_CAMERA
        )
        try:
            yield launched
        finally:
            launched.close()


def _open(browser: Any, server: Server, code: str) -> Any:
    """A page signed in with ``code`` and the test started; the camera dialog open."""
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.errors = errors
    page.goto(f"{server.url}/take")
    page.get_by_label("Access code").fill(code)
    page.get_by_role("button", name="Continue").click()
    page.locator("#welcome-start").click()
    expect(page.locator("#item-heading")).to_have_text("Question 1 of 3")
    dialog = page.get_by_role("dialog", name="This test uses your camera")
    expect(dialog).to_be_visible()
    return page


def _eventually(read: Any, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := read()):
        assert time.monotonic() < deadline, value
        time.sleep(0.1)
    return value


def test_consent_first_then_stills_reach_the_server(server: Server, browser: Any) -> None:
    from playwright.sync_api import expect

    page = _open(browser, server, server.codes["allows"])
    dialog = page.get_by_role("dialog", name="This test uses your camera")
    expect(dialog).to_contain_text("every 5 seconds")
    expect(dialog).to_contain_text("kept for 3 days")
    expect(dialog).to_contain_text("You may take the test without the camera")
    allow = page.get_by_role("button", name="Allow the camera")
    expect(allow).to_be_focused()
    page.keyboard.press("Escape")  # Escape does not answer for the candidate
    expect(dialog).to_be_visible()
    shot(page, "player-camera-consent")
    check_axe(page, "camera consent dialog")
    with page.expect_response(
        lambda r: r.url.endswith("/frames") and r.request.method == "POST", timeout=15_000
    ) as sent:
        page.keyboard.press("Enter")  # the focused "Allow" button, from the keyboard
    assert sent.value.status == 202
    expect(dialog).to_be_hidden()
    expect(page.locator("#camera-status")).to_have_text("Camera on")
    shot(page, "player-camera-on")

    rows = _eventually(
        lambda: server.rows(
            "SELECT f.content_type, f.width, f.height, f.findings FROM integrity_frame f "
            "WHERE f.analysed_at IS NOT NULL"
        )
    )
    content_type, width, height, findings = rows[0]
    assert (content_type, width, height) == ("image/jpeg", 640, 480)
    assert '"presence"' in findings  # Chromium's fake camera shows a test pattern, no face
    consent = server.rows("SELECT kind FROM integrity_event WHERE kind LIKE 'camera%'")
    assert consent == [("camera_consent_given",)]
    page.reload()  # answered once: not asked again, capture goes on
    expect(page.locator("#item-heading")).to_have_text("Question 1 of 3")
    expect(page.locator("#camera-status")).to_be_visible()
    expect(page.get_by_role("dialog", name="This test uses your camera")).to_be_hidden()
    assert page.errors == []
    page.context.close()


def test_refusing_is_recorded_and_takes_no_picture(server: Server, browser: Any) -> None:
    from playwright.sync_api import expect

    page = _open(browser, server, server.codes["refuses"])
    with page.expect_response(lambda r: r.url.endswith("/camera") and r.request.method == "POST"):
        page.get_by_role("button", name="Don't allow").click()
    expect(page.get_by_role("dialog", name="This test uses your camera")).to_be_hidden()
    expect(page.locator("#camera-status")).to_be_hidden()
    kinds = server.rows(
        "SELECT e.kind FROM integrity_event e JOIN attempt a ON a.id = e.attempt_id "
        "JOIN candidate c ON c.id = a.candidate_id WHERE c.external_id = 'cam-1'"
    )
    assert ("camera_consent_refused",) in kinds
    # The test goes on: the candidate answers as usual.
    expect(page.locator("#item-heading")).to_have_text("Question 1 of 3")
    frames = server.rows(
        "SELECT count(*) FROM integrity_frame f JOIN attempt a ON a.id = f.attempt_id "
        "JOIN candidate c ON c.id = a.candidate_id WHERE c.external_id = 'cam-1'"
    )
    assert frames == [(0,)]
    shot(page, "player-camera-refused")
    assert page.errors == []
    page.context.close()
