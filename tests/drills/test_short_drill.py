"""A short run of the reliability drill harness (``bench/drills/``) inside the suite.

It starts what an exam day runs (its own PostgreSQL cluster and Redis, two API processes,
a Celery worker and beat), drives simulated candidates, a proctor and an administrator
against them (candidates also upload files, the administrator pictures for the media
library), kills processes with SIGKILL at random moments and restarts them, then checks the
drill's invariants: every acknowledged save and upload stored with its seq, no 5xx but 503
(and every 503 with Retry-After), no attempt scored twice, every submitted attempt scored,
the queues drained, the audit chains verifying, every blob the database refers to in the
blob store with the right digest and every acknowledged blob referred to. The full drills
(minutes to half an hour, PostgreSQL and Redis restarts, backup and restore) run from
``bench/``; see docs/reliability.md.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _free_port_block(size: int) -> int:
    """A port with ``size`` free ports from it (the drill takes consecutive API ports)."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            start = int(probe.getsockname()[1])
        if start + size >= 65535:
            continue
        held: list[socket.socket] = []
        try:
            for port in range(start, start + size):
                s = socket.socket()
                held.append(s)
                s.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            for s in held:
                s.close()
        return start
    raise RuntimeError("no block of free ports")


def test_processes_killed_under_load_lose_no_acknowledged_save_and_leave_nothing_stuck(
    tmp_path: Path,
) -> None:
    out = tmp_path / "drill.json"
    ports = _free_port_block(4)
    completed = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "drills" / "drill.py"),
            "kill",
            "--duration",
            "35",  # room for two kills when a restart takes 15 s on a busy machine
            "--drain",
            "120",
            "--candidates",
            "6",
            "--abandoners",
            "2",
            "--roster",
            "60",
            "--abandon-roster",
            "20",
            "--short-limit",
            "15",
            "--saves-per-attempt",
            "8",
            "--kill-every",
            "5",
            "9",
            "--media-every",
            "2",
            "--pg-port",
            str(ports),
            "--redis-port",
            str(ports + 1),
            "--api-port",
            str(ports + 2),
            "--out",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert out.exists(), completed.stderr[-4000:]
    result = json.loads(out.read_text())
    failed = {name: check for name, check in result["checks"].items() if not check["ok"]}
    assert not failed, failed
    assert completed.returncode == 0, completed.stderr[-4000:]
    # The drill did what it says: processes were killed, saves were acknowledged across
    # the kills, and candidates submitted and were scored.
    assert sum(result["kills"].values()) >= 2
    assert result["acknowledged_saves"] > 20
    assert result["attempts_submitted"] > 0
    # Blobs were written across the kills and every one the database names was checked.
    written = result["blobs_written"]
    assert written["uploads"] > 0 and written["media"] > 0, written
    present = result["checks"]["blobs_present"]["detail"]
    assert present["checked"] >= written["uploads"] + written["media"], present
    assert present["missing"] == present["corrupted"] == []
