"""The integrations area in process (no browser): launched LTI links with a button that
queues a roster sync for a worker and the sync's progress and outcome in the table."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI

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


@pytest.fixture
def settings() -> Settings:
    return make_settings(integrations_allow_private_urls=True)


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
