"""Item languages: the language an item is written in, translations as language variants
of an item, and the variant and language an attempt's item was shown in

Revision ID: d1a2b3c4e5f7
Revises: d1a2b3c4e5f6
Create Date: 2026-12-03 21:35:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d1a2b3c4e5f7"
down_revision: str | None = "d1a2b3c4e5f6"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Existing items were written for English-speaking candidates (the only language
    # until now); SQLite copies the tables here, with foreign keys off (migrations/env.py).
    with op.batch_alter_table("item", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("language", sa.String(length=16), server_default="en", nullable=False)
        )
        batch_op.add_column(sa.Column("translation_of", sa.Uuid(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_item_translation_of_item"),
            "item",
            ["translation_of"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.create_unique_constraint(
            batch_op.f("uq_item_translation_of_language"), ["translation_of", "language"]
        )
    with op.batch_alter_table("attempt_item", schema=None) as batch_op:
        batch_op.add_column(sa.Column("variant_version_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("language", sa.String(length=16), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_attempt_item_variant_version_id_item_version"),
            "item_version",
            ["variant_version_id"],
            ["id"],
            ondelete="RESTRICT",
        )


def downgrade() -> None:
    with op.batch_alter_table("attempt_item", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_attempt_item_variant_version_id_item_version"), type_="foreignkey"
        )
        batch_op.drop_column("language")
        batch_op.drop_column("variant_version_id")
    with op.batch_alter_table("item", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_item_translation_of_language"), type_="unique")
        batch_op.drop_constraint(batch_op.f("fk_item_translation_of_item"), type_="foreignkey")
        batch_op.drop_column("translation_of")
        batch_op.drop_column("language")
