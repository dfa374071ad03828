"""Adaptive sections delivered: the pool is checked when the assessment is saved, each next
item is chosen from the candidate's scored responses, every step is kept with the estimate
and SE after it, a resumed attempt continues with the same choices, navigation is forward
only, and the result carries the final estimate on the section's scale."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tests.support.exams import World, begin, wait_for_state
from tests.support.factories import Factory
from tests.support.problems import problem
from waa_ads.assessments import adaptive as cat
from waa_ads.assessments.definition import AssessmentDefinition, Pinned
from waa_ads.assessments.models import AssessmentVersion
from waa_ads.content.models import ItemVersion
from waa_ads.core.db import Database
from waa_ads.delivery import adaptive as delivery_adaptive
from waa_ads.delivery.models import Attempt, AttemptCatStep

pytestmark = [
    pytest.mark.asyncio,
    pytest.mark.parametrize("backend", ["postgresql"], indirect=True),
]

POOL = {f"C{k}": ["alg" if k % 2 else "geo"] for k in range(1, 9)}


async def _calibrate(session: AsyncSession, world: World, skip: str | None = None) -> None:
    """Store 2PL parameters on the published versions (as a calibration would)."""
    for k, ident in enumerate(sorted(POOL)):
        if ident == skip:
            continue
        await session.execute(
            update(ItemVersion)
            .where(ItemVersion.item_id == uuid.UUID(world.items[ident]))
            .values(irt={"model": "2pl", "a": 0.8 + 0.2 * k, "d": 1.5 - 0.45 * k, "c": 0.0})
        )
    await session.flush()


def _definition(world: World, **adaptive: Any) -> dict[str, Any]:
    return world.definition(
        navigation="linear",
        allow_review=False,
        scoring={"release": "immediately"},
        sections=[
            {
                "identifier": "cat",
                "title": "Adaptive",
                "adaptive": {
                    "bank_id": world.bank_id,
                    "se_target": None,
                    "min_items": 2,
                    "max_items": 4,
                    "scale": {"slope": 100, "intercept": 500},
                    **adaptive,
                },
            }
        ],
    )


async def _steps(session: AsyncSession, attempt_id: str) -> list[AttemptCatStep]:
    session.expire_all()
    return list(
        (
            await session.execute(
                select(AttemptCatStep)
                .where(AttemptCatStep.attempt_id == uuid.UUID(attempt_id))
                .order_by(AttemptCatStep.step)
            )
        ).scalars()
    )


async def test_adaptive_section_end_to_end(
    app: FastAPI, client: httpx.AsyncClient, make: Factory, db_session: AsyncSession
) -> None:
    world = await World(client, make).setup(tagged=POOL)
    await _calibrate(db_session, world, skip="C3")
    refused = await client.post(
        "/api/v1/assessments",
        json={"slug": "cat", "definition": _definition(world)},
        headers=world.headers,
    )
    assert (refused.status_code, problem(refused)) == (422, "adaptive-pool-invalid")
    assert "C3" in refused.json()["detail"]
    assert refused.json()["problems"][0]["item_id"] == world.items["C3"]
    free = world.definition(
        sections=[{"identifier": "cat", "title": "A", "adaptive": {"bank_id": world.bank_id}}]
    )
    malformed = await client.post(
        "/api/v1/assessments", json={"slug": "cat", "definition": free}, headers=world.headers
    )
    assert malformed.status_code == 422, malformed.text

    await _calibrate(db_session, world)
    person = await make.candidate(world.org, name="Ada")
    _, codes = await world.open_administration(
        slug="cat", definition=_definition(world), title="Now", candidate_ids=[person.id]
    )
    attempt_id, headers = await begin(client, codes[0])
    url = f"/api/v1/attempts/{attempt_id}"
    view = (await client.get(url, headers=headers)).json()
    assert (view["item_count"], view["more_items"], view["navigation"]) == (1, True, "linear")
    assert "correct" not in str(view["items"][0]["item"]).lower()

    answers = ["B", "B", "A", "B"]  # right, right, wrong, right
    for n, value in enumerate(answers, start=1):
        view = (await client.get(url, headers=headers)).json()
        ref = view["items"][-1]["ref"]
        assert view["current_position"] == n
        saved = await client.put(
            f"{url}/responses/{ref}", json={"seq": 1, "value": value}, headers=headers
        )
        assert saved.status_code == 200, saved.text
        moved = await client.post(f"{url}/advance", headers=headers)
        assert moved.status_code == 200, moved.text
        assert moved.json()["finished"] is (n == len(answers))
        if n == 1:
            # forward only: the item left behind takes no more answers
            late = await client.put(
                f"{url}/responses/{ref}", json={"seq": 2, "value": "A"}, headers=headers
            )
            assert (late.status_code, problem(late)) == (409, "item-closed")
            # a resumed attempt (another device) opens the item already chosen
            again_id, again_headers = await begin(client, codes[0])
            resumed = (await client.get(url, headers=again_headers)).json()
            assert again_id == attempt_id
            assert (
                resumed["items"][-1]["ref"] == (await _steps(db_session, attempt_id))[-1].item_ref
            )

    steps = await _steps(db_session, attempt_id)
    assert [s.right for s in steps] == [True, True, False, True]
    assert len({s.item_ref for s in steps}) == 4
    assert steps[-1].stop_reason == "max-items"
    thetas = [s.theta for s in steps]
    ses = [s.se for s in steps]
    assert None not in thetas and None not in ses
    final_theta, final_se = float(thetas[-1] or 0), float(ses[-1] or 0)
    assert (
        (thetas[0] or 0) > 0 > (thetas[2] or 0) - (thetas[1] or 0)
    )  # up when right, down when wrong
    for before, after in itertools.pairwise(steps):
        assert after.theta_before == pytest.approx(before.theta)

    # Replaying the kept steps selects exactly what was selected (a restart re-derives the
    # same state and the same draws).
    row = await delivery_adaptive.steps(db_session, uuid.UUID(attempt_id))
    attempt = await db_session.get(Attempt, uuid.UUID(attempt_id))
    assert attempt is not None
    version = await db_session.get(AssessmentVersion, attempt.assessment_version_id)
    assert version is not None and version.pinned is not None
    definition = AssessmentDefinition.model_validate(version.definition)
    pinned = Pinned.model_validate(version.pinned)
    settings, pin = definition.sections[0].adaptive, pinned.sections[0]
    assert settings is not None
    bank, rules = cat.section_bank(pin.adaptive), cat.section_rules(settings, pin.adaptive)
    for k, step in enumerate(row):
        state = cat.replay(bank, [(s.item_ref, s.right, s.set_aside) for s in row[:k]])
        chosen, _, _ = cat.select(bank, rules, state, cat.step_rng(attempt.seed, step.step))
        assert chosen is not None and bank.items[chosen] == step.item_ref

    view = (await client.get(url, headers=headers)).json()
    assert view["more_items"] is False
    finished = await client.post(f"{url}/advance", headers=headers)
    assert (finished.status_code, problem(finished)) == (409, "last-item")
    submitted = await client.post(f"{url}/submit", headers=headers)
    assert submitted.status_code == 200, submitted.text
    assert await wait_for_state(app, attempt_id, "released") == "released"
    result = (await client.get(f"{url}/result", headers=headers)).json()
    section = result["sections"]["cat"]
    assert section["theta"] == pytest.approx(final_theta)
    assert section["se"] == pytest.approx(final_se)
    assert section["scaled"] == pytest.approx(500 + 100 * final_theta)
    assert section["scaled_se"] == pytest.approx(100 * final_se)
    assert (section["items"], section["stop_reason"]) == (4, "max-items")
    assert result["scaled"] == pytest.approx(section["scaled"])


async def test_a_double_press_of_next_moves_on_once(
    live_client: httpx.AsyncClient, live_make: Factory, fresh_database: Database
) -> None:
    """Two advances sent together (a double click): the second waits for the first and
    then reports where it went; it never scores the new item unseen."""
    world = await World(live_client, live_make).setup(tagged=POOL)
    async with fresh_database.transaction() as session:
        await _calibrate(session, world)
    person = await live_make.candidate(world.org, name="Bo")
    _, codes = await world.open_administration(
        slug="cat", definition=_definition(world), title="Now", candidate_ids=[person.id]
    )
    attempt_id, headers = await begin(live_client, codes[0])
    url = f"/api/v1/attempts/{attempt_id}"
    ref = (await live_client.get(url, headers=headers)).json()["items"][0]["ref"]
    await live_client.put(f"{url}/responses/{ref}", json={"seq": 1, "value": "B"}, headers=headers)
    replies = await asyncio.gather(
        *(live_client.post(f"{url}/advance", headers=headers) for _ in range(2))
    )
    assert [r.status_code for r in replies] == [200, 200]
    assert [r.json()["current_position"] for r in replies] == [2, 2]
    async with fresh_database.transaction(write=False) as session:
        steps = await _steps(session, attempt_id)
    assert [(s.step, s.right) for s in steps] == [(1, True), (2, None)]
