"""Assessment tables: definitions with immutable published versions, administrations with
their proctors and rosters (accommodations and access codes)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from waa_ads.core.db import Base, JSONType, TimestampMixin, uuid7


class AssessmentStatus(StrEnum):
    draft = "draft"
    published = "published"
    retired = "retired"


class Assessment(TimestampMixin, Base):
    __tablename__ = "assessment"
    __table_args__ = (UniqueConstraint("organization_id", "slug"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True
    )
    slug: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(300))
    latest_version: Mapped[int] = mapped_column(Integer(), default=1)
    published_version: Mapped[int | None] = mapped_column(Integer())
    #: Set while archived: left out of listings, still readable by id.
    archived_at: Mapped[datetime | None]


class AssessmentVersion(Base):
    __tablename__ = "assessment_version"
    __table_args__ = (UniqueConstraint("assessment_id", "version"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True
    )
    assessment_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("assessment.id", ondelete="CASCADE")
    )
    version: Mapped[int] = mapped_column(Integer())
    status: Mapped[str] = mapped_column(String(16), default=AssessmentStatus.draft.value)
    definition: Mapped[dict[str, Any]] = mapped_column(JSONType)
    pinned: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    created_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    published_at: Mapped[datetime | None]


class Administration(TimestampMixin, Base):
    """A published assessment version offered in a window to a roster of candidates."""

    __tablename__ = "administration"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True
    )
    assessment_version_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("assessment_version.id", ondelete="RESTRICT"), index=True
    )
    title: Mapped[str] = mapped_column(String(300))
    opens_at: Mapped[datetime]
    closes_at: Mapped[datetime]
    notes: Mapped[str | None] = mapped_column(Text())
    cancelled_at: Mapped[datetime | None]
    #: Set while archived: left out of listings, still readable by id.
    archived_at: Mapped[datetime | None]
    #: The language its tests are delivered in; ``None``: the organization's default.
    locale: Mapped[str | None] = mapped_column(String(16))
    #: The languages a candidate may switch between during the test (with ``locale``);
    #: empty: no switching.
    locales: Mapped[list[str]] = mapped_column(JSONType, default=list, server_default="[]")


class AdministrationProctor(Base):
    __tablename__ = "administration_proctor"
    __table_args__ = (UniqueConstraint("administration_id", "user_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True
    )
    administration_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("administration.id", ondelete="CASCADE")
    )
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))


class RosterEntry(TimestampMixin, Base):
    """A candidate on an administration's roster, with accommodations and an access code.

    The code itself is never stored: only its HMAC under the server secret, so a stolen
    database reveals no code, and looking one up is a single indexed equality query.
    """

    __tablename__ = "roster_entry"
    __table_args__ = (
        UniqueConstraint("administration_id", "candidate_id"),
        Index("ix_roster_entry_candidate_id", "candidate_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True
    )
    administration_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("administration.id", ondelete="CASCADE")
    )
    candidate_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("candidate.id", ondelete="CASCADE"))
    extra_time_multiplier: Mapped[float] = mapped_column(default=1.0)
    extra_attempts: Mapped[int] = mapped_column(Integer(), default=0)
    extra_breaks: Mapped[int] = mapped_column(Integer(), default=0)
    #: QTI accessibility supports the player shows this candidate (content/item/supports.py).
    accessibility_supports: Mapped[list[str]] = mapped_column(
        JSONType, default=list, server_default="[]"
    )
    access_code_hmac: Mapped[str | None] = mapped_column(String(64), unique=True)
    code_issued_at: Mapped[datetime | None]
    code_revoked_at: Mapped[datetime | None]
