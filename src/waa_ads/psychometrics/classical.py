"""Classical item analysis from sufficient statistics updated one scored attempt at a time
(pure: no I/O).

The accumulator keeps, per distinct total score t: the number of persons n[t]; per item the
number presented N[j,t], the sum of scores S[j,t] and of squared scores Q[j,t]; and per item
and chosen option the count C[j][option][t]. Every statistic below is a function of these
arrays, so adding an attempt costs O(items) and never rescans earlier attempts, and the
state serializes to JSON to be stored and resumed.

Definitions (population variances, ddof = 0, as in KR-20):

- facility: mean item score / item maximum;
- discrimination: (mean score of the upper 27% by total - of the lower 27%) / maximum; the
  persons tied at a cut are taken in by the fraction that makes the group exactly 27%;
- point-biserial: Pearson r of item score and total score (item included);
- corrected item-total: r of item score and total minus that item;
- alpha = k/(k-1) * (1 - sum var_j / var T) (KR-20 when every item is 0/1), SEM = sd_T *
  sqrt(1 - alpha), alpha-if-deleted from the same sums with item j taken out of T;
- per option: its share overall, in the upper and lower groups, in each fifth of the
  total-score distribution (lowest first; ties at a cut split as for the 27% groups), and
  the point-biserial of choosing it with the total.

Alpha, SEM and the 27% groups assume a fixed form (every person saw every item); with items
not presented, per-item statistics use the persons who saw the item.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]
GROUP_SHARE = 0.27
#: Score groups of the distractor table: fifths of the persons ordered by total score.
SCORE_GROUPS = 5
#: ``to_state()["format"]``: 2 since the state keeps the options chosen and the keys.
STATE_FORMAT = 2


@dataclass(frozen=True)
class OptionStatistics:
    option: str
    key: bool
    share: float
    upper: float
    lower: float
    point_biserial: float | None
    mean_total: float | None
    groups: list[float] = field(default_factory=list)
    """The share choosing the option in each score group (``SCORE_GROUPS`` fifths by total
    score, lowest first) among those presented with the item."""


@dataclass(frozen=True)
class ItemStatistics:
    item: str
    presented: int
    max_score: float
    mean: float | None
    facility: float | None
    discrimination: float | None
    point_biserial: float | None
    corrected_item_total: float | None
    alpha_if_deleted: float | None
    options: list[OptionStatistics]
    flags: list[str]


@dataclass(frozen=True)
class TestStatistics:
    persons: int
    items: int
    mean: float | None
    sd: float | None
    alpha: float | None
    kr20: float | None
    sem: float | None


@dataclass(frozen=True)
class ItemAnalysis:
    test: TestStatistics
    items: list[ItemStatistics]

    def to_dict(self) -> dict[str, object]:
        return {"test": asdict(self.test), "items": [asdict(i) for i in self.items]}


def _corr(n: Array | float, sx: Array, sy: Array, sxx: Array, syy: Array, sxy: Array) -> Array:
    with np.errstate(invalid="ignore", divide="ignore"):
        cov = sxy / n - (sx / n) * (sy / n)
        vx = sxx / n - (sx / n) ** 2
        vy = syy / n - (sy / n) ** 2
        out: Array = cov / np.sqrt(vx * vy)
    return np.where((vx > 1e-12) & (vy > 1e-12), out, np.nan)


def _num(value: float) -> float | None:
    return None if not np.isfinite(value) else float(value)


class ItemAnalysisAccumulator:
    """Sufficient statistics for the item analysis of one set of items.

    ``add`` takes one attempt: the score of each item presented (a missing item was not
    presented) and, for choice items, the option(s) chosen. ``keys`` names each choice
    item's correct option(s), for distractor flags."""

    def __init__(
        self,
        items: list[str],
        max_scores: Mapping[str, float],
        keys: Mapping[str, list[str]] | None = None,
    ) -> None:
        self.items = list(items)
        self.index = {item: j for j, item in enumerate(self.items)}
        self.max_scores = np.array([float(max_scores.get(i, 1.0)) for i in self.items])
        self.keys = {k: list(v) for k, v in (keys or {}).items()}
        self.totals: list[float] = []
        self._total_index: dict[float, int] = {}
        j = len(self.items)
        self.n = np.zeros(0)
        self.presented = np.zeros((j, 0))
        self.sums = np.zeros((j, 0))
        self.squares = np.zeros((j, 0))
        self.options: list[dict[str, Array]] = [{} for _ in self.items]

    def _column(self, total: float) -> int:
        total = round(total, 9)
        col = self._total_index.get(total)
        if col is None:
            col = len(self.totals)
            self._total_index[total] = col
            self.totals.append(total)
            self.n = np.append(self.n, 0.0)
            pad = np.zeros((len(self.items), 1))
            self.presented = np.hstack([self.presented, pad])
            self.sums = np.hstack([self.sums, pad])
            self.squares = np.hstack([self.squares, pad])
            for counts in self.options:
                for option in counts:
                    counts[option] = np.append(counts[option], 0.0)
        return col

    def declare_options(self, item: str, options: list[str]) -> None:
        """List a choice item's options, so that one nobody chose is shown (at 0%)."""
        if item not in self.index:
            return
        counts = self.options[self.index[item]]
        for option in options:
            if option not in counts:
                counts[option] = np.zeros(len(self.totals))

    def add(
        self,
        scores: Mapping[str, float | None],
        choices: Mapping[str, list[str]] | None = None,
    ) -> None:
        """Add one scored attempt: O(items), no earlier attempt is read again."""
        given = {i: float(s) for i, s in scores.items() if s is not None and i in self.index}
        col = self._column(sum(given.values()))
        self.n[col] += 1
        for item, score in given.items():
            j = self.index[item]
            self.presented[j, col] += 1
            self.sums[j, col] += score
            self.squares[j, col] += score * score
        for item, chosen in (choices or {}).items():
            if item not in self.index:
                continue
            counts = self.options[self.index[item]]
            for option in chosen:
                if option not in counts:
                    counts[option] = np.zeros(len(self.totals))
                counts[option][col] += 1

    # -- state ---------------------------------------------------------------------------

    def to_state(self) -> dict[str, object]:
        """A JSON-ready copy of the sufficient statistics."""
        return {
            "format": STATE_FORMAT,
            "items": self.items,
            "max_scores": self.max_scores.tolist(),
            "keys": self.keys,
            "totals": self.totals,
            "n": self.n.tolist(),
            "presented": self.presented.tolist(),
            "sums": self.sums.tolist(),
            "squares": self.squares.tolist(),
            "options": [{k: v.tolist() for k, v in c.items()} for c in self.options],
        }

    @classmethod
    def from_state(cls, state: Mapping[str, object]) -> ItemAnalysisAccumulator:
        items = [str(i) for i in state["items"]]  # type: ignore[attr-defined]
        maxima = dict(zip(items, state["max_scores"], strict=True))  # type: ignore[call-overload]
        acc = cls(items, maxima, state["keys"])  # type: ignore[arg-type]
        acc.totals = [float(t) for t in state["totals"]]  # type: ignore[attr-defined]
        acc._total_index = {t: i for i, t in enumerate(acc.totals)}
        width = len(acc.totals)
        acc.n = np.array(state["n"], dtype=float)
        acc.presented = np.array(state["presented"], dtype=float).reshape(len(items), width)
        acc.sums = np.array(state["sums"], dtype=float).reshape(len(items), width)
        acc.squares = np.array(state["squares"], dtype=float).reshape(len(items), width)
        acc.options = [
            {k: np.array(v, dtype=float) for k, v in c.items()}
            for c in state["options"]  # type: ignore[attr-defined]
        ]
        return acc

    # -- statistics ----------------------------------------------------------------------

    def _group_weights(self) -> tuple[Array, Array]:
        """Per total score, the fraction of its persons in the upper and in the lower 27%."""
        t = np.array(self.totals)
        order = np.argsort(t)
        n = self.n[order]
        size = GROUP_SHARE * n.sum()

        def take(counts: Array) -> Array:
            taken = np.zeros_like(counts)
            left = size
            for i, c in enumerate(counts):
                if left <= 0:
                    break
                taken[i] = min(c, left)
                left -= taken[i]
            with np.errstate(invalid="ignore", divide="ignore"):
                return np.where(counts > 0, taken / counts, 0.0)

        lower = np.zeros_like(n)
        upper = np.zeros_like(n)
        lower[order] = take(n)
        upper[order] = take(n[::-1])[::-1]
        return upper, lower

    def _score_group_weights(self) -> list[Array]:
        """Per score group (fifths, lowest first), per total score the fraction of its
        persons in that group: persons ordered by total, a tie at a cut shared out."""
        t = np.array(self.totals)
        order = np.argsort(t)
        n = self.n[order]
        high = np.cumsum(n)
        low = high - n
        size = n.sum() / SCORE_GROUPS
        out = []
        for g in range(SCORE_GROUPS):
            overlap = np.clip(np.minimum(high, (g + 1) * size) - np.maximum(low, g * size), 0, None)
            with np.errstate(invalid="ignore", divide="ignore"):
                share = np.where(n > 0, overlap / n, 0.0)
            w = np.zeros_like(n)
            w[order] = share
            out.append(w)
        return out

    def result(self) -> ItemAnalysis:
        """The statistics of everything added so far."""
        t = np.array(self.totals)
        persons = float(self.n.sum())
        k = len(self.items)
        if persons == 0:
            empty = TestStatistics(0, k, None, None, None, None, None)
            return ItemAnalysis(
                empty,
                [
                    ItemStatistics(i, 0, float(m), None, None, None, None, None, None, [], [])
                    for i, m in zip(self.items, self.max_scores, strict=True)
                ],
            )
        mean_t = float(self.n @ t / persons)
        var_t = float(self.n @ t**2 / persons - mean_t**2)
        nj = self.presented.sum(axis=1)
        sx = self.sums.sum(axis=1)
        sxx = self.squares.sum(axis=1)
        st = self.presented @ t
        stt = self.presented @ t**2
        sxt = self.sums @ t
        with np.errstate(invalid="ignore", divide="ignore"):
            mean_x = sx / nj
            var_x = sxx / nj - mean_x**2
            cov_xt = sxt / nj - mean_x * (st / nj)
        pbis = _corr(nj, sx, st, sxx, stt, sxt)
        # corrected: T - x_j, from the same sums
        sr, srr, sxr = st - sx, stt - 2 * sxt + sxx, sxt - sxx
        corrected = _corr(nj, sx, sr, sxx, srr, sxr)
        alpha = kr20 = sem = None
        if k > 1 and var_t > 1e-12:
            alpha_v = k / (k - 1) * (1 - float(np.nansum(var_x)) / var_t)
            alpha = alpha_v
            if np.all(self.max_scores == 1):
                kr20 = alpha_v
            sem = float(np.sqrt(var_t * max(0.0, 1 - alpha_v)))
        upper_w, lower_w = self._group_weights()
        group_w = self._score_group_weights()
        n_up, n_low = float(self.n @ upper_w), float(self.n @ lower_w)
        stats: list[ItemStatistics] = []
        for j, item in enumerate(self.items):
            m = float(self.max_scores[j])
            alpha_del = None
            if k > 2:
                var_rest = var_t - 2 * cov_xt[j] + var_x[j]
                rest = float(np.nansum(var_x) - var_x[j])
                if var_rest > 1e-12:
                    alpha_del = (k - 1) / (k - 2) * (1 - rest / var_rest)
            up = self.sums[j] @ upper_w / max(self.presented[j] @ upper_w, 1e-12)
            low = self.sums[j] @ lower_w / max(self.presented[j] @ lower_w, 1e-12)
            disc = (up - low) / m if n_up > 0 and n_low > 0 and nj[j] > 0 else float("nan")
            options = self._options(j, t, upper_w, lower_w, group_w)
            facility = mean_x[j] / m if nj[j] > 0 else float("nan")
            stats.append(
                ItemStatistics(
                    item,
                    int(nj[j]),
                    m,
                    _num(mean_x[j]) if nj[j] > 0 else None,
                    _num(facility),
                    _num(disc),
                    _num(pbis[j]),
                    _num(corrected[j]),
                    _num(alpha_del) if alpha_del is not None else None,
                    options,
                    _flags(_num(disc), _num(corrected[j]), options),
                )
            )
        test = TestStatistics(
            int(persons),
            k,
            mean_t,
            float(np.sqrt(max(var_t, 0.0))),
            _num(alpha) if alpha is not None else None,
            _num(kr20) if kr20 is not None else None,
            sem,
        )
        return ItemAnalysis(test, stats)

    def _options(
        self, j: int, t: Array, upper_w: Array, lower_w: Array, group_w: list[Array]
    ) -> list[OptionStatistics]:
        counts = self.options[j]
        if not counts:
            return []
        pres = self.presented[j]
        n = pres.sum()
        up_n = pres @ upper_w
        low_n = pres @ lower_w
        st, stt = pres @ t, pres @ t**2
        group_n = [pres @ w for w in group_w]
        key = set(self.keys.get(self.items[j], []))
        out = []
        for option in sorted(counts):
            c = counts[option]
            chosen = c.sum()
            r = _corr(n, np.array(chosen), np.array(st), np.array(chosen), np.array(stt), c @ t)
            out.append(
                OptionStatistics(
                    option,
                    option in key,
                    float(chosen / n) if n else 0.0,
                    float(c @ upper_w / up_n) if up_n else 0.0,
                    float(c @ lower_w / low_n) if low_n else 0.0,
                    _num(float(r)),
                    float(c @ t / chosen) if chosen else None,
                    [
                        float(c @ w / gn) if gn else 0.0
                        for w, gn in zip(group_w, group_n, strict=True)
                    ],
                )
            )
        return out


def _flags(
    discrimination: float | None,
    corrected: float | None,
    options: list[OptionStatistics],
) -> list[str]:
    """Problem flags, each a stable code:

    - ``negative-discrimination``: the lower group does better than the upper, or the
      corrected item-total correlation is below zero;
    - ``distractor-attracts-high-scorers``: a distractor is chosen by a larger share of the
      upper group than of the lower one, or by as many of the upper group as the key;
    - ``key-looks-wrong``: a distractor correlates positively with the total and more
      strongly than every key option, which itself correlates negatively or not at all."""
    flags = []
    if (discrimination is not None and discrimination < 0) or (
        corrected is not None and corrected < 0
    ):
        flags.append("negative-discrimination")
    keys = [o for o in options if o.key]
    distractors = [o for o in options if not o.key]
    if keys and distractors:
        key_upper = max(o.upper for o in keys)
        if any(o.upper > o.lower and o.upper > 0 for o in distractors) or any(
            o.upper >= key_upper and o.upper > 0 for o in distractors
        ):
            flags.append("distractor-attracts-high-scorers")
        best_key = max((o.point_biserial or -1.0) for o in keys)
        best_distractor = max((o.point_biserial or -1.0) for o in distractors)
        if best_distractor > 0 and best_distractor > best_key and best_key <= 0:
            flags.append("key-looks-wrong")
    return flags


def analyse(
    scores: NDArray[np.float64],
    items: list[str],
    max_scores: Mapping[str, float] | None = None,
    choices: list[dict[str, list[str]]] | None = None,
    keys: Mapping[str, list[str]] | None = None,
) -> ItemAnalysis:
    """Item analysis of a whole matrix (persons x items, NaN when not presented) through
    the same accumulator; the maximum of an item defaults to its largest observed score
    (at least 1)."""
    scores = np.asarray(scores, dtype=float)
    if max_scores is None:
        with np.errstate(all="ignore"):
            top = np.nanmax(np.where(np.isnan(scores), -np.inf, scores), axis=0)
        max_scores = {i: max(1.0, float(m)) for i, m in zip(items, top, strict=True)}
    acc = ItemAnalysisAccumulator(items, max_scores, keys)
    for row, person in enumerate(scores):
        acc.add(
            {i: (None if np.isnan(v) else float(v)) for i, v in zip(items, person, strict=True)},
            choices[row] if choices is not None else None,
        )
    return acc.result()


#: The columns item exports add for a choice item's options (empty for other items).
OPTION_COLUMNS = ("key", "option_share", "option_lower", "option_upper")


def option_cells(options: Sequence[OptionStatistics | Mapping[str, Any]]) -> list[str]:
    """The ``OPTION_COLUMNS`` of an item for a spreadsheet cell each: the key's options
    joined by spaces, then per column ``option=share`` pairs in document order (shares as
    fractions, 4 significant digits), e.g. ``A=0.4 B=0.6 C=0``."""
    rows = [asdict(o) if isinstance(o, OptionStatistics) else dict(o) for o in options]
    if not rows:
        return ["" for _ in OPTION_COLUMNS]

    def pairs(field_name: str) -> str:
        return " ".join(f"{r['option']}={float(r[field_name]):.4g}" for r in rows)

    return [
        " ".join(str(r["option"]) for r in rows if r["key"]),
        pairs("share"),
        pairs("lower"),
        pairs("upper"),
    ]
