"""Integrity's background work: each ended attempt is analysed (a periodic sweep picks up
attempts that ended since the last run), and an administration's answer similarity runs on
request."""

from __future__ import annotations

import uuid

from waa_ads.core.tasks import TaskContext, periodic, task
from waa_ads.integrity import frame_service, service


@periodic("integrity.analyse_ended_attempts", every_seconds=60)
async def analyse_ended_attempts(ctx: TaskContext) -> int:
    """Analyse the attempts that ended and have no summary yet, or one older than their
    end (a bounded batch per run, each attempt in a transaction of its own; one that
    fails is logged and tried again next run). Idempotent."""
    return await service.analyse_pending(ctx.db)


@task("integrity.analyse_attempt")
async def analyse_attempt(ctx: TaskContext, *, attempt_id: str) -> str:
    """Analyse one attempt now (replacing its summary). Safe to run twice."""
    async with ctx.db.transaction() as session:
        summary = await service.analyse_attempt(session, uuid.UUID(attempt_id))
        return summary.status


@task("integrity.analyse_similarity")
async def analyse_similarity(
    ctx: TaskContext,
    *,
    organization_id: str,
    administration_id: str,
    requested_by: str | None = None,
) -> int:
    """Answer similarity of an administration; the number of pairs flagged. Running it
    again replaces the previous run; ``requested_by`` (a user id) is the audit's actor."""
    async with ctx.db.transaction() as session:
        run = await service.analyse_similarity(
            session,
            uuid.UUID(organization_id),
            uuid.UUID(administration_id),
            requested_by=requested_by,
        )
        return run.flagged


@task("integrity.analyse_frame")
async def analyse_frame(ctx: TaskContext, *, frame_id: str) -> bool:
    """Analyse one webcam still (faces, light, frozen) and keep its thumbnail. Idempotent:
    an analysed, purged or missing frame is left as it is."""
    async with ctx.db.transaction() as session:
        return await frame_service.analyse_frame(session, ctx.blobs, uuid.UUID(frame_id))


@periodic("integrity.purge_frames", every_seconds=3600)
async def purge_frames(ctx: TaskContext) -> int:
    """Delete the webcam stills whose retention ended (and their thumbnails, unless a
    warning or invalidation rests on the attempt); a bounded batch per run. The bytes go
    after the commit (``integrity.delete_frame_blobs``)."""
    async with ctx.db.transaction() as session:
        return await frame_service.purge_expired(session)


@task("integrity.delete_frame_blobs")
async def delete_frame_blobs(ctx: TaskContext, *, sha256s: list[str]) -> int:
    """Delete the bytes of stills and thumbnails that no frame needs any more (queued
    after a purge or an erasure commits); the number deleted. Idempotent."""
    return await frame_service.delete_unneeded_blobs(ctx.db, ctx.blobs, sha256s)
