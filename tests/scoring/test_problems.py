"""The problem codes of the scoring and results API as /openapi.json documents them."""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest

from waa_ads.core.errors import PROBLEM_MEDIA_TYPE, DomainError
from waa_ads.main import create_app
from waa_ads.scoring import errors


@cache
def _openapi() -> dict[str, Any]:
    return create_app().openapi()


def _scoring_routes() -> list[tuple[str, str]]:
    return [
        (method, path)
        for path, operations in _openapi()["paths"].items()
        if path.startswith(("/api/v1/results", "/api/v1/rescore"))
        or path.endswith(("/result", "/versions/{version}/score"))
        for method in operations
    ]


def _codes(path: str, method: str, status: str) -> set[str]:
    response = _openapi()["paths"][path][method]["responses"][status]
    return set(response["content"][PROBLEM_MEDIA_TYPE].get("examples", {}))


def test_the_routes_are_all_there() -> None:
    assert len(_scoring_routes()) == 13


@pytest.mark.parametrize(("method", "path"), _scoring_routes())
def test_every_refusal_names_its_problem_codes(method: str, path: str) -> None:
    """Beyond the refusals every route shares (413, 422 of the body, 500), each problem a
    route documents comes with the codes a client matches on."""
    for status in _openapi()["paths"][path][method]["responses"]:
        if status.startswith("2") or status in ("413", "422", "500"):
            continue
        assert _codes(path, method, status), f"{method} {path}: {status} names no code"


def test_the_candidates_result_route_names_its_codes() -> None:
    path = "/api/v1/attempts/{attempt_id}/result"
    assert _codes(path, "get", "404") == {"attempt-not-found", "result-not-released"}


def test_the_release_names_its_conflicts() -> None:
    path = "/api/v1/results/{attempt_id}/release"
    assert _codes(path, "post", "409") >= {"result-incomplete", "attempt-not-releasable"}


def test_the_problem_codes_are_unique() -> None:
    classes = [
        value
        for value in vars(errors).values()
        if isinstance(value, type)
        and issubclass(value, DomainError)
        and value.__module__ == errors.__name__
    ]
    assert len(classes) == 9
    assert len({c.code for c in classes}) == len(classes)
