"""Signals computed on constructed event and save histories."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from waa_ads.integrity.signals import (
    SIGNALS,
    CohortTime,
    EventRecord,
    SaveRecord,
    SignalSettings,
    cohort_times,
    compute_signals,
)

T0 = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_focus_network_and_counted_events() -> None:
    events = [
        EventRecord("e1", "focus_lost", at(10)),
        EventRecord("e2", "visibility_hidden", at(12)),  # still the same absence
        EventRecord("e3", "focus_regained", at(40)),
        EventRecord("e4", "copy", at(41)),
        EventRecord("e5", "paste", at(42)),
        EventRecord("e6", "paste", at(43)),
        EventRecord("e7", "fullscreen_exit", at(50)),
        EventRecord("e8", "network_lost", at(60)),
        EventRecord("e9", "network_restored", at(75)),
        EventRecord("e10", "visibility_hidden", at(100)),  # never came back
    ]
    out = compute_signals(events, [], {}, SignalSettings(), ended_at=at(130))
    assert set(out) == set(SIGNALS)
    assert out["focus_loss_count"].value == 2
    assert out["focus_loss_s"].value == 30 + 30
    assert out["focus_loss_count"].evidence[0] == {
        "from_event": "e1",
        "to_event": "e3",
        "from": at(10).isoformat(),
        "to": at(40).isoformat(),
        "seconds": 30.0,
    }
    assert out["focus_loss_count"].evidence[1]["to_event"] is None
    assert (out["copy_count"].value, out["paste_count"].value) == (1, 2)
    assert [e["event"] for e in out["paste_count"].evidence] == ["e5", "e6"]
    assert out["fullscreen_exit_count"].value == 1
    assert (out["network_loss_count"].value, out["network_loss_s"].value) == (1, 15)


def test_too_fast_against_the_cohort() -> None:
    cohort = cohort_times(
        {"Q1": [40_000, 50_000, 60_000, 45_000, 55_000, 52_000], "Q2": [30_000] * 3}
    )
    assert cohort["Q1"].n == 6 and cohort["Q1"].median_ms == 51_000
    saves = [
        SaveRecord(1, "Q1", 1, "A", "accepted", at(5), 4_000),  # a tenth of the median
        SaveRecord(2, "Q2", 1, "B", "accepted", at(6), 1_000),  # cohort too small to judge
        SaveRecord(3, "Q3", 1, "C", "stale", at(7), 1),  # refused saves are not timed
    ]
    out = compute_signals([], saves, cohort, SignalSettings(), ended_at=at(60))
    assert out["fast_response_count"].value == 1
    [evidence] = out["fast_response_count"].evidence
    assert evidence["item"] == "Q1" and evidence["time_ms"] == 4_000
    assert evidence["ratio"] < 0.25 and evidence["robust_z"] < -3.5
    assert out["fast_response_share"].value == 0.5  # of the two items with a cohort
    slow = [SaveRecord(1, "Q1", 1, "A", "accepted", at(5), 45_000)]
    assert (
        compute_signals([], slow, cohort, SignalSettings(), ended_at=at(60))[
            "fast_response_count"
        ].value
        == 0
    )


def test_robust_z_catches_fast_when_the_cohort_is_tight() -> None:
    cohort = {"Q1": CohortTime(n=50, median_ms=10_000, median_log=9.2103, mad_log=0.05)}
    saves = [SaveRecord(1, "Q1", 1, "A", "accepted", at(5), 7_000)]  # 0.7 of the median
    out = compute_signals([], saves, cohort, SignalSettings(), ended_at=at(60))
    assert out["fast_response_count"].value == 1


def test_long_gap_then_burst() -> None:
    saves = [SaveRecord(1, "Q1", 1, "A", "accepted", at(0), 1000)]
    saves += [
        SaveRecord(10 + i, f"Q{i}", 1, "A", "accepted", at(600 + 5 * i), 1000) for i in range(2, 8)
    ]
    out = compute_signals([], saves, {}, SignalSettings(), ended_at=at(700))
    assert out["gap_burst_count"].value == 1
    [burst] = out["gap_burst_count"].evidence
    assert burst["gap_s"] == 610.0
    assert burst["items"] == [f"Q{i}" for i in range(2, 8)]
    steady = [SaveRecord(i, f"Q{i}", 1, "A", "accepted", at(100 * i), 1000) for i in range(1, 8)]
    assert (
        compute_signals([], steady, {}, SignalSettings(), ended_at=at(900))["gap_burst_count"].value
        == 0
    )


def test_answer_changes_after_a_focus_loss() -> None:
    events = [
        EventRecord("away", "focus_lost", at(100)),
        EventRecord("back", "focus_regained", at(160)),
    ]
    saves = [
        SaveRecord(1, "Q1", 1, "A", "accepted", at(50), 1000),
        SaveRecord(2, "Q1", 2, "B", "accepted", at(170), 2000),  # changed 10 s after return
        SaveRecord(3, "Q2", 1, "A", "accepted", at(175), 2000),  # a first answer: no change
        SaveRecord(4, "Q3", 1, "A", "accepted", at(20), 1000),
        SaveRecord(5, "Q3", 2, "C", "accepted", at(400), 1000),  # long after: not counted
        SaveRecord(6, "Q1", 3, "B", "accepted", at(180), 1000),  # the same value again
    ]
    out = compute_signals(events, saves, {}, SignalSettings(), ended_at=at(500))
    assert out["changes_after_focus_loss"].value == 1
    [change] = out["changes_after_focus_loss"].evidence
    assert change == {
        "save": 2,
        "item": "Q1",
        "at": at(170).isoformat(),
        "away_event": "away",
        "seconds_after_return": 10.0,
    }


def test_similarity_partners_are_counted_with_their_evidence() -> None:
    partners = [{"partner": "x", "index": 6.1, "identical": ["Q1"]}]
    out = compute_signals(
        [], [], {}, SignalSettings(), ended_at=at(0), similarity_partners=partners
    )
    assert out["similarity_partner_count"].value == 1
    assert out["similarity_partner_count"].evidence == partners
