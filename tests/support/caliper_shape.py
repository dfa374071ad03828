"""Checks of Caliper 1.2 envelopes and events, written from the Caliper Analytics 1.2
specification (the JSON-LD context's terms, the required properties of each event type,
the actions each allows, ISO 8601 UTC times with milliseconds). Each check returns the
list of what is wrong, empty when the value conforms."""

from __future__ import annotations

import re
from typing import Any

CONTEXT = "http://purl.imsglobal.org/ctx/caliper/v1p2"
TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")
IRI = re.compile(r"(urn:[a-z0-9][a-z0-9-]{0,31}:\S+|https?://\S+)", re.IGNORECASE)
URN_UUID = re.compile(r"urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

#: Event type: (allowed actions, the object's type, the generated entity's type or None).
EVENTS: dict[str, tuple[frozenset[str], frozenset[str], str | None]] = {
    "AssessmentEvent": (
        frozenset({"Started", "Paused", "Resumed", "Restarted", "Reset", "Submitted"}),
        frozenset({"Assessment"}),
        "Attempt",
    ),
    "AssessmentItemEvent": (
        frozenset({"Started", "Skipped", "Completed"}),
        frozenset({"AssessmentItem"}),
        None,
    ),
    "GradeEvent": (frozenset({"Graded"}), frozenset({"Attempt"}), "Score"),
    "SessionEvent": (
        frozenset({"LoggedIn", "LoggedOut", "TimedOut"}),
        frozenset({"SoftwareApplication", "DigitalResource"}),
        None,
    ),
}
ACTORS = frozenset({"Person", "SoftwareApplication", "Agent", "Organization", "Group"})


def _entity(value: Any, where: str, types: frozenset[str] | None = None) -> list[str]:
    if isinstance(value, str):
        return [] if IRI.fullmatch(value) else [f"{where}: {value!r} is not an IRI"]
    if not isinstance(value, dict):
        return [f"{where}: not an entity"]
    problems = []
    if not isinstance(value.get("id"), str) or not IRI.fullmatch(value["id"]):
        problems.append(f"{where}.id: not an IRI")
    if not isinstance(value.get("type"), str):
        problems.append(f"{where}.type missing")
    elif types is not None and value["type"] not in types:
        problems.append(f"{where}.type {value['type']!r} not one of {sorted(types)}")
    return problems


def event_problems(event: Any) -> list[str]:
    if not isinstance(event, dict):
        return ["the event is not an object"]
    problems: list[str] = []
    if event.get("@context") != CONTEXT:
        problems.append("@context is not the Caliper 1.2 context")
    if not isinstance(event.get("id"), str) or not URN_UUID.fullmatch(event["id"]):
        problems.append("id is not a urn:uuid")
    kind = event.get("type")
    if kind not in EVENTS:
        return [*problems, f"type {kind!r} is not one of {sorted(EVENTS)}"]
    actions, objects, generated = EVENTS[kind]
    if event.get("action") not in actions:
        problems.append(f"{kind}: action {event.get('action')!r} not one of {sorted(actions)}")
    problems += _entity(event.get("actor"), "actor", ACTORS)
    problems += _entity(event.get("object"), "object", objects)
    if not isinstance(event.get("eventTime"), str) or not TIME.fullmatch(event["eventTime"]):
        problems.append("eventTime is not ISO 8601 UTC with milliseconds")
    if generated is not None and "generated" in event:
        problems += _entity(event["generated"], "generated", frozenset({generated}))
    if kind == "GradeEvent":
        score = event.get("generated")
        if not isinstance(score, dict):
            problems.append("GradeEvent without a generated Score")
        elif "scoreGiven" in score and not isinstance(score["scoreGiven"], int | float):
            problems.append("scoreGiven is not a number")
    for key in ("edApp", "group", "session", "membership", "federatedSession"):
        if key in event:
            problems += _entity(event[key], key)
    allowed = {
        "@context",
        "id",
        "type",
        "actor",
        "action",
        "object",
        "eventTime",
        "edApp",
        "generated",
        "target",
        "referrer",
        "group",
        "membership",
        "session",
        "federatedSession",
        "extensions",
    }
    problems += [f"unknown property {k!r}" for k in event if k not in allowed]
    return problems


def envelope_problems(envelope: Any) -> list[str]:
    if not isinstance(envelope, dict):
        return ["the envelope is not an object"]
    problems: list[str] = []
    if not isinstance(envelope.get("sensor"), str) or not IRI.fullmatch(envelope["sensor"]):
        problems.append("sensor is not an IRI")
    if not isinstance(envelope.get("sendTime"), str) or not TIME.fullmatch(envelope["sendTime"]):
        problems.append("sendTime is not ISO 8601 UTC with milliseconds")
    if envelope.get("dataVersion") != CONTEXT:
        problems.append("dataVersion is not the Caliper 1.2 context")
    data = envelope.get("data")
    if not isinstance(data, list) or not data:
        return [*problems, "data is not a non-empty array"]
    for n, event in enumerate(data):
        problems += [f"data[{n}]: {p}" for p in event_problems(event)]
    extra = set(envelope) - {"sensor", "sendTime", "dataVersion", "data"}
    problems += [f"unknown envelope property {k!r}" for k in sorted(extra)]
    return problems
