"""attempt end reason: how an attempt ended, as an enum column

``attempt.ended_because`` (submitted | expired | terminated) replaces parsing the
``end_reason`` sentence. Existing ended attempts are backfilled from that sentence the way it
was read until now: "time ran out" is expired, "terminated..." is terminated, any other
ended attempt was submitted.

Revision ID: 6f1d2c9a8b47
Revises: 13aad79745ee
Create Date: 2026-12-03 08:44:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "6f1d2c9a8b47"
down_revision: str | None = "13aad79745ee"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

END_REASONS = ("submitted", "expired", "terminated")


def upgrade() -> None:
    # In place on both dialects, the CHECK constraint with the column (SQLite adds and drops
    # such a column without copying the table). A batch copy would drop the old table, and
    # with foreign keys on, SQLite deletes every attempt's items, responses and results
    # along with it.
    allowed = ", ".join(f"'{reason}'" for reason in END_REASONS)
    op.add_column(
        "attempt",
        sa.Column(
            "ended_because",
            sa.String(length=16),
            sa.CheckConstraint(
                f"ended_because IN ({allowed})", name=op.f("ck_attempt_ended_because")
            ),
            nullable=True,
        ),
    )
    attempt = sa.table(
        "attempt",
        sa.column("ended_at", sa.DateTime()),
        sa.column("end_reason", sa.String()),
        sa.column("ended_because", sa.String()),
    )
    ended = attempt.c.ended_at.is_not(None)
    op.execute(
        attempt.update()
        .where(ended, attempt.c.end_reason == "time ran out")
        .values(ended_because="expired")
    )
    op.execute(
        attempt.update()
        .where(ended, attempt.c.end_reason.like("terminated%"))
        .values(ended_because="terminated")
    )
    op.execute(
        attempt.update()
        .where(ended, attempt.c.ended_because.is_(None))
        .values(ended_because="submitted")
    )


def downgrade() -> None:
    # In place, as the upgrade (SQLite drops a column in place since 3.35; its CHECK
    # constraint goes with it).
    op.drop_column("attempt", "ended_because")
