"""Accessibility supports as an accommodation: the roster takes the QTI supports a candidate
gets (validated, audited, scoped to the organization), and each candidate's player payload
holds the catalog cards of their own supports only."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from tests.support.catalog_items import catalog_package
from tests.support.exams import World, begin
from tests.support.factories import Factory, login
from waa_ads.auth.models import Role
from waa_ads.cli import app
from waa_ads.core.db import Database

pytestmark = pytest.mark.asyncio


async def _events(client: httpx.AsyncClient, headers: dict[str, str], action: str) -> list[Any]:
    page = await client.get("/api/v1/audit/events", params={"action": action}, headers=headers)
    assert page.status_code == 200, page.text
    return [json.loads(e["canonical"]) for e in page.json()["items"]]


async def test_supports_are_validated_stored_and_audited(
    client: httpx.AsyncClient, make: Factory
) -> None:
    world = await World(client, make).setup()
    published = await world.published_assessment()
    adm = (await world.administration(published["version"]["id"]))["id"]
    ada = await make.candidate(world.org, name="Ada")
    added = await client.post(
        f"/api/v1/administrations/{adm}/roster",
        json={
            "entries": [
                {
                    "candidate_id": str(ada.id),
                    "accommodations": {"accessibility_supports": ["spoken", "braille", "spoken"]},
                }
            ]
        },
        headers=world.headers,
    )
    assert added.status_code == 201, added.text
    (entry,) = added.json()
    assert entry["accommodations"]["accessibility_supports"] == ["braille", "spoken"]
    (event,) = await _events(client, world.headers, "roster.added")
    assert event["data"]["accessibility_supports"] == ["braille", "spoken"]

    url = f"/api/v1/administrations/{adm}/roster/{entry['id']}/accommodations"
    changed = await client.put(
        url,
        json={
            "extra_time_multiplier": 1.5,
            "accessibility_supports": ["sign-language", "ext:plain-words"],
        },
        headers=world.headers,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["accommodations"]["accessibility_supports"] == [
        "ext:plain-words",
        "sign-language",
    ]
    (event,) = await _events(client, world.headers, "roster.accommodations_changed")
    assert event["data"]["accessibility_supports"] == ["ext:plain-words", "sign-language"]
    assert event["target"]["id"] == entry["id"], event

    for wrong, said in (
        (["spoken", "telepathy"], "unknown accessibility support 'telepathy'"),
        (["glossary-on-screen"], "shown to every candidate"),
        (["ext:"], "unknown accessibility support 'ext:'"),
    ):
        refused = await client.put(
            url, json={"accessibility_supports": wrong}, headers=world.headers
        )
        assert refused.status_code == 422, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        (param,) = refused.json()["invalid_params"]
        assert param["name"].startswith("body.accessibility_supports"), param
        assert said in param["reason"], param
    roster = (
        await client.get(f"/api/v1/administrations/{adm}/roster", headers=world.headers)
    ).json()
    # Nothing of a refused change was kept.
    assert roster[0]["accommodations"]["accessibility_supports"] == [
        "ext:plain-words",
        "sign-language",
    ]
    assert len(await _events(client, world.headers, "roster.accommodations_changed")) == 1


async def test_the_roster_csv_takes_a_supports_column(
    client: httpx.AsyncClient, make: Factory
) -> None:
    world = await World(client, make).setup()
    published = await world.published_assessment()
    adm = (await world.administration(published["version"]["id"]))["id"]
    ada = await make.candidate(world.org, name="Ada")
    bob = await make.candidate(world.org, name="Bob")

    async def upload(text: str) -> httpx.Response:
        return await client.post(
            f"/api/v1/administrations/{adm}/roster/csv",
            files={"file": ("roster.csv", text.encode(), "text/csv")},
            headers=world.headers,
        )

    bad = await upload(
        "external_id,accessibility_supports\n"
        f"{ada.external_id},spoken braille\n"
        f"{bob.external_id},spoken;mind-reading\n"
    )
    assert bad.status_code == 422, bad.text
    (problem,) = bad.json()["problems"]
    assert problem["row"] == 3
    assert "mind-reading" in problem["problem"]
    good = await upload(
        "external_id,accessibility_supports\n"
        f"{ada.external_id},spoken braille\n"
        f"{bob.external_id},\n"
    )
    assert good.status_code == 201, good.text
    by_candidate = {e["candidate_id"]: e for e in good.json()}
    assert by_candidate[str(ada.id)]["accommodations"]["accessibility_supports"] == [
        "braille",
        "spoken",
    ]
    assert by_candidate[str(bob.id)]["accommodations"]["accessibility_supports"] == []


async def test_another_organization_cannot_see_or_change_them(
    client: httpx.AsyncClient, make: Factory
) -> None:
    world = await World(client, make).setup()
    published = await world.published_assessment()
    adm = (await world.administration(published["version"]["id"]))["id"]
    ada = await make.candidate(world.org)
    (entry,) = (
        await client.post(
            f"/api/v1/administrations/{adm}/roster",
            json={"entries": [{"candidate_id": str(ada.id)}]},
            headers=world.headers,
        )
    ).json()
    other = await make.organization()
    stranger = await login(client, await make.user(other, Role.admin))
    url = f"/api/v1/administrations/{adm}/roster/{entry['id']}/accommodations"
    changed = await client.put(url, json={"accessibility_supports": ["spoken"]}, headers=stranger)
    assert changed.status_code == 404
    seen = await client.get(f"/api/v1/administrations/{adm}/roster", headers=stranger)
    assert seen.status_code == 404
    roster = (
        await client.get(f"/api/v1/administrations/{adm}/roster", headers=world.headers)
    ).json()
    assert roster[0]["accommodations"]["accessibility_supports"] == []
    assert await _events(client, stranger, "roster.accommodations_changed") == []


def _section_supports(html: str) -> set[str]:
    import re

    return set(re.findall(r'data-support="([^"]+)"', html))


async def test_each_candidate_gets_the_cards_of_their_own_supports(
    client: httpx.AsyncClient, make: Factory
) -> None:
    world = await World(client, make).setup(tagged={})
    imported = await client.post(
        f"/api/v1/banks/{world.bank_id}/import",
        files={"file": ("plants.zip", catalog_package(), "application/zip")},
        data={"publish": "true"},
        headers=world.headers,
    )
    assert imported.status_code == 201, imported.text
    item_id = imported.json()["items"][0]["item_id"]
    definition = world.definition(
        sections=[{"identifier": "s", "title": "S", "items": [{"item_id": item_id}]}]
    )
    plain = await make.candidate(world.org, name="Plain")
    helped = await make.candidate(world.org, name="Helped")
    administration, codes = await world.open_administration(
        slug="plants", definition=definition, title="Now", candidate_ids=[plain.id, helped.id]
    )
    roster = (
        await client.get(
            f"/api/v1/administrations/{administration['id']}/roster", headers=world.headers
        )
    ).json()
    helped_entry = next(e for e in roster if e["candidate_id"] == str(helped.id))
    everything = ["braille", "ext:plain-words", "linguistic-guidance", "sign-language", "spoken"]
    set_all = await client.put(
        f"/api/v1/administrations/{administration['id']}/roster/{helped_entry['id']}"
        "/accommodations",
        json={"accessibility_supports": everything},
        headers=world.headers,
    )
    assert set_all.status_code == 200, set_all.text

    async def html_for(code: str) -> str:
        attempt_id, headers = await begin(client, code)
        view = await client.get(f"/api/v1/attempts/{attempt_id}", headers=headers)
        assert view.status_code == 200, view.text
        (item,) = view.json()["items"]
        html: str = item["item"]["html"]
        return html

    plain_html = await html_for(codes[0])
    helped_html = await html_for(codes[1])
    assert _section_supports(plain_html) == {"glossary-on-screen"}
    for absent in ("two parts", "SIN-thuh", "in braille", "<video", "Plants make food", "slowly"):
        assert absent not in plain_html
    assert _section_supports(helped_html) == {"glossary-on-screen", *everything}
    assert "Read the sentence slowly" in helped_html
    assert 'class="visually-hidden waa-braille"' in helped_html
    # The video plays from the item's own media, behind a signed URL, with controls; the
    # one elsewhere is gone.
    assert '<video src="/api/v1/media/signed/' in helped_html
    assert 'controls="controls"' in helped_html
    assert "elsewhere.example" not in helped_html
    # Nothing of scoring, nor of the catalogs themselves.
    for html in (plain_html, helped_html):
        for absent in ("oak</qti", "correct", "data-catalog-idref", "qti-catalog", "SCORE"):
            assert absent not in html


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_the_command_line_shows_and_changes_them(
    live_client: httpx.AsyncClient,
    live_make: Factory,
    fresh_database: Database,
    tmp_path: Path,
) -> None:
    world = await World(live_client, live_make).setup()
    published = await world.published_assessment()
    adm = (await world.administration(published["version"]["id"]))["id"]
    ada = await live_make.candidate(world.org, name="Ada")
    added = await live_client.post(
        f"/api/v1/administrations/{adm}/roster",
        json={"entries": [{"candidate_id": str(ada.id)}]},
        headers=world.headers,
    )
    assert added.status_code == 201, added.text
    env = {"WAA_DATABASE_URL": fresh_database.url, "WAA_ENV": "test", "WAA_DATA_DIR": str(tmp_path)}

    def run(*args: str) -> tuple[int, str, str]:
        result = CliRunner().invoke(
            app,
            ["assessment", "accommodations", adm, *args, "--organization", world.org.slug],
            env=env,
        )
        said = [line for line in result.stderr.splitlines() if not line.startswith("{")]
        return result.exit_code, result.stdout, "\n".join(said)

    assert ada.external_id is not None
    code, out, errors = await asyncio.to_thread(
        run, ada.external_id, "--supports", "spoken, braille", "--extra-time", "1.5"
    )
    assert code == 0, out + errors
    shown = json.loads(out)["accommodations"]
    assert shown["accessibility_supports"] == ["braille", "spoken"]
    assert shown["extra_time_multiplier"] == 1.5
    # Options not given keep what the candidate has.
    code, out, errors = await asyncio.to_thread(run, ada.external_id, "--extra-breaks", "2")
    assert code == 0, errors
    assert json.loads(out)["accommodations"]["accessibility_supports"] == ["braille", "spoken"]
    (event, *_) = reversed(
        await _events(live_client, world.headers, "roster.accommodations_changed")
    )
    assert event["data"]["extra_breaks"] == 2 and event["actor"]["type"] == "system"

    code, out, errors = await asyncio.to_thread(run, ada.external_id, "--supports", "smell")
    assert code == 2
    assert errors.strip().startswith("error: accessibility_supports: unknown ")
    assert "'smell'" in errors
    code, out, errors = await asyncio.to_thread(run, "nobody")
    assert (code, errors.strip()) == (2, "error: no candidate 'nobody' on this roster")


async def test_a_staff_preview_shows_the_supports_asked_for(
    client: httpx.AsyncClient, make: Factory
) -> None:
    world = await World(client, make).setup(tagged={})
    imported = await client.post(
        f"/api/v1/banks/{world.bank_id}/import",
        files={"file": ("plants.zip", catalog_package(), "application/zip")},
        data={"publish": "true"},
        headers=world.headers,
    )
    assert imported.status_code == 201, imported.text
    item_id = imported.json()["items"][0]["item_id"]
    url = f"/api/v1/items/{item_id}/versions/1/preview"
    plain = await client.get(url, headers=world.headers)
    assert _section_supports(plain.json()["html"]) == {"glossary-on-screen"}
    asked = await client.get(
        url,
        params=[("supports", "spoken,braille"), ("supports", "sign-language")],
        headers=world.headers,
    )
    assert asked.status_code == 200, asked.text
    assert _section_supports(asked.json()["html"]) == {
        "glossary-on-screen",
        "spoken",
        "braille",
        "sign-language",
    }
    assert '<video src="/api/v1/media/sha256/' in asked.json()["html"]
    refused = await client.get(url, params={"supports": "x-ray"}, headers=world.headers)
    assert refused.status_code == 422
    (param,) = refused.json()["invalid_params"]
    assert param["name"] == "query.supports" and "'x-ray'" in param["reason"]
