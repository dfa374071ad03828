"""Scorecards: rendering per core beside two floors, and a cohort through real workers.

    uv run python bench/bench_reports.py                         # 200 cards x 3 runs, 1,000 through 2 workers
    uv run python bench/bench_reports.py --cards 50 --attempts 200 --workers 1   # a quick look

**Per core** (this process, one thread): ``reporting.pdf.scorecard_pdf`` on ``--cards``
synthetic scorecards (three sections with their chart, standard error, percentile, a rated
essay's feedback, QR code, embedded receipt, DejaVu Sans embedded), against

- floor A, *bare ReportLab*: the same figures as ``label: value`` lines on one canvas page
  in Helvetica (no font embedding, no table, no chart, no QR, no receipt), invariant mode;
- floor B, *matplotlib alone*: the section-profile chart as PNG, the scorecard's one chart.

Each run prints scorecards per second; medians over ``--runs`` and the ratios follow.

**Through workers**: a PostgreSQL database of its own on ``--server-url`` (created,
migrated, dropped at the end; ``--keep`` leaves it) gets ``--attempts`` submitted attempts
of a 20-item assessment (built with ``COPY`` by ``bench_scoring.build``), scored by
``scoring.service.score_administration`` and released one by one through
``scoring.service.release`` (the audited path). Then ``--workers`` ``waa-ads worker``
processes (one pool process each, Redis broker on ``--redis-url``) run one scorecards job
(``reporting.generate_scorecards``, chunks of ``--chunk``): wall time from the job's commit
to its ``done``, scorecards per second, the workers' peak RSS (VmHWM of each pool process),
the ZIP's size, and the linear extrapolation to 10,000 scorecards with this many workers.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

SERVER_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/0"
SECRET = "bench-secret-key-that-is-long-enough-0123456789"


def synthetic_card(i: int) -> Any:
    from waa_ads.reporting.figures import (
        Estimate,
        Feedback,
        Scorecard,
        SectionFigure,
        receipt_code,
    )

    raw = [(i * 7) % 11, (i * 5) % 9, (i * 3) % 6]
    code = receipt_code(SECRET, f"{i:064x}", str(uuid.UUID(int=i)), 1)
    return Scorecard(
        organization_name="Northfield Examinations Board",
        brand_color="#0b57d0",
        logo=None,
        language="en",
        candidate_name=f"Candidate Number {i}",
        candidate_ref=f"C-{i:06d}",
        assessment_title="Mathematics, paper 2",
        administration_title="Spring sitting",
        attempt_id=str(uuid.UUID(int=i)),
        revision=1,
        released_at="2026-06-01",
        raw=float(sum(raw)),
        max_raw=24.0,
        scaled=100.0 + 15.0 * sum(raw),
        band="Merit" if sum(raw) > 14 else "Pass",
        passed=sum(raw) > 6,
        sections=[
            SectionFigure("algebra", "Algebra", raw[0], 10),
            SectionFigure("geometry", "Geometry", raw[1], 8),
            SectionFigure("statistics", "Statistics", raw[2], 6),
        ],
        feedback=[
            Feedback(
                "E1",
                "Extended response",
                3.0,
                4.0,
                "A clear argument; cite the data.",
                [("Reasoning", "Secure"), ("Communication", "Developing")],
            ),
        ],
        estimate=Estimate(scaled_se=18.4, percentile=float(i % 100), cohort=1000),
        code=code,
        verify_url=f"https://results.example.org/verify/{code}",
    )


def bare_reportlab(card: Any) -> bytes:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen.canvas import Canvas

    from waa_ads.reporting.figures import figures

    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, invariant=1)
    canvas.setFont("Helvetica", 10)
    y = 800.0
    for f in figures(card):
        canvas.drawString(50, y, f"{f.label}: {f.value}")
        y -= 14
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def per_core(cards: int, runs: int) -> dict[str, list[float]]:
    from waa_ads.reporting import charts
    from waa_ads.reporting.pdf import scorecard_pdf

    data = [synthetic_card(i) for i in range(cards)]
    scorecard_pdf(data[0])  # fonts registered, caches warm
    bare_reportlab(data[0])
    out: dict[str, list[float]] = {
        "ours": [],
        "ours, charts reused": [],
        "bare ReportLab": [],
        "matplotlib chart": [],
    }
    sizes = []
    for run in range(runs):
        charts._section_profile.cache_clear()  # every chart drawn
        t = time.perf_counter()
        for card in data:
            sizes.append(len(scorecard_pdf(card)))
        out["ours"].append(cards / (time.perf_counter() - t))
        t = time.perf_counter()  # the same cards again: every chart from the cache
        for card in data:
            scorecard_pdf(card)
        out["ours, charts reused"].append(cards / (time.perf_counter() - t))
        t = time.perf_counter()
        for card in data:
            bare_reportlab(card)
        out["bare ReportLab"].append(cards / (time.perf_counter() - t))
        t = time.perf_counter()
        for card in data:
            charts._section_profile.__wrapped__(  # matplotlib itself, not the cache
                tuple((s.title, s.share) for s in card.sections), card.brand_color
            )
        out["matplotlib chart"].append(cards / (time.perf_counter() - t))
        print(
            f"run {run + 1}: ours {out['ours'][-1]:.1f}/s (charts reused "
            f"{out['ours, charts reused'][-1]:.1f}/s), bare ReportLab "
            f"{out['bare ReportLab'][-1]:.1f}/s, matplotlib chart {out['matplotlib chart'][-1]:.1f}/s",
            flush=True,
        )
    out["size_kb"] = [statistics.median(sizes) / 1024]
    return out


# --- through workers ---------------------------------------------------------------------------


async def release_all(url: str, organization_id: str, administration_id: str) -> float:
    from sqlalchemy import select

    from waa_ads.audit.service import Actor
    from waa_ads.core.db import Database
    from waa_ads.delivery.models import Attempt
    from waa_ads.scoring import service as scoring_service

    db = Database(url)
    started = time.perf_counter()
    try:
        async with db.transaction(write=False) as session:
            ids = list(
                (
                    await session.execute(
                        select(Attempt.id).where(
                            Attempt.administration_id == uuid.UUID(administration_id)
                        )
                    )
                ).scalars()
            )
        for i in range(0, len(ids), 250):
            async with db.transaction() as session:
                for attempt_id in ids[i : i + 250]:
                    attempt = await session.get(Attempt, attempt_id)
                    assert attempt is not None
                    await scoring_service.release(session, attempt, actor=Actor("system", "bench"))
    finally:
        await db.dispose()
    return time.perf_counter() - started


def _vm_hwm_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _children(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return out


async def through_workers(args: argparse.Namespace) -> dict[str, Any]:
    import bench_scoring

    from waa_ads.auth.deps import Principal
    from waa_ads.core.db import Database
    from waa_ads.core.settings import Settings
    from waa_ads.core.tasks import CeleryDispatcher, celery_app_from_settings, use_dispatcher
    from waa_ads.reporting import service
    from waa_ads.reporting.models import ReportJob

    name, url = await bench_scoring.create_database(args.server_url)
    data_dir = Path(tempfile.mkdtemp(prefix="waa-bench-reports-"))
    prefix = f"waa-bench-{secrets.token_hex(4)}:"
    workers: list[subprocess.Popen[bytes]] = []
    try:
        t = time.perf_counter()
        built = await bench_scoring.build(url, args.attempts, 20, seed=7)
        await bench_scoring.run_bulk(url, built.organization_id, built.administration_id, 2000, 1)
        released_s = await release_all(url, built.organization_id, built.administration_id)
        print(
            f"setup: {args.attempts} attempts built, scored and released in "
            f"{time.perf_counter() - t:.1f} s (release {released_s:.1f} s)",
            flush=True,
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("WAA_")}
        env.update(
            {
                "WAA_ENV": "test",
                "WAA_SECRET_KEY": SECRET,
                "WAA_DATA_DIR": str(data_dir),
                "WAA_DATABASE_URL": url,
                "WAA_BROKER_URL": args.redis_url,
                "WAA_REDIS_URL": args.redis_url,
                "WAA_TASK_KEY_PREFIX": prefix,
                "WAA_LOG_LEVEL": "INFO",  # the worker says " ready." at INFO
            }
        )
        logs = []
        for n in range(args.workers):
            log = data_dir / f"worker{n}.log"
            logs.append(log)
            with log.open("wb") as out:
                workers.append(
                    subprocess.Popen(
                        [
                            sys.executable,
                            "-m",
                            "waa_ads",
                            "worker",
                            "--concurrency=1",
                            f"--hostname=bench{n}@%h",
                            "--without-mingle",
                            "--without-gossip",
                            "--without-heartbeat",
                        ],
                        env=env,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
        deadline = time.monotonic() + 180
        while not all(" ready." in p.read_text(errors="replace") for p in logs):
            if time.monotonic() > deadline or any(w.poll() is not None for w in workers):
                raise RuntimeError("workers did not start:\n" + logs[0].read_text()[-3000:])
            await asyncio.sleep(0.2)
        settings = Settings(
            env="test", secret_key=SECRET, database_url=url, broker_url=args.redis_url,
            redis_url=args.redis_url, task_key_prefix=prefix, data_dir=data_dir,
        )  # fmt: skip
        db = Database(url)
        dispatcher = CeleryDispatcher(celery_app_from_settings(settings), blocking=True)
        with use_dispatcher(dispatcher):
            async with db.transaction() as session:
                job = await service.start_scorecards_job(
                    session,
                    Principal.system(uuid.UUID(built.organization_id), via="bench"),
                    uuid.UUID(built.administration_id),
                    base_url="https://results.example.org",
                    chunk_size=args.chunk,
                )
                job_id = job.id
            started = time.perf_counter()
            last = -1
            while True:
                async with db.transaction(write=False) as session:
                    row = await session.get(ReportJob, job_id)
                    assert row is not None
                    state, done, total, size = row.state, row.done, row.total, row.archive_size
                if done != last and done % max(total // 10, 1) == 0:
                    print(
                        f"  {done}/{total} after {time.perf_counter() - started:.1f} s", flush=True
                    )
                    last = done
                if state in ("done", "failed"):
                    break
                await asyncio.sleep(0.2)
            wall = time.perf_counter() - started
        await db.dispose()
        peaks = [max([_vm_hwm_mb(c) for c in _children(w.pid)] or [0.0]) for w in workers]
        return {
            "scorecards": done,
            "wall_s": wall,
            "per_s": done / wall,
            "worker_peak_rss_mb": peaks,
            "zip_mb": (size or 0) / 1e6,
            "state": state,
        }
    finally:
        for w in workers:
            try:
                os.killpg(w.pid, signal.SIGTERM)
                w.wait(timeout=20)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(w.pid, signal.SIGKILL)
        import redis

        client = redis.Redis.from_url(args.redis_url)
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()
        if not args.keep:
            await bench_scoring.drop_database(name, args.server_url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cards", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--attempts", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--chunk", type=int, default=25)
    parser.add_argument("--server-url", default=SERVER_URL)
    parser.add_argument("--redis-url", default=REDIS_URL)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--skip-workers", action="store_true")
    args = parser.parse_args()

    print(f"per core: {args.cards} scorecards x {args.runs} runs", flush=True)
    figures = per_core(args.cards, args.runs)
    ours = statistics.median(figures["ours"])
    bare = statistics.median(figures["bare ReportLab"])
    chart = statistics.median(figures["matplotlib chart"])
    print()
    print("| per core (median) | per second | ms each | ours / it |")
    print("|---|---|---|---|")
    reused = statistics.median(figures["ours, charts reused"])
    print(f"| ours: scorecard_pdf | {ours:.1f} | {1000 / ours:.1f} | 1.00 |")
    print(
        f"| ours, section chart reused (a repeated profile) | {reused:.1f} | "
        f"{1000 / reused:.1f} | {ours / reused:.3f} |"
    )
    print(
        f"| floor A: bare ReportLab page, same figures | {bare:.1f} | {1000 / bare:.2f} | {ours / bare:.3f} |"
    )
    print(
        f"| floor B: matplotlib section chart alone | {chart:.1f} | {1000 / chart:.1f} | {ours / chart:.3f} |"
    )
    print(f"scorecard size: median {figures['size_kb'][0]:.0f} KiB")
    if args.skip_workers:
        return
    print(
        f"\nthrough workers: {args.attempts} scorecards, {args.workers} worker(s), chunks of {args.chunk}",
        flush=True,
    )
    result = asyncio.run(through_workers(args))
    print(json.dumps(result))
    per_s = result["per_s"]
    print(
        f"\n{result['scorecards']} scorecards in {result['wall_s']:.1f} s through {args.workers} "
        f"worker(s): {per_s:.1f}/s ({per_s / args.workers:.1f}/s per worker); peak RSS per "
        f"worker {', '.join(f'{p:.0f}' for p in result['worker_peak_rss_mb'])} MiB; ZIP "
        f"{result['zip_mb']:.1f} MB"
    )
    print(
        f"10,000 scorecards at this rate: ~{10_000 / per_s / 60:.1f} min with {args.workers} "
        f"worker(s) (linear: each scorecard costs the same; the cohort figures are computed "
        f"once per job)"
    )


if __name__ == "__main__":
    main()
