"""The console's Delivery menu in French in a real browser (the ``waa_lang=fr`` cookie): the
administrations list, an administration with its roster, the page that adds candidates,
the proctor's live view kept live by its script, the integrity queue and one attempt's
review. On each page the text is French, no English sentence of the area's catalogue is
left in view, and axe finds nothing serious; screenshots console-delivery-fr-*.png."""

from __future__ import annotations

import io
import re
import secrets
from functools import cache
from typing import Any

import httpx
import pytest
from babel.messages.pofile import read_po
from playwright.sync_api import expect

from tests.support.browser import check_axe, checked_page, shot
from tests.support.live_exams import ok
from tests.web.console.conftest import Site, sign_in
from tests.web.console.test_integrity_browser import POLICY, _analysed, _exam, _sit
from tests.web.console.test_results_browser import api_as
from waa_ads.core.catalogues import LOCALES

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NBSP = "\u00a0"
_PLACEHOLDER = re.compile(r"%\([a-z_]+\)[sd]|\{[a-z_]+\}|%[sd]")
_TAG = re.compile(r"<[^>]+>")
_WORDS = re.compile(r"[A-Za-z]{2,}")


def _pattern(english: str) -> re.Pattern[str] | None:
    """A pattern finding ``english`` as a page shows it (placeholders filled with anything,
    markup gone, spaces of any kind), or None when it has no word to find."""
    text = _TAG.sub("", english).replace("%%", "%")
    pieces = _PLACEHOLDER.split(text)
    if not any(_WORDS.search(piece) for piece in pieces):
        return None
    parts = []
    for piece in pieces:
        core = r"\s+".join(re.escape(word) for word in piece.split())
        if core and piece[:1].isspace():
            core = r"\s+" + core
        if core and piece[-1:].isspace():
            core += r"\s+"
        parts.append(core)
    body = r".+?".join(parts)
    start = r"\b" if re.match(r"\w", text) else ""
    end = r"\b" if re.search(r"\w$", text) else ""
    return re.compile(start + body + end)


@cache
def english_sentences() -> tuple[tuple[str, re.Pattern[str]], ...]:
    """Every English message of the console-delivery catalogue that reads differently in
    French (a word such as « Session » or « Question » is the same in both), with the
    pattern that finds it on a page."""
    french = read_po(
        io.BytesIO((LOCALES / "fr" / "LC_MESSAGES" / "console-delivery.po").read_bytes()),
        locale="fr",
    )
    found: list[tuple[str, re.Pattern[str]]] = []
    for message in french:
        if not message.id:
            continue
        ids = [str(i) for i in (message.id if isinstance(message.id, tuple) else (message.id,))]
        strings = [
            str(s or "")
            for s in (message.string if isinstance(message.string, tuple) else (message.string,))
        ]
        french_words = {w.lower() for s in strings for w in _WORDS.findall(_PLACEHOLDER.sub("", s))}
        for english in ids:
            words = {w.lower() for w in _WORDS.findall(_PLACEHOLDER.sub("", english))}
            if not words or words <= french_words:
                continue
            pattern = _pattern(english)
            if pattern is not None:
                found.append((english, pattern))
    return tuple(found)


def assert_french(page: Any, name: str, data: list[str]) -> None:
    """The page is in French, keeps no English sentence of the catalogue in view (``data``,
    what people wrote, such as titles and names, is shown as written and left out), and axe
    finds nothing serious; its screenshot is taken."""
    assert page.locator("html").get_attribute("lang") == "fr"
    shown = page.locator("#main").inner_text()
    for written in sorted(data, key=len, reverse=True):
        shown = shown.replace(written, " ")
    left = [english for english, pattern in english_sentences() if pattern.search(shown)]
    assert left == [], f"English left on {name}: {left}\n{shown}"
    check_axe(page, f"{name} in French")
    shot(page, f"console-delivery-fr-{name}")


def test_the_delivery_pages_in_french(site: Site, browser: Any) -> None:
    assert len(english_sentences()) > 300  # the check has sentences to look for
    api = api_as(site.one, site.admin)
    policy = f"supervised-fr-{secrets.token_hex(3)}"
    ok(api.put(f"/api/v1/integrity/policies/{policy}", json={"source": POLICY}))
    tag = secrets.token_hex(2)
    flagged_name, live_name = f"Ada Lovelace {tag}", f"Alan Turing {tag}"
    administration, codes = _exam(api, policy, [flagged_name, live_name])
    admin_id = administration["id"]
    events = ["focus_lost", "focus_regained", "focus_lost", "focus_regained", "paste"]
    flagged = _sit(site.one, codes[0], {"Q1": "B", "Q2": "A", "Q3": "B"}, events)
    _analysed(api, flagged)
    # What people wrote is shown as written: titles, names, the policy's reasons.
    data = [a["title"] for a in ok(api.get("/api/v1/administrations"))]
    data += [a["title"] for a in ok(api.get("/api/v1/assessments"))]
    data += [a["assessment_title"] for a in ok(api.get("/api/v1/administrations"))]
    data += [
        c["full_name"] or ""
        for c in ok(api.get("/api/v1/candidates", params={"limit": 500}))["items"]
    ]
    data += [flagged_name, live_name, "Left the test window 2 times", "Pasted text (1)"]
    data += ["when, severity, reason"]  # a policy's YAML keys
    measured = ok(api.get("/api/v1/integrity/fairness"))["frame_analysis"]
    data += [measured["detector"], measured["command"]]  # how the server measured its analysis
    api.close()

    # The second candidate is still working: the live view follows them.
    player = httpx.Client(base_url=site.one, timeout=30)
    started = ok(player.post("/api/v1/attempts", json={"access_code": codes[1]}))
    live_attempt = str(started["attempt"]["id"])
    player.headers["X-Attempt-Token"] = started["credential"]

    with checked_page(browser) as page:
        sign_in(page, site.one, site.admin)
        page.context.add_cookies([{"name": "waa_lang", "value": "fr", "url": site.one}])

        page.goto(f"{site.one}/console/administrations")
        expect(page.get_by_role("heading", level=1)).to_have_text("Sessions")
        expect(page.get_by_role("link", name="Planifier une session")).to_be_visible()
        row = page.get_by_role("row", name=re.compile(re.escape(administration["title"])))
        expect(row).to_contain_text("ouverte")
        expect(row).to_contain_text("1 en cours")
        assert_french(page, "01-administrations", data)

        page.goto(f"{site.one}/console/administrations/{admin_id}")
        facts = page.locator("dl.facts")
        expect(facts).to_contain_text("2 candidats")
        expect(facts).to_contain_text(re.compile(r"du \d{1,2} \S+ \d{4}, \d\d:\d\d au "))
        expect(page.get_by_role("heading", name="Liste des candidats")).to_be_visible()
        roster = page.get_by_role("table", name=re.compile(r"Liste des candidats\s:\s2 candidats"))
        expect(roster).to_contain_text("actif")
        expect(roster.get_by_role("link", name=f"Aménagements de {flagged_name}")).to_be_visible()
        expect(page.get_by_role("table", name=re.compile("^2 tentatives"))).to_contain_text(
            "en cours"
        )
        assert_french(page, "02-administration", data)

        page.get_by_role("link", name="Ajouter des candidats").click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("Ajouter des candidats à")
        expect(page.get_by_label("Multiplicateur de temps")).to_be_visible()
        expect(page.locator("main")).to_contain_text(
            f"1 correspond au temps normal{NBSP}; 1,5 donne 50{NBSP}% de plus (de 1 à 4)."
        )
        assert_french(page, "03-roster-add", data)

        page.goto(f"{site.one}/console/administrations/{admin_id}/live")
        expect(page.locator("#live-status-text")).to_have_text(
            f"En direct{NBSP}: les changements apparaissent au fur et à mesure."
        )
        live_row = page.locator("#live-rows tr", has_text=live_name)
        expect(live_row).to_contain_text("en cours")
        expect(live_row).to_contain_text("tentative 1")
        # The candidate leaves the window: the script writes and announces it in French.
        sent = player.post(
            f"/api/v1/attempts/{live_attempt}/events",
            json={"events": [{"kind": "focus_lost", "data": {}}]},
        )
        assert sent.is_success, sent.text
        expect(page.locator("#integrity-log li").first).to_contain_text(
            f"{live_name}, tentative 1{NBSP}: a quitté la fenêtre du test", timeout=8000
        )
        expect(page.locator("#live-announcer")).to_contain_text(
            f"Événement d'intégrité{NBSP}: {live_name}, tentative 1 a quitté la fenêtre du test."
        )
        live_row.locator("summary").click()
        expect(live_row.get_by_label("Motif de la pause")).to_be_visible()
        assert_french(page, "04-live", data)

        page.goto(f"{site.one}/console/integrity?administration_id={admin_id}")
        expect(page.get_by_role("heading", level=1)).to_contain_text(
            f"Examen d'intégrité{NBSP}: {administration['title']}"
        )
        queue = page.get_by_role("table")
        expect(queue).to_contain_text(flagged_name)
        expect(queue).to_contain_text("élevée")
        expect(queue).to_contain_text("à traiter")
        expect(queue.locator("caption")).to_have_text(
            "Tentatives signalées à traiter, les plus graves d'abord"
        )
        expect(page.get_by_label("Statut")).to_have_value("open")
        assert_french(page, "05-integrity-queue", data)

        page.get_by_role("link", name=f"de {flagged_name}").click()
        expect(page.get_by_role("heading", level=1)).to_have_text(
            f"Examen d'intégrité{NBSP}: {flagged_name}"
        )
        expect(page.locator(".integrity-timeline")).to_contain_text(f"Événement{NBSP}: collage")
        expect(page.locator(".integrity-flag").first).to_contain_text("élevée")
        expect(page.get_by_role("radio", name="Avertir le candidat")).to_be_visible()
        assert_french(page, "06-integrity-attempt", data)

        # Recording a decision answers in French too.
        page.locator("textarea#reason").fill("Rien d'anormal")
        page.get_by_role("button", name="Enregistrer la décision").click()
        expect(page.locator(".notice")).to_contain_text(
            f"Classé sans suite{NBSP}: la décision est enregistrée"
        )
        expect(page.get_by_role("table", name=re.compile("^Décisions et recours"))).to_contain_text(
            "classement sans suite"
        )
        assert_french(page, "07-integrity-decided", data)

        # The rest of the menu: policies, similarity, fairness, and the administration's forms.
        page.goto(f"{site.one}/console/integrity/policies")
        expect(page.get_by_role("heading", level=1)).to_have_text("Politiques d'intégrité")
        expect(page.get_by_label("Politique (YAML)")).to_be_visible()
        assert_french(page, "08-integrity-policies", data)

        page.goto(f"{site.one}/console/integrity/policies/{policy}")
        expect(
            page.get_by_role("button", name="Enregistrer comme nouvelle version")
        ).to_be_visible()
        expect(page.locator("main")).to_contain_text("L'enregistrement crée la version 2")
        assert_french(page, "09-integrity-policy", data)

        page.goto(f"{site.one}/console/integrity/administrations/{admin_id}/similarity")
        expect(page.get_by_role("button", name="Lancer l'analyse")).to_be_visible()
        assert_french(page, "10-similarity", data)

        page.goto(f"{site.one}/console/integrity/fairness")
        expect(page.get_by_role("heading", level=1)).to_have_text("Rapport d'équité")
        expect(page.get_by_role("table", name=re.compile("^Taux d'erreur"))).to_contain_text(
            "très sombre"
        )
        assert_french(page, "11-fairness", data)

        page.goto(f"{site.one}/console/administrations/{admin_id}/edit")
        expect(page.get_by_label("Ouverture")).to_be_visible()
        assert_french(page, "12-administration-form", data)

        page.goto(f"{site.one}/console/administrations/{admin_id}/roster/csv")
        expect(page.get_by_label("Fichier CSV")).to_be_visible()
        assert_french(page, "13-roster-csv", data)

        page.goto(f"{site.one}/console/administrations/{admin_id}")
        page.get_by_role("link", name=f"Aménagements de {live_name}").click()
        expect(page.get_by_role("heading", level=1)).to_have_text(f"Aménagements de {live_name}")
        assert_french(page, "14-accommodations", data)

        page.goto(f"{site.one}/console/administrations/{admin_id}")
        page.get_by_role("checkbox", name=f"Choisir {live_name}").check()
        page.once("dialog", lambda dialog: dialog.accept())
        page.get_by_role("button", name="Émettre de nouveaux codes et imprimer les fiches").click()
        expect(page.get_by_role("heading", level=1)).to_have_text(
            "Nouveau code d'accès pour 1 candidat"
        )
        expect(page.locator(".slip")).to_contain_text("et saisissez votre code d'accès")
        assert_french(page, "15-codes", data)
    player.close()
