"""Plan rules (pure): how many ratings a response needs, when two ratings disagree, and how
the final score is resolved."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class DisagreementRule(StrEnum):
    exact = "exact"  # any difference
    adjacent = "adjacent"  # more than one point apart
    distance = "distance"  # more than ``distance`` points apart


class Resolution(StrEnum):
    adjudicator = "adjudicator"
    mean = "mean"
    sum_of_criteria = "sum_of_criteria"


def stable_fraction(key: str) -> float:
    """A number in [0, 1) fixed by ``key``: the same response always draws the same."""
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") / 2**64


def order_key(key: str) -> int:
    """A queue position fixed by ``key`` that scatters one candidate's answers (a signed
    63-bit integer, for a BIGINT column)."""
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") >> 1


def ratings_needed(response_key: str, double_share: float) -> int:
    """2 for a ``double_share`` of responses (chosen by their key), else 1."""
    return 2 if stable_fraction("double:" + response_key) < double_share else 1


@dataclass(frozen=True)
class Given:
    """One rating: the item score and the points of each criterion (unweighted)."""

    score: float
    criteria: Mapping[str, float]


def _apart(a: float, b: float, rule: DisagreementRule, distance: float) -> bool:
    gap = abs(a - b)
    if rule is DisagreementRule.exact:
        return gap > 1e-9
    if rule is DisagreementRule.adjacent:
        return gap > 1.0 + 1e-9
    return gap > distance + 1e-9


def disagree(
    ratings: Sequence[Given],
    rule: DisagreementRule,
    *,
    distance: float = 1.0,
    per_criterion: bool = False,
) -> bool:
    """Whether any two of ``ratings`` are further apart than the rule allows, on the item
    score or (``per_criterion``) on any one criterion's points."""
    for i, first in enumerate(ratings):
        for second in ratings[i + 1 :]:
            if per_criterion:
                for name in set(first.criteria) | set(second.criteria):
                    a, b = first.criteria.get(name, 0.0), second.criteria.get(name, 0.0)
                    if _apart(a, b, rule, distance):
                        return True
            elif _apart(first.score, second.score, rule, distance):
                return True
    return False


@dataclass(frozen=True)
class CriterionScale:
    weight: float
    points: Sequence[float]  # the criterion's level points


def resolve(
    ratings: Sequence[Given],
    adjudication: Given | None,
    resolution: Resolution,
    criteria: Mapping[str, CriterionScale],
) -> float:
    """The final item score, on the rubric's scale.

    - ``adjudicator``: the adjudicator's score when there is one, else the raters' mean;
    - ``mean``: the mean of every rating, the adjudicator's included;
    - ``sum_of_criteria``: per criterion the mean points of the ratings (the adjudicator's
      alone when there is one) rounded to the nearest level the rubric has (ties up), then
      weighted and summed, so the final score is one the rubric can award.
    """
    if not ratings and adjudication is None:
        raise ValueError("nothing to resolve")
    if resolution is Resolution.adjudicator:
        if adjudication is not None:
            return adjudication.score
        return sum(r.score for r in ratings) / len(ratings)
    if resolution is Resolution.mean:
        every = [*ratings, *([adjudication] if adjudication is not None else [])]
        return sum(r.score for r in every) / len(every)
    levels = criterion_levels(ratings, adjudication, criteria)
    return round(sum(scale.weight * levels[name] for name, scale in criteria.items()), 9)


def criterion_levels(
    ratings: Sequence[Given], adjudication: Given | None, criteria: Mapping[str, CriterionScale]
) -> dict[str, float]:
    """Per criterion, the points of the level the response reached: the mean points of the
    ratings (the adjudicator's alone when there is one) rounded to the nearest level the
    rubric has (ties up)."""
    basis = [adjudication] if adjudication is not None else list(ratings)
    if not basis:
        raise ValueError("nothing to resolve")
    out = {}
    for name, scale in criteria.items():
        mean = sum(r.criteria.get(name, 0.0) for r in basis) / len(basis)
        out[name] = min(scale.points, key=lambda p: (abs(p - mean), -p))
    return out


def is_blank(value: Any) -> bool:
    """Whether a response value holds no answer: nothing, blank text, or only such values
    (a list, or a mapping of response variables). An uploaded file is an answer."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, list | tuple):
        return all(is_blank(v) for v in value)
    if isinstance(value, Mapping):
        return "sha256" not in value and all(is_blank(v) for v in value.values())
    return False


def unanswered(stored: Mapping[str, Any] | None) -> bool:
    """Whether a stored response (``{"value": as sent, "normalized": {variable: value}}``,
    or none at all) leaves the item unanswered."""
    if not stored:
        return True
    if "normalized" in stored:
        return is_blank(stored["normalized"])
    return is_blank(stored.get("value"))
