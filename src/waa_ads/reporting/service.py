"""Reports from stored results: scorecards (with receipts bound to the audit chain), their
verification, cohort and item reports, exports, and bulk generation jobs.

Reads other domains' tables through their services where those exist and directly
otherwise (read only); writes only its own tables (``report_receipt``, ``report_job``).
Services flush, never commit: the caller's unit of work does."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import math
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from waa_ads.assessments.errors import AdministrationNotFound
from waa_ads.assessments.models import Administration
from waa_ads.audit.models import AuditEvent
from waa_ads.audit.service import chain_for
from waa_ads.auth.deps import Principal
from waa_ads.auth.errors import RoleRequired
from waa_ads.auth.models import Candidate, Organization, Role
from waa_ads.content.models import ItemVersion
from waa_ads.core import i18n
from waa_ads.core.db import Database, utcnow
from waa_ads.core.errors import DomainError
from waa_ads.core.ratelimit import RateLimiter
from waa_ads.core.settings import Settings
from waa_ads.core.storage import BlobNotFound, BlobStore
from waa_ads.core.tasks import enqueue_after_commit
from waa_ads.core.tenancy import get_scoped
from waa_ads.delivery import service as delivery
from waa_ads.delivery.errors import AttemptNotFound
from waa_ads.delivery.models import Attempt
from waa_ads.integrity.models import IntegrityDecision, IntegritySummary
from waa_ads.psychometrics import classical, irt
from waa_ads.psychometrics import service as psychometrics_service
from waa_ads.rating import service as rating_service
from waa_ads.rating.models import Rating, RatingPlan
from waa_ads.reporting import errors, figures
from waa_ads.reporting.cohort import (
    CohortReport,
    ItemRow,
    ResultRow,
    band_counts,
    describe,
    median,
    section_summaries,
)
from waa_ads.reporting.figures import Estimate, Feedback, Figure, Scorecard, SectionFigure

__all__ = ["CohortReport", "Scorecard", "figures"]
from waa_ads.reporting.models import ReportJob, ReportReceipt
from waa_ads.scoring import service as scoring_service
from waa_ads.scoring.models import AttemptResult, ItemScore

#: Scorecards per task of a bulk job (each chunk a task any worker takes; progress is
#: committed after each).
BULK_CHUNK = 25
#: How long a download link works.
LINK_TTL_S = 3600


def _require_staff(principal: Principal) -> None:
    if not principal.has_any(Role.admin):
        raise RoleRequired("reports need the admin role")


async def _administration(
    session: AsyncSession, organization_id: uuid.UUID, administration_id: uuid.UUID
) -> Administration:
    return await get_scoped(
        session,
        Administration,
        administration_id,
        organization_id,
        what="administration",
        error=AdministrationNotFound,
    )


# --- the cohort a scorecard is placed in -----------------------------------------------------


@dataclass(frozen=True)
class CohortContext:
    """What a scorecard needs of its administration: the released scaled scores (for the
    percentile) and the raw standard error of measurement (for the standard error)."""

    administration_id: uuid.UUID
    scores: list[float]
    sem: float | None


async def _newest_results(
    session: AsyncSession, organization_id: uuid.UUID, administration_id: uuid.UUID
) -> dict[uuid.UUID, list[AttemptResult]]:
    rows = (
        await session.execute(
            select(AttemptResult)
            .join(Attempt, Attempt.id == AttemptResult.attempt_id)
            .where(
                Attempt.administration_id == administration_id,
                Attempt.organization_id == organization_id,
            )
            .order_by(AttemptResult.attempt_id, AttemptResult.revision)
        )
    ).scalars()
    by_attempt: dict[uuid.UUID, list[AttemptResult]] = {}
    for row in rows:
        by_attempt.setdefault(row.attempt_id, []).append(row)
    return by_attempt


def _released_of(revisions: Sequence[AttemptResult]) -> AttemptResult | None:
    """The newest released revision, unless the newest revision is withheld (as
    ``scoring.service.released_result`` decides, over rows already read)."""
    if not revisions or revisions[-1].withheld:
        return None
    released = [r for r in revisions if r.released_at is not None]
    return released[-1] if released else None


async def cohort_context(
    session: AsyncSession, organization_id: uuid.UUID, administration_id: uuid.UUID
) -> CohortContext:
    results = await _newest_results(session, organization_id, administration_id)
    scores = [r.scaled for r in map(_released_of, results.values()) if r is not None]
    analysis = await psychometrics_service.administration_item_analysis(
        session, Principal.system(organization_id, via="reporting"), administration_id
    )
    sem = analysis.test.sem
    usable = sem is not None and math.isfinite(sem) and analysis.test.persons >= 2
    return CohortContext(administration_id, scores, sem if usable else None)


def _estimate(result: AttemptResult, cohort: CohortContext, slope: float, show: bool) -> Estimate:
    se = None
    uniform = (
        abs(result.weighted - result.raw) < 1e-9
        and abs(result.max_weighted - result.max_raw) < 1e-9
    )
    if cohort.sem is not None and uniform:
        # The SEM is on the raw total; with every weight 1 the scaled score is slope x raw.
        se = abs(slope) * cohort.sem
    percentile = figures.percentile_rank(result.scaled, cohort.scores) if show else None
    return Estimate(
        scaled_se=se,
        percentile=percentile,
        cohort=len(cohort.scores) if percentile is not None else 0,
    )


# --- scorecards -----------------------------------------------------------------------------


async def _release_event(
    session: AsyncSession, organization_id: uuid.UUID, attempt_id: uuid.UUID, revision: int
) -> AuditEvent | None:
    """The ``result.released`` event of this revision in the organization's chain."""
    events = (
        await session.execute(
            select(AuditEvent)
            .where(
                AuditEvent.chain == chain_for(organization_id),
                AuditEvent.action == "result.released",
                AuditEvent.target_type == "attempt",
                AuditEvent.target_id == str(attempt_id),
            )
            .order_by(AuditEvent.seq)
        )
    ).scalars()
    for event in events:
        data = json.loads(event.canonical).get("data") or {}
        if data.get("revision") == revision:
            return event
    return None


async def _logo(blobs: BlobStore | None, organization: Organization) -> bytes | None:
    if blobs is None or organization.logo_sha256 is None:
        return None
    try:
        return await blobs.get(organization.logo_sha256)
    except BlobNotFound:
        return None


async def _feedback(
    session: AsyncSession, result: AttemptResult, attempt: Attempt
) -> list[Feedback]:
    """Raters' levels and comments on the items people scored on this revision: the
    adjudicator's rating where there is one, else the last rating."""
    scores = {
        s.item_ref: s
        for s in await scoring_service.item_scores(session, result.id)
        if s.method not in ("objective", "pending")
    }
    if not scores:
        return []
    ratings = (
        await session.execute(
            select(Rating)
            .where(Rating.attempt_id == attempt.id, Rating.kind != "seeded")
            .order_by(Rating.submitted_at, Rating.id)
        )
    ).scalars()
    chosen: dict[str, Rating] = {}
    for given in ratings:
        held = chosen.get(given.item_ref)
        if held is None or held.kind != "adjudication" or given.kind == "adjudication":
            chosen[given.item_ref] = given
    out = []
    for ref, score in scores.items():
        version = await session.get(ItemVersion, score.item_version_id)
        title = version.title if version is not None else ref
        rating = chosen.get(ref)
        levels: list[tuple[str, str]] = []
        comment = None
        if rating is not None:
            comment = rating.comment
            levels = await _level_names(session, score, rating.levels)
        out.append(Feedback(ref, title, score.score, score.max_score, comment, levels))
    return out


async def _level_names(
    session: AsyncSession, score: ItemScore, levels: dict[str, Any]
) -> list[tuple[str, str]]:
    names: dict[str, tuple[str, dict[str, str]]] = {}
    try:
        rubric = rating_service.rubric_read(
            await rating_service.scale_for(session, score.item_version_id, score.item_ref)
        )
        for criterion in rubric.criteria:
            names[criterion.id] = (
                criterion.title,
                {lv.id: lv.label or lv.descriptor or lv.id for lv in criterion.levels},
            )
    except DomainError:
        pass  # no rubric to name them by: the ids are printed
    out = []
    for criterion_id, level in levels.items():
        title, level_names = names.get(criterion_id, (criterion_id, {}))
        out.append((title, level_names.get(str(level), str(level))))
    return out


def verify_url(base_url: str | None, code: str) -> str | None:
    if not base_url:
        return None
    return f"{base_url.rstrip('/')}/verify/{figures.format_code(code)}"


async def _new_receipt(
    session: AsyncSession,
    settings: Settings,
    attempt: Attempt,
    result: AttemptResult,
    estimate: Estimate,
    base_url: str | None,
) -> ReportReceipt:
    event = await _release_event(session, attempt.organization_id, attempt.id, result.revision)
    if event is None:
        raise errors.ReleaseNotRecorded(
            f"revision {result.revision} of attempt {attempt.id} has no release event in "
            "the audit chain"
        )
    code = figures.receipt_code(settings.secret_key, event.hash, str(attempt.id), result.revision)
    return ReportReceipt(
        organization_id=attempt.organization_id,
        attempt_id=attempt.id,
        administration_id=attempt.administration_id,
        revision=result.revision,
        code=code,
        release_seq=event.seq,
        release_hash=event.hash,
        verify_url=verify_url(base_url or settings.public_base_url, code),
        estimate={
            "scaled_se": estimate.scaled_se,
            "percentile": estimate.percentile,
            "cohort": estimate.cohort,
        },
        figures=[],
        created_at=utcnow(),
    )


async def _store_receipt(
    session: AsyncSession, receipt: ReportReceipt, db: Database | None
) -> ReportReceipt:
    """Write a new receipt: in ``session`` (a task's or a command's unit of work), or, with
    ``db``, in a unit of work of its own (a request reading a scorecard takes a read
    transaction). When another request or worker issued it meanwhile, that one is
    returned: the same code, and the figures it fixed."""
    if db is None:
        try:
            async with session.begin_nested():
                session.add(receipt)
                await session.flush()
        except IntegrityError:
            existing = await _receipt_of(session, receipt.attempt_id, receipt.revision)
            assert existing is not None
            return existing
        return receipt
    try:
        async with db.transaction() as own:
            own.add(receipt)
    except IntegrityError:
        async with db.transaction(write=False) as own:
            existing = await _receipt_of(own, receipt.attempt_id, receipt.revision)
        assert existing is not None
        return existing
    return receipt


async def _receipt_of(
    session: AsyncSession, attempt_id: uuid.UUID, revision: int
) -> ReportReceipt | None:
    return (
        await session.execute(
            select(ReportReceipt).where(
                ReportReceipt.attempt_id == attempt_id, ReportReceipt.revision == revision
            )
        )
    ).scalar_one_or_none()


@dataclass
class Built:
    card: Scorecard
    receipt: ReportReceipt | None


async def build_scorecard(
    session: AsyncSession,
    settings: Settings,
    blobs: BlobStore | None,
    attempt: Attempt,
    *,
    preview: bool = False,
    base_url: str | None = None,
    cohort: CohortContext | None = None,
    db: Database | None = None,
    known: ReportReceipt | None = None,
) -> Built:
    """The scorecard of the attempt's released result, with its receipt (issued on first
    use, then reused, so regenerating gives the same figures and code). ``preview``: the
    newest revision whether released or not, without a receipt.
    ResultNotReleasedForReport / ResultNotScoredForReport / ReleaseNotRecorded."""
    if preview:
        result = await scoring_service.latest_result(session, attempt.id)
        if result is None:
            raise errors.ResultNotScoredForReport("this attempt has not been scored yet")
    else:
        result = await scoring_service.released_result(session, attempt.id)
        if result is None:
            raise errors.ResultNotReleasedForReport(
                "this attempt's result is not released (or is withheld); staff may ask "
                "for a preview marked NOT RELEASED"
            )
    version = await delivery.published_version(session, attempt.assessment_version_id)
    definition = version.definition
    receipt = known
    if receipt is None and not preview:
        receipt = await _receipt_of(session, attempt.id, result.revision)
    if receipt is not None:
        estimate = Estimate(
            scaled_se=receipt.estimate.get("scaled_se"),
            percentile=receipt.estimate.get("percentile"),
            cohort=int(receipt.estimate.get("cohort") or 0),
        )
    else:
        if cohort is None or cohort.administration_id != attempt.administration_id:
            cohort = await cohort_context(
                session, attempt.organization_id, attempt.administration_id
            )
        estimate = _estimate(
            result,
            cohort,
            definition.scoring.scale_slope,
            definition.scoring.report_percentile,
        )
        if not preview:
            receipt = await _new_receipt(session, settings, attempt, result, estimate, base_url)
    organization = await session.get(Organization, attempt.organization_id)
    candidate = await session.get(Candidate, attempt.candidate_id)
    administration = await session.get(Administration, attempt.administration_id)
    assert organization is not None
    assert administration is not None
    titles = {s.identifier: s.title for s in definition.sections}
    sections = [
        SectionFigure(ident, titles.get(ident, ident), float(v["raw"]), float(v["max_raw"]))
        for ident, v in sorted(
            result.sections.items(),
            key=lambda kv: list(titles).index(kv[0]) if kv[0] in titles else len(titles),
        )
    ]
    name = None
    if candidate is not None and candidate.erased_at is None:
        name = candidate.full_name
    ref = (candidate.external_id if candidate is not None else None) or str(attempt.candidate_id)
    card = Scorecard(
        organization_name=organization.name,
        brand_color=organization.brand_color,
        logo=await _logo(blobs, organization),
        # The candidate's language, else the one the test was taken in, else the
        # administration's or the organization's.
        language=i18n.negotiate(
            candidate.locale if candidate is not None else None,
            attempt.locale,
            administration.locale,
            organization.default_locale,
        ),
        candidate_name=name,
        candidate_ref=ref,
        assessment_title=definition.title,
        administration_title=administration.title,
        attempt_id=str(attempt.id),
        revision=result.revision,
        released_at=result.released_at.date().isoformat() if result.released_at else None,
        raw=result.raw,
        max_raw=result.max_raw,
        scaled=result.scaled,
        band=result.band,
        passed=result.passed,
        sections=sections,
        feedback=await _feedback(session, result, attempt),
        estimate=estimate,
        code=receipt.code if receipt is not None else None,
        verify_url=receipt.verify_url if receipt is not None else None,
        preview=preview,
    )
    if receipt is not None and not receipt.figures:  # issued just now
        receipt.figures = [f.to_dict() for f in figures.figures(card)]
        stored = await _store_receipt(session, receipt, db)
        if stored is not receipt:  # issued meanwhile elsewhere: print what that one fixed
            return await build_scorecard(
                session, settings, blobs, attempt, base_url=base_url, db=db, known=stored
            )
    return Built(card, receipt)


async def scorecard_pdf(
    session: AsyncSession,
    settings: Settings,
    blobs: BlobStore | None,
    principal: Principal,
    attempt_id: uuid.UUID,
    *,
    preview: bool = False,
    base_url: str | None = None,
    db: Database | None = None,
) -> tuple[bytes, Built]:
    """The scorecard PDF of an attempt of the caller's organization (admins)."""
    from waa_ads.reporting.pdf import render_scorecard

    _require_staff(principal)
    attempt = await get_scoped(
        session,
        Attempt,
        attempt_id,
        principal.organization_id,
        what="attempt",
        error=AttemptNotFound,
    )
    built = await build_scorecard(
        session, settings, blobs, attempt, preview=preview, base_url=base_url, db=db
    )
    return await render_scorecard(built.card), built


async def candidate_scorecard_pdf(
    session: AsyncSession,
    settings: Settings,
    blobs: BlobStore | None,
    access_code: str,
    attempt_id: uuid.UUID,
    *,
    base_url: str | None = None,
    db: Database | None = None,
    limiter: RateLimiter | None = None,
) -> tuple[bytes, Built]:
    """The candidate's own scorecard: the attempt must be one that ``access_code`` opened
    (AccessCodeInvalid for an unknown code, AttemptNotFound for another attempt, whoever's
    it is) and its result released (ResultNotReleasedForReport otherwise; a candidate never
    gets a preview). The same PDF, receipt and bytes as the staff download: the released
    figures and the rater's feedback to the candidate, never a key or a rubric's points.

    With ``limiter``, each download counts against the code (in ``session``) and past
    ``settings.candidate_scorecards_per_hour`` in the hour ScorecardRateLimited is raised
    before anything is rendered: a code someone holds cannot keep the server rendering."""
    from waa_ads.reporting.pdf import render_scorecard

    seen = await delivery.overview(session, settings, access_code)
    attempt = next((a for a in seen.attempts if a.id == attempt_id), None)
    if attempt is None:
        raise AttemptNotFound("this access code opened no such attempt")
    if limiter is not None:
        window = await limiter.hit(f"candidate-scorecard:{seen.entry.id}", 3600, session=session)
        if window.count > settings.candidate_scorecards_per_hour:
            raise errors.ScorecardRateLimited(
                "this access code has downloaded too many scorecards this hour",
                extra={"headers": {"Retry-After": str(window.retry_after_s)}},
            )
    built = await build_scorecard(
        session, settings, blobs, attempt, preview=False, base_url=base_url, db=db
    )
    return await render_scorecard(built.card), built


# --- verification ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """What a verification code stands for today. ``status``: ``valid`` (the released
    figures, still current), ``superseded`` (released, but a later revision replaced it),
    ``withdrawn`` (the organization withholds the result now) or ``broken`` (the stored
    result or the audit chain no longer matches the receipt)."""

    code: str
    status: str
    message: str
    organization_name: str
    figures: list[Figure]
    revision: int
    issued_at: str


def _current_core(result: AttemptResult) -> dict[str, str]:
    """The receipt's core figures as the stored revision gives them now."""
    out = {
        "raw": f"{figures.number(result.raw)} / {figures.number(result.max_raw)}",
        "scaled": figures.number(result.scaled),
    }
    if result.band is not None:
        out["band"] = result.band
    passed = figures.outcome(result.passed)
    if passed is not None:
        out["outcome"] = passed
    return out


async def verify_code(session: AsyncSession, text: str) -> Verdict:
    """The verdict on a verification code as typed; ReceiptNotFound when no scorecard
    carries it."""
    code = figures.normalize_code(text)
    receipt = None
    if code is not None:
        receipt = (
            await session.execute(select(ReportReceipt).where(ReportReceipt.code == code))
        ).scalar_one_or_none()
    if receipt is None:
        raise errors.ReceiptNotFound("no scorecard was issued with this verification code")
    organization = await session.get(Organization, receipt.organization_id)
    assert organization is not None
    issued = figures.figures_from_dicts(receipt.figures)
    status, message = "valid", "These are the figures released, and they are current."
    event = (
        await session.execute(
            select(AuditEvent).where(
                AuditEvent.chain == chain_for(receipt.organization_id),
                AuditEvent.seq == receipt.release_seq,
            )
        )
    ).scalar_one_or_none()
    result = (
        await session.execute(
            select(AttemptResult).where(
                AttemptResult.attempt_id == receipt.attempt_id,
                AttemptResult.revision == receipt.revision,
            )
        )
    ).scalar_one_or_none()
    printed = {f.name: f.value for f in issued}
    if event is None or event.hash != receipt.release_hash:
        status, message = "broken", "The release this receipt names is not in the audit chain."
    elif result is None or result.released_at is None:
        status, message = "broken", "The released result this receipt names no longer exists."
    else:
        for name, value in _current_core(result).items():
            if printed.get(name) != value:
                status = "broken"
                message = f"The stored result no longer matches the receipt ({name})."
                break
    if status == "valid":
        latest = await scoring_service.latest_result(session, receipt.attempt_id)
        released = await scoring_service.released_result(session, receipt.attempt_id)
        if latest is None or latest.withheld:
            status, message = "withdrawn", "The organization has withdrawn this result."
        elif released is not None and released.revision > receipt.revision:
            status = "superseded"
            message = (
                f"These figures were released (revision {receipt.revision}) but a later "
                f"revision ({released.revision}) has replaced them."
            )
    return Verdict(
        code=figures.format_code(receipt.code),
        status=status,
        message=message,
        organization_name=organization.name,
        figures=issued if status in ("valid", "superseded") else [],
        revision=receipt.revision,
        issued_at=receipt.created_at.date().isoformat(),
    )


@dataclass(frozen=True)
class FileVerdict:
    ok: bool
    code: str | None
    status: str
    message: str
    difference: str | None = None


async def verify_file(session: AsyncSession, data: bytes) -> FileVerdict:
    """Whether a scorecard PDF shows the figures released under its code: the embedded
    receipt and the printed text are both compared with the issued figures, and the first
    difference is named. ScorecardUnreadable for a damaged or foreign file."""
    from waa_ads.reporting.pdf import NotAScorecard, read_scorecard, scorecard_language

    try:
        payload, text = read_scorecard(data)
        code, shown = figures.parse_payload(payload)
    except (NotAScorecard, figures.ReceiptUnreadable) as exc:
        raise errors.ScorecardUnreadable(str(exc)) from exc
    try:
        verdict = await verify_code(session, code)
    except errors.ReceiptNotFound:
        return FileVerdict(False, code, "unknown", f"no scorecard was issued with code {code!r}")
    receipt = (
        await session.execute(
            select(ReportReceipt).where(ReportReceipt.code == figures.normalize_code(code))
        )
    ).scalar_one()
    issued = figures.figures_from_dicts(receipt.figures)
    # The page prints the figures in its own language (its /Lang); the receipts keep English.
    language = scorecard_language(data)
    with i18n.use_locale(i18n.best_match([language]) if language else None):
        on_page = [figures.printed(f) for f in issued]
    difference = figures.first_difference(shown, issued) or figures.printed_difference(
        text, on_page
    )
    if difference is not None:
        return FileVerdict(False, verdict.code, "altered", f"altered: {difference}", difference)
    ok = verdict.status == "valid"
    return FileVerdict(ok, verdict.code, verdict.status, verdict.message)


# --- cohort and item reports -------------------------------------------------------------


async def _items_irt(
    session: AsyncSession, organization_id: uuid.UUID, administration_id: uuid.UUID
) -> dict[str, dict[str, Any]]:
    """Each item ref's calibrated IRT parameters (its newest version seen that has them)."""
    rows = (
        await session.execute(
            select(ItemScore.item_ref, ItemVersion.irt, ItemVersion.version)
            .distinct()
            .join(Attempt, Attempt.id == ItemScore.attempt_id)
            .join(ItemVersion, ItemVersion.id == ItemScore.item_version_id)
            .where(
                Attempt.administration_id == administration_id,
                ItemScore.organization_id == organization_id,
            )
        )
    ).all()
    out: dict[str, tuple[int, dict[str, Any]]] = {}
    for ref, params, version in rows:
        if params and params.get("model") and (ref not in out or out[ref][0] < version):
            out[ref] = (version, params)
    return {ref: params for ref, (_, params) in out.items()}


async def _integrity(
    session: AsyncSession, organization_id: uuid.UUID, administration_id: uuid.UUID
) -> dict[str, Any]:
    summaries = (
        await session.execute(
            select(IntegritySummary.flag_count, IntegritySummary.top_severity).where(
                IntegritySummary.administration_id == administration_id,
                IntegritySummary.organization_id == organization_id,
            )
        )
    ).all()
    decisions = (
        await session.execute(
            select(IntegrityDecision.kind, func.count())
            .join(Attempt, Attempt.id == IntegrityDecision.attempt_id)
            .where(
                Attempt.administration_id == administration_id,
                IntegrityDecision.organization_id == organization_id,
            )
            .group_by(IntegrityDecision.kind)
            .order_by(IntegrityDecision.kind)
        )
    ).all()
    severity = Counter(s for n, s in summaries if n and s)
    return {
        "analysed": len(summaries),
        "flagged": sum(1 for n, _ in summaries if n),
        "severity": dict(sorted(severity.items())),
        "decisions": dict(decisions),
    }


async def _rating(
    session: AsyncSession, principal: Principal, administration_id: uuid.UUID
) -> list[dict[str, Any]]:
    plans = (
        await session.execute(
            select(RatingPlan.id).where(
                RatingPlan.administration_id == administration_id,
                RatingPlan.organization_id == principal.organization_id,
            )
        )
    ).scalars()
    out = []
    for plan_id in plans:
        stats = await rating_service.statistics(session, principal, plan_id)
        for item in stats.items:
            out.append(
                {
                    "item_ref": item.item_ref,
                    "pairs": item.pairs,
                    "exact": item.exact,
                    "adjacent": item.adjacent,
                    "kappa": item.kappa,
                    "qwk": item.quadratic_kappa,
                }
            )
    return out


async def cohort_report(
    session: AsyncSession, principal: Principal, administration_id: uuid.UUID
) -> CohortReport:
    """The cohort report of an administration of the caller's organization (admins): every
    attempt's newest complete revision, released or not (the board reads it before it
    releases), with the item analysis, integrity counts and rating agreement."""
    _require_staff(principal)
    organization_id = principal.organization_id
    administration = await _administration(session, organization_id, administration_id)
    version = await delivery.published_version(session, administration.assessment_version_id)
    definition = version.definition
    organization = await session.get(Organization, organization_id)
    assert organization is not None
    attempts = (
        await session.execute(
            select(func.count())
            .select_from(Attempt)
            .where(
                Attempt.administration_id == administration_id,
                Attempt.organization_id == organization_id,
            )
        )
    ).scalar_one()
    results = await _newest_results(session, organization_id, administration_id)
    rows = []
    released = withheld = 0
    for attempt_id, revisions in results.items():
        complete = [r for r in revisions if r.complete]
        if not complete:
            continue
        newest = complete[-1]
        released += _released_of(revisions) is not None
        withheld += revisions[-1].withheld
        rows.append(
            ResultRow(
                str(attempt_id),
                "",
                newest.raw,
                newest.max_raw,
                newest.scaled,
                newest.band,
                newest.passed,
                newest.released_at is not None,
                newest.withheld,
                newest.sections,
            )
        )
    scores = [r.scaled for r in rows]
    mean, sd = describe(scores)
    bands = definition.scoring.bands
    cuts = [b.min_score for b in bands if b.passed]
    analysis = await psychometrics_service.administration_item_analysis(
        session, principal, administration_id
    )
    irt_params = await _items_irt(session, organization_id, administration_id)
    items = [
        ItemRow(
            item=s.item,
            presented=s.presented,
            max_score=s.max_score,
            mean=s.mean,
            facility=s.facility,
            discrimination=s.discrimination,
            point_biserial=s.point_biserial,
            corrected_item_total=s.corrected_item_total,
            alpha_if_deleted=s.alpha_if_deleted,
            flags=list(s.flags),
            options=[o.__dict__ for o in s.options],
            irt=irt_params.get(s.item),
        )
        for s in analysis.items
    ]
    test = analysis.test
    return CohortReport(
        organization_name=organization.name,
        brand_color=organization.brand_color,
        assessment_title=definition.title,
        administration_id=str(administration_id),
        administration_title=administration.title,
        # The language of whoever asked for it (staff read their own).
        language=i18n.current(),
        attempts=int(attempts),
        scored=len(rows),
        released=released,
        withheld=withheld,
        scaled_scores=sorted(scores),
        mean=mean,
        sd=sd,
        median=median(scores),
        minimum=min(scores) if scores else None,
        maximum=max(scores) if scores else None,
        pass_cut=min(cuts) if cuts else None,
        passed=sum(1 for r in rows if r.passed is True),
        failed=sum(1 for r in rows if r.passed is False),
        bands=band_counts(
            rows, [(b.name, b.passed) for b in sorted(bands, key=lambda b: b.min_score)]
        ),
        sections=section_summaries(rows, {s.identifier: s.title for s in definition.sections}),
        reliability={
            "persons": test.persons,
            "items": test.items,
            "alpha": test.alpha,
            "kr20": test.kr20,
            "sem": test.sem,
            "mean": test.mean,
            "sd": test.sd,
        },
        items=items,
        integrity=await _integrity(session, organization_id, administration_id),
        rating=await _rating(session, principal, administration_id),
    )


#: Abilities the item curves are drawn over.
THETA = np.linspace(-4.0, 4.0, 81)


def item_curves(params: dict[str, Any]) -> list[tuple[str, list[float], list[float]]] | None:
    """The characteristic curves of calibrated parameters (``item_version.irt``): the
    probability of a right answer for dichotomous models, each category's probability for
    polytomous ones. None when the parameters cannot be read."""
    model = params.get("model")
    try:
        a = float(params["a"])
        d = params["d"]
        if model in ("rasch", "2pl", "3pl"):
            row = [a, float(d)]
            if model == "3pl":
                c = min(max(float(params.get("c") or 0.0), 1e-6), 1 - 1e-6)
                row.append(math.log(c / (1 - c)))
            ncat = np.array([2])
        elif model in ("gpcm", "grm"):
            row = [a, *(float(x) for x in d)]
            ncat = np.array([len(d) + 1])
        else:
            return None
        probs = irt.category_probabilities(str(model), np.array([row]), THETA, ncat)[0]
    except (KeyError, TypeError, ValueError):
        return None
    xs = [float(x) for x in THETA]
    if ncat[0] == 2:
        return [("P(correct)", xs, [float(p) for p in probs[:, 1]])]
    return [(f"score {k}", xs, [float(p) for p in probs[:, k]]) for k in range(int(ncat[0]))]


# --- exports --------------------------------------------------------------------------------

RESULT_COLUMNS = [
    "attempt_id",
    "candidate_id",
    "external_id",
    "attempt_number",
    "state",
    "revision",
    "raw",
    "max_raw",
    "weighted",
    "scaled",
    "band",
    "passed",
    "released",
    "withheld",
]
ITEM_COLUMNS = [
    "item",
    "presented",
    "max_score",
    "mean",
    "facility",
    "discrimination",
    "point_biserial",
    "corrected_item_total",
    "alpha_if_deleted",
    "flags",
    "irt_model",
    "irt_a",
    "irt_b",
    "irt_c",
    *classical.OPTION_COLUMNS,
]


async def result_rows(
    session: AsyncSession, principal: Principal, administration_id: uuid.UUID
) -> list[list[Any]]:
    """One row per attempt (newest revision; people by id and external id only)."""
    _require_staff(principal)
    await _administration(session, principal.organization_id, administration_id)
    results = await _newest_results(session, principal.organization_id, administration_id)
    attempts = (
        await session.execute(
            select(Attempt, Candidate.external_id)
            .join(Candidate, Candidate.id == Attempt.candidate_id)
            .where(
                Attempt.administration_id == administration_id,
                Attempt.organization_id == principal.organization_id,
            )
            .order_by(Attempt.id)
        )
    ).all()
    out: list[list[Any]] = []
    for attempt, external_id in attempts:
        head = [
            str(attempt.id),
            str(attempt.candidate_id),
            external_id or "",
            attempt.number,
            attempt.state,
        ]
        revisions = results.get(attempt.id)
        if not revisions:
            out.append(head + [None] * (len(RESULT_COLUMNS) - len(head)))
            continue
        r = revisions[-1]
        out.append(
            [
                *head,
                r.revision,
                r.raw,
                r.max_raw,
                r.weighted,
                r.scaled,
                r.band,
                r.passed,
                _released_of(revisions) is not None,
                r.withheld,
            ]
        )
    return out


def item_rows(report: CohortReport) -> list[list[Any]]:
    out: list[list[Any]] = []
    for i in report.items:
        params = i.irt or {}
        b = params.get("b")
        out.append(
            [
                i.item,
                i.presented,
                i.max_score,
                i.mean,
                i.facility,
                i.discrimination,
                i.point_biserial,
                i.corrected_item_total,
                i.alpha_if_deleted,
                " ".join(i.flags),
                params.get("model"),
                params.get("a"),
                " ".join(str(x) for x in b) if isinstance(b, list) else b,
                params.get("c"),
                *classical.option_cells(i.options),
            ]
        )
    return out


def to_csv(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> bytes:
    import csv

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    for row in rows:
        writer.writerow(
            ["" if v is None else str(v).lower() if isinstance(v, bool) else v for v in row]
        )
    return buffer.getvalue().encode()


def to_xlsx(sheet: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> bytes:
    """An XLSX workbook of one sheet, header row bold and frozen. Cell text that a
    spreadsheet would run as a formula is stored as text."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    ws = book.active
    assert ws is not None
    ws.title = sheet[:31]
    ws.append(list(columns))
    for cell in ws[1]:
        cell.font = Font(bold=True)
    ws.freeze_panes = "A2"
    for row in rows:
        ws.append([_cell(v) for v in row])
    book.properties.creator = "WAA-ADS"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _cell(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value


# --- bulk jobs ----------------------------------------------------------------------------


async def start_scorecards_job(
    session: AsyncSession,
    principal: Principal,
    administration_id: uuid.UUID,
    *,
    enqueue: bool = True,
    base_url: str | None = None,
    chunk_size: int = BULK_CHUNK,
) -> ReportJob:
    """A job that writes the scorecard of every released result of the administration and
    a ZIP of them; ``reporting.generate_scorecards`` runs it after this commits (unless
    ``enqueue`` is false: the caller runs it itself, as the command line does without a
    broker)."""
    _require_staff(principal)
    await _administration(session, principal.organization_id, administration_id)
    results = await _newest_results(session, principal.organization_id, administration_id)
    job = ReportJob(
        organization_id=principal.organization_id,
        administration_id=administration_id,
        kind="scorecards",
        state="queued",
        total=sum(1 for revisions in results.values() if _released_of(revisions) is not None),
        requested_by=principal.actor.id,
        base_url=base_url,
        chunk_size=chunk_size,
        created_at=utcnow(),
    )
    session.add(job)
    await session.flush()
    if enqueue:
        enqueue_after_commit(session, "reporting.generate_scorecards", job_id=str(job.id))
    return job


async def get_job(session: AsyncSession, principal: Principal, job_id: uuid.UUID) -> ReportJob:
    _require_staff(principal)
    return await get_scoped(
        session,
        ReportJob,
        job_id,
        principal.organization_id,
        what="report job",
        error=errors.ReportJobNotFound,
    )


async def list_jobs(
    session: AsyncSession, principal: Principal, administration_id: uuid.UUID | None
) -> list[ReportJob]:
    _require_staff(principal)
    stmt = select(ReportJob).where(ReportJob.organization_id == principal.organization_id)
    if administration_id is not None:
        stmt = stmt.where(ReportJob.administration_id == administration_id)
    return list((await session.execute(stmt.order_by(ReportJob.id.desc()).limit(50))).scalars())


async def released_attempts(
    session: AsyncSession, organization_id: uuid.UUID, administration_id: uuid.UUID
) -> list[uuid.UUID]:
    results = await _newest_results(session, organization_id, administration_id)
    return sorted(a for a, revisions in results.items() if _released_of(revisions) is not None)


def sign_link(secret: str, sha256: str, name: str, expires: int) -> str:
    message = f"report-file:{sha256}:{name}:{expires}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def download_query(secret: str, sha256: str, name: str, *, now: float | None = None) -> str:
    """The query of an expiring download link of a stored report."""
    from urllib.parse import urlencode

    expires = int((now if now is not None else time.time()) + LINK_TTL_S)
    signature = sign_link(secret, sha256, name, expires)
    return urlencode({"name": name, "expires": expires, "signature": signature})


def check_link(secret: str, sha256: str, name: str, expires: int, signature: str) -> None:
    if expires < time.time() or not hmac.compare_digest(
        sign_link(secret, sha256, name, expires), signature
    ):
        raise errors.DownloadLinkInvalid("this download link was altered or has expired")
