"""Tracing: spans for requests and their SQL, exported over OTLP/HTTP only when configured."""

from __future__ import annotations

import gzip
import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from fastapi import APIRouter, FastAPI
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from sqlalchemy import text

from tests.support.settings import make_settings
from waa_ads.core.db import Database
from waa_ads.core.deps import SessionDep
from waa_ads.core.telemetry import Tracing, traces_endpoint
from waa_ads.main import create_app


@pytest_asyncio.fixture
async def scratch_db(tmp_path: Path) -> AsyncIterator[Database]:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'trace.db'}")
    yield db
    await db.dispose()


def _with_query_route(app: FastAPI) -> FastAPI:
    router = APIRouter(prefix="/api/v1/_probe")

    @router.get("/query")
    async def query(session: SessionDep) -> dict[str, int]:
        value = (await session.execute(text("SELECT 41 + 1"))).scalar_one()
        return {"value": value}

    app.include_router(router)
    return app


async def _get(app: FastAPI, *paths: str) -> list[httpx.Response]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        return [await client.get(path) for path in paths]


def test_traces_endpoint_appends_the_signal_path() -> None:
    assert traces_endpoint("http://collector:4318") == "http://collector:4318/v1/traces"
    assert traces_endpoint("http://collector:4318/") == "http://collector:4318/v1/traces"
    assert traces_endpoint("http://c:4318/v1/traces") == "http://c:4318/v1/traces"


def test_tracing_is_off_without_an_endpoint() -> None:
    settings = make_settings()
    assert Tracing.from_settings(settings) is None
    app = create_app(settings)
    assert not getattr(app, "_is_instrumented_by_opentelemetry", False)


@pytest.mark.asyncio
async def test_a_request_produces_a_server_span_with_its_sql_inside(
    scratch_db: Database,
) -> None:
    settings = make_settings()
    exporter = InMemorySpanExporter()
    tracing = Tracing(settings, exporter=exporter)
    app = _with_query_route(create_app(settings, database=scratch_db, tracing=tracing))
    try:
        async with app.router.lifespan_context(app):
            query, health = await _get(app, "/api/v1/_probe/query", "/healthz")
    finally:
        tracing.shutdown()
    assert query.json() == {"value": 42}
    assert health.status_code == 200

    spans = exporter.get_finished_spans()
    servers = [s for s in spans if s.kind is SpanKind.SERVER]
    assert [s.attributes["http.route"] for s in servers if s.attributes] == [
        "/api/v1/_probe/query"
    ], "one server span, none for the excluded /healthz"
    server = servers[0]
    assert server.resource.attributes["service.name"] == settings.otel_service_name
    sql = [s for s in spans if s.kind is SpanKind.CLIENT and "41 + 1" in str(s.attributes)]
    assert len(sql) == 1
    assert sql[0].context.trace_id == server.context.trace_id
    # The statement's span sits inside the request's span.
    by_id = {s.context.span_id: s for s in spans}
    parent = sql[0].parent
    while parent is not None and parent.span_id != server.context.span_id:
        parent = by_id[parent.span_id].parent
    assert parent is not None


class _Collector(BaseHTTPRequestHandler):
    received: list[tuple[str, bytes]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        self.received.append((self.path, body))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return None


@pytest.fixture
def collector() -> Iterator[tuple[str, list[tuple[str, bytes]]]]:
    """A minimal OTLP/HTTP receiver on a free port, recording what it is sent."""
    received: list[tuple[str, bytes]] = []
    handler = type("Collector", (_Collector,), {"received": received})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.asyncio
async def test_spans_are_exported_over_otlp_http_when_an_endpoint_is_set(
    scratch_db: Database, collector: tuple[str, list[tuple[str, bytes]]]
) -> None:
    endpoint, received = collector
    settings = make_settings(otel_exporter_otlp_endpoint=endpoint, otel_service_name="waa-probe")
    app = create_app(settings, database=scratch_db)
    async with app.router.lifespan_context(app):
        (response,) = await _get(app, "/api/v1/version")
        assert response.status_code == 200
    # Leaving the lifespan shuts tracing down, which flushes the batch to the collector.
    assert received, "nothing was exported"
    names: set[str] = set()
    services: set[str] = set()
    for path, body in received:
        assert path == "/v1/traces"
        request = ExportTraceServiceRequest.FromString(body)
        for resource_spans in request.resource_spans:
            for attribute in resource_spans.resource.attributes:
                if attribute.key == "service.name":
                    services.add(attribute.value.string_value)
            for scope_spans in resource_spans.scope_spans:
                names.update(span.name for span in scope_spans.spans)
    assert services == {"waa-probe"}
    assert "GET /api/v1/version" in names
