"""Reading the audit log for people: events of one chain filtered by what they are about,
who did them and when, in chain order or newest first.

Every filter uses a column that verification checks against the hashed text (see
:func:`waa_ads.audit.service.verify_chain`), so a filtered listing shows only what the chain
vouches for.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from waa_ads.audit.models import AuditEvent


@dataclass(frozen=True)
class EventFilter:
    """What a listing keeps; ``None`` keeps everything for that field. ``action_prefix``
    keeps a family of actions (``auth.`` for every sign-in event); ``since`` is inclusive,
    ``until`` exclusive."""

    action: str | None = None
    action_prefix: str | None = None
    actor_id: str | None = None
    target_type: str | None = None
    target_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def _escaped(prefix: str) -> str:
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


async def list_events(
    session: AsyncSession,
    chain: str,
    *,
    after_seq: int = 0,
    before_seq: int | None = None,
    newest_first: bool = False,
    limit: int,
    where: EventFilter = EventFilter(),
) -> tuple[Sequence[AuditEvent], int | None]:
    """Up to ``limit`` events of ``chain`` with ``after_seq < seq < before_seq`` that pass
    ``where``, oldest first (or newest first); and the sequence number to continue from
    (pass it as ``after_seq``, or ``before_seq`` when newest first), None on the last page."""
    stmt = select(AuditEvent).where(AuditEvent.chain == chain, AuditEvent.seq > after_seq)
    if before_seq is not None:
        stmt = stmt.where(AuditEvent.seq < before_seq)
    if where.action:
        stmt = stmt.where(AuditEvent.action == where.action)
    if where.action_prefix:
        stmt = stmt.where(AuditEvent.action.like(_escaped(where.action_prefix), escape="\\"))
    if where.actor_id:
        stmt = stmt.where(AuditEvent.actor_id == where.actor_id)
    if where.target_type:
        stmt = stmt.where(AuditEvent.target_type == where.target_type)
    if where.target_id:
        stmt = stmt.where(AuditEvent.target_id == where.target_id)
    if where.since is not None:
        stmt = stmt.where(AuditEvent.occurred_at >= where.since)
    if where.until is not None:
        stmt = stmt.where(AuditEvent.occurred_at < where.until)
    order = AuditEvent.seq.desc() if newest_first else AuditEvent.seq
    rows = (await session.execute(stmt.order_by(order).limit(limit + 1))).scalars().all()
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1].seq if more and rows else None)
