"""Criterion models route live answers: a decision per rubric criterion (the criterion
column; one decision per attempt, item and criterion)

Revision ID: b7d9f1a3c5e7
Revises: a4c6e8f0b2d3
Create Date: 2026-12-05 08:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b7d9f1a3c5e7"
down_revision: str | None = "a4c6e8f0b2d3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Existing decisions are item models' (criterion empty); the default only fills them.
    op.add_column(
        "autoscore_decision",
        sa.Column("criterion", sa.String(length=128), server_default="", nullable=False),
    )
    with op.batch_alter_table("autoscore_decision") as batch:
        batch.alter_column("criterion", server_default=None, existing_type=sa.String(length=128))
        batch.drop_constraint("uq_autoscore_decision_attempt_id_item_ref", type_="unique")
        batch.create_unique_constraint(
            "uq_autoscore_decision_attempt_id_item_ref_criterion",
            ["attempt_id", "item_ref", "criterion"],
        )


def downgrade() -> None:
    op.execute("DELETE FROM autoscore_decision WHERE criterion <> ''")
    with op.batch_alter_table("autoscore_decision") as batch:
        batch.drop_constraint("uq_autoscore_decision_attempt_id_item_ref_criterion", type_="unique")
        batch.create_unique_constraint(
            "uq_autoscore_decision_attempt_id_item_ref", ["attempt_id", "item_ref"]
        )
        batch.drop_column("criterion")
