"""POST /items/{id}/versions/{v}/score: authors try responses on a stored version."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from tests.content.test_bank_api import choice_item
from tests.factories import login, make_organization, make_user
from waa_ads.auth.models import Role

pytestmark = pytest.mark.asyncio


async def test_trying_responses_returns_every_outcome(
    live_app: FastAPI, live_client: httpx.AsyncClient
) -> None:
    org = await make_organization(live_app)
    author = await make_user(live_app, org, Role.author, Role.admin)
    headers = await login(live_client, author)
    bank = (
        await live_client.post(
            "/api/v1/banks", json={"slug": "try", "name": "Try"}, headers=headers
        )
    ).json()
    item = (
        await live_client.post(
            f"/api/v1/banks/{bank['id']}/items",
            json={"source": {"format": "qti", "content": choice_item("T1", "Try me", correct="C")}},
            headers=headers,
        )
    ).json()["item"]
    url = f"/api/v1/items/{item['id']}/versions/1/score"

    right = await live_client.post(url, json={"responses": {"RESPONSE": "C"}}, headers=headers)
    assert right.status_code == 200, right.text
    assert right.json()["outcomes"]["SCORE"] == 1
    assert right.json()["outcomes"]["MAXSCORE"] == 1
    wrong = await live_client.post(url, json={"responses": {"RESPONSE": "A"}}, headers=headers)
    assert wrong.json()["outcomes"]["SCORE"] == 0
    misshapen = await live_client.post(
        url, json={"responses": {"RESPONSE": ["A", "C"]}}, headers=headers
    )
    assert misshapen.status_code == 200
    assert misshapen.json()["outcomes"]["SCORE"] == 0
    assert misshapen.json()["notes"]

    proctor = await make_user(live_app, org, Role.proctor)
    refused = await live_client.post(
        url, json={"responses": {"RESPONSE": "C"}}, headers=await login(live_client, proctor)
    )
    assert refused.status_code == 403
    missing = await live_client.post(
        f"/api/v1/items/{item['id']}/versions/9/score", json={"responses": {}}, headers=headers
    )
    assert missing.status_code == 404
