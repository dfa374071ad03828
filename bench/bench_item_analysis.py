"""Reading the options chosen for an administration's item analysis: one streamed query
over the administration against the same read 500 attempts to a query.

    uv run python bench/bench_item_analysis.py                      # 5,000 attempts x 20 items
    uv run python bench/bench_item_analysis.py --attempts 1000 --runs 3

A PostgreSQL database of its own on ``--server-url`` (created, migrated, dropped at the
end; ``--keep`` leaves it) gets ``--attempts`` submitted attempts of a 20-item assessment
(half single-choice, half multiple-choice; ``bench_scoring.build``), scored in bulk. Then,
in this process and alternating, ``--runs`` times each:

- *per administration*: ``psychometrics.service._choices_of`` with the administration (one
  statement, streamed in batches), as a rebuild of the stored analysis reads;
- *500 to a query*: the same function given the attempt ids only, as the task reads the
  attempts scored since the stored analysis (before, rebuilds read this way too);
- *rebuild*: the whole ``_current_analysis`` from scratch (item scores, choice items, the
  options chosen, the accumulator).

Printed: milliseconds per run (median and each run), statements sent, and the peak of
Python memory allocated during each read (``tracemalloc``, in a pass of its own). Both reads must give the same
options; the script checks it.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import tracemalloc
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_scoring


async def _measure(args: argparse.Namespace) -> None:
    from sqlalchemy import event

    from waa_ads.core.db import Database
    from waa_ads.psychometrics import service

    name, url = await bench_scoring.create_database(args.server_url)
    try:
        t = time.perf_counter()
        built = await bench_scoring.build(url, args.attempts, 20, seed=7)
        await bench_scoring.run_bulk(url, built.organization_id, built.administration_id, 2000, 1)
        print(
            f"setup: {args.attempts} attempts x 20 items built and scored in "
            f"{time.perf_counter() - t:.1f} s",
            flush=True,
        )
        org = uuid.UUID(built.organization_id)
        administration = uuid.UUID(built.administration_id)
        db = Database(url)
        statements = 0

        def count(*_: Any) -> None:
            nonlocal statements
            statements += 1

        event.listen(db.engine.sync_engine, "before_cursor_execute", count)
        async with db.transaction(write=False) as session:
            newest = await service._newest_revisions(session, org, administration)
            rows = await service._scores_of(session, org, {a: r for a, (r, _) in newest.items()})
            choice = await service._choice_items(session, org, rows)
        attempts = list({a for a, *_ in rows})
        print(f"{len(attempts)} scored attempts, {len(choice)} choice items", flush=True)

        async def streamed() -> dict[uuid.UUID, dict[str, list[str]]]:
            async with db.transaction(write=False) as session:
                return await service._choices_of(
                    session, attempts, choice, administration=(org, administration)
                )

        async def chunked() -> dict[uuid.UUID, dict[str, list[str]]]:
            async with db.transaction(write=False) as session:
                return await service._choices_of(session, attempts, choice)

        async def rebuild() -> object:
            async with db.transaction(write=False) as session:
                return await service._current_analysis(session, org, administration, None)

        figures: dict[str, list[tuple[float, int]]] = {}
        results: dict[str, object] = {}
        for _ in range(args.runs):
            for label, run in (
                ("per administration", streamed),
                ("500 to a query", chunked),
                ("rebuild", rebuild),
            ):
                statements = 0
                started = time.perf_counter()
                results[label] = await run()
                elapsed = (time.perf_counter() - started) * 1000
                figures.setdefault(label, []).append((elapsed, statements))
        peaks: dict[str, int] = {}
        for label, run in (("per administration", streamed), ("500 to a query", chunked)):
            tracemalloc.start()  # a pass of its own: tracing slows Python several times
            await run()
            peaks[label] = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        assert results["per administration"] == results["500 to a query"], "reads differ"
        print(f"\n{'read':<20} {'median ms':>10} {'statements':>11} {'peak MiB':>9}  runs (ms)")
        for label, runs in figures.items():
            ms = [r[0] for r in runs]
            peak = f"{peaks[label] / 2**20:.1f}" if label in peaks else "-"
            print(
                f"{label:<20} {statistics.median(ms):>10.0f} {runs[0][1]:>11} {peak:>9}  "
                + " / ".join(f"{m:.0f}" for m in ms)
            )
        await db.dispose()
    finally:
        if not args.keep:
            await bench_scoring.drop_database(name, args.server_url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--attempts", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--server-url", default=bench_scoring.SERVER_URL)
    parser.add_argument("--keep", action="store_true")
    asyncio.run(_measure(parser.parse_args()))


if __name__ == "__main__":
    main()
