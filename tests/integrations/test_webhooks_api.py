"""Webhook subscriptions and the delivery log over the API, on both backends, with the
in-process runner delivering to a receiver the test runs."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from tests.support.databases import RolledBackDatabase
from tests.support.exams import begin, exam, wait_for_state
from tests.support.factories import Factory, login
from tests.support.receivers import Receiver, receiver
from tests.support.settings import make_settings
from waa_ads.audit import service as audit
from waa_ads.audit.models import AuditEvent
from waa_ads.auth.models import Role
from waa_ads.core.settings import Settings
from waa_ads.integrations import events, signing, webhooks
from waa_ads.main import create_app

pytestmark = pytest.mark.asyncio

EVENTS = ["attempt.started", "attempt.submitted"]


@pytest.fixture
def settings() -> Settings:
    return make_settings(integrations_allow_private_urls=True)


@pytest.fixture
def hooks() -> Iterator[Receiver]:
    with receiver() as r:
        yield r


async def test_a_subscription_shows_its_secret_once_and_refuses_bad_input(
    client: httpx.AsyncClient, make: Factory, hooks: Receiver
) -> None:
    org = await make.organization()
    headers = await login(client, await make.user(org, Role.admin))
    created = await client.post(
        "/api/v1/integrations/webhooks",
        json={"url": hooks.base_url + "/h", "event_types": EVENTS, "description": "CRM"},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["secret"].startswith("whsec_") and body["active"] is True
    listed = await client.get("/api/v1/integrations/webhooks", headers=headers)
    assert [s["id"] for s in listed.json()] == [body["id"]]
    assert "secret" not in listed.json()[0]
    rotated = await client.post(
        f"/api/v1/integrations/webhooks/{body['id']}/rotate-secret", headers=headers
    )
    assert rotated.json()["secret"] not in ("", body["secret"])

    for payload, code in [
        ({"url": "ftp://example.org/x", "event_types": EVENTS}, "integration-url-refused"),
        ({"url": hooks.base_url, "event_types": ["attempt.eaten"]}, "webhook-event-type-unknown"),
    ]:
        refused = await client.post("/api/v1/integrations/webhooks", json=payload, headers=headers)
        assert refused.status_code == 422
        assert refused.json()["type"].endswith(code), refused.text

    # Another organization's admin sees nothing of it; a proctor may not manage webhooks.
    other = await make.organization()
    other_headers = await login(client, await make.user(other, Role.admin))
    hidden = await client.get(f"/api/v1/integrations/webhooks/{body['id']}", headers=other_headers)
    assert hidden.status_code == 404
    assert (await client.get("/api/v1/integrations/webhooks", headers=other_headers)).json() == []
    proctor = await login(client, await make.user(org, Role.proctor))
    assert (await client.get("/api/v1/integrations/webhooks", headers=proctor)).status_code == 403

    deleted = await client.delete(f"/api/v1/integrations/webhooks/{body['id']}", headers=headers)
    assert deleted.status_code == 204


async def test_private_addresses_are_refused_unless_the_deployment_allows_them(
    db: RolledBackDatabase, make: Factory
) -> None:
    app = create_app(make_settings(), database=db)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as c:
            org = await make.organization()
            headers = await login(c, await make.user(org, Role.admin))
            for url in (
                "http://127.0.0.1:8080/h",
                "http://169.254.169.254/latest",
                "http://[::1]/",
            ):
                refused = await c.post(
                    "/api/v1/integrations/webhooks",
                    json={"url": url, "event_types": EVENTS},
                    headers=headers,
                )
                assert refused.status_code == 422, url
                assert "private, loopback" in refused.json()["detail"]


async def test_events_after_the_subscription_are_delivered_signed_and_logged(
    app: FastAPI, client: httpx.AsyncClient, make: Factory, hooks: Receiver
) -> None:
    ex = await exam(client, make, candidates=2)
    headers = ex.world.headers
    # An attempt started before the subscription is not sent.
    await begin(client, ex.codes[0])
    created = await client.post(
        "/api/v1/integrations/webhooks",
        json={"url": hooks.answer("/in", body=b"thanks"), "event_types": EVENTS},
        headers=headers,
    )
    secret = created.json()["secret"]
    attempt_id, credential = await begin(client, ex.codes[1])
    submitted = await client.post(f"/api/v1/attempts/{attempt_id}/submit", headers=credential)
    assert submitted.status_code == 200, submitted.text

    runner = app.state.background.runner
    assert (await client.post("/api/v1/integrations/dispatch", headers=headers)).status_code == 202
    await runner.wait_idle()
    got = hooks.wait_for("/in", 2)
    assert [r.json()["type"] for r in got] == EVENTS
    for r in got:
        assert signing.verify(secret, r.headers["waa-signature"], r.body, now=int(time.time()))
        assert r.headers["waa-event"] == r.json()["type"]
        assert r.json()["data"]["attempt_id"] == attempt_id
        assert r.json()["organization_id"] == str(ex.world.org.id)
    assert got[1].json()["data"]["to"] == "submitted"

    log = await client.get("/api/v1/integrations/deliveries", headers=headers)
    items = log.json()["items"]
    assert [d["event_type"] for d in items] == list(reversed(EVENTS))  # newest first
    assert {d["status"] for d in items} == {"succeeded"}
    assert {d["response_status"] for d in items} == {200}
    assert {d["response_excerpt"] for d in items} == {"thanks"}
    assert all(d["duration_ms"] > 0 and d["attempts"] == 1 for d in items)

    # Dispatching again sends nothing twice; a replay sends the same body, signed anew.
    await client.post("/api/v1/integrations/dispatch", headers=headers)
    await runner.wait_idle()
    replayed = await client.post(
        f"/api/v1/integrations/deliveries/{items[0]['id']}/replay", headers=headers
    )
    assert replayed.status_code == 202, replayed.text
    await runner.wait_idle()
    again = hooks.wait_for("/in", 3)
    assert len(again) == 3 and again[2].body == got[1].body
    detail = await client.get(
        f"/api/v1/integrations/deliveries/{replayed.json()['id']}", headers=headers
    )
    assert detail.json()["replay_of"] == items[0]["id"]
    assert detail.json()["status"] == "succeeded"
    assert json.loads(detail.json()["payload"])["type"] == "attempt.submitted"
    assert len(detail.json()["tries"]) == 1

    other = await make.organization()
    other_headers = await login(client, await make.user(other, Role.admin))
    assert (
        await client.get(f"/api/v1/integrations/deliveries/{items[0]['id']}", headers=other_headers)
    ).status_code == 404
    assert (await client.get("/api/v1/integrations/deliveries", headers=other_headers)).json()[
        "items"
    ] == []


async def test_a_disabled_subscription_cannot_replay_and_is_audited(
    client: httpx.AsyncClient, make: Factory, db: RolledBackDatabase, hooks: Receiver
) -> None:
    org = await make.organization()
    headers = await login(client, await make.user(org, Role.admin))
    sub = (
        await client.post(
            "/api/v1/integrations/webhooks",
            json={"url": hooks.base_url + "/x", "event_types": EVENTS},
            headers=headers,
        )
    ).json()
    patched = await client.patch(
        f"/api/v1/integrations/webhooks/{sub['id']}", json={"active": False}, headers=headers
    )
    assert patched.json()["active"] is False
    async with db.transaction(write=False) as session:
        actions = (
            await session.scalars(
                select(AuditEvent.action).where(AuditEvent.target_id == sub["id"])
            )
        ).all()
    assert actions == ["webhook.subscription_created", "webhook.subscription_updated"]
    bad = await client.get("/api/v1/integrations/deliveries?before=zzz", headers=headers)
    assert bad.status_code == 422


async def test_the_dispatcher_only_takes_organizations_with_something_new(
    client: httpx.AsyncClient, make: Factory, db: RolledBackDatabase, hooks: Receiver
) -> None:
    org = await make.organization()
    headers = await login(client, await make.user(org, Role.admin))
    sub = (
        await client.post(
            "/api/v1/integrations/webhooks",
            json={"url": hooks.base_url + "/x", "event_types": EVENTS},
            headers=headers,
        )
    ).json()

    async def due() -> list[object]:
        async with db.transaction(write=False) as session:
            return list(await webhooks.organizations_due(session))

    assert org.id not in await due()  # the cursor starts at the chain's head
    await client.post(f"/api/v1/integrations/webhooks/{sub['id']}/rotate-secret", headers=headers)
    assert org.id in await due()  # an event past the cursor (not a published one)
    async with db.transaction() as session:
        assert await webhooks.dispatch_organization(session, org.id) == []
    assert org.id not in await due()


@pytest.mark.parametrize("target", ["attempt", "flag"])
async def test_a_raised_integrity_flag_is_published_with_its_attempt(
    app: FastAPI,
    client: httpx.AsyncClient,
    make: Factory,
    db: RolledBackDatabase,
    hooks: Receiver,
    target: str,
) -> None:
    """The audit event the analysis writes when it raises a flag becomes the public
    ``integrity.flag_raised`` with the attempt's ids, whether the event names the attempt
    as its target or names the flag and carries the attempt in its data."""
    assert "integrity.flag_raised" in events.EVENT_TYPES
    ex = await exam(client, make, candidates=1)
    headers = ex.world.headers
    created = await client.post(
        "/api/v1/integrations/webhooks",
        json={"url": hooks.base_url + "/flags", "event_types": ["integrity.flag_raised"]},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    listed = await client.get("/api/v1/integrations/event-types", headers=headers)
    assert "integrity.flag_raised" in listed.json()["event_types"]
    attempt_id, _ = await begin(client, ex.codes[0])
    flag_id = str(uuid.uuid4())
    async with db.transaction() as session:
        await audit.record(
            session,
            organization_id=ex.world.org.id,
            action="integrity.flag_raised",
            actor=audit.SYSTEM_ACTOR,
            target_type="attempt" if target == "attempt" else "integrity_flag",
            target_id=attempt_id if target == "attempt" else flag_id,
            # The integrity analysis's own shape (the attempt as target and in the data),
            # and one that names the flag as the target.
            data={
                "flag_id": flag_id,
                "attempt_id": attempt_id,
                "rule": "tab-away",
                "severity": "high",
            },
        )
    await client.post("/api/v1/integrations/dispatch", headers=headers)
    await app.state.background.runner.wait_idle()
    (got,) = hooks.wait_for("/flags", 1)
    body = got.json()
    assert body["type"] == "integrity.flag_raised"
    assert got.headers["waa-event"] == "integrity.flag_raised"
    data = body["data"]
    assert data["attempt_id"] == attempt_id
    assert data["candidate_id"] and data["administration_id"] == ex.administration["id"]
    assert (data["flag_id"], data["rule"], data["severity"]) == (flag_id, "tab-away", "high")
    assert "decision_kind" not in data  # a flag is not a decision


async def test_flags_the_analysis_raises_reach_a_subscriber(
    app: FastAPI, client: httpx.AsyncClient, make: Factory, hooks: Receiver
) -> None:
    """End to end: a candidate who left the test often and pasted is flagged by the
    integrity analysis; each raised flag arrives as ``integrity.flag_raised``."""
    from tests.integrity.test_review_api import _setup, _sit

    setup = await _setup(client, make, candidates=1)
    headers = setup.world.headers
    created = await client.post(
        "/api/v1/integrations/webhooks",
        json={"url": hooks.base_url + "/raised", "event_types": ["integrity.flag_raised"]},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    events_sent = ["focus_lost", "focus_regained", "focus_lost", "focus_regained", "paste"]
    attempt_id, _ = await _sit(client, setup.codes[0], {"Q1": "B"}, events_sent)
    assert await wait_for_state(app, attempt_id, "scored") == "scored"
    await client.post("/api/v1/integrations/dispatch", headers=headers)
    await app.state.background.runner.wait_idle()
    got = hooks.wait_for("/raised", 2)
    flags = sorted((r.json()["data"] for r in got), key=lambda d: d["rule"])
    assert [(d["rule"], d["severity"], d["attempt_id"]) for d in flags] == [
        ("left-often", "high", attempt_id),
        ("pasted", "low", attempt_id),
    ]
    assert all(uuid.UUID(d["flag_id"]) and d["candidate_id"] for d in flags)
