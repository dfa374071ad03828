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


@task("scoring.score_administration")
async def score_administration(
    ctx: TaskContext, *, organization_id: str, administration_id: str
) -> int:
    """Score every ended attempt of an administration in bulk (after it closes, when many
    attempts end at once). Safe to run twice, and alongside the per-attempt task."""
    return await service.score_administration(
        ctx.db, uuid.UUID(organization_id), uuid.UUID(administration_id)
    )
