"""Which catalog supports reach which candidate: the glossary and translations for all,
every other support only for a candidate whose accommodations name it; cards for words,
and Help buttons for blocks (a paragraph, an interaction). Also the check of a candidate's
list of supports."""

from __future__ import annotations

import re

import pytest
from lxml import etree

from tests.support.catalog_items import catalog_item
from waa_ads.content.interchange.qti.reader import parse_item
from waa_ads.content.item import supports
from waa_ads.content.item.definition import ItemDefinition
from waa_ads.content.render.candidate import candidate_view

ALL = ("braille", "ext:plain-words", "linguistic-guidance", "sign-language", "spoken")
SIGN_URL = "/api/v1/media/sha256/" + "a" * 64


def _item() -> ItemDefinition:
    return parse_item(catalog_item().encode())


def _resolve(path: str) -> str:
    return SIGN_URL if path.endswith("media/sign.mp4") else path


def _view(*given: str, locale: str = "en") -> etree._Element:
    html = candidate_view(
        _item(), shuffle_seed=None, locale=locale, supports=given, resolve_media=_resolve
    )["html"]
    return etree.fromstring(f"<div>{html}</div>")


def _supports_in(root: etree._Element) -> list[str]:
    return [str(e.get("data-support")) for e in root.iter() if e.get("data-support")]


def test_a_candidate_without_supports_gets_the_glossary_only() -> None:
    root = _view()
    assert _supports_in(root) == ["glossary-on-screen", "glossary-on-screen"]
    html = etree.tostring(root, encoding="unicode")
    for absent in ("two parts", "SIN-thuh", "in braille", "video", "Plants make food", "slowly"):
        assert absent not in html
    # The paragraph's catalog has guidance only: no Help button for this candidate; the
    # question's has a glossary card: a Help button before it for everyone.
    (help_button,) = root.findall(".//button[@class='waa-term-button waa-help-button']")
    assert help_button.getparent().getnext().tag == "fieldset"  # type: ignore[union-attr]


def test_a_candidate_gets_each_support_they_have() -> None:
    root = _view(*ALL)
    term = root.find(".//span[@class='waa-term']")
    assert term is not None
    button, braille, card = list(term)
    assert button.tag == "button" and button.get("aria-controls") == card.get("id")
    assert "".join(str(t) for t in button.itertext()) == "photosynthesis"
    # Braille: text beside the term for assistive technology, not in the card.
    assert braille.get("class") == "visually-hidden waa-braille"
    assert braille.text == "photosynthesis in braille"
    assert card.get("hidden") is not None
    assert [s.get("data-support") for s in card] == [
        "glossary-on-screen",
        "linguistic-guidance",
        "spoken",
        "sign-language",
        "ext:plain-words",
    ]
    guidance, spoken, sign = card[1], card[2], card[3]
    assert "photo (light)" in "".join(str(t) for t in guidance.itertext())
    # Block markup in a card becomes spans: the card fits in a paragraph.
    assert not [e for e in card.iter() if e.tag in ("p", "div")]
    (spoken_text,) = spoken
    assert (
        spoken_text.get("class") == "waa-spoken-text" and spoken_text.text == "foe-toe-SIN-thuh-sis"
    )
    (video,) = sign
    assert video.tag == "video"
    assert video.get("src") == SIGN_URL
    assert video.get("controls") is not None and video.get("autoplay") is None
    assert "elsewhere.example" not in etree.tostring(root, encoding="unicode")


def test_only_the_supports_given_reach_the_candidate() -> None:
    root = _view("spoken")
    assert sorted(set(_supports_in(root))) == ["glossary-on-screen", "spoken"]
    assert root.find(".//*[@class='visually-hidden waa-braille']") is None
    root = _view("braille")
    assert sorted(set(_supports_in(root))) == ["braille", "glossary-on-screen"]


def test_blocks_get_a_help_button_at_their_start_or_before_them() -> None:
    root = _view(*ALL)
    paragraph = root.find("p")
    assert paragraph is not None
    first = paragraph[0]
    assert first.get("class") == "waa-term waa-help"
    assert paragraph.text is None and first.tail == "Green plants live by "
    help_button = first[0]
    assert help_button.text == "Help" and help_button.get("aria-expanded") == "false"
    # Its name says what it helps with (the block's first words), hidden from sight.
    assert (
        "".join(str(t) for t in help_button.itertext())
        == "Help: Green plants live by photosynthesis."
    )
    card = root.find(f".//*[@id='{help_button.get('aria-controls')}']")
    assert card is not None
    assert [s.get("data-support") for s in card] == ["linguistic-guidance"]
    # The interaction's help stands just before its fieldset (a legend must come first).
    fieldset = root.find("fieldset")
    assert fieldset is not None
    before = fieldset.getprevious()
    assert before is not None and before.get("class") == "waa-term waa-help"
    card = root.find(f".//*[@id='{before[0].get('aria-controls')}']")
    assert card is not None
    assert [s.get("data-support") for s in card] == ["glossary-on-screen", "spoken"]
    assert fieldset[0].tag == "legend"


def test_the_help_button_speaks_the_attempts_language() -> None:
    root = _view("linguistic-guidance", locale="fr")
    assert [b.text for b in root.iter("button")] == ["Aide", None, "Aide"]


def test_nothing_of_scoring_or_of_the_catalogs_reaches_the_candidate() -> None:
    html = etree.tostring(_view(*ALL), encoding="unicode")
    for absent in ("data-catalog-idref", "qti-", "correct", "SCORE"):
        assert absent not in html
    assert not re.search(r"\bid=\"(photo|passage|question)\"", html)


def test_a_block_inside_a_list_or_table_gets_its_help_at_its_start() -> None:
    body = (
        "<ul data-catalog-idref='c1'><li data-catalog-idref='c1'>one</li></ul>"
        "<table><tr data-catalog-idref='c1'><td>x</td></tr></table>"
    )
    info = (
        "<qti-catalog-info><qti-catalog id='c1'><qti-card support='glossary-on-screen'>"
        "<qti-html-content>Help text.</qti-html-content></qti-card></qti-catalog>"
        "</qti-catalog-info>"
    )
    xml = (
        '<qti-assessment-item xmlns="http://www.imsglobal.org/xsd/imsqtiasi_v3p0" '
        'identifier="l" title="L" xml:lang="en" time-dependent="false">'
        f"<qti-item-body>{body}</qti-item-body>{info}</qti-assessment-item>"
    )
    root = etree.fromstring(
        f"<div>{candidate_view(parse_item(xml.encode()), shuffle_seed=None)['html']}</div>"
    )
    ul = root.find("ul")
    assert ul is not None and ul.getprevious() is not None  # the list's help: before it
    assert [c.tag for c in ul] == ["li"]  # nothing but items in the list
    assert ul[0][0].get("class") == "waa-term waa-help"  # the item's: at its start
    tr = root.find(".//tr")
    assert tr is not None and [c.tag for c in tr] == ["td"]  # a row takes none


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        (["spoken", "braille", "spoken"], ["braille", "spoken"]),
        ([" sign-language "], ["sign-language"]),
        (["ext:my-font", "tactile"], ["ext:my-font", "tactile"]),
        ([], []),
    ],
)
def test_a_candidates_supports_are_checked(given: list[str], stored: list[str]) -> None:
    assert supports.check_supports(given) == stored


@pytest.mark.parametrize(
    ("given", "said"),
    [
        (["telepathy"], "unknown accessibility support 'telepathy'"),
        (["ext:"], "unknown accessibility support 'ext:'"),
        (["ext:a b"], "unknown accessibility support"),
        (["keyword-translation"], "shown to every candidate"),
        ([f"ext:s{n}" for n in range(40)], "at most 32"),
    ],
)
def test_wrong_supports_are_named(given: list[str], said: str) -> None:
    with pytest.raises(ValueError, match=said):
        supports.check_supports(given)


def test_a_cell_of_supports_is_split() -> None:
    assert supports.split_supports(" spoken, braille;sign-language  ext:x ") == [
        "spoken",
        "braille",
        "sign-language",
        "ext:x",
    ]


@pytest.mark.parametrize("src", ["/api/v1/auth/me", "/\\evil.example/v.mp4", "media/gone.mp4"])
def test_a_card_video_plays_only_the_items_own_media(src: str) -> None:
    """A path the item does not hold comes back from the resolver as written: a video of
    it is dropped, whatever it looks like (a same-origin API path would be requested with
    the candidate's cookies)."""
    xml = catalog_item().replace("media/sign.mp4", src)
    html = candidate_view(
        parse_item(xml.encode()),
        shuffle_seed=None,
        locale="en",
        supports=["sign-language"],
        resolve_media=_resolve,
    )["html"]
    root = etree.fromstring(f"<div>{html}</div>")
    assert root.find(".//video") is None
    assert src not in html
