"""The console's Scoring menu in French in a real browser (the ``waa_lang=fr`` cookie): the
rater's queue, one response scored with the rubric by the keyboard (the lease's countdown
in French from rating.js), the scoring model's view, the rating lead's page, the
automated scoring overview, an administration's results and one attempt's result. On
each page the text is French, no English sentence of the area's catalogue is left in
view, and axe finds nothing serious; screenshots console-scoring-fr-*.png."""

from __future__ import annotations

import io
import re
import secrets
import time
from functools import cache
from typing import Any

import httpx
import pytest
from babel.messages.pofile import read_po
from playwright.sync_api import expect

from tests.support.browser import check_axe, checked_page, shot
from tests.support.live_exams import ok
from tests.web.console.conftest import Site, sign_in
from tests.web.console.test_rating_browser import _choose
from tests.web.console.test_results_browser import api_as
from waa_ads.core.catalogues import LOCALES

pytestmark = [pytest.mark.browser, pytest.mark.slow]

QTI3 = "http://www.imsglobal.org/xsd/imsqtiasi_v3p0"
_PLACEHOLDER = re.compile(r"%\([a-z_]+\)[sd]|\{[a-z_]+\}|%[sd]")
_TAG = re.compile(r"<[^>]+>")
_WORDS = re.compile(r"[A-Za-z]{2,}")
# Colons, semicolons and the like in French: a no-break space before them.
_SPACE = r"[\s\u00a0\u202f]"


def _rubric(tag: str) -> str:
    """A French rubric of two criteria (three levels, then two)."""
    return f"""format: 1
id: redaction-{tag}
version: 1
title: Rédaction courte
kind: analytic
criteria:
  - id: contenu
    title: Contenu
    levels:
      - {{id: absent, points: 0, descriptor: Rien de pertinent.}}
      - {{id: partiel, points: 1, descriptor: Quelques idées pertinentes.}}
      - {{id: developpe, points: 2, descriptor: Pertinent et développé.}}
  - id: langue
    title: Langue
    levels:
      - {{id: confuse, points: 0, descriptor: Difficile à suivre.}}
      - {{id: claire, points: 1, descriptor: Claire et correcte.}}
"""


def _essay(identifier: str) -> str:
    return f"""<qti-assessment-item xmlns="{QTI3}" identifier="{identifier}" title="Rédaction"
    adaptive="false" time-dependent="false">
  <qti-response-declaration identifier="RESPONSE" cardinality="single" base-type="string"/>
  <qti-outcome-declaration identifier="SCORE" cardinality="single" base-type="float"/>
  <qti-item-body>
    <qti-extended-text-interaction response-identifier="RESPONSE">
      <qti-prompt>Décrivez le cycle de l'eau.</qti-prompt>
    </qti-extended-text-interaction>
  </qti-item-body>
</qti-assessment-item>"""


def _pattern(english: str) -> re.Pattern[str] | None:
    """A pattern finding ``english`` as a page shows it (placeholders filled with anything,
    markup gone, spaces of any kind), or None when it has no word to find."""
    text = _TAG.sub("", english).replace("%%", "%")
    pieces = _PLACEHOLDER.split(text)
    if not any(_WORDS.search(piece) for piece in pieces):
        return None
    parts = []
    for piece in pieces:
        words = r"\s+".join(re.escape(word) for word in piece.split())
        if words:
            # Whole words only: "to" is no part of « retourne ».
            start = r"\b" if re.match(r"\w", piece.strip()) else ""
            end = r"\b" if re.search(r"\w$", piece.strip()) else ""
            words = start + words + end
        parts.append(words)
    return re.compile(r".+?".join(parts))


@cache
def english_sentences() -> tuple[tuple[str, re.Pattern[str]], ...]:
    """Every English message of the console-scoring catalogue that reads differently in
    French (« Score » or « Version » are the same words in both), with the pattern that
    finds it on a page."""
    french = read_po(
        io.BytesIO((LOCALES / "fr" / "LC_MESSAGES" / "console-scoring.po").read_bytes()),
        locale="fr",
    )
    found: list[tuple[str, re.Pattern[str]]] = []
    for message in french:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        french_words = {
            w.lower() for s in strings for w in _WORDS.findall(_PLACEHOLDER.sub("", str(s)))
        }
        for english in ids:
            words = {w.lower() for w in _WORDS.findall(_PLACEHOLDER.sub("", str(english)))}
            if not words or words <= french_words | FRENCH_TOO:
                continue
            pattern = _pattern(str(english))
            if pattern is not None:
                found.append((str(english), pattern))
    return tuple(found)


#: English words of the catalogue that are French words too (« file d'attente », « second »).
FRENCH_TOO = frozenset({"file", "second"})


def assert_french(page: Any, name: str, data: tuple[str, ...] = ()) -> None:
    """The page is in French, keeps no English sentence of the catalogue in view (``data``,
    what people wrote in English such as the demo's titles, aside), and axe finds nothing
    serious; its screenshot is taken."""
    assert page.locator("html").get_attribute("lang") == "fr"
    shown = page.locator("#main").inner_text()
    for written in data:
        shown = shown.replace(written, " ")
    left = [english for english, pattern in english_sentences() if pattern.search(shown)]
    assert left == [], f"English left on {name}: {left}\n{shown}"
    check_axe(page, f"{name} in French")
    shot(page, f"console-scoring-fr-{name}")


def _essays_to_rate(api: httpx.Client, texts: list[str]) -> dict[str, Any]:
    """A published essay item with a French rubric, in a test of its own open now; each
    text written and submitted by a candidate of its own. The ids and names made."""
    tag = secrets.token_hex(3)
    bank = ok(api.post("/api/v1/banks", json={"slug": f"redac-{tag}", "name": f"Rédactions {tag}"}))
    rubric = ok(api.post("/api/v1/rubrics", json={"slug": f"redac-{tag}", "yaml": _rubric(tag)}))
    ref = f"R{tag}"
    item = ok(
        api.post(
            f"/api/v1/banks/{bank['id']}/items",
            json={
                "source": {"format": "qti", "content": _essay(ref)},
                "rubric_version_id": rubric["version"]["id"],
            },
        )
    )["item"]
    ok(api.post(f"/api/v1/items/{item['id']}/publish"))
    definition = {
        "title": f"Le cycle de l'eau {tag}",
        "scoring": {"release": "manual"},
        "sections": [{"identifier": "s", "title": "Rédaction", "items": [{"item_id": item["id"]}]}],
    }
    created = ok(
        api.post("/api/v1/assessments", json={"slug": f"eau-{tag}", "definition": definition})
    )
    version = ok(api.post(f"/api/v1/assessments/{created['assessment']['id']}/publish"))
    now = time.time()
    administration = ok(
        api.post(
            "/api/v1/administrations",
            json={
                "assessment_version_id": version["version"]["id"],
                "title": f"Épreuve écrite {tag}",
                "opens_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 300)),
                "closes_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 10800)),
            },
        )
    )
    names = [f"{first} {tag}" for first in ("Camille Martin", "Louise Bernard")][: len(texts)]
    people = [ok(api.post("/api/v1/candidates", json={"full_name": n})) for n in names]
    roster = ok(
        api.post(
            f"/api/v1/administrations/{administration['id']}/roster",
            json={"entries": [{"candidate_id": p["id"]} for p in people]},
        )
    )
    attempts = []
    with httpx.Client(base_url=str(api.base_url), timeout=30) as player:
        for text, entry in zip(texts, roster, strict=True):
            started = ok(
                player.post("/api/v1/attempts", json={"access_code": entry["access_code"]})
            )
            attempt_id = started["attempt"]["id"]
            headers = {"X-Attempt-Token": started["credential"]}
            ok(
                player.put(
                    f"/api/v1/attempts/{attempt_id}/responses/{ref}",
                    json={"seq": 1, "value": text},
                    headers=headers,
                )
            )
            ok(player.post(f"/api/v1/attempts/{attempt_id}/submit", headers=headers))
            attempts.append(str(attempt_id))
    for attempt_id in attempts:  # scored but the essay: waiting for people
        for _ in range(300):
            reply = api.get(f"/api/v1/results/{attempt_id}")
            if reply.status_code == 200 and reply.json()["attempt_state"] == "scoring":
                break
            time.sleep(0.05)
        else:
            raise AssertionError(f"{attempt_id} never waited for people")
    return {
        "tag": tag,
        "ref": ref,
        "item_id": item["id"],
        "administration": administration,
        "names": names,
        "attempts": attempts,
    }


def test_the_scoring_pages_in_french(site: Site, browser: Any) -> None:
    assert len(english_sentences()) > 300  # the check has sentences to look for
    api = api_as(site.one, site.admin)
    made = _essays_to_rate(
        api,
        [
            "Le soleil chauffe l'océan, l'eau s'évapore, puis elle retombe en pluie.",
            "La pluie tombe.",
        ],
    )
    me = ok(api.get("/api/v1/auth/me"))
    plan_title = f"Rédactions corrigées à la main {made['tag']}"
    plan = ok(
        api.post(
            "/api/v1/rating/plans",
            json={
                "administration_id": made["administration"]["id"],
                "title": plan_title,
                "double_share": 0,
                "raters": [{"user_id": str(me["user_id"])}],
                "adjudicators": [{"user_id": str(me["user_id"])}],
                "leads": [],
            },
        )
    )["plan"]
    ok(api.post(f"/api/v1/rating/plans/{plan['id']}/sync"))
    # The admin leads every plan: the demo's, named in English, are listed too.
    others = tuple(p["title"] for p in ok(api.get("/api/v1/rating/plans")) if p["id"] != plan["id"])
    # People and banks are named as they were written (the demo's in English).
    people = tuple(
        name
        for u in ok(api.get("/api/v1/users", params={"limit": 500}))["items"]
        for name in (u["display_name"], u["email"])
        if name
    )
    banks = tuple(b["name"] for b in ok(api.get("/api/v1/banks")))
    sittings = tuple(
        title
        for a in ok(api.get("/api/v1/administrations", params={"archived": True}))
        if a["id"] != made["administration"]["id"]
        for title in (a["title"], a["assessment_title"])
    )
    api.close()

    with checked_page(browser) as page:
        sign_in(page, site.one, site.admin)
        page.context.add_cookies([{"name": "waa_lang", "value": "fr", "url": site.one}])

        # The queue.
        page.goto(f"{site.one}/console/rating")
        expect(page.get_by_role("heading", level=1)).to_have_text("Correction")
        card = page.locator("section.rating-plan", has_text=plan_title)
        expect(card).to_contain_text("Vous êtes arbitre et correcteur dans ce plan.")
        expect(card).to_contain_text("Vous en êtes responsable.")
        assert_french(page, "01-queue", others)

        # One response, scored by the keyboard; its countdown in French.
        card.get_by_role("button", name=f"Prendre la réponse suivante de {plan_title}").click()
        expect(page.get_by_role("heading", level=1)).to_have_text(
            re.compile(rf"Corriger{_SPACE}:{_SPACE}{made['ref']}")
        )
        expect(page.locator("[data-lease-left]")).to_contain_text(re.compile(r"\(encore \d+ min"))
        expect(page.locator(".lease-timer")).to_contain_text("Cette réponse vous est réservée")
        expect(page.locator(".lease-timer")).to_contain_text("Encore 1 en attente.")
        expect(page.get_by_role("group", name="Contenu")).to_contain_text("(2 points)")
        expect(page.get_by_role("group", name="Langue")).to_contain_text("(1 point)")
        expect(page.get_by_role("heading", name="Raccourcis clavier")).to_be_visible()
        expect(page.locator(".shortcuts")).to_contain_text("Ctrl + Entrée")
        _choose(page, lambda count: count)  # the top level of each criterion
        expect(page.locator("#level-contenu-developpe")).to_be_checked()
        expect(page.locator("#level-langue-claire")).to_be_checked()
        page.get_by_label("Commentaire au candidat").fill("Bonne description du cycle.")
        assert_french(page, "02-scoring-form")
        with page.expect_navigation():
            page.keyboard.press("Control+Enter")  # saved, and the next response shown
        expect(page.locator(".notice")).to_have_text(
            re.compile(rf"Enregistré{_SPACE}:{_SPACE}3 points\.")
        )
        expect(page.get_by_role("heading", level=1)).to_contain_text("Corriger")

        # What the scoring model makes of it: no model scores this item.
        page.get_by_role("link", name="Ce qu'en pense le modèle de notation").click()
        expect(page.get_by_role("heading", level=1)).to_have_text(
            "L'avis du modèle de notation sur cette réponse"
        )
        expect(page.locator("#main")).to_contain_text(
            "Aucun modèle de notation ne couvre cet item."
        )
        assert_french(page, "03-model-view")

        # Back to the response still held, saved with the mouse this time.
        page.goto(f"{site.one}/console/rating")
        card.get_by_role("button", name=f"Prendre la réponse suivante de {plan_title}").click()
        page.get_by_label("Rien de pertinent.").check()
        page.get_by_label("Difficile à suivre.").check()
        page.get_by_role("button", name="Enregistrer et arrêter").click()
        expect(page.locator(".notice")).to_have_text(
            re.compile(rf"Enregistré{_SPACE}:{_SPACE}0 point\.")
        )
        stats = page.locator("section.rating-plan", has_text=plan_title).locator("dl.facts")
        expect(stats).to_contain_text("Vos corrections")
        expect(stats).to_contain_text("pas encore de réponses témoins")

        # The lead's page.
        page.goto(f"{site.one}/console/rating/plans/{plan['id']}")
        expect(page.get_by_role("heading", level=1)).to_have_text(
            re.compile(rf"Responsable de correction{_SPACE}:{_SPACE}{re.escape(plan_title)}")
        )
        progress = page.get_by_role("table", name="Avancement par item")
        expect(progress.locator("tbody tr")).to_have_count(1)
        expect(progress.locator("tbody tr")).to_contain_text("2 / 2")
        expect(page.locator("#main")).to_contain_text("0 % des réponses")
        expect(page.locator("#main")).to_contain_text("900 secondes")
        expect(page.get_by_role("table", name=re.compile("^Indicateurs, dérive"))).to_contain_text(
            "actif"
        )
        assert_french(page, "04-lead")

        page.get_by_role("link", name="Modifier le plan").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Modifier le plan de correction")
        expect(page.get_by_label("Part corrigée deux fois (%)")).to_have_value("0")
        expect(page.get_by_role("group", name="Correcteurs", exact=True)).to_be_visible()
        assert_french(page, "04-plan-form", (plan_title, *people, *banks))

        # Automated scoring.
        page.goto(f"{site.one}/console/autoscore")
        expect(page.get_by_role("heading", level=1)).to_have_text("Correction automatique")
        expect(page.get_by_role("heading", name="Critères d'acceptation")).to_be_visible()
        expect(page.locator("dl.facts")).to_contain_text(re.compile(r"au moins 0,\d+"))
        assert_french(page, "05-autoscore")

        page.get_by_role("link", name="Modifier les critères").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Critères d'acceptation")
        expect(page.locator("#min_qwk-hint")).to_contain_text("0,70 par défaut")
        assert_french(page, "05-autoscore-gate")

        page.goto(f"{site.one}/console/autoscore/items/{made['item_id']}/upload")
        expect(page.get_by_role("heading", level=1)).to_have_text(
            "Entraîner un modèle de Rédaction à partir d'un fichier CSV"
        )
        expect(page.locator("pre.source")).to_contain_text("La pluie tombe.")
        assert_french(page, "05-autoscore-upload")

        # Results: the administration's attempts, then one attempt's result.
        administration = made["administration"]
        page.goto(f"{site.one}/console/results")
        page.get_by_label("Session").select_option(administration["id"])
        page.get_by_role("button", name="Afficher", exact=True).click()
        page.wait_for_url(f"{site.one}/console/results?administration_id=*")
        expect(page.get_by_role("heading", level=1)).to_have_text(
            re.compile(rf"Résultats{_SPACE}:{_SPACE}{re.escape(administration['title'])}")
        )
        table = page.get_by_role("table")
        expect(table.locator("tbody tr")).to_have_count(2)
        expect(table).to_contain_text("non publié")
        expect(page.get_by_role("link", name="Télécharger les résultats QTI (zip)")).to_be_visible()
        assert_french(page, "06-results", sittings)

        page.get_by_role("link", name=made["names"][0]).click()
        expect(page.get_by_role("heading", level=1)).to_have_text(
            re.compile(rf"Résultat{_SPACE}:{_SPACE}{re.escape(made['names'][0])}")
        )
        facts = page.locator("dl.facts")
        expect(facts).to_contain_text(re.compile(rf"2{_SPACE}:{_SPACE}score manuel de"))
        expect(facts).to_contain_text("sur")  # « 3 sur 3 »
        expect(facts).to_contain_text("non publié")
        expect(page.get_by_role("button", name="Publier pour le candidat")).to_be_visible()
        revisions = page.get_by_role("table", name=re.compile("^Toutes les révisions"))
        expect(revisions).to_contain_text("tentative terminée")
        expect(revisions).to_contain_text("score manuel de")
        assert_french(page, "07-result", ("system:rating",))  # the scorer's identifier

        page.goto(f"{site.one}/console/results/rescore")
        expect(page.get_by_role("heading", level=1)).to_have_text(
            "Recalcul des scores après rectification d'une clé de réponse"
        )
        expect(page.get_by_label("Seulement les tentatives de")).to_contain_text(
            "Toutes les sessions"
        )
        assert_french(page, "08-rescore", sittings)
