"""Group commit for audit events that are a unit of work of their own.

:func:`append` is for an event that does not belong to a business transaction (a refused
login, a reused refresh token, a signal from outside): instead of a transaction per event,
each holding the chain head's row lock through its commit, the events that callers in one
process append to one chain while a write is in flight are queued, and one flusher per
chain writes the queue in one transaction with one head update. Each caller is answered
only after the transaction that holds its event has committed; a failed write fails every
caller of that batch and writes none of it.

Events that describe a change of the caller's own (almost all of them) still go through
:func:`waa_ads.audit.service.record` in the caller's transaction, so that the event and the
change commit or roll back together; they cannot join a batch that commits on its own.

On PostgreSQL a batch is one statement in a transaction of its own: the head moves from
the position this process last saw to the new one (``UPDATE ... WHERE seq = :seen AND
hash = :seen_hash``) and the rows are inserted only if it did. When another writer (another
process, or ``record()``) moved the head meanwhile, nothing is written and the batch is
written again the locking way, which also reads the head afresh. On SQLite (one writer at
a time) a batch is one ``BEGIN IMMEDIATE`` transaction.
"""

from __future__ import annotations

import asyncio
import uuid
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert, update

from waa_ads.audit.chain import GENESIS, canonical_event, event_text_prefix
from waa_ads.audit.models import AuditChainHead, AuditEvent
from waa_ads.audit.service import (
    INSERT_AND_SET_HEAD_HASH,
    Actor,
    ChainedEvent,
    PendingEvent,
    chain_events,
    chain_for,
    row_arrays,
)
from waa_ads.core.db import Database, insert_ignore, utcnow

#: The most events one transaction writes; more wait for the next.
MAX_BATCH = 2_000


@dataclass(frozen=True, slots=True)
class AppendedEvent:
    """Where an appended event landed; it is committed when this is returned."""

    chain: str
    seq: int
    hash: str


@dataclass(slots=True)
class _Request:
    """One caller's events; they are written in one transaction, contiguously."""

    events: list[tuple[PendingEvent, datetime]]
    prefixes: list[str | None]
    done: asyncio.Future[list[AppendedEvent]]


@dataclass(frozen=True, slots=True)
class _Events:
    """A batch's events, in order, with their texts' prefixes."""

    items: list[tuple[PendingEvent, datetime]]
    prefixes: list[str | None]

    def __len__(self) -> int:
        return len(self.items)

    def chained(self, chain: str, after_seq: int, prev_hash: str) -> list[ChainedEvent]:
        return chain_events(chain, after_seq, prev_hash, self.items, self.prefixes)


@dataclass(slots=True)
class _Chain:
    organization_id: uuid.UUID | None
    waiting: list[_Request] = field(default_factory=list)
    flusher: asyncio.Task[None] | None = None
    #: (seq, hash) of the head as this process last wrote or read it; None when unknown.
    head: tuple[int, str] | None = None


class AuditAppender:
    """The group-commit queues of one database in one event loop."""

    def __init__(self, db: Database, *, max_batch: int = MAX_BATCH) -> None:
        self.db = db
        self.max_batch = max_batch
        self.loop = asyncio.get_running_loop()
        self._chains: dict[str, _Chain] = {}

    async def append(
        self,
        organization_id: uuid.UUID | None,
        events: Sequence[PendingEvent],
        occurred_at: datetime | None = None,
    ) -> list[AppendedEvent]:
        if not events:
            return []
        chain = chain_for(organization_id)
        queue = self._chains.get(chain)
        if queue is None:
            queue = self._chains[chain] = _Chain(organization_id)
        moment = occurred_at or utcnow()
        # The part of each text that does not depend on the event's place is made here, by
        # its caller; an event RFC 8785 cannot express fails its own caller, not its batch.
        prefixes = [_prefix(chain, event, moment) for event in events]
        request = _Request([(e, moment) for e in events], prefixes, self.loop.create_future())
        queue.waiting.append(request)
        if queue.flusher is None:
            queue.flusher = self.loop.create_task(self._flush(chain, queue))
        # A caller that gives up before its batch is taken has nothing written; after
        # that, its events commit (or not) with the batch, as a cancelled commit would.
        return await request.done

    async def _flush(self, chain: str, queue: _Chain) -> None:
        batch: list[_Request] = []
        try:
            while queue.waiting:
                batch = self._take(queue)
                if not batch:
                    continue
                try:
                    placed = await self._write(chain, queue, batch)
                except Exception as exc:  # every caller of the batch learns why
                    queue.head = None
                    for request in batch:
                        if not request.done.done():
                            request.done.set_exception(exc)
                    continue
                at = 0
                for request in batch:
                    count = len(request.events)
                    if not request.done.done():
                        request.done.set_result(placed[at : at + count])
                    at += count
        finally:
            queue.flusher = None
            # Cancelled (the loop is closing): nobody will write what is still queued, and
            # whether the batch in flight committed is unknown.
            for request in (*batch, *queue.waiting):
                if not request.done.done():
                    request.done.cancel()
            queue.waiting.clear()

    def _take(self, queue: _Chain) -> list[_Request]:
        batch: list[_Request] = []
        size = 0
        while queue.waiting and (
            not batch or size + len(queue.waiting[0].events) <= self.max_batch
        ):
            request = queue.waiting.pop(0)
            if request.done.done():  # its caller was cancelled before it was written
                continue
            batch.append(request)
            size += len(request.events)
        return batch

    async def _write(self, chain: str, queue: _Chain, batch: list[_Request]) -> list[AppendedEvent]:
        events = _Events(
            [item for request in batch for item in request.events],
            [prefix for request in batch for prefix in request.prefixes],
        )
        if self.db.dialect_name == "postgresql":
            if queue.head is not None:
                placed = await self._write_if_head_unmoved(chain, queue, events, queue.head)
                if placed is not None:
                    return placed
            return await self._write_locked_postgres(chain, queue, events)
        return await self._write_sqlite(chain, queue, events)

    async def _write_if_head_unmoved(
        self,
        chain: str,
        queue: _Chain,
        events: _Events,
        seen: tuple[int, str],
    ) -> list[AppendedEvent] | None:
        links = events.chained(chain, seen[0], seen[1])
        async with self.db.driver_connection() as conn:
            status = await conn.execute(
                _INSERT_IF_HEAD_UNMOVED,
                chain,
                links[-1].seq,
                links[-1].hash,
                seen[0],
                seen[1],
                queue.organization_id,
                *row_arrays(links),
            )
        if status != f"INSERT 0 {len(links)}":
            queue.head = None
            return None
        queue.head = (links[-1].seq, links[-1].hash)
        return [AppendedEvent(chain, link.seq, link.hash) for link in links]

    async def _write_locked_postgres(
        self, chain: str, queue: _Chain, events: _Events
    ) -> list[AppendedEvent]:
        async with self.db.driver_connection() as conn, conn.transaction():
            row = await conn.fetchrow(_ADVANCE_HEAD, chain, len(events))
            if row is None:  # the chain's first event
                await conn.execute(_CREATE_HEAD, chain, GENESIS)
                row = await conn.fetchrow(_ADVANCE_HEAD, chain, len(events))
            links = events.chained(chain, int(row["seq"]) - len(events), str(row["hash"]))
            await conn.execute(
                INSERT_AND_SET_HEAD_HASH,
                chain,
                links[-1].hash,
                queue.organization_id,
                *row_arrays(links),
            )
        queue.head = (links[-1].seq, links[-1].hash)
        return [AppendedEvent(chain, link.seq, link.hash) for link in links]

    async def _write_sqlite(
        self, chain: str, queue: _Chain, events: _Events
    ) -> list[AppendedEvent]:
        async with self.db.transaction() as session:
            advance = (
                update(AuditChainHead)
                .where(AuditChainHead.chain == chain)
                .values(seq=AuditChainHead.seq + len(events))
                .returning(AuditChainHead.seq, AuditChainHead.hash)
            )
            row = (await session.execute(advance)).one_or_none()
            if row is None:
                await insert_ignore(
                    session, AuditChainHead, {"chain": chain, "seq": 0, "hash": GENESIS}
                )
                row = (await session.execute(advance)).one()
            links = events.chained(chain, int(row.seq) - len(events), str(row.hash))
            await session.execute(
                insert(AuditEvent),
                [_row(chain, queue.organization_id, link) for link in links],
            )
            await session.execute(
                update(AuditChainHead)
                .where(AuditChainHead.chain == chain)
                .values(hash=links[-1].hash)
            )
        queue.head = (links[-1].seq, links[-1].hash)
        return [AppendedEvent(chain, link.seq, link.hash) for link in links]


def _prefix(chain: str, event: PendingEvent, moment: datetime) -> str | None:
    prefix = event_text_prefix(chain, event.action, event.actor.type, event.actor.id, event.data)
    if prefix is not None:
        return prefix
    canonical_event(  # raises the rfc8785 package's error for what it cannot express
        chain=chain,
        seq=1,
        occurred_at=moment,
        action=event.action,
        actor_type=event.actor.type,
        actor_id=event.actor.id,
        target_type=event.target_type,
        target_id=str(event.target_id) if event.target_id is not None else None,
        data=event.data,
        prev_hash=GENESIS,
    )
    return None


def _row(chain: str, organization_id: uuid.UUID | None, link: ChainedEvent) -> dict[str, Any]:
    return {
        "chain": chain,
        "seq": link.seq,
        "organization_id": organization_id,
        "occurred_at": link.occurred_at,
        "action": link.event.action,
        "actor_type": link.event.actor.type,
        "actor_id": link.event.actor.id,
        "target_type": link.event.target_type,
        "target_id": link.target_id,
        "canonical": link.canonical,
        "prev_hash": link.prev_hash,
        "hash": link.hash,
    }


# $1 chain, $2 new seq, $3 new hash, $4 seen seq, $5 seen hash, $6 organization, then one
# array per column. Data-modifying CTEs always run; the rows go in only when the head moved.
_INSERT_IF_HEAD_UNMOVED = """
WITH head AS (
    UPDATE audit_chain_head SET seq = $2, hash = $3
    WHERE chain = $1 AND seq = $4 AND hash = $5
    RETURNING 1
)
INSERT INTO audit_event (chain, seq, organization_id, occurred_at, action, actor_type,
                         actor_id, target_type, target_id, canonical, prev_hash, hash)
SELECT $1, e.seq, $6::uuid, e.occurred_at, e.action, e.actor_type, e.actor_id,
       e.target_type, e.target_id, e.canonical, e.prev_hash, e.hash
FROM unnest($7::bigint[], $8::timestamptz[], $9::text[], $10::text[], $11::text[],
            $12::text[], $13::text[], $14::text[], $15::text[], $16::text[])
     AS e(seq, occurred_at, action, actor_type, actor_id, target_type, target_id,
          canonical, prev_hash, hash)
WHERE EXISTS (SELECT 1 FROM head)
"""
_ADVANCE_HEAD = "UPDATE audit_chain_head SET seq = seq + $2 WHERE chain = $1 RETURNING seq, hash"
_CREATE_HEAD = (
    "INSERT INTO audit_chain_head (chain, seq, hash) VALUES ($1, 0, $2) "
    "ON CONFLICT (chain) DO NOTHING"
)

_appenders: weakref.WeakKeyDictionary[Database, AuditAppender] = weakref.WeakKeyDictionary()


def appender_for(db: Database) -> AuditAppender:
    """The database's appender in the running event loop (one per loop: a Celery worker's,
    a test's)."""
    appender = _appenders.get(db)
    if appender is None or appender.loop is not asyncio.get_running_loop():
        appender = _appenders[db] = AuditAppender(db)
    return appender


async def append(
    db: Database,
    *,
    organization_id: uuid.UUID | None,
    action: str,
    actor: Actor,
    target_type: str | None = None,
    target_id: uuid.UUID | str | None = None,
    data: Mapping[str, Any] | None = None,
    occurred_at: datetime | None = None,
) -> AppendedEvent:
    """Append one event as a unit of work of its own and return once it is committed.

    Concurrent calls for one chain share a transaction (see the module's docstring). For
    an event that describes a change made in the caller's transaction, use ``record()``.
    """
    (placed,) = await appender_for(db).append(
        organization_id, [PendingEvent(action, actor, target_type, target_id, data)], occurred_at
    )
    return placed


async def append_many(
    db: Database,
    *,
    organization_id: uuid.UUID | None,
    events: Sequence[PendingEvent],
    occurred_at: datetime | None = None,
) -> list[AppendedEvent]:
    """Append several events, contiguous and in one transaction, once they are committed."""
    return await appender_for(db).append(organization_id, events, occurred_at)
