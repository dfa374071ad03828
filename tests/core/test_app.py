from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from pydantic import BaseModel, Field

from tests.support.settings import make_settings
from waa_ads.core.db import Database
from waa_ads.core.errors import Conflict, NotFound, error_responses
from waa_ads.main import create_app

pytestmark = pytest.mark.asyncio

PROBLEM = "application/problem+json"


class Echo(BaseModel):
    name: str = Field(min_length=1)
    count: int


def _app_with_probe_routes(database: Database, **settings: Any) -> FastAPI:
    app = create_app(make_settings(**settings), database=database)
    router = APIRouter(prefix="/api/v1/_probe")

    @router.post("/echo", responses=error_responses(409))
    async def echo(body: Echo) -> Echo:
        if body.name == "taken":
            raise Conflict("the name 'taken' is already in use")
        return body

    @router.get("/missing/{thing}", responses=error_responses(404))
    async def missing(thing: str) -> None:
        raise NotFound(f"no {thing} here")

    @router.get("/crash")
    async def crash() -> None:
        raise RuntimeError("secret internals")

    app.include_router(router)
    return app


async def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
        base_url="http://testserver",
    )


async def test_healthz(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_reports_each_dependency(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["dependencies"]["database"]["status"] == "ok"
    assert body["dependencies"]["redis"]["status"] == "not_configured"


async def test_readyz_is_503_when_a_dependency_fails(database: Database) -> None:
    app = create_app(make_settings(redis_url="redis://127.0.0.1:1/0"), database=database)
    async with app.router.lifespan_context(app), await _client(app) as client:
        response = await client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "error"
    assert body["dependencies"]["redis"]["status"] == "error"
    assert body["dependencies"]["database"]["status"] == "ok"


async def test_domain_errors_are_problem_json(database: Database) -> None:
    app = _app_with_probe_routes(database)
    async with app.router.lifespan_context(app), await _client(app) as client:
        response = await client.get("/api/v1/_probe/missing/widget")
        assert response.status_code == 404
        assert response.headers["content-type"] == PROBLEM
        body = response.json()
        assert body["status"] == 404
        assert body["detail"] == "no widget here"
        assert body["type"].endswith("/not-found")
        assert body["instance"] == "/api/v1/_probe/missing/widget"
        assert body["request_id"] == response.headers["x-request-id"]

        conflict = await client.post("/api/v1/_probe/echo", json={"name": "taken", "count": 1})
        assert conflict.status_code == 409
        assert "already in use" in conflict.json()["detail"]


async def test_validation_errors_name_the_field(database: Database) -> None:
    app = _app_with_probe_routes(database)
    async with app.router.lifespan_context(app), await _client(app) as client:
        response = await client.post("/api/v1/_probe/echo", json={"name": "", "count": "x"})
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    names = {p["name"] for p in body["invalid_params"]}
    assert names == {"body.name", "body.count"}
    assert "body.count" in body["detail"]


async def test_unknown_route_is_a_problem_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM


async def test_unhandled_errors_hide_internals(database: Database) -> None:
    app = _app_with_probe_routes(database)
    async with app.router.lifespan_context(app), await _client(app) as client:
        response = await client.get("/api/v1/_probe/crash")
    assert response.status_code == 500
    assert response.headers["content-type"] == PROBLEM
    assert "secret internals" not in response.text
    assert response.json()["request_id"]


async def test_oversized_body_is_413_by_declared_length(database: Database) -> None:
    app = _app_with_probe_routes(database, max_body_bytes=2048)
    async with app.router.lifespan_context(app), await _client(app) as client:
        payload = json.dumps({"name": "x" * 5000, "count": 1})
        response = await client.post(
            "/api/v1/_probe/echo", content=payload, headers={"content-type": "application/json"}
        )
    assert response.status_code == 413
    assert response.headers["content-type"] == PROBLEM
    assert "2048" in response.json()["detail"]


async def test_oversized_streamed_body_is_413(database: Database) -> None:
    app = _app_with_probe_routes(database, max_body_bytes=2048)

    async def chunks() -> Any:
        yield b'{"name": "'
        for _ in range(10):
            yield b"y" * 1000
        yield b'", "count": 1}'

    async with app.router.lifespan_context(app), await _client(app) as client:
        response = await client.post(
            "/api/v1/_probe/echo", content=chunks(), headers={"content-type": "application/json"}
        )
    assert response.status_code == 413
    assert response.headers["content-type"] == PROBLEM


async def test_body_under_the_limit_passes(database: Database) -> None:
    app = _app_with_probe_routes(database, max_body_bytes=2048)
    async with app.router.lifespan_context(app), await _client(app) as client:
        response = await client.post("/api/v1/_probe/echo", json={"name": "ok", "count": 2})
    assert response.status_code == 200
    assert response.json() == {"name": "ok", "count": 2}


async def test_request_id_is_echoed_or_generated(client: httpx.AsyncClient) -> None:
    given = await client.get("/healthz", headers={"x-request-id": "abc-123"})
    assert given.headers["x-request-id"] == "abc-123"
    generated = await client.get("/healthz", headers={"x-request-id": "bad id with spaces"})
    assert generated.headers["x-request-id"] != "bad id with spaces"
    assert len(generated.headers["x-request-id"]) == 32


async def test_log_lines_carry_the_request_id(
    client: httpx.AsyncClient, capsys: pytest.CaptureFixture[str]
) -> None:
    from waa_ads.core.logging import configure_logging

    configure_logging("INFO", json=True)
    await client.get("/healthz", headers={"x-request-id": "trace-me-1"})
    lines = [
        json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")
    ]
    request_lines = [line for line in lines if line.get("event") == "request"]
    assert request_lines, lines
    assert request_lines[-1]["request_id"] == "trace-me-1"
    assert request_lines[-1]["status"] == 200


async def test_openapi_documents_every_route_and_error(client: httpx.AsyncClient) -> None:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    spec = response.json()
    assert "Problem" in spec["components"]["schemas"]
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            assert operation.get("summary"), f"{method.upper()} {path} has no summary"
            if path.startswith("/api/v1"):
                responses = operation["responses"]
                assert "422" in responses, f"{method.upper()} {path} documents no 422"
                assert PROBLEM in responses["422"]["content"]
