"""archived_at: item banks, items, assessments and administrations can be archived

An archived row is left out of default listings and kept for everything else (reads by
id, attempts, results, audit); clearing the column restores it.

Revision ID: 3c7e5a1f9d20
Revises: 6f1d2c9a8b47
Create Date: 2026-12-03 09:45:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import waa_ads.core.db

revision: str = "3c7e5a1f9d20"
down_revision: str | None = "6f1d2c9a8b47"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("item_bank", "item", "assessment", "administration")


def upgrade() -> None:
    # In place on both dialects (a nullable column without a default): no SQLite table copy,
    # which with foreign keys on would cascade into the children's rows.
    for table in TABLES:
        op.add_column(
            table,
            sa.Column("archived_at", waa_ads.core.db.UTCDateTime(timezone=True), nullable=True),
        )


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_column(table, "archived_at")
