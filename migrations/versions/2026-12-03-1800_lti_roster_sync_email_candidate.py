"""LTI roster syncs run by workers (with progress), and the candidate an e-mail delivery
is to (so that erasing the candidate clears it)

Revision ID: b8e2f4a6c1d3
Revises: a3c6e1f9b2d4
Create Date: 2026-12-03 18:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import waa_ads.core.db

revision: str = "b8e2f4a6c1d3"
down_revision: str | None = "a3c6e1f9b2d4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "lti_roster_sync",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("link_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("members", sa.Integer(), nullable=True),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("added", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(length=1000), nullable=True),
        sa.Column("created_at", waa_ads.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", waa_ads.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", waa_ads.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["link_id"],
            ["lti_resource_link.id"],
            name=op.f("fk_lti_roster_sync_link_id_lti_resource_link"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_lti_roster_sync_organization_id_organization"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lti_roster_sync")),
    )
    op.create_index(
        op.f("ix_lti_roster_sync_link_id"), "lti_roster_sync", ["link_id"], unique=False
    )
    op.create_index(
        op.f("ix_lti_roster_sync_organization_id"),
        "lti_roster_sync",
        ["organization_id"],
        unique=False,
    )
    op.add_column("integration_delivery", sa.Column("candidate_id", sa.Uuid(), nullable=True))
    op.create_index(
        op.f("ix_integration_delivery_candidate_id"),
        "integration_delivery",
        ["candidate_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_integration_delivery_candidate_id"), table_name="integration_delivery")
    op.drop_column("integration_delivery", "candidate_id")
    op.drop_index(op.f("ix_lti_roster_sync_organization_id"), table_name="lti_roster_sync")
    op.drop_index(op.f("ix_lti_roster_sync_link_id"), table_name="lti_roster_sync")
    op.drop_table("lti_roster_sync")
