"""The organization pages, in process: settings (name, time zone, brand colour, logo) with
the API's refusals beside their fields, people and roles (create, invite and accept, edit,
deactivate, erase), candidates, and who may see them."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.auth.test_organization_branding import PNG_1PX
from tests.support.console import console_sign_in, csrf_of, field_errors, post_form
from tests.support.factories import Factory, login
from waa_ads.auth.models import Role
from waa_ads.web.console.sections import organization

pytestmark = pytest.mark.asyncio


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


async def test_settings_are_saved_through_the_api_and_refusals_shown_by_their_fields(
    client: httpx.AsyncClient, make: Factory
) -> None:
    org = await make.organization()
    admin = await make.user(org, Role.admin)
    csrf = await console_sign_in(client, admin)
    page = await client.get("/console/organization")
    assert page.status_code == 200
    assert f'value="{org.name}"' in page.text
    assert 'value="UTC"' in page.text

    bad = await post_form(
        client,
        "/console/organization",
        csrf,
        {"name": "Renamed", "timezone": "Mars/Olympus", "brand_color": "#ffcc00"},
    )
    assert bad.status_code == 422
    errors = field_errors(bad.text)
    assert "too light" in errors["brand_color"]
    assert 'value="#ffcc00"' in bad.text  # what was typed is kept
    zone = await post_form(
        client,
        "/console/organization",
        csrf,
        {"name": "Renamed", "timezone": "Mars/Olympus", "brand_color": "#0b57d0"},
    )
    assert zone.status_code == 422
    assert "Mars/Olympus" in field_errors(zone.text)["timezone"]

    saved = await post_form(
        client,
        "/console/organization",
        csrf,
        {"name": "Renamed Academy", "timezone": "Europe/Paris", "brand_color": "#0B57D0"},
    )
    assert saved.status_code == 303
    current = (await client.get("/api/v1/organizations/current")).json()
    assert (current["name"], current["timezone"], current["brand_color"]) == (
        "Renamed Academy",
        "Europe/Paris",
        "#0b57d0",
    )
    shown = _text((await client.get("/console/organization")).text)
    assert "Settings saved." in shown
    assert "white text on it has a contrast of 6.3:1" in shown

    cleared = await post_form(
        client,
        "/console/organization",
        csrf,
        {"name": "Renamed Academy", "timezone": "Europe/Paris", "brand_color": ""},
    )
    assert cleared.status_code == 303
    assert (await client.get("/api/v1/organizations/current")).json()["brand_color"] is None


async def test_the_logo_is_uploaded_refused_and_removed(
    client: httpx.AsyncClient, make: Factory
) -> None:
    org = await make.organization()
    admin = await make.user(org, Role.admin)
    csrf = await console_sign_in(client, admin)
    refused = await client.post(
        "/console/organization/logo",
        data={"csrf_token": csrf},
        files={"logo": ("logo.svg", b"<svg xmlns='http://www.w3.org/2000/svg'/>", "image/svg+xml")},
    )
    assert refused.status_code == 422
    assert "PNG, JPEG or WebP" in field_errors(refused.text)["logo"]
    missing = await client.post(
        "/console/organization/logo",
        data={"csrf_token": csrf},
        files={"logo": ("", b"", "application/octet-stream")},
    )
    assert missing.status_code == 422
    assert "logo" in field_errors(missing.text)

    done = await client.post(
        "/console/organization/logo",
        data={"csrf_token": csrf},
        files={"logo": ("logo.png", PNG_1PX, "image/png")},
    )
    assert done.status_code == 303, done.text
    logo_url = (await client.get("/api/v1/organizations/current")).json()["logo_url"]
    page = await client.get("/console/organization")
    assert f'src="{logo_url.replace("&", "&amp;")}"' in page.text
    assert (await client.get(logo_url)).content == PNG_1PX
    removed = await post_form(client, "/console/organization/logo/remove", csrf)
    assert removed.status_code == 303
    assert (await client.get("/api/v1/organizations/current")).json()["logo_url"] is None


async def test_people_are_invited_edited_deactivated_and_erased_through_the_api(
    client: httpx.AsyncClient, make: Factory
) -> None:
    org = await make.organization()
    admin = await make.user(org, Role.admin)
    csrf = await console_sign_in(client, admin)
    listing = await client.get("/console/organization/users")
    assert admin.email in listing.text

    no_role = await post_form(
        client, "/console/organization/users", csrf, {"email": "new@example.com"}
    )
    assert no_role.status_code == 422
    assert "roles" in field_errors(no_role.text)
    assert 'value="new@example.com"' in no_role.text

    invited = await client.post(
        "/console/organization/users",
        data={
            "csrf_token": csrf,
            "email": "new@example.com",
            "display_name": "New Author",
            "roles": ["author", "rater"],
            "locale": "fr",
        },
    )
    assert invited.status_code == 200, invited.text
    link = re.search(r'value="(https?://[^"]+/console/invitation\?token=[^"]+)"', invited.text)
    assert link, invited.text
    taken = await post_form(
        client,
        "/console/organization/users",
        csrf,
        {"email": "new@example.com", "roles": "author"},
    )
    assert taken.status_code == 409
    assert "There is a problem" in taken.text

    users = (await client.get("/api/v1/users")).json()["items"]
    new = next(u for u in users if u["email"] == "new@example.com")
    assert new["roles"] == ["author", "rater"]
    assert new["locale"] == "fr"  # their language, chosen on the form

    # The invited person accepts in another browser (no session).
    async with httpx.AsyncClient(
        transport=client._transport, base_url=str(client.base_url)
    ) as fresh:
        path = link.group(1).split("://", 1)[1].split("/", 1)[1]
        accept = await fresh.get("/" + path)
        assert accept.status_code == 200
        token = re.search(r'name="token" value="([^"]+)"', accept.text)
        assert token
        short = await fresh.post(
            "/console/invitation", data={"token": token.group(1), "password": "short"}
        )
        assert short.status_code == 422
        assert "password" in field_errors(short.text)
        ok = await fresh.post(
            "/console/invitation",
            data={"token": token.group(1), "password": "a long new password"},
        )
        assert ok.status_code == 303
        signed = await fresh.post(
            "/api/v1/auth/token",
            data={"username": "new@example.com", "password": "a long new password"},
        )
        assert signed.status_code == 200

    url = f"/console/organization/users/{new['id']}"
    page = await client.get(url)
    assert "New Author" in page.text
    assert re.search(r'<option value="fr" selected>', page.text), "their language is shown"
    unknown = await client.post(
        url,
        data={"csrf_token": csrf, "display_name": "X", "roles": ["proctor"], "locale": "xx"},
    )
    assert unknown.status_code == 422
    assert "locale" in field_errors(unknown.text)
    edited = await client.post(
        url,
        data={
            "csrf_token": csrf,
            "display_name": "Renamed Author",
            "roles": ["proctor"],
            "locale": "",
        },
    )
    assert edited.status_code == 303
    after = (await client.get(f"/api/v1/users/{new['id']}")).json()
    assert (after["display_name"], after["roles"]) == ("Renamed Author", ["proctor"])
    assert after["locale"] is None  # back to the organization's default

    off = await post_form(client, f"{url}/active", csrf, {"is_active": "false"})
    assert off.status_code == 303
    assert (await client.get(f"/api/v1/users/{new['id']}")).json()["is_active"] is False
    assert "deactivated" in _text((await client.get(url)).text)

    confirm = await client.get(f"{url}/erase")
    assert confirm.status_code == 200
    assert "cannot be undone" in confirm.text
    erased = await post_form(client, f"{url}/erase", csrf)
    assert erased.status_code == 303
    gone = (await client.get(f"/api/v1/users/{new['id']}")).json()
    assert gone["erased_at"] is not None
    assert "new@example.com" not in (await client.get("/console/organization/users")).text

    # The API's own rules, shown on the page: an admin cannot lock themself out.
    mine = f"/console/organization/users/{admin.user.id}"
    self_off = await post_form(client, f"{mine}/active", csrf, {"is_active": "false"})
    assert self_off.status_code == 409
    assert "There is a problem" in self_off.text
    self_erase = await post_form(client, f"{mine}/erase", csrf)
    assert self_erase.status_code == 409


async def test_candidates_are_listed_and_searched(client: httpx.AsyncClient, make: Factory) -> None:
    org = await make.organization()
    admin = await make.user(org, Role.admin)
    await make.candidate(org, name="Grace Hopper")
    await make.candidate(org, name="Alan Turing")
    await console_sign_in(client, admin)
    page = _text((await client.get("/console/organization/candidates")).text)
    assert "Grace Hopper" in page and "Alan Turing" in page
    found = _text((await client.get("/console/organization/candidates?q=grace")).text)
    assert "Grace Hopper" in found and "Alan Turing" not in found


async def test_the_next_page_link_keeps_a_search_with_reserved_characters(
    client: httpx.AsyncClient, make: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(organization, "PAGE_SIZE", 1)
    org = await make.organization()
    admin = await make.user(org, Role.admin)
    await make.candidate(org, name="Ada Q&A=1 one")
    await make.candidate(org, name="Ada Q&A=1 two")
    await console_sign_in(client, admin)
    page = await client.get("/console/organization/candidates", params={"q": "Q&A=1"})
    assert page.status_code == 200
    assert "candidates?q=Q%26A%3D1&amp;cursor=" in page.text


async def test_the_organization_is_for_its_admins(client: httpx.AsyncClient, make: Factory) -> None:
    org = await make.organization()
    author = await make.user(org, Role.author)
    admin = await make.user(org, Role.admin)
    csrf = await console_sign_in(client, author)
    for url in [
        "/console/organization",
        "/console/organization/users",
        "/console/organization/users/new",
        f"/console/organization/users/{admin.user.id}",
    ]:
        refused = await client.get(url)
        assert refused.status_code == 403, url
        assert "Role required" in refused.text
    change = await post_form(
        client, "/console/organization", csrf, {"name": "Mine now", "timezone": "UTC"}
    )
    assert change.status_code == 403
    headers = await login(client, admin)
    assert (await client.get("/api/v1/organizations/current", headers=headers)).json()[
        "name"
    ] == org.name

    other = await make.organization()
    stranger = await make.user(other, Role.admin)
    await console_sign_in(client, stranger)
    hidden = await client.get(f"/console/organization/users/{admin.user.id}")
    assert hidden.status_code == 404
    assert admin.email not in hidden.text
    assert csrf_of((await client.get("/console/organization")).text)
