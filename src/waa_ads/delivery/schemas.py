"""Request and reply bodies of the candidate and proctor attempt API.

Every reply a candidate receives derives from the bank's ``CandidateReply``, which forbids
extra fields: a reply holds what its model names and nothing else, so an answer key, a rubric
or another candidate's data cannot slip into it by accident. The rendered item itself is the
bank's ``CandidateItem``. Timestamps go on the wire as
``datetime.isoformat()`` (``2026-12-03T09:15:00.123456+00:00``), the format the player reads.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field, PlainSerializer, WithJsonSchema, field_validator

from waa_ads.assessments.definition import FeedbackPolicy, Navigation
from waa_ads.content.schemas import CandidateFeedback, CandidateItem, CandidateReply
from waa_ads.core.language_choice import LocaleCode
from waa_ads.delivery.state_machine import AttemptState, EndReason, PauseKind

Timestamp = Annotated[
    datetime,
    PlainSerializer(lambda moment: moment.isoformat(), return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
"""A timezone-aware UTC datetime, serialized by ``isoformat()`` (``+00:00``, not ``Z``)."""


# --- attempts --------------------------------------------------------------------------------


class StartRequest(BaseModel):
    access_code: str = Field(min_length=8, max_length=64, examples=["K7QM-2XHD-9RTA-BC4W"])


class AttemptRead(CandidateReply):
    """An attempt as its candidate (and its proctors' actions) see it."""

    id: uuid.UUID
    state: AttemptState
    number: int
    started_at: Timestamp | None
    deadline_at: Timestamp | None
    paused: bool
    pause_kind: PauseKind | None
    ended_at: Timestamp | None
    ended_because: EndReason | None = Field(
        description="How an ended attempt ended, also once it moved on to scoring and release."
    )
    administration_id: uuid.UUID


_LOCALE = "The language the attempt is delivered in (the player's and the items')."
_LOCALES = (
    "The languages the candidate may switch to (PUT .../locale), the attempt's own among "
    "them; empty when the administration allows no switching."
)


class StartResponse(CandidateReply):
    attempt: AttemptRead
    credential: str = Field(description="Send as X-Attempt-Token on every call about this attempt.")
    resumed: bool
    locale: str = Field(description=_LOCALE)
    locales: list[str] = Field(description=_LOCALES)


class ResponseRead(CandidateReply):
    """The candidate's own latest response to an item."""

    seq: int
    value: Any = Field(description="As the candidate sent it (docs/response-shapes.md).")
    flagged: bool
    time_spent_ms: int


class AttemptViewItem(CandidateReply):
    ref: str = Field(description="The item's identifier on this form.")
    position: int
    section: str
    item: CandidateItem
    response: ResponseRead | None
    feedback: list[CandidateFeedback] | None = Field(
        default=None,
        description="The feedback the candidate's answer selected, in order; present only "
        "when the assessment's feedback policy shows it now (never under policy none).",
    )


class BreaksRead(CandidateReply):
    """The candidate's breaks: whether they may take one, how many are left, the longest a
    break lasts (then the attempt resumes by itself) and whether the clock runs meanwhile."""

    allowed: bool
    remaining: int
    max_break_s: int
    count_against_time: bool


class AttemptView(CandidateReply):
    """What the candidate sees: state, remaining time and the reachable items (none while
    paused), each with the candidate's own latest response."""

    attempt: AttemptRead
    remaining_s: int | None
    breaks: BreaksRead
    navigation: Navigation
    allow_review: bool
    allow_flags: bool
    title: str
    candidate_name: str | None = Field(description="The candidate's name, for the header.")
    organization_name: str = Field(description="Whose test it is, for the header.")
    item_count: int
    current_position: int = Field(
        description="The question open: with linear navigation the one reached (moved on by "
        "advance), with free navigation the one the player last recorded with PUT "
        ".../position (1 until it records one). A reload or another device opens it."
    )
    more_items: bool = Field(
        default=False,
        description="An adaptive section may still give items after the last one presented "
        "(advance to get the next; item_count counts only those presented).",
    )
    items: list[AttemptViewItem]
    locale: str = Field(description=_LOCALE)
    locales: list[str] = Field(description=_LOCALES)
    feedback: FeedbackPolicy = Field(
        default=FeedbackPolicy.none,
        description="The assessment's feedback policy: none, after_item (each item's feedback "
        "once the candidate has moved on from it) or after_test (every item's once the attempt "
        "has ended: the ended attempt's view then lists its items again).",
    )


class LocaleRequest(BaseModel):
    locale: LocaleCode


class PositionResponse(CandidateReply):
    current_position: int


class AdvanceResponse(CandidateReply):
    current_position: int
    finished: bool = Field(
        default=False,
        description="Adaptive: no item follows (the test stopped); submit the attempt.",
    )


class PositionRequest(BaseModel):
    position: int = Field(
        ge=1, le=100_000, description="The position (1-based) of the question now open."
    )


class SaveRequest(BaseModel):
    seq: int = Field(ge=1, le=2**53, description="Counts per response; the highest wins.")
    value: Any = Field(
        default=None,
        description="The response in the item's shape (docs/response-shapes.md); an object "
        "keyed by response identifier for items with several responses.",
    )
    flagged: bool | None = Field(default=None, description="Flag the item for review.")
    time_spent_ms: int | None = Field(default=None, ge=0, le=7 * 86_400_000)


class SaveResponse(CandidateReply):
    accepted: bool
    seq: int | None = Field(description="The saved seq; null when the save was not accepted.")
    current_seq: int


# --- integrity events ------------------------------------------------------------------------


#: The browser signals the player reports.
EVENT_KINDS = frozenset(
    {
        "focus_lost",
        "focus_regained",
        "copy",
        "paste",
        "cut",
        "fullscreen_exit",
        "fullscreen_enter",
        "network_lost",
        "network_restored",
        "visibility_hidden",
        "visibility_visible",
        "context_menu",
        "print_attempt",
        "devtools_suspected",
    }
)


class BrowserEvent(BaseModel):
    kind: str = Field(description="focus_lost, copy, paste, fullscreen_exit, network_lost, ...")
    client_time: str | None = Field(default=None, max_length=40)
    data: dict[str, Any] = Field(default_factory=dict)

    @field_validator("kind")
    @classmethod
    def _known(cls, kind: str) -> str:
        if kind not in EVENT_KINDS:
            raise ValueError(f"unknown event kind; one of: {', '.join(sorted(EVENT_KINDS))}")
        return kind

    @field_validator("data")
    @classmethod
    def _small(cls, data: dict[str, Any]) -> dict[str, Any]:
        if len(str(data)) > 2000:
            raise ValueError("event data is limited to 2,000 characters")
        return data


class EventBatch(BaseModel):
    events: list[BrowserEvent] = Field(min_length=1, max_length=100)


class EventsAccepted(CandidateReply):
    accepted: int


# --- proctors --------------------------------------------------------------------------------


Reason = Annotated[
    str, Field(min_length=1, max_length=500, description="Why; kept in the audit trail.")
]


class PauseRequest(BaseModel):
    reason: Reason


class ResumeRequest(BaseModel):
    reason: Reason


class TerminateRequest(BaseModel):
    reason: Reason = Field(description="Why; kept in the audit trail and shown to proctors.")


class ExtendRequest(BaseModel):
    reason: Reason
    extra_s: int = Field(ge=1, le=86_400, description="Seconds added to the attempt's time.")


class AttemptSummary(BaseModel):
    """An attempt as its proctors list it."""

    id: uuid.UUID
    state: AttemptState
    number: int
    candidate_id: uuid.UUID
    started_at: Timestamp | None
    deadline_at: Timestamp | None
    remaining_s: int | None
    ended_at: Timestamp | None
    end_reason: str | None = Field(description="The ending as a sentence (a proctor's reason).")
    pause_kind: PauseKind | None


# --- the proctor's live view -----------------------------------------------------------------


class LiveIntegrityEvent(BaseModel):
    """An integrity event as a proctor's live view lists it (kind and server time)."""

    attempt_id: uuid.UUID
    kind: str
    received_at: Timestamp


class LiveAttempt(BaseModel):
    """An attempt as a proctor follows it live."""

    id: uuid.UUID
    number: int
    state: AttemptState
    candidate_id: uuid.UUID
    candidate_name: str | None = Field(description="Null when unknown or erased.")
    started_at: Timestamp | None
    deadline_at: Timestamp | None
    remaining_s: int | None = Field(description="Seconds left now (the server's clock).")
    pause_kind: PauseKind | None
    current_position: int = Field(description="The question open (1-based).")
    item_count: int
    ended_at: Timestamp | None
    ended_because: EndReason | None
    end_reason: str | None = Field(description="The ending as a sentence (a proctor's reason).")
    last_activity_at: Timestamp | None = Field(
        description="The latest of: start, a state change, a save, an integrity event."
    )
    integrity_event_count: int


class LiveBoard(BaseModel):
    """Every attempt of an administration with what a proctor watches, and the latest
    integrity events (newest first)."""

    administration_id: uuid.UUID
    title: str
    opens_at: Timestamp
    closes_at: Timestamp
    attempts: list[LiveAttempt]
    recent_integrity: list[LiveIntegrityEvent]
