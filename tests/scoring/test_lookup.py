"""Coming back with an access code shows the candidate their attempts and released results
(``POST /attempts/lookup``) and starts nothing; ``POST /attempts`` starts only when asked."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.support.exams import begin, exam, wait_for_state
from tests.support.factories import Factory

pytestmark = pytest.mark.asyncio


async def look(client: httpx.AsyncClient, code: str) -> dict[str, Any]:
    response = await client.post("/api/v1/attempts/lookup", json={"access_code": code})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_an_access_code_shows_attempts_and_results_and_starts_nothing(
    app: FastAPI, client: httpx.AsyncClient, make: Factory
) -> None:
    ex = await exam(
        client,
        make,
        time_limit_s=1200,
        attempts_allowed=2,
        description="Answer every question.",
        breaks={"allowed": True, "max_breaks": 1, "max_break_s": 300},
        scoring={
            "release": "manual",
            "bands": [{"name": "pass", "min_score": 2, "passed": True}],
        },
    )
    code = ex.codes[0]
    before = await look(client, code)
    assert before["candidate_name"] == "Cand 0"
    assert before["organization_name"]
    assert before["assessment"] == {
        "title": "Placement test",
        "instructions": "Answer every question.",
        "time_limit_s": 1200,
        "candidate_time_limit_s": 1200,
        "question_count": 3,
        "navigation": "free",
        "allow_review": True,
        "allow_flags": True,
        "breaks": {
            "allowed": True,
            "max_breaks": 1,
            "max_break_s": 300,
            "count_against_time": False,
        },
    }
    assert before["administration"]["cancelled"] is False
    assert (before["attempts_used"], before["attempts_allowed"]) == (0, 2)
    assert before["attempts"] == []
    assert (before["next_step"], before["live_attempt_id"], before["blocked_by"]) == (
        "start",
        None,
        None,
    )
    # Looking twice starts nothing.
    assert (await look(client, code))["attempts"] == []

    attempt_id, headers = await begin(client, code)
    live = await look(client, code)
    assert (live["next_step"], live["live_attempt_id"]) == ("resume", attempt_id)
    for seq, ref in enumerate(("Q1", "Q2", "Q3"), start=1):
        await client.put(
            f"/api/v1/attempts/{attempt_id}/responses/{ref}",
            json={"seq": seq, "value": "B"},
            headers=headers,
        )
    await client.post(f"/api/v1/attempts/{attempt_id}/submit", headers=headers)
    assert await wait_for_state(app, attempt_id, "scored") == "scored"

    scored = await look(client, code)
    (past,) = scored["attempts"]
    assert past["id"] == attempt_id
    assert (past["state"], past["ended_because"]) == ("scored", "submitted")
    assert (past["result_released"], past["result"]) == (False, None)
    assert (scored["attempts_used"], scored["next_step"]) == (1, "start")
    # The result route says "not released yet" with its documented code.
    pending = await client.get(f"/api/v1/attempts/{attempt_id}/result", headers=headers)
    assert pending.status_code == 404
    assert pending.json()["type"].endswith("/result-not-released")

    released = await client.post(f"/api/v1/results/{attempt_id}/release", headers=ex.world.headers)
    assert released.status_code == 200, released.text
    shown = await look(client, code)
    (past,) = shown["attempts"]
    assert past["result_released"] is True
    assert past["result"]["raw"] == 3.0
    assert past["result"]["band"] == "pass"
    # Still nothing started by looking: the second attempt only when asked.
    assert len(shown["attempts"]) == 1
    second_id, second_headers = await begin(client, code)
    assert second_id != attempt_id
    await client.post(f"/api/v1/attempts/{second_id}/submit", headers=second_headers)
    done = await look(client, code)
    assert (done["attempts_used"], done["attempts_allowed"]) == (2, 2)
    assert (done["next_step"], done["blocked_by"]) == ("none", "attempts-exhausted")
    assert [a["number"] for a in done["attempts"]] == [1, 2]
    assert done["attempts"][0]["result"]["raw"] == 3.0

    unknown = await client.post(
        "/api/v1/attempts/lookup", json={"access_code": "ZZZZ-ZZZZ-ZZZZ-ZZZZ"}
    )
    assert unknown.status_code == 404
    assert unknown.json()["type"].endswith("/access-code-invalid")


async def test_the_lookup_says_the_candidates_own_time_and_a_cancelled_administration(
    client: httpx.AsyncClient, make: Factory
) -> None:
    ex = await exam(client, make, time_limit_s=1000)
    administration = ex.administration["id"]
    roster = (
        await client.get(
            f"/api/v1/administrations/{administration}/roster", headers=ex.world.headers
        )
    ).json()
    entries = roster["items"] if isinstance(roster, dict) else roster
    changed = await client.put(
        f"/api/v1/administrations/{administration}/roster/{entries[0]['id']}/accommodations",
        json={"extra_time_multiplier": 1.5, "extra_attempts": 0, "extra_breaks": 0},
        headers=ex.world.headers,
    )
    assert changed.status_code == 200, changed.text
    codes = {e["id"]: c for e, c in zip(entries, ex.codes, strict=False)}
    seen = [await look(client, code) for code in ex.codes]
    limits = sorted(s["assessment"]["candidate_time_limit_s"] for s in seen)
    assert limits == [1000, 1500], codes
    await client.post(f"/api/v1/administrations/{administration}/cancel", headers=ex.world.headers)
    cancelled = await look(client, ex.codes[0])
    assert cancelled["administration"]["cancelled"] is True
    assert (cancelled["next_step"], cancelled["blocked_by"]) == (
        "none",
        "administration-cancelled",
    )
