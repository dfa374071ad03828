"""The integrations area in a real browser: a URL that is not http(s) refused on the form,
a subscription added with its secret shown once, the delivery log filling as a candidate
takes a test (a receiver the test runs, answering 500 to one event: its tries failing,
visible), one delivery with its tries and replay, disabling the subscription, and
registering an LTI platform, turning result notices on (and a template that does not
render refused). axe on every page, screenshots (console-integrations-*.png)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.support.browser import check_axe, shot
from tests.support.items import choice_item
from tests.support.live_exams import open_exam
from tests.support.receivers import Receiver, receiver
from tests.web.console.conftest import Site
from tests.web.console.test_results_browser import api_as, take

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def hooks() -> Iterator[Receiver]:
    with receiver() as r:
        yield r


def test_webhooks_delivery_log_and_lti_registration(
    site: Site, admin_page: Any, hooks: Receiver
) -> None:
    page = admin_page
    # The receiver takes submissions and fails on starts.
    url = hooks.handle(
        "/hooks/waa",
        lambda r: (
            (500, b"database down", "text/plain")
            if r.json()["type"] == "attempt.started"
            else (204, b"", "text/plain")
        ),
    )
    page.goto(f"{site.one}/console/integrations")
    page.get_by_role("heading", level=1, name="Integrations").wait_for()
    expect(page.get_by_role("navigation", name="Console sections")).to_contain_text("Integrations")
    check_axe(page, "integrations")
    shot(page, "console-integrations-01-overview")

    page.get_by_label("Receiver URL").fill("ftp://files.example.org/drop")
    page.get_by_label("attempt.started").check()
    page.get_by_role("button", name="Add the subscription").click()
    expect(page.get_by_role("alert")).to_contain_text("only http and https")
    check_axe(page, "subscription refused")
    shot(page, "console-integrations-02-refused")

    page.get_by_label("Receiver URL").fill(url)
    page.get_by_label("Description").fill("Student records")
    page.get_by_label("attempt.started").check()
    page.get_by_label("attempt.submitted").check()
    page.get_by_role("button", name="Add the subscription").click()
    secret = page.get_by_label("Signing secret")
    assert secret.input_value().startswith("whsec_")
    table = page.get_by_role("table", name="Receivers of signed events")
    expect(table).to_contain_text(url)
    check_axe(page, "subscription added")
    shot(page, "console-integrations-03-secret-once")

    api = api_as(site.one, site.admin)
    _, _, codes = open_exam(
        api,
        bank="Hooks",
        slug="hooks",
        sources=(choice_item("Q1", "Colours"),),
        title="Hooked check",
        section="Main",
        administration_title="Hooked sitting",
        definition={},
        names=["Hedy Lamarr"],
    )
    take(site.one, codes[0], {"Q1": "B"})
    # The servers' dispatcher runs every 2 s; the first tries follow at once.
    deadline = time.monotonic() + 40
    while True:
        items = api.get("/api/v1/integrations/deliveries").json()["items"]
        if len(items) >= 2 and all(d["attempts"] >= 1 for d in items):
            break
        assert time.monotonic() < deadline, items
        time.sleep(0.2)
    api.close()

    page.goto(f"{site.one}/console/integrations/deliveries")
    log = page.get_by_role("table", name="Deliveries, newest first")
    expect(log).to_contain_text("attempt.started")
    expect(log).to_contain_text("attempt.submitted")
    expect(log).to_contain_text("the receiver answered 500")
    check_axe(page, "delivery log")
    shot(page, "console-integrations-04-deliveries")

    # The submission went through: its delivery can be replayed, as a new delivery.
    log.locator("tbody tr", has_text="attempt.submitted").get_by_role("link").first.click()
    page.get_by_role("heading", level=1).wait_for()
    expect(page.get_by_role("table", name="Each try")).to_contain_text("204")
    expect(page.locator("pre.source").last).to_contain_text('"type": "attempt.submitted"')
    check_axe(page, "one delivery")
    shot(page, "console-integrations-05-delivery")
    page.get_by_role("button", name="Replay").click()
    expect(page.get_by_role("status").first).to_contain_text("Queued again")
    expect(page.locator("dl.facts")).to_contain_text("Replay of")
    assert len(hooks.wait_for("/hooks/waa", 3, 30)) >= 3

    page.goto(f"{site.one}/console/integrations")
    page.get_by_role("button", name="Disable").first.click()
    expect(page.get_by_role("status").first).to_contain_text("Subscription disabled")
    expect(page.get_by_role("table", name="Receivers of signed events")).to_contain_text("disabled")

    page.get_by_role("link", name="Register a platform").click()
    page.get_by_role("heading", level=1, name="Register a platform").wait_for()
    check_axe(page, "register a platform")
    page.get_by_label("Name").fill("District LMS")
    page.get_by_label("Issuer").fill("https://lms.example.edu")
    page.get_by_label("Client id").fill("waa-tool-1")
    page.get_by_label("Authorization endpoint").fill(hooks.base_url + "/lms/auth")
    page.get_by_label("Token endpoint").fill(hooks.base_url + "/lms/token")
    page.get_by_label("Key set (JWKS) URL").fill(hooks.base_url + "/lms/jwks")
    page.get_by_label("Deployment ids").fill("dep-1, dep-2")
    page.get_by_role("button", name="Register").click()
    expect(page.get_by_role("table", name="Course platforms that launch tests")).to_contain_text(
        "dep-1, dep-2"
    )
    expect(page.locator("dl.facts")).to_contain_text("/lti/jwks")
    check_axe(page, "platform registered")
    shot(page, "console-integrations-06-lti")

    page.get_by_label("Result notices").select_option("true")
    page.get_by_label("Subject").fill("Your result: {{ score }} of {{ max_score }}")
    page.get_by_role("button", name="Save the result notice").click()
    expect(page.get_by_role("status").first).to_contain_text("Result notice saved")
    expect(page.locator("#email ~ p").first).to_contain_text("Result notices are on")
    page.get_by_label("Subject").fill("{{ nope }}")
    page.get_by_role("button", name="Save the result notice").click()
    expect(page.get_by_role("alert")).to_contain_text("does not render")
    check_axe(page, "e-mail refused")
    shot(page, "console-integrations-07-email")
