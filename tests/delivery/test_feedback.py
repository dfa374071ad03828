"""Feedback by the assessment's policy: under ``none`` (the default) nothing of any
feedback reaches the candidate, before or after the end; ``after_item`` shows an item's
feedback once the candidate has moved on (linear navigation); ``after_test`` shows every
item's once the attempt has ended. Scorer-only rubric blocks never reach a candidate."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.exams import World, begin
from tests.support.factories import Factory
from tests.support.feedback_items import (
    FOR_CANDIDATE,
    FOR_SCORER,
    HINT,
    MARKERS,
    MODAL,
    MODAL_TITLE,
    RIGHT,
    feedback_item,
)
from tests.support.problems import problem

pytestmark = pytest.mark.asyncio


async def _world(client: httpx.AsyncClient, make: Factory) -> World:
    world = await World(client, make).setup(tagged={})
    for ident in ("F1", "F2"):
        created = await client.post(
            f"/api/v1/banks/{world.bank_id}/items",
            json={"source": {"format": "qti", "content": feedback_item(ident)}},
            headers=world.headers,
        )
        assert created.status_code == 201, created.text
        item_id = created.json()["item"]["id"]
        published = await client.post(f"/api/v1/items/{item_id}/publish", headers=world.headers)
        assert published.status_code == 200, published.text
        world.items[ident] = item_id
    return world


async def _open(
    client: httpx.AsyncClient, make: Factory, world: World, slug: str, **definition: Any
) -> str:
    candidate = await make.candidate(world.org, name="Feedback reader")
    body = world.definition(
        sections=[
            {
                "identifier": "s",
                "title": "S",
                "items": [{"item_id": world.items["F1"]}, {"item_id": world.items["F2"]}],
            }
        ],
        **definition,
    )
    _, codes = await world.open_administration(
        slug=slug, definition=body, title=slug, candidate_ids=[candidate.id]
    )
    return codes[0]


async def _save(
    client: httpx.AsyncClient, attempt_id: str, headers: dict[str, str], ref: str, value: str
) -> httpx.Response:
    return await client.put(
        f"/api/v1/attempts/{attempt_id}/responses/{ref}",
        json={"seq": 1, "value": value},
        headers=headers,
    )


def _no_feedback(text: str) -> None:
    for marker in (*MARKERS, FOR_SCORER):
        assert marker not in text


async def test_policy_none_sends_no_feedback_ever(client: httpx.AsyncClient, make: Factory) -> None:
    world = await _world(client, make)
    code = await _open(client, make, world, "summative")
    attempt_id, headers = await begin(client, code)
    view = await client.get(f"/api/v1/attempts/{attempt_id}", headers=headers)
    assert view.status_code == 200
    assert view.json()["feedback"] == "none"
    assert [i["ref"] for i in view.json()["items"]] == ["F1", "F2"]
    assert all("feedback" not in i for i in view.json()["items"])
    _no_feedback(view.text)
    assert FOR_CANDIDATE in view.text
    assert (await _save(client, attempt_id, headers, "F1", "A")).status_code == 200
    assert (await _save(client, attempt_id, headers, "F2", "B")).status_code == 200
    _no_feedback((await client.get(f"/api/v1/attempts/{attempt_id}", headers=headers)).text)
    submitted = await client.post(f"/api/v1/attempts/{attempt_id}/submit", headers=headers)
    assert submitted.status_code == 200
    _no_feedback(submitted.text)
    ended = await client.get(f"/api/v1/attempts/{attempt_id}", headers=headers)
    assert ended.json()["feedback"] == "none"
    assert ended.json()["items"] == []
    _no_feedback(ended.text)
    # The access code's lookup (the finished screen's result) holds none either.
    lookup = await client.post("/api/v1/attempts/lookup", json={"access_code": code})
    assert lookup.status_code == 200, lookup.text
    _no_feedback(lookup.text)


async def test_after_item_shows_feedback_once_the_item_is_left(
    client: httpx.AsyncClient, make: Factory
) -> None:
    world = await _world(client, make)
    code = await _open(
        client, make, world, "practice", navigation="linear", allow_review=False,
        feedback="after_item",
    )  # fmt: skip
    attempt_id, headers = await begin(client, code)
    first = await client.get(f"/api/v1/attempts/{attempt_id}", headers=headers)
    assert first.json()["feedback"] == "after_item"
    assert [i["ref"] for i in first.json()["items"]] == ["F1"]
    _no_feedback(first.text)
    assert (await _save(client, attempt_id, headers, "F1", "A")).status_code == 200
    _no_feedback((await client.get(f"/api/v1/attempts/{attempt_id}", headers=headers)).text)
    moved = await client.post(f"/api/v1/attempts/{attempt_id}/advance", headers=headers)
    assert moved.status_code == 200, moved.text
    second = (await client.get(f"/api/v1/attempts/{attempt_id}", headers=headers)).json()
    f1, f2 = second["items"]
    assert [f["kind"] for f in f1["feedback"]] == ["inline", "modal"]
    assert HINT in f1["feedback"][0]["html"]
    assert f1["feedback"][1]["title"] == MODAL_TITLE and MODAL in f1["feedback"][1]["html"]
    assert RIGHT not in str(f1)
    assert "feedback" not in f2
    _no_feedback(str(f2))
    # Seen the feedback, the answer cannot change: the closed item's save is refused.
    late = await client.put(
        f"/api/v1/attempts/{attempt_id}/responses/F1",
        json={"seq": 2, "value": "B"},
        headers=headers,
    )
    assert late.status_code == 409 and problem(late) == "item-closed"
    again = (await client.get(f"/api/v1/attempts/{attempt_id}", headers=headers)).json()
    assert RIGHT not in str(again["items"][0])
    assert (await _save(client, attempt_id, headers, "F2", "B")).status_code == 200
    await client.post(f"/api/v1/attempts/{attempt_id}/submit", headers=headers)
    ended = (await client.get(f"/api/v1/attempts/{attempt_id}", headers=headers)).json()
    assert [i["ref"] for i in ended["items"]] == ["F1", "F2"]
    assert [f["kind"] for f in ended["items"][1]["feedback"]] == ["block"]
    assert RIGHT in ended["items"][1]["feedback"][0]["html"]
    assert ended["items"][1]["response"]["value"] == "B"


async def test_after_test_shows_feedback_only_after_the_end(
    client: httpx.AsyncClient, make: Factory
) -> None:
    world = await _world(client, make)
    code = await _open(client, make, world, "quiz", feedback="after_test")
    attempt_id, headers = await begin(client, code)
    assert (await _save(client, attempt_id, headers, "F1", "B")).status_code == 200
    assert (await _save(client, attempt_id, headers, "F2", "C")).status_code == 200
    running = await client.get(f"/api/v1/attempts/{attempt_id}", headers=headers)
    assert running.json()["feedback"] == "after_test"
    _no_feedback(running.text)
    await client.post(f"/api/v1/attempts/{attempt_id}/submit", headers=headers)
    ended = await client.get(f"/api/v1/attempts/{attempt_id}", headers=headers)
    body = ended.json()
    assert body["attempt"]["state"] in ("submitted", "scoring", "scored", "released")
    by_ref = {i["ref"]: i for i in body["items"]}
    assert [f["kind"] for f in by_ref["F1"]["feedback"]] == ["block"]
    assert RIGHT in by_ref["F1"]["feedback"][0]["html"]
    assert [f["kind"] for f in by_ref["F2"]["feedback"]] == ["inline", "modal"]
    assert by_ref["F2"]["response"]["value"] == "C"
    assert FOR_SCORER not in ended.text
    # Another candidate's credential still reads nothing of it.
    stranger = await client.get(
        f"/api/v1/attempts/{attempt_id}", headers={"X-Attempt-Token": "forged"}
    )
    assert stranger.status_code == 404


async def test_after_item_needs_linear_navigation(client: httpx.AsyncClient, make: Factory) -> None:
    world = await _world(client, make)
    body = world.definition(
        sections=[{"identifier": "s", "title": "S", "items": [{"item_id": world.items["F1"]}]}],
        feedback="after_item",
    )
    refused = await client.post(
        "/api/v1/assessments", json={"slug": "free", "definition": body}, headers=world.headers
    )
    assert refused.status_code == 422
    assert "after_item needs linear navigation" in refused.text
    unknown = await client.post(
        "/api/v1/assessments",
        json={"slug": "odd", "definition": {**body, "feedback": "always"}},
        headers=world.headers,
    )
    assert unknown.status_code == 422
