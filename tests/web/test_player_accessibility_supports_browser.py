"""Accessibility supports in the player, in Chromium: a candidate whose accommodations give
them linguistic guidance, spoken text, sign language and braille opens each from a word, a
paragraph and the question, by keyboard and by pointer; the Listen control reads the text
with the browser's speech synthesis (a voice on the device only), and without one the text
stays on screen and the control says so; the sign-language video plays in the card with
its controls; the braille text sits beside the word for assistive technology. A candidate
without those supports gets the glossary only. Axe on every state; screenshots go to
``test-artifacts/screenshots/``."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.support.browser import check_axe, shot
from tests.support.catalog_items import catalog_package
from tests.support.player_browser import (
    Demo,
    add_candidates,
    demo_principal,
    prepare_demo,
    publish_and_open,
    server_fixture,
    set_candidate_locales,
    start_attempt,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

#: Candidates by name: external id and the supports their accommodations give them.
CANDIDATES = {
    "Sue Supports": (
        "supports-all",
        ["braille", "ext:plain-words", "linguistic-guidance", "sign-language", "spoken"],
    ),
    "Pat Plain": ("supports-none", []),
    "Fran Francais": ("supports-fr", ["braille", "spoken"]),
}
GLOSSARY = "How green plants make their food from light."

#: A speech synthesis of the page's own, standing in for the browser's (headless Chromium
#: has no voices): it records what it is asked to say and ends each utterance at once.
#: ``VOICE_LOCAL`` says whether its one voice is on the device.
SPEECH_STUB = """
(() => {
  const local = VOICE_LOCAL;
  window.__spoken = [];
  window.__cancelled = 0;
  class Utterance extends EventTarget {
    constructor(text) { super(); this.text = text; this.lang = ""; this.voice = null; }
  }
  const voice = { name: "Test voice", lang: "en-US", localService: local, default: true };
  const synthesis = {
    speaking: false,
    getVoices: () => [voice],
    speak(utterance) {
      window.__spoken.push({ text: utterance.text, lang: utterance.lang, voice: utterance.voice?.name });
      setTimeout(() => utterance.dispatchEvent(new Event("end")), 200);
    },
    cancel() { window.__cancelled += 1; },
  };
  Object.defineProperty(window, "SpeechSynthesisUtterance", { value: Utterance, configurable: true });
  Object.defineProperty(window, "speechSynthesis", { value: synthesis, configurable: true });
})();
"""
NO_SPEECH = """
delete window.speechSynthesis;
delete window.SpeechSynthesisUtterance;
delete Window.prototype.speechSynthesis;
"""


def _prepare(data_dir: Path) -> dict[str, str]:
    """The demo, a bank holding the plants package (its item and video), a one-question
    assessment of it open now, and the candidates above with their supports; the access
    codes by name."""

    async def build(demo: Demo) -> dict[str, str]:
        from sqlalchemy import select

        from waa_ads.assessments import schemas as a_schemas
        from waa_ads.assessments import service as a_service
        from waa_ads.assessments.models import RosterEntry
        from waa_ads.auth.models import Candidate
        from waa_ads.content import schemas as c_schemas
        from waa_ads.content import service as c_service
        from waa_ads.content import transfer

        async with demo.db.transaction() as session:
            principal = await demo_principal(session)
            bank = await c_service.create_bank(
                session, principal, c_schemas.BankCreate(slug="plants", name="Plants")
            )
            report = await transfer.import_items(
                session,
                demo.blobs,
                principal,
                bank.id,
                transfer.candidates_from_bytes("plants.zip", catalog_package()),
                publish=True,
            )
            item_id = str(report.outcomes[0].item_id)
            administration_id = await publish_and_open(
                session,
                principal,
                {
                    "title": "Plants",
                    "sections": [
                        {"identifier": "s", "title": "Plants", "items": [{"item_id": item_id}]}
                    ],
                    "time_limit_s": 1800,
                },
                slug="plants",
                title="Plants",
                locales=["fr"],
            )
        codes = await add_candidates(
            demo, administration_id, {name: ext for name, (ext, _) in CANDIDATES.items()}
        )
        await set_candidate_locales(demo, {"supports-fr": "fr"})
        async with demo.db.transaction() as session:
            principal = await demo_principal(session)
            for external_id, supports in CANDIDATES.values():
                entry = (
                    await session.execute(
                        select(RosterEntry)
                        .join(Candidate, Candidate.id == RosterEntry.candidate_id)
                        .where(Candidate.external_id == external_id)
                    )
                ).scalar_one()
                await a_service.update_accommodations(
                    session,
                    principal,
                    administration_id,
                    entry.id,
                    a_schemas.Accommodations(accessibility_supports=supports),
                )
        return codes

    return prepare_demo(data_dir, build)


#: (the server's URL, the access codes by candidate).
server = server_fixture("player-supports", _prepare)


def card_of(page: Any, button: Any) -> Any:
    return page.locator(f"#{button.get_attribute('aria-controls')}")


def test_each_support_opens_by_keyboard_and_pointer(
    page: Any, server: tuple[str, dict[str, str]]
) -> None:
    from playwright.sync_api import expect

    url, codes = server
    page.add_init_script(SPEECH_STUB.replace("VOICE_LOCAL", "true"))
    start_attempt(page, url, codes["Sue Supports"], heading="Question 1 of 1")
    form = page.locator("#item-form")
    term = form.get_by_role("button", name="photosynthesis (word help)")
    helps = form.get_by_role("button", name=re.compile(r"^Help ?: .+ \(help with what follows\)$"))
    expect(helps).to_have_count(2)  # the paragraph's and the question's
    # Braille: beside the word, for assistive technology only.
    braille = form.locator(".waa-braille")
    expect(braille).to_have_text("Braille: photosynthesis in braille")
    assert braille.evaluate("(e) => getComputedStyle(e).clipPath") == "inset(50%)"
    check_axe(page, "supports: question")
    shot(page, "player-supports-01-question")

    # The word's card, by keyboard: every support the candidate has, labelled.
    card = card_of(page, term)
    term.focus()
    page.keyboard.press("Enter")
    expect(card).to_be_visible()
    expect(term).to_have_attribute("aria-expanded", "true")
    sections = card.locator(".waa-term-support")
    expect(sections).to_have_count(5)
    expect(sections.nth(0)).to_have_text(f"Definition: {GLOSSARY}")
    expect(sections.nth(1)).to_have_text(
        "Guidance: A long word in two parts: photo (light) and synthesis (making)."
    )
    expect(sections.nth(2)).to_contain_text("Read aloud: foe-toe-SIN-thuh-sis")
    expect(sections.nth(3)).to_contain_text("Sign language:")
    expect(sections.nth(4)).to_have_text("More help: Plants make food from light.")
    video = sections.nth(3).locator("video")
    expect(video).to_be_visible()
    expect(video).to_have_attribute("controls", "controls")
    assert "/api/v1/media/signed/" in (video.get_attribute("src") or "")
    assert video.evaluate("(v) => v.autoplay") is False
    check_axe(page, "supports: word card open")
    shot(page, "player-supports-02-word-card")

    # Listen, by keyboard: Tab from the word reaches it, Enter reads the text aloud.
    listen = card.get_by_role("button", name="Listen")
    page.keyboard.press("Tab")
    expect(listen).to_be_focused()
    page.keyboard.press("Enter")
    page.wait_for_function("() => window.__spoken.length === 1")
    spoken = page.evaluate("() => window.__spoken[0]")
    assert spoken == {"text": "foe-toe-SIN-thuh-sis", "lang": "en-US", "voice": "Test voice"}
    expect(listen).to_have_attribute("aria-pressed", "true")
    expect(listen).to_have_attribute("aria-pressed", "false")  # the utterance ended
    # ... and by pointer.
    listen.click()
    page.wait_for_function("() => window.__spoken.length === 2")
    # The video takes focus with the keyboard next; Escape there closes the card and
    # focus goes back to the word.
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.tagName") == "VIDEO"
    page.keyboard.press("Escape")
    expect(card).to_be_hidden()
    expect(term).to_be_focused()
    assert video.evaluate("(v) => v.paused") is True

    # The paragraph's Help, by pointer: its guidance; the word's card stays closed.
    paragraph_help = helps.nth(0)
    paragraph_card = card_of(page, paragraph_help)
    paragraph_help.click()
    expect(paragraph_card).to_be_visible()
    expect(paragraph_card).to_have_text(
        "Guidance: Read the sentence slowly: it says what plants need."
    )
    check_axe(page, "supports: paragraph help open")
    shot(page, "player-supports-03-paragraph-help")
    paragraph_help.click()
    expect(paragraph_card).to_be_hidden()

    # The question's Help, by keyboard (Space): its glossary and spoken text.
    question_help = helps.nth(1)
    question_card = card_of(page, question_help)
    question_help.focus()
    page.keyboard.press("Space")
    expect(question_card).to_be_visible()
    expect(question_card.locator(".waa-term-support").nth(0)).to_have_text(
        "Definition: Choose the one thing that is alive."
    )
    expect(question_card.locator(".waa-term-support").nth(1)).to_contain_text(
        "Read aloud: Which of these is a plant?"
    )
    question_card.get_by_role("button", name="Listen").click()
    page.wait_for_function("() => window.__spoken.length === 3")
    assert page.evaluate("() => window.__spoken[2].text") == "Which of these is a plant?"
    check_axe(page, "supports: question help open")
    shot(page, "player-supports-04-question-help")
    question_help.focus()
    page.keyboard.press("Escape")
    expect(question_card).to_be_hidden()
    expect(question_help).to_be_focused()

    # Answering works as ever.
    option = form.get_by_role("radio", name="An oak")
    option.focus()
    page.keyboard.press("Space")
    expect(option).to_be_checked()
    expect(page.locator("#save-state")).to_have_text("Saved", timeout=10_000)


def test_without_a_voice_on_the_device_the_text_stays_and_listen_says_so(
    page: Any, server: tuple[str, dict[str, str]]
) -> None:
    from playwright.sync_api import expect

    url, codes = server
    # The one voice there is would speak over the network: it is never used.
    page.add_init_script(SPEECH_STUB.replace("VOICE_LOCAL", "false"))
    start_attempt(page, url, codes["Sue Supports"], heading="Question 1 of 1")
    term = page.locator("#item-form").get_by_role("button", name="photosynthesis (word help)")
    term.click()
    card = card_of(page, term)
    spoken = card.locator("[data-support=spoken]")
    expect(spoken.locator(".waa-spoken-text")).to_be_visible()
    listen = spoken.get_by_role("button", name="Listen")
    listen.focus()
    page.keyboard.press("Enter")
    expect(spoken.get_by_role("status")).to_have_text(
        "This device has no voice to read this aloud; the text is shown above."
    )
    assert page.evaluate("() => window.__spoken.length") == 0
    check_axe(page, "supports: no voice on the device")
    shot(page, "player-supports-05-no-voice")


def test_without_speech_synthesis_the_text_is_the_support(
    page: Any, server: tuple[str, dict[str, str]]
) -> None:
    from playwright.sync_api import expect

    url, codes = server
    page.add_init_script(NO_SPEECH)
    start_attempt(page, url, codes["Sue Supports"], heading="Question 1 of 1")
    assert page.evaluate("() => 'speechSynthesis' in window") is False
    term = page.locator("#item-form").get_by_role("button", name="photosynthesis (word help)")
    term.focus()
    page.keyboard.press("Enter")
    spoken = card_of(page, term).locator("[data-support=spoken]")
    expect(spoken).to_have_text("Read aloud: foe-toe-SIN-thuh-sis")
    expect(spoken.get_by_role("button")).to_have_count(0)
    check_axe(page, "supports: no speech synthesis")


def test_a_candidate_without_supports_gets_the_glossary_only(
    page: Any, server: tuple[str, dict[str, str]]
) -> None:
    from playwright.sync_api import expect

    url, codes = server
    start_attempt(page, url, codes["Pat Plain"], heading="Question 1 of 1")
    form = page.locator("#item-form")
    expect(form.locator(".waa-braille")).to_have_count(0)
    helps = form.get_by_role("button", name=re.compile(r"^Help ?: .+ \(help with what follows\)$"))
    expect(helps).to_have_count(1)  # the question's glossary; the paragraph's is guidance
    term = form.get_by_role("button", name="photosynthesis (word help)")
    term.focus()
    page.keyboard.press("Enter")
    card = card_of(page, term)
    expect(card).to_have_text(f"Definition: {GLOSSARY}")
    html = page.locator("#item-form").inner_html()
    for absent in ("SIN-thuh", "<video", "in braille", "two parts", "Plants make food"):
        assert absent not in html
    helps.first.click()
    expect(card_of(page, helps.first)).to_have_text(
        "Definition: Choose the one thing that is alive."
    )
    check_axe(page, "supports: a candidate without supports")
    shot(page, "player-supports-06-without-supports")


def test_in_french_with_the_browsers_own_speech_synthesis(
    page: Any, server: tuple[str, dict[str, str]]
) -> None:
    """No stand-in: headless Chromium has speech synthesis but no voice, so Listen is there
    and, pressed, says that the device cannot read aloud; every word the player adds is
    French."""
    from playwright.sync_api import expect

    url, codes = server
    start_attempt(page, url, codes["Fran Francais"], lang="fr", heading="Question 1 sur 1")
    form = page.locator("#item-form")
    expect(form.locator(".waa-braille")).to_have_text("Braille : photosynthesis in braille")
    helps = form.get_by_role("button", name=re.compile(r"^Aide ?: .+ \(aide sur ce qui suit\)$"))
    expect(helps).to_have_count(1)  # the question's: the paragraph's is guidance only
    helps.first.focus()
    page.keyboard.press("Enter")
    card = card_of(page, helps.first)
    spoken = card.locator("[data-support=spoken]")
    expect(spoken).to_contain_text("À lire à voix haute : Which of these is a plant?")
    listen = spoken.get_by_role("button", name="Écouter")
    page.keyboard.press("Tab")
    expect(listen).to_be_focused()
    page.keyboard.press("Enter")
    voices = page.evaluate("() => speechSynthesis.getVoices().filter((v) => v.localService).length")
    if voices == 0:
        expect(spoken.get_by_role("status")).to_have_text(
            "Cet appareil n'a pas de voix pour lire ce texte à voix haute ; le texte est "
            "affiché ci-dessus."
        )
    else:  # a machine with a voice of its own reads it
        expect(listen).to_have_attribute("aria-pressed", "true")
    check_axe(page, "supports: French, the browser's speech synthesis")
    shot(page, "player-supports-07-french")
    page.keyboard.press("Escape")
    expect(card).to_be_hidden()
    expect(helps.first).to_be_focused()
