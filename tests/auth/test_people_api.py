"""Accounts, roles, invitations, candidates, erasure and tenant isolation."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from tests.support.factories import Factory, login
from waa_ads.audit.models import AuditEvent
from waa_ads.auth.models import Candidate, Role, User

pytestmark = pytest.mark.asyncio


async def _count(app: FastAPI, model: type) -> int:
    async with app.state.db.transaction(write=False) as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


async def test_a_second_organization_sees_nothing_of_the_first(
    client: httpx.AsyncClient, make: Factory
) -> None:
    first = await make.organization()
    second = await make.organization()
    first_admin = await make.user(first, Role.admin)
    second_admin = await make.user(second, Role.admin, Role.proctor)
    first_author = await make.user(first, Role.author)
    first_candidate = await make.candidate(first)
    headers = await login(client, second_admin)

    for method, url, body in [
        ("GET", f"/api/v1/users/{first_author.user.id}", None),
        ("PATCH", f"/api/v1/users/{first_author.user.id}", {"roles": ["admin"]}),
        ("POST", f"/api/v1/users/{first_author.user.id}/erase", None),
        ("GET", f"/api/v1/candidates/{first_candidate.id}", None),
        ("PATCH", f"/api/v1/candidates/{first_candidate.id}", {"full_name": "X"}),
        ("POST", f"/api/v1/candidates/{first_candidate.id}/erase", None),
    ]:
        response = await client.request(method, url, json=body, headers=headers)
        assert response.status_code == 404, (method, url, response.text)
        assert response.headers["content-type"] == "application/problem+json"

    users = (await client.get("/api/v1/users", headers=headers)).json()["items"]
    assert {u["id"] for u in users} == {str(second_admin.user.id)}
    candidates = (await client.get("/api/v1/candidates", headers=headers)).json()["items"]
    assert candidates == []

    # Nothing of the first organization changed.
    first_headers = await login(client, first_admin)
    still = await client.get(f"/api/v1/users/{first_author.user.id}", headers=first_headers)
    assert still.json()["roles"] == ["author"]
    cand = await client.get(f"/api/v1/candidates/{first_candidate.id}", headers=first_headers)
    assert cand.json()["full_name"] == "Ada Example"


async def test_only_admins_manage_accounts(
    app: FastAPI, client: httpx.AsyncClient, make: Factory
) -> None:
    org = await make.organization()
    author = await make.user(org, Role.author)
    headers = await login(client, author)
    before = await _count(app, User)
    response = await client.post(
        "/api/v1/users",
        json={"email": "new@example.com", "roles": ["admin"], "password": "a long password 1"},
        headers=headers,
    )
    assert response.status_code == 403
    assert await _count(app, User) == before


async def test_admin_creates_changes_roles_and_the_audit_trail_records_it(
    client: httpx.AsyncClient, make: Factory
) -> None:
    org = await make.organization()
    admin = await make.user(org, Role.admin)
    headers = await login(client, admin)
    created = await client.post(
        "/api/v1/users",
        json={
            "email": "Rater@Example.com",
            "roles": ["rater"],
            "password": "a long password 1",
            "display_name": "Rae Rater",
        },
        headers=headers,
    )
    assert created.status_code == 201, created.text
    user = created.json()
    assert user["email"] == "rater@example.com"
    assert user["invitation_token"] is None
    changed = await client.patch(
        f"/api/v1/users/{user['id']}", json={"roles": ["rater", "proctor"]}, headers=headers
    )
    assert changed.json()["roles"] == ["proctor", "rater"]

    duplicate = await client.post(
        "/api/v1/users",
        json={"email": "rater@example.com", "roles": ["rater"], "password": "a long password 1"},
        headers=headers,
    )
    assert duplicate.status_code == 409
    assert duplicate.json()["type"].endswith("/email-taken")

    events = (await client.get("/api/v1/audit/events", headers=headers)).json()["items"]
    actions = [e["action"] for e in events]
    assert "user.created" in actions
    role_event = next(e for e in events if e["action"] == "user.roles_changed")
    assert role_event["actor_id"] == str(admin.user.id)
    assert role_event["target_id"] == user["id"]
    # People appear by id only: no e-mail address or name in the audit trail.
    assert all("rater@example.com" not in e["canonical"] for e in events)
    assert all("Rae Rater" not in e["canonical"] for e in events)


async def test_admins_cannot_lock_themselves_out(client: httpx.AsyncClient, make: Factory) -> None:
    org = await make.organization()
    admin = await make.user(org, Role.admin)
    headers = await login(client, admin)
    for body in ({"is_active": False}, {"roles": ["author"]}):
        response = await client.patch(f"/api/v1/users/{admin.user.id}", json=body, headers=headers)
        assert response.status_code == 409
        assert response.json()["type"].endswith("/self-lockout")


async def test_invitation_lets_a_new_account_set_its_password_once(
    client: httpx.AsyncClient, make: Factory
) -> None:
    org = await make.organization()
    admin = await make.user(org, Role.admin)
    headers = await login(client, admin)
    created = await client.post(
        "/api/v1/users", json={"email": "invitee@example.com", "roles": ["author"]}, headers=headers
    )
    token = created.json()["invitation_token"]
    assert token
    cannot_login = await client.post(
        "/api/v1/auth/token", data={"username": "invitee@example.com", "password": "x" * 12}
    )
    assert cannot_login.status_code == 401
    short = await client.post(
        "/api/v1/auth/invitations/accept", json={"token": token, "password": "short"}
    )
    assert short.status_code == 422
    assert short.json()["invalid_params"][0]["name"] == "body.password"
    accepted = await client.post(
        "/api/v1/auth/invitations/accept", json={"token": token, "password": "my own password 42"}
    )
    assert accepted.status_code == 204
    again = await client.post(
        "/api/v1/auth/invitations/accept", json={"token": token, "password": "another password 43"}
    )
    assert again.status_code == 401
    ok = await client.post(
        "/api/v1/auth/token",
        data={"username": "invitee@example.com", "password": "my own password 42"},
    )
    assert ok.status_code == 200


async def test_candidates_have_no_password_and_can_be_erased(
    app: FastAPI, client: httpx.AsyncClient, make: Factory
) -> None:
    assert not any("password" in c.name for c in Candidate.__table__.columns)
    org = await make.organization()
    admin = await make.user(org, Role.admin)
    headers = await login(client, admin)
    created = await client.post(
        "/api/v1/candidates",
        json={"full_name": "Grace Candidate", "email": "grace@example.com", "external_id": "S-1"},
        headers=headers,
    )
    assert created.status_code == 201
    cid = created.json()["id"]
    duplicate = await client.post(
        "/api/v1/candidates", json={"full_name": "Other", "external_id": "S-1"}, headers=headers
    )
    assert duplicate.status_code == 409
    found = await client.get("/api/v1/candidates", params={"q": "grace"}, headers=headers)
    assert [c["id"] for c in found.json()["items"]] == [cid]

    erased = await client.post(f"/api/v1/candidates/{cid}/erase", headers=headers)
    assert erased.status_code == 200
    body = erased.json()
    assert body["full_name"] is None
    assert body["email"] is None
    assert body["external_id"] is None
    assert body["erased_at"]
    async with app.state.db.transaction(write=False) as session:
        canonicals = (await session.execute(select(AuditEvent.canonical))).scalars().all()
    assert any(f'"target":{{"id":"{cid}"' in c for c in canonicals)
    assert all("Grace" not in c and "grace@example.com" not in c for c in canonicals)
    # The chain is intact after erasure.
    verify = await client.get("/api/v1/audit/verify", headers=headers)
    assert verify.json()["ok"] is True


async def test_erased_account_cannot_log_in(client: httpx.AsyncClient, make: Factory) -> None:
    org = await make.organization()
    admin = await make.user(org, Role.admin)
    victim = await make.user(org, Role.author)
    headers = await login(client, admin)
    response = await client.post(f"/api/v1/users/{victim.user.id}/erase", headers=headers)
    assert response.status_code == 200
    assert response.json()["email"].endswith("@erased.invalid")
    refused = await client.post(
        "/api/v1/auth/token", data={"username": victim.email, "password": victim.password}
    )
    assert refused.status_code == 401


async def test_pagination_walks_every_account_once(
    client: httpx.AsyncClient, make: Factory
) -> None:
    org = await make.organization()
    admin = await make.user(org, Role.admin)
    for _ in range(6):
        await make.user(org, Role.rater)
    headers = await login(client, admin)
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/api/v1/users", params=params, headers=headers)).json()
        seen += [u["id"] for u in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 7
    bad = await client.get("/api/v1/users", params={"cursor": "!!"}, headers=headers)
    assert bad.status_code == 422


async def test_unknown_timezone_is_422(client: httpx.AsyncClient, make: Factory) -> None:
    org = await make.organization()
    admin = await make.user(org, Role.admin)
    headers = await login(client, admin)
    response = await client.patch(
        "/api/v1/organizations/current", json={"timezone": "Mars/Olympus"}, headers=headers
    )
    assert response.status_code == 422
    assert response.json()["type"].endswith("/unknown-time-zone")
