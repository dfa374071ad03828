"""Training through Celery: the app publishes ``autoscore.train_model`` to the real Redis
broker and a real ``waa-ads worker`` process trains the model on PostgreSQL, writing its
progress to the row and its artifact to the blob store both share."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
import redis
from fastapi import FastAPI
from sqlalchemy import func, select

from tests.autoscore.world import training_csv
from tests.rating.world import RUBRIC, essay
from tests.support.factories import Factory, login
from tests.support.services import require_redis
from tests.support.settings import TEST_SECRET, make_settings
from waa_ads.audit.models import AuditEvent
from waa_ads.auth.models import Role
from waa_ads.autoscore import service
from waa_ads.core.db import Database
from waa_ads.main import create_app

REPO = Path(__file__).resolve().parents[2]
QUIET = ["--without-mingle", "--without-gossip", "--without-heartbeat"]


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[tuple[str, str, Path]]:
    """The Redis URL, a key prefix of this test's own (deleted afterwards) and a data
    directory the app and the worker share."""
    url = require_redis()
    prefix = f"waa-test-{secrets.token_hex(4)}:"
    yield url, prefix, tmp_path
    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
def worker(broker: tuple[str, str, Path], fresh_database: Database) -> Iterator[Path]:
    url, prefix, data_dir = broker
    env = {k: v for k, v in os.environ.items() if not k.startswith("WAA_")}
    env.update(
        {
            "PYTHONPATH": str(REPO),
            "WAA_ENV": "test",
            "WAA_SECRET_KEY": TEST_SECRET,
            "WAA_DATA_DIR": str(data_dir),
            "WAA_DATABASE_URL": fresh_database.url,
            "WAA_BROKER_URL": url,
            "WAA_REDIS_URL": url,
            "WAA_TASK_KEY_PREFIX": prefix,
            "WAA_LOG_JSON": "true",
        }
    )
    log = data_dir / "worker.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "waa_ads", "worker", "--concurrency=1", *QUIET],
            env=env,
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield log
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


@pytest_asyncio.fixture
async def broker_app(
    broker: tuple[str, str, Path], fresh_database: Database
) -> AsyncIterator[FastAPI]:
    url, prefix, data_dir = broker
    settings = make_settings(
        broker_url=url, redis_url=url, task_key_prefix=prefix, data_dir=data_dir
    )
    application = create_app(settings, database=fresh_database)
    async with application.router.lifespan_context(application):
        yield application


@pytest.mark.asyncio
@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
async def test_a_worker_trains_the_model_with_progress_on_the_row(
    broker_app: FastAPI, worker: Path, fresh_database: Database
) -> None:
    assert broker_app.state.background.runner is None, "jobs go to Celery"
    make = Factory(broker_app.state.auth)
    org = await make.organization()
    transport = httpx.ASGITransport(app=broker_app)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as client:
        admin = await login(client, await make.user(org, Role.admin))
        bank = await client.post(
            "/api/v1/banks", json={"slug": "main", "name": "Main"}, headers=admin
        )
        rubric = await client.post(
            "/api/v1/rubrics", json={"slug": "short-essay", "yaml": RUBRIC}, headers=admin
        )
        item = await client.post(
            f"/api/v1/banks/{bank.json()['id']}/items",
            json={
                "source": {"format": "qti", "content": essay("E1")},
                "rubric_version_id": rubric.json()["version"]["id"],
            },
            headers=admin,
        )
        item_id = item.json()["item"]["id"]
        queued = await client.post(
            "/api/v1/autoscore/models/upload",
            data={"item_id": item_id, "folds": "3"},
            files={"file": ("train.csv", training_csv(150), "text/csv")},
            headers=admin,
        )
        assert queued.status_code == 202, queued.text
        model_id = queued.json()["id"]
        seen: list[tuple[float, str]] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 90
        while True:
            body = (await client.get(f"/api/v1/autoscore/models/{model_id}", headers=admin)).json()
            if not seen or seen[-1] != (body["progress"], body["progress_message"]):
                seen.append((body["progress"], body["progress_message"]))
            if body["status"] != "training":
                break
            assert loop.time() < deadline, worker.read_text(errors="replace")[-4000:]
            await asyncio.sleep(0.1)
    assert body["status"] == "trained", (body["error"], worker.read_text(errors="replace"))
    assert seen[0] == (0.0, "queued") and seen[-1] == (1.0, "trained")
    fractions = [fraction for fraction, _ in seen]
    assert fractions == sorted(fractions), "progress only moves forward"
    assert body["training_ref"]["rows"] == 150
    blob = broker_app.state.blobs
    assert await blob.exists(body["artifact_sha256"])
    log = worker.read_text(errors="replace")
    assert "autoscore.train_model" in log and "succeeded in" in log

    # Delivered again, the task finds the model trained and changes nothing.
    status = await service.run_training(fresh_database, blob, uuid.UUID(model_id))
    assert status == "trained"
    async with fresh_database.transaction(write=False) as session:
        trained_events = await session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "autoscore.model_trained")
        )
    assert trained_events == 1
