"""E-mail: result notices in the organization's wording, sent through SMTP to a local
server the test starts (aiosmtpd), through the outbox and its delivery log."""

from __future__ import annotations

from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import Message
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from fastapi import FastAPI
from sqlalchemy import select

from tests.support.exams import exam, submit_answers, wait_for_state
from tests.support.factories import Factory
from tests.support.servers import free_port
from tests.support.settings import make_settings
from waa_ads.auth.models import Candidate
from waa_ads.core.settings import Settings
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
    assert message["Subject"] == "Résultat : 2.0 / 3.0"
    text = message.get_payload(decode=True).decode()  # type: ignore[union-attr]
    assert f"Hello {candidate.full_name}" in text and "2.0 of 3.0" in text

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
