"""What an assessment is: sections of fixed items or selection rules, navigation, time,
attempts, breaks, scoring and release policy. Pure data and pure checks, no I/O.

A definition refers to items by their id in the item bank. Publishing pins it: each fixed
item to its published version, each selection rule to the published versions that match it
then (the pool), so a published assessment never changes under its candidates.
"""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

Identifier = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z_][A-Za-z0-9_.-]*$")
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Navigation(StrEnum):
    linear = "linear"
    free = "free"


class FeedbackPolicy(StrEnum):
    """When a candidate sees the feedback their answers select (an item's modal feedback
    and the feedback blocks and inlines of its body): ``none`` (never: a summative test),
    ``after_item`` (once the candidate has moved on from the item, which linear navigation
    makes final) or ``after_test`` (once the attempt has ended)."""

    none = "none"
    after_item = "after_item"
    after_test = "after_test"


class ReleasePolicy(StrEnum):
    immediately = "immediately"
    after_review = "after_review"
    manual = "manual"


class ItemRef(_Strict):
    item_id: uuid.UUID
    weight: float = Field(default=1.0, ge=0, le=1000)


class Selection(_Strict):
    """Draw ``count`` different items at random from a bank's published items that carry
    every tag listed (and match the subject and interaction types, when given)."""

    bank_id: uuid.UUID
    count: int = Field(ge=1, le=1000)
    tags: list[Annotated[str, StringConstraints(min_length=1, max_length=100)]] = Field(
        default_factory=list, max_length=20
    )
    subject: str | None = Field(default=None, max_length=200)
    interaction_types: list[str] = Field(default_factory=list, max_length=20)
    weight: float = Field(default=1.0, ge=0, le=1000, description="Weight of each drawn item.")


class AdaptiveScale(_Strict):
    """The reported score of an adaptive section: slope * theta + intercept (its SE
    |slope| * SE(theta)), clipped to [lowest, highest] when given."""

    slope: float = Field(default=1.0, gt=0, le=10_000)
    intercept: float = Field(default=0.0, ge=-1e6, le=1e6)
    lowest: float | None = None
    highest: float | None = None


class Adaptive(_Strict):
    """A computerized adaptive section: each next item is chosen from the pool by the
    candidate's responses so far (``assessments.adaptive``). The pool is the section's
    ``items`` when it lists some, else every published item of ``bank_id`` carrying every
    tag in ``tags``; each pool item's published version must carry right/wrong IRT
    parameters (rasch, 2pl or 3pl) from a calibration. Navigation must be linear."""

    bank_id: uuid.UUID | None = None
    tags: list[Annotated[str, StringConstraints(min_length=1, max_length=100)]] = Field(
        default_factory=list, max_length=20
    )
    selection: Literal["max-info", "randomesque", "a-stratified"] = "max-info"
    randomesque: int = Field(default=5, ge=1, le=50)
    strata: int = Field(default=4, ge=1, le=20)
    se_target: float | None = Field(default=0.3, gt=0, le=5)
    min_items: int = Field(default=5, ge=1, le=500)
    max_items: int = Field(default=30, ge=1, le=500)
    max_seconds: int | None = Field(default=None, ge=10, le=7 * 86_400)
    content: dict[Annotated[str, StringConstraints(min_length=1, max_length=100)], float] = Field(
        default_factory=dict, max_length=50, description="Tag -> target share."
    )
    exposure_target: float | None = Field(
        default=None,
        gt=0,
        le=1,
        description="Sympson-Hetter: the largest share of candidates an item should reach "
        "(control parameters found by simulation at publishing).",
    )
    scale: AdaptiveScale | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.max_items < self.min_items:
            raise ValueError("adaptive: min_items must not exceed max_items")
        if any(v < 0 for v in self.content.values()) or (
            self.content and sum(self.content.values()) <= 0
        ):
            raise ValueError("adaptive: content shares must be non-negative, not all zero")
        if (
            self.scale is not None
            and self.scale.lowest is not None
            and self.scale.highest is not None
            and self.scale.lowest >= self.scale.highest
        ):
            raise ValueError("adaptive: scale lowest must be below highest")
        return self


class Section(_Strict):
    identifier: Identifier
    title: str = Field(min_length=1, max_length=300)
    items: list[ItemRef] = Field(default_factory=list, max_length=1000)
    selection: Selection | None = None
    adaptive: Adaptive | None = None
    shuffle_items: bool = False
    time_limit_s: int | None = Field(default=None, ge=10, le=7 * 86_400)
    weight: float = Field(default=1.0, ge=0, le=1000)

    @model_validator(mode="after")
    def _items_or_selection(self) -> Self:
        if self.adaptive is not None:
            if self.selection is not None:
                raise ValueError(
                    f"section {self.identifier!r} is adaptive and has a selection; "
                    "an adaptive section's pool is its items or its adaptive bank_id"
                )
            if not self.items and self.adaptive.bank_id is None:
                raise ValueError(
                    f"adaptive section {self.identifier!r} needs items or a bank_id for its pool"
                )
        elif not self.items and self.selection is None:
            raise ValueError(f"section {self.identifier!r} has neither items nor a selection")
        if self.items and self.selection is not None:
            raise ValueError(
                f"section {self.identifier!r} has both fixed items and a selection; "
                "use two sections"
            )
        ids = [ref.item_id for ref in self.items]
        if len(ids) != len(set(ids)):
            raise ValueError(f"section {self.identifier!r} lists an item twice")
        return self


class BreakPolicy(_Strict):
    allowed: bool = False
    count_against_time: bool = False
    max_breaks: int = Field(default=1, ge=0, le=20)
    max_break_s: int = Field(default=600, ge=30, le=86_400)


class Band(_Strict):
    """A score band from ``min_score`` (scaled score, inclusive) up to the next band."""

    name: str = Field(min_length=1, max_length=100)
    min_score: float
    passed: bool | None = Field(default=None, description="Whether this band is a pass.")


class ScoringPolicy(_Strict):
    scale_slope: float = Field(default=1.0, description="scaled = slope * weighted + intercept")
    scale_intercept: float = 0.0
    bands: list[Band] = Field(default_factory=list, max_length=50)
    release: ReleasePolicy = ReleasePolicy.after_review
    report_percentile: bool = Field(
        default=False,
        description="Scorecards print the candidate's percentile among the released results "
        "of their administration (from five results on).",
    )

    @model_validator(mode="after")
    def _bands_distinct(self) -> Self:
        cuts = [b.min_score for b in self.bands]
        if len(cuts) != len(set(cuts)):
            raise ValueError("two bands start at the same score")
        names = [b.name for b in self.bands]
        if len(names) != len(set(names)):
            raise ValueError("two bands have the same name")
        return self


class AssessmentDefinition(_Strict):
    title: str = Field(min_length=1, max_length=300)
    description: str | None = Field(default=None, max_length=5000)
    language: str | None = Field(default=None, max_length=35)
    sections: list[Section] = Field(min_length=1, max_length=100)
    navigation: Navigation = Navigation.free
    allow_review: bool = Field(default=True, description="Candidates may revisit answers.")
    allow_flags: bool = Field(default=True, description="Candidates may flag items for review.")
    shuffle_choices: bool = Field(
        default=True, description="Shuffle options where the item allows it."
    )
    time_limit_s: int | None = Field(default=None, ge=10, le=7 * 86_400)
    attempts_allowed: int = Field(default=1, ge=1, le=100)
    breaks: BreakPolicy = Field(default_factory=BreakPolicy)
    scoring: ScoringPolicy = Field(default_factory=ScoringPolicy)
    integrity_policy: str | None = Field(
        default=None, max_length=200, description="Name of the integrity policy to apply."
    )
    feedback: FeedbackPolicy = Field(
        default=FeedbackPolicy.none,
        description="When candidates see the feedback their answers select: none (never), "
        "after_item (on leaving each item; needs linear navigation) or after_test.",
    )

    @model_validator(mode="after")
    def _unique_sections(self) -> Self:
        ids = [s.identifier for s in self.sections]
        if len(ids) != len(set(ids)):
            raise ValueError("two sections have the same identifier")
        seen: set[uuid.UUID] = set()
        for section in self.sections:
            for ref in section.items:
                if ref.item_id in seen:
                    raise ValueError(f"item {ref.item_id} appears in two sections")
                seen.add(ref.item_id)
        adaptive = [s.adaptive is not None for s in self.sections]
        if any(adaptive):
            if self.navigation is not Navigation.linear:
                raise ValueError(
                    "an assessment with an adaptive section needs linear navigation "
                    "(forward only) and allow_review false"
                )
            first = adaptive.index(True)
            if not all(adaptive[first:]):
                raise ValueError("adaptive sections must come after every fixed section")
        if self.feedback is FeedbackPolicy.after_item and self.navigation is not Navigation.linear:
            # Feedback on an answer the candidate could still change would give the key away.
            raise ValueError(
                "feedback after_item needs linear navigation (an answer is final once the "
                "candidate moves on); use after_test with free navigation"
            )
        if self.navigation is Navigation.linear and self.allow_review:
            # Linear delivery reveals only what is reachable; going back is not possible.
            raise ValueError("linear navigation does not allow review; set allow_review false")
        return self


class PinnedItem(_Strict):
    item_id: uuid.UUID
    item_version_id: uuid.UUID
    version: int
    weight: float


class PinnedCatItem(PinnedItem):
    """A pool item of an adaptive section with the parameters frozen at publishing."""

    ref: str
    a: float
    d: float
    c: float = 0.0
    tags: list[str] = Field(default_factory=list)
    exposure: float = 1.0  # Sympson-Hetter control parameter k


class PinnedSection(_Strict):
    identifier: str
    items: list[PinnedItem] = Field(default_factory=list)
    pool: list[PinnedItem] = Field(default_factory=list)
    draw: int | None = None
    adaptive: list[PinnedCatItem] = Field(default_factory=list)


class Pinned(_Strict):
    """The item versions a published assessment version uses."""

    format: Literal[1] = 1
    sections: list[PinnedSection]
