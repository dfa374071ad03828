"""The attempt lifecycle (delivery.state_machine): which event leads where, and what is refused."""

from __future__ import annotations

import pytest

from waa_ads.delivery.state_machine import (
    ENDED,
    LIVE,
    AttemptState,
    IllegalTransition,
    allowed_events,
    next_state,
)

S = AttemptState

#: The lifecycle as the module documents it: (from, event) -> to. Nothing else is legal.
LEGAL: dict[tuple[AttemptState, str], AttemptState] = {
    (S.scheduled, "start"): S.in_progress,
    (S.in_progress, "pause"): S.paused,
    (S.paused, "resume"): S.in_progress,
    (S.in_progress, "submit"): S.submitted,
    (S.in_progress, "expire"): S.expired,
    (S.paused, "expire"): S.expired,
    (S.in_progress, "terminate"): S.terminated,
    (S.paused, "terminate"): S.terminated,
    (S.submitted, "begin_scoring"): S.scoring,
    (S.expired, "begin_scoring"): S.scoring,
    (S.terminated, "begin_scoring"): S.scoring,
    (S.scoring, "finish_scoring"): S.scored,
    (S.scored, "release"): S.released,
    (S.scored, "rescore"): S.scoring,
    (S.released, "rescore"): S.scoring,
    **{
        (state, "invalidate"): S.invalidated
        for state in (S.submitted, S.expired, S.terminated, S.scoring, S.scored, S.released)
    },
}
EVENTS = sorted({event for _, event in LEGAL})


@pytest.mark.parametrize(("current", "event"), sorted(LEGAL), ids=str)
def test_each_legal_event_leads_to_its_state(current: AttemptState, event: str) -> None:
    assert next_state(current.value, event) is LEGAL[(current, event)]


@pytest.mark.parametrize("current", list(S), ids=str)
def test_every_other_event_is_refused_with_a_conflict(current: AttemptState) -> None:
    for event in EVENTS:
        if (current, event) in LEGAL:
            continue
        with pytest.raises(IllegalTransition) as refused:
            next_state(current.value, event)
        assert refused.value.status_code == 409
        assert refused.value.code == "illegal-transition"
        assert current.value in str(refused.value)
        assert event.replace("_", " ") in str(refused.value)


@pytest.mark.parametrize("current", list(S), ids=str)
def test_allowed_events_are_exactly_the_legal_ones(current: AttemptState) -> None:
    assert allowed_events(current.value) == sorted(e for s, e in LEGAL if s is current)


def test_invalidated_is_final() -> None:
    assert allowed_events(S.invalidated.value) == []


def test_live_and_ended_states_do_not_overlap() -> None:
    assert {S.in_progress, S.paused} == LIVE
    assert not LIVE & ENDED
    assert set(S) - {S.scheduled} == LIVE | ENDED
    for state in LIVE:
        assert "submit" in allowed_events(state.value) or "resume" in allowed_events(state.value)
    for state in ENDED:
        assert not {"pause", "resume", "submit"} & set(allowed_events(state.value))
