"""Response shapes: validation, normalization and the published JSON Schemas."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st

from waa_ads.content.item.definition import (
    BaseType,
    Cardinality,
    Choice,
    Interaction,
    InteractionType,
    ResponseDeclaration,
)
from waa_ads.content.item.responses import (
    ResponseShapeError,
    format_qti_value,
    normalize_value,
    parse_qti_value,
    response_schema,
    validate_response,
)

SHA = "ab" * 32
FILE = {"sha256": SHA, "name": "report.pdf", "content_type": "application/pdf", "size": 1024}


def decl(card: str, base: str | None, identifier: str = "RESPONSE") -> ResponseDeclaration:
    return ResponseDeclaration(
        identifier=identifier,
        cardinality=Cardinality(card),
        base_type=None if base is None else BaseType(base),
    )


VALID: list[tuple[str, str | None, Any, Any]] = [
    # cardinality, base type, given, normalized
    ("single", "identifier", "ChoiceA", "ChoiceA"),
    ("single", "identifier", None, None),
    ("single", "boolean", True, True),
    ("single", "boolean", False, False),
    ("single", "integer", 42, 42),
    ("single", "integer", 42.0, 42),
    ("single", "integer", " -7 ", -7),
    ("single", "float", 3.5, 3.5),
    ("single", "float", 3, 3.0),
    ("single", "float", "2.5e1", 25.0),
    ("single", "float", ".5", 0.5),
    ("single", "string", "Paris", "Paris"),
    ("single", "string", "", None),
    ("single", "string", "  spaced  ", "  spaced  "),
    ("single", "point", "10 20", [10, 20]),
    ("single", "point", [10, 20], [10, 20]),
    ("single", "point", [-3, 4.0], [-3, 4]),
    ("single", "pair", "B A", ["A", "B"]),
    ("single", "pair", ["B", "A"], ["A", "B"]),
    ("single", "directedPair", "B A", ["B", "A"]),
    ("single", "directedPair", ["B", "A"], ["B", "A"]),
    ("single", "duration", 12.5, 12.5),
    ("single", "file", FILE, FILE),
    ("single", "file", {**FILE, "sha256": SHA.upper()}, FILE),
    ("single", "uri", "https://example.org/x", "https://example.org/x"),
    ("single", "intOrIdentifier", 3, 3),
    ("single", "intOrIdentifier", "A", "A"),
    ("multiple", "identifier", ["A", "C"], ["A", "C"]),
    ("multiple", "identifier", [], None),
    ("multiple", "directedPair", ["A X", ["B", "Y"]], [["A", "X"], ["B", "Y"]]),
    ("multiple", "pair", ["B A", "C D"], [["A", "B"], ["C", "D"]]),
    ("multiple", "point", ["1 2", [3, 4]], [[1, 2], [3, 4]]),
    ("multiple", "string", ["a", "", "a"], ["a", "a"]),
    ("multiple", "float", [1, 1], [1.0, 1.0]),
    ("multiple", "string", [""], None),
    ("ordered", "identifier", ["C", "A", "B"], ["C", "A", "B"]),
    ("ordered", "identifier", ["A", "A"], ["A", "A"]),
    ("record", None, {"x": 1, "y": "two", "z": None}, {"x": 1, "y": "two"}),
    ("record", None, {}, None),
]

INVALID: list[tuple[str, str | None, Any, str]] = [
    # cardinality, base type, given, fragment of the reason
    ("single", "identifier", 5, "expected an identifier string, got an integer"),
    ("single", "identifier", "two words", "expected an identifier string, got 'two words'"),
    ("single", "identifier", "", "expected an identifier string"),
    ("single", "identifier", ["A"], "expected a single value, got a list"),
    ("single", "boolean", "true", "expected true or false"),
    ("single", "boolean", 1, "expected true or false"),
    ("single", "integer", 4.5, "expected an integer, got a number"),
    ("single", "integer", True, "expected an integer, got a boolean"),
    ("single", "integer", "4.5", "expected an integer"),
    ("single", "float", "pi", "expected a number, got 'pi'"),
    ("single", "float", "1_000", "expected a number"),
    ("single", "float", float("inf"), "expected a finite number"),
    ("single", "float", "nan", "expected a number"),
    ("single", "point", "10,20", "expected a point"),
    ("single", "point", [1, 2, 3], "expected a point"),
    ("single", "point", [1.5, 2], "expected a point"),
    ("single", "pair", "A", "expected a pair"),
    ("single", "pair", ["A", 1], "a pair holds two identifiers"),
    ("single", "directedPair", "A B C", "expected a pair"),
    ("single", "duration", -1, "a duration cannot be negative"),
    ("single", "file", "report.pdf", "expected a file object, got a string"),
    ("single", "file", {**FILE, "extra": 1}, "unexpected extra"),
    ("single", "file", {"sha256": SHA}, "missing name, content_type, size"),
    ("single", "file", {**FILE, "sha256": "xyz"}, "64 hexadecimal digits"),
    ("single", "file", {**FILE, "size": -1}, "non-negative integer"),
    ("single", "file", {**FILE, "content_type": "pdf"}, "must be a media type"),
    ("single", "intOrIdentifier", 1.5, "expected an integer or an identifier"),
    ("multiple", "identifier", "A", "expected a list (multiple response), got a string"),
    ("multiple", "identifier", ["A", "A"], "'A' is given twice in a multiple response"),
    ("multiple", "pair", ["A B", "B A"], "'A B' is given twice"),
    ("multiple", "identifier", ["A", None], "item 1 of the list is null"),
    ("multiple", "identifier", ["A", 3], "RESPONSE[1]"),
    ("ordered", "identifier", {"a": 1}, "expected a list (ordered response), got an object"),
    ("record", None, [1], "expected an object (record response), got a list"),
    ("record", None, {"x": [1]}, "record field 'x' must be a string, number or boolean"),
]


@pytest.mark.parametrize(("card", "base", "given", "expected"), VALID)
def test_valid_responses_normalize(card: str, base: str | None, given: Any, expected: Any) -> None:
    assert validate_response(decl(card, base), given) == expected


@pytest.mark.parametrize(("card", "base", "given", "reason"), INVALID)
def test_invalid_responses_name_the_problem(
    card: str, base: str | None, given: Any, reason: str
) -> None:
    with pytest.raises(ResponseShapeError) as caught:
        validate_response(decl(card, base), given)
    assert reason in caught.value.detail
    assert caught.value.detail.startswith("response 'RESPONSE")
    assert caught.value.status_code == 422


def choice_interaction(**extra: Any) -> Interaction:
    return Interaction(
        type=InteractionType.CHOICE,
        response_identifier="RESPONSE",
        choices=(Choice(identifier="A"), Choice(identifier="B"), Choice(identifier="C")),
        **extra,
    )


def test_interaction_constraints_are_enforced() -> None:
    declaration = decl("multiple", "identifier")
    interaction = choice_interaction(max_choices=2)
    assert validate_response(declaration, ["A", "B"], interaction) == ["A", "B"]
    with pytest.raises(ResponseShapeError, match="3 values given but the interaction allows 2"):
        validate_response(declaration, ["A", "B", "C"], interaction)
    with pytest.raises(ResponseShapeError, match="'Z' is not a choice of this interaction"):
        validate_response(declaration, ["Z"], interaction)
    # minimums are not enforced: a partial answer is scored as given
    assert validate_response(declaration, ["A"], choice_interaction(min_choices=2)) == ["A"]


def test_pair_responses_must_pair_the_interactions_choices() -> None:
    match = Interaction(
        type=InteractionType.MATCH,
        response_identifier="RESPONSE",
        match_sets=(
            (Choice(identifier="A"), Choice(identifier="B")),
            (Choice(identifier="X"), Choice(identifier="Y")),
        ),
    )
    declaration = decl("multiple", "directedPair")
    assert validate_response(declaration, ["A X"], match) == [["A", "X"]]
    with pytest.raises(ResponseShapeError, match="'X A' does not pair choices"):
        validate_response(declaration, ["X A"], match)


def test_slider_bounds_and_upload_types() -> None:
    slider = Interaction(
        type=InteractionType.SLIDER, response_identifier="RESPONSE", lower_bound=0, upper_bound=10
    )
    assert validate_response(decl("single", "integer"), 10, slider) == 10
    with pytest.raises(ResponseShapeError, match="above the slider's upper bound"):
        validate_response(decl("single", "integer"), 11, slider)
    upload = Interaction(
        type=InteractionType.UPLOAD, response_identifier="RESPONSE", upload_types=("image/png",)
    )
    with pytest.raises(ResponseShapeError, match="file type 'application/pdf' is not accepted"):
        validate_response(decl("single", "file"), FILE, upload)


def test_order_responses_may_not_repeat_a_choice() -> None:
    order = Interaction(
        type=InteractionType.ORDER,
        response_identifier="RESPONSE",
        choices=(Choice(identifier="A"), Choice(identifier="B")),
    )
    with pytest.raises(ResponseShapeError, match="names a choice twice"):
        validate_response(decl("ordered", "identifier"), ["A", "A"], order)


@pytest.mark.parametrize(("card", "base", "given", "expected"), VALID)
def test_the_schema_accepts_every_valid_response(
    card: str, base: str | None, given: Any, expected: Any
) -> None:
    jsonschema.validate(given, response_schema(decl(card, base)))


# Values the schema can judge on its own (repeats that differ only in notation cannot be
# told apart by JSON Schema; validate_response is documented as the authority there).
@pytest.mark.parametrize(
    ("card", "base", "given", "reason"),
    [case for case in INVALID if "given twice" not in case[3] and "allows" not in case[3]],
)
def test_the_schema_rejects_invalid_shapes(
    card: str, base: str | None, given: Any, reason: str
) -> None:
    if reason == "expected a finite number":
        return  # JSON cannot carry infinity; there is nothing for a schema to reject
    schema = response_schema(decl(card, base))
    assert not jsonschema.Draft202012Validator(schema).is_valid(given)


def test_schema_with_an_interaction_lists_choices_and_limits() -> None:
    schema = response_schema(decl("multiple", "identifier"), choice_interaction(max_choices=2))
    validator = jsonschema.Draft202012Validator(schema)
    assert validator.is_valid(["A", "B"])
    assert not validator.is_valid(["A", "Z"])
    assert not validator.is_valid(["A", "B", "C"])
    assert not validator.is_valid(["A", "A"])
    jsonschema.Draft202012Validator.check_schema(schema)


json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5),
    st.floats(-10, 10, allow_nan=False, allow_infinity=False),
    st.sampled_from(["A", "B", "", "x y", "1 2", "3", "2.5", "A B", "https://x"]),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["a", "b"]), inner),
    max_leaves=6,
)
declarations = st.builds(
    decl,
    st.sampled_from(["single", "multiple", "ordered"]),
    st.sampled_from(
        [
            "identifier",
            "boolean",
            "integer",
            "float",
            "string",
            "point",
            "pair",
            "directedPair",
            "duration",
            "uri",
        ]
    ),
)


@given(declarations, json_values)
def test_schema_agrees_with_validation(declaration: ResponseDeclaration, value: Any) -> None:
    """Whatever validates is accepted by the schema; and whatever the schema accepts
    validates, unless it repeats a value under two notations."""
    schema = response_schema(declaration)
    accepted = jsonschema.Draft202012Validator(schema).is_valid(value)
    problem: str | None = None
    try:
        normalized = validate_response(declaration, value)
    except ResponseShapeError as exc:
        problem = exc.detail
    if problem is not None:
        assert not accepted or "twice" in problem
        return
    assert accepted
    # normalizing is idempotent
    assert validate_response(declaration, normalized) == normalized


@pytest.mark.parametrize(
    ("base", "text", "value"),
    [
        ("identifier", " A ", "A"),
        ("string", " keep spaces ", " keep spaces "),
        ("boolean", "true", True),
        ("boolean", "0", False),
        ("integer", "12", 12),
        ("float", "0.25", 0.25),
        ("point", "3 4", [3, 4]),
        ("pair", "B A", ["A", "B"]),
        ("directedPair", "B A", ["B", "A"]),
    ],
)
def test_qti_text_values_round_trip(base: str, text: str, value: Any) -> None:
    base_type = BaseType(base)
    assert parse_qti_value(base_type, text) == value
    assert parse_qti_value(base_type, format_qti_value(base_type, value)) == value


def test_qti_text_values_refuse_garbage() -> None:
    with pytest.raises(ValueError, match="not a boolean"):
        parse_qti_value(BaseType.BOOLEAN, "yes")
    with pytest.raises(ValueError, match="not a valid integer value"):
        parse_qti_value(BaseType.INTEGER, "1.5")
    with pytest.raises(ValueError, match="file values"):
        parse_qti_value(BaseType.FILE, "x")


def test_normalize_value_without_base_type_is_refused() -> None:
    with pytest.raises(ResponseShapeError, match="no base type"):
        normalize_value(Cardinality.SINGLE, None, "A")
