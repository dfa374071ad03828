"""Computerized adaptive testing: item selection, exposure control, content balancing,
stopping rules and the ability update after each response (pure: arrays in, choices out).

Items are right/wrong with the logistic model of ``psychometrics.irt`` (slope-intercept,
no 1.702 constant): P(right | theta) = c + (1 - c) * sigmoid(a * theta + d); the Rasch and
2PL models are the cases c = 0. This module repeats that formula rather than importing
psychometrics, so delivery (which psychometrics follows) may use it.

One step of a test: ``select`` picks the next item for the current ``CatState`` (or
``None`` when a stopping rule holds), the candidate answers, ``answer`` folds the response
into the state (the EAP estimate and its posterior SD on a fixed grid under a N(0, 1)
prior). Selection rules:

- ``max-info``: the available item with the largest Fisher information at the estimate;
- ``randomesque``: one of the ``randomesque`` most informative items, at random
  (Kingsbury and Zara);
- ``a-stratified``: the bank cut into ``strata`` strata of rising slope, the test's length
  split evenly over them in that order, and within the current stratum the item whose
  difficulty b = -d/a is nearest the estimate (Chang and Ying).

Sympson-Hetter exposure control: each item has a parameter k in (0, 1]; a selected item is
given with probability k, otherwise it is set aside for this candidate and the next best
is drawn. ``sympson_hetter`` finds the k that hold every item's exposure near a target by
repeated simulation. Content balancing: target shares per tag; each step first picks the
tag furthest below its share (among tags with items left), then the item among that tag's
items. Stopping: at least ``min_items``; then the posterior SD at most ``se_target``, or
``max_items`` given, or ``max_seconds`` spent, or no item left.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from waa_ads.assessments.definition import Adaptive, PinnedCatItem

Array = NDArray[np.float64]
Selection = Literal["max-info", "randomesque", "a-stratified"]
SELECTIONS: tuple[Selection, ...] = ("max-info", "randomesque", "a-stratified")
GRID = np.linspace(-5.0, 5.0, 81)
_LOG_PRIOR = -0.5 * GRID**2


class CatConfigError(ValueError):
    """A bank or rules that cannot run an adaptive test; the message says why."""


#: Item kinds of a bank with polytomous items: right/wrong (logistic), GPCM, graded.
LOGISTIC, GPCM, GRM = 0, 1, 2


@dataclass(frozen=True)
class CatBank:
    """Calibrated items: ``a`` (> 0), ``d``, ``c`` (0 <= c < 1) per item, and each item's
    tags (for content balancing). Right/wrong items only, unless ``kind`` says otherwise per
    item (:data:`GPCM`: P(k) proportional to exp(k a theta + d_k), d_0 = 0; :data:`GRM`:
    P(X >= k) = sigmoid(a theta + d_k)); ``steps`` then holds each polytomous item's
    d_1 .. d_{K-1} (NaN past its last category), and ``d`` its location term for
    a-stratified selection."""

    items: list[str]
    a: Array
    d: Array
    c: Array
    tags: list[frozenset[str]]
    kind: NDArray[np.int64] | None = None
    steps: Array | None = None

    def __post_init__(self) -> None:
        n = len(self.items)
        if n == 0:
            raise CatConfigError("the bank has no items")
        if not (self.a.shape == self.d.shape == self.c.shape == (n,)) or len(self.tags) != n:
            raise CatConfigError("every item needs a, d, c and tags")
        if not (np.isfinite(self.a).all() and np.isfinite(self.d).all()):
            raise CatConfigError("every item needs finite parameters")
        if (self.a <= 0).any() or (self.c < 0).any() or (self.c >= 1).any():
            raise CatConfigError("every item needs a > 0 and 0 <= c < 1")
        if (self.kind is None) != (self.steps is None) or (
            self.kind is not None
            and self.steps is not None
            and (self.kind.shape != (n,) or self.steps.shape[0] != n)
        ):
            raise CatConfigError("polytomous items need their kind and steps")

    @property
    def polytomous(self) -> bool:
        return self.kind is not None and bool((self.kind != LOGISTIC).any())

    @classmethod
    def from_items(cls, items: Sequence[Mapping[str, object]], model: str | None = None) -> CatBank:
        """From ``[{"item", "a", "d", "c"?, "tags"?, "model"?}]`` (``calibrate``'s items;
        ``model``: the calibration's, for items that do not name their own). A ``d`` that
        is a list makes a polytomous item, whose model must be ``gpcm`` or ``grm``."""
        names: list[str] = []
        rows: list[tuple[float, float, float]] = []
        tags: list[frozenset[str]] = []
        kinds: list[int] = []
        steps: list[list[float]] = []
        for n, item in enumerate(items):
            name = item.get("item")
            raw_d = item.get("d")
            if isinstance(raw_d, list):
                kind = {"gpcm": GPCM, "grm": GRM}.get(str(item.get("model") or model))
                try:
                    a = float(item["a"])  # type: ignore[arg-type]
                    ds = [float(v) for v in raw_d]
                except (KeyError, TypeError, ValueError):
                    raise CatConfigError(
                        f"item {name or n + 1!r} needs numbers for a and d"
                    ) from None
                if kind is None or not ds:
                    raise CatConfigError(
                        f"item {name or n + 1!r}: a list of d needs the model gpcm or grm"
                    )
                location = -ds[-1] / (len(ds) * a) if kind == GPCM else -float(np.mean(ds)) / a
                raw_tags = item.get("tags") or []
                if not isinstance(raw_tags, list):
                    raise CatConfigError(f"item {name!r}: tags must be a list of strings")
                names.append(str(name) if name is not None else f"item{n + 1}")
                rows.append((a, -location * a, 0.0))
                tags.append(frozenset(str(t) for t in raw_tags))
                kinds.append(kind)
                steps.append(ds)
                continue
            try:
                a = float(item["a"])  # type: ignore[arg-type]
                d = float(item["d"])  # type: ignore[arg-type]
                c_raw = item.get("c")
                c = 0.0 if c_raw is None else float(c_raw)  # type: ignore[arg-type]
            except (KeyError, TypeError, ValueError):
                raise CatConfigError(
                    f"item {name or n + 1!r} needs a number for a and d (right/wrong items)"
                ) from None
            raw_tags = item.get("tags") or []
            if not isinstance(raw_tags, list) or not all(isinstance(t, str) for t in raw_tags):
                raise CatConfigError(f"item {name!r}: tags must be a list of strings")
            names.append(str(name) if name is not None else f"item{n + 1}")
            rows.append((a, d, c))
            tags.append(frozenset(raw_tags))
            kinds.append(LOGISTIC)
            steps.append([])
        if not rows:
            raise CatConfigError("the bank has no items")
        values = np.array(rows, dtype=np.float64)
        if not any(kinds):
            return cls(names, values[:, 0].copy(), values[:, 1].copy(), values[:, 2].copy(), tags)
        width = max(len(x) for x in steps)
        table = np.full((len(steps), width), np.nan)
        for j, x in enumerate(steps):
            table[j, : len(x)] = x
        if not np.isfinite(table[np.array(kinds) != LOGISTIC][:, 0]).all():
            raise CatConfigError("every polytomous item needs finite steps")
        return cls(
            names,
            values[:, 0].copy(),
            values[:, 1].copy(),
            values[:, 2].copy(),
            tags,
            np.array(kinds, dtype=np.int64),
            table,
        )

    def categories(self, rows: NDArray[np.int64], theta: Array) -> Array:
        """P[i, q, k]: the probability that item ``rows[i]`` is scored k at theta[q] (0 past
        the item's last category)."""
        width = 2 if self.steps is None else max(2, self.steps.shape[1] + 1)
        out = np.zeros((rows.size, theta.size, width))
        kind = np.zeros(rows.size, dtype=np.int64) if self.kind is None else self.kind[rows]
        for i, j in enumerate(rows):
            a = self.a[j]
            if kind[i] == LOGISTIC:
                c = self.c[j]
                p = c + (1 - c) * (0.5 * (1 + np.tanh(0.5 * (a * theta + self.d[j]))))
                out[i, :, 0], out[i, :, 1] = 1 - p, p
                continue
            assert self.steps is not None
            ds = self.steps[j][np.isfinite(self.steps[j])]
            k = np.arange(ds.size + 1)
            if kind[i] == GPCM:
                z = k[None, :] * a * theta[:, None] + np.r_[0.0, ds][None, :]
                z -= z.max(axis=1, keepdims=True)
                e = np.exp(z)
                out[i, :, : k.size] = e / e.sum(axis=1, keepdims=True)
            else:
                star = 0.5 * (1 + np.tanh(0.5 * (a * theta[:, None] + ds[None, :])))
                cum = np.column_stack([np.ones(theta.size), star, np.zeros(theta.size)])
                out[i, :, : k.size] = np.clip(cum[:, :-1] - cum[:, 1:], 0.0, 1.0)
        return out

    def draw(self, theta: float, item: int, rng: np.random.Generator) -> int:
        """A simulated score of ``item`` at ``theta`` (right/wrong: 1 or 0)."""
        if not self.polytomous:
            return int(rng.random() < float(self.probability(theta, np.array([item]))[0]))
        probs = self.categories(np.array([item]), np.array([theta]))[0, 0]
        return int(min((rng.random() > np.cumsum(probs)).sum(), probs.size - 1))

    def tag_mask(self, tag: str) -> NDArray[np.bool_]:
        """True for the items carrying ``tag`` (computed once per tag)."""
        masks: dict[str, NDArray[np.bool_]] = self.__dict__.setdefault("_tag_masks", {})
        if tag not in masks:
            masks[tag] = np.array([tag in t for t in self.tags], dtype=bool)
        return masks[tag]

    def probability(self, theta: float | Array, rows: NDArray[np.int64] | None = None) -> Array:
        """P(right) of the items (all, or ``rows``) at theta (scalar or per-item)."""
        a, d, c = (
            (self.a, self.d, self.c)
            if rows is None
            else (
                self.a[rows],
                self.d[rows],
                self.c[rows],
            )
        )
        p: Array = c + (1 - c) * (0.5 * (1 + np.tanh(0.5 * (a * theta + d))))
        return p

    def information(self, theta: float, rows: NDArray[np.int64] | None = None) -> Array:
        """Fisher information at theta: a^2 (P - c)^2 Q / ((1 - c)^2 P) for right/wrong
        items; a^2 Var(X | theta) for GPCM items; sum_k (dP_k/dtheta)^2 / P_k for graded
        ones (dP*_k/dtheta = a P*_k (1 - P*_k))."""
        a, c = (self.a, self.c) if rows is None else (self.a[rows], self.c[rows])
        p = np.clip(self.probability(theta, rows), 1e-12, 1 - 1e-12)
        info: Array = a**2 * (p - c) ** 2 * (1 - p) / ((1 - c) ** 2 * p)
        if not self.polytomous:
            return info
        assert self.kind is not None
        assert self.steps is not None
        which = np.arange(self.a.size, dtype=np.int64) if rows is None else rows
        poly = np.flatnonzero(self.kind[which] != LOGISTIC)
        if poly.size:
            probs = self.categories(which[poly], np.array([theta]))[:, 0, :]
            k = np.arange(probs.shape[1])
            for i, (j, pk) in enumerate(zip(which[poly], probs, strict=True)):
                if self.kind[j] == GPCM:
                    mean = float(pk @ k)
                    info[poly[i]] = self.a[j] ** 2 * float(pk @ (k - mean) ** 2)
                else:
                    ds = self.steps[j][np.isfinite(self.steps[j])]
                    star = 0.5 * (1 + np.tanh(0.5 * (self.a[j] * theta + ds)))
                    slope = np.r_[0.0, self.a[j] * star * (1 - star), 0.0]
                    dp = slope[:-1] - slope[1:]
                    used = pk[: ds.size + 1]
                    info[poly[i]] = float((dp**2 / np.clip(used, 1e-12, None)).sum())
        return info


@dataclass(frozen=True)
class CatRules:
    selection: Selection = "max-info"
    randomesque: int = 5
    strata: int = 4
    se_target: float | None = 0.3
    min_items: int = 5
    max_items: int = 30
    max_seconds: float | None = None
    content: Mapping[str, float] = field(default_factory=dict)
    exposure: Array | None = None  # Sympson-Hetter k per item, None: no control

    def check(self, bank: CatBank) -> None:
        if self.selection not in SELECTIONS:
            raise CatConfigError(f"selection is {self.selection!r}, not one of {SELECTIONS}")
        if self.min_items < 1 or self.max_items < self.min_items:
            raise CatConfigError("need 1 <= min_items <= max_items")
        if self.randomesque < 1 or self.strata < 1:
            raise CatConfigError("randomesque and strata must be at least 1")
        if self.se_target is not None and self.se_target <= 0:
            raise CatConfigError("the SE target must be positive")
        if any(v < 0 for v in self.content.values()) or (
            self.content and sum(self.content.values()) <= 0
        ):
            raise CatConfigError("content shares must be non-negative, not all zero")
        if self.exposure is not None and (
            self.exposure.shape != bank.a.shape
            or (self.exposure <= 0).any()
            or (self.exposure > 1).any()
        ):
            raise CatConfigError("exposure parameters: one per item, each in (0, 1]")


@dataclass(frozen=True)
class CatState:
    """What a test has given and learnt so far; ``log_posterior`` on ``GRID``."""

    administered: tuple[int, ...] = ()
    responses: tuple[int, ...] = ()
    blocked: frozenset[int] = frozenset()  # set aside by exposure control
    log_posterior: Array = field(default_factory=_LOG_PRIOR.copy)
    theta: float = 0.0
    se: float = 1.0
    seconds: float = 0.0

    def to_dict(self, bank: CatBank) -> dict[str, object]:
        return {
            "items": [bank.items[j] for j in self.administered],
            "responses": list(self.responses),
            "theta": self.theta,
            "se": self.se,
            "seconds": self.seconds,
        }


def stop_reason(rules: CatRules, state: CatState, available: int) -> str | None:
    """Why the test ends now, or None: ``max-items``, ``time``, ``se-target``,
    ``bank-exhausted`` (checked in that order; only max-items and time before min_items)."""
    n = len(state.administered)
    if n >= rules.max_items:
        return "max-items"
    if rules.max_seconds is not None and state.seconds >= rules.max_seconds:
        return "time"
    if available == 0:
        return "bank-exhausted"
    if n >= rules.min_items and rules.se_target is not None and state.se <= rules.se_target:
        return "se-target"
    return None


def _content_filter(
    bank: CatBank, rules: CatRules, state: CatState, candidates: NDArray[np.int64]
) -> NDArray[np.int64]:
    """Kingsbury-Zara: the candidates carrying the tag furthest below its target share."""
    if not rules.content:
        return candidates
    total = sum(rules.content.values())
    n = len(state.administered)
    given = {
        tag: sum(1 for j in state.administered if tag in bank.tags[j]) for tag in rules.content
    }
    order = sorted(
        rules.content,
        key=lambda tag: (rules.content[tag] / total - given[tag] / max(n, 1), rules.content[tag]),
        reverse=True,
    )
    for tag in order:
        if rules.content[tag] <= 0:
            continue
        keep = candidates[bank.tag_mask(tag)[candidates]]
        if keep.size:
            return keep
    return candidates


def _stratum(bank: CatBank, rules: CatRules, n: int) -> tuple[NDArray[np.int64], int]:
    """Each item's stratum (0: the lowest slopes) and the stratum of the (n+1)-th item."""
    cache: dict[int, NDArray[np.int64]] = bank.__dict__.setdefault("_strata", {})
    count = min(rules.strata, len(bank.items))
    if count not in cache:
        order = np.argsort(bank.a, kind="stable")
        of = np.zeros(len(bank.items), dtype=np.int64)
        for k, rows in enumerate(np.array_split(order, count)):
            of[rows] = k
        cache[count] = of
    return cache[count], min(n * count // rules.max_items, count - 1)


def _ranked(
    bank: CatBank, rules: CatRules, state: CatState, candidates: NDArray[np.int64]
) -> NDArray[np.int64]:
    """Candidates best first by the selection rule's criterion."""
    if rules.selection == "a-stratified":
        of, k = _stratum(bank, rules, len(state.administered))
        in_stratum = candidates[of[candidates] == k]
        pool = in_stratum if in_stratum.size else candidates
        distance = np.abs(-bank.d[pool] / bank.a[pool] - state.theta)
        nearest: NDArray[np.int64] = pool[np.argsort(distance, kind="stable")]
        return nearest
    info = bank.information(state.theta, candidates)
    # only the best few need ordering: more are ranked again if exposure control sets
    # all of them aside
    head = 4 * rules.randomesque if rules.selection == "randomesque" else 8
    if info.size > head:
        best = np.argpartition(-info, head)[:head]
        ranked: NDArray[np.int64] = candidates[best[np.argsort(-info[best], kind="stable")]]
        return ranked
    out: NDArray[np.int64] = candidates[np.argsort(-info, kind="stable")]
    return out


def select(
    bank: CatBank, rules: CatRules, state: CatState, rng: np.random.Generator
) -> tuple[int | None, CatState, str | None]:
    """The next item (its row in the bank), the state (with any items exposure control set
    aside), and why the test stops when the item is None."""
    mask = np.ones(len(bank.items), dtype=bool)
    mask[list(state.administered)] = False
    mask[list(state.blocked)] = False
    candidates = np.flatnonzero(mask).astype(np.int64)
    reason = stop_reason(rules, state, candidates.size)
    if reason is not None:
        return None, state, reason
    blocked = set(state.blocked)
    while candidates.size:
        ranked = _ranked(bank, rules, state, _content_filter(bank, rules, state, candidates))
        while ranked.size:
            at = (
                int(rng.integers(min(rules.randomesque, ranked.size)))
                if (rules.selection == "randomesque")
                else 0
            )
            pick = int(ranked[at])
            if rules.exposure is None or rng.random() < rules.exposure[pick]:
                return pick, replace(state, blocked=frozenset(blocked)), None
            blocked.add(pick)  # set aside for this candidate; the next best is drawn
            ranked = np.delete(ranked, at)
        candidates = np.setdiff1d(candidates, np.fromiter(blocked, np.int64), assume_unique=True)
    return None, replace(state, blocked=frozenset(blocked)), "bank-exhausted"


def answer(
    bank: CatBank, state: CatState, item: int, response: int, seconds: float = 0.0
) -> CatState:
    """The state after ``response`` (1 right, 0 wrong; a polytomous item's score 0..K-1)
    to ``item``: the EAP estimate and posterior SD from the updated log-posterior."""
    if bank.kind is not None and bank.kind[item] != LOGISTIC:
        probs = bank.categories(np.array([item]), GRID)[0]
        log_post = state.log_posterior + np.log(
            np.clip(probs[:, min(int(response), probs.shape[1] - 1)], 1e-12, 1)
        )
    else:
        p = np.clip(bank.probability(GRID, np.full(GRID.size, item, dtype=np.int64)), 1e-12, 1)
        log_post = state.log_posterior + (
            np.log(p) if response else np.log1p(-np.minimum(p, 1 - 1e-12))
        )
    w = np.exp(log_post - log_post.max())
    w /= w.sum()
    theta = float(w @ GRID)
    se = math.sqrt(max(float(w @ GRID**2) - theta**2, 0.0))
    return CatState(
        administered=(*state.administered, item),
        responses=(*state.responses, int(response)),
        blocked=state.blocked,
        log_posterior=log_post,
        theta=theta,
        se=se,
        seconds=state.seconds + seconds,
    )


# --- simulation ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SimulationReport:
    candidates: int
    bias: float
    rmse: float
    mean_length: float
    mean_se: float
    stop_reasons: dict[str, int]
    exposure: Array  # share of candidates given each item
    thetas: Array
    estimates: Array
    lengths: NDArray[np.int64]

    def to_dict(self, bank: CatBank, top: int = 10) -> dict[str, object]:
        order = np.argsort(-self.exposure, kind="stable")[:top]
        return {
            "candidates": self.candidates,
            "bias": self.bias,
            "rmse": self.rmse,
            "mean_length": self.mean_length,
            "mean_se": self.mean_se,
            "correlation": float(np.corrcoef(self.thetas, self.estimates)[0, 1])
            if self.candidates > 1
            else None,
            "stop_reasons": self.stop_reasons,
            "exposure": {
                "max": float(self.exposure.max()),
                "mean": float(self.exposure.mean()),
                "unused_share": float((self.exposure == 0).mean()),
                "over_0_2": int((self.exposure > 0.2).sum()),
                "most_exposed": [
                    {"item": bank.items[j], "rate": float(self.exposure[j])} for j in order
                ],
            },
        }


def simulate(
    bank: CatBank,
    rules: CatRules,
    thetas: Array,
    seed: int,
    seconds_per_item: float = 0.0,
) -> SimulationReport:
    """Run the test for candidates of true abilities ``thetas``, answers drawn from the
    model; deterministic for a seed."""
    rules.check(bank)
    rng = np.random.default_rng(seed)
    counts = np.zeros(len(bank.items))
    estimates = np.zeros(thetas.size)
    ses = np.zeros(thetas.size)
    lengths = np.zeros(thetas.size, dtype=np.int64)
    reasons: dict[str, int] = {}
    for i, true in enumerate(thetas):
        state = CatState()
        while True:
            item, state, reason = select(bank, rules, state, rng)
            if item is None:
                reasons[reason or "?"] = reasons.get(reason or "?", 0) + 1
                break
            state = answer(bank, state, item, bank.draw(float(true), item, rng), seconds_per_item)
        counts[list(state.administered)] += 1
        estimates[i], ses[i], lengths[i] = state.theta, state.se, len(state.administered)
    error = estimates - thetas
    return SimulationReport(
        candidates=int(thetas.size),
        bias=float(error.mean()),
        rmse=float(np.sqrt((error**2).mean())),
        mean_length=float(lengths.mean()),
        mean_se=float(ses.mean()),
        stop_reasons=reasons,
        exposure=counts / max(thetas.size, 1),
        thetas=thetas,
        estimates=estimates,
        lengths=lengths,
    )


def sympson_hetter(
    bank: CatBank,
    rules: CatRules,
    target: float,
    *,
    candidates: int = 500,
    rounds: int = 6,
    seed: int = 0,
) -> Array:
    """Sympson-Hetter parameters: start at k = 1; each round simulates ``candidates`` from
    N(0, 1) with the current k, takes each item's selection rate P(S) (selected, given or
    set aside) and sets k = min(1, target / P(S)). Returns k per item."""
    if not 0 < target <= 1:
        raise CatConfigError("the exposure target must be in (0, 1]")
    k = np.ones(len(bank.items))
    rng = np.random.default_rng(seed)
    for r in range(rounds):
        thetas = rng.standard_normal(candidates)
        current = replace(rules, exposure=k)
        selected = np.zeros(len(bank.items))
        sim_rng = np.random.default_rng(seed + 1 + r)
        for true in thetas:
            state = CatState()
            while True:
                item, state, _ = select(bank, current, state, sim_rng)
                if item is None:
                    break
                state = answer(bank, state, item, bank.draw(float(true), item, sim_rng))
            selected[list(state.administered)] += 1
            selected[list(state.blocked)] += 1
        rate = selected / candidates
        k = np.where(rate > target, target / np.maximum(rate, 1e-12), 1.0)
        k = np.clip(k, 1e-3, 1.0)
    return k


# --- adaptive sections of an assessment ----------------------------------------------------


def section_bank(pool: Sequence[PinnedCatItem]) -> CatBank:
    """The bank of an adaptive section from its pinned pool (rows in the pool's order)."""
    return CatBank(
        [p.ref for p in pool],
        np.array([p.a for p in pool], dtype=np.float64),
        np.array([p.d for p in pool], dtype=np.float64),
        np.array([p.c for p in pool], dtype=np.float64),
        [frozenset(p.tags) for p in pool],
    )


def section_rules(settings: Adaptive, pool: Sequence[PinnedCatItem]) -> CatRules:
    """The engine's rules for an adaptive section (exposure parameters from the pool)."""
    controlled = settings.exposure_target is not None
    return CatRules(
        selection=settings.selection,
        randomesque=settings.randomesque,
        strata=settings.strata,
        se_target=settings.se_target,
        min_items=settings.min_items,
        max_items=settings.max_items,
        max_seconds=float(settings.max_seconds) if settings.max_seconds is not None else None,
        content=dict(settings.content),
        exposure=np.array([p.exposure for p in pool], dtype=np.float64) if controlled else None,
    )


def step_rng(seed: int, step: int) -> np.random.Generator:
    """The random draws of an attempt's ``step``-th selection: fixed by the attempt's seed
    and the step, so selecting again (after a crash, in another process) draws the same."""
    return np.random.default_rng([seed & 0xFFFFFFFF, step])


def replay(
    bank: CatBank,
    steps: Sequence[tuple[str, int | None, Sequence[str]]],
    seconds: float = 0.0,
) -> CatState:
    """The state after the section's answered steps, each ``(ref, right or None while not
    answered, refs set aside by exposure control at its selection)``. A step still waiting
    for its answer counts as administered, not answered (so it is never selected again)."""
    row = {ref: j for j, ref in enumerate(bank.items)}
    state = CatState()
    blocked: set[int] = set()
    pending: list[int] = []
    for ref, right, set_aside in steps:
        blocked.update(row[r] for r in set_aside if r in row)
        if right is None:
            pending.append(row[ref])
            continue
        state = answer(bank, state, row[ref], right)
    return replace(
        state,
        administered=(*state.administered, *pending),
        blocked=frozenset(blocked),
        seconds=seconds,
    )


def scaled(settings: Adaptive, theta: float, se: float) -> tuple[float, float]:
    """The section's reported score and its SE (theta and SE when no scale is set)."""
    if settings.scale is None:
        return theta, se
    value = settings.scale.slope * theta + settings.scale.intercept
    if settings.scale.lowest is not None:
        value = max(value, settings.scale.lowest)
    if settings.scale.highest is not None:
        value = min(value, settings.scale.highest)
    return value, abs(settings.scale.slope) * se


def section_ability(
    settings: Adaptive, pool: Sequence[PinnedCatItem], answers: Sequence[tuple[str, bool]]
) -> dict[str, float]:
    """The final estimate of an adaptive section from its answers in the order given
    (``(ref, right)``): ``theta`` and ``se`` (EAP and posterior SD), ``scaled`` and
    ``scaled_se`` (by the section's scale; theta and SE without one) and ``items``."""
    bank = section_bank(pool)
    state = replay(bank, [(ref, int(right), ()) for ref, right in answers])
    value, value_se = scaled(settings, state.theta, state.se)
    return {
        "theta": state.theta,
        "se": state.se,
        "scaled": value,
        "scaled_se": value_se,
        "items": float(len(state.administered)),
    }
