"""The attempt lifecycle as an explicit state machine (pure; no I/O).

``scheduled -> in_progress <-> paused -> submitted | expired | terminated -> scoring ->
scored -> released``, and ``invalidated`` from any ended state by an integrity decision.

The machine decides whether an event is legal from a state and which state follows; the
service then persists the change with a guarded ``UPDATE ... WHERE state = <from>`` so that
of two concurrent transitions only one takes effect.
"""

from __future__ import annotations

from enum import StrEnum

from statemachine import State, StateMachine
from statemachine.exceptions import TransitionNotAllowed

from waa_ads.core.errors import Conflict
from waa_ads.core.i18n import N_


class AttemptState(StrEnum):
    scheduled = "scheduled"
    in_progress = "in_progress"
    paused = "paused"
    submitted = "submitted"
    expired = "expired"
    terminated = "terminated"
    scoring = "scoring"
    scored = "scored"
    released = "released"
    invalidated = "invalidated"


class EndReason(StrEnum):
    """How an attempt ended: which event ended it. It stays once the attempt moves on to
    scoring, release or invalidation."""

    submitted = "submitted"  # the candidate submitted it
    expired = "expired"  # its time ran out
    terminated = "terminated"  # a proctor terminated it


#: The events that end an attempt, and the reason each records.
ENDED_BY: dict[str, EndReason] = {
    "submit": EndReason.submitted,
    "expire": EndReason.expired,
    "terminate": EndReason.terminated,
}


class PauseKind(StrEnum):
    """Why a paused attempt is paused, and so whether its clock runs."""

    proctor = "proctor"  # a proctor paused it: the clock stops
    candidate_break = "break"  # a break that does not count against the time: the clock stops
    counted_break = "break_counted"  # a break that counts against the time: the clock runs


LIVE = frozenset({AttemptState.in_progress, AttemptState.paused})
ENDED = frozenset(
    {
        AttemptState.submitted,
        AttemptState.expired,
        AttemptState.terminated,
        AttemptState.scoring,
        AttemptState.scored,
        AttemptState.released,
        AttemptState.invalidated,
    }
)


class AttemptMachine(StateMachine):
    scheduled = State(initial=True, value="scheduled")
    in_progress = State(value="in_progress")
    paused = State(value="paused")
    submitted = State(value="submitted")
    expired = State(value="expired")
    terminated = State(value="terminated")
    scoring = State(value="scoring")
    scored = State(value="scored")
    released = State(value="released")
    invalidated = State(final=True, value="invalidated")

    start = scheduled.to(in_progress)
    pause = in_progress.to(paused)
    resume = paused.to(in_progress)
    submit = in_progress.to(submitted)
    expire = in_progress.to(expired) | paused.to(expired)
    terminate = in_progress.to(terminated) | paused.to(terminated)
    begin_scoring = submitted.to(scoring) | expired.to(scoring) | terminated.to(scoring)
    finish_scoring = scoring.to(scored)
    release = scored.to(released)
    rescore = scored.to(scoring) | released.to(scoring)
    invalidate = (
        submitted.to(invalidated)
        | expired.to(invalidated)
        | terminated.to(invalidated)
        | scoring.to(invalidated)
        | scored.to(invalidated)
        | released.to(invalidated)
    )


class IllegalTransition(Conflict):
    code = "illegal-transition"
    title = N_("Illegal state transition")


#: (state, event) -> the state it leads to, for the legal transitions met so far: building a
#: machine to ask it costs more than the rest of a transition's Python work.
_legal: dict[tuple[str, str], AttemptState] = {}


def next_state(current: str, event: str) -> AttemptState:
    """The state ``event`` leads to from ``current``; IllegalTransition (409) if none."""
    known = _legal.get((current, event))
    if known is not None:
        return known
    machine = AttemptMachine(start_value=current)
    try:
        machine.send(event)
    except TransitionNotAllowed:
        raise IllegalTransition(
            f"an attempt that is {current} cannot {event.replace('_', ' ')}"
        ) from None
    after = AttemptState(machine.current_state_value)
    _legal[(str(current), event)] = after
    return after


def allowed_events(current: str) -> list[str]:
    machine = AttemptMachine(start_value=current)
    return sorted({str(event.id) for event in machine.allowed_events})
