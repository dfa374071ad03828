"""Rating's background work."""

from __future__ import annotations

from waa_ads.core.tasks import TaskContext, periodic
from waa_ads.rating import service


@periodic("rating.queue_responses", every_seconds=60)
async def queue_responses(ctx: TaskContext) -> int:
    """Queue the responses that started waiting for a person since the last run, and score
    the unanswered ones 0, for every plan whose administration has attempts in
    ``scoring`` (a bounded batch of plans, one unit of work each). Idempotent: a response
    already queued is left alone."""
    return await service.sync_all(ctx.db)
