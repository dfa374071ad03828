"""The player learns the organization's logo and brand stylesheet from the access code's
lookup (it has no other way: no session, and an <img> or <link> cannot send a header)."""

from __future__ import annotations

import httpx
import pytest

from tests.auth.test_organization_branding import PNG_1PX
from tests.support.exams import exam
from tests.support.factories import Factory


@pytest.mark.asyncio
async def test_the_player_gets_the_logo_and_stylesheet_with_the_access_code(
    client: httpx.AsyncClient, make: Factory
) -> None:
    ex = await exam(client, make)
    lookup = {"access_code": ex.codes[0]}
    plain = (await client.post("/api/v1/attempts/lookup", json=lookup)).json()
    assert plain["organization_logo_url"] is None
    assert plain["organization_style_url"] is None
    headers = ex.world.headers
    await client.patch(
        "/api/v1/organizations/current", json={"brand_color": "#1e6b34"}, headers=headers
    )
    await client.put(
        "/api/v1/organizations/current/logo",
        files={"file": ("logo.png", PNG_1PX, "image/png")},
        headers=headers,
    )
    branded = (await client.post("/api/v1/attempts/lookup", json=lookup)).json()
    org_id = ex.world.org.id
    assert branded["organization_logo_url"].startswith(f"/api/v1/organizations/{org_id}/logo?v=")
    assert branded["organization_style_url"] == (
        f"/api/v1/organizations/{org_id}/player.css?v=1e6b34"
    )
    css = await client.get(branded["organization_style_url"])
    assert "--brand: #1e6b34;" in css.text
