"""JSON from a client that is not behind an HTTP body parser (a WebSocket message): parsed
within bounds, so that no message can make the parser recurse into a ``RecursionError``,
or bring a value the database cannot store.

:func:`parse_bounded` refuses, before decoding, a message longer than ``max_bytes`` or
nested deeper than ``max_depth`` (counted by one linear scan that skips strings, so the
decoder never sees deep nesting), and while decoding ``NaN``/``Infinity`` (not JSON
numbers) and text PostgreSQL cannot hold (NUL, lone surrogates; see ``core.textguard``).
"""

from __future__ import annotations

import json
import re
from typing import Any

from waa_ads.core.textguard import BadText, check_json

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKET = re.compile(rb"[^\[\]{}]+")


class UnsafeJson(ValueError):
    """A message refused before or while parsing; ``code`` says why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def nesting_depth(data: bytes) -> int:
    """The deepest nesting of arrays and objects in ``data`` (brackets in strings ignored).
    A linear scan without recursion; malformed input gives some number, which the decoder
    later refuses anyway."""
    brackets = _NOT_BRACKET.sub(b"", _STRING.sub(b'""', data))
    depth = deepest = 0
    for byte in brackets:
        if byte in b"[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def _no_constants(token: str) -> Any:
    raise UnsafeJson("invalid-number", f"{token} is not a JSON number")


def parse_bounded(raw: str | bytes, *, max_bytes: int, max_depth: int) -> Any:
    """The decoded value of ``raw``, or :class:`UnsafeJson` (never a ``RecursionError``)."""
    if isinstance(raw, str):
        try:
            data = raw.encode("utf-8")
        except UnicodeEncodeError:
            raise UnsafeJson("invalid-text", "the message is not valid UTF-8 text") from None
    else:
        data = raw
    if len(data) > max_bytes:
        raise UnsafeJson("too-large", f"the message is larger than {max_bytes} bytes")
    if nesting_depth(data) > max_depth:
        raise UnsafeJson("too-deep", f"the message nests deeper than {max_depth} levels")
    try:
        check_json(data, keep=False)
        return json.loads(data, parse_constant=_no_constants)
    except BadText as exc:
        code = "invalid-number" if "JSON number" in exc.reason else "invalid-text"
        raise UnsafeJson(code, str(exc)) from None
    except UnsafeJson:
        raise
    except (ValueError, RecursionError) as exc:
        raise UnsafeJson("invalid-json", f"not JSON: {exc}"[:200]) from None
