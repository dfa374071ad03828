"""Delivery's background work: the periodic expiry sweep."""

from __future__ import annotations

from waa_ads.core.settings import get_settings
from waa_ads.core.tasks import TaskContext, periodic
from waa_ads.delivery import service


@periodic("delivery.expire_attempts", every_seconds=get_settings().expiry_sweep_interval_s)
async def expire_attempts(ctx: TaskContext) -> int:
    """Expire every live attempt past its deadline plus grace, even if its candidate never
    comes back; the attempts are then handed to scoring."""
    return await service.sweep_expired(ctx.db, ctx.settings)
