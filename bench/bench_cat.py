"""Adaptive testing: item selection latency per step with a large bank, beside a floor
measured in the same run.

    uv run python bench/bench_cat.py                      # 10,000 items, 200 candidates, 3 runs
    uv run python bench/bench_cat.py --items 2000 --candidates 500 --runs 5

Per run, ``--candidates`` simulated candidates (theta ~ N(0, 1)) take a 30-item test from a
2PL/3PL bank of ``--items`` items (a ~ U(0.6, 2.2), d ~ N(0, 1.5), c = 0 or 0.2, three
tags). Timed per step, separately:

- **select, max-info**: ``adaptive.select`` (information of every item left at the
  estimate, then the best), the engine's whole selection step;
- **select, randomesque / a-stratified / max-info + content balancing / max-info +
  Sympson-Hetter** (k = 0.5 on every item): the other rules;
- **update**: ``adaptive.answer`` (the EAP update on the 81-point grid);
- **floor**: ``np.argmax`` over a row of information precomputed for the whole bank on the
  grid (nearest grid point to the estimate, items given masked with -inf): what selection
  costs when nothing is computed per step.

Medians over every step of every run, and the ratio of each to the floor.
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import replace

import numpy as np

from waa_ads.assessments import adaptive
from waa_ads.assessments.adaptive import CatBank, CatRules, CatState


def make_bank(items: int, seed: int) -> CatBank:
    rng = np.random.default_rng(seed)
    return CatBank(
        [f"i{j}" for j in range(items)],
        rng.uniform(0.6, 2.2, items),
        rng.normal(0, 1.5, items),
        np.where(rng.random(items) < 0.5, 0.0, 0.2),
        [frozenset({("alg", "geo", "num")[j % 3]}) for j in range(items)],
    )


def run(
    bank: CatBank, rules: CatRules, candidates: int, seed: int
) -> tuple[list[float], list[float]]:
    """Per-step select and answer times (seconds) of a run."""
    rng = np.random.default_rng(seed)
    selects: list[float] = []
    answers: list[float] = []
    for true in rng.standard_normal(candidates):
        state = CatState()
        while True:
            began = time.perf_counter()
            item, state, _ = adaptive.select(bank, rules, state, rng)
            selects.append(time.perf_counter() - began)
            if item is None:
                break
            right = int(rng.random() < float(bank.probability(float(true), np.array([item]))[0]))
            began = time.perf_counter()
            state = adaptive.answer(bank, state, item, right)
            answers.append(time.perf_counter() - began)
    return selects, answers


def floor(bank: CatBank, candidates: int, steps: int, seed: int) -> list[float]:
    """argmax over precomputed information rows, the given items masked."""
    table = np.stack([bank.information(float(t)) for t in adaptive.GRID])  # (grid, items)
    rng = np.random.default_rng(seed)
    out: list[float] = []
    for _ in range(candidates):
        given = np.zeros(len(bank.items), dtype=bool)
        theta = 0.0
        for _ in range(steps):
            began = time.perf_counter()
            row = table[int(np.abs(adaptive.GRID - theta).argmin())]
            pick = int(np.argmax(np.where(given, -np.inf, row)))
            out.append(time.perf_counter() - began)
            given[pick] = True
            theta = float(np.clip(theta + rng.normal(0, 0.3), -3, 3))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--candidates", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    bank = make_bank(args.items, seed=1)
    base = CatRules(se_target=None, min_items=30, max_items=30)
    rules = {
        "max-info": base,
        "randomesque (5)": replace(base, selection="randomesque"),
        "a-stratified (4)": replace(base, selection="a-stratified"),
        "max-info + content": replace(base, content={"alg": 0.5, "geo": 0.3, "num": 0.2}),
        "max-info + Sympson-Hetter": replace(base, exposure=np.full(args.items, 0.5)),
    }
    times: dict[str, list[float]] = {name: [] for name in rules}
    updates: list[float] = []
    floors: list[float] = []
    for r in range(args.runs):
        for name, rule in rules.items():
            selects, answers = run(bank, rule, args.candidates, seed=100 + r)
            times[name].extend(selects)
            updates.extend(answers)
        floors.extend(floor(bank, args.candidates, 30, seed=200 + r))
    floor_median = statistics.median(floors)
    print(
        f"bank {args.items:,} items, {args.candidates} candidates x 30 items, {args.runs} runs"
        " (medians per step)"
    )
    print(f"{'':32} {'median':>10} {'p90':>10} {'/floor':>8}")
    for name, values in times.items():
        median = statistics.median(values)
        p90 = float(np.percentile(values, 90))
        print(
            f"select, {name:24} {median * 1e6:8.1f}µs {p90 * 1e6:8.1f}µs"
            f" {median / floor_median:8.1f}"
        )
    median = statistics.median(updates)
    print(f"{'update (EAP, 81 points)':32} {median * 1e6:8.1f}µs")
    print(f"{'floor: argmax of precomputed':32} {floor_median * 1e6:8.1f}µs")


if __name__ == "__main__":
    main()
