"""A dependency that cannot be reached is a 503 with Retry-After, never a 500.

The app is pointed at a PostgreSQL and a Redis address where nothing listens (a real
refused connection, as while a server restarts): a candidate's save (autosave's short way
past the routing and the route itself), a routed read and a staff request each answer
problem+json 503 with ``Retry-After``; a plain bug still answers 500.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
import pytest_asyncio
import redis.exceptions
import sqlalchemy.exc
from fastapi import APIRouter, FastAPI

from tests.support.settings import make_settings
from waa_ads.core.errors import UNAVAILABLE_RETRY_AFTER_S, is_unavailable
from waa_ads.core.tasks import is_transient
from waa_ads.main import create_app


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again when the block ends


@pytest_asyncio.fixture
async def down_app() -> AsyncIterator[FastAPI]:
    port = _closed_port()
    app = create_app(
        make_settings(
            database_url=f"postgresql+asyncpg://postgres@127.0.0.1:{port}/waa",
            redis_url=f"redis://127.0.0.1:{port}/0",
        )
    )
    router = APIRouter(prefix="/api/v1/_probe")

    @router.get("/crash")
    async def crash() -> None:
        raise RuntimeError("a bug, not an outage")

    app.include_router(router)
    async with app.router.lifespan_context(app):
        yield app


async def _get(app: FastAPI, method: str, path: str, **kwargs: object) -> httpx.Response:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
        base_url="http://testserver",
    ) as client:
        return await client.request(method, path, **kwargs)  # type: ignore[arg-type]


def _assert_503(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == str(UNAVAILABLE_RETRY_AFTER_S)
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["type"].endswith("/service-unavailable")
    assert "nothing of this request was stored" in body["detail"]


@pytest.mark.asyncio
async def test_save_while_the_database_is_down_is_503(down_app: FastAPI) -> None:
    attempt = uuid.uuid4()
    # JSON body: autosave's short way (a middleware, outside the exception handlers).
    response = await _get(
        down_app,
        "PUT",
        f"/api/v1/attempts/{attempt}/responses/Q01",
        json={"seq": 3, "value": "A"},
        headers={"X-Attempt-Token": "whatever"},
    )
    _assert_503(response)
    # The routed read of the same attempt.
    response = await _get(
        down_app, "GET", f"/api/v1/attempts/{attempt}", headers={"X-Attempt-Token": "x"}
    )
    _assert_503(response)


@pytest.mark.asyncio
async def test_start_and_staff_login_while_down_are_503(down_app: FastAPI) -> None:
    _assert_503(
        await _get(down_app, "POST", "/api/v1/attempts", json={"access_code": "ABCD-EFGH-JKLM"})
    )
    response = await _get(
        down_app,
        "POST",
        "/api/v1/auth/token",
        data={"username": "admin@example.org", "password": "correct horse battery"},
    )
    _assert_503(response)


@pytest.mark.asyncio
async def test_a_bug_is_still_500(down_app: FastAPI) -> None:
    response = await _get(down_app, "GET", "/api/v1/_probe/crash")
    assert response.status_code == 500
    assert "retry-after" not in response.headers


def test_what_counts_as_unavailable() -> None:
    assert is_unavailable(ConnectionRefusedError(111, "Connection refused"))
    assert is_unavailable(redis.exceptions.ConnectionError("Error 111 connecting"))
    assert is_unavailable(asyncpg.CannotConnectNowError("the database system is starting up"))
    assert is_unavailable(asyncpg.AdminShutdownError("terminating connection"))
    assert is_unavailable(asyncpg.InterfaceError("connection is closed"))
    assert is_unavailable(sqlalchemy.exc.TimeoutError("QueuePool limit reached"))
    wrapped = RuntimeError("while saving")
    wrapped.__cause__ = ConnectionResetError("reset by peer")
    assert is_unavailable(wrapped)
    assert not is_unavailable(ValueError("bad input"))
    assert not is_unavailable(asyncpg.UniqueViolationError("duplicate key"))
    assert not is_unavailable(
        sqlalchemy.exc.IntegrityError("INSERT", {}, Exception("duplicate key"))
    )


def test_a_task_meeting_a_restarting_database_is_retried() -> None:
    """A scoring task that meets PostgreSQL shutting down (or starting up) tries again
    later instead of failing for good and leaving its attempt unscored."""
    for state in (
        asyncpg.CannotConnectNowError("the database system is shutting down"),
        asyncpg.AdminShutdownError("terminating connection due to administrator command"),
    ):
        wrapped = sqlalchemy.exc.DBAPIError("SELECT 1", {}, state)
        assert is_transient(wrapped)
    assert not is_transient(sqlalchemy.exc.DBAPIError("SELECT 1", {}, ValueError("bad")))
