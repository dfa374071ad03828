"""The integrations area in process (no browser): launched LTI links with a button that
queues a roster sync for a worker and the sync's progress and outcome in the table; new
access codes e-mailed to a roster (to a local SMTP server), and their wording."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI

from tests.integrations.test_email import Inbox, smtp
from tests.integrations.test_lti import launch
from tests.support.console import console_sign_in, post_form
from tests.support.exams import exam
from tests.support.factories import Factory
from tests.support.lti_platform import LEARNER, Platform
from tests.support.receivers import receiver
from tests.support.settings import make_settings
from waa_ads.core.settings import Settings
from waa_ads.integrations.lti import binding_signature

pytestmark = pytest.mark.asyncio
__all__ = ["smtp"]  # the SMTP server fixture, shared with the e-mail tests


@pytest.fixture
def settings(smtp: tuple[Inbox, int]) -> Settings:
    return make_settings(
        integrations_allow_private_urls=True,
        smtp_host="127.0.0.1",
        smtp_port=smtp[1],
        smtp_starttls=False,
    )


@pytest.fixture
def platform() -> Iterator[Platform]:
    with receiver() as r:
        yield Platform(r)


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


async def test_a_link_roster_sync_is_queued_and_followed_from_the_console(
    app: FastAPI,
    client: httpx.AsyncClient,
    make: Factory,
    platform: Platform,
    settings: Settings,
) -> None:
    ex = await exam(client, make, candidates=1)
    headers = ex.world.headers
    registered = await client.post(
        "/api/v1/integrations/lti/registrations", json=platform.registration(), headers=headers
    )
    platform.tool_jwks = (await client.get("/lti/jwks")).json()
    target = ex.administration["id"]
    signature = binding_signature(
        settings, uuid.UUID(registered.json()["id"]), platform.deployment_id, target
    )
    started = await launch(
        client,
        platform,
        custom={"administration_id": target, "administration_signature": signature},
    )
    assert started.status_code == 200, started.text
    (link,) = (await client.get("/api/v1/integrations/lti/links", headers=headers)).json()
    platform.members = [
        {"user_id": f"learner-{n}", "roles": [LEARNER], "status": "Active"} for n in range(4)
    ]

    csrf = await console_sign_in(client, ex.world.admin)
    page = await client.get("/console/integrations")
    assert page.status_code == 200
    assert "Unit test" in _text(page.text) and "never" in _text(page.text)
    queued = await post_form(
        client, f"/console/integrations/lti/links/{link['id']}/roster-sync", csrf
    )
    assert queued.status_code == 303, queued.text
    await app.state.background.runner.wait_idle()
    shown = _text((await client.get("/console/integrations")).text)
    assert "succeeded" in shown and "4 of 4 learners, 3 added" in shown


async def test_new_access_codes_are_emailed_to_a_roster_from_the_console(
    app: FastAPI, client: httpx.AsyncClient, make: Factory, smtp: tuple[Inbox, int]
) -> None:
    inbox, _ = smtp
    ex = await exam(client, make, candidates=2)
    csrf = await console_sign_in(client, ex.world.admin)
    page = await client.get("/console/integrations")
    assert "E-mail new access codes" in page.text and ex.administration["id"] in page.text

    refused = await post_form(
        client,
        "/console/integrations/email/access_code",
        csrf,
        {"code_subject": "Your code", "code_body": "Hello {{ candidate }}"},
    )
    assert refused.status_code == 422
    assert "use {{ code }}" in refused.text.replace("&#123;", "{").replace("&#125;", "}")
    saved = await post_form(
        client,
        "/console/integrations/email/access_code",
        csrf,
        {"code_subject": "Your code", "code_body": "Code: {{ code }} at {{ link }}"},
    )
    assert saved.status_code == 303, saved.text

    before = len(inbox.messages)
    sent = await post_form(
        client,
        "/console/integrations/access-codes",
        csrf,
        {"administration_id": ex.administration["id"]},
    )
    assert sent.status_code == 200, sent.text
    assert "2 access codes queued for e-mail" in _text(sent.text)
    await app.state.background.runner.wait_idle()
    mailed = inbox.messages[before:]
    assert len(mailed) == 2 and {m["Subject"] for _, m in mailed} == {"Your code"}
    for code in ex.codes:
        assert code not in sent.text
