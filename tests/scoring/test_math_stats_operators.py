"""mathOperator, statsOperator, repeat, index with a variable ``n`` and the duration
comparisons: evaluated as QTI 2.2/3.0 define them (NULL in, NULL out; a value outside a
function's domain is NULL; floor, ceil and signum give integers, the other functions and
the statistics floats), and refused when an item could not use them sensibly."""

from __future__ import annotations

import math
from typing import Any

import pytest

from waa_ads.content.item.definition import (
    BaseType,
    Cardinality,
    Expression,
    ItemDefinition,
    ItemFormatError,
    OutcomeDeclaration,
    ResponseDeclaration,
    ResponseProcessing,
)
from waa_ads.content.item.validation import validate_item
from waa_ads.scoring.engine import MAX_REPEAT_VALUES, evaluate


def op(operator: str, /, *args: Expression, **attrs: Any) -> Expression:
    return Expression(op=operator, args=args, attrs=attrs)


def var(identifier: str) -> Expression:
    return op("variable", identifier=identifier)


def num(value: float) -> Expression:
    return op("base_value", base_type="float", value=float(value))


def integer(value: int) -> Expression:
    return op("base_value", base_type="integer", value=value)


def math_op(name: str, *args: Expression) -> Expression:
    return op("math_operator", *args, name=name)


def stats(name: str, *values: Expression, ordered: bool = False) -> Expression:
    return op("stats_operator", op("ordered" if ordered else "multiple", *values), name=name)


NULL = op("null")

RESPONSES = (
    ResponseDeclaration(
        identifier="INT", cardinality=Cardinality.SINGLE, base_type=BaseType.INTEGER
    ),
    ResponseDeclaration(identifier="FLT", cardinality=Cardinality.SINGLE, base_type=BaseType.FLOAT),
    ResponseDeclaration(
        identifier="NUMS", cardinality=Cardinality.MULTIPLE, base_type=BaseType.FLOAT
    ),
    ResponseDeclaration(
        identifier="ORD", cardinality=Cardinality.ORDERED, base_type=BaseType.IDENTIFIER
    ),
    ResponseDeclaration(
        identifier="STR", cardinality=Cardinality.SINGLE, base_type=BaseType.STRING
    ),
    ResponseDeclaration(identifier="REC", cardinality=Cardinality.RECORD),
    ResponseDeclaration(
        identifier="TIME", cardinality=Cardinality.SINGLE, base_type=BaseType.DURATION
    ),
)
OUTCOMES = (
    OutcomeDeclaration(identifier="FLOAT", base_type=BaseType.FLOAT),
    OutcomeDeclaration(identifier="INTEGER", base_type=BaseType.INTEGER),
    OutcomeDeclaration(identifier="BOOL", base_type=BaseType.BOOLEAN),
    OutcomeDeclaration(
        identifier="ORDER", cardinality=Cardinality.ORDERED, base_type=BaseType.IDENTIFIER
    ),
    OutcomeDeclaration(
        identifier="NUMBERS", cardinality=Cardinality.ORDERED, base_type=BaseType.INTEGER
    ),
    OutcomeDeclaration(identifier="COUNT", base_type=BaseType.INTEGER, default_value=2),
)


def item_with(target: str, expression: Expression) -> ItemDefinition:
    processing = ResponseProcessing.model_validate(
        {"rules": [{"rule": "set_outcome_value", "identifier": target, "expression": expression}]}
    )
    item = ItemDefinition(
        identifier="ops",
        title="operators",
        body='<qti-item-body xmlns="http://www.imsglobal.org/xsd/imsqtiasi_v3p0"/>',
        response_declarations=RESPONSES,
        outcome_declarations=OUTCOMES,
        response_processing=processing,
    )
    validate_item(item)
    return item


def outcome_of(target: str, expression: Expression, responses: dict[str, Any] | None = None) -> Any:
    result = evaluate(item_with(target, expression), responses or {})
    assert result.notes == [], result.notes
    return result.outcomes[target]


PI = math.pi

# (function, arguments, expected): every name of QTI 2.2 / 3.0, in and out of its domain
MATH_CASES: list[tuple[str, tuple[float, ...], Any]] = [
    ("sin", (PI / 2,), 1.0),
    ("sin", (0,), 0.0),
    ("cos", (0,), 1.0),
    ("tan", (PI / 4,), 0.9999999999999999),
    ("sec", (0,), 1.0),
    ("csc", (PI / 2,), 1.0),
    ("csc", (0,), None),  # sin is 0: the reciprocal is NULL
    ("cot", (PI / 4,), 1.0000000000000002),
    ("cot", (0,), None),  # tan is 0
    ("asin", (1,), PI / 2),
    ("asin", (2,), None),  # outside [-1, 1]
    ("acos", (1,), 0.0),
    ("acos", (-1.5,), None),
    ("atan", (1,), PI / 4),
    ("atan2", (1, 1), PI / 4),
    ("atan2", (0.0, -1), PI),  # positive zero and a negative: pi
    ("atan2", (-0.0, -1), -PI),  # negative zero and a negative: -pi
    ("atan2", (1, 0), PI / 2),
    ("atan2", (-1, 0), -PI / 2),
    ("atan2", (0, 1), 0.0),
    ("asec", (2,), math.acos(0.5)),
    ("asec", (0.5,), None),  # |x| < 1
    ("acsc", (2,), math.asin(0.5)),
    ("acsc", (0,), None),
    ("acot", (1,), PI / 4),
    ("acot", (0,), PI / 2),
    ("sinh", (0,), 0.0),
    ("sinh", (1000,), None),  # overflows: not a finite float
    ("cosh", (0,), 1.0),
    ("tanh", (1000,), 1.0),
    ("sech", (0,), 1.0),
    ("sech", (1000,), 0.0),  # cosh is infinite: the reciprocal is 0
    ("csch", (0,), None),  # sinh is 0
    ("csch", (-1000,), 0.0),  # sinh is -infinite
    ("coth", (0,), None),
    ("coth", (1000,), 1.0),
    ("log", (1000,), 3.0),  # base 10
    ("log", (0,), None),  # QTI's own example of a value outside the domain
    ("log", (-1,), None),
    ("ln", (math.e,), 1.0),
    ("ln", (0,), None),
    ("exp", (0,), 1.0),
    ("exp", (1000,), None),
    ("abs", (-3,), 3.0),  # a float, even of an integer
    ("abs", (-2.5,), 2.5),
    ("signum", (-2.5,), -1),
    ("signum", (0,), 0),
    ("signum", (7,), 1),
    ("floor", (2.7,), 2),
    ("floor", (-2.5,), -3),
    ("floor", (4,), 4),
    ("ceil", (2.1,), 3),
    ("ceil", (-2.5,), -2),
    ("toDegrees", (PI,), 180.0),
    ("toRadians", (180,), PI),
]


@pytest.mark.parametrize(("name", "values", "expected"), MATH_CASES)
def test_math_functions(name: str, values: tuple[float, ...], expected: Any) -> None:
    args = [integer(v) if isinstance(v, int) else num(v) for v in values]
    target = "INTEGER" if name in ("signum", "floor", "ceil") else "FLOAT"
    result = outcome_of(target, math_op(name, *args))
    assert result == expected
    if expected is not None:
        assert type(result) is type(expected)


@pytest.mark.parametrize("name", ["sin", "floor", "abs", "signum", "log", "toDegrees"])
def test_a_null_operand_makes_the_math_operator_null(name: str) -> None:
    target = "INTEGER" if name in ("signum", "floor") else "FLOAT"
    assert outcome_of(target, math_op(name, NULL)) is None
    assert outcome_of(target, math_op(name, var("FLT")), {}) is None  # no response
    assert outcome_of(target, math_op(name, var("FLT")), {"FLT": 2.5}) is not None


def test_atan2_with_a_null_operand_is_null() -> None:
    assert outcome_of("FLOAT", math_op("atan2", num(1), NULL)) is None
    assert outcome_of("FLOAT", math_op("atan2", NULL, num(1))) is None


def test_a_value_that_is_not_a_number_at_run_time_makes_the_math_operator_null() -> None:
    # A record field's type is known only at run time.
    field = op("field_value", var("REC"), field_identifier="x")
    assert outcome_of("FLOAT", math_op("sin", field), {"REC": {"x": "text"}}) is None
    assert outcome_of("FLOAT", math_op("cos", field), {"REC": {"x": 0.0}}) == 1.0


def test_floor_and_ceil_of_huge_integers_stay_exact() -> None:
    big = 10**30 + 1
    assert outcome_of("INTEGER", math_op("floor", integer(big))) == big
    assert outcome_of("FLOAT", math_op("sin", integer(10**400))) is None  # no float holds it


STATS = [num(2), num(4), num(4), num(5), num(9)]  # mean 4.8


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("mean", 4.8),
        ("sampleVariance", 6.7),  # 26.8 / 4
        ("sampleSD", math.sqrt(6.7)),
        ("popVariance", 5.36),  # 26.8 / 5
        ("popSD", math.sqrt(5.36)),
    ],
)
def test_statistics(name: str, expected: float) -> None:
    for ordered in (False, True):
        assert outcome_of("FLOAT", stats(name, *STATS, ordered=ordered)) == pytest.approx(
            expected, rel=1e-15
        )


def test_statistics_of_integers_are_floats() -> None:
    assert outcome_of("FLOAT", stats("mean", integer(1), integer(3))) == 2.0
    result = evaluate(item_with("FLOAT", stats("popVariance", integer(1), integer(3))), {})
    assert result.outcomes["FLOAT"] == 1.0 and isinstance(result.outcomes["FLOAT"], float)


@pytest.mark.parametrize("name", ["sampleVariance", "sampleSD", "popVariance", "popSD"])
def test_spread_needs_more_than_one_value(name: str) -> None:
    assert outcome_of("FLOAT", stats(name, num(3))) is None
    assert outcome_of("FLOAT", stats(name, num(3), num(3))) == 0.0


def test_statistics_of_null_or_an_empty_container_are_null() -> None:
    assert outcome_of("FLOAT", stats("mean", num(3))) == 3.0
    for name in ("mean", "sampleVariance", "popSD"):
        assert outcome_of("FLOAT", stats(name, NULL)) is None  # empty container: NULL
        assert outcome_of("FLOAT", op("stats_operator", var("NUMS"), name=name), {}) is None
        assert outcome_of("FLOAT", op("stats_operator", NULL, name=name)) is None
    assert (
        outcome_of("FLOAT", op("stats_operator", var("NUMS"), name="mean"), {"NUMS": [1.5, 2.5]})
        == 2.0
    )


def test_repeat_evaluates_its_operands_in_turn_and_skips_nulls() -> None:
    repeated = op(
        "repeat",
        op("index", var("ORD"), n=1),
        NULL,
        op("ordered", op("base_value", base_type="identifier", value="x")),
        number_repeats=2,
    )
    assert outcome_of("ORDER", repeated, {"ORD": ["a", "b"]}) == ["a", "x", "a", "x"]
    # A NULL operand is skipped; when every operand is NULL the result is NULL.
    assert outcome_of("ORDER", op("repeat", var("ORD"), NULL, number_repeats=3), {}) is None
    assert outcome_of("ORDER", op("repeat", var("ORD"), number_repeats=1), {"ORD": ["a", "b"]}) == [
        "a",
        "b",
    ]


def test_repeat_counts_from_an_integer_variable() -> None:
    repeated = op("repeat", integer(7), number_repeats="INT")
    assert outcome_of("NUMBERS", repeated, {"INT": 3}) == [7, 7, 7]
    assert outcome_of("NUMBERS", repeated, {"INT": 0}) is None  # less than 1: NULL
    assert outcome_of("NUMBERS", repeated, {"INT": -2}) is None
    assert outcome_of("NUMBERS", repeated, {}) is None  # NULL count: NULL
    assert outcome_of("NUMBERS", op("repeat", integer(1), number_repeats="COUNT")) == [1, 1]
    # More values than the engine builds stops processing, with a note, as any value the
    # load-time checks could not foresee.
    result = evaluate(item_with("NUMBERS", repeated), {"INT": MAX_REPEAT_VALUES + 1})
    assert result.outcomes["NUMBERS"] is None
    assert "response processing stopped: repeat" in result.notes[0]


def test_index_takes_its_position_from_an_integer_variable() -> None:
    picked = op("index", var("ORD"), n="INT")
    responses = {"ORD": ["a", "b", "c"]}
    assert outcome_of("ORDER", picked, {**responses, "INT": 2}) == ["b"]
    assert outcome_of("ORDER", picked, {**responses, "INT": 3}) == ["c"]
    assert outcome_of("ORDER", picked, {**responses, "INT": 4}) is None  # beyond the end
    assert outcome_of("ORDER", picked, {**responses, "INT": 0}) is None
    assert outcome_of("ORDER", picked, responses) is None  # n is NULL
    assert outcome_of("ORDER", picked, {"INT": 1}) is None  # the container is NULL
    assert outcome_of("ORDER", op("index", var("ORD"), n="COUNT"), responses) == ["b"]
    assert outcome_of("ORDER", op("index", var("ORD"), n=1), responses) == ["a"]


@pytest.mark.parametrize(
    ("operator", "time", "limit", "expected"),
    [
        ("duration_lt", 9.5, 10.0, True),
        ("duration_lt", 10.0, 10.0, False),  # equal is not shorter
        ("duration_lt", 12.0, 10.0, False),
        ("duration_gte", 10.0, 10.0, True),
        ("duration_gte", 12.0, 10.0, True),
        ("duration_gte", 9.5, 10.0, False),
        ("duration_lt", None, 10.0, None),
        ("duration_gte", None, 10.0, None),
    ],
)
def test_duration_comparisons(
    operator: str, time: float | None, limit: float, expected: bool | None
) -> None:
    limit_value = op("base_value", base_type="duration", value=limit)
    responses = {} if time is None else {"TIME": time}
    assert outcome_of("BOOL", op(operator, var("TIME"), limit_value), responses) is expected
    # The built-in duration (the responses give it, in seconds) compares the same way.
    builtin = {} if time is None else {"duration": time}
    assert outcome_of("BOOL", op(operator, var("duration"), limit_value), builtin) is expected


@pytest.mark.parametrize(
    ("target", "expression", "reason"),
    [
        ("FLOAT", math_op("sin", var("STR")), "an operand of <math_operator> sin must be"),
        ("FLOAT", math_op("sin", var("NUMS")), "an operand of <math_operator> must be a single"),
        ("FLOAT", math_op("sin", var("TIME")), "an operand of <math_operator> sin must be"),
        ("FLOAT", math_op("atan2", num(1)), "atan2 takes 2 sub-expressions, not 1"),
        ("FLOAT", math_op("sin", num(1), num(2)), "sin takes 1 sub-expression, not 2"),
        ("FLOAT", math_op("sqrt", num(1)), "<math_operator> name 'sqrt' is not one of sin"),
        ("FLOAT", math_op("floor", num(1.5)), None),  # an integer into a float outcome is fine
        ("FLOAT", op("stats_operator", var("FLT"), name="mean"), "multiple or ordered container, not single"),
        ("FLOAT", op("stats_operator", var("ORD"), name="mean"), "the operand of <stats_operator> mean must be"),
        ("FLOAT", stats("median", num(1)), "<stats_operator> name 'median' is not one of mean"),
        ("FLOAT", op("stats_operator", name="mean"), "<stats_operator> has 0 sub-expressions"),
        ("NUMBERS", op("repeat", integer(1), number_repeats=0), "number_repeats must be at least 1"),
        ("NUMBERS", op("repeat", integer(1), number_repeats="NOPE"), "number_repeats refers to 'NOPE', which is not declared"),
        ("NUMBERS", op("repeat", integer(1), number_repeats="FLT"), "number_repeats refers to 'FLT', which is not a single integer"),
        ("NUMBERS", op("repeat", integer(1), number_repeats="1x!"), "neither an integer nor a variable identifier"),
        ("NUMBERS", op("repeat", integer(1), number_repeats=1.5), "must be an integer or a variable identifier"),
        ("NUMBERS", op("repeat", var("NUMS"), number_repeats=2), "an operand of <repeat> must be single or ordered, not multiple"),
        ("NUMBERS", op("repeat", integer(1), num(2), number_repeats=2), "<repeat> mixes base types"),
        ("ORDER", op("repeat", integer(1), number_repeats=2), "sets identifier outcome 'ORDER' to a integer value"),
        ("ORDER", op("index", var("ORD"), n="STR"), "n refers to 'STR', which is not a single integer"),
        ("ORDER", op("index", var("ORD"), n="MISSING"), "n refers to 'MISSING', which is not declared"),
        ("BOOL", op("duration_lt", var("FLT"), var("TIME")), "an operand of <duration_lt> must be duration"),
        ("BOOL", op("duration_gte", var("TIME")), "<duration_gte> has 1 sub-expressions"),
    ],
)  # fmt: skip
def test_what_cannot_evaluate_sensibly_is_refused_when_loaded(
    target: str, expression: Expression, reason: str | None
) -> None:
    if reason is None:
        item_with(target, expression)
        return
    with pytest.raises(ItemFormatError) as caught:
        item_with(target, expression)
    assert reason in caught.value.detail
