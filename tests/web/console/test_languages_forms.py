"""The console's language fields: an organization's default language, an administration's
language and the languages its candidates may switch to, and candidates' languages in the
lists and the roster's CSV help."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.support.console import console_sign_in, field_errors, post_form
from tests.support.exams import World
from tests.support.factories import Factory

pytestmark = pytest.mark.asyncio


async def _world(client: httpx.AsyncClient, make: Factory) -> tuple[World, str]:
    world = await World(client, make).setup()
    return world, await console_sign_in(client, world.admin)


async def test_an_administrations_language_and_switchable_languages(
    client: httpx.AsyncClient, make: Factory
) -> None:
    world, csrf = await _world(client, make)
    published = await world.published_assessment()
    new = await client.get("/console/administrations/new")
    assert new.status_code == 200
    assert '<select id="locale" name="locale"' in new.text
    assert '<option value="" selected>' in new.text, "the organization's default at first"
    assert re.search(r'name="locales" value="fr"(?! checked)', new.text)

    form = {
        "assessment_version_id": published["version"]["id"],
        "title": "In French",
        "opens_at": "2027-01-10T14:00",
        "closes_at": "2027-01-10T16:30",
        "locale": "fr",
        "locales": ["en", "fr"],
    }
    created = await post_form(client, "/console/administrations", csrf, form)
    assert created.status_code == 303, created.text
    administration_id = created.headers["location"].rsplit("/", 1)[-1]
    api = f"/api/v1/administrations/{administration_id}"
    stored = (await client.get(api, headers=world.headers)).json()
    assert (stored["locale"], stored["locales"]) == ("fr", ["en", "fr"])

    edit_url = f"/console/administrations/{administration_id}/edit"
    edit = await client.get(edit_url)
    assert '<option value="fr" selected>' in edit.text
    assert re.search(r'name="locales" value="en" checked', edit.text)
    assert re.search(r'name="locales" value="ar-XB"(?! checked)', edit.text)

    # A language the product does not speak is refused next to its field; nothing changes.
    refused = await post_form(client, edit_url, csrf, {**form, "title": "Changed", "locale": "xx"})
    assert refused.status_code == 422
    assert "is not a language of this product" in field_errors(refused.text)["locale"]
    stored = (await client.get(api, headers=world.headers)).json()
    assert (stored["title"], stored["locale"]) == ("In French", "fr")

    # The default again, and no box ticked: no switching.
    cleared = {k: v for k, v in form.items() if k != "locales"}
    saved = await post_form(client, edit_url, csrf, {**cleared, "locale": ""})
    assert saved.status_code == 303, saved.text
    stored = (await client.get(api, headers=world.headers)).json()
    assert (stored["locale"], stored["locales"]) == (None, [])


async def test_the_organizations_default_language(client: httpx.AsyncClient, make: Factory) -> None:
    world, csrf = await _world(client, make)
    page = await client.get("/console/organization")
    assert page.status_code == 200
    assert '<option value="en" selected>' in page.text
    assert "Default language" in page.text
    form = {"name": world.org.name, "timezone": "UTC", "brand_color": "", "default_locale": "fr"}
    saved = await post_form(client, "/console/organization", csrf, form)
    assert saved.status_code == 303, saved.text
    current = await client.get("/api/v1/organizations/current", headers=world.headers)
    assert current.json()["default_locale"] == "fr"
    assert '<option value="fr" selected>' in (await client.get("/console/organization")).text

    refused = await post_form(
        client, "/console/organization", csrf, {**form, "default_locale": "xx"}
    )
    assert refused.status_code == 422
    assert "is not a language of this product" in field_errors(refused.text)["default_locale"]
    current = await client.get("/api/v1/organizations/current", headers=world.headers)
    assert current.json()["default_locale"] == "fr"


async def test_candidates_languages_are_shown_and_the_csv_help_names_the_column(
    client: httpx.AsyncClient, make: Factory
) -> None:
    world, _ = await _world(client, make)
    created = await client.post(
        "/api/v1/candidates",
        json={"full_name": "Zoé Martin", "locale": "fr"},
        headers=world.headers,
    )
    assert created.status_code == 201, created.text
    listing = await client.get("/console/organization/candidates")
    row = re.search(r"<tr>\s*<td>Zoé Martin</td>.*?</tr>", listing.text, re.S)
    assert row and '<span lang="fr">Français</span>' in row.group(0), listing.text

    published = await world.published_assessment()
    administration = await world.administration(published["version"]["id"])
    base = f"/console/administrations/{administration['id']}"
    add = await client.get(f"{base}/roster/add", params={"q": "Zoé"})
    assert add.status_code == 200
    assert '<span lang="fr">Français</span>' in add.text
    csv = await client.get(f"{base}/roster/csv")
    assert "extra_breaks,locale" in csv.text and "<code>locale</code>" in csv.text
