"""Pure ASGI middleware: request ids and access logging, and the request body size limit."""

from __future__ import annotations

import logging
import os
import re
import time

import structlog
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from waa_ads.core import i18n
from waa_ads.core.asgi import send_problem
from waa_ads.core.i18n import N_

REQUEST_ID_HEADER = "x-request-id"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

log = structlog.get_logger("waa_ads.http")
_access = logging.getLogger("waa_ads.http")


class RequestContextMiddleware:
    """Gives each request an id (the caller's ``X-Request-ID`` if well-formed), binds it to
    every log line written while the request runs, returns it in the response header, and
    writes one access log line per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        incoming = _header(scope, REQUEST_ID_HEADER)
        request_id = (
            incoming if incoming and _VALID_REQUEST_ID.match(incoming) else os.urandom(16).hex()
        )
        scope.setdefault("state", {})["request_id"] = request_id
        status_holder: dict[str, int] = {}
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                headers = list(message.get("headers", []))
                headers.append((REQUEST_ID_HEADER.encode(), request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        tokens = structlog.contextvars.bind_contextvars(request_id=request_id)
        # The language of this request, until a page that knows better (the candidate's,
        # the organization's) chooses another: the reader's choice, else their browser's.
        locale_token = i18n.locale_var.set(
            i18n.negotiate(
                i18n.cookie_choice(_header(scope, "cookie")),
                accept_language=_header(scope, "accept-language"),
            )
        )
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            i18n.locale_var.reset(locale_token)
            # The access line only when it is written (WAA_LOG_LEVEL=WARNING drops it): a
            # level check is cheaper than building the line for structlog to drop.
            if scope["type"] == "http" and _access.isEnabledFor(logging.INFO):
                log.info(
                    "request",
                    method=scope.get("method"),
                    path=scope.get("path"),
                    status=status_holder.get("status", 500),
                    duration_ms=round((time.perf_counter() - started) * 1000, 2),
                )
            structlog.contextvars.reset_contextvars(**tokens)


class BodySizeLimitMiddleware:
    """Refuses request bodies larger than ``max_bytes`` with a 413 problem.

    Checks the declared Content-Length first, then counts the bytes actually streamed, so a
    chunked upload without a length cannot slip past the limit.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _header(scope, "content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._reject(scope, send)
            return

        received = 0
        response_started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _BodyTooLarge(self.max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _BodyTooLarge:
            if not response_started:
                await self._reject(scope, send)

    async def _reject(self, scope: Scope, send: Send) -> None:
        await send_problem(
            scope,
            send,
            status=413,
            code="payload-too-large",
            title=N_("Payload too large"),
            detail=f"The request body exceeds the limit of {self.max_bytes} bytes.",
            close=True,
        )


class _BodyTooLarge(HTTPException):
    """Raised from ``receive``: an HTTPException, so FastAPI's body parsing re-raises it
    (instead of turning it into a 400) and the problem handler renders it as a 413."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"The request body exceeds the limit of {max_bytes} bytes.")


def _header(scope: Scope, name: str) -> str | None:
    wanted = name.encode()
    for key, value in scope.get("headers", []):
        if key.lower() == wanted:
            return bytes(value).decode("latin-1")
    return None
