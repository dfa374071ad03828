"""The native YAML/JSON item format."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from waa_ads.content.interchange.native import item_from_native, load_item_bytes, load_native
from waa_ads.content.interchange.qti.reader import parse_item
from waa_ads.content.item.definition import (
    BaseType,
    Cardinality,
    InteractionType,
    ItemFormatError,
)
from waa_ads.scoring.engine import evaluate

ROOT = Path(__file__).parent.parent.parent
ITEMS = ROOT / "tests" / "fixtures" / "items"
DOC = ROOT / "docs" / "native-format.md"


def doc_examples() -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", DOC.read_text(), flags=re.S)


def test_the_documentation_has_examples() -> None:
    assert len(doc_examples()) >= 5


@pytest.mark.parametrize("example", doc_examples(), ids=lambda e: e.split("\n")[0][:40])
def test_every_documented_example_loads(example: str) -> None:
    item = load_native(example)
    assert item.identifier
    assert item.import_notes == ()


def test_the_documented_first_item_equals_its_qti_twin() -> None:
    native = load_native(doc_examples()[0])
    qti = parse_item((ITEMS / "qti" / "choice_single.v3p0.xml").read_bytes())
    (choice,) = native.interactions
    assert choice.prompt == "Choose one planet."
    assert [c.identifier for c in choice.choices] == ["earth", "jupiter", "none"]
    assert native.response_declarations == qti.response_declarations
    assert native.response_processing == qti.response_processing
    assert native.metadata == {"subject": "astronomy"}
    assert evaluate(native, {"RESPONSE": "jupiter"}).outcomes == {"SCORE": 1.0, "MAXSCORE": 1.0}


def test_every_interaction_example() -> None:
    example = next(e for e in doc_examples() if e.startswith("identifier: every-interaction"))
    item = load_native(example)
    kinds = {i.response_identifier: i.type for i in item.interactions}
    assert set(kinds.values()) == set(InteractionType)
    declared = {d.identifier: (d.cardinality, d.base_type) for d in item.response_declarations}
    assert declared["MOON"] == (Cardinality.SINGLE, BaseType.BOOLEAN)
    assert declared["PI"] == (Cardinality.SINGLE, BaseType.FLOAT)
    assert declared["PLANETS"] == (Cardinality.ORDERED, BaseType.IDENTIFIER)
    assert declared["CAPITALS"] == (Cardinality.MULTIPLE, BaseType.DIRECTED_PAIR)
    assert declared["OPPOSITES"] == (Cardinality.MULTIPLE, BaseType.PAIR)
    assert declared["CITY"] == (Cardinality.SINGLE, BaseType.POINT)
    assert declared["REPORT"] == (Cardinality.SINGLE, BaseType.FILE)
    assert declared["TEMPERATURE"] == (Cardinality.SINGLE, BaseType.INTEGER)
    assert declared["ROUTE"] == (Cardinality.ORDERED, BaseType.IDENTIFIER)
    assert declared["ROADS"] == (Cardinality.MULTIPLE, BaseType.PAIR)
    assert declared["LABELS"] == (Cardinality.MULTIPLE, BaseType.DIRECTED_PAIR)
    assert declared["PASS"] == (Cardinality.SINGLE, BaseType.BOOLEAN)
    assert declared["PLAYS"] == (Cardinality.SINGLE, BaseType.INTEGER)
    assert declared["SKETCH"] == (Cardinality.SINGLE, BaseType.FILE)
    assert declared["PLACE"] == (Cardinality.SINGLE, BaseType.POINT)
    place = item.interaction_for("PLACE")
    assert place is not None and place.stage is not None
    assert (place.stage.src, place.graphic and place.graphic.src) == (
        "images/map.png",
        "images/pin.png",
    )
    assert "<qti-position-object-stage>" in item.body
    route = item.interaction_for("ROUTE")
    assert route is not None and route.choices[1].attributes == {"hotspot-label": "Mill"}
    labels = item.interaction_for("LABELS")
    assert labels is not None and [h.identifier for h in labels.hotspots] == ["south"]
    assert labels.choices[0].image
    plays = item.interaction_for("PLAYS")
    assert plays is not None and (plays.max_plays, plays.autostart) == (2, False)
    assert plays.graphic is not None
    assert plays.graphic.markup == '<audio src="sounds/bell.wav">A bell ringing</audio>'
    end = item.interaction_for("PASS")
    assert end is not None and end.title == "Pass this question"
    gaps = item.interaction_for("GASES")
    assert gaps is not None and [g.identifier for g in gaps.gaps] == ["g1", "g2"]
    verbs = item.interaction_for("VERB")
    assert verbs is not None and [c.identifier for c in verbs.choices] == ["barked", "cat"]
    lake = item.interaction_for("LAKE")
    assert lake is not None and lake.choices[1].coords == (200.0, 150.0, 320.0, 260.0)
    # inline interactions sit where their placeholders are
    assert "boils at <qti-inline-choice-interaction" in item.body
    # interactions without a placeholder follow the body in order
    assert item.body.index('response-identifier="MOON"') < item.body.index(
        'response-identifier="TEMPERATURE"'
    )


@pytest.mark.parametrize(
    ("identifier", "response", "score"),
    [
        ("pi", 3.144, 1.0),
        ("pi", 3.146, 0.0),
        ("pi", "3.135", 1.0),
        ("postcode", "1234 AB", 1.0),
        ("postcode", "1234AB", 1.0),
        ("postcode", "1234 ab", 0.0),
        ("postcode", "x1234 AB", 0.0),
        ("freezing", 32, 1.0),
        ("freezing", 34, 0.5),
        ("freezing", 29, 0.0),
        ("primes", ["p2", "p3"], 2.0),
        ("primes", ["p2", "n4"], 0.0),
    ],
)
def test_documented_scoring_examples(identifier: str, response: Any, score: float) -> None:
    example = next(e for e in doc_examples() if e.startswith(f"identifier: {identifier}\n"))
    item = load_native(example)
    assert evaluate(item, {"RESPONSE": response}).outcomes["SCORE"] == score


def test_fixture_files_load() -> None:
    capital = load_item_bytes((ITEMS / "native" / "capital.yaml").read_bytes(), "capital.yaml")
    assert capital.metadata == {"subject": "geography", "grade": 5}
    assert capital.outcome_declarations[0].normal_maximum == 2.0
    assert evaluate(capital, {"RESPONSE": "paris", "CITY": "pARIS"}).outcomes["SCORE"] == 2.0
    assert evaluate(capital, {"RESPONSE": "lyon", "CITY": "Paris"}).outcomes["SCORE"] == 1.0
    essay = load_item_bytes((ITEMS / "native" / "essay.json").read_bytes(), "essay.json")
    assert essay.rubric_ref == "water-cycle-rubric"
    assert essay.response_processing is None
    assert essay.outcome_declarations[0].external_scored == "human"
    # the same loader reads QTI
    qti = load_item_bytes((ITEMS / "qti" / "order.v2p1.xml").read_bytes(), "order.v2p1.xml")
    assert qti.interactions[0].type is InteractionType.ORDER


def test_qti_response_processing_inside_a_native_item() -> None:
    item = load_native(
        """
identifier: q
title: q
interactions:
  - type: choice
    choices: [{id: A}, {id: B}]
    correct: A
scoring:
  qti: |
    <responseProcessing xmlns="http://www.imsglobal.org/xsd/imsqti_v2p1"
      template="http://www.imsglobal.org/question/qti_v2p1/rptemplates/match_correct"/>
"""
    )
    assert item.response_processing is not None
    assert item.response_processing.template == "match_correct"


def test_json_syntax() -> None:
    item = load_native(
        '{"identifier": "j", "title": "J", "interactions": [{"type": "true_false", "correct": true}],'
        ' "scoring": {"template": "match_correct"}}'
    )
    assert evaluate(item, {"RESPONSE": True}).outcomes["SCORE"] == 1.0


BASE = {"identifier": "x", "title": "t"}


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ({**BASE, "colour": "red"}, "colour: unknown key"),
        ({"title": "t"}, "identifier: expected text"),
        ({**BASE, "identifier": False}, "identifier: expected text (quote values such as yes"),
        ({**BASE, "identifier": "two words"}, "is not an identifier"),
        ({**BASE, "format": "other/1"}, "format: expected 'waa-ads/item@1'"),
        ({**BASE, "interactions": [{"type": "telepathy"}]}, "interactions[0].type: unknown interaction type"),
        ({**BASE, "interactions": [{"type": "choice", "choices": []}]}, "interactions[0].choices: at least one choice"),
        ({**BASE, "interactions": [{"type": "choice", "choices": [{"content": "A"}]}]},
         "interactions[0].choices[0].id: missing"),
        ({**BASE, "interactions": [{"type": "choice", "choices": ["A"]}]},
         "interactions[0].choices[0]: a choice is a mapping"),
        ({**BASE, "interactions": [{"type": "choice", "choices": [{"id": "A", "content": "a & b"}]}]},
         "interactions[0].choices[0].content is not well-formed XHTML"),
        ({**BASE, "interactions": [{"type": "choice", "choices": [{"id": "A"}], "max_choices": "two"}]},
         "interactions[0].max_choices: expected a whole number"),
        ({**BASE, "interactions": [{"type": "choice", "choices": [{"id": "A"}], "correct": ["A"]}]},
         "interactions[0].correct': expected a single value"),
        ({**BASE, "interactions": [{"type": "choice", "choices": [{"id": "A"}], "mapping": {"A": "lots"}}]},
         "interactions[0].mapping.entries[0]: the value of 'A' must be a number"),
        ({**BASE, "interactions": [{"type": "hotspot", "choices": [{"id": "A"}]}]},
         "interactions[0].choices[0].shape: a hotspot needs a shape"),
        ({**BASE, "interactions": [{"type": "choice", "choices": [{"id": "A"}]},
                                   {"type": "choice", "choices": [{"id": "B"}]}]},
         "interactions[1].response: response 'RESPONSE' is used by another interaction"),
        ({**BASE, "body": "{{NOPE}}", "interactions": []}, "body: placeholder {{NOPE}} names no interaction"),
        ({**BASE, "body": "{{RESPONSE}}{{RESPONSE}}", "interactions": [{"type": "upload"}]},
         "placeholder {{RESPONSE}} is used twice"),
        ({**BASE, "scoring": "grade_it"}, "scoring.template: unknown template"),
        ({**BASE, "scoring": {"numeric": {"value": 1, "mode": "fuzzy"}}}, "scoring.numeric.mode: expected exact"),
        ({**BASE, "scoring": {"numeric": {"value": 1, "tolerance": -1}}}, "non-negative numbers"),
        ({**BASE, "scoring": {"pattern": {"pattern": "("}}}, "scoring.pattern.pattern: not a valid pattern"),
        ({**BASE, "scoring": {"rules": [{"rule": "set_outcome_value", "identifier": "SCORE"}]}},
         "scoring.rules: 0.set_outcome_value.expression: Field required"),
        ({**BASE, "scoring": {"rules": [], "template": "match_correct"}}, "scoring: give exactly one of"),
        ({**BASE, "scoring": "match_correct"}, "template match_correct: <variable> refers to 'RESPONSE'"),
        ({**BASE, "interactions": [{"type": "text_entry", "prompt": "p"}]}, "cannot have a prompt"),
        ({**BASE, "responses": [{"identifier": "R", "cardinality": "single", "base_type": "magic"}]},
         "responses[0]: 'magic' is not a valid BaseType"),
        ({**BASE, "metadata": ["a"]}, "metadata: expected a mapping"),
    ],
)  # fmt: skip
def test_errors_name_the_path(document: dict[str, Any], reason: str) -> None:
    with pytest.raises(ItemFormatError) as caught:
        item_from_native(document)
    assert reason in caught.value.detail


def test_syntax_errors_give_the_line() -> None:
    with pytest.raises(ItemFormatError) as caught:
        load_native("identifier: x\ntitle: [unclosed\n")
    assert caught.value.detail.startswith("malformed YAML")
    assert caught.value.line is not None
    with pytest.raises(ItemFormatError, match="malformed JSON") as json_error:
        load_native('{"identifier": ', syntax="json")
    assert json_error.value.line == 1
    with pytest.raises(ItemFormatError, match="a native item is a mapping"):
        load_native("- a list\n")


def test_body_markup_is_sanitized_like_imports() -> None:
    item = load_native(
        yaml.safe_dump(
            {
                **BASE,
                "body": '<p onclick="x()">Hi <script>x()</script><math><mi>x</mi></math></p>',
            }
        )
    )
    assert "script" not in item.body and "onclick" not in item.body
    assert '<math xmlns="http://www.w3.org/1998/Math/MathML"><mi>x</mi></math>' in item.body
    assert any("removed <script>" in n for n in item.import_notes)
