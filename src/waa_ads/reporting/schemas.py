"""Request and reply models of the reporting routes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class FigureRead(BaseModel):
    name: str = Field(description="Stable name: raw, scaled, band, outcome, section:<id>, ...")
    label: str
    value: str = Field(description="As printed on the scorecard.")


class CandidateScorecardRequest(BaseModel):
    """A candidate asking for their own scorecard: the access code they sat the test with
    and the attempt."""

    model_config = ConfigDict(extra="forbid")

    access_code: str = Field(min_length=1, max_length=200)
    attempt_id: uuid.UUID


class VerifyRead(BaseModel):
    """What a verification code stands for: only what the scorecard itself prints."""

    model_config = ConfigDict(extra="forbid")

    code: str
    status: str = Field(description="valid, superseded, withdrawn or broken")
    valid: bool
    message: str
    organization_name: str
    revision: int
    issued_at: str
    figures: list[FigureRead] = Field(
        description="The figures printed (empty when withdrawn or broken)."
    )


class FileVerdictRead(BaseModel):
    ok: bool
    code: str | None
    status: str = Field(description="valid, superseded, withdrawn, broken, altered or unknown")
    message: str
    difference: str | None = Field(description="The first figure that differs, if any.")


class ReceiptRead(BaseModel):
    attempt_id: uuid.UUID
    revision: int
    code: str
    verify_url: str | None
    release_seq: int
    release_hash: str
    figures: list[FigureRead]


class JobRead(BaseModel):
    id: uuid.UUID
    administration_id: uuid.UUID
    kind: str
    state: str = Field(description="queued, running, done or failed")
    total: int
    done: int
    skipped: int
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    archive_size: int | None
    download_url: str | None = Field(description="An expiring link to the ZIP once done.")


class CohortRead(BaseModel):
    """The cohort report's data (the HTML and PDF renderings show the same)."""

    administration_id: uuid.UUID
    administration_title: str
    assessment_title: str
    attempts: int
    scored: int
    released: int
    withheld: int
    mean: float | None
    sd: float | None
    median: float | None
    minimum: float | None
    maximum: float | None
    pass_cut: float | None
    passed: int
    failed: int
    pass_rate: float | None
    bands: list[dict[str, Any]]
    sections: list[dict[str, Any]]
    reliability: dict[str, Any]
    items: list[dict[str, Any]]
    integrity: dict[str, Any]
    rating: list[dict[str, Any]]
    scaled_scores: list[float]
