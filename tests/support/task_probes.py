"""Tasks the task tests run, in the test process and in worker subprocesses.

Worker subprocesses import this module through ``WAA_TASK_MODULES``. It defines no
periodic task, so importing it changes nothing for other tests' in-process runners.
"""

from __future__ import annotations

import asyncio
import os

import redis.asyncio as aioredis
from sqlalchemy import text

from waa_ads.core.db import Database
from waa_ads.core.tasks import TaskContext, task

PROBE_TABLE = "task_probe"


async def create_probe_table(db: Database) -> None:
    async with db.transaction() as session:
        await session.execute(
            text(
                f"CREATE TABLE {PROBE_TABLE} "
                "(id VARCHAR(64) PRIMARY KEY, note TEXT, worker_pid INTEGER)"
            )
        )


async def probe_rows(db: Database) -> dict[str, str]:
    async with db.transaction(write=False) as session:
        result = await session.execute(text(f"SELECT id, note FROM {PROBE_TABLE}"))
        return {row.id: row.note for row in result}


@task("probe.record_note", max_retries=0)
async def record_note(ctx: TaskContext, *, note_id: str, note: str) -> None:
    """Insert a row into the probe table, in the task's own unit of work."""
    async with ctx.db.transaction() as session:
        await session.execute(
            text(f"INSERT INTO {PROBE_TABLE} (id, note, worker_pid) VALUES (:id, :note, :pid)"),
            {"id": note_id, "note": note, "pid": os.getpid()},
        )


@task("probe.hang_first_run", max_retries=0)
async def hang_first_run(ctx: TaskContext, *, key: str) -> None:
    """Count runs under ``key``; the first run hangs (its worker gets killed), a later
    one records the process that finished it."""
    assert ctx.settings.redis_url is not None
    client = aioredis.Redis.from_url(ctx.settings.redis_url)
    try:
        runs = await client.incr(f"{key}:runs")
        await client.set(f"{key}:started:{runs}", os.getpid())
        if runs == 1:
            await asyncio.sleep(120)
        await client.set(f"{key}:done", os.getpid())
    finally:
        await client.aclose()  # type: ignore[attr-defined]  # types-redis predates aclose
