"""Scoring's background work."""

from __future__ import annotations

import uuid

from waa_ads.core.tasks import TaskContext, periodic, task
from waa_ads.scoring import service


@task("scoring.score_attempt")
async def score_attempt(ctx: TaskContext, *, attempt_id: str) -> str | None:
    """Score an ended attempt (submitted, expired or terminated). Safe to run twice."""
    async with ctx.db.transaction() as session:
        result = await service.score_attempt(session, uuid.UUID(attempt_id), reason="attempt ended")
        return str(result.id) if result is not None else None


@periodic("scoring.score_waiting_attempts", every_seconds=60)
async def score_waiting_attempts(ctx: TaskContext) -> int:
    """Score ended attempts whose own scoring task was lost (a broker that was down or
    emptied when it was published): the sweep that makes scoring happen eventually."""
    return await service.score_waiting(ctx.db)


@task("scoring.score_administration")
async def score_administration(
    ctx: TaskContext, *, organization_id: str, administration_id: str
) -> int:
    """Score every ended attempt of an administration in bulk (after it closes, when many
    attempts end at once). Safe to run twice, and alongside the per-attempt task."""
    return await service.score_administration(
        ctx.db, uuid.UUID(organization_id), uuid.UUID(administration_id)
    )
