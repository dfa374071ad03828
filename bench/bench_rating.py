"""Rating: the queue's lease throughput with many raters asking at once, and the agreement
statistics on 100,000 ratings.

1. Leases (PostgreSQL). A throw-away database (``bench_setup``) gets a rating plan with
   ``--raters`` raters and enough open tasks. Each rater, concurrently, asks for
   ``--leases`` leases one after another; after each it marks the task done (a stand-in
   for rating it, outside the timed part). Side by side, in the same process and database:

   - service: ``rating.service.lease_next`` in its own transaction: one query for the
     rater's memberships and any lease they hold, then one statement that picks the task
     (``FOR UPDATE SKIP LOCKED``), leases it, writes the lease row and reads back the
     stored response and the count of what waits; then the reply with the rendered item
     and rubric (both remembered per item version);
   - floor: one bare ``UPDATE rating_task ... WHERE id = (SELECT ... ORDER BY order_key
     LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING id`` per lease, in its own transaction,
     on the same table and the same connection pool.

   Both print leases/s (leases over the wall time of all raters) and p50/p99 latency.

2. Statistics. 100,000 ratings (50,000 responses rated twice, 50 raters): this module's
   numpy Cohen's kappa and quadratic weighted kappa over all pairs, against
   ``sklearn.metrics.cohen_kappa_score`` (plain and quadratic) on the same arrays, and the
   lead's whole figure set (``plan_statistics``: per item, per pair, per rater with drift)
   over the 100,000 ratings' columns in memory (as the service loads them).

Medians of ``--runs`` runs. The machine is shared (others run tests): compare each figure
with its floor from the same run, not across runs.

    .venv/bin/python bench/bench_rating.py [--raters 50] [--leases 20] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from sqlalchemy import delete, select, text, update

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_setup import SERVER_URL, create_database, drop_database, populate

from waa_ads.auth.deps import Principal
from waa_ads.auth.models import User
from waa_ads.content.models import ItemVersion
from waa_ads.core.db import Database, utcnow
from waa_ads.core.settings import Settings
from waa_ads.rating import agreement, rules
from waa_ads.rating import service as rating
from waa_ads.rating.models import (
    RatingLease,
    RatingMember,
    RatingPlan,
    RatingTask,
)


async def build(db: Database, organization_id: uuid.UUID, administration_id: uuid.UUID,
                raters: int, tasks: int) -> tuple[uuid.UUID, list[uuid.UUID]]:  # fmt: skip
    async with db.transaction() as session:
        version_id = await session.scalar(
            select(ItemVersion.id).where(ItemVersion.organization_id == organization_id).limit(1)
        )
        assert version_id is not None
        users = [
            User(
                organization_id=organization_id,
                email=f"rater-{n}@bench.example",
                roles=["rater"],
                created_at=utcnow(),
                updated_at=utcnow(),
            )
            for n in range(raters)
        ]
        session.add_all(users)
        plan = RatingPlan(
            organization_id=organization_id,
            administration_id=administration_id,
            title="bench",
            item_refs=[],
            disagreement_rule="adjacent",
            resolution="mean",
            lease_seconds=600,
            leads=[],
            created_at=utcnow(),
        )
        session.add(plan)
        await session.flush()
        session.add_all(
            RatingMember(
                organization_id=organization_id,
                plan_id=plan.id,
                user_id=u.id,
                role="rater",
                item_refs=[],
            )
            for u in users
        )
        now = utcnow()
        session.add_all(
            RatingTask(
                organization_id=organization_id,
                plan_id=plan.id,
                response_key=f"bench:{n}",
                kind="rating",
                item_ref="Q01",
                item_version_id=version_id,
                slot=0,
                order_key=rules.order_key(f"bench:{n}"),
                created_at=now,
            )
            for n in range(tasks)
        )
        return plan.id, [u.id for u in users]


async def reset(db: Database, plan_id: uuid.UUID) -> None:
    async with db.transaction() as session:
        await session.execute(delete(RatingLease))
        await session.execute(
            update(RatingTask)
            .where(RatingTask.plan_id == plan_id)
            .values(state="open", rater_id=None, lease_id=None, lease_expires_at=None)
        )


FLOOR = text(
    "UPDATE rating_task SET state = 'leased', rater_id = :rater "
    "WHERE id = (SELECT id FROM rating_task WHERE plan_id = :plan AND state = 'open' "
    "ORDER BY order_key LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING id"
)
DONE = text("UPDATE rating_task SET state = 'done' WHERE id = :id")
#: The service's reply names the lease, not the task: the task is found when it is marked
#: done, outside the timed part (as the floor's is).
DONE_BY_LEASE = text("UPDATE rating_task SET state = 'done' WHERE lease_id = :lease RETURNING id")


async def run_leases(
    db: Database,
    settings: Settings,
    organization_id: uuid.UUID,
    plan_id: uuid.UUID,
    raters: list[uuid.UUID],
    leases: int,
    *,
    floor: bool,
) -> dict[str, float]:
    latencies: list[float] = []
    seen: set[Any] = set()

    async def rater(user_id: uuid.UUID) -> None:
        principal = Principal(user_id, organization_id, frozenset({"rater"}), "bench", None)
        for _ in range(leases):
            started = time.perf_counter()
            async with db.transaction() as session:
                if floor:
                    task_id = (
                        await session.execute(FLOOR, {"rater": user_id, "plan": plan_id})
                    ).scalar_one()
                else:
                    reply = await rating.lease_next(session, settings, principal, plan_id)
                    assert reply.lease is not None
            latencies.append(time.perf_counter() - started)
            async with db.transaction() as session:
                if floor:
                    await session.execute(DONE, {"id": task_id})
                else:
                    task_id = (
                        await session.execute(DONE_BY_LEASE, {"lease": reply.lease.lease_id})
                    ).scalar_one()
            assert task_id not in seen, "two raters got the same task"
            seen.add(task_id)

    wall, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*[rater(u) for u in raters])
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    ordered = sorted(latencies)
    return {
        "leases_per_s": len(latencies) / wall,
        "cpu_ms": 1000 * cpu / len(latencies),
        "p50_ms": 1000 * ordered[len(ordered) // 2],
        "p99_ms": 1000 * ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
    }


class Column(NamedTuple):
    """A rating's columns as ``rating.service._statistics`` loads them."""

    kind: str
    response_key: str
    item_ref: str
    rater_id: uuid.UUID
    seed_id: uuid.UUID | None
    score: float
    submitted_at: datetime
    duration_ms: int


def statistics_bench(runs: int) -> dict[str, float]:
    from sklearn.metrics import cohen_kappa_score

    rng = np.random.default_rng(1)
    responses, raters = 50_000, [uuid.uuid4() for _ in range(50)]
    truth = rng.integers(0, 7, responses)
    a = np.clip(truth + rng.integers(-1, 2, responses), 0, 6).astype(float)
    b = np.clip(truth + rng.integers(-1, 2, responses), 0, 6).astype(float)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    rows = []
    for n in range(responses):
        first, second = rng.choice(50, 2, replace=False)
        for rater, score, k in ((raters[first], a[n], 0), (raters[second], b[n], 1)):
            rows.append(
                Column(
                    "rating",
                    f"r{n}",
                    f"E{n % 4}",
                    rater,
                    None,
                    float(score),
                    start + timedelta(seconds=2 * n + k),
                    60_000,
                )
            )
    columns = rows
    la, lb = list(a), list(b)
    timings: dict[str, list[float]] = {"ours": [], "sklearn": [], "plan_statistics": []}
    for _ in range(runs):
        t = time.perf_counter()
        ours = (agreement.cohen_kappa(la, lb), agreement.quadratic_weighted_kappa(la, lb))
        timings["ours"].append(time.perf_counter() - t)
        t = time.perf_counter()
        theirs = (cohen_kappa_score(a, b), cohen_kappa_score(a, b, weights="quadratic"))
        timings["sklearn"].append(time.perf_counter() - t)
        assert np.allclose(ours, theirs), (ours, theirs)
        t = time.perf_counter()
        rating.plan_statistics(columns, {}, threshold=0.7, paused=set())
        timings["plan_statistics"].append(time.perf_counter() - t)
    return {k: statistics.median(v) for k, v in timings.items()}


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--raters", type=int, default=50)
    parser.add_argument("--leases", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--pool", type=int, default=25)
    parser.add_argument("--server-url", default=SERVER_URL)
    args = parser.parse_args()

    name, url = await create_database(args.server_url)
    try:
        population = await populate(url, 1)
        db = Database(url, pool_size=args.pool)
        settings = Settings(database_url=url)
        organization_id = uuid.UUID(population.organization_id)
        plan_id, raters = await build(
            db,
            organization_id,
            uuid.UUID(population.administration_id),
            args.raters,
            args.raters * args.leases * 2,
        )
        async with db.transaction() as session:
            # As autovacuum would have by then: the planner knows the table's size.
            await session.execute(text("ANALYZE rating_task"))
        results: dict[str, list[dict[str, float]]] = {"floor": [], "service": []}
        for _ in range(args.runs):
            for kind in ("floor", "service"):
                await reset(db, plan_id)
                results[kind].append(
                    await run_leases(
                        db,
                        settings,
                        organization_id,
                        plan_id,
                        raters,
                        args.leases,
                        floor=kind == "floor",
                    )
                )
        await db.dispose()
        print(
            f"queue: {args.raters} raters x {args.leases} leases, pool {args.pool}, "
            f"medians of {args.runs} runs (PostgreSQL, shared machine)"
        )
        medians = {
            kind: {k: statistics.median(r[k] for r in rows) for k in rows[0]}
            for kind, rows in results.items()
        }
        for kind, m in medians.items():
            print(
                f"  {kind:8s} {m['leases_per_s']:8.0f} leases/s   p50 {m['p50_ms']:7.1f} ms"
                f"   p99 {m['p99_ms']:7.1f} ms   bench process CPU {m['cpu_ms']:5.1f} ms/lease"
            )
        ratio = medians["floor"]["leases_per_s"] / medians["service"]["leases_per_s"]
        print(f"  floor/service throughput: {ratio:.1f}x")
    finally:
        await drop_database(name, args.server_url)

    figures = statistics_bench(args.runs)
    print(f"statistics: 100,000 ratings (50,000 pairs), medians of {args.runs} runs")
    print(f"  numpy kappa + QWK          {1000 * figures['ours']:8.1f} ms")
    print(f"  sklearn kappa + QWK        {1000 * figures['sklearn']:8.1f} ms")
    print(f"  plan_statistics (all)      {1000 * figures['plan_statistics']:8.1f} ms")
    print(f"  sklearn/numpy: {figures['sklearn'] / figures['ours']:.1f}x")


if __name__ == "__main__":
    asyncio.run(main())
