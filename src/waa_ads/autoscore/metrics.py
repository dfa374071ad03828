"""Agreement between two sets of integer scores on one scale (pure).

Quadratic weighted kappa here weighs disagreements by the squared distance on the whole
declared scale ``min_score..max_score`` (as automated-scoring studies report it), so a
score that nobody gave still counts as a category; with every category present it equals
``sklearn.metrics.cohen_kappa_score(a, b, weights="quadratic")``. Exact and adjacent
agreement and the standardized mean difference come from :mod:`waa_ads.rating.agreement`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from waa_ads.rating import agreement as rating_agreement


def quadratic_weighted_kappa(
    a: Sequence[int] | np.ndarray, b: Sequence[int] | np.ndarray, min_score: int, max_score: int
) -> float:
    """1 - sum(w * observed) / sum(w * expected) with w = (i - j)² over the scale; NaN when
    there are no pairs or no spread to agree on."""
    x = np.asarray(a, dtype=np.int64) - min_score
    y = np.asarray(b, dtype=np.int64) - min_score
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError("two equal-length sequences of scores are needed")
    k = max_score - min_score + 1
    if not x.size:
        return math.nan
    if x.min() < 0 or y.min() < 0 or x.max() >= k or y.max() >= k:
        raise ValueError("a score lies outside the scale")
    observed = np.bincount(x * k + y, minlength=k * k).reshape(k, k).astype(np.float64)
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0)) / x.size
    idx = np.arange(k, dtype=np.float64)
    weights = (idx[:, None] - idx[None, :]) ** 2
    denominator = float(np.sum(weights * expected))
    if denominator == 0.0:
        return math.nan
    return float(1.0 - np.sum(weights * observed) / denominator)


@dataclass(frozen=True)
class Agreement:
    """How well ``other`` agrees with ``reference`` (the human score). ``smd`` is
    (mean other - mean reference) / pooled SD: positive when ``other`` scores higher."""

    n: int
    qwk: float
    exact: float
    adjacent: float
    smd: float

    def to_dict(self) -> dict[str, Any]:
        return {key: _finite(value) for key, value in asdict(self).items()}


def _finite(value: object) -> object:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def agreement(
    reference: Sequence[int] | np.ndarray,
    other: Sequence[int] | np.ndarray,
    min_score: int,
    max_score: int,
) -> Agreement:
    """Every statistic for one set of pairs; NaN where a statistic is undefined."""
    ref = np.asarray(reference, dtype=np.float64)
    oth = np.asarray(other, dtype=np.float64)
    if ref.size == 0:
        return Agreement(0, math.nan, math.nan, math.nan, math.nan)
    return Agreement(
        n=int(ref.size),
        qwk=quadratic_weighted_kappa(
            np.asarray(reference), np.asarray(other), min_score, max_score
        ),
        exact=rating_agreement.exact_agreement(ref, oth),
        adjacent=rating_agreement.adjacent_agreement(ref, oth),
        smd=rating_agreement.standardized_mean_difference(ref, oth),
    )
