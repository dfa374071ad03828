"""Unknown access codes count against the client address on the candidate's lookup: past
the limit the address is answered 429 with Retry-After, a known code included, while
candidates who type their code right (from that address or another) are never counted."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from tests.support.exams import exam
from tests.support.factories import Factory
from tests.support.problems import problem

pytestmark = pytest.mark.asyncio

LOOKUP = "/api/v1/attempts/lookup"


def _from(app: FastAPI, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 4321))
    return httpx.AsyncClient(transport=transport, base_url="https://testserver")


async def test_guessing_codes_is_refused_per_address_and_candidates_are_not_counted(
    app: FastAPI, client: httpx.AsyncClient, make: Factory
) -> None:
    ex = await exam(client, make, candidates=2)
    mine, theirs = ex.codes
    app.state.settings.access_code_max_failures_per_client = 3

    async with _from(app, "203.0.113.7") as guesser, _from(app, "198.51.100.20") as school:
        # a classroom behind one address looking its codes up again and again: never counted
        for _ in range(5):
            for code in (mine, theirs):
                seen = await school.post(LOOKUP, json={"access_code": code})
                assert seen.status_code == 200, seen.text

        wrong = [f"ZZZZ-ZZZZ-ZZZZ-{n:04d}" for n in range(3)]
        for code in wrong:
            refused = await guesser.post(LOOKUP, json={"access_code": code})
            assert (refused.status_code, problem(refused)) == (404, "access-code-invalid")

        # the fourth try from that address is refused before the code is looked at, even
        # a right one
        for code in ("ZZZZ-ZZZZ-ZZZZ-9999", mine):
            limited = await guesser.post(LOOKUP, json={"access_code": code})
            assert (limited.status_code, problem(limited)) == (429, "access-code-rate-limited")
            assert limited.headers["content-type"].startswith("application/problem+json")
            assert 0 < int(limited.headers["retry-after"]) <= 900
            assert limited.json()["title"] == "Too many access code attempts"
            assert "try again later" in limited.json()["detail"]

        # another address, a mistyped code and then the right one: unaffected
        typo = await school.post(LOOKUP, json={"access_code": "ZZZZ-ZZZZ-ZZZZ-0001"})
        assert typo.status_code == 404
        again = await school.post(LOOKUP, json={"access_code": theirs})
        assert again.status_code == 200, again.text
        assert again.json()["next_step"] == "start"
