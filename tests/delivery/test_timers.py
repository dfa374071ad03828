"""Server-owned time (delivery.timers): deadlines, remaining time, lateness, given ``now``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from waa_ads.delivery import timers

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CLOSE = START + timedelta(hours=3)


def _deadline(**overrides: object) -> datetime:
    values: dict[str, object] = {
        "started_at": START,
        "limit_s": 1800,
        "multiplier": 1.0,
        "extension_s": 0,
        "uncounted_pause_s": 0.0,
        "window_closes_at": CLOSE,
    }
    values.update(overrides)
    return timers.deadline(**values)  # type: ignore[arg-type]


def test_the_deadline_is_the_limit_after_the_start() -> None:
    assert _deadline() == START + timedelta(minutes=30)


def test_extra_time_extensions_and_uncounted_pauses_add_up() -> None:
    deadline = _deadline(multiplier=1.5, extension_s=300, uncounted_pause_s=42.5)
    assert deadline == START + timedelta(seconds=1800 * 1.5 + 300 + 42.5)


def test_the_window_closing_caps_the_deadline() -> None:
    assert _deadline(limit_s=4 * 3600) == CLOSE
    assert _deadline(started_at=CLOSE - timedelta(minutes=10)) == CLOSE


def test_without_a_time_limit_the_window_closing_is_the_deadline() -> None:
    assert _deadline(limit_s=None, extension_s=600) == CLOSE


def test_remaining_counts_whole_seconds_down_to_zero() -> None:
    deadline = START + timedelta(minutes=30)
    assert timers.remaining_s(deadline_at=deadline, now=START) == 1800
    assert timers.remaining_s(deadline_at=deadline, now=START + timedelta(seconds=0.9)) == 1799
    assert timers.remaining_s(deadline_at=deadline, now=deadline) == 0
    assert timers.remaining_s(deadline_at=deadline, now=deadline + timedelta(hours=1)) == 0


def test_a_pause_that_does_not_count_freezes_the_clock() -> None:
    deadline = START + timedelta(minutes=30)
    paused_at = START + timedelta(minutes=10)
    frozen = timers.remaining_s(deadline_at=deadline, now=paused_at, paused_at=paused_at)
    assert frozen == 20 * 60
    for later in (timedelta(seconds=1.1), timedelta(minutes=5), timedelta(hours=2)):
        assert (
            timers.remaining_s(deadline_at=deadline, now=paused_at + later, paused_at=paused_at)
            == frozen
        )


def test_a_pause_that_counts_lets_the_clock_run() -> None:
    deadline = START + timedelta(minutes=30)
    paused_at = START + timedelta(minutes=10)
    now = paused_at + timedelta(minutes=5)
    assert (
        timers.remaining_s(deadline_at=deadline, now=now, paused_at=paused_at, pause_counts=True)
        == 15 * 60
    )


def test_a_save_is_late_only_after_the_grace_window() -> None:
    deadline = START + timedelta(minutes=30)
    assert not timers.is_late(deadline_at=deadline, now=deadline, grace_s=30)
    assert not timers.is_late(
        deadline_at=deadline, now=deadline + timedelta(seconds=30), grace_s=30
    )
    assert timers.is_late(
        deadline_at=deadline, now=deadline + timedelta(seconds=30.001), grace_s=30
    )
    assert timers.is_late(deadline_at=deadline, now=deadline + timedelta(microseconds=1), grace_s=0)


@given(
    limit_s=st.integers(min_value=10, max_value=7 * 86_400),
    multiplier=st.floats(min_value=1.0, max_value=3.0),
    extension_s=st.integers(min_value=0, max_value=86_400),
    paused_s=st.floats(min_value=0, max_value=86_400),
)
def test_the_deadline_never_passes_the_window_and_grows_with_every_allowance(
    limit_s: int, multiplier: float, extension_s: int, paused_s: float
) -> None:
    base = _deadline(limit_s=limit_s, window_closes_at=START + timedelta(days=30))
    more = _deadline(
        limit_s=limit_s,
        multiplier=multiplier,
        extension_s=extension_s,
        uncounted_pause_s=paused_s,
        window_closes_at=START + timedelta(days=30),
    )
    assert more >= base
    capped = _deadline(
        limit_s=limit_s, multiplier=multiplier, extension_s=extension_s, uncounted_pause_s=paused_s
    )
    assert capped <= CLOSE
