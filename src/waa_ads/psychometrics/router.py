"""HTTP routes of psychometrics: item analysis of an administration."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from waa_ads.assessments.errors import AdministrationNotFound
from waa_ads.auth.deps import PrincipalDep
from waa_ads.auth.errors import CREDENTIAL_ERRORS, RoleRequired
from waa_ads.auth.models import Role
from waa_ads.core.deps import SessionDep
from waa_ads.core.errors import error_responses
from waa_ads.psychometrics import schemas, service

router = APIRouter(prefix="/psychometrics", tags=["psychometrics"])


@router.get(
    "/administrations/{administration_id}/item-analysis",
    response_model=schemas.ItemAnalysisRead,
    summary="Classical item analysis of an administration's scored attempts",
    responses=error_responses(*CREDENTIAL_ERRORS, RoleRequired, AdministrationNotFound),
)
async def administration_item_analysis(
    session: SessionDep, principal: PrincipalDep, administration_id: uuid.UUID
) -> schemas.ItemAnalysisRead:
    if not principal.has_any(Role.admin, Role.author):
        raise RoleRequired("item statistics are for admins and authors")
    analysis = await service.administration_item_analysis(session, principal, administration_id)
    return schemas.ItemAnalysisRead.model_validate(
        {"administration_id": str(administration_id), **analysis.to_dict()}
    )
