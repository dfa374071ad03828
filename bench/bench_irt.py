"""2PL calibration at scale and the item-analysis update, each beside a reference or floor
measured in the same run.

    uv run python bench/bench_irt.py                          # 100,000 x 100, 3 runs
    uv run python bench/bench_irt.py --persons 20000 --items 50 --runs 5

Per run:

- **ours**: ``waa_ads.psychometrics.irt.calibrate(scores, "2pl", standard_errors=False)``
  (EM, 61 fixed nodes, to a largest parameter change below 1e-4), and separately the
  cross-product standard errors at the solution;
- **girth**: ``girth.twopl_mml`` (PyPI, marginal maximum likelihood) on the same matrix;
- **floor**: one EM iteration's numpy core on the same matrix (the E-step's two matrix
  products, the posterior and the expected counts), times the iterations ours took;
- the largest absolute difference between our a and b and girth's, and between each and
  the generating values;
- **item analysis**: ``ItemAnalysisAccumulator.add`` per scored attempt (100 items),
  against the floor of adding the same vector to running numpy sums.

Wall time by ``time.perf_counter``; peak memory by ``tracemalloc`` (numpy buffers are
traced) in a separate pass so that tracing does not slow the timed pass. Medians over runs.
"""

from __future__ import annotations

import argparse
import statistics
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np

from waa_ads.psychometrics import irt
from waa_ads.psychometrics.classical import ItemAnalysisAccumulator


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    began = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - began


def peak_mib(fn: Callable[[], Any]) -> float:
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def em_floor(scores: np.ndarray, params: np.ndarray) -> None:
    theta, prior = irt.quadrature()
    p = 1 / (1 + np.exp(-(params[:, :1] * theta[None, :] + params[:, 1:2])))
    x1 = (scores == 1).astype(np.float32)
    x0 = (scores == 0).astype(np.float32)
    ll = x1 @ np.log(p).astype(np.float32) + x0 @ np.log(1 - p).astype(np.float32)
    ll = ll + np.log(prior)
    post = np.exp(ll - ll.max(axis=1, keepdims=True))
    post /= post.sum(axis=1, keepdims=True)
    _ = x1.T @ post, x0.T @ post


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    try:
        import girth  # type: ignore[import-untyped]
    except ImportError:  # pragma: no cover - girth is a dev dependency
        girth = None

    rng = np.random.default_rng(args.seed)
    true = np.column_stack([rng.uniform(0.6, 2.2, args.items), rng.normal(0, 1.2, args.items)])
    scores, _ = irt.simulate("2pl", true, np.full(args.items, 2.0), args.persons, args.seed)
    true_b = -true[:, 1] / true[:, 0]
    print(f"2PL, {args.persons:,} persons x {args.items} items, seed {args.seed}; busy machine")

    rows: dict[str, list[float]] = {k: [] for k in ("ours", "se", "girth", "floor")}
    for run in range(args.runs):
        fit, t_ours = timed(lambda: irt.calibrate(scores, "2pl", standard_errors=False))
        _, t_se = timed(lambda: irt._crossprod_covariance(_problem(scores, fit), fit.params))  # noqa: B023
        _, t_one = timed(lambda: em_floor(scores, fit.params))  # noqa: B023
        rows["ours"].append(t_ours)
        rows["se"].append(t_se)
        rows["floor"].append(t_one * fit.iterations)
        a = np.array([i.a for i in fit.items])
        b = np.array([i.b for i in fit.items])
        line = (
            f"run {run + 1}: ours {t_ours:.1f} s ({fit.iterations} iterations, converged "
            f"{fit.converged}), SEs {t_se:.1f} s, floor {t_one * fit.iterations:.1f} s "
            f"({t_one:.2f} s x {fit.iterations}); max |a-true| {np.abs(a - true[:, 0]).max():.3f}"
            f" |b-true| {np.abs(b - true_b).max():.3f}"
        )
        if girth is not None:
            theirs, t_girth = timed(lambda: girth.twopl_mml(scores.T))
            rows["girth"].append(t_girth)
            da = np.abs(a - theirs["Discrimination"]).max()
            db = np.abs(b - theirs["Difficulty"]).max()
            line += f"; girth {t_girth:.1f} s, max |a-girth| {da:.4f} |b-girth| {db:.4f}"
        print(line, flush=True)

    med = {k: statistics.median(v) for k, v in rows.items() if v}
    print(
        f"median: ours {med['ours']:.1f} s, floor {med['floor']:.1f} s "
        f"(ours/floor {med['ours'] / med['floor']:.2f}), SEs {med['se']:.1f} s"
        + (
            f", girth {med['girth']:.1f} s (ours/girth {med['ours'] / med['girth']:.2f})"
            if "girth" in med
            else ""
        )
    )
    mem_ours = peak_mib(lambda: irt.calibrate(scores, "2pl", standard_errors=False))
    line = f"peak traced memory: ours {mem_ours:.0f} MiB"
    if girth is not None:
        line += f", girth {peak_mib(lambda: girth.twopl_mml(scores.T)):.0f} MiB"
    line += f" (the score matrix itself: {scores.nbytes / 2**20:.0f} MiB as int64)"
    print(line)

    # item analysis: one scored attempt at a time
    items = [f"q{j}" for j in range(args.items)]
    attempts = [dict(zip(items, row.tolist(), strict=True)) for row in scores[:20_000]]
    per_add: list[float] = []
    per_floor: list[float] = []
    for _ in range(args.runs):
        acc = ItemAnalysisAccumulator(items, dict.fromkeys(items, 1.0))
        _, t = timed(lambda: [acc.add(a) for a in attempts])  # noqa: B023
        per_add.append(t / len(attempts))
        sums = np.zeros(args.items)
        squares = np.zeros(args.items)

        def floor_add() -> None:
            for a in attempts:
                v = np.fromiter(a.values(), float, args.items)
                sums.__iadd__(v)  # noqa: B023
                squares.__iadd__(v * v)  # noqa: B023

        _, t = timed(floor_add)
        per_floor.append(t / len(attempts))
        _, t_res = timed(acc.result)
    print(
        f"item analysis add per attempt ({args.items} items): "
        f"{statistics.median(per_add) * 1e6:.1f} us, floor {statistics.median(per_floor) * 1e6:.1f} us "
        f"(ratio {statistics.median(per_add) / statistics.median(per_floor):.1f}); "
        f"statistics of {len(attempts):,} attempts: {t_res * 1e3:.1f} ms"
    )


def _problem(scores: np.ndarray, fit: irt.Calibration) -> irt._Problem:
    theta, prior = irt.quadrature()
    return irt._Problem(
        "2pl",
        scores,
        np.ones(scores.shape[0]),
        fit.ncat,
        theta,
        prior,
        irt._free_mask("2pl", fit.ncat, 2),
    )


if __name__ == "__main__":
    main()
