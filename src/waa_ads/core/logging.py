"""structlog configuration: JSON lines with the request id bound to every line of a request.

Log lines refer to people by id only; personal data (names, emails) never goes into logs,
and no credential does either: :func:`redact_secrets` runs on every line, ours and the
libraries' (uvicorn writes request lines with their query strings), and masks the values of
credential-like query parameters and fields, and anything shaped like a JWT.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

#: Names whose values are secrets, wherever they appear (a query parameter, a log field).
SECRET_NAMES = (
    "token",
    "access_token",
    "refresh_token",
    "id_token",
    "access_code",
    "code",
    "password",
    "secret",
    "credential",
    "sig",
    "signature",
    "authorization",
    "cookie",
    "x-attempt-token",
    "csrf",
)
REDACTED = "[redacted]"
_SECRET_NAME = "|".join(re.escape(n) for n in sorted(SECRET_NAMES, key=len, reverse=True))
# name=value (a query string, a form) and "name": "value" (JSON or a repr in text).
_QUERY_PAIR = re.compile(rf"(?i)(?<![A-Za-z0-9_-])({_SECRET_NAME})=([^&\s\"',;)\]}}]+)")
_QUOTED_PAIR = re.compile(rf"""(?i)(["'](?:{_SECRET_NAME})["']\s*:\s*["']?)([^"',}}\s]+)""")
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}")
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+(?!\[redacted\])[A-Za-z0-9._~+/=-]+")
_SECRET_KEYS = frozenset(SECRET_NAMES)


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is when a record is emitted, not the stream that was
    current at configuration: a background task's last line after a test harness swapped
    and closed stderr (or a daemon that reopened it) still lands somewhere open."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def _redact_text(text: str) -> str:
    text = _QUERY_PAIR.sub(lambda m: f"{m.group(1)}={REDACTED}", text)
    text = _QUOTED_PAIR.sub(lambda m: f"{m.group(1)}{REDACTED}", text)
    text = _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    return _JWT.sub(REDACTED, text)


def _redact_value(key: str, value: Any) -> Any:
    if key.lower() in _SECRET_KEYS and value not in (None, ""):
        return REDACTED
    if isinstance(value, str):
        return _redact_text(value)
    if isinstance(value, (list, tuple)):
        return type(value)(_redact_value("", v) for v in value)
    if isinstance(value, dict):
        return {k: _redact_value(str(k), v) for k, v in value.items()}
    return value


def redact_secrets(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """A structlog processor: mask credentials in every field of a log line."""
    for key, value in list(event_dict.items()):
        if key.startswith("_"):
            continue  # structlog's own bookkeeping (the foreign log record)
        event_dict[key] = _redact_value(key, value)
    return event_dict


def configure_logging(level: str = "INFO", *, json: bool = True) -> None:
    """Configure structlog and route the standard library's logging through it."""
    timestamper = structlog.processors.TimeStamper(fmt="iso", utc=True)
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        timestamper,
        redact_secrets,
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if json
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[
            # First: a line below the level costs a level check, not the whole chain
            # (timestamp, redaction) before the standard library drops it.
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler = _StderrHandler()
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # uvicorn's access log duplicates our request log line.
    logging.getLogger("uvicorn.access").handlers.clear()
    logging.getLogger("uvicorn.access").propagate = False
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
