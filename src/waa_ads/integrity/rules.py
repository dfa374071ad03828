"""Integrity policies: the YAML rule document, its checks, and rule evaluation (pure).

A policy document (format 1, ``policy.schema.json``) lists rules; each rule's ``when`` is a
condition over the signals of :data:`waa_ads.integrity.signals.SIGNALS` and raises a flag
with a severity and a one-line reason. A condition is a comparison written as a string
(``"focus_loss_count >= 3"``) or ``all`` / ``any`` / ``not`` over conditions. Every
problem is reported with its field path and its line in the YAML text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from waa_ads.core.errors import Unprocessable
from waa_ads.core.i18n import N_
from waa_ads.core.yamlmarks import StrictLoader, field_path
from waa_ads.integrity.signals import SIGNALS, SignalSettings, SignalValue

MAX_POLICY_BYTES = 64 * 1024
SEVERITIES = ("low", "medium", "high")
_COMPARISON = re.compile(
    r"^\s*(?P<signal>[a-z][a-z0-9_]*)\s*(?P<op>>=|<=|==|!=|>|<)\s*"
    r"(?P<value>-?(?:\d+(?:\.\d*)?|\.\d+))\s*$"
)
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


class PolicyProblem(Unprocessable):
    """A policy document that cannot be saved; ``problems`` lists each with its field path
    and line (1-based; 0 when the problem concerns the whole document)."""

    code = "integrity-policy-invalid"
    title = N_("Invalid integrity policy")

    def __init__(self, detail: str, problems: list[tuple[str, int, str]] | None = None) -> None:
        listed = problems or []
        super().__init__(
            detail,
            extra={"problems": [{"field": f, "line": line, "reason": r} for f, line, r in listed]},
        )
        self.problems = listed


@dataclass(frozen=True)
class Comparison:
    signal: str
    op: str
    value: float


@dataclass(frozen=True)
class Group:
    kind: str  # "all", "any" or "not"
    parts: tuple[Condition, ...]


Condition = Comparison | Group


@dataclass(frozen=True)
class Rule:
    id: str
    when: Condition
    severity: str
    reason: str


DEFAULT_CONSENT_TEXT = (
    "This test takes a still picture from your camera every {interval} seconds while you "
    "work. The pictures are checked for the number of faces, light and a frozen camera, "
    "kept for {days} days and seen only by the people who review this test. A person, not "
    "the software, decides about anything they show."
)


@dataclass(frozen=True)
class CameraPolicy:
    """A policy's ``camera`` section: stills every ``interval_s`` seconds, kept
    ``retention_days`` days; ``without_camera`` is ``note`` (go on, the signals say so) or
    ``proctor`` (the attempt waits, paused, for a proctor)."""

    frames: bool = False
    interval_s: int = 30
    retention_days: int = 30
    without_camera: str = "note"
    consent_text: str | None = None

    @property
    def consent(self) -> str:
        text = self.consent_text or DEFAULT_CONSENT_TEXT
        return text.replace("{interval}", str(self.interval_s)).replace(
            "{days}", str(self.retention_days)
        )


@dataclass(frozen=True)
class Policy:
    rules: tuple[Rule, ...]
    settings: SignalSettings = field(default_factory=SignalSettings)
    appeals: bool = False
    description: str | None = None
    camera: CameraPolicy = field(default_factory=CameraPolicy)


@dataclass(frozen=True)
class Flag:
    """A rule that held: its severity, its reason with the signal values filled in, and the
    evidence of the signals its condition read."""

    rule: str
    severity: str
    reason: str
    signals: dict[str, float]
    evidence: list[dict[str, Any]]


# --- parsing --------------------------------------------------------------------------------


class _StrictLoader(StrictLoader):
    document_kind = "policy"


@lru_cache(maxsize=1)
def policy_schema() -> dict[str, Any]:
    """The published JSON Schema of policy documents (format 1)."""
    text = resources.files("waa_ads.integrity").joinpath("policy.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@lru_cache(maxsize=1)
def _validator() -> Draft202012Validator:
    return Draft202012Validator(policy_schema())


def _lines(node: yaml.Node, path: tuple[Any, ...], out: dict[tuple[Any, ...], int]) -> None:
    """Each path of the document to the 1-based line of its value (its key for mappings)."""
    out.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            child = (*path, key_node.value)
            out[child] = key_node.start_mark.line + 1
            _lines(value_node, child, out)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _lines(item, (*path, index), out)


def _line_of(lines: Mapping[tuple[Any, ...], int], path: tuple[Any, ...]) -> int:
    while path and path not in lines:
        path = path[:-1]
    return lines.get(path, 0)


def _schema_problem(error: ValidationError) -> tuple[tuple[Any, ...], str]:
    path = tuple(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = set(error.schema.get("properties", {})) if isinstance(error.schema, dict) else set()
        unknown = sorted(str(k) for k in error.instance if k not in known)
        if unknown:
            return (*path, unknown[0]), f"unknown field {unknown[0]!r}"
    if error.validator == "oneOf" and path and "when" in map(str, path):
        return path, (
            "a condition is a comparison such as 'focus_loss_count >= 3', "
            "or one of all / any / not over conditions"
        )
    return path, error.message


def _parse_condition(
    raw: Any, path: tuple[Any, ...], problems: list[tuple[tuple[Any, ...], str]]
) -> Condition | None:
    if isinstance(raw, str):
        match = _COMPARISON.match(raw)
        if match is None:
            problems.append(
                (path, f"{raw!r} is not a comparison 'signal op number' (op: > >= < <= == !=)")
            )
            return None
        if match["signal"] not in SIGNALS:
            problems.append((path, f"unknown signal {match['signal']!r}"))
            return None
        return Comparison(match["signal"], match["op"], float(match["value"]))
    kind = next(iter(raw))
    value = raw[kind]
    subs = [value] if kind == "not" else value
    sub_path = (*path, kind)
    parts = [
        _parse_condition(sub, sub_path if kind == "not" else (*sub_path, i), problems)
        for i, sub in enumerate(subs)
    ]
    if any(p is None for p in parts):
        return None
    return Group(kind, tuple(p for p in parts if p is not None))


def _condition_signals(condition: Condition) -> list[str]:
    if isinstance(condition, Comparison):
        return [condition.signal]
    return [s for part in condition.parts for s in _condition_signals(part)]


def parse_policy(yaml_text: str) -> Policy:
    """Parse and check a policy document. Raises :class:`PolicyProblem` (422) listing every
    problem with its field path (``rules[1].when``) and its line in ``yaml_text``."""
    size = len(yaml_text.encode("utf-8"))
    if size > MAX_POLICY_BYTES:
        raise PolicyProblem(f"the policy is {size} bytes; the limit is {MAX_POLICY_BYTES}")
    try:
        node = yaml.compose(yaml_text, Loader=_StrictLoader)
        doc = yaml.load(yaml_text, Loader=_StrictLoader)  # noqa: S506 (a SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark else 0
        problem = getattr(exc, "problem", None) or str(exc)
        raise PolicyProblem(
            f"the policy is not valid YAML at line {line}: {problem}",
            [("(document)", line, str(problem))],
        ) from exc
    if not isinstance(doc, dict) or node is None:
        raise PolicyProblem(
            "a policy document is a YAML mapping with format and rules",
            [("(document)", 1, "not a mapping")],
        )
    lines: dict[tuple[Any, ...], int] = {}
    _lines(node, (), lines)
    found: list[tuple[tuple[Any, ...], str]] = [
        _schema_problem(e)
        for e in sorted(_validator().iter_errors(doc), key=lambda e: list(map(str, e.path)))
    ]
    rules: list[Rule] = []
    if not found:
        seen: set[str] = set()
        for index, raw in enumerate(doc["rules"]):
            where = ("rules", index)
            if raw["id"] in seen:
                found.append(((*where, "id"), f"rule id {raw['id']!r} is used twice"))
            seen.add(raw["id"])
            when = _parse_condition(raw["when"], (*where, "when"), found)
            if when is None:
                continue
            for name in _PLACEHOLDER.findall(raw["reason"]):
                if name not in SIGNALS:
                    found.append(
                        ((*where, "reason"), f"{{{name}}} in the reason is not a known signal")
                    )
            rules.append(Rule(raw["id"], when, raw["severity"], raw["reason"]))
    if found:
        problems = [(field_path(p), _line_of(lines, p), reason) for p, reason in found]
        listed = "; ".join(f"line {line}, {f}: {r}" for f, line, r in problems[:10])
        raise PolicyProblem(f"invalid integrity policy: {listed}", problems)
    return Policy(
        rules=tuple(rules),
        settings=SignalSettings(**doc.get("settings", {})),
        appeals=bool(doc.get("appeals", False)),
        description=doc.get("description"),
        camera=CameraPolicy(**doc.get("camera", {})),
    )


# --- evaluation -----------------------------------------------------------------------------

_OPS = {
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
}


def holds(condition: Condition, values: Mapping[str, float]) -> bool:
    """Whether ``condition`` holds for these signal values (a missing signal is 0)."""
    if isinstance(condition, Comparison):
        return bool(_OPS[condition.op](values.get(condition.signal, 0.0), condition.value))
    if condition.kind == "all":
        return all(holds(p, values) for p in condition.parts)
    if condition.kind == "any":
        return any(holds(p, values) for p in condition.parts)
    return not holds(condition.parts[0], values)


def _format_value(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.3g}"


def evaluate(policy: Policy, signals: Mapping[str, SignalValue]) -> list[Flag]:
    """The flags the policy raises on an attempt's signals, in rule order; each carries the
    values and evidence of the signals its rule reads."""
    values = {name: s.value for name, s in signals.items()}
    flags = []
    for rule in policy.rules:
        if not holds(rule.when, values):
            continue
        names = list(dict.fromkeys(_condition_signals(rule.when)))
        reason = _PLACEHOLDER.sub(lambda m: _format_value(values.get(m.group(1), 0.0)), rule.reason)
        evidence = [
            {"signal": name, **item}
            for name in names
            if name in signals
            for item in signals[name].evidence
        ]
        flags.append(
            Flag(
                rule=rule.id,
                severity=rule.severity,
                reason=reason,
                signals={name: values.get(name, 0.0) for name in names},
                evidence=evidence,
            )
        )
    return flags
