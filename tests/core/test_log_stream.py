"""Log lines go to the standard error stream current when they are written.

A background task can log after whoever configured logging has swapped ``sys.stderr`` and
closed the old stream (a test harness capturing output, a daemon reopening its files); the
line must land in the current stream instead of raising "I/O operation on closed file".
"""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator

import pytest
import structlog

from waa_ads.core.logging import configure_logging


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        structlog.reset_defaults()


def test_a_line_after_stderr_was_swapped_and_closed_goes_to_the_new_stream(
    restore_logging: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = io.StringIO()
    monkeypatch.setattr(sys, "stderr", first)
    configure_logging("INFO", json=True)
    structlog.get_logger("waa_ads.test").info("first.line")
    assert json.loads(first.getvalue().splitlines()[-1])["event"] == "first.line"

    first.close()
    second = io.StringIO()
    monkeypatch.setattr(sys, "stderr", second)
    structlog.get_logger("waa_ads.test").info("second.line", task="t")

    line = json.loads(second.getvalue().splitlines()[-1])
    assert line["event"] == "second.line"
    assert line["task"] == "t"
