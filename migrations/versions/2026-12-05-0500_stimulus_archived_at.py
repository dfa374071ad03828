"""Shared stimuli can be archived: left out of the bank's list and of new references,
still shown beside the items that use them

Revision ID: a4c6e8f0b2d3
Revises: f3a5c7e9b1d2
Create Date: 2026-12-05 05:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import waa_ads.core.db

revision: str = "a4c6e8f0b2d3"
down_revision: str | None = "f3a5c7e9b1d2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # In place on both dialects (a nullable column without a default): no SQLite table copy.
    op.add_column(
        "stimulus",
        sa.Column("archived_at", waa_ads.core.db.UTCDateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_column("stimulus", "archived_at")
