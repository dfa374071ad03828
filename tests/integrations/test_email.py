"""E-mail: result notices in the organization's wording, sent through SMTP to a local
server the test starts (aiosmtpd), through the outbox and its delivery log."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import Message
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from fastapi import FastAPI
from sqlalchemy import select

from tests.support.databases import RolledBackDatabase
from tests.support.exams import begin, exam, submit_answers, wait_for_state
from tests.support.factories import Factory, login
from tests.support.servers import free_port
from tests.support.settings import make_settings
from waa_ads.audit.models import AuditEvent
from waa_ads.auth.deps import Principal
from waa_ads.auth.models import Candidate, Role
from waa_ads.core.settings import Settings
from waa_ads.integrations import access_codes
from waa_ads.integrations.models import IntegrationDelivery

pytestmark = pytest.mark.asyncio


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], Message]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(
            (list(envelope.rcpt_tos), message_from_bytes(envelope.content, policy=policy.default))
        )
        return "250 Message accepted for delivery"


@pytest.fixture(scope="module")
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


@pytest.fixture
def settings(smtp: tuple[Inbox, int]) -> Settings:
    return make_settings(
        smtp_host="127.0.0.1",
        smtp_port=smtp[1],
        smtp_starttls=False,
        smtp_from="Exams <exams@example.org>",
    )


async def test_a_released_result_is_mailed_in_the_organizations_wording(
    app: FastAPI, client: httpx.AsyncClient, make: Factory, smtp: tuple[Inbox, int]
) -> None:
    inbox, _ = smtp
    ex = await exam(client, make, candidates=1)
    headers = ex.world.headers
    url = "/api/v1/integrations/email/templates/result_released"
    default = await client.get(url, headers=headers)
    assert default.json()["enabled"] is False and default.json()["default"] is True
    assert "score" in default.json()["variables"]

    for subject, reason in (
        ("{{ nope }}", "undefined"),
        ("{{ ''.__class__.__mro__ }}", "unsafe"),
        ("{% if %}", "does not render"),
    ):
        refused = await client.put(url, json={"enabled": True, "subject": subject}, headers=headers)
        assert refused.status_code == 422, refused.text
        assert refused.json()["type"].endswith("email-template-invalid")
        assert reason in refused.json()["detail"] or "does not render" in refused.json()["detail"]

    saved = await client.put(
        url,
        json={"enabled": True, "subject": "Résultat : {{ score }} / {{ max_score }}"},
        headers=headers,
    )
    assert saved.status_code == 200, saved.text
    assert saved.json()["enabled"] is True and saved.json()["default"] is False

    attempt_id = await submit_answers(client, ex.codes[0], {"Q1": "B", "Q2": "B"})
    assert await wait_for_state(app, attempt_id, "scored") == "scored"
    released = await client.post(f"/api/v1/results/{attempt_id}/release", headers=headers)
    assert released.status_code == 200, released.text
    await client.post("/api/v1/integrations/dispatch", headers=headers)
    await app.state.background.runner.wait_idle()

    async with app.state.db.transaction(write=False) as session:
        candidate = (
            await session.scalars(
                select(Candidate).where(Candidate.organization_id == ex.world.org.id)
            )
        ).one()
    # The server files a message before it answers 250, so it is here once sent.
    [(_, message)] = [m for m in inbox.messages if candidate.email in m[0]]
    assert message["From"] == "Exams <exams@example.org>"
    assert message["Subject"] == "Résultat : 2 / 3"
    text = message.get_payload(decode=True).decode()  # type: ignore[union-attr]
    assert f"Hello {candidate.full_name}" in text and "2 of 3" in text

    log = (
        await client.get(
            "/api/v1/integrations/deliveries", params={"channel": "email"}, headers=headers
        )
    ).json()["items"]
    assert [(d["status"], d["target"], d["attempts"]) for d in log] == [
        ("succeeded", candidate.email, 1)
    ]
    unknown = await client.get("/api/v1/integrations/email/templates/newsletter", headers=headers)
    assert unknown.status_code == 422

    # Erasing the candidate clears the address and the text from the log; replaying such
    # an e-mail sends nothing.
    erased = await client.post(f"/api/v1/candidates/{candidate.id}/erase", headers=headers)
    assert erased.status_code == 200, erased.text
    detail = (
        await client.get(f"/api/v1/integrations/deliveries/{log[0]['id']}", headers=headers)
    ).json()
    assert (detail["target"], detail["status"]) == ("(erased)", "succeeded")
    assert candidate.full_name not in detail["payload"] and "@" not in detail["payload"]
    async with app.state.db.transaction(write=False) as session:
        rows = (await session.scalars(select(IntegrationDelivery.payload))).all()
    assert not [p for p in rows if candidate.email in p or candidate.full_name in p]
    replayed = await client.post(
        f"/api/v1/integrations/deliveries/{log[0]['id']}/replay", headers=headers
    )
    assert replayed.status_code == 202, replayed.text
    await app.state.background.runner.wait_idle()
    copy = (
        await client.get(
            f"/api/v1/integrations/deliveries/{replayed.json()['id']}", headers=headers
        )
    ).json()
    assert (copy["status"], copy["error"]) == ("cancelled", "the candidate was erased")
    assert len([m for m in inbox.messages if candidate.email in m[0]]) == 1


async def test_access_codes_are_mailed_new_and_never_kept_in_clear(
    app: FastAPI,
    client: httpx.AsyncClient,
    make: Factory,
    smtp: tuple[Inbox, int],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Sending access codes issues each chosen candidate a new code (the old one stops
    working) and e-mails it with the link through the worker; a candidate mid-attempt is
    skipped. The code appears in no log, no delivery row and no audit event, and a
    replay has nothing to send."""
    inbox, _ = smtp
    ex = await exam(client, make, candidates=3)
    headers = ex.world.headers
    administration_id = ex.administration["id"]
    roster = (
        await client.get(f"/api/v1/administrations/{administration_id}/roster", headers=headers)
    ).json()
    await begin(client, ex.codes[2])  # mid-attempt: not sent a new code

    url = "/api/v1/integrations/email/templates/access_code"
    refused = await client.put(
        url,
        json={"enabled": True, "body": "Hello {{ candidate }}, see {{ link }}."},
        headers=headers,
    )
    assert refused.status_code == 422 and "{{ code }}" in refused.json()["detail"]
    saved = await client.put(
        url,
        json={
            "enabled": True,
            "subject": "Code for {{ administration }}",
            "body": "Dear {{ candidate }}: {{ link }} with {{ code }} ({{ opens_at }}).",
        },
        headers=headers,
    )
    assert saved.status_code == 200, saved.text
    assert "code" in saved.json()["variables"]

    unknown = await client.post(
        "/api/v1/integrations/email/access-codes",
        json={"administration_id": administration_id, "entry_ids": [str(uuid.uuid4())]},
        headers=headers,
    )
    assert unknown.status_code == 404, unknown.text

    sent = await client.post(
        "/api/v1/integrations/email/access-codes",
        json={"administration_id": administration_id},
        headers=headers,
    )
    assert sent.status_code == 202, sent.text
    body = sent.json()
    queued = {q["entry_id"] for q in body["queued"]}
    assert len(queued) == 2 and {e["id"] for e in roster} == queued | {
        k["entry_id"] for k in body["skipped"]
    }
    assert [k["reason"] for k in body["skipped"]] == [
        "the candidate has an attempt in progress (a new code would end it)"
    ]
    await app.state.background.runner.wait_idle()

    async with app.state.db.transaction(write=False) as session:
        people = {
            c.id: c
            for c in await session.scalars(
                select(Candidate).where(Candidate.organization_id == ex.world.org.id)
            )
        }
    new_codes = []
    for entry in [e for e in roster if e["id"] in queued]:
        person = people[uuid.UUID(entry["candidate_id"])]
        [(_, message)] = [m for m in inbox.messages if person.email in m[0]]
        assert message["Subject"] == "Code for Now"
        text = message.get_payload(decode=True).decode()  # type: ignore[union-attr]
        found = re.search(r"https://testserver/take with ([A-Z0-9-]+) \(", text)
        assert found and text.startswith(f"Dear {person.full_name}:"), text
        new_codes.append(found.group(1))
    # The new codes open the test; the codes they replace no longer do.
    assert (
        await client.post("/api/v1/attempts", json={"access_code": ex.codes[0]})
    ).status_code in (
        401,
        404,
    )
    attempt_id, _ = await begin(client, new_codes[0])
    assert attempt_id

    log = (
        await client.get(
            "/api/v1/integrations/deliveries", params={"channel": "email"}, headers=headers
        )
    ).json()["items"]
    assert {(d["event_type"], d["status"]) for d in log} == {("access_code", "succeeded")}
    detail = (
        await client.get(f"/api/v1/integrations/deliveries/{log[0]['id']}", headers=headers)
    ).json()
    assert "[access code]" in json.loads(detail["payload"])["body"]
    async with app.state.db.transaction(write=False) as session:
        stored = [
            *(await session.scalars(select(IntegrationDelivery.payload))).all(),
            *(await session.scalars(select(AuditEvent.canonical))).all(),
        ]
    logged = capsys.readouterr()
    for code in new_codes:
        assert not [s for s in stored if code in s]
        assert code not in logged.err and code not in logged.out
    assert not [s for s in stored if "sealed" in s]  # dropped once sent

    replayed = await client.post(
        f"/api/v1/integrations/deliveries/{log[0]['id']}/replay", headers=headers
    )
    await app.state.background.runner.wait_idle()
    copy = (
        await client.get(
            f"/api/v1/integrations/deliveries/{replayed.json()['id']}", headers=headers
        )
    ).json()
    assert copy["status"] == "cancelled" and "no longer kept" in copy["error"]


async def test_access_codes_are_not_replaced_without_an_smtp_server(
    db: RolledBackDatabase, make: Factory
) -> None:
    org = await make.organization()
    async with db.transaction() as session:
        with pytest.raises(access_codes.EmailNotConfigured):
            await access_codes.send_access_codes(
                session,
                make_settings(),
                Principal.system(org.id, via="test"),
                uuid.uuid4(),
                base_url="https://testserver",
            )


async def test_a_staff_member_is_invited_by_email_and_sets_a_password(
    app: FastAPI,
    client: httpx.AsyncClient,
    make: Factory,
    smtp: tuple[Inbox, int],
) -> None:
    """The account is made without a password and the person gets the link that sets
    one; the link is in no reply and no stored row."""
    inbox, _ = smtp
    org = await make.organization()
    headers = await login(client, await make.user(org, Role.admin))
    address = f"new-author-{uuid.uuid4().hex[:6]}@example.org"
    with_password = await client.post(
        "/api/v1/integrations/email/invitations",
        json={"email": address, "roles": ["author"], "password": "a-long-enough-password-1"},
        headers=headers,
    )
    assert with_password.status_code == 422
    assert with_password.json()["type"].endswith("invitation-has-password")
    invited = await client.post(
        "/api/v1/integrations/email/invitations",
        json={"email": address, "roles": ["author"], "display_name": "Nia Author"},
        headers=headers,
    )
    assert invited.status_code == 201, invited.text
    assert set(invited.json()) == {"user_id", "email", "delivery_id"}
    await app.state.background.runner.wait_idle()
    [(_, message)] = [m for m in inbox.messages if address in m[0]]
    text = message.get_payload(decode=True).decode()  # type: ignore[union-attr]
    assert text.startswith("Hello Nia Author,") and "(author)" in text
    found = re.search(r"https://testserver/console/invitation\?token=(\S+)", text)
    assert found, text
    token = found.group(1)
    async with app.state.db.transaction(write=False) as session:
        stored = (await session.scalars(select(IntegrationDelivery.payload))).all()
    assert not [s for s in stored if token in s] and not [s for s in stored if "sealed" in s]
    accepted = await client.post(
        "/api/v1/auth/invitations/accept",
        json={"token": token, "password": "a-long-enough-password-1"},
    )
    assert accepted.status_code in (200, 204), accepted.text
    again = await client.post(
        "/api/v1/integrations/email/invitations",
        json={"email": address, "roles": ["author"]},
        headers=headers,
    )
    assert again.status_code == 409  # the account exists
