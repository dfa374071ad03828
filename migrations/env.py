"""Alembic environment: async engine, both dialects, batch mode on SQLite."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from waa_ads.core.db import Database
from waa_ads.models import metadata

config = context.config


def _database_url() -> str:
    url = config.attributes.get("database_url")
    if url:
        return str(url)
    from waa_ads.core.settings import get_settings

    return get_settings().resolved_database_url


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        compare_server_default=True,
    )


def _run_sync(connection: Connection) -> None:
    _configure(connection)
    with context.begin_transaction():
        context.run_migrations()
        if connection.dialect.name == "sqlite":
            # Foreign keys are off while migrating (see _run_async); check them before the
            # migration commits, as SQLite's own procedure for altering tables does.
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise RuntimeError(f"the migration broke foreign keys: {broken[:5]}")


async def _run_async() -> None:
    # On SQLite a batch migration copies a table and drops the old one; with foreign keys
    # on, the drop would cascade into every child row. They are checked before commit.
    db = Database(_database_url(), sqlite_foreign_keys=False)
    try:
        async with db.write_engine.connect() as conn:
            await conn.run_sync(_run_sync)
            await conn.commit()
    finally:
        await db.dispose()


def run_migrations_offline() -> None:
    context.configure(
        url=_database_url(),
        target_metadata=metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_sync(connection)
    else:
        asyncio.run(_run_async())
