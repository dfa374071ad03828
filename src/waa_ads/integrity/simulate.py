"""Simulated responses for checking answer similarity (pure numpy): honest candidates
under a two-parameter IRT model with distractors of unequal popularity, and copiers who
take a share of their answers from a neighbour. Used by the tests and bench/."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class Simulated:
    codes: npt.NDArray[np.int32]  # n x m option codes; 0 is the key
    correct: npt.NDArray[np.bool_]
    copiers: list[tuple[int, int]]  # (copier, source) pairs


def honest(n: int, m: int, *, options: int = 4, seed: int = 0) -> Simulated:
    """``n`` independent candidates on ``m`` items: ability ~ N(0, 1), discrimination
    U(0.8, 2), difficulty ~ N(0, 1); a wrong answer picks a distractor by the item's own
    (Dirichlet) popularity."""
    rng = np.random.default_rng(seed)
    theta = rng.normal(size=n)
    a = rng.uniform(0.8, 2.0, m)
    b = rng.normal(size=m)
    p_correct = 1.0 / (1.0 + np.exp(-a * (theta[:, None] - b)))
    correct = rng.random((n, m)) < p_correct
    popularity = rng.dirichlet(np.full(options - 1, 2.0), size=m)  # m x (options-1)
    cumulative = np.cumsum(popularity, axis=1)
    draw = rng.random((n, m))
    distractor = (draw[:, :, None] > cumulative[None, :, :]).sum(axis=2)
    distractor = np.minimum(distractor, options - 2) + 1
    codes = np.where(correct, 0, distractor).astype(np.int32)
    return Simulated(codes, correct, [])


def with_copying(base: Simulated, pairs: int, share: float, *, seed: int = 1) -> Simulated:
    """``pairs`` copiers (disjoint rows), each copying ``share`` of the items from the
    next row (their neighbour)."""
    rng = np.random.default_rng(seed)
    codes, correct = base.codes.copy(), base.correct.copy()
    n, m = codes.shape
    rows = rng.choice(n // 2, size=pairs, replace=False) * 2
    copiers = []
    for copier in rows:
        source = int(copier) + 1
        items = rng.choice(m, size=round(share * m), replace=False)
        codes[copier, items] = codes[source, items]
        correct[copier, items] = correct[source, items]
        copiers.append((int(copier), source))
    return Simulated(codes, correct, copiers)
