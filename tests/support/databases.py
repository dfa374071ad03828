"""Test databases: one migrated template per backend and run, cheap copies of it, and the
rolled-back view of a copy most tests work in.

PostgreSQL: the template is a database migrated once per run; copies are made with
``CREATE DATABASE ... TEMPLATE``. SQLite: the template is a migrated file; copies are
file copies. Every name carries a random run id, so parallel runs never collide.
"""

from __future__ import annotations

import asyncio
import secrets
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from waa_ads.core import migrate
from waa_ads.core.db import Database

RUN_ID = secrets.token_hex(4)


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class PostgresDatabases:
    def __init__(self, admin_url: str, *, kind: str = "tpl") -> None:
        self.admin_url = admin_url
        self.template = f"waa_{kind}_{RUN_ID}"
        self._count = 0
        self._created: list[str] = []

    def url_for(self, name: str) -> str:
        return make_url(self.admin_url).set(database=name).render_as_string(hide_password=False)

    async def _admin(self, sql: str) -> None:
        conn = await asyncpg.connect(_asyncpg_dsn(self.admin_url))
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    async def create_template(self) -> None:
        await self._admin(f'CREATE DATABASE "{self.template}"')
        self._created.append(self.template)
        await asyncio.to_thread(migrate.upgrade, self.url_for(self.template))

    async def copy(self) -> str:
        self._count += 1
        name = f"waa_test_{RUN_ID}_{self._count}"
        await self._admin(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
        self._created.append(name)
        return self.url_for(name)

    async def drop(self, url: str) -> None:
        name = make_url(url).database
        await self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if name in self._created:
            self._created.remove(name)

    async def drop_all(self) -> None:
        for name in reversed(list(self._created)):
            await self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self._created.clear()


class SqliteDatabases:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.template = directory / "template.db"
        self._count = 0

    async def create_template(self) -> None:
        await asyncio.to_thread(migrate.upgrade, self.url_for(self.template))

    def url_for(self, path: Path) -> str:
        return f"sqlite+aiosqlite:///{path.as_posix()}"

    async def copy(self) -> str:
        self._count += 1
        target = self.directory / f"copy_{self._count}.db"
        shutil.copyfile(self.template, target)
        return self.url_for(target)

    async def drop(self, url: str) -> None:
        path = Path(make_url(url).database or "")
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)

    async def drop_all(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


class _TaskLock:
    """A lock that the task holding it may take again (a unit of work opened inside
    another, as the app's own transactions are inside a request's)."""

    def __init__(self, timeout_s: float) -> None:
        self._lock = asyncio.Lock()
        self._owner: asyncio.Task[object] | None = None
        self._timeout_s = timeout_s

    @asynccontextmanager
    async def hold(self) -> AsyncIterator[None]:
        task = asyncio.current_task()
        if task is not None and task is self._owner:
            yield
            return
        try:
            async with asyncio.timeout(self._timeout_s):
                await self._lock.acquire()
        except TimeoutError:
            raise RuntimeError(
                f"the test's connection stayed busy for {self._timeout_s} s: a unit of work "
                "waits for another task that waits for it (use fresh_database for tests "
                "that need concurrent transactions)"
            ) from None
        self._owner = task
        try:
            yield
        finally:
            self._owner = None
            self._lock.release()


class RolledBackDatabase(Database):
    """The shared database seen through one connection whose transaction the test rolls
    back: every unit of work (a request's, a token store's, a task's) is a savepoint on
    that connection, so what it commits the test sees and nothing outlives the test.

    Units of work take turns on the connection (background tasks wait for the request in
    progress), so this is for tests whose transactions follow one another; tests of
    concurrent transactions, of real commits or of other processes use ``fresh_database``.
    """

    def __init__(self, database: Database, connection: AsyncConnection) -> None:
        # No engine of its own: the shared database's, bound to the test's connection.
        self.url = database.url
        self.dialect_name = database.dialect_name
        self.engine = database.engine
        self.write_engine = database.write_engine
        self.connection = connection
        sessions = async_sessionmaker(
            bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
        )
        self.reader = sessions
        self.writer = sessions
        self._turns = _TaskLock(timeout_s=30)

    @asynccontextmanager
    async def exclusive(self) -> AsyncIterator[None]:
        """Hold the connection for a block of the test's own statements."""
        async with self._turns.hold():
            yield

    @asynccontextmanager
    async def transaction(self, *, write: bool = True) -> AsyncIterator[AsyncSession]:
        async with self._turns.hold(), super().transaction(write=write) as session:
            yield session

    @asynccontextmanager
    async def driver_connection(self) -> AsyncIterator[Any]:
        """The test's connection itself: a statement run on it lands in the test's
        transaction (it commits for the test, and vanishes after it)."""
        async with self._turns.hold():
            raw = await self.connection.get_raw_connection()
            yield raw.driver_connection

    async def dispose(self) -> None:
        """The shared database's engine outlives the test."""
