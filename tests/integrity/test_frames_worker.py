"""Webcam stills with a real Celery worker on PostgreSQL and Redis: the worker analyses each
still (``integrity.analyse_frame``: a repeated picture is frozen) and the retention task
(``integrity.purge_frames``) deletes expired stills and their thumbnails from the blob
store the API and the worker share, the bytes once the purge has committed
(``integrity.delete_frame_blobs``)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import cv2
import httpx
import pytest
import pytest_asyncio
import redis
from fastapi import FastAPI
from sqlalchemy import select, update

from tests.support.databases import PostgresDatabases, SqliteDatabases
from tests.support.exams import begin, exam
from tests.support.factories import Factory
from tests.support.services import require_redis
from tests.support.settings import TEST_SECRET, make_settings
from waa_ads.core.db import Database, utcnow
from waa_ads.core.tasks import enqueue_after_commit
from waa_ads.integrity import evalset
from waa_ads.integrity.models import IntegrityFrame
from waa_ads.main import create_app

REPO = Path(__file__).resolve().parents[2]
QUIET = ["--without-mingle", "--without-gossip", "--without-heartbeat"]
POLICY = """\
format: 1
camera: {frames: true, interval_s: 30, retention_days: 1}
rules: []
"""
T = TypeVar("T")

#: PostgreSQL only: the worker process and this process share the database.
pytestmark = pytest.mark.parametrize("backend", ["postgresql"], indirect=True)


@dataclass
class Stack:
    url: str
    prefix: str
    redis_url: str
    data: Path
    log: Path

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack(
    tmp_path_factory: pytest.TempPathFactory, databases: PostgresDatabases | SqliteDatabases
) -> AsyncIterator[Stack]:
    """A copy of the migrated PostgreSQL template and one worker sharing a data directory
    (so a blob store) with the app of the test."""
    assert isinstance(databases, PostgresDatabases)
    url = await databases.copy()
    redis_url = require_redis()
    token = secrets.token_hex(4)
    prefix = f"waa-test-{token}:"
    data = tmp_path_factory.mktemp("frames")
    env = {k: v for k, v in os.environ.items() if not k.startswith("WAA_")}
    env.update(
        {
            "PYTHONPATH": str(REPO),
            "WAA_ENV": "test",
            "WAA_SECRET_KEY": TEST_SECRET,
            "WAA_DATA_DIR": str(data),
            "WAA_DATABASE_URL": url,
            "WAA_BROKER_URL": redis_url,
            "WAA_TASK_KEY_PREFIX": prefix,
        }
    )
    log = data / "worker.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "waa_ads",
                "worker",
                "--concurrency=1",
                f"--hostname=frames-{token}@%h",
                *QUIET,
            ],
            env=env,
            cwd=REPO,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    found = Stack(url, prefix, redis_url, data, log)
    try:
        deadline = time.monotonic() + 30
        while " ready." not in log.read_text(errors="replace"):
            assert time.monotonic() < deadline and proc.poll() is None, found.tail()
            await asyncio.sleep(0.1)
        yield found
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        client = redis.Redis.from_url(redis_url)
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()
        await databases.drop(url)


@pytest_asyncio.fixture(loop_scope="session")
async def app(stack: Stack) -> AsyncIterator[FastAPI]:
    settings = make_settings(
        broker_url=stack.redis_url, task_key_prefix=stack.prefix, data_dir=stack.data
    )
    db = Database(stack.url, pool_size=5)
    application = create_app(settings, database=db)
    async with application.router.lifespan_context(application):
        yield application
    await db.dispose()


@pytest_asyncio.fixture(loop_scope="session")
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as c:
        yield c


@pytest.fixture
def make(app: FastAPI) -> Factory:
    return Factory(app.state.auth)


async def _until(condition: Callable[[], Awaitable[T]], stack: Stack) -> T:
    deadline = time.monotonic() + 30
    while not (value := await condition()):
        assert time.monotonic() < deadline, stack.tail()
        await asyncio.sleep(0.1)
    return value


@pytest.mark.asyncio(loop_scope="session")
async def test_the_worker_analyses_stills_and_purges_them_at_expiry(
    stack: Stack, app: FastAPI, client: httpx.AsyncClient, make: Factory
) -> None:
    ex = await exam(client, make, candidates=1, policy=POLICY)
    attempt_id, me = await begin(client, ex.codes[0])
    consent = await client.post(
        f"/api/v1/integrity/candidate/attempts/{attempt_id}/camera",
        json={"consent": "given"},
        headers=me,
    )
    assert consent.status_code == 200, consent.text
    ok, encoded = cv2.imencode(".png", evalset.one_face())
    assert ok
    for _ in range(2):
        sent = await client.post(
            f"/api/v1/integrity/candidate/attempts/{attempt_id}/frames",
            content=bytes(encoded.tobytes()),
            headers={**me, "Content-Type": "image/png"},
        )
        assert sent.status_code == 202, sent.text

    async def analysed() -> list[dict[str, Any]]:
        listed = (
            await client.get(
                f"/api/v1/integrity/attempts/{attempt_id}/frames", headers=ex.world.headers
            )
        ).json()
        return listed if all(f["analysed_at"] for f in listed) else []

    first, second = await _until(analysed, stack)
    assert (first["findings"]["presence"], first["findings"]["frozen"]) == ("one", False)
    assert second["findings"]["frozen"] is True

    blobs = app.state.blobs
    async with app.state.db.transaction() as session:
        rows = (await session.scalars(select(IntegrityFrame))).all()
        keys = {r.sha256 for r in rows} | {r.thumbnail_sha256 for r in rows if r.thumbnail_sha256}
        # Each still and thumbnail is stored sealed under a digest of its own, even the
        # same picture sent twice.
        assert len(keys) == 4
        assert all([await blobs.exists(k) for k in keys])
        await session.execute(
            update(IntegrityFrame).values(expires_at=utcnow() - timedelta(minutes=1))
        )
        enqueue_after_commit(session, "integrity.purge_frames")

    async def purged() -> bool:
        async with app.state.db.transaction(write=False) as session:
            rows = (await session.scalars(select(IntegrityFrame))).all()
            return all(r.purged_at is not None and r.thumbnail_sha256 is None for r in rows)

    assert await _until(purged, stack)

    async def deleted() -> bool:
        # The bytes go after the purge commits, in a task of their own.
        return not any([await blobs.exists(k) for k in keys])

    assert await _until(deleted, stack)
    # Both ran in the worker process (Celery's own log of each task), not in this one.
    succeeded = [
        json.loads(line)["event"]
        for line in stack.log.read_text(errors="replace").splitlines()
        if line.startswith("{") and "] succeeded in " in line
    ]
    for name in (
        "integrity.analyse_frame",
        "integrity.purge_frames",
        "integrity.delete_frame_blobs",
    ):
        assert any(e.startswith(f"Task {name}[") for e in succeeded), stack.tail()
