"""The console's shell: sign-in and out, the layout, what a page does without a session,
and that every change goes through the API's own checks (CSRF, roles)."""

from __future__ import annotations

import httpx
import pytest

from tests.support.console import console_sign_in, field_errors, post_form
from tests.support.factories import Factory
from waa_ads.auth.models import Role

pytestmark = pytest.mark.asyncio


async def test_a_page_without_a_session_sends_to_sign_in_and_back(
    client: httpx.AsyncClient, make: Factory
) -> None:
    reply = await client.get("/console?view=all")
    assert reply.status_code == 303
    assert reply.headers["location"] == "/console/login?next=/console%3Fview%3Dall"
    login = await client.get(reply.headers["location"])
    assert login.status_code == 200
    assert 'name="next" value="/console?view=all"' in login.text
    assert "default-src 'self'" in login.headers["content-security-policy"]
    assert login.headers["cache-control"] == "no-store"


async def test_sign_in_refused_shows_the_reason_and_keeps_the_email(
    client: httpx.AsyncClient, make: Factory
) -> None:
    org = await make.organization()
    account = await make.user(org, Role.admin)
    reply = await client.post(
        "/console/login", data={"email": account.email, "password": "wrong-password-1"}
    )
    assert reply.status_code == 401
    assert "There is a problem" in reply.text
    assert f'value="{account.email}"' in reply.text
    assert "wrong-password-1" not in reply.text
    missing = await client.post("/console/login", data={"email": "not-an-email", "password": ""})
    assert missing.status_code == 422
    assert "email" in field_errors(missing.text)


async def test_sign_in_lands_on_the_page_asked_for_and_never_off_site(
    client: httpx.AsyncClient, make: Factory
) -> None:
    org = await make.organization()
    account = await make.user(org, Role.author)
    for asked, landed in [
        ("/console/assessments", "/console/assessments"),
        ("https://evil.example/", "/console"),
        ("//evil.example/", "/console"),
    ]:
        reply = await client.post(
            "/console/login",
            data={"email": account.email, "password": account.password, "next": asked},
        )
        assert reply.status_code == 303
        assert reply.headers["location"] == landed


async def test_the_start_page_shows_the_sections_of_the_roles_held(
    client: httpx.AsyncClient, make: Factory
) -> None:
    org = await make.organization()
    proctor = await make.user(org, Role.proctor)
    await console_sign_in(client, proctor)
    page = (await client.get("/console")).text
    assert org.name in page
    assert 'href="/console/administrations"' in page
    assert 'href="/console/banks"' not in page
    assert 'href="/console/organization"' not in page


async def test_sign_out_needs_the_pages_csrf_token_and_ends_the_session(
    client: httpx.AsyncClient, make: Factory
) -> None:
    org = await make.organization()
    account = await make.user(org, Role.admin)
    csrf = await console_sign_in(client, account)
    forged = await post_form(client, "/console/logout", "not-the-token")
    assert forged.status_code == 403
    # A form without the token (a cross-site form cannot read it) is refused the same way.
    for data in ({}, {"csrf_token": ""}):
        missing = await client.post("/console/logout", data=data)
        assert missing.status_code == 403
    assert (await client.get("/console")).status_code == 200
    done = await post_form(client, "/console/logout", csrf)
    assert done.status_code == 303
    assert done.headers["location"] == "/console/login"
    # The one-time message travels like the session: Secure when the site's cookies are.
    flash = [c for c in done.headers.get_list("set-cookie") if c.startswith("waa_flash=")]
    secure = client._transport.app.state.settings.cookie_secure  # type: ignore[attr-defined]
    assert len(flash) == 1
    assert ("; secure" in flash[0].lower()) is secure
    assert (await client.get("/console")).status_code == 303
    after = await client.get("/console/login")
    assert "You are signed out." in after.text


async def test_console_static_files_are_served_with_the_policy_and_nothing_else(
    client: httpx.AsyncClient,
) -> None:
    css = await client.get("/console/static/console.css")
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    assert (await client.get("/console/static/..%2Frouter.py")).status_code == 404
    assert (await client.get("/console/static/missing.js")).status_code == 404
