"""Which addresses the access-code limit reads its counter for: those this process has
answered an unknown code within the window, all of them once too many are in it; and an
address whose failures another API process counted is refused once it fails here too."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from tests.support.exams import exam
from tests.support.factories import Factory
from tests.support.problems import problem
from waa_ads.assessments import code_limits
from waa_ads.assessments.code_limits import _Failing


def test_only_addresses_that_failed_here_are_checked_within_the_window() -> None:
    failing = _Failing(limit=3)
    assert not failing.recent("198.51.100.1", 900)
    failing.note("198.51.100.1", 900)
    assert failing.recent("198.51.100.1", 900)
    assert not failing.recent("198.51.100.2", 900)
    # past the window the address is forgotten
    assert not failing.recent("198.51.100.1", 0)
    assert "198.51.100.1" not in failing.seen


def test_too_many_failing_addresses_at_once_means_every_address_is_checked() -> None:
    failing = _Failing(limit=2)
    failing.note("a", 900)
    failing.note("b", 900)
    failing.note("c", 900)  # full of addresses in their window: not kept, all checked
    assert set(failing.seen) == {"a", "b"}
    assert failing.recent("c", 900) and failing.recent("someone else", 900)
    # once the others' windows are over, a new address takes their place
    failing.note("d", 0)
    assert set(failing.seen) == {"d"}


@pytest.mark.asyncio
async def test_failures_counted_by_another_process_refuse_once_one_fails_here(
    app: FastAPI, client: httpx.AsyncClient, make: Factory
) -> None:
    ex = await exam(client, make, candidates=1)
    settings = app.state.settings
    settings.access_code_max_failures_per_client = 3
    address = "192.0.2.77"
    code_limits._failing.seen.pop(address, None)  # as a process that never answered it
    # another API process answered this address three unknown codes (the shared counter)
    for _ in range(3):
        await app.state.auth.limiter.hit(
            f"access-code-failures:{address}", settings.access_code_failure_window_s
        )
    transport = httpx.ASGITransport(app=app, client=(address, 4321))
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as there:
        lookup = "/api/v1/attempts/lookup"
        # this process has not answered it an unknown code: it reads no counter
        seen = await there.post(lookup, json={"access_code": ex.codes[0]})
        assert seen.status_code == 200, seen.text
        guess = await there.post(lookup, json={"access_code": "ZZZZ-ZZZZ-ZZZZ-7777"})
        assert (guess.status_code, problem(guess)) == (404, "access-code-invalid")
        # now it does, and the address is past its limit
        refused = await there.post(lookup, json={"access_code": ex.codes[0]})
        assert (refused.status_code, problem(refused)) == (429, "access-code-rate-limited")
