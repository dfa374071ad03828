"""Answer similarity: an omega-type index of unusual agreement between pairs of candidates
(pure numpy, no I/O).

For an ordered pair (a, b) the index asks whether *a* chose the same option as *b* on more
items than *a*'s ability and the options' popularity explain (Wollack's omega, with the option
probabilities taken from candidates of similar scores instead of a fitted nominal
response model):

- ability is the number correct (or, without a key, the agreement with a consensus key:
  the answers most chosen by the stronger half);
- ``P[a, i, k]`` is the share choosing option ``k`` of item ``i`` among candidates of
  *a*'s score, kernel-smoothed over the score (nonparametric option curves), leaving *a*
  out and shrunk a little toward the whole cohort's share;
- the matches ``M`` of a with b have mean ``E = sum_i P[a, i, R_b,i]`` and variance
  ``V = sum_i p(1-p)`` when a answers independently of b; the index is ``(M - E) / sqrt(V)``.

``E``, ``V`` and ``M`` for a block of rows against every candidate are three matrix
products of one-hot answer matrices (``n x m·K``), so 10,000 x 60 runs block by block in
bounded memory. Pairs whose index passes a screen (``z > 3``) get an exact upper-tail
p-value from the Poisson-binomial distribution; the ``n(n-1)`` ordered tests are then
corrected by Benjamini-Hochberg (false discovery rate, the default) or Bonferroni
(family-wise). Pairs below the screen have p above about 0.0013, which BH could only
reject if more than ``0.0013 / alpha`` of all tests were rejected; the result says when the
screen was too tight for that argument (``screen_sound``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

SCREEN_Z = 3.0
SMOOTHING = 2.0
BANDWIDTH_FLOOR = 0.75
CONSENSUS_ROUNDS = 3

IntArray = npt.NDArray[np.int32]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class PairFinding:
    """Candidate ``a``'s answers agree with ``b``'s beyond chance (indices into the rows)."""

    a: int
    b: int
    compared: int  # items both answered
    matches: int  # identical answers
    expected: float
    index: float  # (matches - expected) / sd
    p_value: float
    q_value: float  # corrected for every ordered pair tested
    identical: list[int]  # item indices with identical answers
    identical_wrong: list[int]  # ... of which wrong (empty without a key)


@dataclass
class SimilarityResult:
    candidates: int
    items: int
    tests: int  # ordered pairs tested
    screened: int  # pairs whose index passed the screen
    alpha: float
    correction: str
    screen_sound: bool
    pairs: list[PairFinding] = field(default_factory=list)


def encode(rows: Sequence[Sequence[Any]]) -> tuple[IntArray, list[list[Any]]]:
    """Responses (candidates x items, ``None`` for no answer) as option codes (``-1`` for
    none) and each item's options in code order."""
    n = len(rows)
    m = len(rows[0]) if n else 0
    codes = np.full((n, m), -1, dtype=np.int32)
    options: list[list[Any]] = []
    for j in range(m):
        seen: dict[Any, int] = {}
        for i in range(n):
            value = rows[i][j]
            if value is None:
                continue
            codes[i, j] = seen.setdefault(value, len(seen))
        options.append(list(seen))
    return codes, options


def _one_hot(codes: IntArray, k: int) -> npt.NDArray[np.float32]:
    n, m = codes.shape
    out = np.zeros((n, m * k), dtype=np.float32)
    rows, cols = np.nonzero(codes >= 0)
    out[rows, cols * k + codes[rows, cols]] = 1.0
    return out


def _consensus_score(
    codes: IntArray, hot: npt.NDArray[np.float32], k: int
) -> npt.NDArray[np.int64]:
    """Without a key: agreement with a consensus key. The modal answers first; then, a few
    times, the answers most chosen by the stronger half by that score (on a hard item the
    modal answer of everyone is often a distractor, which would rank strong candidates
    low)."""
    m = codes.shape[1]
    key = hot.sum(axis=0).reshape(m, k).argmax(axis=1)
    score = (codes == key[None, :]).sum(axis=1)
    for _ in range(CONSENSUS_ROUNDS):
        stronger = score >= np.median(score)
        key = hot[stronger].sum(axis=0).reshape(m, k).argmax(axis=1)
        score = (codes == key[None, :]).sum(axis=1)
    result: npt.NDArray[np.int64] = score.astype(np.int64)
    return result


def probabilities(
    codes: IntArray, correct: npt.NDArray[np.bool_] | None
) -> tuple[npt.NDArray[np.float32], IntArray, int]:
    """``P`` (``n x m*K``): for each candidate, the chance of choosing each option of each
    item given their score, 0 where they did not answer; the scores; ``K``.

    The option curves are kernel-smoothed over the score (a Gaussian kernel, Silverman's
    bandwidth), from everyone else (the candidate's own answers are left out), and shrunk
    a little toward the whole cohort's shares.
    """
    n, m = codes.shape
    k = int(codes.max()) + 1 if codes.size and codes.max() >= 0 else 1
    hot = _one_hot(codes, k)
    if correct is not None:
        score = correct.sum(axis=1).astype(np.int64)
    else:
        score = _consensus_score(codes, hot, k)
    levels = np.arange(m + 1)
    by_score = np.zeros((m + 1, m * k), dtype=np.float64)
    np.add.at(by_score, score, hot)
    answered = (codes >= 0).astype(np.float64)
    answering = np.zeros((m + 1, m), dtype=np.float64)
    np.add.at(answering, score, answered)
    spread = float(score.std()) if n > 1 else 1.0
    bandwidth = max(BANDWIDTH_FLOOR, 1.06 * spread * n ** (-0.2))
    kernel = np.exp(-((levels[:, None] - levels[None, :]) ** 2) / (2 * bandwidth**2))
    numer_by_score = kernel @ by_score
    denom_by_score = kernel @ answering
    totals = by_score.sum(axis=0).reshape(m, k)
    overall = (totals / np.maximum(totals.sum(axis=1, keepdims=True), 1.0)).reshape(m * k)
    numer = numer_by_score[score] - hot + SMOOTHING * overall[None, :]
    denom = np.repeat(denom_by_score[score] - answered + SMOOTHING, k, axis=1)
    p = numer / denom
    p *= np.repeat(answered, k, axis=1)  # no match is possible where a gave no answer
    return p.astype(np.float32), score.astype(np.int32), k


def _upper_tail(p: FloatArray, observed: IntArray) -> FloatArray:
    """P(X >= observed) for X a sum of independent Bernoulli(p[:, j]), row by row (exact,
    by dynamic programming over the items)."""
    rows, m = p.shape
    pmf = np.zeros((rows, m + 1), dtype=np.float64)
    pmf[:, 0] = 1.0
    for j in range(m):
        pj = p[:, j : j + 1]
        shifted = np.zeros_like(pmf)
        shifted[:, 1:] = pmf[:, :-1]
        pmf = pmf * (1.0 - pj) + shifted * pj
    cumulative = np.cumsum(pmf[:, ::-1], axis=1)[:, ::-1]  # cumulative[:, x] = P(X >= x)
    tail: FloatArray = np.clip(cumulative[np.arange(rows), np.minimum(observed, m)], 0.0, 1.0)
    return tail


def pair_statistics(
    codes: IntArray,
    p: npt.NDArray[np.float32],
    k: int,
    rows: slice,
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """Matches, expected matches and their variance for ``rows`` (as copiers) against every
    candidate (as sources): three matrix products."""
    hot = _one_hot(codes, k)
    block = p[rows]
    matches = hot[rows] @ hot.T
    expected = block @ hot.T
    variance = (block * (1.0 - block)) @ hot.T
    return matches, expected, variance


def similarity(
    codes: IntArray,
    correct: npt.NDArray[np.bool_] | None = None,
    *,
    alpha: float = 0.01,
    correction: str = "bh",
    block: int = 512,
    screen_z: float = SCREEN_Z,
) -> SimilarityResult:
    """Every ordered pair of candidates tested for unusual agreement; the pairs flagged
    after the multiple-comparison ``correction`` (``"bh"`` or ``"bonferroni"``) at
    ``alpha``, strongest first, one finding per unordered pair (its stronger direction).

    ``codes``: ``n x m`` option codes, ``-1`` for no answer; ``correct``: ``n x m``,
    whether each answer is right (optional; it names the wrong shared answers and gives
    the ability groups).
    """
    if correction not in ("bh", "bonferroni"):
        raise ValueError(f"unknown correction {correction!r}")
    codes = np.asarray(codes, dtype=np.int32)
    n, m = codes.shape
    tests = n * (n - 1)
    result = SimilarityResult(n, m, tests, 0, alpha, correction, True)
    if n < 2 or m == 0:
        return result
    p, _, k = probabilities(codes, correct)
    hot = _one_hot(codes, k)
    q_matrix = p * (1.0 - p)
    found_a: list[IntArray] = []
    found_b: list[IntArray] = []
    found_m: list[npt.NDArray[np.float32]] = []
    found_e: list[npt.NDArray[np.float32]] = []
    found_z: list[npt.NDArray[np.float32]] = []
    for start in range(0, n, block):
        stop = min(n, start + block)
        matches = hot[start:stop] @ hot.T
        expected = p[start:stop] @ hot.T
        variance = q_matrix[start:stop] @ hot.T
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(variance > 0, (matches - expected) / np.sqrt(variance), 0.0)
        z[np.arange(stop - start), np.arange(start, stop)] = -np.inf  # not with oneself
        a, b = np.nonzero(z > screen_z)
        found_a.append((a + start).astype(np.int32))
        found_b.append(b.astype(np.int32))
        found_m.append(matches[a, b])
        found_e.append(expected[a, b])
        found_z.append(z[a, b].astype(np.float32))
    a_all = np.concatenate(found_a)
    b_all = np.concatenate(found_b)
    m_all = np.concatenate(found_m).round().astype(np.int32)
    e_all = np.concatenate(found_e)
    z_all = np.concatenate(found_z)
    result.screened = len(a_all)
    if not len(a_all):
        return result
    # Exact tails for the screened pairs, a chunk at a time (a row of p per pair).
    p_items = p.reshape(n, m, k)
    p_values = np.empty(len(a_all), dtype=np.float64)
    for start in range(0, len(a_all), 20_000):
        sl = slice(start, start + 20_000)
        src = codes[b_all[sl]]
        pick = np.take_along_axis(p_items[a_all[sl]], np.maximum(src, 0)[:, :, None], axis=2)
        pair_p = np.where(src >= 0, pick[:, :, 0], 0.0).astype(np.float64)
        p_values[sl] = _upper_tail(pair_p, m_all[sl])
    order = np.argsort(p_values, kind="stable")
    ranked = p_values[order]
    if correction == "bonferroni":
        q_sorted = np.minimum(1.0, ranked * tests)
    else:
        q_sorted = np.minimum.accumulate((ranked * tests / np.arange(1, len(ranked) + 1))[::-1])[
            ::-1
        ]
        q_sorted = np.minimum(q_sorted, 1.0)
        rejected = int((q_sorted <= alpha).sum())
        # Pairs below the screen (p above ~0.0013) could be rejected by BH only if that
        # many tests were rejected; say so if it ever comes near.
        screen_p = 0.5 * float(np.exp(-(screen_z**2) / 2))
        result.screen_sound = rejected < screen_p * tests / alpha
    q_values = np.empty_like(q_sorted)
    q_values[order] = q_sorted
    best: dict[tuple[int, int], int] = {}
    for hit in np.nonzero(q_values <= alpha)[0]:
        key = (int(min(a_all[hit], b_all[hit])), int(max(a_all[hit], b_all[hit])))
        kept = best.get(key)
        if kept is None or p_values[hit] < p_values[kept]:
            best[key] = int(hit)
    findings = []
    for index in best.values():
        first, second = int(a_all[index]), int(b_all[index])
        both = (codes[first] >= 0) & (codes[second] >= 0)
        same = both & (codes[first] == codes[second])
        identical = [int(j) for j in np.nonzero(same)[0]]
        wrong = (
            [int(j) for j in np.nonzero(same & ~correct[first])[0]] if correct is not None else []
        )
        findings.append(
            PairFinding(
                a=first,
                b=second,
                compared=int(both.sum()),
                matches=int(m_all[index]),
                expected=round(float(e_all[index]), 3),
                index=round(float(z_all[index]), 3),
                p_value=float(p_values[index]),
                q_value=float(q_values[index]),
                identical=identical,
                identical_wrong=wrong,
            )
        )
    findings.sort(key=lambda f: (f.p_value, -f.index))
    result.pairs = findings
    return result


def all_p_values(
    codes: IntArray, correct: npt.NDArray[np.bool_] | None = None
) -> tuple[FloatArray, FloatArray]:
    """The index and exact p-value of every ordered pair (``n x n``, NaN on the diagonal),
    for calibration on small cohorts; :func:`similarity` is the scalable path."""
    codes = np.asarray(codes, dtype=np.int32)
    n, m = codes.shape
    p, _, k = probabilities(codes, correct)
    matches, expected, variance = pair_statistics(codes, p, k, slice(0, n))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(variance > 0, (matches - expected) / np.sqrt(variance), 0.0).astype(np.float64)
    a, b = np.nonzero(~np.eye(n, dtype=bool))
    p_items = p.reshape(n, m, k)
    src = codes[b]
    pick = np.take_along_axis(p_items[a], np.maximum(src, 0)[:, :, None], axis=2)[:, :, 0]
    pair_p = np.where(src >= 0, pick, 0.0).astype(np.float64)
    tails = _upper_tail(pair_p, matches[a, b].round().astype(np.int32))
    out = np.full((n, n), np.nan)
    out[a, b] = tails
    np.fill_diagonal(z, np.nan)
    return z, out
