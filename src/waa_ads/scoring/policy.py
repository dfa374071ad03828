"""Totals, scaling and bands from an assessment's scoring policy (pure)."""

from __future__ import annotations

from dataclasses import dataclass

from waa_ads.assessments.definition import Band, ScoringPolicy


@dataclass(frozen=True)
class ScoredItem:
    section: str
    score: float | None
    max_score: float
    weight: float


@dataclass(frozen=True)
class Totals:
    raw: float
    max_raw: float
    weighted: float
    max_weighted: float
    scaled: float
    band: str | None
    passed: bool | None
    sections: dict[str, dict[str, float]]
    pending: int


def band_for(score: float, bands: list[Band]) -> Band | None:
    """The band with the highest ``min_score`` not above ``score``."""
    eligible = [b for b in bands if score >= b.min_score]
    return max(eligible, key=lambda b: b.min_score) if eligible else None


def totals(
    items: list[ScoredItem], section_weights: dict[str, float], policy: ScoringPolicy
) -> Totals:
    """Raw = sum of item scores; weighted = sum of score x item weight x section weight;
    scaled = slope x weighted + intercept; the band and pass/fail from the scaled score.
    Items still waiting for a person count 0 and are counted in ``pending``."""
    sections: dict[str, dict[str, float]] = {}
    raw = max_raw = weighted = max_weighted = 0.0
    pending = 0
    for item in items:
        factor = item.weight * section_weights.get(item.section, 1.0)
        score = item.score or 0.0
        if item.score is None:
            pending += 1
        raw += score
        max_raw += item.max_score
        weighted += score * factor
        max_weighted += item.max_score * factor
        entry = sections.setdefault(item.section, {"raw": 0.0, "max_raw": 0.0, "weighted": 0.0})
        entry["raw"] += score
        entry["max_raw"] += item.max_score
        entry["weighted"] += score * factor
    scaled = policy.scale_slope * weighted + policy.scale_intercept
    band = band_for(scaled, policy.bands)
    return Totals(
        raw=raw,
        max_raw=max_raw,
        weighted=weighted,
        max_weighted=max_weighted,
        scaled=scaled,
        band=band.name if band else None,
        passed=band.passed if band else None,
        sections=sections,
        pending=pending,
    )
