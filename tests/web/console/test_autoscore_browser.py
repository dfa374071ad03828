"""Automated scoring in a real browser: the gate's settings, a model trained from an
uploaded CSV with its figures beside the gate, activation, live answers routed (the
doubtful one reaches a rater, who opens the model's explanation), live agreement, and an
activation the gate refuses with its failed checks; axe on every page and screenshots
(console-autoscore-*.png)."""

from __future__ import annotations

import random
import secrets
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.autoscore.world import live_essays, training_csv
from tests.rating.world import RUBRIC, essay
from tests.support.browser import check_axe, checked_page, shot
from tests.support.live_exams import ok
from tests.web.console.conftest import Login, Site, sign_in
from tests.web.console.test_results_browser import api_as
from waa_ads.autoscore import synthetic

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _until(condition: Callable[[], Any], what: str, timeout_s: float = 60) -> Any:
    deadline = time.monotonic() + timeout_s
    while not (value := condition()):
        assert time.monotonic() < deadline, f"{what} not within {timeout_s} s"
        time.sleep(0.2)
    return value


def _essay_exam(api: httpx.Client, texts: list[str]) -> tuple[str, str, list[str]]:
    """A published essay item with the rating tests' rubric in a test of its own, open
    now, each text answered and submitted by a candidate: item id, administration id,
    attempt ids."""
    tag = secrets.token_hex(3)
    bank = ok(api.post("/api/v1/banks", json={"slug": f"essays-{tag}", "name": f"Essays {tag}"}))
    rubric = ok(api.post("/api/v1/rubrics", json={"slug": f"essay-{tag}", "yaml": RUBRIC}))
    item = ok(
        api.post(
            f"/api/v1/banks/{bank['id']}/items",
            json={
                "source": {"format": "qti", "content": essay(f"W{tag}")},
                "rubric_version_id": rubric["version"]["id"],
            },
        )
    )["item"]
    ok(api.post(f"/api/v1/items/{item['id']}/publish"))
    definition = {
        "title": f"Water cycle {tag}",
        "sections": [{"identifier": "s", "title": "Essay", "items": [{"item_id": item["id"]}]}],
    }
    created = ok(
        api.post("/api/v1/assessments", json={"slug": f"water-{tag}", "definition": definition})
    )
    version = ok(api.post(f"/api/v1/assessments/{created['assessment']['id']}/publish"))
    now = time.time()
    administration = ok(
        api.post(
            "/api/v1/administrations",
            json={
                "assessment_version_id": version["version"]["id"],
                "title": f"Essay sitting {tag}",
                "opens_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 300)),
                "closes_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 10800)),
            },
        )
    )
    people = [
        ok(api.post("/api/v1/candidates", json={"full_name": f"Writer {n} {tag}"}))
        for n in range(len(texts))
    ]
    roster = ok(
        api.post(
            f"/api/v1/administrations/{administration['id']}/roster",
            json={"entries": [{"candidate_id": p["id"]} for p in people]},
        )
    )
    attempts = []
    with httpx.Client(base_url=str(api.base_url), timeout=30) as player:
        for text, entry in zip(texts, roster, strict=True):
            started = ok(
                player.post("/api/v1/attempts", json={"access_code": entry["access_code"]})
            )
            attempt_id = started["attempt"]["id"]
            headers = {"X-Attempt-Token": started["credential"]}
            ok(
                player.put(
                    f"/api/v1/attempts/{attempt_id}/responses/W{tag}",
                    json={"seq": 1, "value": text},
                    headers=headers,
                )
            )
            ok(player.post(f"/api/v1/attempts/{attempt_id}/submit", headers=headers))
            attempts.append(attempt_id)
    return item["id"], administration["id"], attempts


def test_train_activate_route_and_explain(site: Site, admin_page: Any, browser: Any) -> None:
    page = admin_page
    api = api_as(site.one, site.admin)
    rng = random.Random(5)
    texts = [*live_essays(3, seed=21), synthetic.gibberish(rng)]
    item_id, administration_id, attempts = _essay_exam(api, texts)
    rater_login = Login(f"scorer-{secrets.token_hex(3)}@example.com", "a-long-rater-password-1")
    rater = ok(
        api.post(
            "/api/v1/users",
            json={"email": rater_login.email, "roles": ["rater"], "password": rater_login.password},
        )
    )

    page.goto(f"{site.one}/console/autoscore/settings")
    page.get_by_label("Fewest training answers").fill("60")
    page.get_by_label("Share checked by people").fill("0")
    check_axe(page, "autoscore settings")
    shot(page, "console-autoscore-01-settings")
    page.get_by_role("button", name="Save the gate").click()
    expect(page.locator(".notice")).to_contain_text("Saved the acceptance gate")
    expect(page.get_by_role("heading", level=1)).to_have_text("Automated scoring")

    page.goto(f"{site.one}/console/autoscore/items/{item_id}/upload")
    page.get_by_label("Cross-validation folds").fill("3")
    page.get_by_label("CSV file").set_input_files(
        {"name": "bad.csv", "mimeType": "text/csv", "buffer": b"id,text,score\n1,x,9\n"}
    )
    page.get_by_role("button", name="Upload and train").click()
    expect(page.locator(".error-summary")).to_contain_text("line 2.score")
    check_axe(page, "autoscore upload refused")
    shot(page, "console-autoscore-02-upload-refused")
    page.get_by_label("CSV file").set_input_files(
        {"name": "train.csv", "mimeType": "text/csv", "buffer": training_csv(150)}
    )
    # A busy machine may take a while to store the file and answer.
    page.get_by_role("button", name="Upload and train").click(timeout=60_000)
    expect(page.get_by_role("heading", level=1)).to_contain_text("model version 1")
    model_url = page.url
    model_id = model_url.rsplit("/", 1)[-1]
    _until(
        lambda: ok(api.get(f"/api/v1/autoscore/models/{model_id}"))["status"] != "training",
        "training",
    )
    page.reload()
    gate = page.get_by_role("table", name="Acceptance gate as set today: passed")
    expect(gate).to_contain_text("Passed")
    expect(page.get_by_role("table", name="Cross-validated agreement")).to_contain_text(
        "Two people"
    )
    expect(
        page.get_by_role("table", name="Model against people per candidate group")
    ).to_be_visible()
    check_axe(page, "autoscore model")
    shot(page, "console-autoscore-03-model-trained")
    page.get_by_role("button", name="Activate: score live answers").click()
    expect(page.locator(".notice")).to_contain_text("now scores its item")

    def routed() -> bool:
        ok(api.post("/api/v1/autoscore/route"))
        made = ok(api.get(f"/api/v1/autoscore/models/{model_id}/decisions"))
        return len(made) == len(attempts)

    _until(routed, "routing")
    decisions = {
        d["attempt_id"]: d for d in ok(api.get(f"/api/v1/autoscore/models/{model_id}/decisions"))
    }
    assert decisions[attempts[-1]]["route"] == "human"
    assert decisions[attempts[-1]]["reason"] == "gibberish"
    ok(
        api.post(
            "/api/v1/rating/plans",
            json={
                "administration_id": administration_id,
                "title": "Essays checked by people",
                "raters": [{"user_id": rater["id"]}],
                "adjudicators": [],
                "leads": [],
            },
        )
    )

    with checked_page(browser) as rater_page:
        sign_in(rater_page, site.one, rater_login)
        rater_page.goto(f"{site.one}/console/rating")
        rater_page.get_by_role(
            "button", name="Take the next response of Essays checked by people"
        ).click()
        expect(rater_page.get_by_role("heading", level=1)).to_contain_text("Rate")
        rater_page.get_by_role("link", name="What the scoring model makes of it").click()
        expect(rater_page.get_by_role("heading", level=1)).to_have_text(
            "The scoring model's view of this response"
        )
        # The rater judges first: the model's view waits until their rating is saved.
        expect(rater_page.get_by_text("once you have saved your rating")).to_be_visible()
        expect(rater_page.get_by_role("table", name="What moved the score")).to_have_count(0)
        expect(rater_page.get_by_role("heading", name="Training answer 1")).to_be_visible()
        check_axe(rater_page, "autoscore explanation")
        shot(rater_page, "console-autoscore-04-explanation")

    page.goto(model_url)
    expect(page.get_by_role("table", name="Recent decisions")).to_contain_text("gibberish")
    expect(page.get_by_role("table", name="Live agreement")).to_be_visible()
    check_axe(page, "autoscore model active")
    shot(page, "console-autoscore-05-model-active")

    page.get_by_role("button", name="Retire: send answers to people again").click()
    expect(page.locator(".notice")).to_contain_text("was retired")
    ok(api.put("/api/v1/autoscore/settings", json={"min_qwk": 0.99, "min_responses": 60}))
    try:
        page.get_by_role("button", name="Activate: score live answers").click()
        refused = page.get_by_role("table", name="Why the gate refused it")
        expect(refused).to_contain_text("Failed")
        expect(page.locator(".error-summary")).to_contain_text("acceptance gate")
        check_axe(page, "autoscore activation refused")
        shot(page, "console-autoscore-06-gate-refused")
    finally:
        ok(api.put("/api/v1/autoscore/settings", json={}))

    page.goto(f"{site.one}/console/autoscore")
    listed = page.locator(f'section:has(a[href="/console/autoscore/models/{model_id}"])')
    expect(listed).to_contain_text("retired")
    check_axe(page, "autoscore overview")
    shot(page, "console-autoscore-07-overview")
    api.close()
