"""``waa-ads rating plans | change | export``: the plan service from the command line,
against the configured database (a refusal ends with one ``error:`` line, exit code 2)."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import FastAPI
from typer.testing import CliRunner

from tests.rating.world import levels, rating_world
from tests.support.cli import without_logs
from tests.support.factories import Factory
from waa_ads.cli import app
from waa_ads.core.db import Database

runner = CliRunner()


@pytest.mark.asyncio
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_plans_change_and_export_from_the_command_line(
    live_app: FastAPI, live_client: httpx.AsyncClient, live_make: Factory, fresh_database: Database
) -> None:
    rw = await rating_world(live_app, live_client, live_make)
    plan = (await rw.plan())["plan"]
    lease = await rw.next(rw.rater_headers[0])
    await rw.rate(rw.rater_headers[0], lease["lease_id"], levels("good", "fair"), comment="Hi")
    env = {"WAA_DATABASE_URL": fresh_database.url, "WAA_ENV": "test"}
    slug = rw.world.org.slug

    def run(*args: str) -> tuple[int, str]:
        result = runner.invoke(app, ["rating", *args, "--organization", slug], env=env)
        return result.exit_code, without_logs(result.stdout + result.stderr)

    code, out = await asyncio.to_thread(run, "plans")
    assert code == 0, out
    assert out.splitlines()[1].split("\t") == [plan["id"], "1", rw.administration_id, "Essays"]
    code, out = await asyncio.to_thread(
        run, "change", plan["id"], "--expected-version", "1", "--lease-seconds", "120"
    )
    assert (code, out.strip()) == (0, "version 2")
    # From the old version again: refused, nothing written.
    code, out = await asyncio.to_thread(
        run, "change", plan["id"], "--expected-version", "1", "--title", "Lost"
    )
    assert code == 2 and "version 2" in out
    code, out = await asyncio.to_thread(
        run, "change", plan["id"], "--expected-version", "2", "--resolution", "mean"
    )
    assert code == 2 and "can no longer change" in out
    code, out = await asyncio.to_thread(run, "export", plan["id"])
    assert code == 0, out
    header, row = out.strip().splitlines()
    assert header.startswith("rating_id,plan_id,kind") and ",Hi," in row
