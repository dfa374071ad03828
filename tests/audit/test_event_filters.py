"""Listing audit events for people: by action family, actor, subject and time, newest
first with paging, and never another organization's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.support.factories import Factory, login
from waa_ads.auth.models import Role

pytestmark = pytest.mark.asyncio


async def test_events_are_filtered_and_paged_newest_first(
    client: httpx.AsyncClient, make: Factory
) -> None:
    org = await make.organization()
    admin = await make.user(org, Role.admin)
    headers = await login(client, admin)
    for n in range(3):
        created = await client.post(
            "/api/v1/users",
            json={"email": f"person{n}@example.com", "roles": ["author"]},
            headers=headers,
        )
        assert created.status_code == 201
    person = created.json()["id"]
    await client.patch(f"/api/v1/users/{person}", json={"roles": ["rater"]}, headers=headers)

    def listed(reply: httpx.Response) -> list[tuple[int, str]]:
        assert reply.status_code == 200, reply.text
        return [(e["seq"], e["action"]) for e in reply.json()["items"]]

    everything = listed(await client.get("/api/v1/audit/events", headers=headers))
    users = listed(
        await client.get("/api/v1/audit/events", params={"action_prefix": "user."}, headers=headers)
    )
    assert users == [(s, a) for s, a in everything if a.startswith("user.")]
    assert [a for _, a in users].count("user.created") == 4  # the admin too
    # A prefix is a prefix, not a pattern: "_" and "%" match only themselves.
    assert (
        listed(
            await client.get(
                "/api/v1/audit/events", params={"action_prefix": "u%"}, headers=headers
            )
        )
        == []
    )

    about = listed(
        await client.get(
            "/api/v1/audit/events",
            params={"target_type": "user", "target_id": person},
            headers=headers,
        )
    )
    assert [a for _, a in about] == ["user.created", "user.roles_changed"]
    by_admin = listed(
        await client.get(
            "/api/v1/audit/events", params={"actor_id": str(admin.user.id)}, headers=headers
        )
    )
    assert {a for _, a in by_admin} >= {"user.created", "user.roles_changed"}

    now = datetime.now(UTC)
    future = listed(
        await client.get(
            "/api/v1/audit/events",
            params={"since": (now + timedelta(hours=1)).isoformat()},
            headers=headers,
        )
    )
    assert future == []
    past = listed(
        await client.get(
            "/api/v1/audit/events",
            params={"until": (now - timedelta(days=1)).isoformat()},
            headers=headers,
        )
    )
    assert past == []
    window = listed(
        await client.get(
            "/api/v1/audit/events",
            params={
                "since": (now - timedelta(hours=1)).isoformat(),
                "until": (now + timedelta(hours=1)).isoformat(),
            },
            headers=headers,
        )
    )
    assert window == everything

    pages: list[tuple[int, str]] = []
    params: dict[str, str | int | bool] = {"newest_first": True, "limit": 2}
    while True:
        reply = await client.get("/api/v1/audit/events", params=params, headers=headers)
        pages += listed(reply)
        assert reply.json()["next_after_seq"] is None
        before = reply.json()["next_before_seq"]
        if before is None:
            break
        params["before_seq"] = before
    assert pages == everything[::-1]

    bad = await client.get("/api/v1/audit/events", params={"since": "soon"}, headers=headers)
    assert bad.status_code == 422
    assert bad.json()["invalid_params"][0]["name"] == "query.since"


async def test_filters_never_reach_another_organizations_chain(
    client: httpx.AsyncClient, make: Factory
) -> None:
    first = await make.organization()
    second = await make.organization()
    first_admin = await make.user(first, Role.admin)
    second_admin = await make.user(second, Role.admin)
    first_headers = await login(client, first_admin)
    created = await client.post(
        "/api/v1/users",
        json={"email": "someone@example.com", "roles": ["author"]},
        headers=first_headers,
    )
    target = created.json()["id"]
    theirs = await client.get(
        "/api/v1/audit/events",
        params={"target_id": target, "actor_id": str(first_admin.user.id)},
        headers=await login(client, second_admin),
    )
    assert theirs.json()["items"] == []
