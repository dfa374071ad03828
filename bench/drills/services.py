"""The drills' own PostgreSQL cluster, Redis server and product processes.

Nothing here touches the machine's shared PostgreSQL (5432) or Redis (6379): a drill makes
its own cluster with ``initdb`` in a temporary directory (run as the ``postgres`` user when
this script runs as root, since PostgreSQL refuses to run as root), its own
``redis-server`` on another port, and starts ``waa-ads serve``, ``waa-ads worker`` and
``waa-ads beat`` against them through ``WAA_*`` variables. :class:`Stack` is a context
manager: everything it started is stopped when it exits, also on an error.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import httpx

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench"
VENV_BIN = Path(sys.executable).parent
SECRET = "drill-secret-0123456789abcdef0123456789abcdef"

sys.path.insert(0, str(BENCH))


def pg_bin(name: str) -> str:
    """The newest installed PostgreSQL's binary ``name``."""
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise RuntimeError(f"no {name} under /usr/lib/postgresql/*/bin")
    return found[-1]


def port_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def wait_port(port: int, within_s: float) -> None:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if not port_free(port):
            return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port} after {within_s} s")


class PgCluster:
    """A PostgreSQL cluster of its own in ``root``, on ``port``."""

    def __init__(self, root: Path, port: int, archive: bool = False) -> None:
        self.root, self.port = root, port
        self.data = root / "pgdata"
        self.log = root / "postgres.log"
        # With ``archive``, every finished WAL segment is copied into ``archive_dir``
        # (continuous archiving, for a point-in-time restore).
        self.archive_dir = root / "wal-archive" if archive else None
        self._user = "postgres" if os.geteuid() == 0 else None

    def _run(self, argv: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
        if self._user is not None:
            argv = ["runuser", "-u", self._user, "--", *argv]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
        if check and done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed: {done.stderr.strip()}")
        return done

    def _own_root(self) -> None:
        """Make ``root``, owned by the server's user (when run as root)."""
        if not port_free(self.port):
            raise RuntimeError(f"port {self.port} is taken; pick another with --pg-port")
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root.parent, 0o755)  # mkdtemp makes it 0700; postgres must pass through
        if self._user is not None:
            pw = pwd.getpwnam(self._user)
            os.chown(self.root, pw.pw_uid, pw.pw_gid)

    def _append_conf(self, text: str) -> None:
        with (self.data / "postgresql.conf").open("a") as f:
            f.write(text)

    def _local_conf(self) -> str:
        """This cluster's own port and socket directory (later lines win)."""
        return (
            f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\n"
            f"unix_socket_directories = '{self.root}'\n"
        )

    def init(self) -> None:
        self._own_root()
        self._run([pg_bin("initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust"])
        conf = self._local_conf() + "max_connections = 200\nshared_buffers = 64MB\nfsync = on\n"
        if self.archive_dir is not None:
            self._run(["mkdir", "-p", str(self.archive_dir)])
            a = self.archive_dir
            conf += (
                "wal_level = replica\narchive_mode = on\n"
                f"archive_command = 'test ! -f {a}/%f && cp %p {a}/%f'\n"
            )
        self._append_conf(conf)

    def base_backup(self, to: Path) -> float:
        """``pg_basebackup`` of the running cluster into ``to`` (plain format, the WAL it
        needs streamed alongside, immediate checkpoint); the seconds it took."""
        t = time.monotonic()
        self._run(
            [pg_bin("pg_basebackup"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
             "-D", str(to), "-X", "stream", "-c", "fast"]
        )  # fmt: skip
        return time.monotonic() - t

    def archive_current_wal(self, within_s: float = 60.0) -> str:
        """Close the current WAL segment and wait (bounded) until it is archived; its name."""
        name = self.psql("postgres", "SELECT pg_walfile_name(pg_switch_wal())")
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            done = self.psql("postgres", "SELECT last_archived_wal FROM pg_stat_archiver")
            if done and done[8:24] >= name[8:24]:  # a segment, or a .backup file after it
                return name
            time.sleep(0.5)
        raise RuntimeError(f"WAL segment {name} not archived within {within_s} s")

    def recover(self, base: Path, archive: Path, target: str, within_s: float = 300.0) -> float:
        """Make this cluster from the base backup ``base``, replay the WAL in ``archive``
        up to ``target`` (a timestamp with time zone) and promote it; the seconds from the
        copy to the promoted server."""
        t = time.monotonic()
        self._own_root()
        self._run(["cp", "-a", str(base), str(self.data)])
        self._append_conf(
            self._local_conf() + "archive_mode = off\n"
            f"restore_command = 'cp {archive}/%f %p'\n"
            f"recovery_target_time = '{target}'\nrecovery_target_action = 'promote'\n"
        )
        self._run(["touch", str(self.data / "recovery.signal")])
        self.start()
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            with contextlib.suppress(subprocess.CalledProcessError):
                if self.psql("postgres", "SELECT pg_is_in_recovery()") == "f":
                    return time.monotonic() - t
            time.sleep(0.5)
        tail = self.log.read_text()[-2000:] if self.log.exists() else ""
        raise RuntimeError(f"recovery not finished within {within_s} s: {tail}")

    def start(self) -> None:
        self._run([pg_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "start"])

    def stop(self, mode: str = "fast") -> None:
        self._run([pg_bin("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"], check=False)

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    @property
    def server_url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    def dsn(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def psql(self, database: str, sql: str) -> str:
        out = subprocess.run(
            [pg_bin("psql"), "-XAtq", "-v", "ON_ERROR_STOP=1", self.dsn(database), "-c", sql],
            check=True,
            capture_output=True,
            text=True,
            timeout=120,
        )
        return out.stdout.strip()


class RedisServer:
    """A redis-server of its own on ``port`` (nothing kept on disk)."""

    def __init__(self, root: Path, port: int) -> None:
        self.root, self.port = root, port
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        if not port_free(self.port):
            raise RuntimeError(f"port {self.port} is taken; pick another with --redis-port")
        self.root.mkdir(parents=True, exist_ok=True)
        argv = [
            shutil.which("redis-server") or "redis-server",
            "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", str(self.root), "--logfile", str(self.root / "redis.log"),
        ]  # fmt: skip
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.port, 20)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def cli(self, *args: str) -> str:
        out = subprocess.run(
            ["redis-cli", "-p", str(self.port), *args],
            check=True,
            capture_output=True,
            text=True,
            timeout=30,
        )
        return out.stdout.strip()

    def url(self, db: int) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"


@dataclass
class Proc:
    """One product process (API, worker or beat) the drill may kill and start again."""

    kind: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    port: int | None = None
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0
    kills: int = 0

    def start(self, within_s: float = 60.0) -> float:
        t0 = time.monotonic()
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                self.argv,
                env={**os.environ, **self.env},
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
                start_new_session=True,  # its own process group: a kill reaches its children
            )
        self.starts += 1
        if self.port is not None:
            with httpx.Client(timeout=2.0) as client:
                while time.monotonic() - t0 < within_s:
                    if self.proc.poll() is not None:
                        raise RuntimeError(f"{self.kind} exited; see {self.log}")
                    try:
                        if client.get(f"http://127.0.0.1:{self.port}/healthz").status_code == 200:
                            return time.monotonic() - t0
                    except httpx.TransportError:
                        pass
                    time.sleep(0.1)
                raise RuntimeError(f"{self.kind} not healthy within {within_s} s; see {self.log}")
        return time.monotonic() - t0

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill9(self, whole_group: bool = True) -> None:
        """SIGKILL the process (and, by default, its children: prefork pool, uvicorn
        workers), as a crash or the kernel's OOM killer would."""
        if not self.alive():
            return
        assert self.proc is not None
        try:
            if whole_group:
                os.killpg(self.proc.pid, signal.SIGKILL)
            else:
                os.kill(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()
        self.kills += 1

    def stop(self) -> None:
        if not self.alive():
            if self.proc is not None:
                self._reap_group()
            return
        assert self.proc is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=20)
        self._reap_group()

    def _reap_group(self) -> None:
        assert self.proc is not None
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)


def children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def tree(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children(p))
    return out


@dataclass
class Stack:
    """PostgreSQL + Redis + N API processes + M workers + beat, all of the drill's own."""

    pg_port: int = 55432
    redis_port: int = 56379
    api_ports: list[int] = field(default_factory=lambda: [58001, 58002])
    workers: int = 1
    worker_concurrency: int = 1
    database: str = "waa"
    visibility_timeout_s: int = 60
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="waa-drill-")))
    keep: bool = False
    wal_archive: bool = False  # archive the cluster's WAL (see PgCluster)
    # (base backup, WAL archive, target time): the cluster is recovered from them to that
    # time instead of being made with initdb (and is not migrated).
    recover_from: tuple[Path, Path, str] | None = None

    def __post_init__(self) -> None:
        self.pg = PgCluster(self.root / "pg", self.pg_port, archive=self.wal_archive)
        self.recovery_s: float | None = None
        self.redis = RedisServer(self.root / "redis", self.redis_port)
        self.apis: list[Proc] = []
        self.workers_: list[Proc] = []
        self.beat: Proc | None = None

    @property
    def db_url(self) -> str:
        return self.pg.url(self.database)

    def env(self) -> dict[str, str]:
        return {
            "WAA_ENV": "production",
            "WAA_SECRET_KEY": SECRET,
            "WAA_DATABASE_URL": self.db_url,
            "WAA_DATABASE_POOL_SIZE": "4",
            "WAA_REDIS_URL": self.redis.url(0),
            "WAA_BROKER_URL": self.redis.url(1),
            "WAA_TASK_VISIBILITY_TIMEOUT_S": str(self.visibility_timeout_s),
            "WAA_DATA_DIR": str(self.root / "data"),
            "WAA_BLOB_DIR": str(self.root / "blobs"),
            "WAA_LOG_LEVEL": "WARNING",
            "WAA_COOKIE_SECURE": "false",
            "WAA_EXPIRY_SWEEP_INTERVAL_S": "5",
            # Bench hashing cost: logins are few, the machine is small and shared.
            "WAA_ARGON2_MEMORY_KIB": "8192",
            "WAA_ARGON2_TIME_COST": "1",
        }

    def __enter__(self) -> Stack:
        try:
            if self.recover_from is not None:
                self.recovery_s = self.pg.recover(*self.recover_from)
                self.redis.start()
                return self
            self.pg.init()
            self.pg.start()
            self.pg.psql("postgres", f'CREATE DATABASE "{self.database}"')
            self.redis.start()
            from waa_ads.core import migrate

            migrate.upgrade(self.db_url)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def api(self, port: int) -> Proc:
        argv = [str(VENV_BIN / "waa-ads"), "serve", "--host", "127.0.0.1", "--port", str(port)]
        argv += ["--workers", "1", "--no-migrate"]
        return Proc("api", argv, self.env(), self.root / f"api-{port}.log", port=port)

    def start_processes(self) -> None:
        for port in self.api_ports:
            p = self.api(port)
            p.start()
            self.apis.append(p)
        for n in range(self.workers):
            argv = [str(VENV_BIN / "waa-ads"), "worker", "--concurrency"]
            argv += [str(self.worker_concurrency), "--hostname", f"drill{n}@%h"]
            w = Proc("worker", argv, self.env(), self.root / f"worker-{n}.log")
            w.start()
            self.workers_.append(w)
        self.beat = Proc(
            "beat", [str(VENV_BIN / "waa-ads"), "beat"], self.env(), self.root / "beat.log"
        )
        self.beat.start()

    def processes(self) -> list[Proc]:
        return [*self.apis, *self.workers_, *([self.beat] if self.beat else [])]

    def close(self) -> None:
        for p in self.processes():
            p.stop()
        self.redis.stop()
        if self.pg.running():
            self.pg.stop("fast")
        if not self.keep:
            shutil.rmtree(self.root, ignore_errors=True)
