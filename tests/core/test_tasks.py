"""Tasks without a broker: registration, the after-commit buffer, the in-process runner.

The Celery side (real Redis, real worker processes) is in test_tasks_celery.py.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy import text

from tests.support.databases import RolledBackDatabase
from tests.support.settings import make_settings
from tests.support.task_probes import create_probe_table, probe_rows
from waa_ads.core.db import Database
from waa_ads.core.storage import LocalBlobStore
from waa_ads.core.tasks import (
    InProcessRunner,
    Job,
    TaskContext,
    TaskRegistry,
    TransientError,
    UnknownTask,
    current_dispatcher,
    enqueue_after_commit,
    is_transient,
    pending_jobs,
    registry,
    use_dispatcher,
)
from waa_ads.main import create_app


class RecordingDispatcher:
    """Keeps what it is handed, in order."""

    def __init__(self) -> None:
        self.jobs: list[Job] = []

    def dispatch(self, jobs: Sequence[Job]) -> None:
        self.jobs.extend(jobs)

    @property
    def names(self) -> list[str]:
        return [j.kwargs.get("note_id", j.name) for j in self.jobs]


@pytest_asyncio.fixture
async def scratch_db(tmp_path: Path) -> AsyncIterator[Database]:
    """A database the registry-level tests can hand to a runner (they never query it)."""
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'scratch.db'}")
    yield db
    await db.dispose()


# ---------------------------------------------------------------------------- registry


def test_task_names_must_be_domain_dot_verb_object() -> None:
    local = TaskRegistry()
    for bad in ("score", "Scoring.score", "scoring.score-attempt", "a.b.c", "scoring."):
        with pytest.raises(ValueError, match="domain"):
            local.task(bad)


def test_a_task_must_be_async() -> None:
    local = TaskRegistry()

    def sync_fn(ctx: TaskContext) -> None:
        return None

    with pytest.raises(TypeError, match="async"):
        local.task("probe.sync_fn")(sync_fn)  # type: ignore[type-var]


def test_two_functions_cannot_share_a_name() -> None:
    local = TaskRegistry()

    @local.task("probe.first")
    async def first(ctx: TaskContext) -> None:
        return None

    async def second(ctx: TaskContext) -> None:
        return None

    with pytest.raises(ValueError, match="already defined"):
        local.task("probe.first")(second)
    assert local.get("probe.first").fn is first
    with pytest.raises(UnknownTask):
        local.get("probe.missing")


def test_transient_errors_are_recognised() -> None:
    assert is_transient(TransientError("later"))
    assert is_transient(ConnectionRefusedError())
    assert is_transient(TimeoutError())
    assert not is_transient(ValueError("bad input"))
    assert not is_transient(KeyError("id"))


def test_retry_delay_backs_off_and_is_capped() -> None:
    local = TaskRegistry()

    @local.task("probe.backoff", retry_backoff_s=2.0, retry_backoff_max_s=10.0)
    async def backoff(ctx: TaskContext) -> None:
        return None

    spec = local.get("probe.backoff")
    for attempt, ceiling in [(0, 2.0), (1, 4.0), (2, 8.0), (3, 10.0), (10, 10.0)]:
        for _ in range(20):
            assert ceiling / 2 <= spec.retry_delay(attempt) <= ceiling


# ---------------------------------------------------------------------- after commit


@pytest.mark.asyncio
async def test_jobs_are_dispatched_only_when_the_transaction_commits(
    fresh_database: Database,
) -> None:
    recorder = RecordingDispatcher()
    with use_dispatcher(recorder):
        async with fresh_database.transaction() as session:
            job = enqueue_after_commit(session, "probe.record_note", note_id="a", note="x")
            await session.execute(text("SELECT 1"))
            assert pending_jobs(session) == [job]
            assert recorder.jobs == []
        assert recorder.jobs == [job]
        assert pending_jobs(session) == []


@pytest.mark.asyncio
async def test_a_rolled_back_transaction_dispatches_nothing(fresh_database: Database) -> None:
    recorder = RecordingDispatcher()
    with use_dispatcher(recorder):
        with pytest.raises(RuntimeError, match="refused"):
            async with fresh_database.transaction() as session:
                enqueue_after_commit(session, "probe.record_note", note_id="a", note="x")
                raise RuntimeError("refused")
        # The same session object, used again, does not resurrect the dropped job.
        async with fresh_database.transaction() as session:
            enqueue_after_commit(session, "probe.record_note", note_id="b", note="y")
    assert recorder.names == ["b"]


@pytest.mark.asyncio
async def test_savepoints_keep_or_drop_their_own_jobs(fresh_database: Database) -> None:
    recorder = RecordingDispatcher()
    with use_dispatcher(recorder):
        async with fresh_database.transaction() as session:
            enqueue_after_commit(session, "probe.record_note", note_id="outer", note="")
            savepoint = await session.begin_nested()
            enqueue_after_commit(session, "probe.record_note", note_id="rolled-back", note="")
            inner = await session.begin_nested()
            enqueue_after_commit(session, "probe.record_note", note_id="inner", note="")
            await inner.commit()
            await savepoint.rollback()
            released = await session.begin_nested()
            enqueue_after_commit(session, "probe.record_note", note_id="released", note="")
            await released.commit()
            # A released savepoint is not a commit: nothing is dispatched yet.
            assert recorder.jobs == []
            assert [j.kwargs["note_id"] for j in pending_jobs(session)] == ["outer", "released"]
    assert recorder.names == ["outer", "released"]


@pytest.mark.asyncio
async def test_a_session_closed_without_commit_drops_its_jobs(fresh_database: Database) -> None:
    recorder = RecordingDispatcher()
    with use_dispatcher(recorder):
        session = fresh_database.writer()
        enqueue_after_commit(session, "probe.record_note", note_id="a", note="")
        await session.close()
        assert pending_jobs(session) == []
        await session.commit()
    assert recorder.jobs == []


@pytest.mark.asyncio
async def test_enqueue_refuses_unknown_tasks_and_unserializable_arguments(
    db: RolledBackDatabase,
) -> None:
    async with db.transaction() as session:
        with pytest.raises(UnknownTask):
            enqueue_after_commit(session, "probe.no_such_task")
        with pytest.raises(TypeError, match="JSON"):
            enqueue_after_commit(session, "probe.record_note", note_id=object(), note="")
        assert pending_jobs(session) == []


@pytest.mark.asyncio
async def test_arguments_round_trip_through_the_celery_codec(db: RolledBackDatabase) -> None:
    recorder = RecordingDispatcher()
    ident = uuid.uuid4()
    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    ids = [ident]
    with use_dispatcher(recorder):
        async with db.transaction() as session:
            note = {"ids": ids, "at": moment}
            enqueue_after_commit(session, "probe.record_note", note_id="a", note=note)
            ids.append(uuid.uuid4())  # later changes do not leak into the job
    assert recorder.jobs[0].kwargs["note"] == {"ids": [ident], "at": moment}


# ------------------------------------------------------------------- in-process runner


@pytest.mark.asyncio
async def test_the_app_runs_the_same_task_in_process_without_a_broker(
    fresh_database: Database,
) -> None:
    await create_probe_table(fresh_database)
    app = create_app(make_settings(), database=fresh_database)
    async with app.router.lifespan_context(app):
        runner: InProcessRunner | None = app.state.background.runner
        assert runner is not None
        assert current_dispatcher() is app.state.background.dispatcher
        async with fresh_database.transaction() as session:
            enqueue_after_commit(session, "probe.record_note", note_id="n1", note="hello")
        with pytest.raises(RuntimeError):
            async with fresh_database.transaction() as session:
                enqueue_after_commit(session, "probe.record_note", note_id="n2", note="no")
                raise RuntimeError
        async with asyncio.timeout(10):
            await runner.wait_idle()
    assert current_dispatcher() is not runner
    assert await probe_rows(fresh_database) == {"n1": "hello"}


def _runner(db: Database, local: TaskRegistry, **kwargs: object) -> InProcessRunner:
    settings = make_settings()
    return InProcessRunner(
        db=db,
        settings=settings,
        blobs=LocalBlobStore(settings.resolved_blob_dir),
        task_registry=local,
        **kwargs,  # type: ignore[arg-type]
    )


@pytest.mark.asyncio
async def test_the_runner_retries_transient_errors_and_survives_failures(
    scratch_db: Database,
) -> None:
    local = TaskRegistry()
    attempts: dict[str, list[int]] = {"flaky": [], "broken": [], "hopeless": [], "after": []}

    @local.task("probe.flaky", max_retries=3, retry_backoff_s=0.01)
    async def flaky(ctx: TaskContext) -> None:
        attempts["flaky"].append(ctx.attempt)
        if ctx.attempt < 2:
            raise TransientError("not yet")

    @local.task("probe.broken", max_retries=3, retry_backoff_s=0.01)
    async def broken(ctx: TaskContext) -> None:
        attempts["broken"].append(ctx.attempt)
        raise ValueError("a bug, not worth retrying")

    @local.task("probe.hopeless", max_retries=2, retry_backoff_s=0.01)
    async def hopeless(ctx: TaskContext) -> None:
        attempts["hopeless"].append(ctx.attempt)
        raise ConnectionRefusedError("down")

    @local.task("probe.after")
    async def after(ctx: TaskContext, *, n: int) -> None:
        attempts["after"].append(n)

    runner = _runner(scratch_db, local)
    await runner.start()
    try:
        runner.dispatch(
            [
                Job(name=name, kwargs=kwargs, id=str(i))
                for i, (name, kwargs) in enumerate(
                    [
                        ("probe.flaky", {}),
                        ("probe.broken", {}),
                        ("probe.hopeless", {}),
                        ("probe.missing", {}),
                        ("probe.after", {"n": 7}),
                    ]
                )
            ]
        )
        async with asyncio.timeout(10):
            await runner.wait_idle()
    finally:
        await runner.aclose()
    assert attempts == {"flaky": [0, 1, 2], "broken": [0], "hopeless": [0, 1, 2], "after": [7]}


@pytest.mark.asyncio
async def test_the_runner_runs_periodic_tasks_without_piling_them_up(
    scratch_db: Database,
) -> None:
    local = TaskRegistry()
    runs: list[float] = []
    third_run = asyncio.Event()
    running = 0
    most_at_once = 0

    @local.periodic("probe.sweep_slowly", every_seconds=0.02)
    async def sweep_slowly(ctx: TaskContext) -> None:
        nonlocal running, most_at_once
        running += 1
        most_at_once = max(most_at_once, running)
        runs.append(asyncio.get_running_loop().time())
        if len(runs) == 3:
            third_run.set()
        await asyncio.sleep(0.1)  # five periods: later ticks find it still running
        running -= 1

    runner = _runner(scratch_db, local, concurrency=4)
    await runner.start()
    try:
        async with asyncio.timeout(10):
            await third_run.wait()
    finally:
        await runner.aclose()
    count = len(runs)
    await asyncio.sleep(0.1)
    assert most_at_once == 1
    assert len(runs) == count, "a periodic task ran after the runner stopped"
    gaps = [b - a for a, b in itertools.pairwise(runs)]
    assert all(gap >= 0.09 for gap in gaps)


@pytest.mark.asyncio
async def test_the_runner_drains_its_queue_on_close(scratch_db: Database) -> None:
    local = TaskRegistry()
    done: list[int] = []

    @local.task("probe.slow")
    async def slow(ctx: TaskContext, *, n: int) -> None:
        await asyncio.sleep(0.02)
        done.append(n)

    runner = _runner(scratch_db, local, concurrency=1)
    await runner.start()
    runner.dispatch([Job(name="probe.slow", kwargs={"n": n}, id=str(n)) for n in range(5)])
    await asyncio.sleep(0)  # let the loop accept them
    await runner.aclose()
    assert done == [0, 1, 2, 3, 4]
    runner.dispatch([Job(name="probe.slow", kwargs={"n": 99}, id="late")])
    await asyncio.sleep(0.05)
    assert 99 not in done


def test_the_process_registry_holds_the_probe_tasks() -> None:
    # Defined with the module-level decorator, so Celery workers know them by name too.
    assert "probe.record_note" in registry
    assert "probe.hang_first_run" in registry
