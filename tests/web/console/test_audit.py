"""The audit log pages, in process: events newest first with filters and paging, one event,
the chain's verification, the export link, and who may see them."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.support.console import console_sign_in, field_errors
from tests.support.factories import Factory, login
from waa_ads.auth.models import Role

pytestmark = pytest.mark.asyncio


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


async def test_events_are_browsed_filtered_and_verified(
    client: httpx.AsyncClient, make: Factory
) -> None:
    org = await make.organization()
    admin = await make.user(org, Role.admin)
    headers = await login(client, admin)
    ids = []
    for n in range(3):
        created = await client.post(
            "/api/v1/users",
            json={"email": f"audited{n}@example.com", "roles": ["author"]},
            headers=headers,
        )
        ids.append(created.json()["id"])
    await client.patch(f"/api/v1/users/{ids[0]}", json={"roles": ["rater"]}, headers=headers)
    await console_sign_in(client, admin)

    page = await client.get("/console/audit")
    assert page.status_code == 200
    rows = re.findall(r'<a href="/console/audit/(\d+)">', page.text)
    seqs = [int(s) for s in rows]
    assert seqs == sorted(seqs, reverse=True)  # newest first
    text = _text(page.text)
    assert "user.roles_changed" in text and "auth.login" in text
    assert 'href="/api/v1/audit/export"' in page.text
    assert "audited0@example.com" not in text  # people by id only

    about = await client.get("/console/audit", params={"subject": ids[0]})
    about_text = _text(about.text)
    assert "user.roles_changed" in about_text and "user.created" in about_text
    assert "auth.login" not in about_text
    assert "Clear filters" in about_text
    family = _text((await client.get("/console/audit", params={"action": "auth."})).text)
    assert "auth.login" in family and "user.created" not in family
    nothing = await client.get("/console/audit", params={"since": "2999-01-01T00:00"})
    assert "No events match these filters" in _text(nothing.text)
    bad = await client.get("/console/audit", params={"since": "tomorrow"})
    assert bad.status_code == 422
    assert "since" in field_errors(bad.text)

    # Paging: 50 a page, older events behind "Older events", filters kept.
    for n in range(3, 50):
        await client.post(
            "/api/v1/users",
            json={"email": f"audited{n}@example.com", "roles": ["author"]},
            headers=headers,
        )
    first = await client.get("/console/audit", params={"action": "user."})
    older = re.search(r'<a href="(/console/audit\?[^"]+)">Older events</a>', first.text)
    assert older, "no link to older events"
    second = await client.get(older.group(1).replace("&amp;", "&"))
    assert "user.created" in second.text and "auth.login" not in second.text
    first_seqs = {int(s) for s in re.findall(r'<a href="/console/audit/(\d+)">', first.text)}
    second_seqs = {int(s) for s in re.findall(r'<a href="/console/audit/(\d+)">', second.text)}
    assert first_seqs and second_seqs and max(second_seqs) < min(first_seqs)

    (changed,) = (
        await client.get("/api/v1/audit/events", params={"action": "user.roles_changed"})
    ).json()["items"]
    one = await client.get(f"/console/audit/{changed['seq']}")
    assert one.status_code == 200
    detail = _text(one.text)
    assert "user.roles_changed" in detail
    assert "&#34;after&#34;: [ &#34;rater&#34; ]" in detail  # the event's data
    assert changed["hash"] in detail and changed["prev_hash"] in detail
    missing = await client.get("/console/audit/999999")
    assert missing.status_code == 404

    verified = await client.get("/console/audit/verify")
    assert verified.status_code == 200
    report = (await client.get("/api/v1/audit/verify")).json()
    verified_text = _text(verified.text)
    assert "Intact." in verified_text
    assert f"All {report['checked']} events" in verified_text


async def test_the_audit_log_is_for_admins_of_its_organization(
    client: httpx.AsyncClient, make: Factory
) -> None:
    org = await make.organization()
    admin = await make.user(org, Role.admin)
    proctor = await make.user(org, Role.proctor)
    headers = await login(client, admin)
    secret = await client.post(
        "/api/v1/users", json={"email": "secret@example.com", "roles": ["author"]}, headers=headers
    )
    await console_sign_in(client, proctor)
    for url in ["/console/audit", "/console/audit/verify", "/console/audit/1"]:
        refused = await client.get(url)
        assert refused.status_code == 403, url
        assert "Role required" in refused.text

    other = await make.organization()
    stranger = await make.user(other, Role.admin)
    await console_sign_in(client, stranger)
    theirs = await client.get("/console/audit")
    assert theirs.status_code == 200
    assert secret.json()["id"] not in theirs.text  # only their own chain's events
    assert str(admin.user.id) not in theirs.text
