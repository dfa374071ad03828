"""Delivery's background work: the periodic expiry sweep, and what follows a change to an
administration (deadlines computed again, attempts of a cancelled one ended)."""

from __future__ import annotations

import uuid

from waa_ads.core.settings import get_settings
from waa_ads.core.tasks import TaskContext, periodic, task
from waa_ads.delivery import service


@periodic("delivery.expire_attempts", every_seconds=get_settings().expiry_sweep_interval_s)
async def expire_attempts(ctx: TaskContext) -> int:
    """Expire every live attempt past its deadline plus grace, even if its candidate never
    comes back; the attempts are then handed to scoring."""
    expired = await service.sweep_expired(ctx.db, ctx.settings)
    # Breaks that lasted their longest end (the clock runs again), also for candidates
    # who never come back; and cancellations whose own task was lost are caught up with.
    await service.sweep_overdue_breaks(ctx.db, ctx.settings)
    await service.end_cancelled_attempts(ctx.db)
    return expired


@task("delivery.recompute_deadlines")
async def recompute_deadlines(
    ctx: TaskContext,
    *,
    administration_id: str | None = None,
    roster_entry_id: str | None = None,
    reason: str,
) -> int:
    """An administration's window or a candidate's accommodations changed: compute the
    deadlines of the live attempts concerned again."""
    return await service.recompute_deadlines(
        ctx.db,
        ctx.settings,
        administration_id=uuid.UUID(administration_id) if administration_id else None,
        roster_entry_id=uuid.UUID(roster_entry_id) if roster_entry_id else None,
        reason=reason,
    )


@task("delivery.end_cancelled_attempts")
async def end_cancelled_attempts(ctx: TaskContext, *, administration_id: str) -> int:
    """An administration was cancelled: its live attempts are terminated (then scored)."""
    return await service.end_cancelled_attempts(ctx.db, uuid.UUID(administration_id))
