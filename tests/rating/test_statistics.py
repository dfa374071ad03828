"""The lead's figures from a plan's ratings: pairs per item and per rater, seeded accuracy,
drift windows and the flag (pure; ratings built in memory)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from waa_ads.rating.models import Rating
from waa_ads.rating.service import DRIFT_WINDOW, plan_statistics

START = datetime(2026, 1, 1, tzinfo=UTC)


def _rating(
    rater: uuid.UUID, key: str, score: float, minute: int, *, seed: uuid.UUID | None = None
) -> Rating:
    return Rating(
        id=uuid.uuid4(),
        kind="seeded" if seed else "rating",
        response_key=key,
        item_ref="E1",
        rater_id=rater,
        seed_id=seed,
        score=score,
        submitted_at=START + timedelta(minutes=minute),
        duration_ms=60_000,
        levels={},
        criteria={},
    )


def test_a_rater_drifting_away_is_flagged() -> None:
    steady, drifting, third = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    ratings = []
    for n in range(2 * DRIFT_WINDOW):
        truth = float(n % 5)
        # The drifting rater agrees at first, then gives 3 points more.
        off = 0.0 if n < DRIFT_WINDOW else 3.0
        ratings += [
            _rating(steady, f"r{n}", truth, 2 * n),
            _rating(drifting, f"r{n}", truth + off, 2 * n + 1),
        ]
    seed = uuid.uuid4()
    ratings.append(_rating(third, "seed", 2.0, 100, seed=seed))
    figures = plan_statistics(
        ratings, {seed: 3.0}, threshold=0.7, paused={drifting}, raters=[steady, drifting, third]
    )
    by_rater = {r.rater_id: r for r in figures.raters}
    assert by_rater[drifting].drift == [1.0, 0.0]
    assert by_rater[drifting].flagged and by_rater[drifting].paused
    assert by_rater[steady].drift == [1.0, 0.0]  # agreement is mutual
    assert by_rater[third].seeded == 1 and by_rater[third].seeded_exact == 0.0
    assert by_rater[third].seeded_adjacent == 1.0 and not by_rater[third].flagged
    assert figures.items[0].pairs == 2 * DRIFT_WINDOW
    assert figures.items[0].exact == 0.5
    assert len(figures.pairs) == 1 and figures.pairs[0].pairs == 2 * DRIFT_WINDOW
    assert by_rater[steady].mean_seconds == 60.0
