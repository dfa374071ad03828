"""The Celery application of worker and beat processes.

Started by ``waa-ads worker`` and ``waa-ads beat`` (or ``celery -A waa_ads.worker worker``).
Importing this module reads the settings, imports every ``waa_ads.<domain>.tasks`` module
(and ``WAA_TASK_MODULES``) so that every task and the beat schedule are known, and builds
:data:`celery_app`. Nothing connects to a database here: each worker process builds its
own engine on its first task, after the fork (see :class:`waa_ads.core.tasks.WorkerRuntime`).
"""

from __future__ import annotations

from typing import Any

from celery import signals

from waa_ads.core.logging import configure_logging
from waa_ads.core.settings import get_settings
from waa_ads.core.tasks import (
    CeleryDispatcher,
    celery_app_from_settings,
    close_worker_runtime,
    configure_worker_runtime,
    discover_task_modules,
    set_dispatcher,
)
from waa_ads.core.telemetry import Tracing

settings = get_settings()
task_modules = discover_task_modules(settings.task_modules)
celery_app = celery_app_from_settings(settings)

_tracing: Tracing | None = None


@signals.setup_logging.connect
def _configure_logging(**_: Any) -> None:
    # Connected, this signal keeps Celery from installing its own handlers: worker and
    # task log lines come out as the API's do (structlog JSON on stderr).
    configure_logging(settings.log_level, json=settings.log_json)


@signals.worker_process_init.connect
def _init_worker_process(**_: Any) -> None:
    """In each process that runs tasks (a prefork child, or the solo worker itself)."""
    global _tracing  # noqa: PLW0603 (per-process state)
    _tracing = Tracing.from_settings(settings)
    if _tracing is not None:
        _tracing.instrument_celery()
    configure_worker_runtime(settings, tracing=_tracing)
    # Tasks enqueue follow-up tasks like services do; here they are published inline, so
    # a task is acknowledged only after what it enqueued is on the broker.
    set_dispatcher(CeleryDispatcher(celery_app, blocking=True))


@signals.worker_process_shutdown.connect
@signals.worker_shutdown.connect
def _shutdown_worker_process(**_: Any) -> None:
    global _tracing  # noqa: PLW0603 (per-process state)
    close_worker_runtime()
    set_dispatcher(None)
    if _tracing is not None:
        _tracing.shutdown()
        _tracing = None


@signals.beat_init.connect
def _init_beat(**_: Any) -> None:
    tracing = Tracing.from_settings(settings)
    if tracing is not None:
        tracing.instrument_celery()
