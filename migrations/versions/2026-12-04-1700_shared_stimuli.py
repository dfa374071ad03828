"""Shared stimuli: a bank's passages that several items are shown beside, with immutable
versions

Revision ID: f3a5c7e9b1d2
Revises: e2b4c6d8f0a1
Create Date: 2026-12-04 17:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import waa_ads.core.db

revision: str = "f3a5c7e9b1d2"
down_revision: str | None = "e2b4c6d8f0a1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "stimulus",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("bank_id", sa.Uuid(), nullable=False),
        sa.Column("identifier", sa.String(length=200), nullable=False),
        sa.Column("latest_version", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("language", sa.String(length=35), nullable=True),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", waa_ads.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", waa_ads.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["bank_id"],
            ["item_bank.id"],
            name=op.f("fk_stimulus_bank_id_item_bank"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_stimulus_organization_id_organization"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stimulus")),
        sa.UniqueConstraint("bank_id", "identifier", name=op.f("uq_stimulus_bank_id_identifier")),
    )
    op.create_index(op.f("ix_stimulus_bank_id"), "stimulus", ["bank_id"], unique=False)
    op.create_index(
        op.f("ix_stimulus_organization_id"), "stimulus", ["organization_id"], unique=False
    )
    op.create_table(
        "stimulus_version",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("stimulus_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "definition",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("language", sa.String(length=35), nullable=True),
        sa.Column("change_note", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("created_at", waa_ads.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_stimulus_version_organization_id_organization"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["stimulus_id"],
            ["stimulus.id"],
            name=op.f("fk_stimulus_version_stimulus_id_stimulus"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stimulus_version")),
        sa.UniqueConstraint(
            "stimulus_id", "version", name=op.f("uq_stimulus_version_stimulus_id_version")
        ),
    )
    op.create_index(
        "ix_stimulus_version_organization_id_content_hash",
        "stimulus_version",
        ["organization_id", "content_hash"],
        unique=False,
    )
    op.create_index(
        op.f("ix_stimulus_version_stimulus_id"), "stimulus_version", ["stimulus_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_stimulus_version_stimulus_id"), table_name="stimulus_version")
    op.drop_index("ix_stimulus_version_organization_id_content_hash", table_name="stimulus_version")
    op.drop_table("stimulus_version")
    op.drop_index(op.f("ix_stimulus_organization_id"), table_name="stimulus")
    op.drop_index(op.f("ix_stimulus_bank_id"), table_name="stimulus")
    op.drop_table("stimulus")
