"""Server-owned time, as pure functions. The client's clock is never consulted.

An attempt's deadline is ``started_at + limit x multiplier + extensions + pauses that do not
count against time``, capped by the administration's closing time. While an attempt is
paused by a proctor (or on a break that does not count), its remaining time stands still.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta


def deadline(
    *,
    started_at: datetime,
    limit_s: int | None,
    multiplier: float,
    extension_s: int,
    uncounted_pause_s: float,
    window_closes_at: datetime,
) -> datetime:
    """When the attempt's time is up. Without a time limit, the window's close."""
    if limit_s is None:
        return window_closes_at
    allowed = limit_s * multiplier + extension_s + uncounted_pause_s
    return min(started_at + timedelta(seconds=allowed), window_closes_at)


def remaining_s(
    *,
    deadline_at: datetime,
    now: datetime,
    paused_at: datetime | None = None,
    pause_counts: bool = False,
) -> int:
    """Whole seconds left (never negative). A pause that does not count freezes the clock
    at the moment it began."""
    reference = paused_at if paused_at is not None and not pause_counts else now
    return max(0, math.floor((deadline_at - reference).total_seconds()))


def is_late(*, deadline_at: datetime, now: datetime, grace_s: float) -> bool:
    """A save is late once the deadline plus the grace window (for queued offline saves)
    has passed."""
    return now > deadline_at + timedelta(seconds=grace_s)
