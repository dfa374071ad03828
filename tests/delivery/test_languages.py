"""Who gets which language: an organization's default, an administration's language and
the languages its candidates may switch to, a candidate's language (the candidates API and
the roster's CSV column), the language an attempt starts in and the candidate's switch."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from tests.support.exams import Exam, exam
from tests.support.factories import Factory
from tests.support.problems import problem
from waa_ads.assessments import service as assessment_service
from waa_ads.audit.models import AuditEvent
from waa_ads.auth.models import Candidate
from waa_ads.delivery.models import Attempt

pytestmark = pytest.mark.asyncio


async def _administration(client: httpx.AsyncClient, ex: Exam, **changes: Any) -> None:
    response = await client.patch(
        f"/api/v1/administrations/{ex.administration['id']}",
        json=changes,
        headers=ex.world.headers,
    )
    assert response.status_code == 200, response.text


async def _candidate_ids(app: FastAPI, ex: Exam) -> list[uuid.UUID]:
    """The candidates of the exam's codes, in their order."""
    async with app.state.db.transaction(write=False) as session:
        entries = [
            await assessment_service.find_by_code(session, app.state.settings, code)
            for code in ex.codes
        ]
    return [entry.candidate_id for entry in entries if entry is not None]


async def _events(app: FastAPI, attempt_id: str, action: str) -> list[dict[str, Any]]:
    async with app.state.db.transaction(write=False) as session:
        rows = (
            await session.execute(
                select(AuditEvent).where(
                    AuditEvent.target_id == attempt_id, AuditEvent.action == action
                )
            )
        ).scalars()
        return [json.loads(row.canonical) for row in rows]


async def test_the_organizations_default_language_is_set_and_checked(
    client: httpx.AsyncClient, make: Factory
) -> None:
    ex = await exam(client, make)
    headers = ex.world.headers
    current = await client.get("/api/v1/organizations/current", headers=headers)
    assert current.json()["default_locale"] == "en"

    changed = await client.patch(
        "/api/v1/organizations/current", json={"default_locale": "fr"}, headers=headers
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["default_locale"] == "fr"

    refused = await client.patch(
        "/api/v1/organizations/current",
        json={"default_locale": "xx", "name": "Renamed"},
        headers=headers,
    )
    assert refused.status_code == 422
    assert "'xx' is not a language" in refused.json()["detail"]
    assert "en, fr" in refused.json()["detail"]
    again = (await client.get("/api/v1/organizations/current", headers=headers)).json()
    assert (again["default_locale"], again["name"]) == ("fr", changed.json()["name"])
    null = await client.patch(
        "/api/v1/organizations/current", json={"default_locale": None}, headers=headers
    )
    assert null.status_code == 422

    # With no other choice, a new attempt is in the organization's language.
    _, body = await _start(client, ex.codes[0])
    assert (body["locale"], body["locales"]) == ("fr", [])


async def test_an_administrations_languages_are_checked_and_nothing_is_half_written(
    client: httpx.AsyncClient, make: Factory
) -> None:
    ex = await exam(client, make)
    adm = f"/api/v1/administrations/{ex.administration['id']}"
    headers = ex.world.headers
    assert (ex.administration["locale"], ex.administration["locales"]) == (None, [])

    await _administration(client, ex, locale="fr", locales=["en", "fr", "en"])
    shown = (await client.get(adm, headers=headers)).json()
    assert (shown["locale"], shown["locales"]) == ("fr", ["en", "fr"])

    for bad in ({"locale": "xx"}, {"locales": ["fr", "xx"]}, {"locales": "fr"}):
        refused = await client.patch(adm, json={"title": "Changed", **bad}, headers=headers)
        assert refused.status_code == 422, bad
        assert problem(refused) == "validation-error"
    refused = await client.patch(adm, json={"locale": "xx"}, headers=headers)
    assert "'xx' is not a language of this product" in refused.json()["detail"]
    assert refused.json()["invalid_params"][0]["name"] == "body.locale"
    shown = (await client.get(adm, headers=headers)).json()
    assert (shown["title"], shown["locale"], shown["locales"]) == ("Now", "fr", ["en", "fr"])

    # null: the organization's default again; [] : no switching.
    await _administration(client, ex, locale=None, locales=[])
    shown = (await client.get(adm, headers=headers)).json()
    assert (shown["locale"], shown["locales"]) == (None, [])

    created = await client.post(
        "/api/v1/administrations",
        json={
            "assessment_version_id": ex.administration["assessment_version_id"],
            "title": "Later",
            "opens_at": "2031-01-01T09:00:00Z",
            "closes_at": "2031-01-01T12:00:00Z",
            "locale": "ar-XB",
            "locales": ["en-XA"],
        },
        headers=headers,
    )
    assert created.status_code == 201, created.text
    assert (created.json()["locale"], created.json()["locales"]) == ("ar-XB", ["en-XA"])
    wrong = await client.post(
        "/api/v1/administrations",
        json={
            "assessment_version_id": ex.administration["assessment_version_id"],
            "title": "Wrong",
            "opens_at": "2031-02-01T09:00:00Z",
            "closes_at": "2031-02-01T12:00:00Z",
            "locale": "xx",
        },
        headers=headers,
    )
    assert wrong.status_code == 422
    listed = await client.get("/api/v1/administrations", headers=headers)
    assert "Wrong" not in {a["title"] for a in listed.json()}


async def test_a_candidates_language_through_the_candidates_api(
    client: httpx.AsyncClient, make: Factory
) -> None:
    ex = await exam(client, make)
    headers = ex.world.headers
    created = await client.post(
        "/api/v1/candidates", json={"full_name": "Zoé", "locale": "fr"}, headers=headers
    )
    assert created.status_code == 201, created.text
    assert created.json()["locale"] == "fr"
    url = f"/api/v1/candidates/{created.json()['id']}"
    assert (await client.patch(url, json={"locale": "de"}, headers=headers)).status_code == 422
    assert (await client.get(url, headers=headers)).json()["locale"] == "fr"
    cleared = await client.patch(url, json={"locale": None}, headers=headers)
    assert cleared.status_code == 200 and cleared.json()["locale"] is None
    wrong = await client.post(
        "/api/v1/candidates", json={"full_name": "Nobody", "locale": "xx"}, headers=headers
    )
    assert wrong.status_code == 422

    # Erasing a candidate's personal data takes their language too.
    assert (await client.patch(url, json={"locale": "fr"}, headers=headers)).status_code == 200
    erased = await client.post(f"{url}/erase", headers=headers)
    assert erased.status_code == 200, erased.text
    assert erased.json()["locale"] is None


async def test_the_rosters_language_column_sets_each_candidates_language(
    app: FastAPI, client: httpx.AsyncClient, make: Factory
) -> None:
    ex = await exam(client, make, candidates=1)
    world = ex.world
    adm = ex.administration["id"]
    first = await make.candidate(world.org, name="First")
    second = await make.candidate(world.org, name="Second")

    async def upload(text: str) -> httpx.Response:
        return await client.post(
            f"/api/v1/administrations/{adm}/roster/csv",
            files={"file": ("roster.csv", text.encode(), "text/csv")},
            headers=world.headers,
        )

    bad = await upload(f"external_id,locale\n{first.external_id},fr\n{second.external_id},xx\n")
    assert bad.status_code == 422
    (row,) = bad.json()["problems"]
    assert row["row"] == 3 and "locale" in row["problem"] and "'xx'" in row["problem"]

    async def locales() -> dict[uuid.UUID, str | None]:
        async with app.state.db.transaction(write=False) as session:
            rows = await session.execute(
                select(Candidate.id, Candidate.locale).where(
                    Candidate.id.in_([first.id, second.id])
                )
            )
            return {row[0]: row[1] for row in rows}

    assert await locales() == {first.id: None, second.id: None}, "nothing half-written"

    good = await upload(f"external_id,locale\n{first.external_id},fr\n{second.external_id},\n")
    assert good.status_code == 201, good.text
    assert await locales() == {first.id: "fr", second.id: None}
    async with app.state.db.transaction(write=False) as session:
        changed = (
            await session.execute(
                select(AuditEvent).where(
                    AuditEvent.action == "candidate.updated",
                    AuditEvent.target_id == str(first.id),
                )
            )
        ).scalars()
        assert [json.loads(e.canonical)["data"] for e in changed] == [{"fields": ["locale"]}]


async def _start(
    client: httpx.AsyncClient, code: str, **headers: str
) -> tuple[dict[str, str], dict[str, Any]]:
    response = await client.post("/api/v1/attempts", json={"access_code": code}, headers=headers)
    assert response.status_code in (200, 201), response.text
    body: dict[str, Any] = response.json()
    return {"X-Attempt-Token": body["credential"]}, body


async def test_an_attempt_starts_in_the_candidates_language_when_offered(
    app: FastAPI, client: httpx.AsyncClient, make: Factory
) -> None:
    ex = await exam(client, make, candidates=2)
    first, second = await _candidate_ids(app, ex)
    headers = ex.world.headers
    for candidate_id, locale in ((first, "fr"), (second, "ar-XB")):
        updated = await client.patch(
            f"/api/v1/candidates/{candidate_id}", json={"locale": locale}, headers=headers
        )
        assert updated.status_code == 200, updated.text
    await _administration(client, ex, locale="en", locales=["fr"])

    token, body = await _start(client, ex.codes[0])
    assert (body["locale"], body["locales"]) == ("fr", ["en", "fr"])
    attempt_id = body["attempt"]["id"]
    view = (await client.get(f"/api/v1/attempts/{attempt_id}", headers=token)).json()
    assert (view["locale"], view["locales"]) == ("fr", ["en", "fr"])
    async with app.state.db.transaction(write=False) as session:
        stored = await session.get(Attempt, uuid.UUID(attempt_id))
        assert stored is not None and stored.locale == "fr"

    # Resuming keeps it, whatever the browser says.
    _, again = await _start(client, ex.codes[0], **{"Accept-Language": "ar"})
    assert (again["resumed"], again["locale"]) == (True, "fr")

    # ar-XB is not offered: the administration's language.
    _, other = await _start(client, ex.codes[1])
    assert (other["locale"], other["locales"]) == ("en", ["en", "fr"])


async def test_the_browsers_language_chooses_only_among_the_offered(
    client: httpx.AsyncClient, make: Factory
) -> None:
    ex = await exam(client, make)
    await _administration(client, ex, locales=["fr"])
    _, body = await _start(client, ex.codes[0], **{"Accept-Language": "fr-CA, fr;q=0.9"})
    assert (body["locale"], body["locales"]) == ("fr", ["en", "fr"])
    _, other = await _start(client, ex.codes[1], **{"Accept-Language": "de, ar;q=0.9"})
    assert other["locale"] == "en", "a browser language not offered leaves the administration's"


async def test_the_browsers_language_cannot_choose_where_one_language_is_offered(
    client: httpx.AsyncClient, make: Factory
) -> None:
    ex = await exam(client, make)
    await _administration(client, ex, locales=[])
    _, body = await _start(client, ex.codes[0], **{"Accept-Language": "fr"})
    assert (body["locale"], body["locales"]) == ("en", [])


async def test_a_candidate_switches_among_the_offered_languages_only(
    app: FastAPI, client: httpx.AsyncClient, make: Factory
) -> None:
    ex = await exam(client, make)
    await _administration(client, ex, locales=["fr", "en-XA"])
    token, body = await _start(client, ex.codes[0])
    attempt_id = body["attempt"]["id"]
    url = f"/api/v1/attempts/{attempt_id}/locale"
    assert body["locale"] == "en"

    switched = await client.put(url, json={"locale": "fr"}, headers=token)
    assert switched.status_code == 200, switched.text
    state = switched.json()
    assert (state["locale"], state["locales"]) == ("fr", ["en", "fr", "en-XA"])
    assert [i["ref"] for i in state["items"]] == ["Q1", "Q2", "Q3"]
    view = (await client.get(f"/api/v1/attempts/{attempt_id}", headers=token)).json()
    assert view["locale"] == "fr"

    refused = await client.put(url, json={"locale": "ar-XB"}, headers=token)
    assert refused.status_code == 409
    assert problem(refused) == "locale-not-offered"
    assert refused.json()["locales"] == ["en", "fr", "en-XA"]
    assert (await client.put(url, json={"locale": "xx"}, headers=token)).status_code == 422
    # Another candidate's credential opens nothing.
    other, _ = await _start(client, ex.codes[1])
    assert (await client.put(url, json={"locale": "en"}, headers=other)).status_code == 404

    # The same language again changes nothing and records nothing.
    same = await client.put(url, json={"locale": "fr"}, headers=token)
    assert same.status_code == 200
    events = await _events(app, attempt_id, "attempt.locale_changed")
    assert [e["data"] for e in events] == [{"from": "en", "to": "fr"}]
    assert events[0]["actor"]["type"] == "candidate"

    # The candidate's problems now come in the attempt's language (a pseudo-locale shows it).
    await client.put(url, json={"locale": "en-XA"}, headers=token)
    beyond = await client.put(
        f"/api/v1/attempts/{attempt_id}/position", json={"position": 99}, headers=token
    )
    assert beyond.status_code in (409, 422)
    english = beyond.json()["title"]
    assert english != "" and not english.isascii(), english


async def test_without_switching_only_the_attempts_own_language_is_accepted(
    client: httpx.AsyncClient, make: Factory
) -> None:
    ex = await exam(client, make)
    await _administration(client, ex, locale="fr")
    token, body = await _start(client, ex.codes[0])
    assert (body["locale"], body["locales"]) == ("fr", [])
    url = f"/api/v1/attempts/{body['attempt']['id']}/locale"
    assert (await client.put(url, json={"locale": "fr"}, headers=token)).status_code == 200
    refused = await client.put(url, json={"locale": "en"}, headers=token)
    assert refused.status_code == 409
    assert problem(refused) == "locale-not-offered"
    assert refused.json()["locales"] == ["fr"]


async def test_an_ended_attempt_keeps_the_language_it_was_taken_in(
    app: FastAPI, client: httpx.AsyncClient, make: Factory
) -> None:
    ex = await exam(client, make)
    await _administration(client, ex, locales=["fr", "en-XA"])
    token, body = await _start(client, ex.codes[0])
    attempt_id = body["attempt"]["id"]
    url = f"/api/v1/attempts/{attempt_id}/locale"
    submitted = await client.post(f"/api/v1/attempts/{attempt_id}/submit", headers=token)
    assert submitted.status_code == 200, submitted.text

    refused = await client.put(url, json={"locale": "fr"}, headers=token)
    assert refused.status_code == 409
    assert problem(refused) == "attempt-ended"
    # Its own language again is still a no-op, so a reloaded page can say it.
    assert (await client.put(url, json={"locale": "en"}, headers=token)).status_code == 200
    view = (await client.get(f"/api/v1/attempts/{attempt_id}", headers=token)).json()
    assert view["locale"] == "en"
    assert await _events(app, attempt_id, "attempt.locale_changed") == []
