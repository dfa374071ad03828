"""Scoring routes. "Try a response": authors score responses against an item version."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from waa_ads.auth.deps import PrincipalDep
from waa_ads.auth.models import Role
from waa_ads.content import service as content_service
from waa_ads.content.model import ItemDefinition
from waa_ads.core.deps import SessionDep
from waa_ads.core.errors import Forbidden, error_responses
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
