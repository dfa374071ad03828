"""The console's item preview as a candidate with accessibility supports sees it: boxes for
the supports, the preview (and the response tried on it) showing their cards."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.support.catalog_items import catalog_item
from tests.support.console import console_sign_in, post_form
from tests.support.factories import Factory, login
from waa_ads.auth.models import Role

pytestmark = pytest.mark.asyncio


def _preview_supports(html: str) -> set[str]:
    preview = html.split('id="item-preview"')[1].split("</form>", maxsplit=1)[0]
    return set(re.findall(r'data-support="([^"]+)"', preview))


async def test_the_preview_shows_the_supports_ticked(
    client: httpx.AsyncClient, make: Factory
) -> None:
    org = await make.organization()
    account = await make.user(org, Role.admin)
    headers = await login(client, account)
    bank = await client.post(
        "/api/v1/banks", json={"slug": "plants", "name": "Plants"}, headers=headers
    )
    created = await client.post(
        f"/api/v1/banks/{bank.json()['id']}/items",
        json={"source": {"format": "qti", "content": catalog_item()}},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    item_id = created.json()["item"]["id"]
    csrf = await console_sign_in(client, account)
    url = f"/console/banks/{bank.json()['id']}/items/{item_id}"

    page = await client.get(url)
    assert page.status_code == 200
    assert _preview_supports(page.text) == {"glossary-on-screen"}
    assert 'name="supports" value="spoken"' in page.text

    ticked = await client.get(
        url, params=[("supports", "spoken"), ("supports", "braille"), ("supports", "bogus")]
    )
    assert ticked.status_code == 200
    assert _preview_supports(ticked.text) == {"glossary-on-screen", "spoken", "braille"}
    assert 'value="spoken" checked' in ticked.text and 'value="braille" checked' in ticked.text
    # Trying a response keeps the preview as it was asked for.
    tried = await post_form(
        client,
        f"{url}/try",
        csrf,
        {"responses": '{"RESPONSE": "oak"}', "supports": ["spoken"]},
    )
    assert tried.status_code == 200
    assert _preview_supports(tried.text) == {"glossary-on-screen", "spoken"}
