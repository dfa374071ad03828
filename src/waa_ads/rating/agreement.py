"""Agreement between two ratings of the same responses (pure numerics).

Every function takes two equal-length sequences of scores (floats; the categories are the
distinct values that occur in either) and returns a float, or NaN where the statistic is
undefined (no pairs, or no variance for kappa's chance term)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]
#: Scores: a list, or an array of them.
Scores = Sequence[float] | Floats


def _arrays(a: Scores, b: Scores) -> tuple[Floats, Floats]:
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError("two equal-length sequences of scores are needed")
    return x, y


def exact_agreement(a: Scores, b: Scores) -> float:
    x, y = _arrays(a, b)
    return float(np.mean(x == y)) if x.size else math.nan


def adjacent_agreement(a: Scores, b: Scores, *, within: float = 1.0) -> float:
    """The share of pairs at most ``within`` points apart (exact pairs included)."""
    x, y = _arrays(a, b)
    return float(np.mean(np.abs(x - y) <= within + 1e-9)) if x.size else math.nan


def _confusion(x: Floats, y: Floats) -> tuple[Floats, int]:
    labels, codes = np.unique(np.concatenate([x, y]), return_inverse=True)
    k = labels.size
    n = x.size
    matrix = np.bincount(codes[:n] * k + codes[n:], minlength=k * k).reshape(k, k)
    return matrix.astype(np.float64), k


def _kappa(a: Scores, b: Scores, weights: str | None) -> float:
    x, y = _arrays(a, b)
    if not x.size:
        return math.nan
    observed, k = _confusion(x, y)
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0)) / observed.sum()
    if weights is None:
        w = 1.0 - np.eye(k)
    else:
        # As sklearn does: the weights are on the category indices, not the scores.
        idx = np.arange(k, dtype=np.float64)
        w = (idx[:, None] - idx[None, :]) ** 2
    denominator = float(np.sum(w * expected))
    if denominator == 0.0:
        return math.nan
    return float(1.0 - np.sum(w * observed) / denominator)


def cohen_kappa(a: Scores, b: Scores) -> float:
    """Cohen's kappa: agreement beyond chance, every disagreement counting alike."""
    return _kappa(a, b, None)


def quadratic_weighted_kappa(a: Scores, b: Scores) -> float:
    """Kappa with disagreements weighted by the squared distance of the categories (in
    the order of the scores that occur)."""
    return _kappa(a, b, "quadratic")


def standardized_mean_difference(a: Scores, b: Scores) -> float:
    """(mean of b - mean of a) / the pooled standard deviation sqrt((sd_a² + sd_b²) / 2),
    with sample standard deviations; NaN with fewer than two pairs or no spread."""
    x, y = _arrays(a, b)
    if x.size < 2:
        return math.nan
    pooled = math.sqrt((float(np.var(x, ddof=1)) + float(np.var(y, ddof=1))) / 2)
    if pooled == 0.0:
        return 0.0 if float(np.mean(x)) == float(np.mean(y)) else math.nan
    return (float(np.mean(y)) - float(np.mean(x))) / pooled


@dataclass(frozen=True)
class Agreement:
    pairs: int
    exact: float
    adjacent: float
    kappa: float
    quadratic_kappa: float
    smd: float


def agreement(a: Scores, b: Scores, *, within: float = 1.0) -> Agreement:
    """Every statistic above for one set of pairs."""
    return Agreement(
        pairs=len(a),
        exact=exact_agreement(a, b),
        adjacent=adjacent_agreement(a, b, within=within),
        kappa=cohen_kappa(a, b),
        quadratic_kappa=quadratic_weighted_kappa(a, b),
        smd=standardized_mean_difference(a, b),
    )
