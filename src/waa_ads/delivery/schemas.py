"""Request and response bodies of the candidate and proctor attempt API."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from waa_ads.delivery.service import EVENT_KINDS


class StartRequest(BaseModel):
    access_code: str = Field(min_length=8, max_length=64, examples=["K7QM-2XHD-9RTA-BC4W"])


class StartResponse(BaseModel):
    attempt: dict[str, Any]
    credential: str = Field(description="Send as X-Attempt-Token on every call about this attempt.")
    resumed: bool


class SaveRequest(BaseModel):
    seq: int = Field(ge=1, le=2**53, description="Counts per response; the highest wins.")
    value: Any = Field(
        default=None,
        description="The response in the item's shape (docs/response-shapes.md); an object "
        "keyed by response identifier for items with several responses.",
    )
    flagged: bool | None = Field(default=None, description="Flag the item for review.")
    time_spent_ms: int | None = Field(default=None, ge=0, le=7 * 86_400_000)


class SaveResponse(BaseModel):
    accepted: bool
    seq: int | None = None
    current_seq: int


class ProctorAction(BaseModel):
    reason: str = Field(min_length=1, max_length=500)


class ExtendAction(ProctorAction):
    extra_s: int = Field(ge=1, le=86_400)


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


class EventsAccepted(BaseModel):
    accepted: int


class AttemptSummary(BaseModel):
    id: str
    state: str
    number: int
    candidate_id: str
    started_at: str | None
    deadline_at: str | None
    remaining_s: int | None
    ended_at: str | None
    end_reason: str | None
    pause_kind: str | None


ProctorVerb = Literal["pause", "resume", "terminate"]
