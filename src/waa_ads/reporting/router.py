"""Reporting routes under ``/api/v1/reports``: scorecards and their receipts, the public
verification of a code or a PDF, cohort and item reports (JSON, HTML, PDF), exports (CSV,
XLSX), bulk scorecard jobs and their expiring download links."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import RedirectResponse

from waa_ads.assessments import code_limits
from waa_ads.assessments.errors import AccessCodeRateLimited, AdministrationNotFound
from waa_ads.auth.deps import PrincipalDep
from waa_ads.auth.errors import CREDENTIAL_ERRORS, RoleRequired
from waa_ads.core import i18n
from waa_ads.core.deps import DatabaseDep, SessionDep, SettingsDep
from waa_ads.core.errors import error_responses
from waa_ads.core.params import INT64_MAX
from waa_ads.delivery.errors import AccessCodeInvalid, AttemptNotFound
from waa_ads.reporting import errors, schemas, service
from waa_ads.reporting.models import ReportJob

router = APIRouter(prefix="/reports", tags=["reports"])

_ADMIN = (*CREDENTIAL_ERRORS, RoleRequired)
_PDF = {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}
#: A scorecard is a few hundred kilobytes; anything far larger is not one.
MAX_VERIFY_BYTES = 10 * 1024 * 1024
#: Verifications per client and minute: plenty for people, useless for guessing codes
#: (80 bits each).
VERIFY_PER_MINUTE = 60


async def _limit_verify(request: Request) -> None:
    limiter = request.app.state.auth.limiter
    client = request.client.host if request.client else "unknown"
    window = await limiter.hit(f"report-verify:{client}", 60)
    if window.count > VERIFY_PER_MINUTE:
        raise errors.VerifyRateLimited(
            "too many verifications from this address; try again in a minute",
            extra={"headers": {"Retry-After": str(window.retry_after_s)}},
        )


def _file(
    data: bytes, media_type: str, name: str, *, inline: bool = False, language: str | None = None
) -> Response:
    """A document to download; ``language``: the one it is written in (``Content-Language``)."""
    disposition = "inline" if inline else "attachment"
    headers = {
        "Content-Disposition": f'{disposition}; filename="{name}"',
        "Cache-Control": "private, no-store",
    }
    if language:
        headers["Content-Language"] = language
    return Response(data, media_type=media_type, headers=headers)


def _base_url(request: Request, settings: Any) -> str:
    return str(settings.public_base_url or str(request.base_url)).rstrip("/")


@router.get(
    "/attempts/{attempt_id}/scorecard.pdf",
    summary="The scorecard PDF of an attempt's released result (or a staff preview)",
    response_class=Response,
    responses={
        200: {"description": "The scorecard.", "content": _PDF},
        **error_responses(
            *_ADMIN,
            AttemptNotFound,
            errors.ResultNotReleasedForReport,
            errors.ResultNotScoredForReport,
            errors.ReleaseNotRecorded,
        ),
    },
)
async def scorecard(
    request: Request,
    session: SessionDep,
    db: DatabaseDep,  # the first scorecard of a revision issues its receipt: a write
    settings: SettingsDep,
    principal: PrincipalDep,
    attempt_id: uuid.UUID,
    preview: Annotated[
        bool,
        Query(description="The newest revision even if not released: watermarked NOT "
              "RELEASED and without a verification code."),
    ] = False,
) -> Response:  # fmt: skip
    """The first scorecard of a released revision issues its receipt (a verification code
    bound to the revision's ``result.released`` audit event); later ones reuse it and are
    the same bytes."""
    data, built = await service.scorecard_pdf(
        session,
        settings,
        request.app.state.blobs,
        principal,
        attempt_id,
        preview=preview,
        base_url=_base_url(request, settings),
        db=db,
    )
    suffix = "-preview" if preview else ""
    return _file(
        data,
        "application/pdf",
        f"scorecard-{attempt_id}{suffix}.pdf",
        language=built.card.language,
    )


@router.post(
    "/candidate/scorecard.pdf",
    summary="A candidate's own scorecard PDF, by the access code they sat the test with",
    response_class=Response,
    responses={
        200: {"description": "The scorecard.", "content": _PDF},
        **error_responses(
            AccessCodeInvalid,
            AttemptNotFound,
            errors.ResultNotReleasedForReport,
            errors.ReleaseNotRecorded,
            AccessCodeRateLimited,
            errors.ScorecardRateLimited,
        ),
    },
)
async def candidate_scorecard(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    body: schemas.CandidateScorecardRequest,
) -> Response:
    """No sign-in: the access code is the candidate's credential, as for the lookup of
    their results. Only an attempt that code opened, only once its result is released
    (409 ``result-not-released-for-report`` before), never a preview; the same file as
    the staff download (the first one issues the receipt, in this request's own unit of
    work: a POST writes).

    Unknown codes count against the client address as on the lookup (429
    ``access-code-rate-limited`` past ``WAA_ACCESS_CODE_MAX_FAILURES_PER_CLIENT`` in
    ``WAA_ACCESS_CODE_FAILURE_WINDOW_S``), and one code gets at most
    ``WAA_CANDIDATE_SCORECARDS_PER_HOUR`` scorecards an hour (429
    ``scorecard-rate-limited``)."""
    attempts = code_limits.CodeAttempts.of(request, settings)
    await attempts.refuse_if_exhausted(session)
    try:
        data, built = await service.candidate_scorecard_pdf(
            session,
            settings,
            request.app.state.blobs,
            body.access_code,
            body.attempt_id,
            base_url=_base_url(request, settings),
            limiter=attempts.limiter,
        )
    except AccessCodeInvalid as unknown:
        return await attempts.count_failure(session, request, unknown)
    return _file(
        data, "application/pdf", f"scorecard-{body.attempt_id}.pdf", language=built.card.language
    )


@router.get(
    "/attempts/{attempt_id}/receipt",
    response_model=schemas.ReceiptRead,
    summary="The receipt of an attempt's released scorecard (issued on first use)",
    responses=error_responses(
        *_ADMIN, AttemptNotFound, errors.ResultNotReleasedForReport, errors.ReleaseNotRecorded
    ),
)
async def receipt(
    request: Request,
    session: SessionDep,
    db: DatabaseDep,
    settings: SettingsDep,
    principal: PrincipalDep,
    attempt_id: uuid.UUID,
) -> schemas.ReceiptRead:
    _, built = await service.scorecard_pdf(
        session, settings, request.app.state.blobs, principal, attempt_id,
        base_url=_base_url(request, settings), db=db,
    )  # fmt: skip
    r = built.receipt
    assert r is not None
    return schemas.ReceiptRead(
        attempt_id=r.attempt_id,
        revision=r.revision,
        code=service.figures.format_code(r.code),
        verify_url=r.verify_url,
        release_seq=r.release_seq,
        release_hash=r.release_hash,
        figures=[schemas.FigureRead(**f) for f in r.figures],
    )


def _verdict(v: service.Verdict) -> schemas.VerifyRead:
    return schemas.VerifyRead(
        code=v.code,
        status=v.status,
        valid=v.status == "valid",
        message=v.message,
        organization_name=v.organization_name,
        revision=v.revision,
        issued_at=v.issued_at,
        figures=[schemas.FigureRead(**f.to_dict()) for f in v.figures],
    )


@router.get(
    "/verify/{code}",
    response_model=schemas.VerifyRead,
    summary="Verify a scorecard's code (public: no sign-in)",
    responses=error_responses(errors.ReceiptNotFound, errors.VerifyRateLimited),
)
async def verify(request: Request, session: SessionDep, code: str) -> schemas.VerifyRead:
    """What the code's scorecard printed, and whether it is still the released result.
    Shows only what the scorecard shows. At most 60 a minute per client address."""
    await _limit_verify(request)
    return _verdict(await service.verify_code(session, code))


@router.post(
    "/verify",
    response_model=schemas.FileVerdictRead,
    summary="Verify a scorecard PDF (public: no sign-in)",
    openapi_extra={"requestBody": {"required": True, "content": _PDF}},
    responses=error_responses(errors.ScorecardUnreadable, errors.VerifyRateLimited),
)
async def verify_pdf(request: Request, session: SessionDep) -> schemas.FileVerdictRead:
    """Send the PDF as the request body. Says whether the figures printed on it, and
    embedded in it, are the released ones, and names the first difference. At most 60 a
    minute per client address."""
    await _limit_verify(request)
    data = await request.body()
    if len(data) > MAX_VERIFY_BYTES:
        raise errors.ScorecardUnreadable("the file is far larger than any scorecard")
    v = await service.verify_file(session, data)
    return schemas.FileVerdictRead(
        ok=v.ok, code=v.code, status=v.status, message=v.message, difference=v.difference
    )


# --- cohort and item reports, exports --------------------------------------------------------

_ADMIN_ADMINISTRATION = (*_ADMIN, AdministrationNotFound)


def _cohort_read(report: service.CohortReport) -> schemas.CohortRead:
    return schemas.CohortRead(
        administration_id=uuid.UUID(report.administration_id),
        administration_title=report.administration_title,
        assessment_title=report.assessment_title,
        attempts=report.attempts,
        scored=report.scored,
        released=report.released,
        withheld=report.withheld,
        mean=report.mean,
        sd=report.sd,
        median=report.median,
        minimum=report.minimum,
        maximum=report.maximum,
        pass_cut=report.pass_cut,
        passed=report.passed,
        failed=report.failed,
        pass_rate=report.pass_rate,
        bands=[b.__dict__ for b in report.bands],
        sections=[s.__dict__ for s in report.sections],
        reliability=report.reliability,
        items=[i.__dict__ for i in report.items],
        integrity=report.integrity,
        rating=report.rating,
        scaled_scores=report.scaled_scores,
    )


@router.get(
    "/administrations/{administration_id}/cohort",
    response_model=schemas.CohortRead,
    summary="The cohort report of an administration (JSON)",
    responses=error_responses(*_ADMIN_ADMINISTRATION),
)
async def cohort(
    session: SessionDep, principal: PrincipalDep, administration_id: uuid.UUID
) -> schemas.CohortRead:
    return _cohort_read(await service.cohort_report(session, principal, administration_id))


@router.get(
    "/administrations/{administration_id}/cohort.{fmt}",
    summary="The cohort report as a self-contained HTML page or a PDF",
    response_class=Response,
    responses={
        200: {"description": "HTML or PDF.", "content": {"text/html": {}, **_PDF}},
        **error_responses(*_ADMIN_ADMINISTRATION, errors.ReportFormatUnsupported),
    },
)
async def cohort_file(
    session: SessionDep, principal: PrincipalDep, administration_id: uuid.UUID, fmt: str
) -> Response:
    from waa_ads.reporting.html import cohort_html
    from waa_ads.reporting.pdf import render_cohort

    if fmt not in ("html", "pdf"):
        raise errors.ReportFormatUnsupported(f"cohort reports are html or pdf, not {fmt!r}")
    report = await service.cohort_report(session, principal, administration_id)
    if fmt == "html":
        return _file(cohort_html(report).encode(), "text/html; charset=utf-8",
                     f"cohort-{administration_id}.html", inline=True,
                     language=report.language)  # fmt: skip
    return _file(
        await render_cohort(report),
        "application/pdf",
        f"cohort-{administration_id}.pdf",
        language=report.language,
    )


@router.get(
    "/administrations/{administration_id}/charts/{name}.png",
    summary="A chart of the cohort report: distribution, curves-<item> or distractors-<item> (PNG)",
    response_class=Response,
    responses={
        200: {"description": "PNG.", "content": {"image/png": {}}},
        **error_responses(*_ADMIN_ADMINISTRATION, errors.ReportFormatUnsupported),
    },
)
async def chart(
    session: SessionDep, principal: PrincipalDep, administration_id: uuid.UUID, name: str
) -> Response:
    from waa_ads.reporting import charts

    report = await service.cohort_report(session, principal, administration_id)
    if name == "distribution":
        png, _ = charts.distribution(
            report.scaled_scores, cut=report.pass_cut, color=report.brand_color
        )
        return Response(png, media_type="image/png", headers={"Cache-Control": "private, no-store"})
    if name.startswith("curves-"):
        ref = name.removeprefix("curves-")
        item = next((i for i in report.items if i.item == ref and i.irt), None)
        curves = service.item_curves(item.irt) if item is not None and item.irt else None
        if curves is not None:
            png, _ = charts.characteristic_curves(
                curves, title=f"{ref} ({item.irt.get('model') if item and item.irt else ''})",
                ylabel=i18n.gettext("Probability"),
            )  # fmt: skip
            return Response(
                png, media_type="image/png", headers={"Cache-Control": "private, no-store"}
            )
    if name.startswith("distractors-"):
        ref = name.removeprefix("distractors-")
        row = next((i for i in report.items if i.item == ref and i.distractor_plot), None)
        if row is not None:
            png, _ = charts.distractors(ref, row.options)
            return Response(
                png, media_type="image/png", headers={"Cache-Control": "private, no-store"}
            )
    raise errors.ReportFormatUnsupported(f"no chart {name!r} in this report")


_TABLES = {
    "text/csv": {"schema": {"type": "string"}},
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
        "schema": {"type": "string", "format": "binary"}
    },
}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.get(
    "/administrations/{administration_id}/{table}.{fmt}",
    summary="Export results or item statistics as CSV or XLSX",
    response_class=Response,
    responses={
        200: {
            "description": "One row per attempt (results) or per item (items).",
            "content": _TABLES,
        },
        **error_responses(*_ADMIN_ADMINISTRATION, errors.ReportFormatUnsupported),
    },
)
async def export(
    session: SessionDep,
    principal: PrincipalDep,
    administration_id: uuid.UUID,
    table: str,
    fmt: str,
) -> Response:
    """``results``: ids and external ids, never names. ``items``: the classical item
    statistics with any calibrated IRT parameters."""
    if table not in ("results", "items") or fmt not in ("csv", "xlsx"):
        raise errors.ReportFormatUnsupported(
            f"exports are results or items, as csv or xlsx (not {table}.{fmt})"
        )
    if table == "results":
        columns, rows = (
            service.RESULT_COLUMNS,
            await service.result_rows(session, principal, administration_id),
        )
    else:
        report = await service.cohort_report(session, principal, administration_id)
        columns, rows = service.ITEM_COLUMNS, service.item_rows(report)
    name = f"{table}-{administration_id}.{fmt}"
    if fmt == "csv":
        return _file(service.to_csv(columns, rows), "text/csv", name)
    return _file(service.to_xlsx(table, columns, rows), XLSX, name)


# --- bulk jobs ------------------------------------------------------------------------------


def _job_read(request: Request, settings: Any, job: ReportJob) -> schemas.JobRead:
    url = None
    if job.state == "done" and job.archive_sha256:
        name = f"scorecards-{job.administration_id}.zip"
        query = service.download_query(settings.secret_key, job.archive_sha256, name)
        url = f"/api/v1/reports/files/{job.archive_sha256}?{query}"
    return schemas.JobRead(
        id=job.id, administration_id=job.administration_id, kind=job.kind, state=job.state,
        total=job.total, done=job.done, skipped=job.skipped, error=job.error,
        created_at=job.created_at, started_at=job.started_at, finished_at=job.finished_at,
        archive_size=job.archive_size, download_url=url,
    )  # fmt: skip


@router.post(
    "/administrations/{administration_id}/scorecards",
    response_model=schemas.JobRead,
    status_code=202,
    summary="Generate the scorecards of every released result, in the background",
    responses=error_responses(*_ADMIN_ADMINISTRATION),
)
async def start_scorecards(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: PrincipalDep,
    administration_id: uuid.UUID,
    chunk_size: Annotated[
        int, Query(ge=1, le=500, description="Scorecards per task (each task one worker's).")
    ] = service.BULK_CHUNK,
) -> schemas.JobRead:
    """Runs ``reporting.generate_scorecards`` once this commits, which splits the work into
    tasks of ``chunk_size`` scorecards for the workers; poll the job for its progress and,
    when done, its download link (a ZIP of the PDFs)."""
    job = await service.start_scorecards_job(
        session,
        principal,
        administration_id,
        base_url=_base_url(request, settings),
        chunk_size=chunk_size,
    )
    return _job_read(request, settings, job)


@router.get(
    "/jobs",
    response_model=list[schemas.JobRead],
    summary="Recent report jobs (newest first, at most 50)",
    responses=error_responses(*_ADMIN),
)
async def jobs(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: PrincipalDep,
    administration_id: uuid.UUID | None = None,
) -> list[schemas.JobRead]:
    rows = await service.list_jobs(session, principal, administration_id)
    return [_job_read(request, settings, j) for j in rows]


@router.get(
    "/jobs/{job_id}",
    response_model=schemas.JobRead,
    summary="A report job's progress and, once done, its download link",
    responses=error_responses(*_ADMIN, errors.ReportJobNotFound),
)
async def job(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: PrincipalDep,
    job_id: uuid.UUID,
) -> schemas.JobRead:
    return _job_read(request, settings, await service.get_job(session, principal, job_id))


@router.get(
    "/files/{sha256}",
    summary="Download a stored report through an expiring signed link (no sign-in)",
    response_class=Response,
    responses={
        200: {"description": "The file.", "content": {"application/zip": {}, **_PDF}},
        **error_responses(errors.DownloadLinkInvalid),
    },
)
async def download(
    request: Request,
    settings: SettingsDep,
    sha256: str,
    name: str,
    expires: Annotated[int, Query(ge=0, le=INT64_MAX, description="Unix time the link ends.")],
    signature: str,
) -> Response:
    service.check_link(settings.secret_key, sha256, name, expires, signature)
    media = "application/zip" if name.endswith(".zip") else "application/pdf"
    blobs = request.app.state.blobs
    direct = await blobs.url(sha256, expires_in_s=300, content_type=media)
    if direct is not None:
        return RedirectResponse(direct, status_code=307)
    return _file(await blobs.get(sha256), media, name)
