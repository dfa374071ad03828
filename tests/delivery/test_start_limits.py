"""Unknown access codes sent to ``POST /attempts`` count against the client address, in
the same counter as the lookup's: past the limit starting is refused with 429 and
Retry-After, a right code included, while candidates elsewhere start and resume as usual."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from tests.support.exams import exam
from tests.support.factories import Factory
from tests.support.problems import problem

pytestmark = pytest.mark.asyncio


def _from(app: FastAPI, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 4321))
    return httpx.AsyncClient(transport=transport, base_url="https://testserver")


async def test_guessing_codes_by_starting_is_refused_and_candidates_still_start(
    app: FastAPI, client: httpx.AsyncClient, make: Factory
) -> None:
    ex = await exam(client, make, candidates=2)
    mine, theirs = ex.codes
    app.state.settings.access_code_max_failures_per_client = 3

    async with _from(app, "203.0.113.44") as guesser, _from(app, "198.51.100.8") as hall:
        for n in range(2):
            guess = await guesser.post("/api/v1/attempts", json={"access_code": f"QQQQ-{n:04d}"})
            assert (guess.status_code, problem(guess)) == (404, "access-code-invalid")
        looked = await guesser.post("/api/v1/attempts/lookup", json={"access_code": "QQQQ-0009"})
        assert (looked.status_code, problem(looked)) == (404, "access-code-invalid")

        # three unknown codes, across start and lookup: the address is refused, a right
        # code included, and nothing is started for it
        limited = await guesser.post("/api/v1/attempts", json={"access_code": mine})
        assert (limited.status_code, problem(limited)) == (429, "access-code-rate-limited")
        assert 0 < int(limited.headers["retry-after"]) <= 900
        looked = await guesser.post("/api/v1/attempts/lookup", json={"access_code": mine})
        assert (looked.status_code, problem(looked)) == (429, "access-code-rate-limited")

        # from another address the same code starts, resumes, and a second candidate starts
        started = await hall.post("/api/v1/attempts", json={"access_code": mine})
        assert started.status_code == 201, started.text
        assert started.json()["attempt"]["number"] == 1
        resumed = await hall.post("/api/v1/attempts", json={"access_code": mine})
        assert resumed.status_code == 200, resumed.text
        assert resumed.json()["attempt"]["id"] == started.json()["attempt"]["id"]
        other = await hall.post("/api/v1/attempts", json={"access_code": theirs})
        assert other.status_code == 201, other.text
