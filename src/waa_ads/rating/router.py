"""Rating routes (``/api/v1/rating``): raters lease and rate responses and read their own
figures; admins and a plan's leads make plans, add seeded responses, watch progress,
disagreements and agreement, pause raters and export every rating."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response

from waa_ads.assessments.errors import AdministrationNotFound
from waa_ads.auth.deps import PrincipalDep
from waa_ads.auth.errors import CREDENTIAL_ERRORS, RoleRequired
from waa_ads.auth.models import Role
from waa_ads.content.media.check import GIF, JPEG, PNG, WEBP, sniff_content_type
from waa_ads.core.deps import SessionDep, SettingsDep
from waa_ads.core.errors import error_responses
from waa_ads.rating import schemas, service
from waa_ads.rating.errors import (
    LeaseAlreadyRated,
    LeaseExpired,
    LeaseNotFound,
    RaterNotOnPlan,
    RaterPaused,
    RatingLevelsInvalid,
    RatingNotAssigned,
    RatingPlanChanged,
    RatingPlanExists,
    RatingPlanInUse,
    RatingPlanInvalid,
    RatingPlanNotFound,
    ResponseFileNotFound,
    SeedInvalid,
)

router = APIRouter(prefix="/rating", tags=["rating"])

_INLINE_PICTURES = frozenset({PNG, JPEG, GIF, WEBP})

_LEAD_ERRORS = (*CREDENTIAL_ERRORS, RoleRequired, RatingPlanNotFound)
_QUEUE_ERRORS = (
    *CREDENTIAL_ERRORS,
    RoleRequired,
    RatingPlanNotFound,
    RatingNotAssigned,
    RaterPaused,
)


def _rater(principal: PrincipalDep) -> None:
    if not principal.has_any(Role.rater, Role.admin):
        raise RoleRequired("rating needs the rater role")


@router.post(
    "/plans",
    status_code=201,
    response_model=schemas.PlanDetail,
    summary="Create the rating plan of an administration (admins)",
    responses=error_responses(
        *CREDENTIAL_ERRORS,
        RoleRequired,
        AdministrationNotFound,
        RatingPlanExists,
        RatingPlanInvalid,
    ),
)
async def create_plan(
    session: SessionDep, principal: PrincipalDep, body: schemas.PlanCreate
) -> schemas.PlanDetail:
    plan = await service.create_plan(session, principal, body)
    return await service.plan_detail(session, principal, plan.id)


@router.get(
    "/plans",
    response_model=list[schemas.PlanRead],
    summary="Rating plans: all (admins), or those the caller rates on or leads",
    responses=error_responses(*CREDENTIAL_ERRORS),
)
async def list_plans(session: SessionDep, principal: PrincipalDep) -> list[schemas.PlanRead]:
    return [
        schemas.PlanRead.model_validate(p) for p in await service.list_plans(session, principal)
    ]


@router.get(
    "/plans/{plan_id}",
    response_model=schemas.PlanDetail,
    summary="A rating plan and its raters and adjudicators",
    responses=error_responses(*CREDENTIAL_ERRORS, RatingPlanNotFound),
)
async def get_plan(
    session: SessionDep, principal: PrincipalDep, plan_id: uuid.UUID
) -> schemas.PlanDetail:
    return await service.plan_detail(session, principal, plan_id)


@router.patch(
    "/plans/{plan_id}",
    response_model=schemas.PlanDetail,
    summary="Change a plan: the fields given, from the version read (leads)",
    description="Only the fields given change. `expected_version` is the plan's `version` "
    "the change was made from: a plan changed since is refused (409 `rating-plan-changed`), "
    "never overwritten. How scores are made (rule, distance, per criterion, resolution) "
    "cannot change once a response was scored or sent to adjudication, nor can an item with "
    "ratings be taken off (409 `rating-plan-in-use`). `double_share` and `lease_seconds` "
    "apply to what is queued or leased from now on; items added are queued at once.",
    responses=error_responses(*_LEAD_ERRORS, RatingPlanInvalid, RatingPlanChanged, RatingPlanInUse),
)
async def update_plan(
    session: SessionDep, principal: PrincipalDep, plan_id: uuid.UUID, body: schemas.PlanUpdate
) -> schemas.PlanDetail:
    plan = await service.update_plan(session, principal, plan_id, body)
    return await service.plan_detail(session, principal, plan.id)


@router.get(
    "/people",
    response_model=list[schemas.Person],
    summary="The organization's active raters by name, to put on a plan (admins, leads)",
    responses=error_responses(*CREDENTIAL_ERRORS, RoleRequired),
)
async def people(session: SessionDep, principal: PrincipalDep) -> list[schemas.Person]:
    return await service.people(session, principal)


@router.put(
    "/plans/{plan_id}/members",
    response_model=schemas.PlanDetail,
    summary="Replace the plan's raters and adjudicators (and leads) (leads)",
    responses=error_responses(*_LEAD_ERRORS, RatingPlanInvalid),
)
async def set_members(
    session: SessionDep, principal: PrincipalDep, plan_id: uuid.UUID, body: schemas.MembersUpdate
) -> schemas.PlanDetail:
    plan = await service.set_members(session, principal, plan_id, body)
    return await service.plan_detail(session, principal, plan.id)


@router.post(
    "/plans/{plan_id}/sync",
    response_model=schemas.SyncReply,
    summary="Queue every response of the administration now waiting for a person (leads)",
    responses=error_responses(*_LEAD_ERRORS),
)
async def sync_plan(
    session: SessionDep, principal: PrincipalDep, plan_id: uuid.UUID
) -> schemas.SyncReply:
    return await service.sync(session, principal, plan_id)


@router.post(
    "/plans/{plan_id}/seeds",
    status_code=201,
    response_model=schemas.SeedRead,
    summary="Add a pre-scored (seeded) response, slipped into raters' queues (leads)",
    responses=error_responses(*_LEAD_ERRORS, SeedInvalid),
)
async def add_seed(
    session: SessionDep, principal: PrincipalDep, plan_id: uuid.UUID, body: schemas.SeedCreate
) -> schemas.SeedRead:
    return schemas.SeedRead.model_validate(
        await service.add_seed(session, principal, plan_id, body)
    )


@router.post(
    "/plans/{plan_id}/raters/{user_id}/pause",
    response_model=list[schemas.MemberRead],
    summary="Pause a rater: no more leases until resumed (leads)",
    responses=error_responses(*_LEAD_ERRORS, RaterNotOnPlan),
)
async def pause_rater(
    session: SessionDep, principal: PrincipalDep, plan_id: uuid.UUID, user_id: uuid.UUID
) -> list[schemas.MemberRead]:
    rows = await service.set_paused(session, principal, plan_id, user_id, paused=True)
    return [schemas.MemberRead.model_validate(r) for r in rows]


@router.post(
    "/plans/{plan_id}/raters/{user_id}/resume",
    response_model=list[schemas.MemberRead],
    summary="Resume a paused rater (leads)",
    responses=error_responses(*_LEAD_ERRORS, RaterNotOnPlan),
)
async def resume_rater(
    session: SessionDep, principal: PrincipalDep, plan_id: uuid.UUID, user_id: uuid.UUID
) -> list[schemas.MemberRead]:
    rows = await service.set_paused(session, principal, plan_id, user_id, paused=False)
    return [schemas.MemberRead.model_validate(r) for r in rows]


@router.get(
    "/plans/{plan_id}/progress",
    response_model=schemas.Progress,
    summary="Per item: responses, ratings needed and done, adjudicating, resolved (leads)",
    responses=error_responses(*_LEAD_ERRORS),
)
async def progress(
    session: SessionDep, principal: PrincipalDep, plan_id: uuid.UUID
) -> schemas.Progress:
    return await service.progress(session, principal, plan_id)


@router.get(
    "/plans/{plan_id}/disagreements",
    response_model=list[schemas.Disagreement],
    summary="Responses waiting for an adjudicator, with the raters' levels (leads)",
    responses=error_responses(*_LEAD_ERRORS),
)
async def disagreements(
    session: SessionDep, principal: PrincipalDep, plan_id: uuid.UUID
) -> list[schemas.Disagreement]:
    return await service.disagreements(session, principal, plan_id)


@router.get(
    "/plans/{plan_id}/stats",
    response_model=schemas.PlanStats,
    summary="Agreement per item, per rater pair and per rater, seeded accuracy, drift (leads)",
    responses=error_responses(*_LEAD_ERRORS),
)
async def statistics(
    session: SessionDep, principal: PrincipalDep, plan_id: uuid.UUID
) -> schemas.PlanStats:
    return await service.statistics(session, principal, plan_id)


@router.get(
    "/plans/{plan_id}/export.csv",
    summary="Every rating of the plan as CSV: rater, times, levels, score, resolution (leads)",
    response_class=Response,
    responses={
        200: {
            "description": "One row per rating, oldest first; a header row first.",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        },
        **error_responses(*_LEAD_ERRORS),
    },
)
async def export_csv(session: SessionDep, principal: PrincipalDep, plan_id: uuid.UUID) -> Response:
    text = await service.export_csv(session, principal, plan_id)
    return Response(
        text,
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="ratings-{plan_id}.csv"'},
    )


@router.get(
    "/plans/{plan_id}/me",
    response_model=schemas.RaterStats,
    summary="The caller's own figures on a plan they rate on",
    responses=error_responses(*CREDENTIAL_ERRORS, RatingPlanNotFound, RaterNotOnPlan),
)
async def my_statistics(
    session: SessionDep, principal: PrincipalDep, plan_id: uuid.UUID
) -> schemas.RaterStats:
    return await service.my_statistics(session, principal, plan_id)


@router.post(
    "/next",
    response_model=schemas.NextReply,
    summary="Lease the next response to rate (raters and adjudicators)",
    responses=error_responses(*_QUEUE_ERRORS),
)
async def lease_next(
    session: SessionDep,
    settings: SettingsDep,
    principal: PrincipalDep,
    body: schemas.NextRequest | None = None,
) -> schemas.NextReply:
    _rater(principal)
    return await service.lease_next(
        session, settings, principal, body.plan_id if body is not None else None
    )


@router.post(
    "/leases/{lease_id}/rating",
    status_code=201,
    response_model=schemas.RatingSaved,
    summary="Rate the leased response: a level per criterion, annotations, a comment "
    "(with next: true, the next lease in the same call)",
    responses=error_responses(
        *_QUEUE_ERRORS, LeaseNotFound, LeaseExpired, LeaseAlreadyRated, RatingLevelsInvalid
    ),
)
async def submit_rating(
    session: SessionDep,
    settings: SettingsDep,
    principal: PrincipalDep,
    lease_id: uuid.UUID,
    body: schemas.RatingSubmit,
) -> schemas.RatingSaved:
    _rater(principal)
    return await service.submit_rating(session, settings, principal, lease_id, body)


@router.get(
    "/leases/{lease_id}/file",
    summary="The uploaded file of a leased response (its rater, or the plan's leads)",
    response_class=Response,
    responses={
        200: {"content": {"application/octet-stream": {}}},
        **error_responses(
            *CREDENTIAL_ERRORS, LeaseNotFound, RatingNotAssigned, ResponseFileNotFound
        ),
    },
)
async def lease_file(
    request: Request, session: SessionDep, principal: PrincipalDep, lease_id: uuid.UUID
) -> Response:
    found = await service.lease_file(session, principal, lease_id)
    data = await request.app.state.blobs.get(found["sha256"])
    # The candidate chose the file and its declared type: only a picture the bytes prove
    # to be one is shown in the page; anything else is a download that cannot run (HTML
    # or SVG opened from this origin would act with the rater's session).
    sniffed = sniff_content_type(data)
    inline = sniffed in _INLINE_PICTURES
    return Response(
        data,
        media_type=sniffed if inline and sniffed else "application/octet-stream",
        headers={
            "Cache-Control": "private, no-store",
            "Content-Disposition": "inline" if inline else "attachment",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "X-Content-Type-Options": "nosniff",
        },
    )
