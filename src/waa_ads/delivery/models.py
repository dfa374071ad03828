"""Attempt tables: the attempt, its form (an append-only list of presented items), the
latest response per item, every save ever received, and integrity events."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, Enum, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from waa_ads.core.db import Base, JSONType, TimestampMixin, uuid7
from waa_ads.delivery.state_machine import EndReason


class Attempt(TimestampMixin, Base):
    __tablename__ = "attempt"
    __table_args__ = (
        UniqueConstraint("roster_entry_id", "number"),
        Index("ix_attempt_state_deadline_at", "state", "deadline_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True
    )
    administration_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("administration.id", ondelete="RESTRICT"), index=True
    )
    roster_entry_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("roster_entry.id", ondelete="RESTRICT")
    )
    candidate_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("candidate.id", ondelete="RESTRICT"), index=True
    )
    assessment_version_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("assessment_version.id", ondelete="RESTRICT")
    )
    number: Mapped[int] = mapped_column(Integer())
    state: Mapped[str] = mapped_column(String(16))
    seed: Mapped[int] = mapped_column(BigInteger())
    started_at: Mapped[datetime | None]
    deadline_at: Mapped[datetime | None]
    paused_at: Mapped[datetime | None]
    pause_kind: Mapped[str | None] = mapped_column(String(16))
    uncounted_pause_s: Mapped[float] = mapped_column(default=0.0)
    breaks_taken: Mapped[int] = mapped_column(Integer(), default=0)
    extension_s: Mapped[int] = mapped_column(Integer(), default=0)
    current_position: Mapped[int] = mapped_column(Integer(), default=1)
    ended_at: Mapped[datetime | None]
    #: How the attempt ended (set by the transition that ended it); ``end_reason`` is the
    #: sentence kept for people (a proctor's reason), never parsed.
    ended_because: Mapped[EndReason | None] = mapped_column(
        Enum(
            EndReason,
            name="ended_because",
            native_enum=False,
            length=16,
            create_constraint=True,
            values_callable=lambda reasons: [r.value for r in reasons],
        )
    )
    end_reason: Mapped[str | None] = mapped_column(String(500))
    credential_epoch: Mapped[int] = mapped_column(Integer(), default=0)
    #: The language the attempt is delivered in (resolved at start, switched by the
    #: candidate among the administration's languages).
    locale: Mapped[str | None] = mapped_column(String(16))


class AttemptItem(Base):
    """One presented item of an attempt's form. Rows are only ever appended: a fixed form
    appends every item at start, adaptive delivery one at a time."""

    __tablename__ = "attempt_item"

    attempt_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("attempt.id", ondelete="CASCADE"), primary_key=True
    )
    ref: Mapped[str] = mapped_column(String(200), primary_key=True)
    position: Mapped[int] = mapped_column(Integer())
    section: Mapped[str] = mapped_column(String(64))
    item_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("item.id", ondelete="RESTRICT"))
    item_version_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("item_version.id", ondelete="RESTRICT")
    )
    weight: Mapped[float] = mapped_column(default=1.0)
    presented_at: Mapped[datetime]
    #: The language variant last shown in place of the item (a published version of one
    #: of its translations), and the language shown; null until shown, and the variant
    #: null while the item itself is shown. The response stays under ``ref`` and the
    #: item's statistics stay the item's; scoring applies the variant's processing.
    variant_version_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("item_version.id", ondelete="RESTRICT")
    )
    language: Mapped[str | None] = mapped_column(String(16))


class Response(Base):
    """The latest accepted value of each item's response: the highest sequence number wins."""

    __tablename__ = "response"

    attempt_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("attempt.id", ondelete="CASCADE"), primary_key=True
    )
    item_ref: Mapped[str] = mapped_column(String(200), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger())
    value: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    flagged: Mapped[bool] = mapped_column(default=False)
    time_spent_ms: Mapped[int] = mapped_column(BigInteger(), default=0)
    updated_at: Mapped[datetime]


class SaveStatus(StrEnum):
    """What became of a save. Every save is kept in ``response_event`` with its status;
    only ``accepted`` ones become the response."""

    accepted = "accepted"
    stale = "stale"  # an older or replayed seq: another save already won
    late = "late"  # past the deadline plus the grace window
    paused = "paused"  # the attempt was paused
    closed = "closed"  # linear navigation: not the current item


class ResponseEvent(Base):
    """Every save received, accepted or not (stale, late, paused): nothing typed is lost."""

    __tablename__ = "response_event"
    __table_args__ = (Index("ix_response_event_attempt_id_item_ref", "attempt_id", "item_ref"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    attempt_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("attempt.id", ondelete="CASCADE"))
    item_ref: Mapped[str] = mapped_column(String(200))
    seq: Mapped[int] = mapped_column(BigInteger())
    value: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    flagged: Mapped[bool | None]
    time_spent_ms: Mapped[int | None] = mapped_column(BigInteger())
    status: Mapped[str] = mapped_column(String(16))
    received_at: Mapped[datetime]


class IntegrityEvent(Base):
    """A browser signal (focus lost, copy/paste, fullscreen exit, network lost...) with the
    server's time of receipt, kept for the integrity engine."""

    __tablename__ = "integrity_event"
    __table_args__ = (
        Index("ix_integrity_event_attempt_id_received_at", "attempt_id", "received_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True
    )
    attempt_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("attempt.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(40))
    client_time: Mapped[str | None] = mapped_column(String(40))
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    received_at: Mapped[datetime]


class AttemptCatStep(Base):
    """One selection of an adaptive section, kept so the test can be audited and resumed:
    the item chosen, the estimate it was chosen at, the items exposure control set aside
    for it, and once the candidate moved on, the response's score and the estimate and SE
    after it. ``stop_reason`` is set on the step after which the section ended. Rows are
    appended at selection and completed once; a resumed attempt replays them."""

    __tablename__ = "attempt_cat_step"

    attempt_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("attempt.id", ondelete="CASCADE"), primary_key=True
    )
    step: Mapped[int] = mapped_column(Integer(), primary_key=True)
    section: Mapped[str] = mapped_column(String(64))
    item_ref: Mapped[str] = mapped_column(String(200))
    item_version_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("item_version.id", ondelete="RESTRICT")
    )
    theta_before: Mapped[float]
    se_before: Mapped[float]
    set_aside: Mapped[list[str]] = mapped_column(JSONType, default=list)
    selected_at: Mapped[datetime]
    score: Mapped[float | None]
    right: Mapped[bool | None]
    theta: Mapped[float | None]
    se: Mapped[float | None]
    answered_at: Mapped[datetime | None]
    stop_reason: Mapped[str | None] = mapped_column(String(32))
