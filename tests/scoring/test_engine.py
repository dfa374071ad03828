"""The response processing engine, table by table: templates on every interaction type
(in both QTI versions), every operator, and the edge cases the specification spells out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from waa_ads.content.interchange.qti.reader import parse_item
from waa_ads.content.item.definition import (
    AreaMapEntry,
    AreaMapping,
    BaseType,
    Cardinality,
    Expression,
    ItemDefinition,
    MapEntry,
    OutcomeDeclaration,
    ResponseDeclaration,
    ResponseMapping,
    ResponseProcessing,
    Rule,
    Shape,
)
from waa_ads.content.item.validation import validate_item
from waa_ads.scoring.engine import compile_item, evaluate, inside

FIXTURES = Path(__file__).parent.parent / "fixtures" / "items" / "qti"
SHA = "0f" * 32
PDF = {"sha256": SHA, "name": "r.pdf", "content_type": "application/pdf", "size": 10}
PNG = {**PDF, "content_type": "image/png"}

# (fixture stem, response to RESPONSE, expected outcomes, fragment of the note or None)
TEMPLATE_CASES: list[tuple[str, Any, dict[str, Any], str | None]] = [
    # match_correct, single identifier
    ("choice_single", "jupiter", {"SCORE": 1.0, "MAXSCORE": 1.0}, None),
    ("choice_single", "earth", {"SCORE": 0.0, "MAXSCORE": 1.0}, None),
    ("choice_single", None, {"SCORE": 0.0}, None),
    ("choice_single", "pluto", {"SCORE": 0.0}, "'pluto' is not a choice"),
    ("choice_single", ["jupiter"], {"SCORE": 0.0}, "expected a single value"),
    # map_response, multiple identifier, negative marking with a floor and a ceiling
    ("choice_multiple", ["p2", "p3", "p5"], {"SCORE": 3.0, "MAXSCORE": 3.0}, None),
    ("choice_multiple", ["p5", "p3", "p2"], {"SCORE": 3.0}, None),
    ("choice_multiple", ["p2", "p3", "p5", "n4"], {"SCORE": 2.0}, None),
    ("choice_multiple", ["p2", "n4", "n9"], {"SCORE": 0.0}, None),
    ("choice_multiple", ["n4"], {"SCORE": 0.0}, None),
    ("choice_multiple", [], {"SCORE": 0.0}, None),
    ("choice_multiple", None, {"SCORE": 0.0}, None),
    ("choice_multiple", ["p2", "p2"], {"SCORE": 0.0}, "'p2' is given twice"),
    # map_response, single string, case-insensitive and case-sensitive entries
    ("text_entry", "Paris", {"SCORE": 2.0, "MAXSCORE": 2.0}, None),
    ("text_entry", "pARIS", {"SCORE": 2.0}, None),
    ("text_entry", "Lutetia", {"SCORE": 1.0}, None),
    ("text_entry", "lutetia", {"SCORE": 0.0}, None),
    ("text_entry", " Paris", {"SCORE": 0.0}, None),
    ("text_entry", "", {"SCORE": 0.0}, None),
    ("text_entry", 42, {"SCORE": 0.0}, "expected a string, got an integer"),
    # custom rules: equal with absolute tolerance (bounds inclusive), then equalRounded
    ("numeric_entry", 3.14, {"SCORE": 1.0, "FEEDBACK": "exact"}, None),
    ("numeric_entry", 3.15, {"SCORE": 1.0, "FEEDBACK": "exact"}, None),
    ("numeric_entry", 3.13, {"SCORE": 1.0, "FEEDBACK": "exact"}, None),
    ("numeric_entry", "3.14", {"SCORE": 1.0}, None),
    ("numeric_entry", 3.151, {"SCORE": 0.0, "FEEDBACK": "wrong"}, None),
    ("numeric_entry", 3.1, {"SCORE": 0.5, "FEEDBACK": "close"}, None),
    ("numeric_entry", 3.0999, {"SCORE": 0.5, "FEEDBACK": "close"}, None),
    ("numeric_entry", None, {"SCORE": 0.0, "FEEDBACK": "empty"}, None),
    ("numeric_entry", "three", {"SCORE": 0.0, "FEEDBACK": "empty"}, "expected a number"),
    # match_correct, inline choice
    ("inline_choice", "c100", {"SCORE": 1.0}, None),
    ("inline_choice", "c90", {"SCORE": 0.0}, None),
    # match_correct, ordered: order matters
    ("order", ["mercury", "venus", "earth"], {"SCORE": 1.0}, None),
    ("order", ["venus", "mercury", "earth"], {"SCORE": 0.0}, None),
    ("order", ["mercury", "venus"], {"SCORE": 0.0}, None),
    ("order", ["mercury", "mercury", "venus"], {"SCORE": 0.0}, "names a choice twice"),
    # map_response, multiple directedPair, negative entry floored at 0
    ("match", ["fr paris", "de berlin", "it rome"], {"SCORE": 3.0, "MAXSCORE": 3.0}, None),
    ("match", [["fr", "paris"], "de berlin"], {"SCORE": 2.0}, None),
    ("match", ["fr madrid", "de berlin"], {"SCORE": 0.5}, None),
    ("match", ["fr madrid"], {"SCORE": 0.0}, None),
    ("match", ["paris fr"], {"SCORE": 0.0}, "'paris fr' does not pair choices"),
    (
        "match",
        ["fr paris", "de berlin", "it rome", "fr madrid"],
        {"SCORE": 0.0},
        "4 values given but the interaction allows 3",
    ),
    # map_response, multiple pair: unordered pairs, default value for unmapped pairs
    ("associate", ["hot cold", "up down"], {"SCORE": 2.0, "MAXSCORE": 2.0}, None),
    ("associate", ["cold hot"], {"SCORE": 1.0}, None),
    ("associate", ["hot cold", "hot up"], {"SCORE": 0.0}, None),
    ("associate", ["hot up"], {"SCORE": 0.0}, None),
    ("associate", ["cold hot", "hot cold"], {"SCORE": 0.0}, "given twice"),
    # match_correct, multiple directedPair: containers compare as bags
    ("gap_match", ["co2 g1", "o2 g2"], {"SCORE": 1.0}, None),
    ("gap_match", ["o2 g2", "co2 g1"], {"SCORE": 1.0}, None),
    ("gap_match", ["co2 g1"], {"SCORE": 0.0}, None),
    ("gap_match", ["g1 co2"], {"SCORE": 0.0}, "does not pair choices"),
    ("hottext", ["v2", "v1"], {"SCORE": 1.0}, None),
    ("hottext", ["v1", "n1"], {"SCORE": 0.0}, None),
    ("hotspot", "lake", {"SCORE": 1.0}, None),
    ("hotspot", "forest", {"SCORE": 0.0}, None),
    # map_response_point: each area once, default per point in no area, bounds
    ("select_point", [[100, 100], [300, 200]], {"SCORE": 2.0, "MAXSCORE": 2.0}, None),
    ("select_point", ["100 100"], {"SCORE": 1.0}, None),
    ("select_point", [[105, 105], [110, 90]], {"SCORE": 1.0}, None),
    ("select_point", [[120, 100]], {"SCORE": 1.0}, None),  # on the circle's edge
    ("select_point", [[340, 200]], {"SCORE": 1.0}, None),  # on the ellipse's edge
    ("select_point", [[100, 100], [500, 500]], {"SCORE": 0.5}, None),
    ("select_point", [[500, 500]], {"SCORE": 0.0}, None),
    ("select_point", "100 100", {"SCORE": 0.0}, "expected a list"),
    # no response processing: outcomes keep their defaults (numeric ones start at 0)
    ("extended_text", "The water cycle...", {"SCORE": 0.0}, None),
    ("extended_text", 5, {"SCORE": 0.0}, "expected a string"),
    ("upload", PDF, {"SCORE": 0.0}, None),
    ("upload", PNG, {"SCORE": 0.0}, "file type 'image/png' is not accepted"),
    # custom rules on an integer slider
    ("slider", 32, {"SCORE": 2.0}, None),
    ("slider", 30, {"SCORE": 1.0}, None),
    ("slider", 34, {"SCORE": 1.0}, None),
    ("slider", 35, {"SCORE": 0.0}, None),
    ("slider", 101, {"SCORE": 0.0}, "above the slider's upper bound"),
    # CC2_match_basic: SCORE takes MAXSCORE; otherwise SCORE keeps its default
    ("true_false", False, {"SCORE": 1.0, "MAXSCORE": 1.0, "FEEDBACKBASIC": "correct"}, None),
    ("true_false", True, {"SCORE": 0.0, "FEEDBACKBASIC": "incorrect"}, None),
    ("true_false", None, {"SCORE": 0.0, "FEEDBACKBASIC": "incorrect"}, None),
    ("true_false", "false", {"SCORE": 0.0}, "expected true or false"),
]


def _fixture_items(stem: str) -> list[ItemDefinition]:
    paths = sorted(FIXTURES.glob(f"{stem}.*.xml"))
    assert len(paths) == 2
    return [parse_item(p.read_bytes()) for p in paths]


@pytest.mark.parametrize(("stem", "response", "expected", "note"), TEMPLATE_CASES)
def test_templates_and_rules_on_every_interaction(
    stem: str, response: Any, expected: dict[str, Any], note: str | None
) -> None:
    for item in _fixture_items(stem):
        result = evaluate(item, {"RESPONSE": response})
        for key, value in expected.items():
            assert result.outcomes[key] == value, (item.identifier, key, result)
        if note is None:
            assert result.notes == []
        else:
            assert len(result.notes) == 1
            assert note in result.notes[0]
            assert result.notes[0].endswith("treated as no response")


def test_maxscore_is_reported_when_declared_or_derivable() -> None:
    essay = _fixture_items("extended_text")[0]
    assert "MAXSCORE" not in evaluate(essay, {}).outcomes  # human-scored: nothing to derive
    slider = _fixture_items("slider")[0]
    assert "MAXSCORE" not in evaluate(slider, {"RESPONSE": 32}).outcomes  # custom rules
    declared = _fixture_items("choice_multiple")[0]
    assert evaluate(declared, {}).outcomes["MAXSCORE"] == 3.0


def test_undeclared_responses_are_noted_and_ignored() -> None:
    item = _fixture_items("choice_single")[0]
    result = evaluate(item, {"RESPONSE": "jupiter", "OTHER": 1, "numAttempts": 2})
    assert result.outcomes["SCORE"] == 1.0
    assert result.notes == ["ignored a response for 'OTHER', which the item does not declare"]
    assert evaluate(item, "jupiter").notes == [  # type: ignore[arg-type]
        "responses must be an object keyed by response identifier"
    ]


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5)
                    | st.floats(allow_nan=True), lambda x: st.lists(x, max_size=3)
                    | st.dictionaries(st.text(max_size=3), x, max_size=3), max_leaves=8))  # fmt: skip
def test_no_response_ever_raises(garbage: Any) -> None:
    for path in FIXTURES.glob("*.v3p0.xml"):
        item = parse_item(path.read_bytes())
        result = evaluate(item, {"RESPONSE": garbage})
        assert isinstance(result.outcomes["SCORE"], float)


# --- operators ----------------------------------------------------------------------------------


def d(identifier: str, card: str, base: str | None, **extra: Any) -> ResponseDeclaration:
    return ResponseDeclaration(
        identifier=identifier,
        cardinality=Cardinality(card),
        base_type=None if base is None else BaseType(base),
        **extra,
    )


DECLARATIONS = (
    d("ID", "single", "identifier", correct_response="A", default_value="B"),
    d("MULT", "multiple", "identifier", correct_response=["A", "B"]),
    d("ORD", "ordered", "identifier", correct_response=["A", "B", "C"]),
    d("STR", "single", "string"),
    d("INT", "single", "integer"),
    d("FLT", "single", "float"),
    d("PT", "multiple", "point"),
    d("SPT", "single", "point"),
    d("REC", "record", None),
    d(
        "MAP",
        "single",
        "identifier",
        mapping=ResponseMapping(
            default_value=0.5, lower_bound=1.0, entries=(MapEntry(key="A", value=3.0),)
        ),
    ),
    d(
        "AREA",
        "single",
        "point",
        area_mapping=AreaMapping(
            default_value=-1.0,
            entries=(
                AreaMapEntry(shape=Shape.RECT, coords=(0, 0, 10, 10), value=2.0),
                AreaMapEntry(shape=Shape.DEFAULT, value=0.25),
            ),
        ),
    ),
)
OUTCOMES = (
    OutcomeDeclaration(identifier="BOOL", base_type=BaseType.BOOLEAN),
    OutcomeDeclaration(identifier="FLOAT", base_type=BaseType.FLOAT),
    OutcomeDeclaration(identifier="INTEGER", base_type=BaseType.INTEGER),
    OutcomeDeclaration(identifier="IDENT", base_type=BaseType.IDENTIFIER),
    OutcomeDeclaration(identifier="STRING", base_type=BaseType.STRING),
    OutcomeDeclaration(
        identifier="MULTI", cardinality=Cardinality.MULTIPLE, base_type=BaseType.IDENTIFIER
    ),
    OutcomeDeclaration(
        identifier="ORDER", cardinality=Cardinality.ORDERED, base_type=BaseType.IDENTIFIER
    ),
    OutcomeDeclaration(identifier="DEFAULTED", base_type=BaseType.FLOAT, default_value=7.5),
)


def op(operator: str, /, *args: Expression, **attrs: Any) -> Expression:
    return Expression(op=operator, args=args, attrs=attrs)


def var(identifier: str) -> Expression:
    return op("variable", identifier=identifier)


def val(base: str, value: Any) -> Expression:
    return op("base_value", base_type=base, value=value)


def num(value: float) -> Expression:
    return val("float", float(value))


def integer(value: int) -> Expression:
    return val("integer", value)


def ident(value: str) -> Expression:
    return val("identifier", value)


NULL = op("null")


def item_with(rules: list[dict[str, Any]] | tuple[Rule, ...]) -> ItemDefinition:
    processing = ResponseProcessing.model_validate({"rules": rules})
    item = ItemDefinition(
        identifier="ops",
        title="operators",
        body='<qti-item-body xmlns="http://www.imsglobal.org/xsd/imsqtiasi_v3p0"/>',
        response_declarations=DECLARATIONS,
        outcome_declarations=OUTCOMES,
        response_processing=processing,
    )
    validate_item(item)
    return item


def set_rule(target: str, expression: Expression) -> dict[str, Any]:
    return {"rule": "set_outcome_value", "identifier": target, "expression": expression}


def outcome_of(target: str, expression: Expression, responses: dict[str, Any]) -> Any:
    result = evaluate(item_with([set_rule(target, expression)]), responses)
    assert result.notes == [], result.notes
    return result.outcomes[target]


R: dict[str, Any] = {
    "ID": "A",
    "MULT": ["B", "A"],
    "ORD": ["A", "B", "C"],
    "STR": "Hello World",
    "INT": 7,
    "FLT": 2.5,
    "PT": [[5, 5], [20, 20]],
    "SPT": [3, 4],
    "REC": {"x": 1.5, "name": "box", "ok": True},
}

# (target outcome, expression, responses, expected value)
OPERATOR_CASES: list[tuple[str, Expression, dict[str, Any], Any]] = [
    # values
    ("IDENT", var("ID"), R, "A"),
    ("IDENT", op("correct", identifier="ID"), {}, "A"),
    ("IDENT", op("default", identifier="ID"), {}, "B"),
    ("FLOAT", op("default", identifier="DEFAULTED"), {}, 7.5),
    ("FLOAT", NULL, {}, None),
    ("INTEGER", var("numAttempts"), {}, 1),
    ("INTEGER", var("numAttempts"), {"numAttempts": 3}, 3),
    ("FLOAT", op("math_constant", name="pi"), {}, 3.141592653589793),
    # match: NULL in, NULL out; bags and sequences
    ("BOOL", op("match", var("ID"), op("correct", identifier="ID")), R, True),
    ("BOOL", op("match", var("ID"), ident("B")), R, False),
    ("BOOL", op("match", var("ID"), op("correct", identifier="ID")), {}, None),
    ("BOOL", op("match", var("MULT"), op("correct", identifier="MULT")), R, True),
    ("BOOL", op("match", var("ORD"), op("correct", identifier="ORD")), R, True),
    ("BOOL", op("match", var("ORD"), op("correct", identifier="ORD")), {"ORD": ["B", "A", "C"]}, False),
    ("BOOL", op("match", var("SPT"), val("point", [3, 4])), R, True),
    # member / contains
    ("BOOL", op("member", ident("A"), var("MULT")), R, True),
    ("BOOL", op("member", ident("C"), var("MULT")), R, False),
    ("BOOL", op("member", ident("C"), var("MULT")), {}, None),
    ("BOOL", op("contains", var("MULT"), op("multiple", ident("A"))), R, True),
    ("BOOL", op("contains", var("MULT"), op("multiple", ident("A"), ident("D"))), R, False),
    ("BOOL", op("contains", var("ORD"), op("ordered", ident("B"), ident("C"))), R, True),
    ("BOOL", op("contains", var("ORD"), op("ordered", ident("A"), ident("C"))), R, False),
    # isNull: NULL, empty container and empty string are all NULL
    ("BOOL", op("is_null", var("ID")), {}, True),
    ("BOOL", op("is_null", var("MULT")), {"MULT": []}, True),
    ("BOOL", op("is_null", var("STR")), {"STR": ""}, True),
    ("BOOL", op("is_null", var("STR")), R, False),
    ("BOOL", op("is_null", op("multiple", NULL, NULL)), {}, True),
    # containers
    ("MULTI", op("multiple", ident("A"), NULL, op("multiple", ident("B"), ident("A"))), {}, ["A", "B", "A"]),
    ("ORDER", op("ordered", ident("C"), ident("A")), {}, ["C", "A"]),
    ("MULTI", op("multiple"), {}, None),
    ("INTEGER", op("container_size", var("MULT")), R, 2),
    ("INTEGER", op("container_size", var("MULT")), {}, 0),
    ("IDENT", op("index", var("ORD"), n=2), R, "B"),
    ("IDENT", op("index", var("ORD"), n=4), R, None),
    ("MULTI", op("delete", ident("A"), var("MULT")), R, ["B"]),
    ("MULTI", op("delete", ident("A"), op("multiple", ident("A"))), {}, None),
    ("FLOAT", op("field_value", var("REC"), field_identifier="x"), R, 1.5),
    ("FLOAT", op("field_value", var("REC"), field_identifier="missing"), R, None),
    # logic, three-valued
    ("BOOL", op("and", val("boolean", True), val("boolean", True)), {}, True),
    ("BOOL", op("and", val("boolean", True), op("is_null", var("ID")), NULL), {}, None),
    ("BOOL", op("and", val("boolean", False), NULL), {}, False),
    ("BOOL", op("or", val("boolean", False), NULL), {}, None),
    ("BOOL", op("or", NULL, val("boolean", True)), {}, True),
    ("BOOL", op("or", val("boolean", False), val("boolean", False)), {}, False),
    ("BOOL", op("not", val("boolean", False)), {}, True),
    ("BOOL", op("not", NULL), {}, None),
    ("BOOL", op("any_n", val("boolean", True), val("boolean", False), val("boolean", True), min=2, max=2), {}, True),
    ("BOOL", op("any_n", val("boolean", True), val("boolean", True), val("boolean", True), min=1, max=2), {}, False),
    ("BOOL", op("any_n", val("boolean", True), NULL, min=2, max=2), {}, None),
    # arithmetic: integers stay integers, any float makes a float, NULL propagates
    ("INTEGER", op("sum", integer(2), integer(3)), {}, 5),
    ("FLOAT", op("sum", integer(2), num(0.5)), {}, 2.5),
    ("FLOAT", op("sum", var("FLT"), var("INT")), {}, None),
    ("FLOAT", op("sum", num(0.1), num(0.2)), {}, 0.30000000000000004),
    ("INTEGER", op("product", integer(2), integer(3), integer(4)), {}, 24),
    ("FLOAT", op("subtract", var("FLT"), integer(1)), R, 1.5),
    ("FLOAT", op("divide", integer(7), integer(2)), {}, 3.5),
    ("FLOAT", op("divide", integer(7), integer(0)), {}, None),
    ("FLOAT", op("power", integer(2), integer(10)), {}, 1024.0),
    ("FLOAT", op("power", integer(0), integer(-1)), {}, None),
    ("INTEGER", op("integer_divide", integer(-7), integer(2)), {}, -4),
    ("INTEGER", op("integer_divide", integer(7), integer(0)), {}, None),
    ("INTEGER", op("integer_modulus", integer(-7), integer(2)), {}, 1),
    ("FLOAT", op("integer_to_float", var("INT")), R, 7.0),
    ("INTEGER", op("round", num(6.5)), {}, 7),
    ("INTEGER", op("round", num(-6.5)), {}, -6),
    ("INTEGER", op("round", num(6.49)), {}, 6),
    ("INTEGER", op("truncate", num(-6.7)), {}, -6),
    ("FLOAT", op("round_to", num(3.14159), figures=3), {}, 3.14),
    ("FLOAT", op("round_to", num(2.675), rounding_mode="decimalPlaces", figures=2), {}, 2.68),
    ("INTEGER", op("max", integer(3), integer(9), integer(4)), {}, 9),
    ("FLOAT", op("min", integer(3), num(1.5)), {}, 1.5),
    ("FLOAT", op("max", integer(3), NULL), {}, None),
    ("INTEGER", op("gcd", integer(12), integer(18)), {}, 6),
    ("INTEGER", op("lcm", integer(4), integer(6)), {}, 12),
    # comparisons
    ("BOOL", op("gt", var("INT"), integer(5)), R, True),
    ("BOOL", op("gte", var("INT"), integer(7)), R, True),
    ("BOOL", op("lt", var("INT"), integer(7)), R, False),
    ("BOOL", op("lte", var("FLT"), num(2.5)), R, True),
    ("BOOL", op("gt", var("INT"), integer(5)), {}, None),
    # equal: exact, absolute and relative tolerance, bounds in and out
    ("BOOL", op("equal", var("FLT"), num(2.5)), R, True),
    ("BOOL", op("equal", var("INT"), num(7.0)), R, True),
    ("BOOL", op("equal", num(3.14), num(3.13), tolerance_mode="absolute", tolerance=[0.01]), {}, True),
    ("BOOL", op("equal", num(3.14), num(3.15), tolerance_mode="absolute", tolerance=[0.01]), {}, True),
    ("BOOL", op("equal", num(3.14), num(3.15), tolerance_mode="absolute", tolerance=[0.01],
                include_upper_bound=False), {}, False),
    ("BOOL", op("equal", num(3.14), num(3.13), tolerance_mode="absolute", tolerance=[0.01],
                include_lower_bound=False), {}, False),
    ("BOOL", op("equal", num(3.14), num(3.1501), tolerance_mode="absolute", tolerance=[0.01]), {}, False),
    ("BOOL", op("equal", num(10), num(9.5), tolerance_mode="absolute", tolerance=[0.5, 0]), {}, True),
    ("BOOL", op("equal", num(10), num(10.1), tolerance_mode="absolute", tolerance=[0.5, 0]), {}, False),
    ("BOOL", op("equal", num(200), num(210), tolerance_mode="relative", tolerance=[5]), {}, True),
    ("BOOL", op("equal", num(200), num(210.2), tolerance_mode="relative", tolerance=[5]), {}, False),
    ("BOOL", op("equal", num(-200), num(-210), tolerance_mode="relative", tolerance=[5]), {}, True),
    ("BOOL", op("equal", var("FLT"), num(1), tolerance_mode="absolute", tolerance=[5]), {}, None),
    # equalRounded: half-up on the decimal as written
    ("BOOL", op("equal_rounded", num(3.14159), num(3.14), figures=3), {}, True),
    ("BOOL", op("equal_rounded", num(3.146), num(3.14), figures=3), {}, False),
    ("BOOL", op("equal_rounded", num(1.005), num(1.01), rounding_mode="decimalPlaces", figures=2), {}, True),
    ("BOOL", op("equal_rounded", num(0.0), num(0.0004), rounding_mode="decimalPlaces", figures=3), {}, True),
    ("BOOL", op("equal_rounded", NULL, num(1), figures=1), {}, None),
    # strings
    ("BOOL", op("string_match", var("STR"), val("string", "hello world"), case_sensitive=False), R, True),
    ("BOOL", op("string_match", var("STR"), val("string", "hello world"), case_sensitive=True), R, False),
    ("BOOL", op("string_match", var("STR"), val("string", "World"), case_sensitive=True, substring=True), R, True),
    ("BOOL", op("string_match", var("STR"), val("string", "x"), case_sensitive=True), {}, None),
    ("BOOL", op("substring", val("string", "WORLD"), var("STR"), case_sensitive=False), R, True),
    ("BOOL", op("substring", val("string", "WORLD"), var("STR")), R, False),
    ("BOOL", op("pattern_match", var("STR"), pattern="Hello [A-Z][a-z]+"), R, True),
    ("BOOL", op("pattern_match", var("STR"), pattern="Hello"), R, False),  # anchored
    ("BOOL", op("pattern_match", var("STR"), pattern=".*"), {}, None),
    # mappings used directly: NULL maps to the default value, then the bounds apply
    ("FLOAT", op("map_response", identifier="MAP"), {"MAP": "A"}, 3.0),
    ("FLOAT", op("map_response", identifier="MAP"), {"MAP": "Z"}, 1.0),
    ("FLOAT", op("map_response", identifier="MAP"), {}, 1.0),
    ("FLOAT", op("map_response_point", identifier="AREA"), {"AREA": [5, 5]}, 2.0),
    ("FLOAT", op("map_response_point", identifier="AREA"), {"AREA": [50, 50]}, 0.25),
    ("FLOAT", op("map_response_point", identifier="AREA"), {}, -1.0),
    # geometry
    ("BOOL", op("inside", var("SPT"), shape="circle", coords=[0, 0, 5]), R, True),
    ("BOOL", op("inside", var("SPT"), shape="circle", coords=[0, 0, 4.9]), R, False),
    ("BOOL", op("inside", var("PT"), shape="rect", coords=[0, 0, 10, 10]), R, True),
    ("BOOL", op("inside", var("SPT"), shape="poly", coords=[0, 0, 6, 0, 6, 8]), R, True),
    ("BOOL", op("inside", var("SPT"), shape="poly", coords=[0, 0, 6, 0, 0, 8]), R, True),  # edge
    ("BOOL", op("inside", var("SPT"), shape="poly", coords=[0, 0, 2, 0, 0, 2]), R, False),
]  # fmt: skip


@pytest.mark.parametrize(("target", "expression", "responses", "expected"), OPERATOR_CASES)
def test_operators(
    target: str, expression: Expression, responses: dict[str, Any], expected: Any
) -> None:
    assert outcome_of(target, expression, responses) == expected


def test_conditions_take_the_first_true_branch_and_null_counts_as_false() -> None:
    def score(rules: Any) -> float:
        return float(evaluate(item_with(rules), R).outcomes["FLOAT"])

    condition = {
        "rule": "response_condition",
        "branches": [
            {"condition": NULL, "rules": [set_rule("FLOAT", num(1))]},
            {"condition": val("boolean", False), "rules": [set_rule("FLOAT", num(2))]},
            {"condition": val("boolean", True), "rules": [set_rule("FLOAT", num(3))]},
            {"condition": val("boolean", True), "rules": [set_rule("FLOAT", num(4))]},
        ],
        "otherwise": [set_rule("FLOAT", num(5))],
    }
    assert score([condition]) == 3.0
    condition["branches"] = condition["branches"][:2]
    assert score([condition]) == 5.0


def test_exit_response_keeps_what_was_set() -> None:
    rules = [set_rule("FLOAT", num(1)), {"rule": "exit_response"}, set_rule("FLOAT", num(2))]
    assert evaluate(item_with(rules), {}).outcomes["FLOAT"] == 1.0


def test_outcome_types_are_kept() -> None:
    result = evaluate(
        item_with([set_rule("FLOAT", integer(2)), set_rule("INTEGER", num(2.75))]), {}
    )
    assert result.outcomes["FLOAT"] == 2.0 and isinstance(result.outcomes["FLOAT"], float)
    assert result.outcomes["INTEGER"] == 2
    assert result.notes == ["INTEGER is an integer outcome; 2.75 was truncated"]
    # outcomes start at their defaults; numeric ones without a default at 0
    untouched = evaluate(item_with([]), {}).outcomes
    assert untouched == {
        "BOOL": None,
        "FLOAT": 0.0,
        "INTEGER": 0,
        "IDENT": None,
        "STRING": None,
        "MULTI": None,
        "ORDER": None,
        "DEFAULTED": 7.5,
    }


def test_unexpected_runtime_values_reset_outcomes_without_raising() -> None:
    # the load-time checks cannot know a record field's type; a string cannot be summed
    rules = [
        set_rule("DEFAULTED", num(1)),
        set_rule("FLOAT", op("sum", op("field_value", var("REC"), field_identifier="name"))),
    ]
    result = evaluate(item_with(rules), R)
    assert result.outcomes["DEFAULTED"] == 7.5
    assert result.outcomes["FLOAT"] == 0.0
    assert result.notes == [
        "response processing stopped: 'box' is not a number; outcomes reset to their defaults"
    ]


# --- named edge cases ----------------------------------------------------------------------------


def test_null_versus_empty_container() -> None:
    item = _fixture_items("choice_multiple")[1]
    responses: tuple[list[str] | None, ...] = (None, [])
    for response in responses:
        assert evaluate(item, {"RESPONSE": response}).outcomes["SCORE"] == 0.0
        assert evaluate(item, {"RESPONSE": response}).notes == []
    # an empty container is NULL for isNull, and matches nothing
    assert outcome_of("BOOL", op("is_null", var("MULT")), {"MULT": []}) is True
    assert outcome_of("BOOL", op("match", var("MULT"), op("multiple")), {"MULT": []}) is None


def test_duplicate_choices_in_a_multiple_response() -> None:
    item = _fixture_items("choice_multiple")[1]
    result = evaluate(item, {"RESPONSE": ["p2", "p3", "p5", "p5"]})
    assert result.outcomes["SCORE"] == 0.0
    assert "'p5' is given twice in a multiple response" in result.notes[0]
    # inside rules, a bag keeps repeats; mapResponse maps each distinct value once
    assert (
        outcome_of("INTEGER", op("container_size", op("multiple", ident("A"), ident("A"))), {}) == 2
    )


def test_mapping_bounds_and_negative_marking_floor() -> None:
    mapping = ResponseMapping(
        default_value=-2.0,
        lower_bound=-1.0,
        upper_bound=1.5,
        entries=(
            MapEntry(key="A", value=1.0),
            MapEntry(key="B", value=1.0),
            MapEntry(key="C", value=-0.5),
        ),
    )
    declaration = d("RESPONSE", "multiple", "identifier", mapping=mapping)
    item = ItemDefinition(
        identifier="bounds",
        title="bounds",
        body='<qti-item-body xmlns="http://www.imsglobal.org/xsd/imsqtiasi_v3p0"/>',
        response_declarations=(declaration,),
        outcome_declarations=(OutcomeDeclaration(identifier="SCORE", base_type=BaseType.FLOAT),),
        response_processing=ResponseProcessing(template="map_response"),
    )
    validate_item(item)
    cases = {
        ("A",): 1.0,
        ("A", "B"): 1.5,  # capped by the upper bound
        ("A", "C"): 0.5,
        ("C",): -0.5,
        ("C", "Z"): -1.0,  # -0.5 + default -2, floored at the lower bound
        ("Z", "Y"): -1.0,
    }
    for response, expected in cases.items():
        assert evaluate(item, {"RESPONSE": list(response)}).outcomes["SCORE"] == expected, response
    assert evaluate(item, {}).outcomes["MAXSCORE"] == 1.5


@pytest.mark.parametrize(
    ("shape", "coords", "point", "expected"),
    [
        (Shape.RECT, (10, 10, 0, 0), (0, 10), True),
        (Shape.RECT, (0, 0, 10, 10), (11, 5), False),
        (Shape.CIRCLE, (0, 0, 5), (3, 4), True),
        (Shape.ELLIPSE, (0, 0, 4, 2), (4, 0), True),
        (Shape.ELLIPSE, (0, 0, 4, 2), (0, 3), False),
        (Shape.POLY, (0, 0, 10, 0, 10, 10, 0, 10, 0, 0), (5, 5), True),
        (Shape.POLY, (0, 0, 10, 0, 5, 10), (9, 9), False),
        (Shape.DEFAULT, (), (999, -5), True),
    ],
)
def test_shapes(
    shape: Shape, coords: tuple[float, ...], point: tuple[int, int], expected: bool
) -> None:
    assert inside(shape, coords, point) is expected


def test_compiled_programs_are_cached_per_item() -> None:
    item = _fixture_items("choice_single")[0]
    assert compile_item(item) is compile_item(item)
    other = parse_item(next(FIXTURES.glob("choice_single.v3p0.xml")).read_bytes())
    assert compile_item(other) is not compile_item(item)
