"""Reading QTI 2.x and 3.0 items: structure, conversion, safety and refusals."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from waa_ads.content.interchange.qti.reader import parse_item
from waa_ads.content.item.definition import (
    BaseType,
    Cardinality,
    InteractionType,
    ItemDefinition,
    ItemFormatError,
    Shape,
)

FIXTURES = Path(__file__).parent.parent / "fixtures" / "items" / "qti"
QTI3 = "http://www.imsglobal.org/xsd/imsqtiasi_v3p0"
QTI21 = "http://www.imsglobal.org/xsd/imsqti_v2p1"

PAIRS = sorted({p.name.split(".")[0] for p in FIXTURES.glob("*.xml")})


def load(name: str) -> ItemDefinition:
    return parse_item((FIXTURES / name).read_bytes())


def versions(stem: str) -> list[Path]:
    return sorted(FIXTURES.glob(f"{stem}.*.xml"))


def test_every_interaction_type_has_a_2x_and_a_3_0_fixture() -> None:
    seen: dict[InteractionType, set[str]] = {}
    for path in FIXTURES.glob("*.xml"):
        version = path.name.split(".")[1]
        for interaction in parse_item(path.read_bytes()).interactions:
            seen.setdefault(interaction.type, set()).add(version[:3])
    assert set(seen) == set(InteractionType)
    for kind, found in seen.items():
        assert found == {"v2p", "v3p"}, kind


@pytest.mark.parametrize("stem", PAIRS)
def test_qti_2_and_3_forms_read_into_the_same_model(stem: str) -> None:
    paths = versions(stem)
    assert len(paths) == 2, paths
    older, newer = (parse_item(p.read_bytes()) for p in paths)
    assert older == newer
    assert older.import_notes == ()


def test_choice_structure() -> None:
    item = load("choice_single.v2p1.xml")
    assert (item.identifier, item.title, item.language) == (
        "choice-single",
        "Largest planet",
        "en",
    )
    (interaction,) = item.interactions
    assert interaction.type is InteractionType.CHOICE
    assert interaction.shuffle is True
    assert interaction.max_choices == 1
    assert interaction.prompt == "Choose one planet."
    assert [c.identifier for c in interaction.choices] == ["earth", "jupiter", "mars", "none"]
    assert interaction.choices[3].fixed is True
    assert interaction.choices[3].content == "None of <em>these</em>"
    (declaration,) = item.response_declarations
    assert declaration.cardinality is Cardinality.SINGLE
    assert declaration.base_type is BaseType.IDENTIFIER
    assert declaration.correct_response == "jupiter"
    assert item.outcome_declarations[0].default_value == 0.0
    assert item.response_processing is not None
    assert item.response_processing.template == "match_correct"
    # the body is QTI 3.0 with the interaction in place
    assert item.body.startswith(f'<qti-item-body xmlns="{QTI3}">')
    assert '<qti-choice-interaction response-identifier="RESPONSE"' in item.body
    assert "choiceInteraction" not in item.body


def test_mapping_and_catch_all_attributes() -> None:
    item = load("choice_multiple.v2p2.xml")
    mapping = item.response_declarations[0].mapping
    assert mapping is not None
    assert (mapping.lower_bound, mapping.upper_bound, mapping.default_value) == (0.0, 3.0, 0.0)
    assert [(e.key, e.value) for e in mapping.entries][-2:] == [("n4", -1.0), ("n9", -1.0)]
    (interaction,) = item.interactions
    assert interaction.max_choices == 0 and interaction.min_choices == 1
    assert interaction.orientation == "horizontal"
    assert interaction.attributes == {"class": "qti-choices-stacking-2"}


def test_text_and_numeric_entries() -> None:
    text = load("text_entry.v2p1.xml")
    (entry,) = text.interactions
    assert entry.type is InteractionType.TEXT_ENTRY
    assert (entry.expected_length, entry.placeholder_text) == (12, "city")
    mapping = text.response_declarations[0].mapping
    assert mapping is not None
    assert [(e.key, e.case_sensitive) for e in mapping.entries] == [
        ("Paris", False),
        ("Lutetia", True),
    ]
    numeric = load("numeric_entry.v2p2.xml")
    (number,) = numeric.interactions
    assert number.type is InteractionType.NUMERIC_ENTRY
    assert number.pattern_mask == "[0-9.]+"
    assert numeric.response_declarations[0].correct_response == 3.14


def test_pairs_and_gaps() -> None:
    match = load("match.v2p1.xml").interactions[0]
    assert [[c.identifier for c in s] for s in match.match_sets] == [
        ["fr", "de", "it"],
        ["paris", "berlin", "rome", "madrid"],
    ]
    assert match.match_sets[0][0].match_max == 1
    associate = load("associate.v2p2.xml")
    declaration = associate.response_declarations[0]
    # pairs are unordered, so they are kept sorted
    assert declaration.correct_response == [["cold", "hot"], ["down", "up"]]
    assert declaration.mapping is not None
    assert declaration.mapping.entries[0].key == ["cold", "hot"]
    gap = load("gap_match.v2p1.xml").interactions[0]
    assert [c.identifier for c in gap.choices] == ["co2", "o2", "n2"]
    assert [(g.identifier, g.required) for g in gap.gaps] == [("g1", False), ("g2", True)]
    assert gap.content is not None
    assert '<qti-gap identifier="g1"/>' in gap.content
    assert "qti-gap-text" not in gap.content


def test_hot_text_and_graphics() -> None:
    hottext = load("hottext.v2p1.xml").interactions[0]
    assert [(c.identifier, c.content) for c in hottext.choices] == [
        ("n1", "dog"),
        ("v1", "barked"),
        ("v2", "ran"),
        ("a1", "quickly"),
    ]
    hotspot = load("hotspot.v2p1.xml").interactions[0]
    assert hotspot.graphic is not None
    # QTI 2's picture object is read as the img QTI 3.0 players draw hotspots over.
    assert hotspot.graphic.src == "images/map.png"
    assert hotspot.graphic.markup.startswith('<img src="images/map.png" alt="')
    assert (
        "<object" not in hotspot.graphic.markup and "<object" not in load("hotspot.v2p1.xml").body
    )
    lake = hotspot.choices[0]
    assert (lake.shape, lake.coords) == (Shape.CIRCLE, (120.0, 80.0, 30.0))
    assert lake.attributes == {"hotspot-label": "Lake"}
    point = load("select_point.v2p1.xml")
    area = point.response_declarations[0].area_mapping
    assert area is not None
    assert [e.shape for e in area.entries] == [Shape.CIRCLE, Shape.ELLIPSE, Shape.RECT]
    assert point.response_declarations[0].correct_response == [[100, 100], [300, 200]]


def test_slider_upload_and_essay() -> None:
    slider = load("slider.v2p1.xml").interactions[0]
    assert (slider.lower_bound, slider.upper_bound, slider.step, slider.step_label) == (
        0.0,
        100.0,
        1.0,
        False,
    )
    upload = load("upload.v2p2.xml").interactions[0]
    assert upload.upload_types == ("application/pdf",)
    essay = load("extended_text.v2p1.xml")
    assert essay.interactions[0].expected_lines == 12
    assert essay.interactions[0].format == "plain"
    assert essay.response_processing is None
    score = essay.outcome_declarations[0]
    assert (score.external_scored, score.normal_maximum) == ("human", 10.0)


# --- safety ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "doctype",
    [
        '<!DOCTYPE qti-assessment-item [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
        '<!DOCTYPE qti-assessment-item [<!ENTITY % p SYSTEM "http://127.0.0.1:9/x.dtd"> %p;]>',
        '<!DOCTYPE qti-assessment-item SYSTEM "http://127.0.0.1:9/qti.dtd">',
        '<!DOCTYPE qti-assessment-item [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;'
        '&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>',
    ],
)
def test_doctypes_and_entities_are_refused(doctype: str) -> None:
    xml = (
        f'<?xml version="1.0"?>\n{doctype}\n<qti-assessment-item xmlns="{QTI3}" identifier="x" '
        'title="&xxe;"><qti-item-body><p>&c;</p></qti-item-body></qti-assessment-item>'
    )
    with pytest.raises(ItemFormatError) as caught:
        parse_item(xml.encode())
    assert "root:" not in caught.value.detail  # nothing from /etc/passwd leaks into the message
    assert "DOCTYPE" in caught.value.detail or "malformed XML" in caught.value.detail


def test_external_entity_content_never_appears(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    xml = (
        f'<!DOCTYPE qti-assessment-item [<!ENTITY xxe SYSTEM "file://{secret}">]>'
        f'<qti-assessment-item xmlns="{QTI3}" identifier="x" title="t">'
        "<qti-item-body><p>&xxe;</p></qti-item-body></qti-assessment-item>"
    )
    with pytest.raises(ItemFormatError, match="DOCTYPE declarations are refused") as caught:
        parse_item(xml.encode())
    assert "TOP-SECRET" not in str(caught.value.detail)


def test_malformed_xml_names_the_line() -> None:
    xml = f'<qti-assessment-item xmlns="{QTI3}" identifier="x" title="t">\n<qti-item-body>\n<p>\n'
    with pytest.raises(ItemFormatError) as caught:
        parse_item(xml.encode())
    assert caught.value.detail.startswith("malformed XML:")
    assert caught.value.line is not None and caught.value.line >= 3


def test_scripts_and_event_handlers_never_survive() -> None:
    xml = f"""<qti-assessment-item xmlns="{QTI3}" identifier="x" title="t">
  <qti-response-declaration identifier="RESPONSE" cardinality="single" base-type="identifier"/>
  <qti-item-body onload="steal()">
    <p onclick="steal()">Hi<script>steal()</script><a href="javascript:steal()">x</a></p>
    <qti-choice-interaction response-identifier="RESPONSE">
      <qti-simple-choice identifier="A" onmouseover="steal()">A<script>x()</script></qti-simple-choice>
    </qti-choice-interaction>
  </qti-item-body>
</qti-assessment-item>"""
    item = parse_item(xml.encode())
    stored = item.to_dict()
    notes = " ".join(stored.pop("import_notes"))
    dumped = str(stored).lower()
    assert "steal" not in dumped and "script" not in dumped and "javascript" not in notes
    assert item.interactions[0].choices[0].content == "A"
    assert "removed <script> element" in notes
    assert "event handler" in notes
    assert "URL scheme not allowed" in notes


# --- refusals ----------------------------------------------------------------------------------


def _item(body: str, declarations: str = "", ns: str = QTI3) -> bytes:
    if ns == QTI3:
        return (
            f'<qti-assessment-item xmlns="{QTI3}" identifier="x" title="t">\n{declarations}\n'
            f"<qti-item-body>\n{body}\n</qti-item-body>\n</qti-assessment-item>"
        ).encode()
    return (
        f'<assessmentItem xmlns="{ns}" identifier="x" title="t">\n{declarations}\n'
        f"<itemBody>\n{body}\n</itemBody>\n</assessmentItem>"
    ).encode()


RESPONSE = (
    '<qti-response-declaration identifier="RESPONSE" cardinality="single" base-type="identifier"/>'
)


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        (_item('<qti-frobnicate-interaction response-identifier="R"/>'),
         "unknown interaction (<qti-frobnicate-interaction> at line 4)"),
        (_item('<frobnicateInteraction responseIdentifier="R"/>', ns=QTI21),
         "unknown interaction (<frobnicateInteraction> at line 4)"),
        (_item('<qti-custom-interaction response-identifier="R"/>'),
         "a custom interaction cannot be delivered: what it shows and how it answers are "
         "defined by the tool that wrote it, not by QTI; write it as a portable custom "
         "interaction (QTI 2.2 portableCustomInteraction, QTI 3.0 "
         "qti-portable-custom-interaction) with its modules in the package "
         "(<qti-custom-interaction> at line 4)"),
        (_item('<qti-drawing-interaction response-identifier="R"/>'),
         "a drawing interaction needs the picture it is drawn on (<qti-drawing-interaction> at line 4)"),
        (_item('<customInteraction responseIdentifier="R"/>', ns=QTI21),
         "a custom interaction cannot be delivered: what it shows and how it answers are "
         "defined by the tool that wrote it, not by QTI; write it as a portable custom "
         "interaction (QTI 2.2 portableCustomInteraction, QTI 3.0 "
         "qti-portable-custom-interaction) with its modules in the package "
         "(<customInteraction> at line 4)"),
        (_item('<customInteraction responseIdentifier="R">'
               '<pci:portableCustomInteraction xmlns:pci="http://www.imsglobal.org/xsd/'
               'portableCustomInteraction" customInteractionTypeIdentifier="x"/>'
               "</customInteraction>", ns=QTI21),
         "an IMS PCI 1.0 interaction (pci:portableCustomInteraction in a custom "
         "interaction) cannot be delivered: write it as a QTI 2.2 portableCustomInteraction "
         "or a QTI 3.0 qti-portable-custom-interaction, with its modules in the package "
         "(<customInteraction> at line 4)"),
        (_item('<positionObjectInteraction responseIdentifier="R"/>', ns=QTI21),
         "a position object interaction sits in a position object stage "
         "(<positionObjectInteraction> at line 4)"),
        (_item('<qti-media-interaction response-identifier="R" autostart="false"/>'),
         "a media interaction holds one audio, video or object (<qti-media-interaction> at line 4)"),
        (_item('<qti-end-attempt-interaction response-identifier="R"/>'),
         "missing title attribute (<qti-end-attempt-interaction> at line 4)"),
        (b'<assessmentItem identifier="x"/>', "namespace (none) is not QTI 2.x or 3.0"),
        (f'<qti-assessment-test xmlns="{QTI3}" identifier="x"/>'.encode(),
         "the root is not an assessment item"),
        (_item("", '<qti-template-declaration identifier="T" cardinality="single" base-type="integer"/>'
                   '<qti-template-processing><qti-lookup-outcome-value identifier="T"/>'
                   '</qti-template-processing>'),
         "unsupported template rule (<qti-lookup-outcome-value> at line 2)"),
        (_item("", "<qti-surprise/>"), "unexpected element in an assessment item (<qti-surprise> at line 2)"),
        (_item('<qti-choice-interaction response-identifier="RESPONSE"><qti-simple-choice identifier="A"/>'
               "</qti-choice-interaction>"),
         "bound to response 'RESPONSE', which is not declared"),
        (_item('<qti-text-entry-interaction response-identifier="RESPONSE"/>', RESPONSE),
         "a text_entry interaction needs cardinality single and base type string"),
        (_item('<p><qti-text-entry-interaction response-identifier="RESPONSE"/>'
               '<qti-text-entry-interaction response-identifier="RESPONSE"/></p>',
               RESPONSE.replace("identifier\"/>", "string\"/>")),
         "bound to more than one interaction"),
        (_item('<qti-choice-interaction response-identifier="RESPONSE" max-choices="2">'
               '<qti-simple-choice identifier="A"/></qti-choice-interaction>', RESPONSE),
         "single cardinality but the interaction allows max-choices=2"),
        (_item('<qti-choice-interaction response-identifier="RESPONSE" max-choices="many">'
               '<qti-simple-choice identifier="A"/></qti-choice-interaction>', RESPONSE),
         "max-choices must be an integer, got 'many'"),
        (_item('<qti-choice-interaction response-identifier="RESPONSE"><p>stray</p>'
               "</qti-choice-interaction>", RESPONSE),
         "unexpected <p> in <qti-choice-interaction>"),
        (_item('<qti-choice-interaction response-identifier="RESPONSE">'
               '<qti-simple-choice identifier="A"/></qti-choice-interaction>',
               '<qti-response-declaration identifier="RESPONSE" cardinality="single" base-type="identifier">'
               "<qti-correct-response><qti-value>Z</qti-value></qti-correct-response>"
               "</qti-response-declaration>"),
         "correct response of 'RESPONSE' names 'Z', which is not a choice"),
        (_item("", '<qti-response-declaration identifier="R" cardinality="several" base-type="identifier"/>'),
         "unknown cardinality 'several'"),
        (_item("", '<qti-response-declaration identifier="R" cardinality="single"/>'),
         "missing base-type attribute"),
        (_item("", '<qti-response-declaration identifier="R" cardinality="single" base-type="identifier">'
                   "<qti-correct-response><qti-value>A</qti-value><qti-value>B</qti-value>"
                   "</qti-correct-response></qti-response-declaration>"),
         "correct response of a single response holds 2 values"),
        (_item("", '<qti-response-declaration identifier="R" cardinality="multiple" base-type="identifier">'
                   "<qti-correct-response><qti-value>A</qti-value><qti-value>A</qti-value>"
                   "</qti-correct-response></qti-response-declaration>"),
         "'A' is given twice"),
        (_item("", '<qti-response-declaration identifier="R" cardinality="single" base-type="identifier">'
                   '<qti-mapping lower-bound="2" upper-bound="1"/></qti-response-declaration>'),
         "lower-bound 2.0 above upper-bound 1.0"),
        (_item("", '<qti-response-declaration identifier="R" cardinality="single" base-type="identifier">'
                   '<qti-mapping><qti-map-entry map-key="A" mapped-value="1"/>'
                   '<qti-map-entry map-key="A" mapped-value="2"/></qti-mapping></qti-response-declaration>'),
         "has the key 'A' twice"),
        (_item("", RESPONSE + RESPONSE), "duplicate response declaration identifier 'RESPONSE'"),
        (_item("", '<qti-outcome-declaration identifier="S" cardinality="single" base-type="float">'
                   "<qti-match-table/></qti-outcome-declaration>"),
         "a lookup table needs at least one entry"),
        (_item('<qti-hotspot-interaction response-identifier="RESPONSE"><qti-hotspot-choice identifier="A" '
               'shape="star" coords="1,2"/></qti-hotspot-interaction>', RESPONSE),
         "unknown shape 'star'"),
    ],
)  # fmt: skip
def test_unsupported_or_inconsistent_items_are_refused(document: bytes, reason: str) -> None:
    with pytest.raises(ItemFormatError) as caught:
        parse_item(document)
    assert reason in caught.value.detail


def test_item_level_extras() -> None:
    xml = f"""<qti-assessment-item xmlns="{QTI3}" identifier="x" label="L1" tool-name="Editor"
  tool-version="2" adaptive="false" time-dependent="true" data-extra="1">
  <qti-response-declaration identifier="R" cardinality="record">
    <qti-correct-response>
      <qti-value field-identifier="x" base-type="float">1.5</qti-value>
      <qti-value field-identifier="unit" base-type="identifier">cm</qti-value>
    </qti-correct-response>
  </qti-response-declaration>
  <qti-outcome-declaration identifier="FEEDBACK" cardinality="single" base-type="identifier"
    view="author" interpretation="shown after the attempt"/>
  <qti-stylesheet href="styles/item.css" type="text/css"/>
  <qti-item-body><p>Hello</p></qti-item-body>
  <qti-modal-feedback outcome-identifier="FEEDBACK" identifier="good" show-hide="show" title="Well done">
    <qti-content-body><p>Right <script>x()</script></p></qti-content-body>
  </qti-modal-feedback>
  <qti-companion-materials-info/>
</qti-assessment-item>"""
    item = parse_item(xml.encode())
    assert (item.title, item.label, item.tool_name, item.tool_version) == ("x", "L1", "Editor", "2")
    assert item.time_dependent is True
    assert item.response_declarations[0].correct_response == {"x": 1.5, "unit": "cm"}
    outcome = item.outcome_declarations[0]
    assert outcome.attributes == {"view": "author", "interpretation": "shown after the attempt"}
    assert item.stylesheets[0].href == "styles/item.css"
    feedback = item.modal_feedback[0]
    assert (feedback.identifier, feedback.title) == ("good", "Well done")
    assert "Right" in feedback.content and "script" not in feedback.content
    notes: Any = item.import_notes
    assert "the item has no title; its identifier is used" in notes
    assert "ignored attribute data-extra of the item" in notes
    assert "companion materials information was not kept" in notes
    assert any(n.startswith("modal feedback good: removed <script>") for n in notes)


def test_stored_dict_round_trip_for_every_fixture() -> None:
    for path in FIXTURES.glob("*.xml"):
        item = parse_item(path.read_bytes())
        assert ItemDefinition.from_dict(item.to_dict()) == item, path.name


def test_stored_dict_errors_name_the_field() -> None:
    data = load("choice_single.v3p0.xml").to_dict()
    data["interactions"][0]["type"] = "telepathy"
    with pytest.raises(ItemFormatError, match=r"invalid stored item at interactions\.0\.type"):
        ItemDefinition.from_dict(data)


def test_attributes_the_model_does_not_keep_are_noted() -> None:
    xml = f"""<qti-assessment-item xmlns="{QTI3}" identifier="x" title="t">
  <qti-response-declaration identifier="R" cardinality="single" base-type="identifier" vendor="v">
    <qti-correct-response interpretation="the capital">
      <qti-value>A</qti-value>
    </qti-correct-response>
    <qti-mapping default-value="0"><qti-map-entry map-key="A" mapped-value="1" weight="2"/></qti-mapping>
  </qti-response-declaration>
  <qti-outcome-declaration identifier="S" cardinality="single" base-type="float">
    <qti-default-value interpretation="nothing yet"><qti-value>0</qti-value></qti-default-value>
  </qti-outcome-declaration>
</qti-assessment-item>"""
    item = parse_item(xml.encode())
    assert item.import_notes == (
        "ignored attribute vendor of <qti-response-declaration> (line 2)",
        "ignored attribute interpretation of <qti-correct-response> (line 3)",
        "ignored attribute weight of <qti-map-entry> (line 6)",
        "ignored attribute interpretation of <qti-default-value> (line 9)",
    )
