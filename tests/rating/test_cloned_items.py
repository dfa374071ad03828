"""A rater reads the question the candidate answered: for a cloned item, the attempt's
own instance, with the values that candidate was shown."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from tests.support.cloned import essay_item, values_of
from tests.support.console import console_sign_in, post_form
from tests.support.exams import World, begin, wait_for_state
from tests.support.factories import Factory, login
from waa_ads.auth.models import Role
from waa_ads.content.item.definition import ItemDefinition
from waa_ads.content.models import ItemVersion
from waa_ads.delivery.models import Attempt, AttemptItem

pytestmark = pytest.mark.asyncio

QUESTION = re.compile(r"check whether (\d+) is prime")


async def test_the_rater_sees_each_candidates_own_values(
    app: FastAPI, client: httpx.AsyncClient, make: Factory
) -> None:
    world = await World(client, make).setup(tagged={})
    created = await client.post(
        f"/api/v1/banks/{world.bank_id}/items",
        json={"source": {"format": "qti", "content": essay_item("E1")}},
        headers=world.headers,
    )
    assert created.status_code == 201, created.text
    item_id = created.json()["item"]["id"]
    await client.post(f"/api/v1/items/{item_id}/publish", headers=world.headers)
    definition = world.definition(
        sections=[{"identifier": "s", "title": "S", "items": [{"item_id": item_id}]}],
        scoring={"release": "after_review"},
    )
    people = [await make.candidate(world.org, name=f"Writer {n}") for n in range(2)]
    administration, codes = await world.open_administration(
        slug="essays", definition=definition, title="Now", candidate_ids=[p.id for p in people]
    )
    seen: dict[str, int] = {}  # what each writer wrote -> the number they were shown
    for n, code in enumerate(codes):
        attempt_id, headers = await begin(client, code)
        view = await client.get(f"/api/v1/attempts/{attempt_id}", headers=headers)
        found = QUESTION.search(view.json()["items"][0]["item"]["html"])
        assert found is not None
        async with app.state.db.transaction(write=False) as session:
            attempt = await session.get(Attempt, uuid.UUID(attempt_id))
            assert attempt is not None
            stored = (
                await session.execute(
                    select(ItemVersion.definition)
                    .join(AttemptItem, AttemptItem.item_version_id == ItemVersion.id)
                    .where(AttemptItem.attempt_id == attempt.id)
                )
            ).scalar_one()
            drawn = values_of(ItemDefinition.from_dict(stored), attempt.seed, "E1")
        assert drawn == {"N": int(found.group(1))}
        text = f"Writer {n} divides by small primes."
        seen[text] = int(found.group(1))
        saved = await client.put(
            f"/api/v1/attempts/{attempt_id}/responses/E1",
            json={"seq": 1, "value": text},
            headers=headers,
        )
        assert saved.status_code == 200, saved.text
        await client.post(f"/api/v1/attempts/{attempt_id}/submit", headers=headers)
        assert await wait_for_state(app, attempt_id, "scoring") == "scoring"
    assert len(set(seen.values())) == 2  # two draws of 100000..999999

    rater = await make.user(world.org, Role.rater)
    lead = await make.user(world.org, Role.rater)
    rater_headers = await login(client, rater)
    plan = await client.post(
        "/api/v1/rating/plans",
        json={
            "administration_id": administration["id"],
            "title": "Essays",
            "raters": [{"user_id": str(rater.user.id)}],
            "adjudicators": [{"user_id": str(lead.user.id)}],
            "leads": [str(lead.user.id)],
        },
        headers=world.headers,
    )
    assert plan.status_code == 201, plan.text
    # Through the API: the lease shows the question of the response it holds.
    reply = await client.post("/api/v1/rating/next", json=None, headers=rater_headers)
    assert reply.status_code == 200, reply.text
    lease = reply.json()["lease"]
    assert lease is not None
    written = next(text for text in seen if text in str(lease["response"]))
    shown = QUESTION.search(lease["item"]["html"])
    assert shown is not None
    # The number this candidate was shown, not another's or the item's default.
    assert int(shown.group(1)) == seen[written]
    rated = await client.post(
        f"/api/v1/rating/leases/{lease['lease_id']}/rating",
        json={"levels": {"level": "1"}},
        headers=rater_headers,
    )
    assert rated.status_code == 201, rated.text

    # Through the console's rating page: the other response, with its own question.
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as browser:
        csrf = await console_sign_in(browser, rater)
        page = await post_form(
            browser, f"/console/rating/plans/{plan.json()['plan']['id']}/next", csrf
        )
        assert page.status_code == 200, page.text
        other = next(text for text in seen if text != written)
        assert other in page.text
        assert f"check whether {seen[other]} is prime" in page.text
        assert f"check whether {seen[written]} is prime" not in page.text
