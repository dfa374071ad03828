"""Two API processes share nothing but the database and Redis.

Two ``waa-ads serve`` processes run against one database (each backend) and one Redis: a
candidate saves on one and reads on the other, and back; an administrator's token issued
by one is honoured by the other, and revoked on both by a logout on one.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.servers import serve
from tests.support.services import require_redis
from waa_ads.core.db import Database

pytestmark = pytest.mark.asyncio


def _text_item(view: dict[str, Any]) -> str:
    for entry in view["items"]:
        types = {i["type"] for i in entry["item"]["interactions"]}
        if types == {"extended_text"} and len(entry["item"]["interactions"]) == 1:
            return str(entry["ref"])
    raise AssertionError("the demo form has no single extended-text item")


def _latest(view: dict[str, Any], ref: str) -> dict[str, Any]:
    entry = next(e for e in view["items"] if e["ref"] == ref)
    response: dict[str, Any] = entry["response"]
    return response


async def test_two_api_processes_share_only_the_database_and_redis(
    fresh_database: Database, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WAA_")}
    env.update(
        {
            "WAA_ENV": "test",
            "WAA_DATABASE_URL": fresh_database.url,
            "WAA_REDIS_URL": require_redis(),
            "WAA_DATA_DIR": str(tmp_path),
            "WAA_LOG_LEVEL": "WARNING",
        }
    )
    loaded = subprocess.run(
        [sys.executable, "-m", "waa_ads", "demo"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    )
    code = re.findall(r"\b[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}\b", loaded.stdout)[0]
    email = re.search(r"admin e-mail:\s+(\S+)", loaded.stdout)
    password = re.search(r"admin password:\s+(\S+)", loaded.stdout)
    assert email and password, loaded.stdout

    with ExitStack() as stack:
        one = stack.enter_context(serve(env, tmp_path / "one.log"))
        two = stack.enter_context(serve(env, tmp_path / "two.log"))
        a = stack.enter_context(httpx.Client(base_url=one, timeout=30))
        b = stack.enter_context(httpx.Client(base_url=two, timeout=30))

        started = a.post("/api/v1/attempts", json={"access_code": code})
        assert started.status_code == 201, started.text
        attempt = started.json()["attempt"]["id"]
        header = {"X-Attempt-Token": started.json()["credential"]}
        # The same code resumes the same attempt on the other process.
        resumed = b.post("/api/v1/attempts", json={"access_code": code})
        assert resumed.status_code == 200 and resumed.json()["attempt"]["id"] == attempt

        ref = _text_item(b.get(f"/api/v1/attempts/{attempt}", headers=header).json())
        path = f"/api/v1/attempts/{attempt}/responses/{ref}"
        saved = a.put(path, headers=header, json={"seq": 1, "value": "written on one"})
        assert saved.status_code == 200 and saved.json()["accepted"], saved.text
        seen = _latest(b.get(f"/api/v1/attempts/{attempt}", headers=header).json(), ref)
        assert (seen["seq"], seen["value"]) == (1, "written on one")

        saved = b.put(path, headers=header, json={"seq": 2, "value": "then on two"})
        assert saved.json()["accepted"], saved.text
        stale = a.put(path, headers=header, json={"seq": 1, "value": "a late retry on one"})
        assert stale.json() == {"accepted": False, "seq": None, "current_seq": 2}
        seen = _latest(a.get(f"/api/v1/attempts/{attempt}", headers=header).json(), ref)
        assert (seen["seq"], seen["value"]) == (2, "then on two")

        submitted = b.post(f"/api/v1/attempts/{attempt}/submit", headers=header)
        assert submitted.status_code == 200, submitted.text
        after = a.get(f"/api/v1/attempts/{attempt}", headers=header).json()
        assert after["attempt"]["state"] != "in_progress"

        tokens = a.post(
            "/api/v1/auth/token", data={"username": email.group(1), "password": password.group(1)}
        ).json()
        bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
        assert b.get("/api/v1/auth/me", headers=bearer).status_code == 200
        assert a.post("/api/v1/auth/logout", headers=bearer).status_code in (200, 204)
        assert b.get("/api/v1/auth/me", headers=bearer).status_code == 401
        refreshed = b.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert refreshed.status_code == 401
