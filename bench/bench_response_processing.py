"""Response processing throughput: the scalar engine against the vectorized path.

For each standard template (and one custom rule tree), the same seeded batch of responses
is scored by ``scoring.engine.evaluate`` one response at a time and by
``scoring.vectorized.score_batch`` in one call, pinned to one core, several repeats each;
the medians are printed side by side with their ratio. Every standard template is
vectorized (``map_response_point`` included: points are tested against the areas with
numpy); custom rules go through the scalar engine once per distinct response. ``batch+eval``
also materializes every ``Evaluation`` object, which the scalar engine always does.

    uv run python bench/bench_response_processing.py [--responses 20000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

ITEMS = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "items" / "qti"


def _choice_multiple(rng: random.Random) -> Any:
    roll = rng.random()
    if roll < 0.05:
        return None
    if roll < 0.07:
        return ["p2", "p2"]  # invalid: a repeat
    return [c for c in ("p2", "p3", "n4", "p5", "n9") if rng.random() < 0.5]


def _choice_single(rng: random.Random) -> Any:
    roll = rng.random()
    if roll < 0.05:
        return None
    if roll < 0.07:
        return "pluto"  # invalid: not a choice
    return rng.choice(["earth", "jupiter", "mars", "none"])


def _match(rng: random.Random) -> Any:
    sources, targets = ["fr", "de", "it"], ["paris", "berlin", "rome", "madrid"]
    rng.shuffle(targets)
    return [f"{s} {t}" for s, t in zip(sources, targets, strict=False) if rng.random() < 0.9]


def _points(rng: random.Random) -> Any:
    return [[rng.randint(0, 400), rng.randint(0, 300)] for _ in range(rng.randint(0, 2))]


def _numeric(rng: random.Random) -> Any:
    return round(rng.uniform(3.0, 3.3), 3) if rng.random() > 0.05 else None


CASES: list[tuple[str, str, Callable[[random.Random], Any]]] = [
    ("match_correct", "choice_single.v3p0.xml", _choice_single),
    ("match_correct", "gap_match.v3p0.xml", lambda r: r.choice(
        [["co2 g1", "o2 g2"], ["o2 g1", "co2 g2"], ["co2 g1"], ["n2 g1", "o2 g2"]])),
    ("map_response", "choice_multiple.v3p0.xml", _choice_multiple),
    ("map_response", "match.v3p0.xml", _match),
    ("map_response_point", "select_point.v3p0.xml", _points),
    ("custom rules", "numeric_entry.v3p0.xml", _numeric),
]  # fmt: skip


def _median_seconds(run: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    # One core: no BLAS or OpenMP threads behind numpy's back (set before numpy loads).
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, "1")
    from waa_ads.content.interchange.qti.reader import parse_item
    from waa_ads.scoring.engine import compile_item, evaluate
    from waa_ads.scoring.vectorized import score_batch

    def scalar_run(item: Any, batch: list[dict[str, Any]]) -> object:
        return [evaluate(item, r) for r in batch]

    def batch_run(item: Any, batch: list[dict[str, Any]]) -> object:
        return score_batch(item, batch).scores

    def batch_eval_run(item: Any, batch: list[dict[str, Any]]) -> object:
        return score_batch(item, batch).evaluations()

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--responses", type=int, default=20_000, help="responses per item")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per measurement")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    print(
        f"python {sys.version.split()[0]}, {args.responses} responses per item, "
        f"median of {args.repeats} runs, pinned to one core"
    )
    header = (
        f"{'template':<20} {'item':<16} {'path':<10} {'scalar r/s':>12} "
        f"{'batch r/s':>12} {'ratio':>7} {'batch+eval r/s':>15}"
    )
    print(header)
    print("-" * len(header))
    for template, file, make in CASES:
        item = parse_item((ITEMS / file).read_bytes())
        rng = random.Random(20240601)
        batch = [{"RESPONSE": make(rng)} for _ in range(args.responses)]
        compile_item(item)
        assert score_batch(item, batch[:200]).evaluations() == [
            evaluate(item, r) for r in batch[:200]
        ]
        path = "numpy" if score_batch(item, batch[:10]).vectorized else "fallback"
        scalar = _median_seconds(partial(scalar_run, item, batch), args.repeats)
        vector = _median_seconds(partial(batch_run, item, batch), args.repeats)
        full = _median_seconds(partial(batch_eval_run, item, batch), args.repeats)
        n = args.responses
        print(
            f"{template:<20} {file.split('.')[0]:<16} {path:<10} {n / scalar:>12,.0f} "
            f"{n / vector:>12,.0f} {scalar / vector:>6.1f}x {n / full:>15,.0f}"
        )


if __name__ == "__main__":
    main()
