"""Scoring routes. "Try a response": authors score responses against an item version;
results: the candidate's released result, and the admins' results, releases, manual scores,
exports and answer-key corrections.

Each route names its reply model (``scoring/schemas.py``; files are documented by media
type) and the problem codes it may answer with."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import JSONResponse

from waa_ads.assessments import code_limits
from waa_ads.assessments.errors import AccessCodeRateLimited, AdministrationNotFound
from waa_ads.auth.deps import AuthDep, PrincipalDep, get_principal
from waa_ads.auth.errors import CREDENTIAL_ERRORS, RoleRequired
from waa_ads.auth.models import Role
from waa_ads.content import service as content_service
from waa_ads.content.errors import BankNotFound, ItemNotFound, ItemVersionNotFound
from waa_ads.content.item.definition import ItemDefinition
from waa_ads.core.deps import DatabaseDep, SessionDep, SettingsDep
from waa_ads.core.errors import error_responses
from waa_ads.core.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page
from waa_ads.core.params import Version
from waa_ads.delivery import service as delivery
from waa_ads.delivery.errors import (
    AccessCodeInvalid,
    AttemptChanged,
    AttemptNotFound,
    IllegalTransition,
)
from waa_ads.delivery.models import Attempt
from waa_ads.scoring import schemas, service
from waa_ads.scoring.engine import evaluate, evaluate_attempts
from waa_ads.scoring.errors import (
    AttemptNotReleasable,
    AttemptNotScored,
    ItemNotOnAttempt,
    RescoreVersionsDiffer,
    ResultIncomplete,
    ResultNotFound,
    ResultNotReleased,
    ScoreOutOfRange,
)

router = APIRouter(tags=["scoring"])

#: What every admin's results route may answer with before it looks at anything.
_ADMIN_ERRORS = (*CREDENTIAL_ERRORS, RoleRequired)
#: ... and once it looks for the attempt.
_ADMIN_ATTEMPT_ERRORS = (*_ADMIN_ERRORS, AttemptNotFound)
#: An item version looked up in the bank.
_VERSION_ERRORS = (BankNotFound, ItemNotFound, ItemVersionNotFound)


@router.post(
    "/items/{item_id}/versions/{version}/score",
    response_model=schemas.TryResult,
    summary="Try responses on an item version: every outcome variable, and notes",
    responses=error_responses(*CREDENTIAL_ERRORS, RoleRequired, *_VERSION_ERRORS),
)
async def score_version(
    session: SessionDep,
    principal: PrincipalDep,
    item_id: uuid.UUID,
    version: Version,
    body: schemas.TryResponses,
) -> schemas.TryResult:
    """A response of the wrong shape is treated as no response (and noted), never an
    error: what the scoring of a real attempt would do."""
    if not principal.has_any(Role.admin, Role.author):
        raise RoleRequired("trying responses needs the admin or author role")
    _, row = await content_service.get_version(session, principal, item_id, version)
    item = ItemDefinition.from_dict(row.definition)
    if body.attempts is not None:
        runs = evaluate_attempts(item, body.attempts, seed=body.seed)
        return schemas.TryResult(
            outcomes=runs[-1].outcomes,
            notes=runs[-1].notes,
            attempts=[schemas.TryAttempt(outcomes=r.outcomes, notes=r.notes) for r in runs],
        )
    result = evaluate(item, body.responses, seed=body.seed)
    return schemas.TryResult(outcomes=result.outcomes, notes=result.notes)


# --- results -------------------------------------------------------------------------------

results = APIRouter(prefix="/results", tags=["results"])


@router.get(
    "/attempts/{attempt_id}/result",
    response_model=schemas.CandidateResult,
    summary="The candidate's released result (404 until it is released, or while withheld)",
    responses=error_responses(AttemptNotFound, ResultNotReleased),
)
async def candidate_result(
    session: SessionDep,
    settings: SettingsDep,
    attempt_id: uuid.UUID,
    credential: Annotated[str | None, Header(alias="X-Attempt-Token")] = None,
) -> schemas.CandidateResult:
    attempt = await delivery.attempt_for_credential(session, settings, attempt_id, credential)
    released = await service.released_result(session, attempt.id)
    if released is None:
        raise ResultNotReleased("no result has been released for this attempt yet")
    return service.candidate_result(
        attempt.id, released, await service.candidate_feedback(session, released)
    )


@router.post(
    "/attempts/lookup",
    response_model=schemas.CandidateLookup,
    tags=["attempts"],
    summary="What an access code opens, starting nothing: the test, the attempts and their "
    "released results, and whether a new attempt can start",
    responses=error_responses(AccessCodeInvalid, AccessCodeRateLimited),
)
async def lookup(
    request: Request, session: SessionDep, settings: SettingsDep, body: schemas.LookupRequest
) -> schemas.CandidateLookup | JSONResponse:
    """No sign-in: the code is the credential. Unknown codes count against the client
    address; past ``WAA_ACCESS_CODE_MAX_FAILURES_PER_CLIENT`` of them in
    ``WAA_ACCESS_CODE_FAILURE_WINDOW_S`` the address is answered 429 until the window ends."""
    attempts = code_limits.CodeAttempts.of(request, settings)
    await attempts.refuse_if_exhausted(session)
    try:
        return await service.lookup(session, settings, body.access_code)
    except AccessCodeInvalid as unknown:
        return await attempts.count_failure(session, request, unknown)


async def _admin_attempt(
    session: SessionDep, principal: PrincipalDep, attempt_id: uuid.UUID
) -> Attempt:
    if not principal.has_any(Role.admin):
        raise RoleRequired("results are managed by admins")
    return await service.attempt_of(session, principal.organization_id, attempt_id)


@results.get(
    "",
    response_model=Page[schemas.ResultRow],
    summary="Attempts with their newest result (filter by administration and state)",
    responses=error_responses(*_ADMIN_ERRORS),
)
async def list_results(
    session: SessionDep,
    principal: PrincipalDep,
    administration_id: uuid.UUID | None = None,
    state: str | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> Page[schemas.ResultRow]:
    if not principal.has_any(Role.admin):
        raise RoleRequired("results are managed by admins")
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
            schemas.ResultRow(
                attempt_id=attempt.id,
                candidate_id=attempt.candidate_id,
                attempt_number=attempt.number,
                attempt_state=attempt.state,
                result=schemas.ResultRead.model_validate(latest) if latest else None,
            )
        )
    return Page(items=items, next_cursor=next_cursor)


@results.get(
    "/export.csv",
    summary="Results as CSV (one row per attempt, its newest revision)",
    response_class=Response,
    responses={
        200: {
            "description": "One row per attempt; a header row first.",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        },
        **error_responses(*_ADMIN_ERRORS),
    },
)
async def export_csv(
    session: SessionDep, principal: PrincipalDep, administration_id: uuid.UUID | None = None
) -> Response:
    if not principal.has_any(Role.admin):
        raise RoleRequired("results are managed by admins")
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
    responses={
        200: {
            "description": "A zip of one assessmentResult XML document per scored attempt.",
            "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
        },
        **error_responses(*_ADMIN_ERRORS),
    },
)
async def export_qti_results(
    session: SessionDep, principal: PrincipalDep, administration_id: uuid.UUID
) -> Response:
    from waa_ads.scoring.qti_results import write_assessment_results

    if not principal.has_any(Role.admin):
        raise RoleRequired("results are managed by admins")
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
    responses={
        200: {
            "description": "The assessmentResult document.",
            "content": {"application/xml": {"schema": {"type": "string"}}},
        },
        **error_responses(*_ADMIN_ATTEMPT_ERRORS, ResultNotFound),
    },
)
async def attempt_qti_result(
    session: SessionDep, principal: PrincipalDep, attempt_id: uuid.UUID
) -> Response:
    from waa_ads.scoring.qti_results import write_assessment_result

    attempt = await _admin_attempt(session, principal, attempt_id)
    report = await service.qti_report(session, attempt)
    if report is None:
        raise ResultNotFound("this attempt has not been scored yet")
    return Response(write_assessment_result(report), media_type="application/xml")


@results.get(
    "/{attempt_id}",
    response_model=schemas.ResultDetail,
    summary="An attempt's result: every revision, and the newest one's item scores",
    responses=error_responses(*_ADMIN_ATTEMPT_ERRORS, ResultNotFound),
)
async def get_result(
    session: SessionDep, principal: PrincipalDep, attempt_id: uuid.UUID
) -> schemas.ResultDetail:
    attempt = await _admin_attempt(session, principal, attempt_id)
    revisions = await service.revisions(session, attempt.id)
    if not revisions:
        raise ResultNotFound("this attempt has not been scored yet")
    latest = revisions[-1]
    return schemas.ResultDetail(
        attempt_state=attempt.state,
        candidate_id=attempt.candidate_id,
        latest=schemas.ResultRead.model_validate(latest),
        revisions=[schemas.ResultRead.model_validate(r) for r in revisions],
        items=[
            schemas.ItemScoreRead.model_validate(s)
            for s in await service.item_scores(session, latest.id)
        ],
    )


@results.post(
    "/{attempt_id}/release",
    response_model=schemas.ResultRead,
    summary="Release the newest result to the candidate",
    responses=error_responses(
        *_ADMIN_ATTEMPT_ERRORS,
        ResultIncomplete,
        AttemptNotReleasable,
        IllegalTransition,
        AttemptChanged,
    ),
)
async def release(
    session: SessionDep, principal: PrincipalDep, attempt_id: uuid.UUID
) -> schemas.ResultRead:
    attempt = await _admin_attempt(session, principal, attempt_id)
    return schemas.ResultRead.model_validate(
        await service.release(session, attempt, actor=principal.actor)
    )


@results.post(
    "/{attempt_id}/withhold",
    response_model=schemas.ResultRead,
    summary="Withhold the result from the candidate (a flag, not a state)",
    responses=error_responses(*_ADMIN_ATTEMPT_ERRORS, AttemptNotScored),
)
async def withhold(
    session: SessionDep, principal: PrincipalDep, attempt_id: uuid.UUID, body: schemas.Reason
) -> schemas.ResultRead:
    attempt = await _admin_attempt(session, principal, attempt_id)
    result = await service.set_withheld(
        session, attempt, withheld=True, reason=body.reason, actor=principal.actor
    )
    return schemas.ResultRead.model_validate(result)


@results.post(
    "/{attempt_id}/unwithhold",
    response_model=schemas.ResultRead,
    summary="Stop withholding the result",
    responses=error_responses(*_ADMIN_ATTEMPT_ERRORS, AttemptNotScored),
)
async def unwithhold(
    session: SessionDep, principal: PrincipalDep, attempt_id: uuid.UUID, body: schemas.Reason
) -> schemas.ResultRead:
    attempt = await _admin_attempt(session, principal, attempt_id)
    result = await service.set_withheld(
        session, attempt, withheld=False, reason=body.reason, actor=principal.actor
    )
    return schemas.ResultRead.model_validate(result)


@results.post(
    "/{attempt_id}/items/{item_ref}/score",
    response_model=schemas.ResultRead,
    summary="Enter a manual score for one item (a new result revision)",
    responses=error_responses(
        *_ADMIN_ATTEMPT_ERRORS, AttemptNotScored, ItemNotOnAttempt, ScoreOutOfRange
    ),
)
async def manual_score(
    session: SessionDep,
    principal: PrincipalDep,
    attempt_id: uuid.UUID,
    item_ref: str,
    body: schemas.ManualScore,
) -> schemas.ResultRead:
    attempt = await _admin_attempt(session, principal, attempt_id)
    result = await service.manual_score(
        session, attempt, item_ref, score=body.score, reason=body.reason, actor=principal.actor
    )
    return schemas.ResultRead.model_validate(result)


@results.post(
    "/score-administration",
    status_code=202,
    response_model=schemas.AdministrationScoringQueued,
    summary="Score every ended attempt of an administration at once, in the background",
    responses=error_responses(*_ADMIN_ERRORS, AdministrationNotFound),
)
async def score_administration(
    session: SessionDep, principal: PrincipalDep, body: schemas.ScoreAdministration
) -> schemas.AdministrationScoringQueued:
    if not principal.has_any(Role.admin):
        raise RoleRequired("results are managed by admins")
    waiting = await service.queue_administration_scoring(session, principal, body.administration_id)
    return schemas.AdministrationScoringQueued(
        administration_id=body.administration_id,
        waiting=waiting,
        task=service.SCORE_ADMINISTRATION_TASK,
    )


@router.post(
    "/rescore",
    response_model=schemas.RescoreReport,
    tags=["results"],
    summary="Apply a corrected answer key to the attempts that saw an earlier version",
    responses=error_responses(*_ADMIN_ERRORS, *_VERSION_ERRORS, RescoreVersionsDiffer),
)
async def rescore(
    request: Request, db: DatabaseDep, auth: AuthDep, body: schemas.RescoreRequest
) -> schemas.RescoreReport:
    # No request-wide unit of work: the rescore commits batch by batch (so the audit
    # chain is never locked for the whole run); the caller is authorized in a read.
    async with db.transaction(write=False) as session:
        principal = await get_principal(request, session, auth)
    if not principal.has_any(Role.admin):
        raise RoleRequired("rescoring is done by admins")
    changes = await service.rescore_item(
        db,
        principal,
        item_id=body.item_id,
        from_version=body.from_version,
        to_version=body.to_version,
        administration_id=body.administration_id,
        reason=body.reason,
    )
    return schemas.RescoreReport(
        changed=len(changes),
        changes=[
            schemas.RescoredAttempt(
                attempt_id=c.attempt_id,
                item_ref=c.item_ref,
                item_score=schemas.ItemScoreChange(before=c.before_item, after=c.after_item),
                scaled=schemas.ScaledChange(before=c.before_total, after=c.after_total),
                band=schemas.BandChange(before=c.before_band, after=c.after_band),
            )
            for c in changes
        ],
    )


router.include_router(results)
