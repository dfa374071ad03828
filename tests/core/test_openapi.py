"""Every reply is typed, every problem is a Problem, and what a candidate receives is closed.

These tests read ``/openapi.json`` as a client would. A 2xx reply is *untyped* when its JSON
body has no schema, an empty one, a bare ``type: object`` or an open dict
(``additionalProperties: true``), or is an array or map of such; files and streams are
exempt only when listed below with their media type, and so are the few replies that are
open JSON documents by nature (each route says why in its description).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import BaseModel, ConfigDict, TypeAdapter

from waa_ads.core.errors import PROBLEM_MEDIA_TYPE
from waa_ads.core.settings import Environment, Settings
from waa_ads.main import create_app

Spec = dict[str, Any]
Route = tuple[str, str]  # (METHOD, path)

#: Replies that are files or streams, by the media types they document for their 2xx body.
FILE_ROUTES: dict[Route, set[str]] = {
    ("GET", "/api/v1/banks/{bank_id}/export"): {"application/zip"},
    ("GET", "/api/v1/assessments/{assessment_id}/export-qti"): {"application/zip"},
    ("POST", "/api/v1/reports/candidate/scorecard.pdf"): {"application/pdf"},
    ("GET", "/api/v1/items/{item_id}/versions/{version}/qti"): {"application/xml"},
    ("GET", "/api/v1/media/signed/{organization_id}/{sha256}"): {"application/octet-stream"},
    ("GET", "/api/v1/media/sha256/{sha256}"): {"application/octet-stream"},
    ("GET", "/api/v1/media/{media_id}/content"): {"application/octet-stream"},
    ("GET", "/api/v1/results/export.csv"): {"text/csv"},
    ("GET", "/api/v1/rating/plans/{plan_id}/export.csv"): {"text/csv"},
    ("GET", "/api/v1/rating/leases/{lease_id}/file"): {"application/octet-stream"},
    ("GET", "/api/v1/results/qti"): {"application/zip"},
    ("GET", "/api/v1/results/{attempt_id}/qti"): {"application/xml"},
    ("GET", "/api/v1/audit/export"): {"application/x-ndjson"},
    ("GET", "/api/v1/organizations/{organization_id}/logo"): {
        "image/png",
        "image/jpeg",
        "image/webp",
    },
    ("GET", "/api/v1/organizations/{organization_id}/player.css"): {"text/css"},
    ("GET", "/api/v1/reports/attempts/{attempt_id}/scorecard.pdf"): {"application/pdf"},
    ("GET", "/api/v1/reports/administrations/{administration_id}/cohort.{fmt}"): {
        "text/html",
        "application/pdf",
    },
    ("GET", "/api/v1/reports/administrations/{administration_id}/charts/{name}.png"): {"image/png"},
    ("GET", "/api/v1/reports/administrations/{administration_id}/{table}.{fmt}"): {
        "text/csv",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    },
    ("GET", "/api/v1/reports/files/{sha256}"): {"application/zip", "application/pdf"},
    ("GET", "/api/v1/integrity/frames/{frame_id}/thumbnail"): {"image/jpeg", "image/png"},
    ("GET", "/api/v1/integrity/frames/{frame_id}/image"): {"image/jpeg", "image/png"},
    ("GET", "/api/v1/integrity/fairness.csv"): {"text/csv"},
    ("GET", "/api/v1/psychometrics/administrations/{administration_id}/item-analysis.csv"): {
        "text/csv"
    },
    ("GET", "/api/v1/psychometrics/administrations/{administration_id}/curves/{name}.png"): {
        "image/png"
    },
    # LTI's browser steps answer with pages: the hand-off into the player, the picker.
    ("POST", "/lti/launch"): {"text/html"},
    ("POST", "/lti/deep-link"): {"text/html"},
}

#: JSON replies that are open documents by nature: JSON Schema documents, whose keywords
#: are JSON Schema's own. Each route's description says why its reply is open.
OPEN_JSON_DOCUMENTS: set[Route] = {
    ("GET", "/api/v1/rubrics/schema"),
    ("GET", "/api/v1/items/{item_id}/versions/{version}/response-schema"),
}

#: Error statuses whose body is a document of the route's own rather than a Problem.
NON_PROBLEM_ERRORS: dict[Route, set[str]] = {
    ("GET", "/readyz"): {"503"},  # the readiness report, naming each failed dependency
}

#: The candidate's credential: every route a candidate's player calls about an attempt
#: takes it. Starting (or resuming) an attempt takes an access code instead.
ATTEMPT_TOKEN_HEADER = "x-attempt-token"
START_ROUTES: set[Route] = {("POST", "/api/v1/attempts")}

HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> Spec:
    settings = Settings(
        env=Environment.test,
        secret_key="openapi-test-secret-key-that-is-long-enough-0123",
        data_dir=Path(tmp_path_factory.mktemp("openapi-data")),
    )

    async def fetch() -> httpx.Response:
        # No lifespan: the document needs no database, cache or blob store.
        transport = httpx.ASGITransport(app=create_app(settings))
        async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as c:
            return await c.get("/openapi.json")

    response = asyncio.run(fetch())
    assert response.status_code == 200
    document: Spec = response.json()
    return document


def _operations(spec: Spec) -> Iterator[tuple[Route, Spec]]:
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield (method.upper(), path), operation


def _resolve(spec: Spec, schema: Spec) -> Spec:
    seen: set[str] = set()
    while "$ref" in schema:
        ref = schema["$ref"]
        assert ref.startswith("#/components/schemas/"), f"unexpected reference {ref}"
        assert ref not in seen, f"reference cycle at {ref}"
        seen.add(ref)
        name = ref.removeprefix("#/components/schemas/")
        assert name in spec["components"]["schemas"], f"dangling reference {ref}"
        schema = spec["components"]["schemas"][name]
    return schema


def _is_json(media_type: str) -> bool:
    essence = media_type.split(";", maxsplit=1)[0].strip().lower()
    return essence == "application/json" or essence.endswith("+json")


def _untyped(spec: Spec, schema: Spec | bool | None, where: str) -> list[str]:
    """Why ``schema`` (or a value it holds as an array item or map value) is untyped."""
    if schema is None or schema is True or schema == {}:
        return [f"{where}: no schema"]
    if schema is False:
        return []
    schema = _resolve(spec, schema)
    for combinator in ("anyOf", "oneOf", "allOf"):
        if combinator in schema:
            return [
                problem
                for branch in schema[combinator]
                if _resolve(spec, branch).get("type") != "null"
                for problem in _untyped(spec, branch, where)
            ]
    kind = schema.get("type")
    if kind == "array":
        return _untyped(spec, schema.get("items"), f"{where}[]")
    if kind == "object" or "properties" in schema or "additionalProperties" in schema:
        extra = schema.get("additionalProperties")
        if extra is True or extra == {}:
            return [f"{where}: an open object (additionalProperties: true)"]
        if schema.get("properties"):
            return []
        if isinstance(extra, dict):
            return _untyped(spec, extra, f"{where}{{}}")
        return [f"{where}: a bare object with no properties"]
    if kind is None and not {"enum", "const"} & schema.keys():
        return [f"{where}: no type"]
    return []


def _success_replies(operation: Spec) -> Iterator[tuple[str, Spec]]:
    for status, response in operation.get("responses", {}).items():
        if status.startswith("2"):
            yield status, response


def test_every_success_reply_is_typed(spec: Spec) -> None:
    problems: list[str] = []
    for route, operation in _operations(spec):
        where = f"{route[0]} {route[1]}"
        for status, response in _success_replies(operation):
            content: dict[str, Spec] = response.get("content") or {}
            if status == "204":
                if content:
                    problems.append(f"{where} {status}: a 204 has no body, yet documents one")
                continue
            if not content:
                problems.append(f"{where} {status}: no body documented")
                continue
            for media_type, body in content.items():
                if not _is_json(media_type):
                    if media_type not in FILE_ROUTES.get(route, set()):
                        problems.append(
                            f"{where} {status}: {media_type} is not a listed file or stream reply"
                        )
                    continue
                if route in FILE_ROUTES:
                    problems.append(f"{where} {status}: a file reply also documents JSON")
                    continue
                if route in OPEN_JSON_DOCUMENTS:
                    continue
                problems.extend(_untyped(spec, body.get("schema"), f"{where} {status}"))
    assert not problems, "untyped replies:\n" + "\n".join(problems)


def test_the_exemptions_are_real_routes_and_say_why(spec: Spec) -> None:
    operations = dict(_operations(spec))
    for route, media_types in FILE_ROUTES.items():
        assert route in operations, f"{route} is exempt but no longer exists"
        documented = {
            media_type
            for _, response in _success_replies(operations[route])
            for media_type in response.get("content") or {}
        }
        assert documented == media_types, (route, documented)
    for route in OPEN_JSON_DOCUMENTS:
        assert route in operations, f"{route} is exempt but no longer exists"
        description = operations[route].get("description", "")
        assert "open object on purpose" in description, (
            f"{route} replies with an open document; its docstring must say why"
        )


def test_every_documented_problem_is_a_problem(spec: Spec) -> None:
    problem_ref = "#/components/schemas/Problem"
    assert "Problem" in spec["components"]["schemas"]
    problems: list[str] = []
    for route, operation in _operations(spec):
        where = f"{route[0]} {route[1]}"
        for status, response in operation.get("responses", {}).items():
            if status[0] not in "45" or status in NON_PROBLEM_ERRORS.get(route, set()):
                continue
            content: dict[str, Spec] = response.get("content") or {}
            if set(content) != {PROBLEM_MEDIA_TYPE}:
                problems.append(
                    f"{where} {status}: documented as {sorted(content)}, not only as "
                    f"{PROBLEM_MEDIA_TYPE} (the one media type problems are sent as)"
                )
            for media_type, body in content.items():
                if (body.get("schema") or {}).get("$ref") != problem_ref:
                    problems.append(f"{where} {status} {media_type}: not the Problem schema")
            for name, example in (
                content.get(PROBLEM_MEDIA_TYPE, {}).get("examples") or {}
            ).items():
                value = example.get("value", {})
                if (
                    not value.get("type", "").endswith("/" + name)
                    or str(value.get("status")) != status
                ):
                    problems.append(f"{where} {status}: example {name} names another problem")
    assert not problems, "\n".join(problems)


def _candidate_routes(spec: Spec) -> dict[Route, Spec]:
    found = {}
    for route, operation in _operations(spec):
        headers = {
            p["name"].lower() for p in operation.get("parameters", []) if p.get("in") == "header"
        }
        if ATTEMPT_TOKEN_HEADER in headers or route in START_ROUTES:
            found[route] = operation
    return found


def _open_objects(spec: Spec, schema: Spec | bool | None, where: str, seen: set[str]) -> list[str]:
    """Every object reachable from ``schema`` that admits fields it does not name."""
    if not isinstance(schema, dict):
        return []
    if "$ref" in schema:
        if schema["$ref"] in seen:
            return []
        seen.add(schema["$ref"])
        name = schema["$ref"].removeprefix("#/components/schemas/")
        return _open_objects(spec, _resolve(spec, schema), name, seen)
    found: list[str] = []
    for combinator in ("anyOf", "oneOf", "allOf", "prefixItems"):
        for branch in schema.get(combinator, []):
            found += _open_objects(spec, branch, where, seen)
    if "items" in schema:
        found += _open_objects(spec, schema["items"], f"{where}[]", seen)
    properties: dict[str, Spec] = schema.get("properties") or {}
    extra = schema.get("additionalProperties")
    is_object = schema.get("type") == "object" or bool(properties) or extra is not None
    if is_object:
        if properties and extra is not False:
            found.append(f"{where}: admits fields it does not name")
        elif not properties and not isinstance(extra, dict) and extra is not False:
            found.append(f"{where}: an open object")
        elif not properties and isinstance(extra, dict):
            if extra == {}:
                found.append(f"{where}: a map of untyped values")
            found += _open_objects(spec, extra, f"{where}{{}}", seen)
    for name, sub in properties.items():
        found += _open_objects(spec, sub, f"{where}.{name}", seen)
    return found


def test_candidate_replies_are_closed(spec: Spec) -> None:
    """A reply a candidate's player receives names every field it may hold
    (``additionalProperties: false``), so an answer key cannot slip into it by accident.

    Candidate routes are found by their credential (the attempt token header) plus the
    start route; the proctor actions under ``/attempts/{id}/...`` authenticate staff with a
    bearer token and are not among them.
    """
    routes = _candidate_routes(spec)
    assert ("GET", "/api/v1/attempts/{attempt_id}") in routes
    assert ("PUT", "/api/v1/attempts/{attempt_id}/responses/{item_ref}") in routes
    assert routes.keys() >= START_ROUTES
    problems: list[str] = []
    for route, operation in sorted(routes.items()):
        where = f"{route[0]} {route[1]}"
        for status, response in _success_replies(operation):
            for media_type, body in (response.get("content") or {}).items():
                if not _is_json(media_type):
                    continue
                schema = body.get("schema")
                if not schema:
                    problems.append(f"{where} {status}: no reply model")
                    continue
                for problem in _open_objects(spec, schema, "reply", set()):
                    problems.append(f"{where} {status}: {problem}")
    assert not problems, "candidate replies that are not closed:\n" + "\n".join(problems)


# --- the checks themselves ---------------------------------------------------------------------


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str


class _Open(BaseModel):
    name: str


class _Loose(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: str


class _Holder(BaseModel):
    model_config = ConfigDict(extra="forbid")
    inner: _Open


def _document(annotation: Any) -> tuple[Spec, Spec]:
    """A one-schema spec for ``annotation``, as FastAPI lays components out."""
    schema = TypeAdapter(annotation).json_schema(ref_template="#/components/schemas/{model}")
    components = schema.pop("$defs", {})
    return {"components": {"schemas": components}}, schema


@pytest.mark.parametrize(
    ("annotation", "untyped"),
    [
        (dict[str, Any], True),
        (list[dict[str, Any]], True),
        (dict[str, dict[str, Any]], True),
        (Any, True),
        (_Loose, True),
        (_Open | None, False),
        (list[_Open], False),
        (dict[str, _Open], False),
        (int, False),
    ],
)
def test_untyped_replies_are_recognized(annotation: Any, untyped: bool) -> None:
    spec, schema = _document(annotation)
    assert bool(_untyped(spec, schema, "reply")) is untyped


@pytest.mark.parametrize(
    ("annotation", "closed"),
    [
        (_Closed, True),
        (list[_Closed], True),
        (dict[str, _Closed], True),
        (_Closed | None, True),
        (_Open, False),
        (_Holder, False),
        (_Loose, False),
        (dict[str, Any], False),
    ],
)
def test_open_candidate_replies_are_recognized(annotation: Any, closed: bool) -> None:
    spec, schema = _document(annotation)
    assert (not _open_objects(spec, schema, "reply", set())) is closed
