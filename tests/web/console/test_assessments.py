"""The console's assessments: the list, creating one, the builder's changes through the API,
the pool size without scripts, publishing refused with each problem where it is, preview,
archive and delete, and what a role without the right or another organization gets."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest

from tests.support.console import console_sign_in, field_errors, post_form
from tests.support.exams import World
from tests.support.factories import Factory, login
from tests.support.items import choice_item
from waa_ads.auth.models import Role

pytestmark = pytest.mark.asyncio


async def _world(client: httpx.AsyncClient, make: Factory) -> tuple[World, str]:
    world = await World(client, make).setup()
    csrf = await console_sign_in(client, world.admin)
    return world, csrf


async def _api(client: httpx.AsyncClient, world: World, assessment_id: str) -> dict[str, Any]:
    reply = await client.get(f"/api/v1/assessments/{assessment_id}", headers=world.headers)
    assert reply.status_code == 200, reply.text
    body: dict[str, Any] = reply.json()
    return body


def _section_html(page: str, identifier: str) -> str:
    found = re.search(rf'<section[^>]*id="section-{identifier}".*?</section>', page, re.S)
    assert found, f"no section {identifier} on the page"
    return found.group(0)


async def test_create_lists_and_opens_the_builder(client: httpx.AsyncClient, make: Factory) -> None:
    world, csrf = await _world(client, make)
    new = await client.get("/console/assessments/new", params={"q": "G1"})
    assert new.status_code == 200
    assert world.items["G1"] in new.text
    refused = await post_form(
        client,
        "/console/assessments",
        csrf,
        {"title": "Placement", "slug": "Not A Slug", "kind": "items"},
    )
    assert refused.status_code == 422
    assert "slug" in field_errors(refused.text)
    created = await post_form(
        client,
        "/console/assessments",
        csrf,
        {
            "title": "Placement",
            "slug": "placement",
            "kind": "items",
            "item_id": [world.items["G1"], world.items["A1"]],
        },
    )
    assert created.status_code == 303, created.text
    builder_url = created.headers["location"]
    assessment_id = builder_url.rsplit("/", 1)[-1]
    stored = await _api(client, world, assessment_id)
    assert [r["item_id"] for r in stored["version"]["definition"]["sections"][0]["items"]] == [
        world.items["G1"],
        world.items["A1"],
    ]
    page = await client.get(builder_url)
    assert page.status_code == 200
    assert "Created “Placement”." in page.text
    assert "<h1>Placement</h1>" in page.text
    listing = await client.get("/console/assessments")
    assert f'href="/console/assessments/{assessment_id}"' in listing.text


async def test_the_builder_saves_sections_rules_items_and_settings(
    client: httpx.AsyncClient, make: Factory
) -> None:
    world, csrf = await _world(client, make)
    created = await client.post(
        "/api/v1/assessments",
        json={"slug": "built", "definition": world.definition()},
        headers=world.headers,
    )
    assessment_id = created.json()["assessment"]["id"]
    base = f"/console/assessments/{assessment_id}"

    # The rule's pool is counted when the page is drawn (the scripts count it as one types).
    page = (await client.get(base)).text
    drawn = _section_html(page, "drawn")
    assert "<strong>2</strong> published items match" in drawn

    # Without scripts, "Check pool" counts what was typed and saves nothing.
    checked = await post_form(
        client,
        f"{base}/sections/drawn",
        csrf,
        {"title": "Algebra", "bank_id": world.bank_id, "tags": "", "count": "5", "action": "check"},
    )
    assert checked.status_code == 200
    assert "<strong>3</strong> published items match" in _section_html(checked.text, "drawn")
    assert "fewer than the 5 drawn" in _section_html(checked.text, "drawn")
    stored = await _api(client, world, assessment_id)
    assert stored["version"]["definition"]["sections"][1]["selection"]["count"] == 2

    # A new rule section, then an item searched and added to a new section.
    added = await post_form(
        client,
        f"{base}/sections",
        csrf,
        {
            "kind": "rule",
            "title": "Geometry draw",
            "bank_id": world.bank_id,
            "tags": "geometry",
            "count": "1",
            "interaction_types": "choice",
        },
    )
    assert added.status_code == 303, added.text
    search = await client.get(base, params={"q": "A1"})
    assert world.items["A1"] in search.text
    put = await post_form(
        client, f"{base}/sections", csrf, {"item_id": world.items["A1"], "to": "new"}
    )
    assert put.status_code == 303
    definition = (await _api(client, world, assessment_id))["version"]["definition"]
    assert [s["identifier"] for s in definition["sections"]] == [
        "fixed",
        "drawn",
        "section-3",
        "section-4",
    ]
    assert definition["sections"][2]["selection"] == {
        "bank_id": world.bank_id,
        "count": 1,
        "tags": ["geometry"],
        "subject": None,
        "interaction_types": ["choice"],
        "weight": 1.0,
    }
    assert definition["sections"][3]["items"] == [{"item_id": world.items["A1"], "weight": 1.0}]

    # Settings: minutes become seconds, a band is added; a bad value is shown by its field.
    settings = {
        "title": "Built test",
        "navigation": "free",
        "allow_review": "on",
        "time_limit_min": "45",
        "attempts_allowed": "2",
        "breaks_allowed": "on",
        "max_breaks": "2",
        "max_break_min": "5",
        "scale_slope": "1",
        "scale_intercept": "0",
        "release": "manual",
        "band_name_0": "fail",
        "band_min_0": "0",
        "band_passed_0": "no",
        "band_name_1": "pass",
        "band_min_1": "3",
        "band_passed_1": "yes",
        "band_name_2": "",
        "band_min_2": "",
    }
    saved = await post_form(client, f"{base}/settings", csrf, settings)
    assert saved.status_code == 303, saved.text
    definition = (await _api(client, world, assessment_id))["version"]["definition"]
    assert definition["title"] == "Built test"
    assert definition["time_limit_s"] == 2700
    assert definition["attempts_allowed"] == 2
    assert definition["breaks"] == {
        "allowed": True,
        "count_against_time": False,
        "max_breaks": 2,
        "max_break_s": 300,
    }
    assert definition["scoring"]["release"] == "manual"
    assert [b["name"] for b in definition["scoring"]["bands"]] == ["fail", "pass"]
    refused = await post_form(
        client, f"{base}/settings", csrf, {**settings, "attempts_allowed": "0"}
    )
    assert refused.status_code == 422
    assert "attempts_allowed" in field_errors(refused.text)
    assert '<a href="#attempts_allowed">' in refused.text
    assert 'value="0"' in refused.text
    linear = await post_form(client, f"{base}/settings", csrf, {**settings, "navigation": "linear"})
    assert linear.status_code == 422
    assert "linear navigation does not allow review" in linear.text
    # The feedback policy: chosen in the form, shown selected; after_item needs linear.
    assert '<option value="none" selected>' in (await client.get(base)).text
    practice = await post_form(
        client, f"{base}/settings", csrf, {**settings, "feedback": "after_test"}
    )
    assert practice.status_code == 303, practice.text
    definition = (await _api(client, world, assessment_id))["version"]["definition"]
    assert definition["feedback"] == "after_test"
    assert '<option value="after_test" selected>' in (await client.get(base)).text
    free_after_item = await post_form(
        client, f"{base}/settings", csrf, {**settings, "feedback": "after_item"}
    )
    assert free_after_item.status_code == 422
    assert "after_item needs linear navigation" in free_after_item.text
    linear_after_item = await post_form(
        client,
        f"{base}/settings",
        csrf,
        {**settings, "navigation": "linear", "allow_review": "", "feedback": "after_item"},
    )
    assert linear_after_item.status_code == 303, linear_after_item.text
    definition = (await _api(client, world, assessment_id))["version"]["definition"]
    assert (definition["feedback"], definition["navigation"]) == ("after_item", "linear")

    # Moving and removing sections.
    moved = await post_form(client, f"{base}/sections/section-4/move", csrf, {"direction": "up"})
    assert moved.status_code == 303
    gone = await post_form(client, f"{base}/sections/drawn/delete", csrf)
    assert gone.status_code == 303
    definition = (await _api(client, world, assessment_id))["version"]["definition"]
    assert [s["identifier"] for s in definition["sections"]] == [
        "fixed",
        "section-4",
        "section-3",
    ]


async def test_publish_refused_shows_each_problem_in_its_section(
    client: httpx.AsyncClient, make: Factory
) -> None:
    world, csrf = await _world(client, make)
    draft = await client.post(
        f"/api/v1/banks/{world.bank_id}/items",
        json={"source": {"format": "qti", "content": choice_item("D1", "Draft one")}},
        headers=world.headers,
    )
    draft_id = draft.json()["item"]["id"]
    definition = world.definition(
        sections=[
            {"identifier": "fixed", "title": "Fixed", "items": [{"item_id": draft_id}]},
            {
                "identifier": "drawn",
                "title": "Drawn",
                "selection": {"bank_id": world.bank_id, "count": 9, "tags": ["algebra"]},
            },
            {"identifier": "fine", "title": "Fine", "items": [{"item_id": world.items["G1"]}]},
        ]
    )
    created = await client.post(
        "/api/v1/assessments",
        json={"slug": "broken", "definition": definition},
        headers=world.headers,
    )
    assessment_id = created.json()["assessment"]["id"]
    base = f"/console/assessments/{assessment_id}"
    refused = await post_form(client, f"{base}/publish", csrf)
    assert refused.status_code == 422
    fixed = _section_html(refused.text, "fixed")
    assert "has no published version" in fixed
    assert 'class="row-error"' in fixed
    drawn = _section_html(refused.text, "drawn")
    assert "draws 9 items but the bank has only 2" in drawn
    assert "notice-error" not in _section_html(refused.text, "fine")
    assert 'href="#section-drawn"' in refused.text
    stored = await _api(client, world, assessment_id)
    assert stored["version"]["status"] == "draft"

    preview = await client.get(f"{base}/preview")
    assert preview.status_code == 422
    assert f'href="{base}#section-drawn"' in preview.text

    # Fixed: publishing succeeds and the preview shows the form without keys.
    await client.post(f"/api/v1/items/{draft_id}/publish", headers=world.headers)
    await post_form(
        client,
        f"{base}/sections/drawn",
        csrf,
        {"title": "Drawn", "bank_id": world.bank_id, "tags": "algebra", "count": "2"},
    )
    published = await post_form(client, f"{base}/publish", csrf)
    assert published.status_code == 303, published.text
    assert (await _api(client, world, assessment_id))["version"]["status"] == "published"
    shown = await client.get(f"{base}/preview", params={"seed": 7})
    assert shown.status_code == 200
    assert shown.text.count('class="preview-item"') == 4
    assert "correct" not in shown.text.lower()

    # A new draft: the builder offers the published version's preview too.
    await post_form(client, f"{base}/sections/fine/delete", csrf)
    builder = await client.get(base)
    assert f'href="{base}/preview?version=1"' in builder.text
    old = await client.get(f"{base}/preview", params={"version": 1})
    assert old.status_code == 200
    assert old.text.count('class="preview-item"') == 4
    assert "(version 1, published)" in old.text
    draft = await client.get(f"{base}/preview")
    assert draft.text.count('class="preview-item"') == 3


async def test_archive_restore_and_delete(client: httpx.AsyncClient, make: Factory) -> None:
    world, csrf = await _world(client, make)
    created = await client.post(
        "/api/v1/assessments",
        json={"slug": "old-one", "definition": world.definition()},
        headers=world.headers,
    )
    assessment_id = created.json()["assessment"]["id"]
    base = f"/console/assessments/{assessment_id}"
    assert (await post_form(client, f"{base}/archive", csrf)).status_code == 303
    assert base not in (await client.get("/console/assessments")).text
    assert base in (await client.get("/console/assessments", params={"archived": "true"})).text
    assert (await post_form(client, f"{base}/restore", csrf)).status_code == 303
    assert (await _api(client, world, assessment_id))["assessment"]["archived_at"] is None
    deleted = await post_form(client, f"{base}/delete", csrf)
    assert deleted.status_code == 303
    assert deleted.headers["location"] == "/console/assessments"
    gone = await client.get(f"/api/v1/assessments/{assessment_id}", headers=world.headers)
    assert gone.status_code == 404


async def test_roles_without_the_right_and_other_organizations_are_refused(
    client: httpx.AsyncClient, make: Factory
) -> None:
    world = await World(client, make).setup()
    created = await client.post(
        "/api/v1/assessments",
        json={"slug": "theirs", "definition": world.definition()},
        headers=world.headers,
    )
    assessment_id = created.json()["assessment"]["id"]
    base = f"/console/assessments/{assessment_id}"

    author = await make.user(world.org, Role.author)
    csrf = await console_sign_in(client, author)
    refused = await post_form(client, f"{base}/delete", csrf)
    assert refused.status_code == 403
    assert "notice-error" in refused.text
    assert "admin role" in refused.text
    assert (await _api(client, world, assessment_id))["assessment"]["slug"] == "theirs"

    proctor = await make.user(world.org, Role.proctor)
    csrf = await console_sign_in(client, proctor)
    save = await post_form(
        client, f"{base}/sections", csrf, {"item_id": world.items["A1"], "to": "new"}
    )
    assert save.status_code == 403
    assert "notice-error" in save.text and "admin or author role" in save.text
    sections = (await _api(client, world, assessment_id))["version"]["definition"]["sections"]
    assert len(sections) == 2

    other = await make.organization()
    outsider = await make.user(other, Role.admin)
    await console_sign_in(client, outsider)
    foreign = await client.get(base)
    assert foreign.status_code == 404
    assert "Assessment not found" in foreign.text
    assert (await login(client, outsider))["Authorization"]


async def test_an_adaptive_section_is_added_from_the_builder(
    client: httpx.AsyncClient, make: Factory, db_session: Any
) -> None:
    from sqlalchemy import update

    from waa_ads.content.models import ItemVersion

    world, csrf = await _world(client, make)
    created = await client.post(
        "/api/v1/assessments",
        json={"slug": "cat", "definition": world.definition()},
        headers=world.headers,
    )
    assessment_id = created.json()["assessment"]["id"]
    base = f"/console/assessments/{assessment_id}"
    form = {
        "kind": "adaptive",
        "title": "Adaptive algebra",
        "bank_id": world.bank_id,
        "tags": "algebra",
        "selection": "randomesque",
        "min_items": "1",
        "max_items": "2",
        "se_target": "0.4",
        "scale_slope": "100",
        "scale_intercept": "500",
    }
    # The bank's algebra items are not calibrated: refused, each named.
    refused = await post_form(client, f"{base}/sections", csrf, form)
    assert refused.status_code == 422
    assert "no right/wrong IRT parameters" in refused.text
    for ident in ("A1", "A2"):
        await db_session.execute(
            update(ItemVersion)
            .where(ItemVersion.item_id == uuid.UUID(world.items[ident]))
            .values(irt={"model": "2pl", "a": 1.2, "d": 0.3})
        )
    await db_session.flush()
    # The drawn section uses the same items; the adaptive one then has none left to draw.
    definition = (await _api(client, world, assessment_id))["version"]["definition"]
    definition["sections"] = definition["sections"][:1]
    kept = await client.put(
        f"/api/v1/assessments/{assessment_id}",
        json={"definition": definition},
        headers=world.headers,
    )
    assert kept.status_code == 200, kept.text
    added = await post_form(client, f"{base}/sections", csrf, form)
    assert added.status_code == 303, added.text
    stored = (await _api(client, world, assessment_id))["version"]["definition"]
    assert (stored["navigation"], stored["allow_review"]) == ("linear", False)
    adaptive = stored["sections"][-1]["adaptive"]
    assert adaptive["selection"] == "randomesque"
    assert (adaptive["min_items"], adaptive["max_items"], adaptive["se_target"]) == (1, 2, 0.4)
    assert adaptive["scale"] == {
        "slope": 100.0,
        "intercept": 500.0,
        "lowest": None,
        "highest": None,
    }
    page = (await client.get(base)).text
    section = _section_html(page, stored["sections"][-1]["identifier"])
    assert "adaptive" in section and "1 to 2 items" in section
