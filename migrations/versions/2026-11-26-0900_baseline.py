"""baseline

Revision ID: 2087d5316783
Revises:
Create Date: 2026-11-26 07:49:50.812715
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "2087d5316783"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
