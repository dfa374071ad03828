"""QTI 3.0 accessibility catalogs: the reader keeps them (card HTML sanitized like a body),
the writer exports them, and the candidate's view turns a glossary reference into a term
the candidate can open, with nothing else of the catalog."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from waa_ads.content.interchange.qti.reader import parse_item
from waa_ads.content.interchange.qti.writer import write_item
from waa_ads.content.item.definition import ItemDefinition, ItemFormatError
from waa_ads.content.render.candidate import candidate_view

FIXTURE = Path(__file__).parent.parent / "fixtures" / "items" / "catalog" / "glossary.v3p0.xml"
QTI3_NS = "http://www.imsglobal.org/xsd/imsqtiasi_v3p0"


def _item() -> ItemDefinition:
    return parse_item(FIXTURE.read_bytes())


def _item_with(
    catalog_info: str, body: str = "<p><span data-catalog-idref='c1'>word</span></p>"
) -> bytes:
    return (
        f'<qti-assessment-item xmlns="{QTI3_NS}" identifier="c" title="C" xml:lang="en" '
        f'time-dependent="false"><qti-item-body>{body}</qti-item-body>{catalog_info}'
        "</qti-assessment-item>"
    ).encode()


def test_reader_keeps_catalogs_with_sanitized_cards() -> None:
    item = _item()
    [catalog] = item.catalogs
    assert catalog.identifier == "tides"
    glossary, translation, spoken = catalog.cards
    assert glossary.support == "glossary-on-screen"
    assert glossary.content == "<p>The regular rise and fall of the level of the sea.</p>"
    assert "script" not in glossary.content and "alert" not in glossary.content
    assert [(e.language, e.content) for e in translation.entries] == [
        ("fr", "les marées"),
        ("es", "las mareas"),
    ]
    # A support shown only to candidates who have it is kept, and the author is told.
    assert spoken.support == "spoken"
    assert (
        "catalog tides, card spoken: shown only to candidates whose accommodations give them "
        "this support"
    ) in item.import_notes
    assert any("removed <script>" in note for note in item.import_notes)
    assert not any("catalog was not kept" in note for note in item.import_notes)


def test_catalogs_survive_writing_and_storing() -> None:
    item = _item()
    written = write_item(item)
    root = etree.fromstring(written)
    cards = root.findall(
        f"{{{QTI3_NS}}}qti-catalog-info/{{{QTI3_NS}}}qti-catalog/{{{QTI3_NS}}}qti-card"
    )
    assert [c.get("support") for c in cards] == [
        "glossary-on-screen",
        "keyword-translation",
        "spoken",
    ]
    entry = cards[1].find(f"{{{QTI3_NS}}}qti-card-entry")
    assert entry is not None
    assert entry.get("{http://www.w3.org/XML/1998/namespace}lang") == "fr"
    again = parse_item(written)
    assert again.catalogs == item.catalogs
    assert write_item(again) == written
    assert ItemDefinition.from_dict(item.to_dict()).catalogs == item.catalogs
    # The catalog follows the body and comes before response processing (QTI 3.0 order).
    names = [etree.QName(c).localname for c in root if isinstance(c.tag, str)]
    assert names.index("qti-catalog-info") == names.index("qti-item-body") + 1
    assert names[-1] == "qti-response-processing"


def test_entries_keep_language_and_default() -> None:
    item = parse_item(
        _item_with(
            "<qti-catalog-info><qti-catalog id='c1'><qti-card support='glossary-on-screen'>"
            "<qti-card-entry xml:lang='en' default='true'><qti-html-content>"
            "<b onclick='x()'>a term</b></qti-html-content></qti-card-entry>"
            "<qti-card-entry xml:lang='fr'><qti-html-content>un terme</qti-html-content>"
            "<qti-file-href>audio/terme.mp3</qti-file-href></qti-card-entry>"
            "</qti-card></qti-catalog></qti-catalog-info>"
        )
    )
    [card] = item.catalogs[0].cards
    assert card.entries[0].default and card.entries[0].content == "<b>a term</b>"
    assert any("'audio/terme.mp3' was not kept" in note for note in item.import_notes)
    assert parse_item(write_item(item)).catalogs == item.catalogs


def test_a_reference_to_a_missing_catalog_is_noted() -> None:
    item = parse_item(_item_with("", body="<p><span data-catalog-idref='nowhere'>w</span></p>"))
    assert "the body refers to catalog 'nowhere', which the item does not have" in (
        item.import_notes
    )


@pytest.mark.parametrize(
    ("catalog_info", "reason"),
    [
        (
            "<qti-catalog-info><qti-catalog><qti-card support='spoken'/></qti-catalog></qti-catalog-info>",
            "missing id",
        ),
        (
            "<qti-catalog-info><qti-catalog id='c1'><qti-card/></qti-catalog></qti-catalog-info>",
            "missing support",
        ),
        (
            "<qti-catalog-info><qti-catalog id='c1'><qti-card support='spoken'/></qti-catalog>"
            "<qti-catalog id='c1'><qti-card support='spoken'/></qti-catalog></qti-catalog-info>",
            "defined twice",
        ),
        ("<qti-catalog-info><qti-card support='spoken'/></qti-catalog-info>", "unexpected element"),
    ],
)
def test_malformed_catalogs_are_refused(catalog_info: str, reason: str) -> None:
    with pytest.raises(ItemFormatError, match=reason):
        parse_item(_item_with(catalog_info))


def test_candidate_sees_a_term_with_its_glossary_card() -> None:
    html = candidate_view(_item(), shuffle_seed=None, locale="en")["html"]
    holder = etree.fromstring(f"<div>{html}</div>")
    buttons = holder.findall(".//button[@class='waa-term-button']")
    assert len(buttons) == 2  # in the passage and in the prompt
    for button in buttons:
        assert button.get("type") == "button"
        assert button.get("aria-expanded") == "false"
        assert "".join(str(t) for t in button.itertext()) == "tides"
        card = holder.find(f".//*[@id='{button.get('aria-controls')}']")
        assert card is not None and card.get("hidden") is not None
        text = " ".join("".join(str(t) for t in card.itertext()).split())
        assert text == "The regular rise and fall of the level of the sea."
    # No other support, no catalog markup, no reference left, no script.
    for absent in ("les marées", "rhymes", "data-catalog-idref", "qti-", "script", "alert"):
        assert absent not in html
    # The card fits inside a paragraph and a legend: no block element in it.
    for card in holder.iter("span"):
        if card.get("class") == "waa-term-card":
            assert not [e for e in card.iter() if e.tag in ("p", "div", "ul", "li")]


def test_translation_in_the_attempts_language_only() -> None:
    french = candidate_view(_item(), shuffle_seed=None, locale="fr")["html"]
    assert (
        '<span class="waa-term-support" data-support="keyword-translation" lang="fr">les marées</span>'
        in french
    )
    assert "las mareas" not in french
    english = candidate_view(_item(), shuffle_seed=None, locale="en")["html"]
    assert "keyword-translation" not in english


def test_translation_alone_makes_a_term_and_no_card_leaves_the_text() -> None:
    info = (
        "<qti-catalog-info><qti-catalog id='c1'><qti-card support='keyword-translation'>"
        "<qti-card-entry xml:lang='fr'><qti-html-content>mot</qti-html-content></qti-card-entry>"
        "</qti-card></qti-catalog></qti-catalog-info>"
    )
    item = parse_item(_item_with(info))
    assert "waa-term-button" in candidate_view(item, shuffle_seed=None, locale="fr")["html"]
    english = candidate_view(item, shuffle_seed=None, locale="en")["html"]
    assert "waa-term" not in english and "<span>word</span>" in english


def test_a_stored_card_is_sanitized_again_before_a_candidate_sees_it() -> None:
    data = _item().to_dict()
    data["catalogs"][0]["cards"][0]["content"] = (
        '<p onmouseover="steal()">Sea level.<script>steal()</script>'
        '<qti-text-entry-interaction response-identifier="RESPONSE"/></p>'
    )
    html = candidate_view(ItemDefinition.from_dict(data), shuffle_seed=None, locale="en")["html"]
    assert "Sea level." in html
    assert "steal" not in html and "<input" not in html.split("waa-term-card")[1]


NATIVE = """
identifier: tide-q
title: Tides
language: en
body: '<p>The <span data-catalog-idref="tides">tides</span> follow the Moon.</p>{{RESPONSE}}'
interactions:
  - type: choice
    choices:
      - {id: moon, content: The Moon}
      - {id: wind, content: The wind}
    correct: moon
scoring: match_correct
catalogs:
  tides:
    - support: glossary-on-screen
      content: <p>The rise and fall of the sea.<script>x()</script></p>
    - support: keyword-translation
      entries:
        - {language: fr, content: les marées}
        - {language: es, content: las mareas, default: true}
"""


def test_native_items_carry_catalogs() -> None:
    from waa_ads.content.interchange.native import load_native

    item = load_native(NATIVE)
    glossary, translation = item.catalogs[0].cards
    assert glossary.content == "<p>The rise and fall of the sea.</p>"
    assert [(e.language, e.default, e.content) for e in translation.entries] == [
        ("fr", False, "les marées"),
        ("es", True, "las mareas"),
    ]
    assert parse_item(write_item(item)).catalogs == item.catalogs
    assert "les marées" in candidate_view(item, shuffle_seed=None, locale="fr")["html"]


@pytest.mark.parametrize(
    ("catalogs", "message"),
    [
        ("catalogs: {tides: []}", "catalogs.tides: a catalog has at least one card"),
        (
            "catalogs: {tides: [{support: spoken, colour: red}]}",
            "catalogs.tides[0].colour: unknown key",
        ),
        (
            "catalogs: {tides: [{support: spoken, content: a, entries: []}]}",
            "catalogs.tides[0]: a card has content or entries, not both",
        ),
        ("catalogs: {tides: [{content: a}]}", "catalogs.tides[0].support"),
        (
            "catalogs: {tides: [{support: spoken, content: '<p>a'}]}",
            "catalogs.tides[0].content",
        ),
    ],
)
def test_native_catalog_errors_name_the_place(catalogs: str, message: str) -> None:
    from waa_ads.content.interchange.native import load_native

    head = NATIVE.split("catalogs:", maxsplit=1)[0]
    with pytest.raises(ItemFormatError) as caught:
        load_native(head + catalogs)
    assert message in str(caught.value)


def test_a_rubric_blocks_own_catalog_is_kept_with_the_items() -> None:
    rubric_catalog = (
        "<qti-catalog-info><qti-catalog id='c2'><qti-card support='glossary-on-screen'>"
        "<qti-html-content>to choose: to pick one</qti-html-content></qti-card></qti-catalog>"
        "</qti-catalog-info>"
    )
    body = (
        "<qti-rubric-block use='instructions' view='candidate'><qti-content-body>"
        "<p><em data-catalog-idref='c2'>Choose</em> one.</p></qti-content-body>"
        f"{rubric_catalog}</qti-rubric-block><p><span data-catalog-idref='c1'>word</span></p>"
    )
    info = (
        "<qti-catalog-info><qti-catalog id='c1'><qti-card support='glossary-on-screen'>"
        "<qti-html-content>a word</qti-html-content></qti-card></qti-catalog></qti-catalog-info>"
    )
    item = parse_item(_item_with(info, body=body))
    assert [c.identifier for c in item.catalogs] == ["c1", "c2"]
    assert item.import_notes == ()
    assert "qti-catalog-info" not in item.body
    assert parse_item(write_item(item)).catalogs == item.catalogs
    html = candidate_view(item, shuffle_seed=None, locale="en")["html"]
    assert html.count("waa-term-button") == 2 and "to pick one" in html
    with pytest.raises(ItemFormatError, match="'c1' is defined twice"):
        parse_item(_item_with(info, body=body.replace("id='c2'", "id='c1'")))


def test_exports_with_catalogs_fit_the_qti3_schema_subset() -> None:
    from tests.support.qti3_schema import check_qti3

    check_qti3(write_item(_item()))
    without_support = write_item(_item()).replace(b' support="spoken"', b"")
    with pytest.raises(etree.DocumentInvalid, match="support"):
        check_qti3(without_support)
