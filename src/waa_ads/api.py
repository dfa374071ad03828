"""Mounts each domain's router under ``/api/v1``."""

from __future__ import annotations

from fastapi import APIRouter

from waa_ads import __version__
from waa_ads.assessments.router import router as assessments_router
from waa_ads.audit.router import router as audit_router
from waa_ads.auth.router import router as auth_router
from waa_ads.autoscore.router import router as autoscore_router
from waa_ads.content.router import router as content_router
from waa_ads.core.errors import COMMON_ERROR_RESPONSES
from waa_ads.core.schemas import VersionInfo
from waa_ads.delivery.router import proctor_router
from waa_ads.delivery.router import router as delivery_router
from waa_ads.integrations.router import router as integrations_router
from waa_ads.integrity.router import router as integrity_router
from waa_ads.psychometrics.router import router as psychometrics_router
from waa_ads.rating.router import router as rating_router
from waa_ads.reporting.router import router as reporting_router
from waa_ads.scoring.router import router as scoring_router

api_router = APIRouter(prefix="/api/v1", responses=COMMON_ERROR_RESPONSES)


@api_router.get("/version", response_model=VersionInfo, tags=["meta"], summary="Server version")
async def version() -> VersionInfo:
    return VersionInfo(name="waa-ads", version=__version__, api="v1")


# The candidates' hot path first: routes are matched in order.
api_router.include_router(delivery_router)
api_router.include_router(auth_router)
api_router.include_router(content_router)
api_router.include_router(assessments_router)
api_router.include_router(proctor_router)
api_router.include_router(scoring_router)
api_router.include_router(rating_router)
api_router.include_router(autoscore_router)
api_router.include_router(integrity_router)
api_router.include_router(psychometrics_router)
api_router.include_router(reporting_router)
api_router.include_router(audit_router)
api_router.include_router(integrations_router)
