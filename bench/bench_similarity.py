"""Answer similarity at scale: time and peak memory of the omega-type index over N
candidates x M items (blocked pair computation, exact p-values for screened pairs, BH),
beside a floor (the plain numpy pairwise identical-answer count, blocked the same way),
and the detection rate of each on simulated copying at a 1% false-positive rate on the
simulated honest candidates of the same run.

    uv run python bench/bench_similarity.py                      # 10,000 x 60, 3 runs
    uv run python bench/bench_similarity.py --candidates 2000 --runs 5

Honest candidates follow a 2PL IRT model with distractors of unequal popularity
(``waa_ads.integrity.simulate``); ``--copiers`` of them copy ``--share`` of their answers
from their neighbour. Detection at 1% FPR: the threshold is the 99th percentile of the
statistic over ``--honest-sample`` random honest ordered pairs, the rate is the share of
the copier->source pairs above it (the index uses its z value, the floor its count; a
discrete count is reported with the false-positive rate it actually reaches). The flagged
column is what the product reports: pairs flagged after Benjamini-Hochberg at 0.01.
"""

from __future__ import annotations

import argparse
import statistics
import time
import tracemalloc

import numpy as np
import numpy.typing as npt

from waa_ads.integrity.similarity import _one_hot, probabilities, similarity
from waa_ads.integrity.simulate import Simulated, honest, with_copying


def floor_counts(codes: npt.NDArray[np.int32], block: int = 512) -> int:
    """The floor: identical answers of every ordered pair, blocked; returns the number of
    pairs with at least 80% identical answers (something to keep the result alive)."""
    n, m = codes.shape
    hot = _one_hot(codes, int(codes.max()) + 1)
    high = 0
    for start in range(0, n, block):
        same = hot[start : start + block] @ hot.T
        high += int((same >= 0.8 * m).sum())
    return high


def timed(fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    tracemalloc.start()
    began = time.perf_counter()
    out = fn(*args, **kwargs)
    elapsed = time.perf_counter() - began
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return out, elapsed, peak / 2**20


def pair_stats(
    sim: Simulated, a: npt.NDArray[np.int64], b: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """(index z, identical count) of the ordered pairs a->b."""
    codes = sim.codes
    n, m = codes.shape
    p, _, k = probabilities(codes, sim.correct)
    p_items = p.reshape(n, m, k).astype(np.float64)
    z = np.empty(len(a))
    same = np.empty(len(a))
    for s in range(0, len(a), 50_000):
        aa, bb = a[s : s + 50_000], b[s : s + 50_000]
        src = codes[bb]
        pick = np.take_along_axis(p_items[aa], src[:, :, None], axis=2)[:, :, 0]
        matches = (codes[aa] == src).sum(axis=1)
        expected = pick.sum(axis=1)
        variance = (pick * (1 - pick)).sum(axis=1)
        z[s : s + 50_000] = (matches - expected) / np.sqrt(variance)
        same[s : s + 50_000] = matches
    return z, same


def detection(sim: Simulated, honest_sample: int, seed: int) -> tuple[float, float, float, float]:
    rng = np.random.default_rng(seed)
    n = sim.codes.shape[0]
    copier = np.array([c for c, _ in sim.copiers])
    source = np.array([s for _, s in sim.copiers])
    involved = set(copier.tolist()) | set(source.tolist())
    a = rng.integers(0, n, honest_sample * 2)
    b = rng.integers(0, n, honest_sample * 2)
    keep = (a != b) & ~np.isin(a, list(involved)) & ~np.isin(b, list(involved))
    a, b = a[keep][:honest_sample], b[keep][:honest_sample]
    hz, hs = pair_stats(sim, a, b)
    cz, cs = pair_stats(sim, copier, source)
    z_cut = float(np.quantile(hz, 0.99))
    s_cut = float(np.quantile(hs, 0.99))
    return (
        float((cz > z_cut).mean()),
        float((cs > s_cut).mean()),
        float((hs > s_cut).mean()),
        float((hz > z_cut).mean()),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--candidates", type=int, default=10_000)
    parser.add_argument("--items", type=int, default=60)
    parser.add_argument("--copiers", type=int, default=100)
    parser.add_argument("--shares", default="0.2,0.3,0.5")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--honest-sample", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    n, m = args.candidates, args.items
    print(f"answer similarity: {n:,} candidates x {m} items ({n * (n - 1):,} ordered pairs)")
    print("the machine is shared: compare the index with the floor of the same run\n")

    base = honest(n, m, seed=args.seed)
    sim = with_copying(base, pairs=args.copiers, share=0.3, seed=args.seed + 1)
    index_times, floor_times, index_mem, floor_mem = [], [], [], []
    flagged = 0
    for _ in range(args.runs):
        result, seconds, peak = timed(similarity, sim.codes, sim.correct)
        index_times.append(seconds)
        index_mem.append(peak)
        flagged = len(result.pairs)
        _, seconds, peak = timed(floor_counts, sim.codes)
        floor_times.append(seconds)
        floor_mem.append(peak)
    t_index, t_floor = statistics.median(index_times), statistics.median(floor_times)
    print(f"{'':28}{'median s':>10}{'runs':>28}{'peak MiB':>10}")
    print(
        f"{'omega-type index + BH':28}{t_index:>10.2f}"
        f"{' '.join(f'{t:.2f}' for t in index_times):>28}{max(index_mem):>10.0f}"
    )
    print(
        f"{'floor: identical counts':28}{t_floor:>10.2f}"
        f"{' '.join(f'{t:.2f}' for t in floor_times):>28}{max(floor_mem):>10.0f}"
    )
    print(f"ratio index / floor: {t_index / t_floor:.2f}x time\n")

    print(f"detection of {args.copiers} copiers at 1% FPR on {args.honest_sample:,} honest pairs")
    print(
        f"{'share copied':>12}{'index':>10}{'floor':>10}{'floor FPR':>11}"
        f"{'BH 0.01 flags':>15}{'of them copiers':>17}"
    )
    for share in (float(s) for s in args.shares.split(",")):
        copied = with_copying(base, pairs=args.copiers, share=share, seed=args.seed + 1)
        rate, floor_rate, floor_fpr, _ = detection(copied, args.honest_sample, args.seed)
        found = similarity(copied.codes, copied.correct)
        planted = {tuple(sorted(p)) for p in copied.copiers}
        true_flags = sum(1 for f in found.pairs if tuple(sorted((f.a, f.b))) in planted)
        print(
            f"{share:>12.0%}{rate:>10.1%}{floor_rate:>10.1%}{floor_fpr:>11.2%}"
            f"{len(found.pairs):>15}{true_flags:>17}"
        )
    print(f"\n(timed run: share 30%, {flagged} pairs flagged)")


if __name__ == "__main__":
    main()
