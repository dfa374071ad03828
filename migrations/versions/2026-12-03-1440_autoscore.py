"""autoscore: the organization's acceptance gate, the essay model registry and the
decisions models made on live responses

Revision ID: 3c51d0a9e6f2
Revises: 4b9e2f7a1c35
Create Date: 2026-12-03 14:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import waa_ads.core.db

revision: str = "3c51d0a9e6f2"
down_revision: str | None = "4b9e2f7a1c35"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "autoscore_settings",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("min_qwk", sa.Double(), nullable=False),
        sa.Column("max_below_human", sa.Double(), nullable=False),
        sa.Column("max_abs_smd", sa.Double(), nullable=False),
        sa.Column("max_abs_group_smd", sa.Double(), nullable=True),
        sa.Column("min_responses", sa.Integer(), nullable=False),
        sa.Column("require_human", sa.Boolean(), nullable=False),
        sa.Column("check_share", sa.Double(), nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=True),
        sa.Column("updated_at", waa_ads.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_autoscore_settings_organization_id_organization"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("organization_id", name=op.f("pk_autoscore_settings")),
    )
    op.create_table(
        "autoscore_model",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("item_id", sa.Uuid(), nullable=False),
        sa.Column("item_version_id", sa.Uuid(), nullable=False),
        sa.Column("criterion", sa.String(length=128), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("upload_sha256", sa.String(length=64), nullable=True),
        sa.Column(
            "training_ref",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "config",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("min_score", sa.Double(), nullable=False),
        sa.Column("max_score", sa.Double(), nullable=False),
        sa.Column("progress", sa.Double(), nullable=False),
        sa.Column("progress_message", sa.String(length=300), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column(
            "metrics",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "gate",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "library_versions",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("artifact_sha256", sa.String(length=64), nullable=True),
        sa.Column("artifact_size", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("created_at", waa_ads.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("trained_at", waa_ads.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("activated_at", waa_ads.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("activated_by", sa.String(length=64), nullable=True),
        sa.Column("retired_at", waa_ads.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["item.id"],
            name=op.f("fk_autoscore_model_item_id_item"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["item_version_id"],
            ["item_version.id"],
            name=op.f("fk_autoscore_model_item_version_id_item_version"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_autoscore_model_organization_id_organization"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_autoscore_model")),
        sa.UniqueConstraint(
            "organization_id",
            "item_id",
            "criterion",
            "version",
            name=op.f("uq_autoscore_model_organization_id_item_id_criterion_version"),
        ),
    )
    with op.batch_alter_table("autoscore_model", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_autoscore_model_item_version_id"), ["item_version_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_autoscore_model_organization_id"), ["organization_id"], unique=False
        )
        batch_op.create_index(
            "uq_autoscore_model_active",
            ["organization_id", "item_id", "criterion"],
            unique=True,
            postgresql_where=sa.text("status = 'active'"),
            sqlite_where=sa.text("status = 'active'"),
        )

    op.create_table(
        "autoscore_decision",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("model_id", sa.Uuid(), nullable=False),
        sa.Column("attempt_id", sa.Uuid(), nullable=False),
        sa.Column("item_ref", sa.String(length=200), nullable=False),
        sa.Column("item_version_id", sa.Uuid(), nullable=False),
        sa.Column("route", sa.String(length=16), nullable=False),
        sa.Column("score", sa.Double(), nullable=True),
        sa.Column("confidence", sa.Double(), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=True),
        sa.Column("created_at", waa_ads.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["attempt_id"],
            ["attempt.id"],
            name=op.f("fk_autoscore_decision_attempt_id_attempt"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["item_version_id"],
            ["item_version.id"],
            name=op.f("fk_autoscore_decision_item_version_id_item_version"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["autoscore_model.id"],
            name=op.f("fk_autoscore_decision_model_id_autoscore_model"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_autoscore_decision_organization_id_organization"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_autoscore_decision")),
        sa.UniqueConstraint(
            "attempt_id", "item_ref", name=op.f("uq_autoscore_decision_attempt_id_item_ref")
        ),
    )
    with op.batch_alter_table("autoscore_decision", schema=None) as batch_op:
        batch_op.create_index(
            "ix_autoscore_decision_model", ["model_id", "created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_autoscore_decision_organization_id"), ["organization_id"], unique=False
        )


def downgrade() -> None:
    op.drop_table("autoscore_decision")
    op.drop_table("autoscore_model")
    op.drop_table("autoscore_settings")
