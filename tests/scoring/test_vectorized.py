"""The vectorized path gives exactly the scalar engine's evaluations."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from waa_ads.content.interchange.qti.reader import parse_item
from waa_ads.content.item.definition import (
    AreaMapEntry,
    AreaMapping,
    BaseType,
    Cardinality,
    Choice,
    Interaction,
    InteractionType,
    ItemDefinition,
    MapEntry,
    OutcomeDeclaration,
    ResponseDeclaration,
    ResponseMapping,
    ResponseProcessing,
    Shape,
)
from waa_ads.content.item.validation import validate_item
from waa_ads.scoring.engine import evaluate
from waa_ads.scoring.vectorized import score_batch

FIXTURES = Path(__file__).parent.parent / "fixtures" / "items" / "qti"
BODY = '<qti-item-body xmlns="http://www.imsglobal.org/xsd/imsqtiasi_v3p0"/>'
IDS = ["A", "B", "C", "D", "E"]


def assert_same(item: ItemDefinition, batch: list[Any]) -> None:
    result = score_batch(item, batch)
    expected = [evaluate(item, responses) for responses in batch]
    got = result.evaluations()
    assert got == expected
    for evaluation, score in zip(expected, result.scores, strict=True):
        value = evaluation.outcomes.get("SCORE")
        if value is None:
            assert math.isnan(score)
        else:
            # the same float, bit for bit
            assert np.float64(value).tobytes() == np.float64(score).tobytes()


@st.composite
def items(draw: st.DrawFn) -> ItemDefinition:
    kind = draw(st.sampled_from(["choice", "associate", "match"]))
    multiple = draw(st.booleans())
    card = Cardinality.MULTIPLE if multiple else Cardinality.SINGLE
    if kind == "choice":
        interaction = Interaction(
            type=InteractionType.CHOICE,
            response_identifier="RESPONSE",
            choices=tuple(Choice(identifier=i) for i in IDS),
            max_choices=draw(st.sampled_from([0, 2, 3])) if multiple else 1,
        )
        base = BaseType.IDENTIFIER
        values: list[Any] = IDS
    elif kind == "associate":
        interaction = Interaction(
            type=InteractionType.ASSOCIATE,
            response_identifier="RESPONSE",
            choices=tuple(Choice(identifier=i) for i in IDS[:4]),
            max_associations=draw(st.sampled_from([None, 2])) if multiple else 1,
        )
        base = BaseType.PAIR
        values = [sorted([a, b]) for a in IDS[:4] for b in IDS[:4] if a < b]
    else:
        interaction = Interaction(
            type=InteractionType.MATCH,
            response_identifier="RESPONSE",
            match_sets=(
                tuple(Choice(identifier=i) for i in IDS[:3]),
                tuple(Choice(identifier=i.lower()) for i in IDS[:3]),
            ),
            max_associations=draw(st.sampled_from([None, 3])) if multiple else 1,
        )
        base = BaseType.DIRECTED_PAIR
        values = [[a, b.lower()] for a in IDS[:3] for b in IDS[:3]]
    chosen = draw(st.lists(st.sampled_from(values), min_size=1, max_size=3, unique_by=str))
    correct: Any = chosen if multiple else chosen[0]
    template = draw(st.sampled_from(TEMPLATES))
    mapping = None
    if template in ("map_response", "CC2_map_response"):
        weights = st.sampled_from([-1.0, -0.5, 0.0, 0.1, 0.2, 0.3, 0.7, 1.0, 2.5])
        keys = draw(st.lists(st.sampled_from(values), min_size=1, max_size=6, unique_by=str))
        low = draw(st.none() | st.sampled_from([-1.0, 0.0]))
        high = draw(st.none() | st.sampled_from([0.5, 1.0, 3.0]))
        mapping = ResponseMapping(
            default_value=draw(weights),
            lower_bound=low,
            upper_bound=high,
            entries=tuple(MapEntry(key=k, value=draw(weights)) for k in keys),
        )
    declaration = ResponseDeclaration(
        identifier="RESPONSE",
        cardinality=card,
        base_type=base,
        correct_response=(draw(st.booleans()) and correct) or None,
        mapping=mapping,
    )
    item = ItemDefinition(
        identifier="v",
        title="v",
        body=BODY,
        interactions=(interaction,),
        response_declarations=(declaration,),
        outcome_declarations=draw(outcomes()),
        response_processing=ResponseProcessing(template=template),
    )
    validate_item(item)
    return item


TEMPLATES = [
    "match_correct",
    "map_response",
    "CC2_match",
    "CC2_match_basic",
    "CC2_map_response",
]


@st.composite
def outcomes(draw: st.DrawFn) -> tuple[OutcomeDeclaration, ...]:
    """SCORE, MAXSCORE (declared with or without a default) and the CC2 feedback outcomes."""
    score_default = draw(st.none() | st.sampled_from([0.0, 0.5, -1.0]))
    maximum = draw(st.none() | st.sampled_from([1.0, 2.0, 0.6, 3.0]))
    return (
        OutcomeDeclaration(
            identifier="SCORE", base_type=BaseType.FLOAT, default_value=score_default
        ),
        OutcomeDeclaration(identifier="MAXSCORE", base_type=BaseType.FLOAT, default_value=maximum),
        OutcomeDeclaration(
            identifier="FEEDBACK", base_type=BaseType.IDENTIFIER, default_value="none"
        ),
        OutcomeDeclaration(identifier="FEEDBACKBASIC", base_type=BaseType.IDENTIFIER),
    )


def raw_values(item: ItemDefinition) -> st.SearchStrategy[Any]:
    interaction = item.interactions[0]
    ids = [*interaction.choice_identifiers(), "Z"]
    single = st.sampled_from(ids) | st.builds(lambda a, b: f"{a} {b}", st.sampled_from(ids), st.sampled_from(ids)) | st.lists(st.sampled_from(ids), min_size=2, max_size=2)  # fmt: skip
    junk = st.none() | st.integers(-2, 2) | st.just("") | st.just({"x": 1}) | st.just(True)
    return single | st.lists(single | junk, max_size=4) | junk


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_batch_equals_scalar(data: st.DataObject) -> None:
    item = data.draw(items())
    value = raw_values(item)
    batch = data.draw(
        st.lists(
            st.fixed_dictionaries({"RESPONSE": value})
            | st.just({})
            | st.fixed_dictionaries({"RESPONSE": value, "EXTRA": st.just(1)}),
            min_size=1,
            max_size=40,
        )
    )
    assert_same(item, batch)


def test_fixture_items_agree_and_use_the_fast_path_when_they_can() -> None:
    batches: dict[str, list[Any]] = {
        "choice_single": ["jupiter", "earth", None, "pluto", ["jupiter"], 3],
        "choice_multiple": [["p2", "p3", "p5"], ["p2", "n4"], [], ["p2", "p2"], None, "p2"],
        "match": [["fr paris"], ["fr madrid", "de berlin"], ["paris fr"], None],
        "associate": [["hot cold", "up down"], ["cold hot"], ["hot up"], ["hot cold", "cold hot"]],
        "gap_match": [["co2 g1", "o2 g2"], ["o2 g2", "co2 g1"], ["co2 g1"]],
        "text_entry": ["Paris", "paris", "Lutetia", ""],
        "select_point": [[[100, 100]], [[500, 500]]],
        "slider": [32, 30, 101],
    }
    fast = set()
    for stem, responses in batches.items():
        item = parse_item((FIXTURES / f"{stem}.v3p0.xml").read_bytes())
        batch = [{"RESPONSE": r} for r in responses]
        assert_same(item, batch)
        if score_batch(item, batch).vectorized:
            fast.add(stem)
    # every standard template is vectorized; custom rules go through the scalar engine
    assert fast == {
        "choice_single",
        "choice_multiple",
        "match",
        "associate",
        "gap_match",
        "text_entry",
        "select_point",
    }


def test_large_batch_scores_column() -> None:
    item = parse_item((FIXTURES / "choice_multiple.v3p0.xml").read_bytes())
    rng = np.random.default_rng(7)
    ids = ["p2", "p3", "n4", "p5", "n9"]
    batch = [{"RESPONSE": [ids[j] for j in range(5) if rng.random() < 0.5]} for _ in range(2000)]
    result = score_batch(item, batch)
    assert result.vectorized
    assert len(result) == 2000
    assert result.scores.dtype == np.float64
    assert_same(item, batch)


# --- more base types and cardinalities -------------------------------------------------------


@st.composite
def value_items(draw: st.DrawFn) -> ItemDefinition:
    """Text, integer and float responses, single, multiple (repeats allowed) or ordered,
    under every non-point template; string keys may ignore case."""
    base = draw(st.sampled_from([BaseType.STRING, BaseType.INTEGER, BaseType.FLOAT]))
    card = draw(st.sampled_from([Cardinality.SINGLE, Cardinality.MULTIPLE, Cardinality.ORDERED]))
    pools: dict[BaseType, list[Any]] = {
        BaseType.STRING: ["Paris", "paris", "PARIS", "Rome", "rome", "x"],
        BaseType.INTEGER: [0, 1, 2, 3, -1],
        BaseType.FLOAT: [0.0, 0.5, 1.0, 2.5, -0.0],
    }
    pool = pools[base]
    chosen = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=3))
    correct: Any = chosen if card is not Cardinality.SINGLE else chosen[0]
    template = draw(st.sampled_from(TEMPLATES))
    mapping = None
    if template in ("map_response", "CC2_map_response"):
        weights = st.sampled_from([-1.0, -0.5, -0.0, 0.0, 0.1, 0.2, 0.3, 0.7, 1.0])
        keys = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=5, unique_by=repr))
        mapping = ResponseMapping(
            default_value=draw(weights),
            lower_bound=draw(st.none() | st.sampled_from([-1.0, 0.0])),
            upper_bound=draw(st.none() | st.sampled_from([0.5, 1.0, 3.0])),
            entries=tuple(
                MapEntry(key=k, value=draw(weights), case_sensitive=draw(st.booleans()))
                for k in keys
            ),
        )
    interaction = (
        Interaction(type=InteractionType.TEXT_ENTRY, response_identifier="RESPONSE")
        if card is Cardinality.SINGLE and base is BaseType.STRING
        else None
    )
    item = ItemDefinition(
        identifier="v",
        title="v",
        body=BODY,
        interactions=(interaction,) if interaction is not None else (),
        response_declarations=(
            ResponseDeclaration(
                identifier="RESPONSE",
                cardinality=card,
                base_type=base,
                correct_response=(draw(st.booleans()) and correct) or None,
                mapping=mapping,
            ),
        ),
        outcome_declarations=draw(outcomes()),
        response_processing=ResponseProcessing(template=template),
    )
    validate_item(item)
    return item


def raw_scalars(item: ItemDefinition) -> st.SearchStrategy[Any]:
    base = item.response_declarations[0].base_type
    assert base is not None
    strategies: dict[BaseType, st.SearchStrategy[Any]] = {
        BaseType.STRING: st.sampled_from(["Paris", "paris", "PARIS", "Rome", "x", "", "y"]),
        BaseType.INTEGER: st.sampled_from([0, 1, 2, 3, -1, 7]),
        BaseType.FLOAT: st.sampled_from([0.0, 0.5, 1.0, 2.5, -0.0, 9.25, 1]),
    }
    single = strategies[base]
    junk = st.none() | st.just(True) | st.just({"x": 1}) | st.just("1.5e")
    return single | st.lists(single | junk, max_size=4) | junk


@settings(max_examples=80, deadline=None)
@given(st.data())
def test_batch_equals_scalar_for_values_of_every_base_type(data: st.DataObject) -> None:
    item = data.draw(value_items())
    value = raw_scalars(item)
    batch = data.draw(
        st.lists(st.fixed_dictionaries({"RESPONSE": value}) | st.just({}), min_size=1, max_size=40)
    )
    assert_same(item, batch)
    assert score_batch(item, batch).vectorized


# --- map_response_point -----------------------------------------------------------------------


coordinate = st.integers(-20, 120)


@st.composite
def areas(draw: st.DrawFn) -> AreaMapEntry:
    shape = draw(st.sampled_from(list(Shape)))
    value = draw(st.sampled_from([-1.0, -0.5, 0.0, 0.1, 0.2, 0.3, 0.7, 1.0, 2.0]))
    if shape is Shape.RECT:
        coords: tuple[float, ...] = tuple(draw(st.lists(coordinate, min_size=4, max_size=4)))
    elif shape is Shape.CIRCLE:
        coords = (draw(coordinate), draw(coordinate), draw(st.integers(0, 60)))
    elif shape is Shape.ELLIPSE:
        coords = (draw(coordinate), draw(coordinate), draw(st.integers(-2, 60)),
                  draw(st.integers(-2, 60)))  # fmt: skip
    elif shape is Shape.POLY:
        corners = draw(st.integers(3, 6))
        coords = tuple(draw(st.lists(coordinate, min_size=2 * corners, max_size=2 * corners)))
        if draw(st.booleans()):
            coords = coords[:-1]  # an odd count: the last x has no y
    else:
        coords = ()
    if draw(st.booleans()) and shape is not Shape.DEFAULT:
        coords = tuple(c + 0.5 for c in coords)  # half-pixel edges
    return AreaMapEntry(shape=shape, coords=tuple(float(c) for c in coords), value=value)


@st.composite
def point_items(draw: st.DrawFn) -> ItemDefinition:
    multiple = draw(st.booleans())
    mapping = AreaMapping(
        default_value=draw(st.sampled_from([-0.5, 0.0, 0.25])),
        lower_bound=draw(st.none() | st.sampled_from([-1.0, 0.0])),
        upper_bound=draw(st.none() | st.sampled_from([0.5, 1.0, 3.0])),
        entries=tuple(draw(st.lists(areas(), min_size=1, max_size=5))),
    )
    item = ItemDefinition(
        identifier="p",
        title="p",
        body=BODY,
        interactions=(
            Interaction(
                type=InteractionType.SELECT_POINT,
                response_identifier="RESPONSE",
                max_choices=draw(st.sampled_from([0, 3])) if multiple else 1,
            ),
        ),
        response_declarations=(
            ResponseDeclaration(
                identifier="RESPONSE",
                cardinality=Cardinality.MULTIPLE if multiple else Cardinality.SINGLE,
                base_type=BaseType.POINT,
                area_mapping=mapping,
            ),
        ),
        outcome_declarations=(
            OutcomeDeclaration(identifier="SCORE", base_type=BaseType.FLOAT),
            OutcomeDeclaration(identifier="MAXSCORE", base_type=BaseType.FLOAT),
        ),
        response_processing=ResponseProcessing(template="map_response_point"),
    )
    validate_item(item)
    return item


def raw_points(item: ItemDefinition) -> st.SearchStrategy[Any]:
    point = st.lists(coordinate, min_size=2, max_size=2) | st.builds(
        lambda x, y: f"{x} {y}", coordinate, coordinate
    )
    junk = st.none() | st.just([1.5, 2]) | st.just("far away") | st.just([1, 2, 3])
    if item.response_declarations[0].cardinality is Cardinality.SINGLE:
        return point | junk
    return st.lists(point, max_size=4) | junk


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_points_batch_equals_scalar_for_every_area_shape(data: st.DataObject) -> None:
    item = data.draw(point_items())
    batch = data.draw(
        st.lists(
            st.fixed_dictionaries({"RESPONSE": raw_points(item)}) | st.just({}),
            min_size=1,
            max_size=40,
        )
    )
    assert_same(item, batch)
    assert score_batch(item, batch).vectorized


def test_points_on_and_near_every_edge() -> None:
    """Every lattice point of a grid around each shape, edges and corners included."""
    entries = (
        AreaMapEntry(shape=Shape.CIRCLE, coords=(10.0, 10.0, 5.0), value=1.0),
        AreaMapEntry(shape=Shape.ELLIPSE, coords=(30.0, 10.0, 6.0, 3.0), value=0.5),
        AreaMapEntry(shape=Shape.RECT, coords=(40.0, 0.0, 45.0, 20.0), value=0.25),
        AreaMapEntry(shape=Shape.POLY, coords=(0.0, 20.0, 20.0, 20.0, 10.0, 35.0), value=2.0),
        AreaMapEntry(shape=Shape.CIRCLE, coords=(30.5, 30.5, 3.5), value=-1.0),
    )
    for multiple in (False, True):
        item = ItemDefinition(
            identifier="p",
            title="p",
            body=BODY,
            interactions=(
                Interaction(
                    type=InteractionType.SELECT_POINT,
                    response_identifier="RESPONSE",
                    max_choices=0 if multiple else 1,
                ),
            ),
            response_declarations=(
                ResponseDeclaration(
                    identifier="RESPONSE",
                    cardinality=Cardinality.MULTIPLE if multiple else Cardinality.SINGLE,
                    base_type=BaseType.POINT,
                    area_mapping=AreaMapping(default_value=-0.25, entries=entries),
                ),
            ),
            outcome_declarations=(
                OutcomeDeclaration(identifier="SCORE", base_type=BaseType.FLOAT),
            ),
            response_processing=ResponseProcessing(template="map_response_point"),
        )
        grid = [[x, y] for x in range(-2, 50) for y in range(-2, 40)]
        batch: list[dict[str, Any]]
        if multiple:
            batch = [{"RESPONSE": [p, grid[(i * 7) % len(grid)]]} for i, p in enumerate(grid)]
        else:
            batch = [{"RESPONSE": p} for p in grid]
        assert_same(item, batch)


def test_distinct_rows_with_an_index_give_the_rows() -> None:
    item = parse_item((FIXTURES / "choice_multiple.v3p0.xml").read_bytes())
    distinct: list[dict[str, Any]] = [
        {"RESPONSE": ["p2", "p3"]},
        {"RESPONSE": None},
        {"RESPONSE": ["p2", "p2"]},
    ]
    index = [0, 1, 2, 2, 0, 1]
    result = score_batch(item, distinct, index)
    assert result.evaluations() == [evaluate(item, distinct[i]) for i in index]
    assert result.note_index.tolist()[2:4] != [0, 0]  # the repeat is noted on both rows
