"""Reliability drills: real processes, real faults, then the invariants.

Each drill builds its own stack (:mod:`services`: a PostgreSQL cluster made with initdb on
``--pg-port``, a redis-server on ``--redis-port``, two ``waa-ads serve`` processes, a Celery
worker and beat), drives simulated candidates and staff (:mod:`load`) while it injects its
fault, lets the background work drain, and checks:

* every acknowledged save is stored with at least its seq (the highest seq wins);
* no attempt is left in a transient state (``submitted``/``expired``/``terminated`` waiting
  for scoring, ``scoring`` without a result, ``in_progress`` past its deadline + grace +
  sweep interval);
* every submitted attempt is scored; no attempt has two "attempt ended" results;
* ``waa-ads audit verify`` passes; the task queues drain; no 5xx other than 503 (and every
  503 carries Retry-After);
* every blob the database refers to is in the blob directory and hashes to its key
  (``blobs_present``, :mod:`blobcheck`), and every blob the load was told was stored (a
  candidate's upload, a staff member's media) is referred to.

The backup and point-in-time drills also copy the blob directory while the load runs,
restore the database and the copy into a fresh cluster and a fresh directory, check the
same on the restore, and download a media file acknowledged before the backup point
through an API process started on it (a candidate's upload is read through the blob store,
which verifies its digest: the API hands uploads only to raters).

    .venv/bin/python bench/drills/drill.py kill --duration 240
    .venv/bin/python bench/drills/drill.py postgres --duration 150 --restarts 3
    .venv/bin/python bench/drills/drill.py redis --duration 150
    .venv/bin/python bench/drills/drill.py soak --duration 1800 --roster 1000 --abandon-roster 1200
    .venv/bin/python bench/drills/drill.py backup --duration 120
    .venv/bin/python bench/drills/drill.py pitr --duration 120

Every loop is bounded by ``--duration`` (plus a bounded drain); every process, the cluster
and the Redis server are stopped when the drill ends, also on an error. Results are printed
as JSON and written to ``--out`` when given. The shared PostgreSQL (5432) and Redis (6379)
are never touched.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]  # the drills' modules, and bench/

import bench_setup  # noqa: E402
import blobcheck  # noqa: E402
import services  # noqa: E402
from load import Acks, Load, dumps  # noqa: E402
from services import SECRET, VENV_BIN, PgCluster, Proc, Stack, tree  # noqa: E402

ADMIN_EMAIL = "drill-admin@example.org"
ADMIN_PASSWORD = "drill-admin-password-0123"
PROCTOR_EMAIL = "drill-proctor@example.org"
# In-progress past deadline + save grace (30 s) + sweep interval (15 s) + one sweep's run.
LIVE_SLACK_S = 30 + 15 + 15
QTI3 = "http://www.imsglobal.org/xsd/imsqtiasi_v3p0"
UPLOAD_REF = "UPLOAD1"
UPLOAD_ITEM = f"""<qti-assessment-item xmlns="{QTI3}" identifier="{UPLOAD_REF}"
  title="Worked solution" adaptive="false" time-dependent="false" xml:lang="en">
  <qti-response-declaration identifier="RESPONSE" cardinality="single" base-type="file"/>
  <qti-outcome-declaration identifier="SCORE" cardinality="single" base-type="float"/>
  <qti-item-body>
    <qti-upload-interaction response-identifier="RESPONSE">
      <qti-prompt>Upload your worked solution.</qti-prompt>
    </qti-upload-interaction>
  </qti-item-body>
</qti-assessment-item>"""


# --- setup ---------------------------------------------------------------------------------


class World:
    """The data a drill runs on: one organization whose candidates submit (long time
    limit) and one whose candidates walk away (short limit, so the expiry sweep ends them)."""

    def __init__(self, stack: Stack, candidates: int, abandoners: int, short_limit_s: int):
        self.stack = stack
        self.pop = asyncio.run(
            bench_setup.populate(stack.db_url, candidates, secret=SECRET, time_limit_s=3600)
        )
        self.abandon = asyncio.run(
            bench_setup.populate(
                stack.db_url, abandoners, secret=SECRET, time_limit_s=short_limit_s
            )
        )
        self.slug = stack.pg.psql(
            stack.database, f"SELECT slug FROM organization WHERE id = '{self.pop.organization_id}'"
        )
        made = subprocess.run(
            [str(VENV_BIN / "waa-ads"), "create-admin", "--email", ADMIN_EMAIL, "--password",
             ADMIN_PASSWORD, "--organization", self.slug],
            env={**os.environ, **stack.env()}, capture_output=True, text=True, timeout=120,
            check=False,
        )  # fmt: skip
        if made.returncode != 0:
            raise RuntimeError(f"create-admin failed: {made.stdout[-500:]} {made.stderr[-1500:]}")
        self.upload_codes: list[str] = []
        self.upload_administration_id = ""

    def prepare_uploads(self, admin_token: str, candidates: int) -> None:
        """Through the API, as the administrator would: a bank with one published file
        upload question, an assessment of it (one hour), an administration open now, and
        ``candidates`` new candidates on its roster (their access codes kept)."""
        import httpx

        base = f"http://127.0.0.1:{self.stack.api_ports[0]}/api/v1"
        with httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {admin_token}"}, timeout=60
        ) as c:

            def ok(r: httpx.Response, *expected: int) -> dict[str, Any]:
                if r.status_code not in expected:
                    raise RuntimeError(f"{r.request.url}: {r.status_code} {r.text[:300]}")
                body: dict[str, Any] = r.json()
                return body

            bank = ok(c.post("/banks", json={"slug": "uploads", "name": "Uploads"}), 201)
            item = ok(
                c.post(
                    f"/banks/{bank['id']}/items",
                    json={"source": {"format": "qti", "content": UPLOAD_ITEM}},
                ),
                201,
            )["item"]["id"]
            ok(c.post(f"/items/{item}/publish"), 200)
            definition = {
                "title": "Worked solutions",
                "sections": [{"identifier": "s", "title": "S", "items": [{"item_id": item}]}],
                "time_limit_s": 3600,
            }
            created = ok(
                c.post("/assessments", json={"slug": "uploads", "definition": definition}), 201
            )
            version = ok(c.post(f"/assessments/{created['assessment']['id']}/publish"), 200)
            now = datetime.now(UTC)
            administration = ok(
                c.post(
                    "/administrations",
                    json={
                        "assessment_version_id": version["version"]["id"],
                        "title": "Worked solutions",
                        "opens_at": (now - timedelta(minutes=1)).isoformat(),
                        "closes_at": (now + timedelta(days=1)).isoformat(),
                    },
                ),
                201,
            )
            people = [
                ok(c.post("/candidates", json={"full_name": f"Uploader {n}",
                                               "external_id": f"drill-up-{n:05d}"}), 201)["id"]
                for n in range(candidates)
            ]  # fmt: skip
            roster = c.post(
                f"/administrations/{administration['id']}/roster",
                json={"entries": [{"candidate_id": p} for p in people]},
            )
            if roster.status_code != 201:
                raise RuntimeError(f"roster: {roster.status_code} {roster.text[:300]}")
        self.upload_codes = [e["access_code"] for e in roster.json()]
        self.upload_administration_id = str(administration["id"])

    def token(self, email: str = ADMIN_EMAIL) -> str:
        import httpx

        for _ in range(60):
            try:
                r = httpx.post(
                    f"http://127.0.0.1:{self.stack.api_ports[0]}/api/v1/auth/token",
                    data={"username": email, "password": ADMIN_PASSWORD, "organization": self.slug},
                    timeout=30,
                )
                if r.status_code == 200:
                    return str(r.json()["access_token"])
            except httpx.TransportError:
                pass
            time.sleep(1)
        raise RuntimeError(f"{email} could not log in")

    def proctor_token(self, admin_token: str) -> str:
        """A proctor account assigned to the submitters' administration; its token."""
        import httpx

        base = f"http://127.0.0.1:{self.stack.api_ports[0]}/api/v1"
        h = {"Authorization": f"Bearer {admin_token}"}
        r = httpx.post(
            f"{base}/users",
            json={"email": PROCTOR_EMAIL, "roles": ["proctor"], "password": ADMIN_PASSWORD},
            headers=h,
            timeout=30,
        )
        if r.status_code != 201:
            raise RuntimeError(f"proctor not created: {r.status_code} {r.text[:300]}")
        r = httpx.patch(
            f"{base}/administrations/{self.pop.administration_id}",
            json={"proctor_ids": [r.json()["id"]]},
            headers=h,
            timeout=30,
        )
        if r.status_code != 200:
            raise RuntimeError(f"proctor not assigned: {r.status_code} {r.text[:300]}")
        return self.token(PROCTOR_EMAIL)

    def load(self, args: argparse.Namespace) -> Load:
        return Load(
            api_urls=[f"http://127.0.0.1:{p}" for p in self.stack.api_ports],
            codes=self.pop.codes,
            refs=self.pop.item_identifiers,
            abandon_codes=self.abandon.codes,
            abandon_refs=self.abandon.item_identifiers,
            candidates=args.candidates,
            abandoners=args.abandoners,
            save_every_s=args.save_every,
            saves_per_attempt=args.saves_per_attempt,
            seed=args.seed,
            upload_codes=self.upload_codes,
            upload_ref=UPLOAD_REF,
            uploaders=args.uploaders,
            uploads_per_attempt=args.uploads_per_attempt,
            media_every=args.media_every,
        )


def make_stack(args: argparse.Namespace, **overrides: Any) -> Stack:
    return Stack(
        pg_port=args.pg_port,
        redis_port=args.redis_port,
        api_ports=[args.api_port, args.api_port + 1],
        keep=args.keep,
        **overrides,
    )


# --- invariants ----------------------------------------------------------------------------


def queue_depth(stack: Stack) -> int:
    """Messages waiting or unacknowledged in the broker (Redis database 1)."""
    import redis

    client = redis.Redis(port=stack.redis_port, db=1)
    try:
        depth = 0
        for key in client.scan_iter(count=500):
            kind = client.type(key)  # type: ignore[no-untyped-call]
            if kind == b"list":
                depth += int(client.llen(key))
            elif kind == b"hash" and key.endswith(b"unacked"):
                depth += int(client.hlen(key))
        return depth
    except redis.exceptions.ConnectionError:
        return -1
    finally:
        client.close()


def transient(stack: Stack, abandon_org: str | None = None) -> dict[str, int]:
    """Counts of attempts in a state they should not stay in once the load has stopped and
    the background work has caught up (only non-zero counts are returned). The abandoners'
    attempts must all have been ended by the expiry sweep."""
    abandoned = (
        f"""UNION ALL SELECT 'abandoned_still_live', count(*) FROM attempt
             WHERE state IN ('in_progress', 'paused') AND organization_id = '{abandon_org}'"""
        if abandon_org
        else ""
    )
    sql = f"""
      SELECT 'waiting_' || state, count(*) FROM attempt
       WHERE state IN ('submitted', 'expired', 'terminated') GROUP BY state
      UNION ALL
      SELECT 'scoring_without_result', count(*) FROM attempt a
       WHERE a.state = 'scoring'
         AND NOT EXISTS (SELECT 1 FROM attempt_result r WHERE r.attempt_id = a.id)
      UNION ALL
      SELECT 'live_past_deadline', count(*) FROM attempt
       WHERE state = 'in_progress'
         AND deadline_at < now() - interval '{LIVE_SLACK_S} seconds'
      {abandoned}
    """
    out: dict[str, int] = {}
    for line in stack.pg.psql(stack.database, sql).splitlines():
        name, n = line.split("|")
        if int(n):
            out[name] = int(n)
    return out


def revive(stack: Stack, into: list[dict[str, Any]]) -> None:
    """Start again any product process that exited, as a service manager with
    ``Restart=always`` would; note which, when and with what exit code."""
    for p in stack.processes():
        if p.proc is not None and p.proc.poll() is not None:
            into.append({"kind": p.kind, "exit_code": p.proc.returncode, "at": round(time.time())})
            p.start()


async def supervise(stack: Stack, load: Load, into: list[dict[str, Any]]) -> None:
    while not load.stop.is_set():
        await asyncio.to_thread(revive, stack, into)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(load.stop.wait(), 2.0)


def drain(
    stack: Stack,
    within_s: float,
    abandon_org: str | None = None,
    revived: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Wait (bounded) until nothing is transient and the queues are empty; with
    ``revived``, keep restarting processes that exit meanwhile."""
    t0 = time.monotonic()
    last: dict[str, Any] = {}
    while time.monotonic() - t0 < within_s:
        if revived is not None:
            revive(stack, revived)
        try:
            waiting = transient(stack, abandon_org)
        except subprocess.CalledProcessError:
            waiting = {"database": -1}
        depth = queue_depth(stack)
        last = {"transient": waiting, "queue_depth": depth}
        if not waiting and depth == 0:
            return {**last, "drained_after_s": round(time.monotonic() - t0, 1)}
        time.sleep(3)
    return {**last, "drained_after_s": None}


def stored_seqs(pg: PgCluster, database: str) -> dict[tuple[str, str], int]:
    rows = pg.psql(database, "SELECT attempt_id, item_ref, seq FROM response")
    out = {}
    for line in rows.splitlines():
        attempt, ref, seq = line.split("|")
        out[(attempt, ref)] = int(seq)
    return out


def audit_verify(db_url: str, env: dict[str, str]) -> tuple[bool, str]:
    done = subprocess.run(
        [str(VENV_BIN / "waa-ads"), "audit", "verify"],
        env={**os.environ, **env, "WAA_DATABASE_URL": db_url},
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    chains = []
    for line in done.stdout.splitlines():
        try:
            chains.append(json.loads(line))
        except ValueError:
            continue
    broken = [c for c in chains if not c.get("ok")]
    events = sum(int(c.get("checked", 0)) for c in chains)
    summary = f"{len(chains)} chains, {events} events checked, broken: {broken[:3]}"
    return done.returncode == 0 and bool(chains) and not broken, summary


def invariants(
    stack: Stack, load: Load, drained: dict[str, Any], acks: Acks | None = None
) -> dict[str, Any]:
    """The invariants on ``stack``'s database; ``acks`` (by default everything the load was
    told) is what must be found there."""
    acks = acks if acks is not None else load.acks
    stored = stored_seqs(stack.pg, stack.database)
    lost = [
        {"attempt": a, "ref": r, "acked": s, "stored": stored.get((a, r))}
        for (a, r), s in acks.saves.items()
        if stored.get((a, r), 0) < s
    ]
    submitted = sorted(acks.submitted)
    unscored: list[str] = []
    if submitted:
        ids = ",".join(f"'{a}'" for a in submitted)
        rows = stack.pg.psql(
            stack.database,
            f"""SELECT a.id, a.state FROM attempt a WHERE a.id IN ({ids})
                AND NOT (a.state IN ('scored', 'released')
                 OR (a.state = 'scoring' AND EXISTS
                     (SELECT 1 FROM attempt_result r WHERE r.attempt_id = a.id)))""",
        )
        unscored = rows.splitlines()
    duplicates = stack.pg.psql(
        stack.database,
        """SELECT count(*) FROM (SELECT attempt_id FROM attempt_result
            WHERE reason = 'attempt ended' GROUP BY attempt_id HAVING count(*) > 1) d""",
    )
    states = stack.pg.psql(
        stack.database, "SELECT state || ':' || count(*) FROM attempt GROUP BY state ORDER BY 1"
    ).split()
    audit_ok, audit_out = audit_verify(stack.db_url, stack.env())
    server_errors = load.tally.server_errors()
    blobs = blob_checks(
        lambda sql: stack.pg.psql(stack.database, sql), Path(stack.env()["WAA_BLOB_DIR"]), acks
    )
    checks = {
        "acknowledged_saves_stored": (not lost, f"{len(acks.saves)} items acked, lost {lost[:5]}"),
        "nothing_transient": (not drained["transient"], drained["transient"]),
        "submitted_all_scored": (not unscored, f"{len(submitted)} submitted; not: {unscored[:5]}"),
        "no_duplicate_scores": (duplicates == "0", f"{duplicates} attempts scored twice"),
        "audit_chain_verifies": (audit_ok, audit_out),
        "queues_drained": (drained["queue_depth"] == 0, f"depth {drained['queue_depth']}"),
        "no_5xx_but_503": (not server_errors, server_errors),
        "every_503_has_retry_after": (
            load.tally.unavailable_without_retry_after == 0,
            load.tally.unavailable_without_retry_after,
        ),
        **blobs,
    }
    return {
        "pass": all(ok for ok, _ in checks.values()),
        "checks": {k: {"ok": ok, "detail": d} for k, (ok, d) in checks.items()},
        "attempt_states": states,
        "drain": drained,
    }


def blob_checks(
    psql: Callable[[str], str], blob_dir: Path, acks: Acks
) -> dict[str, tuple[bool, Any]]:
    """``blobs_present`` (every blob the database refers to is in ``blob_dir``, whole) and
    ``acknowledged_blobs_referenced`` (every blob in ``acks`` is referred to by a row)."""
    refs = blobcheck.referenced(psql)
    present = blobcheck.blobs_present(refs, blob_dir)
    acked = acks.blobs()
    unreferenced = blobcheck.unreferenced_acks(refs, acked)
    return {
        "blobs_present": (
            present["ok"],
            {k: present[k] for k in ("referenced", "checked", "bytes", "by_kind")}
            | {"in_store": blobcheck.stored_blobs(blob_dir)}
            | {k: present[k][:5] for k in ("missing", "corrupted", "malformed")},
        ),
        "acknowledged_blobs_referenced": (
            not unreferenced,
            f"{len(acked)} blobs acknowledged ({len(acks.blobs('upload'))} uploads, "
            f"{len(acks.blobs('media'))} media); not referred to: {unreferenced[:5]}",
        ),
    }


# --- process sampling (soak, and a figure for every drill) -----------------------------------


def _proc_stat(pid: int) -> tuple[float, int, int] | None:
    """(CPU seconds, RSS bytes, open fds) of one process."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        rss = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
        fds = len(os.listdir(f"/proc/{pid}/fd"))
        return cpu, rss, fds
    except (OSError, IndexError, ValueError):
        return None


def sample(stack: Stack) -> dict[str, Any]:
    out: dict[str, Any] = {"t": time.time()}
    for p in stack.processes():
        if not p.alive():
            continue
        cpu, rss, fds = 0.0, 0, 0
        for pid in tree(p.pid):
            got = _proc_stat(pid)
            if got:
                cpu += got[0]
                rss += got[1]
                fds += got[2]
        name = f"{p.kind}:{p.port}" if p.port else f"{p.kind}:{p.pid}"
        out[name] = {"cpu_s": round(cpu, 2), "rss_mib": round(rss / 2**20, 1), "fds": fds}
    try:
        out["pg_connections"] = int(
            stack.pg.psql(
                "postgres",
                f"SELECT count(*) FROM pg_stat_activity WHERE datname = '{stack.database}'",
            )
        )
    except subprocess.CalledProcessError:
        out["pg_connections"] = None
    try:
        info = stack.redis.cli("info", "clients")
        out["redis_clients"] = int(
            next(x for x in info.splitlines() if x.startswith("connected_clients")).split(":")[1]
        )
    except (subprocess.CalledProcessError, StopIteration):
        out["redis_clients"] = None
    return out


def slope_per_hour(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, value) in value per hour."""
    if len(points) < 3:
        return 0.0
    n = len(points)
    mx = sum(t for t, _ in points) / n
    my = sum(v for _, v in points) / n
    var = sum((t - mx) ** 2 for t, _ in points)
    if var == 0:
        return 0.0
    return sum((t - mx) * (v - my) for t, v in points) / var * 3600


def growth(samples: list[dict[str, Any]], warmup_share: float = 0.2) -> dict[str, Any]:
    """Per series: first, last, max and the slope per hour after the warm-up."""
    if not samples:
        return {}
    t0 = samples[0]["t"]
    cut = t0 + (samples[-1]["t"] - t0) * warmup_share
    series: dict[str, list[tuple[float, float]]] = {}
    for s in samples:
        for name, value in s.items():
            if name == "t" or value is None:
                continue
            if isinstance(value, dict):
                for metric in ("rss_mib", "fds"):
                    series.setdefault(f"{name} {metric}", []).append((s["t"] - t0, value[metric]))
                series.setdefault(f"{name} cpu_s", []).append((s["t"] - t0, value["cpu_s"]))
            else:
                series.setdefault(name, []).append((s["t"] - t0, float(value)))
    out = {}
    for name, pts in series.items():
        after = [(t, v) for t, v in pts if t + t0 >= cut]
        out[name] = {
            "first": pts[0][1],
            "last": pts[-1][1],
            "max": max(v for _, v in pts),
            "slope_per_h": round(slope_per_hour(after), 2),
        }
    return out


async def sampler(stack: Stack, load: Load, every_s: float, into: list[dict[str, Any]]) -> None:
    while not load.stop.is_set():
        into.append(await asyncio.to_thread(sample, stack))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(load.stop.wait(), every_s)
    into.append(await asyncio.to_thread(sample, stack))


# --- the drills ----------------------------------------------------------------------------


def run_with(
    args: argparse.Namespace,
    stack: Stack,
    world: World,
    fault: Any,
    samples: list[dict[str, Any]] | None = None,
    revived: list[dict[str, Any]] | None = None,
) -> tuple[Load, float]:
    token = world.token()
    if args.uploaders > 0 and not world.upload_codes:
        world.prepare_uploads(token, args.upload_roster)
    load = world.load(args)
    proctor = world.proctor_token(token)
    load.relogin = lambda: (world.token(), world.token(PROCTOR_EMAIL))

    async def go() -> float:
        tasks = []
        if samples is not None:
            tasks.append(asyncio.create_task(sampler(stack, load, args.sample, samples)))
        if revived is not None:
            tasks.append(asyncio.create_task(supervise(stack, load, revived)))
        took = await load.run(args.duration, token, proctor, world.pop.administration_id, fault)
        await asyncio.gather(*tasks)
        return took

    return load, asyncio.run(go())


def drill_kill(args: argparse.Namespace) -> dict[str, Any]:
    """SIGKILL an API process, the worker or beat in turn, at random moments; restart."""
    rng = random.Random(args.seed)
    events: list[dict[str, Any]] = []
    with make_stack(args) as stack:
        world = World(stack, args.roster, args.abandon_roster, args.short_limit)
        stack.start_processes()

        async def fault(load: Load) -> None:
            kinds = itertools.cycle(["api", "worker", "beat"])
            while not load.stop.is_set():
                try:
                    await asyncio.wait_for(load.stop.wait(), rng.uniform(*args.kill_every))
                    return
                except TimeoutError:
                    pass
                kind = next(kinds)
                victims: list[Proc] = {
                    "api": stack.apis,
                    "worker": stack.workers_,
                    "beat": [stack.beat] if stack.beat else [],
                }[kind]
                proc = rng.choice(victims)
                t = time.monotonic()
                proc.kill9()
                await asyncio.sleep(rng.uniform(0.5, 3.0))
                await asyncio.to_thread(proc.start)
                events.append(
                    {"kind": kind, "at_s": round(time.time(), 1),
                     "back_after_s": round(time.monotonic() - t, 1)}
                )  # fmt: skip

        load, took = run_with(args, stack, world, fault)
        drained = drain(stack, args.drain, world.abandon.organization_id)
        result = invariants(stack, load, drained)
    kills = {k: sum(1 for e in events if e["kind"] == k) for k in ("api", "worker", "beat")}
    return {
        "drill": "kill",
        "duration_s": round(took, 1),
        "kills": kills,
        "events": events,
        **load.summary(),
        **result,
    }


def drill_postgres(args: argparse.Namespace) -> dict[str, Any]:
    """Stop PostgreSQL (fast shutdown) under load, leave it down a few seconds, start it."""
    rng = random.Random(args.seed)
    outages: list[dict[str, Any]] = []
    with make_stack(args) as stack:
        world = World(stack, args.roster, args.abandon_roster, args.short_limit)
        stack.start_processes()
        pids = {p.kind + str(p.port or ""): p.pid for p in stack.processes()}

        async def fault(load: Load) -> None:
            for _ in range(args.restarts):
                try:
                    await asyncio.wait_for(load.stop.wait(), args.duration / (args.restarts + 1))
                    return
                except TimeoutError:
                    pass
                before = dict(load.tally.statuses)
                down = rng.uniform(*args.down_for)
                t = time.time()
                await asyncio.to_thread(stack.pg.stop, "fast")
                await asyncio.sleep(down)
                await asyncio.to_thread(stack.pg.start)
                up = time.time()
                # First acknowledged save after the start: the pools came back by themselves.
                for _ in range(600):  # at most 2 minutes
                    if load.stop.is_set() or any(a[0] > up for a in load.acks.ack_log):
                        break
                    await asyncio.sleep(0.2)
                first_ack = next((a[0] for a in load.acks.ack_log if a[0] > up), None)
                during = {
                    k: n - before.get(k, 0)
                    for k, n in load.tally.statuses.items()
                    if n != before.get(k, 0) and not k.endswith(" 200")
                }
                outages.append(
                    {"down_s": round(up - t, 1),
                     "first_ack_after_start_s": round(first_ack - up, 1) if first_ack else None,
                     "non_200_answers_meanwhile": during}
                )  # fmt: skip

        load, took = run_with(args, stack, world, fault)
        restarted = [k for k, pid in pids.items() if pid != _pid(stack, k)]
        drained = drain(stack, args.drain, world.abandon.organization_id)
        result = invariants(stack, load, drained)
    result["checks"]["no_process_restarted"] = {"ok": not restarted, "detail": restarted}
    result["pass"] = result["pass"] and not restarted
    return {
        "drill": "postgres",
        "duration_s": round(took, 1),
        "outages": outages,
        **load.summary(),
        **result,
    }


def _pid(stack: Stack, key: str) -> int | None:
    for p in stack.processes():
        if p.kind + str(p.port or "") == key:
            return p.pid if p.alive() else None
    return None


def drill_redis(args: argparse.Namespace) -> dict[str, Any]:
    """Restart Redis (it keeps nothing: everything in it is gone), later FLUSHALL it."""
    events: list[dict[str, Any]] = []
    revived: list[dict[str, Any]] = []  # processes that exited, restarted as systemd would
    with make_stack(args) as stack:
        world = World(stack, args.roster, args.abandon_roster, args.short_limit)
        stack.start_processes()
        token = world.token()

        async def fault(load: Load) -> None:
            third = args.duration / 3
            try:
                await asyncio.wait_for(load.stop.wait(), third)
                return
            except TimeoutError:
                pass
            before = dict(load.tally.statuses)
            t = time.time()
            await asyncio.to_thread(stack.redis.stop)
            await asyncio.sleep(args.down_for[1])
            await asyncio.to_thread(stack.redis.start)
            during = {
                k: n - before.get(k, 0)
                for k, n in load.tally.statuses.items()
                if n != before.get(k, 0) and not k.endswith(" 200")
            }
            events.append(
                {
                    "what": "restart (empty)",
                    "down_s": round(time.time() - t, 1),
                    "meanwhile": during,
                }
            )
            try:
                await asyncio.wait_for(load.stop.wait(), third)
                return
            except TimeoutError:
                pass
            await asyncio.to_thread(stack.redis.cli, "flushall")
            events.append({"what": "flushall", "at": round(time.time(), 1)})

        load, took = run_with(args, stack, world, fault, revived=revived)
        # Degradation as documented: a token issued before the flush still works (its
        # revocation list was in Redis; the token itself is checked by signature).
        import httpx

        r = httpx.get(
            f"http://127.0.0.1:{args.api_port}/api/v1/auth/me",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        events.append({"what": "token from before the flush", "status": r.status_code})
        drained = drain(stack, args.drain, world.abandon.organization_id, revived)
        result = invariants(stack, load, drained)
    return {
        "drill": "redis",
        "duration_s": round(took, 1),
        "events": events,
        "exited_and_restarted": revived,
        **load.summary(),
        **result,
    }


def drill_soak(args: argparse.Namespace) -> dict[str, Any]:
    """Steady load for --duration, sampling memory, CPU, fds and connections."""
    samples: list[dict[str, Any]] = []
    with make_stack(args) as stack:
        world = World(stack, args.roster, args.abandon_roster, args.short_limit)
        stack.start_processes()
        load, took = run_with(args, stack, world, None, samples)
        drained = drain(stack, args.drain, world.abandon.organization_id)
        result = invariants(stack, load, drained)
    if args.samples_out:
        Path(args.samples_out).write_text(json.dumps(samples))
    return {
        "drill": "soak",
        "duration_s": round(took, 1),
        "samples": len(samples),
        "growth": growth(samples),
        **load.summary(),
        **result,
    }


def table_counts(pg: PgCluster, database: str) -> dict[str, int]:
    tables = pg.psql(
        database,
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
    ).split()
    sql = " UNION ALL ".join(f"SELECT '{t}', count(*) FROM \"{t}\"" for t in tables)
    return {
        name: int(n)
        for name, n in (line.split("|") for line in pg.psql(database, sql).splitlines())
    }


def dump(pg: PgCluster, database: str, to: Path) -> float:
    t = time.monotonic()
    subprocess.run(
        [services.pg_bin("pg_dump"), "-Fc", "-f", str(to), pg.dsn(database)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    return time.monotonic() - t


def restore(pg: PgCluster, database: str, path: Path) -> float:
    t = time.monotonic()
    pg.psql("postgres", f'CREATE DATABASE "{database}"')
    subprocess.run(
        [services.pg_bin("pg_restore"), "--no-owner", "--exit-on-error", "-d", pg.dsn(database),
         str(path)],
        check=True, capture_output=True, timeout=600,
    )  # fmt: skip
    return time.monotonic() - t


def drill_backup(args: argparse.Namespace) -> dict[str, Any]:
    """pg_dump under load, then a copy of the blob directory; both restored (the dump into
    a fresh cluster, the copy into a fresh directory) and verified."""
    figures: dict[str, Any] = {}
    with make_stack(args) as stack:
        world = World(stack, args.roster, args.abandon_roster, args.short_limit)
        stack.start_processes()
        hot = stack.root / "hot.dump"
        live_blobs = Path(stack.env()["WAA_BLOB_DIR"])

        async def fault(load: Load) -> None:
            try:
                await asyncio.wait_for(load.stop.wait(), args.duration / 2)
                return
            except TimeoutError:
                pass
            figures["dump_started"] = time.time()
            figures["hot_dump_s"] = round(await asyncio.to_thread(dump, stack.pg, "waa", hot), 2)
            # The blob store is copied after the dump started (docs/operations.md): the
            # load goes on writing meanwhile.
            t = time.monotonic()
            figures["hot_blobs_copied"] = await asyncio.to_thread(
                blobcheck.copy_blobs, live_blobs, stack.root / "blobs-backup"
            )
            figures["hot_blob_copy_s"] = round(time.monotonic() - t, 2)

        load, took = run_with(args, stack, world, fault)
        drained = drain(stack, args.drain, world.abandon.organization_id)
        result = invariants(stack, load, drained)
        cold = stack.root / "cold.dump"
        figures["cold_dump_s"] = round(dump(stack.pg, "waa", cold), 2)
        figures["dump_bytes"] = cold.stat().st_size
        figures["cold_blobs_copied"] = blobcheck.copy_blobs(live_blobs, stack.root / "blobs-cold")
        source_counts = table_counts(stack.pg, "waa")
        acked_before: dict[tuple[str, str], int] = {}
        for at, attempt, ref, seq in load.acks.ack_log:
            if at < figures.get("dump_started", 0):
                acked_before[(attempt, ref)] = max(seq, acked_before.get((attempt, ref), 0))
        blobs_before = load.acks.before(figures.get("dump_started", 0))
        # The restore's blob store: a fresh directory, filled from the copy (rsync back).
        hot_blobs, cold_blobs = stack.root / "blobs-restored-hot", stack.root / "blobs-restored"
        figures["hot_blobs_restored"] = blobcheck.copy_blobs(stack.root / "blobs-backup", hot_blobs)
        figures["cold_blobs_restored"] = blobcheck.copy_blobs(stack.root / "blobs-cold", cold_blobs)

        fresh = PgCluster(stack.root / "pg-restore", args.pg_port + 1)
        fresh.init()
        fresh.start()
        try:
            figures["hot_restore_s"] = round(restore(fresh, "hot", hot), 2)
            figures["cold_restore_s"] = round(restore(fresh, "cold", cold), 2)
            hot_stored = stored_seqs(fresh, "hot")
            missing = [k for k, s in acked_before.items() if hot_stored.get(k, 0) < s]
            restored_counts = table_counts(fresh, "cold")
            differ = {
                t: (n, restored_counts.get(t)) for t, n in source_counts.items()
                if restored_counts.get(t) != n
            }  # fmt: skip
            hot_audit = audit_verify(fresh.url("hot"), stack.env())
            cold_audit = audit_verify(fresh.url("cold"), stack.env())
            hot_blob_checks = blob_checks(
                lambda sql: fresh.psql("hot", sql), hot_blobs, blobs_before
            )
            cold_blob_checks = blob_checks(
                lambda sql: fresh.psql("cold", sql), cold_blobs, load.acks
            )
            resumed = resume_restored(
                args, stack, fresh, world, load.acks.started, blob_dir=hot_blobs, acks=blobs_before
            )
        finally:
            fresh.stop("fast")
    checks = {
        "acked_before_hot_dump_restored": (
            not missing,
            f"{len(acked_before)} items acked before the dump began; missing {missing[:5]}",
        ),
        "cold_counts_equal": (not differ, differ or f"{len(source_counts)} tables equal"),
        "audit_verifies_hot_restore": hot_audit,
        "audit_verifies_cold_restore": cold_audit,
        "restored_attempt_resumes": (resumed.get("ok", False), without_blobs(resumed)),
        "restored_blob_downloads": (resumed.get("blobs_ok", False), resumed.get("blobs")),
        **{f"hot_restore_{k}": v for k, v in hot_blob_checks.items()},
        **{f"cold_restore_{k}": v for k, v in cold_blob_checks.items()},
    }
    result["checks"].update({k: {"ok": ok, "detail": d} for k, (ok, d) in checks.items()})
    result["pass"] = all(c["ok"] for c in result["checks"].values())
    return {
        "drill": "backup",
        "duration_s": round(took, 1),
        "figures": figures,
        **load.summary(),
        **result,
    }


def resume_restored(
    args: argparse.Namespace,
    stack: Stack,
    fresh: PgCluster,
    world: World,
    codes: dict[str, str],
    database: str = "hot",
    blob_dir: Path | None = None,
    acks: Acks | None = None,
) -> dict[str, Any]:
    """Start an API on a restore (``database`` on ``fresh``, blobs in ``blob_dir``, by
    default ``stack``'s), resume an attempt that was live at the backup with its access
    code, save past its stored seq, and read the save back. With ``acks`` (what was
    acknowledged before the backup point), also download the newest media file among them
    through that API as the administrator, and read the newest candidate's upload through
    the blob store (the API hands uploads to raters only): ``blobs_ok``, ``blobs``."""
    import httpx

    row = fresh.psql(
        database,
        f"""SELECT a.id, coalesce(max(r.seq), 0) FROM attempt a
             LEFT JOIN response r ON r.attempt_id = a.id
            WHERE a.state = 'in_progress'
              AND a.administration_id = '{world.pop.administration_id}'
            GROUP BY a.id ORDER BY a.id LIMIT 1""",
    )
    if not row:
        return {"ok": False, "why": "no live attempt in the restore"}
    attempt, seq = row.split("|")
    code = codes.get(attempt)
    if code is None:
        return {"ok": False, "why": f"no code known for {attempt}"}
    blob_dir = blob_dir if blob_dir is not None else Path(stack.env()["WAA_BLOB_DIR"])
    env = {
        **stack.env(),
        "WAA_DATABASE_URL": fresh.url(database),
        "WAA_REDIS_URL": stack.redis.url(2),
        "WAA_BLOB_DIR": str(blob_dir),
    }
    env.pop("WAA_BROKER_URL")
    port = args.api_port + 10
    api = Proc("api-restored", stack.api(port).argv, env, stack.root / "api-restored.log", port)
    try:
        api.start()
        base = f"http://127.0.0.1:{port}/api/v1"
        blobs = restored_blob_reads(base, world.slug, blob_dir, acks) if acks else {}
        r = httpx.post(f"{base}/attempts", json={"access_code": code}, timeout=30)
        body = r.json()
        if r.status_code not in (200, 201) or body["attempt"]["id"] != attempt:
            return {"ok": False, "start": r.status_code, "body": r.text[:300]}
        h = {"X-Attempt-Token": body["credential"]}
        ref = world.pop.item_identifiers[0]
        s = httpx.put(
            f"{base}/attempts/{attempt}/responses/{ref}",
            json={"seq": int(seq) + 1, "value": "B"},
            headers=h,
            timeout=30,
        )
        g = httpx.get(f"{base}/attempts/{attempt}", headers=h, timeout=30)
        ok = s.status_code == 200 and s.json().get("accepted") and g.status_code == 200
        return {
            "ok": bool(ok),
            "resumed": body.get("resumed"),
            "save": s.status_code,
            "seq": int(seq) + 1,
            "view": g.status_code,
            "blobs_ok": bool(blobs) and all(b.get("ok") for b in blobs.values()),
            "blobs": blobs,
        }
    finally:
        api.stop()


def without_blobs(resumed: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in resumed.items() if k not in ("blobs", "blobs_ok")}


def restored_blob_reads(
    base: str, slug: str, blob_dir: Path, acks: Acks
) -> dict[str, dict[str, Any]]:
    """The newest media file in ``acks`` downloaded through the API at ``base`` (signed in
    as the drill's administrator), and the newest candidate's upload read through the blob
    store on ``blob_dir``; each with whether its bytes hash to the acknowledged digest."""
    import hashlib

    import httpx

    from waa_ads.core.storage import BlobCorrupted, BlobNotFound, LocalBlobStore

    out: dict[str, dict[str, Any]] = {}
    media = [(at, sha, where) for at, sha, kind, where in acks.blob_log if kind == "media"]
    if media:
        at, sha, media_id = max(media)
        r = httpx.post(
            f"{base}/auth/token",
            data={"username": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "organization": slug},
            timeout=30,
        )
        got = {"status": r.status_code}
        if r.status_code == 200:
            d = httpx.get(
                f"{base}/media/{media_id}/content",
                headers={"Authorization": f"Bearer {r.json()['access_token']}"},
                timeout=30,
            )
            got = {"status": d.status_code, "bytes": len(d.content)}
            got["ok"] = d.status_code == 200 and hashlib.sha256(d.content).hexdigest() == sha
        out["media_via_api"] = {"media": media_id, "sha256": sha, "acked_at": at, **got}
    else:
        out["media_via_api"] = {"ok": False, "why": "no media acknowledged before the point"}
    uploads = [(at, sha, where) for at, sha, kind, where in acks.blob_log if kind == "upload"]
    if uploads:
        at, sha, where = max(uploads)
        try:
            data = asyncio.run(LocalBlobStore(blob_dir).get(sha))
            read: dict[str, Any] = {"ok": True, "bytes": len(data)}
        except (BlobNotFound, BlobCorrupted) as exc:
            read = {"ok": False, "error": type(exc).__name__}
        out["upload_via_blob_store"] = {"upload": where, "sha256": sha, "acked_at": at, **read}
    else:
        out["upload_via_blob_store"] = {"ok": False, "why": "no upload acknowledged before"}
    return out


async def _pause(load: Load, seconds: float) -> bool:
    """Wait ``seconds`` unless the load stops first; whether it stopped."""
    try:
        await asyncio.wait_for(load.stop.wait(), max(seconds, 0.0))
        return True
    except TimeoutError:
        return False


def drill_pitr(args: argparse.Namespace) -> dict[str, Any]:
    """Continuous archiving: a base backup under load, a restore target in the middle of the
    load and a copy of the blob directory just after it, then the base backup and the
    archived WAL recovered to that time into a fresh cluster and the copy into a fresh blob
    directory, where the saves and blobs acknowledged before it must be, the audit chains
    verify, an attempt resumes and a worker and beat bring everything to rest."""
    figures: dict[str, Any] = {}
    with make_stack(args, wal_archive=True) as stack:
        world = World(stack, args.roster, args.abandon_roster, args.short_limit)
        stack.start_processes()
        base = stack.pg.root / "base"
        blob_copy = stack.root / "blobs-backup"
        archive = stack.pg.archive_dir
        assert archive is not None

        async def fault(load: Load) -> None:
            t0 = time.monotonic()
            if await _pause(load, args.duration * 0.25):
                return
            figures["base_backup_started"] = time.time()
            took = await asyncio.to_thread(stack.pg.base_backup, base)
            figures["base_backup_s"] = round(took, 2)
            if await _pause(load, args.duration * 0.6 - (time.monotonic() - t0)):
                return
            figures["target"] = time.time()
            # The blob store copied after the target time (docs/operations.md), while the
            # load goes on writing.
            t = time.monotonic()
            figures["blobs_copied"] = await asyncio.to_thread(
                blobcheck.copy_blobs, Path(stack.env()["WAA_BLOB_DIR"]), blob_copy
            )
            figures["blob_copy_s"] = round(time.monotonic() - t, 2)

        load, took = run_with(args, stack, world, fault)
        drained = drain(stack, args.drain, world.abandon.organization_id)
        result = invariants(stack, load, drained)
        if "target" not in figures:
            raise RuntimeError(f"the load stopped before the restore target: {figures}")
        figures["last_segment"] = stack.pg.archive_current_wal()
        segments = [f for f in archive.iterdir() if len(f.name) == 24]
        figures["archived_segments"] = len(segments)
        figures["archive_bytes"] = sum(f.stat().st_size for f in archive.iterdir())
        figures["base_backup_bytes"] = sum(f.stat().st_size for f in base.rglob("*") if f.is_file())
        target = figures["target"]
        figures["target_time"] = datetime.fromtimestamp(target, UTC).isoformat(sep=" ")
        before = load.acks.before(target)
        restored = Stack(
            pg_port=args.pg_port + 1,
            redis_port=args.redis_port + 1,
            api_ports=[],
            root=stack.root / "restored",
            keep=True,  # inside the drill's directory, removed with it
            recover_from=(base, archive, figures["target_time"]),
        )
        with restored:
            assert restored.recovery_s is not None
            # The restore's blob store: a fresh directory, filled from the copy.
            figures["blobs_restored"] = blobcheck.copy_blobs(
                blob_copy, Path(restored.env()["WAA_BLOB_DIR"])
            )
            figures["recovery_s"] = round(restored.recovery_s, 2)
            figures["recovery_log"] = [
                line.split(":  ", 1)[-1]
                for line in restored.pg.log.read_text().splitlines()
                if "recovery stopping" in line or "last completed transaction" in line
            ]
            stored = stored_seqs(restored.pg, restored.database)
            later = sum(1 for k, seq in load.acks.saves.items() if stored.get(k, 0) < seq)
            newest = float(
                restored.pg.psql(
                    restored.database,
                    """SELECT extract(epoch FROM greatest(
                         (SELECT max(updated_at) FROM response),
                         (SELECT max(occurred_at) FROM audit_event)))""",
                )
            )
            resumed = resume_restored(
                args, restored, restored.pg, world, before.started, restored.database, acks=before
            )
            restored.start_processes()  # a worker and beat: the sweeps finish what was left
            drained_r = drain(restored, args.drain, world.abandon.organization_id)
            after = invariants(restored, load, drained_r, acks=before)
    checks = {
        "restore_stopped_at_target": (
            newest <= target and later > 0,
            f"newest row {round(newest - target, 3)} s from the target; {later} items saved "
            "again after it are at their earlier seq",
        ),
        "restored_attempt_resumes": (resumed.get("ok", False), without_blobs(resumed)),
        "restored_blob_downloads": (resumed.get("blobs_ok", False), resumed.get("blobs")),
    }
    for name, check in after["checks"].items():
        if name not in ("no_5xx_but_503", "every_503_has_retry_after"):  # the same load
            checks[f"restored_{name}"] = (check["ok"], check["detail"])
    result["checks"].update({k: {"ok": ok, "detail": d} for k, (ok, d) in checks.items()})
    result["pass"] = all(c["ok"] for c in result["checks"].values())
    return {
        "drill": "pitr",
        "duration_s": round(took, 1),
        "figures": figures,
        "acked_before_target": {
            "saves": len(before.ack_log),
            "items": len(before.saves),
            "submitted": len(before.submitted),
            "blobs": len(before.blobs()),
        },
        "restored_attempt_states": after["attempt_states"],
        "restored_drain": after["drain"],
        **load.summary(),
        **result,
    }


DRILLS = {
    "kill": drill_kill,
    "postgres": drill_postgres,
    "redis": drill_redis,
    "soak": drill_soak,
    "backup": drill_backup,
    "pitr": drill_pitr,
}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("drill", choices=[*DRILLS, "all"])
    parser.add_argument("--duration", type=float, default=180.0, help="seconds of load")
    parser.add_argument("--drain", type=float, default=240.0, help="longest wait for the queues")
    parser.add_argument("--candidates", type=int, default=24, help="candidates at once")
    parser.add_argument("--abandoners", type=int, default=4)
    parser.add_argument("--roster", type=int, default=400, help="access codes (submitters)")
    parser.add_argument("--abandon-roster", type=int, default=100)
    parser.add_argument("--short-limit", type=int, default=60, help="abandoners' time limit")
    parser.add_argument("--save-every", type=float, default=1.5)
    parser.add_argument("--saves-per-attempt", type=int, default=40)
    parser.add_argument(
        "--uploaders", type=int, default=2, help="candidates uploading files at once (0: none)"
    )
    parser.add_argument("--upload-roster", type=int, default=40, help="access codes (uploaders)")
    parser.add_argument("--uploads-per-attempt", type=int, default=3)
    parser.add_argument(
        "--media-every",
        type=int,
        default=4,
        help="staff ticks (3 s) between media uploads (0: none)",
    )
    parser.add_argument("--kill-every", type=float, nargs=2, default=(8.0, 20.0))
    parser.add_argument("--restarts", type=int, default=3)
    parser.add_argument("--down-for", type=float, nargs=2, default=(3.0, 8.0))
    parser.add_argument("--sample", type=float, default=15.0, help="soak sampling period")
    parser.add_argument("--samples-out")
    parser.add_argument("--pg-port", type=int, default=55432)
    parser.add_argument("--redis-port", type=int, default=56379)
    parser.add_argument("--api-port", type=int, default=58001)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the drill's directory")
    parser.add_argument("--out", help="append the JSON result to this file")
    args = parser.parse_args()
    names = list(DRILLS) if args.drill == "all" else [args.drill]
    ok = True
    for name in names:
        result = DRILLS[name](args)
        text = dumps(result)
        print(text, flush=True)
        if args.out:
            with open(args.out, "a") as f:
                f.write(text + "\n")
        ok = ok and bool(result["pass"])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
