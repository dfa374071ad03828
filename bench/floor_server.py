"""The floor for autosave: the least an HTTP server can do per save on this stack.

A raw ASGI app (no framework, no validation, no authentication) served by the same uvicorn
as the product, with an asyncpg pool, answering the autosave route shape

    PUT /api/v1/attempts/{attempt_id}/responses/{item_ref}   {"seq": n, "value": ...}

with one statement per request:

    INSERT ... ON CONFLICT (attempt_id, item_ref) DO UPDATE ... WHERE seq < excluded.seq

into its own table ``bench_floor_response`` (created if missing), and the same answers as the
product: ``{"accepted": true, "seq": n}`` or ``{"accepted": false, "current_seq": n}`` (that
second case costs one more query, as a stale save is rare). ``GET /healthz`` answers 200.

    BENCH_FLOOR_DSN=postgresql://postgres@127.0.0.1:5432/DB \\
        uv run uvicorn floor_server:app --app-dir bench --port 8101 --log-level warning

``BENCH_FLOOR_POOL`` sets the pool size (default 20: the product's pool of 10 plus its
overflow of 10).
"""

from __future__ import annotations

import json
import os
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import asyncpg

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

TABLE = "bench_floor_response"
CREATE = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    attempt_id text NOT NULL,
    item_ref text NOT NULL,
    seq bigint NOT NULL,
    value jsonb NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (attempt_id, item_ref)
)
"""
UPSERT = f"""
INSERT INTO {TABLE} AS r (attempt_id, item_ref, seq, value, updated_at)
VALUES ($1, $2, $3, $4::jsonb, now())
ON CONFLICT (attempt_id, item_ref) DO UPDATE
    SET seq = excluded.seq, value = excluded.value, updated_at = excluded.updated_at
    WHERE r.seq < excluded.seq
RETURNING r.seq
"""
CURRENT = f"SELECT seq FROM {TABLE} WHERE attempt_id = $1 AND item_ref = $2"
PREFIX = "/api/v1/attempts/"

_state: dict[str, asyncpg.Pool] = {}  # "pool", set by the lifespan


async def create_table(dsn: str) -> None:
    """Create the floor's table; safe to call from several processes at once."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(CREATE)
    except asyncpg.UniqueViolationError:
        pass  # another worker created it between our check and our insert into pg_type
    finally:
        await conn.close()


async def _reply(send: Send, status: int, payload: dict[str, Any]) -> None:
    body = json.dumps(payload, separators=(",", ":")).encode()
    # a content-length, as the product's JSON responses carry (else uvicorn sends chunks)
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            dsn = os.environ["BENCH_FLOOR_DSN"]
            size = int(os.environ.get("BENCH_FLOOR_POOL", "20"))
            await create_table(dsn)
            _state["pool"] = await asyncpg.create_pool(dsn, min_size=size, max_size=size)
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            if "pool" in _state:
                await _state.pop("pool").close()
            await send({"type": "lifespan.shutdown.complete"})
            return


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    path: str = scope["path"]
    if scope["method"] == "GET" and path == "/healthz":
        await _reply(send, 200, {"status": "ok"})
        return
    parts = path[len(PREFIX) :].split("/") if path.startswith(PREFIX) else []
    if scope["method"] != "PUT" or len(parts) != 3 or parts[1] != "responses":
        await _reply(send, 404, {"detail": "not found"})
        return
    attempt_id, item_ref = parts[0], parts[2]
    try:
        payload = json.loads(await _body(receive))
        seq = int(payload["seq"])
        value = json.dumps(payload["value"])
    except (ValueError, KeyError, TypeError):
        await _reply(send, 422, {"detail": "expected {seq, value}"})
        return
    async with _state["pool"].acquire() as conn:
        stored = await conn.fetchval(UPSERT, attempt_id, item_ref, seq, value)
        if stored is not None:
            await _reply(send, 200, {"accepted": True, "seq": stored})
            return
        current = await conn.fetchval(CURRENT, attempt_id, item_ref)
    await _reply(send, 200, {"accepted": False, "current_seq": current})
