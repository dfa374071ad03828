"""The question open survives a reload and a move to another device: the player records
it (``PUT .../position``) and the attempt's view returns it as ``current_position``."""

from __future__ import annotations

import httpx
import pytest

from tests.support.exams import begin, exam
from tests.support.factories import Factory
from tests.support.problems import problem

pytestmark = pytest.mark.asyncio


async def test_the_open_question_survives_a_reload_and_another_device(
    client: httpx.AsyncClient, make: Factory
) -> None:
    ex = await exam(client, make)
    attempt_id, headers = await begin(client, ex.codes[0])
    view = (await client.get(f"/api/v1/attempts/{attempt_id}", headers=headers)).json()
    assert view["navigation"] == "free"
    assert view["current_position"] == 1
    assert view["candidate_name"] == "Cand 0"
    assert view["organization_name"] == ex.world.org.name

    for _ in range(2):  # idempotent
        moved = await client.put(
            f"/api/v1/attempts/{attempt_id}/position", json={"position": 3}, headers=headers
        )
        assert moved.status_code == 200, moved.text
        assert moved.json() == {"current_position": 3}

    reloaded = (await client.get(f"/api/v1/attempts/{attempt_id}", headers=headers)).json()
    assert reloaded["current_position"] == 3

    # Another device: the same code resumes the attempt, which opens on the same question.
    other_id, other_headers = await begin(client, ex.codes[0])
    assert other_id == attempt_id
    elsewhere = (await client.get(f"/api/v1/attempts/{other_id}", headers=other_headers)).json()
    assert elsewhere["current_position"] == 3

    for bad in (0, 4):
        refused = await client.put(
            f"/api/v1/attempts/{attempt_id}/position", json={"position": bad}, headers=headers
        )
        assert refused.status_code == 422, refused.text
    beyond = await client.put(
        f"/api/v1/attempts/{attempt_id}/position", json={"position": 4}, headers=headers
    )
    assert problem(beyond) == "position-out-of-range"
    foreign = await client.put(
        f"/api/v1/attempts/{attempt_id}/position",
        json={"position": 2},
        headers={"X-Attempt-Token": "nope"},
    )
    assert (foreign.status_code, problem(foreign)) == (404, "attempt-not-found")

    await client.post(f"/api/v1/attempts/{attempt_id}/submit", headers=headers)
    ended = await client.put(
        f"/api/v1/attempts/{attempt_id}/position", json={"position": 2}, headers=headers
    )
    assert (ended.status_code, problem(ended)) == (409, "attempt-ended")


async def test_linear_navigation_moves_only_by_advancing(
    client: httpx.AsyncClient, make: Factory
) -> None:
    ex = await exam(client, make, navigation="linear", allow_review=False)
    attempt_id, headers = await begin(client, ex.codes[0])
    same = await client.put(
        f"/api/v1/attempts/{attempt_id}/position", json={"position": 1}, headers=headers
    )
    assert same.json() == {"current_position": 1}
    ahead = await client.put(
        f"/api/v1/attempts/{attempt_id}/position", json={"position": 2}, headers=headers
    )
    assert (ahead.status_code, problem(ahead)) == (409, "item-closed")
    await client.post(f"/api/v1/attempts/{attempt_id}/advance", headers=headers)
    view = (await client.get(f"/api/v1/attempts/{attempt_id}", headers=headers)).json()
    assert view["current_position"] == 2
