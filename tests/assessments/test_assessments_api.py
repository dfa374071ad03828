"""Assessments and administrations over HTTP: definitions, publishing, preview, rosters,
access codes, and every kind of bad input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI

from tests.support.exams import World
from tests.support.factories import Factory, login
from tests.support.items import choice_item
from waa_ads.assessments import service as assessment_service
from waa_ads.auth.models import Role

pytestmark = pytest.mark.asyncio


async def test_publish_pins_versions_and_preview_hides_keys(
    client: httpx.AsyncClient, make: Factory
) -> None:
    world = await World(client, make).setup()
    published = await world.published_assessment()
    pinned = published["version"]["pinned"]["sections"]
    assert [i["version"] for i in pinned[0]["items"]] == [1]
    assert len(pinned[1]["pool"]) == 2
    assert pinned[1]["draw"] == 2
    assessment_id = published["assessment"]["id"]

    preview = await client.get(
        f"/api/v1/assessments/{assessment_id}/preview", params={"seed": 42}, headers=world.headers
    )
    assert preview.status_code == 200, preview.text
    body = preview.json()
    assert [i["section"] for i in body["items"]] == ["fixed", "drawn", "drawn"]
    assert "correct" not in preview.text.lower()
    again = await client.get(
        f"/api/v1/assessments/{assessment_id}/preview", params={"seed": 42}, headers=world.headers
    )
    assert again.json() == body

    # Editing an item later does not change the published assessment's pinned versions.
    await client.patch(
        f"/api/v1/items/{world.items['G1']}",
        json={"source": {"format": "qti", "content": choice_item("G1", "G1 v2")}},
        headers=world.headers,
    )
    await client.post(f"/api/v1/items/{world.items['G1']}/publish", headers=world.headers)
    version = await client.get(
        f"/api/v1/assessments/{assessment_id}/versions/1", headers=world.headers
    )
    assert version.json()["version"]["pinned"] == published["version"]["pinned"]

    # Changing a published assessment makes a new draft version.
    changed = await client.put(
        f"/api/v1/assessments/{assessment_id}",
        json={"definition": world.definition(title="Placement test B")},
        headers=world.headers,
    )
    assert changed.json()["version"]["version"] == 2
    assert changed.json()["version"]["status"] == "draft"


async def test_unsatisfiable_selection_is_refused_at_publish_time(
    client: httpx.AsyncClient, make: Factory
) -> None:
    world = await World(client, make).setup()
    definition = world.definition()
    definition["sections"][1]["selection"]["count"] = 5
    created = await client.post(
        "/api/v1/assessments",
        json={"slug": "too-many", "definition": definition},
        headers=world.headers,
    )
    assert created.status_code == 201
    refused = await client.post(
        f"/api/v1/assessments/{created.json()['assessment']['id']}/publish", headers=world.headers
    )
    assert refused.status_code == 422
    assert refused.json()["type"].endswith("/selection-unsatisfiable")


async def test_invalid_definitions_are_422(client: httpx.AsyncClient, make: Factory) -> None:
    world = await World(client, make).setup()
    cases = {
        "no-sections": world.definition(sections=[]),
        "linear-with-review": world.definition(navigation="linear", allow_review=True),
        "empty-section": world.definition(sections=[{"identifier": "s", "title": "S"}]),
        "unknown-item": world.definition(
            sections=[
                {
                    "identifier": "s",
                    "title": "S",
                    "items": [{"item_id": "00000000-0000-7000-8000-000000000000"}],
                }
            ]
        ),
        "duplicate-bands": world.definition(
            scoring={"bands": [{"name": "a", "min_score": 1}, {"name": "b", "min_score": 1}]}
        ),
        "zero-attempts": world.definition(attempts_allowed=0),
    }
    for name, definition in cases.items():
        response = await client.post(
            "/api/v1/assessments",
            json={"slug": f"bad-{name}", "definition": definition},
            headers=world.headers,
        )
        assert response.status_code == 422, (name, response.text)
    assert (await client.get("/api/v1/assessments", headers=world.headers)).json() == []


async def test_roster_codes_and_accommodations(
    app: FastAPI, client: httpx.AsyncClient, make: Factory
) -> None:
    world = await World(client, make).setup()
    published = await world.published_assessment()
    administration = await world.administration(published["version"]["id"])
    adm = administration["id"]
    ada = await make.candidate(world.org, name="Ada")
    bob = await make.candidate(world.org, name="Bob")
    added = await client.post(
        f"/api/v1/administrations/{adm}/roster",
        json={
            "entries": [
                {"candidate_id": str(ada.id), "accommodations": {"extra_time_multiplier": 1.5}},
                {"candidate_id": str(bob.id)},
            ]
        },
        headers=world.headers,
    )
    assert added.status_code == 201, added.text
    entries = added.json()
    codes = [e["access_code"] for e in entries]
    assert all(len(c) == 19 for c in codes)
    assert entries[0]["accommodations"]["extra_time_multiplier"] == 1.5
    listed = (
        await client.get(f"/api/v1/administrations/{adm}/roster", headers=world.headers)
    ).json()
    assert all(e["access_code"] is None for e in listed)

    async with app.state.db.transaction(write=False) as session:
        found = await assessment_service.find_by_code(
            session, app.state.settings, codes[0].lower().replace("-", " ")
        )
        assert found is not None
        assert found.candidate_id == ada.id
        assert (
            await assessment_service.find_by_code(
                session, app.state.settings, "AAAA-BBBB-CCCC-DDDD"
            )
            is None
        )

    reissued = await client.post(
        f"/api/v1/administrations/{adm}/roster/{entries[0]['id']}/code", headers=world.headers
    )
    new_code = reissued.json()["access_code"]
    assert new_code != codes[0]
    revoke = await client.delete(
        f"/api/v1/administrations/{adm}/roster/{entries[1]['id']}/code", headers=world.headers
    )
    assert revoke.status_code == 204
    async with app.state.db.transaction(write=False) as session:
        settings = app.state.settings
        assert await assessment_service.find_by_code(session, settings, codes[0]) is None
        assert await assessment_service.find_by_code(session, settings, new_code) is not None
        assert await assessment_service.find_by_code(session, settings, codes[1]) is None

    out_of_range = await client.put(
        f"/api/v1/administrations/{adm}/roster/{entries[0]['id']}/accommodations",
        json={"extra_time_multiplier": 9},
        headers=world.headers,
    )
    assert out_of_range.status_code == 422
    assert out_of_range.json()["invalid_params"][0]["name"] == "body.extra_time_multiplier"
    twice = await client.post(
        f"/api/v1/administrations/{adm}/roster",
        json={"entries": [{"candidate_id": str(ada.id)}]},
        headers=world.headers,
    )
    assert twice.status_code == 422
    assert twice.json()["problems"][0]["problem"] == "candidate is already on the roster"

    shown = (await client.get(f"/api/v1/administrations/{adm}", headers=world.headers)).json()
    assert shown["roster_size"] == 2
    assert shown["timezone"] == "UTC"


async def test_roster_csv_is_all_or_nothing_with_per_row_reasons(
    client: httpx.AsyncClient, make: Factory
) -> None:
    world = await World(client, make).setup()
    published = await world.published_assessment()
    adm = (await world.administration(published["version"]["id"]))["id"]
    known = await make.candidate(world.org)

    async def upload(text: str) -> httpx.Response:
        return await client.post(
            f"/api/v1/administrations/{adm}/roster/csv",
            files={"file": ("roster.csv", text.encode(), "text/csv")},
            headers=world.headers,
        )

    bad = await upload(
        "external_id,extra_time_multiplier\n"
        f"{known.external_id},1.25\n"
        "nobody-here,1\n"
        f"{known.external_id},7\n"
    )
    assert bad.status_code == 422
    problems = {p["row"]: p["problem"] for p in bad.json()["problems"]}
    assert set(problems) == {3, 4}
    assert "no candidate" in problems[3]
    assert "extra_time_multiplier" in problems[4]
    roster = (
        await client.get(f"/api/v1/administrations/{adm}/roster", headers=world.headers)
    ).json()
    assert roster == []

    good = await upload(f"external_id,extra_time_multiplier\n{known.external_id},1.25\n")
    assert good.status_code == 201, good.text
    assert good.json()[0]["accommodations"]["extra_time_multiplier"] == 1.25
    assert (await upload("name\nx\n")).status_code == 422


async def test_windows_must_be_ordered_and_may_not_overlap_for_a_candidate(
    client: httpx.AsyncClient, make: Factory
) -> None:
    world = await World(client, make).setup()
    published = await world.published_assessment()
    version_id = published["version"]["id"]
    start = datetime(2030, 1, 1, 9, tzinfo=UTC)
    backwards = await client.post(
        "/api/v1/administrations",
        json={
            "assessment_version_id": version_id,
            "title": "x",
            "opens_at": start.isoformat(),
            "closes_at": (start - timedelta(hours=1)).isoformat(),
        },
        headers=world.headers,
    )
    assert backwards.status_code == 422
    first = await world.administration(version_id, start=start)
    second = await world.administration(version_id, start=start + timedelta(hours=1))
    third = await world.administration(version_id, start=start + timedelta(hours=3))
    candidate = await make.candidate(world.org)
    body = {"entries": [{"candidate_id": str(candidate.id)}]}
    assert (
        await client.post(
            f"/api/v1/administrations/{first['id']}/roster", json=body, headers=world.headers
        )
    ).status_code == 201
    clash = await client.post(
        f"/api/v1/administrations/{second['id']}/roster", json=body, headers=world.headers
    )
    assert clash.status_code == 422
    assert clash.json()["type"].endswith("/roster-rejected")
    assert "overlaps" in clash.json()["problems"][0]["problem"]
    assert (
        await client.post(
            f"/api/v1/administrations/{third['id']}/roster", json=body, headers=world.headers
        )
    ).status_code == 201
    moved = await client.patch(
        f"/api/v1/administrations/{third['id']}",
        json={"opens_at": (start + timedelta(minutes=30)).isoformat()},
        headers=world.headers,
    )
    assert moved.status_code == 409
    assert moved.json()["type"].endswith("/administration-window-overlaps")


async def test_proctors_see_only_their_administrations_and_others_see_nothing(
    client: httpx.AsyncClient, make: Factory
) -> None:
    world = await World(client, make).setup()
    published = await world.published_assessment()
    proctor = await make.user(world.org, Role.proctor)
    other = await make.user(world.org, Role.proctor)
    version_id = published["version"]["id"]
    mine = await client.post(
        "/api/v1/administrations",
        json={
            "assessment_version_id": version_id,
            "title": "Proctored",
            "opens_at": "2030-02-01T09:00:00Z",
            "closes_at": "2030-02-01T12:00:00Z",
            "proctor_ids": [str(proctor.user.id)],
        },
        headers=world.headers,
    )
    assert mine.status_code == 201, mine.text
    await world.administration(version_id, start=datetime(2030, 3, 1, tzinfo=UTC))
    proctor_headers = await login(client, proctor)
    listed = (await client.get("/api/v1/administrations", headers=proctor_headers)).json()
    assert [a["id"] for a in listed] == [mine.json()["id"]]
    other_headers = await login(client, other)
    assert (
        await client.get(f"/api/v1/administrations/{mine.json()['id']}", headers=other_headers)
    ).status_code == 404
    not_a_proctor = await client.patch(
        f"/api/v1/administrations/{mine.json()['id']}",
        json={"proctor_ids": [str(world.admin.user.id)]},
        headers=world.headers,
    )
    assert not_a_proctor.status_code == 422

    foreign_org = await make.organization()
    foreign = await login(client, await make.user(foreign_org, Role.admin))
    assert (
        await client.get(f"/api/v1/administrations/{mine.json()['id']}", headers=foreign)
    ).status_code == 404
    assert (
        await client.get(f"/api/v1/assessments/{published['assessment']['id']}", headers=foreign)
    ).status_code == 404
    assert (await client.get("/api/v1/assessments", headers=foreign)).json() == []
