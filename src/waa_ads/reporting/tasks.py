"""Reporting's background work: the scorecards of an administration, in bulk.

``reporting.generate_scorecards`` (a job id) lists the released results, fixes the cohort
figures once for the whole job, and splits the attempts into chunks, each a
``reporting.render_scorecards`` task, so that every worker process takes a share. A chunk
renders its scorecards, stores each PDF in the blob store and, in one short transaction,
counts itself on the job (once, however often it is delivered). The chunk that completes
the job writes the ZIP of every scorecard and marks the job done.

Everything is idempotent: a scorecard already stored is reused, not rendered again (the
bytes would be the same); a finished job returns at once; a redelivered chunk does not
count twice, and still finishes a job whose finishing was interrupted.
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
from waa_ads.core.tasks import TaskContext, enqueue_after_commit, task
from waa_ads.delivery.models import Attempt
from waa_ads.reporting import service
from waa_ads.reporting.models import ReportJob, ReportReceipt

log = structlog.get_logger(__name__)

Progress = Callable[[int, int], None]


def scorecard_name(attempt_id: uuid.UUID) -> str:
    return f"scorecard-{attempt_id}.pdf"


@task("reporting.generate_scorecards", max_retries=3)
async def generate_scorecards(
    ctx: TaskContext, *, job_id: str, progress: Progress | None = None, fan_out: bool = True
) -> str:
    """Start the scorecards job ``job_id``: one ``reporting.render_scorecards`` task per
    chunk (``fan_out``), or every chunk here, one after the other, reporting ``progress``
    (the command line without a broker). Its state afterwards."""
    jid = uuid.UUID(job_id)
    async with ctx.db.transaction() as session:
        job = await session.get(ReportJob, jid, with_for_update=True)
        if job is None or job.state in ("done", "running"):
            return job.state if job is not None else "missing"
        org, administration = job.organization_id, job.administration_id
        attempts = await service.released_attempts(session, org, administration)
        cohort = await service.cohort_context(session, org, administration)
        size = max(job.chunk_size, 1)
        chunks = [attempts[i : i + size] for i in range(0, len(attempts), size)]
        job.state, job.started_at = "running", utcnow()
        job.total, job.done, job.skipped, job.error = len(attempts), 0, 0, None
        job.chunks_total, job.chunks_done = len(chunks), []
        job.cohort = {"scores": cohort.scores, "sem": cohort.sem}
        if fan_out:
            for index, chunk in enumerate(chunks):
                enqueue_after_commit(
                    session,
                    "reporting.render_scorecards",
                    job_id=job_id,
                    chunk=index,
                    attempt_ids=[str(a) for a in chunk],
                )
    if not chunks:
        return await _finish(ctx, jid)
    if fan_out:
        return "running"
    state = "running"
    for index, chunk in enumerate(chunks):
        state = await _render_chunk(ctx, jid, index, chunk)
        if progress is not None:
            progress(min((index + 1) * size, len(attempts)), len(attempts))
    return state


@task("reporting.render_scorecards", max_retries=3)
async def render_scorecards(
    ctx: TaskContext, *, job_id: str, chunk: int, attempt_ids: list[str]
) -> str:
    """Render and store one chunk of a scorecards job's attempts; the job's state."""
    return await _render_chunk(ctx, uuid.UUID(job_id), chunk, [uuid.UUID(a) for a in attempt_ids])


async def _render_chunk(
    ctx: TaskContext, jid: uuid.UUID, index: int, attempt_ids: list[uuid.UUID]
) -> str:
    async with ctx.db.transaction(write=False) as session:
        job = await session.get(ReportJob, jid)
        if job is None or job.state == "done":
            return job.state if job is not None else "missing"
        seen = index in job.chunks_done
        context = service.CohortContext(
            job.administration_id, list(job.cohort.get("scores") or []), job.cohort.get("sem")
        )
        base_url = job.base_url
    stored = 0
    problems: list[str] = []
    if not seen:
        async with ctx.db.transaction() as session:
            rows = {
                a.id: a
                for a in (
                    await session.execute(select(Attempt).where(Attempt.id.in_(attempt_ids)))
                ).scalars()
            }
            for attempt_id in attempt_ids:
                try:
                    await _one(ctx, session, rows[attempt_id], context, base_url)
                except DomainError as exc:
                    problems.append(f"{attempt_id}: {exc.detail}")
                    continue
                stored += 1
    async with ctx.db.transaction() as session:
        job = await session.get(ReportJob, jid, with_for_update=True)
        assert job is not None
        if index not in job.chunks_done:
            job.chunks_done = [*job.chunks_done, index]
            job.done += stored
            job.skipped += len(problems)
            if problems:
                job.error = "\n".join([*(job.error or "").splitlines(), *problems][:20])
        complete = len(job.chunks_done) >= job.chunks_total and job.state != "done"
    if complete:
        return await _finish(ctx, jid)
    return "running"


async def _one(
    ctx: TaskContext,
    session: AsyncSession,
    attempt: Attempt,
    cohort: service.CohortContext,
    base_url: str | None,
) -> str:
    """Store one attempt's scorecard (or find it stored); its SHA-256."""
    from waa_ads.reporting.pdf import render_scorecard  # matplotlib: only when rendering

    built = await service.build_scorecard(
        session, ctx.settings, ctx.blobs, attempt, cohort=cohort, base_url=base_url
    )
    receipt = built.receipt
    assert receipt is not None
    if receipt.pdf_sha256 is not None and await ctx.blobs.exists(receipt.pdf_sha256):
        return receipt.pdf_sha256
    ref = await ctx.blobs.put(await render_scorecard(built.card), "application/pdf")
    receipt.pdf_sha256 = ref.sha256
    await session.flush()
    return ref.sha256


async def _finish(ctx: TaskContext, jid: uuid.UUID) -> str:
    """Write the ZIP of the job's scorecards and mark it done (again harmlessly)."""
    async with ctx.db.transaction(write=False) as session:
        job = await session.get(ReportJob, jid)
        assert job is not None
        if job.state == "done":
            return "done"
        attempts = await service.released_attempts(
            session, job.organization_id, job.administration_id
        )
        receipts = (
            await session.execute(
                select(ReportReceipt.attempt_id, ReportReceipt.revision, ReportReceipt.pdf_sha256)
                .where(
                    ReportReceipt.administration_id == job.administration_id,
                    ReportReceipt.pdf_sha256.is_not(None),
                )
                .order_by(ReportReceipt.attempt_id, ReportReceipt.revision)
            )
        ).all()
        newest = {attempt_id: sha for attempt_id, _, sha in receipts if sha is not None}
        stored = [(a, newest[a]) for a in attempts if a in newest]
    archive = await _archive(ctx, stored)
    async with ctx.db.transaction() as session:
        job = await session.get(ReportJob, jid, with_for_update=True)
        assert job is not None
        if job.state != "done":
            job.archive_sha256, job.archive_size = archive
            job.state, job.finished_at = "done", utcnow()
    log.info("reporting.scorecards_done", job_id=str(jid), scorecards=len(stored))
    return "done"


async def _archive(ctx: TaskContext, stored: list[tuple[uuid.UUID, str]]) -> tuple[str, int]:
    """A ZIP of the stored scorecards (fixed order and times: the same PDFs give the same
    archive), written through a temporary file so memory stays flat."""
    with tempfile.TemporaryFile() as spool:
        with zipfile.ZipFile(spool, "w", zipfile.ZIP_STORED) as archive:
            for attempt_id, sha in sorted(stored):
                try:
                    data = await ctx.blobs.get(sha)
                except BlobNotFound:
                    continue
                info = zipfile.ZipInfo(scorecard_name(attempt_id), date_time=(2000, 1, 1, 0, 0, 0))
                archive.writestr(info, data)  # PDFs are compressed already: stored as is
        size = spool.tell()
        spool.seek(0)
        ref = await ctx.blobs.put(spool, "application/zip")
    return ref.sha256, size
