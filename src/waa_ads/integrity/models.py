"""Integrity tables: policies and their versions (YAML rules), one summary per attempt
(its signals and flags with their evidence), similarity runs and their flagged pairs, and
reviewers' decisions and candidates' appeals."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from waa_ads.core.db import Base, JSONType, uuid7


class IntegrityPolicy(Base):
    """A named policy of an organization; an assessment's ``integrity_policy`` names it."""

    __tablename__ = "integrity_policy"
    __table_args__ = (UniqueConstraint("organization_id", "name"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    current_version: Mapped[int] = mapped_column(Integer(), default=1)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class IntegrityPolicyVersion(Base):
    """One saved text of a policy; never changed, a new save adds a version."""

    __tablename__ = "integrity_policy_version"
    __table_args__ = (UniqueConstraint("policy_id", "version"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True
    )
    policy_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("integrity_policy.id", ondelete="CASCADE")
    )
    version: Mapped[int] = mapped_column(Integer())
    source: Mapped[str] = mapped_column(Text())
    created_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]


class IntegritySummary(Base):
    """An attempt's latest analysis: every signal with its evidence and every flag raised,
    under the policy version named. Recomputing replaces it; decisions stay apart."""

    __tablename__ = "integrity_summary"
    __table_args__ = (UniqueConstraint("attempt_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True
    )
    attempt_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("attempt.id", ondelete="CASCADE"))
    administration_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("administration.id", ondelete="CASCADE"), index=True
    )
    policy_name: Mapped[str | None] = mapped_column(String(200))
    policy_version: Mapped[int | None] = mapped_column(Integer())
    signals: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    flags: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    flag_count: Mapped[int] = mapped_column(Integer(), default=0)
    top_severity: Mapped[str | None] = mapped_column(String(8))
    #: ``open`` while it has flags and no decision, ``decided`` after one, ``clear``
    #: without flags.
    status: Mapped[str] = mapped_column(String(16))
    computed_at: Mapped[datetime]


class SimilarityRun(Base):
    """One answer-similarity analysis of an administration."""

    __tablename__ = "integrity_similarity_run"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True
    )
    administration_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("administration.id", ondelete="CASCADE"), index=True
    )
    candidates: Mapped[int] = mapped_column(Integer())
    items: Mapped[int] = mapped_column(Integer())
    tests: Mapped[int] = mapped_column(Integer())
    alpha: Mapped[float]
    correction: Mapped[str] = mapped_column(String(16))
    flagged: Mapped[int] = mapped_column(Integer())
    computed_at: Mapped[datetime]


class SimilarityPair(Base):
    """A flagged pair of a run: ``attempt_id``'s answers agree with ``source_attempt_id``'s
    beyond chance."""

    __tablename__ = "integrity_similarity_pair"
    __table_args__ = (
        Index("ix_integrity_similarity_pair_attempt_id", "attempt_id"),
        Index("ix_integrity_similarity_pair_source_attempt_id", "source_attempt_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True
    )
    run_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("integrity_similarity_run.id", ondelete="CASCADE"), index=True
    )
    attempt_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("attempt.id", ondelete="CASCADE"))
    source_attempt_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("attempt.id", ondelete="CASCADE")
    )
    compared: Mapped[int] = mapped_column(Integer())
    matches: Mapped[int] = mapped_column(Integer())
    expected: Mapped[float]
    index: Mapped[float]
    p_value: Mapped[float]
    q_value: Mapped[float]
    identical: Mapped[list[str]] = mapped_column(JSONType, default=list)
    identical_wrong: Mapped[list[str]] = mapped_column(JSONType, default=list)
    overlap_s: Mapped[float]


class IntegrityDecision(Base):
    """A reviewer's decision on an attempt (dismiss, note, warn, invalidate) or a
    candidate's appeal, each with its reason; appended, never changed."""

    __tablename__ = "integrity_decision"
    __table_args__ = (Index("ix_integrity_decision_attempt_id", "attempt_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True
    )
    attempt_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("attempt.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(2000))
    actor_type: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]


class IntegrityFrame(Base):
    """A webcam still of an attempt (the bytes in the blob store under ``sha256`` until
    ``expires_at``), its findings once analysed, and the small thumbnail kept as evidence.
    The purge deletes the still at expiry and the thumbnail too, unless a reviewer's warning
    or invalidation rests on the attempt; the row and its findings stay."""

    __tablename__ = "integrity_frame"
    __table_args__ = (
        UniqueConstraint("attempt_id", "seq"),
        Index("ix_integrity_frame_expires_at", "expires_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True
    )
    attempt_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("attempt.id", ondelete="CASCADE"))
    #: 1, 2, ... per attempt in the order received.
    seq: Mapped[int] = mapped_column(Integer())
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(Integer())
    content_type: Mapped[str] = mapped_column(String(32))
    width: Mapped[int] = mapped_column(Integer())
    height: Mapped[int] = mapped_column(Integer())
    received_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    analysed_at: Mapped[datetime | None]
    findings: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    thumbnail_sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    #: When the still was deleted (its findings and maybe its thumbnail stay).
    purged_at: Mapped[datetime | None]
