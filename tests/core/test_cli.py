from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from typer.testing import CliRunner

from waa_ads.cli import app
from waa_ads.core import migrate

runner = CliRunner()


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WAA_")}
    env.update({"WAA_DATA_DIR": str(tmp_path), "WAA_LOG_JSON": "true"}, **extra)
    return env


def test_db_upgrade_creates_the_sqlite_file_at_head(tmp_path: Path) -> None:
    result = runner.invoke(app, ["db", "upgrade"], env=_env(tmp_path))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "waa.db").is_file()
    assert migrate.heads()[0] in result.output

    current = runner.invoke(app, ["db", "current"], env=_env(tmp_path))
    assert current.exit_code == 0
    assert f"current: {migrate.heads()[0]}" in current.output


def test_db_current_fails_on_an_unmigrated_database(tmp_path: Path) -> None:
    result = runner.invoke(app, ["db", "current"], env=_env(tmp_path))
    assert result.exit_code == 1
    assert "(empty database)" in result.output


def test_production_with_default_secret_refuses_to_start(tmp_path: Path) -> None:
    result = runner.invoke(app, ["serve", "--port", "1"], env=_env(tmp_path, WAA_ENV="production"))
    assert result.exit_code == 2
    assert "WAA_SECRET_KEY" in result.output


def test_serve_with_workers_and_no_redis_warns_that_live_news_stays_in_one(
    tmp_path: Path,
) -> None:
    with socket.socket() as taken:  # the server cannot bind: it stops right after the warning
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        several = runner.invoke(
            app, ["serve", "--no-migrate", "--workers", "2", "--port", port], env=_env(tmp_path)
        )
        one = runner.invoke(app, ["serve", "--no-migrate", "--port", port], env=_env(tmp_path))
    assert "no WAA_REDIS_URL" in " ".join(several.output.split())
    assert "WAA_REDIS_URL" not in one.output


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_serve_starts_a_working_server(tmp_path: Path) -> None:
    """The Quickstart path: a fresh data directory, `waa-ads serve`, a healthy server."""
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "waa_ads", "serve", "--port", str(port)],
        env=_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1)
                break
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    output = proc.stdout.read().decode() if proc.stdout else ""
                    raise AssertionError(f"server did not come up:\n{output}") from None
                time.sleep(0.2)
        assert response.status_code == 200
        assert response.json()["dependencies"]["database"]["status"] == "ok"
        assert (tmp_path / "waa.db").is_file()
    finally:
        proc.terminate()
        proc.wait(timeout=15)
