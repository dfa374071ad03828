"""webhook formats: a subscription receives the WAA-ADS body or a Caliper 1.2 envelope, with
an optional bearer token

Revision ID: c4a1e8f2b7d9
Revises: 7a3e9c2d5b18
Create Date: 2026-12-03 15:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c4a1e8f2b7d9"
down_revision: str | None = "7a3e9c2d5b18"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_subscription", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("format", sa.String(length=16), server_default="waa", nullable=False)
        )
        batch_op.add_column(sa.Column("bearer_token", sa.String(length=500), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("webhook_subscription", schema=None) as batch_op:
        batch_op.drop_column("bearer_token")
        batch_op.drop_column("format")
