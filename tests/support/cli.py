"""Reading a command's output in tests that run it in-process (Click's ``CliRunner``)."""

from __future__ import annotations

import json


def _is_log_line(line: str) -> bool:
    text = line.strip()
    if not (text.startswith("{") and text.endswith("}")):
        return False
    try:
        record = json.loads(text)
    except ValueError:
        return False
    return isinstance(record, dict) and "event" in record and "logger" in record


def without_logs(text: str) -> str:
    """``text`` without the structured log lines (JSON objects with ``event`` and
    ``logger``): background work of the same process (a task the command queued, or a test
    app's runner) logs to whatever ``sys.stderr`` is, which ``CliRunner`` captures while a
    command runs, so such a line may or may not land in the output."""
    return "".join(line for line in text.splitlines(keepends=True) if not _is_log_line(line))
