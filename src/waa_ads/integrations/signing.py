"""Webhook signatures (pure): HMAC-SHA256 over ``"<timestamp>.<body>"``.

Each delivery carries ``WAA-Signature: t=<unix seconds>,v1=<hex digest>``. A receiver
recomputes the digest with its subscription's secret, compares in constant time, and
refuses a timestamp older than its replay window (:data:`DEFAULT_TOLERANCE_S`), so a
captured request cannot be replayed later. Several ``v1=`` values may appear (while a
secret is being rotated); any match is enough.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

SIGNATURE_HEADER = "WAA-Signature"
DEFAULT_TOLERANCE_S = 300
SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)


class SignatureError(ValueError):
    """The signature header is missing, malformed, stale or does not match."""


def new_secret() -> str:
    """A fresh subscription secret (256 random bits)."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def digest(secret: str, timestamp: int, body: bytes) -> str:
    message = str(timestamp).encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    """The ``WAA-Signature`` value for ``body`` sent at ``timestamp``."""
    return f"t={timestamp},v1={digest(secret, timestamp, body)}"


def verify(
    secret: str,
    header: str,
    body: bytes,
    *,
    now: int,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
) -> int:
    """Check a ``WAA-Signature`` header; return its timestamp or raise SignatureError.

    Refused: no ``t=`` or no ``v1=``, a timestamp further than ``tolerance_s`` from
    ``now`` (either way), and a digest that matches none of the ``v1=`` values.
    """
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isascii() and value.isdigit():
            timestamp = int(value)
        elif key == "v1" and value:
            candidates.append(value)
    if timestamp is None or not candidates:
        raise SignatureError("the signature header has no t= timestamp or no v1= signature")
    if abs(now - timestamp) > tolerance_s:
        raise SignatureError(f"the signature's timestamp is outside the {tolerance_s} s window")
    expected = digest(secret, timestamp, body)
    if not any(hmac.compare_digest(expected, c) for c in candidates):
        raise SignatureError("no v1= signature matches the body")
    return timestamp
