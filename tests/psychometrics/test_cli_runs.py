"""The command line against the configured database: ``waa-ads cat assessment`` creates and
publishes an adaptive assessment (refusing an uncalibrated pool), and ``waa-ads
psychometrics calibrate-administrations`` runs a calibration as a recorded run."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import httpx
import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from tests.support.exams import World
from tests.support.factories import Factory
from waa_ads.cli import app
from waa_ads.content.models import ItemVersion
from waa_ads.core.db import Database

runner = CliRunner()


@pytest.mark.asyncio
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_adaptive_assessment_and_calibration_run_from_the_command_line(
    live_client: httpx.AsyncClient, live_make: Factory, fresh_database: Database, tmp_path: Path
) -> None:
    world = await World(live_client, live_make).setup()
    org = world.org.slug
    env = {"WAA_DATABASE_URL": fresh_database.url, "WAA_ENV": "test"}
    definition = world.definition(
        navigation="linear",
        allow_review=False,
        sections=[
            {
                "identifier": "cat",
                "title": "Adaptive",
                "adaptive": {"bank_id": world.bank_id, "min_items": 2, "max_items": 3},
            }
        ],
    )
    path = tmp_path / "cat.json"
    path.write_text(json.dumps(definition))

    def cli(*args: str) -> tuple[int, str]:
        result = runner.invoke(app, list(args), env=env)
        return result.exit_code, result.stdout + result.stderr

    make = ("cat", "assessment", str(path), "--slug", "cat", "--organization", org, "--publish")
    code, out = await asyncio.to_thread(cli, *make)
    assert code == 2 and "no right/wrong IRT parameters" in out
    async with fresh_database.transaction() as session:
        await session.execute(
            update(ItemVersion)
            .where(ItemVersion.item_id.in_([uuid.UUID(i) for i in world.items.values()]))
            .values(irt={"model": "rasch", "a": 1.0, "d": 0.5})
        )
    code, out = await asyncio.to_thread(cli, *make)
    assert code == 0, out
    assert "published version 1" in out and "adaptive section cat: 3 calibrated items" in out

    administration, _ = await world.open_administration(
        slug="fixed",
        definition=world.definition(),
        title="Fixed",
        candidate_ids=[(await live_make.candidate(world.org, name="Al")).id],
    )
    code, out = await asyncio.to_thread(
        cli, "psychometrics", "calibrate-administrations", administration["id"],
        "--model", "rasch", "--organization", org,
    )  # fmt: skip
    assert code == 2 and "two candidates" in out
    run = json.loads(next(line for line in out.splitlines() if line.startswith("{")))
    assert run["status"] == "failed" and run["administration_ids"] == [administration["id"]]
