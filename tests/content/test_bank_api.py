"""Item banks over HTTP: permissions, versions and the workflow, search, tenancy."""

from __future__ import annotations

import httpx
import pytest

from tests.support.factories import Account, Factory, login
from tests.support.items import choice_item
from waa_ads.auth.models import Organization, Role

pytestmark = pytest.mark.asyncio


async def _setup(
    client: httpx.AsyncClient, make: Factory, *, review: bool = False
) -> tuple[Organization, Account, dict[str, str], str]:
    org = await make.organization()
    admin = await make.user(org, Role.admin)
    headers = await login(client, admin)
    bank = await client.post(
        "/api/v1/banks",
        json={"slug": "science", "name": "Science", "review_required": review},
        headers=headers,
    )
    assert bank.status_code == 201, bank.text
    return org, admin, headers, bank.json()["id"]


async def _add(
    client: httpx.AsyncClient, headers: dict[str, str], bank_id: str, xml: str, **meta: object
) -> httpx.Response:
    return await client.post(
        f"/api/v1/banks/{bank_id}/items",
        json={"source": {"format": "qti", "content": xml}, "metadata": meta},
        headers=headers,
    )


async def test_item_lifecycle_keeps_published_versions_immutable(
    client: httpx.AsyncClient, make: Factory
) -> None:
    _, _, headers, bank_id = await _setup(client, make)
    created = await _add(
        client, headers, bank_id, choice_item("Q1", "Greek letters"), tags=["greek"]
    )
    assert created.status_code == 201, created.text
    item = created.json()["item"]
    assert item["status"] == "draft"
    assert item["interaction_types"] == ["choice"]
    item_id = item["id"]

    # A draft is edited in place.
    edited = await client.patch(
        f"/api/v1/items/{item_id}",
        json={"source": {"format": "qti", "content": choice_item("Q1", "Greek letters v1b")}},
        headers=headers,
    )
    assert edited.json()["version"]["version"] == 1
    published = await client.post(f"/api/v1/items/{item_id}/publish", headers=headers)
    assert published.status_code == 200
    assert published.json()["version"]["status"] == "published"
    assert published.json()["item"]["published_version"] == 1

    # Editing a published item makes version 2; version 1 stays as it was.
    v2 = await client.patch(
        f"/api/v1/items/{item_id}",
        json={"source": {"format": "qti", "content": choice_item("Q1", "Greek v2", correct="C")}},
        headers=headers,
    )
    assert v2.json()["version"]["version"] == 2
    assert v2.json()["version"]["status"] == "draft"
    schema = (
        await client.get(f"/api/v1/items/{item_id}/versions/1/response-schema", headers=headers)
    ).json()
    assert set(schema) == {"RESPONSE"}
    assert schema["RESPONSE"]["anyOf"] == [
        {"type": "null"},
        {"type": "string", "enum": ["A", "B", "C"]},
    ]
    v1 = (await client.get(f"/api/v1/items/{item_id}/versions/1", headers=headers)).json()
    assert v1["status"] == "published"
    assert v1["title"] == "Greek letters v1b"
    assert v1["definition"]["response_declarations"][0]["correct_response"] == "B"

    # Publishing v2 retires v1.
    await client.post(f"/api/v1/items/{item_id}/publish", headers=headers)
    versions = (await client.get(f"/api/v1/items/{item_id}/versions", headers=headers)).json()
    assert [(v["version"], v["status"]) for v in versions] == [(1, "retired"), (2, "published")]

    again = await client.post(f"/api/v1/items/{item_id}/publish", headers=headers)
    assert again.status_code == 409
    assert again.json()["type"].endswith("/item-version-wrong-status")
    retired = await client.post(f"/api/v1/items/{item_id}/retire", headers=headers)
    assert retired.json()["item"]["status"] == "retired"

    stale = await client.patch(
        f"/api/v1/items/{item_id}", json={"expected_version": 1, "metadata": {}}, headers=headers
    )
    assert stale.status_code == 409
    assert stale.json()["type"].endswith("/item-version-stale")

    audit = (
        await client.get("/api/v1/audit/events", params={"target_id": item_id}, headers=headers)
    ).json()
    actions = [e["action"] for e in audit["items"]]
    assert actions == [
        "item.created",
        "item.draft_updated",
        "item.published",
        "item.version_created",
        "item.published",
        "item.retired",
    ]


async def test_review_required_banks_need_a_reviewer(
    client: httpx.AsyncClient, make: Factory
) -> None:
    org, _, admin_headers, bank_id = await _setup(client, make, review=True)
    author = await make.user(org, Role.author)
    reviewer = await make.user(org, Role.author)
    for account, permission in ((author, "author"), (reviewer, "reviewer")):
        granted = await client.put(
            f"/api/v1/banks/{bank_id}/members",
            json={"user_id": str(account.user.id), "permission": permission},
            headers=admin_headers,
        )
        assert granted.status_code == 200
    author_headers = await login(client, author)
    reviewer_headers = await login(client, reviewer)
    item_id = (await _add(client, author_headers, bank_id, choice_item("R1", "Reviewed"))).json()[
        "item"
    ]["id"]

    assert (
        await client.post(f"/api/v1/items/{item_id}/publish", headers=author_headers)
    ).status_code == 403
    assert (
        await client.post(f"/api/v1/items/{item_id}/publish", headers=reviewer_headers)
    ).status_code == 409
    submitted = await client.post(f"/api/v1/items/{item_id}/submit", headers=author_headers)
    assert submitted.json()["version"]["status"] == "in_review"
    published = await client.post(f"/api/v1/items/{item_id}/publish", headers=reviewer_headers)
    assert published.status_code == 200
    assert published.json()["version"]["status"] == "published"


async def test_banks_are_invisible_without_permission_and_across_organizations(
    client: httpx.AsyncClient, make: Factory
) -> None:
    org, _, headers, bank_id = await _setup(client, make)
    item_id = (await _add(client, headers, bank_id, choice_item("Z1", "Secret"))).json()["item"][
        "id"
    ]
    outsider = await make.user(org, Role.author)
    outsider_headers = await login(client, outsider)
    other_org = await make.organization()
    other_admin = await make.user(other_org, Role.admin)
    other_headers = await login(client, other_admin)
    for h in (outsider_headers, other_headers):
        bank = await client.get(f"/api/v1/banks/{bank_id}", headers=h)
        assert bank.status_code == 404
        assert bank.json()["type"].endswith("/item-bank-not-found")
        item = await client.get(f"/api/v1/items/{item_id}", headers=h)
        assert item.status_code == 404
        # Nothing tells an item hidden by its bank from one that does not exist.
        assert item.json()["type"].endswith("/item-not-found")
        assert bank_id not in item.text
        assert (await client.post(f"/api/v1/items/{item_id}/publish", headers=h)).status_code == 404
        found = (await client.get("/api/v1/items", headers=h)).json()["items"]
        assert found == []
    refused = await _add(client, other_headers, bank_id, choice_item("Z2", "Intruder"))
    assert refused.status_code == 404


async def test_search_by_text_tags_type_and_status(
    client: httpx.AsyncClient, make: Factory
) -> None:
    _, _, headers, bank_id = await _setup(client, make)
    specs = [
        ("S1", "Photosynthesis basics", ["biology", "plants"]),
        ("S2", "Cell division", ["biology"]),
        ("S3", "Newton's laws", ["physics"]),
    ]
    ids = {}
    for ident, title, tags in specs:
        response = await _add(client, headers, bank_id, choice_item(ident, title), tags=tags)
        ids[ident] = response.json()["item"]["id"]
    await client.post(f"/api/v1/items/{ids['S2']}/publish", headers=headers)

    async def search(**params: str | list[str]) -> set[str]:
        response = await client.get("/api/v1/items", params=params, headers=headers)
        assert response.status_code == 200, response.text
        return {i["identifier"] for i in response.json()["items"]}

    assert await search(q="photo") == {"S1"}
    assert await search(q="NEWTON") == {"S3"}
    assert await search(tag="biology") == {"S1", "S2"}
    assert await search(tag=["biology", "plants"]) == {"S1"}
    assert await search(type="choice") == {"S1", "S2", "S3"}
    assert await search(type="hotspot") == set()
    assert await search(status="published") == {"S2"}
    assert await search(bank_id=bank_id, status="draft", tag="biology") == {"S1"}
    page = await client.get("/api/v1/items", params={"limit": 2}, headers=headers)
    assert len(page.json()["items"]) == 2
    rest = await client.get(
        "/api/v1/items", params={"limit": 2, "cursor": page.json()["next_cursor"]}, headers=headers
    )
    assert len(rest.json()["items"]) == 1


async def test_bad_items_are_refused_and_nothing_is_stored(
    client: httpx.AsyncClient, make: Factory
) -> None:
    _, _, headers, bank_id = await _setup(client, make)
    bad = {
        "malformed": "<qti-assessment-item",
        "unknown-interaction": choice_item("B1", "x").replace(
            "qti-choice-interaction", "qti-teleport-interaction"
        ),
    }
    for name, xml in bad.items():
        response = await _add(client, headers, bank_id, xml)
        assert response.status_code == 422, (name, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["type"].endswith("/item-format-error"), name
        assert response.json()["detail"]
    dup1 = await _add(client, headers, bank_id, choice_item("D1", "Once"))
    dup2 = await _add(client, headers, bank_id, choice_item("D1", "Twice"))
    assert dup1.status_code == 201
    assert dup2.status_code == 409
    assert dup2.json()["type"].endswith("/item-identifier-taken")
    listed = (await client.get("/api/v1/items", headers=headers)).json()["items"]
    assert [i["identifier"] for i in listed] == ["D1"]


async def test_a_version_reads_as_its_qti_document_and_imports_back(
    client: httpx.AsyncClient, make: Factory
) -> None:
    _, _, headers, bank_id = await _setup(client, make)
    created = await _add(client, headers, bank_id, choice_item("QX", "Greek letters", correct="C"))
    item_id = created.json()["item"]["id"]
    reply = await client.get(f"/api/v1/items/{item_id}/versions/1/qti", headers=headers)
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"].startswith("application/xml")
    assert 'identifier="QX"' in reply.text
    assert "<qti-value>C</qti-value>" in reply.text
    again = await client.patch(
        f"/api/v1/items/{item_id}",
        json={"source": {"format": "qti", "content": reply.text}},
        headers=headers,
    )
    assert again.status_code == 200, again.text
    assert again.json()["version"]["content_hash"] == created.json()["version"]["content_hash"]
    missing = await client.get(f"/api/v1/items/{item_id}/versions/9/qti", headers=headers)
    assert missing.status_code == 404
