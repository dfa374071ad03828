"""An organization's brand colour and logo: the checks, who may set them, what the player
gets, and the public reads."""

from __future__ import annotations

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.support.factories import Factory, login
from tests.support.problems import problem
from waa_ads.auth import branding
from waa_ads.auth.models import Role

# The smallest PNG: a 1x1 transparent pixel.
PNG_1PX = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c63000100000500010d0a2db40000000049454e44ae426082"
)


def test_contrast_follows_wcag() -> None:
    assert branding.contrast_ratio("#000000", "#ffffff") == pytest.approx(21)
    assert branding.contrast_ratio("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)
    assert branding.brand_color_problem("#0b57d0") is None
    assert branding.brand_color_problem("#767676") is None  # 4.54:1, just enough
    too_light = branding.brand_color_problem("#777777")
    assert too_light is not None and "4.4:1" in too_light
    assert "#rrggbb" in (branding.brand_color_problem("blue") or "")
    assert "#rrggbb" in (branding.brand_color_problem("#0b57d0;}") or "")


@given(st.from_regex(r"#[0-9a-fA-F]{6}", fullmatch=True))
def test_an_accepted_colour_carries_white_text_at_aa(color: str) -> None:
    if branding.brand_color_problem(color) is None:
        assert branding.contrast_ratio(color, branding.BRAND_INK) >= branding.MIN_CONTRAST
        css = branding.player_stylesheet(color)
        assert f"--brand: {color.lower()};" in css
    else:
        with pytest.raises(ValueError, match="not an accepted brand colour"):
            branding.player_stylesheet(color)


def test_logos_are_sniffed_not_believed() -> None:
    assert branding.sniff_logo(PNG_1PX) == "image/png"
    assert branding.sniff_logo(b"\xff\xd8\xff\xe0rest") == "image/jpeg"
    assert branding.sniff_logo(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "image/webp"
    assert branding.sniff_logo(b"<svg xmlns='http://www.w3.org/2000/svg'/>") is None


@pytest.mark.asyncio
async def test_admin_sets_and_clears_the_brand_colour(
    client: httpx.AsyncClient, make: Factory
) -> None:
    org = await make.organization()
    admin = await make.user(org, Role.admin)
    headers = await login(client, admin)
    before = (await client.get("/api/v1/organizations/current", headers=headers)).json()
    assert before["brand_color"] is None
    assert before["player_style_url"] is None
    assert before["logo_url"] is None
    assert "logo_sha256" not in before

    set_ = await client.patch(
        "/api/v1/organizations/current", json={"brand_color": "#0B57D0"}, headers=headers
    )
    assert set_.status_code == 200, set_.text
    assert set_.json()["brand_color"] == "#0b57d0"
    style_url = set_.json()["player_style_url"]
    assert style_url == f"/api/v1/organizations/{org.id}/player.css?v=0b57d0"
    css = await client.get(style_url)  # public: no credentials
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    assert css.headers["x-content-type-options"] == "nosniff"
    assert "--brand: #0b57d0;" in css.text

    refused = await client.patch(
        "/api/v1/organizations/current", json={"brand_color": "#ffcc00"}, headers=headers
    )
    assert refused.status_code == 422
    (param,) = refused.json()["invalid_params"]
    assert param["name"] == "body.brand_color"
    assert "too light" in param["reason"]
    malformed = await client.patch(
        "/api/v1/organizations/current", json={"brand_color": "red"}, headers=headers
    )
    assert malformed.status_code == 422
    still = (await client.get("/api/v1/organizations/current", headers=headers)).json()
    assert still["brand_color"] == "#0b57d0"

    cleared = await client.patch(
        "/api/v1/organizations/current", json={"brand_color": None}, headers=headers
    )
    assert cleared.json()["brand_color"] is None
    plain = await client.get(f"/api/v1/organizations/{org.id}/player.css")
    assert "--brand" not in plain.text
    no_name = await client.patch(
        "/api/v1/organizations/current", json={"name": None}, headers=headers
    )
    assert no_name.status_code == 422


@pytest.mark.asyncio
async def test_admin_uploads_and_removes_the_logo(client: httpx.AsyncClient, make: Factory) -> None:
    org = await make.organization()
    admin = await make.user(org, Role.admin)
    author = await make.user(org, Role.author)
    headers = await login(client, admin)
    files = {"file": ("logo.png", PNG_1PX, "image/png")}
    denied = await client.put(
        "/api/v1/organizations/current/logo", files=files, headers=await login(client, author)
    )
    assert denied.status_code == 403
    assert problem(denied) == "role-required"

    svg = await client.put(
        "/api/v1/organizations/current/logo",
        files={"file": ("logo.svg", b"<svg xmlns='http://www.w3.org/2000/svg'/>", "image/svg+xml")},
        headers=headers,
    )
    assert svg.status_code == 422
    assert problem(svg) == "logo-not-accepted"
    assert svg.json()["invalid_params"][0]["name"] == "file"
    big = PNG_1PX + b"\0" * branding.MAX_LOGO_BYTES
    too_big = await client.put(
        "/api/v1/organizations/current/logo",
        files={"file": ("logo.png", big, "image/png")},
        headers=headers,
    )
    assert too_big.status_code in (413, 422)

    done = await client.put("/api/v1/organizations/current/logo", files=files, headers=headers)
    assert done.status_code == 200, done.text
    logo_url = done.json()["logo_url"]
    assert logo_url.startswith(f"/api/v1/organizations/{org.id}/logo?v=")
    picture = await client.get(logo_url)  # public
    assert picture.status_code == 200
    assert picture.headers["content-type"] == "image/png"
    assert picture.content == PNG_1PX
    me = (await client.get("/api/v1/auth/me", headers=headers)).json()
    assert me["organization"]["logo_url"] == logo_url

    removed = await client.delete("/api/v1/organizations/current/logo", headers=headers)
    assert removed.json()["logo_url"] is None
    gone = await client.get(f"/api/v1/organizations/{org.id}/logo")
    assert gone.status_code == 404
    assert problem(gone) == "logo-not-found"
    events = (
        await client.get("/api/v1/audit/events", params={"target_id": str(org.id)}, headers=headers)
    ).json()["items"]
    assert [e["action"] for e in events][-2:] == [
        "organization.logo_changed",
        "organization.logo_removed",
    ]


@pytest.mark.asyncio
async def test_another_organizations_look_is_only_its_public_reads(
    client: httpx.AsyncClient, make: Factory
) -> None:
    first = await make.organization()
    second = await make.organization()
    first_admin = await make.user(first, Role.admin)
    second_admin = await make.user(second, Role.admin)
    await client.patch(
        "/api/v1/organizations/current",
        json={"brand_color": "#1e6b34"},
        headers=await login(client, first_admin),
    )
    theirs = (
        await client.get("/api/v1/organizations/current", headers=await login(client, second_admin))
    ).json()
    assert theirs["id"] == str(second.id)
    assert theirs["brand_color"] is None
    unknown = await client.get(
        "/api/v1/organizations/00000000-0000-7000-8000-000000000000/player.css"
    )
    assert unknown.status_code == 404
