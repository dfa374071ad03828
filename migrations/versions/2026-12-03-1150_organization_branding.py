"""organization_branding: a brand colour and a logo for the player's header and reports

The colour is #rrggbb (checked by the API for contrast with white text); the logo is a
picture in the blob store, referred to by its SHA-256 and content type.

Revision ID: 8a41d6c2e7b3
Revises: 3c7e5a1f9d20
Create Date: 2026-12-03 11:50:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "8a41d6c2e7b3"
down_revision: str | None = "3c7e5a1f9d20"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (
    ("brand_color", 7),
    ("logo_sha256", 64),
    ("logo_content_type", 32),
)


def upgrade() -> None:
    # Nullable columns without defaults: added in place on both dialects (no SQLite copy of
    # the table, which with foreign keys on would cascade into every row that refers to it).
    for name, length in COLUMNS:
        op.add_column("organization", sa.Column(name, sa.String(length=length), nullable=True))


def downgrade() -> None:
    for name, _ in reversed(COLUMNS):
        op.drop_column("organization", name)
