"""The audit chain on PostgreSQL, each figure next to its floor measured in the same run.

    uv run python bench/bench_audit.py [--runs 3] [--seconds 5] [--writers 8] [--events 200000]

Creates a database for the run (dropped at the end) on the server of --database-url
(default postgresql+asyncpg://postgres@127.0.0.1:5432/postgres). Each run measures, a few
seconds apart:

- **append**: --writers concurrent writers on one organization's chain, each appending one
  event at a time and waiting until it is committed (``audit.appender.append``: group
  commit), against the floor: the same writers each inserting one row per transaction into
  an unchained table of the same shape (``audit_floor``: the columns and indexes of
  ``audit_event``, the same row contents, no hashing, no head), on raw asyncpg;
- **record**: the same writers, each event recorded with ``record()`` inside a unit of work
  of its own (``db.transaction()``, the path of every business change), against the floor:
  the same units of work inserting the row into ``audit_floor`` through the same session;
- **verify**: ``verify_chain`` over a chain of --events events, against the floor: the
  SHA-256 of the same bytes (``prev_hash + canonical`` of every row, already in memory);
  each also per CPU second of this process (on a busy machine elapsed time also counts
  the time others had the cores; the CPU figures do not);
  and ``waa-ads audit verify`` as an operator runs it (the command's own timing of the
  chain, and the whole process).

Medians over the runs are printed with each run's figure. Where the product has no
group-commit appender (older code, ``--append-fallback``), "append" is ``record()`` in a
transaction of its own, which is what such code offered for a standalone event.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import itertools
import json
import os
import secrets
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import asyncpg
from sqlalchemy import text
from sqlalchemy.engine import make_url

from waa_ads.audit import service as audit
from waa_ads.core import migrate
from waa_ads.core.db import Database

try:
    from waa_ads.audit import appender
except ImportError:  # code from before the group commit
    appender = None  # type: ignore[assignment]

FLOOR_TABLE = "CREATE TABLE audit_floor (LIKE audit_event INCLUDING ALL)"
FLOOR_INSERT = (
    "INSERT INTO audit_floor (chain, seq, organization_id, occurred_at, action, actor_type, "
    "actor_id, target_type, target_id, canonical, prev_hash, hash) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
)
FLOOR_INSERT_SA = text(
    "INSERT INTO audit_floor (chain, seq, organization_id, occurred_at, action, actor_type, "
    "actor_id, target_type, target_id, canonical, prev_hash, hash) "
    "VALUES (:chain, :seq, :org, :at, :action, :actor_type, :actor_id, :target_type, "
    ":target_id, :canonical, :prev_hash, :hash)"
)
#: A stored event of the size the writers produce, for the floor's rows.
SAMPLE_CANONICAL = (
    '{"action":"bench.event","actor":{"id":"w0","type":"user"},'
    '"chain":"01940000-0000-7000-8000-000000000000","data":{"n":12345},'
    '"occurred_at":"2026-12-03T10:00:00.000000Z","prev_hash":"' + "0" * 64 + '",'
    '"seq":12345,"target":{"id":null,"type":null}}'
)


async def closed_loop(
    writers: int, seconds: float, one: Callable[[int, int], Awaitable[None]]
) -> float:
    """Events per second of ``writers`` tasks each calling ``one(writer, i)`` back to back."""
    stop = time.perf_counter() + seconds
    counts = [0] * writers

    async def writer(n: int) -> None:
        while time.perf_counter() < stop:
            await one(n, counts[n])
            counts[n] += 1

    started = time.perf_counter()
    await asyncio.gather(*(writer(n) for n in range(writers)))
    return sum(counts) / (time.perf_counter() - started)


async def checked_chain(db: Database, org: uuid.UUID) -> int:
    async with db.transaction(write=False) as session:
        result = await audit.verify_chain(session, str(org))
    assert result.ok, result
    return result.checked


async def append_product(db: Database, writers: int, seconds: float, fallback: bool) -> float:
    org = uuid.uuid4()

    async def one(n: int, i: int) -> None:
        if appender is not None and not fallback:
            await appender.append(
                db,
                organization_id=org,
                action="bench.event",
                actor=audit.Actor("user", f"w{n}"),
                data={"n": i},
            )
        else:
            async with db.transaction() as session:
                await audit.record(
                    session,
                    organization_id=org,
                    action="bench.event",
                    actor=audit.Actor("user", f"w{n}"),
                    data={"n": i},
                )

    rate = await closed_loop(writers, seconds, one)
    await checked_chain(db, org)
    return rate


async def append_floor(pool: asyncpg.Pool, writers: int, seconds: float) -> float:
    org = uuid.uuid4()
    seqs = itertools.count(1)

    async def one(n: int, i: int) -> None:
        async with pool.acquire() as conn:
            await conn.execute(
                FLOOR_INSERT,
                str(org),
                next(seqs),
                org,
                datetime.now(UTC),
                "bench.event",
                "user",
                f"w{n}",
                None,
                None,
                SAMPLE_CANONICAL,
                "0" * 64,
                "f" * 64,
            )

    return await closed_loop(writers, seconds, one)


async def record_product(db: Database, writers: int, seconds: float) -> float:
    org = uuid.uuid4()

    async def one(n: int, i: int) -> None:
        async with db.transaction() as session:
            await audit.record(
                session,
                organization_id=org,
                action="bench.event",
                actor=audit.Actor("user", f"w{n}"),
                data={"n": i},
            )

    rate = await closed_loop(writers, seconds, one)
    await checked_chain(db, org)
    return rate


async def record_floor(db: Database, writers: int, seconds: float) -> float:
    org = uuid.uuid4()
    seqs = itertools.count(1)

    async def one(n: int, i: int) -> None:
        async with db.transaction() as session:
            await session.execute(
                FLOOR_INSERT_SA,
                {
                    "chain": str(org),
                    "seq": next(seqs),
                    "org": org,
                    "at": datetime.now(UTC),
                    "action": "bench.event",
                    "actor_type": "user",
                    "actor_id": f"w{n}",
                    "target_type": None,
                    "target_id": None,
                    "canonical": SAMPLE_CANONICAL,
                    "prev_hash": "0" * 64,
                    "hash": "f" * 64,
                },
            )

    return await closed_loop(writers, seconds, one)


async def build_chain(db: Database, events: int) -> uuid.UUID:
    org = uuid.uuid4()
    batch = 5000
    for start in range(0, events, batch):
        async with db.transaction() as session:
            await audit.record_many(
                session,
                organization_id=org,
                events=[
                    audit.PendingEvent(
                        "bench.bulk",
                        audit.Actor("user", str(uuid.UUID(int=i % 97))),
                        "thing",
                        str(uuid.UUID(int=i)),
                        {"i": i, "note": "ok"},
                    )
                    for i in range(start, min(events, start + batch))
                ],
            )
    return org


async def verify_product(db: Database, org: uuid.UUID, events: int) -> tuple[float, float]:
    """(events/s, events per CPU second of this process)."""
    started, cpu = time.perf_counter(), time.process_time()
    async with db.transaction(write=False) as session:
        result = await audit.verify_chain(session, str(org))
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    assert result.ok and result.checked == events, result
    return events / elapsed, events / cpu


def verify_floor(pairs: list[tuple[str, str]]) -> tuple[float, float]:
    """(events/s, events per CPU second) of SHA-256 over the same bytes."""
    sha256 = hashlib.sha256
    started, cpu = time.perf_counter(), time.process_time()
    for prev_hash, canonical in pairs:
        sha256((prev_hash + canonical).encode()).hexdigest()
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    return len(pairs) / elapsed, len(pairs) / cpu


def verify_command(db_url: str, chain: str, events: int) -> tuple[float, float]:
    """(events/s by the command's own timing of the chain, whole process seconds)."""
    env = {**os.environ, "WAA_DATABASE_URL": db_url, "WAA_LOG_LEVEL": "WARNING"}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "waa_ads", "audit", "verify"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    whole = time.perf_counter() - started
    assert done.returncode == 0, done.stderr
    reports = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    (report,) = [r for r in reports if r["chain"] == chain]
    assert report["checked"] == events, report
    return events / report["seconds"] if "seconds" in report else float("nan"), whole


def summary(label: str, product: list[float], floor: list[float], unit: str) -> None:
    ratios = [p / f for p, f in zip(product, floor, strict=True)]
    each = "/".join(f"{p:.0f}" for p in product)
    each_floor = "/".join(f"{f:.0f}" for f in floor)
    each_ratio = "/".join(f"{r:.2f}" for r in ratios)
    print(
        f"  {label:<34} {statistics.median(product):>10.0f} {unit} ({each})   floor "
        f"{statistics.median(floor):>10.0f} ({each_floor})   ratio "
        f"{statistics.median(ratios):.2f}x ({each_ratio})"
    )


async def main(args: argparse.Namespace) -> None:
    url = args.database_url
    name = f"waa_bench_audit_{secrets.token_hex(4)}"
    admin_dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(admin_dsn)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    db_url = make_url(url).set(database=name).render_as_string(hide_password=False)
    raw_dsn = make_url(db_url).set(drivername="postgresql").render_as_string(hide_password=False)
    await asyncio.to_thread(migrate.upgrade, db_url)
    db = Database(db_url, pool_size=args.writers)
    pool = await asyncpg.create_pool(raw_dsn, min_size=args.writers, max_size=args.writers)
    figures: dict[str, list[float]] = {}
    parts = set(args.parts.split(","))
    try:
        async with pool.acquire() as c:
            await c.execute(FLOOR_TABLE)
        # Unmeasured warm-up of every path (connections, statement caches).
        await append_product(db, args.writers, 1, args.append_fallback)
        await append_floor(pool, args.writers, 1)
        await record_product(db, args.writers, 1)
        await record_floor(db, args.writers, 1)
        org = await build_chain(db, args.events) if "verify" in parts else None
        pairs: list[tuple[str, str]] = []
        if org is not None:
            async with pool.acquire() as c:
                pairs = [
                    (r["prev_hash"], r["canonical"])
                    for r in await c.fetch(
                        "SELECT prev_hash, canonical FROM audit_event WHERE chain = $1 ORDER BY seq",
                        str(org),
                    )
                ]
        for run in range(args.runs):
            print(f"run {run + 1} of {args.runs}", file=sys.stderr)
            if "append" in parts:
                figures.setdefault("append", []).append(
                    await append_product(db, args.writers, args.seconds, args.append_fallback)
                )
                figures.setdefault("append floor", []).append(
                    await append_floor(pool, args.writers, args.seconds)
                )
            if "record" in parts:
                figures.setdefault("record", []).append(
                    await record_product(db, args.writers, args.seconds)
                )
                figures.setdefault("record floor", []).append(
                    await record_floor(db, args.writers, args.seconds)
                )
            if org is not None:
                rate, per_cpu = await verify_product(db, org, args.events)
                figures.setdefault("verify", []).append(rate)
                figures.setdefault("verify cpu", []).append(per_cpu)
                rate, per_cpu = verify_floor(pairs)
                figures.setdefault("verify floor", []).append(rate)
                figures.setdefault("verify floor cpu", []).append(per_cpu)
                rate, seconds = await asyncio.to_thread(
                    verify_command, db_url, str(org), args.events
                )
                figures.setdefault("verify command", []).append(rate)
                figures.setdefault("verify command whole", []).append(seconds)
                figures.setdefault("verify floor 2", []).append(verify_floor(pairs)[0])
    finally:
        await pool.close()
        await db.dispose()
        conn = await asyncpg.connect(admin_dsn)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()

    print(f"medians of {args.runs} runs (each run's figure in brackets)")
    if "append" in figures:
        how = (
            "record() in its own transaction"
            if appender is None or args.append_fallback
            else "append(): group commit"
        )
        print(
            f"append, {args.writers} writers on one chain, each waiting for its commit ({args.seconds:.0f} s):"
        )
        summary(how, figures["append"], figures["append floor"], "events/s")
    if "record" in figures:
        print(f"record() inside a unit of work per event, {args.writers} writers on one chain:")
        summary("record() + commit", figures["record"], figures["record floor"], "events/s")
    if "verify" in figures:
        print(f"verify a chain of {args.events} events (floor: SHA-256 of the same bytes):")
        summary("verify_chain in process", figures["verify"], figures["verify floor"], "events/s")
        summary(
            "  the same, per CPU second",
            figures["verify cpu"],
            figures["verify floor cpu"],
            "events/s",
        )
        summary(
            "waa-ads audit verify (its timing)",
            figures["verify command"],
            figures["verify floor 2"],
            "events/s",
        )
        whole = figures["verify command whole"]
        print(
            f"  waa-ads audit verify, whole process: {statistics.median(whole):.2f} s "
            f"({'/'.join(f'{w:.2f}' for w in whole)}), start-up included"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--database-url", default="postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
    )
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--parts", default="append,record,verify")
    parser.add_argument(
        "--append-fallback", action="store_true", help="measure record() as 'append'"
    )
    asyncio.run(main(parser.parse_args()))
