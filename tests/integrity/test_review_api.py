"""The integrity API end to end, on both backends: policies saved and refused, publishing
with a policy name, analysis of an ended attempt from its events and saves, the reviewers'
queue and timeline, decisions (roles, invalidation with the result withheld, audit), the
candidate's view and appeal, similarity runs, the sweep, and tenancy."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import delete, select

from tests.support.exams import World, begin, wait_for_state
from tests.support.factories import Factory, login
from tests.support.problems import problem
from waa_ads.audit.models import AuditEvent
from waa_ads.auth.models import Role
from waa_ads.integrity import service as integrity_service
from waa_ads.integrity.models import IntegritySummary

pytestmark = pytest.mark.asyncio

POLICY = """\
format: 1
appeals: true
rules:
  - id: left-often
    when: focus_loss_count >= 2
    severity: high
    reason: Left the test window {focus_loss_count} times
  - id: pasted
    when: paste_count > 0
    severity: low
    reason: Pasted text
"""


async def _summary_of(
    client: httpx.AsyncClient, attempt_id: str, headers: dict[str, str]
) -> dict[str, Any]:
    """The attempt's summary once its end-of-attempt analysis has run (within 10 s)."""
    deadline = asyncio.get_running_loop().time() + 10
    while (got := await client.get(f"/api/v1/integrity/attempts/{attempt_id}", headers=headers)
           ).status_code != 200:  # fmt: skip
        assert asyncio.get_running_loop().time() < deadline, got.text
        await asyncio.sleep(0.05)
    body: dict[str, Any] = got.json()
    return body


class Setup:
    def __init__(self, world: World, administration: dict[str, Any], codes: list[str]) -> None:
        self.world = world
        self.administration = administration
        self.codes = codes


async def _setup(
    client: httpx.AsyncClient, make: Factory, *, candidates: int = 2, policy: str = POLICY
) -> Setup:
    world = await World(client, make).setup(tagged={"Q1": [], "Q2": [], "Q3": []})
    saved = await client.put(
        "/api/v1/integrity/policies/strict", json={"source": policy}, headers=world.headers
    )
    assert saved.status_code == 200, saved.text
    body = world.definition(
        sections=[
            {
                "identifier": "s",
                "title": "S",
                "items": [{"item_id": world.items[k]} for k in ("Q1", "Q2", "Q3")],
            }
        ],
        integrity_policy="strict",
    )
    created = await client.post(
        "/api/v1/assessments", json={"slug": "exam", "definition": body}, headers=world.headers
    )
    assert created.status_code == 201, created.text
    published = await client.post(
        f"/api/v1/assessments/{created.json()['assessment']['id']}/publish", headers=world.headers
    )
    assert published.status_code == 200, published.text
    world.proctor = await make.user(world.org, Role.proctor)
    now = datetime.now(UTC)
    administration = await client.post(
        "/api/v1/administrations",
        json={
            "assessment_version_id": published.json()["version"]["id"],
            "title": "Now",
            "opens_at": (now - timedelta(minutes=1)).isoformat(),
            "closes_at": (now + timedelta(hours=3)).isoformat(),
            "proctor_ids": [str(world.proctor.user.id)],
        },
        headers=world.headers,
    )
    assert administration.status_code == 201, administration.text
    people = [await make.candidate(world.org, name=f"Cand {n}") for n in range(candidates)]
    roster = await client.post(
        f"/api/v1/administrations/{administration.json()['id']}/roster",
        json={"entries": [{"candidate_id": str(p.id)} for p in people]},
        headers=world.headers,
    )
    assert roster.status_code == 201, roster.text
    return Setup(world, administration.json(), [e["access_code"] for e in roster.json()])


async def _sit(
    client: httpx.AsyncClient, code: str, answers: dict[str, str], events: list[str]
) -> tuple[str, dict[str, str]]:
    attempt_id, headers = await begin(client, code)
    if events:
        sent = await client.post(
            f"/api/v1/attempts/{attempt_id}/events",
            json={
                "events": [
                    {"kind": kind, "client_time": f"2026-12-03T09:00:{n:02d}Z", "data": {}}
                    for n, kind in enumerate(events)
                ]
            },
            headers=headers,
        )
        assert sent.status_code in (200, 201, 202), sent.text
    for seq, (ref, value) in enumerate(answers.items(), start=1):
        saved = await client.put(
            f"/api/v1/attempts/{attempt_id}/responses/{ref}",
            json={"seq": seq, "value": value, "time_spent_ms": 20_000},
            headers=headers,
        )
        assert saved.status_code == 200, saved.text
    submitted = await client.post(f"/api/v1/attempts/{attempt_id}/submit", headers=headers)
    assert submitted.status_code == 200, submitted.text
    return attempt_id, headers


async def test_policies_are_versioned_and_bad_ones_refused(
    client: httpx.AsyncClient, make: Factory
) -> None:
    world = await World(client, make).setup()
    bad = await client.put(
        "/api/v1/integrity/policies/strict",
        json={"source": POLICY.replace("focus_loss_count >= 2", "focus_lost >= 2")},
        headers=world.headers,
    )
    assert (bad.status_code, problem(bad)) == (422, "integrity-policy-invalid")
    assert bad.json()["problems"] == [
        {"field": "rules[0].when", "line": 5, "reason": "unknown signal 'focus_lost'"}
    ]
    first = await client.put(
        "/api/v1/integrity/policies/strict", json={"source": POLICY}, headers=world.headers
    )
    second = await client.put(
        "/api/v1/integrity/policies/strict",
        json={"source": POLICY.replace(">= 2", ">= 3")},
        headers=world.headers,
    )
    assert (first.json()["version"], second.json()["version"]) == (1, 2)
    old = await client.get("/api/v1/integrity/policies/strict?version=1", headers=world.headers)
    assert old.json()["source"] == POLICY
    listed = await client.get("/api/v1/integrity/policies", headers=world.headers)
    assert [(p["name"], p["current_version"]) for p in listed.json()] == [("strict", 2)]
    missing = await client.get("/api/v1/integrity/policies/lenient", headers=world.headers)
    assert (missing.status_code, problem(missing)) == (404, "integrity-policy-not-found")
    proctor = await login(client, await make.user(world.org, Role.proctor))
    refused = await client.put(
        "/api/v1/integrity/policies/strict", json={"source": POLICY}, headers=proctor
    )
    assert (refused.status_code, problem(refused)) == (403, "role-required")


async def test_publishing_refuses_an_unknown_policy(
    client: httpx.AsyncClient, make: Factory
) -> None:
    world = await World(client, make).setup()
    created = await client.post(
        "/api/v1/assessments",
        json={"slug": "xx", "definition": world.definition(integrity_policy="nowhere")},
        headers=world.headers,
    )
    assert created.status_code == 201, created.text
    refused = await client.post(
        f"/api/v1/assessments/{created.json()['assessment']['id']}/publish",
        headers=world.headers,
    )
    assert (refused.status_code, problem(refused)) == (422, "unknown-integrity-policy")
    assert "nowhere" in refused.json()["detail"]


async def test_analysis_review_invalidation_and_appeal(
    app: FastAPI, client: httpx.AsyncClient, make: Factory
) -> None:
    setup = await _setup(client, make, candidates=3)
    admin = setup.world.headers
    events = ["focus_lost", "focus_regained", "focus_lost", "focus_regained", "copy"]
    flagged_id, credential = await _sit(
        client, setup.codes[0], {"Q1": "B", "Q2": "A", "Q3": "B"}, events
    )
    clean_id, _ = await _sit(client, setup.codes[1], {"Q1": "B"}, [])
    paster_id, _ = await _sit(client, setup.codes[2], {"Q1": "B"}, ["paste"])
    for attempt_id in (flagged_id, clean_id, paster_id):
        assert await wait_for_state(app, attempt_id, "scored") == "scored"

    # Each attempt is analysed as it ends (delivery queues integrity.analyse_attempt); the
    # sweep catches up with one whose job was lost, once.
    for attempt_id in (flagged_id, clean_id, paster_id):
        await _summary_of(client, attempt_id, admin)
    async with app.state.db.transaction() as session:
        await session.execute(
            delete(IntegritySummary).where(IntegritySummary.attempt_id == uuid.UUID(clean_id))
        )
    assert await integrity_service.analyse_pending(app.state.db) == 1
    assert await integrity_service.analyse_pending(app.state.db) == 0  # idempotent

    summary = await client.get(f"/api/v1/integrity/attempts/{flagged_id}", headers=admin)
    assert summary.status_code == 200, summary.text
    body = summary.json()
    assert (body["status"], body["flag_count"], body["top_severity"]) == ("open", 1, "high")
    assert (body["policy_name"], body["policy_version"]) == ("strict", 1)
    [flag] = body["flags"]
    assert flag["reason"] == "Left the test window 2 times"
    assert len(flag["evidence"]) == 2 and flag["evidence"][0]["signal"] == "focus_loss_count"
    assert body["signals"]["copy_count"]["value"] == 1
    clean = await client.get(f"/api/v1/integrity/attempts/{clean_id}", headers=admin)
    assert clean.json()["status"] == "clear"

    queue = await client.get("/api/v1/integrity/queue", headers=admin)
    assert [(q["attempt_id"], q["top_severity"], q["reasons"]) for q in queue.json()["items"]] == [
        (flagged_id, "high", ["Left the test window 2 times"]),  # most severe first
        (paster_id, "low", ["Pasted text"]),
    ]
    assert queue.json()["next_cursor"] is None
    top = queue.json()["items"][0]
    assert top["top_reason"] == "Left the test window 2 times"
    timeline_of_top = await client.get(
        f"/api/v1/integrity/attempts/{flagged_id}/timeline", headers=admin
    )
    assert top["candidate_id"] == timeline_of_top.json()["candidate_id"]
    first = await client.get("/api/v1/integrity/queue?limit=1", headers=admin)
    assert [q["attempt_id"] for q in first.json()["items"]] == [flagged_id]
    rest = await client.get(
        "/api/v1/integrity/queue",
        params={"limit": 1, "cursor": first.json()["next_cursor"]},
        headers=admin,
    )
    assert [q["attempt_id"] for q in rest.json()["items"]] == [paster_id]
    assert rest.json()["next_cursor"] is None
    bad = await client.get("/api/v1/integrity/queue?cursor=zz", headers=admin)
    assert (bad.status_code, problem(bad)) == (422, "invalid-cursor")
    timeline = await client.get(f"/api/v1/integrity/attempts/{flagged_id}/timeline", headers=admin)
    assert timeline.status_code == 200, timeline.text
    line = timeline.json()
    assert [e["kind"] for e in line["events"]] == events
    evidence_ids = {flag["evidence"][0]["from_event"], flag["evidence"][1]["from_event"]}
    assert evidence_ids <= {e["id"] for e in line["events"]}
    assert [s["item_ref"] for s in line["saves"]] == ["Q1", "Q2", "Q3"]
    assert [s["status"] for s in line["saves"]] == ["accepted"] * 3
    assert line["saves"][1]["value"]["value"] == "A"
    assert line["network_address"] is None and line["state"] == "scored"

    # The administration's proctor reviews, but only an admin invalidates.
    proctor = await login(client, setup.world.proctor)
    assert (await client.get("/api/v1/integrity/queue", headers=proctor)).json()["items"][0][
        "attempt_id"
    ] == flagged_id
    refused = await client.post(
        f"/api/v1/integrity/attempts/{flagged_id}/decisions",
        json={"kind": "invalidate", "reason": "left twice"},
        headers=proctor,
    )
    assert (refused.status_code, problem(refused)) == (403, "integrity-decision-not-allowed")
    no_reason = await client.post(
        f"/api/v1/integrity/attempts/{flagged_id}/decisions",
        json={"kind": "warn", "reason": ""},
        headers=proctor,
    )
    assert no_reason.status_code == 422
    warned = await client.post(
        f"/api/v1/integrity/attempts/{flagged_id}/decisions",
        json={"kind": "warn", "reason": "left the window twice"},
        headers=proctor,
    )
    assert warned.status_code == 201, warned.text
    other_proctor = await login(client, await make.user(setup.world.org, Role.proctor))
    hidden = await client.get(
        f"/api/v1/integrity/attempts/{flagged_id}/timeline", headers=other_proctor
    )
    assert (hidden.status_code, problem(hidden)) == (404, "attempt-not-found")
    assert (await client.get("/api/v1/integrity/queue", headers=other_proctor)).json()[
        "items"
    ] == []

    invalidated = await client.post(
        f"/api/v1/integrity/attempts/{flagged_id}/decisions",
        json={"kind": "invalidate", "reason": "a second person was seen answering"},
        headers=admin,
    )
    assert invalidated.status_code == 201, invalidated.text
    assert await wait_for_state(app, flagged_id, "invalidated") == "invalidated"
    result = await client.get(f"/api/v1/results/{flagged_id}", headers=admin)
    assert result.json()["latest"]["withheld"] is True
    shown = await client.get(f"/api/v1/attempts/{flagged_id}/result", headers=credential)
    assert (shown.status_code, problem(shown)) == (404, "result-not-released")
    again = await client.post(
        f"/api/v1/integrity/attempts/{flagged_id}/decisions",
        json={"kind": "invalidate", "reason": "twice"},
        headers=admin,
    )
    assert (again.status_code, problem(again)) == (409, "illegal-transition")
    decided = await client.get("/api/v1/integrity/queue?status=decided", headers=admin)
    assert [q["attempt_id"] for q in decided.json()["items"]] == [flagged_id]

    async with app.state.db.transaction(write=False) as session:
        actions = (
            await session.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.target_id == flagged_id)
                .order_by(AuditEvent.seq)
            )
        ).all()
    assert [
        a for a in actions if a.startswith(("integrity.", "attempt.invalidate", "result.withheld"))
    ] == [
        "integrity.flag_raised",  # by the analysis, once, however often it ran
        "integrity.warn",
        "attempt.invalidate",
        "result.withheld",
        "integrity.invalidate",
    ]

    # The candidate sees the flags and decisions, never a partner, and appeals.
    view = await client.get(
        f"/api/v1/integrity/candidate/attempts/{flagged_id}", headers=credential
    )
    assert view.status_code == 200, view.text
    assert view.json()["can_appeal"] is True
    assert [d["kind"] for d in view.json()["decisions"]] == ["warn", "invalidate"]
    assert view.json()["flags"][0]["reason"] == "Left the test window 2 times"
    appealed = await client.post(
        f"/api/v1/integrity/candidate/attempts/{flagged_id}/appeal",
        json={"reason": "My cat walked over the keyboard."},
        headers=credential,
    )
    assert appealed.status_code == 201, appealed.text
    decisions = await client.get(
        f"/api/v1/integrity/attempts/{flagged_id}/decisions", headers=admin
    )
    assert [(d["kind"], d["actor_type"]) for d in decisions.json()] == [
        ("warn", "user"),
        ("invalidate", "user"),
        ("appeal", "candidate"),
    ]
    wrong = await client.get(
        f"/api/v1/integrity/candidate/attempts/{flagged_id}",
        headers={"X-Attempt-Token": "nope"},
    )
    assert (wrong.status_code, problem(wrong)) == (404, "attempt-not-found")


async def test_appeals_follow_the_policy(
    app: FastAPI, client: httpx.AsyncClient, make: Factory
) -> None:
    setup = await _setup(client, make, policy=POLICY.replace("appeals: true", "appeals: false"))
    attempt_id, credential = await _sit(client, setup.codes[0], {"Q1": "B"}, [])
    view = await client.get(
        f"/api/v1/integrity/candidate/attempts/{attempt_id}", headers=credential
    )
    assert (view.status_code, problem(view)) == (403, "appeal-not-allowed")
    setup2 = await _setup(client, make)
    attempt_id, credential = await _sit(client, setup2.codes[0], {"Q1": "B"}, [])
    early = await client.post(
        f"/api/v1/integrity/candidate/attempts/{attempt_id}/appeal",
        json={"reason": "why?"},
        headers=credential,
    )
    assert (early.status_code, problem(early)) == (409, "nothing-to-appeal")


async def test_similarity_runs_on_request_and_tenancy_holds(
    app: FastAPI, client: httpx.AsyncClient, make: Factory
) -> None:
    setup = await _setup(client, make, candidates=3)
    admin = setup.world.headers
    administration_id = setup.administration["id"]
    ids = [
        (await _sit(client, code, {"Q1": "B", "Q2": "A", "Q3": "C"}, ["paste"]))[0]
        for code in setup.codes
    ]
    none_yet = await client.get(
        f"/api/v1/integrity/administrations/{administration_id}/similarity", headers=admin
    )
    assert (none_yet.status_code, problem(none_yet)) == (404, "similarity-not-run")
    requested = await client.post(
        f"/api/v1/integrity/administrations/{administration_id}/similarity", headers=admin
    )
    assert requested.status_code == 202, requested.text
    assert requested.json()["task"] == "integrity.analyse_similarity"
    report = httpx.Response(404)
    for _ in range(200):
        report = await client.get(
            f"/api/v1/integrity/administrations/{administration_id}/similarity", headers=admin
        )
        if report.status_code == 200:
            break
        await asyncio.sleep(0.05)
    assert report.status_code == 200, report.text
    run = report.json()["run"]
    assert (run["candidates"], run["items"], run["tests"]) == (3, 3, 6)
    assert run["correction"] == "bh" and run["alpha"] == 0.01
    assert report.json()["pairs"] == []  # three items cannot show anything beyond chance

    analysed = await client.post(f"/api/v1/integrity/attempts/{ids[0]}/analyse", headers=admin)
    assert analysed.status_code == 200
    assert analysed.json()["flags"][0]["rule"] == "pasted"

    # A second organization sees nothing of the first.
    other = await World(client, make).setup()
    for url in (
        f"/api/v1/integrity/attempts/{ids[0]}",
        f"/api/v1/integrity/attempts/{ids[0]}/timeline",
        f"/api/v1/integrity/administrations/{administration_id}/similarity",
    ):
        seen = await client.get(url, headers=other.headers)
        assert seen.status_code == 404, url
    assert (await client.get("/api/v1/integrity/queue", headers=other.headers)).json()[
        "items"
    ] == []
    assert (await client.get("/api/v1/integrity/policies", headers=other.headers)).json() == []
    decided = await client.post(
        f"/api/v1/integrity/attempts/{ids[0]}/decisions",
        json={"kind": "dismiss", "reason": "not ours"},
        headers=other.headers,
    )
    assert decided.status_code == 404
    assert uuid.UUID(ids[0])
