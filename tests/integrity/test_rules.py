"""Policy documents: parsing, evaluation, and every bad rule refused with its line and
field."""

from __future__ import annotations

import pytest

from waa_ads.integrity.rules import Comparison, Group, PolicyProblem, evaluate, parse_policy
from waa_ads.integrity.signals import SignalValue

GOOD = """\
format: 1
description: Default rules for online tests
appeals: true
settings:
  fast_fraction: 0.2
  gap_s: 240
rules:
  - id: left-often
    when: focus_loss_count >= 3
    severity: medium
    reason: Left the test window {focus_loss_count} times
  - id: pasted-and-away
    when:
      all:
        - paste_count > 0
        - any:
            - focus_loss_s > 60
            - not: fullscreen_exit_count == 0
    severity: high
    reason: Pasted text after leaving the test
"""


def _problems(text: str) -> list[tuple[str, int, str]]:
    with pytest.raises(PolicyProblem) as caught:
        parse_policy(text)
    assert caught.value.status_code == 422
    assert caught.value.code == "integrity-policy-invalid"
    return caught.value.problems


def test_a_good_policy_parses() -> None:
    policy = parse_policy(GOOD)
    assert policy.appeals is True
    assert policy.settings.fast_fraction == 0.2
    assert policy.settings.gap_s == 240
    assert policy.settings.burst_saves == 5  # a default
    assert [r.id for r in policy.rules] == ["left-often", "pasted-and-away"]
    assert policy.rules[0].when == Comparison("focus_loss_count", ">=", 3.0)
    second = policy.rules[1].when
    assert isinstance(second, Group) and second.kind == "all"


def test_evaluate_raises_flags_with_reason_and_evidence() -> None:
    policy = parse_policy(GOOD)
    evidence = [{"from_event": "e1", "to_event": "e2", "seconds": 90.0}]
    signals = {
        "focus_loss_count": SignalValue(4.0, evidence),
        "focus_loss_s": SignalValue(120.0, evidence),
        "paste_count": SignalValue(1.0, [{"event": "e9", "kind": "paste"}]),
        "fullscreen_exit_count": SignalValue(0.0),
    }
    flags = evaluate(policy, signals)
    assert [f.rule for f in flags] == ["left-often", "pasted-and-away"]
    assert flags[0].reason == "Left the test window 4 times"
    assert flags[0].severity == "medium"
    assert flags[0].evidence == [{"signal": "focus_loss_count", **evidence[0]}]
    assert flags[1].signals == {
        "paste_count": 1.0,
        "focus_loss_s": 120.0,
        "fullscreen_exit_count": 0.0,
    }
    assert {"signal": "paste_count", "event": "e9", "kind": "paste"} in flags[1].evidence
    quiet = {"focus_loss_count": SignalValue(1.0)}
    assert evaluate(policy, quiet) == []


def test_unknown_signal_names_its_line_and_field() -> None:
    text = GOOD.replace("paste_count > 0", "pasted_count > 0")
    [(field, line, reason)] = _problems(text)
    assert field == "rules[1].when.all[0]"
    assert line == 15
    assert "unknown signal 'pasted_count'" in reason


def test_bad_severity_and_unknown_field_are_located() -> None:
    text = GOOD.replace("severity: medium", "severity: severe").replace(
        "    severity: high", "    severity: high\n    colour: red"
    )
    problems = {field: (line, reason) for field, line, reason in _problems(text)}
    assert problems["rules[0].severity"][0] == 10
    assert "severe" in problems["rules[0].severity"][1]
    assert problems["rules[1].colour"] == (20, "unknown field 'colour'")


def test_a_comparison_that_is_not_one() -> None:
    text = GOOD.replace("focus_loss_count >= 3", "focus_loss_count is big")
    [(field, line, reason)] = _problems(text)
    assert (field, line) == ("rules[0].when", 9)
    assert "not a comparison" in reason


def test_duplicate_rule_ids_and_unknown_placeholders() -> None:
    text = GOOD.replace("id: pasted-and-away", "id: left-often").replace(
        "Pasted text after", "Pasted {clipboard} after"
    )
    problems = {field: (line, reason) for field, line, reason in _problems(text)}
    assert problems["rules[1].id"] == (12, "rule id 'left-often' is used twice")
    assert problems["rules[1].reason"][0] == 20
    assert "{clipboard}" in problems["rules[1].reason"][1]


def test_reason_is_one_line_and_required() -> None:
    text = GOOD.replace(
        "    reason: Pasted text after leaving the test\n",
        '    reason: "two\\nlines"\n',
    ).replace("    reason: Left the test window {focus_loss_count} times\n", "")
    problems = {field: line for field, line, _ in _problems(text)}
    assert problems == {"rules[0]": 8, "rules[1].reason": 19}


def test_yaml_errors_say_the_line() -> None:
    [(field, line, reason)] = _problems("format: 1\nrules:\n  - id: [unclosed\n")
    assert field == "(document)"
    assert line == 4
    assert reason
    [(_, line, reason)] = _problems("format: 1\nformat: 1\nrules: []\n")
    assert line == 2 and "duplicate key" in reason
    [(_, line, _)] = _problems("format: 2\nrules: []\n")
    assert line == 1
    with pytest.raises(PolicyProblem):
        parse_policy("- just\n- a list\n")


def test_settings_are_checked() -> None:
    text = GOOD.replace("fast_fraction: 0.2", "fast_fraction: 2")
    [(field, line, _)] = _problems(text)
    assert (field, line) == ("settings.fast_fraction", 5)


def test_missing_signals_count_as_zero() -> None:
    policy = parse_policy(
        "format: 1\nrules:\n  - id: none\n    when: paste_count == 0\n"
        "    severity: low\n    reason: No paste\n"
    )
    assert [f.rule for f in evaluate(policy, {})] == ["none"]
