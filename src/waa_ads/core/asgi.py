"""Small helpers for pure ASGI middleware that must read a request body before the app."""

from __future__ import annotations

import json
from typing import Any

from starlette.types import Message, Receive, Scope, Send

from waa_ads.core import i18n
from waa_ads.core.errors import PROBLEM_MEDIA_TYPE, PROBLEM_TYPE_BASE


async def read_body(receive: Receive) -> tuple[bytes, Message | None]:
    """The whole request body, and a message other than a body part if one came instead (a
    disconnect), which the app then gets as it would have."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), message
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks), None


def replay(body: bytes, pending: Message | None, receive: Receive) -> Receive:
    """A ``receive`` that hands the app ``body`` (already read) in one part, then the pending
    message, then whatever the connection sends next."""
    delivered = False

    async def replayed() -> Message:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        if pending is not None:
            return pending
        return await receive()

    return replayed


async def send_problem(
    scope: Scope,
    send: Send,
    *,
    status: int,
    code: str,
    title: str,
    detail: str,
    close: bool = False,
    **extra: Any,
) -> None:
    """Answer with an RFC 9457 problem from middleware, before any route ran (the same body
    the app's error handler writes: type, title, status, detail, instance, request id; the
    title, marked with ``N_`` where it is written, in the request's language)."""
    state: dict[str, Any] = scope.get("state", {})
    problem: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + code,
        "title": i18n.gettext(title),
        "status": status,
        "detail": detail,
        "instance": scope.get("path"),
        "request_id": state.get("request_id"),
        **extra,
    }
    payload = json.dumps(problem, ensure_ascii=True).encode()
    headers = [
        (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
        (b"content-length", str(len(payload)).encode()),
        (b"content-language", i18n.current().encode()),
    ]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
