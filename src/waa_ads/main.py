"""The application factory."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import redis.asyncio as aioredis
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from waa_ads import __version__
from waa_ads.api import api_router
from waa_ads.auth.service import build_auth
from waa_ads.core import live
from waa_ads.core.apidocs import install_api_docs
from waa_ads.core.db import Database, database_from_settings
from waa_ads.core.errors import Problem, UnavailableMiddleware, install_error_handlers
from waa_ads.core.health import router as health_router
from waa_ads.core.logging import configure_logging
from waa_ads.core.middleware import BodySizeLimitMiddleware, RequestContextMiddleware
from waa_ads.core.settings import Settings, get_settings
from waa_ads.core.storage import blob_store_from_settings
from waa_ads.core.tasks import start_background_work
from waa_ads.core.telemetry import Tracing
from waa_ads.core.textguard import TextInputMiddleware
from waa_ads.delivery.autosave_edge import AutosaveShortcut
from waa_ads.integrations.lti_router import router as lti_router
from waa_ads.web.console.router import install_console
from waa_ads.web.router import router as web_router
from waa_ads.web.verify import router as verify_router

#: Where a candidate's answer arrives: text that cannot be stored is repaired there, not
#: refused (see core.textguard).
CANDIDATE_ANSWER_PATHS = (r"^/api/v1/attempts/[^/]+/responses/[^/]+$",)


def create_app(
    settings: Settings | None = None,
    *,
    database: Database | None = None,
    tracing: Tracing | None = None,
) -> FastAPI:
    """Build the ASGI app.

    ``database`` lets a caller (tests, an embedding program) hand in an engine it owns; the
    app then neither creates nor disposes one. Otherwise the lifespan builds the engine,
    the Redis client when ``WAA_REDIS_URL`` is set, and disposes them on shutdown.

    The lifespan also builds the blob store (``app.state.blobs``) and starts background
    work: a Celery publisher with a broker, else the in-process task runner and periodic
    tasks (``app.state.background``). ``tracing`` overrides the tracing the settings ask
    for (``WAA_OTEL_EXPORTER_OTLP_ENDPOINT``); a caller that hands one in shuts it down.
    """
    settings = settings or get_settings()
    owns_tracing = tracing is None
    tracing = tracing or Tracing.from_settings(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owns_db = database is None
        app.state.db = database or database_from_settings(settings)
        app.state.redis = (
            aioredis.Redis.from_url(settings.redis_url, decode_responses=False)
            if settings.redis_url
            else None
        )
        app.state.auth = build_auth(settings, app.state.db, app.state.redis)
        # Live news (proctors' views, candidates' clocks): over Redis between processes.
        app.state.live = live.bus_for(app.state.redis)
        replaced_bus = live.install(app.state.live)
        if tracing is not None:
            tracing.instrument_engine(app.state.db.engine)
        app.state.blobs = blob_store_from_settings(settings)
        app.state.readiness_probes["blobs"] = app.state.blobs.check
        app.state.background = await start_background_work(
            settings, db=app.state.db, blobs=app.state.blobs
        )
        # Everything built so far (modules, routes, models, settings) lives as long as the
        # process: out of the collector's sight, a full collection no longer walks it.
        gc.freeze()
        try:
            yield
        finally:
            await app.state.background.aclose()
            live.install(replaced_bus)
            await app.state.live.aclose()
            await app.state.blobs.aclose()
            if tracing is not None and owns_tracing:
                tracing.shutdown()
            if app.state.redis is not None:
                await app.state.redis.aclose()
            if owns_db:
                await app.state.db.dispose()

    app = FastAPI(
        title="WAA-ADS",
        version=__version__,
        summary="Automated assessment delivery: item banks, delivery, scoring, integrity, audit.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.readiness_probes = {}
    if tracing is not None:
        tracing.instrument_app(app)
        if settings.broker_url:
            tracing.instrument_celery()
    install_error_handlers(app)
    install_api_docs(app, title="WAA-ADS")
    app.include_router(health_router)
    app.include_router(api_router)
    app.include_router(web_router)
    app.include_router(verify_router)
    app.include_router(lti_router)
    install_console(app)
    _document_problem_schema(app)

    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["*"],
            allow_headers=["*"],
            allow_credentials=True,
        )
    # Innermost: autosave's short way past the routing, after every middleware below.
    app.add_middleware(AutosaveShortcut)
    # A database or Redis outage met by autosave's short way is a 503, as on every route.
    app.add_middleware(UnavailableMiddleware)
    # Inside the size limit, which so bounds what it reads; a candidate's saved answer is
    # repaired rather than refused, so no answer is lost for its content.
    app.add_middleware(TextInputMiddleware, keep_answer_paths=CANDIDATE_ANSWER_PATHS)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)
    # Added last, so it runs first: every log line of a request carries its id.
    app.add_middleware(RequestContextMiddleware)
    return app


def _document_problem_schema(app: FastAPI) -> None:
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = original()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.setdefault(
            "Problem", Problem.model_json_schema(ref_template="#/components/schemas/{model}")
        )
        for name, sub in (
            Problem.model_json_schema(ref_template="#/components/schemas/{model}")
            .get("$defs", {})
            .items()
        ):
            components.setdefault(name, sub)
        components["Problem"].pop("$defs", None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def app_from_env() -> FastAPI:
    """Entry point for ``uvicorn --factory waa_ads.main:app_from_env``."""
    settings = get_settings()
    configure_logging(settings.log_level, json=settings.log_json)
    return create_app(settings)
