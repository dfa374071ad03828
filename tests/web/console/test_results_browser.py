"""The results pages in a real browser: an administration's attempts, one attempt's result
with a manual score and withholding, the rescore form's refusal; axe on every page and
screenshots (console-results-*.png)."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.support.browser import check_axe, shot
from tests.support.items import ESSAY, choice_item
from tests.support.live_exams import ok, open_exam
from tests.web.console.conftest import Login, Site

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def api_as(base: str, login: Login) -> httpx.Client:
    """An API client signed in (bearer) as ``login``."""
    client = httpx.Client(base_url=base, timeout=30)
    token = client.post(
        "/api/v1/auth/token", data={"username": login.email, "password": login.password}
    )
    assert token.status_code == 200, token.text
    client.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
    return client


def new_exam(api: httpx.Client, names: list[str]) -> tuple[dict[str, Any], list[str]]:
    """A published test of two choice items and an essay, open now, with a candidate of
    each name rostered: the administration and the access codes."""
    administration, item_ids, codes = open_exam(
        api,
        bank="Results",
        slug="sci",
        sources=(choice_item("Q1", "Colours"), choice_item("Q2", "Shapes"), ESSAY),
        title="Science check",
        section="Science",
        administration_title="Term test",
        definition={
            "scoring": {
                "release": "manual",
                "bands": [
                    {"name": "fail", "min_score": 0},
                    {"name": "pass", "min_score": 3, "passed": True},
                ],
            }
        },
        names=names,
    )
    administration["item_ids"] = item_ids
    return administration, codes


def take(base: str, code: str, answers: dict[str, Any]) -> str:
    """A candidate answers and submits: the attempt's id."""
    with httpx.Client(base_url=base, timeout=30) as player:
        started = ok(player.post("/api/v1/attempts", json={"access_code": code}))
        attempt_id = started["attempt"]["id"]
        headers = {"X-Attempt-Token": started["credential"]}
        for seq, (ref, value) in enumerate(answers.items(), start=1):
            ok(
                player.put(
                    f"/api/v1/attempts/{attempt_id}/responses/{ref}",
                    json={"seq": seq, "value": value},
                    headers=headers,
                )
            )
        ok(player.post(f"/api/v1/attempts/{attempt_id}/submit", headers=headers))
    return str(attempt_id)


def scored(api: httpx.Client, attempt_id: str) -> dict[str, Any]:
    for _ in range(200):
        reply = api.get(f"/api/v1/results/{attempt_id}")
        if reply.status_code == 200:
            body: dict[str, Any] = reply.json()
            return body
        time.sleep(0.05)
    raise AssertionError(f"{attempt_id} was not scored")


def test_results_of_an_administration_and_an_attempt(site: Site, admin_page: Any) -> None:
    page = admin_page
    api = api_as(site.one, site.admin)
    administration, codes = new_exam(api, ["Marie Curie", "Rosalind Franklin", "Lise Meitner"])
    first = take(site.one, codes[0], {"Q1": "B", "Q2": "B", "E1": "Rayleigh scattering."})
    take(site.one, codes[1], {"Q1": "A", "Q2": "B", "E1": "Dust."})
    scored(api, first)
    api.close()

    page.goto(f"{site.one}/console/results")
    page.get_by_label("Administration").select_option(administration["id"])
    page.get_by_role("button", name="Show").click()
    page.wait_for_url(f"{site.one}/console/results?administration_id=*")
    table = page.get_by_role("table")
    expect(table).to_contain_text("Marie Curie")
    expect(table).to_contain_text("Rosalind Franklin")
    expect(table).not_to_contain_text("Lise Meitner")  # never started: no attempt
    expect(page.get_by_role("link", name="Download QTI results (zip)")).to_be_visible()
    check_axe(page, "results list")
    shot(page, "console-results-01-list")

    page.get_by_role("link", name="Marie Curie").click()
    page.get_by_role("heading", level=1, name="Result: Marie Curie").wait_for()
    expect(page.locator("dl.facts")).to_contain_text("1 item to score")
    check_axe(page, "result of an attempt")
    shot(page, "console-results-02-attempt")

    page.get_by_label("Score").fill("9")
    page.get_by_label("Reason", exact=True).fill("thorough")
    page.get_by_role("button", name="Save score for E1").click()
    expect(page.locator("#score-E1-error")).to_contain_text("between 0 and 4")
    check_axe(page, "manual score refused")
    shot(page, "console-results-03-score-refused")
    page.get_by_label("Score").fill("3")
    page.get_by_role("button", name="Save score for E1").click()
    expect(page.get_by_role("status")).to_have_text("Score for E1 saved as a new revision.")
    page.get_by_label("Reason for withholding the result").fill("appeal pending")
    page.get_by_role("button", name="Withhold from the candidate").click()
    expect(page.get_by_role("status")).to_have_text("The result is withheld from the candidate.")
    revisions = page.get_by_role("table", name="Every revision of this result")
    expect(revisions.get_by_role("row")).to_have_count(3)  # the header and two revisions
    shot(page, "console-results-04-withheld")

    page.goto(f"{site.one}/console/results/rescore")
    page.get_by_label("Item id").fill(administration["item_ids"][0])
    page.get_by_label("Version with the wrong key").fill("1")
    page.get_by_label("Corrected version").fill("9")
    page.get_by_label("Reason").fill("wrong key")
    page.get_by_role("button", name="Rescore").click()
    page.locator(".error-summary").wait_for()
    check_axe(page, "rescore refused")
    shot(page, "console-results-05-rescore-refused")
