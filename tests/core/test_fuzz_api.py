"""A bounded fuzz of the whole API from its OpenAPI document (schemathesis): every operation,
valid and invalid input, against the real app on a real database with an administrator
signed in and some data to reach (a bank, a published item, an assessment, an
administration, a started attempt). Any 5xx, or a status code the operation does not
document, fails.

One database for the module (seeded once, then every example runs against it); a fixed
seed and a small example count per operation keep the run short and repeatable. Path
parameters naming a known object are pointed at it, so requests get past the lookups.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import pytest_asyncio
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, seed, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import status_code_conformance
from sqlalchemy.dialects import sqlite

from tests.support.databases import PostgresDatabases, SqliteDatabases
from tests.support.exams import World, begin
from tests.support.factories import Factory, login
from tests.support.settings import make_settings
from waa_ads.auth.models import Role
from waa_ads.core.db import Database, UTCDateTime
from waa_ads.main import create_app

EXAMPLES = 6
SEED = 14
BASE_URL = "http://testserver"

_SPEC_APP = create_app(make_settings())
# Uploads of a single file (a scorecard to verify, a webcam still) are raw bytes of a
# declared type; the fuzz sends them as it sends any binary body.
schemathesis.serializer.alias(
    ["application/pdf", "image/jpeg", "image/png"], "application/octet-stream"
)
schema = schemathesis.openapi.from_dict(_SPEC_APP.openapi())
# The transport is chosen by the schema's app; each test passes the app it runs against.
schema.app = _SPEC_APP
# Random examples (valid and invalid) only: the coverage phase's exhaustive boundary cases
# would take minutes.
schema.config.phases.update(phases=["examples", "fuzzing"])


@dataclass
class Target:
    app: FastAPI
    headers: dict[str, str]
    attempt_token: str
    ids: dict[str, str] = field(default_factory=dict)


async def _seed(url: str) -> tuple[dict[str, str], str, str]:
    """Data to reach, committed through the API: ids by path parameter name, the admin's
    bearer token and a candidate's attempt credential."""
    database = Database(url)
    app = create_app(make_settings(), database=database)
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
                make = Factory(app.state.auth)
                world = await World(client, make).setup()
                published = await world.published_assessment()
                administration = await world.administration(published["version"]["id"])
                candidate = await make.candidate(world.org)
                roster = await client.post(
                    f"/api/v1/administrations/{administration['id']}/roster",
                    json={"entries": [{"candidate_id": str(candidate.id)}]},
                    headers=world.headers,
                )
                assert roster.status_code == 201, roster.text
                entry = roster.json()[0]
                attempt_id, credential = await begin(client, entry["access_code"])
                author = await make.user(world.org, Role.author)
                ids = {
                    "bank_id": world.bank_id,
                    "item_id": world.items["A1"],
                    "assessment_id": published["assessment"]["id"],
                    "administration_id": administration["id"],
                    "entry_id": entry["id"],
                    "attempt_id": attempt_id,
                    "candidate_id": str(candidate.id),
                    "user_id": str(author.user.id),
                }
                return ids, world.headers["Authorization"], credential["X-Attempt-Token"]
    finally:
        await database.dispose()


@pytest_asyncio.fixture(scope="module")
async def target(
    databases: PostgresDatabases | SqliteDatabases,
) -> AsyncIterator[Target]:
    url = await databases.copy()
    ids, authorization, credential = await _seed(url)
    # The fuzzed app starts (and keeps) its own lifespan on schemathesis' event loop.
    app = create_app(make_settings(database_url=url))
    yield Target(app, {"Authorization": authorization}, credential, ids)
    await databases.drop(url)


@schema.parametrize()
@seed(SEED)
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_api_answers_every_request_with_a_documented_status(
    case: schemathesis.Case[Any], target: Target
) -> None:
    for name in list(case.path_parameters or {}):
        if name in target.ids:
            assert case.path_parameters is not None
            case.path_parameters[name] = target.ids[name]
    headers: dict[str, str] = {}
    if case.path != "/api/v1/auth/logout":  # it would end the administrator's session
        headers.update(target.headers)
    if case.headers and "X-Attempt-Token" in case.headers:
        case.headers["X-Attempt-Token"] = target.attempt_token
    case.call_and_validate(
        app=target.app,
        base_url=BASE_URL,
        headers=headers,
        checks=[not_a_server_error, status_code_conformance],
    )


@pytest.mark.asyncio
async def test_a_body_the_framework_cannot_parse_is_a_422(
    client: httpx.AsyncClient, make: Factory
) -> None:
    """What the fuzz first found: JSON that is not UTF-8 and a broken multipart form were
    answered 400, a status no route documents."""
    account = await make.user(await make.organization(), Role.admin)
    headers = await login(client, account)
    not_utf8 = await client.post(
        "/api/v1/banks",
        content=b'{"slug": "\xff\xfe"}',
        headers={**headers, "Content-Type": "application/json"},
    )
    broken_form = await client.post(
        f"/api/v1/administrations/{uuid.uuid4()}/roster/csv",
        content=b"--b\r\nno headers here--b--\r\n",
        headers={**headers, "Content-Type": "multipart/form-data; boundary=b"},
    )
    for response in (not_utf8, broken_form):
        assert response.status_code == 422, response.text
        problem = response.json()
        assert problem["type"].endswith("/validation-error")
        assert [p["name"] for p in problem["invalid_params"]] == ["body"]


def test_a_time_before_the_year_1000_reads_back_from_sqlite() -> None:
    """What the fuzz found on SQLite: an administration window in the year 360 was stored
    as "360-06-12T..." and every later read of the row failed."""
    column = UTCDateTime()
    dialect = sqlite.dialect()
    for moment in (
        datetime(360, 6, 12, 4, 23, 19, 372240, tzinfo=UTC),
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(2026, 12, 3, 9, 0, tzinfo=UTC),
    ):
        stored = column.process_bind_param(moment, dialect)
        assert column.process_result_value(stored, dialect) == moment
    assert column.process_bind_param(datetime(360, 1, 1, tzinfo=UTC), dialect) < (
        column.process_bind_param(datetime(2026, 1, 1, tzinfo=UTC), dialect)
    )
