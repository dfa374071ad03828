"""The console's language: the switcher's route, the cookie it sets, the organization's
default, and the catalogue the page embeds for its scripts."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest

from tests.support.console import console_sign_in, post_form
from tests.support.factories import Factory
from waa_ads.auth.models import Role
from waa_ads.core import i18n
from waa_ads.web.console import pages

pytestmark = pytest.mark.asyncio

_LANG = re.compile(r'<html lang="([^"]+)" dir="([^"]+)">')
_MESSAGES = re.compile(r'<script type="application/json" id="waa-messages">(.*?)</script>', re.S)


def _lang(html: str) -> tuple[str, str]:
    found = _LANG.search(html)
    assert found, html[:300]
    return found.group(1), found.group(2)


def _set_cookie(reply: httpx.Response) -> str:
    cookies = [v for k, v in reply.headers.multi_items() if k.lower() == "set-cookie"]
    found = [c for c in cookies if c.startswith("waa_lang=")]
    assert len(found) == 1, cookies
    return found[0]


async def test_the_switcher_keeps_the_language_in_a_cookie_and_goes_back(
    client: httpx.AsyncClient, make: Factory
) -> None:
    org = await make.organization()
    author = await make.user(org, Role.author)
    csrf = await console_sign_in(client, author)
    page = (await client.get("/console/banks")).text
    assert _lang(page) == ("en", "ltr")
    # The switcher: a labelled list of the real languages, each named in itself.
    assert '<label for="language-choice">Language</label>' in page
    assert '<option value="en" lang="en" selected>English</option>' in page
    assert '<option value="fr" lang="fr">Français</option>' in page
    assert 'value="en-XA"' not in page and 'value="ar-XB"' not in page
    assert '<input type="hidden" name="next" value="/console/banks">' in page

    reply = await post_form(
        client, "/console/language", csrf, {"language": "fr", "next": "/console/banks"}
    )
    assert reply.status_code == 303
    assert reply.headers["location"] == "/console/banks"
    cookie = _set_cookie(reply).lower()
    assert cookie.startswith("waa_lang=fr;")
    for part in ("path=/;", "samesite=lax", "httponly", "max-age=31536000"):
        assert part in cookie, cookie

    french = (await client.get("/console/banks")).text
    assert _lang(french) == ("fr", "ltr")
    assert "<h1>Banques d'items</h1>" in french
    assert ">Se déconnecter</button>" in french
    assert '<option value="fr" lang="fr" selected>Français</option>' in french
    assert '<nav aria-label="Rubriques de la console" class="main-nav">' in french
    # A flash message after a change is in the reader's language too.
    made = await post_form(
        client, "/console/banks", csrf, {"name": "Sciences", "slug": "sciences-fr"}
    )
    assert made.status_code == 303
    shown = (await client.get(made.headers["location"])).text
    assert "Banque «\u00a0Sciences\u00a0» créée." in shown

    back = await post_form(
        client, "/console/language", csrf, {"language": "en", "next": "/console"}
    )
    assert _set_cookie(back).startswith("waa_lang=en;")
    assert _lang((await client.get("/console")).text) == ("en", "ltr")


async def test_an_unknown_language_a_foreign_next_or_a_missing_token_is_refused(
    client: httpx.AsyncClient, make: Factory
) -> None:
    org = await make.organization()
    author = await make.user(org, Role.author)
    csrf = await console_sign_in(client, author)

    unknown = await post_form(client, "/console/language", csrf, {"language": "xx-YY"})
    assert unknown.status_code == 422
    assert "Language not changed" in unknown.text
    assert (
        "xx-YY is not a language of the console. Choose one of: English (en), Français (fr)."
        in unknown.text
    )
    assert not [k for k, _ in unknown.headers.multi_items() if k.lower() == "set-cookie"]

    for foreign in ("https://evil.example/", "//evil.example/", "/\\evil.example", "/docs"):
        reply = await post_form(
            client, "/console/language", csrf, {"language": "fr", "next": foreign}
        )
        assert reply.status_code == 303
        assert reply.headers["location"] == "/console", foreign

    for token in ("", "not-the-token"):
        refused = await post_form(client, "/console/language", token, {"language": "en"})
        assert refused.status_code == 403
        assert "security token is missing or wrong" in refused.text
        assert not [k for k, _ in refused.headers.multi_items() if k.lower() == "set-cookie"]
    # The choice made above (French) is still the one in force.
    assert _lang((await client.get("/console")).text) == ("fr", "ltr")


async def test_before_sign_in_the_switcher_must_post_from_this_site(
    client: httpx.AsyncClient,
) -> None:
    login = (await client.get("/console/login")).text
    assert 'action="/console/language"' in login
    foreign = await client.post(
        "/console/language",
        data={"language": "fr", "next": "/console/login"},
        headers={"Origin": "https://evil.example"},
    )
    assert foreign.status_code == 403
    nothing = await client.post("/console/language", data={"language": "fr"})
    assert nothing.status_code == 403
    ours = await client.post(
        "/console/language",
        data={"language": "fr", "next": "/console/login"},
        headers={"Origin": str(client.base_url).rstrip("/")},
    )
    assert ours.status_code == 303
    assert ours.headers["location"] == "/console/login"
    page = (await client.get("/console/login")).text
    assert "<h1>Se connecter à la console</h1>" in page
    assert '<label for="email">Adresse e-mail' in page


async def test_without_a_choice_the_organizations_default_language_is_used(
    client: httpx.AsyncClient, make: Factory
) -> None:
    org = await make.organization()
    admin = await make.user(org, Role.admin)
    csrf = await console_sign_in(client, admin)
    # The browser asks for French, but the organization's default (English) comes first.
    assert _lang((await client.get("/console", headers={"Accept-Language": "fr"})).text)[0] == "en"
    changed = await client.patch(
        "/api/v1/organizations/current",
        json={"default_locale": "fr"},
        headers={"X-CSRF-Token": csrf},
    )
    assert changed.status_code == 200, changed.text
    home = (await client.get("/console")).text
    assert _lang(home) == ("fr", "ltr")
    assert '<h2 class="section-group">Contenu</h2>' in home
    # The reader's own choice overrides the organization's.
    await post_form(client, "/console/language", csrf, {"language": "en"})
    assert _lang((await client.get("/console")).text) == ("en", "ltr")


async def test_the_page_embeds_the_console_messages_for_its_scripts(
    client: httpx.AsyncClient, make: Factory
) -> None:
    org = await make.organization()
    author = await make.user(org, Role.author)
    csrf = await console_sign_in(client, author)
    await post_form(client, "/console/language", csrf, {"language": "fr"})
    page = (await client.get("/console/assessments/new")).text
    block = _MESSAGES.search(page)
    assert block, "no catalogue in the page"
    catalogue: dict[str, Any] = json.loads(block.group(1))
    assert catalogue["locale"] == "fr" and catalogue["dir"] == "ltr"
    pool = catalogue["messages"]["Pool: {count} published item matches"]
    assert pool["one"] == "Vivier\u00a0: {count} item publié correspond"
    assert pool["other"] == "Vivier\u00a0: {count} items publiés correspondent"
    assert catalogue["messages"]["The pool could not be counted (offline?)."].startswith(
        "Le vivier"
    )


async def test_the_embedded_catalogue_cannot_end_its_script_element(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hostile = {
        "locale": "en",
        "dir": "ltr",
        "messages": {"x": "</script><script>alert(1)</script>&"},
    }
    monkeypatch.setattr(i18n, "client_catalogue", lambda code, areas: hostile)
    text = str(pages.client_messages("en"))
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text) == hostile


async def test_a_refusal_of_the_api_is_shown_in_the_pages_language(
    client: httpx.AsyncClient, make: Factory
) -> None:
    org = await make.organization()
    author = await make.user(org, Role.author)
    csrf = await console_sign_in(client, author)
    await post_form(client, "/console/language", csrf, {"language": "fr"})
    missing = await client.get("/console/banks/00000000-0000-4000-8000-000000000000")
    assert missing.status_code == 404
    assert "<h1>Banque d&#39;items introuvable</h1>" in missing.text
    assert ">Retour à la page d'accueil</a>" in missing.text
    # A form the API refuses: the summary's heading and the reasons in French.
    refused = await post_form(client, "/console/banks", csrf, {"name": "", "slug": "Not A Slug"})
    assert refused.status_code == 422
    assert '<h2 id="error-summary-title">Il y a un problème</h2>' in refused.text
    assert '<span class="visually-hidden">Erreur\u00a0:</span>' in refused.text


_TAGS = re.compile(r"<script\b.*?</script>|<style\b.*?</style>|<[^>]+>", re.S)


def _visible_english(html: str) -> list[str]:
    """The console catalogue's English sentences (that French changes) left in the text of
    a page (tags removed, entities resolved)."""
    from html import unescape

    from tests.web.console.test_language_browser import english_sentences

    text = " ".join(unescape(_TAGS.sub(" ", html)).split())
    return sorted(s for s in english_sentences() if s in text)


async def test_every_content_page_in_french_leaves_no_english_sentence(
    client: httpx.AsyncClient, make: Factory
) -> None:
    org = await make.organization()
    author = await make.user(org, Role.admin, Role.author)
    csrf = await console_sign_in(client, author)
    # The detector finds the English of a page shown in English.
    english = _visible_english((await client.get("/console/banks")).text)
    assert "Create bank" in english and "Include archived banks" in english
    await post_form(client, "/console/language", csrf, {"language": "fr"})
    made = await post_form(
        client, "/console/banks", csrf, {"name": "Astronomie", "slug": "astro-fr"}
    )
    bank = made.headers["location"]
    native = (
        "identifier: moon\ntitle: Lune\nlanguage: fr\nbody: '<p>{{RESPONSE}}</p>'\n"
        "interactions:\n  - type: choice\n    choices:\n      - {id: a, content: Oui}\n"
        "      - {id: b, content: Non}\n    correct: a\nscoring: match_correct\n"
    )
    created = await post_form(
        client, f"{bank}/items/new/source", csrf, {"format": "native", "content": native}
    )
    assert created.status_code == 303, created.text[-1500:]
    item = created.headers["location"]
    item_id = item.rsplit("/", 1)[1]
    await post_form(client, f"{item}/workflow/publish", csrf)
    edited = await post_form(
        client,
        f"{item}/source",
        csrf,
        {"format": "native", "content": native.replace("Lune", "La Lune"), "expected_version": "1"},
    )
    assert edited.status_code == 303, edited.text[-1500:]
    assessment = await post_form(
        client,
        "/console/assessments",
        csrf,
        {"title": "Ciel", "slug": "ciel-fr", "kind": "items", "item_id": item_id},
    )
    assert assessment.status_code == 303, assessment.text[-1500:]
    builder = assessment.headers["location"]
    pages_walked = [
        "/console",
        "/console/banks",
        bank,
        f"{bank}/settings",
        f"{bank}/import",
        f"{bank}/items/new",
        f"{bank}/items/new?type=choice",
        f"{bank}/items/new/source",
        item,
        f"{item}/edit",
        f"{item}/source",
        f"{item}/diff?from=1&to=2",
        "/console/banks/media",
        "/console/banks/rubrics",
        "/console/assessments",
        "/console/assessments/new",
        "/console/assessments/import",
        builder,
        f"{builder}/preview",
    ]
    for path in pages_walked:
        page = await client.get(path)
        assert page.status_code == 200, (path, page.text[-1500:])
        assert _lang(page.text) == ("fr", "ltr"), path
        assert _visible_english(page.text) == [], path


async def test_a_signed_in_readers_choice_is_saved_on_their_account(
    app: Any, client: httpx.AsyncClient, make: Factory
) -> None:
    """The switcher saves a signed-in reader's language on their account: another browser
    (no cookie) shows it after sign-in, before the organization's default and before a
    cookie that browser kept; an account without one keeps the cookie, then the default."""
    org = await make.organization()
    author = await make.user(org, Role.author)
    csrf = await console_sign_in(client, author)
    reply = await post_form(client, "/console/language", csrf, {"language": "fr"})
    assert reply.status_code == 303
    me = (await client.get("/api/v1/auth/me")).json()
    assert me["locale"] == "fr"

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as other:
        await console_sign_in(other, author)
        assert "waa_lang" not in other.cookies
        assert _lang((await other.get("/console", headers={"Accept-Language": "en"})).text) == (
            "fr",
            "ltr",
        )
        # A cookie this browser kept from before does not override the account's language.
        other.cookies.set("waa_lang", "en")
        page = (await other.get("/console/banks")).text
        assert _lang(page) == ("fr", "ltr")
        assert '<option value="fr" lang="fr" selected>Français</option>' in page

    # The organization's default comes after the account's language.
    admin = await make.user(org, Role.admin)
    admin_csrf = await console_sign_in(client, admin)
    changed = await client.patch(
        "/api/v1/organizations/current",
        json={"default_locale": "en"},
        headers={"X-CSRF-Token": admin_csrf},
    )
    assert changed.status_code == 200, changed.text
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as third:
        await console_sign_in(third, author)
        assert _lang((await third.get("/console")).text) == ("fr", "ltr")
        # Cleared through the API: the cookie of this browser, else the default, again.
        third_csrf = third.cookies.get("waa_csrf") or ""
        cleared = await third.put(
            "/api/v1/auth/me/language", json={"locale": None}, headers={"X-CSRF-Token": third_csrf}
        )
        assert cleared.status_code == 200, cleared.text
        assert _lang((await third.get("/console")).text) == ("en", "ltr")
        third.cookies.set("waa_lang", "fr")
        assert _lang((await third.get("/console")).text) == ("fr", "ltr")


async def test_the_switcher_before_sign_in_saves_nothing_on_an_account(
    client: httpx.AsyncClient, make: Factory
) -> None:
    org = await make.organization()
    author = await make.user(org, Role.author)
    page = await client.get("/console/login")
    reply = await client.post(
        "/console/language",
        data={"language": "fr", "next": "/console/login"},
        headers={"Origin": str(client.base_url).rstrip("/")},
    )
    assert reply.status_code == 303, reply.text
    assert page.status_code == 200
    await console_sign_in(client, author)
    assert (await client.get("/api/v1/auth/me")).json()["locale"] is None
    # The browser's cookie still speaks for it.
    assert _lang((await client.get("/console")).text) == ("fr", "ltr")
