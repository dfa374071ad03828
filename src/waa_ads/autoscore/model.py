"""A per-item model that scores free-text answers from human scores (pure).

``train`` fits a ridge regression on word and character n-gram TF-IDF and on length,
vocabulary and spelling-ish features; cut points chosen on out-of-fold predictions turn its
continuous output into a score on the item's scale. Every figure in the
:class:`TrainingReport` comes from answers the model had not seen: the supervised parts
(regression, cut points, confidence) are refit inside each cross-validation fold; the
unsupervised vocabulary is built once from all training texts.

Confidence is conformal. The out-of-fold residuals, divided by a fitted per-answer scale,
are the calibration scores; for a new answer the p-value of a candidate score ``k`` is the
share of calibration scores at least as large as ``|k - raw| / scale``. ``confidence`` is one
minus the largest p-value of the scores more than ``tolerance`` away from the given score:
the highest level at which the conformal prediction set stays within ``score ± tolerance``.
Answers below ``TrainConfig.confidence`` go to a person, as do answers a screen
(:func:`waa_ads.autoscore.features.screen`) finds unlike the training data.

A model serializes to a zip of JSON and ``.npz`` arrays (loaded with ``allow_pickle=False``)
behind a SHA-256 of the whole; nothing stored is ever executed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import math
import platform
import time
import zipfile
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import scipy
import scipy.sparse as sp
import sklearn  # type: ignore[import-untyped]
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer  # type: ignore[import-untyped]
from sklearn.linear_model import RidgeCV  # type: ignore[import-untyped]
from sklearn.model_selection import KFold, StratifiedKFold  # type: ignore[import-untyped]

from waa_ads.autoscore import embeddings as emb
from waa_ads.autoscore import features as feat
from waa_ads.autoscore.errors import (
    EmbeddingModelUnavailable,
    ModelCorrupt,
    ModelVersionMismatch,
    TrainingDataInvalid,
)
from waa_ads.autoscore.metrics import Agreement, agreement

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]

#: Bumped whenever the stored layout changes; a model of another format refuses to load.
FORMAT = "waa-ads-essay-model/1"
MAGIC = b"WAAESSAY1\n"
MODEL_FILE = "model.waa"
REPORT_FILE = "report.json"
MIN_RESPONSES = 20
ALPHAS = (0.3, 1.0, 3.0, 10.0, 30.0, 100.0)
COMMON_WORDS = 50
#: How new models embed answers longer than the embedding model's maximum length (the
#: whole answer, window by window); recorded with the model's embedding identity.
EMBEDDING_LONG_TEXTS = "windows"
_ZIP_DATE = (2000, 1, 1, 0, 0, 0)


def library_versions() -> dict[str, str]:
    """The versions a model records at training and must find again to score."""
    return {
        "format": FORMAT,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "scikit-learn": sklearn.__version__,
    }


# --- inputs -------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainingSet:
    """Human-scored answers to one item. ``second_scores`` (a second person's score, None
    where there is none) give the human-human agreement the model is compared with;
    ``groups`` (None where unknown) give per-group differences for fairness."""

    ids: list[str]
    texts: list[str]
    scores: list[int]
    min_score: int
    max_score: int
    second_scores: list[int | None] | None = None
    groups: list[str | None] | None = None
    prompt_text: str | None = None

    def validate(self, folds: int) -> None:
        """Raise :class:`TrainingDataInvalid` for data no model can be trained from."""
        n = len(self.ids)
        if len(self.texts) != n or len(self.scores) != n:
            raise TrainingDataInvalid("ids, texts and scores must have the same length")
        for name, column in (("second_scores", self.second_scores), ("groups", self.groups)):
            if column is not None and len(column) != n:
                raise TrainingDataInvalid(f"{name} must have one entry per response")
        if len(set(self.ids)) != n:
            raise TrainingDataInvalid("response ids must be unique")
        if self.min_score >= self.max_score:
            raise TrainingDataInvalid("min_score must be below max_score")
        if n < max(MIN_RESPONSES, 2 * folds):
            raise TrainingDataInvalid(
                f"{n} scored responses; at least {max(MIN_RESPONSES, 2 * folds)} are needed"
            )
        seconds = [s for s in (self.second_scores or []) if s is not None]
        for s in [*self.scores, *seconds]:
            if not self.min_score <= s <= self.max_score:
                raise TrainingDataInvalid(
                    f"score {s} lies outside {self.min_score}..{self.max_score}"
                )
        if len(set(self.scores)) < 2:
            raise TrainingDataInvalid("every response has the same score; nothing to learn")
        if sum(1 for t in self.texts if feat.words(t)) < max(MIN_RESPONSES, 2 * folds):
            raise TrainingDataInvalid("too few responses contain any words")


@dataclass(frozen=True)
class TrainConfig:
    """``confidence``: the conformal level a score must reach to be given automatically
    (also the target coverage of the prediction sets); ``tolerance``: how many points from
    the given score the true score may lie at that level; ``check_share``: the share of
    confident answers also sent to people as a quality check (chosen by a hash of the
    answer id and ``seed``, so the same answer is always chosen alike)."""

    folds: int = 5
    confidence: float = 0.9
    check_share: float = 0.0
    seed: int = 0
    tolerance: int = 1
    word_ngrams: tuple[int, int] = (1, 2)
    char_ngrams: tuple[int, int] = (2, 5)
    max_word_features: int = 30000
    max_char_features: int = 40000
    dense_weight: float = 1.0
    #: Character n-grams count half as much as words in the ridge penalty (measured on
    #: the ASAP essays: +0.01 to +0.02 QWK on prompts 2 and 3 over equal weights).
    char_weight: float = 0.5
    min_group_size: int = 10
    #: Add the sentence embedding of each answer (see :mod:`waa_ads.autoscore.embeddings`),
    #: centred on the training answers' mean and multiplied by ``embedding_weight``
    #: (measured on the ASAP essays: centred unit vectors at weight 1 to 2 did better than
    #: standardized dimensions at any weight).
    embeddings: bool = False
    embedding_weight: float = 1.0

    def __post_init__(self) -> None:
        if self.folds < 2:
            raise TrainingDataInvalid("folds must be at least 2")
        if not 0.0 < self.confidence < 1.0:
            raise TrainingDataInvalid("confidence must lie strictly between 0 and 1")
        if not 0.0 <= self.check_share <= 1.0:
            raise TrainingDataInvalid("check_share must lie between 0 and 1")
        if self.tolerance < 0:
            raise TrainingDataInvalid("tolerance must not be negative")


# --- outputs ------------------------------------------------------------------------------


@dataclass
class Prediction:
    score: int
    confidence: float
    route: Literal["auto", "human"]
    reason: str | None
    id: str | None = None
    #: The model's continuous output before the cut points.
    raw: float = 0.0


@dataclass(frozen=True)
class Contribution:
    feature: str
    value: float
    contribution: float


@dataclass(frozen=True)
class Neighbour:
    id: str
    score: int
    similarity: float


@dataclass(frozen=True)
class Explanation:
    """Why an answer got its score: the features that pushed it up and down (each
    contribution is coefficient * (value - training mean), in score points) and the most
    similar human-scored training answers."""

    score: int
    raw: float
    baseline: float
    up: list[Contribution]
    down: list[Contribution]
    neighbours: list[Neighbour]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class GroupDifference:
    group: str
    n: int
    smd: float
    human_mean: float
    model_mean: float


@dataclass(frozen=True)
class RoutingFigure:
    """Held-out routing at one tolerance and the configured confidence: the share kept
    automatic and the agreement of those scores with the humans."""

    tolerance: int
    auto_share: float
    auto: Agreement

    def to_dict(self) -> dict[str, Any]:
        return {
            "tolerance": self.tolerance,
            "auto_share": _finite(self.auto_share),
            "auto": self.auto.to_dict(),
        }


@dataclass(frozen=True)
class TrainingReport:
    """Cross-validated quality of a model against the human scores.

    ``model`` is the agreement of the held-out model scores with the (first) human score;
    ``human`` the agreement of the second human score with the first, on the responses that
    have one, and ``model_on_double`` the model's agreement on those same responses.
    ``coverage`` is the share of held-out answers whose true score lies in the conformal
    prediction set at ``confidence``; ``auto_share`` and ``auto`` are the share given
    automatically and their agreement, with routing calibrated on the other folds."""

    n: int
    min_score: int
    max_score: int
    folds: int
    model: Agreement
    human: Agreement | None
    model_on_double: Agreement | None
    confidence: float
    tolerance: int
    coverage: float
    mean_set_size: float
    auto_share: float
    auto: Agreement
    groups: list[GroupDifference]
    alpha: float
    features: int
    training_seconds: float
    library_versions: dict[str, str]
    #: The same held-out routing at tolerances 0, 1 and 2 (what another tolerance keeps).
    routing: tuple[RoutingFigure, ...] = ()

    @property
    def qwk(self) -> float:
        return self.model.qwk

    @property
    def smd(self) -> float:
        return self.model.smd

    @property
    def human_qwk(self) -> float | None:
        return None if self.human is None else self.human.qwk

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "min_score": self.min_score,
            "max_score": self.max_score,
            "folds": self.folds,
            "model": self.model.to_dict(),
            "human": None if self.human is None else self.human.to_dict(),
            "model_on_double": None
            if self.model_on_double is None
            else self.model_on_double.to_dict(),
            "confidence": self.confidence,
            "tolerance": self.tolerance,
            "coverage": _finite(self.coverage),
            "mean_set_size": _finite(self.mean_set_size),
            "auto_share": _finite(self.auto_share),
            "auto": self.auto.to_dict(),
            "groups": [{k: _finite(v) for k, v in asdict(g).items()} for g in self.groups],
            "alpha": self.alpha,
            "features": self.features,
            "training_seconds": self.training_seconds,
            "library_versions": dict(self.library_versions),
            "routing": [r.to_dict() for r in self.routing],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainingReport:
        def agr(d: dict[str, Any] | None) -> Agreement | None:
            if d is None:
                return None
            return Agreement(
                int(d["n"]), _nan(d["qwk"]), _nan(d["exact"]), _nan(d["adjacent"]), _nan(d["smd"])
            )

        model = agr(data["model"])
        auto = agr(data["auto"])
        assert model is not None
        assert auto is not None
        return cls(
            n=int(data["n"]),
            min_score=int(data["min_score"]),
            max_score=int(data["max_score"]),
            folds=int(data["folds"]),
            model=model,
            human=agr(data["human"]),
            model_on_double=agr(data["model_on_double"]),
            confidence=float(data["confidence"]),
            tolerance=int(data["tolerance"]),
            coverage=_nan(data["coverage"]),
            mean_set_size=_nan(data["mean_set_size"]),
            auto_share=_nan(data["auto_share"]),
            auto=auto,
            groups=[
                GroupDifference(
                    str(g["group"]),
                    int(g["n"]),
                    _nan(g["smd"]),
                    _nan(g["human_mean"]),
                    _nan(g["model_mean"]),
                )
                for g in data["groups"]
            ],
            alpha=float(data["alpha"]),
            features=int(data["features"]),
            training_seconds=float(data["training_seconds"]),
            library_versions={str(k): str(v) for k, v in data["library_versions"].items()},
            routing=tuple(
                RoutingFigure(int(r["tolerance"]), _nan(r["auto_share"]), agr(r["auto"]))  # type: ignore[arg-type]
                for r in data.get("routing", [])
            ),
        )


def _finite(value: object) -> object:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def _nan(value: object) -> float:
    return math.nan if value is None else float(value)  # type: ignore[arg-type]


# --- the text representation --------------------------------------------------------------


@dataclass(frozen=True)
class _Tfidf:
    """TF-IDF with a fixed vocabulary: sublinear term frequency, smoothed IDF, rows of unit
    length (as scikit-learn's TfidfVectorizer computes it)."""

    analyzer: str
    ngrams: tuple[int, int]
    vocabulary: dict[str, int]
    idf: Floats

    @classmethod
    def fit(
        cls,
        texts: Sequence[str],
        analyzer: str,
        ngrams: tuple[int, int],
        max_features: int,
        min_df: int = 2,
        max_df: float = 1.0,
        stop_words: Sequence[str] | None = None,
    ) -> _Tfidf:
        vec = TfidfVectorizer(
            analyzer=analyzer,
            ngram_range=ngrams,
            min_df=min_df,
            max_df=max_df,
            stop_words=list(stop_words) if stop_words else None,
            max_features=max_features,
            sublinear_tf=True,
            token_pattern=feat.TOKEN_PATTERN if analyzer == "word" else None,
            dtype=np.float64,
        )
        try:
            vec.fit(texts)
        except ValueError:  # no term survives min_df: an empty representation
            return cls(analyzer, ngrams, {}, np.zeros(0))
        vocabulary = {str(term): int(i) for term, i in vec.vocabulary_.items()}
        return cls(analyzer, ngrams, vocabulary, np.asarray(vec.idf_, dtype=np.float64))

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        if not self.vocabulary:
            return sp.csr_matrix((len(texts), 0), dtype=np.float64)
        counts = CountVectorizer(
            analyzer=self.analyzer,
            ngram_range=self.ngrams,
            vocabulary=self.vocabulary,
            token_pattern=feat.TOKEN_PATTERN if self.analyzer == "word" else None,
            dtype=np.float64,
        ).transform(texts)
        counts = sp.csr_matrix(counts, dtype=np.float64)
        counts.data = 1.0 + np.log(counts.data)
        weighted = counts @ sp.diags(self.idf)
        norms = np.sqrt(np.asarray(weighted.multiply(weighted).sum(axis=1)).ravel())
        norms[norms == 0.0] = 1.0
        normalized: sp.csr_matrix = sp.csr_matrix(sp.diags(1.0 / norms) @ weighted)
        return normalized

    def names(self) -> list[str]:
        out = [""] * len(self.vocabulary)
        for term, i in self.vocabulary.items():
            out[i] = term
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "analyzer": self.analyzer,
            "ngrams": list(self.ngrams),
            "vocabulary": self.vocabulary,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], idf: Floats) -> _Tfidf:
        lo, hi = data["ngrams"]
        vocabulary = {str(k): int(v) for k, v in data["vocabulary"].items()}
        if len(vocabulary) != idf.shape[0]:
            raise ModelCorrupt("the vocabulary and its IDF weights differ in length")
        return cls(str(data["analyzer"]), (int(lo), int(hi)), vocabulary, idf)


@dataclass(frozen=True)
class _Embedding:
    """Sentence-embedding columns: the encoder's unit vectors minus the training answers'
    mean vector, divided by ``scale`` (ones: the dimensions keep their own spread), times
    ``weight``."""

    encoder: emb.SentenceEncoder
    identity: dict[str, Any]
    mean: Floats
    scale: Floats
    weight: float

    @classmethod
    def fit(cls, encoder: emb.SentenceEncoder, vectors: Floats, weight: float) -> _Embedding:
        ones = np.ones(vectors.shape[1])
        identity = {**encoder.identity(), "long_texts": EMBEDDING_LONG_TEXTS}
        return cls(encoder, identity, vectors.mean(axis=0), ones, weight)

    @property
    def long_texts(self) -> str:
        """How long answers are embedded: ``windows`` (the whole answer) for models that
        record it, ``truncate`` (the first window) for models trained before windows."""
        return str(self.identity.get("long_texts", "truncate"))

    def columns(self, vectors: Floats) -> Floats:
        out: Floats = (vectors - self.mean) / self.scale * self.weight
        return out

    def transform(self, texts: Sequence[str]) -> Floats:
        return self.columns(self.encoder.encode(texts, long_texts=self.long_texts))


@dataclass
class _Representation:
    word: _Tfidf
    char: _Tfidf
    dense: feat.DenseFeatures
    dense_weight: float
    char_weight: float = 1.0
    embedding: _Embedding | None = None

    def transform(self, texts: Sequence[str], vectors: Floats | None = None) -> sp.csr_matrix:
        """The feature rows of ``texts`` (``vectors``: their embeddings, when already
        computed)."""
        dense = self.dense.transform(texts) * self.dense_weight
        chars = self.char.transform(texts) * self.char_weight
        blocks = [self.word.transform(texts), chars, sp.csr_matrix(dense)]
        if self.embedding is not None:
            cols = (
                self.embedding.transform(texts)
                if vectors is None
                else self.embedding.columns(vectors)
            )
            blocks.append(sp.csr_matrix(cols))
        stacked: sp.csr_matrix = sp.hstack(blocks, format="csr")
        return stacked

    @property
    def width(self) -> int:
        extra = 0 if self.embedding is None else int(self.embedding.mean.size)
        return len(self.word.vocabulary) + len(self.char.vocabulary) + len(self.dense.mean) + extra

    def names(self) -> list[str]:
        extra = (
            []
            if self.embedding is None
            else [f"embedding dimension {i + 1}" for i in range(self.embedding.mean.size)]
        )
        return (
            [f"word {t!r}" for t in self.word.names()]
            + [f"letters {t!r}" for t in self.char.names()]
            + self.dense.names
            + extra
        )


# --- cut points and conformal confidence --------------------------------------------------


def _cut(raw: Floats, cuts: Floats, min_score: int) -> Ints:
    return (min_score + np.searchsorted(cuts, raw, side="right")).astype(np.int64)


def _fit_cuts(raw: Floats, y: Ints, min_score: int, max_score: int) -> Floats:
    """Cut points between adjacent scores that maximize the quadratic weighted kappa of the
    cut scores with ``y`` (coordinate ascent from the midpoints, a few sweeps)."""
    from waa_ads.autoscore.metrics import quadratic_weighted_kappa

    cuts = np.arange(min_score, max_score, dtype=np.float64) + 0.5
    best = quadratic_weighted_kappa(y, _cut(raw, cuts, min_score), min_score, max_score)
    if not math.isfinite(best):
        return cuts
    for _ in range(3):
        improved = False
        for j in range(cuts.size):
            lo = cuts[j - 1] if j > 0 else cuts[j] - 1.5
            hi = cuts[j + 1] if j + 1 < cuts.size else cuts[j] + 1.5
            for candidate in np.linspace(lo, hi, 17)[1:-1]:
                trial = cuts.copy()
                trial[j] = candidate
                value = quadratic_weighted_kappa(
                    y, _cut(raw, trial, min_score), min_score, max_score
                )
                if value > best + 1e-9:
                    best, cuts, improved = value, trial, True
        if not improved:
            break
    return cuts


@dataclass(frozen=True)
class _Scale:
    """log(scale) = a + b·raw + c·raw² + d·(log length, standardized): how far off the model
    tends to be for an answer like this one, fitted on out-of-fold residuals."""

    coef: tuple[float, float, float, float]
    clip: tuple[float, float]

    @staticmethod
    def _design(raw: Floats, loglen: Floats) -> Floats:
        return np.column_stack([np.ones_like(raw), raw, raw**2, loglen])

    @classmethod
    def fit(cls, raw: Floats, y: Ints, loglen: Floats) -> _Scale:
        resid = np.abs(y - raw)
        floor = max(float(np.median(resid)), 0.05)
        target = np.log(resid + 0.25 * floor)
        design = cls._design(raw, loglen)
        penalty = np.diag([0.0, 1.0, 1.0, 1.0])
        coef = np.linalg.solve(design.T @ design + penalty, design.T @ target)
        fitted = np.exp(design @ coef)
        lo, hi = float(np.quantile(fitted, 0.02)), float(np.quantile(fitted, 0.98))
        return cls(tuple(float(c) for c in coef), (max(lo, 1e-3), max(hi, 2e-3)))  # type: ignore[arg-type]

    def __call__(self, raw: Floats, loglen: Floats) -> Floats:
        value = np.exp(self._design(raw, loglen) @ np.asarray(self.coef))
        clipped: Floats = np.clip(value, self.clip[0], self.clip[1])
        return clipped


def _p_value(calibration: Floats, s: Floats) -> Floats:
    """(1 + #{calibration >= s}) / (n + 1), with ``calibration`` sorted ascending."""
    n = calibration.size
    at_least = n - np.searchsorted(calibration, s, side="left")
    out: Floats = (1.0 + at_least.astype(np.float64)) / (n + 1.0)
    return out


def _confidence(
    raw: Floats,
    scale: Floats,
    score: Ints,
    calibration: Floats,
    tolerance: int,
    min_score: int,
    max_score: int,
) -> Floats:
    lo = score - tolerance - 1
    hi = score + tolerance + 1
    p_lo = np.where(lo >= min_score, _p_value(calibration, np.abs(lo - raw) / scale), 0.0)
    p_hi = np.where(hi <= max_score, _p_value(calibration, np.abs(hi - raw) / scale), 0.0)
    return 1.0 - np.maximum(p_lo, p_hi)


def _prediction_sets(
    raw: Floats, scale: Floats, calibration: Floats, level: float, min_score: int, max_score: int
) -> npt.NDArray[np.bool_]:
    """sets[i, j]: whether score ``min_score + j`` lies in answer i's prediction set."""
    ks = np.arange(min_score, max_score + 1, dtype=np.float64)
    s = np.abs(ks[None, :] - raw[:, None]) / scale[:, None]
    p = _p_value(calibration, s.ravel()).reshape(s.shape)
    return p > 1.0 - level


def _check_sample(ident: str, seed: int) -> float:
    digest = hashlib.sha256(f"{seed}:{ident}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


# --- the model ----------------------------------------------------------------------------


@dataclass
class _Parts:
    """Everything a trained model consists of: plain data only."""

    rep: _Representation
    coef: Floats
    intercept: float
    feature_mean: Floats
    cuts: Floats
    scale: _Scale
    calibration: Floats
    thresholds: feat.ScreenThresholds
    char_model: feat.CharModel
    common: frozenset[str]
    topic: _Tfidf
    topic_words: frozenset[str]
    neighbour_matrix: sp.csr_matrix
    neighbour_ids: list[str]
    neighbour_scores: Ints
    prompt_trigrams: set[tuple[str, str, str]]
    config: TrainConfig
    min_score: int
    max_score: int


class TrainedModel:
    """A trained scoring model and its cross-validated report. Immutable once trained."""

    def __init__(self, parts: _Parts, report: TrainingReport) -> None:
        self._p = parts
        self.report = report

    @property
    def config(self) -> TrainConfig:
        return self._p.config

    @property
    def min_score(self) -> int:
        return self._p.min_score

    @property
    def max_score(self) -> int:
        return self._p.max_score

    # -- scoring --

    def _raw(self, texts: Sequence[str]) -> tuple[Floats, sp.csr_matrix]:
        x = self._p.rep.transform(texts)
        return np.asarray(x @ self._p.coef).ravel() + self._p.intercept, x

    def predict(self, texts: Sequence[str], ids: Sequence[str] | None = None) -> list[Prediction]:
        """Score each answer; route it to a person (``route="human"`` with the reason) when
        a screen finds it unlike the training answers, when its confidence is below the
        configured level, or when it is drawn as a quality-check sample."""
        if ids is not None and len(ids) != len(texts):
            raise ValueError("ids and texts must have the same length")
        p = self._p
        if not texts:
            return []
        raw, _ = self._raw(texts)
        score = np.clip(_cut(raw, p.cuts, p.min_score), p.min_score, p.max_score)
        loglen = p.rep.dense.transform(texts)[:, 1]
        scale = p.scale(raw, loglen)
        conf = _confidence(
            raw, scale, score, p.calibration, p.config.tolerance, p.min_score, p.max_score
        )
        out: list[Prediction] = []
        for i, text in enumerate(texts):
            ident = ids[i] if ids is not None else None
            reason = feat.screen(
                text,
                thresholds=p.thresholds,
                char_model=p.char_model,
                common=p.common,
                topic_words=p.topic_words,
                prompt_trigrams=p.prompt_trigrams,
            )
            confidence = round(float(conf[i]), 4)
            value = int(score[i])
            if reason is not None:
                if reason == "empty":
                    value, confidence = p.min_score, 0.0
                out.append(Prediction(value, confidence, "human", reason, ident, float(raw[i])))
            elif confidence < p.config.confidence:
                out.append(
                    Prediction(
                        value,
                        confidence,
                        "human",
                        f"low confidence {confidence:.2f} < {p.config.confidence:.2f}",
                        ident,
                        float(raw[i]),
                    )
                )
            elif p.config.check_share > 0 and (
                _check_sample(ident if ident is not None else str(i), p.config.seed)
                < p.config.check_share
            ):
                out.append(
                    Prediction(
                        value, confidence, "human", "quality check sample", ident, float(raw[i])
                    )
                )
            else:
                out.append(Prediction(value, confidence, "auto", None, ident, float(raw[i])))
        return out

    def prediction_sets(self, texts: Sequence[str], level: float | None = None) -> list[list[int]]:
        """The conformal prediction set of each answer at ``level`` (default: the configured
        confidence): the scores whose p-value exceeds ``1 - level``. Over answers like the
        training ones, the true score lies in its set with probability about ``level``."""
        p = self._p
        if not texts:
            return []
        raw, _ = self._raw(texts)
        scale = p.scale(raw, p.rep.dense.transform(texts)[:, 1])
        sets = _prediction_sets(
            raw,
            scale,
            p.calibration,
            p.config.confidence if level is None else level,
            p.min_score,
            p.max_score,
        )
        return [[p.min_score + int(j) for j in np.flatnonzero(row)] for row in sets]

    def with_routing(
        self,
        *,
        confidence: float | None = None,
        tolerance: int | None = None,
        check_share: float | None = None,
        seed: int | None = None,
    ) -> TrainedModel:
        """The same model routing by other rules (no retraining: the calibration scores
        serve any level). The report still describes the routing it was trained with."""
        changes: dict[str, Any] = {
            k: v
            for k, v in (
                ("confidence", confidence),
                ("tolerance", tolerance),
                ("check_share", check_share),
                ("seed", seed),
            )
            if v is not None
        }
        parts = dataclasses.replace(self._p, config=dataclasses.replace(self._p.config, **changes))
        return TrainedModel(parts, self.report)

    def explain(self, text: str, k: int = 3) -> Explanation:
        """The ``k`` features that raised the score most, the ``k`` that lowered it most,
        and the ``k`` most similar human-scored training answers (cosine similarity of
        their word TF-IDF)."""
        p = self._p
        raw, x = self._raw([text])
        score = int(np.clip(_cut(raw, p.cuts, p.min_score), p.min_score, p.max_score)[0])
        row = x.tocsr()
        columns = set(row.indices.tolist())
        n_sparse = len(p.rep.word.vocabulary) + len(p.rep.char.vocabulary)
        columns.update(range(n_sparse, row.shape[1]))
        dense_row = np.asarray(row.todense()).ravel()
        names = p.rep.names()
        contributions = [
            Contribution(
                names[j],
                round(float(dense_row[j]), 4),
                float((dense_row[j] - p.feature_mean[j]) * p.coef[j]),
            )
            for j in sorted(columns)
        ]
        up = sorted((c for c in contributions if c.contribution > 0), key=lambda c: -c.contribution)
        down = sorted(
            (c for c in contributions if c.contribution < 0), key=lambda c: c.contribution
        )
        baseline = float(p.feature_mean @ p.coef + p.intercept)
        similarity = np.asarray(p.neighbour_matrix @ p.topic.transform([text]).T.toarray()).ravel()
        order = np.argsort(-similarity, kind="stable")[:k]
        neighbours = [
            Neighbour(
                p.neighbour_ids[j], int(p.neighbour_scores[j]), round(float(similarity[j]), 4)
            )
            for j in order
        ]
        return Explanation(
            score,
            round(float(raw[0]), 4),
            round(baseline, 4),
            [Contribution(c.feature, c.value, round(c.contribution, 4)) for c in up[:k]],
            [Contribution(c.feature, c.value, round(c.contribution, 4)) for c in down[:k]],
            neighbours,
        )

    # -- storage --

    def to_bytes(self) -> bytes:
        """The model as ``MAGIC + sha256 hex + newline + zip`` (JSON and ``.npz`` members).
        Deterministic: the same model gives the same bytes."""
        p = self._p
        meta = {
            "library_versions": library_versions(),
            "min_score": p.min_score,
            "max_score": p.max_score,
            "config": {
                k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(p.config).items()
            },
            "intercept": p.intercept,
            "word": p.rep.word.to_json(),
            "char": p.rep.char.to_json(),
            "topic": p.topic.to_json(),
            "dense": p.rep.dense.to_json(),
            "dense_weight": p.rep.dense_weight,
            "char_weight": p.rep.char_weight,
            "embedding": None if p.rep.embedding is None else p.rep.embedding.identity,
            "scale": {"coef": list(p.scale.coef), "clip": list(p.scale.clip)},
            "thresholds": p.thresholds.to_json(),
            "char_model": p.char_model.to_json(),
            "common": sorted(p.common),
            "topic_words": sorted(p.topic_words),
            "neighbour_ids": p.neighbour_ids,
            "prompt_trigrams": sorted(list(t) for t in p.prompt_trigrams),
            "report": self.report.to_dict(),
        }
        nm = p.neighbour_matrix.tocsr()
        arrays = {
            "coef": p.coef,
            "feature_mean": p.feature_mean,
            "cuts": p.cuts,
            "calibration": p.calibration,
            "word_idf": p.rep.word.idf,
            "char_idf": p.rep.char.idf,
            "topic_idf": p.topic.idf,
            "neighbour_data": nm.data,
            "neighbour_indices": nm.indices.astype(np.int64),
            "neighbour_indptr": nm.indptr.astype(np.int64),
            "neighbour_shape": np.asarray(nm.shape, dtype=np.int64),
            "neighbour_scores": p.neighbour_scores,
        }
        if p.rep.embedding is not None:
            arrays["embedding_mean"] = p.rep.embedding.mean
            arrays["embedding_scale"] = p.rep.embedding.scale
        npz = io.BytesIO()
        np.savez(npz, allow_pickle=False, **arrays)
        payload = io.BytesIO()
        with zipfile.ZipFile(payload, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, data in (
                ("model.json", json.dumps(meta, sort_keys=True).encode()),
                ("arrays.npz", npz.getvalue()),
            ):
                archive.writestr(zipfile.ZipInfo(name, date_time=_ZIP_DATE), data)
        body = payload.getvalue()
        return MAGIC + hashlib.sha256(body).hexdigest().encode() + b"\n" + body

    @property
    def embedding_model(self) -> dict[str, Any] | None:
        """The identity of the sentence-embedding model this model uses, if any."""
        e = self._p.rep.embedding
        return None if e is None else dict(e.identity)

    @classmethod
    def from_bytes(cls, data: bytes, encoder: emb.SentenceEncoder | None = None) -> TrainedModel:
        """Rebuild a model from :meth:`to_bytes`. Raises :class:`ModelCorrupt` when the
        bytes are damaged (SHA-256 mismatch, missing or malformed parts) and
        :class:`ModelVersionMismatch` when it was trained with other library versions or,
        for a model with embedding features, when the installed embedding model
        (``encoder``, default :func:`~waa_ads.autoscore.embeddings.installed_encoder`) is
        missing or differs from the one it was trained with."""
        header = len(MAGIC) + 65
        if len(data) < header or not data.startswith(MAGIC) or data[header - 1 : header] != b"\n":
            raise ModelCorrupt("not a WAA-ADS essay model")
        digest, body = data[len(MAGIC) : header - 1].decode("ascii", "replace"), data[header:]
        if hashlib.sha256(body).hexdigest() != digest:
            raise ModelCorrupt("the model's SHA-256 does not match its content")
        try:
            with zipfile.ZipFile(io.BytesIO(body)) as archive:
                meta = json.loads(archive.read("model.json"))
                npz = archive.read("arrays.npz")
        except (zipfile.BadZipFile, KeyError, ValueError) as exc:
            raise ModelCorrupt(f"the model's parts are unreadable: {exc}") from None
        stored = meta.get("library_versions", {}) if isinstance(meta, dict) else {}
        running = library_versions()
        if stored != running:
            differing = sorted(
                k for k in running.keys() | stored.keys() if stored.get(k) != running.get(k)
            )
            detail = ", ".join(f"{k} {stored.get(k)} (running {running.get(k)})" for k in differing)
            raise ModelVersionMismatch(f"the model was validated with {detail}")
        wanted = meta.get("embedding")
        if wanted is not None:
            encoder = _matching_encoder(wanted, encoder)
        try:
            with np.load(io.BytesIO(npz), allow_pickle=False) as arrays:
                a = {k: arrays[k] for k in arrays.files}
            return cls._rebuild(meta, a, encoder)
        except ModelCorrupt:
            raise
        except (
            KeyError,
            ValueError,
            TypeError,
            IndexError,
            AttributeError,
            TrainingDataInvalid,
        ) as exc:
            raise ModelCorrupt(f"the model's parts are malformed: {exc}") from None

    @classmethod
    def _rebuild(
        cls, meta: dict[str, Any], a: dict[str, Any], encoder: emb.SentenceEncoder | None
    ) -> TrainedModel:
        cfg = dict(meta["config"])
        for key in ("word_ngrams", "char_ngrams"):
            cfg[key] = tuple(cfg[key])
        config = TrainConfig(**cfg)
        rep = _Representation(
            _Tfidf.from_json(meta["word"], a["word_idf"]),
            _Tfidf.from_json(meta["char"], a["char_idf"]),
            feat.DenseFeatures.from_json(meta["dense"]),
            float(meta["dense_weight"]),
            float(meta.get("char_weight", 1.0)),
        )
        if meta.get("embedding") is not None:
            if encoder is None:
                raise ModelCorrupt("the model's embedding model is unknown")
            rep.embedding = _Embedding(
                encoder,
                dict(meta["embedding"]),
                np.asarray(a["embedding_mean"], dtype=np.float64),
                np.asarray(a["embedding_scale"], dtype=np.float64),
                float(config.embedding_weight),
            )
            if rep.embedding.mean.shape != (encoder.dims,):
                raise ModelCorrupt("the embedding statistics do not match the embedding model")
            if rep.embedding.long_texts not in emb.LONG_TEXTS:
                raise ModelCorrupt("the model embeds long answers in an unknown way")
        topic = _Tfidf.from_json(meta["topic"], a["topic_idf"])
        rows, cols = (int(v) for v in a["neighbour_shape"])
        neighbours = sp.csr_matrix(
            (a["neighbour_data"], a["neighbour_indices"], a["neighbour_indptr"]), shape=(rows, cols)
        )
        coef = np.asarray(a["coef"], dtype=np.float64)
        width = rep.width
        if coef.shape != (width,) or a["feature_mean"].shape != (width,):
            raise ModelCorrupt("the coefficients do not match the features")
        parts = _Parts(
            rep=rep,
            coef=coef,
            intercept=float(meta["intercept"]),
            feature_mean=np.asarray(a["feature_mean"], dtype=np.float64),
            cuts=np.asarray(a["cuts"], dtype=np.float64),
            scale=_Scale(
                tuple(float(c) for c in meta["scale"]["coef"]),  # type: ignore[arg-type]
                (float(meta["scale"]["clip"][0]), float(meta["scale"]["clip"][1])),
            ),
            calibration=np.asarray(a["calibration"], dtype=np.float64),
            thresholds=feat.ScreenThresholds.from_json(meta["thresholds"]),
            char_model=feat.CharModel.from_json(meta["char_model"]),
            common=frozenset(str(w) for w in meta["common"]),
            topic=topic,
            topic_words=frozenset(str(w) for w in meta["topic_words"]),
            neighbour_matrix=neighbours,
            neighbour_ids=[str(i) for i in meta["neighbour_ids"]],
            neighbour_scores=np.asarray(a["neighbour_scores"], dtype=np.int64),
            prompt_trigrams={(str(t[0]), str(t[1]), str(t[2])) for t in meta["prompt_trigrams"]},
            config=config,
            min_score=int(meta["min_score"]),
            max_score=int(meta["max_score"]),
        )
        return cls(parts, TrainingReport.from_dict(meta["report"]))

    @property
    def sha256(self) -> str:
        """The SHA-256 of :meth:`to_bytes`, for a registry to pin the exact model."""
        return hashlib.sha256(self.to_bytes()).hexdigest()

    def save(self, directory: Path) -> None:
        """Write ``model.waa`` (the bytes) and ``report.json`` (the report, for people)."""
        directory.mkdir(parents=True, exist_ok=True)
        (directory / MODEL_FILE).write_bytes(self.to_bytes())
        (directory / REPORT_FILE).write_text(
            json.dumps(self.report.to_dict(), indent=2, sort_keys=True) + "\n", encoding="utf-8"
        )

    @classmethod
    def load(cls, directory: Path, encoder: emb.SentenceEncoder | None = None) -> TrainedModel:
        """Read a model written by :meth:`save` (``ModelCorrupt`` when there is none)."""
        try:
            data = (directory / MODEL_FILE).read_bytes()
        except OSError as exc:
            raise ModelCorrupt(f"no model in {directory}: {exc.strerror}") from None
        return cls.from_bytes(data, encoder)


def _describe(identity: dict[str, Any]) -> str:
    return f"{identity.get('name')} (SHA-256 {str(identity.get('sha256'))[:12]}…)"


def _matching_encoder(
    wanted: dict[str, Any], encoder: emb.SentenceEncoder | None
) -> emb.SentenceEncoder:
    """The installed encoder when it is the one ``wanted`` describes, else refuse."""
    if encoder is None:
        try:
            encoder = emb.installed_encoder()
        except EmbeddingModelUnavailable as exc:
            raise ModelVersionMismatch(
                f"the model was trained with the sentence-embedding model {_describe(wanted)}, "
                f"which is not available here: {exc.detail}"
            ) from None
    running = encoder.identity()
    differing = sorted(
        k for k in ("sha256", "vocab_sha256", "dims", "max_length") if wanted.get(k) != running[k]
    )
    if differing:
        raise ModelVersionMismatch(
            f"the model was trained with the sentence-embedding model {_describe(wanted)}; "
            f"the installed one is {_describe(running)} in {encoder.folder} "
            f"(differs in {', '.join(differing)})"
        )
    return encoder


# --- training -----------------------------------------------------------------------------


def _folds(y: Ints, folds: int, seed: int) -> list[tuple[Ints, Ints]]:
    counts = Counter(y.tolist())
    if min(counts.values()) >= folds:
        splitter: StratifiedKFold | KFold = StratifiedKFold(folds, shuffle=True, random_state=seed)
    else:
        splitter = KFold(folds, shuffle=True, random_state=seed)
    return [(np.asarray(a), np.asarray(b)) for a, b in splitter.split(np.zeros(y.size), y)]


def _fit_ridge(x: sp.csr_matrix, y: Floats, alphas: Sequence[float]) -> tuple[Floats, float, float]:
    ridge = RidgeCV(alphas=list(alphas), fit_intercept=True)
    ridge.fit(x, y)
    return np.asarray(ridge.coef_, dtype=np.float64), float(ridge.intercept_), float(ridge.alpha_)


def _common_words(texts: Sequence[str], k: int = COMMON_WORDS) -> frozenset[str]:
    counts: Counter[str] = Counter()
    for t in texts:
        counts.update(feat.words(t))
    return frozenset(w for w, _ in counts.most_common(k))


def train(
    data: TrainingSet,
    config: TrainConfig = TrainConfig(),
    progress: Callable[[float, str], None] | None = None,
    encoder: emb.SentenceEncoder | None = None,
) -> TrainedModel:
    """Train a model on ``data`` and cross-validate it (``config.folds`` folds).

    Raises :class:`TrainingDataInvalid` for unusable data and, when ``config.embeddings``
    asks for embedding features, :class:`EmbeddingModelUnavailable` when ``encoder`` is not
    given and no embedding model is installed. ``progress(fraction, message)`` is called
    as the work advances (fraction from 0 to 1)."""
    started = time.perf_counter()
    data.validate(config.folds)
    if config.embeddings and encoder is None:
        encoder = emb.installed_encoder()

    def report_progress(fraction: float, message: str) -> None:
        if progress is not None:
            progress(fraction, message)

    texts = list(data.texts)
    y = np.asarray(data.scores, dtype=np.int64)
    lo, hi = data.min_score, data.max_score
    report_progress(0.0, "building the vocabulary")
    word = _Tfidf.fit(texts, "word", config.word_ngrams, config.max_word_features)
    char = _Tfidf.fit(texts, "char_wb", config.char_ngrams, config.max_char_features, min_df=3)
    known = frozenset(t for t in word.vocabulary if " " not in t)
    dense = feat.DenseFeatures.fit(texts, known)
    rep = _Representation(word, char, dense, config.dense_weight, config.char_weight)
    vectors: Floats | None = None
    if config.embeddings and encoder is not None:
        report_progress(0.02, "computing sentence embeddings")
        vectors = encoder.encode(texts, long_texts=EMBEDDING_LONG_TEXTS)
        rep.embedding = _Embedding.fit(encoder, vectors, config.embedding_weight)
    x = rep.transform(texts, vectors)
    loglen = dense.transform(texts)[:, 1]

    splits = _folds(y, config.folds, config.seed)
    oof = np.zeros(y.size)
    alphas_chosen: list[float] = []
    for f, (tr, te) in enumerate(splits):
        report_progress(
            0.1 + 0.7 * f / len(splits), f"cross-validation fold {f + 1} of {len(splits)}"
        )
        coef, intercept, alpha = _fit_ridge(x[tr], y[tr].astype(np.float64), ALPHAS)
        oof[te] = np.asarray(x[te] @ coef).ravel() + intercept
        alphas_chosen.append(alpha)

    # Held-out scoring and routing: for each fold, cut points, scale and calibration
    # scores come from the out-of-fold predictions of the other folds only.
    held_score = np.zeros(y.size, dtype=np.int64)
    held_conf = np.zeros(y.size)
    held_conf_at = {t: np.zeros(y.size) for t in (0, 1, 2)}
    covered = np.zeros(y.size, dtype=bool)
    set_size = np.zeros(y.size)
    for tr, te in splits:
        cuts = _fit_cuts(oof[tr], y[tr], lo, hi)
        scale = _Scale.fit(oof[tr], y[tr], loglen[tr])
        calibration = np.sort(np.abs(y[tr] - oof[tr]) / scale(oof[tr], loglen[tr]))
        held_score[te] = np.clip(_cut(oof[te], cuts, lo), lo, hi)
        s_te = scale(oof[te], loglen[te])
        held_conf[te] = _confidence(
            oof[te], s_te, held_score[te], calibration, config.tolerance, lo, hi
        )
        for tol, conf_t in held_conf_at.items():
            conf_t[te] = _confidence(oof[te], s_te, held_score[te], calibration, tol, lo, hi)
        sets = _prediction_sets(oof[te], s_te, calibration, config.confidence, lo, hi)
        covered[te] = sets[np.arange(te.size), y[te] - lo]
        set_size[te] = sets.sum(axis=1)

    report_progress(0.85, "fitting the final model")
    coef, intercept, alpha = _fit_ridge(x, y.astype(np.float64), ALPHAS)
    cuts = _fit_cuts(oof, y, lo, hi)
    scale = _Scale.fit(oof, y, loglen)
    calibration = np.sort(np.abs(y - oof) / scale(oof, loglen))

    # Screens: limits well outside the training answers' own range.
    n_words = np.array([len(feat.words(t)) for t in texts], dtype=np.float64)
    char_model = feat.CharModel.fit(texts)
    char_scores = np.array([char_model.score(t) for t in texts if feat.words(t)])
    common = _common_words(texts)
    common_shares = np.array(
        [feat.common_share(feat.words(t), common) for t in texts if len(feat.words(t)) >= 8]
    )
    # Neighbours for explanations: word TF-IDF beyond the most common words.
    distinct = len({w for t in texts for w in feat.words(t)})
    stop = _common_words(texts, min(100, distinct // 10))
    topic = _Tfidf.fit(texts, "word", (1, 1), 20000, min_df=2, stop_words=sorted(stop))
    topic_x = topic.transform(texts)
    # Off-topic: the words at least 1% of the training answers (and two or more) use.
    df: Counter[str] = Counter()
    for t in texts:
        df.update(set(feat.words(t)))
    topic_words = frozenset(w for w, c in df.items() if c >= max(2.0, 0.01 * len(texts)))
    topic_shares = np.array(
        [feat.topic_share(feat.words(t), topic_words) for t in texts if len(feat.words(t)) >= 8]
    )
    thresholds = feat.ScreenThresholds(
        min_words=max(1.0, 0.5 * float(np.quantile(n_words[n_words > 0], 0.01))),
        max_words=2.0 * float(n_words.max()),
        min_char_score=float(np.quantile(char_scores, 0.01)) - 0.6,
        min_common_share=0.2 * float(np.quantile(common_shares, 0.01))
        if common_shares.size
        else 0.0,
        min_topic_share=float(np.quantile(topic_shares, 0.005)) - 0.03
        if topic_shares.size
        else 0.0,
    )
    prompt_trigrams = feat.trigrams_of(feat.words(data.prompt_text)) if data.prompt_text else set()

    parts = _Parts(
        rep=rep,
        coef=coef,
        intercept=intercept,
        feature_mean=np.asarray(x.mean(axis=0)).ravel(),
        cuts=cuts,
        scale=scale,
        calibration=calibration,
        thresholds=thresholds,
        char_model=char_model,
        common=common,
        topic=topic,
        topic_words=topic_words,
        neighbour_matrix=topic_x,
        neighbour_ids=list(data.ids),
        neighbour_scores=y,
        prompt_trigrams=prompt_trigrams,
        config=config,
        min_score=lo,
        max_score=hi,
    )

    report_progress(0.95, "writing the report")
    auto = held_conf >= config.confidence
    human: Agreement | None = None
    model_on_double: Agreement | None = None
    if data.second_scores is not None:
        double = [i for i, s in enumerate(data.second_scores) if s is not None]
        if double:
            second = np.asarray([data.second_scores[i] for i in double], dtype=np.int64)
            human = agreement(y[double], second, lo, hi)
            model_on_double = agreement(y[double], held_score[double], lo, hi)
    groups: list[GroupDifference] = []
    if data.groups is not None:
        by_group: dict[str, list[int]] = {}
        for i, g in enumerate(data.groups):
            if g is not None:
                by_group.setdefault(g, []).append(i)
        for g, members in sorted(by_group.items()):
            if len(members) < config.min_group_size:
                continue
            idx = np.asarray(members)
            groups.append(
                GroupDifference(
                    g,
                    len(members),
                    agreement(y[idx], held_score[idx], lo, hi).smd,
                    float(y[idx].mean()),
                    float(held_score[idx].mean()),
                )
            )
    report = TrainingReport(
        n=int(y.size),
        min_score=lo,
        max_score=hi,
        folds=len(splits),
        model=agreement(y, held_score, lo, hi),
        human=human,
        model_on_double=model_on_double,
        confidence=config.confidence,
        tolerance=config.tolerance,
        coverage=float(covered.mean()),
        mean_set_size=float(set_size.mean()),
        auto_share=float(auto.mean()),
        auto=agreement(y[auto], held_score[auto], lo, hi),
        groups=groups,
        alpha=alpha,
        features=int(x.shape[1]),
        training_seconds=round(time.perf_counter() - started, 3),
        library_versions={
            **library_versions(),
            "python": platform.python_version(),
            **(
                {}
                if rep.embedding is None
                else {
                    "embedding model": rep.embedding.identity["name"],
                    "embedding model sha256": rep.embedding.identity["sha256"],
                }
            ),
        },
        routing=tuple(
            RoutingFigure(
                tol,
                float((conf_t >= config.confidence).mean()),
                agreement(
                    y[conf_t >= config.confidence],
                    held_score[conf_t >= config.confidence],
                    lo,
                    hi,
                ),
            )
            for tol, conf_t in held_conf_at.items()
        ),
    )
    report_progress(1.0, "done")
    return TrainedModel(parts, report)


__all__ = [
    "Contribution",
    "Explanation",
    "GroupDifference",
    "Neighbour",
    "Prediction",
    "RoutingFigure",
    "TrainConfig",
    "TrainedModel",
    "TrainingReport",
    "TrainingSet",
    "train",
]
