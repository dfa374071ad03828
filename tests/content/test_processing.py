"""Response processing rules: templates, parsing into the AST, and load-time checks."""

from __future__ import annotations

from typing import Any

import pytest
from lxml import etree

from waa_ads.content.interchange.qti.reader import parse_item
from waa_ads.content.item.definition import (
    Expression,
    ItemDefinition,
    ItemFormatError,
    ResponseProcessing,
)
from waa_ads.content.item.processing import (
    TEMPLATES,
    parse_expression,
    parse_response_processing,
    snake_name,
    template_name,
    template_url,
)

QTI3 = "http://www.imsglobal.org/xsd/imsqtiasi_v3p0"
QTI21 = "http://www.imsglobal.org/xsd/imsqti_v2p1"


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("http://www.imsglobal.org/question/qti_v2p1/rptemplates/match_correct", "match_correct"),
        ("http://www.imsglobal.org/question/qti_v2p1/rptemplates/map_response.xml", "map_response"),
        ("http://www.imsglobal.org/question/qti_v2p2/rptemplates/map_response_point", "map_response_point"),
        ("http://www.imsglobal.org/question/qti_v2p0/rptemplates/match_correct", "match_correct"),
        ("https://purl.imsglobal.org/spec/qti/v3p0/rptemplates/match_correct.xml", "match_correct"),
        ("https://purl.imsglobal.org/spec/qti/v3p0/rptemplates/CC2_match.xml", "CC2_match"),
        ("https://purl.imsglobal.org/spec/qti/v3p0/rptemplates/CC2_match_basic.xml", "CC2_match_basic"),
        ("https://purl.imsglobal.org/spec/qti/v3p0/rptemplates/CC2_map_response.xml", "CC2_map_response"),
        (" https://purl.imsglobal.org/spec/qti/v3p0/rptemplates/map_response.xml ", "map_response"),
        ("https://purl.imsglobal.org/spec/qti/v3p0/rptemplates/mystery.xml", None),
        ("https://example.org/rptemplates/match_correct.xml", None),
        ("match_correct", None),
    ],
)  # fmt: skip
def test_template_urls_are_recognized_without_fetching(url: str, name: str | None) -> None:
    assert template_name(url) == name


def test_template_url_round_trips() -> None:
    for name in TEMPLATES:
        assert template_name(template_url(name)) == name


@pytest.mark.parametrize(
    ("local", "snake"),
    [
        ("qti-map-response-point", "map_response_point"),
        ("mapResponsePoint", "map_response_point"),
        ("qti-response-else-if", "response_else_if"),
        ("responseElseIf", "response_else_if"),
        ("anyN", "any_n"),
        ("qti-any-n", "any_n"),
        ("gte", "gte"),
        ("baseType", "base_type"),
        ("tolerance-mode", "tolerance_mode"),
    ],
)
def test_names_from_both_versions_meet(local: str, snake: str) -> None:
    assert snake_name(local) == snake


def _expr(xml: str, ns: str = QTI3) -> Expression:
    return parse_expression(etree.fromstring(f'<r xmlns="{ns}">{xml}</r>')[0])


def test_v2_and_v3_expressions_parse_to_the_same_ast() -> None:
    v2 = _expr(
        '<equal toleranceMode="relative" tolerance="1 2" includeUpperBound="false">'
        '<variable identifier="R"/><baseValue baseType="float">2.5</baseValue></equal>',
        QTI21,
    )
    v3 = _expr(
        '<qti-equal tolerance-mode="relative" tolerance="1 2" include-upper-bound="false">'
        '<qti-variable identifier="R"/><qti-base-value base-type="float">2.5</qti-base-value>'
        "</qti-equal>"
    )
    assert v2 == v3
    assert v3.model_dump(mode="json") == {
        "op": "equal",
        "tolerance_mode": "relative",
        "tolerance": [1.0, 2.0],
        "include_upper_bound": False,
        "args": [
            {"op": "variable", "identifier": "R"},
            {"op": "base_value", "base_type": "float", "value": 2.5},
        ],
    }
    assert Expression.model_validate(v3.model_dump(mode="json")) == v3


@pytest.mark.parametrize(
    ("xml", "reason"),
    [
        ("<qti-frobnicate/>", "unknown operator (<qti-frobnicate> at line 1)"),
        ("<qti-random-integer min='1' max='2'/>", "unsupported operator: random values"),
        ("<qti-custom-operator class='x'/>", "unsupported custom operator (class 'x')"),
        ("<qti-match><qti-null/></qti-match>", "takes 2 sub-expressions, found 1"),
        ("<qti-not/>", "takes 1 sub-expressions, found 0"),
        ("<qti-and/>", "takes at least 1 sub-expressions, found 0"),
        ("<qti-variable/>", "missing identifier attribute"),
        ("<qti-variable identifier='R' colour='red'/>", "unknown attribute 'colour'"),
        (
            "<qti-base-value base-type='integer'>1.5</qti-base-value>",
            "'1.5' is not a valid integer",
        ),
        ("<qti-base-value base-type='fraction'>1</qti-base-value>", "bad base-type attribute"),
        ("<qti-base-value base-type='float'><qti-null/></qti-base-value>", "holds text"),
        (
            "<qti-equal tolerance-mode='absolute'><qti-null/><qti-null/></qti-equal>",
            "tolerance-mode absolute needs a tolerance attribute",
        ),
        (
            "<qti-equal tolerance-mode='absolute' tolerance='-1'><qti-null/><qti-null/></qti-equal>",
            "tolerance cannot be negative",
        ),
        (
            "<qti-equal tolerance-mode='fuzzy'><qti-null/><qti-null/></qti-equal>",
            "'fuzzy' is not one of exact, absolute, relative",
        ),
        (
            "<qti-equal-rounded figures='0'><qti-null/><qti-null/></qti-equal-rounded>",
            "figures must be at least 1 for significantFigures",
        ),
        (
            "<qti-equal-rounded figures='{F}'><qti-null/><qti-null/></qti-equal-rounded>",
            "variable references are not supported",
        ),
        ("<qti-pattern-match pattern='('><qti-null/></qti-pattern-match>", "not a valid pattern"),
        ("<qti-string-match><qti-null/><qti-null/></qti-string-match>", "missing case-sensitive"),
        ("<qti-is-null>text<qti-null/></qti-is-null>", "unexpected text 'text'"),
    ],
)
def test_malformed_expressions_are_refused_with_a_reason(xml: str, reason: str) -> None:
    with pytest.raises(ItemFormatError) as caught:
        _expr(xml)
    assert reason in caught.value.detail


def _processing(xml: str) -> ResponseProcessing:
    return parse_response_processing(
        etree.fromstring(f'<qti-response-processing xmlns="{QTI3}">{xml}</qti-response-processing>')
    )


@pytest.mark.parametrize(
    ("xml", "reason"),
    [
        ("<qti-response-else/>", "unknown response rule"),
        (
            "<qti-match><qti-null/><qti-null/></qti-match>",
            "an expression cannot stand where a rule",
        ),
        ("<qti-response-condition/>", "starts with a responseIf"),
        (
            "<qti-response-condition><qti-response-if/></qti-response-condition>",
            "a branch needs a condition expression",
        ),
        (
            "<qti-response-condition><qti-response-if><qti-null/></qti-response-if>"
            "<qti-response-else/><qti-response-else/></qti-response-condition>",
            "one responseElse at most",
        ),
        (
            "<qti-response-condition><qti-response-if><qti-null/></qti-response-if>"
            "<qti-response-else/><qti-response-else-if><qti-null/></qti-response-else-if>"
            "</qti-response-condition>",
            "misplaced branch",
        ),
        ("<qti-set-outcome-value><qti-null/></qti-set-outcome-value>", "missing identifier"),
        ("<qti-set-outcome-value identifier='S'/>", "takes exactly one expression, found 0"),
        (
            "<qti-lookup-outcome-value identifier='S'><qti-null/><qti-null/>"
            "</qti-lookup-outcome-value>",
            "takes exactly one expression, found 2",
        ),
        ("<qti-exit-response><qti-null/></qti-exit-response>", "takes no content"),
    ],
)
def test_malformed_rules_are_refused(xml: str, reason: str) -> None:
    with pytest.raises(ItemFormatError) as caught:
        _processing(xml)
    assert reason in caught.value.detail


def test_fragments_flatten_and_exit_parses() -> None:
    processing = _processing(
        "<qti-response-processing-fragment><qti-exit-response/></qti-response-processing-fragment>"
        "<qti-set-outcome-value identifier='S'><qti-null/></qti-set-outcome-value>"
    )
    assert processing.rules is not None
    assert [r.rule for r in processing.rules] == ["exit_response", "set_outcome_value"]


def test_unknown_template_is_refused() -> None:
    element = etree.fromstring(
        f'<qti-response-processing xmlns="{QTI3}" template="https://example.org/t.xml"/>'
    )
    with pytest.raises(ItemFormatError, match="unknown response processing template"):
        parse_response_processing(element)


def test_template_and_rules_together_keep_both() -> None:
    element = etree.fromstring(
        f'<qti-response-processing xmlns="{QTI3}" '
        'template="https://purl.imsglobal.org/spec/qti/v3p0/rptemplates/match_correct.xml">'
        '<qti-set-outcome-value identifier="SCORE"><qti-base-value base-type="float">2'
        "</qti-base-value></qti-set-outcome-value></qti-response-processing>"
    )
    processing = parse_response_processing(element)
    assert processing.template == "match_correct"
    assert processing.rules is not None and len(processing.rules) == 1


# --- load-time checks on whole items ---------------------------------------------------------


def _item(processing: str, declarations: str = "") -> bytes:
    return f"""<qti-assessment-item xmlns="{QTI3}" identifier="i" title="t">
  <qti-response-declaration identifier="RESPONSE" cardinality="single" base-type="identifier">
    <qti-correct-response><qti-value>A</qti-value></qti-correct-response>
  </qti-response-declaration>
  <qti-response-declaration identifier="NUM" cardinality="single" base-type="float"/>
  <qti-outcome-declaration identifier="SCORE" cardinality="single" base-type="float"/>
  <qti-outcome-declaration identifier="FB" cardinality="single" base-type="identifier"/>
  {declarations}
  <qti-item-body><p>x</p></qti-item-body>
  <qti-response-processing>{processing}</qti-response-processing>
</qti-assessment-item>""".encode()


def _set(expr: str, target: str = "SCORE") -> str:
    return f'<qti-set-outcome-value identifier="{target}">{expr}</qti-set-outcome-value>'


@pytest.mark.parametrize(
    ("processing", "reason"),
    [
        (_set('<qti-variable identifier="NOPE"/>'), "refers to 'NOPE', which is not declared"),
        (_set('<qti-base-value base-type="float">1</qti-base-value>', "GONE"),
         "sets 'GONE', which is not declared as an outcome"),
        (_set('<qti-base-value base-type="float">1</qti-base-value>', "RESPONSE"),
         "sets 'RESPONSE', which is not declared as an outcome"),
        (_set('<qti-map-response identifier="RESPONSE"/>'), "needs a mapping on 'RESPONSE'"),
        (_set('<qti-map-response-point identifier="RESPONSE"/>'), "needs an area mapping"),
        (_set('<qti-correct identifier="SCORE"/>'), "refers to 'SCORE', which is not a response"),
        (_set('<qti-sum><qti-variable identifier="RESPONSE"/></qti-sum>'),
         "an operand of <sum> must be"),
        (_set('<qti-base-value base-type="identifier">x</qti-base-value>'),
         "sets float outcome 'SCORE' to a identifier value"),
        (_set('<qti-base-value base-type="float">1</qti-base-value>', "FB"),
         "sets identifier outcome 'FB' to a float value"),
        (_set('<qti-multiple><qti-base-value base-type="float">1</qti-base-value></qti-multiple>'),
         "sets single outcome 'SCORE' to a multiple value"),
        (_set('<qti-match><qti-variable identifier="RESPONSE"/><qti-variable identifier="NUM"/>'
              "</qti-match>"),
         "<match> compares identifier with float"),
        ("<qti-response-condition><qti-response-if><qti-variable identifier=\"NUM\"/>"
         "</qti-response-if></qti-response-condition>",
         "a condition must be boolean, but <variable> gives float"),
        (_set('<qti-string-match case-sensitive="true"><qti-variable identifier="NUM"/>'
              '<qti-variable identifier="RESPONSE"/></qti-string-match>'),
         "an operand of <string_match> must be"),
    ],
)  # fmt: skip
def test_items_with_inconsistent_rules_are_refused_at_load(processing: str, reason: str) -> None:
    with pytest.raises(ItemFormatError) as caught:
        parse_item(_item(processing))
    assert reason in caught.value.detail


def test_templates_are_checked_against_the_item() -> None:
    xml = f"""<qti-assessment-item xmlns="{QTI3}" identifier="i" title="t">
  <qti-response-declaration identifier="RESPONSE" cardinality="single" base-type="identifier"/>
  <qti-outcome-declaration identifier="SCORE" cardinality="single" base-type="float"/>
  <qti-item-body><p>x</p></qti-item-body>
  <qti-response-processing
    template="https://purl.imsglobal.org/spec/qti/v3p0/rptemplates/map_response.xml"/>
</qti-assessment-item>"""
    with pytest.raises(ItemFormatError) as caught:
        parse_item(xml.encode())
    assert "template map_response" in caught.value.detail
    assert "needs a mapping on 'RESPONSE'" in caught.value.detail


def test_rules_round_trip_through_the_stored_dict() -> None:
    item = parse_item(
        _item(
            "<qti-response-condition><qti-response-if><qti-gt>"
            '<qti-variable identifier="NUM"/><qti-base-value base-type="integer">3</qti-base-value>'
            "</qti-gt>"
            + _set('<qti-base-value base-type="float">1</qti-base-value>')
            + "</qti-response-if>"
            "<qti-response-else>" + _set("<qti-null/>") + "</qti-response-else>"
            "</qti-response-condition><qti-exit-response/>"
        )
    )
    stored: dict[str, Any] = item.to_dict()
    rules = stored["response_processing"]["rules"]
    assert rules[0]["rule"] == "response_condition"
    assert rules[0]["branches"][0]["condition"]["op"] == "gt"
    assert rules[1] == {"rule": "exit_response"}
    assert ItemDefinition.from_dict(stored) == item
