"""The migration that made how an attempt ended a column: existing attempts are backfilled
from the ``end_reason`` sentence, and the downgrade takes the column away again."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from waa_ads.core import migrate
from waa_ads.core.db import Database, UTCDateTime
from waa_ads.delivery.models import Attempt
from waa_ads.delivery.state_machine import EndReason

pytestmark = pytest.mark.asyncio

BEFORE = "13aad79745ee"  # attempts and results, before ended_because
AFTER = "6f1d2c9a8b47"

_attempt = sa.table(
    "attempt",
    *(
        sa.column(name, sa.Uuid())
        for name in (
            "id",
            "organization_id",
            "administration_id",
            "roster_entry_id",
            "candidate_id",
            "assessment_version_id",
        )
    ),
    *(
        sa.column(name, sa.Integer())
        for name in (
            "number",
            "seed",
            "breaks_taken",
            "extension_s",
            "current_position",
            "credential_epoch",
        )
    ),
    sa.column("state", sa.String()),
    sa.column("uncounted_pause_s", sa.Float()),
    sa.column("end_reason", sa.String()),
    *(sa.column(name, UTCDateTime()) for name in ("ended_at", "created_at", "updated_at")),
)


async def _insert_old_attempts(url: str, rows: dict[uuid.UUID, tuple[str, str | None]]) -> None:
    """Attempt rows as the previous schema held them. Their parents do not matter here, so
    foreign keys are not enforced for this connection."""
    engine = create_async_engine(url)  # without the app's PRAGMA foreign_keys = ON
    now = datetime.now(UTC)
    try:
        async with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                await conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
            for number, (attempt_id, (state, reason)) in enumerate(rows.items(), start=1):
                ended = state != "in_progress"
                await conn.execute(
                    _attempt.insert().values(
                        id=attempt_id,
                        organization_id=uuid.uuid4(),
                        administration_id=uuid.uuid4(),
                        roster_entry_id=uuid.uuid4(),
                        candidate_id=uuid.uuid4(),
                        assessment_version_id=uuid.uuid4(),
                        number=number,
                        seed=1,
                        breaks_taken=0,
                        extension_s=0,
                        current_position=1,
                        credential_epoch=0,
                        state=state,
                        uncounted_pause_s=0.0,
                        end_reason=reason,
                        ended_at=now if ended else None,
                        created_at=now,
                        updated_at=now,
                    )
                )
    finally:
        await engine.dispose()


async def test_ended_because_is_backfilled_from_the_reason_and_downgrades(
    fresh_database: Database,
) -> None:
    url = fresh_database.url
    await fresh_database.dispose()
    await asyncio.to_thread(migrate.downgrade, url, BEFORE)
    rows = {
        uuid.uuid4(): ("in_progress", None),
        uuid.uuid4(): ("released", "time ran out"),
        uuid.uuid4(): ("scored", "terminated by a proctor: phone on desk"),
        uuid.uuid4(): ("scoring", "submitted by the candidate"),
        uuid.uuid4(): ("invalidated", "submitted by the candidate"),
    }
    await _insert_old_attempts(url, rows)

    await asyncio.to_thread(migrate.upgrade, url, AFTER)
    db = Database(url)
    try:
        async with db.transaction(write=False) as session:
            found = dict(
                (await session.execute(sa.select(Attempt.id, Attempt.ended_because))).all()
            )
    finally:
        await db.dispose()
    assert list(found.values()) == [
        None,
        EndReason.expired,
        EndReason.terminated,
        EndReason.submitted,
        EndReason.submitted,
    ]
    assert list(found) == list(rows)

    await asyncio.to_thread(migrate.downgrade, url, BEFORE)
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            columns = await conn.run_sync(
                lambda sync: {c["name"] for c in sa.inspect(sync).get_columns("attempt")}
            )
            kept = (await conn.execute(sa.select(sa.func.count()).select_from(_attempt))).scalar()
    finally:
        await engine.dispose()
    assert "ended_because" not in columns
    assert "end_reason" in columns
    assert kept == len(rows)
    await asyncio.to_thread(migrate.upgrade, url)


async def test_the_column_refuses_an_unknown_reason(fresh_database: Database) -> None:
    await _insert_old_attempts(fresh_database.url, {uuid.uuid4(): ("submitted", None)})
    with pytest.raises(sa.exc.IntegrityError):
        async with fresh_database.transaction() as session:
            await session.execute(sa.text("UPDATE attempt SET ended_because = 'abducted'"))
