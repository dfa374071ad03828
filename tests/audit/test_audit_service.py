"""Recording and verifying chains in the real databases, tampering, concurrency, export."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from typer.testing import CliRunner

from tests.support.factories import Factory, login
from waa_ads.audit import service as audit
from waa_ads.audit.chain import (
    BrokenLink,
    ChainState,
    fast_row,
    format_time,
    link_hash,
    verify_rows,
)
from waa_ads.audit.models import AuditChainHead, AuditEvent
from waa_ads.auth.models import Role
from waa_ads.core.db import Database

pytestmark = pytest.mark.asyncio

DOCS = Path(__file__).resolve().parents[2] / "docs" / "audit.md"


async def _record_many(session: AsyncSession, org: uuid.UUID | None, n: int) -> None:
    for i in range(n):
        await audit.record(
            session,
            organization_id=org,
            action="test.event",
            actor=audit.Actor("user", str(uuid.UUID(int=i))),
            target_type="thing",
            target_id=str(i),
            data={"i": i},
        )


async def test_recorded_events_form_a_verifiable_chain(db_session: AsyncSession) -> None:
    org = uuid.uuid4()
    await _record_many(db_session, org, 25)
    await _record_many(db_session, None, 3)
    result = await audit.verify_chain(db_session, audit.chain_for(org))
    assert result.ok
    assert result.checked == result.head_seq == 25
    seqs = (
        (
            await db_session.execute(
                select(AuditEvent.seq).where(AuditEvent.chain == str(org)).order_by(AuditEvent.seq)
            )
        )
        .scalars()
        .all()
    )
    assert list(seqs) == list(range(1, 26))
    system = await audit.verify_chain(db_session, "system")
    assert system.ok
    assert system.checked >= 3


async def test_raw_sql_tampering_is_reported(db_session: AsyncSession) -> None:
    org = uuid.uuid4()
    await _record_many(db_session, org, 10)
    await db_session.execute(
        text(
            "UPDATE audit_event SET canonical = replace(canonical, :old, :new) "
            "WHERE chain = :chain AND seq = 7"
        ),
        {"chain": str(org), "old": '"i":6', "new": '"i":60'},
    )
    result = await audit.verify_chain(db_session, str(org))
    assert not result.ok
    assert result.broken is not None
    assert result.broken.seq == 7


@pytest.mark.parametrize(
    ("column", "forged"),
    [
        ("action", "forged.action"),
        ("actor_type", "system"),
        ("actor_id", "00000000-0000-0000-0000-00000000beef"),
        ("target_type", "other"),
        ("target_id", "999"),
        ("occurred_at", datetime(2020, 1, 1, tzinfo=UTC)),
        ("organization_id", uuid.UUID(int=7)),
    ],
)
async def test_forging_a_queryable_column_is_reported(
    db_session: AsyncSession, column: str, forged: object
) -> None:
    """Every column anything reads is checked against the hashed text, not only the text."""
    org = uuid.uuid4()
    await _record_many(db_session, org, 6)
    await db_session.execute(
        update(AuditEvent)
        .where(AuditEvent.chain == str(org), AuditEvent.seq == 4)
        .values({column: forged})
    )
    result = await audit.verify_chain(db_session, str(org))
    assert not result.ok
    assert result.broken is not None
    assert result.broken.seq == 4
    assert repr(column) in result.broken.reason


async def test_deleting_the_newest_events_is_reported(db_session: AsyncSession) -> None:
    org = uuid.uuid4()
    await _record_many(db_session, org, 5)
    await db_session.execute(
        text("DELETE FROM audit_event WHERE chain = :chain AND seq >= 4"), {"chain": str(org)}
    )
    result = await audit.verify_chain(db_session, str(org))
    assert not result.ok
    assert result.broken is not None
    assert "head" in result.broken.reason


async def test_an_event_rolls_back_with_its_transaction(fresh_database: Database) -> None:
    org = uuid.uuid4()
    async with fresh_database.transaction() as session:
        await _record_many(session, org, 2)
    with pytest.raises(RuntimeError):
        async with fresh_database.transaction() as session:
            await _record_many(session, org, 1)
            raise RuntimeError("the change failed")
    async with fresh_database.transaction() as session:
        await _record_many(session, org, 1)
    async with fresh_database.transaction(write=False) as session:
        result = await audit.verify_chain(session, str(org))
    assert result.ok
    assert result.checked == 3


async def test_eight_concurrent_writers_keep_each_chain_unbroken(
    fresh_database: Database, backend: str
) -> None:
    """8 writers per organization, 2 organizations, all at once, each event its own
    transaction: every chain stays contiguous and verifiable."""
    orgs = [uuid.uuid4(), uuid.uuid4()]
    per_writer = 15

    async def writer(org: uuid.UUID, w: int) -> None:
        for i in range(per_writer):
            async with fresh_database.transaction() as session:
                await audit.record(
                    session,
                    organization_id=org,
                    action="test.concurrent",
                    actor=audit.Actor("user", f"w{w}"),
                    data={"writer": w, "i": i},
                )

    await asyncio.gather(*(writer(org, w) for org in orgs for w in range(8)))
    async with fresh_database.transaction(write=False) as session:
        for org in orgs:
            result = await audit.verify_chain(session, str(org))
            assert result.ok, result
            assert result.checked == 8 * per_writer


async def test_admin_verify_endpoint_and_non_admins(
    app: FastAPI, client: httpx.AsyncClient, make: Factory
) -> None:
    org = await make.organization()
    admin = await make.user(org, Role.admin)
    author = await make.user(org, Role.author)
    admin_headers = await login(client, admin)
    ok = await client.get("/api/v1/audit/verify", headers=admin_headers)
    assert ok.status_code == 200
    assert ok.json()["ok"] is True
    assert ok.json()["checked"] >= 4  # org created, two users, a login
    refused = await client.get("/api/v1/audit/verify", headers=await login(client, author))
    assert refused.status_code == 403

    async with app.state.db.transaction() as session:
        await session.execute(
            text(
                "UPDATE audit_event SET actor_id = 'x', canonical = canonical || ' ' "
                "WHERE chain = :c AND seq = 2"
            ),
            {"c": str(org.id)},
        )
    broken = (await client.get("/api/v1/audit/verify", headers=admin_headers)).json()
    assert broken["ok"] is False
    assert broken["first_broken_seq"] == 2


async def test_export_verifies_with_the_documented_standard_library_script(
    client: httpx.AsyncClient, make: Factory, tmp_path: Path
) -> None:
    org = await make.organization()
    admin = await make.user(org, Role.admin)
    for _ in range(3):
        await make.user(org, Role.rater)
    headers = await login(client, admin)
    export = await client.get("/api/v1/audit/export", headers=headers)
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("application/x-ndjson")
    chain_file = tmp_path / "chain.jsonl"
    chain_file.write_bytes(export.content)

    script = re.search(r"```python\n(.*?)```", DOCS.read_text(), re.S)
    assert script is not None
    script_file = tmp_path / "verify.py"
    script_file.write_text(script.group(1))
    good = subprocess.run(
        [sys.executable, str(script_file), str(chain_file)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert good.returncode == 0, good.stderr
    assert good.stdout.startswith("ok: ")

    lines = chain_file.read_text().splitlines()
    lines[1] = lines[1].replace("user.created", "user.deleted")
    chain_file.write_text("\n".join(lines) + "\n")
    bad = subprocess.run(
        [sys.executable, str(script_file), str(chain_file)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode != 0
    assert "broken at 2" in bad.stderr


async def test_cli_audit_verify_reports_a_broken_chain(
    live_make: Factory, fresh_database: Database, tmp_path: Path
) -> None:
    from waa_ads.cli import app as cli

    org = await live_make.organization(slug="cli-org")
    await live_make.user(org, Role.admin)
    env = {"WAA_DATABASE_URL": fresh_database.url, "WAA_DATA_DIR": str(tmp_path)}
    runner = CliRunner()
    result = await asyncio.to_thread(runner.invoke, cli, ["audit", "verify"], env=env)
    assert result.exit_code == 0, result.output
    assert '"ok": true' in result.output

    out = tmp_path / "export.jsonl"
    exported = await asyncio.to_thread(
        runner.invoke,
        cli,
        ["audit", "export", "--organization", "cli-org", "--out", str(out)],
        env=env,
    )
    assert exported.exit_code == 0, exported.output
    assert len(out.read_text().splitlines()) >= 2

    async with fresh_database.transaction() as session:
        await session.execute(
            text("UPDATE audit_event SET hash = :h WHERE chain = :c AND seq = 1"),
            {"h": "0" * 64, "c": str(org.id)},
        )
    broken = await asyncio.to_thread(
        runner.invoke, cli, ["audit", "verify", "--organization", "cli-org"], env=env
    )
    assert broken.exit_code == 1
    assert '"first_broken_seq": 1' in broken.output


async def test_bulk_and_single_appends_share_one_chain(db_session: AsyncSession) -> None:
    org = uuid.uuid4()
    await _record_many(db_session, org, 2)
    events = await audit.record_many(
        db_session,
        organization_id=org,
        events=[
            audit.PendingEvent("bulk.event", audit.SYSTEM_ACTOR, "thing", str(i)) for i in range(5)
        ],
    )
    assert [e.seq for e in events] == [3, 4, 5, 6, 7]
    await _record_many(db_session, org, 1)
    assert await audit.record_many(db_session, organization_id=org, events=[]) == []
    result = await audit.verify_chain(db_session, str(org))
    assert result.ok
    assert result.checked == result.head_seq == 8


async def test_events_outside_the_fast_layout_verify_across_batches(
    db_session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows the fast check cannot vouch for (a year before 1000, valid JSON that is not in
    canonical layout) are judged one by one the plain way, between batches read ahead;
    a tampered row after them is still found."""
    monkeypatch.setattr(audit, "VERIFY_BATCH", 3)
    org = uuid.uuid4()
    await _record_many(db_session, org, 3)
    await audit.record(
        db_session,
        organization_id=org,
        action="test.old",
        actor=audit.SYSTEM_ACTOR,
        occurred_at=datetime(999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    )
    await _record_many(db_session, org, 5)
    last = (
        await db_session.execute(
            select(AuditEvent).where(AuditEvent.chain == str(org), AuditEvent.seq == 9)
        )
    ).scalar_one()
    spaced = last.canonical.replace('{"action":', '{ "action" : ', 1)
    assert spaced != last.canonical
    rehashed = link_hash(last.prev_hash, spaced)
    await db_session.execute(
        update(AuditEvent).where(AuditEvent.id == last.id).values(canonical=spaced, hash=rehashed)
    )
    await db_session.execute(
        update(AuditChainHead).where(AuditChainHead.chain == str(org)).values(hash=rehashed)
    )
    result = await audit.verify_chain(db_session, str(org))
    assert result.ok, result
    assert result.checked == result.head_seq == 9

    await db_session.execute(
        update(AuditEvent)
        .where(AuditEvent.chain == str(org), AuditEvent.seq == 7)
        .values(target_id="forged")
    )
    result = await audit.verify_chain(db_session, str(org))
    assert not result.ok
    assert result.broken == BrokenLink(
        7, "stored column 'target_id' does not match the hashed event"
    )
    assert result.checked == 6


async def _fast_rows(session: AsyncSession, chain: str) -> list[tuple[object, ...]]:
    """The rows as the fast verification reads them: from the server on PostgreSQL, built
    from the read-back links on SQLite (where ``verify_chain`` does the same)."""
    if session.get_bind().dialect.name == "postgresql":
        connection = await session.connection()
        driver = (await connection.get_raw_connection()).driver_connection
        assert driver is not None
        rows = await driver.fetch(audit._FAST_ROWS, chain, uuid.UUID(chain), 0, 10**9, 10**6)
        return [tuple(row) for row in rows]
    links = [link async for batch in audit.iter_links(session, chain) for link in batch]
    return [fast_row(link, chain) for link in links]


VARIED_EVENTS: list[tuple[datetime, str | None, str | None, dict[str, object] | None]] = [
    (datetime(2026, 12, 5, 4, 59, 0, 0, tzinfo=UTC), "thing", "t1", {"i": 1, "note": "ok"}),
    (datetime(2026, 2, 28, 23, 59, 59, 999999, tzinfo=UTC), None, None, None),
    (datetime(2028, 2, 29, 12, 0, 0, 100, tzinfo=UTC), "thing", 'quote " and \\', {"é": "✓ 日本"}),
    (datetime(1000, 1, 1, tzinfo=UTC), "line\nbreak", "tab\tstop", {"f": 1.5, "g": -0.0}),
    (datetime(9999, 12, 31, 23, 59, 59, 999998, tzinfo=UTC), "x", None, {"big": 2**53 - 1}),
    (datetime(2026, 6, 1, 8, 30, tzinfo=UTC), "thing", "t2", {"nested": {"a": [1, {"b": None}]}}),
    (datetime(2026, 6, 1, 8, 30, 0, 1, tzinfo=UTC), "thing", "t3", {"list": [True, False, "😀"]}),
    (datetime(2026, 6, 1, 8, 30, 0, 10, tzinfo=UTC), "thing", "t4", {"s": "\u2028\u0000\u001f"}),
]


async def test_the_fast_verification_vouches_for_events_of_every_kind(
    db_session: AsyncSession,
) -> None:
    """Events with non-ASCII text, escapes, floats, nested data, no target, system actors
    and times at the edges of years 1000-9999 are each vouched for by the fast check (none
    needs the plain one): the server writes each time exactly as ``format_time`` does, and
    the text rebuilt around ``data`` from the columns is the stored canonical text."""
    org = uuid.uuid4()
    for i, (moment, target_type, target_id, data) in enumerate(VARIED_EVENTS):
        await audit.record(
            db_session,
            organization_id=org,
            action=f"test.kind{i % 3}",
            actor=audit.SYSTEM_ACTOR if i % 2 else audit.Actor("user", f"ü{i}"),
            target_type=target_type,
            target_id=target_id,
            data=data,
            occurred_at=moment,
        )
    rows = await _fast_rows(db_session, str(org))
    assert [row[4] for row in rows] == [format_time(moment) for moment, *_ in VARIED_EVENTS]
    state = ChainState(chain=str(org))
    assert verify_rows(state, rows) is None
    assert state.checked == len(VARIED_EVENTS)
    result = await audit.verify_chain(db_session, str(org))
    assert result.ok, result
    assert result.checked == len(VARIED_EVENTS)


async def test_a_time_before_year_1000_is_left_to_the_plain_check(
    db_session: AsyncSession,
) -> None:
    org = uuid.uuid4()
    await _record_many(db_session, org, 2)
    await audit.record(
        db_session,
        organization_id=org,
        action="test.old",
        actor=audit.SYSTEM_ACTOR,
        occurred_at=datetime(999, 12, 31, 23, 59, 59, tzinfo=UTC),
    )
    rows = await _fast_rows(db_session, str(org))
    assert rows[2][4] is None
    assert verify_rows(ChainState(chain=str(org)), rows) == 2
    result = await audit.verify_chain(db_session, str(org))
    assert result.ok, result
    assert result.checked == 3


async def _set_seq(session: AsyncSession, org: uuid.UUID, old: int, new: int) -> None:
    await session.execute(
        update(AuditEvent)
        .where(AuditEvent.chain == str(org), AuditEvent.seq == old)
        .values(seq=new)
    )


@pytest.mark.parametrize("batch", [2, 1000])
async def test_tampering_is_named_at_the_first_broken_event(
    db_session: AsyncSession, monkeypatch: pytest.MonkeyPatch, batch: int
) -> None:
    """A changed field (with or without its hash recomputed), a removed event and two
    events swapped in sequence are each reported at the first event that no longer
    follows, whether the break falls inside a batch or at its edge."""
    monkeypatch.setattr(audit, "VERIFY_BATCH", batch)
    monkeypatch.setattr(audit, "VERIFY_SLICE", 2)
    org = uuid.uuid4()
    await _record_many(db_session, org, 8)
    chain = str(org)

    async def verdict() -> BrokenLink | None:
        result = await audit.verify_chain(db_session, chain)
        return result.broken

    assert await verdict() is None

    # A changed field, its hash recomputed: the next event no longer links to it.
    fifth = (
        await db_session.execute(
            select(AuditEvent).where(AuditEvent.chain == chain, AuditEvent.seq == 5)
        )
    ).scalar_one()
    original = (fifth.canonical, fifth.hash)
    forged = fifth.canonical.replace('"i":4', '"i":40')
    assert forged != fifth.canonical
    await db_session.execute(
        update(AuditEvent)
        .where(AuditEvent.id == fifth.id)
        .values(canonical=forged, hash=link_hash(fifth.prev_hash, forged))
    )
    assert await verdict() == BrokenLink(6, "prev_hash does not match the previous event's hash")
    # The same change with the old hash kept: the event itself is named.
    await db_session.execute(
        update(AuditEvent).where(AuditEvent.id == fifth.id).values(hash=original[1])
    )
    assert await verdict() == BrokenLink(5, "hash does not match the event's canonical text")
    await db_session.execute(
        update(AuditEvent).where(AuditEvent.id == fifth.id).values(canonical=original[0])
    )
    assert await verdict() is None

    # Two events swapped in sequence order.
    await _set_seq(db_session, org, 3, -3)
    await _set_seq(db_session, org, 4, 3)
    await _set_seq(db_session, org, -3, 4)
    assert await verdict() == BrokenLink(3, "prev_hash does not match the previous event's hash")
    await _set_seq(db_session, org, 4, -4)
    await _set_seq(db_session, org, 3, 4)
    await _set_seq(db_session, org, -4, 3)
    assert await verdict() is None

    # A removed event: the gap is named where the next one is found.
    await db_session.execute(
        text("DELETE FROM audit_event WHERE chain = :chain AND seq = 6"), {"chain": chain}
    )
    assert await verdict() == BrokenLink(7, "expected sequence 6, found 7")
