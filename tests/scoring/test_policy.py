"""Totals, scaling and bands (scoring.policy)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from waa_ads.assessments.definition import Band, ScoringPolicy
from waa_ads.scoring.policy import ScoredItem, band_for, totals

BANDS = [
    Band(name="fail", min_score=0, passed=False),
    Band(name="pass", min_score=5, passed=True),
    Band(name="merit", min_score=8, passed=True),
]


@pytest.mark.parametrize(
    ("score", "band"),
    [
        (-1, None),
        (0, "fail"),
        (4.99, "fail"),
        (5, "pass"),
        (7.5, "pass"),
        (8, "merit"),
        (99, "merit"),
    ],
)
def test_the_band_is_the_highest_one_reached(score: float, band: str | None) -> None:
    found = band_for(score, BANDS)
    assert (found.name if found else None) == band


def test_band_order_in_the_policy_does_not_matter() -> None:
    assert band_for(6, list(reversed(BANDS))) == BANDS[1]
    assert band_for(6, []) is None


def test_raw_weighted_and_section_totals() -> None:
    items = [
        ScoredItem(section="a", score=1.0, max_score=1.0, weight=1.0),
        ScoredItem(section="a", score=0.5, max_score=2.0, weight=2.0),
        ScoredItem(section="b", score=3.0, max_score=4.0, weight=1.0),
    ]
    result = totals(items, {"b": 0.5}, ScoringPolicy(bands=BANDS))
    assert result.raw == 4.5
    assert result.max_raw == 7.0
    # a: 1*1 + 0.5*2 = 2; b: 3 * 1 * 0.5 = 1.5
    assert result.weighted == 3.5
    assert result.max_weighted == 1 + 4 + 2
    assert result.sections == {
        "a": {"raw": 1.5, "max_raw": 3.0, "weighted": 2.0},
        "b": {"raw": 3.0, "max_raw": 4.0, "weighted": 1.5},
    }
    assert result.pending == 0


def test_scaling_decides_the_band_and_the_pass() -> None:
    items = [ScoredItem(section="s", score=2.0, max_score=4.0, weight=1.0)]
    plain = totals(items, {}, ScoringPolicy(bands=BANDS))
    assert (plain.scaled, plain.band, plain.passed) == (2.0, "fail", False)
    scaled = totals(items, {}, ScoringPolicy(bands=BANDS, scale_slope=2.5, scale_intercept=3))
    assert scaled.scaled == 8.0
    assert (scaled.band, scaled.passed) == ("merit", True)


def test_without_bands_there_is_no_band_and_no_verdict() -> None:
    result = totals([ScoredItem("s", 1.0, 1.0, 1.0)], {}, ScoringPolicy())
    assert (result.band, result.passed) == (None, None)


def test_a_band_without_a_verdict_says_neither_pass_nor_fail() -> None:
    policy = ScoringPolicy(bands=[Band(name="reported", min_score=0)])
    result = totals([ScoredItem("s", 1.0, 1.0, 1.0)], {}, policy)
    assert (result.band, result.passed) == ("reported", None)


def test_items_waiting_for_a_person_count_zero_and_are_pending() -> None:
    items = [
        ScoredItem(section="s", score=1.0, max_score=1.0, weight=1.0),
        ScoredItem(section="s", score=None, max_score=4.0, weight=1.0),
    ]
    result = totals(items, {}, ScoringPolicy())
    assert (result.raw, result.max_raw, result.pending) == (1.0, 5.0, 1)
    assert result.sections["s"] == {"raw": 1.0, "max_raw": 5.0, "weighted": 1.0}


def test_no_items_total_zero() -> None:
    result = totals([], {}, ScoringPolicy(bands=BANDS))
    assert (result.raw, result.max_raw, result.weighted, result.scaled) == (0, 0, 0, 0)
    assert result.band == "fail"
    assert result.sections == {}


scores = st.floats(min_value=0, max_value=100, allow_nan=False)


@given(
    st.lists(
        st.tuples(st.sampled_from("abc"), scores, scores, st.floats(min_value=0, max_value=10)),
        max_size=20,
    )
)
def test_section_totals_add_up_to_the_whole(rows: list[tuple[str, float, float, float]]) -> None:
    items = [
        ScoredItem(section, score, score + extra, weight) for section, score, extra, weight in rows
    ]
    result = totals(items, {"a": 2.0}, ScoringPolicy())
    assert sum(s["raw"] for s in result.sections.values()) == pytest.approx(result.raw)
    assert sum(s["max_raw"] for s in result.sections.values()) == pytest.approx(result.max_raw)
    assert sum(s["weighted"] for s in result.sections.values()) == pytest.approx(result.weighted)
    assert result.raw <= result.max_raw + 1e-9
    assert result.weighted <= result.max_weighted + 1e-9
