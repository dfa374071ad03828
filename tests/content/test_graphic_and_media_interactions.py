"""Graphic gap match, graphic order, graphic associate, end attempt and media interactions:
their responses, their scoring through the standard templates and the item's own rules,
and what the bank checks when it reads them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from waa_ads.content.interchange.qti.reader import parse_item
from waa_ads.content.item.definition import InteractionType, ItemDefinition, ItemFormatError
from waa_ads.content.item.responses import ResponseShapeError, response_schema, validate_response
from waa_ads.scoring.engine import evaluate

FIXTURES = Path(__file__).parent.parent / "fixtures" / "items" / "qti"


def load(stem: str) -> ItemDefinition:
    return parse_item((FIXTURES / f"{stem}.v3p0.xml").read_bytes())


def check(item: ItemDefinition, value: Any, identifier: str = "RESPONSE") -> Any:
    declaration = item.response_declaration(identifier)
    assert declaration is not None
    return validate_response(declaration, value, item.interaction_for(identifier))


def score(item: ItemDefinition, responses: dict[str, Any]) -> tuple[Any, list[str]]:
    result = evaluate(item, responses)
    return result.outcomes["SCORE"], result.notes


def test_the_structured_views() -> None:
    gaps = load("graphic_gap_match").interactions[0]
    assert gaps.type is InteractionType.GRAPHIC_GAP_MATCH
    assert [c.identifier for c in gaps.choices] == ["petal", "leaf"]
    assert all(c.image for c in gaps.choices)
    assert gaps.choices[0].attributes == {"object-label": "Petal"}
    assert [(h.identifier, h.match_max) for h in gaps.hotspots] == [("top", 1), ("side", 1)]
    assert gaps.graphic is not None and gaps.graphic.src == "images/flower.png"
    order = load("graphic_order").interactions[0]
    assert (order.type, order.min_choices, order.max_choices) == (
        InteractionType.GRAPHIC_ORDER,
        2,
        3,
    )
    assert order.choices[1].attributes == {"hotspot-label": "Station"}
    associate = load("graphic_associate").interactions[0]
    assert [c.match_max for c in associate.choices] == [1, 2, 1]
    end = load("end_attempt").interactions[1]
    assert (end.type, end.title) == (InteractionType.END_ATTEMPT, "Pass this question")
    media = load("media").interactions[0]
    assert (media.autostart, media.min_plays, media.max_plays) == (False, 1, 2)
    assert media.graphic is not None and media.graphic.markup.startswith(
        '<audio src="audio/bird.ogg"'
    )


def test_a_qti2_sound_object_is_read_as_an_audio_element() -> None:
    item = parse_item((FIXTURES / "media.v2p1.xml").read_bytes())
    assert "<object" not in item.body
    assert '<audio src="audio/bird.ogg">A bird calling at night</audio>' in item.body


@pytest.mark.parametrize(
    ("stem", "value", "normalized"),
    [
        (
            "graphic_gap_match",
            ["petal top", ["leaf", "side"]],
            [["petal", "top"], ["leaf", "side"]],
        ),
        ("graphic_order", ["market", "station"], ["market", "station"]),
        ("graphic_associate", ["rome oslo"], [["oslo", "rome"]]),
    ],
)
def test_responses_are_normalized(stem: str, value: Any, normalized: Any) -> None:
    assert check(load(stem), value) == normalized


@pytest.mark.parametrize(
    ("stem", "value", "problem"),
    [
        ("graphic_gap_match", ["top petal"], "does not pair choices of this interaction"),
        ("graphic_gap_match", ["petal top", "leaf side", "leaf top"], "allows 2"),
        ("graphic_order", ["station", "station"], "names a choice twice"),
        ("graphic_order", ["station", "moon"], "'moon' is not a choice"),
        ("graphic_associate", ["oslo oslo"], "pairs a choice with itself"),
        ("graphic_associate", ["oslo paris"], "does not pair choices"),
    ],
)
def test_responses_that_do_not_fit_the_interaction_are_refused(
    stem: str, value: Any, problem: str
) -> None:
    with pytest.raises(ResponseShapeError) as caught:
        check(load(stem), value)
    assert problem in caught.value.detail


def test_media_plays_and_end_attempt_values() -> None:
    media = load("media")
    assert check(media, 2, "PLAYS") == 2
    for bad, problem in ((3, "may be played 2 times"), (-1, "counts plays"), ("x", "integer")):
        with pytest.raises(ResponseShapeError) as caught:
            check(media, bad, "PLAYS")
        assert problem in caught.value.detail
    end = load("end_attempt")
    assert check(end, True, "PASS") is True
    with pytest.raises(ResponseShapeError):
        check(end, "yes", "PASS")


def test_a_drawing_is_a_picture_file() -> None:
    item = parse_item((FIXTURES / "drawing.v3p0.xml").read_bytes())
    (drawing,) = item.interactions
    assert drawing.type is InteractionType.DRAWING
    assert drawing.graphic is not None and drawing.graphic.src == "images/grid.png"
    png = {"sha256": "ab" * 32, "name": "drawing.png", "content_type": "image/png", "size": 10}
    assert check(item, png) == png
    with pytest.raises(ResponseShapeError) as caught:
        check(item, {**png, "content_type": "application/pdf"})
    assert "a drawing is a picture" in caught.value.detail
    # people score it: no response processing, SCORE is scored by a person
    assert item.response_processing is None
    outcome = item.outcome_declaration("SCORE")
    assert outcome is not None and outcome.external_scored == "human"


def test_a_position_object_is_placed_on_its_stage_and_scored_by_area() -> None:
    item = load("position_object")
    (placing,) = item.interactions
    assert placing.type is InteractionType.POSITION_OBJECT
    assert placing.stage is not None and placing.stage.src == "images/valley.png"
    assert placing.graphic is not None and placing.graphic.src == "images/plane.png"
    assert check(item, "150 100") == [150, 100]
    with pytest.raises(ResponseShapeError):
        check(item, [[1, 2], [3, 4]])
    assert score(item, {"RESPONSE": [160, 110]}) == (1.0, [])
    assert score(item, {"RESPONSE": [20, 20]}) == (0.0, [])
    outside = (
        (FIXTURES / "position_object.v3p0.xml")
        .read_text()
        .replace("<qti-position-object-stage>", "<div>")
        .replace("</qti-position-object-stage>", "</div>")
    )
    with pytest.raises(ItemFormatError) as caught:
        parse_item(outside)
    assert "sits in a position object stage" in caught.value.detail


def test_response_schemas_bound_the_lists() -> None:
    order = load("graphic_order")
    declaration = order.response_declarations[0]
    array = response_schema(declaration, order.interactions[0])["anyOf"][1]
    assert (array["maxItems"], array["uniqueItems"]) == (3, True)
    gaps = load("graphic_gap_match")
    schema = response_schema(gaps.response_declarations[0], gaps.interactions[0])
    assert schema["anyOf"][1]["maxItems"] == 2


@pytest.mark.parametrize(
    ("stem", "responses", "expected"),
    [
        # map_response: a point per label in its place
        ("graphic_gap_match", {"RESPONSE": ["petal top", "leaf side"]}, 2.0),
        ("graphic_gap_match", {"RESPONSE": ["leaf top", "petal side"]}, 0.0),
        ("graphic_gap_match", {"RESPONSE": ["petal top"]}, 1.0),
        ("graphic_gap_match", {}, 0.0),
        # match_correct: the whole order or nothing
        ("graphic_order", {"RESPONSE": ["station", "market", "harbour"]}, 1.0),
        ("graphic_order", {"RESPONSE": ["market", "station", "harbour"]}, 0.0),
        ("graphic_order", {"RESPONSE": ["station", "market"]}, 0.0),
        # map_response with a penalty, bounded below by 0
        ("graphic_associate", {"RESPONSE": ["oslo rome", "rome lima"]}, 2.0),
        ("graphic_associate", {"RESPONSE": ["oslo rome", "lima oslo"]}, 0.0),
        ("graphic_associate", {"RESPONSE": ["lima oslo"]}, 0.0),
        # the item's rules: passing scores 0, a wrong answer -1, no pass is false
        ("end_attempt", {"RESPONSE": "seven"}, 1.0),
        ("end_attempt", {"RESPONSE": "five"}, -1.0),
        ("end_attempt", {"RESPONSE": "five", "PASS": True}, 0.0),
        ("end_attempt", {"PASS": True}, 0.0),
        ("end_attempt", {"RESPONSE": "seven", "PASS": None}, 1.0),
        # the plays are not scored; the answer is
        ("media", {"PLAYS": 2, "RESPONSE": "owl"}, 1.0),
        ("media", {"PLAYS": 1, "RESPONSE": "gull"}, 0.0),
    ],
)
def test_scoring(stem: str, responses: dict[str, Any], expected: float) -> None:
    value, notes = score(load(stem), responses)
    assert notes == []
    assert value == pytest.approx(expected)


def test_the_correct_response_scores_the_derived_maximum() -> None:
    for stem in ("graphic_gap_match", "graphic_associate"):
        item = load(stem)
        result = evaluate(item, {"RESPONSE": item.response_declarations[0].correct_response})
        assert result.outcomes["SCORE"] == result.outcomes["MAXSCORE"] == 2.0


def test_keys_that_name_no_area_are_refused() -> None:
    xml = (
        (FIXTURES / "graphic_gap_match.v3p0.xml")
        .read_text()
        .replace("<qti-value>leaf side</qti-value>", "<qti-value>leaf root</qti-value>")
    )
    with pytest.raises(ItemFormatError) as caught:
        parse_item(xml)
    assert "names 'root', which is not a choice of its interaction" in caught.value.detail
    wrong_type = (
        (FIXTURES / "media.v3p0.xml")
        .read_text()
        .replace(
            'identifier="PLAYS" cardinality="single" base-type="integer"',
            'identifier="PLAYS" cardinality="single" base-type="string"',
        )
    )
    with pytest.raises(ItemFormatError) as caught:
        parse_item(wrong_type)
    assert "a media interaction needs cardinality single and base type integer" in (
        caught.value.detail
    )
