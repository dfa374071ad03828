"""adaptive delivery steps of attempts, and calibrations run in the background

Revision ID: a3c6e1f9b2d4
Revises: d7b2c9e4a1f6
Create Date: 2026-12-03 17:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import waa_ads.core.db

revision: str = "a3c6e1f9b2d4"
down_revision: str | None = "d7b2c9e4a1f6"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine[object]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "attempt_cat_step",
        sa.Column("attempt_id", sa.Uuid(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("section", sa.String(length=64), nullable=False),
        sa.Column("item_ref", sa.String(length=200), nullable=False),
        sa.Column("item_version_id", sa.Uuid(), nullable=False),
        sa.Column("theta_before", sa.Double(), nullable=False),
        sa.Column("se_before", sa.Double(), nullable=False),
        sa.Column("set_aside", _json(), nullable=False),
        sa.Column("selected_at", waa_ads.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("score", sa.Double(), nullable=True),
        sa.Column("right", sa.Boolean(), nullable=True),
        sa.Column("theta", sa.Double(), nullable=True),
        sa.Column("se", sa.Double(), nullable=True),
        sa.Column("answered_at", waa_ads.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("stop_reason", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["attempt_id"],
            ["attempt.id"],
            name=op.f("fk_attempt_cat_step_attempt_id_attempt"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["item_version_id"],
            ["item_version.id"],
            name=op.f("fk_attempt_cat_step_item_version_id_item_version"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("attempt_id", "step", name=op.f("pk_attempt_cat_step")),
    )
    op.create_table(
        "psychometrics_calibration",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("model", sa.String(length=8), nullable=False),
        sa.Column("administration_ids", _json(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("progress", sa.Double(), nullable=False),
        sa.Column("message", sa.String(length=300), nullable=True),
        sa.Column("summary", _json(), nullable=True),
        sa.Column("error", sa.String(length=1000), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("created_at", waa_ads.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", waa_ads.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_psychometrics_calibration_organization_id_organization"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_psychometrics_calibration")),
    )
    with op.batch_alter_table("psychometrics_calibration", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_psychometrics_calibration_organization_id"),
            ["organization_id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("psychometrics_calibration", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_psychometrics_calibration_organization_id"))
    op.drop_table("psychometrics_calibration")
    op.drop_table("attempt_cat_step")
