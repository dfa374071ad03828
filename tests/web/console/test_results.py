"""The results pages, in process: the list of an administration's attempts, one attempt's
result (item scores, revisions, release, withholding, manual scores), rescoring after an
answer-key correction, the download links, and who may see them."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.support.console import console_sign_in, field_errors, post_form
from tests.support.exams import Exam, begin, exam, wait_for_state
from tests.support.factories import Factory
from tests.support.items import choice_item
from waa_ads.auth.models import Role

pytestmark = pytest.mark.asyncio


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


async def submit(client: httpx.AsyncClient, code: str, answers: dict[str, Any]) -> str:
    attempt_id, headers = await begin(client, code)
    for seq, (ref, value) in enumerate(answers.items(), start=1):
        saved = await client.put(
            f"/api/v1/attempts/{attempt_id}/responses/{ref}",
            json={"seq": seq, "value": value},
            headers=headers,
        )
        assert saved.status_code == 200, saved.text
    done = await client.post(f"/api/v1/attempts/{attempt_id}/submit", headers=headers)
    assert done.status_code == 200, done.text
    return attempt_id


async def result_of(client: httpx.AsyncClient, ex: Exam, attempt_id: str) -> dict[str, Any]:
    for _ in range(200):  # the scoring task runs after the submit commits
        reply = await client.get(f"/api/v1/results/{attempt_id}", headers=ex.world.headers)
        if reply.status_code == 200:
            body: dict[str, Any] = reply.json()
            return body
        await asyncio.sleep(0.05)
    raise AssertionError(f"no result for {attempt_id}")


async def essay_exam(client: httpx.AsyncClient, make: Factory) -> tuple[Exam, str]:
    """An exam of one choice item and one essay (scored by a person, 0 to 4); the access
    code of a candidate on it."""
    ex = await exam(client, make, scoring={"release": "manual"})
    world = ex.world
    definition = await world.with_essay(scoring={"release": "manual"})
    person = await make.candidate(world.org, name="Essay Writer")
    _, (code,) = await world.open_administration(
        slug="with-essay",
        definition=definition,
        title="Essay day",
        candidate_ids=[person.id],
        hours=1,
    )
    return ex, code


async def test_the_list_shows_attempts_with_scores_filters_and_downloads(
    app: FastAPI, client: httpx.AsyncClient, make: Factory
) -> None:
    ex = await exam(client, make, scoring={"release": "manual"})
    scored = await submit(client, ex.codes[0], {"Q1": "B", "Q2": "B"})
    assert await wait_for_state(app, scored, "scored") == "scored"
    await result_of(client, ex, scored)
    await console_sign_in(client, ex.world.admin)
    administration_id = ex.administration["id"]

    page = await client.get("/console/results", params={"administration_id": administration_id})
    assert page.status_code == 200, page.text
    text = _text(page.text)
    assert "Results: Now" in text
    assert "Cand 0" in text
    assert "2 / 3" in text  # raw of max
    assert "not released" in text
    assert f'href="/console/results/{scored}"' in page.text
    assert f'href="/api/v1/results/export.csv?administration_id={administration_id}"' in page.text
    assert f'href="/api/v1/results/qti?administration_id={administration_id}"' in page.text

    only_released = await client.get(
        "/console/results", params={"administration_id": administration_id, "state": "released"}
    )
    assert "Cand 0" not in _text(only_released.text)
    assert "No attempts match these filters" in _text(only_released.text)

    # The download links work with the console's cookie session.
    csv = await client.get(f"/api/v1/results/export.csv?administration_id={administration_id}")
    assert csv.status_code == 200
    assert scored in csv.text
    zipped = await client.get(f"/api/v1/results/qti?administration_id={administration_id}")
    assert zipped.status_code == 200
    assert zipped.headers["content-type"] == "application/zip"


async def test_an_attempt_is_released_withheld_and_scored_by_hand_through_the_api(
    app: FastAPI, client: httpx.AsyncClient, make: Factory
) -> None:
    ex, code = await essay_exam(client, make)
    attempt_id = await submit(client, code, {"Q1": "B", "E1": "Light scatters."})
    first = await result_of(client, ex, attempt_id)
    assert first["latest"]["pending_items"] == 1
    csrf = await console_sign_in(client, ex.world.admin)
    url = f"/console/results/{attempt_id}"

    page = await client.get(url)
    assert page.status_code == 200, page.text
    text = _text(page.text)
    assert "Result: Essay Writer" in text
    assert "1 item to score" in text
    assert "Explain" not in text  # item scores, never the item's content
    assert f'action="{url}/items/E1/score"' in page.text
    assert f'action="{url}/items/Q1/score"' not in page.text  # a machine scores Q1
    assert f'href="/api/v1/results/{attempt_id}/qti"' in page.text

    # Releasing an incomplete result: the API refuses, the page says why.
    early = await post_form(client, f"{url}/release", csrf)
    assert early.status_code == 409
    assert "There is a problem" in early.text

    too_high = await post_form(
        client, f"{url}/items/E1/score", csrf, {"score": "5", "reason": "excellent"}
    )
    assert too_high.status_code == 422
    assert "between 0 and 4" in field_errors(too_high.text)["score-E1"]
    no_reason = await post_form(client, f"{url}/items/E1/score", csrf, {"score": "3"})
    assert no_reason.status_code == 422
    assert "reason-E1" in field_errors(no_reason.text)

    # A decimal comma, as French writes it.
    done = await post_form(
        client, f"{url}/items/E1/score", csrf, {"score": "3,0", "reason": "clear and correct"}
    )
    assert done.status_code == 303, done.text
    after = await result_of(client, ex, attempt_id)
    assert after["latest"]["revision"] == 2
    assert after["latest"]["raw"] == 4.0
    shown = _text((await client.get(url)).text)
    assert "Score for E1 saved as a new revision." in shown
    assert "clear and correct" in shown  # the revision's reason
    assert "attempt ended" in shown  # the first revision is still listed

    no_reason_withhold = await post_form(client, f"{url}/withhold", csrf, {"withhold_reason": ""})
    assert no_reason_withhold.status_code == 422
    assert "withhold_reason" in field_errors(no_reason_withhold.text)
    withheld = await post_form(
        client, f"{url}/withhold", csrf, {"withhold_reason": "appeal pending"}
    )
    assert withheld.status_code == 303
    assert (await result_of(client, ex, attempt_id))["latest"]["withheld"] is True
    withheld_page = _text((await client.get(url)).text)
    assert "withheld (appeal pending)" in withheld_page
    assert "Stop withholding" in withheld_page
    back = await post_form(
        client, f"{url}/unwithhold", csrf, {"unwithhold_reason": "appeal rejected"}
    )
    assert back.status_code == 303
    released = await post_form(client, f"{url}/release", csrf)
    assert released.status_code == 303
    assert await wait_for_state(app, attempt_id, "released") == "released"
    latest = (await result_of(client, ex, attempt_id))["latest"]
    assert latest["released_at"] is not None
    assert latest["withheld"] is False


async def test_rescoring_shows_the_before_and_after_report(
    app: FastAPI, client: httpx.AsyncClient, make: Factory
) -> None:
    ex = await exam(client, make, candidates=2, scoring={"release": "immediately"})
    world = ex.world
    ids = [await submit(client, code, {"Q1": a}) for code, a in zip(ex.codes, "AB", strict=True)]
    for attempt_id in ids:
        assert await wait_for_state(app, attempt_id, "released") == "released"
    csrf = await console_sign_in(client, world.admin)
    form = await client.get(f"/console/results/rescore?item_id={world.items['Q1']}")
    assert form.status_code == 200
    assert f'value="{world.items["Q1"]}"' in form.text

    same = await post_form(
        client,
        "/console/results/rescore",
        csrf,
        {"item_id": world.items["Q1"], "from_version": "1", "to_version": "0", "reason": "x"},
    )
    assert same.status_code == 422
    assert "to_version" in field_errors(same.text)

    await client.patch(
        f"/api/v1/items/{world.items['Q1']}",
        json={"source": {"format": "qti", "content": choice_item("Q1", "Q1", correct="A")}},
        headers=world.headers,
    )
    await client.post(f"/api/v1/items/{world.items['Q1']}/publish", headers=world.headers)
    body = {
        "item_id": world.items["Q1"],
        "from_version": "1",
        "to_version": "2",
        "administration_id": ex.administration["id"],
        "reason": "wrong key",
    }
    report = await post_form(client, "/console/results/rescore", csrf, body)
    assert report.status_code == 200, report.text
    text = _text(report.text)
    assert "2 attempts changed" in text
    assert "0 → 1" in text and "1 → 0" in text
    for attempt_id in ids:
        assert f'href="/console/results/{attempt_id}"' in report.text
    again = await post_form(client, "/console/results/rescore", csrf, body)
    assert "0 attempts changed" in _text(again.text)


async def test_results_are_for_admins_of_the_attempts_organization(
    app: FastAPI, client: httpx.AsyncClient, make: Factory
) -> None:
    ex = await exam(client, make)
    attempt_id = await submit(client, ex.codes[0], {"Q1": "B"})
    await result_of(client, ex, attempt_id)
    proctor = await make.user(ex.world.org, Role.proctor, Role.author)
    await console_sign_in(client, proctor)
    refused = await client.get("/console/results")
    assert refused.status_code == 403
    assert "Role required" in refused.text
    assert (await client.get(f"/console/results/{attempt_id}")).status_code == 403

    other = await make.organization()
    stranger = await make.user(other, Role.admin)
    csrf = await console_sign_in(client, stranger)
    hidden = await client.get(f"/console/results/{attempt_id}")
    assert hidden.status_code == 404
    assert "Essay" not in hidden.text and "Cand 0" not in hidden.text
    act = await post_form(client, f"/console/results/{attempt_id}/release", csrf)
    assert act.status_code == 404
    listing = await client.get("/console/results")
    assert "Cand 0" not in listing.text
