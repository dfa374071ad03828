"""Request and reply models of the rating API. What a rater sees of a response
(:class:`LeaseRead`) carries no candidate, attempt or other rater's identity."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from waa_ads.content.schemas import CandidateItem
from waa_ads.core.params import INT32_MAX
from waa_ads.rating.rules import DisagreementRule, Resolution


class Member(BaseModel):
    user_id: uuid.UUID
    item_refs: list[str] = Field(
        default_factory=list, description="These items (with bank_ids both empty: every item)."
    )
    bank_ids: list[uuid.UUID] = Field(
        default_factory=list, description="And the items of these banks."
    )


class PlanCreate(BaseModel):
    administration_id: uuid.UUID
    title: str = Field(min_length=1, max_length=200)
    item_refs: list[str] = Field(
        default_factory=list, description="Items people rate; empty: every item people score."
    )
    double_share: float = Field(
        default=0.0, ge=0, le=1, description="Share of responses rated twice (1: all)."
    )
    disagreement_rule: DisagreementRule = DisagreementRule.adjacent
    disagreement_distance: float = Field(default=1.0, ge=0)
    per_criterion: bool = False
    resolution: Resolution = Resolution.adjudicator
    lease_seconds: int = Field(default=900, ge=10, le=86_400)
    seeded_share: float = Field(
        default=0.0, ge=0, le=1, description="Share of leases that are seeded responses."
    )
    agreement_threshold: float = Field(default=0.7, ge=0, le=1)
    score_unanswered: bool = Field(
        default=True,
        description='A response left empty is scored 0 ("no response") and never queued.',
    )
    raters: list[Member] = Field(default_factory=list)
    adjudicators: list[Member] = Field(default_factory=list)
    leads: list[uuid.UUID] = Field(default_factory=list)


class PlanUpdate(BaseModel):
    """A change to a plan: only the fields given change. ``expected_version`` is the
    version the change was made from; another change since is refused (409
    ``rating-plan-changed``), never overwritten."""

    model_config = ConfigDict(extra="forbid")

    expected_version: int = Field(ge=1, le=INT32_MAX)
    title: str | None = Field(default=None, min_length=1, max_length=200)
    item_refs: list[str] | None = None
    double_share: float | None = Field(default=None, ge=0, le=1)
    disagreement_rule: DisagreementRule | None = None
    disagreement_distance: float | None = Field(default=None, ge=0)
    per_criterion: bool | None = None
    resolution: Resolution | None = None
    lease_seconds: int | None = Field(default=None, ge=10, le=86_400)
    seeded_share: float | None = Field(default=None, ge=0, le=1)
    agreement_threshold: float | None = Field(default=None, ge=0, le=1)
    score_unanswered: bool | None = None
    raters: list[Member] | None = None
    adjudicators: list[Member] | None = None
    leads: list[uuid.UUID] | None = None


class MembersUpdate(BaseModel):
    """The plan's people, replacing those it has (a rater kept keeps their paused state)."""

    raters: list[Member] = Field(default_factory=list)
    adjudicators: list[Member] = Field(default_factory=list)
    leads: list[uuid.UUID] | None = Field(default=None, description="None: unchanged.")


class MemberRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    user_id: uuid.UUID
    role: Literal["rater", "adjudicator"]
    item_refs: list[str]
    bank_ids: list[uuid.UUID]
    paused_at: datetime | None

    @field_validator("bank_ids", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return [] if value is None else value


class PlanRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    administration_id: uuid.UUID
    title: str
    item_refs: list[str]
    double_share: float
    disagreement_rule: DisagreementRule
    disagreement_distance: float
    per_criterion: bool
    resolution: Resolution
    lease_seconds: int
    seeded_share: float
    agreement_threshold: float
    score_unanswered: bool
    leads: list[uuid.UUID]
    version: int
    created_at: datetime
    updated_at: datetime | None


class PlanDetail(BaseModel):
    plan: PlanRead
    members: list[MemberRead]
    names: dict[str, str] = Field(
        default_factory=dict,
        description="Display names of the plan's raters, adjudicators and leads by user id: "
        "for its leads and admins only (empty for raters, who rate blind).",
    )


class Person(BaseModel):
    user_id: uuid.UUID
    name: str


class SyncReply(BaseModel):
    responses_added: int
    tasks_added: int


class NextRequest(BaseModel):
    plan_id: uuid.UUID | None = Field(default=None, description="Only this plan's queue.")


class RubricLevelRead(BaseModel):
    id: str
    points: float
    label: str | None
    descriptor: str


class RubricCriterionRead(BaseModel):
    id: str
    title: str
    description: str | None
    weight: float
    levels: list[RubricLevelRead]


class RubricRead(BaseModel):
    """The rubric beside the response. A holistic rubric is one criterion ``level``."""

    id: str
    version: int
    title: str
    kind: Literal["analytic", "holistic"]
    description: str | None
    criteria: list[RubricCriterionRead]
    max_points: float


class PriorRating(BaseModel):
    """For an adjudicator: the raters' levels (raters are not named)."""

    levels: dict[str, str]
    score: float


class LeaseRead(BaseModel):
    """A leased response, as the rater sees it: the item, the response as the attempt
    stored it (text, an upload's reference, a drawing), the rubric; never the candidate."""

    model_config = ConfigDict(extra="forbid")

    lease_id: uuid.UUID
    plan_id: uuid.UUID
    kind: Literal["rating", "adjudication"]
    expires_at: datetime
    item_ref: str
    item: CandidateItem
    response: dict[str, Any] | None
    file_url: str | None = Field(
        default=None,
        description="Where the rater's page fetches the uploaded file, when the response is one.",
    )
    rubric: RubricRead
    item_max_score: float
    prior_ratings: list[PriorRating]


class NextReply(BaseModel):
    lease: LeaseRead | None = Field(description="None: nothing waits for this rater now.")
    waiting: int = Field(description="Tasks this rater could still take, this one excluded.")


class Annotation(BaseModel):
    note: str = Field(max_length=2000)
    start: int | None = Field(
        default=None, ge=0, le=INT32_MAX, description="Character offset, if any."
    )
    end: int | None = Field(default=None, ge=0, le=INT32_MAX)


class RatingSubmit(BaseModel):
    levels: dict[str, str] = Field(
        description="Criterion id -> level id (a holistic rubric: {'level': id})."
    )
    annotations: list[Annotation] = Field(default_factory=list, max_length=200)
    comment: str | None = Field(default=None, max_length=5000, description="To the candidate.")
    next: bool = Field(default=False, description="Lease the next response in the same call.")


class RatingRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    plan_id: uuid.UUID
    kind: str
    item_ref: str
    rater_id: uuid.UUID
    levels: dict[str, str]
    criteria: dict[str, float]
    score: float
    comment: str | None
    started_at: datetime
    submitted_at: datetime
    duration_ms: int


class RatingSaved(BaseModel):
    """The saved rating (seeded ones look like any other to the rater) and, with
    ``next``, the next lease."""

    rating_id: uuid.UUID
    score: float
    next: NextReply | None


class SeedCreate(BaseModel):
    item_ref: str
    response: dict[str, Any] = Field(description="The response as an attempt stores it.")
    levels: dict[str, str]


class SeedRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    item_ref: str
    levels: dict[str, str]
    score: float


class ItemProgress(BaseModel):
    item_ref: str
    responses: int
    ratings_needed: int
    ratings_done: int
    adjudicating: int
    resolved: int


class Progress(BaseModel):
    items: list[ItemProgress]


class Disagreement(BaseModel):
    response_key: str
    item_ref: str
    ratings: list[PriorRating]
    adjudication_leased: bool


class AgreementRead(BaseModel):
    pairs: int
    exact: float | None
    adjacent: float | None
    kappa: float | None
    quadratic_kappa: float | None
    smd: float | None


class ItemAgreement(AgreementRead):
    item_ref: str


class PairAgreement(AgreementRead):
    rater_a: uuid.UUID
    rater_b: uuid.UUID


class RaterStats(BaseModel):
    rater_id: uuid.UUID
    ratings: int
    mean_seconds: float | None
    agreement: AgreementRead = Field(description="Against the other ratings of the same responses.")
    seeded: int
    seeded_exact: float | None
    seeded_adjacent: float | None
    drift: list[float] = Field(
        description="Adjacent agreement per window of consecutive paired ratings, oldest first."
    )
    flagged: bool
    paused: bool


class PlanStats(BaseModel):
    items: list[ItemAgreement]
    pairs: list[PairAgreement]
    raters: list[RaterStats]
