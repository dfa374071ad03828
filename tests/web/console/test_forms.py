"""The error summary of a refused form: every reason the API gave, each once."""

from __future__ import annotations

from waa_ads.web.console.gateway import FieldError, Problem
from waa_ads.web.console.pages import Form


def _problem(*fields: tuple[str, str]) -> Problem:
    return Problem(
        status=422,
        code="validation-failed",
        title="The request is not valid",
        detail=None,
        fields=tuple(FieldError(name, reason) for name, reason in fields),
    )


def test_every_reason_for_one_field_is_listed() -> None:
    form = Form(
        problem=_problem(("body.title", "is too long"), ("body.title", "has a control character")),
        fields={"title": "title"},
    )
    assert form.summary == [("title", "is too long"), ("title", "has a control character")]


def test_two_form_fields_for_one_api_field_list_its_reason_once() -> None:
    form = Form(
        problem=_problem(("body.opens_at", "must be before closes_at")),
        fields={"opens_date": "opens_at", "opens_time": "opens_at"},
    )
    assert form.summary == [("opens_date", "must be before closes_at")]


def test_a_reason_without_a_form_field_names_the_api_field() -> None:
    form = Form(
        problem=_problem(("body.items.0.points", "must be positive"), ("body.title", "empty")),
        fields={"title": "title"},
    )
    assert form.summary == [(None, "items.0.points: must be positive"), ("title", "empty")]


def test_a_problem_without_fields_shows_its_detail() -> None:
    problem = Problem(status=409, code="conflict", title="Conflict", detail="Already closed")
    assert Form(problem=problem).summary == [(None, "Already closed")]
