"""The integrity review pages, in process on both backends: the queue, an attempt's flags
with their evidence and its timeline, decisions (a proctor's invalidation refused in the
form, an empty reason at its field), policies refused with line and field, an
administration's similarity run, and another organization's attempt not found."""

from __future__ import annotations

import asyncio
import html as html_module
import re

import httpx
import pytest
from fastapi import FastAPI

from tests.integrity.test_review_api import Setup, _setup, _sit
from tests.support.console import console_sign_in, field_errors, post_form
from tests.support.copying import planted_copying
from tests.support.exams import World, wait_for_state
from tests.support.factories import Factory
from waa_ads.auth.models import Role

pytestmark = pytest.mark.asyncio

EVENTS = ["focus_lost", "focus_regained", "focus_lost", "focus_regained", "paste"]


def _text(html: str) -> str:
    return html_module.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip())


async def _flagged(app: FastAPI, client: httpx.AsyncClient, make: Factory) -> tuple[Setup, str]:
    """An administration whose first candidate left the window twice and pasted, analysed."""
    setup = await _setup(client, make, candidates=2)
    attempt_id, _ = await _sit(client, setup.codes[0], {"Q1": "B", "Q2": "A"}, EVENTS)
    assert await wait_for_state(app, attempt_id, "scored") == "scored"
    analysed = await client.post(
        f"/api/v1/integrity/attempts/{attempt_id}/analyse", headers=setup.world.headers
    )
    assert analysed.status_code == 200, analysed.text
    return setup, attempt_id


async def test_queue_and_review_page_show_flags_with_their_evidence(
    app: FastAPI, client: httpx.AsyncClient, make: Factory
) -> None:
    setup, attempt_id = await _flagged(app, client, make)
    csrf = await console_sign_in(client, setup.world.admin)

    start = await client.get("/console")
    assert 'href="/console/integrity"' in start.text
    queue = await client.get("/console/integrity")
    assert queue.status_code == 200, queue.text
    row = _text(queue.text)
    assert "Cand 0" in row
    assert "high severity Left the test window 2 times" in row
    assert f'href="/console/integrity/attempts/{attempt_id}"' in queue.text
    decided = await client.get("/console/integrity?status=decided")
    assert "No decided flagged attempts" in _text(decided.text)

    page = await client.get(f"/console/integrity/attempts/{attempt_id}")
    assert page.status_code == 200, page.text
    text = _text(page.text)
    assert "Integrity review: Cand 0" in text
    assert "Left the test window 2 times" in text and "Pasted text" in text
    assert "focus_loss_count = 2" in text
    # Evidence: each absence with its events and seconds, linked to the timeline's rows.
    timeline = (
        await client.get(
            f"/api/v1/integrity/attempts/{attempt_id}/timeline", headers=setup.world.headers
        )
    ).json()
    first_event = timeline["events"][0]["id"]
    assert f'href="#event-{first_event}"' in page.text
    assert f'id="event-{first_event}"' in page.text
    assert "seconds" in text
    assert "Event: focus lost" in text and "Event: paste" in text
    assert "Save of Q1 (#1) B; accepted; 20 s on the item" in text
    assert "left-often" in text and "pasted" in text
    assert 'data-confirm="Invalidate this attempt?' in page.text

    again = await post_form(client, f"/console/integrity/attempts/{attempt_id}/analyse", csrf)
    assert again.status_code == 303


async def test_decisions_are_recorded_and_refusals_shown_in_the_form(
    app: FastAPI, client: httpx.AsyncClient, make: Factory
) -> None:
    setup, attempt_id = await _flagged(app, client, make)
    url = f"/console/integrity/attempts/{attempt_id}/decisions"
    assert setup.world.proctor is not None
    csrf = await console_sign_in(client, setup.world.proctor)
    queue = await client.get("/console/integrity")
    assert f'href="/console/integrity/attempts/{attempt_id}"' in queue.text
    assert "Left the test window 2 times" in _text(queue.text)
    policy_save = await post_form(
        client, "/console/integrity/policies/strict", csrf, {"source": "format: 1\nrules: []\n"}
    )
    assert policy_save.status_code == 403  # policies are the admins'

    empty = await post_form(client, url, csrf, {"kind": "warn", "reason": "  "})
    assert empty.status_code == 422
    assert "reason" in field_errors(empty.text)

    refused = await post_form(
        client, url, csrf, {"kind": "invalidate", "invalidate_reason": "someone else answered"}
    )
    assert refused.status_code == 403
    errors = field_errors(refused.text)
    assert errors["invalidate_kind"] == "only an admin invalidates an attempt"
    assert "someone else answered" in refused.text  # what was typed is kept

    noted = await post_form(
        client, url, csrf, {"kind": "note", "reason": "Asked about the second absence"}
    )
    assert noted.status_code == 303
    shown = _text((await client.get(noted.headers["location"])).text)
    assert "Noted: the decision is recorded" in shown
    assert "note you Asked about the second absence" in shown
    decisions = await client.get(
        f"/api/v1/integrity/attempts/{attempt_id}/decisions", headers=setup.world.headers
    )
    assert [(d["kind"], d["reason"]) for d in decisions.json()] == [
        ("note", "Asked about the second absence")
    ]

    csrf = await console_sign_in(client, setup.world.admin)
    invalidated = await post_form(
        client, url, csrf, {"kind": "invalidate", "invalidate_reason": "A second person answered"}
    )
    assert invalidated.status_code == 303
    assert await wait_for_state(app, attempt_id, "invalidated") == "invalidated"
    decided = _text((await client.get("/console/integrity?status=decided")).text)
    assert "Cand 0" in decided
    twice = await post_form(client, url, csrf, {"kind": "invalidate", "invalidate_reason": "again"})
    assert twice.status_code == 409
    assert "invalidate_kind" in field_errors(twice.text)
    assert "Invalidated This attempt is invalidated" in _text(twice.text)


async def test_policies_are_listed_edited_and_refused_with_line_and_field(
    client: httpx.AsyncClient, make: Factory
) -> None:
    world = await World(client, make).setup()
    csrf = await console_sign_in(client, world.admin)
    listed = await client.get("/console/integrity/policies")
    assert listed.status_code == 200 and "No policy yet." in listed.text

    source = "format: 1\nrules:\n  - id: away\n    when: focus_loss_count >= 2\n    severity: high\n    reason: Away {focus_loss_count} times\n"
    bad = await post_form(
        client,
        "/console/integrity/policies",
        csrf,
        {"name": "supervised", "source": source.replace("focus_loss_count >=", "focus_lost >=")},
    )
    assert bad.status_code == 422
    text = _text(bad.text)
    assert "Line 4, rules[0].when : unknown signal 'focus_lost'" in text
    assert 'aria-describedby="source-hint source-error"' in bad.text
    assert "focus_lost &gt;= 2" in bad.text  # the text typed stays in the textarea

    saved = await post_form(
        client, "/console/integrity/policies", csrf, {"name": "supervised", "source": source}
    )
    assert saved.status_code == 303
    assert saved.headers["location"] == "/console/integrity/policies/supervised"
    edited = await post_form(
        client,
        "/console/integrity/policies/supervised",
        csrf,
        {"source": source.replace(">= 2", ">= 4")},
    )
    assert edited.status_code == 303
    page = _text((await client.get(edited.headers["location"])).text)
    assert "Saved policy supervised as version 2" in page
    assert "Version shown 2 (current)" in page and "by you" in page
    old = await client.get("/console/integrity/policies/supervised?version=1")
    assert "focus_loss_count &gt;= 2" in old.text and "Version 1" in _text(old.text)
    again = await post_form(
        client, "/console/integrity/policies/supervised", csrf, {"source": "rules: [\n"}
    )
    assert again.status_code == 422
    assert "Line " in _text(again.text)
    assert [
        (p["name"], p["current_version"])
        for p in (await client.get("/api/v1/integrity/policies", headers=world.headers)).json()
    ] == [("supervised", 2)]


async def test_similarity_runs_from_its_page_and_other_organizations_see_nothing(
    app: FastAPI, client: httpx.AsyncClient, make: Factory
) -> None:
    setup, attempt_id = await _flagged(app, client, make)
    await _sit(client, setup.codes[1], {"Q1": "B", "Q2": "A"}, [])
    administration_id = setup.administration["id"]
    page_url = f"/console/integrity/administrations/{administration_id}/similarity"
    csrf = await console_sign_in(client, setup.world.admin)
    before = await client.get(page_url)
    assert before.status_code == 200, before.text
    assert "No analysis has been run" in before.text
    ran = await post_form(client, page_url, csrf)
    assert ran.status_code == 303
    text = ""
    for _ in range(200):
        text = _text((await client.get(page_url)).text)
        if "Latest run" in text:
            break
        await asyncio.sleep(0.05)
    assert re.search(r"Compared 2 candidates, \d+ items, 2 ordered pairs", text), text
    assert "No pair agrees beyond chance." in text

    stranger = await make.user(setup.world.org, Role.proctor)  # not assigned to it
    await console_sign_in(client, stranger)
    assert (await client.get(f"/console/integrity/attempts/{attempt_id}")).status_code == 404
    other = await World(client, make).setup()
    await console_sign_in(client, other.admin)
    for url in (f"/console/integrity/attempts/{attempt_id}", page_url):
        seen = await client.get(url)
        assert seen.status_code == 404, url
    assert "Cand 0" not in (await client.get("/console/integrity")).text


async def test_flagged_pairs_and_partners_with_their_shared_answers(
    app: FastAPI, client: httpx.AsyncClient, make: Factory
) -> None:
    """Planted copying among 60 stored attempts (as the integrity tests plant it): the
    similarity page lists the pair, the copier's page its partner and shared answers."""
    cohort = await planted_copying(app, client, make, title="Copying check")
    world, administration_id = cohort.world, cohort.administration_id

    csrf = await console_sign_in(client, world.admin)
    page_url = f"/console/integrity/administrations/{administration_id}/similarity"
    assert (await post_form(client, page_url, csrf)).status_code == 303
    page = ""
    for _ in range(400):
        page = (await client.get(page_url)).text
        if "Latest run" in page:
            break
        await asyncio.sleep(0.05)
    report = (
        await client.get(
            f"/api/v1/integrity/administrations/{administration_id}/similarity",
            headers=world.headers,
        )
    ).json()
    pair = report["pairs"][0]
    text = _text(page)
    assert "Compared 60 candidates, 30 items, 3540 ordered pairs" in text
    assert f'href="/console/integrity/attempts/{pair["attempt_id"]}"' in page
    assert f'href="/console/integrity/attempts/{pair["source_attempt_id"]}"' in page
    assert f"{pair['matches']} of {pair['compared']}" in text

    copier = _text((await client.get(f"/console/integrity/attempts/{pair['attempt_id']}")).text)
    assert "Similarity partners" in copier
    assert "this attempt agrees with its answers" in copier
    assert f"Identical answers {pair['matches']} of 30 compared items" in copier
    assert f"Answers shared with attempt {pair['source_attempt_id'][-8:]}" in copier
    shared = sorted(pair["identical"])[0]
    assert re.search(rf"{shared} [ABC] (yes|no)", copier)
