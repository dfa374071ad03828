"""Integrity routes (``/api/v1/integrity``): policies (admins), the reviewers' queue, an
attempt's summary and timeline, analysis on demand, answer similarity, decisions (admins
and the administration's proctors; only admins invalidate), and the candidate's view and
appeal (with the attempt credential)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Query

from waa_ads.assessments.errors import AdministrationNotFound
from waa_ads.auth.deps import PrincipalDep
from waa_ads.auth.errors import CREDENTIAL_ERRORS, RoleRequired
from waa_ads.core.deps import SessionDep, SettingsDep
from waa_ads.core.errors import error_responses
from waa_ads.core.pagination import DEFAULT_LIMIT, MAX_LIMIT
from waa_ads.core.params import INT32_MAX
from waa_ads.delivery.errors import AttemptChanged, AttemptNotFound
from waa_ads.delivery.state_machine import IllegalTransition
from waa_ads.integrity import schemas, service
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
