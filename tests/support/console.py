"""Helpers for tests of the staff console through the app in process (no browser)."""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.support.factories import Account

_CSRF = re.compile(r'name="csrf_token" value="([^"]*)"')
_FIELD_ERROR = re.compile(r'<p class="field-error" id="([^"]+)-error">(.*?)</p>', re.S)


async def console_sign_in(client: httpx.AsyncClient, account: Account) -> str:
    """Sign ``account`` in through the console's form; the CSRF token its forms carry."""
    reply = await client.post(
        "/console/login",
        data={"email": account.email, "password": account.password, "next": "/console"},
    )
    assert reply.status_code == 303, reply.text
    assert reply.headers["location"] == "/console"
    page = await client.get("/console")
    assert page.status_code == 200, page.text
    return csrf_of(page.text)


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "no form with a CSRF token on the page"
    return found.group(1)


def field_errors(html: str) -> dict[str, str]:
    """The error shown next to each field of a page, by field id."""
    return {
        name: re.sub(r"<[^>]+>", "", text).replace("Error:", "").strip()
        for name, text in _FIELD_ERROR.findall(html)
    }


async def post_form(
    client: httpx.AsyncClient, url: str, csrf: str, data: dict[str, Any] | None = None
) -> httpx.Response:
    """A console form post with the page's CSRF token."""
    return await client.post(url, data={"csrf_token": csrf, **(data or {})})
