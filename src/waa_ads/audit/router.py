"""Audit routes: verify the organization's chain, read its events, export it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select

from waa_ads.audit import service
from waa_ads.audit.models import AuditEvent
from waa_ads.auth.deps import AdminDep
from waa_ads.core.deps import SessionDep
from waa_ads.core.errors import error_responses

router = APIRouter(prefix="/audit", tags=["audit"])


class VerifyReport(BaseModel):
    chain: str
    ok: bool
    checked: int
    head_seq: int
    first_broken_seq: int | None
    reason: str | None


class AuditEventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    seq: int
    occurred_at: datetime
    action: str
    actor_type: str
    actor_id: str | None
    target_type: str | None
    target_id: str | None
    canonical: str
    prev_hash: str
    hash: str


class AuditPage(BaseModel):
    items: list[AuditEventRead]
    next_after_seq: int | None


@router.get(
    "/verify",
    response_model=VerifyReport,
    summary="Recompute the organization's audit chain; report the first broken link",
    responses=error_responses(401, 403),
)
async def verify(session: SessionDep, admin: AdminDep) -> VerifyReport:
    result = await service.verify_chain(session, service.chain_for(admin.organization_id))
    return VerifyReport(**result.as_dict())


@router.get(
    "/events",
    response_model=AuditPage,
    summary="The organization's audit events in chain order",
    responses=error_responses(401, 403),
)
async def events(
    session: SessionDep,
    admin: AdminDep,
    after_seq: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    action: Annotated[str | None, Query(max_length=100)] = None,
    target_id: Annotated[str | None, Query(max_length=64)] = None,
) -> AuditPage:
    stmt = select(AuditEvent).where(
        AuditEvent.chain == service.chain_for(admin.organization_id), AuditEvent.seq > after_seq
    )
    if action:
        stmt = stmt.where(AuditEvent.action == action)
    if target_id:
        stmt = stmt.where(AuditEvent.target_id == target_id)
    rows = (await session.execute(stmt.order_by(AuditEvent.seq).limit(limit + 1))).scalars().all()
    more = len(rows) > limit
    rows = rows[:limit]
    return AuditPage(
        items=[AuditEventRead.model_validate(r) for r in rows],
        next_after_seq=rows[-1].seq if more and rows else None,
    )


@router.get(
    "/export",
    summary="The organization's chain as JSON Lines, verifiable by a third party",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"application/x-ndjson": {}}, "description": "One event per line."},
        **error_responses(401, 403),
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
