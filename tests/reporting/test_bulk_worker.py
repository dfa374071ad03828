"""Bulk scorecards through a real Celery worker: the API starts the job, a ``waa-ads
worker`` process (Redis broker, PostgreSQL) renders and stores every scorecard, the job
reports its progress, and its expiring link downloads the ZIP; an altered link is refused."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
import sys
import zipfile
from collections.abc import AsyncIterator, Iterator
from io import BytesIO
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
import redis
from fastapi import FastAPI

from tests.reporting.conftest import released_cohort
from tests.support.factories import Factory
from tests.support.problems import problem
from tests.support.services import require_redis
from tests.support.settings import TEST_SECRET, make_settings
from waa_ads.core.db import Database
from waa_ads.core.settings import Settings

pytestmark = [pytest.mark.asyncio, pytest.mark.redis, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[dict[str, Any]]:
    url = require_redis()
    prefix = f"waa-test-{secrets.token_hex(4)}:"
    yield {"url": url, "prefix": prefix, "data_dir": tmp_path}
    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
def settings(broker: dict[str, Any]) -> Settings:
    """The app publishes its tasks to Celery (overrides the harness's settings)."""
    return make_settings(
        broker_url=broker["url"],
        redis_url=broker["url"],
        task_key_prefix=broker["prefix"],
        data_dir=broker["data_dir"],
    )


@pytest_asyncio.fixture
async def worker(broker: dict[str, Any], fresh_database: Database) -> AsyncIterator[None]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WAA_")}
    env.update(
        {
            "PYTHONPATH": str(REPO),
            "WAA_ENV": "test",
            "WAA_SECRET_KEY": TEST_SECRET,
            "WAA_DATA_DIR": str(broker["data_dir"]),
            "WAA_DATABASE_URL": fresh_database.url,
            "WAA_BROKER_URL": broker["url"],
            "WAA_REDIS_URL": broker["url"],
            "WAA_TASK_KEY_PREFIX": broker["prefix"],
            "WAA_LOG_JSON": "true",
        }
    )
    log = broker["data_dir"] / "worker.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "waa_ads", "worker", "--concurrency=1",
             "--without-mingle", "--without-gossip", "--without-heartbeat"],
            env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        for _ in range(600):
            if " ready." in log.read_text(errors="replace"):
                break
            assert proc.poll() is None, log.read_text(errors="replace")
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the worker did not start:\n" + log.read_text(errors="replace"))
        yield
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


async def test_bulk_scorecards_run_on_a_worker_with_progress_and_a_download_link(
    worker: None, live_app: FastAPI, live_client: httpx.AsyncClient, live_make: Factory
) -> None:
    cohort = await released_cohort(live_app, live_client, live_make)
    started = await live_client.post(
        f"/api/v1/reports/administrations/{cohort.administration_id}/scorecards?chunk_size=2",
        headers=cohort.admin,
    )
    assert started.status_code == 202, started.text
    job = started.json()
    assert (job["state"], job["total"]) == ("queued", 6)
    progress = []
    for _ in range(1200):
        job = (
            await live_client.get(f"/api/v1/reports/jobs/{job['id']}", headers=cohort.admin)
        ).json()
        progress.append(job["done"])
        if job["state"] in ("done", "failed"):
            break
        await asyncio.sleep(0.05)
    assert (job["state"], job["done"], job["skipped"]) == ("done", 6, 0), job
    assert progress == sorted(progress)  # three tasks of two: the count only goes up
    assert job["download_url"].startswith("/api/v1/reports/files/")

    archive = await live_client.get(job["download_url"])  # no sign-in: the link is the key
    assert archive.status_code == 200
    with zipfile.ZipFile(BytesIO(archive.content)) as z:
        assert sorted(z.namelist()) == sorted(f"scorecard-{a}.pdf" for a in cohort.attempts)
        one = z.read(f"scorecard-{cohort.attempts[0]}.pdf")
    alone = await live_client.get(
        f"/api/v1/reports/attempts/{cohort.attempts[0]}/scorecard.pdf", headers=cohort.admin
    )
    assert alone.content == one  # the worker's scorecard is the API's, byte for byte

    altered = await live_client.get(job["download_url"].replace("signature=", "signature=0"))
    assert (altered.status_code, problem(altered)) == (404, "download-link-invalid")

    again = await live_client.post(
        f"/api/v1/reports/administrations/{cohort.administration_id}/scorecards",
        headers=cohort.admin,
    )
    second = again.json()
    for _ in range(1200):
        second = (
            await live_client.get(f"/api/v1/reports/jobs/{second['id']}", headers=cohort.admin)
        ).json()
        if second["state"] in ("done", "failed"):
            break
        await asyncio.sleep(0.05)
    assert second["state"] == "done"
    assert second["download_url"].split("?")[0] == job["download_url"].split("?")[0]  # same ZIP
