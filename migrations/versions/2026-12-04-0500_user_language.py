"""A staff member's own language (the console's and their e-mails')

Revision ID: e2b4c6d8f0a1
Revises: d1a2b3c4e5f7
Create Date: 2026-12-04 05:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e2b4c6d8f0a1"
down_revision: str | None = "d1a2b3c4e5f7"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # In place on both dialects (a nullable column without a default): no batch copy of
    # the table, whose rows other tables refer to.
    op.add_column("user", sa.Column("locale", sa.String(length=16), nullable=True))


def downgrade() -> None:
    op.drop_column("user", "locale")
