"""The console's analysis and organization pages in French, in a real browser: with the
``waa_lang=fr`` cookie, an administration's cohort report (with scorecards generated and
followed live by reports.js), its item report, item analysis and DIF form (a refused
groups list), the organization's people (and the form to add one), candidates and
settings, the integrations overview, delivery log and platform form, the audit log, an
event and the chain's verification, and the public page that verifies a scorecard's code. On each page: French headings and words, numbers and dates formatted for
French, no English sentence of the area's catalogue left in the page, and axe with no
serious or critical violation. Screenshots console-analysis-fr-*.png."""

from __future__ import annotations

import re
from typing import Any

import pytest
from babel.messages.pofile import read_po
from playwright.sync_api import expect

from tests.support.browser import check_axe, checked_page, shot
from tests.support.items import choice_item
from tests.support.live_exams import open_exam
from tests.web.console.conftest import Site
from tests.web.console.test_results_browser import api_as, scored, take
from waa_ads.core.catalogues import LOCALES

pytestmark = [pytest.mark.browser, pytest.mark.slow]

_PLACEHOLDER = re.compile(r"%\([a-z_]+\)[sd]|\{[a-z_]+\}|<[^>]+>")


def english_sentences() -> list[str]:
    """The English of the area's catalogue that French changes and that reads as words (at
    least two), split around placeholders and markup: what must not be left in a French
    page."""
    with (LOCALES / "console-analysis.pot").open("rb") as f:
        template = read_po(f)
    with (LOCALES / "fr" / "LC_MESSAGES" / "console-analysis.po").open("rb") as f:
        french = read_po(f, locale="fr")
    found: set[str] = set()
    for message in template:
        if not message.id:
            continue
        translated = french.get(message.id, context=message.context)
        assert translated is not None and translated.string, message.id
        english = [message.id] if isinstance(message.id, str) else [str(t) for t in message.id]
        strings = (
            translated.string if isinstance(translated.string, tuple) else (translated.string,)
        )
        for text in english:
            if text in strings:
                continue  # the same in both languages ("Console", "URL")
            for piece in _PLACEHOLDER.split(text.replace("%%", "%")):
                part = piece.strip(" .,:;()")
                if len(part.split()) >= 2 and len(part) >= 8:
                    found.add(part)
    return sorted(found)


def page_text(page: Any) -> str:
    """What the page's main region says: its text, and the words of its images, labels,
    titles and placeholders (the header and footer belong to the console's own area)."""
    text: str = page.evaluate(
        """() => {
          const main = document.querySelector("main");
          const words = [main.innerText];
          for (const el of main.querySelectorAll("[alt], [title], [aria-label], [placeholder]")) {
            for (const name of ["alt", "title", "aria-label", "placeholder"]) {
              const value = el.getAttribute(name);
              if (value) words.push(value);
            }
          }
          return words.join("\\n");
        }"""
    )
    return " ".join(text.split())


def assert_french(page: Any, name: str, sentences: list[str]) -> None:
    assert page.evaluate("document.documentElement.lang") == "fr", name
    shown = page_text(page)
    # As words of their own: not inside a URL or a longer word ("/lti/login URL de…").
    left = [s for s in sentences if re.search(rf"(?<![\w/]){re.escape(s)}(?!\w)", shown)]
    context = [shown[max(0, shown.find(s) - 60) : shown.find(s) + 60] for s in left]
    assert left == [], f"English left on {name}: {left} in {context}"
    check_axe(page, name)
    shot(page, f"console-analysis-fr-{name}")


def test_analysis_and_organization_pages_in_french(
    site: Site, admin_page: Any, browser: Any
) -> None:
    sentences = english_sentences()
    assert "Attempts and scaled scores" in sentences  # the check can fail
    api = api_as(site.one, site.admin)
    administration, _, codes = open_exam(
        api,
        bank="Rapports",
        slug="repfr",
        sources=(choice_item("Q1", "Colours"), choice_item("Q2", "Shapes")),
        title="Lecture",
        section="Lecture",
        administration_title="Session d'automne",
        definition={
            "scoring": {
                "release": "immediately",
                "bands": [
                    {"name": "Pas encore", "min_score": 0, "passed": False},
                    {"name": "Acquis", "min_score": 1, "passed": True},
                ],
            }
        },
        names=["Ada Lovelace", "Alan Turing", "Grace Hopper"],
    )
    for code, answers in zip(
        codes,
        ({"Q1": "B", "Q2": "B"}, {"Q1": "A", "Q2": "B"}, {"Q1": "A", "Q2": "A"}),
        strict=True,
    ):
        scored(api, take(site.one, code, answers))
    api.close()

    page = admin_page
    page.context.add_cookies([{"name": "waa_lang", "value": "fr", "url": site.one}])
    title = administration["title"]

    # The cohort report, then scorecards generated and followed live (reports.js).
    page.goto(f"{site.one}/console/reports/{administration['id']}")
    page.get_by_role("heading", level=1, name=f"Rapport de cohorte\u00a0: {title}").wait_for()
    summary = page.get_by_role("table", name="Tentatives et scores étalonnés")
    expect(summary).to_contain_text("Taux de réussite")
    expect(summary.get_by_role("row", name="Tentatives 3", exact=True)).to_be_visible()
    chart = page.get_by_role("img", name=re.compile(r"^Histogramme de 3 scores étalonnés"))
    expect(chart).to_be_visible()
    page.get_by_role("button", name="Produire les relevés de résultats (3 publiés)").click()
    expect(page.get_by_role("status")).to_contain_text(
        "Production de 3 relevés de résultats en arrière-plan."
    )
    runs = page.get_by_role(
        "table", name="Productions de relevés de résultats, les plus récentes d'abord"
    )
    expect(runs.get_by_role("link", name="ZIP de 3 relevés de résultats")).to_be_visible(
        timeout=30_000
    )
    expect(runs).to_contain_text("3 sur 3")
    expect(runs).to_contain_text("terminé")
    # reports.js finds its sentences (live progress) in the page's catalogue, in French.
    live = page.evaluate(
        """async () => {
          const { t, nt, pt } = await import("/static/player/i18n.js");
          return [
            t("{done} of {total}, {skipped} skipped", { done: 2, total: 5, skipped: 1 }),
            nt("ZIP of {count} scorecard", "ZIP of {count} scorecards", 2, { count: 2 }),
            pt("job state", "running"),
          ];
        }"""
    )
    assert live == ["2 sur 5, 1 ignoré(s)", "ZIP de 2 relevés de résultats", "en cours"]
    assert_french(page, "01-cohort", sentences)

    page.get_by_role("link", name="Rapport d'items").click()
    page.get_by_role("heading", level=1, name=f"Rapport d'items\u00a0: {title}").wait_for()
    expect(page.get_by_role("table", name="Options de Q2")).to_contain_text("distracteur")
    # Shares as French percentages: a no-break space before the sign.
    expect(page.get_by_role("table", name="Options de Q2")).to_contain_text(re.compile(r"\d+\s?%"))
    assert_french(page, "02-items", sentences)

    # Psychometrics: the item analysis with French decimals.
    page.goto(f"{site.one}/console/psychometrics/{administration['id']}")
    page.get_by_role("heading", level=1, name=f"Analyse des items\u00a0: {title}").wait_for()
    statistics = page.get_by_role("table", name="Statistiques des items").first
    expect(statistics).to_contain_text(re.compile(r"\d,\d\d"))  # 0,67: a decimal comma
    expect(statistics).not_to_contain_text(re.compile(r"\d\.\d\d"))
    expect(page.get_by_label("Modèle")).to_contain_text("Rasch (une pente commune)")
    assert_french(page, "03-psychometrics", sentences)
    page.get_by_role("link", name="Analyse DIF").click()
    page.get_by_role("heading", level=1, name=f"Analyse DIF\u00a0: {title}").wait_for()
    page.get_by_label("Groupe de référence").fill("nord")
    page.get_by_label("Groupes des candidats").fill("une seule cellule")
    page.get_by_role("button", name="Analyser").click()
    expect(page.get_by_role("alert")).to_contain_text("ligne 1\u00a0: écrivez candidat,groupe")
    assert_french(page, "03b-dif-refused", sentences)

    # The organization: people (roles as French words), candidates, settings.
    page.goto(f"{site.one}/console/organization/users")
    page.get_by_role("heading", level=1, name="Personnes et rôles").wait_for()
    accounts = page.get_by_role("table", name=re.compile(r"^Comptes de "))
    expect(accounts).to_contain_text("administrateur")
    expect(accounts).to_contain_text("actif")
    expect(accounts).not_to_contain_text("admin,")
    expect(page.get_by_role("navigation", name="Organisation")).to_contain_text("Candidats")
    assert_french(page, "04-users", sentences)
    page.get_by_role("link", name="Ajouter ou inviter une personne").click()
    page.get_by_role("heading", level=1, name="Ajouter ou inviter une personne").wait_for()
    expect(page.get_by_role("group", name="Rôles")).to_contain_text(
        "Correcteur\u00a0: note les réponses"
    )
    assert_french(page, "04b-user-new", sentences)
    page.go_back()

    page.get_by_role("navigation", name="Organisation").get_by_role(
        "link", name="Candidats"
    ).click()
    page.get_by_role("heading", level=1, name="Candidats").wait_for()
    expect(page.get_by_label("Nom, adresse e-mail ou identifiant externe")).to_be_visible()
    expect(page.get_by_role("table", name="Candidats")).to_contain_text("Grace Hopper")
    assert_french(page, "05-candidates", sentences)

    page.goto(f"{site.one}/console/organization")
    page.get_by_role("heading", level=2, name="Paramètres").wait_for()
    expect(page.get_by_label("Fuseau horaire")).to_be_visible()
    expect(page.get_by_role("button", name="Enregistrer les paramètres")).to_be_visible()
    assert_french(page, "06-settings", sentences)

    # Integrations.
    page.goto(f"{site.one}/console/integrations")
    page.get_by_role("heading", level=1, name="Intégrations").wait_for()
    expect(page.get_by_role("table", name="Destinataires des événements signés")).to_be_visible()
    expect(page.get_by_label("Format")).to_contain_text("Événements WAA-ADS (JSON signé)")
    assert_french(page, "07-integrations", sentences)
    page.get_by_role("link", name="Journal des envois").first.click()
    page.get_by_role("heading", level=1, name="Journal des envois").wait_for()
    expect(page.get_by_label("Statut")).to_contain_text("en attente")
    assert_french(page, "07b-deliveries", sentences)
    page.goto(f"{site.one}/console/integrations/lti/new")
    page.get_by_role("heading", level=1, name="Inscrire une plateforme").wait_for()
    assert_french(page, "07c-lti-new", sentences)

    # The audit log: parties as French words, times with French month names.
    page.goto(f"{site.one}/console/audit")
    page.get_by_role("heading", level=1, name="Journal d'audit").wait_for()
    events = page.get_by_role("table", name="Événements, les plus récents d'abord")
    expect(events).to_contain_text("utilisateur")
    expect(events).to_contain_text(
        re.compile(r"\d{1,2} (janv|févr|mars|avr|mai|juin|juil|août|sept|oct|nov|déc)\.? \d{4}")
    )
    assert_french(page, "08-audit", sentences)
    events.get_by_role("link").first.click()
    page.get_by_role("heading", level=1, name=re.compile(r"^Événement \d+\s:")).wait_for()
    expect(page.locator("dl.facts")).to_contain_text("Empreinte précédente")
    assert_french(page, "08b-audit-event", sentences)
    page.go_back()

    page.get_by_role("button", name="Vérifier la chaîne").click()
    page.get_by_role("heading", level=1, name="Vérification de la chaîne d'audit").wait_for()
    expect(page.get_by_role("status")).to_contain_text("Intacte.")
    assert_french(page, "09-audit-verify", sentences)
    assert "/console/audit/verify" in page.url

    # The public page that checks a scorecard's code, for someone not signed in.
    with checked_page(browser) as public:
        public.context.add_cookies([{"name": "waa_lang", "value": "fr", "url": site.one}])
        public.goto(f"{site.one}/verify")
        public.get_by_role("heading", level=1, name="Vérifier un relevé de résultats").wait_for()
        assert_french(public, "10-verify", sentences)
        public.get_by_label("Code de vérification").fill("0000-0000-0000-0000")
        public.get_by_role("button", name="Vérifier").click()
        public.get_by_role("heading", level=1, name="Code de vérification inconnu").wait_for()
        expect(public.get_by_role("alert")).to_contain_text("Vérifiez le code imprimé")
        assert_french(public, "11-verify-unknown", sentences)
