"""Delivery's live news, on the bus of :mod:`waa_ads.core.live`: what a proctor's live
view and a candidate's player follow.

Two kinds of channel:

- ``administration:<id>``, for its proctors: every change of every attempt of the
  administration (``started``, ``paused``, ``resumed``, ``extended``, ``submitted``,
  ``expired``, ``terminated``), the question a candidate moves to (``navigated``), their
  saves (``saved``, at most one per attempt every :data:`SAVE_NEWS_INTERVAL_S`, as "last
  activity") and the integrity events they send (``integrity``), each with the attempt's
  state, deadline and time left as the server sees them;
- ``attempt:<id>``, for the candidate's own WebSocket: the changes of their attempt's
  state or time (``type: "attempt"``), never a proctor's reason. The player re-reads the
  attempt when one arrives.

State changes are published after the unit of work commits (so whoever re-reads finds
them); a save, already committed when it is answered, is published at once. Publishing
never fails a request.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from waa_ads.core import live
from waa_ads.core.db import Database, utcnow
from waa_ads.delivery import timers
from waa_ads.delivery.models import Attempt
from waa_ads.delivery.state_machine import AttemptState, PauseKind

#: The bus events the attempt's transitions are announced as.
EVENT_NAMES: Final = {
    "start": "started",
    "pause": "paused",
    "resume": "resumed",
    "submit": "submitted",
    "expire": "expired",
    "terminate": "terminated",
    "extend": "extended",
}
#: A saving candidate is "active" news at most this often (per attempt and process):
#: autosave runs at thousands of requests a second, and a proctor needs a heartbeat, not
#: every keystroke.
SAVE_NEWS_INTERVAL_S: Final = 5.0
_SAVE_NEWS_MEMORY: Final = 100_000


def administration_channel(administration_id: uuid.UUID | str) -> str:
    return f"administration:{administration_id}"


def attempt_channel(attempt_id: uuid.UUID | str) -> str:
    return f"attempt:{attempt_id}"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def remaining_s(attempt: Attempt) -> int | None:
    """Seconds left now, as the candidate's reply would say (None without a deadline)."""
    if attempt.deadline_at is None:
        return None
    if attempt.state not in (AttemptState.in_progress, AttemptState.paused):
        return 0
    return timers.remaining_s(
        deadline_at=attempt.deadline_at,
        now=utcnow(),
        paused_at=attempt.paused_at,
        pause_counts=attempt.pause_kind == PauseKind.counted_break,
    )


def snapshot(attempt: Attempt) -> dict[str, Any]:
    """The attempt's live facts, as a proctor's screen shows them."""
    return {
        "attempt_id": str(attempt.id),
        "administration_id": str(attempt.administration_id),
        "number": attempt.number,
        "state": str(attempt.state),
        "paused": attempt.state == AttemptState.paused,
        "pause_kind": attempt.pause_kind,
        "deadline_at": _iso(attempt.deadline_at),
        "remaining_s": remaining_s(attempt),
        "current_position": attempt.current_position,
        "ended_because": str(attempt.ended_because) if attempt.ended_because else None,
    }


def changed(session: AsyncSession, attempt: Attempt, event: str) -> None:
    """Announce, once committed, that ``attempt`` went through ``event`` (a state
    machine event, or ``extend``): to its administration's proctors and to its candidate."""
    name = EVENT_NAMES.get(event, event)
    remember(attempt)
    facts = snapshot(attempt)
    at = utcnow().isoformat()
    live.publish_after_commit(
        session,
        administration_channel(attempt.administration_id),
        {"event": name, "at": at, **facts},
    )
    live.publish_after_commit(
        session,
        attempt_channel(attempt.id),
        {
            "type": "attempt",
            "event": name,
            "state": facts["state"],
            "paused": facts["paused"],
            "pause_kind": facts["pause_kind"],
            "deadline_at": facts["deadline_at"],
            "remaining_s": facts["remaining_s"],
        },
    )


def navigated(session: AsyncSession, attempt: Attempt, position: int) -> None:
    """Announce, once committed, the question the candidate has open."""
    remember(attempt)
    _touch(attempt.id)
    live.publish_after_commit(
        session,
        administration_channel(attempt.administration_id),
        {
            "event": "navigated",
            "at": utcnow().isoformat(),
            "attempt_id": str(attempt.id),
            "current_position": position,
        },
    )


def integrity(session: AsyncSession, attempt: Attempt, kinds: Sequence[str]) -> None:
    """Announce, once committed, the integrity events just received from the candidate."""
    if not kinds:
        return
    remember(attempt)
    _touch(attempt.id)
    live.publish_after_commit(
        session,
        administration_channel(attempt.administration_id),
        {
            "event": "integrity",
            "at": utcnow().isoformat(),
            "attempt_id": str(attempt.id),
            "kinds": list(kinds),
        },
    )


# --- saves: a heartbeat, coalesced ----------------------------------------------------------

#: attempt id -> its administration's id (an attempt never changes administration).
_administrations: dict[uuid.UUID, uuid.UUID] = {}
#: attempt id -> when its last activity was announced (time.monotonic()).
_announced: dict[uuid.UUID, float] = {}
_lookups: set[asyncio.Task[None]] = set()


def remember(attempt: Attempt) -> None:
    """Note the attempt's administration, so its saves can be announced without a query."""
    if attempt.id not in _administrations:
        if len(_administrations) >= _SAVE_NEWS_MEMORY:
            _administrations.clear()
        _administrations[attempt.id] = attempt.administration_id


def _touch(attempt_id: uuid.UUID) -> None:
    if len(_announced) >= _SAVE_NEWS_MEMORY:
        _announced.clear()
    _announced[attempt_id] = time.monotonic()


def saved(db: Database, attempt_id: uuid.UUID, ref: str) -> None:
    """A save of ``attempt_id`` was accepted (and committed): announce the candidate's
    activity, unless it was announced less than :data:`SAVE_NEWS_INTERVAL_S` ago. Costs a
    dictionary lookup on the autosave path; the publication itself runs in the
    background, and an attempt this process has not seen yet is looked up there once."""
    now = time.monotonic()
    last = _announced.get(attempt_id)
    if last is not None and now - last < SAVE_NEWS_INTERVAL_S:
        return
    if live.current() is None:
        return
    _touch(attempt_id)
    administration_id = _administrations.get(attempt_id)
    message = {"event": "saved", "at": utcnow().isoformat(), "attempt_id": str(attempt_id)}
    if administration_id is not None:
        live.publish_soon(administration_channel(administration_id), message)
        return
    try:
        task = asyncio.get_running_loop().create_task(_look_up_and_publish(db, attempt_id, message))
    except RuntimeError:
        return
    _lookups.add(task)
    task.add_done_callback(_lookups.discard)


async def _look_up_and_publish(
    db: Database, attempt_id: uuid.UUID, message: dict[str, Any]
) -> None:
    try:
        async with db.transaction(write=False) as session:
            administration_id = (
                await session.execute(
                    select(Attempt.administration_id).where(Attempt.id == attempt_id)
                )
            ).scalar_one_or_none()
    except Exception:
        return  # news, not state: the next save tries again in a while
    if administration_id is None:
        return
    _administrations[attempt_id] = administration_id
    live.publish_soon(administration_channel(administration_id), message)
