"""Calibrations run in the background: the request queues a run, the task fits and stores
the parameters, and the run tells its progress and outcome (or why it failed)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.psychometrics.test_api import _sit
from tests.support.exams import exam, wait_for_state
from tests.support.factories import Factory, login
from tests.support.problems import problem
from waa_ads.auth.models import Role

pytestmark = pytest.mark.asyncio


async def _settled(client: httpx.AsyncClient, url: str, headers: dict[str, str]) -> dict[str, Any]:
    for _ in range(200):
        run: dict[str, Any] = (await client.get(url, headers=headers)).json()
        if run["status"] in ("done", "failed"):
            return run
        await asyncio.sleep(0.05)
    raise AssertionError(f"the run did not finish: {run}")


async def test_a_calibration_runs_in_the_background(
    app: FastAPI, client: httpx.AsyncClient, make: Factory
) -> None:
    ex = await exam(client, make, candidates=6, scoring={"release": "immediately"})
    headers = ex.world.headers
    admin_id = ex.administration["id"]
    runs_url = "/api/v1/psychometrics/calibration-runs"

    # nothing scored yet: the run fails and says why
    early = await client.post(
        runs_url, json={"administration_ids": [admin_id], "model": "rasch"}, headers=headers
    )
    assert early.status_code == 202, early.text
    assert early.json()["status"] == "queued" and early.json()["progress"] == 0
    failed = await _settled(client, f"{runs_url}/{early.json()['id']}", headers)
    assert failed["status"] == "failed" and "two candidates" in failed["error"]
    assert failed["result"] is None

    sheets = [
        {"Q1": "B", "Q2": "B", "Q3": "B"},
        {"Q1": "B", "Q2": "B", "Q3": "A"},
        {"Q1": "B", "Q2": "A", "Q3": "A"},
        {"Q1": "A", "Q2": "B", "Q3": "A"},
        {"Q1": "B", "Q2": "A", "Q3": "B"},
        {"Q1": "A", "Q2": "A", "Q3": "A"},
    ]
    for code, sheet in zip(ex.codes, sheets, strict=True):
        attempt_id = await _sit(client, code, sheet)
        assert await wait_for_state(app, attempt_id, "released", "scored") in ("released", "scored")
    queued = await client.post(
        runs_url, json={"administration_ids": [admin_id], "model": "rasch"}, headers=headers
    )
    assert queued.status_code == 202, queued.text
    done = await _settled(client, f"{runs_url}/{queued.json()['id']}", headers)
    assert (done["status"], done["progress"], done["error"]) == ("done", 1.0, None)
    assert done["result"]["persons"] == 6
    assert {i["item"] for i in done["result"]["items"]} == {"Q1", "Q2", "Q3"}
    params = await client.get(
        f"/api/v1/psychometrics/administrations/{admin_id}/parameters", headers=headers
    )
    assert {p["calibration_id"] for p in params.json()} == {done["result"]["id"]}

    listed = await client.get(runs_url, params={"administration_id": admin_id}, headers=headers)
    assert [r["id"] for r in listed.json()] == [queued.json()["id"], early.json()["id"]]

    rater = await make.user(ex.world.org, Role.rater)
    refused = await client.get(runs_url, headers=await login(client, rater))
    assert (refused.status_code, problem(refused)) == (403, "role-required")
    stranger = await make.user(await make.organization(), Role.admin)
    hidden = await client.get(
        f"{runs_url}/{queued.json()['id']}", headers=await login(client, stranger)
    )
    assert (hidden.status_code, problem(hidden)) == (404, "calibration-run-not-found")
