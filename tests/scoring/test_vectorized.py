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
    template = draw(st.sampled_from(["match_correct", "map_response", "CC2_match"]))
    mapping = None
    if template == "map_response":
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
        outcome_declarations=(
            OutcomeDeclaration(identifier="SCORE", base_type=BaseType.FLOAT),
            OutcomeDeclaration(
                identifier="FEEDBACK", base_type=BaseType.IDENTIFIER, default_value="none"
            ),
        ),
        response_processing=ResponseProcessing(template=template),
    )
    validate_item(item)
    return item


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
    # identifier, pair and directedPair under match_correct / map_response are vectorized;
    # string, point and custom rules fall back to the scalar engine
    assert fast == {"choice_single", "choice_multiple", "match", "associate", "gap_match"}


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
