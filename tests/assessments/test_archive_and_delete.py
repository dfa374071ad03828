"""Archiving hides banks, items, assessments and administrations from listings (still read
by id, restorable); deleting is refused with a 409 problem while anything an attempt used
depends on what would go, and allowed otherwise. Each change is audited."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.exams import World, begin, exam
from tests.support.factories import Factory
from tests.support.items import choice_item

pytestmark = pytest.mark.asyncio


async def _actions(client: httpx.AsyncClient, headers: dict[str, str], target: str) -> list[str]:
    events = await client.get(
        "/api/v1/audit/events", params={"target_id": target, "limit": 100}, headers=headers
    )
    assert events.status_code == 200, events.text
    return [e["action"] for e in events.json()["items"]]


async def _ids(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], **params: Any
) -> set[str]:
    body = (await client.get(url, params=params, headers=headers)).json()
    rows = body["items"] if isinstance(body, dict) else body
    return {r["id"] for r in rows}


async def test_archive_hides_from_listings_keeps_reads_and_restores(
    client: httpx.AsyncClient, make: Factory
) -> None:
    world = await World(client, make).setup()
    h = world.headers
    published = await world.published_assessment()
    assessment_id = published["assessment"]["id"]
    administration = await world.administration(published["version"]["id"])
    cases = [
        ("/api/v1/banks", f"/api/v1/banks/{world.bank_id}", world.bank_id, "item_bank"),
        ("/api/v1/items", f"/api/v1/items/{world.items['A1']}", world.items["A1"], "item"),
        (
            "/api/v1/assessments",
            f"/api/v1/assessments/{assessment_id}",
            assessment_id,
            "assessment",
        ),
        (
            "/api/v1/administrations",
            f"/api/v1/administrations/{administration['id']}",
            administration["id"],
            "administration",
        ),
    ]
    for listing, one, target, kind in cases:
        assert target in await _ids(client, listing, h), kind
        archived = await client.post(f"{one}/archive", headers=h)
        assert archived.status_code == 200, (kind, archived.text)
        again = await client.post(f"{one}/archive", headers=h)  # idempotent
        assert again.status_code == 200
        assert target not in await _ids(client, listing, h), kind
        assert target in await _ids(client, listing, h, archived="true"), kind
        read = await client.get(one, headers=h)
        assert read.status_code == 200, kind
        body = read.json()
        record = body.get("item") or body.get("assessment") or body
        assert record["archived_at"] is not None, kind

        restored = await client.post(f"{one}/restore", headers=h)
        assert restored.status_code == 200, (kind, restored.text)
        assert target in await _ids(client, listing, h), kind
        actions = await _actions(client, h, target)
        assert f"{kind}.archived" in actions and f"{kind}.restored" in actions, (kind, actions)
        assert actions.count(f"{kind}.archived") == 1, kind


async def test_delete_is_refused_while_an_attempt_used_it_and_allowed_otherwise(
    client: httpx.AsyncClient, make: Factory
) -> None:
    setup = await exam(client, make, candidates=1)
    world = setup.world
    h = world.headers
    await begin(client, setup.codes[0])  # an attempt now uses the exam's items
    administration_id = setup.administration["id"]
    assessments = (await client.get("/api/v1/assessments", headers=h)).json()
    (assessment_id,) = [a["id"] for a in assessments if a["slug"] == "exam"]

    for url, code in (
        (f"/api/v1/items/{world.items['Q1']}", "item-in-use"),
        (f"/api/v1/banks/{world.bank_id}", "item-bank-in-use"),
        (f"/api/v1/assessments/{assessment_id}", "assessment-in-use"),
        (f"/api/v1/administrations/{administration_id}", "administration-in-use"),
    ):
        refused = await client.delete(url, headers=h)
        assert refused.status_code == 409, (url, refused.text)
        assert refused.json()["type"].endswith("/" + code), refused.json()
        assert "archive" in refused.json()["detail"]
        assert (await client.get(url, headers=h)).status_code == 200  # nothing went
    # The attempt still reads its items.
    assert (
        await client.get(f"/api/v1/items/{world.items['Q1']}/versions/1", headers=h)
    ).status_code == 200

    # An item nothing uses goes, with its versions.
    spare = await client.post(
        f"/api/v1/banks/{world.bank_id}/items",
        json={"source": {"format": "qti", "content": choice_item("SPARE", "Spare")}},
        headers=h,
    )
    spare_id = spare.json()["item"]["id"]
    assert (await client.delete(f"/api/v1/items/{spare_id}", headers=h)).status_code == 204
    assert (await client.get(f"/api/v1/items/{spare_id}", headers=h)).status_code == 404
    assert "item.deleted" in await _actions(client, h, spare_id)

    # An item a draft assessment names is in use too (deleting it would break that draft).
    draft_item = await client.post(
        f"/api/v1/banks/{world.bank_id}/items",
        json={"source": {"format": "qti", "content": choice_item("DRAFTED", "Drafted")}},
        headers=h,
    )
    drafted_id = draft_item.json()["item"]["id"]
    draft = await client.post(
        "/api/v1/assessments",
        json={
            "slug": "draft-only",
            "definition": world.definition(
                sections=[{"identifier": "s", "title": "S", "items": [{"item_id": drafted_id}]}]
            ),
        },
        headers=h,
    )
    assert draft.status_code == 201, draft.text
    in_draft = await client.delete(f"/api/v1/items/{drafted_id}", headers=h)
    assert in_draft.status_code == 409
    assert "draft-only" in in_draft.json()["detail"]

    # An assessment and an administration without attempts go.
    other = await client.post(
        "/api/v1/assessments",
        json={
            "slug": "unused",
            "definition": world.definition(
                sections=[
                    {"identifier": "s", "title": "S", "items": [{"item_id": world.items["Q2"]}]}
                ]
            ),
        },
        headers=h,
    )
    other_id = other.json()["assessment"]["id"]
    published = await client.post(f"/api/v1/assessments/{other_id}/publish", headers=h)
    unused_admin = await world.administration(published.json()["version"]["id"])
    gone = await client.delete(f"/api/v1/administrations/{unused_admin['id']}", headers=h)
    assert gone.status_code == 204, gone.text
    assert (
        await client.get(f"/api/v1/administrations/{unused_admin['id']}", headers=h)
    ).status_code == 404
    await world.administration(published.json()["version"]["id"])  # one more, deleted with it
    assert (await client.delete(f"/api/v1/assessments/{other_id}", headers=h)).status_code == 204
    assert (await client.get(f"/api/v1/assessments/{other_id}", headers=h)).status_code == 404
    assert "assessment.deleted" in await _actions(client, h, other_id)
    assert "administration.deleted" in await _actions(client, h, unused_admin["id"])

    # A bank nothing uses goes with its items.
    bank = await client.post("/api/v1/banks", json={"slug": "scratch", "name": "S"}, headers=h)
    bank_id = bank.json()["id"]
    await client.post(
        f"/api/v1/banks/{bank_id}/items",
        json={"source": {"format": "qti", "content": choice_item("S1", "Scratch")}},
        headers=h,
    )
    assert (await client.delete(f"/api/v1/banks/{bank_id}", headers=h)).status_code == 204
    assert (await client.get(f"/api/v1/banks/{bank_id}", headers=h)).status_code == 404
    assert "item_bank.deleted" in await _actions(client, h, bank_id)
