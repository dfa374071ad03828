"""The item model: immutability, the stored dict form, and cross-reference checks."""

from __future__ import annotations

import json
from pathlib import Path

import pydantic
import pytest

from waa_ads.content.interchange.native import load_native
from waa_ads.content.interchange.qti.reader import parse_item
from waa_ads.content.item.definition import (
    BaseType,
    Cardinality,
    Choice,
    Expression,
    Interaction,
    InteractionType,
    ItemDefinition,
    ItemFormatError,
    OutcomeDeclaration,
    ResponseDeclaration,
    ResponseProcessing,
)
from waa_ads.content.item.validation import validate_item
from waa_ads.core.errors import Unprocessable

FIXTURES = Path(__file__).parent.parent / "fixtures" / "items"
BODY = '<qti-item-body xmlns="http://www.imsglobal.org/xsd/imsqtiasi_v3p0"/>'


def test_items_are_immutable() -> None:
    item = parse_item((FIXTURES / "qti" / "choice_single.v3p0.xml").read_bytes())
    with pytest.raises(pydantic.ValidationError):
        item.title = "changed"  # type: ignore[misc]
    with pytest.raises(pydantic.ValidationError):
        item.interactions[0].shuffle = False  # type: ignore[misc]


def test_stored_dict_is_plain_json_and_compact() -> None:
    item = load_native((FIXTURES / "native" / "capital.yaml").read_bytes())
    stored = item.to_dict()
    assert json.loads(json.dumps(stored)) == stored
    choice = stored["interactions"][0]
    # defaults are left out; what is there is what the author set
    assert "max_associations" not in choice and "graphic" not in choice
    assert choice["type"] == "choice" and choice["shuffle"] is True
    # rule trees are stored with their tags, expressions with attributes inline
    rule = stored["response_processing"]["rules"][0]
    assert rule["rule"] == "response_condition"
    assert rule["branches"][0]["condition"]["args"][0] == {
        "op": "variable",
        "identifier": "RESPONSE",
    }
    assert ItemDefinition.from_dict(stored) == item


def test_expression_dicts_accept_the_nested_form_too() -> None:
    flat = Expression.model_validate({"op": "variable", "identifier": "R"})
    nested = Expression.model_validate({"op": "variable", "attrs": {"identifier": "R"}})
    assert flat == nested == Expression(op="variable", attrs={"identifier": "R"})
    walked = [e.op for e in Expression.model_validate(
        {"op": "sum", "args": [{"op": "null"}, {"op": "product", "args": [{"op": "null"}]}]}
    ).walk()]  # fmt: skip
    assert walked == ["sum", "null", "product", "null"]


def test_item_format_error_is_a_422_naming_element_and_line() -> None:
    error = ItemFormatError("unknown operator", element="qti-frob", line=12)
    assert isinstance(error, Unprocessable) and error.status_code == 422
    assert error.detail == "unknown operator (<qti-frob> at line 12)"
    assert error.extra == {"element": "qti-frob", "line": 12}
    assert ItemFormatError("bad", line=3).detail == "bad (line 3)"
    assert ItemFormatError("bad").detail == "bad"


def test_choice_identifiers_cover_sets_and_gaps() -> None:
    interaction = Interaction(
        type=InteractionType.MATCH,
        response_identifier="R",
        match_sets=((Choice(identifier="A"),), (Choice(identifier="X"), Choice(identifier="Y"))),
    )
    assert interaction.choice_identifiers() == ["A", "X", "Y"]


def _item(**update: object) -> ItemDefinition:
    base = ItemDefinition(
        identifier="i",
        title="t",
        body=BODY,
        interactions=(
            Interaction(
                type=InteractionType.CHOICE,
                response_identifier="RESPONSE",
                choices=(Choice(identifier="true"), Choice(identifier="false")),
            ),
        ),
        response_declarations=(
            ResponseDeclaration(
                identifier="RESPONSE",
                cardinality=Cardinality.SINGLE,
                base_type=BaseType.BOOLEAN,
                correct_response=True,
            ),
        ),
        outcome_declarations=(OutcomeDeclaration(identifier="SCORE", base_type=BaseType.FLOAT),),
        response_processing=ResponseProcessing(template="match_correct"),
    )
    return base.model_copy(update=update)


def test_a_boolean_true_false_item_is_valid() -> None:
    validate_item(_item())


@pytest.mark.parametrize(
    ("update", "reason"),
    [
        (
            {"outcome_declarations": (OutcomeDeclaration(identifier="RESPONSE"),)},
            "declared both as a response and an outcome",
        ),
        (
            {
                "interactions": (
                    Interaction(
                        type=InteractionType.CHOICE,
                        response_identifier="RESPONSE",
                        choices=(Choice(identifier="yes"), Choice(identifier="no")),
                    ),
                )
            },
            "its choices must be identified 'true' and 'false'",
        ),
        (
            {
                "response_declarations": (
                    ResponseDeclaration(identifier="RESPONSE", cardinality=Cardinality.SINGLE),
                )
            },
            "response 'RESPONSE' has no base type",
        ),
        (
            {
                "interactions": (),
                "response_declarations": (
                    ResponseDeclaration(
                        identifier="RESPONSE",
                        cardinality=Cardinality.RECORD,
                        base_type=BaseType.FLOAT,
                    ),
                ),
                "response_processing": None,
            },
            "has record cardinality and a base type",
        ),
        (
            {"response_processing": ResponseProcessing(template="grade_everything")},
            "unknown response processing template 'grade_everything'",
        ),
        (
            {"outcome_declarations": ()},
            "template match_correct: sets 'SCORE', which is not declared as an outcome",
        ),
    ],
)
def test_cross_reference_problems(update: dict[str, object], reason: str) -> None:
    with pytest.raises(ItemFormatError) as caught:
        validate_item(_item(**update))
    assert reason in caught.value.detail
