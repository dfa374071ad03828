"""Group-committed appends: order, acknowledgement after commit, failure, and sharing the
chain with events recorded in business transactions, on both backends."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import asyncpg
import pytest
import rfc8785
from sqlalchemy import func, insert, select, text

from tests.support.databases import _asyncpg_dsn
from waa_ads.audit import appender
from waa_ads.audit import service as audit
from waa_ads.audit.models import AuditEvent
from waa_ads.core.db import Database, sqlite_path_of

pytestmark = pytest.mark.asyncio


async def _verified(db: Database, org: uuid.UUID) -> audit.VerifyResult:
    async with db.transaction(write=False) as session:
        return await audit.verify_chain(session, str(org))


async def _stored(db: Database, org: uuid.UUID) -> dict[int, tuple[str, str | None]]:
    """seq -> (hash, actor_id) of the chain's rows."""
    async with db.transaction(write=False) as session:
        rows = await session.execute(
            select(AuditEvent.seq, AuditEvent.hash, AuditEvent.actor_id).where(
                AuditEvent.chain == str(org)
            )
        )
        return {int(r.seq): (r.hash, r.actor_id) for r in rows}


async def test_eight_concurrent_appenders_form_one_ordered_verifiable_chain(
    fresh_database: Database, backend: str
) -> None:
    """8 writers per organization, 2 organizations, each appending one event at a time:
    each chain is contiguous and verifies, every acknowledgement names the stored row,
    each writer's events are in the chain in the order it appended them, and (PostgreSQL)
    events share transactions."""
    orgs = [uuid.uuid4(), uuid.uuid4()]
    per_writer = 25
    acknowledged: dict[tuple[uuid.UUID, int], list[appender.AppendedEvent]] = {}

    async def writer(org: uuid.UUID, w: int) -> None:
        mine = acknowledged[(org, w)] = []
        for i in range(per_writer):
            placed = await appender.append(
                fresh_database,
                organization_id=org,
                action="test.appended",
                actor=audit.Actor("user", f"w{w}"),
                target_type="thing",
                target_id=uuid.UUID(int=i),
                data={"writer": w, "i": i},
            )
            mine.append(placed)

    await asyncio.gather(*(writer(org, w) for org in orgs for w in range(8)))
    for org in orgs:
        result = await _verified(fresh_database, org)
        assert result.ok, result
        assert result.checked == result.head_seq == 8 * per_writer
        stored = await _stored(fresh_database, org)
        assert sorted(stored) == list(range(1, 8 * per_writer + 1))
        for w in range(8):
            mine = acknowledged[(org, w)]
            assert [p.seq for p in mine] == sorted(p.seq for p in mine)
            assert len({p.seq for p in mine}) == per_writer
            for placed in mine:
                assert placed.chain == str(org)
                assert stored[placed.seq] == (placed.hash, f"w{w}")
    if backend == "postgresql":
        async with fresh_database.transaction(write=False) as session:
            transactions = (
                await session.execute(
                    text("SELECT count(DISTINCT xmin::text) FROM audit_event WHERE chain = :c"),
                    {"c": str(orgs[0])},
                )
            ).scalar_one()
        assert transactions < 8 * per_writer


async def test_an_acknowledged_event_is_already_committed(
    fresh_database: Database, backend: str
) -> None:
    org = uuid.uuid4()
    events = [
        audit.PendingEvent("test.bulk", audit.SYSTEM_ACTOR, "thing", str(i), {"i": i})
        for i in range(3)
    ]
    placed = await appender.append_many(fresh_database, organization_id=org, events=events)
    assert [p.seq for p in placed] == [1, 2, 3]
    # Another connection of a pool of its own sees them at once.
    other = Database(fresh_database.url, pool_size=1)
    try:
        async with other.transaction(write=False) as session:
            count = (
                await session.execute(select(func.count()).where(AuditEvent.chain == str(org)))
            ).scalar_one()
    finally:
        await other.dispose()
    assert count == 3


async def test_appends_and_business_transactions_share_one_chain(
    fresh_database: Database, backend: str
) -> None:
    """Appends interleave with events recorded inside business transactions, some of
    which roll back: the chain holds exactly the appended and the committed events."""
    org = uuid.uuid4()
    committed = 0

    async def appends(w: int) -> None:
        for i in range(15):
            await appender.append(
                fresh_database,
                organization_id=org,
                action="test.appended",
                actor=audit.Actor("user", f"a{w}"),
                data={"i": i},
            )

    async def business(w: int) -> None:
        nonlocal committed
        for i in range(6):
            try:
                async with fresh_database.transaction() as session:
                    await audit.record(
                        session,
                        organization_id=org,
                        action="test.recorded",
                        actor=audit.Actor("user", f"b{w}"),
                        data={"i": i},
                    )
                    if i % 3 == 2:
                        raise RuntimeError("the business change failed")
            except RuntimeError:
                continue
            committed += 1

    await asyncio.gather(*(appends(w) for w in range(4)), *(business(w) for w in range(3)))
    result = await _verified(fresh_database, org)
    assert result.ok, result
    assert result.checked == 4 * 15 + committed
    assert committed == 3 * 4


async def test_an_event_rfc8785_cannot_express_fails_only_its_caller(
    fresh_database: Database,
) -> None:
    org = uuid.uuid4()
    good = appender.append(
        fresh_database, organization_id=org, action="test.ok", actor=audit.SYSTEM_ACTOR
    )
    bad = appender.append(
        fresh_database,
        organization_id=org,
        action="test.bad",
        actor=audit.SYSTEM_ACTOR,
        data={"x": float("nan")},
    )
    outcomes = await asyncio.gather(good, bad, return_exceptions=True)
    assert isinstance(outcomes[0], appender.AppendedEvent)
    assert isinstance(outcomes[1], rfc8785.CanonicalizationError)
    assert (await _verified(fresh_database, org)).checked == 1


async def test_a_failed_batch_fails_its_callers_writes_nothing_and_the_next_batch_recovers(
    fresh_database: Database, backend: str
) -> None:
    org = uuid.uuid4()
    await appender.append(
        fresh_database, organization_id=org, action="test.first", actor=audit.SYSTEM_ACTOR
    )
    # A row squatting on the next sequence number: the next batch cannot be written.
    async with fresh_database.transaction() as session:
        await session.execute(
            insert(AuditEvent).values(
                chain=str(org),
                seq=2,
                occurred_at=datetime(2026, 1, 1, tzinfo=UTC),
                action="x",
                actor_type="system",
                canonical="{}",
                prev_hash="",
                hash="",
            )
        )
    outcomes = await asyncio.gather(
        *(
            appender.append(
                fresh_database, organization_id=org, action="test.lost", actor=audit.SYSTEM_ACTOR
            )
            for _ in range(3)
        ),
        return_exceptions=True,
    )
    assert all(isinstance(o, Exception) for o in outcomes), outcomes
    async with fresh_database.transaction() as session:
        await session.execute(
            text("DELETE FROM audit_event WHERE chain = :c AND seq = 2"), {"c": str(org)}
        )
    placed = await appender.append(
        fresh_database, organization_id=org, action="test.after", actor=audit.SYSTEM_ACTOR
    )
    assert placed.seq == 2
    result = await _verified(fresh_database, org)
    assert result.ok, result
    assert result.checked == 2


async def test_a_caller_that_gives_up_before_its_batch_is_written_has_nothing_written(
    fresh_database: Database,
) -> None:
    """While a batch waits for the chain head (locked by another writer), later callers
    queue; one that is cancelled meanwhile is left out, the others are written in order."""
    org = uuid.uuid4()
    await appender.append(
        fresh_database, organization_id=org, action="test.first", actor=audit.SYSTEM_ACTOR
    )

    def one(action: str) -> asyncio.Task[appender.AppendedEvent]:
        return asyncio.ensure_future(
            appender.append(
                fresh_database, organization_id=org, action=action, actor=audit.SYSTEM_ACTOR
            )
        )

    async with _head_held(fresh_database, str(org)):
        waiting = one("test.waiting")
        await asyncio.sleep(0.3)  # its batch is now blocked behind the other writer
        queued = [one("test.queued.1"), one("test.cancelled"), one("test.queued.2")]
        await asyncio.sleep(0.05)
        queued[1].cancel()
        await asyncio.sleep(0.05)
        assert not waiting.done()
    assert (await waiting).seq == 2
    assert [(await queued[0]).seq, (await queued[2]).seq] == [3, 4]
    with pytest.raises(asyncio.CancelledError):
        await queued[1]
    async with fresh_database.transaction(write=False) as session:
        actions = (
            await session.execute(
                select(AuditEvent.action)
                .where(AuditEvent.chain == str(org))
                .order_by(AuditEvent.seq)
            )
        ).scalars()
        assert list(actions) == ["test.first", "test.waiting", "test.queued.1", "test.queued.2"]
    assert (await _verified(fresh_database, org)).ok


@asynccontextmanager
async def _head_held(db: Database, chain: str) -> AsyncIterator[None]:
    """Another writer holding the chain head (PostgreSQL: its row lock; SQLite: the
    database's write lock) until the block ends."""
    if db.dialect_name == "postgresql":
        holder = await asyncpg.connect(_asyncpg_dsn(db.url))
        try:
            async with holder.transaction():
                await holder.execute(
                    "SELECT 1 FROM audit_chain_head WHERE chain = $1 FOR UPDATE", chain
                )
                yield
        finally:
            await holder.close()
        return
    path = sqlite_path_of(db.url)
    assert path is not None
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        connection.execute("BEGIN IMMEDIATE")
        yield
        connection.execute("COMMIT")
    finally:
        connection.close()
