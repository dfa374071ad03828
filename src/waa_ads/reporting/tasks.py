"""Reporting's background work: the scorecards of an administration, in bulk.

``reporting.generate_scorecards`` takes a job id, renders the scorecard of every released
result a chunk per transaction (progress committed after each), stores each PDF in the blob
store, then a ZIP of them all. It is idempotent: a scorecard already stored is reused, not
rendered again (the bytes would be the same), and a finished job returns at once.
"""

from __future__ import annotations

import tempfile
import uuid
import zipfile
from collections.abc import Callable

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from waa_ads.core.db import utcnow
from waa_ads.core.errors import DomainError
from waa_ads.core.storage import BlobNotFound
from waa_ads.core.tasks import TaskContext, task
from waa_ads.delivery.models import Attempt
from waa_ads.reporting import service
from waa_ads.reporting.models import ReportJob

log = structlog.get_logger(__name__)

Progress = Callable[[int, int], None]


def scorecard_name(attempt_id: uuid.UUID) -> str:
    return f"scorecard-{attempt_id}.pdf"


@task("reporting.generate_scorecards", max_retries=3)
async def generate_scorecards(
    ctx: TaskContext, *, job_id: str, progress: Progress | None = None
) -> str:
    """Run the scorecards job ``job_id``; its final state. Safe to run again."""
    jid = uuid.UUID(job_id)
    async with ctx.db.transaction() as session:
        job = await session.get(ReportJob, jid, with_for_update=True)
        if job is None or job.state == "done":
            return job.state if job is not None else "missing"
        job.state, job.started_at = "running", utcnow()
        job.done, job.skipped, job.error = 0, 0, None
        org, administration, base_url = job.organization_id, job.administration_id, job.base_url
        attempts = await service.released_attempts(session, org, administration)
        job.total = len(attempts)
        cohort = await service.cohort_context(session, org, administration)
    stored: list[tuple[uuid.UUID, str]] = []
    problems: list[str] = []
    for start in range(0, len(attempts), service.BULK_CHUNK):
        chunk = attempts[start : start + service.BULK_CHUNK]
        async with ctx.db.transaction() as session:
            rows = {
                a.id: a
                for a in (
                    await session.execute(select(Attempt).where(Attempt.id.in_(chunk)))
                ).scalars()
            }
            for attempt_id in chunk:
                try:
                    sha = await _one(ctx, session, rows[attempt_id], cohort, base_url)
                except DomainError as exc:
                    problems.append(f"{attempt_id}: {exc.detail}")
                    continue
                stored.append((attempt_id, sha))
            job = await session.get(ReportJob, jid, with_for_update=True)
            assert job is not None
            job.done = len(stored)
            job.skipped = len(problems)
        if progress is not None:
            progress(len(stored) + len(problems), len(attempts))
    archive = await _archive(ctx, stored)
    async with ctx.db.transaction() as session:
        job = await session.get(ReportJob, jid, with_for_update=True)
        assert job is not None
        job.archive_sha256, job.archive_size = archive
        job.state, job.finished_at = "done", utcnow()
        job.error = "\n".join(problems[:20]) or None
    log.info("reporting.scorecards_done", job_id=job_id, done=len(stored), skipped=len(problems))
    return "done"


async def _one(
    ctx: TaskContext,
    session: AsyncSession,
    attempt: Attempt,
    cohort: service.CohortContext,
    base_url: str | None,
) -> str:
    """Store one attempt's scorecard (or find it stored); its SHA-256."""
    from waa_ads.reporting.pdf import render_scorecard  # matplotlib: only when rendering

    built = await service.build_scorecard(session, ctx.settings, ctx.blobs, attempt, cohort=cohort)
    receipt = built.receipt
    assert receipt is not None
    if receipt.pdf_sha256 is not None and await ctx.blobs.exists(receipt.pdf_sha256):
        return receipt.pdf_sha256
    ref = await ctx.blobs.put(await render_scorecard(built.card), "application/pdf")
    receipt.pdf_sha256 = ref.sha256
    await session.flush()
    return ref.sha256


async def _archive(ctx: TaskContext, stored: list[tuple[uuid.UUID, str]]) -> tuple[str, int]:
    """A ZIP of the stored scorecards (fixed order and times: the same PDFs give the same
    archive), written through a temporary file so memory stays flat."""
    with tempfile.TemporaryFile() as spool:
        with zipfile.ZipFile(spool, "w", zipfile.ZIP_DEFLATED) as archive:
            for attempt_id, sha in sorted(stored):
                try:
                    data = await ctx.blobs.get(sha)
                except BlobNotFound:
                    continue
                info = zipfile.ZipInfo(scorecard_name(attempt_id), date_time=(2000, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_STORED  # PDFs are compressed already
                archive.writestr(info, data)
        size = spool.tell()
        spool.seek(0)
        ref = await ctx.blobs.put(spool, "application/zip")
    return ref.sha256, size
