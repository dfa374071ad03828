"""Webhooks end to end on PostgreSQL with a real Celery worker and beat: the periodic
dispatcher reads the audit chain, the worker signs and posts to a receiver the test runs,
retries with backoff, logs every try and disables a subscription that keeps failing."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
import redis
from fastapi import FastAPI
from sqlalchemy import select

from tests.support.databases import PostgresDatabases, SqliteDatabases
from tests.support.exams import begin, exam
from tests.support.factories import Factory
from tests.support.receivers import Receiver, receiver
from tests.support.services import require_redis
from tests.support.settings import TEST_SECRET, make_settings
from waa_ads.audit.models import AuditEvent
from waa_ads.core.db import Database
from waa_ads.integrations import signing
from waa_ads.main import create_app

REPO = Path(__file__).resolve().parents[2]
QUIET = ["--without-mingle", "--without-gossip", "--without-heartbeat"]
RETRIES = 2  # three tries per delivery
FAILURE_LIMIT = 3
TIMEOUT_S = 0.5


@dataclass
class Stack:
    url: str
    prefix: str
    redis_url: str
    logs: list[Path]

    def tail(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in self.logs
        )


#: PostgreSQL only: worker processes and this process share the database.
pytestmark = pytest.mark.parametrize("backend", ["postgresql"], indirect=True)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack(
    tmp_path_factory: pytest.TempPathFactory, databases: PostgresDatabases | SqliteDatabases
) -> AsyncIterator[Stack]:
    """A copy of the migrated PostgreSQL template, one worker (two pool processes) and
    beat, with short retries and a dispatch every half second."""
    assert isinstance(databases, PostgresDatabases)
    url = await databases.copy()
    redis_url = require_redis()
    token = secrets.token_hex(4)
    prefix = f"waa-test-{token}:"
    data = tmp_path_factory.mktemp("hooks")
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
            "WAA_INTEGRATIONS_ALLOW_PRIVATE_URLS": "true",
            "WAA_INTEGRATIONS_DISPATCH_INTERVAL_S": "0.5",
            "WAA_WEBHOOK_MAX_RETRIES": str(RETRIES),
            "WAA_WEBHOOK_RETRY_BACKOFF_S": "0.2",
            "WAA_WEBHOOK_FAILURE_LIMIT": str(FAILURE_LIMIT),
            "WAA_WEBHOOK_TIMEOUT_S": str(TIMEOUT_S),
        }
    )
    procs: list[subprocess.Popen[bytes]] = []
    logs: list[Path] = []
    for name, args in (
        ("worker", ["worker", "--concurrency=2", f"--hostname=hooks-{token}@%h", *QUIET]),
        ("beat", ["beat", "--max-interval=1"]),
    ):
        log = data / f"{name}.log"
        logs.append(log)
        with log.open("wb") as sink:
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "waa_ads", *args],
                    env=env,
                    cwd=REPO,
                    stdout=sink,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
    found = Stack(url, prefix, redis_url, logs)
    try:
        deadline = time.monotonic() + 30
        while " ready." not in logs[0].read_text(errors="replace"):
            assert time.monotonic() < deadline and procs[0].poll() is None, found.tail()
            await asyncio.sleep(0.1)
        yield found
    finally:
        for proc in procs:
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
        broker_url=stack.redis_url,
        task_key_prefix=stack.prefix,
        integrations_allow_private_urls=True,
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


@pytest.fixture(scope="module")
def hooks() -> Iterator[Receiver]:
    with receiver() as r:
        yield r


async def _until(condition: Any, stack: Stack, timeout_s: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while not (value := await condition()):
        assert time.monotonic() < deadline, stack.tail()
        await asyncio.sleep(0.1)
    return value


@pytest.mark.asyncio(loop_scope="session")
async def test_events_reach_the_receiver_through_beat_and_the_worker(
    stack: Stack, client: httpx.AsyncClient, make: Factory, hooks: Receiver
) -> None:
    ex = await exam(client, make, candidates=1)
    headers = ex.world.headers
    wanted = ["attempt.started", "attempt.submitted", "attempt.scored"]
    sub = (
        await client.post(
            "/api/v1/integrations/webhooks",
            json={"url": hooks.answer("/ok"), "event_types": wanted},
            headers=headers,
        )
    ).json()
    attempt_id, credential = await begin(client, ex.codes[0])
    await client.post(f"/api/v1/attempts/{attempt_id}/submit", headers=credential)

    # Nobody asks for a dispatch: beat's periodic run finds the events in the chain, and
    # the worker scores the attempt (attempt.scored) and delivers all three.
    got = await asyncio.to_thread(hooks.wait_for, "/ok", 3, 30)
    # Deliveries run in parallel, so they may arrive in any order; each names its event
    # (the organization's audit sequence number) and when it happened.
    got.sort(key=lambda r: int(r.json()["id"].rsplit(".", 1)[1]))
    assert [r.json()["type"] for r in got] == wanted, stack.tail()
    now = int(time.time())
    for r in got:
        signing.verify(sub["secret"], r.headers["waa-signature"], r.body, now=now)
        assert r.json()["data"]["attempt_id"] == attempt_id

    # The receiver answers before the worker records the outcome: wait for the log.
    async def settled() -> list[dict[str, Any]]:
        log = (await client.get("/api/v1/integrations/deliveries", headers=headers)).json()
        done = [d for d in log["items"] if d["status"] not in ("pending", "sending")]
        return log["items"] if len(done) == len(log["items"]) == 3 else []

    log = await _until(settled, stack)
    assert {(d["status"], d["response_status"], d["attempts"]) for d in log} == {
        ("succeeded", 200, 1)
    }


@pytest.mark.asyncio(loop_scope="session")
async def test_failing_and_slow_receivers_are_retried_logged_and_disabled(
    stack: Stack, app: FastAPI, client: httpx.AsyncClient, make: Factory, hooks: Receiver
) -> None:
    ex = await exam(client, make, candidates=1)
    headers = ex.world.headers
    subs = {}
    for path, answer in (("/fail", {"status": 500, "body": b"boom"}), ("/slow", {"delay_s": 2})):
        subs[path] = (
            await client.post(
                "/api/v1/integrations/webhooks",
                json={"url": hooks.answer(path, **answer), "event_types": ["attempt.started"]},
                headers=headers,
            )
        ).json()
    await begin(client, ex.codes[0])

    tries = await asyncio.to_thread(hooks.wait_for, "/fail", RETRIES + 1, 30)
    gaps = [b.at - a.at for a, b in itertools.pairwise(tries)]
    # Exponential backoff with equal jitter: [0.1, 0.2] s, then [0.2, 0.4] s.
    assert gaps[0] >= 0.1 and gaps[1] >= 0.2, gaps
    assert len({r.headers["waa-signature"] for r in tries}) >= 1

    async def disabled() -> list[dict[str, Any]]:
        listed = (await client.get("/api/v1/integrations/webhooks", headers=headers)).json()
        return (
            [s for s in listed if not s["active"]]
            if len([s for s in listed if not s["active"]]) == 2
            else []
        )

    gone = await _until(disabled, stack)
    assert all(s["consecutive_failures"] == FAILURE_LIMIT for s in gone)
    assert all(
        "disabled after 3 consecutive failed deliveries" in s["disabled_reason"] for s in gone
    )

    async def finished(path: str) -> dict[str, Any] | None:
        page = (
            await client.get(
                "/api/v1/integrations/deliveries",
                params={"subscription_id": subs[path]["id"]},
                headers=headers,
            )
        ).json()["items"]
        return page[0] if page and page[0]["status"] == "failed" else None

    failed = await _until(lambda: finished("/fail"), stack)
    assert (failed["attempts"], failed["response_status"], failed["response_excerpt"]) == (
        3,
        500,
        "boom",
    )
    slow = await _until(lambda: finished("/slow"), stack)
    assert slow["response_status"] is None
    assert slow["error"] == f"no answer within {TIMEOUT_S} s"
    detail = (
        await client.get(f"/api/v1/integrations/deliveries/{slow['id']}", headers=headers)
    ).json()
    assert [t["error"] for t in detail["tries"]] == [slow["error"]] * 3

    async with app.state.db.transaction(write=False) as session:
        disabled_events = (
            await session.scalars(
                select(AuditEvent.canonical).where(
                    AuditEvent.action == "webhook.subscription_disabled",
                    AuditEvent.organization_id == ex.world.org.id,
                )
            )
        ).all()
    assert len(disabled_events) == 2
    assert {json.loads(e)["data"]["consecutive_failures"] for e in disabled_events} == {3}

    # Replaying needs an active subscription; fixed and enabled again, the replay lands.
    refused = await client.post(
        f"/api/v1/integrations/deliveries/{failed['id']}/replay", headers=headers
    )
    assert refused.status_code == 409
    enabled = await client.patch(
        f"/api/v1/integrations/webhooks/{subs['/fail']['id']}",
        json={"active": True, "url": hooks.answer("/fixed")},
        headers=headers,
    )
    assert enabled.json()["consecutive_failures"] == 0
    replay = await client.post(
        f"/api/v1/integrations/deliveries/{failed['id']}/replay", headers=headers
    )
    assert replay.status_code == 202
    landed = await asyncio.to_thread(hooks.wait_for, "/fixed", 1, 20)
    assert landed[0].body == tries[0].body
