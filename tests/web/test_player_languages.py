"""The player page in the candidate's language: ``?lang=``, the ``waa_lang`` cookie and
Accept-Language choose it; the page carries that language's catalogue as a JSON data block
that no message can break out of."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from waa_ads.core import i18n
from waa_ads.core.errors import install_error_handlers
from waa_ads.core.middleware import RequestContextMiddleware
from waa_ads.web.router import CONTENT_SECURITY_POLICY, router, script_json

BLOCK = re.compile(
    r'<script type="application/json" id="waa-messages">(?P<json>.*?)</script>', re.S
)


@pytest_asyncio.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    app.include_router(router)
    install_error_handlers(app)
    app.add_middleware(RequestContextMiddleware)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://player.test") as c:
        yield c


def html_lang(page: str) -> tuple[str, str]:
    found = re.search(r'<html lang="([^"]+)" dir="([^"]+)">', page)
    assert found, page[:200]
    return found.group(1), found.group(2)


def catalogue(page: str) -> dict[str, Any]:
    found = BLOCK.search(page)
    assert found, "no catalogue in the page"
    data: dict[str, Any] = json.loads(found.group("json"))
    return data


@pytest.mark.asyncio
async def test_lang_fr_renders_the_page_and_its_catalogue_in_french(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/take?lang=fr")
    assert response.status_code == 200
    page = response.text
    assert html_lang(page) == ("fr", "ltr")
    assert response.headers["content-language"] == "fr"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "camera=(self)" in response.headers["permissions-policy"]
    assert "<title>Se connecter à votre test \u2013 WAA-ADS</title>" in page
    assert "Code d'accès" in page or "Code d&#39;accès" in page
    # English remains only as the catalogue's keys, never as the page's text.
    assert "Sign in to your test" not in BLOCK.sub("", page)
    data = catalogue(page)
    assert data["locale"] == "fr" and data["dir"] == "ltr"
    messages = data["messages"]
    assert messages["Saved"] == "Enregistré"
    assert messages["navigation\u0004Next"] == "Suivante"
    # A plural message: one form per CLDR category of French.
    assert messages["{count} minute"] == {
        "one": "{count} minute",
        "many": "{count} minutes",
        "other": "{count} minutes",
    }
    # Every message of the player is there: the French catalogue is complete.
    template = i18n.catalogues("en-XA")
    ids = {
        (f"{m.context}\u0004" if m.context else "")
        + str(m.id[0] if isinstance(m.id, tuple) else m.id)
        for c in template
        if c.domain == "player"
        for m in c
        if m.id
    }
    assert ids and ids <= set(messages)
    # The switcher offers the real languages, each named in itself.
    assert '<option value="fr" lang="fr" selected>Français</option>' in page
    assert '<option value="en" lang="en">English</option>' in page
    assert "en-XA" not in re.findall(r'<option value="([^"]+)"', page)


@pytest.mark.asyncio
async def test_english_by_default_with_an_empty_catalogue(client: httpx.AsyncClient) -> None:
    page = (await client.get("/take")).text
    assert html_lang(page) == ("en", "ltr")
    assert "<title>Sign in to your test \u2013 WAA-ADS</title>" in page
    assert '<h1 id="access-heading">Sign in to your test</h1>' in page
    assert catalogue(page)["messages"] == {}
    assert "<script>" not in page and "style=" not in page


@pytest.mark.asyncio
async def test_accept_language_and_cookie_choose_the_language(client: httpx.AsyncClient) -> None:
    by_header = (await client.get("/take", headers={"Accept-Language": "fr-CA,fr;q=0.9"})).text
    assert html_lang(by_header)[0] == "fr"
    assert catalogue(by_header)["locale"] == "fr"
    by_cookie = (await client.get("/", headers={"Cookie": "waa_lang=fr"})).text
    assert html_lang(by_cookie)[0] == "fr"
    # ?lang= wins over both.
    asked = (
        await client.get(
            "/take?lang=en", headers={"Accept-Language": "fr", "Cookie": "waa_lang=fr"}
        )
    ).text
    assert html_lang(asked)[0] == "en"


@pytest.mark.asyncio
async def test_an_unknown_language_falls_back(client: httpx.AsyncClient) -> None:
    assert html_lang((await client.get("/take?lang=xx")).text) == ("en", "ltr")
    assert html_lang((await client.get("/take?lang=<script>")).text) == ("en", "ltr")
    fallback = (await client.get("/take?lang=zz-ZZ", headers={"Accept-Language": "fr"})).text
    assert html_lang(fallback)[0] == "fr"
    # A regional tag of a spoken language gets that language.
    assert html_lang((await client.get("/take?lang=fr-BE")).text)[0] == "fr"


@pytest.mark.asyncio
async def test_pseudo_locale_ar_xb_is_right_to_left(client: httpx.AsyncClient) -> None:
    page = (await client.get("/take?lang=ar-XB")).text
    assert html_lang(page) == ("ar-XB", "rtl")
    data = catalogue(page)
    assert data["dir"] == "rtl"
    assert "\u202e" in data["messages"]["Saved"]


@pytest.mark.asyncio
async def test_the_static_route_no_longer_serves_the_page(client: httpx.AsyncClient) -> None:
    assert (await client.get("/static/player/player.html")).status_code == 404
    assert (await client.get("/static/player/player.js")).status_code == 200


def test_the_embedded_json_cannot_close_the_script_element() -> None:
    hostile = {"x": "</script><script>alert(1)</script><!-- & \u2028 \u2029"}
    text = str(script_json(hostile))
    assert "<" not in text and ">" not in text and "&" not in text
    assert "\u2028" not in text and "\u2029" not in text
    assert json.loads(text) == hostile


@pytest.mark.asyncio
async def test_a_hostile_message_stays_inside_the_block(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    evil = "</script><script>alert(1)</script><!--"

    def catalogue_with(code: str, areas: tuple[str, ...] = ("player",)) -> dict[str, Any]:
        return {"locale": code, "dir": "ltr", "messages": {"Saved": evil}}

    monkeypatch.setattr(i18n, "client_catalogue", catalogue_with)
    page = (await client.get("/take?lang=fr")).text
    assert page.count("</script>") == 2  # the data block's and the module's, nothing more
    assert "alert(1)</script>" not in page
    assert catalogue(page)["messages"]["Saved"] == evil
