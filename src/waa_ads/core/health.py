"""Liveness and readiness probes."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from waa_ads.core.schemas import DependencyStatus, Liveness, Readiness

router = APIRouter(tags=["health"])

CHECK_TIMEOUT_S = 2.0


@router.get("/healthz", response_model=Liveness, summary="The process is alive")
async def healthz() -> Liveness:
    return Liveness(status="ok")


async def _timed(check: Any) -> DependencyStatus:
    started = time.perf_counter()
    try:
        await asyncio.wait_for(check(), timeout=CHECK_TIMEOUT_S)
    except Exception as exc:  # a readiness probe reports every failure, whatever it is
        return DependencyStatus(status="error", detail=f"{type(exc).__name__}: {exc}"[:300])
    return DependencyStatus(
        status="ok", latency_ms=round((time.perf_counter() - started) * 1000, 2)
    )


@router.get(
    "/readyz",
    response_model=Readiness,
    summary="Each dependency is reachable",
    responses={503: {"model": Readiness, "description": "At least one dependency failed."}},
)
async def readyz(request: Request) -> JSONResponse:
    state = request.app.state
    deps: dict[str, DependencyStatus] = {}

    async def database() -> None:
        async with state.db.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    deps["database"] = await _timed(database)

    redis = getattr(state, "redis", None)
    if redis is None:
        deps["redis"] = DependencyStatus(status="not_configured")
    else:
        deps["redis"] = await _timed(redis.ping)

    for name, probe in getattr(state, "readiness_probes", {}).items():
        deps[name] = await _timed(probe)

    ok = all(d.status != "error" for d in deps.values())
    body = Readiness(status="ok" if ok else "error", dependencies=deps)
    return JSONResponse(body.model_dump(mode="json"), status_code=200 if ok else 503)
