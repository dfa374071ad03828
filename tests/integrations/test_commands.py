"""``waa-ads webhooks ...`` and ``waa-ads lti keys ...`` on a database of their own."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from typer.testing import CliRunner

from tests.support.factories import Factory, login
from tests.support.settings import TEST_SECRET, make_settings
from waa_ads.auth.models import Role
from waa_ads.core.db import Database
from waa_ads.core.settings import Settings

pytestmark = pytest.mark.asyncio


@pytest.fixture
def settings() -> Settings:
    return make_settings(integrations_allow_private_urls=True)


async def test_list_subscriptions_and_deliveries_replay_and_rotate_keys(
    live_app: FastAPI,
    live_client: httpx.AsyncClient,
    live_make: Factory,
    fresh_database: Database,
    tmp_path: Path,
) -> None:
    from waa_ads.cli import app as cli

    org = await live_make.organization("hooked")
    headers = await login(live_client, await live_make.user(org, Role.admin))
    created = await live_client.post(
        "/api/v1/integrations/webhooks",
        json={"url": "http://127.0.0.1:9/in", "event_types": ["attempt.started"]},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    env = {
        "WAA_DATABASE_URL": fresh_database.url,
        "WAA_DATA_DIR": str(tmp_path),
        "WAA_SECRET_KEY": TEST_SECRET,
        "WAA_BROKER_URL": "",
    }
    runner = CliRunner()

    async def run(*args: str) -> tuple[int, str]:
        result = await asyncio.to_thread(runner.invoke, cli, list(args), env=env)
        return result.exit_code, result.output

    code, out = await run("webhooks", "list", "--organization", "hooked")
    assert code == 0, out
    assert created.json()["id"] in out and "attempt.started" in out
    code, out = await run("webhooks", "deliveries", "--organization", "hooked")
    assert code == 0 and out.startswith("id\tchannel\tevent"), out
    code, out = await run("webhooks", "list", "--organization", "nobody")
    assert code == 2 and "no organization 'nobody'" in out
    code, out = await run("webhooks", "replay", "not-an-id")
    assert code == 2 and "not a delivery id" in out

    # The app's background log lines may land in the captured output (the runner swaps
    # the process's stderr while the app's tasks run): the kid is the last line.
    code, first = await run("lti", "keys", "rotate")
    assert code == 0, first
    first = first.strip().splitlines()[-1]
    code, second = await run("lti", "keys", "rotate")
    second = second.strip().splitlines()[-1]
    assert code == 0 and second != first
    code, out = await run("lti", "keys", "list")
    assert code == 0, out
    assert first.strip() in out and second.strip() in out
    assert out.count("current") == 1 and out.count("retired") == 1
    jwks = (await live_client.get("/lti/jwks")).json()
    assert [k["kid"] for k in jwks["keys"]] == [second.strip(), first.strip()]


async def test_roster_sync_from_the_command_line(
    live_client: httpx.AsyncClient,
    live_make: Factory,
    fresh_database: Database,
    settings: Settings,
    tmp_path: Path,
) -> None:
    """``waa-ads lti roster-sync LINK`` runs the sync here (no broker) with its progress
    and prints the counts; a link that is unknown or not an id ends with an error."""
    from tests.integrations.test_lti import launch
    from tests.support.exams import exam
    from tests.support.lti_platform import LEARNER, Platform
    from tests.support.receivers import receiver
    from waa_ads.cli import app as cli
    from waa_ads.integrations.lti import binding_signature

    ex = await exam(live_client, live_make, candidates=1)
    headers = ex.world.headers
    with receiver() as r:
        platform = Platform(r)
        registered = await live_client.post(
            "/api/v1/integrations/lti/registrations", json=platform.registration(), headers=headers
        )
        assert registered.status_code == 201, registered.text
        platform.tool_jwks = (await live_client.get("/lti/jwks")).json()
        target = ex.administration["id"]
        signature = binding_signature(
            settings, uuid.UUID(registered.json()["id"]), platform.deployment_id, target
        )
        custom = {"administration_id": target, "administration_signature": signature}
        started = await launch(live_client, platform, custom=custom)
        assert started.status_code == 200, started.text
        (link,) = (await live_client.get("/api/v1/integrations/lti/links", headers=headers)).json()
        platform.members = [
            {"user_id": f"learner-{n}", "roles": [LEARNER], "status": "Active"} for n in range(30)
        ]
        env = {
            "WAA_DATABASE_URL": fresh_database.url,
            "WAA_DATA_DIR": str(tmp_path),
            "WAA_SECRET_KEY": TEST_SECRET,
            "WAA_BROKER_URL": "",
            "WAA_INTEGRATIONS_ALLOW_PRIVATE_URLS": "true",
        }
        runner = CliRunner()
        result = await asyncio.to_thread(
            runner.invoke, cli, ["lti", "roster-sync", link["id"]], env=env
        )
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if "\t" in line]
    assert lines[0] == "sync\tstatus\tmembers\tadded\tskipped\terror"
    assert lines[1].split("\t")[1:5] == ["succeeded", "30", "29", "0"]  # learner-1 launched
    roster = await live_client.get(f"/api/v1/administrations/{target}/roster", headers=headers)
    assert len(roster.json()) == 31
    for args, expected in (
        (["lti", "roster-sync", "nope"], "not a link id"),
        (["lti", "roster-sync", str(uuid.uuid4())], "no LTI link"),
    ):
        refused = await asyncio.to_thread(runner.invoke, cli, args, env=env)
        assert refused.exit_code == 2 and expected in refused.output, refused.output


async def test_access_codes_by_email_from_the_command_line(
    live_client: httpx.AsyncClient, live_make: Factory, fresh_database: Database, tmp_path: Path
) -> None:
    """``waa-ads email access-codes`` issues new codes and queues their e-mails (sent by
    the server's workers): one line per entry, never a code."""
    from tests.support.exams import exam
    from waa_ads.cli import app as cli

    ex = await exam(live_client, live_make, candidates=2)
    administration_id = ex.administration["id"]
    env = {
        "WAA_DATABASE_URL": fresh_database.url,
        "WAA_DATA_DIR": str(tmp_path),
        "WAA_SECRET_KEY": TEST_SECRET,
        "WAA_BROKER_URL": "",
        "WAA_SMTP_HOST": "127.0.0.1",
    }
    runner = CliRunner()

    async def run(*args: str, **extra: str) -> tuple[int, str]:
        result = await asyncio.to_thread(runner.invoke, cli, list(args), env={**env, **extra})
        return result.exit_code, result.output

    command = ("email", "access-codes", "--administration", administration_id)
    code, out = await run(*command)
    assert code == 2 and "--base-url" in out, out
    code, out = await run(*command, "--base-url", "https://exams.example.org", WAA_SMTP_HOST="")
    assert code == 2 and "no SMTP server" in out, out
    code, out = await run(*command, "--base-url", "https://exams.example.org")
    assert code == 0, out
    lines = [line.split("\t") for line in out.splitlines() if "\t" in line]
    assert lines[0] == ["entry", "candidate", "status", "delivery or reason"]
    assert [line[2] for line in lines[1:]] == ["queued", "queued"]
    assert not [c for c in ex.codes if c in out]
    # The codes handed out before are replaced.
    old = await live_client.post("/api/v1/attempts", json={"access_code": ex.codes[0]})
    assert old.status_code in (401, 404), old.text
    code, out = await run("email", "access-codes", "--administration", "x", "--base-url", "h")
    assert code == 2 and "take ids" in out


async def test_a_staff_invitation_by_email_from_the_command_line(
    live_client: httpx.AsyncClient, live_make: Factory, fresh_database: Database, tmp_path: Path
) -> None:
    from waa_ads.cli import app as cli

    await live_make.organization("inviting")
    env = {
        "WAA_DATABASE_URL": fresh_database.url,
        "WAA_DATA_DIR": str(tmp_path),
        "WAA_SECRET_KEY": TEST_SECRET,
        "WAA_BROKER_URL": "",
        "WAA_SMTP_HOST": "127.0.0.1",
        "WAA_PUBLIC_BASE_URL": "https://exams.example.org",
    }
    runner = CliRunner()
    args = ["email", "invite", "--organization", "inviting", "--email", "new@example.org"]
    result = await asyncio.to_thread(runner.invoke, cli, [*args, "--role", "author"], env=env)
    assert result.exit_code == 0, result.output
    lines = [line.split("\t") for line in result.output.splitlines() if "\t" in line]
    assert lines[0] == ["user", "delivery"] and len(lines) == 2
    assert "token=" not in result.output
    bad = await asyncio.to_thread(runner.invoke, cli, [*args, "--role", "wizard"], env=env)
    assert bad.exit_code == 2 and "roles" in bad.output, bad.output
    taken = await asyncio.to_thread(runner.invoke, cli, [*args, "--role", "author"], env=env)
    assert taken.exit_code == 2 and "already exists" in taken.output, taken.output
