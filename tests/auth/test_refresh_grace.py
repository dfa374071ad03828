"""Two browser tabs of one cookie session refreshing at once both get a new pair of that
session (the reuse grace); a reuse after the grace, or of a bearer token, still revokes the
whole family and is audited. On both token stores (database and Redis), with real commits."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy import select

from tests.support.factories import PASSWORD, Account, Factory
from tests.support.services import require_redis
from tests.support.settings import make_settings
from waa_ads.audit.models import AuditEvent
from waa_ads.auth.models import Role
from waa_ads.auth.tokens import DatabaseTokenStore, RedisTokenStore
from waa_ads.core.db import Database
from waa_ads.main import create_app

pytestmark = pytest.mark.asyncio

GRACE_S = 1


@pytest_asyncio.fixture(params=["database", "redis"])
async def grace_app(
    request: pytest.FixtureRequest, fresh_database: Database
) -> AsyncIterator[FastAPI]:
    extra: dict[str, Any] = {"refresh_reuse_grace_s": GRACE_S}
    if request.param == "redis":
        extra["redis_url"] = require_redis()
    app = create_app(make_settings(**extra), database=fresh_database)
    async with app.router.lifespan_context(app):
        store = RedisTokenStore if request.param == "redis" else DatabaseTokenStore
        assert isinstance(app.state.auth.tokens, store)
        yield app


@pytest_asyncio.fixture
async def http(grace_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client without a cookie jar: each request says which cookies it sends, as each
    tab of a browser would at the moment it sends."""
    transport = httpx.ASGITransport(app=grace_app)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as client:
        yield client


async def _account(app: FastAPI) -> Account:
    make = Factory(app.state.auth)
    return await make.user(await make.organization(), Role.admin)


class CookieSession:
    def __init__(self, refresh: str, csrf: str) -> None:
        self.refresh = refresh
        self.csrf = csrf

    def refresh_headers(self, refresh: str | None = None) -> dict[str, str]:
        cookies = f"waa_refresh={refresh or self.refresh}; waa_csrf={self.csrf}"
        return {"Cookie": cookies, "X-CSRF-Token": self.csrf}


async def _cookie_login(http: httpx.AsyncClient, account: Account) -> CookieSession:
    response = await http.post(
        "/api/v1/auth/session", json={"email": account.email, "password": PASSWORD}
    )
    assert response.status_code == 200, response.text
    return CookieSession(response.cookies["waa_refresh"], response.json()["csrf_token"])


async def _refresh(http: httpx.AsyncClient, headers: dict[str, str]) -> httpx.Response:
    return await http.post("/api/v1/auth/refresh", headers=headers)


async def _me(http: httpx.AsyncClient, access_token: str) -> int:
    me = await http.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {access_token}"})
    return me.status_code


async def _reuses_audited(app: FastAPI, account: Account) -> int:
    async with app.state.db.transaction(write=False) as session:
        rows = await session.execute(
            select(AuditEvent.action).where(
                AuditEvent.organization_id == account.organization.id,
                AuditEvent.action == "auth.refresh_token_reused",
            )
        )
        return len(rows.all())


async def test_two_tabs_refreshing_one_cookie_session_at_once_both_succeed(
    grace_app: FastAPI, http: httpx.AsyncClient
) -> None:
    account = await _account(grace_app)
    tab = await _cookie_login(http, account)
    first, second = await asyncio.gather(
        _refresh(http, tab.refresh_headers()), _refresh(http, tab.refresh_headers())
    )
    assert (first.status_code, second.status_code) == (200, 200), (first.text, second.text)
    pairs = [first, second]
    # Each tab got a working pair of the same session, and each new refresh token works.
    assert len({p.cookies["waa_refresh"] for p in pairs}) == 2
    for pair in pairs:
        assert await _me(http, pair.json()["access_token"]) == 200
    again = [await _refresh(http, tab.refresh_headers(p.cookies["waa_refresh"])) for p in pairs]
    assert [r.status_code for r in again] == [200, 200]
    assert await _reuses_audited(grace_app, account) == 0


async def test_a_cookie_token_reused_after_the_grace_revokes_the_family(
    grace_app: FastAPI, http: httpx.AsyncClient
) -> None:
    account = await _account(grace_app)
    tab = await _cookie_login(http, account)
    rotated = await _refresh(http, tab.refresh_headers())
    assert rotated.status_code == 200
    await asyncio.sleep(GRACE_S + 0.5)
    replay = await _refresh(http, tab.refresh_headers())
    assert replay.status_code == 401
    assert replay.json()["type"].endswith("/refresh-token-reused")
    # The family is revoked: the rotated tokens are dead too, and the reuse is audited.
    newest = await _refresh(http, tab.refresh_headers(rotated.cookies["waa_refresh"]))
    assert newest.status_code == 401
    assert await _me(http, rotated.json()["access_token"]) == 401
    assert await _reuses_audited(grace_app, account) == 1


async def test_bearer_refresh_tokens_get_no_grace(
    grace_app: FastAPI, http: httpx.AsyncClient
) -> None:
    account = await _account(grace_app)
    pair = (
        await http.post(
            "/api/v1/auth/token", data={"username": account.email, "password": PASSWORD}
        )
    ).json()
    body = {"refresh_token": pair["refresh_token"]}
    results = await asyncio.gather(
        http.post("/api/v1/auth/refresh", json=body), http.post("/api/v1/auth/refresh", json=body)
    )
    assert sorted(r.status_code for r in results) == [200, 401]
    (won,) = [r for r in results if r.status_code == 200]
    (lost,) = [r for r in results if r.status_code == 401]
    assert lost.json()["type"].endswith("/refresh-token-reused")
    # The reuse revoked the family, the winner's new tokens included.
    assert await _me(http, won.json()["access_token"]) == 401
    assert (
        await http.post("/api/v1/auth/refresh", json={"refresh_token": won.json()["refresh_token"]})
    ).status_code == 401
    # (Presenting the winner's token may be audited as a reuse too: the database store
    # marks a revoked family's tokens used.)
    assert await _reuses_audited(grace_app, account) >= 1


async def test_a_logged_out_cookie_session_is_not_revived_within_the_grace(
    grace_app: FastAPI, http: httpx.AsyncClient
) -> None:
    account = await _account(grace_app)
    tab = await _cookie_login(http, account)
    rotated = await _refresh(http, tab.refresh_headers())
    assert rotated.status_code == 200
    access = rotated.json()["access_token"]
    out = await http.post("/api/v1/auth/logout", headers={"Authorization": f"Bearer {access}"})
    assert out.status_code == 204, out.text
    within = await _refresh(http, tab.refresh_headers())
    assert within.status_code == 401
