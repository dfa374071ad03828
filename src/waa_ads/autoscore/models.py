"""Automated scoring tables: each organization's acceptance gate, the registry of essay
models (one row per trained version of an item's model, its artifact in the blob store),
and one decision per live response a model looked at."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from waa_ads.core.db import Base, JSONType, uuid7


class AutoscoreSettings(Base):
    """An organization's acceptance gate and routing share (defaults apply without a row):
    a model may be activated only when its cross-validated report passes these limits."""

    __tablename__ = "autoscore_settings"

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), primary_key=True
    )
    min_qwk: Mapped[float] = mapped_column(default=0.70)
    max_below_human: Mapped[float] = mapped_column(default=0.10)
    max_abs_smd: Mapped[float] = mapped_column(default=0.15)
    max_abs_group_smd: Mapped[float | None]
    min_responses: Mapped[int] = mapped_column(Integer(), default=200)
    require_human: Mapped[bool] = mapped_column(default=False)
    check_share: Mapped[float] = mapped_column(default=0.0)
    updated_by: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime]


class EssayModel(Base):
    """One trained (or training) version of an item's essay model.

    ``status``: ``training`` -> ``trained`` | ``failed``; ``trained`` -> ``active`` ->
    ``retired`` (and a retired one may be activated again). At most one ``active`` model
    per item and scope (``criterion`` empty: the item's score). ``training_ref`` says which
    data it learnt from (plans, administrations, counts, the SHA-256 of the rows);
    ``artifact_sha256`` names its bytes in the blob store."""

    __tablename__ = "autoscore_model"
    __table_args__ = (
        UniqueConstraint("organization_id", "item_id", "criterion", "version"),
        Index(
            "uq_autoscore_model_active",
            "organization_id",
            "item_id",
            "criterion",
            unique=True,
            postgresql_where=text("status = 'active'"),
            sqlite_where=text("status = 'active'"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True
    )
    item_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("item.id", ondelete="CASCADE"))
    item_version_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("item_version.id", ondelete="RESTRICT"), index=True
    )
    criterion: Mapped[str] = mapped_column(String(128), default="")
    version: Mapped[int] = mapped_column(Integer())
    status: Mapped[str] = mapped_column(String(16), default="training")
    source: Mapped[str] = mapped_column(String(16))
    #: The uploaded CSV of a model trained from a file (blob store digest).
    upload_sha256: Mapped[str | None] = mapped_column(String(64))
    training_ref: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    config: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    min_score: Mapped[float] = mapped_column(default=0.0)
    max_score: Mapped[float] = mapped_column(default=0.0)
    progress: Mapped[float] = mapped_column(default=0.0)
    progress_message: Mapped[str | None] = mapped_column(String(300))
    error: Mapped[str | None] = mapped_column(Text())
    metrics: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    gate: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    library_versions: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    artifact_sha256: Mapped[str | None] = mapped_column(String(64))
    artifact_size: Mapped[int | None] = mapped_column(Integer())
    created_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    trained_at: Mapped[datetime | None]
    activated_at: Mapped[datetime | None]
    activated_by: Mapped[str | None] = mapped_column(String(64))
    retired_at: Mapped[datetime | None]


class AutoscoreDecision(Base):
    """What a model did with one live response: ``auto`` (its score became the item's
    score, ``revision``), ``check`` (confident, but sent to people as a check) or
    ``human`` (doubtful or unlike its training data: ``reason``). ``score`` is the model's
    prediction in every case, so it can be compared with the people's score later.

    An item scored by criterion models has one row per criterion (``criterion``: the
    rubric criterion, ``score``: that model's points for it), all with the answer's one
    route, reason and revision; an item model's row has ``criterion`` empty."""

    __tablename__ = "autoscore_decision"
    __table_args__ = (
        UniqueConstraint("attempt_id", "item_ref", "criterion"),
        Index("ix_autoscore_decision_model", "model_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True
    )
    model_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("autoscore_model.id", ondelete="CASCADE")
    )
    attempt_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("attempt.id", ondelete="CASCADE"))
    item_ref: Mapped[str] = mapped_column(String(200))
    item_version_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("item_version.id", ondelete="RESTRICT")
    )
    criterion: Mapped[str] = mapped_column(String(128), default="")
    route: Mapped[str] = mapped_column(String(16))
    score: Mapped[float | None]
    confidence: Mapped[float | None]
    reason: Mapped[str | None] = mapped_column(String(500))
    revision: Mapped[int | None] = mapped_column(Integer())
    created_at: Mapped[datetime]
