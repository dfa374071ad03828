"""reporting: receipts of issued scorecards, bulk report jobs

Revision ID: 9d4c1e7b2a60
Revises: 3c51d0a9e6f2
Create Date: 2026-12-03 14:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import waa_ads.core.db

revision: str = "9d4c1e7b2a60"
down_revision: str | None = "3c51d0a9e6f2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine[object]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "report_receipt",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("attempt_id", sa.Uuid(), nullable=False),
        sa.Column("administration_id", sa.Uuid(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("release_seq", sa.BigInteger(), nullable=False),
        sa.Column("release_hash", sa.String(length=64), nullable=False),
        sa.Column("verify_url", sa.String(length=500), nullable=True),
        sa.Column("estimate", _json(), nullable=False),
        sa.Column("figures", _json(), nullable=False),
        sa.Column("pdf_sha256", sa.String(length=64), nullable=True),
        sa.Column("created_at", waa_ads.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_report_receipt_organization_id_organization"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["attempt_id"],
            ["attempt.id"],
            name=op.f("fk_report_receipt_attempt_id_attempt"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["administration_id"],
            ["administration.id"],
            name=op.f("fk_report_receipt_administration_id_administration"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_receipt")),
        sa.UniqueConstraint(
            "attempt_id", "revision", name=op.f("uq_report_receipt_attempt_id_revision")
        ),
        sa.UniqueConstraint("code", name=op.f("uq_report_receipt_code")),
    )
    with op.batch_alter_table("report_receipt", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_report_receipt_organization_id"), ["organization_id"], unique=False
        )
        batch_op.create_index(
            "ix_report_receipt_administration_id", ["administration_id"], unique=False
        )

    op.create_table(
        "report_job",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("administration_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("chunk_size", sa.Integer(), nullable=False),
        sa.Column("chunks_total", sa.Integer(), nullable=False),
        sa.Column("chunks_done", _json(), nullable=False),
        sa.Column("cohort", _json(), nullable=False),
        sa.Column("archive_sha256", sa.String(length=64), nullable=True),
        sa.Column("archive_size", sa.BigInteger(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("requested_by", sa.String(length=64), nullable=True),
        sa.Column("base_url", sa.String(length=500), nullable=True),
        sa.Column("created_at", waa_ads.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", waa_ads.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", waa_ads.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_report_job_organization_id_organization"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["administration_id"],
            ["administration.id"],
            name=op.f("fk_report_job_administration_id_administration"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_job")),
    )
    with op.batch_alter_table("report_job", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_report_job_organization_id"), ["organization_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_report_job_administration_id"), ["administration_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("report_job", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_report_job_administration_id"))
        batch_op.drop_index(batch_op.f("ix_report_job_organization_id"))
    op.drop_table("report_job")
    with op.batch_alter_table("report_receipt", schema=None) as batch_op:
        batch_op.drop_index("ix_report_receipt_administration_id")
        batch_op.drop_index(batch_op.f("ix_report_receipt_organization_id"))
    op.drop_table("report_receipt")
