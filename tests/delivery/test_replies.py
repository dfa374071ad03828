"""The problem codes of the attempt API as /openapi.json documents them, the refused saves'
problems, the reply models' wire format, and how an attempt ended. (That every reply is
typed, and a candidate's closed, tests/core/test_openapi.py checks for every route.)"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from functools import cache
from typing import Any

import pytest
from pydantic import ValidationError

from waa_ads.core.errors import PROBLEM_MEDIA_TYPE, DomainError
from waa_ads.delivery import errors, schemas
from waa_ads.delivery.models import SaveStatus
from waa_ads.delivery.service import SaveResult
from waa_ads.delivery.state_machine import ENDED, ENDED_BY, AttemptState, EndReason, next_state
from waa_ads.main import create_app

CANDIDATE = "/api/v1/attempts"
PROCTOR_VERBS = ("pause", "resume", "terminate", "extend")


@cache
def _openapi() -> dict[str, Any]:
    return create_app().openapi()


def _operations() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, operations in _openapi()["paths"].items()
        if path.startswith(CANDIDATE) or path.endswith("/attempts")
        for method, operation in operations.items()
    ]


def test_the_routes_are_all_there() -> None:
    paths = {(method, path) for method, path, _ in _operations()}
    for verb in PROCTOR_VERBS:
        assert ("post", f"{CANDIDATE}/{{attempt_id}}/{verb}") in paths
    assert len(paths) >= 14


@pytest.mark.parametrize(("method", "path"), [(m, p) for m, p, _ in _operations()])
def test_every_refusal_names_its_problem_codes(method: str, path: str) -> None:
    """Beyond the refusals every route shares (413, 422 of the body, 500), each problem a
    route documents comes with the codes a client matches on."""
    for status, response in _openapi()["paths"][path][method]["responses"].items():
        if status.startswith("2") or status in ("413", "422", "500"):
            continue
        examples = response["content"][PROBLEM_MEDIA_TYPE].get("examples", {})
        assert examples, f"{method} {path}: {status} names no problem code"


def test_the_save_documents_each_refusal() -> None:
    responses = _openapi()["paths"][f"{CANDIDATE}/{{attempt_id}}/responses/{{item_ref}}"]["put"][
        "responses"
    ]

    def codes(status: str) -> set[str]:
        return set(responses[status]["content"][PROBLEM_MEDIA_TYPE]["examples"])

    assert codes("409") >= {"attempt-paused", "item-closed"}
    assert codes("410") == {"deadline-passed"}
    assert codes("404") == {"attempt-not-found"}
    assert codes("422") >= {"item-not-on-form", "response-invalid"}


@pytest.mark.parametrize(
    ("status", "error", "http"),
    [
        (SaveStatus.late, errors.DeadlinePassed, 410),
        (SaveStatus.paused, errors.AttemptPaused, 409),
        (SaveStatus.closed, errors.ItemClosed, 409),
    ],
)
def test_a_refused_save_is_a_problem_carrying_the_current_seq(
    status: SaveStatus, error: type[DomainError], http: int
) -> None:
    refusal = SaveResult(status, seq=5, current_seq=3).refusal
    assert isinstance(refusal, error)
    assert refusal.status_code == http
    assert refusal.extra == {"current_seq": 3}
    assert not SaveResult(status, seq=5, current_seq=3).accepted


@pytest.mark.parametrize("status", [SaveStatus.accepted, SaveStatus.stale])
def test_an_accepted_or_stale_save_is_no_problem(status: SaveStatus) -> None:
    assert SaveResult(status, seq=5, current_seq=5).refusal is None


def test_the_problem_codes_are_unique_and_kebab_case() -> None:
    codes = [e.code for e in errors.ALL]
    assert len(codes) == len(set(codes))
    for code in codes:
        assert code == code.lower() and " " not in code and "_" not in code


def _attempt(**changes: Any) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "state": "submitted",
        "number": 1,
        "started_at": datetime(2026, 12, 3, 9, 0, tzinfo=UTC),
        "deadline_at": datetime(2026, 12, 3, 10, 0, 0, 250000, tzinfo=UTC),
        "paused": False,
        "pause_kind": None,
        "ended_at": datetime(2026, 12, 3, 9, 30, tzinfo=UTC),
        "ended_because": "submitted",
        "administration_id": uuid.uuid4(),
        **changes,
    }


def test_times_go_out_as_isoformat() -> None:
    wire = schemas.AttemptRead.model_validate(_attempt()).model_dump(mode="json")
    assert wire["started_at"] == "2026-12-03T09:00:00+00:00"
    assert wire["deadline_at"] == "2026-12-03T10:00:00.250000+00:00"
    assert wire["ended_because"] == "submitted"


def test_an_attempt_reply_takes_no_field_it_does_not_name() -> None:
    with pytest.raises(ValidationError):
        schemas.AttemptRead.model_validate(_attempt(correct_response="B"))
    with pytest.raises(ValidationError):
        schemas.SaveResponse(accepted=True, seq=1, current_seq=1, score=1.0)  # type: ignore[call-arg]


def test_each_ending_event_records_its_reason() -> None:
    assert set(ENDED_BY.values()) == set(EndReason)
    for event, reason in ENDED_BY.items():
        ended = next_state(AttemptState.in_progress, event)
        assert ended in ENDED
        assert ended.value == reason.value  # submitted, expired, terminated
