"""Automated scoring's background work: training a model version, and routing the answers
waiting for a person through the active models (per attempt on request, and a periodic
sweep that catches every attempt reaching ``scoring``)."""

from __future__ import annotations

import uuid

from waa_ads.autoscore import service
from waa_ads.core.tasks import TaskContext, periodic, task


@task(service.TRAIN_TASK, max_retries=3)
async def train_model(ctx: TaskContext, *, model_id: str) -> str:
    """Train the model row ``model_id`` if it is still ``training`` (progress on the row);
    its status when done. Safe to run twice: a trained or failed row is left alone."""
    return await service.run_training(ctx.db, ctx.blobs, uuid.UUID(model_id))


@task(service.ROUTE_TASK)
async def route_attempt(ctx: TaskContext, *, attempt_id: str) -> int:
    """Let the active models decide on one attempt's waiting answers; how many they
    decided on. Idempotent: an answer decided on before is left alone."""
    async with ctx.db.transaction() as session:
        return len(await service.route_attempt(session, ctx.blobs, uuid.UUID(attempt_id)))


@periodic("autoscore.route_responses", every_seconds=30)
async def route_responses(ctx: TaskContext) -> int:
    """Route the answers that started waiting for a person since the last run, for items
    with an active model (a bounded batch of attempts, one unit of work each)."""
    return await service.route_waiting(ctx.db, ctx.blobs)
