"""No credential, token, password or access code reaches a log line.

A real server process (``waa-ads serve``) logs at DEBUG while an administrator logs in and
refreshes, and a candidate takes a whole attempt over HTTP and the WebSocket (whose
credential travels in the query string); then everything the demo loader and the server
wrote to their logs is scanned for each secret that went over the wire.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets.sync.client

from tests.support.servers import free_port, serve
from waa_ads.core.logging import REDACTED, redact_secrets


@dataclass
class Demo:
    url: str
    codes: list[str]
    email: str
    password: str
    log: Path
    loader_log: str


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    data_dir = tmp_path_factory.mktemp("log-secrets")
    env = {k: v for k, v in os.environ.items() if not k.startswith("WAA_")}
    env.update({"WAA_ENV": "test", "WAA_DATA_DIR": str(data_dir), "WAA_LOG_LEVEL": "DEBUG"})
    port = free_port()
    loaded = subprocess.run(
        [sys.executable, "-m", "waa_ads", "demo", "--url", f"http://127.0.0.1:{port}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    )
    codes = re.findall(r"\b[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}\b", loaded.stdout)
    email = re.search(r"admin e-mail:\s+(\S+)", loaded.stdout)
    password = re.search(r"admin password:\s+(\S+)", loaded.stdout)
    assert codes and email and password, loaded.stdout
    log = data_dir / "server.log"
    with serve(env, log, port=port) as url:
        yield Demo(url, codes, email.group(1), password.group(1), log, loaded.stderr)


def _secrets_of_a_whole_session(demo: Demo) -> list[str]:
    """Drive the server as staff and as a candidate; return every secret that was sent."""
    secrets = [demo.password, *demo.codes]
    with httpx.Client(base_url=demo.url, timeout=30) as http:
        pair = http.post(
            "/api/v1/auth/token", data={"username": demo.email, "password": demo.password}
        )
        assert pair.status_code == 200, pair.text
        tokens = pair.json()
        bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
        assert http.get("/api/v1/auth/me", headers=bearer).status_code == 200
        refreshed = http.post(
            "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
        )
        assert refreshed.status_code == 200, refreshed.text
        secrets += [tokens["access_token"], tokens["refresh_token"], *refreshed.json().values()]
        # A wrong password is logged as a failed login, without the password tried.
        wrong = "not-the-password-" + demo.password
        assert (
            http.post(
                "/api/v1/auth/token", data={"username": demo.email, "password": wrong}
            ).status_code
            == 401
        )
        secrets.append(wrong)

        started = http.post("/api/v1/attempts", json={"access_code": demo.codes[0]})
        assert started.status_code in (200, 201), started.text
        attempt_id = started.json()["attempt"]["id"]
        credential = started.json()["credential"]
        secrets.append(credential)
        header = {"X-Attempt-Token": credential}
        view = http.get(f"/api/v1/attempts/{attempt_id}", headers=header)
        assert view.status_code == 200, view.text
        first = view.json()["items"][0]
        saved = http.put(
            f"/api/v1/attempts/{attempt_id}/responses/{first['ref']}",
            headers=header,
            json={"seq": 1, "value": None},
        )
        assert saved.status_code < 500, saved.text
        # A credential put in a query string by mistake is not logged either.
        http.get(f"/api/v1/attempts/{attempt_id}", params={"token": credential})
        ws_url = demo.url.replace("http://", "ws://") + f"/api/v1/attempts/{attempt_id}/ws"
        with websockets.sync.client.connect(f"{ws_url}?token={credential}") as socket_:
            socket_.send(json.dumps({"events": [{"kind": "focus_lost", "client_time": 1.0}]}))
            socket_.recv(timeout=10)
        submitted = http.post(f"/api/v1/attempts/{attempt_id}/submit", headers=header)
        assert submitted.status_code == 200, submitted.text
        # Signed media URLs carry a signature; an item with a picture gives one.
        pictures = re.findall(r"sig=([A-Za-z0-9_-]{16,})", view.text)
        secrets += pictures
    return [s for s in secrets if isinstance(s, str) and len(s) >= 8]


def test_no_secret_reaches_the_logs(demo: Demo) -> None:
    secrets = _secrets_of_a_whole_session(demo)
    time.sleep(0.5)  # let the server flush the last lines
    server_log = demo.log.read_text()
    assert "/ws" in server_log, "the WebSocket connection was not logged at all"
    assert "/api/v1/attempts" in server_log
    for text, where in ((server_log, "server"), (demo.loader_log, "demo loader")):
        leaked = [s[:6] + "..." for s in secrets if s in text]
        assert not leaked, f"{len(leaked)} secrets in the {where} log: {leaked}"
    assert REDACTED in server_log, "the query-string credential was not masked"


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("event", "GET /x/ws?token=abc.1.def&n=2", f"GET /x/ws?token={REDACTED}&n=2"),
        ("event", '{"password": "hunter22"}', f'{{"password": "{REDACTED}"}}'),
        ("access_code", "K7QM-2XHD-9RTA-BC4W", REDACTED),
        ("event", "exit code: 3, barcode=7", "exit code: 3, barcode=7"),
        ("event", "Bearer eyJhbGciOi.eyJzdWIiOiIxMjM0.dozjgNryP4J3jVm", f"Bearer {REDACTED}"),
        ("path", "/api/v1/media/signed/o/s?sig=abcdef", f"/api/v1/media/signed/o/s?sig={REDACTED}"),
    ],
)
def test_redaction_masks_values_not_words(field: str, value: str, expected: Any) -> None:
    assert redact_secrets(None, "info", {field: value})[field] == expected
