"""Fixed-window counters for rate limits: Redis when configured, the database otherwise.

Counters are written in their own transaction, so a request that is then refused (a failed
login answers 401, which rolls its own transaction back) still counts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import redis.asyncio as aioredis
from sqlalchemy import String, delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from waa_ads.core.db import Base, Database, insert_ignore, utcnow


class RateLimitBucket(Base):
    """A fixed-window counter of the database rate limiter (used when no Redis is set)."""

    __tablename__ = "rate_limit_bucket"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    window_start: Mapped[datetime]
    count: Mapped[int] = mapped_column(default=0)


@dataclass(frozen=True, slots=True)
class Window:
    count: int
    retry_after_s: int


class RateLimiter(Protocol):
    """``hit`` with a ``session``: the database limiter counts inside that transaction
    (it then commits with it); without one, in a short transaction of its own. ``peek``
    with one reads in it (no second connection for the request). Redis ignores it."""

    async def hit(
        self, key: str, window_s: int, *, cost: int = 1, session: AsyncSession | None = None
    ) -> Window: ...
    async def peek(
        self, key: str, window_s: int, *, session: AsyncSession | None = None
    ) -> Window: ...
    async def reset(self, key: str) -> None: ...


class RedisRateLimiter:
    def __init__(self, redis: aioredis.Redis[bytes], *, prefix: str = "waa:rl:") -> None:
        self.redis = redis
        self.prefix = prefix

    async def hit(
        self, key: str, window_s: int, *, cost: int = 1, session: AsyncSession | None = None
    ) -> Window:
        full = self.prefix + key
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.incrby(full, cost)
            pipe.expire(full, window_s, nx=True)
            pipe.ttl(full)
            count, _, ttl = await pipe.execute()
        return Window(int(count), max(int(ttl), 1))

    async def peek(self, key: str, window_s: int, *, session: AsyncSession | None = None) -> Window:
        full = self.prefix + key
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.get(full)
            pipe.ttl(full)
            raw, ttl = await pipe.execute()
        return Window(int(raw or 0), max(int(ttl), 1) if raw else 0)

    async def reset(self, key: str) -> None:
        await self.redis.delete(self.prefix + key)


class DatabaseRateLimiter:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def hit(
        self, key: str, window_s: int, *, cost: int = 1, session: AsyncSession | None = None
    ) -> Window:
        if session is None:
            async with self.db.transaction() as own:
                return await self.hit(key, window_s, cost=cost, session=own)
        now = utcnow()
        await insert_ignore(session, RateLimitBucket, {"key": key, "window_start": now, "count": 0})
        bucket = await session.get(
            RateLimitBucket, key, with_for_update=True, populate_existing=True
        )
        assert bucket is not None
        if _expired(bucket.window_start, now, window_s):
            bucket.window_start = now
            bucket.count = 0
        bucket.count += cost
        await session.flush()
        return Window(bucket.count, _retry_after(bucket.window_start, now, window_s))

    async def peek(self, key: str, window_s: int, *, session: AsyncSession | None = None) -> Window:
        if session is None:
            async with self.db.transaction(write=False) as own:
                return await self.peek(key, window_s, session=own)
        now = utcnow()
        row = (
            await session.execute(
                select(RateLimitBucket.window_start, RateLimitBucket.count).where(
                    RateLimitBucket.key == key
                )
            )
        ).one_or_none()
        if row is None:
            return Window(0, 0)
        start, count = row
        if _expired(start, now, window_s):
            return Window(0, 0)
        return Window(count, _retry_after(start, now, window_s))

    async def reset(self, key: str) -> None:
        async with self.db.transaction() as session:
            await session.execute(delete(RateLimitBucket).where(RateLimitBucket.key == key))


def _expired(start: datetime, now: datetime, window_s: int) -> bool:
    return now - start >= timedelta(seconds=window_s)


def _retry_after(start: datetime, now: datetime, window_s: int) -> int:
    remaining = (start + timedelta(seconds=window_s) - now).total_seconds()
    return max(math.ceil(remaining), 1)
