"""Recording and verifying audit events.

``record()`` runs inside the caller's transaction: the event commits or rolls back together
with the change it describes. It only flushes; the caller's edge commits.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from waa_ads.audit.chain import (
    GENESIS,
    SYSTEM_CHAIN,
    BrokenLink,
    ChainState,
    StoredColumns,
    StoredLink,
    canonical_event,
    link_hash,
    verify_links,
    verify_links_fast,
    verify_rows,
)
from waa_ads.audit.models import AuditChainHead, AuditEvent
from waa_ads.core.db import insert_ignore, utcnow

VERIFY_BATCH = 2_000


@dataclass(frozen=True, slots=True)
class Actor:
    """Who did something, by id only. ``type`` is user, candidate, system, ..."""

    type: str
    id: str | None = None


SYSTEM_ACTOR = Actor("system")


def chain_for(organization_id: uuid.UUID | None) -> str:
    return str(organization_id) if organization_id is not None else SYSTEM_CHAIN


@dataclass(frozen=True, slots=True)
class PendingEvent:
    """One event to append with :func:`record_many`."""

    action: str
    actor: Actor
    target_type: str | None = None
    target_id: uuid.UUID | str | None = None
    data: Mapping[str, Any] | None = None


async def record(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID | None,
    action: str,
    actor: Actor,
    target_type: str | None = None,
    target_id: uuid.UUID | str | None = None,
    data: Mapping[str, Any] | None = None,
    occurred_at: datetime | None = None,
) -> AuditEvent:
    """Append an event to the organization's chain (the system chain when None).

    Takes the chain head's row lock until the caller's transaction ends; keep the
    transaction short. ``data`` must name people by id only.
    """
    pending = PendingEvent(action, actor, target_type, target_id, data)
    (event,) = await record_many(
        session, organization_id=organization_id, events=[pending], occurred_at=occurred_at
    )
    return event


async def record_many(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID | None,
    events: Sequence[PendingEvent],
    occurred_at: datetime | None = None,
) -> list[AuditEvent]:
    """Append several events to one chain with one head update (bulk work: imports)."""
    if not events:
        return []
    chain = chain_for(organization_id)
    advance = (
        update(AuditChainHead)
        .where(AuditChainHead.chain == chain)
        .values(seq=AuditChainHead.seq + len(events))
        .returning(AuditChainHead.seq, AuditChainHead.hash)
    )
    row = (await session.execute(advance)).one_or_none()
    if row is None:  # the chain's first event
        await insert_ignore(session, AuditChainHead, {"chain": chain, "seq": 0, "hash": GENESIS})
        row = (await session.execute(advance)).one()
    moment = occurred_at or utcnow()
    links = chain_events(
        chain,
        int(row.seq) - len(events),
        str(row.hash),
        [(pending, moment) for pending in events],
    )
    rows = [
        AuditEvent(
            chain=chain,
            seq=link.seq,
            organization_id=organization_id,
            occurred_at=link.occurred_at,
            action=link.event.action,
            actor_type=link.event.actor.type,
            actor_id=link.event.actor.id,
            target_type=link.event.target_type,
            target_id=link.target_id,
            canonical=link.canonical,
            prev_hash=link.prev_hash,
            hash=link.hash,
        )
        for link in links
    ]
    if session.get_bind().dialect.name == "postgresql":
        # The head stays locked until the caller commits: one round trip on the driver
        # (rows and head hash in one statement) instead of the ORM's insert and update.
        connection = await session.connection()
        driver = (await connection.get_raw_connection()).driver_connection
        assert driver is not None
        await driver.execute(
            INSERT_AND_SET_HEAD_HASH, chain, links[-1].hash, organization_id, *row_arrays(links)
        )
        return rows  # as written; not in the session (read them back to have them there)
    session.add_all(rows)
    await session.execute(
        update(AuditChainHead).where(AuditChainHead.chain == chain).values(hash=links[-1].hash)
    )
    await session.flush()
    return rows


@dataclass(frozen=True, slots=True)
class ChainedEvent:
    """A pending event given its place in a chain: what its row stores."""

    event: PendingEvent
    occurred_at: datetime
    seq: int
    target_id: str | None
    canonical: str
    prev_hash: str
    hash: str


def chain_events(
    chain: str,
    after_seq: int,
    prev_hash: str,
    events: Sequence[tuple[PendingEvent, datetime]],
    prefixes: Sequence[str | None] | None = None,
) -> list[ChainedEvent]:
    """Place ``events`` (each with its time) after sequence ``after_seq`` whose hash is
    ``prev_hash``: their sequence numbers, canonical texts and hashes, in order.
    ``prefixes``, when given, holds each event's ``event_text_prefix`` (computed ahead)."""
    chained: list[ChainedEvent] = []
    seq = after_seq
    for index, (pending, moment) in enumerate(events):
        seq += 1
        target = str(pending.target_id) if pending.target_id is not None else None
        canonical = canonical_event(
            chain=chain,
            seq=seq,
            occurred_at=moment,
            action=pending.action,
            actor_type=pending.actor.type,
            actor_id=pending.actor.id,
            target_type=pending.target_type,
            target_id=target,
            data=pending.data,
            prev_hash=prev_hash,
            prefix=prefixes[index] if prefixes is not None else None,
        )
        digest = link_hash(prev_hash, canonical)
        chained.append(ChainedEvent(pending, moment, seq, target, canonical, prev_hash, digest))
        prev_hash = digest
    return chained


def row_arrays(links: list[ChainedEvent]) -> tuple[list[Any], ...]:
    """The rows of ``links`` as one array per column, for ``INSERT_AND_SET_HEAD_HASH``."""
    return (
        [link.seq for link in links],
        [link.occurred_at for link in links],
        [link.event.action for link in links],
        [link.event.actor.type for link in links],
        [link.event.actor.id for link in links],
        [link.event.target_type for link in links],
        [link.target_id for link in links],
        [link.canonical for link in links],
        [link.prev_hash for link in links],
        [link.hash for link in links],
    )


# $1 chain, $2 new hash, $3 organization, then one array per column; the head's row is
# already locked (and its seq moved) earlier in the same transaction.
INSERT_AND_SET_HEAD_HASH = """
WITH head AS (UPDATE audit_chain_head SET hash = $2 WHERE chain = $1)
INSERT INTO audit_event (chain, seq, organization_id, occurred_at, action, actor_type,
                         actor_id, target_type, target_id, canonical, prev_hash, hash)
SELECT $1, e.seq, $3::uuid, e.occurred_at, e.action, e.actor_type, e.actor_id,
       e.target_type, e.target_id, e.canonical, e.prev_hash, e.hash
FROM unnest($4::bigint[], $5::timestamptz[], $6::text[], $7::text[], $8::text[],
            $9::text[], $10::text[], $11::text[], $12::text[], $13::text[])
     AS e(seq, occurred_at, action, actor_type, actor_id, target_type, target_id,
          canonical, prev_hash, hash)
"""


@dataclass(frozen=True, slots=True)
class VerifyResult:
    chain: str
    ok: bool
    checked: int
    head_seq: int
    broken: BrokenLink | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "chain": self.chain,
            "ok": self.ok,
            "checked": self.checked,
            "head_seq": self.head_seq,
            "first_broken_seq": self.broken.seq if self.broken else None,
            "reason": self.broken.reason if self.broken else None,
        }


async def iter_links(
    session: AsyncSession,
    chain: str,
    *,
    batch: int = VERIFY_BATCH,
    after: int = 0,
    up_to: int | None = None,
) -> AsyncIterator[list[StoredLink]]:
    """The chain's links after sequence ``after`` in sequence order, in batches (keyset
    pagination on seq), up to sequence ``up_to`` when given; each with its stored columns."""
    while True:
        stmt = select(
            AuditEvent.seq,
            AuditEvent.canonical,
            AuditEvent.prev_hash,
            AuditEvent.hash,
            AuditEvent.organization_id,
            AuditEvent.occurred_at,
            AuditEvent.action,
            AuditEvent.actor_type,
            AuditEvent.actor_id,
            AuditEvent.target_type,
            AuditEvent.target_id,
        ).where(AuditEvent.chain == chain, AuditEvent.seq > after)
        if up_to is not None:
            stmt = stmt.where(AuditEvent.seq <= up_to)
        rows = (await session.execute(stmt.order_by(AuditEvent.seq).limit(batch))).all()
        if not rows:
            return
        yield [
            StoredLink(
                int(r.seq),
                r.canonical,
                r.prev_hash,
                r.hash,
                StoredColumns(
                    organization_id=str(r.organization_id) if r.organization_id else None,
                    occurred_at=r.occurred_at,
                    action=r.action,
                    actor_type=r.actor_type,
                    actor_id=r.actor_id,
                    target_type=r.target_type,
                    target_id=r.target_id,
                ),
            )
            for r in rows
        ]
        after = int(rows[-1].seq)


async def verify_chain(session: AsyncSession, chain: str) -> VerifyResult:
    """Recompute a chain from its first event; report the first broken link, if any.

    Also checks that the chain ends where its head says, so deleting the newest events
    is detected too. On PostgreSQL the rows are read straight from the driver in large
    batches (the next batch is read while this one is checked) and checked by
    :func:`~waa_ads.audit.chain.verify_rows`; a row that check cannot vouch for is read
    again with its columns and judged by :func:`~waa_ads.audit.chain.verify_links`, so
    the outcome (and its reason) is the plain verification's.
    """
    # The head is read first: an event committed meanwhile lies beyond it and is left for
    # the next verification, instead of looking like a chain that runs past its head.
    head = (
        await session.execute(select(AuditChainHead).where(AuditChainHead.chain == chain))
    ).scalar_one_or_none()
    head_seq = int(head.seq) if head is not None else 0
    state = ChainState(chain=chain)
    broken: BrokenLink | None = None
    expected_org = _organization_of(chain)
    if session.get_bind().dialect.name == "postgresql" and expected_org is not _NO_ORGANIZATION:
        broken = await _verify_postgres(
            session, chain, expected_org, head_seq, state, batch=VERIFY_BATCH
        )
    else:
        async for links in iter_links(session, chain, up_to=head_seq):
            broken = verify_links_fast(state, links)
            if broken is not None:
                break
    if broken is None and head is not None:
        if head_seq != state.expected_seq - 1:
            broken = BrokenLink(
                state.expected_seq,
                f"chain ends at sequence {state.expected_seq - 1} but its head is at {head_seq}",
            )
        elif head.hash != state.last_hash:
            broken = BrokenLink(head_seq, "head hash does not match the last event")
    return VerifyResult(chain, broken is None, state.checked, head_seq, broken)


_NO_ORGANIZATION = object()


def _organization_of(chain: str) -> uuid.UUID | object | None:
    """The organization id the rows of ``chain`` must carry (None for the system chain), or
    ``_NO_ORGANIZATION`` when no row can match (a chain that is not an id in canonical form;
    the plain verification then reports each row)."""
    if chain == SYSTEM_CHAIN:
        return None
    try:
        organization_id = uuid.UUID(chain)
    except ValueError:
        return _NO_ORGANIZATION
    return organization_id if str(organization_id) == chain else _NO_ORGANIZATION


# The time comes written by the server in format_time's layout, for years 1000-9999 only
# (to_char writes 1000 BC as "1000" and years before 1000 with a leading zero), and only
# when the row's organization is the chain's; otherwise NULL, and the plain check judges
# the row from its own columns.
_FAST_ROWS = """
SELECT seq, canonical, prev_hash, hash,
       CASE WHEN organization_id IS NOT DISTINCT FROM $2::uuid
                 AND occurred_at >= '1000-01-01 00:00:00+00'
                 AND occurred_at < '10000-01-01 00:00:00+00'
            THEN to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') END,
       action, actor_type, actor_id, target_type, target_id
FROM audit_event
WHERE chain = $1 AND seq > $3 AND seq <= $4
ORDER BY seq
LIMIT $5
"""

#: Rows checked between two turns of the event loop, so that the batch read ahead keeps
#: arriving (and the server keeps sending it) while this one is checked.
VERIFY_SLICE = 500


async def _verify_postgres(
    session: AsyncSession,
    chain: str,
    expected_org: object,
    head_seq: int,
    state: ChainState,
    *,
    batch: int = VERIFY_BATCH,
) -> BrokenLink | None:
    connection = await session.connection()
    driver = (await connection.get_raw_connection()).driver_connection
    assert driver is not None

    async def fetch(after: int) -> list[Any]:
        return list(await driver.fetch(_FAST_ROWS, chain, expected_org, after, head_seq, batch))

    def read_ahead(rows: list[Any]) -> asyncio.Task[list[Any]] | None:
        if len(rows) < batch:
            return None
        return asyncio.ensure_future(fetch(int(rows[-1][0])))

    rows = await fetch(0)
    while rows:
        ahead = read_ahead(rows)
        start = 0
        try:
            while start < len(rows):
                await asyncio.sleep(0)  # the read ahead goes out, then keeps arriving
                end = start + VERIFY_SLICE
                stop = verify_rows(state, rows, start, end)
                if stop is None:
                    start = end
                    continue
                if ahead is not None:  # the connection must be free for the plain read
                    await ahead
                broken = await _verify_one(session, chain, int(rows[stop][0]), state)
                if broken is not None:
                    return broken
                start = stop + 1
        except BaseException:
            if ahead is not None:
                ahead.cancel()
            raise
        rows = await ahead if ahead is not None else []
    return None


async def _verify_one(
    session: AsyncSession, chain: str, seq: int, state: ChainState
) -> BrokenLink | None:
    """Judge the row at ``seq`` the plain way, with all its columns."""
    async for links in iter_links(session, chain, after=seq - 1, up_to=seq, batch=1):
        return verify_links(state, links)
    return BrokenLink(seq, f"expected sequence {state.expected_seq}, found none")


async def list_chains(session: AsyncSession) -> list[str]:
    heads = await session.execute(select(AuditChainHead.chain).order_by(AuditChainHead.chain))
    return [str(c) for c in heads.scalars()]


async def count_events(session: AsyncSession, chain: str) -> int:
    return int(
        (
            await session.execute(
                select(func.count()).select_from(AuditEvent).where(AuditEvent.chain == chain)
            )
        ).scalar_one()
    )


async def list_events(
    session: AsyncSession,
    chain: str,
    *,
    after_seq: int,
    limit: int,
    action: str | None = None,
    target_id: str | None = None,
) -> tuple[Sequence[AuditEvent], int | None]:
    """Up to ``limit`` events of ``chain`` after ``after_seq``, in chain order, optionally
    only those of one action or target; and the ``after_seq`` of the next page (None when
    this is the last)."""
    stmt = select(AuditEvent).where(AuditEvent.chain == chain, AuditEvent.seq > after_seq)
    if action:
        stmt = stmt.where(AuditEvent.action == action)
    if target_id:
        stmt = stmt.where(AuditEvent.target_id == target_id)
    rows = (await session.execute(stmt.order_by(AuditEvent.seq).limit(limit + 1))).scalars().all()
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1].seq if more and rows else None)


async def export_lines(session: AsyncSession, chain: str) -> AsyncIterator[str]:
    """JSON Lines a third party can verify: ``{"seq", "canonical", "prev_hash", "hash"}``."""
    import json

    async for links in iter_links(session, chain):
        for link in links:
            yield (
                json.dumps(
                    {
                        "seq": link.seq,
                        "canonical": link.canonical,
                        "prev_hash": link.prev_hash,
                        "hash": link.hash,
                    },
                    separators=(",", ":"),
                )
                + "\n"
            )


__all__ = [
    "SYSTEM_ACTOR",
    "Actor",
    "PendingEvent",
    "VerifyResult",
    "chain_for",
    "count_events",
    "export_lines",
    "list_chains",
    "record",
    "record_many",
    "verify_chain",
]
