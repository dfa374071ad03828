"""The proctor's live view in real browsers, across two API processes sharing PostgreSQL and
Redis: the proctor watches on one process, the candidate takes the test on the other; the
news crosses between them through Redis pub/sub, both ways."""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.support.browser import check_axe, checked_page, shot
from tests.web.console.conftest import Site, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _administration_with_a_candidate(site: Site) -> tuple[str, str, str]:
    """A new administration of the demo assessment, proctored by the demo administrator,
    with one new candidate: its id, the candidate's name and access code."""
    with httpx.Client(base_url=site.one, timeout=30) as api:
        token = api.post(
            "/api/v1/auth/token",
            data={"username": site.admin.email, "password": site.admin.password},
        )
        assert token.status_code == 200, token.text
        api.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        me = api.get("/api/v1/auth/me").json()
        demo = api.get("/api/v1/administrations").json()
        version = (demo["items"] if isinstance(demo, dict) else demo)[0]["assessment_version_id"]
        now = datetime.now(UTC)
        created = api.post(
            "/api/v1/administrations",
            json={
                "assessment_version_id": version,
                "title": f"Live view {secrets.token_hex(3)}",
                "opens_at": (now - timedelta(minutes=1)).isoformat(),
                "closes_at": (now + timedelta(hours=3)).isoformat(),
                "proctor_ids": [me["user_id"]],
            },
        )
        assert created.status_code == 201, created.text
        administration = created.json()["id"]
        name = f"Lin Live {secrets.token_hex(2)}"
        candidate = api.post(
            "/api/v1/candidates",
            json={"full_name": name, "email": f"live-{secrets.token_hex(4)}@example.com"},
        )
        assert candidate.status_code == 201, candidate.text
        roster = api.post(
            f"/api/v1/administrations/{administration}/roster",
            json={"entries": [{"candidate_id": candidate.json()["id"]}]},
        )
        assert roster.status_code == 201, roster.text
        return administration, name, roster.json()[0]["access_code"]


def _seconds(text: str) -> int:
    parts = [int(p) for p in text.strip().split(":")]
    total = 0
    for part in parts:
        total = total * 60 + part
    return total


def _timer(page: Any) -> int:
    return _seconds(page.locator("#timer .timer-value").inner_text())


def _act(proctor: Any, row: Any, action: str, reason: str, minutes: str | None = None) -> float:
    """Open the row's actions and send one; when it was sent (time.monotonic())."""
    details = row.locator("details")
    if not details.evaluate("d => d.open"):
        row.locator("summary").click()
    form = row.locator(f"form.action-{action}")
    if minutes is not None:
        form.get_by_label("Extra minutes").fill(minutes)
    form.get_by_label(f"Reason to {action}").fill(reason)
    sent = time.monotonic()
    form.get_by_role("button", name=action.capitalize()).click()
    proctor.wait_for_load_state()
    return sent


def test_the_proctor_follows_a_candidate_on_another_process_and_pauses_them(
    site: Site, browser: Any
) -> None:
    from playwright.sync_api import expect

    administration, name, code = _administration_with_a_candidate(site)
    with checked_page(browser) as proctor, checked_page(browser) as candidate:
        # The proctor on the second process...
        sign_in(proctor, site.two, site.admin)
        proctor.goto(f"{site.two}/console/administrations/{administration}/live")
        expect(proctor.get_by_role("heading", level=1)).to_contain_text("Live view")
        expect(proctor.locator("#live-status-text")).to_have_text(
            "Live: changes appear as they happen."
        )
        check_axe(proctor, "proctor live view, nobody started")
        shot(proctor, "console-proctor-01-waiting")

        # ...the candidate on the first: they appear as they start.
        candidate.goto(f"{site.one}/take")
        candidate.get_by_label("Access code").fill(code)
        candidate.get_by_role("button", name="Continue").click()
        candidate.locator("#welcome-start").click()
        expect(candidate.locator("#item-heading")).to_contain_text("Question 1 of")
        row = proctor.locator("#live-rows tr", has_text=name)
        expect(row).to_contain_text("in progress", timeout=5000)
        expect(row.locator(".position")).to_have_text("1")

        # Their tab loses focus: the event shows in the row and the log, and is announced.
        candidate.evaluate("window.dispatchEvent(new Event('blur'))")
        expect(row.locator(".integrity-count")).to_have_text("1", timeout=8000)
        expect(proctor.locator("#integrity-log li").first).to_contain_text(
            f"{name}, attempt 1: left the test window"
        )
        expect(proctor.locator("#live-announcer")).to_contain_text("left the test window")
        check_axe(proctor, "proctor live view, a candidate working")
        shot(proctor, "console-proctor-02-live")

        # They move to question 3: the row follows.
        candidate.locator("#question-list li").nth(2).get_by_role("button").click()
        expect(row.locator(".position")).to_have_text("3", timeout=5000)

        # The proctor pauses: the candidate's test stops within about a second.
        sent = _act(proctor, row, "pause", "fire alarm")
        expect(candidate.locator("#item-error")).to_have_text(
            "The test is paused. The clock is stopped; please wait.", timeout=3000
        )
        paused_after = time.monotonic() - sent
        expect(candidate.locator("#timer")).to_have_class("timer stopped", timeout=1000)
        row = proctor.locator("#live-rows tr", has_text=name)
        expect(row).to_contain_text("paused")
        expect(row).to_contain_text("by a proctor")
        shot(candidate, "console-proctor-03-candidate-paused")
        shot(proctor, "console-proctor-04-paused")

        # Ten more minutes: the candidate's clock grows.
        before = _timer(candidate)
        _act(proctor, row, "extend", "alarm", minutes="10")
        eventually(lambda: _timer(candidate) >= before + 590, timeout=3)
        # A refusal shows next to the field (no JavaScript needed for any of this).
        row = proctor.locator("#live-rows tr", has_text=name)
        _act(proctor, row, "extend", "   ", minutes="5")  # a reason of spaces is none
        expect(proctor.locator(".error-summary")).to_be_visible()
        expect(proctor.locator(".field-error").first).to_be_visible()
        # The socket's hello re-reads the rows; the refusal stays next to its field.
        expect(proctor.locator("#live-status-text")).to_have_text(
            "Live: changes appear as they happen."
        )
        proctor.wait_for_timeout(1000)
        refused = proctor.locator("#live-rows tr", has_text=name).locator("form.action-extend")
        expect(refused.locator(".field-error")).to_contain_text("at least 1 character")
        expect(refused.get_by_label("Reason to extend")).to_have_attribute("aria-invalid", "true")
        check_axe(proctor, "proctor live view, a refused extension")
        shot(proctor, "console-proctor-05-refused")

        # Resume: the question opens again.
        proctor.goto(f"{site.two}/console/administrations/{administration}/live")
        row = proctor.locator("#live-rows tr", has_text=name)
        _act(proctor, row, "resume", "all clear")
        expect(candidate.locator("#item-error")).to_have_text("", timeout=3000)
        expect(candidate.locator("#item-form")).not_to_have_attribute("inert", "")
        expect(proctor.locator("#live-rows tr", has_text=name)).to_contain_text("in progress")
        shot(proctor, "console-proctor-06-resumed")
        proctor.set_viewport_size({"width": 640, "height": 900})
        shot(proctor, "console-proctor-07-narrow")
    assert paused_after < 2.0, f"the pause took {paused_after:.2f} s to reach the candidate"


def eventually(check: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "not in time"
        time.sleep(0.1)


def test_the_rows_are_read_again_when_the_socket_says_hello(site: Site, browser: Any) -> None:
    """A candidate who starts between the page's render and the socket's opening is shown:
    the first hello re-reads the rows (the socket here is held back, then says hello)."""
    from playwright.sync_api import expect

    administration, name, code = _administration_with_a_candidate(site)
    held: list[Any] = []
    with checked_page(browser) as proctor, checked_page(browser) as candidate:

        def hold(ws: Any) -> None:  # Playwright wants a Python function, not a builtin
            held.append(ws)

        proctor.route_web_socket("**/live/ws", hold)
        sign_in(proctor, site.two, site.admin)
        proctor.goto(f"{site.two}/console/administrations/{administration}/live")
        expect(proctor.get_by_role("heading", level=1)).to_contain_text("Live view")
        candidate.goto(f"{site.one}/take")
        candidate.get_by_label("Access code").fill(code)
        candidate.get_by_role("button", name="Continue").click()
        candidate.locator("#welcome-start").click()
        expect(candidate.locator("#item-heading")).to_contain_text("Question 1 of")
        row = proctor.locator("#live-rows tr", has_text=name)
        proctor.wait_for_timeout(500)
        expect(row).to_have_count(0)
        assert held, "the page opened no socket"
        held[0].send('{"event": "hello"}')
        expect(row).to_contain_text("in progress", timeout=5000)
