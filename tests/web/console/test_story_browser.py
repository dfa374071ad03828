"""An exam from authoring to results, by four people in four browsers, on two API processes.

An author imports a package, edits an item and publishes it, then builds and publishes an
assessment; an administrator schedules it, uploads a roster and prints the access codes;
a candidate takes it on the first process while a proctor on the second watches them
live, pauses them and gives them ten more minutes; the administrator releases the result,
which the candidate then sees. Every step is done through the pages, as people would.
Screenshots: console-story-*.png.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import expect

from tests.support.browser import check_axe, checked_page, shot
from tests.support.items import package
from tests.web.console.conftest import Login, Site, sign_in
from tests.web.console.test_proctor_browser import _act, _timer, eventually

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def people(site: Site) -> Iterator[dict[str, Any]]:
    """An author, a proctor and a candidate of the demo organization, made for this test."""
    tag = secrets.token_hex(3)
    with httpx.Client(base_url=site.one, timeout=30) as api:
        token = api.post(
            "/api/v1/auth/token",
            data={"username": site.admin.email, "password": site.admin.password},
        )
        assert token.status_code == 200, token.text
        api.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        made: dict[str, Any] = {"tag": tag}
        for role in ("author", "proctor"):
            login = Login(f"{role}-{tag}@example.com", f"{role}-password-{tag}")
            reply = api.post(
                "/api/v1/users",
                json={
                    "email": login.email,
                    "display_name": f"{role.title()} {tag}",
                    "roles": [role],
                    "password": login.password,
                },
            )
            assert reply.status_code == 201, reply.text
            made[role] = login
            made[f"{role}_name"] = f"{role.title()} {tag}"
        candidate = api.post(
            "/api/v1/candidates",
            json={"full_name": f"Cleo Story {tag}", "external_id": f"ST-{tag}"},
        )
        assert candidate.status_code == 201, candidate.text
        made["candidate_name"] = f"Cleo Story {tag}"
        made["external_id"] = f"ST-{tag}"
        made["timezone"] = api.get("/api/v1/organizations/current").json()["timezone"]
        yield made


def _local(moment: datetime, zone: str) -> str:
    return moment.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%dT%H:%M")


def test_from_authoring_to_released_results(
    site: Site, browser: Any, people: dict[str, Any], tmp_path: Path
) -> None:
    tag = people["tag"]
    with (
        checked_page(browser) as author,
        checked_page(browser) as admin,
        checked_page(browser) as proctor,
        checked_page(browser) as candidate,
    ):
        # --- The author: a bank filled by import, one item edited and published again. ---
        sign_in(author, site.one, people["author"])
        author.goto(f"{site.one}/console/banks")
        author.get_by_label("Name").fill(f"Story bank {tag}")
        author.get_by_label("Slug").fill(f"story-{tag}")
        author.get_by_role("button", name="Create bank").click()
        author.wait_for_url(f"{site.one}/console/banks/*")
        bank_url = author.url
        zipped = tmp_path / "story.zip"
        zipped.write_bytes(package("STORY1", "STORY2"))
        author.goto(f"{bank_url}/import")
        author.get_by_label("File").set_input_files(str(zipped))
        author.get_by_label("Publish every imported item").check()
        author.get_by_role("button", name="Import").click()
        expect(author.locator(".report")).to_contain_text("Every item was stored: 2 new")
        shot(author, "console-story-01-imported")

        author.goto(bank_url)
        author.get_by_role("link", name="Figure STORY1").click()
        author.get_by_role("link", name="Edit in the form").click()
        author.get_by_label("Title").fill("Figure one, reworded")
        author.get_by_role("button", name="Save").click()
        expect(author.get_by_role("heading", level=1)).to_have_text("Figure one, reworded")
        author.get_by_role("button", name="Publish version 2").click()
        expect(author.get_by_role("status").first).to_have_text("Published.")
        check_axe(author, "story: the edited item")
        shot(author, "console-story-02-item-edited")

        # --- The author builds the assessment: two items drawn from the bank, released by hand.
        author.goto(f"{site.one}/console/assessments/new")
        author.locator("#title").fill(f"Story test {tag}")
        author.get_by_label("Slug").fill(f"story-test-{tag}")
        author.get_by_label("items drawn by a selection rule").check()
        author.get_by_label("Item bank").select_option(label=f"Story bank {tag}")
        author.get_by_label("Items to draw").fill("2")
        author.get_by_role("button", name="Create assessment").click()
        expect(author.get_by_role("heading", level=1)).to_have_text(f"Story test {tag}")
        author.get_by_label("Time limit (minutes)").fill("30")
        author.get_by_label("Release results").select_option("manual")
        author.get_by_role("button", name="Save settings").click()
        author.get_by_role("button", name="Publish version 1").click()
        expect(author.get_by_role("status").first).to_have_text("Version 1 published.")
        shot(author, "console-story-03-assessment-published")

        # --- The administrator schedules it with the proctor, uploads the roster, prints. ---
        sign_in(admin, site.one, site.admin)
        admin.goto(f"{site.one}/console/administrations/new")
        chooser = admin.get_by_label("Assessment (its published version)")
        option = chooser.locator("option", has_text=f"Story test {tag}")
        chooser.select_option(option.get_attribute("value"))
        admin.locator("#title").fill(f"Story session {tag}")
        now = datetime.now(ZoneInfo("UTC"))
        admin.get_by_label("Opens").fill(_local(now - timedelta(minutes=5), people["timezone"]))
        admin.get_by_label("Closes").fill(_local(now + timedelta(hours=3), people["timezone"]))
        admin.get_by_label(people["proctor_name"]).check()
        admin.get_by_role("button", name="Schedule").click()
        expect(admin.get_by_role("heading", level=1)).to_have_text(f"Story session {tag}")
        found = re.search(r"/console/administrations/([0-9a-f-]{36})", admin.url)
        assert found, admin.url
        administration = found.group(1)

        roster = tmp_path / "roster.csv"
        roster.write_text(f"external_id\n{people['external_id']}\n")
        admin.goto(f"{site.one}/console/administrations/{administration}/roster/csv")
        admin.get_by_label("CSV file").set_input_files(str(roster))
        admin.get_by_role("button", name="Upload and show the codes").click()
        slip = admin.locator(".slip", has_text=people["candidate_name"])
        expect(slip).to_have_count(1)
        code = slip.locator(".slip-code").inner_text().strip()
        admin.emulate_media(media="print")
        shot(admin, "console-story-04-codes-printed")
        admin.emulate_media(media="screen")

        # --- The proctor watches from the other API process. ---
        sign_in(proctor, site.two, people["proctor"])
        proctor.goto(f"{site.two}/console/administrations/{administration}/live")
        expect(proctor.locator("#live-status-text")).to_have_text(
            "Live: changes appear as they happen."
        )

        # --- The candidate starts on the first process and is seen doing so. ---
        candidate.goto(f"{site.one}/take")
        candidate.get_by_label("Access code").fill(code)
        candidate.get_by_role("button", name="Continue").click()
        candidate.locator("#welcome-start").click()
        expect(candidate.locator("#item-heading")).to_contain_text("Question 1 of 2")
        candidate.get_by_label("Beta").check()
        row = proctor.locator("#live-rows tr", has_text=people["candidate_name"])
        expect(row).to_contain_text("in progress", timeout=5000)
        candidate.evaluate("window.dispatchEvent(new Event('blur'))")
        expect(row.locator(".integrity-count")).to_have_text("1", timeout=8000)
        check_axe(proctor, "story: live view")
        shot(proctor, "console-story-05-live")

        # Paused by the proctor: the candidate's test stops; ten more minutes; resumed.
        _act(proctor, row, "pause", "noise in the room")
        expect(candidate.locator("#item-error")).to_have_text(
            "The test is paused. The clock is stopped; please wait.", timeout=3000
        )
        shot(candidate, "console-story-06-candidate-paused")
        before = _timer(candidate)
        row = proctor.locator("#live-rows tr", has_text=people["candidate_name"])
        _act(proctor, row, "extend", "lost time to the noise", minutes="10")
        eventually(lambda: _timer(candidate) >= before + 590, timeout=3)
        row = proctor.locator("#live-rows tr", has_text=people["candidate_name"])
        _act(proctor, row, "resume", "quiet again")
        expect(candidate.locator("#item-error")).to_have_text("", timeout=3000)

        # The candidate answers the second question and submits.
        candidate.get_by_role("button", name="Next").click()
        expect(candidate.locator("#item-heading")).to_contain_text("Question 2 of 2")
        candidate.get_by_label("Beta").check()
        candidate.get_by_role("button", name="Review answers").click()
        candidate.locator("#review-submit").click()
        candidate.get_by_role("dialog", name="Submit the test?").get_by_role(
            "button", name="Submit now"
        ).click()
        expect(candidate.locator("#done-message")).to_have_text("Your answers were submitted.")
        expect(candidate.locator("#result")).to_contain_text("not released yet")
        row = proctor.locator("#live-rows tr", has_text=people["candidate_name"])
        expect(row).to_contain_text("submitted", timeout=5000)

        # --- The administrator releases the result; the candidate sees it. ---
        admin.goto(f"{site.one}/console/results?administration_id={administration}")
        admin.get_by_role("link", name=people["candidate_name"]).first.click()
        admin.get_by_role("button", name="Release to the candidate").click()
        expect(admin.get_by_role("status").first).to_contain_text("released")
        check_axe(admin, "story: released result")
        shot(admin, "console-story-07-released")

        candidate.get_by_role("button", name="Check for my result").click()
        expect(candidate.locator("#result")).to_contain_text("2 out of 2")
        shot(candidate, "console-story-08-candidate-result")
