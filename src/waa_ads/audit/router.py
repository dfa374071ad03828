"""Audit routes: verify the organization's chain, read its events, export it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from waa_ads.audit import repository, service
from waa_ads.audit.schemas import AuditEventRead, AuditPage, VerifyReport
from waa_ads.auth.deps import AdminDep
from waa_ads.auth.errors import CREDENTIAL_ERRORS, RoleRequired
from waa_ads.core.deps import SessionDep
from waa_ads.core.errors import error_responses
from waa_ads.core.params import Seq

router = APIRouter(prefix="/audit", tags=["audit"])


@router.get(
    "/verify",
    response_model=VerifyReport,
    summary="Recompute the organization's audit chain; report the first broken link",
    responses=error_responses(*CREDENTIAL_ERRORS, RoleRequired),
)
async def verify(session: SessionDep, admin: AdminDep) -> VerifyReport:
    result = await service.verify_chain(session, service.chain_for(admin.organization_id))
    return VerifyReport(**result.as_dict())


@router.get(
    "/events",
    response_model=AuditPage,
    summary="The organization's audit events in chain order",
    responses=error_responses(*CREDENTIAL_ERRORS, RoleRequired),
)
async def events(
    session: SessionDep,
    admin: AdminDep,
    after_seq: Seq = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    action: Annotated[str | None, Query(max_length=100)] = None,
    target_id: Annotated[str | None, Query(max_length=64)] = None,
    action_prefix: Annotated[
        str | None, Query(max_length=100, description="Actions starting so (auth.)")
    ] = None,
    actor_id: Annotated[str | None, Query(max_length=64)] = None,
    target_type: Annotated[str | None, Query(max_length=64)] = None,
    since: Annotated[datetime | None, Query(description="Occurred at or after")] = None,
    until: Annotated[datetime | None, Query(description="Occurred before")] = None,
    newest_first: Annotated[
        bool, Query(description="Newest first; page with before_seq (next_before_seq)")
    ] = False,
    before_seq: Annotated[Seq | None, Query(description="Only events before this seq")] = None,
) -> AuditPage:
    rows, next_seq = await repository.list_events(
        session,
        service.chain_for(admin.organization_id),
        after_seq=after_seq,
        before_seq=before_seq,
        newest_first=newest_first,
        limit=limit,
        where=repository.EventFilter(
            action=action,
            action_prefix=action_prefix,
            actor_id=actor_id,
            target_type=target_type,
            target_id=target_id,
            since=since,
            until=until,
        ),
    )
    return AuditPage(
        items=[AuditEventRead.model_validate(r) for r in rows],
        next_after_seq=None if newest_first else next_seq,
        next_before_seq=next_seq if newest_first else None,
    )


@router.get(
    "/export",
    summary="The organization's chain as JSON Lines, verifiable by a third party",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"application/x-ndjson": {}}, "description": "One event per line."},
        **error_responses(*CREDENTIAL_ERRORS, RoleRequired),
    },
)
async def export(session: SessionDep, admin: AdminDep) -> StreamingResponse:
    chain = service.chain_for(admin.organization_id)
    # Read the whole chain now: the session ends when this function returns.
    lines = [line async for line in service.export_lines(session, chain)]
    return StreamingResponse(
        iter(lines),
        media_type="application/x-ndjson",
        headers={"Content-Disposition": f'attachment; filename="audit-{chain}.jsonl"'},
    )
