"""The attempt's WebSocket event channel survives hostile messages: each is answered with an
error (the socket stays open), an oversized one closes it with 1009, and nothing raises in
the handler (which would drop the connection without a close frame)."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from tests.support.exams import begin, exam
from tests.support.factories import Factory
from tests.support.settings import make_settings
from waa_ads.core.safejson import UnsafeJson, nesting_depth, parse_bounded
from waa_ads.delivery.models import IntegrityEvent
from waa_ads.delivery.router import WS_MAX_MESSAGE_BYTES
from waa_ads.main import create_app

DEEP = '{"kind": "copy", "data": {"x": ' + "[" * 5000 + "]" * 5000 + "}}"
HOSTILE: list[tuple[str, str]] = [
    (DEEP, "too-deep"),
    ('{"kind": "copy", "data": {"t": NaN}}', "invalid-number"),
    ('{"kind": "copy", "data": {"t": -Infinity}}', "invalid-number"),
    ('{"kind": "copy", "data": {"t": "a\\u0000b"}}', "invalid-text"),
    ('{"kind": "copy", "data": {"t": "\\ud800"}}', "invalid-text"),
    ('{"kind": "copy", "data": {"a\\u0000": 1}}', "invalid-text"),
    ("[" * 5000, "too-deep"),
    ("not json", "invalid-json"),
    ("[1, 2]", "invalid-event"),
    ('{"kind": "teleport"}', "invalid-event"),
]


@pytest.mark.asyncio
async def test_hostile_messages_are_answered_and_the_socket_stays_open(
    live_app: FastAPI, live_client: Any, live_make: Factory
) -> None:
    ex = await exam(live_client, live_make)
    attempt_id, headers = await begin(live_client, ex.codes[0])
    token = headers["X-Attempt-Token"]

    def talk() -> tuple[list[dict[str, Any]], dict[str, Any], int]:
        # A second app on the same database: the test client runs it on a loop of its own.
        other = create_app(make_settings(database_url=live_app.state.db.url))
        url = f"/api/v1/attempts/{attempt_id}/ws?token={token}"
        with TestClient(other) as tc:
            with tc.websocket_connect(url) as ws:
                replies = []
                for message, _ in HOSTILE:
                    ws.send_text(message)
                    replies.append(ws.receive_json())
                ws.send_bytes(b'{"kind": "copy"}')
                replies.append(ws.receive_json())
                ws.send_text(json.dumps({"kind": "fullscreen_exit", "data": {"n": 1.5}}))
                last = ws.receive_json()
            with tc.websocket_connect(url) as ws:
                ws.send_text(
                    '{"kind": "copy", "data": {"x": "' + "a" * WS_MAX_MESSAGE_BYTES + '"}}'
                )
                with pytest.raises(WebSocketDisconnect) as closed:
                    ws.receive_json()
        return replies, last, closed.value.code

    replies, last, close_code = await asyncio.to_thread(talk)
    assert [r["ok"] for r in replies] == [False] * (len(HOSTILE) + 1)
    assert [r["code"] for r in replies] == [code for _, code in HOSTILE] + ["not-text"]
    assert last == {"ok": True}
    assert close_code == 1009

    async with live_app.state.db.transaction(write=False) as session:
        kinds = (
            (
                await session.execute(
                    select(IntegrityEvent.kind).where(
                        IntegrityEvent.attempt_id == uuid.UUID(attempt_id)
                    )
                )
            )
            .scalars()
            .all()
        )
    assert list(kinds) == ["fullscreen_exit"]


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        ("1", 0),
        ("[]", 1),
        ('{"a": [[{}]]}', 4),
        ('{"a": "[[[[[[[["}', 1),
        ('["\\"[[[", {}]', 2),
        ("[" * 100_000, 100_000),
    ],
)
def test_nesting_depth_ignores_brackets_in_strings(text: str, depth: int) -> None:
    assert nesting_depth(text.encode()) == depth


def test_parse_bounded_refuses_without_recursing() -> None:
    assert parse_bounded('{"a": [1, {"b": "[["}]}', max_bytes=100, max_depth=3) == {
        "a": [1, {"b": "[["}]
    }
    for raw, code in [
        ("[" * 200_000 + "]" * 200_000, "too-deep"),
        ('{"a": NaN}', "invalid-number"),
        ('"\\u0000"', "invalid-text"),
        ("x" * 101, "too-large"),
        ("{", "invalid-json"),
    ]:
        with pytest.raises(UnsafeJson) as refused:
            parse_bounded(raw, max_bytes=100 if code == "too-large" else 10**7, max_depth=16)
        assert refused.value.code == code, raw[:40]


@pytest.mark.asyncio
async def test_a_bad_credential_is_told_with_4404_after_the_handshake(
    live_app: FastAPI, live_client: Any, live_make: Factory
) -> None:
    """The socket opens, then closes with 4404: a close before the handshake would reach
    the player as 1006 (a network failure it retries forever)."""
    ex = await exam(live_client, live_make)
    attempt_id, _ = await begin(live_client, ex.codes[0])

    def refused() -> int:
        other = create_app(make_settings(database_url=live_app.state.db.url))
        url = f"/api/v1/attempts/{attempt_id}/ws?token=forged"
        # Entering the socket succeeds only when the server accepted it.
        with (
            TestClient(other) as tc,
            tc.websocket_connect(url) as ws,
            pytest.raises(WebSocketDisconnect) as closed,
        ):
            ws.receive_json()
        return closed.value.code

    assert await asyncio.to_thread(refused) == 4404
