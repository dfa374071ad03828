"""Simulated candidates sitting a test, against the real server and PostgreSQL (loopback):

1. N candidates are rostered (``bench_setup.populate``) and start their attempts with their
   access codes, spread evenly over ``--start-spread`` seconds (the start storm of
   ``bench_autosave.py``: open loop, at most ``--start-concurrency`` in flight);
2. for ``--duration`` seconds each candidate then saves an answer every ``--save-every``
   seconds (``PUT .../responses/<ref>``, a rising ``seq``, round-robin over the 20 items,
   each candidate at its own phase), and every few minutes (uniformly between
   ``--visit-min`` and ``--visit-max`` seconds) moves to another question
   (``PUT .../position``) and views the attempt (``GET /attempts/{id}``), as the player does
   on a reload.

The load is an open loop: each request is due at its time whatever the server does, and
waits for one of ``--connections`` keep-alive connections (the load generator's sockets,
shared by the candidates). A candidate whose previous save has not been answered yet when
the next one is due skips it ("not sent"), as the player keeps one save in flight. Latency
is measured from the moment a request was due (so waiting for a free connection counts),
and from the moment it was sent.

Reported: per request kind, the requests due (offered) and answered per second, p50/p95/p99
and errors by status; the cores busy in the server's process tree, PostgreSQL (the bench
database's backends and its writers), the load generator and the rest of the machine;
server CPU milliseconds per request; the server's resident memory at the start and its
peak. Nothing here is a floor: compare runs by the saves/s achieved against those offered,
and by CPU per request.

    uv run python bench/bench_candidates.py                            # 50,000 for 10 minutes
    uv run python bench/bench_candidates.py --candidates 5000 --duration 150

A database with a random name is created on ``--server-url`` and dropped after. Figures are
in docs/performance.md ("Simulated candidates").
"""

from __future__ import annotations

import argparse
import asyncio
import heapq
import json
import random
import resource
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_autosave as ba
import bench_setup

KINDS = ("save", "position", "view")
CHOICES = "ABCD"


@dataclass
class Tally:
    """What happened to one kind of request."""

    due: int = 0
    not_sent: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    from_due: list[float] = field(default_factory=list)  # seconds, answered requests
    from_send: list[float] = field(default_factory=list)

    @property
    def answered(self) -> int:
        return len(self.from_due)

    @property
    def errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status != "200")


@dataclass
class Window:
    """The simulation's window: CPU, the load generator's cores, the server's memory."""

    cpu: ba.CpuWindow
    client_cpu: float
    rss_start: int
    rss_peak: int
    duration: float


@dataclass
class Candidate:
    attempt_id: str
    credential: str
    seq: int = 0
    saving: bool = False


def rss_bytes(pids: Sequence[int]) -> int:
    """Resident memory of these processes (VmRSS), bytes."""
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            continue
    return total


async def simulate(
    base_url: str,
    candidates: list[Candidate],
    refs: list[str],
    *,
    duration_s: float,
    save_every_s: float,
    visit_min_s: float,
    visit_max_s: float,
    connections: int,
    server_pid: int,
    database: str,
    seed: int,
) -> tuple[Window, dict[str, Tally]]:
    """Run the candidates for ``duration_s``; return the CPU window and memory, and a tally
    per request kind."""
    rng = random.Random(seed)
    host, port = ba._host_port(base_url)
    idle: asyncio.Queue[ba.Connection] = asyncio.Queue()
    for _ in range(connections):
        idle.put_nowait(ba.Connection(host, port, timeout_s=30.0))
    tallies = {kind: Tally() for kind in KINDS}
    t0 = time.perf_counter() + 0.5
    end = t0 + duration_s
    # (due time, sequence number, kind, candidate index): one save and one visit pending
    # per candidate at any time.
    due: list[tuple[float, int, str, int]] = []
    counter = 0
    for i in range(len(candidates)):
        due.append((t0 + rng.uniform(0, save_every_s), counter, "save", i))
        due.append((t0 + rng.uniform(0, visit_max_s), counter + 1, "visit", i))
        counter += 2
    heapq.heapify(due)
    in_flight: set[asyncio.Task[None]] = set()

    async def send(
        kind: str, method: str, path: str, payload: object, c: Candidate, at: float
    ) -> None:
        conn = await idle.get()
        tally = tallies[kind]
        try:
            sent = time.perf_counter()
            status, _ = await conn.request(method, path, payload, {"X-Attempt-Token": c.credential})
            done = time.perf_counter()
        except ba.TransportError as exc:
            name = str(exc).split(":", 1)[0]
            tally.statuses[name] = tally.statuses.get(name, 0) + 1
            return
        finally:
            idle.put_nowait(conn)
        tally.statuses[str(status)] = tally.statuses.get(str(status), 0) + 1
        if status == 200:
            tally.from_due.append(done - at)
            tally.from_send.append(done - sent)

    async def save(c: Candidate, at: float) -> None:
        c.seq += 1
        ref = refs[c.seq % len(refs)]
        body = {"seq": c.seq, "value": CHOICES[c.seq % len(CHOICES)], "time_spent_ms": 1000}
        try:
            await send(
                "save", "PUT", f"/api/v1/attempts/{c.attempt_id}/responses/{ref}", body, c, at
            )
        finally:
            c.saving = False

    async def visit(c: Candidate, at: float) -> None:
        tallies["position"].due += 1
        position = rng.randint(1, len(refs))
        await send(
            "position",
            "PUT",
            f"/api/v1/attempts/{c.attempt_id}/position",
            {"position": position},
            c,
            at,
        )
        tallies["view"].due += 1
        await send("view", "GET", f"/api/v1/attempts/{c.attempt_id}", None, c, at)

    def spawn(coro: object) -> None:
        task = asyncio.ensure_future(coro)  # type: ignore[call-overload]
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)

    cpu = ba.CpuWindow(server_pid, database)
    server_pids = list(ba.tree_cpu(server_pid))
    rss_start = rss_bytes(server_pids)
    rss_peak = rss_start
    last_rss = 0.0
    await asyncio.sleep(max(0.0, t0 - time.perf_counter()))
    usage0 = resource.getrusage(resource.RUSAGE_SELF)
    cpu.start()
    while True:
        now = time.perf_counter()
        if now - last_rss >= 2.0:
            rss_peak = max(rss_peak, rss_bytes(list(ba.tree_cpu(server_pid))))
            last_rss = now
        if not due or due[0][0] >= end:
            break
        at, _, kind, i = due[0]
        if at > now:
            await asyncio.sleep(min(at - now, 0.05))
            continue
        heapq.heappop(due)
        c = candidates[i]
        counter += 1
        if kind == "save":
            tallies["save"].due += 1
            if c.saving:
                tallies["save"].not_sent += 1
            else:
                c.saving = True
                spawn(save(c, at))
            heapq.heappush(due, (at + save_every_s, counter, "save", i))
        else:
            spawn(visit(c, at))
            heapq.heappush(due, (at + rng.uniform(visit_min_s, visit_max_s), counter, "visit", i))
    # Requests already sent are answered (and counted) before the window closes.
    if in_flight:
        await asyncio.wait(in_flight, timeout=35.0)
    cpu.stop()
    usage1 = resource.getrusage(resource.RUSAGE_SELF)
    client_cpu = (usage1.ru_utime + usage1.ru_stime - usage0.ru_utime - usage0.ru_stime) / cpu.wall
    while not idle.empty():
        idle.get_nowait().close()
    return Window(cpu, client_cpu, rss_start, rss_peak, duration_s), tallies


def print_simulation(
    n: int, meta: Window, tallies: dict[str, Tally], args: argparse.Namespace
) -> None:
    cpu = meta.cpu
    duration = meta.duration
    print(
        f"\n## {n} candidates for {duration:.0f} s: a save every {args.save_every:.0f} s, a "
        f"visit (position + view) every {args.visit_min:.0f}-{args.visit_max:.0f} s; "
        f"{args.connections} client connections; window {cpu.wall:.1f} s"
    )
    print(
        f"{'kind':<9}{'due/s':>8}{'answered/s':>11}{'not sent':>9}{'p50 ms':>9}{'p95 ms':>9}"
        f"{'p99 ms':>9}{'max ms':>9}{'p99 sent':>9}{'errors':>8}  statuses"
    )
    answered = 0
    for kind in KINDS:
        t = tallies[kind]
        lat = sorted(t.from_due)
        sent = sorted(t.from_send)
        answered += t.answered
        print(
            f"{kind:<9}{t.due / duration:>8.1f}{t.answered / duration:>11.1f}{t.not_sent:>9}"
            f"{ba.ms(ba.percentile(lat, 50)):>9}{ba.ms(ba.percentile(lat, 95)):>9}"
            f"{ba.ms(ba.percentile(lat, 99)):>9}{ba.ms(lat[-1] if lat else 0):>9}"
            f"{ba.ms(ba.percentile(sent, 99)):>9}{t.errors:>8}  "
            f"{json.dumps(t.statuses, sort_keys=True)}"
        )
    saves = tallies["save"]
    print(
        f"saves/s: offered {saves.due / duration:.1f} ({n} / {args.save_every:.0f} s), "
        f"answered 200 {saves.answered / duration:.1f} "
        f"({saves.answered / max(saves.due, 1) * 100:.1f}% of those due)"
    )
    client_cpu = meta.client_cpu
    print(
        f"CPU (cores): load generator {client_cpu:.2f}, server {cpu.server:.2f}, postgres "
        f"{cpu.postgres:.2f}, the rest {cpu.rest(client_cpu):.2f}; machine "
        f"{cpu.machine * 100:.0f}% busy of {ba.CORES} cores; CPU ms per answered request: "
        f"server {cpu.server * cpu.wall / max(answered, 1) * 1000:.2f}, postgres "
        f"{cpu.postgres * cpu.wall / max(answered, 1) * 1000:.2f}"
    )
    print(
        f"server memory (RSS, process tree): {meta.rss_start / 2**20:.0f} MiB after the "
        f"starts, peak {meta.rss_peak / 2**20:.0f} MiB"
    )


async def main(args: argparse.Namespace) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="waa-bench-candidates-"))
    print(f"logs in {tmp}")
    print(f"creating the database and {args.candidates} rostered candidates ...", flush=True)
    name, db_url = await bench_setup.create_database(args.server_url)
    api: ba.Server | None = None
    try:
        population = await bench_setup.populate(db_url, args.candidates)
        print(f"  done in {population.seconds:.1f} s", flush=True)
        api = ba.api_server(db_url, ba.free_port(), args.workers, tmp, args.pool)
        ready_s = await api.start()
        print(f"{api.name} answered /healthz {ready_s:.1f} s after its start", flush=True)
        storm = await ba.start_storm(
            api.url,
            population.codes,
            spread_s=args.start_spread,
            concurrency=args.start_concurrency,
            server_pid=api.pid,
            database=name,
        )
        ba.print_storm(
            f"start storm (workers={args.workers})",
            storm,
            args.start_spread,
            args.start_concurrency,
        )
        candidates = [Candidate(a.attempt_id, a.credential) for a in storm.attempts]
        if not candidates:
            raise RuntimeError("no attempt started")
        # The bench's form is fixed (no shuffling, no selection): every attempt has these refs.
        refs = population.item_identifiers
        meta, tallies = await simulate(
            api.url,
            candidates,
            refs,
            duration_s=args.duration,
            save_every_s=args.save_every,
            visit_min_s=args.visit_min,
            visit_max_s=args.visit_max,
            connections=args.connections,
            server_pid=api.pid,
            database=name,
            seed=args.seed,
        )
        print_simulation(len(candidates), meta, tallies, args)
    finally:
        if api is not None:
            api.stop()
        await bench_setup.drop_database(name, args.server_url)
    print(f"\nmachine: {ba.CORES} cores; database {name} dropped")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--candidates", type=int, default=50_000)
    parser.add_argument("--duration", type=float, default=600.0, help="seconds of candidates")
    parser.add_argument("--save-every", type=float, default=30.0, help="seconds between saves")
    parser.add_argument("--visit-min", type=float, default=120.0, help="seconds between visits")
    parser.add_argument("--visit-max", type=float, default=300.0)
    parser.add_argument(
        "--start-spread", type=float, default=60.0, help="seconds the starts are spread over"
    )
    parser.add_argument("--start-concurrency", type=int, default=500)
    parser.add_argument("--connections", type=int, default=500, help="client connections")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn workers")
    parser.add_argument("--pool", type=int, default=10, help="WAA_DATABASE_POOL_SIZE")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--server-url", default=bench_setup.SERVER_URL)
    asyncio.run(main(parser.parse_args()))
