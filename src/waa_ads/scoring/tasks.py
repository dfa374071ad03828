"""Scoring's background work."""

from __future__ import annotations

import uuid

from waa_ads.core.tasks import TaskContext, task
from waa_ads.scoring import service


@task("scoring.score_attempt")
async def score_attempt(ctx: TaskContext, *, attempt_id: str) -> str | None:
    """Score an ended attempt (submitted, expired or terminated). Safe to run twice."""
    async with ctx.db.transaction() as session:
        result = await service.score_attempt(session, uuid.UUID(attempt_id), reason="attempt ended")
        return str(result.id) if result is not None else None
