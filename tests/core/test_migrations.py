from __future__ import annotations

import asyncio
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from waa_ads.core import migrate
from waa_ads.core.db import Database
from waa_ads.models import metadata

pytestmark = pytest.mark.asyncio


async def test_there_is_exactly_one_migration_head() -> None:
    assert len(migrate.heads()) == 1


async def test_migration_files_follow_the_naming_scheme() -> None:
    import re

    versions = migrate.migrations_dir() / "versions"
    names = sorted(p.name for p in versions.glob("*.py"))
    assert names, "no migrations"
    for name in names:
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}-\d{4}_[a-z0-9_]+\.py", name), name


async def test_migration_files_sort_in_revision_order() -> None:
    """Following ``down_revision`` from the base visits the files in the order ``ls`` shows
    them, every file is on that one chain, and each name's date and time are real."""
    script = ScriptDirectory.from_config(migrate.alembic_config("sqlite://"))
    chain = [Path(r.path).name for r in script.walk_revisions("base", "heads")][::-1]
    versions = migrate.migrations_dir() / "versions"
    files = sorted(p.name for p in versions.glob("*.py"))
    assert chain == files
    stamps = []
    for name in files:
        match = re.fullmatch(r"(\d{4}-\d{2}-\d{2}-\d{4})_[a-z0-9_]+\.py", name)
        assert match, f"{name} is not YYYY-MM-DD-HHMM_slug.py"
        stamps.append(datetime.strptime(match.group(1), "%Y-%m-%d-%H%M"))
    assert len(set(stamps)) == len(stamps), "two migrations share a timestamp"


async def test_models_match_the_migrations(database: Database) -> None:
    """The migrated schema and the ORM metadata agree: no pending autogenerate diff."""

    def diff(conn: Any) -> list[Any]:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": True}
        )
        return list(compare_metadata(context, metadata))

    async with database.engine.connect() as conn:
        changes = await conn.run_sync(diff)
    assert changes == []


async def test_database_is_at_head(database: Database) -> None:
    current = await asyncio.to_thread(migrate.current_revision, database.url)
    assert current == migrate.heads()[0]


async def test_downgrade_to_base_and_upgrade_again(fresh_database: Database) -> None:
    await fresh_database.dispose()
    await asyncio.to_thread(migrate.downgrade, fresh_database.url, "base")
    assert await asyncio.to_thread(migrate.current_revision, fresh_database.url) is None
    await asyncio.to_thread(migrate.upgrade, fresh_database.url)
    assert (
        await asyncio.to_thread(migrate.current_revision, fresh_database.url)
        == (migrate.heads()[0])
    )
