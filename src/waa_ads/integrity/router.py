"""Integrity routes (``/api/v1/integrity``): policies (admins), the reviewers' queue, an
attempt's summary and timeline, analysis on demand, answer similarity, decisions (admins
and the administration's proctors; only admins invalidate), and the candidate's view and
appeal (with the attempt credential)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response

from waa_ads.assessments.errors import AdministrationNotFound
from waa_ads.auth.deps import PrincipalDep
from waa_ads.auth.errors import CREDENTIAL_ERRORS, RoleRequired
from waa_ads.core.deps import SessionDep, SettingsDep
from waa_ads.core.errors import error_responses
from waa_ads.core.pagination import DEFAULT_LIMIT, MAX_LIMIT
from waa_ads.core.params import INT32_MAX
from waa_ads.delivery.errors import AttemptChanged, AttemptNotFound
from waa_ads.delivery.state_machine import IllegalTransition
from waa_ads.integrity import frame_service, frames, schemas, service
from waa_ads.integrity.errors import (
    AppealNotAllowed,
    IntegrityPolicyNotFound,
    NotAnalysed,
    NothingToAppeal,
    PolicyProblem,
    QueueCursorInvalid,
    ReviewNotAllowed,
    SimilarityNotRun,
)

router = APIRouter(prefix="/integrity", tags=["integrity"])

Credential = Annotated[
    str | None, Header(alias="X-Attempt-Token", description="The attempt's credential.")
]
PolicyName = Annotated[str, Query(min_length=1, max_length=200)]
_REVIEW_ERRORS = (*CREDENTIAL_ERRORS, RoleRequired, AttemptNotFound)


@router.put(
    "/policies/{name}",
    response_model=schemas.PolicyVersionRead,
    summary="Save a policy's YAML as its next version (admins); refused with line and field",
    responses=error_responses(*CREDENTIAL_ERRORS, RoleRequired, PolicyProblem),
)
async def save_policy(
    session: SessionDep, principal: PrincipalDep, name: str, body: schemas.PolicySave
) -> schemas.PolicyVersionRead:
    policy, version = await service.save_policy(session, principal, name, body.source)
    return schemas.PolicyVersionRead(
        name=policy.name,
        version=version.version,
        source=version.source,
        created_by=version.created_by,
        created_at=version.created_at,
    )


@router.get(
    "/policies",
    response_model=list[schemas.PolicyRead],
    summary="The organization's integrity policies",
    responses=error_responses(*CREDENTIAL_ERRORS, RoleRequired),
)
async def list_policies(session: SessionDep, principal: PrincipalDep) -> list[schemas.PolicyRead]:
    return [
        schemas.PolicyRead.model_validate(p)
        for p in await service.list_policies(session, principal)
    ]


@router.get(
    "/policies/{name}",
    response_model=schemas.PolicyVersionRead,
    summary="A policy's text: its current version, or ?version=",
    responses=error_responses(*CREDENTIAL_ERRORS, RoleRequired, IntegrityPolicyNotFound),
)
async def get_policy(
    session: SessionDep,
    principal: PrincipalDep,
    name: str,
    version: Annotated[int | None, Query(ge=1, le=INT32_MAX)] = None,
) -> schemas.PolicyVersionRead:
    return await service.get_policy_version(session, principal, name, version)


@router.get(
    "/queue",
    response_model=schemas.QueuePage,
    summary="Flagged attempts to review, most severe first (admins; proctors: theirs)",
    responses=error_responses(*CREDENTIAL_ERRORS, RoleRequired, QueueCursorInvalid),
)
async def review_queue(
    session: SessionDep,
    principal: PrincipalDep,
    administration_id: uuid.UUID | None = None,
    status: Annotated[str | None, Query(pattern="^(open|decided)$")] = None,
    cursor: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> schemas.QueuePage:
    return await service.queue(
        session,
        principal,
        administration_id=administration_id,
        status=status,
        cursor=cursor,
        limit=limit,
    )


@router.get(
    "/attempts/{attempt_id}",
    response_model=schemas.SummaryRead,
    summary="An attempt's integrity summary: signals and flags with their evidence",
    responses=error_responses(*_REVIEW_ERRORS, NotAnalysed),
)
async def get_summary(
    session: SessionDep, principal: PrincipalDep, attempt_id: uuid.UUID
) -> schemas.SummaryRead:
    return schemas.SummaryRead.model_validate(
        await service.summary_of(session, principal, attempt_id)
    )


@router.post(
    "/attempts/{attempt_id}/analyse",
    response_model=schemas.SummaryRead,
    summary="Analyse an attempt now (replaces its summary)",
    responses=error_responses(*_REVIEW_ERRORS),
)
async def analyse(
    session: SessionDep, principal: PrincipalDep, attempt_id: uuid.UUID
) -> schemas.SummaryRead:
    return schemas.SummaryRead.model_validate(
        await service.request_analysis(session, principal, attempt_id)
    )


@router.get(
    "/attempts/{attempt_id}/timeline",
    response_model=schemas.Timeline,
    summary="An attempt's events, saves, flags, similarity partners and decisions",
    responses=error_responses(*_REVIEW_ERRORS),
)
async def timeline(
    session: SessionDep, principal: PrincipalDep, attempt_id: uuid.UUID
) -> schemas.Timeline:
    return await service.timeline(session, principal, attempt_id)


@router.post(
    "/attempts/{attempt_id}/decisions",
    status_code=201,
    response_model=schemas.DecisionRead,
    summary="Decide on an attempt with a reason: dismiss, note, warn, invalidate (admins)",
    responses=error_responses(*_REVIEW_ERRORS, ReviewNotAllowed, IllegalTransition, AttemptChanged),
)
async def decide(
    session: SessionDep,
    principal: PrincipalDep,
    attempt_id: uuid.UUID,
    body: schemas.DecisionCreate,
) -> schemas.DecisionRead:
    return schemas.DecisionRead.model_validate(
        await service.decide(session, principal, attempt_id, body)
    )


@router.get(
    "/attempts/{attempt_id}/decisions",
    response_model=list[schemas.DecisionRead],
    summary="An attempt's decisions and appeals, oldest first",
    responses=error_responses(*_REVIEW_ERRORS),
)
async def list_decisions(
    session: SessionDep, principal: PrincipalDep, attempt_id: uuid.UUID
) -> list[schemas.DecisionRead]:
    return [
        schemas.DecisionRead.model_validate(d)
        for d in await service.decisions_of(session, principal, attempt_id)
    ]


@router.post(
    "/administrations/{administration_id}/similarity",
    status_code=202,
    response_model=schemas.SimilarityRequested,
    summary="Run the answer-similarity analysis of an administration (a background task)",
    responses=error_responses(*CREDENTIAL_ERRORS, RoleRequired, AdministrationNotFound),
)
async def request_similarity(
    session: SessionDep, principal: PrincipalDep, administration_id: uuid.UUID
) -> schemas.SimilarityRequested:
    return await service.request_similarity(session, principal, administration_id)


@router.get(
    "/administrations/{administration_id}/similarity",
    response_model=schemas.SimilarityReport,
    summary="The latest answer-similarity analysis of an administration and its pairs",
    responses=error_responses(
        *CREDENTIAL_ERRORS, RoleRequired, AdministrationNotFound, SimilarityNotRun
    ),
)
async def similarity_report(
    session: SessionDep, principal: PrincipalDep, administration_id: uuid.UUID
) -> schemas.SimilarityReport:
    return await service.similarity_report(session, principal, administration_id)


@router.get(
    "/candidate/attempts/{attempt_id}",
    response_model=schemas.CandidateIntegrity,
    summary="The candidate's view of their reviewed attempt (when the policy allows appeals)",
    responses=error_responses(AttemptNotFound, AppealNotAllowed),
)
async def candidate_view(
    session: SessionDep, settings: SettingsDep, attempt_id: uuid.UUID, credential: Credential
) -> schemas.CandidateIntegrity:
    return await service.candidate_view(session, settings, attempt_id, credential)


@router.post(
    "/candidate/attempts/{attempt_id}/appeal",
    status_code=201,
    response_model=schemas.CandidateDecision,
    summary="The candidate responds to a warning or an invalidation (when the policy allows)",
    responses=error_responses(AttemptNotFound, AppealNotAllowed, NothingToAppeal),
)
async def appeal(
    session: SessionDep,
    settings: SettingsDep,
    attempt_id: uuid.UUID,
    credential: Credential,
    body: schemas.AppealCreate,
) -> schemas.CandidateDecision:
    decision = await service.appeal(session, settings, attempt_id, credential, body.reason)
    return schemas.CandidateDecision(
        kind=decision.kind, reason=decision.reason, created_at=decision.created_at
    )


# --- webcam frames ----------------------------------------------------------------------------

_IMAGE_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
            "image/png": {"schema": {"type": "string", "format": "binary"}},
        },
        "description": f"One still, JPEG or PNG (judged by its bytes), at most "
        f"{frames.MAX_FRAME_BYTES} bytes and {frames.MAX_SIDE} pixels a side.",
    }
}


async def _image_body(request: Request) -> bytes:
    """The request's bytes, refused (413) as soon as they pass the frame limit."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > frames.MAX_FRAME_BYTES:
        raise frames.FrameTooLarge(f"the frame is over {frames.MAX_FRAME_BYTES} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > frames.MAX_FRAME_BYTES:
            raise frames.FrameTooLarge(f"the frame is over {frames.MAX_FRAME_BYTES} bytes")
    return bytes(body)


@router.get(
    "/candidate/attempts/{attempt_id}/camera",
    response_model=schemas.CameraRead,
    summary="Whether this test takes webcam stills, how often, and the consent text",
    responses=error_responses(AttemptNotFound),
)
async def candidate_camera(
    session: SessionDep, settings: SettingsDep, attempt_id: uuid.UUID, credential: Credential
) -> schemas.CameraRead:
    return await frame_service.camera_for_candidate(session, settings, attempt_id, credential)


@router.post(
    "/candidate/attempts/{attempt_id}/camera",
    response_model=schemas.CameraRead,
    summary="The candidate's answer: camera consent given, refused, or no camera",
    responses=error_responses(AttemptNotFound, frame_service.FramesNotRequested),
)
async def candidate_consent(
    session: SessionDep,
    settings: SettingsDep,
    attempt_id: uuid.UUID,
    credential: Credential,
    body: schemas.ConsentWrite,
) -> schemas.CameraRead:
    return await frame_service.record_consent(
        session, settings, attempt_id, credential, body.consent
    )


@router.post(
    "/candidate/attempts/{attempt_id}/frames",
    status_code=202,
    response_model=schemas.FrameAccepted,
    summary="One webcam still (JPEG or PNG body); analysed in the background",
    openapi_extra=_IMAGE_BODY,
    responses=error_responses(
        AttemptNotFound,
        frame_service.FramesNotRequested,
        frame_service.ConsentMissing,
        frame_service.FramesRateLimited,
        frames.FrameRefused,
        frames.FrameTooLarge,
    ),
)
async def candidate_frame(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    attempt_id: uuid.UUID,
    credential: Credential,
) -> schemas.FrameAccepted:
    intake = await frame_service.admit_frame(session, settings, attempt_id, credential)
    limiter = request.app.state.auth.limiter
    window = await limiter.hit(f"frames:{intake.attempt.id}", 60, session=session)
    if window.count > frame_service.frames_per_minute(intake.camera):
        raise frame_service.FramesRateLimited(
            "too many webcam stills from this attempt; slow down",
            extra={"headers": {"Retry-After": str(window.retry_after_s)}},
        )
    data = await _image_body(request)
    frame = await frame_service.receive_frame(session, request.app.state.blobs, intake, data)
    return schemas.FrameAccepted(
        frame_id=frame.id, seq=frame.seq, next_in_s=intake.camera.interval_s
    )


@router.get(
    "/attempts/{attempt_id}/frames",
    response_model=list[schemas.FrameRead],
    summary="An attempt's webcam stills and their findings",
    responses=error_responses(*_REVIEW_ERRORS),
)
async def attempt_frames(
    session: SessionDep, principal: PrincipalDep, attempt_id: uuid.UUID
) -> list[schemas.FrameRead]:
    return await frame_service.list_frames(session, principal, attempt_id)


_CSV_REPLY: dict[int | str, dict[str, Any]] = {200: {"content": {"text/csv": {}}}}
_IMAGE_REPLY: dict[int | str, dict[str, Any]] = {
    200: {"content": {"image/jpeg": {}, "image/png": {}}, "description": "The image."}
}


@router.get(
    "/frames/{frame_id}/thumbnail",
    response_class=Response,
    summary="A still's thumbnail (160x120 JPEG), kept as evidence",
    responses=_IMAGE_REPLY
    | error_responses(*_REVIEW_ERRORS, frame_service.FrameNotFound, frame_service.FrameImageGone),
)
async def frame_thumbnail(
    request: Request, session: SessionDep, principal: PrincipalDep, frame_id: uuid.UUID
) -> Response:
    data, content_type = await frame_service.frame_image(
        session, request.app.state.blobs, principal, frame_id, thumbnail=True
    )
    return Response(data, media_type=content_type, headers={"Cache-Control": "private"})


@router.get(
    "/frames/{frame_id}/image",
    response_class=Response,
    summary="A still as received, until its retention ends",
    responses=_IMAGE_REPLY
    | error_responses(*_REVIEW_ERRORS, frame_service.FrameNotFound, frame_service.FrameImageGone),
)
async def frame_image(
    request: Request, session: SessionDep, principal: PrincipalDep, frame_id: uuid.UUID
) -> Response:
    data, content_type = await frame_service.frame_image(
        session, request.app.state.blobs, principal, frame_id, thumbnail=False
    )
    return Response(data, media_type=content_type, headers={"Cache-Control": "private"})


@router.post(
    "/faces",
    response_model=schemas.FacesRead,
    summary="Analyse one still now (the analysis the stills get); nothing is stored",
    openapi_extra=_IMAGE_BODY,
    responses=error_responses(
        *CREDENTIAL_ERRORS, RoleRequired, frames.FrameRefused, frames.FrameTooLarge
    ),
)
async def faces(request: Request, principal: PrincipalDep) -> schemas.FacesRead:
    data = await _image_body(request)
    return await asyncio.to_thread(frame_service.analyse_upload, principal, data)


@router.get(
    "/fairness",
    response_model=schemas.FairnessReport,
    summary="Frame analysis error rates per lighting condition; flag and decision rates "
    "per candidate group",
    responses=error_responses(*CREDENTIAL_ERRORS, RoleRequired),
)
async def fairness(
    session: SessionDep, principal: PrincipalDep, administration_id: uuid.UUID | None = None
) -> schemas.FairnessReport:
    return await frame_service.fairness(session, principal, administration_id)


@router.get(
    "/fairness.csv",
    response_class=Response,
    summary="The fairness report as CSV (one row per lighting condition and per group)",
    responses=_CSV_REPLY | error_responses(*CREDENTIAL_ERRORS, RoleRequired),
)
async def fairness_csv(
    session: SessionDep, principal: PrincipalDep, administration_id: uuid.UUID | None = None
) -> Response:
    report = await frame_service.fairness(session, principal, administration_id)
    return Response(
        frame_service.fairness_csv(report),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="integrity-fairness.csv"'},
    )
