"""The item page's translations: listed with their languages, added from an uploaded QTI
or native file, and refusals shown at the form."""

from __future__ import annotations

import httpx
import pytest

from tests.support.console import console_sign_in, field_errors
from tests.support.factories import Factory, login
from tests.support.items import choice_item
from tests.support.translations import french_choice
from waa_ads.auth.models import Role

pytestmark = pytest.mark.asyncio


async def test_the_item_page_lists_and_adds_translations(
    client: httpx.AsyncClient, make: Factory
) -> None:
    org = await make.organization()
    account = await make.user(org, Role.admin)
    headers = await login(client, account)
    bank = await client.post(
        "/api/v1/banks", json={"slug": "greek", "name": "Greek"}, headers=headers
    )
    bank_id = bank.json()["id"]
    created = await client.post(
        f"/api/v1/banks/{bank_id}/items",
        json={"source": {"format": "qti", "content": choice_item("Q1", "Greek")}},
        headers=headers,
    )
    item_id = created.json()["item"]["id"]
    csrf = await console_sign_in(client, account)
    url = f"/console/banks/{bank_id}/items/{item_id}"

    page = await client.get(url)
    assert page.status_code == 200
    assert "This item has no translations." in page.text
    assert 'action="' + url + '/translations"' in page.text

    added = await client.post(
        f"{url}/translations",
        data={"csrf_token": csrf, "translation_language": "", "translation_publish": "on"},
        files={"translation_file": ("q1-fr.xml", french_choice("Q1").encode(), "application/xml")},
    )
    assert added.status_code == 303, added.text
    variant = (await client.get(f"/api/v1/items/{item_id}/translations", headers=headers)).json()
    assert [(t["identifier"], t["language"], t["status"]) for t in variant] == [
        ("Q1.fr", "fr", "published")
    ]
    assert added.headers["location"].endswith(f"/items/{variant[0]['id']}")
    shown = await client.get(added.headers["location"])
    assert "Translation Q1.fr added." in shown.text
    assert f'href="/console/banks/{bank_id}/items/{item_id}"' in shown.text  # its source
    assert "Add a translation" not in shown.text  # a translation is not translated

    listed = await client.get(url)
    assert "Q1.fr" in listed.text and "This item has no translations." not in listed.text

    mismatched = await client.post(
        f"{url}/translations",
        data={"csrf_token": csrf, "translation_language": "en-XA"},
        files={
            "translation_file": (
                "q1-xa.xml",
                french_choice("Q1").replace('identifier="C"', 'identifier="D"').encode(),
                "application/xml",
            )
        },
    )
    assert mismatched.status_code == 422
    assert "choice identifiers" in mismatched.text
    missing = await client.post(f"{url}/translations", data={"csrf_token": csrf})
    assert missing.status_code == 422
    assert "translation_file" in field_errors(missing.text)
