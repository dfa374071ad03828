"""``waa-ads report ...``: scorecards, cohort reports, bulk scorecards with a progress bar,
exports, and verifying a scorecard PDF. Registered by the ``waa-ads`` command (cli.py).

Commands act as the system with an admin's rights in the organization that owns the
attempt or administration named (ids are unique across organizations). A refusal ends the
command with one ``error:`` line and exit code 2, never a traceback."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape

from waa_ads.core.errors import DomainError
from waa_ads.core.settings import Settings

report_app = typer.Typer(
    help="Score reports: scorecards, cohort reports, exports, verification.",
    no_args_is_help=True,
)
err = Console(stderr=True)
T = TypeVar("T")


def _fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True)
    return typer.Exit(code)


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        raise _fail(f"settings: {exc.errors()[0]['msg']}") from None


def _uuid(value: str, option: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise _fail(f"{option} is not an id: {value!r}") from None


def _with_db(work: Callable[[Any, Settings, Any], Awaitable[T]]) -> T:
    """Run ``work(db, settings, blobs)``; a domain error is one line and exit 2."""
    from waa_ads.core.db import database_from_settings
    from waa_ads.core.storage import blob_store_from_settings

    settings = _settings()

    async def go() -> T:
        db = database_from_settings(settings)
        blobs = blob_store_from_settings(settings)
        try:
            return await work(db, settings, blobs)
        finally:
            await blobs.aclose()
            await db.dispose()

    try:
        return asyncio.run(go())
    except DomainError as exc:
        raise _fail(exc.detail or exc.title) from None


async def _principal_for(session: Any, model: Any, row_id: uuid.UUID, what: str) -> Any:
    from waa_ads.auth.deps import Principal

    row = await session.get(model, row_id)
    if row is None:
        raise _fail(f"no {what} {row_id}")
    return Principal.system(row.organization_id, via="cli")


@report_app.command("scorecard")
def scorecard(
    attempt: str = typer.Option(..., help="The attempt's id."),
    out: Path = typer.Option(..., help="Where to write the PDF."),
    preview: bool = typer.Option(
        False, help="An unreleased result, watermarked NOT RELEASED (no verification code)."
    ),
) -> None:
    """Write the scorecard PDF of an attempt's released result."""
    from waa_ads.delivery.models import Attempt
    from waa_ads.reporting import service

    attempt_id = _uuid(attempt, "--attempt")

    async def work(db: Any, settings: Settings, blobs: Any) -> tuple[bytes, str | None]:
        async with db.transaction() as session:
            principal = await _principal_for(session, Attempt, attempt_id, "attempt")
            data, built = await service.scorecard_pdf(
                session, settings, blobs, principal, attempt_id, preview=preview
            )
            code = built.receipt.code if built.receipt is not None else None
            return data, code

    data, code = _with_db(work)
    out.write_bytes(data)
    from waa_ads.reporting.figures import format_code

    what = f"verification code {format_code(code)}" if code else "preview, NOT RELEASED"
    typer.echo(f"wrote {out} ({len(data)} bytes, {what})")


@report_app.command("cohort")
def cohort(
    administration: str = typer.Option(..., help="The administration's id."),
    out: Path = typer.Option(..., help="FILE.pdf or FILE.html"),
) -> None:
    """Write the cohort report of an administration (PDF or self-contained HTML)."""
    from waa_ads.assessments.models import Administration
    from waa_ads.reporting import service

    if out.suffix.lower() not in (".pdf", ".html"):
        raise _fail(f"--out must end in .pdf or .html, not {out.name!r}")
    administration_id = _uuid(administration, "--administration")

    async def work(db: Any, settings: Settings, blobs: Any) -> bytes:
        from waa_ads.reporting.html import cohort_html
        from waa_ads.reporting.pdf import render_cohort

        async with db.transaction(write=False) as session:
            principal = await _principal_for(
                session, Administration, administration_id, "administration"
            )
            report = await service.cohort_report(session, principal, administration_id)
        if out.suffix.lower() == ".html":
            return cohort_html(report).encode()
        return await render_cohort(report)

    data = _with_db(work)
    out.write_bytes(data)
    typer.echo(f"wrote {out} ({len(data)} bytes)")


@report_app.command("export")
def export(
    administration: str = typer.Option(..., help="The administration's id."),
    table: str = typer.Option("results", help="results or items"),
    out: Path = typer.Option(..., help="FILE.csv or FILE.xlsx"),
) -> None:
    """Export results (one row per attempt) or item statistics as CSV or XLSX."""
    from waa_ads.assessments.models import Administration
    from waa_ads.reporting import service

    suffix = out.suffix.lower()
    if table not in ("results", "items") or suffix not in (".csv", ".xlsx"):
        raise _fail("--table is results or items, and --out ends in .csv or .xlsx")
    administration_id = _uuid(administration, "--administration")

    async def work(db: Any, settings: Settings, blobs: Any) -> bytes:
        async with db.transaction(write=False) as session:
            principal = await _principal_for(
                session, Administration, administration_id, "administration"
            )
            if table == "results":
                columns = service.RESULT_COLUMNS
                rows = await service.result_rows(session, principal, administration_id)
            else:
                report = await service.cohort_report(session, principal, administration_id)
                columns, rows = service.ITEM_COLUMNS, service.item_rows(report)
        if suffix == ".csv":
            return service.to_csv(columns, rows)
        return service.to_xlsx(table, columns, rows)

    data = _with_db(work)
    out.write_bytes(data)
    typer.echo(f"wrote {out} ({len(data)} bytes)")


@report_app.command("scorecards")
def scorecards(
    administration: str = typer.Option(..., help="The administration's id."),
    out: Path | None = typer.Option(None, help="Also write the ZIP of every scorecard here."),
) -> None:
    """Generate the scorecard of every released result of an administration, with a
    progress bar. With WAA_BROKER_URL the workers do it (this command follows the job);
    without, it runs here."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from waa_ads.assessments.models import Administration
    from waa_ads.core.tasks import TaskContext
    from waa_ads.reporting import service, tasks
    from waa_ads.reporting.models import ReportJob

    administration_id = _uuid(administration, "--administration")

    async def work(db: Any, settings: Settings, blobs: Any) -> tuple[str, int, int, str | None]:
        from waa_ads.core.tasks import CeleryDispatcher, celery_app_from_settings, use_dispatcher

        with Progress(
            "[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
            TimeRemainingColumn(), console=err,
        ) as bar:  # fmt: skip
            line = bar.add_task("scorecards", total=None)
            if settings.broker_url:
                dispatcher = CeleryDispatcher(celery_app_from_settings(settings), blocking=True)
                with use_dispatcher(dispatcher):
                    async with db.transaction() as session:
                        principal = await _principal_for(
                            session, Administration, administration_id, "administration"
                        )
                        job = await service.start_scorecards_job(
                            session, principal, administration_id
                        )
                        job_id = job.id
                while True:
                    async with db.transaction(write=False) as session:
                        row = await session.get(ReportJob, job_id)
                        assert row is not None
                        bar.update(line, total=row.total, completed=row.done + row.skipped)
                        if row.state in ("done", "failed"):
                            return row.state, row.done, row.skipped, row.archive_sha256
                    await asyncio.sleep(0.5)
            async with db.transaction() as session:
                principal = await _principal_for(
                    session, Administration, administration_id, "administration"
                )
                job = await service.start_scorecards_job(
                    session, principal, administration_id, enqueue=False
                )
                job_id = job.id
            ctx = TaskContext(db, settings, blobs, "reporting.generate_scorecards", "cli", 0)
            state = await tasks.generate_scorecards(
                ctx,
                job_id=str(job_id),
                progress=lambda done, total: bar.update(line, total=total, completed=done),
                fan_out=False,
            )
            async with db.transaction(write=False) as session:
                row = await session.get(ReportJob, job_id)
                assert row is not None
                return state, row.done, row.skipped, row.archive_sha256

    async def fetch(
        db: Any, settings: Settings, blobs: Any
    ) -> tuple[tuple[str, int, int, str | None], bytes | None]:
        outcome = await work(db, settings, blobs)
        archive = await blobs.get(outcome[3]) if out is not None and outcome[3] else None
        return outcome, archive

    (state, done, skipped, _), archive = _with_db(fetch)
    if out is not None and archive is not None:
        out.write_bytes(archive)
    typer.echo(
        f"{state}: {done} scorecards, {skipped} skipped" + (f"; wrote {out}" if archive else "")
    )
    if state != "done":
        raise typer.Exit(1)


@report_app.command("verify")
def verify(
    file: Path = typer.Argument(..., help="A scorecard PDF."),
) -> None:
    """Say whether the figures printed on a scorecard are the ones released: exit 0 when
    they are (and still current), 1 when not (naming the first difference), 2 when the file
    is not a readable scorecard."""
    from waa_ads.reporting import service

    try:
        data = file.read_bytes()
    except OSError as exc:
        raise _fail(f"cannot read {file}: {exc.strerror}") from None

    async def work(db: Any, settings: Settings, blobs: Any) -> service.FileVerdict:
        async with db.transaction(write=False) as session:
            return await service.verify_file(session, data)

    verdict = _with_db(work)
    if verdict.ok:
        typer.echo(f"verified: {file} carries code {verdict.code}; {verdict.message}")
        return
    typer.echo(f"NOT verified: {file} (code {verdict.code}): {verdict.message}")
    raise typer.Exit(1)
