"""`waa-ads demo` end to end on a fresh embedded database: content, assessment, codes."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from waa_ads.assessments import service as assessment_service
from waa_ads.cli import app
from waa_ads.core.db import Database
from waa_ads.core.settings import Settings

CODE = re.compile(r"\b[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}\b")


def test_demo_loads_everything_and_prints_working_codes(tmp_path: Path) -> None:
    env = {"WAA_DATA_DIR": str(tmp_path), "WAA_LOG_JSON": "true"}
    runner = CliRunner()
    first = runner.invoke(app, ["demo"], env=env)
    assert first.exit_code == 0, first.output
    assert "admin@demo.example.com" in first.output
    assert re.search(r"sample bank:\s+sample \((\d+) items", first.output)
    items = int(re.search(r"\((\d+) items", first.output).group(1))  # type: ignore[union-attr]
    assert items >= 30
    codes = CODE.findall(first.output)
    assert len(codes) == 5

    second = runner.invoke(app, ["demo"], env=env)
    assert second.exit_code == 0, second.output
    assert "already had items" in second.output
    new_codes = CODE.findall(second.output)
    assert len(new_codes) == 5
    assert set(new_codes).isdisjoint(codes)

    async def lookup() -> tuple[bool, bool]:
        settings = Settings(_env_file=None, data_dir=tmp_path)
        db = Database(settings.resolved_database_url)
        try:
            async with db.transaction(write=False) as session:
                old = await assessment_service.find_by_code(session, settings, codes[0])
                new = await assessment_service.find_by_code(session, settings, new_codes[0])
                return old is not None, new is not None
        finally:
            await db.dispose()

    old_works, new_works = asyncio.run(lookup())
    assert not old_works
    assert new_works


@pytest.mark.parametrize("argv", [["demo", "--url", "http://example.org:9000"]])
def test_demo_prints_the_given_url(tmp_path: Path, argv: list[str]) -> None:
    result = CliRunner().invoke(app, argv, env={"WAA_DATA_DIR": str(tmp_path)})
    assert result.exit_code == 0, result.output
    assert "http://example.org:9000/docs" in result.output
