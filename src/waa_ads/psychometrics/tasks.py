"""Psychometrics' background work: each administration's stored item analysis follows its
scores (a periodic sweep adds the attempts scored since its last run), and calibrations
asked for run here."""

from __future__ import annotations

import uuid

from waa_ads.core.tasks import TaskContext, periodic, task
from waa_ads.psychometrics import runs, service


@periodic("psychometrics.refresh_item_analyses", every_seconds=60)
async def refresh_item_analyses(ctx: TaskContext) -> int:
    """Update the stored item analysis of every administration with newer results (a
    bounded batch per run); the number of administrations updated. Idempotent."""
    async with ctx.db.transaction() as session:
        stale = await service.stale_item_analyses(session)
    for organization_id, administration_id in stale:
        async with ctx.db.transaction() as session:
            await service.refresh_item_analysis(session, organization_id, administration_id)
    return len(stale)


@task("psychometrics.refresh_item_analysis")
async def refresh_item_analysis(
    ctx: TaskContext, *, organization_id: str, administration_id: str
) -> int:
    """Update one administration's stored item analysis now; the attempts it holds."""
    async with ctx.db.transaction() as session:
        return await service.refresh_item_analysis(
            session, uuid.UUID(organization_id), uuid.UUID(administration_id)
        )


@task("psychometrics.calibrate")
async def calibrate(ctx: TaskContext, *, run_id: str) -> str:
    """Run a queued calibration (``runs.execute_run``); its final status. Idempotent."""
    return await runs.execute_run(ctx.db, uuid.UUID(run_id))
