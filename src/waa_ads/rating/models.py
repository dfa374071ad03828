"""Rating tables: plans and their members, seeded responses, one outcome row per response
to rate, tasks (one per rating a response needs, and adjudications), leases and ratings."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from waa_ads.core.db import Base, JSONType, uuid7


class RatingPlan(Base):
    """How an administration's responses are rated by people (one plan per
    administration). ``item_refs`` empty: every item waiting for a person. ``version``
    counts the plan's changes (an edit names the version it read). ``score_unanswered``:
    a response left empty is scored 0 ("no response") instead of being queued."""

    __tablename__ = "rating_plan"
    __table_args__ = (UniqueConstraint("administration_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True
    )
    administration_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("administration.id", ondelete="CASCADE")
    )
    title: Mapped[str] = mapped_column(String(200))
    item_refs: Mapped[list[str]] = mapped_column(JSONType, default=list)
    double_share: Mapped[float] = mapped_column(default=0.0)
    disagreement_rule: Mapped[str] = mapped_column(String(16))
    disagreement_distance: Mapped[float] = mapped_column(default=1.0)
    per_criterion: Mapped[bool] = mapped_column(default=False)
    resolution: Mapped[str] = mapped_column(String(32))
    lease_seconds: Mapped[int] = mapped_column(Integer(), default=900)
    seeded_share: Mapped[float] = mapped_column(default=0.0)
    agreement_threshold: Mapped[float] = mapped_column(default=0.7)
    leads: Mapped[list[str]] = mapped_column(JSONType, default=list)
    score_unanswered: Mapped[bool] = mapped_column(default=True, server_default=text("true"))
    version: Mapped[int] = mapped_column(Integer(), default=1, server_default=text("1"))
    created_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime | None]


class RatingMember(Base):
    """A person on a plan: ``rater`` or ``adjudicator``, for some items (``item_refs``)
    and the items of some banks (``bank_ids``); both empty: every item. A paused rater
    gets no leases."""

    __tablename__ = "rating_member"
    __table_args__ = (UniqueConstraint("plan_id", "user_id", "role"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True
    )
    plan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("rating_plan.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(16))
    item_refs: Mapped[list[str]] = mapped_column(JSONType, default=list)
    bank_ids: Mapped[list[str] | None] = mapped_column(JSONType, default=list)
    paused_at: Mapped[datetime | None]
    paused_by: Mapped[str | None] = mapped_column(String(64))


class SeededResponse(Base):
    """A pre-scored response slipped into raters' queues unannounced."""

    __tablename__ = "rating_seed"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True
    )
    plan_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("rating_plan.id", ondelete="CASCADE"), index=True
    )
    item_ref: Mapped[str] = mapped_column(String(200))
    item_version_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("item_version.id", ondelete="RESTRICT")
    )
    value: Mapped[dict[str, Any]] = mapped_column(JSONType)
    levels: Mapped[dict[str, Any]] = mapped_column(JSONType)
    score: Mapped[float]
    created_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]


class RatingOutcome(Base):
    """One response of an attempt to rate: how many ratings it needs, and where it stands
    (``open`` -> ``adjudicating`` -> ``resolved``). Its row lock orders the ratings of one
    response, so exactly one of them resolves it."""

    __tablename__ = "rating_outcome"
    __table_args__ = (UniqueConstraint("plan_id", "response_key"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True
    )
    plan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("rating_plan.id", ondelete="CASCADE"))
    response_key: Mapped[str] = mapped_column(String(260))
    attempt_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("attempt.id", ondelete="CASCADE"), index=True
    )
    item_ref: Mapped[str] = mapped_column(String(200))
    item_version_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("item_version.id", ondelete="RESTRICT")
    )
    needed: Mapped[int] = mapped_column(Integer())
    status: Mapped[str] = mapped_column(String(16), default="open")
    score: Mapped[float | None]
    revision: Mapped[int | None] = mapped_column(Integer())
    created_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]


class RatingTask(Base):
    """One rating a response needs (``kind`` rating, seeded or adjudication). ``open``
    until leased; a lease past ``lease_expires_at`` counts as open again."""

    __tablename__ = "rating_task"
    __table_args__ = (
        UniqueConstraint("plan_id", "response_key", "rater_id"),
        Index("ix_rating_task_queue", "plan_id", "state", "order_key"),
        Index("ix_rating_task_response", "plan_id", "response_key"),
        Index("ix_rating_task_rater", "rater_id", "state"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True
    )
    plan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("rating_plan.id", ondelete="CASCADE"))
    response_key: Mapped[str] = mapped_column(String(260))
    kind: Mapped[str] = mapped_column(String(16))
    item_ref: Mapped[str] = mapped_column(String(200))
    item_version_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("item_version.id", ondelete="RESTRICT")
    )
    #: The bank of the item (copied from the item version), for assignment per bank. No
    #: foreign key: the column is added in place on SQLite, which cannot add one; a bank
    #: that goes away just leaves an id no member names.
    bank_id: Mapped[uuid.UUID | None]
    attempt_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("attempt.id", ondelete="CASCADE")
    )
    seed_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("rating_seed.id", ondelete="CASCADE")
    )
    slot: Mapped[int] = mapped_column(Integer())
    order_key: Mapped[int] = mapped_column(BigInteger())
    state: Mapped[str] = mapped_column(String(16), default="open")
    rater_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    lease_id: Mapped[uuid.UUID | None]
    lease_expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class RatingLease(Base):
    """A task handed to a rater until ``expires_at``; a rating answers one lease."""

    __tablename__ = "rating_lease"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True
    )
    task_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("rating_task.id", ondelete="CASCADE"), index=True
    )
    rater_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    leased_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class Rating(Base):
    """A rater's levels for one response (per criterion), the item score they make, notes
    for the record (``annotations``) and a ``comment`` to the candidate."""

    __tablename__ = "rating"
    __table_args__ = (
        UniqueConstraint("lease_id"),
        Index("ix_rating_plan_response", "plan_id", "response_key"),
        Index("ix_rating_rater", "plan_id", "rater_id", "submitted_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True
    )
    plan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("rating_plan.id", ondelete="CASCADE"))
    task_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("rating_task.id", ondelete="CASCADE"))
    lease_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("rating_lease.id", ondelete="CASCADE"))
    response_key: Mapped[str] = mapped_column(String(260))
    kind: Mapped[str] = mapped_column(String(16))
    item_ref: Mapped[str] = mapped_column(String(200))
    attempt_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("attempt.id", ondelete="CASCADE")
    )
    seed_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("rating_seed.id", ondelete="CASCADE")
    )
    rater_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    levels: Mapped[dict[str, Any]] = mapped_column(JSONType)
    criteria: Mapped[dict[str, Any]] = mapped_column(JSONType)
    score: Mapped[float]
    annotations: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    comment: Mapped[str | None] = mapped_column(Text())
    started_at: Mapped[datetime]
    submitted_at: Mapped[datetime]
    duration_ms: Mapped[int] = mapped_column(BigInteger())
