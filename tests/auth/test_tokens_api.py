"""Logins, tokens, refresh rotation, logout, cookie sessions and CSRF, on both backends."""

from __future__ import annotations

import time
import uuid

import httpx
import jwt
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from tests.support.factories import PASSWORD, Factory, login
from waa_ads.auth.models import RefreshToken, Role
from waa_ads.core.security import ALGORITHM, AUDIENCE, ISSUER

pytestmark = pytest.mark.asyncio


async def _token_pair(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post("/api/v1/auth/token", data={"username": email, "password": password})


async def _refresh_rows(app: FastAPI) -> int:
    async with app.state.db.transaction(write=False) as session:
        return int(
            (await session.execute(select(func.count()).select_from(RefreshToken))).scalar_one()
        )


async def test_login_returns_tokens_that_identify_the_caller(
    client: httpx.AsyncClient, make: Factory
) -> None:
    org = await make.organization()
    account = await make.user(org, Role.admin, Role.author)
    response = await _token_pair(client, account.email, PASSWORD)
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 900
    me = await client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert me.status_code == 200
    assert me.json()["user_id"] == str(account.user.id)
    assert me.json()["organization"]["slug"] == org.slug
    assert set(me.json()["roles"]) == {"admin", "author"}


async def test_bad_credentials_do_not_reveal_whether_the_account_exists(
    app: FastAPI, client: httpx.AsyncClient, make: Factory
) -> None:
    org = await make.organization()
    account = await make.user(org)
    wrong_password = await _token_pair(client, account.email, "not the password at all")
    no_account = await _token_pair(client, "nobody@example.com", "not the password at all")
    assert wrong_password.status_code == no_account.status_code == 401
    assert wrong_password.json()["detail"] == no_account.json()["detail"]
    assert wrong_password.json()["type"] == no_account.json()["type"]
    assert wrong_password.json()["type"].endswith("/invalid-credentials")
    assert await _refresh_rows(app) == 0


async def test_failed_logins_are_rate_limited_per_account(
    live_client: httpx.AsyncClient, live_make: Factory
) -> None:
    org = await live_make.organization()
    account = await live_make.user(org)
    for _ in range(5):
        assert (
            await _token_pair(live_client, account.email, "wrong password!!")
        ).status_code == 401
    blocked = await _token_pair(live_client, account.email, PASSWORD)
    assert blocked.status_code == 429
    assert blocked.json()["type"].endswith("/login-rate-limited")
    assert int(blocked.headers["retry-after"]) > 0
    assert blocked.headers["content-type"] == "application/problem+json"


async def test_failed_logins_are_rate_limited_per_client(
    live_app: FastAPI, live_client: httpx.AsyncClient, live_make: Factory
) -> None:
    live_app.state.settings.login_max_failures_per_client = 3
    org = await live_make.organization()
    account = await live_make.user(org)
    for n in range(3):
        response = await _token_pair(live_client, f"someone-{n}@example.com", "wrong password!!")
        assert response.status_code == 401
    assert (await _token_pair(live_client, account.email, PASSWORD)).status_code == 429


def _forge(claims: dict[str, object], key: str, algorithm: str = ALGORITHM) -> str:
    return jwt.encode(claims, key, algorithm=algorithm)


def _claims(**overrides: object) -> dict[str, object]:
    now = int(time.time())
    base: dict[str, object] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": str(uuid.uuid4()),
        "org": str(uuid.uuid4()),
        "fam": "f",
        "jti": "j",
        "iat": now,
        "exp": now + 600,
        "typ": "access",
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


async def test_expired_forged_none_and_wrong_audience_tokens_are_401(
    app: FastAPI, client: httpx.AsyncClient, make: Factory
) -> None:
    org = await make.organization()
    account = await make.user(org)
    secret = app.state.settings.secret_key
    who = {"sub": str(account.user.id), "org": str(org.id)}
    unsigned = jwt.encode(_claims(**who), key="", algorithm="none")
    cases = {
        "valid": _forge(_claims(**who), secret),
        "expired": _forge(
            _claims(**who, iat=int(time.time()) - 7200, exp=int(time.time()) - 3600), secret
        ),
        "forged": _forge(_claims(**who), "some-other-secret-of-sufficient-length!!"),
        "alg-none": unsigned,
        "hs512": _forge(_claims(**who), secret, "HS512"),
        "wrong-audience": _forge(_claims(**who, aud="someone-else"), secret),
        "wrong-issuer": _forge(_claims(**who, iss="someone-else"), secret),
        "no-jti": _forge(_claims(**who, jti=None), secret),
        "no-exp": _forge(_claims(**who, exp=None), secret),
        "garbage": "not.a.token",
    }
    results = {}
    for name, token in cases.items():
        response = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
        results[name] = response.status_code
    assert results.pop("valid") == 200
    assert set(results.values()) == {401}, results


async def test_refresh_rotates_and_reuse_revokes_the_whole_family(
    live_client: httpx.AsyncClient, live_make: Factory
) -> None:
    org = await live_make.organization()
    account = await live_make.user(org)
    first = (await _token_pair(live_client, account.email, PASSWORD)).json()

    second = await live_client.post(
        "/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}
    )
    assert second.status_code == 200
    rotated = second.json()
    assert rotated["refresh_token"] != first["refresh_token"]
    bearer = {"Authorization": f"Bearer {rotated['access_token']}"}
    assert (await live_client.get("/api/v1/auth/me", headers=bearer)).status_code == 200

    replay = await live_client.post(
        "/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}
    )
    assert replay.status_code == 401
    assert replay.json()["type"].endswith("/refresh-token-reused")
    # The replay revoked the family: the newest tokens of that login are dead too.
    newest = await live_client.post(
        "/api/v1/auth/refresh", json={"refresh_token": rotated["refresh_token"]}
    )
    assert newest.status_code == 401
    assert (await live_client.get("/api/v1/auth/me", headers=bearer)).status_code == 401
    # Another login of the same account is unaffected.
    other = await login(live_client, account)
    assert (await live_client.get("/api/v1/auth/me", headers=other)).status_code == 200


async def test_unknown_or_malformed_refresh_tokens_are_401(client: httpx.AsyncClient) -> None:
    for token in ("nonsense", "abc.def", "x" * 300):
        response = await client.post("/api/v1/auth/refresh", json={"refresh_token": token})
        assert response.status_code == 401


async def test_logout_revokes_access_and_refresh_tokens(
    client: httpx.AsyncClient, make: Factory
) -> None:
    org = await make.organization()
    account = await make.user(org)
    pair = (await _token_pair(client, account.email, PASSWORD)).json()
    bearer = {"Authorization": f"Bearer {pair['access_token']}"}
    assert (await client.post("/api/v1/auth/logout", headers=bearer)).status_code == 204
    assert (await client.get("/api/v1/auth/me", headers=bearer)).status_code == 401
    refreshed = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]}
    )
    assert refreshed.status_code == 401


async def test_deactivation_takes_effect_on_the_next_request(
    client: httpx.AsyncClient, make: Factory
) -> None:
    org = await make.organization()
    admin = await make.user(org, Role.admin)
    author = await make.user(org, Role.author)
    admin_headers = await login(client, admin)
    author_headers = await login(client, author)
    assert (await client.get("/api/v1/auth/me", headers=author_headers)).status_code == 200
    response = await client.patch(
        f"/api/v1/users/{author.user.id}", json={"is_active": False}, headers=admin_headers
    )
    assert response.status_code == 200
    assert (await client.get("/api/v1/auth/me", headers=author_headers)).status_code == 401


async def test_cookie_session_requires_csrf_on_unsafe_methods(
    client: httpx.AsyncClient, make: Factory
) -> None:
    org = await make.organization()
    account = await make.user(org, Role.admin)
    response = await client.post(
        "/api/v1/auth/session", json={"email": account.email, "password": PASSWORD}
    )
    assert response.status_code == 200
    csrf = response.json()["csrf_token"]
    set_cookies = response.headers.get_list("set-cookie")
    session_cookie = next(c for c in set_cookies if c.startswith("waa_session="))
    assert "HttpOnly" in session_cookie
    assert "Secure" in session_cookie
    assert "SameSite=lax" in session_cookie.replace("samesite", "SameSite")
    refresh_cookie = next(c for c in set_cookies if c.startswith("waa_refresh="))
    assert "Path=/api/v1/auth" in refresh_cookie

    me = await client.get("/api/v1/auth/me")
    assert me.status_code == 200
    assert me.json()["transport"] == "cookie"

    refused = await client.patch("/api/v1/organizations/current", json={"name": "Renamed"})
    assert refused.status_code == 403
    assert refused.json()["type"].endswith("/csrf-token-invalid")
    wrong = await client.patch(
        "/api/v1/organizations/current",
        json={"name": "Renamed"},
        headers={"X-CSRF-Token": "x" * 64},
    )
    assert wrong.status_code == 403
    # The refused requests stored nothing.
    current = await client.get("/api/v1/organizations/current")
    assert current.json()["name"] == org.name

    accepted = await client.patch(
        "/api/v1/organizations/current", json={"name": "Renamed"}, headers={"X-CSRF-Token": csrf}
    )
    assert accepted.status_code == 200
    assert accepted.json()["name"] == "Renamed"


async def test_cookie_refresh_needs_csrf_and_rotates_the_cookies(
    client: httpx.AsyncClient, make: Factory
) -> None:
    org = await make.organization()
    account = await make.user(org, Role.admin)
    login_response = await client.post(
        "/api/v1/auth/session", json={"email": account.email, "password": PASSWORD}
    )
    csrf = login_response.json()["csrf_token"]
    old_session = client.cookies.get("waa_session")
    assert (await client.post("/api/v1/auth/refresh")).status_code == 403
    refreshed = await client.post("/api/v1/auth/refresh", headers={"X-CSRF-Token": csrf})
    assert refreshed.status_code == 200
    assert client.cookies.get("waa_session") != old_session
    # Same session family, so the same CSRF token keeps working.
    ok = await client.patch(
        "/api/v1/organizations/current",
        json={"timezone": "Europe/Paris"},
        headers={"X-CSRF-Token": csrf},
    )
    assert ok.status_code == 200
    assert ok.json()["timezone"] == "Europe/Paris"
    # Bearer refresh tokens are not accepted as cookie tokens and vice versa.
    cookie_token = client.cookies.get("waa_refresh", path="/api/v1/auth")
    assert cookie_token
    crossed = await client.post("/api/v1/auth/refresh", json={"refresh_token": cookie_token})
    assert crossed.status_code == 401


async def test_logging_in_with_an_email_in_two_organizations(
    client: httpx.AsyncClient, make: Factory
) -> None:
    first = await make.organization()
    second = await make.organization()
    a = await make.user(first, email="same@example.com", password="first password 123")
    b = await make.user(second, email="same@example.com", password="second password 456")
    for account in (a, b):
        headers = await login(client, account)
        me = await client.get("/api/v1/auth/me", headers=headers)
        assert me.json()["organization"]["id"] == str(account.organization.id)
    pinned = await client.post(
        "/api/v1/auth/token",
        data={
            "username": "same@example.com",
            "password": "first password 123",
            "organization": second.slug,
        },
    )
    assert pinned.status_code == 401
