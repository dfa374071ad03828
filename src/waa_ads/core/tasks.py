"""Background work: tasks defined once, run by Celery workers or in-process.

A task is an async function taking a :class:`TaskContext` and JSON-serializable keyword
arguments (ids, never ORM objects), registered under a ``<domain>.<verb_object>`` name::

    @task("scoring.score_attempt")
    async def score_attempt(ctx: TaskContext, *, attempt_id: UUID) -> None:
        async with ctx.db.transaction() as session:
            ...  # re-fetch, return early if already done, do the work

Services never start tasks directly. They call :func:`enqueue_after_commit` inside their
unit of work; the job is buffered on the session and handed to the process's dispatcher
only when the outermost transaction commits, and forgotten when it rolls back. So a worker
never looks for a row that is not committed yet, and a request that failed starts nothing.

Who runs the job depends on the process:

- with ``WAA_BROKER_URL``, the API publishes to Celery (:class:`CeleryDispatcher`) and
  ``waa-ads worker`` processes run the task: each worker process runs every task on one
  event loop of its own, with the database engine created lazily in that loop after the
  fork (:class:`WorkerRuntime`); messages are acknowledged late, so a task whose worker
  dies is delivered again;
- without a broker (the embedded default), the app's lifespan owns an
  :class:`InProcessRunner` that runs the same functions on the app's event loop.

Delivery is at least once in both cases, hence tasks must be idempotent. Jobs buffered in
a process that dies before publishing them are lost; periodic sweeps catch up with such
stragglers. Periodic tasks are declared with :func:`periodic` and run by celery-redbeat
(``waa-ads beat``) in production, by the in-process runner otherwise.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import inspect
import os
import pkgutil
import random
import re
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import structlog
from celery import Celery, shared_task
from kombu.utils import json as kombu_json
from sqlalchemy import event
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

from waa_ads.core.db import Database, database_from_settings, uuid7
from waa_ads.core.errors import is_unavailable
from waa_ads.core.settings import Settings
from waa_ads.core.storage import BlobStore, blob_store_from_settings

if TYPE_CHECKING:
    from celery.app.task import Task as CeleryTask

    from waa_ads.core.telemetry import Tracing

log = structlog.get_logger(__name__)

TASK_NAME = re.compile(r"[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*")
#: PostgreSQL SQLSTATEs worth retrying: serialization failure, deadlock.
_RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})

TaskFunction = Callable[..., Awaitable[Any]]
F = TypeVar("F", bound=TaskFunction)


class TransientError(Exception):
    """Raise from a task for a failure that is worth retrying later (a service that is
    briefly unavailable). Connection errors, timeouts, SQLite's "database is locked" and
    PostgreSQL deadlocks and serialization failures are retried without it."""


class UnknownTask(LookupError):
    """No task is registered under this name."""


@dataclass(frozen=True, slots=True)
class TaskContext:
    """What a running task gets besides its arguments.

    The task opens its own unit of work with ``async with ctx.db.transaction()``: tasks
    commit at their edge, as requests do. ``attempt`` is 0 on the first run and counts
    retries after transient failures (not redeliveries after a worker died).
    """

    db: Database
    settings: Settings
    blobs: BlobStore
    task_name: str
    task_id: str
    attempt: int


def is_transient(exc: BaseException) -> bool:
    """True for failures that another try may not meet (see :class:`TransientError`)."""
    if isinstance(exc, TransientError | ConnectionError | TimeoutError | OperationalError):
        return True
    # PostgreSQL shutting down or starting up (a restart), a dropped connection, Redis away.
    if is_unavailable(exc):
        return True
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        sqlstate = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
        return sqlstate in _RETRYABLE_SQLSTATES
    return False


@dataclass(frozen=True)
class TaskSpec:
    """A registered task and how it is retried."""

    name: str
    fn: TaskFunction
    max_retries: int
    retry_backoff_s: float
    retry_backoff_max_s: float
    retry_for: tuple[type[BaseException], ...]
    queue: str | None

    def should_retry(self, exc: BaseException, attempt: int) -> bool:
        retryable = is_transient(exc) or (bool(self.retry_for) and isinstance(exc, self.retry_for))
        return retryable and attempt < self.max_retries

    def retry_delay(self, attempt: int) -> float:
        """Exponential backoff with jitter: about ``backoff * 2**attempt``, capped."""
        ceiling = min(self.retry_backoff_s * (2.0**attempt), self.retry_backoff_max_s)
        # "Equal jitter": never less than half the step, so retries still back off, but
        # spread so that tasks failing together do not retry together.
        return ceiling / 2 + random.uniform(0, ceiling / 2)  # noqa: S311 (not for security)


@dataclass(frozen=True)
class PeriodicSpec:
    name: str
    every_seconds: float


class TaskRegistry:
    """Task names to functions; one per process (:data:`registry`) holds the real tasks.

    ``register_with_celery`` makes each task a Celery task too (the process registry
    does); a private registry, as tests build, stays out of Celery's way.
    """

    def __init__(self, *, register_with_celery: bool = False) -> None:
        self._tasks: dict[str, TaskSpec] = {}
        self._periodic: dict[str, PeriodicSpec] = {}
        self._register_with_celery = register_with_celery

    def task(
        self,
        name: str,
        *,
        max_retries: int = 5,
        retry_backoff_s: float = 2.0,
        retry_backoff_max_s: float = 300.0,
        retry_for: tuple[type[BaseException], ...] = (),
        queue: str | None = None,
    ) -> Callable[[F], F]:
        """Register ``async def fn(ctx: TaskContext, **kwargs)`` under ``name``.

        The function is returned unchanged, so tests may call it with a context of their
        own. Redefining a name with a different function is an error (two modules claiming
        one name); re-importing the defining module is not.
        """
        if not TASK_NAME.fullmatch(name):
            raise ValueError(f"task name {name!r} is not <domain>.<verb_object>")
        if max_retries < 0 or retry_backoff_s < 0:
            raise ValueError("max_retries and retry_backoff_s must not be negative")

        def decorator(fn: F) -> F:
            is_async = inspect.iscoroutinefunction(fn)
            if not is_async:
                raise TypeError(f"task {name} must be an async function")
            existing = self._tasks.get(name)
            if existing is not None and _qualified(existing.fn) != _qualified(fn):
                raise ValueError(
                    f"task {name} is already defined by {_qualified(existing.fn)}; "
                    f"{_qualified(fn)} cannot take the name"
                )
            spec = TaskSpec(
                name=name,
                fn=fn,
                max_retries=max_retries,
                retry_backoff_s=retry_backoff_s,
                retry_backoff_max_s=retry_backoff_max_s,
                retry_for=retry_for,
                queue=queue,
            )
            self._tasks[name] = spec
            if self._register_with_celery:
                _register_with_celery(spec)
            return fn

        return decorator

    def periodic(
        self,
        name: str,
        *,
        every_seconds: float,
        max_retries: int = 0,
        queue: str | None = None,
    ) -> Callable[[F], F]:
        """Register a task (taking no arguments) that runs every ``every_seconds``.

        A periodic run that finds an earlier one of the same task still queued is skipped
        (in-process) or expires unconsumed after one period (Celery), so runs never pile
        up behind a stopped worker. Retries default to none: the next period is the retry.
        """
        if every_seconds <= 0:
            raise ValueError("every_seconds must be positive")
        register = self.task(name, max_retries=max_retries, queue=queue)

        def decorator(fn: F) -> F:
            register(fn)
            self._periodic[name] = PeriodicSpec(name=name, every_seconds=every_seconds)
            return fn

        return decorator

    def get(self, name: str) -> TaskSpec:
        try:
            return self._tasks[name]
        except KeyError:
            raise UnknownTask(f"no task named {name!r}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._tasks

    def tasks(self) -> list[TaskSpec]:
        return list(self._tasks.values())

    def periodic_tasks(self) -> list[PeriodicSpec]:
        return list(self._periodic.values())


def _qualified(fn: Callable[..., Any]) -> str:
    return f"{fn.__module__}.{fn.__qualname__}"


#: The process's tasks: every ``waa_ads.<domain>.tasks`` module registers here.
registry = TaskRegistry(register_with_celery=True)
task = registry.task
periodic = registry.periodic

_discovered: set[str] = set()
_discovery_lock = threading.Lock()


def discover_task_modules(extra: Sequence[str] = ()) -> list[str]:
    """Import ``waa_ads.<domain>.tasks`` for every domain package that has one, then the
    ``extra`` modules (``WAA_TASK_MODULES``); return the names imported. Idempotent."""
    import waa_ads

    names: list[str] = []
    for info in pkgutil.iter_modules(waa_ads.__path__):
        if info.ispkg and info.name != "core":
            module = f"waa_ads.{info.name}.tasks"
            if importlib.util.find_spec(module) is not None:
                names.append(module)
    names.extend(extra)
    with _discovery_lock:
        for module in names:
            if module not in _discovered:
                importlib.import_module(module)
                _discovered.add(module)
    return names


def _lookup(name: str) -> TaskSpec:
    if name not in registry:
        # A service may enqueue another domain's task before anything imported it.
        discover_task_modules()
    return registry.get(name)


# --------------------------------------------------------------------------- enqueueing


@dataclass(frozen=True, slots=True)
class Job:
    """One request to run a task: its name, its (JSON round-tripped) arguments, an id."""

    name: str
    kwargs: dict[str, Any]
    id: str
    queue: str | None = None


class Dispatcher(Protocol):
    """Hands committed jobs to whatever runs them. ``dispatch`` is called from SQLAlchemy's
    ``after_commit`` hook: it must neither block on I/O nor raise."""

    def dispatch(self, jobs: Sequence[Job]) -> None: ...


_dispatcher: Dispatcher | None = None


def set_dispatcher(dispatcher: Dispatcher | None) -> Dispatcher | None:
    """Install the process's dispatcher and return the previous one.

    The app's lifespan installs its runner or Celery publisher, a worker process its own
    publisher; there is one per process, as there is one app per process.
    """
    global _dispatcher
    previous, _dispatcher = _dispatcher, dispatcher
    return previous


def current_dispatcher() -> Dispatcher | None:
    return _dispatcher


@contextmanager
def use_dispatcher(dispatcher: Dispatcher | None) -> Iterator[Dispatcher | None]:
    """Install ``dispatcher`` for the duration of a block (tests, scripts)."""
    previous = set_dispatcher(dispatcher)
    try:
        yield dispatcher
    finally:
        set_dispatcher(previous)


def _round_trip(kwargs: dict[str, Any]) -> dict[str, Any]:
    # Through the codec Celery uses, so an in-process run sees exactly what a worker would
    # (UUIDs and datetimes survive; ORM objects fail here, at the call site).
    try:
        decoded: dict[str, Any] = kombu_json.loads(kombu_json.dumps(kwargs))
    except TypeError as exc:
        raise TypeError(f"task arguments must be JSON-serializable: {exc}") from None
    return decoded


_PENDING = "waa.tasks.pending"
_HOOKED = "waa.tasks.hooked"


@dataclass(frozen=True, slots=True)
class _Pending:
    job: Job
    transaction: SessionTransaction


def enqueue_after_commit(session: AsyncSession | Session, name: str, /, **kwargs: Any) -> Job:
    """Run task ``name`` with ``kwargs`` once the session's outermost transaction commits.

    The job is remembered on the session (``session.info``). A rolled-back savepoint drops
    the jobs enqueued inside it; a rolled-back (or closed, uncommitted) outer transaction
    drops them all. Raises :class:`UnknownTask` for a name nobody registered and TypeError
    for arguments that are not JSON-serializable, both before anything is buffered.
    """
    spec = _lookup(name)
    job = Job(name=name, kwargs=_round_trip(kwargs), id=str(uuid7()), queue=spec.queue)
    sync = session.sync_session if isinstance(session, AsyncSession) else session
    if not sync.info.get(_HOOKED):
        event.listen(sync, "after_commit", _after_commit)
        event.listen(sync, "after_soft_rollback", _after_soft_rollback)
        event.listen(sync, "after_transaction_end", _after_transaction_end)
        sync.info[_HOOKED] = True
    # Begin explicitly (no I/O happens until a statement runs) so that the job is tied to
    # the transaction it belongs to even when the unit of work has not touched the
    # database yet.
    transaction = sync.get_nested_transaction() or sync.get_transaction() or sync.begin()
    sync.info.setdefault(_PENDING, []).append(_Pending(job, transaction))
    log.debug("task.buffered", task=name, task_id=job.id)
    return job


def pending_jobs(session: AsyncSession | Session) -> list[Job]:
    """Jobs buffered on ``session`` and not yet dispatched (for tests and diagnostics)."""
    sync = session.sync_session if isinstance(session, AsyncSession) else session
    return [p.job for p in sync.info.get(_PENDING, [])]


def _within(transaction: SessionTransaction, ancestor: SessionTransaction) -> bool:
    current: SessionTransaction | None = transaction
    while current is not None:
        if current is ancestor:
            return True
        current = current.parent
    return False


def _after_commit(session: Session) -> None:
    # SQLAlchemy 2 also reports savepoint releases here; only the outermost commit counts.
    if session.in_nested_transaction():
        return
    pending: list[_Pending] = session.info.pop(_PENDING, [])
    if pending:
        _dispatch([p.job for p in pending])


def _after_soft_rollback(session: Session, previous_transaction: SessionTransaction) -> None:
    pending: list[_Pending] | None = session.info.get(_PENDING)
    if not pending:
        return
    kept = [p for p in pending if not _within(p.transaction, previous_transaction)]
    if len(kept) != len(pending):
        log.debug("task.dropped", reason="rolled back", count=len(pending) - len(kept))
    session.info[_PENDING] = kept


def _after_transaction_end(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        dropped: list[_Pending] | None = session.info.pop(_PENDING, None)
        if dropped:
            log.debug("task.dropped", reason="transaction ended uncommitted", count=len(dropped))


def _dispatch(jobs: list[Job]) -> None:
    dispatcher = _dispatcher
    if dispatcher is None:
        log.error("task.dropped", reason="no dispatcher installed", tasks=[j.name for j in jobs])
        return
    try:
        dispatcher.dispatch(jobs)
    except Exception:  # the commit has happened: failing it now would lie to the caller
        log.exception("task.dispatch_failed", tasks=[j.name for j in jobs])


# ------------------------------------------------------------------------------- Celery


def _restore_interval(visibility_timeout_s: int) -> int:
    # How often a worker looks for messages whose consumer died: a tenth of the
    # visibility timeout, within [1 s, 60 s]. Redelivery then happens at most ~10 % late.
    return max(1, min(60, visibility_timeout_s // 10))


def celery_app_from_settings(
    settings: Settings, *, task_registry: TaskRegistry | None = None
) -> Celery:
    """A Celery app configured from ``settings``: JSON only, late acknowledgement, one
    message prefetched per worker process, the broker's visibility timeout, redbeat as
    the beat scheduler with the registry's periodic tasks as its schedule."""
    task_registry = task_registry or registry
    broker = settings.broker_url
    backend = settings.result_backend_url or broker
    prefix = settings.task_key_prefix
    visibility = settings.task_visibility_timeout_s
    transport: dict[str, Any] = {
        "visibility_timeout": visibility,
        "unacked_restore_interval": _restore_interval(visibility),
        "unacked_restore_throttle": 1,
    }
    result_transport: dict[str, Any] = {}
    if prefix:
        transport["global_keyprefix"] = prefix
        result_transport["global_keyprefix"] = prefix
    schedule = {
        p.name: {
            "task": p.name,
            "schedule": timedelta(seconds=p.every_seconds),
            "options": {
                "expires": p.every_seconds,
                **({"queue": q} if (q := task_registry.get(p.name).queue) else {}),
            },
        }
        for p in task_registry.periodic_tasks()
    }
    app = Celery("waa_ads", broker=broker, backend=backend)
    app.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_accept_content=["json"],
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        # Nothing reads task results: tasks write what they produce to the database.
        task_ignore_result=True,
        result_expires=timedelta(days=1),
        broker_transport_options=transport,
        result_backend_transport_options=result_transport,
        broker_connection_retry_on_startup=True,
        # A worker that loses the broker stops running what it took from it: those
        # messages will be delivered again, and must not run twice at once.
        worker_cancel_long_running_tasks_on_connection_loss=True,
        worker_hijack_root_logger=False,
        enable_utc=True,
        timezone="UTC",
        beat_schedule=schedule,
        beat_scheduler="redbeat.RedBeatScheduler",
        # Beat wakes at least this often, and renews its leader lock each time it wakes.
        beat_max_loop_interval=10,
        redbeat_redis_url=broker,
        redbeat_redis_options={},
        redbeat_key_prefix=f"{prefix}redbeat:",
        # A restarted or standby beat takes over this long after the active one died (its
        # lock expires): periodic work such as the expiry sweep runs at most this late.
        redbeat_lock_timeout=45,
    )
    return app


def _register_with_celery(spec: TaskSpec) -> None:
    """Make ``spec`` a Celery task (in every Celery app, present and future).

    The Celery task is synchronous: it runs the async function on this worker process's
    event loop and turns transient failures into Celery retries with backoff.
    """

    def run(self: CeleryTask[..., Any], /, **kwargs: Any) -> Any:
        attempt = self.request.retries
        task_id = self.request.id or ""
        try:
            return worker_runtime().run(spec, kwargs, task_id=task_id, attempt=attempt)
        except Exception as exc:
            if spec.should_retry(exc, attempt):
                delay = spec.retry_delay(attempt)
                log.warning(
                    "task.retrying",
                    task=spec.name,
                    task_id=task_id,
                    attempt=attempt,
                    delay_s=round(delay, 2),
                    error=repr(exc),
                )
                raise self.retry(exc=exc, countdown=delay, max_retries=spec.max_retries) from exc
            raise

    run.__name__ = spec.fn.__name__
    run.__qualname__ = spec.fn.__qualname__
    run.__module__ = spec.fn.__module__
    run.__doc__ = spec.fn.__doc__
    # The queue is not set here: jobs carry it when published (see Job.queue).
    shared_task(
        name=spec.name,
        bind=True,
        acks_late=True,
        reject_on_worker_lost=True,
        ignore_result=True,
    )(run)


class CeleryDispatcher:
    """Publishes committed jobs to the Celery broker.

    In the API (``blocking=False``) publishing happens on one background thread, in
    commit order, so a slow or unreachable broker never stalls the event loop. In a worker
    (``blocking=True``) it happens inline, so a task is acknowledged only after the tasks
    it enqueued are published. A job that cannot be published is logged and lost.
    """

    def __init__(self, app: Celery, *, blocking: bool = False) -> None:
        self.app = app
        self._executor = (
            None
            if blocking
            else ThreadPoolExecutor(max_workers=1, thread_name_prefix="waa-task-publish")
        )

    def dispatch(self, jobs: Sequence[Job]) -> None:
        if self._executor is None:
            self._publish(list(jobs))
        else:
            self._executor.submit(self._publish, list(jobs))

    def _publish(self, jobs: list[Job]) -> None:
        for job in jobs:
            try:
                self.app.send_task(job.name, kwargs=job.kwargs, task_id=job.id, queue=job.queue)
            except Exception:
                log.exception("task.publish_failed", task=job.name, task_id=job.id)
            else:
                log.info("task.enqueued", task=job.name, task_id=job.id)

    async def aclose(self) -> None:
        """Publish what is still queued for publishing, then release broker connections."""
        if self._executor is not None:
            await asyncio.to_thread(self._executor.shutdown, wait=True)
        await asyncio.to_thread(self.app.close)


class WorkerRuntime:
    """One event loop, one :class:`Database` and one blob store per worker process.

    Celery tasks are synchronous; each one runs its coroutine on this runtime's loop, which
    lives as long as the process, so the engine's pooled connections (bound to the loop
    they were opened on) are reused across tasks. Everything is created lazily, on the
    first task, hence after the prefork pool has forked: a connection or a loop is never
    shared between processes ("Future attached to a different loop").
    """

    def __init__(self, settings: Settings, *, tracing: Tracing | None = None) -> None:
        self.settings = settings
        self.pid = os.getpid()
        self._tracing = tracing
        self._runner: asyncio.Runner | None = None
        self._db: Database | None = None
        self._blobs: BlobStore | None = None

    def run(self, spec: TaskSpec, kwargs: dict[str, Any], *, task_id: str, attempt: int) -> Any:
        if self._runner is None:
            self._runner = asyncio.Runner()
        return self._runner.run(self._execute(spec, kwargs, task_id=task_id, attempt=attempt))

    async def _execute(
        self, spec: TaskSpec, kwargs: dict[str, Any], *, task_id: str, attempt: int
    ) -> Any:
        if self._db is None:
            self._db = database_from_settings(self.settings)
            if self._tracing is not None:
                self._tracing.instrument_engine(self._db.engine)
        if self._blobs is None:
            self._blobs = blob_store_from_settings(self.settings)
        ctx = TaskContext(
            db=self._db,
            settings=self.settings,
            blobs=self._blobs,
            task_name=spec.name,
            task_id=task_id,
            attempt=attempt,
        )
        return await spec.fn(ctx, **kwargs)

    def close(self) -> None:
        """Dispose the engine and the blob store on the loop that owns them."""
        if self._runner is None:
            return
        runner, self._runner = self._runner, None
        db, self._db = self._db, None
        blobs, self._blobs = self._blobs, None
        try:
            if db is not None:
                runner.run(db.dispose())
            if blobs is not None:
                runner.run(blobs.aclose())
        finally:
            runner.close()


class _RuntimeSlot(threading.local):
    runtime: WorkerRuntime | None = None


_slot = _RuntimeSlot()
_runtime_settings: Settings | None = None
_runtime_tracing: Tracing | None = None


def configure_worker_runtime(settings: Settings, *, tracing: Tracing | None = None) -> None:
    """Set what this process's runtime is built from (worker process start-up).

    Any runtime inherited from a parent process is dropped without being closed: its
    loop and connections belong to the parent.
    """
    global _runtime_settings, _runtime_tracing
    _runtime_settings, _runtime_tracing = settings, tracing
    _slot.runtime = None


def worker_runtime() -> WorkerRuntime:
    """This process's (and thread's) runtime, created on first use."""
    runtime = _slot.runtime
    if runtime is None or runtime.pid != os.getpid():
        if _runtime_settings is None:
            from waa_ads.core.settings import get_settings

            settings = get_settings()
        else:
            settings = _runtime_settings
        runtime = WorkerRuntime(settings, tracing=_runtime_tracing)
        _slot.runtime = runtime
    return runtime


def close_worker_runtime() -> None:
    """Close this process's runtime, if it has one (worker process shutdown)."""
    runtime, _slot.runtime = _slot.runtime, None
    if runtime is not None and runtime.pid == os.getpid():
        runtime.close()


# --------------------------------------------------------------------------- in-process


class InProcessRunner:
    """Runs tasks on the app's own event loop: the embedded default, without a broker.

    Jobs go through a queue served by ``concurrency`` coroutines (few, so background work
    never crowds out requests on SQLite's single writer). Transient failures are retried
    with the task's backoff; other failures, and the last retry, are logged. Periodic
    tasks are run by one timer each. Jobs still queued when the process stops are lost;
    :meth:`aclose` waits ``drain_timeout_s`` for them first.
    """

    def __init__(
        self,
        *,
        db: Database,
        settings: Settings,
        blobs: BlobStore,
        task_registry: TaskRegistry | None = None,
        concurrency: int = 4,
        drain_timeout_s: float = 10.0,
    ) -> None:
        self.db = db
        self.settings = settings
        self.blobs = blobs
        self.registry = task_registry or registry
        self.concurrency = concurrency
        self.drain_timeout_s = drain_timeout_s
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread_id = 0
        self._queue: asyncio.Queue[tuple[Job, int]] = asyncio.Queue()
        self._workers: list[asyncio.Task[None]] = []
        self._tickers: list[asyncio.Task[None]] = []
        self._timers: set[asyncio.TimerHandle] = set()
        self._outstanding = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._closing = False
        self._periodic_inflight: dict[str, str] = {}

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._thread_id = threading.get_ident()
        self._workers = [
            asyncio.create_task(self._work(), name=f"waa-task-runner-{i}")
            for i in range(self.concurrency)
        ]
        self._tickers = [
            asyncio.create_task(self._tick(p), name=f"waa-periodic-{p.name}")
            for p in self.registry.periodic_tasks()
        ]

    def dispatch(self, jobs: Sequence[Job]) -> None:
        """Queue ``jobs``; callable from any thread, never blocks.

        From the runner's own thread (a commit on the app's loop) the jobs are queued
        before this returns, so a following :meth:`wait_idle` waits for them too.
        """
        if self._loop is None:
            raise RuntimeError("the in-process runner is not started")
        for job in jobs:
            if threading.get_ident() == self._thread_id:
                self._accept(job)
            else:
                self._loop.call_soon_threadsafe(self._accept, job)

    def _accept(self, job: Job) -> None:
        if self._closing:
            log.warning("task.dropped", reason="runner stopping", task=job.name, task_id=job.id)
            return
        self._outstanding += 1
        self._idle.clear()
        self._queue.put_nowait((job, 0))

    def _done(self, job: Job) -> None:
        if self._periodic_inflight.get(job.name) == job.id:
            del self._periodic_inflight[job.name]
        self._outstanding -= 1
        if self._outstanding == 0:
            self._idle.set()

    async def _work(self) -> None:
        while True:
            job, attempt = await self._queue.get()
            try:
                await self._run(job, attempt)
            finally:
                self._queue.task_done()

    async def _run(self, job: Job, attempt: int) -> None:
        try:
            spec = self.registry.get(job.name)
        except UnknownTask:
            log.error("task.failed", task=job.name, task_id=job.id, reason="unknown task")
            self._done(job)
            return
        ctx = TaskContext(
            db=self.db,
            settings=self.settings,
            blobs=self.blobs,
            task_name=job.name,
            task_id=job.id,
            attempt=attempt,
        )
        started = time.perf_counter()
        try:
            await spec.fn(ctx, **job.kwargs)
        except asyncio.CancelledError:
            self._done(job)
            raise
        except Exception as exc:
            if spec.should_retry(exc, attempt) and not self._closing:
                delay = spec.retry_delay(attempt)
                log.warning(
                    "task.retrying",
                    task=job.name,
                    task_id=job.id,
                    attempt=attempt,
                    delay_s=round(delay, 3),
                    error=repr(exc),
                )
                self._schedule_retry(job, attempt + 1, delay)
                return
            log.exception("task.failed", task=job.name, task_id=job.id, attempt=attempt)
            self._done(job)
            return
        log.info(
            "task.succeeded",
            task=job.name,
            task_id=job.id,
            attempt=attempt,
            duration_ms=round((time.perf_counter() - started) * 1000, 2),
        )
        self._done(job)

    def _schedule_retry(self, job: Job, attempt: int, delay: float) -> None:
        assert self._loop is not None
        handle: asyncio.TimerHandle

        def requeue() -> None:
            self._timers.discard(handle)
            if self._closing:
                log.warning("task.dropped", reason="runner stopping", task=job.name)
                self._done(job)
                return
            self._queue.put_nowait((job, attempt))

        handle = self._loop.call_later(delay, requeue)
        self._timers.add(handle)

    async def _tick(self, spec: PeriodicSpec) -> None:
        while True:
            await asyncio.sleep(spec.every_seconds)
            if spec.name in self._periodic_inflight:
                continue
            job = Job(name=spec.name, kwargs={}, id=str(uuid7()))
            self._periodic_inflight[spec.name] = job.id
            self._accept(job)

    async def wait_idle(self) -> None:
        """Wait until every accepted job has finished (retries included)."""
        await self._idle.wait()

    async def aclose(self) -> None:
        """Stop the periodic timers, let queued jobs finish for up to ``drain_timeout_s``,
        then cancel what is left."""
        self._closing = True
        for ticker in self._tickers:
            ticker.cancel()
        try:
            async with asyncio.timeout(self.drain_timeout_s):
                await self.wait_idle()
        except TimeoutError:
            log.warning("task.runner_drain_timeout", outstanding=self._outstanding)
        for handle in self._timers:
            handle.cancel()
        self._timers.clear()
        for worker in self._workers:
            worker.cancel()
        await asyncio.gather(*self._workers, *self._tickers, return_exceptions=True)


class BackgroundWork:
    """The background machinery of an API process, owned by the app's lifespan."""

    def __init__(self, dispatcher: CeleryDispatcher | InProcessRunner) -> None:
        self.dispatcher = dispatcher
        self._previous: Dispatcher | None = None

    @property
    def runner(self) -> InProcessRunner | None:
        """The in-process runner, when there is no broker."""
        return self.dispatcher if isinstance(self.dispatcher, InProcessRunner) else None

    async def start(self) -> None:
        if isinstance(self.dispatcher, InProcessRunner):
            await self.dispatcher.start()
        self._previous = set_dispatcher(self.dispatcher)

    async def aclose(self) -> None:
        if _dispatcher is self.dispatcher:
            set_dispatcher(self._previous)
        await self.dispatcher.aclose()


async def start_background_work(
    settings: Settings, *, db: Database, blobs: BlobStore
) -> BackgroundWork:
    """Import every task module and install the process's dispatcher: a Celery publisher
    when ``WAA_BROKER_URL`` is set, else an in-process runner (with the periodic tasks)."""
    discover_task_modules(settings.task_modules)
    dispatcher: CeleryDispatcher | InProcessRunner
    if settings.broker_url:
        dispatcher = CeleryDispatcher(celery_app_from_settings(settings))
    else:
        dispatcher = InProcessRunner(db=db, settings=settings, blobs=blobs)
    work = BackgroundWork(dispatcher)
    await work.start()
    return work
