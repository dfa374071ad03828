"""The demo bank leaves as a QTI 3.0 package and comes back whole: the same items, the same
media and the same scores, whether exported through the service or ``waa-ads export``."""

from __future__ import annotations

import asyncio
import io
import zipfile
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select
from typer.testing import CliRunner

from waa_ads.auth.deps import Principal
from waa_ads.auth.models import Organization
from waa_ads.content import schemas, service, transfer
from waa_ads.content.errors import BankNotFound
from waa_ads.content.item.definition import ItemDefinition
from waa_ads.content.models import Item, ItemBank, ItemVersion
from waa_ads.core.db import Database
from waa_ads.demo.loader import DEMO_ORG, load_demo
from waa_ads.scoring.engine import evaluate


async def _bank_items(session: Any, bank_id: Any) -> dict[str, ItemDefinition]:
    rows = (
        await session.execute(
            select(ItemVersion)
            .join(
                Item,
                (Item.id == ItemVersion.item_id) & (Item.latest_version == ItemVersion.version),
            )
            .where(Item.bank_id == bank_id)
        )
    ).scalars()
    return {row.definition["identifier"]: ItemDefinition.from_dict(row.definition) for row in rows}


def _without_media(item: ItemDefinition) -> dict[str, Any]:
    """What an item means to a candidate and a scorer: all but the bank's bookkeeping."""
    document = item.to_dict()
    document.pop("metadata", None)
    document.pop("rubric_ref", None)
    document.pop("import_notes", None)
    return document


@pytest.mark.asyncio
async def test_demo_bank_exports_as_qti3_and_reimports_with_its_media_and_scores(
    live_app: FastAPI, fresh_database: Database, tmp_path: Path
) -> None:
    from waa_ads.cli import app as cli

    await load_demo(live_app.state.db, live_app.state.blobs, live_app.state.auth)
    env = {
        "WAA_DATABASE_URL": fresh_database.url,
        "WAA_DATA_DIR": str(tmp_path / "data"),
        "WAA_BLOB_DIR": str(live_app.state.settings.resolved_blob_dir),
    }
    exported = await asyncio.to_thread(
        CliRunner().invoke,
        cli,
        ["export", "--out", str(tmp_path / "out"), "--organization", DEMO_ORG],
        env=env,
    )
    assert exported.exit_code == 0, exported.output
    (written,) = (tmp_path / "out").iterdir()
    package = written.read_bytes()
    names = zipfile.ZipFile(io.BytesIO(package)).namelist()
    assert not any(".." in n for n in names)
    assert "media/rainfall-chart.svg" in names

    async with live_app.state.db.transaction() as session:
        org = (
            await session.execute(select(Organization).where(Organization.slug == DEMO_ORG))
        ).scalar_one()
        principal = Principal.system(org.id)
        demo_bank = (
            await session.execute(select(ItemBank).where(ItemBank.organization_id == org.id))
        ).scalar_one()
        # The service path gives the same package as the command.
        versions = await transfer.versions_for_export(
            session, principal, bank_id=demo_bank.id, status=None
        )
        assert await transfer.export_qti3(session, live_app.state.blobs, principal, versions) == (
            package
        )
        copy = await service.create_bank(
            session, principal, schemas.BankCreate(slug="demo-copy", name="Copy")
        )
        report = await transfer.import_items(
            session,
            live_app.state.blobs,
            principal,
            copy.id,
            transfer.candidates_from_bytes(written.name, package),
        )
        assert report.ok, report.as_dict()
        originals = await _bank_items(session, demo_bank.id)
        copies = await _bank_items(session, copy.id)

    assert sorted(copies) == sorted(originals)
    for identifier, original in originals.items():
        again = copies[identifier]
        assert _without_media(again) == _without_media(original), identifier
        assert sorted((again.metadata.get("media") or {}).values()) == sorted(
            (original.metadata.get("media") or {}).values()
        ), identifier
    assert sum(bool(i.metadata.get("media")) for i in copies.values()) >= 6

    for identifier, original in sorted(originals.items())[:12]:
        correct = {d.identifier: d.correct_response for d in original.response_declarations}
        for responses in (correct, {}):
            assert (
                evaluate(copies[identifier], responses).outcomes
                == evaluate(original, responses).outcomes
            ), identifier


def test_a_domain_error_ends_a_command_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    import typer

    from waa_ads.cli import _run

    async def refused() -> None:
        raise BankNotFound("item bank 'nowhere' not found: " + "a long reason " * 12)

    with pytest.raises(typer.Exit) as ended:
        _run(refused())
    assert ended.value.exit_code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: item bank 'nowhere' not found")
    assert "Traceback" not in err
