"""Languages: an organization's default language, an administration's language and the
languages its candidates may switch to, a candidate's language from the roster, and the
language an attempt is delivered in

Revision ID: d1a2b3c4e5f6
Revises: b8e2f4a6c1d3
Create Date: 2026-12-03 21:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "d1a2b3c4e5f6"
down_revision: str | None = "b8e2f4a6c1d3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # In place on both dialects (SQLite adds and drops such columns without copying the
    # table): a batch copy would drop the old table, and with foreign keys on, SQLite would
    # delete the rows that refer to it.
    op.add_column(
        "organization",
        sa.Column("default_locale", sa.String(length=16), server_default="en", nullable=False),
    )
    op.add_column("administration", sa.Column("locale", sa.String(length=16), nullable=True))
    op.add_column(
        "administration",
        sa.Column(
            "locales",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            server_default="[]",
            nullable=False,
        ),
    )
    op.add_column("candidate", sa.Column("locale", sa.String(length=16), nullable=True))
    op.add_column("attempt", sa.Column("locale", sa.String(length=16), nullable=True))


def downgrade() -> None:
    op.drop_column("attempt", "locale")
    op.drop_column("candidate", "locale")
    op.drop_column("administration", "locales")
    op.drop_column("administration", "locale")
    op.drop_column("organization", "default_locale")
