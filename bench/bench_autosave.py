"""Attempt engine under load, against the real server and the real PostgreSQL (loopback only):

1. start storm: N candidates start their attempts (``POST /api/v1/attempts``), spread
   evenly over ``--storm-spread`` seconds (open loop: each start is sent at its time,
   whatever the others do, with at most ``--storm-concurrency`` in flight), or as fast as
   that bound allows with ``--storm-spread 0``; p50/p95/p99 and errors.
2. autosave: ``wrk`` with ``bench/autosave.lua`` at each of ``--levels`` connections, every
   connection with an attempt of its own from the storm, first against ``waa-ads serve``
   then against the floor (``bench/floor_server.py``: the same route shape answered by one
   upsert on the same uvicorn and PostgreSQL); req/s, p50/p95/p99, errors, the CPU each
   process used, and the product as a ratio of the floor.
3. durability: a Python client keeps ``--durability-attempts`` attempts saving while the
   server is killed with SIGKILL and restarted; every save answered 2xx with
   ``accepted: true`` must be in the ``response`` table with at least that seq.

    uv run python bench/bench_autosave.py                      # all of it, one worker
    uv run python bench/bench_autosave.py --workers 2 --skip-durability
    uv run python bench/bench_autosave.py --targets floor      # the floor alone, fake attempts

A database with a random name is created on ``--server-url`` for the run and dropped after.
The CPU columns are CPU-seconds per wall-second (1.00 = one core busy): the load generator,
the server's process tree, PostgreSQL (the backends of the bench database, plus the WAL
writer, checkpointer and background writer), the rest (anything else running on the
machine) and the whole machine's busy share of its cores; then CPU milliseconds per
request. wrk must be installed (``apt-get install -y wrk``). Figures from runs of this
script, before and after the one-statement save, are in docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_setup

BENCH = Path(__file__).resolve().parent
VENV_BIN = Path(sys.executable).parent
CLK_TCK = os.sysconf("SC_CLK_TCK")
CORES = os.cpu_count() or 1
SEQ_STRIDE = 10_000_000  # each wrk run starts its seqs this far above the previous one


# --- processes and CPU ---------------------------------------------------------------------


def _stat(pid: int) -> tuple[str, int, float] | None:
    """(comm, ppid, utime + stime in seconds) of a live process, None if it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    comm = raw[raw.index("(") + 1 : raw.rindex(")")]
    fields = raw[raw.rindex(")") + 2 :].split()
    # fields[0] is field 3 of proc(5): state; ppid is 4, utime 14, stime 15
    return comm, int(fields[1]), (int(fields[11]) + int(fields[12])) / CLK_TCK


def _all_stats() -> dict[int, tuple[str, int, float]]:
    stats = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := _stat(int(entry))) is not None:
            stats[int(entry)] = stat
    return stats


def tree_cpu(root: int) -> dict[int, float]:
    """CPU seconds of a live process and each of its live descendants, by pid."""
    stats = _all_stats()
    children: dict[int, list[int]] = {}
    for pid, (_, ppid, _) in stats.items():
        children.setdefault(ppid, []).append(pid)
    found, todo = {}, [root]
    while todo:
        pid = todo.pop()
        if pid in stats:
            found[pid] = stats[pid][2]
        todo.extend(children.get(pid, []))
    return found


POSTGRES_HELPERS = (": walwriter", ": checkpointer", ": background writer")


def postgres_cpu(database: str | None) -> dict[int, float]:
    """CPU seconds, by pid, of the PostgreSQL backends connected to ``database`` (every
    backend when None) and of the WAL writer, checkpointer and background writer, which
    do the writing our commits cause (and other users' too)."""
    found = {}
    for pid, (comm, _, cpu) in _all_stats().items():
        if comm != "postgres":
            continue
        try:
            title = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if (database is None or f" {database} " in title) or any(
            h in title for h in POSTGRES_HELPERS
        ):
            found[pid] = cpu
    return found


def _grown(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds used between two snapshots by the processes alive at the second (those
    that exit in between are lost, so this is a lower bound)."""
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, from /proc/stat."""
    ticks = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = ticks[3] + ticks[4]
    return (sum(ticks) - idle) / CLK_TCK, sum(ticks) / CLK_TCK


@dataclass
class CpuWindow:
    """CPU use of the server tree, PostgreSQL and the machine between start() and stop()."""

    server_pid: int
    database: str | None = None
    wall: float = 0.0
    server: float = 0.0
    postgres: float = 0.0
    machine: float = 0.0
    _t0: float = 0.0
    _server0: dict[int, float] = field(default_factory=dict)
    _postgres0: dict[int, float] = field(default_factory=dict)
    _machine0: tuple[float, float] = (0.0, 0.0)

    def start(self) -> None:
        self._machine0 = machine_busy()
        self._server0 = tree_cpu(self.server_pid)
        self._postgres0 = postgres_cpu(self.database)
        self._t0 = time.perf_counter()

    def stop(self) -> None:
        self.wall = time.perf_counter() - self._t0
        self.server = _grown(self._server0, tree_cpu(self.server_pid)) / self.wall
        self.postgres = _grown(self._postgres0, postgres_cpu(self.database)) / self.wall
        busy, total = machine_busy()
        self.machine = (busy - self._machine0[0]) / max(total - self._machine0[1], 1e-9)

    def rest(self, load_generator: float) -> float:
        """Cores busy with anything else on the machine (other work, exited backends)."""
        return max(0.0, self.machine * CORES - load_generator - self.server - self.postgres)


class Server:
    """A server process this script starts, stops and may kill; its output goes to a log."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], port: int, log: Path):
        self.name, self.argv, self.port, self.log = name, argv, port, log
        self.env = {**os.environ, **env}
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    async def start(self, within_s: float = 60.0) -> float:
        """Start and wait until /healthz answers; return the seconds that took."""
        started = time.perf_counter()
        with self.log.open("ab") as out:
            # spawning returns at once; waiting for readiness below is what takes time
            self.proc = subprocess.Popen(
                self.argv, env=self.env, stdout=out, stderr=subprocess.STDOUT, cwd=BENCH.parent
            )
        async with httpx.AsyncClient(timeout=2.0) as client:
            while time.perf_counter() - started < within_s:
                if self.proc.poll() is not None:
                    raise RuntimeError(
                        f"{self.name} exited with {self.proc.returncode}; see {self.log}"
                    )
                try:
                    if (await client.get(f"{self.url}/healthz")).status_code == 200:
                        return time.perf_counter() - started
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
        raise RuntimeError(
            f"{self.name} did not answer /healthz within {within_s} s; see {self.log}"
        )

    def kill9(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def api_server(db_url: str, port: int, workers: int, tmp: Path, pool: int) -> Server:
    return Server(
        f"waa-ads serve (workers={workers})",
        [
            str(VENV_BIN / "waa-ads"),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--no-migrate",
        ],
        {
            "WAA_DATABASE_URL": db_url,
            "WAA_SECRET_KEY": bench_setup.BENCH_SECRET,
            "WAA_LOG_LEVEL": "WARNING",
            "WAA_DATA_DIR": str(tmp / "data"),
            "WAA_DATABASE_POOL_SIZE": str(pool),
        },
        port,
        tmp / f"api-{port}.log",
    )


def floor_server(dsn: str, port: int, workers: int, tmp: Path, pool: int) -> Server:
    return Server(
        f"floor (workers={workers})",
        [
            str(VENV_BIN / "uvicorn"),
            "floor_server:app",
            "--app-dir",
            str(BENCH),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        # the product's pool holds pool_size connections plus as many again of overflow
        {"BENCH_FLOOR_DSN": dsn, "BENCH_FLOOR_POOL": str(2 * pool)},
        port,
        tmp / f"floor-{port}.log",
    )


def _host_port(url: str) -> tuple[str, int]:
    host, port = url.removeprefix("http://").split(":")
    return host, int(port)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- figures --------------------------------------------------------------------------------


def percentile(sorted_values: Sequence[float], p: float) -> float:
    if not sorted_values:
        return float("nan")
    k = max(0, min(len(sorted_values) - 1, round(p / 100 * len(sorted_values) + 0.5) - 1))
    return sorted_values[k]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


# --- a small HTTP/1.1 client ---------------------------------------------------------------


class TransportError(Exception):
    """The connection failed, closed or timed out before a whole response came back."""


class Connection:
    """One keep-alive HTTP/1.1 connection, reopened after a failure.

    The load clients use this instead of httpx: httpx's connection pool walks every pooled
    connection on each request, so with a few hundred connections the client, not the
    server, becomes the bottleneck (about 80 req/s at 100 connections here, against
    thousands with one plain connection per simulated candidate). It handles what these
    servers send: a status line, headers and a Content-Length body."""

    #: uvicorn closes a keep-alive connection idle for 5 s (``--timeout-keep-alive``); one
    #: idle longer than this is reopened rather than written to while the server closes it
    #: (what browsers do too, instead of failing the request).
    MAX_IDLE_S = 4.0

    def __init__(self, host: str, port: int, timeout_s: float = 30.0) -> None:
        self.host, self.port, self.timeout_s = host, port, timeout_s
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._used_at = 0.0

    async def request(
        self, method: str, path: str, payload: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        try:
            return await asyncio.wait_for(
                self._exchange(method, path, payload, headers or {}), self.timeout_s
            )
        except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError) as exc:
            self.close()
            raise TransportError(f"{type(exc).__name__}: {exc}") from exc

    async def _exchange(
        self, method: str, path: str, payload: Any, headers: dict[str, str]
    ) -> tuple[int, bytes]:
        if self._writer is not None and time.perf_counter() - self._used_at > self.MAX_IDLE_S:
            self.close()
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        assert self._reader is not None
        body = b"" if payload is None else json.dumps(payload).encode()
        head = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        head += [f"{k}: {v}" for k, v in headers.items()]
        if payload is not None:
            head += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
        self._writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        status_line = await self._reader.readline()
        if not status_line:
            raise ConnectionResetError("closed by the server")
        status = int(status_line.split()[1])
        length, close = 0, False
        while (line := await self._reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection" and value.strip().lower() == b"close":
                close = True
            elif name == b"transfer-encoding":
                raise ValueError("chunked responses are not handled")
        data = await self._reader.readexactly(length)
        self._used_at = time.perf_counter()
        if close:
            self.close()
        return status, data

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None


# --- start storm ----------------------------------------------------------------------------


@dataclass
class Started:
    attempt_id: str
    credential: str
    refs: list[str] = field(default_factory=list)


@dataclass
class StormResult:
    n: int
    window_s: float
    latencies: list[float]
    statuses: dict[str, int]
    client_cpu: float
    server_cpu: CpuWindow | None
    attempts: list[Started]


async def start_storm(
    base_url: str,
    codes: Sequence[str],
    *,
    spread_s: float,
    concurrency: int,
    server_pid: int | None,
    database: str | None = None,
) -> StormResult:
    """Start one attempt per code. With ``spread_s`` > 0, start i is sent at
    i * spread_s / n (open loop); at most ``concurrency`` are in flight in any case."""
    host, port = _host_port(base_url)
    idle: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(concurrency):  # taking a connection is what bounds the concurrency
        idle.put_nowait(Connection(host, port, timeout_s=120.0))
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    attempts: list[Started] = []
    cpu = CpuWindow(server_pid, database) if server_pid else None

    async def one(i: int, code: str, t0: float) -> None:
        if spread_s > 0:
            await asyncio.sleep(max(0.0, t0 + i * spread_s / len(codes) - time.perf_counter()))
        conn = await idle.get()
        try:
            sent = time.perf_counter()
            status, data = await conn.request("POST", "/api/v1/attempts", {"access_code": code})
            latencies.append(time.perf_counter() - sent)
        except TransportError as exc:
            name = str(exc).split(":", 1)[0]
            statuses[name] = statuses.get(name, 0) + 1
            return
        finally:
            idle.put_nowait(conn)
        statuses[str(status)] = statuses.get(str(status), 0) + 1
        if status in (200, 201):
            body = json.loads(data)
            attempts.append(Started(body["attempt"]["id"], body["credential"]))

    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    if cpu:
        cpu.start()
    t0 = time.perf_counter()
    await asyncio.gather(*(one(i, c, t0) for i, c in enumerate(codes)))
    window = time.perf_counter() - t0
    if cpu:
        cpu.stop()
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    while not idle.empty():
        idle.get_nowait().close()
    client_cpu = (
        cpu_after.ru_utime + cpu_after.ru_stime - cpu_before.ru_utime - cpu_before.ru_stime
    ) / window
    return StormResult(len(codes), window, sorted(latencies), statuses, client_cpu, cpu, attempts)


async def fill_refs(base_url: str, db_dsn: str, attempts: list[Started]) -> None:
    """Each attempt's item refs. The API's GET /attempts/{id} is asked for a sample (it
    renders every item, so asking it for thousands would take longer than the storm) and
    the attempt_item table for all; the two must agree."""
    conn = await asyncpg.connect(db_dsn)
    try:
        rows = await conn.fetch(
            "SELECT attempt_id::text AS id, ref FROM attempt_item "
            "WHERE attempt_id = ANY($1::uuid[]) ORDER BY attempt_id, position",
            [a.attempt_id for a in attempts],
        )
    finally:
        await conn.close()
    by_id: dict[str, list[str]] = {}
    for row in rows:
        by_id.setdefault(row["id"], []).append(row["ref"])
    for a in attempts:
        a.refs = by_id[a.attempt_id]
    async with httpx.AsyncClient(base_url=base_url, timeout=30.0) as client:
        for a in attempts[:5]:
            view = await client.get(
                f"/api/v1/attempts/{a.attempt_id}", headers={"X-Attempt-Token": a.credential}
            )
            view.raise_for_status()
            api_refs = [i["ref"] for i in view.json()["items"]]
            if api_refs != a.refs:
                raise RuntimeError(f"refs differ for {a.attempt_id}: {api_refs} vs {a.refs}")


def write_attempts(path: Path, attempts: Sequence[Started]) -> None:
    path.write_text(
        "".join(f"{a.attempt_id}\t{a.credential}\t{','.join(a.refs)}\n" for a in attempts),
        encoding="utf-8",
    )


def fake_attempts(n: int) -> list[Started]:
    refs = [f"Q{k:02d}" for k in range(1, bench_setup.ITEMS + 1)]
    return [Started(str(uuid.uuid4()), secrets.token_urlsafe(32), refs) for _ in range(n)]


# --- autosave with wrk ---------------------------------------------------------------------


@dataclass
class WrkRun:
    target: str
    workers: int
    connections: int
    result: dict[str, Any]
    wrk_cpu: float
    cpu: CpuWindow

    @property
    def rps(self) -> float:
        return float(self.result["requests"]) / (float(self.result["duration_us"]) / 1e6)

    @property
    def errors(self) -> int:
        r = self.result
        return int(
            r["non_200"]
            + r["connect_errors"]
            + r["read_errors"]
            + r["write_errors"]
            + r["timeouts"]
        )


def run_wrk(
    server: Server,
    target: str,
    workers: int,
    attempts_file: Path,
    connections: int,
    threads: int,
    duration_s: int,
    seq_base: int,
    database: str | None = None,
) -> WrkRun:
    argv = [
        "wrk", f"-t{threads}", f"-c{connections}", f"-d{duration_s}s", "--timeout", "10s",
        "-s", str(BENCH / "autosave.lua"), server.url,
        "--", str(attempts_file), str(connections), str(threads), str(seq_base),
    ]  # fmt: skip
    cpu = CpuWindow(server.pid, database)
    cpu.start()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert proc.stdout is not None
    output = proc.stdout.read().decode()
    # wait4 rather than wait: it hands back the load generator's own CPU time
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    cpu.stop()
    line = next((x for x in output.splitlines() if x.startswith("BENCH_RESULT ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({proc.returncode}):\n{output}")
    result = json.loads(line.removeprefix("BENCH_RESULT "))
    return WrkRun(
        target, workers, connections, result, (usage.ru_utime + usage.ru_stime) / cpu.wall, cpu
    )


# --- durability -----------------------------------------------------------------------------


@dataclass
class DurabilityResult:
    attempts: int
    saves_sent: int
    acknowledged_keys: int
    acknowledged_saves: int
    acknowledged_before_kill: int
    acknowledged_while_down: int
    transport_errors: int
    other_statuses: dict[str, int]
    downtime_s: float
    stored_keys: int
    lost: list[tuple[str, str, int, int | None]]
    ahead: int
    history_rows: int | None


async def durability(
    server: Server,
    attempts: Sequence[Started],
    *,
    db_dsn: str,
    table: str,
    before_s: float,
    after_s: float,
) -> DurabilityResult:
    """Keep every attempt saving (one request in flight per attempt, seq counting up) for
    ``before_s``, kill the server with SIGKILL, restart it at once, carry on for ``after_s``
    once it is healthy again, then compare the highest acknowledged seq of each
    (attempt, ref) with the stored one. A save counts as acknowledged only on 200 with
    ``accepted: true``; a save refused while the server is down is retried with a new seq
    after 50 ms, as the player does."""
    acked: dict[tuple[str, str], int] = {}
    counters = {"sent": 0, "acked": 0, "transport": 0}
    others: dict[str, int] = {}
    stop = asyncio.Event()
    downtime = 0.0
    host, port = _host_port(server.url)

    async def saver(a: Started) -> None:
        conn = Connection(host, port)
        seq = 0
        while not stop.is_set():
            seq += 1
            ref = a.refs[seq % len(a.refs)]
            counters["sent"] += 1
            try:
                status, data = await conn.request(
                    "PUT",
                    f"/api/v1/attempts/{a.attempt_id}/responses/{ref}",
                    {"seq": seq, "value": "ABCD"[seq % 4]},
                    {"X-Attempt-Token": a.credential},
                )
            except TransportError:
                counters["transport"] += 1
                await asyncio.sleep(0.05)
                continue
            if status == 200 and json.loads(data).get("accepted") is True:
                counters["acked"] += 1
                key = (a.attempt_id, ref)
                acked[key] = max(acked.get(key, 0), seq)
            else:
                others[str(status)] = others.get(str(status), 0) + 1
        conn.close()

    tasks = [asyncio.create_task(saver(a)) for a in attempts]
    await asyncio.sleep(before_s)
    acked_before = counters["acked"]
    killed = time.perf_counter()
    server.kill9()
    await server.start(within_s=180.0)  # a loaded machine takes a while to import it all
    downtime = time.perf_counter() - killed
    acked_during = counters["acked"] - acked_before
    await asyncio.sleep(after_s)
    stop.set()
    await asyncio.gather(*tasks)

    conn = await asyncpg.connect(db_dsn)
    try:
        stored = {
            (r["attempt_id"], r["item_ref"]): int(r["seq"])
            for r in await conn.fetch(
                f"SELECT attempt_id::text AS attempt_id, item_ref, seq FROM {table} "
                "WHERE attempt_id::text = ANY($1::text[])",
                [a.attempt_id for a in attempts],
            )
        }
        history: int | None = None
        if table == "response":
            history = int(
                await conn.fetchval(
                    "SELECT count(*) FROM response_event WHERE attempt_id = ANY($1::uuid[])",
                    [a.attempt_id for a in attempts],
                )
            )
    finally:
        await conn.close()
    lost = [
        (k[0], k[1], seq, stored.get(k))
        for k, seq in acked.items()
        if stored.get(k) is None or stored[k] < seq
    ]
    ahead = sum(1 for k, seq in acked.items() if stored.get(k, 0) > seq)
    return DurabilityResult(
        attempts=len(attempts),
        saves_sent=counters["sent"],
        acknowledged_keys=len(acked),
        acknowledged_saves=counters["acked"],
        acknowledged_before_kill=acked_before,
        acknowledged_while_down=acked_during,
        transport_errors=counters["transport"],
        other_statuses=others,
        downtime_s=downtime,
        stored_keys=len(stored),
        lost=lost,
        ahead=ahead,
        history_rows=history,
    )


# --- the run ---------------------------------------------------------------------------------


def print_storm(label: str, storm: StormResult, spread_s: float, concurrency: int) -> None:
    lat = storm.latencies
    errors = sum(v for k, v in storm.statuses.items() if k not in ("200", "201"))
    how = (
        f"spread over {spread_s:.0f} s (open loop)"
        if spread_s > 0
        else "as fast as possible (closed loop)"
    )
    print(f"\n## {label}: {storm.n} starts {how}, at most {concurrency} in flight")
    print(f"{'window s':>9}{'starts/s':>10}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
          f"{'max ms':>9}{'errors':>8}  statuses")  # fmt: skip
    print(
        f"{storm.window_s:>9.1f}{storm.n / storm.window_s:>10.1f}{ms(percentile(lat, 50)):>9}"
        f"{ms(percentile(lat, 95)):>9}{ms(percentile(lat, 99)):>9}{ms(lat[-1] if lat else 0):>9}"
        f"{errors:>8}  {json.dumps(storm.statuses, sort_keys=True)}"
    )
    if storm.server_cpu:
        c = storm.server_cpu
        print(
            f"CPU (cores): client {storm.client_cpu:.2f}, server {c.server:.2f}, "
            f"postgres {c.postgres:.2f}, the rest {c.rest(storm.client_cpu):.2f}; "
            f"machine {c.machine * 100:.0f}% busy of {CORES} cores; CPU ms per start: server "
            f"{c.server * c.wall / storm.n * 1000:.1f}, postgres {c.postgres * c.wall / storm.n * 1000:.1f}"
        )


def print_autosave(runs: Sequence[WrkRun], threads: int, duration_s: int) -> None:
    print(
        f"\n## autosave: wrk -t{threads} -d{duration_s}s, PUT .../responses/<ref> round-robin "
        f"over 20 items, one attempt per connection; {CORES} cores shared by wrk, the server "
        "and PostgreSQL"
    )
    print("cores busy: wrk, server, pg (bench database backends and WAL writer), rest "
          "(anything else on the machine); "
          "CPU ms per request: server, pg")  # fmt: skip
    print(f"{'target':<7}{'wk':>3}{'conns':>6}{'req/s':>7}{'p50 ms':>8}{'p95 ms':>8}"
          f"{'p99 ms':>8}{'errors':>7}{'stale':>6} |{'wrk':>5}{'server':>7}{'pg':>5}"
          f"{'rest':>5}{'busy':>5} |{'server':>7}{'pg':>5}")  # fmt: skip
    for r in runs:
        x = r.result
        per_request = r.cpu.wall / max(x["requests"], 1) * 1000
        print(
            f"{r.target:<7}{r.workers:>3}{r.connections:>6}{r.rps:>7.0f}"
            f"{x['p50_us'] / 1000:>8.1f}{x['p95_us'] / 1000:>8.1f}{x['p99_us'] / 1000:>8.1f}"
            f"{r.errors:>7}{x['stale']:>6} |{r.wrk_cpu:>5.2f}{r.cpu.server:>7.2f}"
            f"{r.cpu.postgres:>5.2f}{r.cpu.rest(r.wrk_cpu):>5.2f}{r.cpu.machine * 100:>4.0f}%"
            f" |{r.cpu.server * per_request:>7.2f}{r.cpu.postgres * per_request:>5.2f}"
        )
    pairs: dict[tuple[int, int], dict[str, WrkRun]] = {(r.workers, r.connections): {} for r in runs}
    for r in runs:
        pairs[(r.workers, r.connections)][r.target] = r
    lines = []
    for (workers, conns), by in pairs.items():
        if "api" in by and "floor" in by:
            api, floor = by["api"], by["floor"]
            lines.append(
                f"  workers {workers}, {conns:>4} connections: req/s {api.rps / floor.rps:.2f}x "
                f"of the floor, p99 {api.result['p99_us'] / max(floor.result['p99_us'], 1):.2f}x"
            )
    if lines:
        print("product / floor:")
        print("\n".join(lines))


def print_durability(d: DurabilityResult, phase_s: float, what: str) -> None:
    print(
        f"\n## durability ({what}): {d.attempts} attempts saving, SIGKILL after {phase_s:.0f} s, "
        f"restarted at once, saving {phase_s:.0f} s more once healthy"
    )
    after = d.acknowledged_saves - d.acknowledged_before_kill - d.acknowledged_while_down
    print(
        f"saves sent {d.saves_sent}; acknowledged {d.acknowledged_saves} (before the kill "
        f"{d.acknowledged_before_kill}, while restarting {d.acknowledged_while_down}, after "
        f"{after}); transport errors {d.transport_errors} (retried after 50 ms); other "
        f"statuses {json.dumps(d.other_statuses)}; kill to healthy again {d.downtime_s:.1f} s"
    )
    history = f", save history rows {d.history_rows}" if d.history_rows is not None else ""
    print(
        f"acknowledged pairs {d.acknowledged_keys}, stored pairs {d.stored_keys}, "
        f"LOST {len(d.lost)}, stored ahead of the last acknowledgement {d.ahead}{history}"
    )
    for attempt_id, ref, seq, stored in d.lost[:10]:
        print(f"  lost: attempt {attempt_id} item {ref}: acknowledged seq {seq}, stored {stored}")


async def main(args: argparse.Namespace) -> None:
    targets = args.targets.split(",")
    with_api = "api" in targets
    levels = [int(x) for x in args.levels.split(",")]
    for level in levels:
        if level % args.threads:
            raise SystemExit(f"--levels must be multiples of --threads ({level})")
    need = max(levels)
    tmp = Path(tempfile.mkdtemp(prefix="waa-bench-autosave-"))
    print(f"logs and attempt files in {tmp}")
    durable_n = 0 if args.skip_durability else args.durability_attempts
    if args.storm_only:
        durable_n, need = 0, 0
    n_codes = durable_n + max(args.storm, need) if with_api else 0
    print(f"creating the database and {n_codes} rostered candidates ...", flush=True)
    name, db_url = await bench_setup.create_database(args.server_url)
    dsn = make_url(db_url).set(drivername="postgresql").render_as_string(False)
    servers: list[Server] = []
    attempts_file = tmp / "attempts.tsv"

    def server(make: Any, workers: int) -> Server:
        made: Server = make(
            db_url if make is api_server else dsn, free_port(), workers, tmp, args.pool
        )
        servers.append(made)
        return made

    try:
        codes: list[str] = []
        if with_api:
            population = await bench_setup.populate(db_url, n_codes)
            codes = population.codes
            print(f"  done in {population.seconds:.1f} s", flush=True)
            api = server(api_server, args.workers[0])
            ready_s = await api.start()
            print(f"{api.name} answered /healthz {ready_s:.1f} s after its start", flush=True)
            storm = await start_storm(
                api.url,
                codes[durable_n : durable_n + args.storm],
                spread_s=args.storm_spread,
                concurrency=args.storm_concurrency,
                server_pid=api.pid,
                database=name,
            )
            print_storm(
                f"start storm (workers={args.workers[0]})",
                storm,
                args.storm_spread,
                args.storm_concurrency,
            )
            if args.storm_only:
                return
            started = storm.attempts
            if len(started) < need:  # more connections than storm starts: start the rest now
                more = await start_storm(
                    api.url,
                    codes[durable_n + args.storm : durable_n + need],
                    spread_s=0,
                    concurrency=args.storm_concurrency,
                    server_pid=None,
                )
                started += more.attempts
            if len(started) < need:
                raise RuntimeError(f"only {len(started)} attempts started; {need} needed")
            await fill_refs(api.url, dsn, started)
            write_attempts(attempts_file, started[:need])
            api.stop()
        else:
            write_attempts(attempts_file, fake_attempts(need))

        runs: list[WrkRun] = []
        for workers in args.workers:
            pair = [("api", server(api_server, workers))] if with_api else []
            pair.append(("floor", server(floor_server, workers)))
            for _, s in pair:
                ready_s = await s.start()
                print(f"{s.name} answered /healthz {ready_s:.1f} s after its start", flush=True)
            if args.warmup:
                # Both sides serve a few seconds before anything is measured: the product's
                # per-process caches (an attempt's form, item definitions) and both sides'
                # connection pools fill here, not in the first measured level.
                for target, s in pair:
                    await asyncio.to_thread(
                        run_wrk, s, target, workers, attempts_file, max(levels),
                        args.threads, args.warmup, SEQ_STRIDE // 2, name,
                    )  # fmt: skip
            for level in levels:
                for target, s in pair:
                    run = await asyncio.to_thread(
                        run_wrk,
                        s,
                        target,
                        workers,
                        attempts_file,
                        level,
                        args.threads,
                        args.duration,
                        (len(runs) + 1) * SEQ_STRIDE,
                        name,
                    )
                    runs.append(run)
                    print(
                        f"  {target} workers={workers} c={level}: {run.rps:.0f} req/s, "
                        f"p99 {run.result['p99_us'] / 1000:.1f} ms, errors {run.errors} "
                        f"(non-200 {run.result['non_200']}, timeouts {run.result['timeouts']}, "
                        f"socket {run.result['connect_errors'] + run.result['read_errors']}"
                        f"+{run.result['write_errors']})",
                        flush=True,
                    )
            for _, s in pair:
                s.stop()
        print_autosave(runs, args.threads, args.duration)

        if durable_n and (with_api or args.floor_durability):
            # one worker: the process started is the server itself, so SIGKILL hits it
            solo = server(api_server if with_api else floor_server, 1)
            await solo.start()
            if with_api:
                first = await start_storm(
                    solo.url, codes[:durable_n], spread_s=0,
                    concurrency=args.storm_concurrency, server_pid=None,
                )  # fmt: skip
                saving = first.attempts
                await fill_refs(solo.url, dsn, saving)
            else:
                saving = fake_attempts(durable_n)
            result = await durability(
                solo,
                saving,
                db_dsn=dsn,
                table="response" if with_api else "bench_floor_response",
                before_s=args.durability_seconds,
                after_s=args.durability_seconds,
            )
            print_durability(
                result, args.durability_seconds, "waa-ads serve" if with_api else "the floor"
            )
            solo.stop()
    finally:
        for s in servers:
            s.stop()
        await bench_setup.drop_database(name, args.server_url)
    print(f"\nmachine: {CORES} cores; PostgreSQL at {make_url(args.server_url).host}; "
          f"database {name} dropped")  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--targets", default="api,floor", help="api,floor or floor")
    parser.add_argument("--workers", type=int, nargs="+", default=[1])
    parser.add_argument("--levels", default="100,500,2000", help="wrk connections per run")
    parser.add_argument("--duration", type=int, default=15, help="seconds per wrk run")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument(
        "--warmup",
        type=int,
        default=4,
        help="seconds of unmeasured load on each side before the levels (0: none)",
    )
    parser.add_argument("--pool", type=int, default=10, help="WAA_DATABASE_POOL_SIZE")
    parser.add_argument("--storm", type=int, default=2000, help="attempts started in the storm")
    parser.add_argument("--storm-spread", type=float, default=60.0)
    parser.add_argument("--storm-concurrency", type=int, default=100)
    parser.add_argument("--durability-attempts", type=int, default=200)
    parser.add_argument(
        "--durability-seconds",
        type=float,
        default=10.0,
        help="saving before the kill, and again after the restart",
    )
    parser.add_argument("--skip-durability", action="store_true")
    parser.add_argument(
        "--storm-only", action="store_true", help="the start storm alone: no autosave levels"
    )
    parser.add_argument(
        "--floor-durability",
        action="store_true",
        help="with --targets floor: run the kill -9 check against the floor",
    )
    parser.add_argument("--server-url", default=bench_setup.SERVER_URL)
    asyncio.run(main(parser.parse_args()))
