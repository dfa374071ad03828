"""Caliper Analytics 1.2 events from the outbox's event bodies (pure).

A subscription whose ``format`` is ``caliper`` receives, instead of the WAA-ADS body, a
Caliper envelope (``sensor``, ``sendTime``, ``dataVersion``, ``data``) holding the events
one audit event stands for:

- ``attempt.started``: AssessmentEvent ``Started`` (generated: the Attempt);
- ``attempt.submitted``, ``.expired``, ``.terminated``: AssessmentEvent ``Submitted``, and
  an AssessmentItemEvent ``Completed`` per answered item (generated: its Response);
- ``attempt.scored``, ``result.released``, ``result.revised``: GradeEvent ``Graded``
  (generated: the Score);
- ``session.logged_in``, ``session.logged_out``: SessionEvent ``LoggedIn``, ``LoggedOut``.

Identifiers are IRIs under the deployment's base URL (``<base>/caliper/...``) or
``urn:uuid:`` for people and events, so nothing personal is sent: people appear by id.
Event ids are derived from the audit event (UUID v5), so a retry or a replay of one event
carries the same ids.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

CONTEXT = "http://purl.imsglobal.org/ctx/caliper/v1p2"
_NAMESPACE = uuid.UUID("4f4b0c1e-2b7c-5d55-9d4e-7a1f3c2b9e10")


def _iso(value: str) -> str:
    """ISO 8601 UTC with milliseconds, as Caliper asks (``2026-12-03T15:06:28.118Z``)."""
    head, _, rest = value.partition(".")
    if not rest:
        return value.removesuffix("Z") + ".000Z"
    digits = "".join(c for c in rest if c.isdigit())
    return f"{head}.{(digits + '000')[:3]}Z"


def _event_id(event_id: str, index: int) -> str:
    return f"urn:uuid:{uuid.uuid5(_NAMESPACE, f'{event_id}/{index}')}"


def _person(candidate_id: str) -> dict[str, Any]:
    return {"id": f"urn:uuid:{candidate_id}", "type": "Person"}


def events_for(body: Mapping[str, Any], *, base_url: str) -> list[dict[str, Any]]:
    """The Caliper events of one WAA-ADS event body (``[]`` when there are none)."""
    base = base_url.rstrip("/")
    kind = body["type"]
    data: Mapping[str, Any] = body.get("data") or {}
    when = _iso(body["occurred_at"])
    app = {"id": f"{base}/caliper/app", "type": "SoftwareApplication", "name": "WAA-ADS"}
    org = {"id": f"{base}/caliper/organizations/{body['organization_id']}", "type": "Organization"}

    def event(index: int, **fields: Any) -> dict[str, Any]:
        return {
            "@context": CONTEXT,
            "id": _event_id(body["id"], index),
            **fields,
            "eventTime": when,
            "edApp": app,
            "group": org,
        }

    if kind.startswith("session."):
        actor = data.get("user_id")
        if not isinstance(actor, str):
            return []
        action = "LoggedIn" if kind == "session.logged_in" else "LoggedOut"
        return [
            event(
                0,
                type="SessionEvent",
                actor=_person(actor),
                action=action,
                object=app,
            )
        ]
    attempt_id = data.get("attempt_id")
    candidate_id = data.get("candidate_id")
    version_id = data.get("assessment_version_id")
    if not all(isinstance(v, str) for v in (attempt_id, candidate_id, version_id)):
        return []
    assessment = {"id": f"{base}/caliper/assessments/{version_id}", "type": "Assessment"}
    attempt = {
        "id": f"{base}/caliper/attempts/{attempt_id}",
        "type": "Attempt",
        "assignee": _person(str(candidate_id)),
        "assignable": assessment,
        "count": int(data.get("attempt_number") or 1),
    }
    if kind == "attempt.started":
        return [
            event(
                0,
                type="AssessmentEvent",
                actor=_person(str(candidate_id)),
                action="Started",
                object=assessment,
                generated=attempt,
            )
        ]
    if kind in ("attempt.submitted", "attempt.expired", "attempt.terminated"):
        found = [
            event(
                0,
                type="AssessmentEvent",
                actor=_person(str(candidate_id)),
                action="Submitted",
                object=assessment,
                generated=attempt,
            )
        ]
        for n, ref in enumerate(data.get("answered_items") or [], start=1):
            item = {
                "id": f"{base}/caliper/assessments/{version_id}/items/{ref}",
                "type": "AssessmentItem",
                "isPartOf": assessment,
            }
            found.append(
                event(
                    n,
                    type="AssessmentItemEvent",
                    actor=_person(str(candidate_id)),
                    action="Completed",
                    object=item,
                    generated={
                        "id": f"{base}/caliper/attempts/{attempt_id}/responses/{ref}",
                        "type": "Response",
                        "attempt": attempt,
                    },
                )
            )
        return found
    if kind in ("attempt.scored", "result.released", "result.revised"):
        result: Mapping[str, Any] = data.get("result") or {}
        score: dict[str, Any] = {
            "id": f"{base}/caliper/attempts/{attempt_id}/scores/{result.get('revision', 1)}",
            "type": "Score",
            "attempt": attempt,
            "scoredBy": app,
        }
        if "raw" in result:
            score["scoreGiven"] = result["raw"]
            score["maxScore"] = result["max_raw"]
        return [
            event(0, type="GradeEvent", actor=app, action="Graded", object=attempt, generated=score)
        ]
    return []


def envelope(events: list[dict[str, Any]], *, base_url: str, send_time: str) -> dict[str, Any]:
    return {
        "sensor": f"{base_url.rstrip('/')}/caliper/sensor",
        "sendTime": _iso(send_time),
        "dataVersion": CONTEXT,
        "data": events,
    }
