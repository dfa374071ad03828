"""A staff member's own language: set by the person (``PUT /auth/me/language``), by an
admin (``PATCH /users/{id}``) or with the invitation, checked, audited, and used for the
invitation e-mail before the organization's default."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from tests.support.factories import Factory, login
from waa_ads.audit.models import AuditEvent
from waa_ads.auth.models import Role, User

pytestmark = pytest.mark.asyncio

ME = "/api/v1/auth/me"
MINE = "/api/v1/auth/me/language"


async def _events(app: FastAPI, user_id: str) -> list[dict[str, Any]]:
    async with app.state.db.transaction(write=False) as session:
        rows = (
            await session.execute(
                select(AuditEvent)
                .where(
                    AuditEvent.target_id == user_id, AuditEvent.action == "user.language_changed"
                )
                .order_by(AuditEvent.seq)
            )
        ).scalars()
        return [json.loads(row.canonical) for row in rows]


async def test_a_staff_member_sets_and_clears_their_own_language(
    app: FastAPI, client: httpx.AsyncClient, make: Factory
) -> None:
    org = await make.organization()
    rater = await make.user(org, Role.rater)
    headers = await login(client, rater)
    me = (await client.get(ME, headers=headers)).json()
    assert me["locale"] is None

    changed = await client.put(MINE, json={"locale": "fr"}, headers=headers)
    assert changed.status_code == 200, changed.text
    assert changed.json()["locale"] == "fr"
    assert changed.json()["user_id"] == me["user_id"]
    assert (await client.get(ME, headers=headers)).json()["locale"] == "fr"
    async with app.state.db.transaction(write=False) as session:
        stored = await session.get(User, uuid.UUID(me["user_id"]))
        assert stored is not None and stored.locale == "fr"

    # The same language again records nothing.
    assert (await client.put(MINE, json={"locale": "fr"}, headers=headers)).status_code == 200
    events = await _events(app, me["user_id"])
    assert [e["data"] for e in events] == [{"from": None, "to": "fr"}]
    assert events[0]["actor"] == {"type": "user", "id": me["user_id"]}

    # A language the product does not speak is refused, naming the field, and changes nothing.
    refused = await client.put(MINE, json={"locale": "xx"}, headers=headers)
    assert refused.status_code == 422
    assert "'xx' is not a language" in refused.json()["detail"]
    assert [p["name"] for p in refused.json()["invalid_params"]] == ["body.locale"]
    assert (await client.put(MINE, json={}, headers=headers)).status_code == 422
    assert (await client.get(ME, headers=headers)).json()["locale"] == "fr"

    cleared = await client.put(MINE, json={"locale": None}, headers=headers)
    assert cleared.status_code == 200 and cleared.json()["locale"] is None
    events = await _events(app, me["user_id"])
    assert [e["data"] for e in events][-1] == {"from": "fr", "to": None}

    # Only a signed-in person has one.
    assert (await client.put(MINE, json={"locale": "fr"})).status_code == 401


async def test_an_admin_sets_a_colleagues_language_and_the_list_shows_it(
    app: FastAPI, client: httpx.AsyncClient, make: Factory
) -> None:
    org = await make.organization()
    admin_headers = await login(client, await make.user(org, Role.admin))
    author = await make.user(org, Role.author)
    url = f"/api/v1/users/{author.user.id}"
    changed = await client.patch(url, json={"locale": "fr"}, headers=admin_headers)
    assert changed.status_code == 200, changed.text
    assert changed.json()["locale"] == "fr"
    assert (await client.get(url, headers=admin_headers)).json()["locale"] == "fr"
    author_headers = await login(client, author)
    assert (await client.get(ME, headers=author_headers)).json()["locale"] == "fr"
    # Other fields untouched by a change of language, and back to the default with null.
    cleared = await client.patch(url, json={"locale": None}, headers=admin_headers)
    assert cleared.json()["locale"] is None and cleared.json()["roles"] == ["author"]
    assert (
        await client.patch(url, json={"locale": "zz"}, headers=admin_headers)
    ).status_code == 422
    events = await _events(app, str(author.user.id))
    assert [e["data"] for e in events] == [{"from": None, "to": "fr"}, {"from": "fr", "to": None}]

    # Another organization's admin cannot reach the account.
    other = await make.organization()
    outsider = await login(client, await make.user(other, Role.admin))
    assert (await client.patch(url, json={"locale": "en"}, headers=outsider)).status_code == 404

    # An account made with a language has it from the start.
    made = await client.post(
        "/api/v1/users",
        json={
            "email": f"fr-{uuid.uuid4().hex[:6]}@example.org",
            "roles": ["proctor"],
            "password": "a-long-enough-password-1",
            "locale": "fr",
        },
        headers=admin_headers,
    )
    assert made.status_code == 201, made.text
    assert made.json()["locale"] == "fr"
