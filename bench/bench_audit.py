"""The audit chain on PostgreSQL: append rate with concurrent writers, and verification time.

    uv run python bench/bench_audit.py [--events 100000] [--writers 8] [--seconds 10]

Creates a database for the run (dropped at the end) on the server of --database-url
(default postgresql+asyncpg://postgres@127.0.0.1:5432/postgres). Prints:
- the append rate of --writers concurrent writers on one organization's chain, each event
  its own transaction (what a request does), and, side by side, the same writers each on
  its own chain (the ceiling without the per-chain lock);
- the time of `waa-ads audit verify` over a chain of --events events (the command, as an
  operator runs it), the in-process verify_chain, and the pure hashing floor.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import subprocess
import sys
import time
import uuid

import asyncpg
from sqlalchemy.engine import make_url

from waa_ads.audit import service as audit
from waa_ads.audit.chain import ChainState, verify_links
from waa_ads.core import migrate
from waa_ads.core.db import Database


async def append_rate(db: Database, writers: int, seconds: float, *, shared: bool) -> float:
    org = uuid.uuid4()
    stop = time.perf_counter() + seconds
    counts = [0] * writers

    async def writer(n: int) -> None:
        chain_org = org if shared else uuid.uuid4()
        while time.perf_counter() < stop:
            async with db.transaction() as session:
                await audit.record(
                    session,
                    organization_id=chain_org,
                    action="bench.event",
                    actor=audit.Actor("user", f"w{n}"),
                    data={"n": counts[n]},
                )
            counts[n] += 1

    started = time.perf_counter()
    await asyncio.gather(*(writer(n) for n in range(writers)))
    elapsed = time.perf_counter() - started
    if shared:
        async with db.transaction(write=False) as session:
            result = await audit.verify_chain(session, str(org))
        assert result.ok and result.checked == sum(counts), result
    return sum(counts) / elapsed


async def main(url: str, events: int, writers: int, seconds: float) -> None:
    name = f"waa_bench_audit_{secrets.token_hex(4)}"
    admin_dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(admin_dsn)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    db_url = make_url(url).set(database=name).render_as_string(hide_password=False)
    await asyncio.to_thread(migrate.upgrade, db_url)
    db = Database(db_url, pool_size=writers)
    try:
        shared = [await append_rate(db, writers, seconds, shared=True) for _ in range(3)]
        separate = [await append_rate(db, writers, seconds, shared=False) for _ in range(3)]

        org = uuid.uuid4()
        batch = 5000
        for start in range(0, events, batch):
            async with db.transaction() as session:
                await audit.record_many(
                    session,
                    organization_id=org,
                    events=[
                        audit.PendingEvent(
                            "bench.bulk", audit.SYSTEM_ACTOR, "thing", str(i), {"i": i}
                        )
                        for i in range(start, min(events, start + batch))
                    ],
                )
        runs = []
        for _ in range(3):
            started = time.perf_counter()
            async with db.transaction(write=False) as session:
                result = await audit.verify_chain(session, str(org))
            runs.append(time.perf_counter() - started)
            assert result.ok and result.checked == events
        links = []
        async with db.transaction(write=False) as session:
            async for chunk in audit.iter_links(session, str(org)):
                links.extend(chunk)
        floor = []
        for _ in range(3):
            started = time.perf_counter()
            assert verify_links(ChainState(chain=str(org)), links) is None
            floor.append(time.perf_counter() - started)
        cli = []
        env = {**os.environ, "WAA_DATABASE_URL": db_url, "WAA_LOG_LEVEL": "WARNING"}
        for _ in range(3):
            started = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-m", "waa_ads", "audit", "verify"],
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            cli.append(time.perf_counter() - started)
            assert done.returncode == 0, done.stderr
    finally:
        await db.dispose()
        conn = await asyncpg.connect(admin_dsn)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()

    print(
        f"append, {writers} concurrent writers, one event per transaction ({seconds:.0f} s runs, median of 3):"
    )
    print(f"  one organization's chain: {statistics.median(shared):8.0f} events/s")
    print(
        f"  a chain per writer:       {statistics.median(separate):8.0f} events/s  "
        f"(shared / separate = {statistics.median(shared) / statistics.median(separate):.2f})"
    )
    print(f"verify a chain of {events} events (median of 3):")
    print(f"  waa-ads audit verify (whole command): {statistics.median(cli):6.2f} s")
    print(
        f"  verify_chain in process:              {statistics.median(runs):6.2f} s "
        f"({events / statistics.median(runs):.0f} events/s)"
    )
    print(
        f"  hashing only (floor):                 {statistics.median(floor):6.2f} s "
        f"(database share {1 - statistics.median(floor) / statistics.median(runs):.0%})"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--database-url", default="postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
    )
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    asyncio.run(main(args.database_url, args.events, args.writers, args.seconds))
