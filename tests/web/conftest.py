"""Fixtures of the player's browser tests: one Chromium for a module, started once the
module's ``server`` fixture is up, and a checked page of it for each test. A module that
needs something else defines its own ``browser`` or ``page``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.browser import checked_page, chromium


@pytest.fixture(scope="module")
def browser(server: Any) -> Iterator[Any]:
    """Chromium, launched after the module's server (so a failing server fails first)."""
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A page of ``browser`` in a context of its own, failing on any script error it reports."""
    with checked_page(browser) as opened:
        yield opened
