"""E-mails in their recipient's language down to their values: an access code's window
and a result's scores written the recipient's way, and a staff member's invitation in the
person's own language before the organization's default."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import Message
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from fastapi import FastAPI
from sqlalchemy import select, update

from tests.support.exams import exam, submit_answers, wait_for_state
from tests.support.factories import Factory, login
from tests.support.servers import free_port
from tests.support.settings import make_settings
from waa_ads.auth.models import Candidate, Role
from waa_ads.core import i18n
from waa_ads.core.settings import Settings
from waa_ads.integrations import mail

NBSP = "\u00a0"


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], Message]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(
            (list(envelope.rcpt_tos), message_from_bytes(envelope.content, policy=policy.default))
        )
        return "250 Message accepted for delivery"

    def text_to(self, address: str) -> tuple[str, str]:
        [(_, message)] = [m for m in self.messages if address in m[0]]
        body = message.get_payload(decode=True).decode()  # type: ignore[union-attr]
        return str(message["Subject"]), body.replace("\r\n", "\n")


@pytest.fixture(scope="module")
def smtp() -> Iterator[Inbox]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    inbox.port = port  # type: ignore[attr-defined]
    try:
        yield inbox
    finally:
        controller.stop()


@pytest.fixture
def settings(smtp: Inbox) -> Settings:
    return make_settings(
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,  # type: ignore[attr-defined]
        smtp_starttls=False,
        smtp_from="Exams <exams@example.org>",
    )


def test_moments_and_figures_are_written_the_languages_way() -> None:
    moment = datetime(2031, 1, 10, 9, 5, tzinfo=UTC)
    with i18n.use_locale("en"):
        assert mail.moment(moment) == "January 10, 2031, 9:05\u202fAM"
        assert mail._number(2.5) == "2.5"
        assert mail._number(1234.5) == "1,234.5"
    with i18n.use_locale("fr"):
        assert mail.moment(moment) == "10 janvier 2031, 09:05"
        assert mail._number(2.5) == "2,5"
        assert mail._number(1234.5) == "1\u202f234,5"
        assert mail._number(3.0) == "3"
        assert mail._number("pass") == "pass" and mail._number(None) is None


async def _french(app: FastAPI, org_id: uuid.UUID, name: str) -> dict[str, Candidate]:
    async with app.state.db.transaction(write=True) as session:
        await session.execute(
            update(Candidate)
            .where(Candidate.organization_id == org_id, Candidate.full_name == name)
            .values(locale="fr")
        )
        return {
            str(c.full_name): c
            for c in await session.scalars(
                select(Candidate).where(Candidate.organization_id == org_id)
            )
        }


@pytest.mark.asyncio
async def test_an_access_codes_window_is_dated_in_the_candidates_language(
    app: FastAPI, client: httpx.AsyncClient, make: Factory, smtp: Inbox
) -> None:
    ex = await exam(client, make, candidates=2)
    changed = await client.patch(
        f"/api/v1/administrations/{ex.administration['id']}",
        json={"opens_at": "2031-01-10T09:00:00Z", "closes_at": "2031-01-10T12:30:00Z"},
        headers=ex.world.headers,
    )
    assert changed.status_code == 200, changed.text
    people = await _french(app, ex.world.org.id, "Cand 0")
    sent = await client.post(
        "/api/v1/integrations/email/access-codes",
        json={"administration_id": ex.administration["id"]},
        headers=ex.world.headers,
    )
    assert sent.status_code == 202, sent.text
    await app.state.background.runner.wait_idle()

    _, french = smtp.text_to(str(people["Cand 0"].email))
    assert "accessible du 10 janvier 2031, 09:00 au 10 janvier 2031, 12:30 (UTC)." in french
    _, english = smtp.text_to(str(people["Cand 1"].email))
    assert (
        "open from January 10, 2031, 9:00\u202fAM to January 10, 2031, 12:30\u202fPM (UTC)."
        in english
    ), english
    assert "2031-01-10" not in french + english


@pytest.mark.asyncio
async def test_a_result_notice_gives_the_scores_the_candidates_way(
    app: FastAPI, client: httpx.AsyncClient, make: Factory, smtp: Inbox
) -> None:
    ex = await exam(client, make, candidates=2)
    headers = ex.world.headers
    saved = await client.put(
        "/api/v1/integrations/email/templates/result_released",
        json={"enabled": True},
        headers=headers,
    )
    assert saved.status_code == 200, saved.text
    people = await _french(app, ex.world.org.id, "Cand 0")
    attempt_id = await submit_answers(client, ex.codes[0], {"Q1": "B", "Q2": "B"})
    assert await wait_for_state(app, attempt_id, "scored") == "scored"
    released = await client.post(f"/api/v1/results/{attempt_id}/release", headers=headers)
    assert released.status_code == 200, released.text
    await client.post("/api/v1/integrations/dispatch", headers=headers)
    await app.state.background.runner.wait_idle()
    subject, text = smtp.text_to(str(people["Cand 0"].email))
    assert subject.startswith("Votre résultat")
    assert f"est disponible{NBSP}: 2 sur 3" in text, text
    assert "2.0" not in text and "3.0" not in text

    # A fractional score: a decimal comma in French, a point in English (the builder, on
    # a released result's facts).
    async with app.state.db.transaction(write=True) as session:
        made = await mail.add_result_notice(
            session,
            ex.world.org.id,
            seq=10_000,
            facts={"attempt_id": attempt_id, "result": {"raw": 2.5, "max_raw": 3.0}},
        )
        assert made is not None
        body = json.loads(made.payload)["body"]
    assert f"est disponible{NBSP}: 2,5 sur 3." in body, body


@pytest.mark.asyncio
async def test_a_staff_invitation_is_written_in_the_persons_own_language(
    app: FastAPI, client: httpx.AsyncClient, make: Factory, smtp: Inbox
) -> None:
    org = await make.organization()
    headers = await login(client, await make.user(org, Role.admin))
    french_address = f"fr-{uuid.uuid4().hex[:6]}@example.org"
    english_address = f"en-{uuid.uuid4().hex[:6]}@example.org"
    for address, locale in ((french_address, "fr"), (english_address, None)):
        invited = await client.post(
            "/api/v1/integrations/email/invitations",
            json={
                "email": address,
                "roles": ["author"],
                "display_name": "Nia",
                **({"locale": locale} if locale else {}),
            },
            headers=headers,
        )
        assert invited.status_code == 201, invited.text
    await app.state.background.runner.wait_idle()
    subject, text = smtp.text_to(french_address)
    assert text.startswith("Bonjour Nia,") and "vous a créé un compte (author)" in text
    assert re.search(r"https://testserver/console/invitation\?token=\S+", text)
    # Without a language of their own: the organization's default, English.
    subject, text = smtp.text_to(english_address)
    assert subject.startswith("You are invited") and text.startswith("Hello Nia,")
    users = (await client.get("/api/v1/users", headers=headers)).json()["items"]
    assert {
        u["email"]: u["locale"] for u in users if u["email"] in (french_address, english_address)
    } == {
        french_address: "fr",
        english_address: None,
    }
