"""Integrity review in a real browser: the queue, an attempt's flags with evidence and its
timeline, an invalidation confirmed, a policy refused with line and field, an
administration's similarity run; axe on every page and screenshots
(console-integrity-*.png)."""

from __future__ import annotations

import secrets
import time
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.support.browser import check_axe, shot
from tests.support.items import choice_item
from tests.support.live_exams import ok, open_exam
from tests.web.console.conftest import Site
from tests.web.console.test_results_browser import api_as

pytestmark = [pytest.mark.browser, pytest.mark.slow]

POLICY = """\
format: 1
description: Supervised online tests
rules:
  - id: left-often
    when: focus_loss_count >= 2
    severity: high
    reason: Left the test window {focus_loss_count} times
  - id: pasted
    when: paste_count > 0
    severity: low
    reason: Pasted text ({paste_count})
"""

ITEMS = (("Q1", "Colours"), ("Q2", "Shapes"), ("Q3", "Sizes"))


def _exam(api: httpx.Client, policy: str, names: list[str]) -> tuple[dict[str, Any], list[str]]:
    administration, _, codes = open_exam(
        api,
        bank="Integ",
        slug="quiz",
        sources=[choice_item(ref, title) for ref, title in ITEMS],
        title="Supervised quiz",
        section="Quiz",
        administration_title="Supervised sitting",
        definition={"integrity_policy": policy},
        names=names,
    )
    return administration, codes


def _sit(base: str, code: str, answers: dict[str, str], events: list[str]) -> str:
    with httpx.Client(base_url=base, timeout=30) as player:
        started = ok(player.post("/api/v1/attempts", json={"access_code": code}))
        attempt_id = str(started["attempt"]["id"])
        headers = {"X-Attempt-Token": started["credential"]}
        if events:
            sent = player.post(
                f"/api/v1/attempts/{attempt_id}/events",
                json={
                    "events": [
                        {"kind": k, "client_time": f"2026-12-03T09:00:{n:02d}Z", "data": {}}
                        for n, k in enumerate(events)
                    ]
                },
                headers=headers,
            )
            assert sent.is_success, sent.text
        for seq, (ref, value) in enumerate(answers.items(), start=1):
            ok(
                player.put(
                    f"/api/v1/attempts/{attempt_id}/responses/{ref}",
                    json={"seq": seq, "value": value, "time_spent_ms": 15_000},
                    headers=headers,
                )
            )
        ok(player.post(f"/api/v1/attempts/{attempt_id}/submit", headers=headers))
    return attempt_id


def _analysed(api: httpx.Client, attempt_id: str) -> None:
    for _ in range(200):
        if api.post(f"/api/v1/integrity/attempts/{attempt_id}/analyse").status_code == 200:
            return
        time.sleep(0.05)
    raise AssertionError(f"{attempt_id} could not be analysed")


def test_integrity_review_from_queue_to_decision(site: Site, admin_page: Any) -> None:
    page = admin_page
    api = api_as(site.one, site.admin)
    policy = f"supervised-{secrets.token_hex(3)}"
    ok(api.put(f"/api/v1/integrity/policies/{policy}", json={"source": POLICY}))
    administration, codes = _exam(api, policy, ["Ada Lovelace", "Alan Turing"])
    events = ["focus_lost", "focus_regained", "focus_lost", "focus_regained", "paste"]
    flagged = _sit(site.one, codes[0], {"Q1": "B", "Q2": "A", "Q3": "B"}, events)
    _sit(site.one, codes[1], {"Q1": "B", "Q2": "B"}, [])
    _analysed(api, flagged)
    api.close()

    page.goto(f"{site.one}/console/integrity")
    page.get_by_label("Administration").select_option(administration["id"])
    page.get_by_role("button", name="Show").click()
    page.wait_for_url(f"{site.one}/console/integrity?administration_id=*")
    table = page.get_by_role("table")
    expect(table).to_contain_text("Ada Lovelace")
    expect(table).to_contain_text("Left the test window 2 times")
    expect(table).not_to_contain_text("Alan Turing")
    check_axe(page, "integrity queue")
    shot(page, "console-integrity-01-queue")

    page.get_by_role("link", name="of Ada Lovelace").click()
    page.get_by_role("heading", level=1, name="Integrity review: Ada Lovelace").wait_for()
    expect(page.locator(".integrity-flag").first).to_contain_text("focus_loss_count = 2")
    expect(page.locator(".integrity-timeline")).to_contain_text("Event: paste")
    check_axe(page, "integrity attempt")
    shot(page, "console-integrity-02-attempt")

    page.get_by_label("Reason for invalidating").fill("A second person answered Q3")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Invalidate attempt").click()
    expect(page.locator(".notice")).to_contain_text("Invalidated: the decision is recorded")
    expect(page.get_by_role("table", name="Decisions and appeals")).to_contain_text(
        "A second person answered Q3"
    )
    check_axe(page, "integrity attempt decided")
    shot(page, "console-integrity-03-decided")

    page.goto(f"{site.one}/console/integrity/policies/{policy}")
    source = page.get_by_label("Policy (YAML)")
    source.fill(POLICY.replace("paste_count > 0", "pastes > 0"))
    page.get_by_role("button", name="Save as a new version").click()
    expect(page.locator("#source-error")).to_contain_text("Line 9")
    expect(page.locator("#source-error")).to_contain_text("rules[1].when")
    check_axe(page, "integrity policy refused")
    shot(page, "console-integrity-04-policy-refused")

    page.goto(f"{site.one}/console/integrity/administrations/{administration['id']}/similarity")
    page.get_by_role("button", name="Run the analysis").click()
    expect(page.locator(".notice")).to_contain_text("being analysed")
    for _ in range(100):
        if page.get_by_role("heading", name="Latest run").count():
            break
        time.sleep(0.1)
        page.reload()
    expect(page.get_by_role("heading", name="Latest run")).to_be_visible()
    check_axe(page, "integrity similarity")
    shot(page, "console-integrity-05-similarity")
