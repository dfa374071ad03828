"""rating plan editing: plan versions, unanswered responses, assignment per bank, feedback

- ``rating_plan.version`` (an edit names the version it read) and ``updated_at``;
- ``rating_plan.score_unanswered``: a response left empty is scored 0 instead of queued;
- ``rating_member.bank_ids`` and ``rating_task.bank_id`` (backfilled from the item
  version's item): raters assigned to the items of some banks;
- ``item_score.feedback``: the comments and rubric levels a candidate reads once released.

Revision ID: 4b9e2f7a1c35
Revises: e2bfa3d3563e
Create Date: 2026-12-03 14:35:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import waa_ads.core.db

revision: str = "4b9e2f7a1c35"
down_revision: str | None = "e2bfa3d3563e"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    # Every column is added in place on both dialects (nullable, or NOT NULL with a
    # constant default): no SQLite copy of a table that others refer to.
    op.add_column(
        "rating_plan",
        sa.Column("score_unanswered", sa.Boolean(), server_default=sa.text("true"), nullable=False),
    )
    op.add_column(
        "rating_plan",
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
    )
    op.add_column(
        "rating_plan",
        sa.Column("updated_at", waa_ads.core.db.UTCDateTime(timezone=True), nullable=True),
    )
    op.add_column("rating_member", sa.Column("bank_ids", JSON, nullable=True))
    op.add_column("rating_task", sa.Column("bank_id", sa.Uuid(), nullable=True))
    op.add_column("item_score", sa.Column("feedback", JSON, nullable=True))
    task = sa.table("rating_task", sa.column("bank_id"), sa.column("item_version_id"))
    version = sa.table("item_version", sa.column("id"), sa.column("item_id"))
    item = sa.table("item", sa.column("id"), sa.column("bank_id"))
    op.execute(
        task.update().values(
            bank_id=sa.select(item.c.bank_id)
            .join(version, version.c.item_id == item.c.id)
            .where(version.c.id == task.c.item_version_id)
            .scalar_subquery()
        )
    )


def downgrade() -> None:
    op.drop_column("item_score", "feedback")
    op.drop_column("rating_task", "bank_id")
    op.drop_column("rating_member", "bank_ids")
    op.drop_column("rating_plan", "updated_at")
    op.drop_column("rating_plan", "version")
    op.drop_column("rating_plan", "score_unanswered")
