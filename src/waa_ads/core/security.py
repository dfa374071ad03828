"""Password hashing (Argon2id) and JSON Web Tokens (PyJWT, RFC 8725 practice).

Tokens: HS256 only (one allowed algorithm; ``alg: none`` and every other algorithm are
refused), and ``iss``, ``aud``, ``exp``, ``iat``, ``jti`` and ``sub`` are required and checked.
Passwords: Argon2id, hashed and verified in a bounded thread pool so that hashing never
blocks the event loop and a burst of logins cannot take every thread.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import anyio
import jwt
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from waa_ads.core.settings import Settings

ALGORITHM = "HS256"
ISSUER = "waa-ads"
AUDIENCE = "waa-ads-api"
REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "jti", "sub"]


class TokenError(Exception):
    """A token that is malformed, forged, expired, or meant for someone else."""


class PasswordHasher:
    def __init__(self, *, time_cost: int, memory_kib: int, parallelism: int, threads: int) -> None:
        self._hash = PasswordHash(
            (Argon2Hasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism),)
        )
        self._limiter = anyio.CapacityLimiter(threads)
        # Verifying against this when an account does not exist keeps the response time the
        # same as for a wrong password, so timing does not reveal which accounts exist.
        self._dummy = self._hash.hash(secrets.token_urlsafe(16))

    @classmethod
    def from_settings(cls, settings: Settings) -> PasswordHasher:
        return cls(
            time_cost=settings.argon2_time_cost,
            memory_kib=settings.argon2_memory_kib,
            parallelism=settings.argon2_parallelism,
            threads=settings.password_hash_threads,
        )

    def hash_sync(self, password: str) -> str:
        return self._hash.hash(password)

    async def hash(self, password: str) -> str:
        return await anyio.to_thread.run_sync(self._hash.hash, password, limiter=self._limiter)

    async def verify(self, password: str, password_hash: str | None) -> bool:
        target = password_hash or self._dummy
        ok = await anyio.to_thread.run_sync(
            partial(self._safe_verify, password, target), limiter=self._limiter
        )
        return ok and password_hash is not None

    def _safe_verify(self, password: str, password_hash: str) -> bool:
        try:
            return bool(self._hash.verify(password, password_hash))
        except Exception:  # a corrupt stored hash is a failed login, not a crash
            return False


@dataclass(frozen=True, slots=True)
class AccessClaims:
    subject: str
    organization_id: str
    family_id: str
    jti: str
    issued_at: datetime
    expires_at: datetime


def issue_access_token(
    settings: Settings,
    *,
    subject: str,
    organization_id: str,
    family_id: str,
    now: datetime,
) -> tuple[str, AccessClaims]:
    jti = secrets.token_urlsafe(16)
    expires = now + timedelta(seconds=settings.access_token_ttl_s)
    payload = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": subject,
        "org": organization_id,
        "fam": family_id,
        "jti": jti,
        "iat": int(now.timestamp()),
        "nbf": int(now.timestamp()),
        "exp": int(expires.timestamp()),
        "typ": "access",
    }
    token = jwt.encode(payload, settings.secret_key, algorithm=ALGORITHM)
    claims = AccessClaims(subject, organization_id, family_id, jti, now, expires)
    return token, claims


def decode_access_token(settings: Settings, token: str) -> AccessClaims:
    try:
        payload: dict[str, Any] = jwt.decode(
            token,
            settings.secret_key,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            issuer=ISSUER,
            options={"require": REQUIRED_CLAIMS},
            leeway=5,
        )
    except jwt.PyJWTError as exc:
        raise TokenError(str(exc)) from None
    if payload.get("typ") != "access" or not isinstance(payload.get("org"), str):
        raise TokenError("not an access token")
    from datetime import UTC

    return AccessClaims(
        subject=str(payload["sub"]),
        organization_id=payload["org"],
        family_id=str(payload.get("fam", "")),
        jti=str(payload["jti"]),
        issued_at=datetime.fromtimestamp(payload["iat"], UTC),
        expires_at=datetime.fromtimestamp(payload["exp"], UTC),
    )


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def keyed_hash(settings: Settings, purpose: str, value: str) -> str:
    """HMAC-SHA256 of ``value`` under the secret key, separated by ``purpose``."""
    return hmac.new(
        settings.secret_key.encode(), f"{purpose}:{value}".encode(), hashlib.sha256
    ).hexdigest()


def csrf_token_for(settings: Settings, family_id: str) -> str:
    """The CSRF token of a cookie session: bound to the session's token family, so it stays
    valid across access-token refreshes and dies with the session."""
    return keyed_hash(settings, "csrf", family_id)


def constant_time_equals(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def new_opaque_token() -> tuple[str, str, str]:
    """A fresh opaque token ``<id>.<secret>``: returns (token, id, sha256 of the secret)."""
    token_id = secrets.token_urlsafe(16)
    secret = secrets.token_urlsafe(32)
    return f"{token_id}.{secret}", token_id, sha256_hex(secret)


def split_opaque_token(token: str) -> tuple[str, str] | None:
    token_id, sep, secret = token.partition(".")
    if not sep or not token_id or not secret or len(token) > 200:
        return None
    return token_id, secret


def media_signature(settings: Settings, organization_id: str, sha256: str) -> str:
    """Signs a media URL for browsers that cannot send a credential with ``<img>``: it
    opens one organization's one media file (which the candidate sees in an item anyway)."""
    return keyed_hash(settings, "media", f"{organization_id}:{sha256}")[:32]
