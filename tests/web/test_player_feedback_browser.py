"""Item feedback in the player, in Chromium, by the assessment's feedback policy: under
``after_item`` the question just left comes back read-only with its feedback (a modal
feedback's title and text, an inline hint, a feedback block), focus on the feedback's
heading, and Next goes on (a reload keeps the feedback on screen); under ``after_test``
nothing shows during the test and the finished screen lists every question with the
candidate's answer and its feedback; under ``none`` nothing shows at all. Done with the
keyboard, axe on every state. Screenshots go to ``test-artifacts/screenshots/``."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.browser import check_axe, shot
from tests.support.feedback_items import (
    FOR_SCORER,
    HINT,
    MARKERS,
    MODAL,
    MODAL_TITLE,
    RIGHT,
    feedback_item,
)
from tests.support.player_browser import (
    Demo,
    add_candidates,
    demo_principal,
    prepare_demo,
    press,
    publish_and_open,
    server_fixture,
    start_attempt,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

#: The heading of the first question, once an attempt has started.
FIRST = "Question 1 of 3"

ITEMS = ("FB1", "FB2", "FB3")

#: The assessments by feedback policy: (its definition's fields, the candidates by name).
POLICIES: dict[str, tuple[dict[str, Any], dict[str, str]]] = {
    "after_item": (
        {"navigation": "linear", "allow_review": False},
        {"Ines Item": "fb-item", "Remy Reload": "fb-reload"},
    ),
    "after_test": ({}, {"Tess Test": "fb-test"}),
    "none": ({}, {"Nora None": "fb-none"}),
}


def _prepare(data_dir: Path) -> dict[str, str]:
    """The demo, a bank with the three feedback items, one published assessment of them per
    policy, each open with its candidates; the access codes by candidate."""

    async def build(demo: Demo) -> dict[str, str]:
        from waa_ads.content import schemas as c_schemas
        from waa_ads.content import service as c_service
        from waa_ads.content.sources import parse_source

        administrations: dict[str, uuid.UUID] = {}
        async with demo.db.transaction() as session:
            principal = await demo_principal(session)
            bank = await c_service.create_bank(
                session, principal, c_schemas.BankCreate(slug="feedback", name="Feedback")
            )
            created = await c_service.create_items(
                session,
                principal,
                bank.id,
                [
                    c_service.NewItem(
                        parse_source(
                            c_schemas.ItemSource(format="qti", content=feedback_item(ident))
                        ),
                        c_schemas.ItemMetadata(),
                    )
                    for ident in ITEMS
                ],
                publish=True,
            )
            item_ids = [str(item.id) for item, _ in created]
            for policy, (fields, _) in POLICIES.items():
                administrations[policy] = await publish_and_open(
                    session,
                    principal,
                    {
                        "title": f"Planets ({policy})",
                        "sections": [
                            {
                                "identifier": "s",
                                "title": "Planets",
                                "items": [{"item_id": i} for i in item_ids],
                            }
                        ],
                        "time_limit_s": 1800,
                        "feedback": policy,
                        "scoring": {"release": "immediately"},
                        **fields,
                    },
                    slug=f"planets-{policy.replace('_', '-')}",
                    title=f"Planets ({policy})",
                )
        codes: dict[str, str] = {}
        for policy, (_, candidates) in POLICIES.items():
            codes |= await add_candidates(demo, administrations[policy], candidates)
        return codes

    return prepare_demo(data_dir, build)


#: (the server's URL, the access codes by candidate).
server = server_fixture("player-feedback", _prepare)


# --- helpers ------------------------------------------------------------------------------


def choose(page: Any, planet: str) -> None:
    """Pick an answer with the keyboard (Space on the option) and wait until it is saved."""
    from playwright.sync_api import expect

    option = page.locator("#item-form").get_by_role("radio", name=planet)
    option.focus()
    page.keyboard.press("Space")
    expect(option).to_be_checked()
    expect(page.locator("#save-state")).to_have_text("Saved", timeout=10_000)


def submit(page: Any) -> None:
    from playwright.sync_api import expect

    press(page, "Submit the test")
    dialog = page.get_by_role("dialog", name="Submit the test?")
    dialog.get_by_role("button", name="Submit now").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#done-heading")).to_be_focused()


def no_feedback_in(page: Any, where: str) -> None:
    """No word of any feedback anywhere in the page (its markup included, hidden or not)."""
    html = page.content()
    left = [marker for marker in (*MARKERS, FOR_SCORER) if marker in html]
    assert left == [], f"feedback on {where}: {left}"


def attempt_response(url: str, page: Any, position: int) -> Any:
    """The stored answer at ``position``, read from the API."""
    import json

    signed = json.loads(page.evaluate("sessionStorage.getItem('waa-player:session')"))
    reply = httpx.get(
        f"{url}/api/v1/attempts/{signed['attemptId']}",
        headers={"X-Attempt-Token": signed["credential"]},
    )
    reply.raise_for_status()
    (item,) = [i for i in reply.json()["items"] if i["position"] == position]
    return (item["response"] or {}).get("value")


def assert_closed_with_wrong_answer(page: Any) -> None:
    """Question 1 on screen read-only, Mars chosen, with the modal feedback and the hint."""
    from playwright.sync_api import expect

    expect(page.locator("#item-heading")).to_have_text("Question 1 of 3")
    region = page.get_by_role("region", name="Feedback on your answer")
    expect(region).to_be_visible()
    expect(region.get_by_role("heading", name=MODAL_TITLE)).to_be_visible()
    expect(region).to_contain_text(MODAL)
    expect(region).to_contain_text(HINT)
    expect(region).not_to_contain_text(RIGHT)
    form = page.locator("#item-form")
    expect(form.get_by_role("radio", name="Mars")).to_be_checked()
    for planet in ("Mars", "Jupiter", "Venus"):
        expect(form.get_by_role("radio", name=planet)).to_be_disabled()
    expect(page.locator("#flag-toggle")).to_be_hidden()
    expect(page.get_by_role("button", name="Next", exact=True)).to_be_enabled()


# --- the tests ----------------------------------------------------------------------------


def test_after_item_shows_each_answers_feedback_once_the_candidate_moves_on(
    server: tuple[str, dict[str, str]], page: Any
) -> None:
    from playwright.sync_api import expect

    url, codes = server
    start_attempt(page, url, codes["Ines Item"], heading=FIRST)
    no_feedback_in(page, "question 1 before moving on")
    choose(page, "Mars")  # wrong
    check_axe(page, "after_item: question 1 answered")
    press(page, "Next")

    # The question just left, read-only, with its feedback; focus on the feedback's heading.
    expect(page.locator("#item-feedback-heading")).to_be_focused()
    assert_closed_with_wrong_answer(page)
    page.locator("#item-form").get_by_text("Venus").click(force=True)  # cannot change
    expect(page.locator("#item-form").get_by_role("radio", name="Mars")).to_be_checked()
    assert attempt_response(url, page, 1) == "A"
    check_axe(page, "after_item: feedback on question 1")
    shot(page, "feedback-01-after-item-wrong")

    # The keyboard goes on from the feedback to Next, which opens question 2.
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Next", exact=True)).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#item-heading")).to_have_text("Question 2 of 3")
    expect(page.locator("#item-heading")).to_be_focused()
    expect(page.locator("#item-feedback")).to_be_hidden()
    expect(page.locator("#item-form").get_by_role("radio", name="Jupiter")).to_be_enabled()
    no_feedback_in(page, "question 2 before moving on")

    choose(page, "Jupiter")  # right
    press(page, "Next")
    expect(page.locator("#item-feedback-heading")).to_be_focused()
    expect(page.locator("#item-heading")).to_have_text("Question 2 of 3")
    region = page.get_by_role("region", name="Feedback on your answer")
    expect(region).to_contain_text(RIGHT)
    expect(region).not_to_contain_text(MODAL)
    expect(region).not_to_contain_text(HINT)
    expect(region.get_by_role("heading", name=MODAL_TITLE)).to_have_count(0)
    expect(page.locator("#item-form").get_by_role("radio", name="Jupiter")).to_be_disabled()
    check_axe(page, "after_item: feedback on question 2")
    shot(page, "feedback-02-after-item-right")

    press(page, "Next")
    expect(page.locator("#item-heading")).to_have_text("Question 3 of 3")
    expect(page.locator("#item-feedback")).to_be_hidden()
    expect(page.get_by_role("button", name="Next", exact=True)).to_be_disabled()
    submit(page)
    # After the end the finished screen lists every question with its feedback.
    done = page.get_by_role("region", name="Your answers and their feedback")
    expect(done.get_by_role("article")).to_have_count(3)
    expect(done.get_by_role("article", name="Question 2")).to_contain_text(RIGHT)
    check_axe(page, "after_item: finished")


def test_after_item_feedback_stays_on_screen_over_a_reload(
    server: tuple[str, dict[str, str]], page: Any
) -> None:
    from playwright.sync_api import expect

    url, codes = server
    start_attempt(page, url, codes["Remy Reload"], heading=FIRST)
    choose(page, "Mars")
    press(page, "Next")
    expect(page.locator("#item-feedback-heading")).to_be_focused()

    page.reload()  # the feedback being read comes back, the question still read-only
    assert_closed_with_wrong_answer(page)
    check_axe(page, "after_item: feedback after a reload")
    shot(page, "feedback-03-after-item-reloaded")
    press(page, "Next")
    expect(page.locator("#item-heading")).to_have_text("Question 2 of 3")
    expect(page.locator("#item-feedback")).to_be_hidden()

    page.reload()  # moved on: question 2 opens, answerable, with no feedback
    expect(page.locator("#item-heading")).to_have_text("Question 2 of 3")
    expect(page.locator("#item-feedback")).to_be_hidden()
    choose(page, "Venus")
    assert attempt_response(url, page, 2) == "C"


def test_after_test_lists_answers_and_feedback_on_the_finished_screen(
    server: tuple[str, dict[str, str]], page: Any
) -> None:
    from playwright.sync_api import expect

    url, codes = server
    start_attempt(page, url, codes["Tess Test"], heading=FIRST)
    choose(page, "Mars")
    press(page, "Next")
    expect(page.locator("#item-heading")).to_have_text("Question 2 of 3")
    choose(page, "Jupiter")
    press(page, "Previous")  # free navigation: question 1 is still open to change
    expect(page.locator("#item-heading")).to_have_text("Question 1 of 3")
    expect(page.locator("#item-form").get_by_role("radio", name="Mars")).to_be_enabled()
    no_feedback_in(page, "the test under after_test")
    check_axe(page, "after_test: during the test")
    submit(page)

    done = page.get_by_role("region", name="Your answers and their feedback")
    expect(done).to_be_visible()
    articles = done.get_by_role("article")
    expect(articles).to_have_count(3)
    first = done.get_by_role("article", name="Question 1")
    expect(first.get_by_role("radio", name="Mars")).to_be_checked()
    expect(first.get_by_role("radio", name="Mars")).to_be_disabled()
    expect(first.get_by_role("heading", name=MODAL_TITLE)).to_be_visible()
    expect(first).to_contain_text(MODAL)
    expect(first).to_contain_text(HINT)
    expect(first).not_to_contain_text(RIGHT)
    second = done.get_by_role("article", name="Question 2")
    expect(second.get_by_role("radio", name="Jupiter")).to_be_checked()
    expect(second).to_contain_text(RIGHT)
    expect(second).not_to_contain_text(MODAL)
    third = done.get_by_role("article", name="Question 3")  # not answered: not right
    for planet in ("Mars", "Jupiter", "Venus"):
        expect(third.get_by_role("radio", name=planet)).not_to_be_checked()
    expect(third).to_contain_text(MODAL)
    expect(first.get_by_role("region", name="Feedback on your answer")).to_be_visible()
    assert FOR_SCORER not in page.content()
    check_axe(page, "after_test: finished")
    shot(page, "feedback-04-after-test-finished")

    page.reload()  # the ended attempt opens on the same list
    expect(page.get_by_role("region", name="Your answers and their feedback")).to_be_visible()
    expect(done.get_by_role("article")).to_have_count(3)


def test_policy_none_shows_no_feedback_before_or_after_the_end(
    server: tuple[str, dict[str, str]], page: Any
) -> None:
    from playwright.sync_api import expect

    url, codes = server
    start_attempt(page, url, codes["Nora None"], heading=FIRST)
    choose(page, "Mars")
    press(page, "Next")
    expect(page.locator("#item-heading")).to_have_text("Question 2 of 3")
    choose(page, "Jupiter")
    no_feedback_in(page, "the test under none")
    submit(page)
    expect(page.locator("#result")).to_contain_text("Your result", timeout=15_000)
    expect(page.locator("#done-feedback")).to_be_hidden()
    no_feedback_in(page, "the finished screen under none")
    check_axe(page, "none: finished")
    shot(page, "feedback-05-none-finished")
