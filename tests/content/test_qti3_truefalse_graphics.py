"""What QTI 3.0 says about true/false questions and graphic pictures, on export and import.

- A choice interaction is bound to an ``identifier`` response in QTI 3.0, so the model's
  boolean true/false response is written as one (choices ``true``/``false``) and read back
  as the boolean it was: the round trip gives an equal item that scores the same.
- A graphic interaction's picture is written as an ``img`` with its alt text; an
  ``object`` stays for what is not an image; the reader takes either.
"""

from __future__ import annotations

from typing import Any

import pytest
from lxml import etree

from tests.support.qti3_schema import check_qti3
from waa_ads.content.interchange.native import load_item_bytes
from waa_ads.content.interchange.qti.reader import parse_item
from waa_ads.content.interchange.qti.writer import write_item
from waa_ads.content.item.definition import BaseType, ItemDefinition
from waa_ads.scoring.engine import evaluate

NS = {"q": "http://www.imsglobal.org/xsd/imsqtiasi_v3p0"}

NATIVE_TF = b"""format: waa-ads/item@1
identifier: tf-native
title: Water boils
body: |
  {{RESPONSE}}
interactions:
  - type: true_false
    prompt: At sea level, water boils at 100 degrees Celsius.
    correct: true
scoring: match_correct
"""

# Two boolean responses, rules that compare them with constants, use one as a condition,
# and a mapping keyed by booleans.
RULES_TF = """<?xml version="1.0" encoding="UTF-8"?>
<qti-assessment-item xmlns="http://www.imsglobal.org/xsd/imsqtiasi_v3p0" identifier="tf-rules"
    title="Two statements" adaptive="false" time-dependent="false">
  <qti-response-declaration identifier="A" cardinality="single" base-type="boolean">
    <qti-correct-response><qti-value>true</qti-value></qti-correct-response>
    <qti-mapping default-value="0">
      <qti-map-entry map-key="true" mapped-value="2"/>
      <qti-map-entry map-key="false" mapped-value="-1"/>
    </qti-mapping>
  </qti-response-declaration>
  <qti-response-declaration identifier="B" cardinality="single" base-type="boolean"/>
  <qti-outcome-declaration identifier="SCORE" cardinality="single" base-type="float"/>
  <qti-item-body>
    <qti-choice-interaction response-identifier="A" max-choices="1">
      <qti-simple-choice identifier="true">True</qti-simple-choice>
      <qti-simple-choice identifier="false">False</qti-simple-choice>
    </qti-choice-interaction>
    <qti-choice-interaction response-identifier="B" max-choices="1">
      <qti-simple-choice identifier="true">Yes</qti-simple-choice>
      <qti-simple-choice identifier="false">No</qti-simple-choice>
    </qti-choice-interaction>
  </qti-item-body>
  <qti-response-processing>
    <qti-set-outcome-value identifier="SCORE"><qti-map-response identifier="A"/></qti-set-outcome-value>
    <qti-response-condition>
      <qti-response-if>
        <qti-and>
          <qti-variable identifier="B"/>
          <qti-match><qti-variable identifier="A"/><qti-base-value base-type="boolean">true</qti-base-value></qti-match>
        </qti-and>
        <qti-set-outcome-value identifier="SCORE">
          <qti-sum><qti-variable identifier="SCORE"/><qti-base-value base-type="float">1</qti-base-value></qti-sum>
        </qti-set-outcome-value>
      </qti-response-if>
    </qti-response-condition>
  </qti-response-processing>
</qti-assessment-item>
"""


def _meaning(item: ItemDefinition) -> dict[str, Any]:
    document = item.to_dict()
    for key in ("metadata", "import_notes", "rubric_ref"):
        document.pop(key, None)
    return document


def _declared_types(xml: bytes) -> dict[str, str | None]:
    root = etree.fromstring(xml)
    return {
        str(d.get("identifier")): d.get("base-type")
        for d in root.iterfind("q:qti-response-declaration", NS)
    }


def test_a_native_true_false_item_is_written_as_an_identifier_choice_and_read_back_equal() -> None:
    item = load_item_bytes(NATIVE_TF, "tf.yaml")
    assert item.response_declarations[0].base_type is BaseType.BOOLEAN
    written = write_item(item)
    check_qti3(written)
    assert _declared_types(written) == {"RESPONSE": "identifier"}
    root = etree.fromstring(written)
    assert (
        root.findtext(
            "q:qti-response-declaration/q:qti-correct-response/q:qti-value", namespaces=NS
        )
        == "true"
    )
    assert [c.get("identifier") for c in root.iterfind(".//q:qti-simple-choice", NS)] == [
        "true",
        "false",
    ]
    again = parse_item(written)
    assert again.response_declarations[0].base_type is BaseType.BOOLEAN
    assert _meaning(again) == _meaning(item)
    for answer, score in ((True, 1), (False, 0), (None, 0)):
        assert evaluate(again, {"RESPONSE": answer}).outcomes["SCORE"] == score


def test_rules_and_mappings_of_boolean_responses_are_written_in_identifier_terms() -> None:
    item = parse_item(RULES_TF)
    written = write_item(item)
    check_qti3(written)
    assert _declared_types(written) == {"A": "identifier", "B": "identifier"}
    text = written.decode()
    assert 'base-type="boolean"' not in text
    assert 'map-key="true"' in text and 'map-key="false"' in text
    # B alone as a condition becomes match(B, "true"); A's constant an identifier.
    root = etree.fromstring(written)
    matches = root.findall(".//q:qti-and/q:qti-match", NS)
    assert [m[0].get("identifier") for m in matches] == ["B", "A"]
    assert [m[1].text for m in matches] == ["true", "true"]
    assert {m[1].get("base-type") for m in matches} == {"identifier"}
    again = parse_item(written)
    assert [d.base_type for d in again.response_declarations] == [BaseType.BOOLEAN] * 2
    for a in (True, False, None):
        for b in (True, False, None):
            responses = {"A": a, "B": b}
            assert evaluate(again, responses).outcomes == evaluate(item, responses).outcomes, (
                responses
            )


def test_identifier_true_false_used_otherwise_stays_identifier() -> None:
    """A response whose choices are not exactly true and false is not a true/false
    question: it stays as written."""
    written = write_item(parse_item(RULES_TF))
    third = written.replace(
        b'<qti-simple-choice identifier="false">No</qti-simple-choice>',
        b'<qti-simple-choice identifier="false">No</qti-simple-choice>'
        b'<qti-simple-choice identifier="maybe">Maybe</qti-simple-choice>',
    )
    assert [d.base_type for d in parse_item(third).response_declarations] == [
        BaseType.BOOLEAN,
        BaseType.IDENTIFIER,
    ]


def test_the_demo_true_false_items_export_as_identifier_choices() -> None:
    from importlib import resources

    root = resources.files("waa_ads.demo").joinpath("content", "items")
    for name in ("tf-sahara.yaml", "tf-sound-vacuum.xml", "negative-body-facts.xml"):
        item = load_item_bytes(root.joinpath(name).read_bytes(), name)
        written = write_item(item)
        assert set(_declared_types(written).values()) == {"identifier"}, name
        assert _meaning(parse_item(written)) == _meaning(item), name


HOTSPOT_21 = """<?xml version="1.0" encoding="UTF-8"?>
<assessmentItem xmlns="http://www.imsglobal.org/xsd/imsqti_v2p1" identifier="hot21"
    title="Hotspot" adaptive="false" timeDependent="false">
  <responseDeclaration identifier="RESPONSE" cardinality="single" baseType="identifier">
    <correctResponse><value>A</value></correctResponse>
  </responseDeclaration>
  <outcomeDeclaration identifier="SCORE" cardinality="single" baseType="float"/>
  <itemBody>
    <hotspotInteraction responseIdentifier="RESPONSE" maxChoices="1">
      <prompt>Pick the lake.</prompt>
      {picture}
      <hotspotChoice identifier="A" shape="circle" coords="50,50,20"/>
      <hotspotChoice identifier="B" shape="circle" coords="150,50,20"/>
    </hotspotInteraction>
  </itemBody>
  <responseProcessing
      template="http://www.imsglobal.org/question/qti_v2p1/rptemplates/match_correct"/>
</assessmentItem>
"""


@pytest.mark.parametrize(
    "picture",
    [
        '<object type="image/png" data="images/map.png" width="200" height="100">A map'
        "  of the   town</object>",
        # no type: the file name says it is a picture
        '<object data="images/map.png" width="200" height="100">A map of the town</object>',
        '<img src="images/map.png" alt="A map of the town" width="200" height="100"/>',
    ],
    ids=["object", "untyped-object", "img"],
)
def test_a_graphic_picture_is_written_as_an_img_with_its_alt_text(picture: str) -> None:
    item = parse_item(HOTSPOT_21.format(picture=picture))
    graphic = item.interactions[0].graphic
    assert graphic is not None and graphic.src == "images/map.png"
    written = write_item(item)
    check_qti3(written)
    interaction = etree.fromstring(written).find(".//q:qti-hotspot-interaction", NS)
    assert interaction is not None
    assert interaction.find("q:object", NS) is None
    img = interaction.find("q:img", NS)
    assert img is not None
    assert {str(k): str(v) for k, v in img.attrib.items()} == {
        "src": "images/map.png",
        "alt": "A map of the town",
        "width": "200",
        "height": "100",
    }
    assert parse_item(written) == parse_item(written.replace(b"\n", b"\n"))


def test_an_object_stored_before_is_written_as_an_img_and_a_video_stays_an_object() -> None:
    item = parse_item(HOTSPOT_21.format(picture='<img src="images/map.png" alt="x"/>'))
    stored = item.model_copy(
        update={
            "body": item.body.replace(
                '<img src="images/map.png" alt="x"/>',
                '<object type="image/png" data="images/map.png">The town</object>',
            )
        }
    )
    written = write_item(stored)
    assert b'<img src="images/map.png" alt="The town"/>' in written
    assert b"<object" not in written
    video = item.model_copy(
        update={
            "body": item.body.replace(
                '<img src="images/map.png" alt="x"/>',
                '<object type="video/mp4" data="media/tour.mp4">A tour</object>',
            )
        }
    )
    assert b'<object type="video/mp4" data="media/tour.mp4">A tour</object>' in write_item(video)
