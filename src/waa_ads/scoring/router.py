"""Scoring routes. "Try a response": authors score responses against an item version."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from waa_ads.auth.deps import PrincipalDep
from waa_ads.auth.models import Role
from waa_ads.content import service as content_service
from waa_ads.content.item.definition import ItemDefinition
from waa_ads.core.deps import SessionDep, SettingsDep
from waa_ads.core.errors import Forbidden, NotFound, error_responses
from waa_ads.core.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page
from waa_ads.delivery import service as delivery
from waa_ads.delivery.models import Attempt
from waa_ads.scoring import service
from waa_ads.scoring.engine import evaluate

router = APIRouter(tags=["scoring"])


class TryResponses(BaseModel):
    responses: dict[str, Any] = Field(
        description="Response identifier -> response in its shape (docs/response-shapes.md)."
    )


class TryResult(BaseModel):
    outcomes: dict[str, Any]
    notes: list[str]


@router.post(
    "/items/{item_id}/versions/{version}/score",
    response_model=TryResult,
    summary="Try responses on an item version: every outcome variable, and notes",
    responses=error_responses(401, 403, 404),
)
async def score_version(
    session: SessionDep,
    principal: PrincipalDep,
    item_id: uuid.UUID,
    version: int,
    body: TryResponses,
) -> TryResult:
    """A response of the wrong shape is treated as no response (and noted), never an
    error: what the scoring of a real attempt would do."""
    if not principal.has_any(Role.admin, Role.author):
        raise Forbidden("trying responses needs the admin or author role")
    _, row = await content_service.get_version(session, principal, item_id, version)
    result = evaluate(ItemDefinition.from_dict(row.definition), body.responses)
    return TryResult(outcomes=result.outcomes, notes=result.notes)


# --- results -------------------------------------------------------------------------------

results = APIRouter(prefix="/results", tags=["results"])


class SectionTotals(BaseModel):
    raw: float
    max_raw: float
    weighted: float


class CandidateResult(BaseModel):
    """What a candidate sees once the result is released (and not withheld)."""

    attempt_id: uuid.UUID
    revision: int
    raw: float
    max_raw: float
    scaled: float
    band: str | None
    passed: bool | None
    sections: dict[str, SectionTotals]
    released_at: datetime


class ItemScoreRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    item_ref: str
    item_version_id: uuid.UUID
    section: str
    weight: float
    score: float | None
    max_score: float
    method: str
    scorer: str
    confidence: float | None
    notes: list[str]


class ResultRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    attempt_id: uuid.UUID
    revision: int
    reason: str
    complete: bool
    raw: float
    max_raw: float
    weighted: float
    max_weighted: float
    scaled: float
    band: str | None
    passed: bool | None
    pending_items: int
    created_at: datetime
    released_at: datetime | None
    withheld: bool
    withheld_reason: str | None


class ResultDetail(BaseModel):
    attempt_state: str
    candidate_id: uuid.UUID
    latest: ResultRead
    revisions: list[ResultRead]
    items: list[ItemScoreRead]


class ResultRow(BaseModel):
    attempt_id: uuid.UUID
    candidate_id: uuid.UUID
    attempt_number: int
    attempt_state: str
    result: ResultRead | None


class Reason(BaseModel):
    reason: str = Field(min_length=1, max_length=500)


class ManualScore(Reason):
    score: float


class RescoreRequest(Reason):
    item_id: uuid.UUID
    from_version: int = Field(ge=1, description="The version whose key was wrong.")
    to_version: int = Field(ge=1, description="The corrected version.")
    administration_id: uuid.UUID | None = Field(
        default=None, description="Only this administration's attempts (default: all)."
    )


class RescoreReport(BaseModel):
    changed: int
    changes: list[dict[str, Any]]


@router.get(
    "/attempts/{attempt_id}/result",
    response_model=CandidateResult,
    summary="The candidate's released result (404 until it is released, or while withheld)",
    responses=error_responses(404),
)
async def candidate_result(
    session: SessionDep,
    settings: SettingsDep,
    attempt_id: uuid.UUID,
    credential: Annotated[str | None, Header(alias="X-Attempt-Token")] = None,
) -> CandidateResult:
    attempt = await delivery.attempt_for_credential(session, settings, attempt_id, credential)
    released = await service.released_result(session, attempt.id)
    if released is None:
        raise NotFound("no result has been released for this attempt yet")
    assert released.released_at is not None
    return CandidateResult(
        attempt_id=attempt.id,
        revision=released.revision,
        raw=released.raw,
        max_raw=released.max_raw,
        scaled=released.scaled,
        band=released.band,
        passed=released.passed,
        sections={k: SectionTotals(**v) for k, v in released.sections.items()},
        released_at=released.released_at,
    )


async def _admin_attempt(
    session: SessionDep, principal: PrincipalDep, attempt_id: uuid.UUID
) -> Attempt:
    if not principal.has_any(Role.admin):
        raise Forbidden("results are managed by admins")
    attempt = await session.get(Attempt, attempt_id)
    if attempt is None or attempt.organization_id != principal.organization_id:
        raise NotFound(f"attempt {attempt_id} not found")
    return attempt


@results.get(
    "",
    response_model=Page[ResultRow],
    summary="Attempts with their newest result (filter by administration and state)",
    responses=error_responses(401, 403),
)
async def list_results(
    session: SessionDep,
    principal: PrincipalDep,
    administration_id: uuid.UUID | None = None,
    state: str | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> Page[ResultRow]:
    if not principal.has_any(Role.admin):
        raise Forbidden("results are managed by admins")
    rows, next_cursor = await service.list_attempts(
        session,
        principal.organization_id,
        administration_id=administration_id,
        state=state,
        cursor=cursor,
        limit=limit,
    )
    items = []
    for attempt in rows:
        latest = await service.latest_result(session, attempt.id)
        items.append(
            ResultRow(
                attempt_id=attempt.id,
                candidate_id=attempt.candidate_id,
                attempt_number=attempt.number,
                attempt_state=attempt.state,
                result=ResultRead.model_validate(latest) if latest else None,
            )
        )
    return Page(items=items, next_cursor=next_cursor)


@results.get(
    "/export.csv",
    summary="Results as CSV (one row per attempt, its newest revision)",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}, **error_responses(401, 403)},
)
async def export_csv(
    session: SessionDep, principal: PrincipalDep, administration_id: uuid.UUID | None = None
) -> Response:
    if not principal.has_any(Role.admin):
        raise Forbidden("results are managed by admins")
    text = await service.results_csv(session, principal.organization_id, administration_id)
    return Response(
        text,
        media_type="text/csv",
        headers={"Content-Disposition": 'attachment; filename="results.csv"'},
    )


@results.get(
    "/qti",
    summary="QTI 3.0 results (assessmentResult) of an administration's attempts, zipped",
    response_class=Response,
    responses={200: {"content": {"application/zip": {}}}, **error_responses(401, 403, 404)},
)
async def export_qti_results(
    session: SessionDep, principal: PrincipalDep, administration_id: uuid.UUID
) -> Response:
    from waa_ads.scoring.qti_results import write_assessment_results

    if not principal.has_any(Role.admin):
        raise Forbidden("results are managed by admins")
    reports = []
    cursor = None
    while True:
        rows, cursor = await service.list_attempts(
            session,
            principal.organization_id,
            administration_id=administration_id,
            state=None,
            cursor=cursor,
            limit=MAX_LIMIT,
        )
        for attempt in rows:
            report = await service.qti_report(session, attempt)
            if report is not None:
                reports.append(report)
        if cursor is None:
            break
    return Response(
        write_assessment_results(reports),
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="results-{administration_id}.zip"'},
    )


@results.get(
    "/{attempt_id}/qti",
    summary="An attempt's result as QTI 3.0 Results Reporting XML (assessmentResult)",
    response_class=Response,
    responses={200: {"content": {"application/xml": {}}}, **error_responses(401, 403, 404)},
)
async def attempt_qti_result(
    session: SessionDep, principal: PrincipalDep, attempt_id: uuid.UUID
) -> Response:
    from waa_ads.scoring.qti_results import write_assessment_result

    attempt = await _admin_attempt(session, principal, attempt_id)
    report = await service.qti_report(session, attempt)
    if report is None:
        raise NotFound("this attempt has not been scored yet")
    return Response(write_assessment_result(report), media_type="application/xml")


@results.get(
    "/{attempt_id}",
    response_model=ResultDetail,
    summary="An attempt's result: every revision, and the newest one's item scores",
    responses=error_responses(401, 403, 404),
)
async def get_result(
    session: SessionDep, principal: PrincipalDep, attempt_id: uuid.UUID
) -> ResultDetail:
    attempt = await _admin_attempt(session, principal, attempt_id)
    revisions = await service.revisions(session, attempt.id)
    if not revisions:
        raise NotFound("this attempt has not been scored yet")
    latest = revisions[-1]
    return ResultDetail(
        attempt_state=attempt.state,
        candidate_id=attempt.candidate_id,
        latest=ResultRead.model_validate(latest),
        revisions=[ResultRead.model_validate(r) for r in revisions],
        items=[
            ItemScoreRead.model_validate(s) for s in await service.item_scores(session, latest.id)
        ],
    )


@results.post(
    "/{attempt_id}/release",
    response_model=ResultRead,
    summary="Release the newest result to the candidate",
    responses=error_responses(401, 403, 404, 409),
)
async def release(
    session: SessionDep, principal: PrincipalDep, attempt_id: uuid.UUID
) -> ResultRead:
    attempt = await _admin_attempt(session, principal, attempt_id)
    return ResultRead.model_validate(await service.release(session, attempt, actor=principal.actor))


@results.post(
    "/{attempt_id}/withhold",
    response_model=ResultRead,
    summary="Withhold the result from the candidate (a flag, not a state)",
    responses=error_responses(401, 403, 404, 409),
)
async def withhold(
    session: SessionDep, principal: PrincipalDep, attempt_id: uuid.UUID, body: Reason
) -> ResultRead:
    attempt = await _admin_attempt(session, principal, attempt_id)
    result = await service.set_withheld(
        session, attempt, withheld=True, reason=body.reason, actor=principal.actor
    )
    return ResultRead.model_validate(result)


@results.post(
    "/{attempt_id}/unwithhold",
    response_model=ResultRead,
    summary="Stop withholding the result",
    responses=error_responses(401, 403, 404, 409),
)
async def unwithhold(
    session: SessionDep, principal: PrincipalDep, attempt_id: uuid.UUID, body: Reason
) -> ResultRead:
    attempt = await _admin_attempt(session, principal, attempt_id)
    result = await service.set_withheld(
        session, attempt, withheld=False, reason=body.reason, actor=principal.actor
    )
    return ResultRead.model_validate(result)


@results.post(
    "/{attempt_id}/items/{item_ref}/score",
    response_model=ResultRead,
    summary="Enter a manual score for one item (a new result revision)",
    responses=error_responses(401, 403, 404, 409),
)
async def manual_score(
    session: SessionDep,
    principal: PrincipalDep,
    attempt_id: uuid.UUID,
    item_ref: str,
    body: ManualScore,
) -> ResultRead:
    attempt = await _admin_attempt(session, principal, attempt_id)
    result = await service.manual_score(
        session, attempt, item_ref, score=body.score, reason=body.reason, actor=principal.actor
    )
    return ResultRead.model_validate(result)


@router.post(
    "/rescore",
    response_model=RescoreReport,
    tags=["results"],
    summary="Apply a corrected answer key to the attempts that saw an earlier version",
    responses=error_responses(401, 403, 404),
)
async def rescore(
    session: SessionDep, principal: PrincipalDep, body: RescoreRequest
) -> RescoreReport:
    if not principal.has_any(Role.admin):
        raise Forbidden("rescoring is done by admins")
    _, old = await content_service.get_version(session, principal, body.item_id, body.from_version)
    _, new = await content_service.get_version(session, principal, body.item_id, body.to_version)
    changes = await service.rescore_item(
        session,
        organization_id=principal.organization_id,
        old_version_id=old.id,
        new_version_id=new.id,
        administration_id=body.administration_id,
        reason=body.reason,
        actor=principal.actor,
    )
    return RescoreReport(
        changed=len(changes),
        changes=[
            {
                "attempt_id": str(c.attempt_id),
                "item_ref": c.item_ref,
                "item_score": {"before": c.before_item, "after": c.after_item},
                "scaled": {"before": c.before_total, "after": c.after_total},
                "band": {"before": c.before_band, "after": c.after_band},
            }
            for c in changes
        ],
    )


router.include_router(results)
