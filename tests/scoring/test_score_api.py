"""POST /items/{id}/versions/{v}/score: authors try responses on a stored version."""

from __future__ import annotations

import httpx
import pytest

from tests.support.factories import Factory, login
from tests.support.items import choice_item
from tests.support.problems import problem
from waa_ads.auth.models import Role

pytestmark = pytest.mark.asyncio


async def test_trying_responses_returns_every_outcome(
    client: httpx.AsyncClient, make: Factory
) -> None:
    org = await make.organization()
    author = await make.user(org, Role.author, Role.admin)
    headers = await login(client, author)
    bank = (
        await client.post("/api/v1/banks", json={"slug": "try", "name": "Try"}, headers=headers)
    ).json()
    item = (
        await client.post(
            f"/api/v1/banks/{bank['id']}/items",
            json={"source": {"format": "qti", "content": choice_item("T1", "Try me", correct="C")}},
            headers=headers,
        )
    ).json()["item"]
    url = f"/api/v1/items/{item['id']}/versions/1/score"

    right = await client.post(url, json={"responses": {"RESPONSE": "C"}}, headers=headers)
    assert right.status_code == 200, right.text
    assert right.json()["outcomes"]["SCORE"] == 1
    assert right.json()["outcomes"]["MAXSCORE"] == 1
    wrong = await client.post(url, json={"responses": {"RESPONSE": "A"}}, headers=headers)
    assert wrong.json()["outcomes"]["SCORE"] == 0
    misshapen = await client.post(
        url, json={"responses": {"RESPONSE": ["A", "C"]}}, headers=headers
    )
    assert misshapen.status_code == 200
    assert misshapen.json()["outcomes"]["SCORE"] == 0
    assert misshapen.json()["notes"]

    proctor = await make.user(org, Role.proctor)
    refused = await client.post(
        url, json={"responses": {"RESPONSE": "C"}}, headers=await login(client, proctor)
    )
    assert (refused.status_code, problem(refused)) == (403, "role-required")
    missing = await client.post(
        f"/api/v1/items/{item['id']}/versions/9/score", json={"responses": {}}, headers=headers
    )
    assert (missing.status_code, problem(missing)) == (404, "item-version-not-found")
