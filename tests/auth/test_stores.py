"""The token store and rate limiter behave the same on Redis and on the database."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
import pytest_asyncio
import redis.asyncio as aioredis
from fastapi import FastAPI

from tests.support.databases import RolledBackDatabase
from tests.support.factories import PASSWORD, Factory
from tests.support.services import require_redis
from tests.support.settings import make_settings
from waa_ads.auth.models import Role
from waa_ads.auth.tokens import DatabaseTokenStore, RedisTokenStore, RefreshRecord, TokenStore
from waa_ads.core.db import utcnow
from waa_ads.core.ratelimit import DatabaseRateLimiter, RateLimiter, RedisRateLimiter
from waa_ads.main import create_app

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def redis_client() -> AsyncIterator[aioredis.Redis[bytes]]:
    client = aioredis.Redis.from_url(require_redis())
    yield client
    await client.aclose()  # type: ignore[attr-defined]  # types-redis predates aclose


@pytest_asyncio.fixture(params=["database", "redis"])
async def stores(
    request: pytest.FixtureRequest, db: RolledBackDatabase, make: Factory
) -> AsyncIterator[tuple[TokenStore, RateLimiter, uuid.UUID, uuid.UUID]]:
    org = await make.organization()
    account = await make.user(org, Role.admin)
    if request.param == "database":
        yield (DatabaseTokenStore(db), DatabaseRateLimiter(db), org.id, account.user.id)
        return
    client = aioredis.Redis.from_url(require_redis())
    prefix = f"waa-test-{secrets.token_hex(4)}:"
    try:
        yield (
            RedisTokenStore(client, prefix=prefix),
            RedisRateLimiter(client, prefix=prefix),
            org.id,
            account.user.id,
        )
    finally:
        keys = [k async for k in client.scan_iter(match=prefix + "*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()  # type: ignore[attr-defined]  # types-redis predates aclose


def _record(org: uuid.UUID, user: uuid.UUID, *, ttl_s: int = 600) -> RefreshRecord:
    now = utcnow()
    return RefreshRecord(
        id=secrets.token_urlsafe(16),
        family_id="fam-" + secrets.token_hex(4),
        organization_id=org,
        user_id=user,
        secret_hash="a" * 64,
        transport="bearer",
        created_at=now,
        expires_at=now + timedelta(seconds=ttl_s),
    )


async def test_refresh_token_is_claimed_exactly_once(
    stores: tuple[TokenStore, RateLimiter, uuid.UUID, uuid.UUID],
) -> None:
    tokens, _, org, user = stores
    record = _record(org, user)
    await tokens.save_refresh(record)
    first = await tokens.claim_refresh(record.id, record.secret_hash, "bearer")
    assert first.record is not None
    assert first.record.family_id == record.family_id
    assert first.already_used is False
    second = await tokens.claim_refresh(record.id, record.secret_hash, "bearer")
    assert second.already_used is True


async def test_a_second_claim_says_when_the_token_was_first_used(
    stores: tuple[TokenStore, RateLimiter, uuid.UUID, uuid.UUID],
) -> None:
    tokens, _, org, user = stores
    record = _record(org, user)
    await tokens.save_refresh(record)
    before = utcnow()
    first = await tokens.claim_refresh(record.id, record.secret_hash, "bearer")
    after = utcnow()
    assert (first.already_used, first.first_used_at) == (False, None)
    second = await tokens.claim_refresh(record.id, record.secret_hash, "bearer")
    third = await tokens.claim_refresh(record.id, record.secret_hash, "bearer")
    for again in (second, third):
        assert again.already_used is True
        assert again.first_used_at is not None
        assert before - timedelta(seconds=1) <= again.first_used_at <= after


async def test_wrong_secret_or_unknown_id_claims_nothing(
    stores: tuple[TokenStore, RateLimiter, uuid.UUID, uuid.UUID],
) -> None:
    tokens, _, org, user = stores
    record = _record(org, user)
    await tokens.save_refresh(record)
    assert (await tokens.claim_refresh(record.id, "b" * 64, "bearer")).record is None
    assert (await tokens.claim_refresh("unknown", record.secret_hash, "bearer")).record is None
    # A bearer token presented as a cookie token claims nothing (and is not used up).
    assert (await tokens.claim_refresh(record.id, record.secret_hash, "cookie")).record is None
    # The wrong guess did not burn the real token.
    assert (
        await tokens.claim_refresh(record.id, record.secret_hash, "bearer")
    ).already_used is False


async def test_revocations_expire(
    stores: tuple[TokenStore, RateLimiter, uuid.UUID, uuid.UUID],
) -> None:
    tokens, _, _, _ = stores
    await tokens.revoke("jti:live", utcnow() + timedelta(minutes=5))
    await tokens.revoke("jti:dead", utcnow() - timedelta(seconds=5))
    assert await tokens.is_revoked("jti:live")
    assert await tokens.is_revoked("jti:other", "jti:live")
    assert not await tokens.is_revoked("jti:dead")
    assert not await tokens.is_revoked("jti:never")


async def test_rate_limiter_counts_within_a_window_and_resets(
    stores: tuple[TokenStore, RateLimiter, uuid.UUID, uuid.UUID],
) -> None:
    _, limiter, _, _ = stores
    assert (await limiter.peek("k", 60)).count == 0
    for expected in (1, 2, 3):
        window = await limiter.hit("k", 60)
        assert window.count == expected
        assert 0 < window.retry_after_s <= 60
    assert (await limiter.peek("k", 60)).count == 3
    assert (await limiter.peek("other", 60)).count == 0
    await limiter.reset("k")
    assert (await limiter.peek("k", 60)).count == 0


async def test_login_and_refresh_reuse_detection_with_redis(
    db: RolledBackDatabase, make: Factory
) -> None:
    """The whole flow with WAA_REDIS_URL set: families and revocations live in Redis."""
    app: FastAPI = create_app(make_settings(redis_url=require_redis()), database=db)
    async with app.router.lifespan_context(app):
        assert isinstance(app.state.auth.tokens, RedisTokenStore)
        org = await make.organization()
        account = await make.user(org, Role.admin)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://t") as client:
            pair = (
                await client.post(
                    "/api/v1/auth/token", data={"username": account.email, "password": PASSWORD}
                )
            ).json()
            rotated = await client.post(
                "/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]}
            )
            assert rotated.status_code == 200
            replay = await client.post(
                "/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]}
            )
            assert replay.status_code == 401
            headers = {"Authorization": f"Bearer {rotated.json()['access_token']}"}
            assert (await client.get("/api/v1/auth/me", headers=headers)).status_code == 401
