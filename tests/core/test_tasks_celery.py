"""Tasks through Celery: the real Redis broker and real worker and beat processes.

Every environment gets its own Redis key prefix (``WAA_TASK_KEY_PREFIX``), so queues,
unacked messages and the beat schedule of parallel runs never meet; every key under it
is deleted, and every process started is killed, when it ends. The two workers on
PostgreSQL are shared by the tests of this module (in file order: the last one kills one).
"""

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
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import pytest
import pytest_asyncio
import redis
from sqlalchemy import text
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from tests.support.services import require_postgres, require_redis
from tests.support.settings import TEST_SECRET, make_settings
from tests.support.task_probes import create_probe_table, probe_rows
from waa_ads.cli import app as cli_app
from waa_ads.core.db import Database
from waa_ads.core.settings import Settings
from waa_ads.core.tasks import (
    CeleryDispatcher,
    Job,
    celery_app_from_settings,
    discover_task_modules,
    enqueue_after_commit,
    registry,
    use_dispatcher,
)

REPO = Path(__file__).resolve().parents[2]
PROBES = "tests.support.task_probes"
PERIODIC_PROBES = "tests.support.periodic_probes"
# Mingle, gossip and heartbeats talk to other workers; alone, they only slow start-up.
QUIET = ["--without-mingle", "--without-gossip", "--without-heartbeat"]
T = TypeVar("T")


@dataclass
class CeleryEnv:
    redis_url: str
    prefix: str
    data_dir: Path
    client: redis.Redis[bytes]
    processes: list[tuple[subprocess.Popen[bytes], Path]] = field(default_factory=list)

    def env(self, **overrides: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("WAA_")}
        env.update(
            {
                "PYTHONPATH": str(REPO),
                "WAA_ENV": "test",
                "WAA_SECRET_KEY": TEST_SECRET,
                "WAA_DATA_DIR": str(self.data_dir),
                "WAA_BROKER_URL": self.redis_url,
                "WAA_REDIS_URL": self.redis_url,
                "WAA_TASK_KEY_PREFIX": self.prefix,
                "WAA_TASK_MODULES": json.dumps([PROBES]),
                "WAA_LOG_JSON": "true",
            }
        )
        env.update(overrides)
        return env

    def settings(self, **overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "broker_url": self.redis_url,
            "redis_url": self.redis_url,
            "task_key_prefix": self.prefix,
        }
        values.update(overrides)
        return make_settings(**values)

    def spawn(self, args: list[str], env: dict[str, str], name: str) -> subprocess.Popen[bytes]:
        log_path = self.data_dir / f"{name}.log"
        with log_path.open("wb") as log:
            # A session of its own: killing the group takes the prefork children too.
            proc = subprocess.Popen(
                [sys.executable, "-m", "waa_ads", *args],
                env=env,
                cwd=REPO,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.processes.append((proc, log_path))
        return proc

    def spawn_worker(self, name: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
        """Start a worker (one prefork pool process); :meth:`wait_ready` waits for it."""
        return self.spawn(["worker", "--concurrency=1", f"--hostname={name}@%h", *QUIET], env, name)

    def wait_ready(self, *workers: subprocess.Popen[bytes]) -> None:
        for proc in workers:
            log_path = next(path for p, path in self.processes if p is proc)
            wait_until(partial(_says_ready, log_path), 30, self, proc)

    def logs(self) -> str:
        return "\n".join(
            f"--- {path.name}\n{path.read_text(errors='replace')[-4000:]}"
            for _, path in self.processes
        )


def _says_ready(log_path: Path) -> bool:
    return " ready." in log_path.read_text(errors="replace")


def kill(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


def wait_until(
    condition: Callable[[], T],
    timeout_s: float,
    env: CeleryEnv,
    proc: subprocess.Popen[bytes] | None = None,
) -> T:
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"process exited with {proc.returncode}\n{env.logs()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout_s} s\n{env.logs()}")
        time.sleep(0.05)


def _celery_env(data_dir: Path) -> CeleryEnv:
    redis_url = require_redis()
    return CeleryEnv(
        redis_url=redis_url,
        prefix=f"waa-test-{secrets.token_hex(4)}:",
        data_dir=data_dir,
        client=redis.Redis.from_url(redis_url),
    )


def _tear_down(env: CeleryEnv) -> None:
    for proc, _ in env.processes:
        kill(proc)
    keys = list(env.client.scan_iter(match=f"{env.prefix}*", count=1000))
    if keys:
        env.client.delete(*keys)
    env.client.close()


@pytest.fixture
def celery_env(tmp_path: Path) -> Iterator[CeleryEnv]:
    env = _celery_env(tmp_path)
    try:
        yield env
    finally:
        _tear_down(env)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def worker_database() -> AsyncIterator[Database]:
    """An empty PostgreSQL database of this module's own, with the probe table."""
    admin_url = require_postgres()
    name = f"waa_tasks_{secrets.token_hex(4)}"
    admin_dsn = make_url(admin_url).set(drivername="postgresql").render_as_string(False)
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    db = Database(make_url(admin_url).set(database=name).render_as_string(False))
    try:
        await create_probe_table(db)
        yield db
    finally:
        await db.dispose()
        conn = await asyncpg.connect(admin_dsn)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


@dataclass
class WorkerPair:
    env: CeleryEnv
    workers: list[subprocess.Popen[bytes]]

    def owner_of(self, pool_pid: int) -> subprocess.Popen[bytes]:
        """The worker whose prefork pool ``pool_pid`` belongs to (its process group)."""
        return next(w for w in self.workers if w.pid == os.getpgid(pool_pid))


@pytest.fixture(scope="module")
def worker_pair(
    tmp_path_factory: pytest.TempPathFactory, worker_database: Database
) -> Iterator[WorkerPair]:
    """Two workers (one pool process each) on PostgreSQL, with a 2 s visibility timeout,
    started once for this module: starting a worker costs seconds."""
    env = _celery_env(tmp_path_factory.mktemp("workers"))
    try:
        process_env = env.env(
            WAA_DATABASE_URL=worker_database.url, WAA_TASK_VISIBILITY_TIMEOUT_S="2"
        )
        workers = [env.spawn_worker(name, process_env) for name in ("one", "two")]
        env.wait_ready(*workers)
        yield WorkerPair(env, workers)
    finally:
        _tear_down(env)


@pytest.mark.asyncio
async def test_a_job_enqueued_after_commit_runs_on_a_worker(
    worker_pair: WorkerPair, worker_database: Database
) -> None:
    env = worker_pair.env
    r = env.client
    dispatcher = CeleryDispatcher(celery_app_from_settings(env.settings()))
    try:
        with use_dispatcher(dispatcher):
            with pytest.raises(RuntimeError):
                async with worker_database.transaction() as session:
                    enqueue_after_commit(
                        session, "probe.record_note", note_id="rolled-back", note="never"
                    )
                    raise RuntimeError("the unit of work fails")
            async with worker_database.transaction() as session:
                enqueue_after_commit(session, "probe.record_note", note_id="committed", note="ok")

        async def settled() -> dict[str, str]:
            # Done, and nothing else queued or in flight: had the rolled-back job been
            # published, it would be in one of those places, or its row would exist.
            rows = await probe_rows(worker_database)
            idle = r.llen(f"{env.prefix}celery") == 0 and r.hlen(f"{env.prefix}unacked") == 0
            return rows if rows and idle else {}

        for _ in range(400):  # 20 s
            if rows := await settled():
                break
            await asyncio.sleep(0.05)
    finally:
        await dispatcher.aclose()
    assert rows == {"committed": "ok"}, env.logs()
    async with worker_database.transaction(write=False) as session:
        pid = (await session.execute(text("SELECT worker_pid FROM task_probe"))).scalar_one()
    assert pid != os.getpid()
    assert worker_pair.owner_of(pid) in worker_pair.workers, "ran in a worker's pool process"


def test_a_task_whose_worker_is_killed_runs_again_on_another_worker(
    worker_pair: WorkerPair,
) -> None:
    env = worker_pair.env
    live = [w for w in worker_pair.workers if w.poll() is None]
    assert len(live) == 2
    dispatcher = CeleryDispatcher(
        celery_app_from_settings(env.settings(task_visibility_timeout_s=2)), blocking=True
    )
    key = f"{env.prefix}hang"
    r = env.client
    try:
        dispatcher.dispatch([Job(name="probe.hang_first_run", kwargs={"key": key}, id="k1")])
        first_pid = int(wait_until(lambda: r.get(f"{key}:started:1") or b"", 20, env))
        victim = worker_pair.owner_of(first_pid)
        survivor = next(w for w in live if w is not victim)
        kill(victim)  # SIGKILL, mid-task, to the whole worker: nothing was acknowledged
        assert r.get(f"{key}:done") is None
        done_pid = int(wait_until(lambda: r.get(f"{key}:done") or b"", 30, env, survivor))
    finally:
        dispatcher.app.close()
    assert int(r.get(f"{key}:runs") or 0) == 2
    assert int(r.get(f"{key}:started:2") or 0) == done_pid
    assert worker_pair.owner_of(done_pid) is survivor


def test_beat_schedules_periodic_tasks_through_redbeat(celery_env: CeleryEnv) -> None:
    """Beat alone: what it publishes waits in the queue (workers consuming the queue are
    proven above), each message expiring after one period."""
    env = celery_env.env(WAA_TASK_MODULES=json.dumps([PROBES, PERIODIC_PROBES]))
    beat = celery_env.spawn(["beat", "--max-interval=1"], env, "beat")
    r = celery_env.client
    queue = f"{celery_env.prefix}celery"

    def published() -> list[dict[str, Any]]:
        return [json.loads(m) for m in r.lrange(queue, 0, -1)]

    # The product's own periodic tasks are scheduled beside the probe (the outbox dispatch
    # runs every few seconds); the probe's messages are counted among them.
    wait_until(
        lambda: sum(m["headers"]["task"] == "probe.tick" for m in published()) >= 2,
        30,
        celery_env,
        beat,
    )
    messages = published()
    discover_task_modules()
    product_periodic = {p.name for p in registry.periodic_tasks()}
    assert {m["headers"]["task"] for m in messages} <= {"probe.tick", *product_periodic}
    assert all(m["headers"]["expires"] for m in messages)
    # The schedule and the leader lock live in Redis, under the deployment's prefix.
    assert r.zscore(
        f"{celery_env.prefix}redbeat::schedule", f"{celery_env.prefix}redbeat:probe.tick"
    )
    assert r.exists(f"{celery_env.prefix}redbeat::lock")


def test_the_app_publishes_to_celery_when_a_broker_is_configured(
    celery_env: CeleryEnv,
) -> None:
    from waa_ads.core.storage import LocalBlobStore
    from waa_ads.core.tasks import start_background_work

    settings = celery_env.settings()

    async def go() -> tuple[object, object]:
        db = Database(f"sqlite+aiosqlite:///{celery_env.data_dir / 'x.db'}")
        work = await start_background_work(
            settings, db=db, blobs=LocalBlobStore(settings.resolved_blob_dir)
        )
        try:
            return work.runner, work.dispatcher
        finally:
            await work.aclose()
            await db.dispose()

    runner, dispatcher = asyncio.run(go())
    assert runner is None
    assert isinstance(dispatcher, CeleryDispatcher)
    assert dispatcher.app.conf.broker_url == celery_env.redis_url


def test_celery_configuration() -> None:
    settings = make_settings(
        broker_url="redis://127.0.0.1:6379/5", task_key_prefix="p:", task_visibility_timeout_s=900
    )
    conf = celery_app_from_settings(settings).conf
    assert conf.task_serializer == conf.result_serializer == "json"
    assert conf.accept_content == ["json"]
    assert conf.task_acks_late and conf.task_reject_on_worker_lost
    assert conf.worker_prefetch_multiplier == 1
    assert conf.result_backend == "redis://127.0.0.1:6379/5"
    assert conf.broker_transport_options["visibility_timeout"] == 900
    assert conf.broker_transport_options["global_keyprefix"] == "p:"
    assert conf.beat_scheduler == "redbeat.RedBeatScheduler"
    assert conf.redbeat_redis_url == "redis://127.0.0.1:6379/5"
    assert conf.redbeat_key_prefix == "p:redbeat:"


def test_worker_and_beat_refuse_to_start_without_a_broker(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WAA_")}
    env["WAA_DATA_DIR"] = str(tmp_path)
    for command in ("worker", "beat"):
        result = CliRunner().invoke(cli_app, [command], env=env)
        assert result.exit_code == 2, result.output
        assert "WAA_BROKER_URL" in result.output
