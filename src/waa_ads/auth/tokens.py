"""Where refresh tokens, their families and revocations live: Redis when configured, the
database otherwise. Both stores have the same behaviour (one contract test suite).

Writes happen in their own short transactions, not the request's: a revocation caused by a
request that then fails (reuse of a rotated refresh token answers 401) must still stick.
"""

from __future__ import annotations

import hmac
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import redis.asyncio as aioredis
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from waa_ads.auth.models import RefreshToken, TokenRevocation
from waa_ads.core.db import Database, upsert, utcnow


@dataclass(frozen=True, slots=True)
class RefreshRecord:
    id: str
    family_id: str
    organization_id: uuid.UUID
    user_id: uuid.UUID
    secret_hash: str
    transport: str
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Claim:
    """The outcome of presenting a refresh token id: its record (None if unknown or
    expired) and whether it had already been used (a replay, or two tabs of one cookie
    session refreshing at once: the service tells them apart by ``first_used_at``, when
    the token was first used or its family revoked; None when the store cannot tell)."""

    record: RefreshRecord | None
    already_used: bool
    first_used_at: datetime | None = None


class TokenStore(Protocol):
    """``session``: when given, the database store works inside that transaction (it then
    commits or rolls back with it); without one it uses a short transaction of its own. The
    Redis store ignores it."""

    async def save_refresh(self, record: RefreshRecord) -> None: ...
    async def claim_refresh(self, token_id: str, secret_hash: str, transport: str) -> Claim: ...
    async def revoke(
        self, key: str, until: datetime, *, session: AsyncSession | None = None
    ) -> None: ...
    async def is_revoked(self, *keys: str, session: AsyncSession | None = None) -> bool: ...


def jti_key(jti: str) -> str:
    return f"jti:{jti}"


def family_key(family_id: str) -> str:
    return f"fam:{family_id}"


class DatabaseTokenStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def save_refresh(self, record: RefreshRecord) -> None:
        async with self.db.transaction() as session:
            session.add(
                RefreshToken(
                    id=record.id,
                    family_id=record.family_id,
                    organization_id=record.organization_id,
                    user_id=record.user_id,
                    secret_hash=record.secret_hash,
                    transport=record.transport,
                    created_at=record.created_at,
                    expires_at=record.expires_at,
                )
            )

    async def claim_refresh(self, token_id: str, secret_hash: str, transport: str) -> Claim:
        now = utcnow()
        async with self.db.transaction() as session:
            row = await session.get(RefreshToken, token_id)
            if (
                row is None
                or row.expires_at <= now
                or not _same(row.secret_hash, secret_hash)
                or row.transport != transport
            ):
                return Claim(None, already_used=False)
            record = _record_of(row)
            # Guarded update: of two concurrent presentations exactly one wins.
            claimed = (
                await session.execute(
                    update(RefreshToken)
                    .where(RefreshToken.id == token_id, RefreshToken.used_at.is_(None))
                    .values(used_at=now)
                    .returning(RefreshToken.id)
                )
            ).first()
            if claimed is not None:
                return Claim(record, already_used=False)
            # A fresh read: the winner may have committed after the row was loaded.
            first_used_at = (
                await session.execute(
                    select(RefreshToken.used_at).where(RefreshToken.id == token_id)
                )
            ).scalar_one_or_none()
            return Claim(record, already_used=True, first_used_at=first_used_at)

    async def revoke(
        self, key: str, until: datetime, *, session: AsyncSession | None = None
    ) -> None:
        if session is None:
            async with self.db.transaction() as own:
                await self.revoke(key, until, session=own)
            return
        await upsert(
            session,
            TokenRevocation,
            {"key": key, "expires_at": until},
            index_elements=["key"],
            update_columns=["expires_at"],
        )
        if key.startswith("fam:"):
            await session.execute(
                update(RefreshToken)
                .where(RefreshToken.family_id == key[4:], RefreshToken.used_at.is_(None))
                .values(used_at=utcnow())
            )

    async def is_revoked(self, *keys: str, session: AsyncSession | None = None) -> bool:
        if session is None:
            async with self.db.transaction(write=False) as own:
                return await self.is_revoked(*keys, session=own)
        found = (
            await session.execute(
                select(TokenRevocation.key).where(
                    TokenRevocation.key.in_(keys), TokenRevocation.expires_at > utcnow()
                )
            )
        ).first()
        return found is not None

    async def purge_expired(self) -> int:
        """Delete expired refresh tokens and revocations; returns how many rows went."""
        now = utcnow()
        async with self.db.transaction() as session:
            a = await session.execute(delete(RefreshToken).where(RefreshToken.expires_at <= now))
            b = await session.execute(
                delete(TokenRevocation).where(TokenRevocation.expires_at <= now)
            )
            return int(a.rowcount or 0) + int(b.rowcount or 0)  # type: ignore[attr-defined]


def _record_of(row: RefreshToken) -> RefreshRecord:
    return RefreshRecord(
        id=row.id,
        family_id=row.family_id,
        organization_id=row.organization_id,
        user_id=row.user_id,
        secret_hash=row.secret_hash,
        transport=row.transport,
        created_at=row.created_at,
        expires_at=row.expires_at,
    )


class RedisTokenStore:
    """Keys expire with the tokens they describe, so Redis needs no purge."""

    def __init__(self, redis: aioredis.Redis[bytes], *, prefix: str = "waa:auth:") -> None:
        self.redis = redis
        self.prefix = prefix

    def _rt(self, token_id: str) -> str:
        return f"{self.prefix}rt:{token_id}"

    async def save_refresh(self, record: RefreshRecord) -> None:
        key = self._rt(record.id)
        mapping: dict[str | bytes, str] = {
            "family_id": record.family_id,
            "organization_id": str(record.organization_id),
            "user_id": str(record.user_id),
            "secret_hash": record.secret_hash,
            "transport": record.transport,
            "created_at": record.created_at.isoformat(),
            "expires_at": record.expires_at.isoformat(),
        }
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping=mapping)
            pipe.expireat(key, record.expires_at)
            await pipe.execute()

    async def claim_refresh(self, token_id: str, secret_hash: str, transport: str) -> Claim:
        raw = await self.redis.hgetall(self._rt(token_id))
        if not raw:
            return Claim(None, already_used=False)
        data = {_s(k): _s(v) for k, v in raw.items()}
        record = RefreshRecord(
            id=token_id,
            family_id=data["family_id"],
            organization_id=uuid.UUID(data["organization_id"]),
            user_id=uuid.UUID(data["user_id"]),
            secret_hash=data["secret_hash"],
            transport=data["transport"],
            created_at=datetime.fromisoformat(data["created_at"]),
            expires_at=datetime.fromisoformat(data["expires_at"]),
        )
        if (
            record.expires_at <= utcnow()
            or not _same(record.secret_hash, secret_hash)
            or record.transport != transport
        ):
            return Claim(None, already_used=False)
        used_key = self._rt(token_id) + ":used"
        now = utcnow()
        first = await self.redis.set(
            used_key, now.isoformat().encode(), nx=True, exat=record.expires_at
        )
        if first:
            return Claim(record, already_used=False)
        return Claim(
            record, already_used=True, first_used_at=_time_or_none(await self.redis.get(used_key))
        )

    async def revoke(
        self, key: str, until: datetime, *, session: AsyncSession | None = None
    ) -> None:
        await self.redis.set(f"{self.prefix}rev:{key}", b"1", exat=until)

    async def is_revoked(self, *keys: str, session: AsyncSession | None = None) -> bool:
        if not keys:
            return False
        count = await self.redis.exists(*(f"{self.prefix}rev:{k}" for k in keys))
        return int(count) > 0


def _time_or_none(value: bytes | None) -> datetime | None:
    try:
        return datetime.fromisoformat(_s(value)) if value else None
    except ValueError:  # a marker written before the time was kept
        return None


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def _s(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
