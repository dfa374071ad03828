"""The console's administrations: the list at a glance, scheduling and editing a window in
the organization's time zone, the roster (adding, a CSV whose bad rows are listed and that
adds nothing, accommodations), access codes and their sheet of slips, the attempts, and what
a role without the right or another organization gets."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.support.console import console_sign_in, field_errors, post_form
from tests.support.exams import World
from tests.support.factories import Factory
from waa_ads.auth.models import Candidate, Role

pytestmark = pytest.mark.asyncio

_CODE = re.compile(r'<p class="slip-code">([0-9A-Z-]{19})</p>')


class Setup:
    world: World
    administration: dict[str, Any]
    base: str
    csrf: str


async def _setup(client: httpx.AsyncClient, make: Factory) -> Setup:
    s = Setup()
    s.world = await World(client, make).setup()
    published = await s.world.published_assessment()
    s.administration = await s.world.administration(published["version"]["id"])
    s.base = f"/console/administrations/{s.administration['id']}"
    s.csrf = await console_sign_in(client, s.world.admin)
    return s


async def _roster(client: httpx.AsyncClient, s: Setup) -> list[dict[str, Any]]:
    reply = await client.get(
        f"/api/v1/administrations/{s.administration['id']}/roster", headers=s.world.headers
    )
    assert reply.status_code == 200, reply.text
    rows: list[dict[str, Any]] = reply.json()
    return rows


async def _add(client: httpx.AsyncClient, s: Setup, *people: Candidate) -> list[str]:
    reply = await client.post(
        f"/api/v1/administrations/{s.administration['id']}/roster",
        json={"entries": [{"candidate_id": str(p.id)} for p in people]},
        headers=s.world.headers,
    )
    assert reply.status_code == 201, reply.text
    return [e["access_code"] for e in reply.json()]


async def test_the_list_shows_each_administration_at_a_glance(
    client: httpx.AsyncClient, make: Factory
) -> None:
    s = await _setup(client, make)
    ada = await make.candidate(s.world.org, name="Ada Lovelace")
    bob = await make.candidate(s.world.org, name="Bob Babbage")
    codes = await _add(client, s, ada, bob)
    started = await client.post("/api/v1/attempts", json={"access_code": codes[0]})
    assert started.status_code == 201, started.text
    page = await client.get("/console/administrations")
    assert page.status_code == 200
    row = re.search(rf'<tr>\s*<th scope="row"><a href="{s.base}">.*?</tr>', page.text, re.S)
    assert row, page.text
    assert "tag-open" in row.group(0)
    assert '<td class="num">2</td>' in row.group(0)
    assert "1 in progress" in row.group(0)
    assert f'href="{s.base}/live"' in row.group(0)
    assert "Placement test" in row.group(0)

    detail = await client.get(s.base)
    assert detail.status_code == 200
    assert "Ada Lovelace" in detail.text and "Bob Babbage" in detail.text
    attempts = detail.text.split('id="attempts"')[1]
    assert "Ada Lovelace" in attempts and "tag-in-progress" in attempts
    assert f'href="{s.base}/live"' in detail.text


async def test_schedule_and_edit_a_window_in_the_organizations_time_zone(
    client: httpx.AsyncClient, make: Factory
) -> None:
    s = await _setup(client, make)
    zone = await client.patch(
        "/api/v1/organizations/current",
        json={"timezone": "Europe/Paris"},
        headers=s.world.headers,
    )
    assert zone.status_code == 200, zone.text
    proctor = await make.user(s.world.org, Role.proctor)
    new = await client.get("/console/administrations/new")
    assert new.status_code == 200
    assert "Placement test (version 1)" in new.text
    version_id = s.administration["assessment_version_id"]
    form = {
        "assessment_version_id": version_id,
        "title": "Afternoon",
        "opens_at": "2027-01-10T14:00",
        "closes_at": "2027-01-10T16:30",
        "proctor_ids": str(proctor.user.id),
    }
    created = await post_form(client, "/console/administrations", s.csrf, form)
    assert created.status_code == 303, created.text
    administration_id = created.headers["location"].rsplit("/", 1)[-1]
    stored = (
        await client.get(f"/api/v1/administrations/{administration_id}", headers=s.world.headers)
    ).json()
    assert stored["opens_at"].startswith("2027-01-10T13:00:00")  # 14:00 in Paris is 13:00 UTC
    assert stored["proctor_ids"] == [str(proctor.user.id)]

    edit_url = f"/console/administrations/{administration_id}/edit"
    edit = await client.get(edit_url)
    assert 'value="2027-01-10T14:00"' in edit.text
    refused = await post_form(client, edit_url, s.csrf, {**form, "closes_at": "2027-01-10T13:00"})
    assert refused.status_code == 422
    assert "closes_at must be after opens_at" in refused.text
    bad_time = await post_form(client, edit_url, s.csrf, {**form, "opens_at": "tomorrow"})
    assert bad_time.status_code == 422
    assert "opens_at" in field_errors(bad_time.text)
    saved = await post_form(client, edit_url, s.csrf, {**form, "closes_at": "2027-01-10T17:00"})
    assert saved.status_code == 303
    stored = (
        await client.get(f"/api/v1/administrations/{administration_id}", headers=s.world.headers)
    ).json()
    assert stored["closes_at"].startswith("2027-01-10T16:00:00")

    # A proctor no longer active is still shown, ticked: saving the page keeps them.
    gone = await client.patch(
        f"/api/v1/users/{proctor.user.id}", json={"is_active": False}, headers=s.world.headers
    )
    assert gone.status_code == 200, gone.text
    edit = await client.get(edit_url)
    assert re.search(rf'value="{proctor.user.id}"\s+checked', edit.text), edit.text
    assert "no longer an active proctor" in edit.text
    saved = await post_form(client, edit_url, s.csrf, {**form, "title": "Afternoon, room 2"})
    assert saved.status_code == 303, saved.text
    stored = (
        await client.get(f"/api/v1/administrations/{administration_id}", headers=s.world.headers)
    ).json()
    assert stored["proctor_ids"] == [str(proctor.user.id)]

    cancelled = await post_form(
        client, f"/console/administrations/{administration_id}/cancel", s.csrf
    )
    assert cancelled.status_code == 303
    archived = await post_form(
        client, f"/console/administrations/{administration_id}/archive", s.csrf
    )
    assert archived.status_code == 303
    listing = await client.get("/console/administrations")
    assert administration_id not in listing.text
    listing = await client.get("/console/administrations", params={"archived": "true"})
    assert administration_id in listing.text and "tag-cancelled" in listing.text


async def test_adding_candidates_shows_one_slip_per_candidate_with_a_working_code(
    client: httpx.AsyncClient, make: Factory
) -> None:
    s = await _setup(client, make)
    ada = await make.candidate(s.world.org, name="Ada Lovelace")
    bob = await make.candidate(s.world.org, name="Bob Babbage")
    page = await client.get(f"{s.base}/roster/add", params={"q": "Lovelace"})
    assert "Ada Lovelace" in page.text and "Bob Babbage" not in page.text
    refused = await post_form(
        client,
        f"{s.base}/roster",
        s.csrf,
        {"candidate_id": [str(ada.id), str(bob.id)], "extra_time_multiplier": "9"},
    )
    assert refused.status_code == 422
    assert "extra_time_multiplier" in field_errors(refused.text)
    assert await _roster(client, s) == []
    added = await post_form(
        client,
        f"{s.base}/roster",
        s.csrf,
        {
            "candidate_id": [str(ada.id), str(bob.id)],
            "extra_time_multiplier": "1.5",
            "accessibility_supports": ["sign-language"],
            "other_supports": "ext:large-print",
        },
    )
    assert added.status_code == 200, added.text
    assert added.text.count('<li class="slip">') == 2
    codes = _CODE.findall(added.text)
    assert len(codes) == 2
    assert "Ada Lovelace" in added.text and "Placement test" in added.text
    assert "https://testserver/take" in added.text
    looked = await client.post("/api/v1/attempts/lookup", json={"access_code": codes[0]})
    assert looked.status_code == 200
    assert looked.json()["candidate_name"] == "Ada Lovelace"  # sorted by name
    entries = await _roster(client, s)
    assert {e["accommodations"]["extra_time_multiplier"] for e in entries} == {1.5}
    assert [e["accommodations"]["accessibility_supports"] for e in entries] == [
        ["ext:large-print", "sign-language"]
    ] * 2

    # Adding someone already on the roster names the row and adds nobody.
    carl = await make.candidate(s.world.org, name="Carl Gauss")
    again = await post_form(
        client, f"{s.base}/roster", s.csrf, {"candidate_id": [str(carl.id), str(ada.id)]}
    )
    assert again.status_code == 422
    assert "already on the roster" in again.text
    assert len(await _roster(client, s)) == 2

    # The detail page never shows a code; the sheet of new codes does, one slip each.
    detail = await client.get(s.base)
    assert not _CODE.search(detail.text)
    assert codes[0] not in detail.text
    sheet = await post_form(client, f"{s.base}/codes", s.csrf)
    assert sheet.status_code == 200
    new_codes = _CODE.findall(sheet.text)
    assert len(new_codes) == 2 and not set(new_codes) & set(codes)
    old = await client.post("/api/v1/attempts/lookup", json={"access_code": codes[0]})
    assert old.status_code == 404
    one = await post_form(client, f"{s.base}/codes", s.csrf, {"entry_id": entries[0]["id"]})
    assert len(_CODE.findall(one.text)) == 1


async def test_a_csv_with_bad_rows_lists_them_and_adds_nothing(
    client: httpx.AsyncClient, make: Factory
) -> None:
    s = await _setup(client, make)
    ada = await make.candidate(s.world.org, name="Ada Lovelace")
    bob = await make.candidate(s.world.org, name="Bob Babbage")
    bad = (
        "external_id,extra_time_multiplier,extra_attempts,extra_breaks\n"
        f"{ada.external_id},1.5,0,1\n"
        "S-NOBODY,,,\n"
        f"{bob.external_id},7,,\n"
    )
    url = f"{s.base}/roster/csv"
    assert (await client.get(url)).status_code == 200
    refused = await client.post(
        url, data={"csrf_token": s.csrf}, files={"file": ("class.csv", bad.encode(), "text/csv")}
    )
    assert refused.status_code == 422
    rows = re.findall(
        r'<tr><th scope="row" class="num">(\d+)</th><td>(.*?)</td></tr>', refused.text
    )
    assert [r[0] for r in rows] == ["3", "4"]
    assert "no candidate with external_id" in rows[0][1]
    assert "extra_time_multiplier" in rows[1][1]
    assert "nobody was added" in refused.text
    assert await _roster(client, s) == []

    header_only = await client.post(
        url, data={"csrf_token": s.csrf}, files={"file": ("x.csv", b"name\nAda\n", "text/csv")}
    )
    assert header_only.status_code == 422
    assert "external_id or email column" in header_only.text
    nothing = await post_form(client, url, s.csrf)
    assert nothing.status_code == 422
    assert "Choose a CSV file" in nothing.text

    good = f"external_id,extra_time_multiplier\n{ada.external_id},1.5\n{bob.external_id},\n"
    added = await client.post(
        url, data={"csrf_token": s.csrf}, files={"file": ("class.csv", good.encode(), "text/csv")}
    )
    assert added.status_code == 200, added.text
    assert added.text.count('<li class="slip">') == 2
    assert len(await _roster(client, s)) == 2


async def test_accommodations_and_codes_per_candidate(
    client: httpx.AsyncClient, make: Factory
) -> None:
    s = await _setup(client, make)
    ada = await make.candidate(s.world.org, name="Ada Lovelace")
    await _add(client, s, ada)
    entry = (await _roster(client, s))[0]
    url = f"{s.base}/roster/{entry['id']}/accommodations"
    page = await client.get(url)
    assert page.status_code == 200 and "Accommodations of Ada Lovelace" in page.text
    refused = await post_form(
        client,
        url,
        s.csrf,
        {"extra_time_multiplier": "1.25", "extra_attempts": "11", "extra_breaks": "0"},
    )
    assert refused.status_code == 422
    assert set(field_errors(refused.text)) == {"extra_attempts"}
    assert 'value="1.25"' in refused.text
    saved = await post_form(
        client,
        url,
        s.csrf,
        {"extra_time_multiplier": "1.25", "extra_attempts": "1", "extra_breaks": "2"},
    )
    assert saved.status_code == 303
    assert (await _roster(client, s))[0]["accommodations"] == {
        "extra_time_multiplier": 1.25,
        "extra_attempts": 1,
        "extra_breaks": 2,
        "accessibility_supports": [],
    }
    # Accessibility supports: boxes for the QTI ones, text for the organization's own.
    form = {"extra_time_multiplier": "1.25", "extra_attempts": "1", "extra_breaks": "2"}
    unknown = await post_form(
        client,
        url,
        s.csrf,
        {**form, "accessibility_supports": ["spoken"], "other_supports": "ext:big-font smell"},
    )
    assert unknown.status_code == 422
    errors = field_errors(unknown.text)
    assert set(errors) == {"other_supports"}
    assert errors["other_supports"].startswith("unknown accessibility support &#39;smell&#39;")
    assert 'value="spoken" checked' in unknown.text
    saved = await post_form(
        client,
        url,
        s.csrf,
        {**form, "accessibility_supports": ["spoken", "braille"], "other_supports": "ext:big-font"},
    )
    assert saved.status_code == 303
    assert (await _roster(client, s))[0]["accommodations"]["accessibility_supports"] == [
        "braille",
        "ext:big-font",
        "spoken",
    ]
    page = await client.get(url)
    assert 'value="braille" checked' in page.text and 'value="ext:big-font"' in page.text
    detail = await client.get(s.base)
    assert '<span class="code">ext:big-font</span>, <span class="code">spoken</span>' in detail.text
    revoked = await post_form(client, f"{s.base}/roster/{entry['id']}/revoke", s.csrf)
    assert revoked.status_code == 303
    assert (await _roster(client, s))[0]["code_active"] is False
    issued = await post_form(client, f"{s.base}/roster/{entry['id']}/code", s.csrf)
    assert issued.status_code == 200
    assert len(_CODE.findall(issued.text)) == 1
    assert "\u00d71.25" in issued.text
    assert (await _roster(client, s))[0]["code_active"] is True


async def test_roles_without_the_right_and_other_organizations_are_refused(
    client: httpx.AsyncClient, make: Factory
) -> None:
    s = await _setup(client, make)
    proctor = await make.user(s.world.org, Role.proctor)
    patched = await client.patch(
        f"/api/v1/administrations/{s.administration['id']}",
        json={"proctor_ids": [str(proctor.user.id)]},
        headers=s.world.headers,
    )
    assert patched.status_code == 200
    csrf = await console_sign_in(client, proctor)
    seen = await client.get(s.base)
    assert seen.status_code == 200
    assert "Cancel administration" not in seen.text
    refused = await post_form(client, f"{s.base}/cancel", csrf)
    assert refused.status_code == 403
    assert "notice-error" in refused.text and "admin role" in refused.text
    state = await client.get(
        f"/api/v1/administrations/{s.administration['id']}", headers=s.world.headers
    )
    assert state.json()["cancelled_at"] is None

    author = await make.user(s.world.org, Role.author)
    await console_sign_in(client, author)
    assert (await client.get("/console/administrations/new")).status_code == 403
    assert (await client.get(s.base)).status_code == 404

    other = await make.organization()
    outsider = await make.user(other, Role.admin)
    await console_sign_in(client, outsider)
    foreign = await client.get(s.base)
    assert foreign.status_code == 404
    assert "Administration not found" in foreign.text
    assert s.administration["title"] not in (await client.get("/console/administrations")).text


async def test_window_states() -> None:
    from waa_ads.web.console.sections.administrations import window_state

    now = datetime(2027, 1, 1, 12, tzinfo=UTC)
    hour = timedelta(hours=1)

    def row(opens: datetime, closes: datetime, cancelled: bool = False) -> dict[str, Any]:
        return {
            "opens_at": opens.isoformat(),
            "closes_at": closes.isoformat(),
            "cancelled_at": now.isoformat() if cancelled else None,
        }

    assert window_state(row(now + hour, now + 2 * hour), now) == "scheduled"
    assert window_state(row(now - hour, now + hour), now) == "open"
    assert window_state(row(now - 2 * hour, now - hour), now) == "closed"
    assert window_state(row(now - hour, now + hour, cancelled=True), now) == "cancelled"
