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


class Section(_Strict):
    identifier: Identifier
    title: str = Field(min_length=1, max_length=300)
    items: list[ItemRef] = Field(default_factory=list, max_length=1000)
    selection: Selection | None = None
    shuffle_items: bool = False
    time_limit_s: int | None = Field(default=None, ge=10, le=7 * 86_400)
    weight: float = Field(default=1.0, ge=0, le=1000)

    @model_validator(mode="after")
    def _items_or_selection(self) -> Self:
        if not self.items and self.selection is None:
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
        if self.navigation is Navigation.linear and self.allow_review:
            # Linear delivery reveals only what is reachable; going back is not possible.
            raise ValueError("linear navigation does not allow review; set allow_review false")
        return self


class PinnedItem(_Strict):
    item_id: uuid.UUID
    item_version_id: uuid.UUID
    version: int
    weight: float


class PinnedSection(_Strict):
    identifier: str
    items: list[PinnedItem] = Field(default_factory=list)
    pool: list[PinnedItem] = Field(default_factory=list)
    draw: int | None = None


class Pinned(_Strict):
    """The item versions a published assessment version uses."""

    format: Literal[1] = 1
    sections: list[PinnedSection]
