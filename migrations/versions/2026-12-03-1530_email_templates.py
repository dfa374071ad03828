"""email templates: an organization's wording of each kind of e-mail, and whether it is on

Revision ID: d7b2c9e4a1f6
Revises: c4a1e8f2b7d9
Create Date: 2026-12-03 15:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import waa_ads.core.db

revision: str = "d7b2c9e4a1f6"
down_revision: str | None = "c4a1e8f2b7d9"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "email_template",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("subject", sa.String(length=500), nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("updated_at", waa_ads.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_email_template_organization_id_organization"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_template")),
        sa.UniqueConstraint(
            "organization_id", "kind", name=op.f("uq_email_template_organization_id_kind")
        ),
    )
    with op.batch_alter_table("email_template", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_email_template_organization_id"), ["organization_id"], unique=False
        )


def downgrade() -> None:
    op.drop_table("email_template")
