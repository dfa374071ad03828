"""Accessibility supports as an accommodation: the QTI catalog supports a rostered candidate
gets (spoken, sign-language, braille, linguistic-guidance...)

Revision ID: c8e0a2b4d6f8
Revises: b7d9f1a3c5e7
Create Date: 2026-12-05 08:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "c8e0a2b4d6f8"
down_revision: str | None = "b7d9f1a3c5e7"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # In place on both dialects (a batch copy on SQLite would drop the table its attempts
    # refer to).
    op.add_column(
        "roster_entry",
        sa.Column(
            "accessibility_supports",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            server_default="[]",
            nullable=False,
        ),
    )


def downgrade() -> None:
    op.drop_column("roster_entry", "accessibility_supports")
