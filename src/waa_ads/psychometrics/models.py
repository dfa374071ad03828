"""Psychometrics tables: the item analysis of each administration, kept as the sufficient
statistics of ``classical.ItemAnalysisAccumulator`` and the attempts folded into them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from waa_ads.core.db import Base, JSONType, uuid7


class StoredItemAnalysis(Base):
    """One administration's item analysis: ``items`` (item reference -> maximum score, the
    accumulator's columns), ``folded`` (attempt id -> the result revision added) and
    ``state`` (``ItemAnalysisAccumulator.to_state()``). Updated as scores arrive."""

    __tablename__ = "psychometrics_item_analysis"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True
    )
    administration_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("administration.id", ondelete="CASCADE"), unique=True
    )
    items: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    folded: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    state: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    updated_at: Mapped[datetime]


class CalibrationRun(Base):
    """A calibration asked for and run in the background: its request (model,
    administrations), its progress, and when done the summary it stored on the item
    versions (``summary``: ``CalibrationRead``) or why it failed (``error``)."""

    __tablename__ = "psychometrics_calibration"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True
    )
    model: Mapped[str] = mapped_column(String(8))
    administration_ids: Mapped[list[str]] = mapped_column(JSONType, default=list)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    progress: Mapped[float] = mapped_column(default=0.0)
    message: Mapped[str | None] = mapped_column(String(300))
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    error: Mapped[str | None] = mapped_column(String(1000))
    created_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
