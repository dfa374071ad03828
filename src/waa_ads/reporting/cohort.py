"""The cohort and item reports as plain data, and the statistics computed from released
results (pure: no I/O). The HTML and PDF renderings both read these objects, so the two
never disagree."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from waa_ads.core import i18n
from waa_ads.core.i18n import _

#: An absent statistic in a table.
DASH: Final = "\u2013"


@dataclass(frozen=True)
class ResultRow:
    attempt_id: str
    candidate_ref: str
    raw: float
    max_raw: float
    scaled: float
    band: str | None
    passed: bool | None
    released: bool
    withheld: bool
    sections: dict[str, dict[str, float]]


@dataclass(frozen=True)
class SectionSummary:
    identifier: str
    title: str
    max_raw: float
    mean: float | None
    sd: float | None
    mean_share: float | None


@dataclass(frozen=True)
class BandCount:
    band: str
    count: int
    passed: bool | None


@dataclass(frozen=True)
class ItemRow:
    item: str
    presented: int
    max_score: float
    mean: float | None
    facility: float | None
    discrimination: float | None
    point_biserial: float | None
    corrected_item_total: float | None
    alpha_if_deleted: float | None
    flags: list[str]
    options: list[dict[str, Any]] = field(default_factory=list)
    irt: dict[str, Any] | None = None

    @property
    def distractor_plot(self) -> bool:
        """A choice item with options counted by score group: it has a distractor plot."""
        return any(o.get("groups") for o in self.options)


def attracts_high_scorers(option: dict[str, Any]) -> bool:
    """A distractor that a larger share of the upper 27% chose than of the lower 27%."""
    return not option["key"] and option["upper"] > option["lower"]


def distractor_rows(item: ItemRow, *, short: bool = False) -> list[list[str]]:
    """The distractor table of a choice item: a header, then per option its share overall,
    in the lower and upper 27%, in each score group (fifths, lowest first) and whether it
    is the key or a distractor attracting high scorers. ``short``: the groups' columns
    headed ``G1``... (narrow columns) rather than ``Group 1``..."""
    groups = max((len(o.get("groups") or []) for o in item.options), default=0)
    rows = [
        [_("Option"), _("Role"), _("All"), _("Lower 27%"), _("Upper 27%")]
        + [
            _("G%(number)s", number=g + 1) if short else _("Group %(number)s", number=g + 1)
            for g in range(groups)
        ]
        + [_("Note")]
    ]
    for o in item.options:
        shares = list(o.get("groups") or []) + [None] * (groups - len(o.get("groups") or []))
        rows.append(
            [str(o["option"]), _("key") if o["key"] else _("distractor"), pct(o["share"]),
             pct(o["lower"]), pct(o["upper"])]
            + [pct(s) for s in shares]
            + [_("attracts high scorers") if attracts_high_scorers(o) else ""]
        )  # fmt: skip
    return rows


@dataclass(frozen=True)
class CohortReport:
    organization_name: str
    brand_color: str | None
    assessment_title: str
    administration_id: str
    administration_title: str
    language: str
    attempts: int
    scored: int
    released: int
    withheld: int
    scaled_scores: list[float]
    mean: float | None
    sd: float | None
    median: float | None
    minimum: float | None
    maximum: float | None
    pass_cut: float | None
    passed: int
    failed: int
    bands: list[BandCount]
    sections: list[SectionSummary]
    reliability: dict[str, Any]
    items: list[ItemRow]
    integrity: dict[str, Any]
    rating: list[dict[str, Any]]

    @property
    def pass_rate(self) -> float | None:
        decided = self.passed + self.failed
        return self.passed / decided if decided else None


def describe(values: Sequence[float]) -> tuple[float | None, float | None]:
    """Mean and population standard deviation; None for an empty list."""
    if not values:
        return None, None
    return statistics.fmean(values), statistics.pstdev(values) if len(values) > 1 else 0.0


def section_summaries(rows: Sequence[ResultRow], titles: dict[str, str]) -> list[SectionSummary]:
    """Per section (in ``titles`` order, then any other seen): mean and SD of its raw score."""
    order = list(titles) + sorted({k for r in rows for k in r.sections} - set(titles))
    out = []
    for ident in order:
        values = [r.sections[ident]["raw"] for r in rows if ident in r.sections]
        maxima = [r.sections[ident]["max_raw"] for r in rows if ident in r.sections]
        mean, sd = describe(values)
        top = max(maxima) if maxima else 0.0
        share = None if mean is None or top <= 0 else mean / top
        out.append(SectionSummary(ident, titles.get(ident, ident), top, mean, sd, share))
    return out


def band_counts(
    rows: Sequence[ResultRow], order: Sequence[tuple[str, bool | None]]
) -> list[BandCount]:
    seen = {name: 0 for name, _ in order}
    for row in rows:
        if row.band is not None:
            seen[row.band] = seen.get(row.band, 0) + 1
    flags = dict(order)
    return [BandCount(name, count, flags.get(name)) for name, count in seen.items()]


def median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def fmt(value: float | None, places: int = 2) -> str:
    """A statistic for a table, in the locale in force: a dash when absent or not a
    number."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return DASH
    if i18n.current() == i18n.DEFAULT:
        return f"{value:.{places}f}"
    return i18n.format_number(value, places)


def pct(value: float | None) -> str:
    """A share as a whole percentage, in the locale in force (``50%``, « 50 % »)."""
    if value is None:
        return DASH
    if i18n.current() == i18n.DEFAULT:
        return f"{value * 100:.0f}%"
    return i18n.format_percent(value)


def yes_no(passed: bool | None) -> str:
    """Whether a band passes, for a table: a dash when it does not say."""
    return DASH if passed is None else (_("yes") if passed else _("no"))
