from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from waa_ads.core.db import Database, UTCDateTime, uuid7

_probe_meta = sa.MetaData()
probe = sa.Table(
    "probe_timestamp",
    _probe_meta,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("at", UTCDateTime(), nullable=True),
)


async def _create_probe(session: AsyncSession) -> None:
    conn = await session.connection()
    await conn.run_sync(_probe_meta.create_all)


@pytest.mark.asyncio
async def test_timestamps_read_back_identically(db_session: AsyncSession) -> None:
    await _create_probe(db_session)
    moments = [
        datetime(2026, 3, 29, 0, 59, 59, 999_999, tzinfo=UTC),
        datetime(2026, 3, 29, 3, 0, 0, 1, tzinfo=timezone(timedelta(hours=2))),
        datetime(1999, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=-5, minutes=-30))),
    ]
    for i, moment in enumerate(moments):
        await db_session.execute(probe.insert().values(id=i, at=moment))
    rows = (await db_session.execute(sa.select(probe.c.id, probe.c.at).order_by(probe.c.id))).all()
    for (_, read), written in zip(rows, moments, strict=True):
        assert read == written
        assert read.tzinfo is not None
        assert read.utcoffset() == timedelta(0)


@pytest.mark.asyncio
async def test_timestamps_compare_in_time_order(db_session: AsyncSession) -> None:
    await _create_probe(db_session)
    early = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    late_in_other_zone = datetime(2026, 1, 1, 13, 30, tzinfo=timezone(timedelta(hours=1)))
    await db_session.execute(probe.insert().values(id=1, at=early))
    await db_session.execute(probe.insert().values(id=2, at=late_in_other_zone))
    cutoff = datetime(2026, 1, 1, 12, 15, tzinfo=UTC)
    after = (await db_session.execute(sa.select(probe.c.id).where(probe.c.at > cutoff))).all()
    assert [r.id for r in after] == [2]


@pytest.mark.asyncio
async def test_naive_datetimes_are_refused(db_session: AsyncSession) -> None:
    await _create_probe(db_session)
    with pytest.raises(sa.exc.StatementError, match="naive datetime"):
        await db_session.execute(probe.insert().values(id=1, at=datetime(2026, 1, 1)))


@pytest.mark.asyncio
async def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(tmp_path: Path) -> None:
    database = Database(f"sqlite+aiosqlite:///{tmp_path}/pragmas.db")
    async with database.engine.connect() as conn:
        mode = (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar()
        timeout = (await conn.exec_driver_sql("PRAGMA busy_timeout")).scalar()
        fks = (await conn.exec_driver_sql("PRAGMA foreign_keys")).scalar()
    assert mode == "wal"
    assert timeout is not None and int(timeout) >= 1000
    assert fks == 1
    await database.dispose()


@pytest.mark.asyncio
async def test_fifty_concurrent_writers_never_see_a_locked_database(
    fresh_database: Database,
) -> None:
    """A classroom autosaving at once: 50 writers, each a read-then-write transaction."""
    db = fresh_database
    async with db.transaction() as session:
        await _create_probe(session)
        await session.execute(probe.insert().values(id=0, at=None))

    async def writer(n: int) -> None:
        for _ in range(3):
            async with db.transaction() as session:
                await session.execute(sa.select(probe.c.id).where(probe.c.id == 0))
                await session.execute(probe.insert().values(at=datetime.now(UTC)))

    await asyncio.gather(*(writer(n) for n in range(50)))
    async with db.transaction(write=False) as session:
        count = (await session.execute(sa.select(sa.func.count()).select_from(probe))).scalar()
    assert count == 1 + 50 * 3


@pytest.mark.asyncio
async def test_transaction_rolls_back_on_error(fresh_database: Database) -> None:
    db = fresh_database
    async with db.transaction() as session:
        await _create_probe(session)
    with pytest.raises(RuntimeError):
        async with db.transaction() as session:
            await session.execute(probe.insert().values(id=1, at=None))
            raise RuntimeError("boom")
    async with db.transaction(write=False) as session:
        count = (await session.execute(sa.select(sa.func.count()).select_from(probe))).scalar()
    assert count == 0


def test_uuid7_is_time_ordered_and_versioned() -> None:
    ids = [uuid7() for _ in range(200)]
    assert all(u.version == 7 for u in ids)
    assert all(u.variant == "specified in RFC 4122" for u in ids)
    stamps = [u.int >> 80 for u in ids]
    assert stamps == sorted(stamps)
    assert len(set(ids)) == len(ids)
