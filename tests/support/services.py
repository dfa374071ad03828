"""Finding the external services tests need, and skipping (or failing) without them.

``WAA_REQUIRE_SERVICES=1`` turns every skip for a missing service into a failure, so CI
cannot pass while silently leaving the PostgreSQL, Redis or browser tests out.
"""

from __future__ import annotations

import os
import shutil
import socket
from functools import cache
from urllib.parse import urlsplit

import pytest

POSTGRES_URL = os.environ.get(
    "WAA_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("WAA_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
CHROMIUM = os.environ.get("WAA_TEST_CHROMIUM", "/usr/bin/chromium")


def services_required() -> bool:
    return os.environ.get("WAA_REQUIRE_SERVICES", "") not in ("", "0", "false", "no")


def unavailable(reason: str) -> None:
    """Skip the calling test, or fail it when services are required."""
    if services_required():
        pytest.fail(f"{reason} (WAA_REQUIRE_SERVICES=1 forbids skipping)", pytrace=False)
    pytest.skip(reason)


@cache
def _reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url.replace("+asyncpg", ""))
    host = parts.hostname or "127.0.0.1"
    port = parts.port or default_port
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def require_postgres() -> str:
    if not _reachable(POSTGRES_URL, 5432):
        unavailable(f"no PostgreSQL at {POSTGRES_URL} (set WAA_TEST_POSTGRES_URL)")
    return POSTGRES_URL


def require_redis() -> str:
    if not _reachable(REDIS_URL, 6379):
        unavailable(f"no Redis at {REDIS_URL} (set WAA_TEST_REDIS_URL)")
    return REDIS_URL


def require_chromium() -> str:
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        unavailable(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    return CHROMIUM
