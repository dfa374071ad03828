"""Text features and the screens for answers unlike the training data (pure).

Everything a fitted model needs is plain data (vocabularies, arrays, thresholds), so a
model can be stored as JSON and ``.npz`` and rebuilt without executing stored code.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]

WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?|\d+", re.UNICODE)
SENTENCE_END = re.compile(r"[.!?]+(?:\s|$)")
#: The token pattern the word vectorizers use (letters, digits and apostrophes).
TOKEN_PATTERN = r"(?u)\b\w[\w']*\b"  # noqa: S105

DENSE_NAMES = (
    "characters (log)",
    "words (log)",
    "distinct words (log)",
    "distinct / all words",
    "mean word length",
    "share of long words",
    "sentences (log)",
    "words per sentence (log)",
    "share of words unknown to the training answers",
    "commas per word",
    "sentences starting with a capital",
    "distinct long words (log)",
)


def words(text: str) -> list[str]:
    """Lower-cased word tokens."""
    return WORD.findall(text.lower())


def _raw_dense(text: str, known: frozenset[str]) -> list[float]:
    tokens = words(text)
    n = len(tokens)
    letters = [t for t in tokens if not t.isdigit()]
    long_words = [t for t in letters if len(t) >= 7]
    sentences = [s for s in re.split(r"[.!?]+", text) if s.strip()]
    n_sent = max(1, len(sentences))
    capitals = sum(1 for s in sentences if s.strip()[:1].isupper())
    unknown = sum(1 for t in letters if t not in known)
    return [
        math.log1p(len(text)),
        math.log1p(n),
        math.log1p(len(set(tokens))),
        len(set(tokens)) / n if n else 0.0,
        float(np.mean([len(t) for t in letters])) if letters else 0.0,
        len(long_words) / n if n else 0.0,
        math.log1p(len(sentences)),
        math.log1p(n / n_sent),
        unknown / len(letters) if letters else 0.0,
        text.count(",") / n if n else 0.0,
        capitals / n_sent,
        math.log1p(len(set(long_words))),
    ]


@dataclass(frozen=True)
class DenseFeatures:
    """Length, vocabulary and spelling-ish features, standardized with the training
    answers' means and SDs, plus hinge functions of log length at training quantiles (so a
    linear model can bend with length)."""

    known_words: frozenset[str]
    knots: tuple[float, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]

    @property
    def names(self) -> list[str]:
        return list(DENSE_NAMES) + [f"words (log) above {math.expm1(k):.0f}" for k in self.knots]

    @staticmethod
    def _expand(raw: Floats, knots: Sequence[float]) -> Floats:
        hinges = [np.maximum(0.0, raw[:, 1] - k) for k in knots]
        return np.column_stack([raw, *hinges]) if hinges else raw

    @classmethod
    def fit(cls, texts: Sequence[str], known_words: frozenset[str]) -> DenseFeatures:
        raw = np.array([_raw_dense(t, known_words) for t in texts], dtype=np.float64)
        knots = tuple(
            float(q) for q in np.unique(np.quantile(raw[:, 1], [0.1, 0.3, 0.5, 0.7, 0.9]))
        )
        full = cls._expand(raw, knots)
        sd = full.std(axis=0)
        sd[sd < 1e-9] = 1.0
        return cls(known_words, knots, tuple(full.mean(axis=0).tolist()), tuple(sd.tolist()))

    def transform(self, texts: Sequence[str]) -> Floats:
        raw = np.array([_raw_dense(t, self.known_words) for t in texts], dtype=np.float64)
        raw = raw.reshape(len(texts), len(DENSE_NAMES))
        full = self._expand(raw, self.knots)
        out: Floats = (full - np.asarray(self.mean)) / np.asarray(self.scale)
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "known_words": sorted(self.known_words),
            "knots": list(self.knots),
            "mean": list(self.mean),
            "scale": list(self.scale),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DenseFeatures:
        return cls(
            frozenset(str(w) for w in data["known_words"]),
            tuple(float(k) for k in data["knots"]),
            tuple(float(m) for m in data["mean"]),
            tuple(float(s) for s in data["scale"]),
        )


# --- the screens --------------------------------------------------------------------------


def _normalize_chars(text: str) -> str:
    out = []
    for ch in text.lower():
        if ch.isalpha():
            out.append(ch)
        elif ch.isdigit():
            out.append("0")
        elif ch.isspace():
            out.append(" ")
        else:
            out.append(".")
    return " " + re.sub(r" +", " ", "".join(out)).strip() + " "


class CharModel:
    """A character trigram model of the training answers (add-one smoothing): the mean log
    probability per character says how much a text looks like the training language. Keyboard
    mashing scores far below any natural text."""

    def __init__(self, trigrams: dict[str, float], contexts: dict[str, float], floor: float):
        self.trigrams = trigrams
        self.contexts = contexts
        self.floor = floor

    @classmethod
    def fit(cls, texts: Sequence[str]) -> CharModel:
        tri: Counter[str] = Counter()
        ctx: Counter[str] = Counter()
        alphabet: set[str] = set()
        for text in texts:
            s = _normalize_chars(text)
            alphabet.update(s)
            for i in range(len(s) - 2):
                tri[s[i : i + 3]] += 1
                ctx[s[i : i + 2]] += 1
        v = max(len(alphabet), 27) + 1
        trigrams = {g: math.log((c + 1) / (ctx[g[:2]] + v)) for g, c in tri.items() if c >= 2}
        contexts = {g: math.log(1 / (c + v)) for g, c in ctx.items()}
        return cls(trigrams, contexts, math.log(1 / v))

    def score(self, text: str) -> float:
        s = _normalize_chars(text)
        if len(s) < 3:
            return 0.0
        total = 0.0
        for i in range(len(s) - 2):
            g = s[i : i + 3]
            lp = self.trigrams.get(g)
            total += lp if lp is not None else self.contexts.get(g[:2], self.floor)
        return total / (len(s) - 2)

    def to_json(self) -> dict[str, Any]:
        return {"trigrams": self.trigrams, "contexts": self.contexts, "floor": self.floor}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CharModel:
        return cls(
            {str(k): float(v) for k, v in data["trigrams"].items()},
            {str(k): float(v) for k, v in data["contexts"].items()},
            float(data["floor"]),
        )


def trigrams_of(tokens: Sequence[str]) -> set[tuple[str, str, str]]:
    return {(tokens[i], tokens[i + 1], tokens[i + 2]) for i in range(len(tokens) - 2)}


@dataclass(frozen=True)
class ScreenThresholds:
    """Where an answer stops looking like the training answers. Each limit sits well
    outside the training answers' own range, so real answers rarely trip a screen."""

    min_words: float
    max_words: float
    min_char_score: float
    min_common_share: float
    min_topic_share: float
    copy_share: float = 0.6

    def to_json(self) -> dict[str, float]:
        return {
            "min_words": self.min_words,
            "max_words": self.max_words,
            "min_char_score": self.min_char_score,
            "min_common_share": self.min_common_share,
            "min_topic_share": self.min_topic_share,
            "copy_share": self.copy_share,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ScreenThresholds:
        return cls(**{k: float(v) for k, v in data.items()})


VOWELS = frozenset("aeiouyàáâãäåæèéêëìíîïòóôõöøùúûüýÿœ")
_CONSONANT_RUN = re.compile(r"[^\W\daeiouyàáâãäåæèéêëìíîïòóôõöøùúûüýÿœ_]{5,}")
_REPEAT = re.compile(r"(.)\1\1\1")


def implausible_share(tokens: Sequence[str]) -> float:
    """The share of tokens of three or more letters that no language spells so: no vowel,
    five consonants in a row, a letter four times over, or longer than 25 letters. Only
    alphabets with vowels are judged; other scripts count as plausible."""
    judged = [t for t in tokens if len(t) >= 3 and (t.isascii() or any(c in VOWELS for c in t))]
    if not judged:
        return 0.0
    odd = sum(
        1
        for t in judged
        if not any(c in VOWELS for c in t)
        or _CONSONANT_RUN.search(t)
        or _REPEAT.search(t)
        or len(t) > 25
    )
    return odd / len(judged)


def topic_share(tokens: Sequence[str], topic_words: frozenset[str]) -> float:
    """The share of tokens that at least 1% of the training answers use: an answer to
    another question draws many of its words from outside that vocabulary."""
    return sum(1 for t in tokens if t in topic_words) / len(tokens) if tokens else 0.0


def common_share(tokens: Sequence[str], common: frozenset[str]) -> float:
    """The share of tokens among the training answers' most frequent words (function words,
    mostly): near zero for another language."""
    return sum(1 for t in tokens if t in common) / len(tokens) if tokens else 0.0


def screen(
    text: str,
    *,
    thresholds: ScreenThresholds,
    char_model: CharModel,
    common: frozenset[str],
    topic_words: frozenset[str],
    prompt_trigrams: set[tuple[str, str, str]],
) -> str | None:
    """The reason this answer must go to a person before any score, or None.

    In order: empty, too short, gibberish, not in the training language, too long,
    copied from the prompt, off-topic."""
    tokens = words(text)
    if not tokens:
        return "empty"
    if len(tokens) < thresholds.min_words:
        return "too short"
    letters = [t for t in tokens if not t.isdigit()]
    odd = implausible_share(letters)
    if (
        not letters
        or odd >= 0.5
        or (odd >= 0.25 and char_model.score(text) < thresholds.min_char_score)
        or (len(tokens) >= 10 and len(set(tokens[:100])) / len(tokens[:100]) < 0.15)
    ):
        return "gibberish"
    if len(tokens) >= 8 and common_share(tokens, common) < thresholds.min_common_share:
        return "not in the training language"
    if len(tokens) > thresholds.max_words:
        return "too long"
    if prompt_trigrams and len(tokens) >= 5:
        own = trigrams_of(tokens)
        if own and len(own & prompt_trigrams) / len(own) >= thresholds.copy_share:
            return "copied from the prompt"
    if len(tokens) >= 8 and topic_share(tokens, topic_words) < thresholds.min_topic_share:
        return "off-topic"
    return None
