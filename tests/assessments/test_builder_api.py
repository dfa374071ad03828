"""What an assessment editor needs from the API: the size of a selection rule's pool while
it is composed, every publishing problem with the section it concerns, and which
assessment an administration gives."""

from __future__ import annotations

import httpx
import pytest

from tests.support.exams import World
from tests.support.factories import Factory, login
from tests.support.items import choice_item
from tests.support.problems import problem as problem_code
from waa_ads.auth.models import Role

pytestmark = pytest.mark.asyncio


async def test_pool_size_counts_published_items_matching_every_filter(
    client: httpx.AsyncClient, make: Factory
) -> None:
    world = await World(client, make).setup()
    draft = await client.post(
        f"/api/v1/banks/{world.bank_id}/items",
        json={
            "source": {"format": "qti", "content": choice_item("A3", "A3")},
            "metadata": {"tags": ["algebra"]},
        },
        headers=world.headers,
    )
    assert draft.status_code == 201, draft.text

    async def size(**params: str | list[str]) -> int:
        reply = await client.get(
            "/api/v1/assessments/pool-size",
            params={"bank_id": world.bank_id, **params},
            headers=world.headers,
        )
        assert reply.status_code == 200, reply.text
        count: int = reply.json()["count"]
        return count

    assert await size() == 3
    assert await size(tag="algebra") == 2  # the draft A3 is not published
    assert await size(tag=["algebra", "geometry"]) == 0
    assert await size(type="choice") == 3
    assert await size(type="text_entry") == 0

    other = await make.organization()
    outsider = await login(client, await make.user(other, Role.admin))
    foreign = await client.get(
        "/api/v1/assessments/pool-size", params={"bank_id": world.bank_id}, headers=outsider
    )
    assert foreign.status_code == 422
    assert problem_code(foreign) == "unknown-item-bank"
    proctor = await login(client, await make.user(world.org, Role.proctor))
    refused = await client.get(
        "/api/v1/assessments/pool-size", params={"bank_id": world.bank_id}, headers=proctor
    )
    assert refused.status_code == 403


async def test_publish_refusal_lists_every_problem_with_its_section(
    client: httpx.AsyncClient, make: Factory
) -> None:
    world = await World(client, make).setup()
    draft = await client.post(
        f"/api/v1/banks/{world.bank_id}/items",
        json={"source": {"format": "qti", "content": choice_item("D1", "D1")}},
        headers=world.headers,
    )
    draft_id = draft.json()["item"]["id"]
    definition = world.definition(
        sections=[
            {"identifier": "fixed", "title": "Fixed", "items": [{"item_id": draft_id}]},
            {
                "identifier": "drawn",
                "title": "Drawn",
                "selection": {"bank_id": world.bank_id, "count": 5, "tags": ["algebra"]},
            },
        ]
    )
    created = await client.post(
        "/api/v1/assessments",
        json={"slug": "broken", "definition": definition},
        headers=world.headers,
    )
    assert created.status_code == 201, created.text
    refused = await client.post(
        f"/api/v1/assessments/{created.json()['assessment']['id']}/publish", headers=world.headers
    )
    assert refused.status_code == 422
    body = refused.json()
    assert problem_code(refused) == "assessment-item-not-published"
    assert body["section"] == "fixed"
    assert [(p["code"], p["section"]) for p in body["problems"]] == [
        ("assessment-item-not-published", "fixed"),
        ("selection-unsatisfiable", "drawn"),
    ]
    assert body["problems"][0]["item_id"] == draft_id
    assert body["problems"][1]["pool_size"] == 2


async def test_an_administration_names_its_assessment(
    client: httpx.AsyncClient, make: Factory
) -> None:
    world = await World(client, make).setup()
    published = await world.published_assessment()
    administration = await world.administration(published["version"]["id"])
    assert administration["assessment_id"] == published["assessment"]["id"]
    assert administration["assessment_title"] == "Placement test"
    assert administration["assessment_version"] == 1
