"""``waa-ads essay-model train-item --item ID``: the registry's training service run from
the command line against the configured database (refusals end with one line, exit 2)."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from typer.testing import CliRunner

from tests.rating.world import RUBRIC, essay
from tests.support.factories import Factory, login
from waa_ads.auth.models import Role
from waa_ads.cli import app
from waa_ads.core.db import Database

runner = CliRunner()


@pytest.mark.asyncio
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_train_item_refuses_an_unknown_item_and_one_nobody_scored(
    live_client: httpx.AsyncClient, live_make: Factory, fresh_database: Database
) -> None:
    org = await live_make.organization()
    admin = await login(live_client, await live_make.user(org, Role.admin))
    bank = await live_client.post(
        "/api/v1/banks", json={"slug": "main", "name": "Main"}, headers=admin
    )
    rubric = await live_client.post(
        "/api/v1/rubrics", json={"slug": "short-essay", "yaml": RUBRIC}, headers=admin
    )
    item = await live_client.post(
        f"/api/v1/banks/{bank.json()['id']}/items",
        json={
            "source": {"format": "qti", "content": essay("E1")},
            "rubric_version_id": rubric.json()["version"]["id"],
        },
        headers=admin,
    )
    item_id = item.json()["item"]["id"]
    env = {"WAA_DATABASE_URL": fresh_database.url, "WAA_ENV": "test"}

    def train(ident: str) -> tuple[int, str]:
        args = ["essay-model", "train-item", "--item", ident, "--organization", org.slug]
        result = runner.invoke(app, args, env=env)
        return result.exit_code, result.stdout + result.stderr

    code, out = await asyncio.to_thread(train, str(uuid.uuid4()))
    assert code == 2 and "not found" in out
    code, out = await asyncio.to_thread(train, item_id)
    assert code == 2 and "has a resolved human score yet" in out
    code, out = await asyncio.to_thread(train, "not-an-id")
    assert code == 2 and "UUID" in out
