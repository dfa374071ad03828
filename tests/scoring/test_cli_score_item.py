"""``waa-ads score-item``: score responses to an item file from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from waa_ads.cli import app

runner = CliRunner()
ITEMS = Path(__file__).parent.parent / "fixtures" / "items"
QTI3 = "http://www.imsglobal.org/xsd/imsqtiasi_v3p0"


def score(path: Path, response: str) -> tuple[int, str]:
    result = runner.invoke(app, ["score-item", str(path), "--response", response])
    return result.exit_code, result.output


@pytest.mark.parametrize(
    ("file", "response", "outcomes"),
    [
        ("qti/choice_single.v2p1.xml", '"jupiter"', {"SCORE": 1.0, "MAXSCORE": 1.0}),
        ("qti/choice_single.v3p0.xml", '{"RESPONSE": "earth"}', {"SCORE": 0.0, "MAXSCORE": 1.0}),
        ("qti/choice_multiple.v3p0.xml", '["p2", "p3", "n4"]', {"SCORE": 1.0, "MAXSCORE": 3.0}),
        ("qti/numeric_entry.v2p2.xml", "3.1", {"SCORE": 0.5, "FEEDBACK": "close"}),
        ("native/capital.yaml", '{"RESPONSE": "paris", "CITY": "PARIS"}', {"SCORE": 2.0}),
        ("native/essay.json", '"An essay."', {"SCORE": 0.0}),
    ],
)
def test_prints_outcomes_and_notes_as_json(
    file: str, response: str, outcomes: dict[str, object]
) -> None:
    code, output = score(ITEMS / file, response)
    assert code == 0, output
    printed = json.loads(output)
    assert printed == {"outcomes": outcomes, "notes": []}


def test_a_response_of_the_wrong_shape_is_a_note_not_an_error() -> None:
    code, output = score(ITEMS / "qti/choice_single.v3p0.xml", '["jupiter"]')
    assert code == 0
    printed = json.loads(output)
    assert printed["outcomes"]["SCORE"] == 0.0
    assert printed["notes"] == [
        "response 'RESPONSE': expected a single value, got a list; treated as no response"
    ]


def test_malformed_item_exits_2_with_the_reason(tmp_path: Path) -> None:
    bad = tmp_path / "bad.xml"
    bad.write_text(f'<qti-assessment-item xmlns="{QTI3}" identifier="x">\n<qti-item-body>')
    code, output = score(bad, '"A"')
    assert code == 2
    assert "error:" in output and "malformed XML" in output and "line" in output


def test_unknown_operator_exits_2_naming_it(tmp_path: Path) -> None:
    item = tmp_path / "op.xml"
    item.write_text(
        f"""<qti-assessment-item xmlns="{QTI3}" identifier="x" title="t">
  <qti-response-declaration identifier="RESPONSE" cardinality="single" base-type="identifier"/>
  <qti-outcome-declaration identifier="SCORE" cardinality="single" base-type="float"/>
  <qti-response-processing>
    <qti-set-outcome-value identifier="SCORE">
      <qti-telepathy/>
    </qti-set-outcome-value>
  </qti-response-processing>
</qti-assessment-item>"""
    )
    code, output = score(item, '"A"')
    assert code == 2
    assert "unknown operator (<qti-telepathy> at line 6)" in output


def test_bad_native_item_and_bad_json_exit_2(tmp_path: Path) -> None:
    item = tmp_path / "item.yaml"
    item.write_text("identifier: x\ntitle: t\ninteractions:\n  - type: choice\n    choices: []\n")
    code, output = score(item, '"A"')
    assert code == 2
    assert "interactions[0].choices: at least one choice is needed" in output
    code, output = score(ITEMS / "qti/choice_single.v3p0.xml", "{not json")
    assert code == 2 and "--response is not JSON" in output
    code, output = score(tmp_path / "missing.xml", '"A"')
    assert code == 2 and "cannot read" in output


def test_ambiguous_responses_for_a_multi_response_item_exit_2() -> None:
    code, output = score(ITEMS / "native/capital.yaml", '"Paris"')
    assert code == 2
    assert "--response must be an object keyed by response identifier" in output
