"""``waa-ads bank archive|restore|delete``: what the API does, from the command line."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import select
from typer.testing import CliRunner

from tests.support.factories import Factory
from tests.support.items import choice_item
from waa_ads.audit.models import AuditEvent
from waa_ads.auth.deps import Principal
from waa_ads.content import schemas, service
from waa_ads.content.interchange.qti.reader import parse_item
from waa_ads.content.models import Item, ItemBank
from waa_ads.core.db import Database

pytestmark = pytest.mark.asyncio


async def test_cli_archives_restores_and_deletes_a_bank(
    live_app: FastAPI, live_make: Factory, fresh_database: Database, tmp_path: Path
) -> None:
    from waa_ads.cli import app as cli

    org = await live_make.organization(slug="cli-banks")
    async with live_app.state.db.transaction() as session:
        principal = Principal.system(org.id)
        bank = await service.create_bank(
            session, principal, schemas.BankCreate(slug="old", name="Old")
        )
        await service.create_item(
            session,
            principal,
            bank.id,
            parse_item(choice_item("OLD1", "Old")),
            metadata=schemas.ItemMetadata(),
        )
        await service.create_bank(session, principal, schemas.BankCreate(slug="kept", name="K"))
    env = {
        "WAA_DATABASE_URL": fresh_database.url,
        "WAA_DATA_DIR": str(tmp_path / "data"),
    }
    runner = CliRunner()

    async def run(*args: str) -> str:
        result = await asyncio.to_thread(runner.invoke, cli, list(args), env=env)
        assert result.exit_code == 0, result.output
        return result.output

    assert "archived item bank old" in await run("bank", "archive", "old")
    listed = await run("bank", "list")
    assert "kept" in listed and "old" not in listed
    assert "old\t" in await run("bank", "list", "--archived")
    assert "restored item bank old" in await run("bank", "restore", "old")
    assert "old\t" in await run("bank", "list")

    refused = await asyncio.to_thread(
        runner.invoke, cli, ["bank", "delete", "nowhere", "--yes"], env=env
    )
    assert refused.exit_code == 2
    assert "deleted item bank old" in await run("bank", "delete", "old", "--yes")
    async with live_app.state.db.transaction(write=False) as session:
        assert (await session.execute(select(ItemBank.slug))).scalars().all() == ["kept"]
        assert (await session.execute(select(Item.id))).first() is None
        actions = set(
            (
                await session.execute(
                    select(AuditEvent.action).where(AuditEvent.target_id == str(bank.id))
                )
            ).scalars()
        )
    assert {"item_bank.archived", "item_bank.restored", "item_bank.deleted"} <= actions
