"""The candidate's view: accessible controls, deterministic shuffling, and no answer leaks."""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

import pytest
from lxml import etree
from lxml import html as lxml_html

from waa_ads.content.interchange.qti.reader import parse_item
from waa_ads.content.item.definition import (
    AreaMapEntry,
    AreaMapping,
    ItemDefinition,
    ItemFormatError,
    MapEntry,
    ModalFeedback,
    OutcomeDeclaration,
    ResponseMapping,
    ResponseProcessing,
)
from waa_ads.content.render.candidate import candidate_view
from waa_ads.content.render.sanitize import safe_xml_parser
from waa_ads.core import i18n

NS = "http://www.imsglobal.org/xsd/imsqtiasi_v3p0"
RP_MATCH = "https://purl.imsglobal.org/spec/qti/v3p0/rptemplates/match_correct.xml"
RP_MAP = "https://purl.imsglobal.org/spec/qti/v3p0/rptemplates/map_response.xml"
RP_POINT = "https://purl.imsglobal.org/spec/qti/v3p0/rptemplates/map_response_point.xml"


def _item(identifier: str, declarations: str, body: str, rp: str = RP_MATCH) -> bytes:
    return f"""<qti-assessment-item xmlns="{NS}" identifier="{identifier}"
    title="Title {identifier}" time-dependent="false" xml:lang="en">
  {declarations}
  <qti-outcome-declaration identifier="SCORE" cardinality="single" base-type="float">
    <qti-default-value><qti-value>0.4217</qti-value></qti-default-value>
  </qti-outcome-declaration>
  <qti-outcome-declaration identifier="FEEDBACK" cardinality="single" base-type="identifier">
    <qti-default-value><qti-value>OUTCOME_DEFAULT_SECRET</qti-value></qti-default-value>
  </qti-outcome-declaration>
  <qti-item-body>{body}
    <qti-feedback-block outcome-identifier="FEEDBACK" identifier="FB_AFTER" show-hide="show">
      <p>FEEDBACK_SHOWN_AFTER_SCORING</p>
    </qti-feedback-block>
    <qti-rubric-block view="scorer" use="scoring"><qti-content-body>
      <p>SCORER_GUIDANCE_SECRET</p></qti-content-body></qti-rubric-block>
  </qti-item-body>
  {f'<qti-response-processing template="{rp}"/>' if rp else ""}
  <qti-modal-feedback outcome-identifier="FEEDBACK" identifier="MODAL_ID" show-hide="show">
    <qti-content-body><p>MODAL_FEEDBACK_SECRET</p></qti-content-body>
  </qti-modal-feedback>
</qti-assessment-item>""".encode()


def _decl(rid: str, cardinality: str, base_type: str, inner: str) -> str:
    return (
        f'<qti-response-declaration identifier="{rid}" cardinality="{cardinality}" '
        f'base-type="{base_type}">{inner}</qti-response-declaration>'
    )


def _correct(*values: str) -> str:
    return (
        "<qti-correct-response>"
        + "".join(f"<qti-value>{v}</qti-value>" for v in values)
        + ("</qti-correct-response>")
    )


# Each item's answer data uses strings that appear nowhere else in the item. ``secrets`` are
# values that must never reach the candidate; for choice-like items the identifiers are the
# response values and do appear, so the check there is that the view does not change when
# the answer does.
ITEMS: dict[str, tuple[bytes, list[str]]] = {
    "choice": (
        _item(
            "choice",
            _decl("RESPONSE", "multiple", "identifier",
                  _correct("OPT_ALPHA", "OPT_GAMMA")
                  + '<qti-mapping default-value="0"><qti-map-entry map-key="OPT_ALPHA" '
                    'mapped-value="0.7331"/><qti-map-entry map-key="OPT_GAMMA" '
                    'mapped-value="0.2669"/></qti-mapping>'),
            """<qti-choice-interaction response-identifier="RESPONSE" shuffle="true"
                 max-choices="0">
               <qti-prompt>Which are gas giants?</qti-prompt>
               <qti-simple-choice identifier="OPT_ALPHA">Jupiter<qti-feedback-inline
                 outcome-identifier="FEEDBACK" identifier="FB_INLINE" show-hide="show">
                 CHOICE_FEEDBACK_SECRET</qti-feedback-inline></qti-simple-choice>
               <qti-simple-choice identifier="OPT_BETA">Mars</qti-simple-choice>
               <qti-simple-choice identifier="OPT_GAMMA">Saturn</qti-simple-choice>
               <qti-simple-choice identifier="OPT_DELTA" fixed="true">Venus</qti-simple-choice>
             </qti-choice-interaction>""",
            RP_MAP,
        ),
        ["0.7331", "0.2669", "CHOICE_FEEDBACK_SECRET"],
    ),
    "text_entry": (
        _item(
            "text_entry",
            _decl("RESPONSE", "single", "string",
                  _correct("CANBERRA_SECRET_ANSWER")
                  + '<qti-mapping default-value="0"><qti-map-entry '
                    'map-key="CANBERRA_SECRET_ANSWER" mapped-value="1"/><qti-map-entry '
                    'map-key="CANBERA_SECRET_MISSPELLING" mapped-value="0.5" '
                    'case-sensitive="false"/></qti-mapping>'),
            """<p>The capital of Australia is
               <qti-text-entry-interaction response-identifier="RESPONSE" expected-length="12"
                 placeholder-text="city"/>.</p>""",
            RP_MAP,
        ),
        ["CANBERRA_SECRET_ANSWER", "CANBERA_SECRET_MISSPELLING"],
    ),
    "numeric_entry": (
        _item(
            "numeric_entry",
            _decl("RESPONSE", "single", "float", _correct("42.125")),
            """<p>Compute: <qti-text-entry-interaction response-identifier="RESPONSE"
               expected-length="6"/></p>""",
        ),
        ["42.125"],
    ),
    "inline_choice": (
        _item(
            "inline_choice",
            _decl("RESPONSE", "single", "identifier", _correct("IC_GOLD")),
            """<p>Au is the symbol of
               <qti-inline-choice-interaction response-identifier="RESPONSE" shuffle="true">
                 <qti-inline-choice identifier="IC_SILVER">silver</qti-inline-choice>
                 <qti-inline-choice identifier="IC_GOLD">gold</qti-inline-choice>
                 <qti-inline-choice identifier="IC_COPPER">copper</qti-inline-choice>
               </qti-inline-choice-interaction>.</p>""",
        ),
        [],
    ),
    "order": (
        _item(
            "order",
            _decl("RESPONSE", "ordered", "identifier",
                  _correct("ORD_FIRST", "ORD_SECOND", "ORD_THIRD")),
            """<qti-order-interaction response-identifier="RESPONSE" shuffle="true">
               <qti-prompt>Order from smallest.</qti-prompt>
               <qti-simple-choice identifier="ORD_FIRST">atom</qti-simple-choice>
               <qti-simple-choice identifier="ORD_SECOND">cell</qti-simple-choice>
               <qti-simple-choice identifier="ORD_THIRD">organ</qti-simple-choice>
             </qti-order-interaction>""",
        ),
        [],
    ),
    "match": (
        _item(
            "match",
            _decl("RESPONSE", "multiple", "directedPair",
                  _correct("SRC_A TGT_X", "SRC_B TGT_Y")
                  + '<qti-mapping default-value="0"><qti-map-entry map-key="SRC_A TGT_X" '
                    'mapped-value="0.6113"/></qti-mapping>'),
            """<qti-match-interaction response-identifier="RESPONSE" shuffle="true"
                 max-associations="2">
               <qti-prompt>Match the capitals.</qti-prompt>
               <qti-simple-match-set>
                 <qti-simple-associable-choice identifier="SRC_A" match-max="1">France
                 </qti-simple-associable-choice>
                 <qti-simple-associable-choice identifier="SRC_B" match-max="1">Peru
                 </qti-simple-associable-choice>
               </qti-simple-match-set>
               <qti-simple-match-set>
                 <qti-simple-associable-choice identifier="TGT_Y" match-max="1">Lima
                 </qti-simple-associable-choice>
                 <qti-simple-associable-choice identifier="TGT_X" match-max="1">Paris
                 </qti-simple-associable-choice>
               </qti-simple-match-set>
             </qti-match-interaction>""",
            RP_MAP,
        ),
        ["0.6113"],
    ),
    "associate": (
        _item(
            "associate",
            _decl("RESPONSE", "multiple", "pair", _correct("AS_ONE AS_TWO")),
            """<qti-associate-interaction response-identifier="RESPONSE" max-associations="2">
               <qti-prompt>Pair the synonyms.</qti-prompt>
               <qti-simple-associable-choice identifier="AS_ONE" match-max="1">big
               </qti-simple-associable-choice>
               <qti-simple-associable-choice identifier="AS_TWO" match-max="1">large
               </qti-simple-associable-choice>
               <qti-simple-associable-choice identifier="AS_THREE" match-max="1">small
               </qti-simple-associable-choice>
               <qti-simple-associable-choice identifier="AS_FOUR" match-max="1">tiny
               </qti-simple-associable-choice>
             </qti-associate-interaction>""",
        ),
        [],
    ),
    "gap_match": (
        _item(
            "gap_match",
            _decl("RESPONSE", "multiple", "directedPair", _correct("GT_CAT GAP_ONE")),
            """<qti-gap-match-interaction response-identifier="RESPONSE" shuffle="true">
               <qti-prompt>Complete the sentence.</qti-prompt>
               <qti-gap-text identifier="GT_CAT" match-max="1">cat</qti-gap-text>
               <qti-gap-text identifier="GT_DOG" match-max="1">dog</qti-gap-text>
               <p>The <qti-gap identifier="GAP_ONE"/> purrs and the
                  <qti-gap identifier="GAP_TWO"/> barks.</p>
             </qti-gap-match-interaction>""",
        ),
        [],
    ),
    "hottext": (
        _item(
            "hottext",
            _decl("RESPONSE", "single", "identifier", _correct("HT_WRONG")),
            """<qti-hottext-interaction response-identifier="RESPONSE" max-choices="1">
               <qti-prompt>Select the error.</qti-prompt>
               <p>She <qti-hottext identifier="HT_OK">walks</qti-hottext> to school and
                  <qti-hottext identifier="HT_WRONG">eated</qti-hottext> lunch.</p>
             </qti-hottext-interaction>""",
        ),
        [],
    ),
    "hotspot": (
        _item(
            "hotspot",
            _decl("RESPONSE", "single", "identifier", _correct("HS_LONDON")),
            """<qti-hotspot-interaction response-identifier="RESPONSE" max-choices="1">
               <qti-prompt>Click London.</qti-prompt>
               <img src="images/uk.png" alt="Map of the United Kingdom" width="206"
                 height="280"/>
               <qti-hotspot-choice identifier="HS_EDINBURGH" shape="circle" coords="77,115,8"
                 hotspot-label="Edinburgh"/>
               <qti-hotspot-choice identifier="HS_LONDON" shape="circle" coords="118,186,8"
                 hotspot-label="London"/>
             </qti-hotspot-interaction>""",
        ),
        [],
    ),
    "select_point": (
        _item(
            "select_point",
            _decl("RESPONSE", "single", "point",
                  _correct("137 251")
                  + '<qti-area-mapping default-value="0"><qti-area-map-entry shape="circle" '
                    'coords="137,251,19" mapped-value="0.9173"/></qti-area-mapping>'),
            """<qti-select-point-interaction response-identifier="RESPONSE" max-choices="1">
               <qti-prompt>Mark the lake.</qti-prompt>
               <img src="images/lakes.png" alt="A map" width="400" height="300"/>
             </qti-select-point-interaction>""",
            RP_POINT,
        ),
        ["137", "251", "0.9173"],
    ),
    "extended_text": (
        _item(
            "extended_text",
            _decl("RESPONSE", "single", "string", _correct("ESSAY_MODEL_ANSWER_SECRET")),
            """<qti-extended-text-interaction response-identifier="RESPONSE" expected-lines="8"
                 format="plain">
               <qti-prompt>Explain photosynthesis.</qti-prompt>
             </qti-extended-text-interaction>""",
        ),
        ["ESSAY_MODEL_ANSWER_SECRET"],
    ),
    "upload": (
        _item(
            "upload",
            _decl("RESPONSE", "single", "file", ""),
            """<qti-upload-interaction response-identifier="RESPONSE" type="application/pdf">
               <qti-prompt>Upload your lab report.</qti-prompt>
             </qti-upload-interaction>""",
        ),
        [],
    ),
    "slider": (
        _item(
            "slider",
            _decl("RESPONSE", "single", "float", _correct("73.25")),
            """<qti-slider-interaction response-identifier="RESPONSE" lower-bound="0"
                 upper-bound="100" step="0.5" orientation="horizontal">
               <qti-prompt>Estimate the percentage.</qti-prompt>
             </qti-slider-interaction>""",
        ),
        ["73.25"],
    ),
    "graphic_gap_match": (
        _item(
            "graphic_gap_match",
            _decl("RESPONSE", "multiple", "directedPair",
                  _correct("GL_SUN A_SKY")
                  + '<qti-mapping default-value="0"><qti-map-entry map-key="GL_SUN A_SKY" '
                    'mapped-value="0.6131"/></qti-mapping>'),
            """<qti-graphic-gap-match-interaction response-identifier="RESPONSE" max-associations="2">
               <qti-prompt>Drag each picture to its place.</qti-prompt>
               <img src="images/scene.png" alt="A landscape" width="300" height="200"/>
               <qti-gap-img identifier="GL_SUN" match-max="1" object-label="Sun">
                 <img src="images/sun.png" alt="a sun" width="30" height="30"/></qti-gap-img>
               <qti-gap-text identifier="GL_FISH" match-max="1">Fish</qti-gap-text>
               <qti-associable-hotspot identifier="A_SKY" shape="rect" coords="0,0,300,80"
                 match-max="1" hotspot-label="Sky"/>
               <qti-associable-hotspot identifier="A_SEA" shape="rect" coords="0,120,300,200"
                 match-max="1"/>
             </qti-graphic-gap-match-interaction>""",
            RP_MAP,
        ),
        ["0.6131"],
    ),
    "graphic_order": (
        _item(
            "graphic_order",
            _decl("RESPONSE", "ordered", "identifier", _correct("S_C", "S_A", "S_B")),
            """<qti-graphic-order-interaction response-identifier="RESPONSE">
               <qti-prompt>Order the stops.</qti-prompt>
               <img src="images/route.png" alt="A route" width="300" height="200"/>
               <qti-hotspot-choice identifier="S_A" shape="circle" coords="40,40,10" hotspot-label="Mill"/>
               <qti-hotspot-choice identifier="S_B" shape="circle" coords="140,40,10"/>
               <qti-hotspot-choice identifier="S_C" shape="circle" coords="240,40,10" hotspot-label="Farm"/>
             </qti-graphic-order-interaction>""",
        ),
        [],
    ),
    "graphic_associate": (
        _item(
            "graphic_associate",
            _decl("RESPONSE", "multiple", "pair",
                  _correct("C_X C_Y")
                  + '<qti-mapping default-value="0"><qti-map-entry map-key="C_X C_Y" '
                    'mapped-value="0.7243"/></qti-mapping>'),
            """<qti-graphic-associate-interaction response-identifier="RESPONSE" max-associations="1">
               <qti-prompt>Join the two towns that share a road.</qti-prompt>
               <img src="images/towns.png" alt="Three towns" width="300" height="200"/>
               <qti-associable-hotspot identifier="C_X" shape="circle" coords="40,40,10" match-max="1"/>
               <qti-associable-hotspot identifier="C_Y" shape="circle" coords="140,40,10" match-max="1"/>
               <qti-associable-hotspot identifier="C_Z" shape="circle" coords="240,40,10" match-max="1"/>
             </qti-graphic-associate-interaction>""",
            RP_MAP,
        ),
        ["0.7243"],
    ),
    "end_attempt": (
        _item(
            "end_attempt",
            _decl("RESPONSE", "single", "boolean", ""),
            """<p>Done? <qti-end-attempt-interaction response-identifier="RESPONSE"
               title="I have finished"/></p>""",
        ),
        [],
    ),
    "drawing": (
        _item(
            "drawing",
            _decl("RESPONSE", "single", "file", ""),
            """<qti-drawing-interaction response-identifier="RESPONSE">
               <qti-prompt>Sketch the graph.</qti-prompt>
               <img src="images/axes.png" alt="Empty axes" width="300" height="200"/>
             </qti-drawing-interaction>""",
            "",
        ),
        [],
    ),
    "position_object": (
        _item(
            "position_object",
            _decl("RESPONSE", "multiple", "point",
                  _correct("173 61")
                  + '<qti-area-mapping default-value="0"><qti-area-map-entry shape="circle" '
                    'coords="173,61,9" mapped-value="0.3307"/></qti-area-mapping>'),
            """<qti-position-object-stage>
               <img src="images/room.png" alt="An empty room" width="300" height="200"/>
               <qti-position-object-interaction response-identifier="RESPONSE" max-choices="2">
                 <img src="images/lamp.png" alt="A lamp" width="20" height="20"/>
               </qti-position-object-interaction>
             </qti-position-object-stage>""",
            RP_POINT,
        ),
        ["173", "61", "0.3307"],
    ),
    "media": (
        _item(
            "media",
            _decl("RESPONSE", "single", "integer", _correct("7919")),
            """<qti-media-interaction response-identifier="RESPONSE" autostart="false"
                 max-plays="3">
               <qti-prompt>Watch the clip.</qti-prompt>
               <video src="video/clip.mp4" width="320" height="180">A clip</video>
             </qti-media-interaction>""",
        ),
        ["7919"],
    ),
    "portable_custom": (
        _item(
            "portable_custom",
            _decl("RESPONSE", "single", "string", _correct("PCI_SECRET_ANSWER")),
            """<p>How sure are you?</p>
               <qti-portable-custom-interaction response-identifier="RESPONSE"
                 custom-interaction-type-identifier="urn:example:likert" data-levels="5">
               <qti-interaction-modules>
                 <qti-interaction-module id="likert" primary-path="modules/likert.js"/>
               </qti-interaction-modules>
               <qti-interaction-markup><div>Scale</div></qti-interaction-markup>
             </qti-portable-custom-interaction>""",
        ),
        ["PCI_SECRET_ANSWER"],
    ),
}  # fmt: skip

ALWAYS_SECRET = [
    "OUTCOME_DEFAULT_SECRET",
    "0.4217",
    "FEEDBACK_SHOWN_AFTER_SCORING",
    "FB_AFTER",
    "SCORER_GUIDANCE_SECRET",
    "MODAL_FEEDBACK_SECRET",
    "MODAL_ID",
    "rptemplates",
    "match_correct",
    "map_response",
    "outcome-identifier",
    "Title ",
]
FORBIDDEN_KEYS = {
    "correct_response",
    "mapping",
    "area_mapping",
    "response_processing",
    "outcome_declarations",
    "response_declarations",
    "modal_feedback",
    "rubric_ref",
    "default_value",
    "metadata",
    "import_notes",
    "stylesheets",
    "title",
}


def _keys(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


@pytest.fixture(scope="module")
def items() -> dict[str, ItemDefinition]:
    return {name: parse_item(xml) for name, (xml, _) in ITEMS.items()}


def test_every_interaction_type_is_covered(items: dict[str, ItemDefinition]) -> None:
    from waa_ads.content.item.definition import InteractionType

    covered = {i.type for item in items.values() for i in item.interactions}
    assert covered == set(InteractionType)


@pytest.mark.parametrize("name", list(ITEMS))
def test_no_answer_data_reaches_the_candidate(name: str, items: dict[str, ItemDefinition]) -> None:
    item = items[name]
    for seed in (None, 1, 2):
        payload = candidate_view(item, shuffle_seed=seed)
        text = json.dumps(payload, ensure_ascii=False)
        for secret in [*ALWAYS_SECRET, *ITEMS[name][1]]:
            assert secret not in text, (name, secret)
        assert not (_keys(payload) & FORBIDDEN_KEYS), _keys(payload) & FORBIDDEN_KEYS


def _with_other_answers(item: ItemDefinition) -> ItemDefinition:
    """The same item with every piece of answer data changed."""
    declarations = []
    for declaration in item.response_declarations:
        interaction = item.interaction_for(declaration.identifier)
        ids = interaction.choice_identifiers() if interaction else []
        other: Any = "OTHER"
        if declaration.base_type is not None and declaration.base_type.value == "point":
            other = [1, 2]
        elif ids:
            different = [i for i in ids if i != declaration.correct_response]
            other = different[0] if declaration.cardinality.value == "single" else different[:1]
        declarations.append(
            declaration.model_copy(
                update={
                    "correct_response": other,
                    "mapping": ResponseMapping(entries=(MapEntry(key="ZZ", value=9.0),))
                    if declaration.mapping
                    else None,
                    "area_mapping": AreaMapping(
                        entries=(AreaMapEntry(shape="rect", coords=(1, 2, 3, 4), value=3.0),)
                    )
                    if declaration.area_mapping
                    else None,
                }
            )
        )
    return item.model_copy(
        update={
            "response_declarations": tuple(declarations),
            "outcome_declarations": (OutcomeDeclaration(identifier="SCORE", default_value=99.0),),
            "response_processing": ResponseProcessing(template="CC2_match_basic"),
            "modal_feedback": (
                ModalFeedback(outcome_identifier="X", identifier="Y", content="<p>other</p>"),
            ),
            "rubric_ref": "rubric-with-the-answers",
            "metadata": {"irt": {"a": 1.3, "b": -0.2}},
            "import_notes": ("something was removed",),
        }
    )


@pytest.mark.parametrize("name", list(ITEMS))
def test_view_does_not_change_when_the_answer_does(
    name: str, items: dict[str, ItemDefinition]
) -> None:
    item = items[name]
    changed = _with_other_answers(item)
    assert changed.response_declarations != item.response_declarations or name == "upload"
    for seed in (None, 11):
        assert candidate_view(changed, shuffle_seed=seed) == candidate_view(item, shuffle_seed=seed)


def _dom(payload: dict[str, Any]) -> Any:
    """The payload's HTML under a ``div`` (an lxml HtmlElement, which lxml's stubs lack)."""
    return lxml_html.fragment_fromstring(payload["html"], create_parent="div")


def _assert_every_control_is_labelled(root: etree._Element) -> None:
    labels_for = {label.get("for") for label in root.iter("label")}
    ids = {el.get("id") for el in root.iter() if isinstance(el.tag, str) and el.get("id")}
    for control in root.iter("input", "select", "textarea"):
        named = (
            control.get("id") in labels_for
            or control.get("aria-label")
            or control.get("aria-labelledby")
            or any(p.tag == "label" for p in control.iterancestors())
        )
        assert named, etree.tostring(control)
        for ref in (control.get("aria-labelledby") or "").split():
            assert ref in ids, ref
    all_ids = [el.get("id") for el in root.iter() if isinstance(el.tag, str) and el.get("id")]
    duplicates = [i for i, n in Counter(all_ids).items() if n > 1]
    assert not duplicates


@pytest.mark.parametrize("name", list(ITEMS))
def test_controls_are_labelled_and_html_parses_as_xml_too(
    name: str, items: dict[str, ItemDefinition]
) -> None:
    payload = candidate_view(items[name], shuffle_seed=3)
    root = _dom(payload)
    _assert_every_control_is_labelled(root)
    xml_root = etree.fromstring(f"<div>{payload['html']}</div>".encode(), safe_xml_parser())
    assert [etree.QName(e).localname for e in xml_root.iter() if isinstance(e.tag, str)] == [
        e.tag for e in root.iter() if isinstance(e.tag, str)
    ]
    assert "qti-" not in payload["html"]
    (description,) = payload["interactions"]
    assert description["type"] == items[name].interactions[0].type.value
    assert description["response_identifier"] == "RESPONSE"
    assert root.get_element_by_id(description["dom_id"]) is not None


def test_choice_rendering_and_deterministic_shuffle(items: dict[str, ItemDefinition]) -> None:
    item = items["choice"]
    orders = set()
    for seed in range(12):
        payload = candidate_view(item, shuffle_seed=seed)
        (description,) = payload["interactions"]
        ids = [o["identifier"] for o in description["options"]]
        assert ids[3] == "OPT_DELTA"  # fixed keeps its place
        assert sorted(ids) == ["OPT_ALPHA", "OPT_BETA", "OPT_DELTA", "OPT_GAMMA"]
        orders.add(tuple(ids))
        assert candidate_view(item, shuffle_seed=seed) == payload
        root = _dom(payload)
        values = [i.get("value") for i in root.iter("input")]
        assert values == ids
        assert {i.get("type") for i in root.iter("input")} == {"checkbox"}
        assert description["shuffled"] is True
        assert description["limits"] == {"max_choices": 0, "min_choices": 0}
        assert description["cardinality"] == "multiple"
        assert description["base_type"] == "identifier"
    assert len(orders) > 1
    unshuffled = candidate_view(item, shuffle_seed=None)["interactions"][0]
    assert [o["identifier"] for o in unshuffled["options"]] == [
        "OPT_ALPHA",
        "OPT_BETA",
        "OPT_GAMMA",
        "OPT_DELTA",
    ]
    assert unshuffled["shuffled"] is False
    root = _dom(candidate_view(item, shuffle_seed=None))
    fieldset = root.find(".//fieldset")
    assert fieldset is not None and fieldset.findtext("legend") == "Which are gas giants?"


def test_single_choice_uses_radio_buttons(items: dict[str, ItemDefinition]) -> None:
    root = _dom(candidate_view(items["hottext"], shuffle_seed=1))
    assert {i.get("type") for i in root.iter("input")} == {"radio"}
    assert [i.get("value") for i in root.iter("input")] == ["HT_OK", "HT_WRONG"]
    text = " ".join("".join(root.itertext()).split())
    assert "She walks to school and eated lunch." in text


def test_inline_interactions_stay_inline(items: dict[str, ItemDefinition]) -> None:
    payload = candidate_view(items["text_entry"], shuffle_seed=1)
    root = _dom(payload)
    paragraph = root.find("p")
    assert paragraph is not None
    (field,) = paragraph.iter("input")
    assert field.get("name") == "RESPONSE"
    assert field.get("placeholder") == "city"
    assert field.get("size") == "12"
    assert payload["interactions"][0]["limits"] == {"expected_length": 12}
    numeric = _dom(candidate_view(items["numeric_entry"], shuffle_seed=1))
    assert next(numeric.iter("input")).get("inputmode") == "decimal"
    select_root = _dom(candidate_view(items["inline_choice"], shuffle_seed=5))
    select = select_root.find("p/select")
    assert select is not None
    values = [o.get("value") for o in select.iter("option")]
    assert values[0] == "" and sorted(values[1:]) == ["IC_COPPER", "IC_GOLD", "IC_SILVER"]


def test_match_grid_offers_every_pair_equally(items: dict[str, ItemDefinition]) -> None:
    payload = candidate_view(items["match"], shuffle_seed=4)
    root = _dom(payload)
    values = sorted(i.get("value") or "" for i in root.iter("input"))
    assert values == ["SRC_A TGT_X", "SRC_A TGT_Y", "SRC_B TGT_X", "SRC_B TGT_Y"]
    description = payload["interactions"][0]
    assert {o["identifier"] for o in description["source_options"]} == {"SRC_A", "SRC_B"}
    assert {o["identifier"] for o in description["target_options"]} == {"TGT_X", "TGT_Y"}
    assert description["limits"] == {"max_associations": 2}


def test_gap_match_gaps_become_selects(items: dict[str, ItemDefinition]) -> None:
    payload = candidate_view(items["gap_match"], shuffle_seed=2)
    root = _dom(payload)
    selects = [s for s in root.iter("select") if s.get("data-gap")]
    assert [s.get("data-gap") for s in selects] == ["GAP_ONE", "GAP_TWO"]
    for select in selects:
        assert sorted(o.get("value") for o in select.iter("option")) == ["", "GT_CAT", "GT_DOG"]
    description = payload["interactions"][0]
    assert description["gaps"] == [
        {"identifier": "GAP_ONE", "required": False},
        {"identifier": "GAP_TWO", "required": False},
    ]


def test_graphic_interactions_resolve_media(items: dict[str, ItemDefinition]) -> None:
    def resolve(path: str) -> str:
        return f"/api/v1/media/by-path/{path}"

    payload = candidate_view(items["hotspot"], shuffle_seed=1, resolve_media=resolve)
    root = _dom(payload)
    img = root.find(".//img")
    assert img is not None and img.get("src") == "/api/v1/media/by-path/images/uk.png"
    description = payload["interactions"][0]
    assert description["graphic"]["src"] == "/api/v1/media/by-path/images/uk.png"
    assert description["graphic"]["alt"] == "Map of the United Kingdom"
    assert description["options"][1] == {
        "identifier": "HS_LONDON",
        "label": "London",
        "shape": "circle",
        "coords": [118, 186, 8],
    }
    labels = [label.text for label in root.iter("label")]
    assert labels == ["Edinburgh", "London"]
    point = candidate_view(items["select_point"], shuffle_seed=None)
    assert point["interactions"][0]["limits"] == {"max_choices": 1, "min_choices": 0}


def test_qti2_object_graphic_becomes_an_image() -> None:
    xml = b"""<assessmentItem xmlns="http://www.imsglobal.org/xsd/imsqti_v2p1" identifier="h2"
      title="h" adaptive="false" timeDependent="false">
      <responseDeclaration identifier="RESPONSE" cardinality="single" baseType="identifier"/>
      <itemBody><hotspotInteraction responseIdentifier="RESPONSE" maxChoices="1">
        <object type="image/png" data="uk.png" width="10" height="20">UK map</object>
        <hotspotChoice identifier="A" shape="rect" coords="0,0,5,5"/>
      </hotspotInteraction></itemBody></assessmentItem>"""
    payload = candidate_view(parse_item(xml), shuffle_seed=None)
    img = _dom(payload).find(".//img")
    assert img is not None
    assert dict(img.attrib) == {"src": "uk.png", "alt": "UK map", "width": "10", "height": "20"}
    assert "<object" not in payload["html"]


def test_other_controls(items: dict[str, ItemDefinition]) -> None:
    slider = _dom(candidate_view(items["slider"], shuffle_seed=None))
    field = next(slider.iter("input"))
    assert (field.get("type"), field.get("min"), field.get("max"), field.get("step")) == (
        "range",
        "0",
        "100",
        "0.5",
    )
    assert field.get("value") is None
    upload = candidate_view(items["upload"], shuffle_seed=None)
    assert next(_dom(upload).iter("input")).get("accept") == "application/pdf"
    assert upload["interactions"][0]["accept"] == ["application/pdf"]
    essay = _dom(candidate_view(items["extended_text"], shuffle_seed=None))
    area = next(essay.iter("textarea"))
    assert area.get("rows") == "8"
    order = candidate_view(items["order"], shuffle_seed=9)
    selects = list(_dom(order).iter("select"))
    assert len(selects) == 3
    assert [o.get("value") for o in selects[0].iter("option")] == ["", "1", "2", "3"]
    associate = candidate_view(items["associate"], shuffle_seed=None)
    assert len(list(_dom(associate).iter("select"))) == 4  # two pairs, two sides each


def test_graphic_area_interactions(items: dict[str, ItemDefinition]) -> None:
    """Each area of a graphic order, associate or gap match interaction is a labelled
    select carrying its shape, so a click or a drop on the picture finds it."""
    order = candidate_view(items["graphic_order"], shuffle_seed=None)
    selects = list(_dom(order).iter("select"))
    assert [s.get("data-choice") for s in selects] == ["S_A", "S_B", "S_C"]
    assert selects[0].get("data-coords") == "40,40,10"
    assert [o.get("value") for o in selects[0].iter("option")] == ["", "1", "2", "3"]
    assert [o["label"] for o in order["interactions"][0]["options"]] == ["Mill", "Area 2", "Farm"]
    associate = candidate_view(items["graphic_associate"], shuffle_seed=None)
    pairs = list(_dom(associate).iter("select"))
    assert len(pairs) == 2  # one pair (max-associations), two sides
    assert [o.get("value") for o in pairs[0].iter("option")] == ["", "C_X", "C_Y", "C_Z"]
    gaps = candidate_view(items["graphic_gap_match"], shuffle_seed=None)
    description = gaps["interactions"][0]
    assert [o["label"] for o in description["options"]] == ["Sun", "Fish"]
    assert description["options"][0]["image"] is True
    assert [h["identifier"] for h in description["hotspots"]] == ["A_SKY", "A_SEA"]
    root = _dom(gaps)
    area_selects = list(root.iter("select"))
    assert [s.get("data-gap") for s in area_selects] == ["A_SKY", "A_SEA"]
    assert [label.text for label in root.iter("label")] == ["Sky", "Area 2"]
    assert [o.text for o in area_selects[0].iter("option")] == ["—", "Sun", "Fish"]


def test_drawing_shows_its_picture_and_takes_a_png(items: dict[str, ItemDefinition]) -> None:
    view = candidate_view(items["drawing"], shuffle_seed=None, resolve_media=lambda p: f"/m/{p}")
    img = _dom(view).find(".//img")
    assert img is not None and img.get("src") == "/m/images/axes.png"
    description = view["interactions"][0]
    assert description["accept"] == ["image/png"]
    assert description["graphic"]["width"] == "300"


def test_position_object_is_placed_on_its_stage(items: dict[str, ItemDefinition]) -> None:
    view = candidate_view(items["position_object"], shuffle_seed=None)
    root = _dom(view)
    pictures = [img.get("src") for img in root.iter("img")]
    assert pictures == ["images/lamp.png", "images/room.png"]  # the stage's picture once
    assert root.find(".//div[@class='waa-graphic']/img").get("src") == "images/room.png"
    labels = [label.text for label in root.iter("label")]
    assert labels == ["Place 1 (x y)", "Place 2 (x y)"]
    description = view["interactions"][0]
    assert description["graphic"]["src"] == "images/room.png"
    assert description["object"] == {
        "src": "images/lamp.png",
        "width": "20",
        "height": "20",
        "alt": "A lamp",
    }


def test_end_attempt_and_media(items: dict[str, ItemDefinition]) -> None:
    end = candidate_view(items["end_attempt"], shuffle_seed=None)
    button = _dom(end).find(".//button")
    assert button is not None
    assert (button.get("type"), button.get("aria-pressed"), button.text) == (
        "button",
        "false",
        "I have finished",
    )
    assert end["interactions"][0]["button_label"] == "I have finished"
    media = candidate_view(
        items["media"], shuffle_seed=None, resolve_media=lambda path: f"/files/{path}"
    )
    video = _dom(media).find(".//video")
    assert video is not None
    assert video.get("src") == "/files/video/clip.mp4"
    assert video.get("controls") is not None
    description = media["interactions"][0]
    assert description["media"] == {
        "kind": "video",
        "src": "/files/video/clip.mp4",
        "width": "320",
        "height": "180",
    }
    assert description["limits"] == {"autostart": False, "max_plays": 3}


def test_candidate_facing_feedback_and_rubrics() -> None:
    xml = _item(
        "fb",
        _decl("RESPONSE", "single", "identifier", _correct("A")),
        """<p>Intro<qti-printed-variable identifier="SCORE"/></p>
        <qti-feedback-block outcome-identifier="FEEDBACK" identifier="HINT" show-hide="hide">
          <p>Visible until answered</p></qti-feedback-block>
        <qti-rubric-block view="candidate" use="instructions"><qti-content-body>
          <p>Read carefully</p></qti-content-body></qti-rubric-block>
        <qti-choice-interaction response-identifier="RESPONSE" max-choices="1">
          <qti-simple-choice identifier="A">a</qti-simple-choice>
        </qti-choice-interaction>""",
    )
    payload = candidate_view(parse_item(xml), shuffle_seed=None)
    html = payload["html"]
    # Feedback is never in the body, even feedback visible before answering: the
    # assessment's feedback policy decides (content/render/feedback.py).
    assert "Visible until answered" not in html
    assert "Read carefully" in html
    assert "HINT" not in html and "show-hide" not in html and "view=" not in html
    assert "SCORER_GUIDANCE_SECRET" not in html
    assert "printed" not in html


def test_body_is_sanitized_again_at_render_time(items: dict[str, ItemDefinition]) -> None:
    item = items["numeric_entry"]
    tampered = item.model_copy(
        update={
            "body": item.body.replace(
                "<p>Compute: ",
                '<p onclick="steal()">Compute: <script>steal()</script>'
                '<a href="javascript:steal()">x</a>',
            )
        }
    )
    html = candidate_view(tampered, shuffle_seed=None)["html"]
    assert "steal" not in html
    assert "<script" not in html


def test_interaction_missing_from_the_model_is_an_error(items: dict[str, ItemDefinition]) -> None:
    item = items["text_entry"].model_copy(update={"interactions": ()})
    with pytest.raises(ItemFormatError, match="which the item does not describe"):
        candidate_view(item, shuffle_seed=None)


def test_ids_are_unique_across_repeated_prompts() -> None:
    decl = "".join(_decl(f"R{i}", "single", "string", "") for i in range(3))
    body = "".join(
        f'<p>Q<qti-text-entry-interaction response-identifier="R{i}"/></p>' for i in range(3)
    )
    payload = candidate_view(parse_item(_item("multi", decl, body, rp="")), shuffle_seed=1)
    root = _dom(payload)
    _assert_every_control_is_labelled(root)
    assert [d["response_identifier"] for d in payload["interactions"]] == ["R0", "R1", "R2"]
    assert [i.get("aria-label") for i in root.iter("input")] == ["Blank 1", "Blank 2", "Blank 3"]


def test_payload_is_json_and_stable(items: dict[str, ItemDefinition]) -> None:
    for item in items.values():
        payload = candidate_view(item, shuffle_seed=123)
        assert json.loads(json.dumps(payload)) == payload
        assert payload["format"] == 1
        assert payload["item_identifier"] == item.identifier
        assert payload["language"] == "en"
        assert re.search(r"\bdata-response-identifier=\"RESPONSE\"", payload["html"])


@pytest.mark.parametrize("name", list(ITEMS))
def test_the_reply_model_declares_every_key_of_the_payload(
    name: str, items: dict[str, ItemDefinition]
) -> None:
    """The player's reply model is closed: each key the renderer writes is declared, and the
    reply serializes to the very JSON the renderer produced (absent keys stay absent)."""
    from waa_ads.content.schemas import CandidateItem

    for seed in (None, 7):
        payload = candidate_view(
            items[name], shuffle_seed=seed, resolve_media=lambda path: f"/media/{path}"
        )
        reply = CandidateItem.model_validate(payload)
        assert json.dumps(reply.model_dump(mode="json", exclude_unset=True), sort_keys=True) == (
            json.dumps(payload, sort_keys=True)
        )


#: The words the renderer adds itself (not the item's), in English.
RENDERER_WORDS = re.compile(
    r"Blank \d|Answer|Pair \d|Gap \d|Area \d|Place \d|File to upload|\bValue\b"
    r"|End this question|You may play|Your drawing"
)

#: An item whose interactions carry no prompt, title or label of their own, so every name
#: on its controls is one the renderer adds.
UNNAMED = _item(
    "unnamed",
    "".join(
        _decl(r, "single", t, "")
        for r, t in (
            ("T1", "string"),
            ("T2", "string"),
            ("E1", "string"),
            ("U1", "file"),
            ("S1", "float"),
            ("X1", "boolean"),
            ("H1", "identifier"),
            ("M1", "integer"),
            ("M2", "integer"),
        )
    ),
    """<p>A <qti-text-entry-interaction response-identifier="T1"/>
         B <qti-text-entry-interaction response-identifier="T2"/></p>
       <qti-extended-text-interaction response-identifier="E1" max-strings="2"/>
       <qti-upload-interaction response-identifier="U1"/>
       <qti-slider-interaction response-identifier="S1" lower-bound="0" upper-bound="10"/>
       <qti-hotspot-interaction response-identifier="H1" max-choices="1">
         <img src="map.png" alt="A map" width="100" height="100"/>
         <qti-hotspot-choice identifier="N" shape="circle" coords="10,10,5"/>
       </qti-hotspot-interaction>
       <qti-media-interaction response-identifier="M1" max-plays="1">
         <audio src="a.mp3">A sound</audio></qti-media-interaction>
       <qti-media-interaction response-identifier="M2">
         <audio src="b.mp3">A sound</audio></qti-media-interaction>
       <p><qti-end-attempt-interaction response-identifier="X1" title="Stop"/></p>""",
    rp="",
)


def _unnamed() -> ItemDefinition:
    """:data:`UNNAMED`, its end-attempt button without a title (QTI requires one; the
    native format does not)."""
    item = parse_item(UNNAMED)
    untitled = tuple(
        i.model_copy(update={"title": None}) if i.response_identifier == "X1" else i
        for i in item.interactions
    )
    return item.model_copy(update={"interactions": untitled})


def _names(payload: dict[str, Any]) -> list[str]:
    """Every accessible name and note the renderer wrote, in document order."""
    root = _dom(payload)
    out = [
        el.get("aria-label")
        for el in root.iter()
        if isinstance(el.tag, str) and el.get("aria-label")
    ]
    out += [" ".join(el.text_content().split()) for el in root.iter("label", "button", "p")]
    return [n for n in out if n]


def test_the_renderers_own_words_follow_the_language_asked_for() -> None:
    item = _unnamed()
    english = candidate_view(item, shuffle_seed=None, locale="en")
    french = candidate_view(item, shuffle_seed=None, locale="fr")
    names = _names(english)
    for expected in (
        "Blank 1",
        "Blank 2",
        "Answer 1",
        "Answer 2",
        "File to upload",
        "Value",
        "Area 1",
        "End this question",
        "You may play this 1 time.",
        "You may play this as often as you like.",
    ):
        assert expected in names, (expected, names)
    french_names = _names(french)
    for expected in (
        "Trou 1",
        "Trou 2",
        "Réponse 1",
        "Réponse 2",
        "Fichier à déposer",
        "Valeur",
        "Zone 1",
        "Terminer cette question",
        "Vous pouvez lire ceci 1 fois.",
        "Vous pouvez lire ceci autant de fois que vous le souhaitez.",
    ):
        assert expected in french_names, (expected, french_names)
    assert not RENDERER_WORDS.search(french["html"]), french["html"]
    assert french["interactions"][-1]["button_label"] == "Terminer cette question"
    assert french["interactions"][5]["options"][0]["label"] == "Zone 1"
    # Only the words change: the same controls, ids and values.
    assert [d["dom_id"] for d in french["interactions"]] == [
        d["dom_id"] for d in english["interactions"]
    ]
    # The item's own text is never translated.
    assert "A map" in french["html"] and "A sound" in french["html"]


def test_without_a_language_the_locale_in_force_is_used() -> None:
    item = _unnamed()
    with i18n.use_locale("fr"):
        assert candidate_view(item, shuffle_seed=None) == candidate_view(
            item, shuffle_seed=None, locale="fr"
        )
    # The locale asked for wins over the one in force, and does not leak out of the render.
    with i18n.use_locale("fr"):
        english = candidate_view(item, shuffle_seed=None, locale="en")
        assert i18n.current() == "fr"
    assert "Blank 1" in _names(english)


@pytest.mark.parametrize("name", list(ITEMS))
def test_no_english_word_of_the_renderer_in_a_french_view(
    name: str, items: dict[str, ItemDefinition]
) -> None:
    french = candidate_view(items[name], shuffle_seed=3, locale="fr")
    _assert_every_control_is_labelled(_dom(french))
    assert not RENDERER_WORDS.search(french["html"]), french["html"]


def test_every_renderer_label_goes_through_the_catalogue() -> None:
    """In the accented pseudo-locale no name the renderer adds is plain ASCII English."""
    item = _unnamed()
    names = _names(candidate_view(item, shuffle_seed=None, locale="en"))
    pseudo = _names(candidate_view(item, shuffle_seed=None, locale="en-XA"))
    own = {"A", "B"}  # text of the item itself
    assert len(pseudo) == len(names)
    for english, accented in zip(names, pseudo, strict=True):
        if english in own or not RENDERER_WORDS.search(english):
            continue
        assert not accented.isascii(), (english, accented)
