"""Recording and verifying audit events.

``record()`` runs inside the caller's transaction: the event commits or rolls back together
with the change it describes. It only flushes; the caller's edge commits.
"""

from __future__ import annotations

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
    build_event,
    canonicalize,
    link_hash,
    verify_links,
)
from waa_ads.audit.models import AuditChainHead, AuditEvent
from waa_ads.core.db import insert_ignore, utcnow

VERIFY_BATCH = 5_000


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
    seq = int(row.seq) - len(events)
    prev_hash = str(row.hash)
    moment = occurred_at or utcnow()
    rows: list[AuditEvent] = []
    for pending in events:
        seq += 1
        target = str(pending.target_id) if pending.target_id is not None else None
        document = build_event(
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
        )
        canonical = canonicalize(document)
        digest = link_hash(prev_hash, canonical)
        rows.append(
            AuditEvent(
                chain=chain,
                seq=seq,
                organization_id=organization_id,
                occurred_at=moment,
                action=pending.action,
                actor_type=pending.actor.type,
                actor_id=pending.actor.id,
                target_type=pending.target_type,
                target_id=target,
                canonical=canonical,
                prev_hash=prev_hash,
                hash=digest,
            )
        )
        prev_hash = digest
    session.add_all(rows)
    await session.execute(
        update(AuditChainHead).where(AuditChainHead.chain == chain).values(hash=prev_hash)
    )
    await session.flush()
    return rows


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
    session: AsyncSession, chain: str, *, batch: int = VERIFY_BATCH, up_to: int | None = None
) -> AsyncIterator[list[StoredLink]]:
    """The chain's links in sequence order, in batches (keyset pagination on seq), up to
    sequence ``up_to`` when given."""
    after = 0
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
    is detected too.
    """
    # The head is read first: an event committed meanwhile lies beyond it and is left for
    # the next verification, instead of looking like a chain that runs past its head.
    head = (
        await session.execute(select(AuditChainHead).where(AuditChainHead.chain == chain))
    ).scalar_one_or_none()
    head_seq = int(head.seq) if head is not None else 0
    state = ChainState(chain=chain)
    broken: BrokenLink | None = None
    async for links in iter_links(session, chain, up_to=head_seq):
        broken = verify_links(state, links)
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
