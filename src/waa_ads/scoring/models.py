"""Results: one row per revision of an attempt's result (never overwritten), and the item
scores of each revision."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from waa_ads.core.db import Base, JSONType, uuid7


class AttemptResult(Base):
    """A revision of an attempt's result. Corrections, manual scores and rescoring add a
    revision with its reason; the released revision is what the candidate sees."""

    __tablename__ = "attempt_result"
    __table_args__ = (UniqueConstraint("attempt_id", "revision"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True
    )
    attempt_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("attempt.id", ondelete="CASCADE"))
    revision: Mapped[int] = mapped_column(Integer())
    reason: Mapped[str] = mapped_column(String(500))
    complete: Mapped[bool] = mapped_column(default=False)
    raw: Mapped[float] = mapped_column(default=0.0)
    max_raw: Mapped[float] = mapped_column(default=0.0)
    weighted: Mapped[float] = mapped_column(default=0.0)
    max_weighted: Mapped[float] = mapped_column(default=0.0)
    scaled: Mapped[float] = mapped_column(default=0.0)
    band: Mapped[str | None] = mapped_column(String(100))
    passed: Mapped[bool | None]
    sections: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    pending_items: Mapped[int] = mapped_column(Integer(), default=0)
    created_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    released_at: Mapped[datetime | None]
    released_by: Mapped[str | None] = mapped_column(String(64))
    withheld: Mapped[bool] = mapped_column(default=False)
    withheld_reason: Mapped[str | None] = mapped_column(String(500))


class ItemScore(Base):
    __tablename__ = "item_score"
    __table_args__ = (
        UniqueConstraint("result_id", "item_ref"),
        Index("ix_item_score_attempt_id", "attempt_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True
    )
    result_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("attempt_result.id", ondelete="CASCADE")
    )
    attempt_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("attempt.id", ondelete="CASCADE"))
    item_ref: Mapped[str] = mapped_column(String(200))
    item_version_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("item_version.id", ondelete="RESTRICT")
    )
    section: Mapped[str] = mapped_column(String(64))
    weight: Mapped[float] = mapped_column(default=1.0)
    score: Mapped[float | None]
    max_score: Mapped[float] = mapped_column(default=0.0)
    method: Mapped[str] = mapped_column(String(16))
    scorer: Mapped[str] = mapped_column(String(100))
    confidence: Mapped[float | None]
    outcomes: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    notes: Mapped[list[str]] = mapped_column(JSONType, default=list)
    #: What the candidate may read about a score people made, once released: the comments
    #: to the candidate and the rubric level of each criterion (no rater is named).
    feedback: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
