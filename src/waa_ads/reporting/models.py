"""Reporting tables: the receipts of issued scorecards, and bulk generation jobs."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from waa_ads.core.db import Base, JSONType, uuid7


class ReportReceipt(Base):
    """The receipt of a released revision's scorecard: its verification code, the release
    event of the audit chain it is bound to (``release_seq``, ``release_hash``), and the
    figures printed on it. Issued once per revision; regenerating the scorecard reuses it,
    so the same inputs give the same bytes and an issued code stays valid."""

    __tablename__ = "report_receipt"
    __table_args__ = (
        UniqueConstraint("attempt_id", "revision"),
        UniqueConstraint("code"),
        Index("ix_report_receipt_administration_id", "administration_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True
    )
    attempt_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("attempt.id", ondelete="CASCADE"))
    administration_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("administration.id", ondelete="CASCADE")
    )
    revision: Mapped[int] = mapped_column(Integer())
    code: Mapped[str] = mapped_column(String(16))
    release_seq: Mapped[int] = mapped_column(BigInteger())
    release_hash: Mapped[str] = mapped_column(String(64))
    verify_url: Mapped[str | None] = mapped_column(String(500))
    estimate: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    figures: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    pdf_sha256: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]


class ReportJob(Base):
    """Bulk scorecards of one administration: progress (``done`` of ``total``), then a ZIP
    archive in the blob store. ``state``: queued, running, done, failed."""

    __tablename__ = "report_job"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True
    )
    administration_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("administration.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16))
    total: Mapped[int] = mapped_column(Integer(), default=0)
    done: Mapped[int] = mapped_column(Integer(), default=0)
    skipped: Mapped[int] = mapped_column(Integer(), default=0)
    #: Chunks the work was split into, and the indexes of those done (each counted once,
    #: however often its task is delivered).
    chunk_size: Mapped[int] = mapped_column(Integer(), default=25)
    chunks_total: Mapped[int] = mapped_column(Integer(), default=0)
    chunks_done: Mapped[list[int]] = mapped_column(JSONType, default=list)
    #: The cohort figures computed once for the whole job (scores, SEM).
    cohort: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    archive_sha256: Mapped[str | None] = mapped_column(String(64))
    archive_size: Mapped[int | None] = mapped_column(BigInteger())
    error: Mapped[str | None] = mapped_column(Text())
    requested_by: Mapped[str | None] = mapped_column(String(64))
    #: The origin verification links on its scorecards point to (the requester's).
    base_url: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
