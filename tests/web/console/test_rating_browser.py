"""The demo's rating loop in Chromium: a candidate writes the essay (and leaves the other
answers people score empty: those are scored 0 as "no response" and never queued) and
submits; the demo's two raters (each in a browser of their own) rate the essay from their
queues, blind, with the level shortcuts, and disagree; the lead, reading the raters by
name, adjudicates with the same form and opens the plan's form; the result is released
and the candidate sees it with the rubric levels and the comments."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from tests.support.browser import check_axe, checked_page, shot
from tests.web.console.conftest import Login, Site, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ESSAY = "Phones should stay in lockers: lessons are calmer, and breaks are for talking."
ESSAY_POSITION = 42  # essay-school-phones in the demo test (52 questions)


def _candidate_submits(page: Any, base: str, code: str) -> str:
    """Start the demo test, write the essay, submit: the attempt's id."""
    from playwright.sync_api import expect

    page.goto(f"{base}/take")
    page.get_by_label("Access code").fill(code)
    page.get_by_role("button", name="Continue").click()
    page.locator("#welcome-start").click()
    expect(page.locator("#item-heading")).to_have_text("Question 1 of 52")
    page.locator("#question-list li").nth(ESSAY_POSITION - 1).get_by_role("button").click()
    expect(page.locator("#item-heading")).to_have_text(f"Question {ESSAY_POSITION} of 52")
    page.locator("#item-form textarea").fill(ESSAY)
    page.locator("#item-heading").focus()
    expect(page.locator("#save-state")).to_have_text("Saved")
    page.get_by_role("button", name="Submit the test").click()
    page.get_by_role("dialog", name="Submit the test?").get_by_role(
        "button", name="Submit now"
    ).click()
    expect(page.locator("#done-message")).to_have_text("Your answers were submitted.")
    raw = page.evaluate("sessionStorage.getItem('waa-player:session')")
    session: dict[str, str] = json.loads(raw)
    return session["attemptId"]


def _wait_for_scoring(base: str, login: Login, attempt_id: str) -> None:
    with httpx.Client(base_url=base, timeout=30) as api:
        token = api.post(
            "/api/v1/auth/token", data={"username": login.email, "password": login.password}
        ).json()["access_token"]
        for _ in range(300):
            reply = api.get(
                f"/api/v1/results/{attempt_id}", headers={"Authorization": f"Bearer {token}"}
            )
            if reply.status_code == 200 and reply.json()["attempt_state"] == "scoring":
                return
            time.sleep(0.05)
    raise AssertionError(f"{attempt_id} never waited for people")


def _choose(page: Any, level: Any) -> None:
    """Each criterion's level by the keyboard: a digit, then ] to the next criterion.
    ``level(count)`` is the digit for a criterion of ``count`` levels."""
    criteria = page.locator("fieldset[data-criterion]")
    page.locator("h1").click()  # focus outside any text box
    for n in range(criteria.count()):
        count = criteria.nth(n).locator("input[type=radio]").count()
        page.keyboard.press(str(level(count)))
        page.keyboard.press("]")


def _rate_queue(page: Any, base: str, essay_level: Any, name: str) -> int:
    """Take the demo plan's responses one after another until none waits; the essay gets
    ``essay_level`` (any other answer the lowest level)."""
    from playwright.sync_api import expect

    page.goto(f"{base}/console/rating")
    expect(page.get_by_role("heading", name="Demo written answers")).to_be_visible()
    page.get_by_role("button", name="Take the next response of Demo written answers").click()
    rated = 0
    while page.locator("form[data-rating-form]").count() and rated < 20:
        text = page.locator(".rating-response").inner_text()
        assert "Amara" not in text and "demo-00" not in text  # no candidate identity
        expect(page.locator("[data-lease-left]")).to_contain_text("left")
        if ESSAY in text:
            _choose(page, essay_level)
            page.get_by_label("Comment to the candidate").fill(f"Comment from {name}.")
            shot(page, f"console-rating-{name}-essay")
            check_axe(page, "the scoring form")
        else:
            _choose(page, lambda count: 1)
        with page.expect_navigation():
            page.keyboard.press("Control+Enter")
        rated += 1
    expect(page.locator(".notice")).to_contain_text("Nothing else waits")
    return rated


def test_the_demo_rating_loop_from_essay_to_released_result(site: Site, browser: Any) -> None:
    from playwright.sync_api import expect

    assert site.lead is not None and len(site.raters) == 2
    code = site.codes[0]
    with checked_page(browser) as candidate:
        attempt_id = _candidate_submits(candidate, site.one, code)
    _wait_for_scoring(site.one, site.admin, attempt_id)

    with checked_page(browser) as lead:
        sign_in(lead, site.two, site.lead)
        lead.get_by_role("link", name="Rating").first.click()
        lead.get_by_role("link", name="Lead's page of Demo written answers").click()
        lead.get_by_role("button", name="Queue responses waiting now").click()
        expect(lead.locator(".notice")).to_contain_text("queued")

        # Two raters, two browsers, two processes: the essay far apart.
        for n, (login, base, essay_level) in enumerate(
            ((site.raters[0], site.one, lambda c: 1), (site.raters[1], site.two, lambda c: c)),
            start=1,
        ):
            with checked_page(browser) as rater:
                sign_in(rater, base, login)
                if n == 1:
                    rater.goto(f"{base}/console/rating")
                    shot(rater, "console-rating-queue")
                    check_axe(rater, "the rater's queue")
                # Only the essay: the unanswered ones were scored 0 when queued.
                assert _rate_queue(rater, base, essay_level, f"rater{n}") == 1

        lead.reload()
        waiting = lead.get_by_role("table", name="Responses whose ratings disagree")
        expect(waiting.locator("tbody tr")).to_have_count(1)
        progress = lead.get_by_role("table", name="Progress per item").locator("tbody tr")
        expect(progress).to_have_count(7)  # every answer people score
        for n in range(7):
            row = progress.nth(n)
            if "essay-school-phones" in row.inner_text():
                expect(row).to_contain_text("2 / 2")  # rated twice
            else:
                expect(row).to_contain_text("0 / 0")  # no response: scored 0, resolved
                expect(row.locator("td").last).to_have_text("1")
        # The lead is no admin, and reads the raters by name.
        raters_table = lead.get_by_role("table", name="Each rater's figures")
        expect(raters_table).to_contain_text("Demo Rater One")
        expect(raters_table).not_to_contain_text("account …")
        shot(lead, "console-rating-lead")
        check_axe(lead, "the lead's page")
        lead.get_by_role("button", name="Take the next from your queue").click()
        expect(lead.get_by_role("heading", level=1)).to_contain_text("Adjudicate")
        expect(lead.locator(".rating-response")).to_contain_text(ESSAY)
        expect(lead.get_by_role("table", name="The raters' levels")).to_contain_text("Rater 2")
        _choose(lead, lambda count: 2)
        shot(lead, "console-rating-adjudication")
        check_axe(lead, "the adjudication form")
        with lead.expect_navigation():
            lead.get_by_role("button", name="Save and next").click()
        expect(lead.locator(".notice")).to_contain_text("Nothing else waits")
        lead.goto(f"{site.two}/console/rating/plans/{_plan_of(lead)}")
        expect(
            lead.get_by_role("heading", name="Disagreements waiting for adjudication")
        ).to_be_visible()
        expect(lead.locator("#main")).to_contain_text("None.")
        essay_row = lead.get_by_role("table", name="Progress per item").locator(
            "tbody tr", has_text="essay-school-phones"
        )
        expect(essay_row.locator("td").last).to_have_text("1")  # resolved
        lead.get_by_role("link", name="Change the plan").click()
        expect(lead.get_by_role("heading", level=1)).to_have_text("Change the rating plan")
        expect(lead.get_by_role("group", name="Raters")).to_contain_text("Demo Rater One")
        expect(lead.get_by_label("Title")).to_have_value("Demo written answers")
        shot(lead, "console-rating-plan-change")
        check_axe(lead, "the plan's change form")

    with checked_page(browser) as admin:
        sign_in(admin, site.one, site.admin)
        admin.goto(f"{site.one}/console/results/{attempt_id}")
        release = admin.get_by_role("button", name="Release to the candidate")
        if release.count():
            release.click()
        expect(admin.locator("dl.facts dd").nth(1)).to_have_text("released")  # for the candidate
        expect(admin.locator("main")).to_contain_text("rated (adjudicator")
        admin.goto(f"{site.one}/console/rating")
        admin.get_by_role("link", name="New rating plan").click()
        expect(admin.get_by_role("heading", level=1)).to_have_text("New rating plan")
        expect(admin.get_by_role("group", name="Raters")).to_contain_text("Demo Rater One")
        shot(admin, "console-rating-plan-new")
        check_axe(admin, "the new plan form")

    with checked_page(browser) as candidate:
        candidate.goto(f"{site.one}/take")
        candidate.get_by_label("Access code").fill(code)
        candidate.get_by_role("button", name="Continue").click()
        row = candidate.locator("#welcome-attempt-rows tr").first
        expect(row).to_contain_text("out of")
        # What the people who scored the essay wrote, and the levels it reached: no rater.
        feedback = candidate.locator("#welcome-feedback")
        expect(feedback.get_by_role("heading", name="Feedback on attempt 1")).to_be_visible()
        expect(feedback.get_by_role("heading", name=f"Question {ESSAY_POSITION}")).to_be_visible()
        expect(feedback).to_contain_text("Comment from rater1.")
        expect(feedback).to_contain_text("Comment from rater2.")
        expect(feedback.locator("dt").first).to_be_visible()
        expect(feedback).not_to_contain_text("Demo Rater")
        shot(candidate, "console-rating-candidate-result")
        check_axe(candidate, "the candidate's result with feedback")


def _plan_of(page: Any) -> str:
    href = page.evaluate(
        "document.querySelector('a[href^=\"/console/rating/plans/\"]')?.getAttribute('href') || ''"
    )
    return str(href).rsplit("/", 1)[-1]
