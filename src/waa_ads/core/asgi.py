"""Small helpers for pure ASGI middleware that must read a request body before the app."""

from __future__ import annotations

from starlette.types import Message, Receive


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
