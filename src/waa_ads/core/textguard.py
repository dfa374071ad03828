"""Text no database can store is refused (or, for a candidate's answer, made storable) at
the edge, before any route sees it.

PostgreSQL's text cannot hold U+0000, UTF-8 cannot encode a lone surrogate (``\\ud800``),
and ``NaN``/``Infinity`` are not JSON numbers. Left alone they travel to the database and
fail there as a 500. :class:`TextInputMiddleware` checks the path, the query string, and
JSON and form bodies of every request: such input is a 422 problem (``invalid-text``) that
names where it was found. On the paths given as ``keep_answer_paths`` (a candidate's
autosave) refusing would lose an answer for its content, so there NUL characters are removed
and lone surrogates become U+FFFD, and the save goes on; ``NaN`` is refused everywhere.

Bodies are only parsed a second time when their bytes contain something suspicious (a
``\\u`` escape, a NUL byte, ``NaN`` or ``Infinity``), so ordinary requests pay one scan.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import unquote_to_bytes

from starlette.types import ASGIApp, Receive, Scope, Send

from waa_ads.core.asgi import read_body, replay, send_problem
from waa_ads.core.i18n import N_

_SURROGATE = re.compile("[\ud800-\udfff]")
_SUSPICIOUS = re.compile(rb"\\u|\x00|NaN|Infinity")
_PERCENT_SUSPICIOUS = re.compile(rb"%00|%[eE][dD]|\x00|%[89a-fA-F][0-9a-fA-F]")


class BadText(ValueError):
    """Input that cannot be stored, with where it was found."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"{where}: {reason}")
        self.where = where
        self.reason = reason


def _text_problem(text: str) -> str | None:
    if "\x00" in text:
        return "contains a NUL character (U+0000), which cannot be stored"
    if _SURROGATE.search(text):
        return "contains a lone UTF-16 surrogate, which is not valid Unicode text"
    return None


def _check_encoded(raw: bytes, where: str) -> str:
    """Percent-decode ``raw`` (a path or a query/form value) and check it as UTF-8 text."""
    decoded = unquote_to_bytes(raw.replace(b"+", b" "))
    if b"\x00" in decoded:
        raise BadText(where, "contains a NUL character (U+0000), which cannot be stored")
    try:
        return decoded.decode("utf-8")
    except UnicodeDecodeError:
        raise BadText(where, "is not valid UTF-8 text") from None


def check_urlencoded(raw: bytes, kind: str) -> None:
    """Check every name and value of a query string or form body."""
    if not _PERCENT_SUSPICIOUS.search(raw):
        return
    for pair in raw.split(b"&"):
        name_raw, _, value_raw = pair.partition(b"=")
        try:
            name = _check_encoded(name_raw, f"{kind} parameter name")
        except BadText as exc:
            raise BadText(f"{kind} parameter name", exc.reason) from None
        _check_encoded(value_raw, f"{kind} parameter {name!r}")


def _reject_constant(token: str) -> Any:
    raise BadText("body", f"{token} is not a JSON number")


def _clean(value: Any, where: str, *, keep: bool) -> Any:
    """Walk a decoded JSON value: raise on unstorable text, or (``keep``) repair it."""
    if isinstance(value, str):
        reason = _text_problem(value)
        if reason is None:
            return value
        if not keep:
            raise BadText(where, reason)
        return _SURROGATE.sub("\ufffd", value.replace("\x00", ""))
    if isinstance(value, list):
        return [_clean(v, f"{where}[{i}]", keep=keep) for i, v in enumerate(value)]
    if isinstance(value, dict):
        cleaned: dict[str, Any] = {}
        for key, item in value.items():
            name = _clean(key, f"{where} (a key)", keep=keep)
            cleaned[name] = _clean(item, f"{where}.{key}", keep=keep)
        return cleaned
    return value


def check_json(body: bytes, *, keep: bool) -> bytes | None:
    """Check a JSON body. Returns a repaired body when ``keep`` changed something, None when
    the body is fine as it is (or is not JSON at all: the route's own parsing reports that).
    """
    if not _SUSPICIOUS.search(body):
        return None
    try:
        value = json.loads(body, parse_constant=_reject_constant)
    except BadText:
        raise
    except (ValueError, RecursionError):
        return None
    cleaned = _clean(value, "body", keep=keep)
    if cleaned == value:
        return None
    return json.dumps(cleaned, ensure_ascii=False, allow_nan=False).encode("utf-8")


class TextInputMiddleware:
    """Refuses unstorable text in paths, query strings and JSON or form bodies with a 422;
    repairs it instead on ``keep_answer_paths`` (regular expressions over the path)."""

    def __init__(self, app: ASGIApp, *, keep_answer_paths: Sequence[str] = ()) -> None:
        self.app = app
        self.keep_answer_paths = [re.compile(p) for p in keep_answer_paths]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        try:
            _check_encoded(bytes(scope.get("raw_path") or scope["path"].encode()), "the path")
            check_urlencoded(scope.get("query_string", b""), "query")
        except BadText as exc:
            await self._reject(scope, receive, send, exc)
            return
        kind = _body_kind(scope)
        if kind is None:
            await self.app(scope, receive, send)
            return
        body, more = await read_body(receive)
        try:
            if kind == "json":
                keep = any(p.search(scope["path"]) for p in self.keep_answer_paths)
                repaired = check_json(body, keep=keep)
                if repaired is not None:
                    body = repaired
                    scope = _with_length(scope, len(body))
            else:
                check_urlencoded(body, "form")
        except BadText as exc:
            await self._reject(scope, receive, send, exc)
            return
        await self.app(scope, replay(body, more, receive), send)

    async def _reject(self, scope: Scope, receive: Receive, send: Send, exc: BadText) -> None:
        if scope["type"] == "websocket":
            await receive()  # websocket.connect
            await send({"type": "websocket.close", "code": 1007, "reason": "invalid text"})
            return
        await send_problem(
            scope,
            send,
            status=422,
            code="invalid-text",
            title=N_("Text that cannot be stored"),
            detail=f"{exc.where} {exc.reason}.",
            invalid_params=[{"name": exc.where, "reason": exc.reason}],
        )


def _body_kind(scope: Scope) -> str | None:
    if scope["type"] != "http" or scope.get("method") in ("GET", "HEAD", "OPTIONS", "DELETE"):
        return None
    for key, value in scope.get("headers", []):
        if key.lower() == b"content-type":
            media = bytes(value).split(b";")[0].strip().lower()
            if media == b"application/json" or media.endswith(b"+json"):
                return "json"
            if media == b"application/x-www-form-urlencoded":
                return "form"
            return None
    return None


def _with_length(scope: Scope, length: int) -> Scope:
    headers = [(k, v) for k, v in scope.get("headers", []) if k.lower() != b"content-length"]
    headers.append((b"content-length", str(length).encode()))
    return {**scope, "headers": headers}
