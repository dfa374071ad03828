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
    id: uuid.UUID | None = Field(
        default=None,
        description="The flag's id: kept while its rule keeps firing on the attempt, new when "
        "the rule fires again after it stopped (the audit's integrity.flag_raised names it). "
        "None for a flag stored before flags had ids.",
    )
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
    frames: list[FrameRead] = Field(
        default_factory=list, description="Webcam stills with their findings, in order."
    )


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


# --- webcam frames ----------------------------------------------------------------------------


class CameraRead(_Closed):
    """What the player needs to know about the camera for this attempt."""

    frames: bool = Field(description="Whether the policy takes webcam stills.")
    interval_s: int
    retention_days: int
    without_camera: str = Field(description="note or proctor")
    consent_text: str | None = Field(description="What the candidate is asked to agree to.")
    consent: str | None = Field(description="given, refused, unavailable, or null (not asked)")
    paused: bool = Field(
        default=False, description="The attempt now waits for a proctor (policy: proctor)."
    )


class ConsentWrite(_Closed):
    consent: str = Field(
        pattern="^(given|refused|unavailable)$",
        description="given; refused (the candidate said no); unavailable (no camera).",
    )


class FrameAccepted(_Closed):
    frame_id: uuid.UUID
    seq: int
    next_in_s: int = Field(description="When the player should send the next still.")


class FrameRead(BaseModel):
    id: uuid.UUID
    seq: int
    received_at: datetime
    analysed_at: datetime | None
    expires_at: datetime
    purged_at: datetime | None
    width: int
    height: int
    findings: dict[str, Any] | None = Field(
        description="faces, presence, boxes, looking_away, off_centre, at_edge, far, "
        "brightness, contrast, too_dark, too_bright, uniform, frozen"
    )
    concerns: list[str]
    has_image: bool
    has_thumbnail: bool


class FaceBox(BaseModel):
    x: float = Field(description="Left edge as a fraction of the frame's width.")
    y: float
    w: float
    h: float
    view: str = Field(description="frontal or profile")


class FacesRead(BaseModel):
    """What the analysis finds in one still (docs/integrity.md, "Webcam frames")."""

    width: int
    height: int
    faces: int
    presence: str = Field(description="none, one or several")
    boxes: list[FaceBox]
    looking_away: bool
    off_centre: bool
    at_edge: bool
    far: bool
    brightness: float
    contrast: float
    too_dark: bool
    too_bright: bool
    uniform: bool
    frozen: bool
    concerns: list[str]


class ConditionFigures(BaseModel):
    condition: str
    frames: int
    accuracy: float = Field(
        description="Share of frames whose face count (none/one/several) is right."
    )
    one_face_frames: int
    false_flag_rate: float = Field(
        description="Share of one-face frames reported as no face, several, or looking away."
    )
    no_face_missed_rate: float = Field(description="Share of no-face frames reported with a face.")


class FrameEvaluation(BaseModel):
    command: str
    detector: str
    evaluated_at: str
    frames: int
    frames_per_s_per_core: float
    conditions: list[ConditionFigures]
    preprocessing: dict[str, Any] = Field(
        default_factory=dict, description="The same figures without the dark-frame lift and CLAHE."
    )


class GroupRates(BaseModel):
    group: str | None
    attempts: int = Field(description="Analysed attempts of candidates in the group.")
    flagged: int
    flag_rate: float
    decided: int
    decisions: dict[str, int]
    warn_rate: float
    invalidate_rate: float


class FairnessReport(BaseModel):
    administration_id: uuid.UUID | None
    frame_analysis: FrameEvaluation
    groups: list[GroupRates]
