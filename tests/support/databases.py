"""Test databases: one migrated template per backend and run, cheap copies of it.

PostgreSQL: the template is a database migrated once per run; copies are made with
``CREATE DATABASE ... TEMPLATE``. SQLite: the template is a migrated file; copies are
file copies. Every name carries a random run id, so parallel runs never collide.
"""

from __future__ import annotations

import asyncio
import secrets
import shutil
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from waa_ads.core import migrate

RUN_ID = secrets.token_hex(4)


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class PostgresDatabases:
    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self.template = f"waa_tpl_{RUN_ID}"
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
