"""The player in the candidate's language, in Chromium: a whole test taken in French with no
English sentence of the catalogue left on screen, the same walk in the mirrored
right-to-left pseudo-locale (ar-XB) with the layout mirrored, the page following the
attempt's language, and the candidate switching language during the test without losing
an answer. Screenshots go to ``test-artifacts/screenshots/``."""

from __future__ import annotations

import io
import re
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from babel.messages.pofile import read_po

from tests.support.browser import check_axe, shot
from tests.support.player_browser import (
    Demo,
    add_candidates,
    prepare_demo,
    server_fixture,
    set_candidate_locales,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

POT = Path(__file__).resolve().parents[2] / "src" / "waa_ads" / "locales" / "player.pot"
QUESTIONS = 52  # the demo test

#: Candidates added to the demo administration: name -> (external id, their language).
CANDIDATES = {
    "Fia French": ("lang-fr", "fr"),
    "Ari Mirror": ("lang-rtl", "ar-XB"),
    "Rea Reload": ("lang-reload", "fr"),
    "Sam Switch": ("lang-switch", None),
}


def _prepare(data_dir: Path) -> dict[str, str]:
    """The demo, its administration offering French and ar-XB besides English, and the
    candidates above (each with their language); their access codes by name."""

    async def build(demo: Demo) -> dict[str, str]:
        from sqlalchemy import update

        from waa_ads.assessments.models import Administration

        assert demo.result.administration
        administration = uuid.UUID(str(demo.result.administration))
        codes = await add_candidates(
            demo,
            administration,
            {name: external_id for name, (external_id, _) in CANDIDATES.items()},
        )
        async with demo.db.transaction() as session:
            await session.execute(
                update(Administration)
                .where(Administration.id == administration)
                .values(locales=["fr", "ar-XB"])
            )
        await set_candidate_locales(demo, dict(CANDIDATES.values()))
        return codes

    return prepare_demo(data_dir, build)


#: (the server's URL, the access codes by candidate).
server = server_fixture("player-languages", _prepare)


# --- helpers ------------------------------------------------------------------------------


def english_phrases() -> list[str]:
    """Every run of three words or more of the player's English messages (placeholders
    and markup taken out): none may be on screen in another language."""
    template = read_po(io.BytesIO(POT.read_bytes()))
    phrases: set[str] = set()
    for message in template:
        if not message.id:
            continue
        for text in message.id if isinstance(message.id, tuple) else (message.id,):
            plain = re.sub(r"<[^>]+>", " ", str(text))
            for piece in re.split(r"\{[a-z_]+\}|%\([a-z_]+\)[sd]|[.:;?!()]", plain):
                words = piece.split()
                if len(words) >= 3:
                    phrases.add(" ".join(words))
    return sorted(phrases)


PHRASES = english_phrases()


def shown_text(page: Any) -> str:
    """What a person sees: the body's rendered text (hidden screens excluded), the page's
    title and the accessible names and descriptions set on elements."""
    seen: str = page.evaluate(
        """() => [
            document.title,
            document.body.innerText,
            ...Array.from(document.querySelectorAll('[aria-label],[title],[alt],[placeholder]'))
              .flatMap((e) => ['aria-label', 'title', 'alt', 'placeholder']
                .map((a) => e.getAttribute(a) || '')),
          ].join('\\n')"""
    )
    return " ".join(seen.split())


def assert_no_english(page: Any, where: str) -> None:
    seen = shown_text(page)
    left = [phrase for phrase in PHRASES if phrase in seen]
    assert left == [], f"English left on {where}: {left}"


def boxes(page: Any, selector: str) -> dict[str, float]:
    box: dict[str, float] | None = page.locator(selector).bounding_box()
    assert box is not None, selector
    return box


def enter(page: Any, url: str, code: str, *, lang: str | None) -> None:
    """Open the player (in ``lang`` when given), enter the code: the welcome page."""
    from playwright.sync_api import expect

    page.goto(f"{url}/take" + (f"?lang={lang}" if lang else ""))
    expect(page.locator("#system-check li.ok")).to_have_count(4)
    page.locator("#access-code").fill(code)
    page.locator("#access-submit").click()
    expect(page.locator("#welcome-heading")).to_be_focused()


def attempt_state(url: str, page: Any) -> dict[str, Any]:
    import json

    raw = page.evaluate("sessionStorage.getItem('waa-player:session')")
    signed = json.loads(raw)
    response = httpx.get(
        f"{url}/api/v1/attempts/{signed['attemptId']}",
        headers={"X-Attempt-Token": signed["credential"]},
    )
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


def walk(page: Any, url: str, code: str, *, lang: str, name: str, texts: dict[str, str]) -> None:
    """Sign in, start, answer and flag question 1, review, submit: in ``lang``, with axe on
    every screen and no English phrase of the catalogue left on any."""
    from playwright.sync_api import expect

    page.goto(f"{url}/take?lang={lang}")
    expect(page.locator("#system-check li.ok")).to_have_count(4)
    assert page.locator("html").get_attribute("lang") == lang
    expect(page.locator("#access-heading")).to_have_text(texts["access"])
    check_axe(page, f"access screen ({lang})")
    assert_no_english(page, "the access screen")
    shot(page, f"{name}-01-access")

    page.locator("#access-code").fill(code)
    page.locator("#access-submit").click()
    expect(page.locator("#welcome-heading")).to_be_focused()
    expect(page.locator("#welcome-start")).to_have_text(texts["start"])
    check_axe(page, f"welcome page ({lang})")
    assert_no_english(page, "the welcome page")
    shot(page, f"{name}-02-welcome")

    page.locator("#welcome-start").click()
    heading = page.locator("#item-heading")
    expect(heading).to_have_text(texts["question"])
    assert f"lang={lang}" in page.url  # the attempt speaks the page's language: no reload
    form = page.locator("#item-form")
    form.get_by_label("quick").check()
    page.locator("#flag-toggle").check()
    heading.focus()
    expect(page.locator("#save-state")).to_have_text(texts["saved"])
    expect(page.locator("#timer .timer-label")).to_have_text(texts["time"])
    check_axe(page, f"test screen ({lang})")
    assert_no_english(page, "the test screen")
    shot(page, f"{name}-03-test")
    state = attempt_state(url, page)
    assert state["locale"] == lang
    first = next(i for i in state["items"] if i["position"] == 1)
    assert first["response"]["value"] == "quick" and first["response"]["flagged"] is True

    page.locator("#review-button").click()
    expect(page.locator("#review-heading")).to_be_focused()
    expect(page.locator("#review-summary")).to_contain_text(texts["summary"])
    check_axe(page, f"review screen ({lang})")
    assert_no_english(page, "the review screen")
    shot(page, f"{name}-04-review")

    page.locator("#review-submit").click()
    dialog = page.locator("#confirm-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text(texts["confirm"])
    check_axe(page, f"confirm dialog ({lang})")
    assert_no_english(page, "the confirm dialog")
    shot(page, f"{name}-05-confirm")
    page.locator("#confirm-submit").click()
    expect(page.locator("#done-message")).to_have_text(texts["done"])
    expect(page.locator("#result p")).to_have_count(1)
    check_axe(page, f"finished screen ({lang})")
    assert_no_english(page, "the finished screen")
    shot(page, f"{name}-06-done")


# --- the tests -----------------------------------------------------------------------------


def test_the_phrases_checked_are_the_catalogues() -> None:
    assert "Review your answers" in PHRASES and "Submit the test" in PHRASES
    assert len(PHRASES) > 150


def test_a_whole_test_in_french(server: tuple[str, dict[str, str]], page: Any) -> None:
    url, codes = server
    walk(
        page,
        url,
        codes["Fia French"],
        lang="fr",
        name="lang-fr",
        texts={
            "access": "Se connecter à votre test",
            "start": "Commencer le test",
            "question": f"Question 1 sur {QUESTIONS}",
            "saved": "Enregistré",
            "time": "Temps restant",
            "summary": f"Questions avec réponse\u00a0: 1 sur {QUESTIONS}",
            "confirm": f"Vous avez répondu à 1 des {QUESTIONS} questions, et 1 est marquée",
            "done": "Vos réponses ont été remises.",
        },
    )
    assert page.title().startswith("Test terminé \u2013 ")
    # The result line and the header speak French too.
    from playwright.sync_api import expect

    expect(page.locator("#result")).to_contain_text("pas encore publié")
    expect(page.locator("#done-attempts")).to_have_text("Voir toutes vos tentatives")


def test_the_same_walk_right_to_left(server: tuple[str, dict[str, str]], page: Any) -> None:
    from playwright.sync_api import expect

    url, codes = server
    mirrored = "\u202e"
    page.goto(f"{url}/take?lang=ar-XB")
    html = page.locator("html")
    assert html.get_attribute("dir") == "rtl" and html.get_attribute("lang") == "ar-XB"
    expect(page.locator("#access-heading")).to_contain_text(mirrored)
    # The access screen mirrored: the code's card on the right, "before you start" on its left.
    assert boxes(page, "#access-form")["x"] > boxes(page, ".about-card")["x"]

    # Start the test, then look at the layout before the rest of the walk.
    enter(page, url, codes["Ari Mirror"], lang="ar-XB")
    page.locator("#welcome-start").click()
    expect(page.locator("#item-heading")).to_contain_text(mirrored)
    expect(page.locator("#question-list li")).to_have_count(QUESTIONS)
    page.locator("#question-list li").nth(1).get_by_role("button").click()
    item, nav = boxes(page, ".item-area"), boxes(page, "#question-nav")
    assert nav["x"] + nav["width"] <= item["x"], "the question list is on the left"
    previous, following = boxes(page, "#prev-button"), boxes(page, "#next-button")
    assert following["x"] + following["width"] <= previous["x"], "Next is left of Previous"
    assert page.evaluate(
        "getComputedStyle(document.querySelector('#next-button'), '::after').transform"
    ) not in ("none", "")  # the arrow points left
    brand, status = boxes(page, "#brand"), boxes(page, ".test-status")
    assert brand["x"] > status["x"], "the header starts on the right"
    # The clock stays readable: digits left to right.
    assert page.evaluate("getComputedStyle(document.querySelector('.timer-value')).direction") == (
        "ltr"
    )
    expect(page.locator(".timer-value")).to_have_text(re.compile(r"^\d{1,2}:\d{2}(:\d{2})?$"))
    # The question itself (English) reads left to right inside the mirrored page.
    assert page.evaluate("getComputedStyle(document.querySelector('#item-form')).direction") == (
        "ltr"
    )
    # The first question in the list is on the right, the numbers run right to left.
    one, two = boxes(page, "#question-list li >> nth=0"), boxes(page, "#question-list li >> nth=1")
    assert one["x"] > two["x"]
    shot(page, "lang-rtl-00-layout")
    check_axe(page, "test screen (ar-XB)")
    assert_no_english(page, "the right-to-left test screen")
    page.locator("#question-list li").nth(0).get_by_role("button").click()

    form = page.locator("#item-form")
    form.get_by_label("quick").check()
    page.locator("#flag-toggle").check()
    page.locator("#item-heading").focus()
    expect(page.locator("#save-state")).to_contain_text(mirrored)
    page.locator("#review-button").click()
    expect(page.locator("#review-heading")).to_be_focused()
    expect(page.locator("#review-summary")).to_contain_text(mirrored)
    check_axe(page, "review screen (ar-XB)")
    assert_no_english(page, "the right-to-left review screen")
    shot(page, "lang-rtl-04-review")
    page.locator("#review-submit").click()
    expect(page.locator("#confirm-dialog")).to_be_visible()
    cancel, submit = boxes(page, "#confirm-cancel"), boxes(page, "#confirm-submit")
    assert submit["x"] < cancel["x"], "the dialog's buttons mirrored"
    check_axe(page, "confirm dialog (ar-XB)")
    assert_no_english(page, "the right-to-left confirm dialog")
    page.locator("#confirm-submit").click()
    expect(page.locator("#done-message")).to_contain_text(mirrored)
    check_axe(page, "finished screen (ar-XB)")
    assert_no_english(page, "the right-to-left finished screen")
    shot(page, "lang-rtl-06-done")
    assert attempt_state(url, page)["locale"] == "ar-XB"


def test_the_page_follows_the_attempts_language(
    server: tuple[str, dict[str, str]], page: Any
) -> None:
    """An English page whose attempt is delivered in French reloads itself in French and
    resumes the test there."""
    from playwright.sync_api import expect

    url, codes = server
    enter(page, url, codes["Rea Reload"], lang=None)
    assert page.locator("html").get_attribute("lang") == "en"
    page.locator("#welcome-start").click()
    expect(page.locator("#item-heading")).to_have_text(f"Question 1 sur {QUESTIONS}")
    assert "lang=fr" in page.url
    assert page.locator("html").get_attribute("lang") == "fr"
    assert attempt_state(url, page)["locale"] == "fr"


def test_the_candidate_switches_language_and_keeps_every_answer(
    server: tuple[str, dict[str, str]], page: Any
) -> None:
    """French chosen before the code (the attempt offers it: delivered in French), then
    English with the header's switcher; the answer typed just before is kept."""
    from playwright.sync_api import expect

    url, codes = server
    enter(page, url, codes["Sam Switch"], lang="fr")
    page.locator("#welcome-start").click()
    heading = page.locator("#item-heading")
    expect(heading).to_have_text(f"Question 1 sur {QUESTIONS}")
    assert attempt_state(url, page)["locale"] == "fr"
    switcher = page.get_by_role("combobox", name="Langue")
    expect(page.locator("#attempt-language")).to_be_visible()
    options = page.locator("#attempt-language-select option")
    expect(options).to_have_count(3)
    assert options.evaluate_all("(os) => os.map((o) => [o.value, o.lang, o.textContent])") == [
        ["en", "en", "English"],
        ["fr", "fr", "Français"],
        ["ar-XB", "ar-XB", "English (mirrored)"],
    ]
    check_axe(page, "test screen with the language switcher")
    page.locator("#item-form").get_by_label("quick").check()
    switcher.select_option("en")
    page.locator("#attempt-language-apply").click()
    expect(heading).to_have_text(f"Question 1 of {QUESTIONS}")
    assert "lang=en" in page.url
    expect(page.locator("#item-form").get_by_label("quick")).to_be_checked()
    state = attempt_state(url, page)
    assert state["locale"] == "en"
    first = next(i for i in state["items"] if i["position"] == 1)
    assert first["response"]["value"] == "quick"
    shot(page, "lang-switched-to-en")
    # In English the phrases are there: the check that found none in French can see them.
    assert "Flag this question for review" in [p for p in PHRASES if p in shown_text(page)]
