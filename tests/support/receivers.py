"""A small HTTP server that records what it receives, for tests of outgoing calls
(webhooks, LTI services): it runs on a thread of the test process, on a free port.

Each path answers as configured with :meth:`Receiver.answer` (status, body, and a delay
that makes a slow receiver); unconfigured paths answer 200 ``{}``. Every request is kept
with its method, path, headers, body and arrival time.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Answer:
    status: int = 200
    body: bytes = b"{}"
    delay_s: float = 0.0
    content_type: str = "application/json"


Handler = Callable[[Received], tuple[int, bytes, str]]


@dataclass
class Receiver:
    base_url: str
    received: list[Received] = field(default_factory=list)
    answers: dict[str, Answer] = field(default_factory=dict)
    handlers: dict[str, Handler] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    arrived: threading.Condition = field(init=False)

    def __post_init__(self) -> None:
        self.arrived = threading.Condition(self.lock)

    def answer(
        self, path: str, status: int = 200, body: bytes = b"{}", delay_s: float = 0.0
    ) -> str:
        self.answers[path] = Answer(status, body, delay_s)
        return self.base_url + path

    def handle(self, path: str, handler: Handler) -> str:
        """Answer ``path`` (prefix match) with ``handler(request) -> (status, body, type)``."""
        self.handlers[path] = handler
        return self.base_url + path

    def at(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path.split("?")[0] == path]

    def wait_for(self, path: str, count: int, timeout_s: float = 20.0) -> list[Received]:
        """The requests to ``path`` once there are ``count`` of them (AssertionError after
        ``timeout_s``); woken by each arrival, no polling."""
        deadline = time.monotonic() + timeout_s
        with self.arrived:
            while True:
                got = [r for r in self.received if r.path.split("?")[0] == path]
                if len(got) >= count:
                    return got
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{len(got)} of {count} requests to {path} arrived")
                self.arrived.wait(left)


@contextmanager
def receiver() -> Iterator[Receiver]:
    box: dict[str, Receiver] = {}

    class _Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            rec = box["r"]
            length = int(self.headers.get("Content-Length") or 0)
            request = Received(
                self.command,
                self.path,
                {k.lower(): v for k, v in self.headers.items()},
                self.rfile.read(length) if length else b"",
                time.monotonic(),
            )
            with rec.arrived:
                rec.received.append(request)
                rec.arrived.notify_all()
            path = self.path.split("?")[0]
            handler = next((h for p, h in rec.handlers.items() if path.startswith(p)), None)
            if handler is not None:
                status, body, ctype = handler(request)
            else:
                answer = rec.answers.get(path, Answer())
                if answer.delay_s:
                    time.sleep(answer.delay_s)  # a slow receiver, on purpose
                status, body, ctype = answer.status, answer.body, answer.content_type
            try:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass

        do_GET = do_POST = do_PUT = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    box["r"] = Receiver(f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield box["r"]
    finally:
        server.shutdown()
        server.server_close()
