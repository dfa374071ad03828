"""integrity: webcam frames (their findings, thumbnails and retention) and an optional group
for candidates (the fairness report's rates per group)

Revision ID: 5f2e8c41a7d3
Revises: 9d4c1e7b2a60
Create Date: 2026-12-03 15:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import waa_ads.core.db

revision: str = "5f2e8c41a7d3"
down_revision: str | None = "9d4c1e7b2a60"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "integrity_frame",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("attempt_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("content_type", sa.String(length=32), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("received_at", waa_ads.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", waa_ads.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("analysed_at", waa_ads.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "findings",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("thumbnail_sha256", sa.String(length=64), nullable=True),
        sa.Column("purged_at", waa_ads.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["attempt_id"],
            ["attempt.id"],
            name=op.f("fk_integrity_frame_attempt_id_attempt"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_integrity_frame_organization_id_organization"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_integrity_frame")),
        sa.UniqueConstraint("attempt_id", "seq", name=op.f("uq_integrity_frame_attempt_id_seq")),
    )
    with op.batch_alter_table("integrity_frame", schema=None) as batch_op:
        batch_op.create_index("ix_integrity_frame_expires_at", ["expires_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_integrity_frame_organization_id"), ["organization_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_integrity_frame_sha256"), ["sha256"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_integrity_frame_thumbnail_sha256"), ["thumbnail_sha256"], unique=False
        )
    with op.batch_alter_table("candidate", schema=None) as batch_op:
        batch_op.add_column(sa.Column("group", sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("candidate", schema=None) as batch_op:
        batch_op.drop_column("group")
    with op.batch_alter_table("integrity_frame", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_integrity_frame_thumbnail_sha256"))
        batch_op.drop_index(batch_op.f("ix_integrity_frame_sha256"))
        batch_op.drop_index(batch_op.f("ix_integrity_frame_organization_id"))
        batch_op.drop_index("ix_integrity_frame_expires_at")
    op.drop_table("integrity_frame")
