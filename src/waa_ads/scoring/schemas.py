"""Request and reply bodies of the scoring and results API.

The candidate's released result (:class:`CandidateResult`) is closed to fields it does not
name, like every reply a candidate receives; the other replies are for staff.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from waa_ads.assessments.definition import Navigation
from waa_ads.content.schemas import CandidateReply
from waa_ads.core.params import INT32_MAX, Version
from waa_ads.delivery.schemas import Timestamp
from waa_ads.delivery.state_machine import AttemptState, EndReason

# --- trying responses ------------------------------------------------------------------------


class TryResponses(BaseModel):
    responses: dict[str, Any] = Field(
        default_factory=dict,
        description="Response identifier -> response in its shape (docs/response-shapes.md).",
    )
    attempts: list[dict[str, Any]] | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="The responses of each attempt of the item, in order, instead of "
        "``responses``: an adaptive item carries its outcomes from one attempt to the next "
        "and ends when completionStatus is completed; any other item processes the last.",
    )
    seed: int | None = Field(
        default=None,
        ge=0,
        le=INT32_MAX,
        description="An attempt's seed (attempts draw theirs below 2^31), which the random "
        "operator of response processing draws from (with the item and the responses).",
    )


class TryAttempt(BaseModel):
    outcomes: dict[str, Any] = Field(description="The outcome variables after this attempt.")
    notes: list[str] = Field(description="What the processing of this attempt noticed.")


class TryResult(BaseModel):
    outcomes: dict[str, Any] = Field(
        description="Every outcome variable of the item after response processing."
    )
    notes: list[str] = Field(description="What the processing noticed (a wrong shape...).")
    attempts: list[TryAttempt] | None = Field(
        default=None,
        description="When attempts were given: each one processed, in order (an adaptive "
        "item stops at the attempt that completes it); ``outcomes`` is the last one's.",
    )


# --- the candidate's result ------------------------------------------------------------------


class SectionTotals(CandidateReply):
    raw: float
    max_raw: float
    weighted: float
    # Adaptive sections only: the final ability estimate (EAP), its SE, and both on the
    # section's reporting scale; how many items were answered and why the test stopped.
    theta: float | None = None
    se: float | None = None
    scaled: float | None = None
    scaled_se: float | None = None
    items: float | None = None
    stop_reason: str | None = None


class CriterionFeedback(CandidateReply):
    """The rubric level a response reached on one criterion, in the rubric's words."""

    criterion: str = Field(description="The criterion's title.")
    level: str = Field(description="The level's label (else its id).")
    descriptor: str


class ItemFeedback(CandidateReply):
    """What the people who scored a response wrote to the candidate, and the rubric levels
    it reached. Never who scored it, nor the item's score."""

    item_ref: str
    position: int = Field(description="The question's number on the candidate's form.")
    comments: list[str]
    criteria: list[CriterionFeedback]


class CandidateResult(CandidateReply):
    """What a candidate sees once the result is released (and not withheld): totals, and
    the feedback of people who scored responses; never item scores, keys or another
    candidate's data."""

    attempt_id: uuid.UUID
    revision: int
    raw: float
    max_raw: float
    scaled: float
    band: str | None
    passed: bool | None
    sections: dict[str, SectionTotals]
    released_at: datetime
    feedback: list[ItemFeedback] = Field(
        default_factory=list,
        description="Per response scored by people, in form order: their comments to the "
        "candidate and the rubric level of each criterion (only responses that have some).",
    )


# --- what an access code opens ---------------------------------------------------------------


class LookupRequest(BaseModel):
    access_code: str = Field(min_length=8, max_length=64, examples=["K7QM-2XHD-9RTA-BC4W"])


class LookupBreaks(CandidateReply):
    allowed: bool
    max_breaks: int = Field(description="Breaks in all, the candidate's extra breaks included.")
    max_break_s: int = Field(description="The longest a break may last, in seconds.")
    count_against_time: bool = Field(description="Whether the clock runs during a break.")


class LookupAssessment(CandidateReply):
    title: str
    instructions: str | None = Field(description="The assessment's description.")
    time_limit_s: int | None = Field(description="The assessment's time limit (none: the window).")
    candidate_time_limit_s: int | None = Field(
        description="This candidate's time limit: the time limit x their extra-time multiplier."
    )
    question_count: int
    navigation: Navigation
    allow_review: bool
    allow_flags: bool
    breaks: LookupBreaks


class LookupAdministration(CandidateReply):
    title: str
    opens_at: Timestamp
    closes_at: Timestamp
    cancelled: bool


class LookupAttempt(CandidateReply):
    """One of the candidate's attempts, with its result once released."""

    id: uuid.UUID
    number: int
    state: AttemptState
    started_at: Timestamp | None
    ended_at: Timestamp | None
    ended_because: EndReason | None
    result_released: bool = Field(
        description="False until a result is released (not scored, not released, withheld)."
    )
    result: CandidateResult | None


class CandidateLookup(CandidateReply):
    """What an access code opens, before anything starts: who, what test, the attempts and
    their released results, and what the candidate can do next. Starts nothing."""

    candidate_name: str | None
    organization_name: str
    organization_logo_url: str | None = Field(
        default=None, description="The organization's logo for the header (same origin)."
    )
    organization_style_url: str | None = Field(
        default=None,
        description="The player's stylesheet with the organization's brand colour (same "
        "origin); null for the player's own colours.",
    )
    assessment: LookupAssessment
    administration: LookupAdministration
    attempts_used: int
    attempts_allowed: int
    attempts: list[LookupAttempt] = Field(description="Oldest first.")
    next_step: Literal["start", "resume", "none"] = Field(
        description="start: POST /attempts starts a new attempt (the clock starts); resume: "
        "POST /attempts resumes the live attempt; none: nothing can start now (blocked_by)."
    )
    live_attempt_id: uuid.UUID | None
    blocked_by: str | None = Field(
        description="Why no attempt can start now: the problem code POST /attempts would "
        "answer with (attempts-exhausted, administration-not-open, administration-closed, "
        "administration-cancelled)."
    )


# --- results, as admins manage them ----------------------------------------------------------


class ItemScoreRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    item_ref: str
    item_version_id: uuid.UUID
    section: str
    weight: float
    score: float | None
    max_score: float
    method: str
    scorer: str
    confidence: float | None
    notes: list[str]


class ResultRead(BaseModel):
    """One revision of an attempt's result (revisions are added, never overwritten)."""

    model_config = ConfigDict(from_attributes=True)

    attempt_id: uuid.UUID
    revision: int
    reason: str
    complete: bool
    raw: float
    max_raw: float
    weighted: float
    max_weighted: float
    scaled: float
    band: str | None
    passed: bool | None
    pending_items: int
    created_at: datetime
    released_at: datetime | None
    withheld: bool
    withheld_reason: str | None


class ResultDetail(BaseModel):
    attempt_state: str
    candidate_id: uuid.UUID
    latest: ResultRead
    revisions: list[ResultRead]
    items: list[ItemScoreRead]


class ResultRow(BaseModel):
    attempt_id: uuid.UUID
    candidate_id: uuid.UUID
    attempt_number: int
    attempt_state: str
    result: ResultRead | None


class Reason(BaseModel):
    reason: str = Field(min_length=1, max_length=500)


class ManualScore(Reason):
    score: float


# --- scoring an administration --------------------------------------------------------------


class ScoreAdministration(BaseModel):
    administration_id: uuid.UUID


class AdministrationScoringQueued(BaseModel):
    """The administration's waiting attempts will be scored in bulk in the background."""

    administration_id: uuid.UUID
    waiting: int = Field(description="Attempts ended and not yet scored when it was queued.")
    task: str = Field(description="The background task that scores them.")


# --- answer-key corrections ------------------------------------------------------------------


class RescoreRequest(Reason):
    item_id: uuid.UUID
    from_version: Version = Field(description="The version whose key was wrong.")
    to_version: Version = Field(description="The corrected version.")
    administration_id: uuid.UUID | None = Field(
        default=None, description="Only this administration's attempts (default: all)."
    )


class ItemScoreChange(BaseModel):
    before: float | None
    after: float | None


class ScaledChange(BaseModel):
    before: float
    after: float


class BandChange(BaseModel):
    before: str | None
    after: str | None


class RescoredAttempt(BaseModel):
    """One attempt whose score on the corrected item changed (it got a new revision)."""

    attempt_id: uuid.UUID
    item_ref: str
    item_score: ItemScoreChange
    scaled: ScaledChange
    band: BandChange


class RescoreReport(BaseModel):
    changed: int
    changes: list[RescoredAttempt]
