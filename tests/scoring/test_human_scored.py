"""Items people score (essays, short answers, uploads) have a real maximum: the item's
declared one, else its rubric's, else one point; and a manual score up to it is taken."""

from __future__ import annotations

import uuid

import httpx
import pytest
from fastapi import FastAPI

from tests.support.exams import begin, exam, wait_for_state
from tests.support.factories import Factory
from tests.support.items import QTI3
from tests.support.problems import problem
from waa_ads.audit.service import Actor
from waa_ads.content.item.definition import ItemDefinition
from waa_ads.delivery.models import Attempt
from waa_ads.demo.loader import DEMO_ADMIN, load_demo
from waa_ads.scoring.errors import ItemAlreadyScored
from waa_ads.scoring.service import (
    DEFAULT_HUMAN_MAX_SCORE,
    PendingHumanScorer,
    automated_score,
)

pytestmark = pytest.mark.asyncio


#: The demo's seven items people score, and the maximum each declares (``normal_maximum``).
DEMO_HUMAN_SCORED = {
    "sample-short-answer-seasons": 3.0,
    "sample-short-answer-ice-floats": None,
    "sample-essay-school-phones": None,
    "sample-essay-city-countryside": 15.0,
    "sample-upload-worked-solution": None,
    "sample-upload-bar-chart": 4.0,
    "sample-drawing-mirror-shape": 2.0,
}


async def test_demo_human_scored_items_take_scores_up_to_their_maximum(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    demo = await load_demo(app.state.db, app.state.blobs, app.state.auth)
    code = demo.candidates[0][1]
    attempt_id, headers = await begin(client, code)
    submitted = await client.post(f"/api/v1/attempts/{attempt_id}/submit", headers=headers)
    assert submitted.status_code == 200, submitted.text
    assert await wait_for_state(app, attempt_id, "scoring") == "scoring"

    login = await client.post(
        "/api/v1/auth/token",
        data={"username": DEMO_ADMIN, "password": demo.admin_password},
    )
    assert login.status_code == 200, login.text
    admin = {"Authorization": f"Bearer {login.json()['access_token']}"}
    detail = await client.get(f"/api/v1/results/{attempt_id}", headers=admin)
    assert detail.status_code == 200, detail.text
    pending = {row["item_ref"]: row for row in detail.json()["items"] if row["score"] is None}
    assert len(pending) == 7, sorted(pending)
    for ref, row in pending.items():
        declared = next(
            (m for ident, m in DEMO_HUMAN_SCORED.items() if ref.startswith(ident)), None
        )
        assert row["max_score"] > 0, (ref, row)
        if declared is not None:
            assert row["max_score"] == declared, (ref, row)

    for ref, row in pending.items():
        too_much = await client.post(
            f"/api/v1/results/{attempt_id}/items/{ref}/score",
            json={"score": row["max_score"] + 1, "reason": "too much"},
            headers=admin,
        )
        assert (too_much.status_code, problem(too_much)) == (422, "score-out-of-range")
        scored = await client.post(
            f"/api/v1/results/{attempt_id}/items/{ref}/score",
            json={"score": row["max_score"], "reason": "full marks"},
            headers=admin,
        )
        assert scored.status_code == 200, scored.text
    final = (await client.get(f"/api/v1/results/{attempt_id}", headers=admin)).json()
    assert final["latest"]["complete"] is True
    assert final["latest"]["pending_items"] == 0
    total_human = sum(r["max_score"] for r in pending.values())
    assert final["latest"]["raw"] >= total_human


ESSAY_WITHOUT_MAXSCORE = f"""<qti-assessment-item xmlns="{QTI3}" identifier="E2" title="Essay"
    adaptive="false" time-dependent="false">
  <qti-response-declaration identifier="RESPONSE" cardinality="single" base-type="string"/>
  <qti-outcome-declaration identifier="SCORE" cardinality="single" base-type="float"/>
  <qti-item-body>
    <qti-extended-text-interaction response-identifier="RESPONSE">
      <qti-prompt>Explain.</qti-prompt>
    </qti-extended-text-interaction>
  </qti-item-body>
</qti-assessment-item>"""


async def test_the_maximum_of_an_item_people_score() -> None:
    from waa_ads.content.interchange.qti.reader import parse_item

    essay: ItemDefinition = parse_item(ESSAY_WITHOUT_MAXSCORE)
    assert PendingHumanScorer().max_score(essay) == DEFAULT_HUMAN_MAX_SCORE == 1.0
    assert PendingHumanScorer(rubric_max=12).max_score(essay) == 12.0


async def _essay_attempt(
    app: FastAPI, client: httpx.AsyncClient, make: Factory, release: str
) -> tuple[str, dict[str, str], dict[str, str]]:
    """An ended attempt at a one-essay assessment (the essay declares no MAXSCORE), waiting
    for a person: its id, the admin's headers and the candidate's credential."""
    ex = await exam(client, make, scoring={"release": release})
    headers = ex.world.headers
    bank = ex.world.bank_id
    created = await client.post(
        f"/api/v1/banks/{bank}/items",
        json={"source": {"format": "qti", "content": ESSAY_WITHOUT_MAXSCORE}},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    item_id = created.json()["item"]["id"]
    await client.post(f"/api/v1/items/{item_id}/publish", headers=headers)
    assessment = await client.post(
        "/api/v1/assessments",
        json={
            "slug": "essay",
            "definition": ex.world.definition(
                sections=[{"identifier": "s", "title": "S", "items": [{"item_id": item_id}]}],
                scoring={"release": release},
            ),
        },
        headers=headers,
    )
    published = await client.post(
        f"/api/v1/assessments/{assessment.json()['assessment']['id']}/publish", headers=headers
    )
    administration = await ex.world.administration(published.json()["version"]["id"])
    person = await make.candidate(ex.world.org, name="Essayist")
    roster = await client.post(
        f"/api/v1/administrations/{administration['id']}/roster",
        json={"entries": [{"candidate_id": str(person.id)}]},
        headers=headers,
    )
    attempt_id, credential = await begin(client, roster.json()[0]["access_code"])
    await client.put(
        f"/api/v1/attempts/{attempt_id}/responses/E2",
        json={"seq": 1, "value": "Because."},
        headers=credential,
    )
    await client.post(f"/api/v1/attempts/{attempt_id}/submit", headers=credential)
    assert await wait_for_state(app, attempt_id, "scoring") == "scoring"
    return attempt_id, headers, credential


async def test_an_imported_essay_without_maxscore_takes_a_score(
    app: FastAPI, client: httpx.AsyncClient, make: Factory
) -> None:
    attempt_id, headers, _ = await _essay_attempt(app, client, make, "manual")
    scored = await client.post(
        f"/api/v1/results/{attempt_id}/items/E2/score",
        json={"score": 1, "reason": "good"},
        headers=headers,
    )
    assert scored.status_code == 200, scored.text
    assert scored.json()["max_raw"] == 1.0
    assert scored.json()["raw"] == 1.0


@pytest.mark.parametrize(("release", "released"), [("after_review", True), ("manual", False)])
async def test_after_review_releases_once_people_scored_manual_never_by_itself(
    app: FastAPI, client: httpx.AsyncClient, make: Factory, release: str, released: bool
) -> None:
    attempt_id, headers, credential = await _essay_attempt(app, client, make, release)
    scored = await client.post(
        f"/api/v1/results/{attempt_id}/items/E2/score",
        json={"score": 1, "reason": "reviewed"},
        headers=headers,
    )
    assert scored.status_code == 200, scored.text
    state = await wait_for_state(app, attempt_id, "released" if released else "scored")
    assert state == ("released" if released else "scored")
    result = await client.get(f"/api/v1/attempts/{attempt_id}/result", headers=credential)
    assert result.status_code == (200 if released else 404)


async def test_a_model_never_replaces_a_persons_score(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    """A model's score is taken only for an item still waiting: once a person scored it
    (checked under the attempt's lock), the model's is refused and the person's stands."""
    demo = await load_demo(app.state.db, app.state.blobs, app.state.auth)
    attempt_id, headers = await begin(client, demo.candidates[1][1])
    submitted = await client.post(f"/api/v1/attempts/{attempt_id}/submit", headers=headers)
    assert submitted.status_code == 200, submitted.text
    assert await wait_for_state(app, attempt_id, "scoring") == "scoring"
    login = await client.post(
        "/api/v1/auth/token", data={"username": DEMO_ADMIN, "password": demo.admin_password}
    )
    admin = {"Authorization": f"Bearer {login.json()['access_token']}"}
    detail = (await client.get(f"/api/v1/results/{attempt_id}", headers=admin)).json()
    by_person, by_model = [row["item_ref"] for row in detail["items"] if row["score"] is None][:2]
    scored = await client.post(
        f"/api/v1/results/{attempt_id}/items/{by_person}/score",
        json={"score": 1, "reason": "read by a person"},
        headers=admin,
    )
    assert scored.status_code == 200, scored.text

    machine = Actor("system", "test-model")
    async with app.state.db.transaction() as session:
        attempt = await session.get(Attempt, uuid.UUID(attempt_id))
        assert attempt is not None
        with pytest.raises(ItemAlreadyScored):
            await automated_score(
                session,
                attempt,
                by_person,
                score=0,
                confidence=0.99,
                scorer="m",
                reason="r",
                actor=machine,
            )
        revised = await automated_score(
            session,
            attempt,
            by_model,
            score=0,
            confidence=0.99,
            scorer="m",
            reason="r",
            actor=machine,
        )
        assert revised.revision == 3
    final = {
        row["item_ref"]: row
        for row in (await client.get(f"/api/v1/results/{attempt_id}", headers=admin)).json()[
            "items"
        ]
    }
    assert final[by_person]["score"] == 1
    assert final[by_model]["score"] == 0
