"""Caliper 1.2: envelopes built from the outbox's events, checked against the Caliper
envelope and event shapes (tests/support/caliper_shape.py), and delivered with a bearer
token to a receiver the test runs, through the same outbox as webhooks."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.support.caliper_shape import envelope_problems
from tests.support.exams import exam, submit_answers, wait_for_state
from tests.support.factories import Factory, login
from tests.support.receivers import Receiver, receiver
from tests.support.settings import make_settings
from waa_ads.core.settings import Settings
from waa_ads.integrations import caliper

BASE = "https://tests.example.org"


def body(kind: str, **data: Any) -> dict[str, Any]:
    ids = {
        "attempt_id": str(uuid.uuid4()),
        "candidate_id": str(uuid.uuid4()),
        "assessment_version_id": str(uuid.uuid4()),
        "administration_id": str(uuid.uuid4()),
        "attempt_number": 1,
    }
    return {
        "id": f"{uuid.uuid4()}.7",
        "type": kind,
        "occurred_at": "2026-12-03T15:06:28.118057Z",
        "organization_id": str(uuid.uuid4()),
        "data": {**ids, **data},
    }


@pytest.mark.parametrize(
    ("kind", "data", "expected"),
    [
        ("attempt.started", {}, [("AssessmentEvent", "Started")]),
        (
            "attempt.submitted",
            {"answered_items": ["Q1", "Q2"]},
            [
                ("AssessmentEvent", "Submitted"),
                ("AssessmentItemEvent", "Completed"),
                ("AssessmentItemEvent", "Completed"),
            ],
        ),
        ("attempt.expired", {}, [("AssessmentEvent", "Submitted")]),
        (
            "result.released",
            {"result": {"revision": 2, "raw": 2.0, "max_raw": 3.0}},
            [("GradeEvent", "Graded")],
        ),
        ("session.logged_in", {"user_id": str(uuid.uuid4())}, [("SessionEvent", "LoggedIn")]),
        ("session.logged_out", {"user_id": str(uuid.uuid4())}, [("SessionEvent", "LoggedOut")]),
    ],
)
def test_each_event_becomes_caliper_events_of_the_right_shape(
    kind: str, data: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    found = caliper.events_for(body(kind, **data), base_url=BASE)
    assert [(e["type"], e["action"]) for e in found] == expected
    envelope = caliper.envelope(found, base_url=BASE, send_time="2026-12-03T15:06:29.5Z")
    assert envelope_problems(envelope) == []
    assert envelope["sendTime"] == "2026-12-03T15:06:29.500Z"
    assert all(e["eventTime"] == "2026-12-03T15:06:28.118Z" for e in found)
    # The same audit event always yields the same event ids (retries, replays).
    same = body(kind, **data)
    first = caliper.events_for(same, base_url=BASE)
    assert [e["id"] for e in first] == [e["id"] for e in caliper.events_for(same, base_url=BASE)]
    assert len({e["id"] for e in first}) == len(first)


def test_the_shape_checks_refuse_what_caliper_does_not_allow() -> None:
    (good,) = caliper.events_for(body("attempt.started"), base_url=BASE)
    envelope = caliper.envelope([good], base_url=BASE, send_time="2026-12-03T15:06:29Z")
    assert envelope_problems(envelope) == []
    broken = [
        ({**envelope, "dataVersion": "http://purl.imsglobal.org/ctx/caliper/v1p1"}, "dataVersion"),
        ({**envelope, "sendTime": "2026-12-03 15:06:29"}, "sendTime"),
        ({**envelope, "data": []}, "non-empty"),
        ({**envelope, "data": [{**good, "action": "Graded"}]}, "action"),
        ({**envelope, "data": [{**good, "id": "event-1"}]}, "urn:uuid"),
        ({**envelope, "data": [{**good, "object": {"id": "x y", "type": "Assessment"}}]}, "IRI"),
        ({**envelope, "data": [{**good, "type": "TestEvent"}]}, "type"),
        ({**envelope, "data": [{**good, "score": 1}]}, "unknown property"),
    ]
    for value, what in broken:
        problems = envelope_problems(value)
        assert any(what in p for p in problems), (what, problems)


def test_unrelated_events_give_no_caliper_event() -> None:
    assert caliper.events_for(body("integrity.decision_made"), base_url=BASE) == []
    assert caliper.events_for(body("session.logged_in"), base_url=BASE) == []  # no user id


@pytest.fixture
def settings() -> Settings:
    return make_settings(integrations_allow_private_urls=True)


@pytest.fixture
def endpoint() -> Iterator[Receiver]:
    with receiver() as r:
        yield r


@pytest.mark.asyncio
async def test_a_caliper_endpoint_receives_valid_envelopes_with_its_bearer_token(
    app: FastAPI, client: httpx.AsyncClient, make: Factory, endpoint: Receiver
) -> None:
    ex = await exam(client, make, candidates=1)
    headers = ex.world.headers
    created = await client.post(
        "/api/v1/integrations/webhooks",
        json={
            "url": endpoint.base_url + "/caliper",
            "format": "caliper",
            "bearer_token": "caliper-secret-token",
            "event_types": [
                "attempt.started",
                "attempt.submitted",
                "attempt.scored",
                "session.logged_in",
            ],
        },
        headers=headers,
    )
    assert created.status_code == 201, created.text
    assert created.json()["format"] == "caliper"
    assert "bearer_token" not in created.json()
    await login(client, ex.world.admin)  # a staff sign-in: a SessionEvent
    attempt_id = await submit_answers(client, ex.codes[0], {"Q1": "B", "Q2": "A"})
    assert await wait_for_state(app, attempt_id, "scored") == "scored"
    await client.post("/api/v1/integrations/dispatch", headers=headers)
    await app.state.background.runner.wait_idle()

    got = endpoint.wait_for("/caliper", 4)
    assert {r.headers["authorization"] for r in got} == {"Bearer caliper-secret-token"}
    events = []
    for r in got:
        assert envelope_problems(r.json()) == [], r.json()
        events += r.json()["data"]
    kinds = sorted((e["type"], e["action"]) for e in events)
    assert kinds == [
        ("AssessmentEvent", "Started"),
        ("AssessmentEvent", "Submitted"),
        ("AssessmentItemEvent", "Completed"),
        ("AssessmentItemEvent", "Completed"),
        ("GradeEvent", "Graded"),
        ("SessionEvent", "LoggedIn"),
    ]
    (grade,) = [e for e in events if e["type"] == "GradeEvent"]
    assert grade["generated"]["scoreGiven"] == 1.0
    assert grade["generated"]["maxScore"] == 3.0
    assert grade["object"]["id"].endswith(f"/caliper/attempts/{attempt_id}")
