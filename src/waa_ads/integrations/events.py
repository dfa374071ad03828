"""Which audit events are published to the outside, and under which names (pure).

Audit actions are internal names (``attempt.submit``); subscribers see stable public
event types (``attempt.submitted``). An action absent from :data:`PUBLIC_EVENTS` is
never sent anywhere.
"""

from __future__ import annotations

#: audit action -> public event type
PUBLIC_EVENTS: dict[str, str] = {
    "attempt.start": "attempt.started",
    "attempt.submit": "attempt.submitted",
    "attempt.expire": "attempt.expired",
    "attempt.terminate": "attempt.terminated",
    "attempt.finish_scoring": "attempt.scored",
    "attempt.invalidate": "attempt.invalidated",
    "result.released": "result.released",
    "result.revised": "result.revised",
    "integrity.dismiss": "integrity.decision_made",
    "integrity.note": "integrity.decision_made",
    "integrity.warn": "integrity.decision_made",
    "integrity.invalidate": "integrity.decision_made",
    "integrity.appeal": "integrity.appeal_made",
    "integrity.flag_raised": "integrity.flag_raised",
    "auth.login": "session.logged_in",
    "auth.logout": "session.logged_out",
}

#: The public event types a subscription may ask for, in a stable order.
EVENT_TYPES: tuple[str, ...] = tuple(dict.fromkeys(PUBLIC_EVENTS.values()))

#: Audit actions behind each public event type.
ACTIONS_OF: dict[str, tuple[str, ...]] = {
    t: tuple(a for a, p in PUBLIC_EVENTS.items() if p == t) for t in EVENT_TYPES
}


def public_type(action: str) -> str | None:
    """The public event type of an audit action, or None when it is not published."""
    return PUBLIC_EVENTS.get(action)


#: Fields of an audit event's ``data`` a public event carries over, per event type
#: (ids, codes and levels only: never names or free text about a person).
CARRIED_FIELDS: dict[str, tuple[str, ...]] = {
    "integrity.flag_raised": ("flag", "flag_id", "rule", "rule_id", "severity", "kind", "signal"),
}


_NOT_DECISIONS = frozenset({"integrity.flag_raised"})


def decision_kind(action: str) -> str | None:
    """For an integrity decision's action, the decision's kind (``warn``...)."""
    if action.startswith("integrity.") and action in PUBLIC_EVENTS and action not in _NOT_DECISIONS:
        return action.removeprefix("integrity.")
    return None
