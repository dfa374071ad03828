"""The migration that made how an attempt ended a column: existing attempts are backfilled
from the ``end_reason`` sentence, and the downgrade takes the column away again."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

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


#: The attempt's parents, in the order they can be inserted.
_PARENTS = (
    "organization",
    "candidate",
    "assessment",
    "assessment_version",
    "administration",
    "roster_entry",
)


def _filler(column: sa.Column[Any], now: datetime) -> Any:
    """Some value of a column's type, for a row whose content does not matter here."""
    kind = column.type
    if isinstance(kind, sa.TypeDecorator):
        kind = kind.impl_instance
    try:
        python = kind.python_type
    except NotImplementedError:
        python = str
    if python is uuid.UUID:
        return uuid.uuid4()
    if python is bool:
        return False
    if python is int:
        return 1
    if python is float:
        return 1.0
    if python is datetime:
        return now
    if python in (dict, list):
        return {}
    return "x"


async def _insert_parents(conn: AsyncConnection, now: datetime) -> dict[str, uuid.UUID]:
    """One row of each of the attempt's parent tables, as the previous schema held them
    (each of its columns that needs a value gets one, typed by the models; references
    point at the rows inserted before). The migrations check foreign keys, so attempts need
    real parents."""
    from waa_ads.models import metadata

    def columns_of(sync: sa.Connection, table: str) -> dict[str, Any]:
        return {c["name"]: c for c in sa.inspect(sync).get_columns(table)}

    ids: dict[str, uuid.UUID] = {}
    for name in _PARENTS:
        present = await conn.run_sync(columns_of, name)
        model = metadata.tables[name]
        values: dict[str, Any] = {}
        for column in model.columns:
            if column.name not in present:
                continue
            refers = next((k.column.table.name for k in column.foreign_keys), None)
            if refers in ids:
                values[column.name] = ids[refers]
            elif column.name == "id" or not present[column.name]["nullable"]:
                values[column.name] = _filler(column, now)
        ids[name] = values["id"]
        table = sa.table(name, *(sa.column(c.name, c.type) for c in model.columns))
        await conn.execute(table.insert().values(**values))
    return ids


async def _insert_old_attempts(url: str, rows: dict[uuid.UUID, tuple[str, str | None]]) -> None:
    """Attempt rows as the previous schema held them, with one chain of parents."""
    engine = create_async_engine(url)
    now = datetime.now(UTC)
    try:
        async with engine.begin() as conn:
            parents = await _insert_parents(conn, now)
            for number, (attempt_id, (state, reason)) in enumerate(rows.items(), start=1):
                ended = state != "in_progress"
                await conn.execute(
                    _attempt.insert().values(
                        id=attempt_id,
                        organization_id=parents["organization"],
                        administration_id=parents["administration"],
                        roster_entry_id=parents["roster_entry"],
                        candidate_id=parents["candidate"],
                        assessment_version_id=parents["assessment_version"],
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
