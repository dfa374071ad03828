"""psychometrics: each administration's item analysis kept as sufficient statistics

Revision ID: 7a3e9c2d5b18
Revises: 5f2e8c41a7d3
Create Date: 2026-12-03 15:15:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import waa_ads.core.db

revision: str = "7a3e9c2d5b18"
down_revision: str | None = "5f2e8c41a7d3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine[object]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "psychometrics_item_analysis",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("administration_id", sa.Uuid(), nullable=False),
        sa.Column("items", _json(), nullable=False),
        sa.Column("folded", _json(), nullable=False),
        sa.Column("state", _json(), nullable=False),
        sa.Column("updated_at", waa_ads.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_psychometrics_item_analysis_organization_id_organization"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["administration_id"],
            ["administration.id"],
            name=op.f("fk_psychometrics_item_analysis_administration_id_administration"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_psychometrics_item_analysis")),
        sa.UniqueConstraint(
            "administration_id", name=op.f("uq_psychometrics_item_analysis_administration_id")
        ),
    )
    with op.batch_alter_table("psychometrics_item_analysis", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_psychometrics_item_analysis_organization_id"),
            ["organization_id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("psychometrics_item_analysis", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_psychometrics_item_analysis_organization_id"))
    op.drop_table("psychometrics_item_analysis")
