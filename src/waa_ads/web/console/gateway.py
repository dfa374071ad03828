"""The console's only way to read or change anything: a request to the JSON API, in process.

Every page and every action of the console is one or more calls of the public API, made
inside the same process with the browser's own cookies (and, for a change, the CSRF token
the page's form carried, sent as ``X-CSRF-Token``). So the console checks exactly what the
API checks (roles, bank permissions, tenancy, validation) through the one authorization
path, and the API's problem+json is what the console shows next to the fields.

The call runs the whole application (middlewares, routing, error handlers) over ASGI,
without a socket: the outer request's connection facts (client, server, scheme) are passed
on, so per-client limits and the audit trail see the real caller, and the page's language
is asked for (``Accept-Language``), so refusals come back in the reader's language.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlencode

from fastapi import Request
from starlette.types import Message

from waa_ads.auth.deps import CSRF_COOKIE, CSRF_HEADER, REFRESH_COOKIE, SESSION_COOKIE
from waa_ads.core import i18n

#: The cookies the API reads; nothing else of the browser's is passed on.
_FORWARDED_COOKIES: Final = (SESSION_COOKIE, REFRESH_COOKIE, CSRF_COOKIE)
#: Outer-scope keys the inner request keeps (connection facts and the lifespan state).
_KEPT_SCOPE_KEYS: Final = ("client", "server", "scheme", "root_path", "http_version", "state")


@dataclass(frozen=True)
class FieldError:
    """One field the API refused, by its dotted location (``body.title``) and why."""

    name: str
    reason: str


@dataclass
class ApiReply:
    """What the API answered to one in-process call."""

    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def content_type(self) -> str:
        for name, value in self.headers:
            if name.lower() == b"content-type":
                return value.decode("latin-1")
        return ""

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    @property
    def problem(self) -> Problem | None:
        """The problem+json of a refusal, or ``None`` for a success."""
        if self.ok:
            return None
        data: Any = None
        if "json" in self.content_type:
            try:
                data = self.json()
            except ValueError:
                data = None
        if not isinstance(data, dict):
            return Problem(
                status=self.status, code="error", title=i18n.gettext("Error"), detail=None
            )
        return Problem.from_json(data, self.status)

    def set_cookies(self) -> list[bytes]:
        """The ``Set-Cookie`` headers of the reply, to hand on to the browser."""
        return [value for name, value in self.headers if name.lower() == b"set-cookie"]


@dataclass(frozen=True)
class Problem:
    """A refusal as the console shows it: the API's code, title, detail and field errors."""

    status: int
    code: str
    title: str
    detail: str | None
    fields: tuple[FieldError, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Mapping[str, Any], status: int) -> Problem:
        type_ = str(data.get("type", ""))
        code = type_.rsplit("/", 1)[-1] if type_ else "error"
        params = data.get("invalid_params") or []
        fields = tuple(
            FieldError(str(p.get("name", "")), str(p.get("reason", "")))
            for p in params
            if isinstance(p, Mapping)
        )
        known = {"type", "title", "status", "detail", "instance", "request_id", "invalid_params"}
        return cls(
            status=int(data.get("status", status)),
            code=code,
            title=str(data.get("title") or i18n.gettext("Error")),
            detail=None if data.get("detail") is None else str(data.get("detail")),
            fields=fields,
            extra={k: v for k, v in data.items() if k not in known},
        )

    def for_field(self, *names: str) -> str | None:
        """The reason given for the first of ``names`` (``title`` matches ``body.title``
        and ``body.title.x``), or ``None``."""
        for wanted in names:
            for f in self.fields:
                bare = f.name.removeprefix("body.").removeprefix("query.")
                if bare == wanted or bare.startswith(wanted + "."):
                    return f.reason
        return None


class Gateway:
    """Calls the API on behalf of the browser that sent ``request``."""

    def __init__(self, request: Request, *, csrf_token: str | None = None) -> None:
        self._request = request
        self._csrf = csrf_token
        self._cookies = {
            name: request.cookies[name] for name in _FORWARDED_COOKIES if name in request.cookies
        }

    @property
    def signed_in(self) -> bool:
        return SESSION_COOKIE in self._cookies

    @property
    def csrf_token(self) -> str:
        """The token a page puts in its forms: the session's double-submit value. A change
        is sent with the token its form carried, never with this cookie's value (which the
        browser would send on a forged request too)."""
        if self._csrf is not None:
            return self._csrf
        return self._cookies.get(CSRF_COOKIE, "")

    def use_cookies(self, reply: ApiReply) -> None:
        """Send the cookies ``reply`` set (a new session) with the following calls."""
        for raw in reply.set_cookies():
            pair = raw.decode("latin-1").split(";", 1)[0]
            name, _, value = pair.partition("=")
            if name in _FORWARDED_COOKIES:
                if value and value != '""':
                    self._cookies[name] = value
                else:
                    self._cookies.pop(name, None)

    async def get(self, path: str, params: Mapping[str, Any] | None = None) -> ApiReply:
        return await self.call("GET", path, params=params)

    async def post(self, path: str, body: Any = None, **kwargs: Any) -> ApiReply:
        return await self.call("POST", path, json_body=body, **kwargs)

    async def call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        content: bytes | None = None,
        content_type: str | None = None,
    ) -> ApiReply:
        """One API request, run by the application itself; its reply, whatever the status."""
        body = b""
        # The API answers in the page's language (its problem titles and reasons).
        headers: list[tuple[bytes, bytes]] = [
            (b"accept", b"application/json"),
            (b"accept-language", i18n.current().encode("ascii")),
        ]
        if content is not None:
            body = content
            headers.append((b"content-type", (content_type or "application/octet-stream").encode()))
        elif json_body is not None:
            body = json.dumps(json_body).encode()
            headers.append((b"content-type", b"application/json"))
        if body:
            headers.append((b"content-length", str(len(body)).encode()))
        if self._cookies:
            cookie = "; ".join(f"{k}={v}" for k, v in self._cookies.items())
            headers.append((b"cookie", cookie.encode("latin-1")))
        if method not in ("GET", "HEAD") and self._csrf:
            headers.append((CSRF_HEADER.lower().encode(), self._csrf.encode("latin-1")))
        outer_state = self._request.scope.get("state")
        request_id = (outer_state or {}).get("request_id") or self._request.headers.get(
            "x-request-id"
        )
        if request_id:
            headers.append((b"x-request-id", str(request_id).encode("latin-1")))
        user_agent = self._request.headers.get("user-agent")
        if user_agent:
            headers.append((b"user-agent", user_agent.encode("latin-1")))
        query = urlencode(_query_pairs(params or {}), doseq=True).encode()
        outer = self._request.scope
        scope: dict[str, Any] = {k: outer[k] for k in _KEPT_SCOPE_KEYS if k in outer}
        # The lifespan state is shared by design; the per-request state is not.
        scope["state"] = dict(outer.get("state") or {})
        scope.update(
            {
                "type": "http",
                "asgi": {"version": "3.0"},
                "method": method,
                "path": path,
                "raw_path": path.encode(),
                "query_string": query,
                "headers": headers,
            }
        )
        sent = False

        async def receive() -> Message:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        status = 500
        reply_headers: list[tuple[bytes, bytes]] = []
        chunks: list[bytes] = []

        async def send(message: Message) -> None:
            nonlocal status, reply_headers
            if message["type"] == "http.response.start":
                status = int(message["status"])
                reply_headers = list(message.get("headers", []))
            elif message["type"] == "http.response.body":
                chunks.append(bytes(message.get("body", b"")))

        try:
            await self._request.app(scope, receive, send)
        except Exception:
            # The application has answered 500 (and logged the error) before re-raising;
            # the page shows that answer instead of failing in turn.
            if status < 500:
                raise
        return ApiReply(status, reply_headers, b"".join(chunks))


def _query_pairs(params: Mapping[str, Any]) -> list[tuple[str, Any]]:
    pairs: list[tuple[str, Any]] = []
    for key, value in params.items():
        if value is None or value == "":
            continue
        if isinstance(value, Sequence) and not isinstance(value, str | bytes):
            pairs.extend((key, v) for v in value)
        elif isinstance(value, bool):
            pairs.append((key, "true" if value else "false"))
        else:
            pairs.append((key, value))
    return pairs


def multipart(
    fields: Mapping[str, str], files: Mapping[str, tuple[str, bytes, str]]
) -> tuple[bytes, str]:
    """A ``multipart/form-data`` body of ``fields`` and ``files`` (name: (filename, data,
    media type)), and its content type, to hand an upload on to the API."""
    boundary = "waa-" + secrets.token_hex(16)
    parts: list[bytes] = []
    for name, value in fields.items():
        head = f'--{boundary}\r\nContent-Disposition: form-data; name="{_quoted(name)}"\r\n\r\n'
        parts.append(head.encode() + value.encode() + b"\r\n")
    for name, (filename, data, media_type) in files.items():
        parts.append(
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="{_quoted(name)}"; '
                f'filename="{_quoted(filename)}"\r\nContent-Type: {media_type}\r\n\r\n'
            ).encode()
            + data
            + b"\r\n"
        )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def _quoted(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', "%22").replace("\r", "").replace("\n", "")
