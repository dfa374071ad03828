"""Mounts each domain's router under ``/api/v1``."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from waa_ads import __version__
from waa_ads.core.errors import COMMON_ERROR_RESPONSES

api_router = APIRouter(prefix="/api/v1", responses=COMMON_ERROR_RESPONSES)


class VersionInfo(BaseModel):
    name: str
    version: str
    api: str


@api_router.get("/version", response_model=VersionInfo, tags=["meta"], summary="Server version")
async def version() -> VersionInfo:
    return VersionInfo(name="waa-ads", version=__version__, api="v1")
