"""Integrity's request and reply models. Candidate-facing replies forbid extra fields."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Read(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PolicySave(BaseModel):
    source: str = Field(min_length=1, max_length=65_536, description="The policy as YAML.")


class PolicyRead(_Read):
    id: uuid.UUID
    name: str
    current_version: int
    created_at: datetime
    updated_at: datetime


class PolicyVersionRead(_Read):
    name: str
    version: int
    source: str
    created_by: str | None
    created_at: datetime


class FlagRead(BaseModel):
    rule: str
    severity: str
    reason: str
    signals: dict[str, float]
    evidence: list[dict[str, Any]]


class SummaryRead(_Read):
    attempt_id: uuid.UUID
    administration_id: uuid.UUID
    policy_name: str | None
    policy_version: int | None
    status: str = Field(description="open (flags, no decision), decided, or clear (no flags).")
    flag_count: int
    top_severity: str | None
    flags: list[FlagRead]
    signals: dict[str, Any] = Field(description="Each signal's value and evidence.")
    computed_at: datetime


class QueueEntry(_Read):
    attempt_id: uuid.UUID
    administration_id: uuid.UUID
    candidate_id: uuid.UUID
    status: str
    flag_count: int
    top_severity: str | None
    reasons: list[str]
    top_reason: str | None = Field(description="The reason of the most severe flag.")
    computed_at: datetime


class QueuePage(BaseModel):
    items: list[QueueEntry]
    next_cursor: str | None = Field(
        description="Pass as ?cursor= to get the next page; null on the last page."
    )


class EventRead(_Read):
    id: uuid.UUID
    kind: str
    client_time: str | None
    received_at: datetime


class SaveRead(_Read):
    id: int
    item_ref: str
    seq: int
    value: Any = Field(description="The value saved (stored shape), kept or refused.")
    status: str
    received_at: datetime
    time_spent_ms: int | None


class PartnerRead(BaseModel):
    attempt_id: uuid.UUID = Field(description="The other attempt of the pair.")
    direction: str = Field(
        description="copies_from: this attempt agrees with the partner's "
        "answers beyond chance; copied_by: the other way round."
    )
    index: float
    p_value: float
    q_value: float
    compared: int
    matches: int
    expected: float
    identical: list[str] = Field(description="Items answered identically.")
    identical_wrong: list[str] = Field(description="Of those, the items both got wrong.")
    shared_answers: dict[str, Any] = Field(description="The identical answers, per item.")
    overlap_s: float = Field(description="Seconds both attempts were in progress together.")


class DecisionKind(StrEnum):
    dismiss = "dismiss"
    note = "note"
    warn = "warn"
    invalidate = "invalidate"


class DecisionCreate(BaseModel):
    kind: DecisionKind
    reason: str = Field(min_length=1, max_length=2000)


class DecisionRead(_Read):
    id: uuid.UUID
    attempt_id: uuid.UUID
    kind: str
    reason: str
    actor_type: str
    actor_id: str | None
    created_at: datetime


class Timeline(BaseModel):
    attempt_id: uuid.UUID
    administration_id: uuid.UUID
    candidate_id: uuid.UUID
    state: str
    started_at: datetime | None
    ended_at: datetime | None
    network_address: None = Field(
        default=None, description="Attempts store no network address; always null."
    )
    summary: SummaryRead | None
    events: list[EventRead]
    saves: list[SaveRead]
    partners: list[PartnerRead]
    decisions: list[DecisionRead]


class SimilarityRequested(BaseModel):
    administration_id: uuid.UUID
    task: str


class SimilarityRunRead(_Read):
    id: uuid.UUID
    administration_id: uuid.UUID
    candidates: int
    items: int
    tests: int
    alpha: float
    correction: str
    flagged: int
    computed_at: datetime


class SimilarityPairRead(_Read):
    attempt_id: uuid.UUID
    source_attempt_id: uuid.UUID
    index: float
    p_value: float
    q_value: float
    compared: int
    matches: int
    expected: float
    identical: list[str]
    identical_wrong: list[str]
    overlap_s: float


class SimilarityReport(BaseModel):
    run: SimilarityRunRead
    pairs: list[SimilarityPairRead]


#: One piece of evidence as a candidate sees it: plain values only, never another
#: candidate's attempt.
EvidenceValue = bool | int | float | str | list[str] | list[int] | None


class CandidateFlag(_Closed):
    severity: str
    reason: str
    evidence: list[dict[str, EvidenceValue]]


class CandidateDecision(_Closed):
    kind: str
    reason: str
    created_at: datetime


class CandidateIntegrity(_Closed):
    """What a candidate is shown of their attempt's review when the policy allows appeals."""

    flags: list[CandidateFlag]
    decisions: list[CandidateDecision]
    can_appeal: bool


class AppealCreate(_Closed):
    reason: str = Field(min_length=1, max_length=2000)
