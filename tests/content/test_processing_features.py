"""Lookup tables, context variables, adaptive items (completionStatus), ``random`` in
response processing and custom operators: read from QTI 2.x and 3.0, scored, written back
as QTI 3.0, and refused where the bank cannot score them."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from typer.testing import CliRunner

from tests.support.factories import Factory, login
from tests.support.qti3_schema import check_qti3
from waa_ads.auth.deps import Principal
from waa_ads.auth.models import Role
from waa_ads.content import schemas, service
from waa_ads.content.interchange.qti.reader import parse_item
from waa_ads.content.interchange.qti.writer import write_item
from waa_ads.content.item.definition import ItemDefinition, ItemFormatError
from waa_ads.core.db import Database
from waa_ads.scoring.engine import evaluate, evaluate_attempts

FIXTURES = Path(__file__).parents[1] / "fixtures" / "items" / "processing"


def _read(name: str) -> ItemDefinition:
    return parse_item((FIXTURES / name).read_bytes())


def _again(item: ItemDefinition) -> ItemDefinition:
    """The item written as QTI 3.0 (checked against the schema subset) and read back."""
    written = write_item(item)
    check_qti3(written)
    return parse_item(written)


# --- lookupOutcomeValue -----------------------------------------------------------------------

# SCORE: interpolation table 10 -> 0, 7 (boundary included) -> 1, 5 (boundary excluded)
# -> 0.5, default 0. DAY: match table 1 -> monday, 7 -> sunday, default other.
LOOKUPS = [
    (7, 1.0, "sunday"),  # on an included boundary
    (8, 1.0, "other"),
    (6, 0.5, "other"),
    (5, 0.0, "other"),  # on an excluded boundary: the next entries, then the default
    (10, 0.0, "other"),  # first entry (in document order) that applies
    (11, 0.0, "other"),
    (1, 0.0, "monday"),
    (-3, 0.0, "other"),
    (None, 0.0, "other"),  # no response: nothing matches, the tables' defaults
]


@pytest.mark.parametrize("name", ["lookup_tables.v2p1.xml", "lookup_tables.v3p0.xml"])
def test_lookup_tables_read_score_and_survive_export(name: str) -> None:
    item = _read(name)
    score = item.outcome_declaration("SCORE")
    day = item.outcome_declaration("DAY")
    assert score is not None and score.interpolation_table is not None
    assert [(e.source, e.include_boundary) for e in score.interpolation_table.entries] == [
        (10.0, True),
        (7.0, True),
        (5.0, False),
    ]
    assert day is not None and day.match_table is not None
    assert day.match_table.default_value == "other"
    again = _again(item)
    assert again.outcome_declarations == item.outcome_declarations
    assert again.response_processing == item.response_processing
    for response, expected_score, expected_day in LOOKUPS:
        for version in (item, again):
            outcomes = evaluate(version, {"RESPONSE": response}).outcomes
            assert outcomes == {"SCORE": expected_score, "DAY": expected_day}, response


def test_both_versions_of_the_lookup_item_are_the_same_item() -> None:
    v2 = _read("lookup_tables.v2p1.xml")
    v3 = _read("lookup_tables.v3p0.xml")
    assert v2.outcome_declarations == v3.outcome_declarations
    assert v2.response_processing == v3.response_processing
    assert ItemDefinition.from_dict(v2.to_dict()) == v2


def test_a_float_looked_up_in_a_match_table_matches_only_a_whole_value() -> None:
    item = _read("lookup_tables.v3p0.xml")
    raw = item.to_dict()
    raw["response_declarations"][0].update(base_type="float", correct_response=7.0)
    floats = ItemDefinition.from_dict(raw)
    assert evaluate(floats, {"RESPONSE": 7.0}).outcomes["DAY"] == "sunday"
    assert evaluate(floats, {"RESPONSE": 6.5}).outcomes == {"SCORE": 0.5, "DAY": "other"}


def _lookup_item(table: str, rule: str = "") -> bytes:
    rule = rule or (
        '<qti-lookup-outcome-value identifier="S"><qti-variable identifier="R"/>'
        "</qti-lookup-outcome-value>"
    )
    return (
        '<qti-assessment-item xmlns="http://www.imsglobal.org/xsd/imsqtiasi_v3p0" '
        'identifier="L" title="L">'
        '<qti-response-declaration identifier="R" cardinality="single" base-type="string"/>'
        f"{table}"
        '<qti-item-body><p><qti-text-entry-interaction response-identifier="R"/></p>'
        f"</qti-item-body><qti-response-processing>{rule}</qti-response-processing>"
        "</qti-assessment-item>"
    ).encode()


MATCH = (
    '<qti-outcome-declaration identifier="S" cardinality="single" base-type="float">'
    '<qti-match-table><qti-match-table-entry source-value="1" target-value="2"/>'
    "</qti-match-table></qti-outcome-declaration>"
)


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        (_lookup_item(MATCH), "the value <lookupOutcomeValue> looks up in 'S' must be integer"),
        (
            _lookup_item(
                '<qti-outcome-declaration identifier="S" cardinality="single" base-type="float"/>'
            ),
            "looks up 'S', whose declaration has no match table or interpolation table",
        ),
        (
            _lookup_item(
                MATCH.replace('identifier="S"', 'identifier="T"'),
            ),
            "looks up 'S', which is not declared as an outcome",
        ),
        (
            _lookup_item(MATCH.replace('source-value="1"', 'source-value="1.5"')),
            "source-value must be an integer, got '1.5'",
        ),
        (
            _lookup_item(MATCH.replace('target-value="2"', 'target-value="two"')),
            "'two' is not a valid float",
        ),
        (
            _lookup_item(MATCH.replace('cardinality="single"', 'cardinality="multiple"')),
            "a lookup table belongs to a single outcome with a base type",
        ),
        (
            _lookup_item(
                MATCH.replace(
                    "</qti-match-table>",
                    '<qti-match-table-entry source-value="1" target-value="3"/></qti-match-table>',
                )
            ),
            "source-value 1 is given twice in the match table",
        ),
        (
            _lookup_item(
                MATCH.replace("</qti-match-table>", "</qti-match-table><qti-match-table/>")
            ),
            "an outcome declaration has one lookup table at most",
        ),
        (
            _lookup_item(MATCH.replace('target-value="2"', 'target-value="2" weight="1"')),
            "unknown attribute 'weight'",
        ),
    ],
)
def test_lookup_tables_that_cannot_work_are_refused(document: bytes, reason: str) -> None:
    with pytest.raises(ItemFormatError) as caught:
        parse_item(document)
    assert reason in caught.value.detail


# --- context declarations ---------------------------------------------------------------------


def test_context_variables_are_read_used_by_the_rules_and_exported() -> None:
    item = _read("context.v3p0.xml")
    assert [(c.identifier, c.cardinality.value) for c in item.context_declarations] == [
        ("QTI_CONTEXT", "record"),
        ("WEIGHT", "single"),
    ]
    assert item.context_declarations[1].default_value == 2.0
    assert evaluate(item, {"RESPONSE": "hundred"}).outcomes == {"SCORE": 2.0}
    assert evaluate(item, {"RESPONSE": "fifty"}).outcomes == {"SCORE": 0.0}
    written = write_item(item)
    assert b'<qti-context-declaration identifier="WEIGHT"' in written
    again = _again(item)
    assert again.context_declarations == item.context_declarations
    assert evaluate(again, {"RESPONSE": "hundred"}).outcomes == {"SCORE": 2.0}
    # A context variable is not a response: a candidate cannot give it a value.
    given = evaluate(item, {"RESPONSE": "hundred", "WEIGHT": 10})
    assert given.outcomes == {"SCORE": 2.0}
    assert "ignored a response for 'WEIGHT', which the item does not declare" in given.notes


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (
            ('<qti-variable identifier="WEIGHT"/>', '<qti-variable identifier="WEIGHTS"/>'),
            "refers to 'WEIGHTS', which is not declared",
        ),
        (
            ('identifier="WEIGHT" cardinality', 'identifier="SCORE" cardinality'),
            "declared both as a context variable and another variable",
        ),
        (
            ('identifier="QTI_CONTEXT" cardinality="record"', 'identifier="WEIGHT" '
             'cardinality="single" base-type="float"'),
            "duplicate context declaration identifier 'WEIGHT'",
        ),
        (
            ('<qti-set-outcome-value identifier="SCORE">\n          <qti-variable identifier="WEIGHT"/>',
             '<qti-set-outcome-value identifier="WEIGHT">\n          <qti-variable identifier="WEIGHT"/>'),
            "sets 'WEIGHT', which is not declared as an outcome",
        ),
    ],
)  # fmt: skip
def test_context_declarations_that_clash_or_are_set_are_refused(
    change: tuple[str, str], reason: str
) -> None:
    source = (FIXTURES / "context.v3p0.xml").read_text()
    assert change[0] in source
    with pytest.raises(ItemFormatError) as caught:
        parse_item(source.replace(*change, 1))
    assert reason in caught.value.detail


# --- adaptive items and completionStatus ------------------------------------------------------


def _outcomes(item: ItemDefinition, *answers: str) -> list[dict[str, Any]]:
    return [e.outcomes for e in evaluate_attempts(item, [{"RESPONSE": a} for a in answers])]


def test_an_adaptive_item_is_processed_attempt_by_attempt_until_completed() -> None:
    item = _read("adaptive.v2p1.xml")
    assert item.adaptive
    # Right at once: 2 points, completed.
    assert _outcomes(item, "canberra") == [
        {"SCORE": 2.0, "MAXSCORE": 2.0, "FEEDBACK": "right", "TRIES": 1,
         "completionStatus": "completed"},
    ]  # fmt: skip
    # Wrong, then right: the hint after the first attempt, 1 point after the second; the
    # outcomes carry over (TRIES counts), and the third answer comes after the end.
    first, second = _outcomes(item, "sydney", "canberra", "sydney")
    assert first == {"SCORE": 0.0, "MAXSCORE": 2.0, "FEEDBACK": "hint", "TRIES": 1,
                     "completionStatus": "incomplete"}  # fmt: skip
    assert second == {"SCORE": 1.0, "MAXSCORE": 2.0, "FEEDBACK": "right", "TRIES": 2,
                      "completionStatus": "completed"}  # fmt: skip
    # Wrong twice: the answer is shown and the item ends with no score.
    assert _outcomes(item, "sydney", "melbourne")[-1] == {
        "SCORE": 0.0, "MAXSCORE": 2.0, "FEEDBACK": "answer", "TRIES": 2,
        "completionStatus": "completed",
    }  # fmt: skip
    # One evaluation is the first attempt.
    assert evaluate(item, {"RESPONSE": "sydney"}).outcomes["completionStatus"] == "incomplete"


def test_an_adaptive_item_exports_as_adaptive_and_scores_the_same_read_back() -> None:
    item = _read("adaptive.v2p1.xml")
    written = write_item(item)
    assert b'adaptive="true"' in written
    assert b'<qti-set-outcome-value identifier="completionStatus">' in written
    again = _again(item)
    assert again.adaptive
    assert _outcomes(again, "sydney", "canberra") == _outcomes(item, "sydney", "canberra")


def test_a_non_adaptive_item_starts_each_attempt_from_its_defaults() -> None:
    raw = _read("adaptive.v2p1.xml").to_dict()
    raw["adaptive"] = False
    item = ItemDefinition.from_dict(raw)
    runs = _outcomes(item, "sydney", "canberra")
    assert [r["TRIES"] for r in runs] == [1, 1]  # nothing carried over
    assert runs[1]["SCORE"] == 1.0  # numAttempts still counts the attempts


def test_completion_status_takes_only_its_four_values() -> None:
    source = (FIXTURES / "adaptive.v2p1.xml").read_text()
    bad = source.replace('baseType="identifier">incomplete<', 'baseType="identifier">halfway<')
    with pytest.raises(ItemFormatError) as caught:
        parse_item(bad)
    assert "sets completionStatus to 'halfway', which is not one of completed" in (
        caught.value.detail
    )
    wrong_type = source.replace(
        'baseType="identifier">incomplete<', 'baseType="integer">1<'
    ).replace("</responseElse>", "</responseElse>", 1)
    with pytest.raises(ItemFormatError) as caught:
        parse_item(wrong_type)
    assert "sets identifier outcome 'completionStatus' to a integer value" in caught.value.detail


# --- random in response processing -----------------------------------------------------------


def test_random_in_response_processing_is_drawn_from_the_attempt_seed() -> None:
    item = _read("random_response.v3p0.xml")
    praise = {"well_done", "excellent", "great", "superb"}
    drawn = [evaluate(item, {"RESPONSE": "blue"}, seed=seed).outcomes for seed in range(40)]
    assert {d["SCORE"] for d in drawn} == {1.0}
    assert {d["PRAISE"] for d in drawn} == praise  # every member can be drawn
    for seed in (0, 7, 123456789):
        first = evaluate(item, {"RESPONSE": "blue"}, seed=seed).outcomes
        assert evaluate(item, {"RESPONSE": "blue"}, seed=seed).outcomes == first
        assert evaluate(_again(item), {"RESPONSE": "blue"}, seed=seed).outcomes == first
    assert evaluate(item, {"RESPONSE": "yellow"}, seed=3).outcomes == {
        "SCORE": 0.0,
        "PRAISE": None,
    }
    assert b"<qti-random>" in write_item(item)


def test_random_values_other_than_random_stay_refused_in_response_processing() -> None:
    source = (FIXTURES / "random_response.v3p0.xml").read_text()
    bad = source.replace(
        '<qti-base-value base-type="float">1</qti-base-value>',
        '<qti-random-float min="0" max="1"/>',
    )
    with pytest.raises(ItemFormatError) as caught:
        parse_item(bad)
    assert "random values have no place in scoring" in caught.value.detail


# --- custom operators -------------------------------------------------------------------------

CUSTOM_REASON = (
    "unsupported custom operator (class 'com.example.scoring.ParseDecimal' and definition "
    "'https://example.org/operators/parse-decimal')"
)


def test_a_custom_operator_is_refused_naming_its_class_and_definition() -> None:
    with pytest.raises(ItemFormatError) as caught:
        _read("custom_operator.v2p1.xml")
    assert CUSTOM_REASON in caught.value.detail
    assert "(<customOperator> at line 14)" in caught.value.detail


@pytest.mark.asyncio
async def test_the_api_refuses_a_custom_operator_as_problem_json(
    client: httpx.AsyncClient, make: Factory
) -> None:
    org = await make.organization()
    headers = await login(client, await make.user(org, Role.admin))
    bank = await client.post("/api/v1/banks", json={"slug": "ops", "name": "Ops"}, headers=headers)
    assert bank.status_code == 201, bank.text
    response = await client.post(
        f"/api/v1/banks/{bank.json()['id']}/items",
        json={
            "source": {
                "format": "qti",
                "content": (FIXTURES / "custom_operator.v2p1.xml").read_text(),
            }
        },
        headers=headers,
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith("/item-format-error")
    assert CUSTOM_REASON in response.json()["detail"]
    listed = await client.get("/api/v1/items", headers=headers)
    assert listed.json()["items"] == []


@pytest.mark.asyncio
async def test_the_cli_import_reports_a_custom_operator_and_imports_the_rest(
    live_app: FastAPI, live_make: Factory, fresh_database: Database, tmp_path: Path
) -> None:
    from waa_ads.cli import app as cli

    org = await live_make.organization(slug="custom-ops")
    async with live_app.state.db.transaction() as session:
        await service.create_bank(
            session, Principal.system(org.id), schemas.BankCreate(slug="main", name="Main")
        )
    folder = tmp_path / "items"
    folder.mkdir()
    for name in ("custom_operator.v2p1.xml", "lookup_tables.v3p0.xml", "adaptive.v2p1.xml"):
        (folder / name).write_bytes((FIXTURES / name).read_bytes())
    env = {
        "WAA_DATABASE_URL": fresh_database.url,
        "WAA_DATA_DIR": str(tmp_path / "data"),
        "WAA_BLOB_DIR": str(live_app.state.settings.resolved_blob_dir),
    }
    refused = await asyncio.to_thread(CliRunner().invoke, cli, ["import", str(folder)], env=env)
    assert refused.exit_code == 2, refused.output
    assert CUSTOM_REASON in " ".join(refused.output.split())
    result = await asyncio.to_thread(
        CliRunner().invoke, cli, ["import", str(folder), "--partial"], env=env
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output[: result.output.rindex("}") + 1])
    assert (report["imported"], report["rejected"]) == (2, 1)
    assert CUSTOM_REASON in " ".join(result.output.split())


def test_a_single_value_set_to_a_multiple_outcome_is_a_container_of_one() -> None:
    document = _lookup_item(
        '<qti-outcome-declaration identifier="SEEN" cardinality="multiple" base-type="string"/>',
        '<qti-set-outcome-value identifier="SEEN"><qti-variable identifier="R"/>'
        "</qti-set-outcome-value>",
    )
    item = parse_item(document)
    assert evaluate(item, {"R": "owl"}).outcomes == {"SEEN": ["owl"]}
    assert evaluate(item, {}).outcomes == {"SEEN": None}
    # The other way round stays refused: a container does not fit a single outcome.
    with pytest.raises(ItemFormatError) as caught:
        parse_item(
            _lookup_item(
                '<qti-outcome-declaration identifier="S" cardinality="single" base-type="string"/>',
                '<qti-set-outcome-value identifier="S"><qti-multiple><qti-variable '
                'identifier="R"/></qti-multiple></qti-set-outcome-value>',
            )
        )
    assert "sets single outcome 'S' to a multiple value" in caught.value.detail


# --- the native format ------------------------------------------------------------------------


def test_the_native_format_declares_lookup_tables_and_context_variables() -> None:
    from waa_ads.content.interchange.native import load_native

    source = (FIXTURES / "lookup_context.yaml").read_text()
    item = load_native(source)
    assert [c.identifier for c in item.context_declarations] == ["WEIGHT"]
    score = item.outcome_declaration("SCORE")
    assert score is not None and score.interpolation_table is not None
    assert [e.include_boundary for e in score.interpolation_table.entries] == [True, False]
    outcomes = [evaluate(item, {"RESPONSE": r}).outcomes for r in (7, 6, 3)]
    assert outcomes == [
        {"SCORE": 1.0, "DAY": "sunday", "WEIGHTED": 2.0},
        {"SCORE": 0.5, "DAY": "other", "WEIGHTED": 1.0},
        {"SCORE": 0.0, "DAY": "other", "WEIGHTED": 0.0},
    ]
    assert _again(item).outcome_declarations == item.outcome_declarations
    for change, reason in [
        (
            ("target: 0.5,", "target: abc,"),
            "outcomes[0].interpolation_table.entries[1].target: response "
            "'outcomes[0].interpolation_table.entries[1].target': expected a number",
        ),
        (
            ("{source: 7, target: sunday}", "{source: 1.5, target: sunday}"),
            "outcomes[1].match_table: entries.0.source: Input should be a valid integer",
        ),
        (
            ("base_type: float, default: 2", "default: 2"),
            "contexts[0].base_type: required unless the cardinality is record",
        ),
        (
            ("identifier: DAY\n    base_type: identifier", "identifier: DAY"),
            "outcomes[1].match_table: a lookup table belongs to a single outcome with a base type",
        ),
    ]:
        assert change[0] in source, change
        with pytest.raises(ItemFormatError) as caught:
            load_native(source.replace(*change))
        assert reason in caught.value.detail


def test_template_processing_reads_context_variables_at_their_default() -> None:
    import waa_ads.scoring.engine  # noqa: F401  (installs the template evaluator)
    from waa_ads.content.item.templates import instantiate

    source = (Path(__file__).parents[1] / "fixtures/items/templates/addition.v3p0.xml").read_text()
    source = source.replace(
        '  <qti-response-declaration identifier="RESPONSE"',
        '  <qti-context-declaration identifier="OFFSET" cardinality="single" base-type="integer">'
        "<qti-default-value><qti-value>100</qti-value></qti-default-value>"
        "</qti-context-declaration>\n"
        '  <qti-response-declaration identifier="RESPONSE"',
        1,
    ).replace(
        '<qti-random-integer min="1" max="20"/>\n    </qti-set-template-value>\n'
        '    <qti-set-template-value identifier="B">',
        '<qti-sum><qti-random-integer min="1" max="20"/><qti-variable identifier="OFFSET"/>'
        '</qti-sum>\n    </qti-set-template-value>\n    <qti-set-template-value identifier="B">',
        1,
    )
    assert "OFFSET" in source.split("<qti-item-body>")[0].split("<qti-template-processing>")[1]
    item = parse_item(source)
    for seed in range(5):
        instance = instantiate(item, seed)
        a = instance.template_declaration("A")
        assert a is not None and 101 <= a.default_value <= 120
        b = instance.template_declaration("B")
        assert b is not None and 1 <= b.default_value <= 20
