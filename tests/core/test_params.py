"""Request parameters the database cannot hold are a 422 naming them, never a 500: integers
beyond their column's range (path, query, form and body), and an explicit ``null`` in a
partial update for a field whose column may not be empty."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.exams import World
from tests.support.factories import Factory
from tests.support.settings import make_settings
from waa_ads.auth.models import Role
from waa_ads.core.params import INT32_MAX, INT64_MAX
from waa_ads.main import create_app

RUBRICS = Path(__file__).resolve().parents[1] / "fixtures" / "rubrics"
HUGE = 99999999999999999999  # beyond 64 bits: the driver's OverflowError
BIGINT_PAST = 2**63  # one past BIGINT
INTEGER_PAST = 2**31  # one past INTEGER (fits BIGINT)


def _integers(
    schema: Any, components: dict[str, Any], where: str, seen: set[str]
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every integer schema reachable from ``schema`` with its dotted location."""
    if not isinstance(schema, dict):
        return
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        if name not in seen:
            yield from _integers(components[name], components, where, seen | {name})
        return
    if schema.get("type") == "integer":
        yield where, schema
    for key, value in schema.items():
        if key == "properties":
            for prop, sub in value.items():
                yield from _integers(sub, components, f"{where}.{prop}", seen)
        elif isinstance(value, dict):
            yield from _integers(value, components, where, seen)
        elif isinstance(value, list):
            for sub in value:
                yield from _integers(sub, components, where, seen)


def test_every_integer_a_route_accepts_has_a_maximum_its_column_holds() -> None:
    spec = create_app(make_settings()).openapi()
    components = spec["components"]["schemas"]
    found: list[tuple[str, dict[str, Any]]] = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            route = f"{method.upper()} {path}"
            for param in operation.get("parameters", []):
                where = f"{route} {param['in']}.{param['name']}"
                found += _integers(param.get("schema", {}), components, where, set())
            for media, content in operation.get("requestBody", {}).get("content", {}).items():
                found += _integers(content.get("schema", {}), components, f"{route} {media}", set())
    assert found, "no integer parameter found: the walk is broken"
    unbounded = [where for where, schema in found if "maximum" not in schema]
    assert unbounded == []
    too_big = [where for where, schema in found if schema["maximum"] > INT64_MAX]
    assert too_big == []
    # Version numbers are INTEGER columns.
    versions = [where for where, _ in found if where.endswith("version")]
    assert versions
    assert [w for w, s in found if w.endswith("version") and s["maximum"] > INT32_MAX] == []


async def _world(client: httpx.AsyncClient, make: Factory) -> tuple[World, dict[str, str]]:
    world = await World(client, make).setup(tagged={"A1": []})
    assessment = await client.post(
        "/api/v1/assessments",
        json={
            "slug": "sizes",
            "definition": world.definition(
                sections=[
                    {"identifier": "s", "title": "S", "items": [{"item_id": world.items["A1"]}]}
                ]
            ),
        },
        headers=world.headers,
    )
    assert assessment.status_code == 201, assessment.text
    rubric = await client.post(
        "/api/v1/rubrics",
        json={"slug": "essay", "yaml": (RUBRICS / "argumentative-essay.yaml").read_text()},
        headers=world.headers,
    )
    assert rubric.status_code == 201, rubric.text
    return world, {
        "item": world.items["A1"],
        "assessment": assessment.json()["assessment"]["id"],
        "rubric": rubric.json()["rubric"]["id"],
    }


@pytest.mark.parametrize("number", [HUGE, BIGINT_PAST, INTEGER_PAST, 0, -1])
@pytest.mark.asyncio
async def test_out_of_range_integers_are_a_422_naming_the_parameter(
    client: httpx.AsyncClient, make: Factory, number: int
) -> None:
    world, ids = await _world(client, make)
    item, assessment, rubric = ids["item"], ids["assessment"], ids["rubric"]
    probes: list[tuple[str, str, dict[str, Any] | None, str]] = [
        ("GET", f"/api/v1/items/{item}/versions/{number}", None, "path.version"),
        ("GET", f"/api/v1/items/{item}/versions/{number}/preview", None, "path.version"),
        ("GET", f"/api/v1/items/{item}/versions/{number}/response-schema", None, "path.version"),
        (
            "POST",
            f"/api/v1/items/{item}/versions/{number}/score",
            {"responses": {}},
            "path.version",
        ),
        ("GET", f"/api/v1/rubrics/{rubric}/versions/{number}", None, "path.version"),
        ("GET", f"/api/v1/assessments/{assessment}/versions/{number}", None, "path.version"),
        (
            "GET",
            f"/api/v1/assessments/{assessment}/preview?version={number}",
            None,
            "query.version",
        ),
        ("PATCH", f"/api/v1/items/{item}", {"expected_version": number}, "body.expected_version"),
        (
            "POST",
            "/api/v1/rescore",
            {"item_id": item, "from_version": number, "to_version": 1, "reason": "key"},
            "body.from_version",
        ),
    ]
    if number > INT64_MAX or number < 0:
        probes += [
            ("GET", f"/api/v1/audit/events?after_seq={number}", None, "query.after_seq"),
            ("GET", f"/api/v1/items/{item}/versions/1/preview?seed={number}", None, "query.seed"),
        ]
    for method, url, body, where in probes:
        response = await client.request(method, url, json=body, headers=world.headers)
        assert response.status_code == 422, (method, url, response.text)
        assert where in [p["name"] for p in response.json()["invalid_params"]], (url, response.text)


@pytest.mark.asyncio
async def test_the_largest_integers_each_column_holds_are_answered(
    client: httpx.AsyncClient, make: Factory
) -> None:
    world, ids = await _world(client, make)
    missing = await client.get(
        f"/api/v1/items/{ids['item']}/versions/{INT32_MAX}", headers=world.headers
    )
    assert missing.status_code == 404, missing.text
    page = await client.get(f"/api/v1/audit/events?after_seq={INT64_MAX}", headers=world.headers)
    assert page.status_code == 200, page.text
    assert page.json()["items"] == []


# --- explicit nulls in partial updates ------------------------------------------------------


async def _patch_targets(client: httpx.AsyncClient, make: Factory) -> tuple[World, dict[str, str]]:
    world, ids = await _world(client, make)
    other = await make.user(world.org, Role.author)
    candidate = await make.candidate(world.org)
    published = await client.post(
        f"/api/v1/assessments/{ids['assessment']}/publish", headers=world.headers
    )
    assert published.status_code == 200, published.text
    administration = await world.administration(published.json()["version"]["id"])
    return world, {
        "bank": f"/api/v1/banks/{world.bank_id}",
        "organization": "/api/v1/organizations/current",
        "user": f"/api/v1/users/{other.user.id}",
        "candidate": f"/api/v1/candidates/{candidate.id}",
        "item": f"/api/v1/items/{ids['item']}",
        "administration": f"/api/v1/administrations/{administration['id']}",
    }


NOT_NULL = [
    ("bank", "name"),
    ("bank", "review_required"),
    ("organization", "name"),
    ("organization", "timezone"),
    ("user", "roles"),
    ("user", "is_active"),
    ("candidate", "full_name"),
    ("item", "source"),
    ("item", "metadata"),
    ("item", "rubric_version_id"),
    ("administration", "title"),
    ("administration", "opens_at"),
    ("administration", "closes_at"),
    ("administration", "proctor_ids"),
]


@pytest.mark.asyncio
async def test_an_explicit_null_on_a_field_that_cannot_be_empty_is_a_422_naming_it(
    client: httpx.AsyncClient, make: Factory
) -> None:
    world, urls = await _patch_targets(client, make)
    for target, field in NOT_NULL:
        response = await client.patch(urls[target], json={field: None}, headers=world.headers)
        assert response.status_code == 422, (target, field, response.text)
        problem = response.json()
        assert problem["type"].endswith("/validation-error")
        assert [p["name"] for p in problem["invalid_params"]] == [f"body.{field}"], problem
        assert field in problem["detail"]
    # Nothing was changed by the refused requests.
    bank = (await client.get(urls["bank"], headers=world.headers)).json()
    assert (bank["name"], bank["review_required"]) == ("Main", False)


@pytest.mark.asyncio
async def test_an_explicit_null_clears_a_field_that_may_be_empty(
    client: httpx.AsyncClient, make: Factory
) -> None:
    world, urls = await _patch_targets(client, make)
    headers = world.headers
    described = await client.patch(urls["bank"], json={"description": "x"}, headers=headers)
    assert described.json()["description"] == "x"
    cleared = await client.patch(urls["bank"], json={"description": None}, headers=headers)
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["description"] is None

    noted = await client.patch(urls["administration"], json={"notes": "room 4"}, headers=headers)
    assert noted.status_code == 200, noted.text
    unnoted = await client.patch(urls["administration"], json={"notes": None}, headers=headers)
    assert unnoted.status_code == 200, unnoted.text
    assert unnoted.json()["notes"] is None

    for target, field in [("user", "display_name"), ("candidate", "email")]:
        response = await client.patch(urls[target], json={field: None}, headers=headers)
        assert response.status_code == 200, (target, response.text)
        assert response.json()[field] is None


def test_patch_bodies_document_which_fields_take_null() -> None:
    components = create_app(make_settings()).openapi()["components"]["schemas"]
    bank = components["BankUpdate"]["properties"]
    assert bank["name"]["type"] == "string"
    assert bank["review_required"]["type"] == "boolean"
    assert {"type": "null"} in bank["description"]["anyOf"]
    administration = components["AdministrationUpdate"]["properties"]
    assert administration["opens_at"]["format"] == "date-time"
    assert {"type": "null"} in administration["notes"]["anyOf"]
