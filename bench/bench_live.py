"""What announcing saves to proctors costs the autosave path (``delivery.live.saved``).

Every accepted save calls ``live.saved(db, attempt_id, ref)``. Most calls find the
attempt announced less than ``SAVE_NEWS_INTERVAL_S`` ago and return after one dictionary
lookup; one call per attempt and interval publishes (a task on the loop: JSON, and a
``PUBLISH`` with Redis). This prints, side by side in one process, the cost per call of:

- floor: a call of a function doing one dictionary lookup (what any hook costs at least);
- saved, coalesced: the common case;
- saved, publishing: every call for a new attempt, in memory and over Redis (the call plus
  the publication it starts, drained), i.e. the worst case of one save in every interval.

Medians of ``--runs`` runs of ``--calls`` calls each; the machine is shared, so compare
with the floor of the same run, not across runs.

    .venv/bin/python bench/bench_live.py [--redis redis://127.0.0.1:6379/0]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from typing import Any

import redis.asyncio as aioredis

from waa_ads.core import live
from waa_ads.delivery import live as delivery_live


async def per_call_ns(calls: int, fn: Any, *, drain: bool = False) -> float:
    started = time.perf_counter_ns()
    for i in range(calls):
        fn(i)
    if drain:
        await live.drain()
    return (time.perf_counter_ns() - started) / calls


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()

    table: dict[str, float] = {}
    probe: dict[uuid.UUID, float] = {}
    known = uuid.uuid4()
    administration = uuid.uuid4()

    def floor(_: int) -> None:
        probe.get(known)

    class Fake:
        id = known
        administration_id = administration

    def coalesced(_: int) -> None:
        delivery_live.saved(None, known, "Q1")  # type: ignore[arg-type]

    fresh = [uuid.uuid4() for _ in range(args.calls)]
    for attempt_id in fresh:
        delivery_live._administrations[attempt_id] = administration

    def publishing(i: int) -> None:
        delivery_live.saved(None, fresh[i], "Q1")  # type: ignore[arg-type]

    redis = aioredis.Redis.from_url(args.redis)
    results: dict[str, list[float]] = {k: [] for k in ("floor", "coalesced", "memory", "redis")}
    for _ in range(args.runs):
        live.install(live.LocalBus())
        delivery_live.remember(Fake())  # type: ignore[arg-type]
        delivery_live._announced.clear()
        delivery_live.saved(None, known, "Q1")  # type: ignore[arg-type]  # announced once
        results["floor"].append(await per_call_ns(args.calls, floor))
        results["coalesced"].append(await per_call_ns(args.calls, coalesced))
        delivery_live._announced.clear()
        results["memory"].append(await per_call_ns(args.calls, publishing, drain=True))
        live.install(live.RedisBus(redis))
        delivery_live._announced.clear()
        results["redis"].append(await per_call_ns(args.calls, publishing, drain=True))
    await redis.aclose()
    for name, values in results.items():
        table[name] = statistics.median(values)
    base = table["floor"]
    print(f"{'case':<28}{'ns/call (median)':>18}{'x floor':>10}")
    labels = {
        "floor": "floor (one dict lookup)",
        "coalesced": "saved, coalesced",
        "memory": "saved, publishing (memory)",
        "redis": "saved, publishing (Redis)",
    }
    for name, value in table.items():
        print(f"{labels[name]:<28}{value:>18.0f}{value / base:>10.1f}")


if __name__ == "__main__":
    asyncio.run(main())
