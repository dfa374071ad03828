"""Languages: choosing one (cookie, Accept-Language), the catalogues in French with their
plural forms, the pseudo-locales, formatting, problem titles in the reader's language, the
catalogue checker, and the server's own documents (e-mail, scorecard, cohort report)
written in their reader's language."""

from __future__ import annotations

import dataclasses
import io
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import Message
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from babel.messages.catalog import Catalog
from fastapi import FastAPI
from pypdf import PdfReader
from sqlalchemy import select, update

from tests.support.exams import exam
from tests.support.factories import Factory
from tests.support.servers import free_port
from tests.support.settings import make_settings
from waa_ads.auth.models import Candidate
from waa_ads.core import catalogues, i18n
from waa_ads.core.catalogues import completeness, script_texts, template_texts
from waa_ads.core.settings import Settings
from waa_ads.integrations import mail
from waa_ads.integrations.models import IntegrationDelivery
from waa_ads.reporting.cohort import CohortReport
from waa_ads.reporting.figures import (
    Estimate,
    Feedback,
    Scorecard,
    SectionFigure,
    figures,
    format_code,
    printed,
    printed_difference,
    receipt_code,
)
from waa_ads.reporting.html import cohort_html
from waa_ads.reporting.pdf import read_scorecard, scorecard_language, scorecard_pdf

NBSP = "\u00a0"

# --- choosing a language ---------------------------------------------------------------------


def test_accept_language_is_read_by_quality_then_order() -> None:
    header = "de;q=0.9, fr-CA;q=0.8, en;q=0.5, es;q=0, *;q=0.1, ja"
    assert i18n.parse_accept_language(header) == ["ja", "de", "fr-CA", "en"]
    assert i18n.parse_accept_language("") == []
    assert i18n.parse_accept_language("not a tag!!, fr") == ["fr"]


def test_negotiation_falls_back_by_region_then_to_english() -> None:
    assert i18n.negotiate(accept_language="fr-CA,en;q=0.5") == "fr"  # region fallback
    assert i18n.negotiate(accept_language="de, fr;q=0.3") == "fr"  # first spoken
    assert i18n.negotiate(accept_language="de, ja") == "en"  # none spoken
    assert i18n.negotiate(accept_language=None) == "en"
    assert i18n.negotiate(accept_language="fr;q=0") == "en"  # refused outright
    # An explicit choice (the cookie, a candidate's language) comes before the browser's.
    assert i18n.negotiate("fr", accept_language="en") == "fr"
    assert i18n.negotiate(None, "xx", accept_language="fr") == "fr"  # not spoken: skipped
    assert i18n.best_match(["EN-gb"]) == "en"


def test_the_cookie_holds_the_readers_own_choice() -> None:
    assert i18n.cookie_choice("theme=dark; waa_lang=fr; other=1") == "fr"
    assert i18n.cookie_choice("waa_lang=xx") is None  # a language not spoken
    assert i18n.cookie_choice("not_waa_lang=fr") is None
    assert i18n.cookie_choice(None) is None
    chosen = i18n.cookie_choice("waa_lang=fr")
    assert i18n.negotiate(chosen, accept_language="en-US,en") == "fr"


# --- catalogues ------------------------------------------------------------------------------

PERCENTILE = ("%(percentile)s (of %(num)d candidate)", "%(percentile)s (of %(num)d candidates)")


def test_french_messages_and_their_three_plural_forms() -> None:
    with i18n.use_locale("fr"):
        assert i18n.gettext("Not found") == "Introuvable"
        assert i18n.gettext("Invalid request: %(summary)s", summary="x") == (
            f"Requête non valide{NBSP}: x"
        )
        shown = {n: i18n.ngettext(*PERCENTILE, n, percentile="5") for n in (0, 1, 2, 1_000_000)}
    # French: 0 and 1 are singular; a million takes the "many" form, written as "other".
    assert shown == {
        0: "5 (sur 0 candidat)",
        1: "5 (sur 1 candidat)",
        2: "5 (sur 2 candidats)",
        1_000_000: "5 (sur 1000000 candidats)",
    }
    with i18n.use_locale("en"):
        assert i18n.ngettext(*PERCENTILE, 1, percentile="5") == "5 (of 1 candidate)"
        assert i18n.gettext("Not found") == "Not found"
    assert i18n.current() == "en"  # use_locale put the locale back
    with i18n.use_locale("xx"):  # not spoken: English
        assert i18n.current() == "en"


def test_pseudo_locales_keep_placeholders_and_markup() -> None:
    accented = i18n.pseudo_text("Hello <strong>%(name)s</strong>, {count} left", mirrored=False)
    assert accented.startswith("[") and accented.endswith(" ~]")
    assert "%(name)s" in accented and "{count}" in accented and "<strong>" in accented
    assert "Hello" not in accented and "Ĥéĺĺö" in accented
    mirrored = i18n.pseudo_text("Time left: {count}", mirrored=True)
    assert "\u202eTime\u202c" in mirrored and "{count}" in mirrored
    assert "\u202e{count}" not in mirrored  # the placeholder is not wrapped
    # Made from the templates at load time: every message of the catalogue has one.
    with i18n.use_locale("en-XA"):
        text = i18n.gettext("Invalid request: %(summary)s", summary="body.x")
        assert text.startswith("[") and "body.x" in text and "Invalid" not in text
    with i18n.use_locale("ar-XB"):
        assert i18n.current_language().direction == "rtl"
        assert "\u202e" in i18n.gettext("Not found") and "\u202c" in i18n.gettext("Not found")


def test_the_browser_catalogue_keys_plurals_by_cldr_category() -> None:
    french = i18n.client_catalogue("fr", ("server",))
    assert french["locale"] == "fr" and french["dir"] == "ltr"
    forms = french["messages"][PERCENTILE[0]]
    assert set(forms) == {"one", "many", "other"}
    assert forms["one"] == "%(percentile)s (sur %(num)d candidat)"
    assert forms["many"] == forms["other"] == "%(percentile)s (sur %(num)d candidats)"
    assert french["messages"]["Not found"] == "Introuvable"
    pseudo = i18n.client_catalogue("en-XA", ("server",))["messages"][PERCENTILE[0]]
    assert set(pseudo) == {"one", "other"}
    assert i18n.client_catalogue("ar-XB", ("server",))["dir"] == "rtl"
    assert i18n.client_catalogue("en", ("server",))["messages"] == {}


def test_formatting_follows_the_locale() -> None:
    moment = datetime(2027, 1, 10, 9, 5, tzinfo=UTC)
    with i18n.use_locale("fr"):
        assert i18n.format_date(moment, "long") == "10 janvier 2027"
        assert i18n.format_datetime(moment) == "10 janv. 2027, 09:05:00"
        assert i18n.format_datetime(moment, "short", tz="Europe/Paris") == "10/01/2027 10:05"
        assert i18n.format_number(1234.5, 2) == "1\u202f234,50"
        assert i18n.format_percent(0.5) == f"50{NBSP}%"
        assert i18n.format_duration(120) == "2 minutes"
        assert i18n.format_duration(3600) == f"1{NBSP}heure"
    with i18n.use_locale("en"):
        assert i18n.format_date(moment, "long") == "January 10, 2027"
        assert i18n.format_number(1234.5, 2) == "1,234.50"
        assert i18n.format_percent(0.5) == "50%"
        assert i18n.format_duration(3600) == "1 hour"
    assert i18n.format_number(None) == "" and i18n.format_datetime(None) == ""


# --- problems in the reader's language ----------------------------------------------------


@pytest.mark.asyncio
async def test_a_problem_is_titled_in_the_readers_language(client: httpx.AsyncClient) -> None:
    french = await client.post(
        "/api/v1/attempts",
        json={"access_code": "ZZZZ-ZZZZ-ZZZZ-ZZZZ"},
        headers={"Accept-Language": "fr-CA,fr;q=0.9,en;q=0.5"},
    )
    english = await client.post("/api/v1/attempts", json={"access_code": "ZZZZ-ZZZZ-ZZZZ-ZZZZ"})
    assert french.status_code == english.status_code
    assert english.json()["title"] == "Access code not valid"
    assert english.headers["content-language"] == "en"
    problem = french.json()
    assert problem["title"] == "Code d'accès non valide"
    assert problem["type"] == english.json()["type"]  # clients match the type, not the text
    assert french.headers["content-language"] == "fr"
    assert french.headers["content-type"].startswith("application/problem+json")

    malformed = await client.post(
        "/api/v1/attempts", json={}, headers={"Cookie": "waa_lang=fr", "Accept-Language": "en"}
    )
    assert malformed.status_code == 422
    body = malformed.json()
    assert body["type"].endswith("/validation-error")
    assert body["title"] == "Contenu impossible à traiter"
    assert body["detail"].startswith(f"Requête non valide{NBSP}: ")
    assert body["invalid_params"][0]["name"] == "body.access_code"

    missing = await client.get("/api/v1/no-such-thing", headers={"Accept-Language": "fr"})
    assert (missing.status_code, missing.json()["title"]) == (404, "Introuvable")
    assert missing.json()["type"].endswith("/not-found")

    # Answered by a middleware before any route (the module's limit is 8 KiB).
    large = await client.post(
        "/api/v1/attempts",
        content=b'{"access_code": "' + b"A" * 9000 + b'"}',
        headers={"Accept-Language": "fr", "Content-Type": "application/json"},
    )
    assert large.status_code == 413
    assert large.json()["title"] == "Contenu trop volumineux"
    assert large.json()["type"].endswith("/payload-too-large")
    assert large.headers["content-language"] == "fr"


# --- the catalogue checker -------------------------------------------------------------------


def test_the_checker_finds_sentences_written_in_a_template(tmp_path: Path) -> None:
    template = tmp_path / "page.html"
    template.write_text(
        "<h1>{{ _('Your results') }}</h1>\n"
        "<p>Your answers were saved.</p>\n"
        '<img src="x.png" alt="{{ _(\'A chart\') }}">\n'
        '<button title="Close the dialog">{% trans %}Close{% endtrans %}</button>\n'
        "<p>{{ count }} · WAA-ADS · QTI</p>\n"
    )
    found = list(template_texts(template.read_text()))
    assert found == [(2, "Your answers were saved."), (4, "Close the dialog")]


def test_the_checker_finds_sentences_written_in_a_browser_module(tmp_path: Path) -> None:
    module = tmp_path / "page.js"
    module.write_text(
        'show("Please try again.");\n'
        'show(t("Please try again."));\n'
        'const row = document.querySelector("tr.waa-row > td span");\n'
        'console.warn("The socket closed early"); // i18n: not shown\n'
        'show(nt("{n} answer left", "{n} answers left", n, { n }));\n'
        "show(`Saved at ${time}`);\n"
    )
    found = list(script_texts(module.read_text()))
    assert found == [(1, "Please try again."), (6, "Saved at ")]


def _catalog(locale: str | None, messages: list[tuple[Any, Any]]) -> Catalog:
    catalog = Catalog(locale=locale, domain="server")
    for msgid, string in messages:
        catalog.add(msgid, string)
    return catalog


def test_the_checker_finds_missing_translations_and_placeholders() -> None:
    template = _catalog(
        None,
        [
            ("Hello %(name)s", None),
            ("Saved", None),
            ("Open {link}", None),
            (("%(num)d answer", "%(num)d answers"), None),
        ],
    )
    good = _catalog(
        "fr",
        [
            ("Hello %(name)s", "Bonjour %(name)s"),
            ("Saved", "Enregistré"),
            ("Open {link}", "Ouvrez {link}"),
            (
                ("%(num)d answer", "%(num)d answers"),
                ("une réponse", "%(num)d réponses", "%(num)d réponses"),
            ),
        ],
    )
    assert completeness("fr", "server", template, good) == []
    bad = _catalog(
        "fr",
        [
            ("Hello %(name)s", "Bonjour %(nom)s"),
            ("Saved", ""),
            ("Open {link}", "Ouvrez"),
            (("%(num)d answer", "%(num)d answers"), ("une réponse", "%(num)d réponses")),
        ],
    )
    found = {f.what for f in completeness("fr", "server", template, bad)}
    assert found == {
        "placeholders differ from the English: 'Hello %(name)s'",
        "not translated: 'Saved'",
        "placeholders differ from the English: 'Open {link}'",
        "needs 3 plural forms: '%(num)d answer'",
    }
    absent = {f.what for f in completeness("fr", "server", template, _catalog("fr", []))}
    assert "not in the catalogue: 'Saved'" in absent


def test_the_server_catalogue_is_complete_and_its_sources_use_it() -> None:
    def server(finding: catalogues.Finding) -> bool:
        where = finding.where.split(":")[0]
        return (
            where in ("locales/server.pot", "locales/fr/LC_MESSAGES/server.po")
            or i18n.area_of(where) == "server"
        )

    assert [str(f) for f in catalogues.check() if server(f)] == []


# --- the server's documents ------------------------------------------------------------------

CODE = receipt_code("secret", "cd" * 32, "attempt-fr", 1)
CARD = Scorecard(
    organization_name="Académie du Nord",
    brand_color=None,
    logo=None,
    language="fr",
    candidate_name="Zoë Ångström",
    candidate_ref="C-1",
    assessment_title="Test de placement",
    administration_title="Matin",
    attempt_id="attempt-fr",
    revision=1,
    released_at="2026-12-03",
    raw=7.5,
    max_raw=10,
    scaled=1512.4,
    band="Mention",
    passed=True,
    sections=[SectionFigure("alg", "Algèbre", 5, 8)],
    feedback=[Feedback("E1", "Rédaction", 3, 4, "Clair.", [("Contenu", "Bon")])],
    estimate=Estimate(12.34, 61.0, 40),
    code=CODE,
    verify_url=f"https://ads.example/verify/{format_code(CODE)}",
)


def _squashed(text: str) -> str:
    return " ".join(text.split())


def test_a_french_scorecard_is_written_in_french() -> None:
    pdf = scorecard_pdf(CARD)
    reader = PdfReader(io.BytesIO(pdf))
    assert str(reader.root_object["/Lang"]) == "fr"
    assert scorecard_language(pdf) == "fr"
    assert reader.metadata is not None
    assert reader.metadata.title == f"Relevé de résultats{NBSP}: Test de placement"
    payload, text = read_scorecard(pdf)
    page = _squashed(text)
    for expected in (
        "Relevé de résultats",
        "Score étalonné 1\u202f512,40",
        "Score brut 7,50 / 10",
        "Résultat Réussi",
        "Centile 61 (sur 40 candidats)",
        "Publié le 3 décembre 2026",
        "Rédaction (corrigé) 3 / 4",
        f"Code de vérification{NBSP}: {format_code(CODE)}",
    ):
        assert _squashed(expected) in page, expected
    assert "Scaled score" not in page and "Verification code" not in page
    # The embedded receipt keeps the figures in English, which is what is verified; the page
    # is checked against them printed in its own language.
    embedded = json.loads(payload)["figures"]
    assert {f["name"]: f["value"] for f in embedded}["scaled"] == "1512.40"
    issued = figures(CARD)
    assert printed_difference(text, issued) is not None  # the English is not on the page
    with i18n.use_locale("fr"):
        assert printed_difference(text, [printed(f) for f in issued]) is None
    english = _squashed(read_scorecard(scorecard_pdf(dataclasses.replace(CARD, language="en")))[1])
    assert "Scaled score 1512.40" in english and "Relevé" not in english


def test_a_cohort_report_is_written_in_its_readers_language() -> None:
    report = CohortReport(
        organization_name="Académie du Nord",
        brand_color=None,
        assessment_title="Test de placement",
        administration_id=str(uuid.uuid4()),
        administration_title="Matin",
        language="fr",
        attempts=3,
        scored=3,
        released=2,
        withheld=1,
        scaled_scores=[480.0, 512.5, 530.0],
        mean=507.5,
        sd=20.7,
        median=512.5,
        minimum=480.0,
        maximum=530.0,
        pass_cut=500.0,
        passed=2,
        failed=1,
        bands=[],
        sections=[],
        reliability={"persons": 3, "items": 3, "alpha": 0.812, "kr20": None, "sem": 1.5},
        items=[],
        integrity={"analysed": 3, "flagged": 0, "severity": {}, "decisions": {}},
        rating=[],
    )
    html = cohort_html(report)
    assert '<html lang="fr" dir="ltr">' in html
    assert '<h2 id="summary">Synthèse</h2>' in html
    assert f'Taux de réussite</th><td class="num">67{NBSP}%' in html
    assert 'Score étalonné moyen</th><td class="num">507,50' in html
    assert 'Alpha de Cronbach</th><td class="num">0,812' in html
    assert "Summary" not in html and "Pass rate" not in html
    english = cohort_html(dataclasses.replace(report, language="en"))
    assert 'Pass rate</th><td class="num">67%' in english


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], Message]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(
            (list(envelope.rcpt_tos), message_from_bytes(envelope.content, policy=policy.default))
        )
        return "250 Message accepted for delivery"


@pytest.fixture(scope="module")
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


@pytest.fixture
def settings(smtp: tuple[Inbox, int]) -> Settings:
    return make_settings(
        smtp_host="127.0.0.1", smtp_port=smtp[1], smtp_starttls=False, max_body_bytes=8192
    )


@pytest.mark.asyncio
async def test_an_access_code_is_mailed_in_the_candidates_language(
    app: FastAPI, client: httpx.AsyncClient, make: Factory, smtp: tuple[Inbox, int]
) -> None:
    """The default wording in each candidate's language (the French candidate's in French,
    the other's in the organization's default, English); an organization's own wording is
    sent as it wrote it, whatever the candidate's language."""
    inbox, _ = smtp
    ex = await exam(client, make, candidates=2)
    async with app.state.db.transaction(write=True) as session:
        await session.execute(
            update(Candidate)
            .where(Candidate.organization_id == ex.world.org.id, Candidate.full_name == "Cand 0")
            .values(locale="fr")
        )
        people = {
            c.full_name: c
            for c in await session.scalars(
                select(Candidate).where(Candidate.organization_id == ex.world.org.id)
            )
        }
    sent = await client.post(
        "/api/v1/integrations/email/access-codes",
        json={"administration_id": ex.administration["id"]},
        headers=ex.world.headers,
    )
    assert sent.status_code == 202, sent.text
    assert len(sent.json()["queued"]) == 2
    await app.state.background.runner.wait_idle()

    def mailed(name: str) -> Message:
        [(_, message)] = [m for m in inbox.messages if people[name].email in m[0]]
        return message

    french, english = mailed("Cand 0"), mailed("Cand 1")
    assert french["Subject"] == "Votre code d'accès pour Now"
    text = french.get_payload(decode=True).decode().replace("\r\n", "\n")  # type: ignore[union-attr]
    assert text.startswith("Bonjour Cand 0,\n\n")
    assert f"et saisissez votre code d'accès{NBSP}:" in text
    assert "Keep it to yourself" not in text
    assert english["Subject"] == "Your access code for Now"
    assert english.get_payload(decode=True).decode().startswith("Hello Cand 1,")  # type: ignore[union-attr]
    # The stored copy (the code masked) is in the same language.
    async with app.state.db.transaction(write=False) as session:
        stored = [
            json.loads(p)
            for p in await session.scalars(
                select(IntegrationDelivery.payload).where(
                    IntegrationDelivery.target == people["Cand 0"].email
                )
            )
        ]
    assert stored[0]["subject"] == "Votre code d'accès pour Now"
    assert mail.CODE_MASK in stored[0]["body"] and "Bonjour" in stored[0]["body"]

    # The organization's own wording goes out as written, to the French candidate too.
    saved = await client.put(
        "/api/v1/integrations/email/templates/access_code",
        json={"enabled": True, "subject": "Code: {{ administration }}", "body": "{{ code }}"},
        headers=ex.world.headers,
    )
    assert saved.status_code == 200, saved.text
    inbox.messages.clear()
    again = await client.post(
        "/api/v1/integrations/email/access-codes",
        json={"administration_id": ex.administration["id"]},
        headers=ex.world.headers,
    )
    assert again.status_code == 202, again.text
    await app.state.background.runner.wait_idle()
    assert mailed("Cand 0")["Subject"] == "Code: Now"


def test_default_e_mails_are_the_same_english_and_complete_french() -> None:
    for kind in mail.KINDS:
        assert mail.defaults_in("en", kind) == mail.DEFAULTS[kind]
        subject, body = mail.defaults_in("fr", kind, days=1)
        assert subject != mail.DEFAULTS[kind][0] and body != mail.DEFAULTS[kind][1]
        # The same variables as the English, so an organization's values fill either.
        english = "".join(mail.DEFAULTS[kind])
        names = {v for v in mail.VARIABLES[kind] if "{{ " + v + " }}" in english}
        assert {v for v in names if "{{ " + v + " }}" in subject + body} == names
    assert (
        "dans un délai de {{ days }} jour ici" in mail.defaults_in("fr", mail.INVITATION, days=1)[1]
    )
    assert "{{ days }} jours ici" in mail.defaults_in("fr", mail.INVITATION, days=7)[1]
    assert mail.recipient_locale(None, "fr-CA", "en") == "fr"
    assert mail.recipient_locale(None, None) == "en"
