"""An essay item (the rating tests' analytic rubric, maximum 6) answered with given texts by
as many candidates, each attempt waiting in ``scoring``; two raters, an adjudicator and a
lead; built over HTTP as an administrator would."""

from __future__ import annotations

import io
import random
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI

from tests.rating.world import RUBRIC, essay
from tests.support.exams import World, begin, wait_for_state
from tests.support.factories import Account, Factory, login
from waa_ads.auth.models import Role
from waa_ads.autoscore import synthetic

#: Rubric levels of the content criterion by points; language is always "fair" (1 point
#: after its weight), so an essay's item score is its content points + 1.
CONTENT = ["absent", "partial", "good", "strong", "excellent"]


def levels_for(content_points: int) -> dict[str, str]:
    return {"content": CONTENT[content_points], "language": "fair"}


@dataclass
class EssayWorld:
    app: FastAPI
    client: httpx.AsyncClient
    world: World
    item_id: str
    item_version_id: str
    administration_id: str
    attempts: list[str]
    texts: list[str]
    raters: list[Account] = field(default_factory=list)
    rater_headers: list[dict[str, str]] = field(default_factory=list)
    lead: Account | None = None
    lead_headers: dict[str, str] = field(default_factory=dict)

    @property
    def admin(self) -> dict[str, str]:
        return self.world.headers

    async def plan(self, **settings: Any) -> dict[str, Any]:
        assert self.lead is not None
        body = {
            "administration_id": self.administration_id,
            "title": "Essays",
            "raters": [{"user_id": str(r.user.id)} for r in self.raters],
            "adjudicators": [{"user_id": str(self.lead.user.id)}],
            "leads": [str(self.lead.user.id)],
            **settings,
        }
        created = await self.client.post("/api/v1/rating/plans", json=body, headers=self.admin)
        assert created.status_code == 201, created.text
        result: dict[str, Any] = created.json()
        return result

    async def lease(self, headers: dict[str, str]) -> Any:
        reply = await self.client.post("/api/v1/rating/next", headers=headers)
        assert reply.status_code == 200, reply.text
        return reply.json()["lease"]

    async def rate(self, headers: dict[str, str], lease_id: str, content: int) -> None:
        rated = await self.client.post(
            f"/api/v1/rating/leases/{lease_id}/rating",
            json={"levels": levels_for(content)},
            headers=headers,
        )
        assert rated.status_code in (200, 201), rated.text


async def essay_world(
    app: FastAPI, client: httpx.AsyncClient, make: Factory, texts: list[str]
) -> EssayWorld:
    world = await World(client, make).setup(tagged={})
    headers = world.headers
    rubric = await client.post(
        "/api/v1/rubrics", json={"slug": "short-essay", "yaml": RUBRIC}, headers=headers
    )
    assert rubric.status_code == 201, rubric.text
    created = await client.post(
        f"/api/v1/banks/{world.bank_id}/items",
        json={
            "source": {"format": "qti", "content": essay("E1")},
            "rubric_version_id": rubric.json()["version"]["id"],
        },
        headers=headers,
    )
    assert created.status_code == 201, created.text
    item_id = created.json()["item"]["id"]
    published = await client.post(f"/api/v1/items/{item_id}/publish", headers=headers)
    assert published.status_code == 200, published.text
    version_id = published.json()["version"]["id"]
    assessment = await client.post(
        "/api/v1/assessments",
        json={
            "slug": "essays",
            "definition": world.definition(
                sections=[{"identifier": "s", "title": "S", "items": [{"item_id": item_id}]}],
                scoring={"release": "after_review"},
            ),
        },
        headers=headers,
    )
    assert assessment.status_code == 201, assessment.text
    version = await client.post(
        f"/api/v1/assessments/{assessment.json()['assessment']['id']}/publish", headers=headers
    )
    administration = await world.administration(version.json()["version"]["id"])
    people = [await make.candidate(world.org, name=f"Writer {n}") for n in range(len(texts))]
    roster = await client.post(
        f"/api/v1/administrations/{administration['id']}/roster",
        json={"entries": [{"candidate_id": str(p.id)} for p in people]},
        headers=headers,
    )
    assert roster.status_code == 201, roster.text
    attempts = []
    for text, entry in zip(texts, roster.json(), strict=True):
        attempt_id, credential = await begin(client, entry["access_code"])
        saved = await client.put(
            f"/api/v1/attempts/{attempt_id}/responses/E1",
            json={"seq": 1, "value": text},
            headers=credential,
        )
        assert saved.status_code == 200, saved.text
        await client.post(f"/api/v1/attempts/{attempt_id}/submit", headers=credential)
        attempts.append(attempt_id)
    for attempt_id in attempts:
        assert await wait_for_state(app, attempt_id, "scoring") == "scoring"
    ew = EssayWorld(
        app, client, world, item_id, version_id, administration["id"], attempts, list(texts)
    )
    for _ in range(2):
        account = await make.user(world.org, Role.rater)
        ew.raters.append(account)
        ew.rater_headers.append(await login(client, account))
    ew.lead = await make.user(world.org, Role.rater)
    ew.lead_headers = await login(client, ew.lead)
    return ew


def training_csv(n: int, *, seed: int = 1) -> bytes:
    """``n`` synthetic essays scored 1..5 (content 0..4 + 1, as the rubric above gives),
    with a second score and a group: a CSV ``id,text,score,score2,group``."""
    made = synthetic.essays(n, seed=seed, min_score=0, max_score=4)
    out = io.StringIO()
    out.write("id,text,score,score2,group\n")
    for ident, text, score, second, group in zip(
        made.ids, made.texts, made.scores, made.second_scores, made.groups, strict=True
    ):
        quoted = text.replace('"', '""')
        out.write(f'{ident},"{quoted}",{score + 1},{second + 1},{group}\n')
    return out.getvalue().encode()


def live_essays(n: int, *, seed: int = 7) -> list[str]:
    """``n`` synthetic essays of middling to good quality (what a model scores alone)."""
    rng = random.Random(seed)
    return [synthetic.essay(0.35 + 0.5 * rng.random(), rng) for _ in range(n)]


async def submit_late(ew: EssayWorld, make: Factory, text: str) -> str:
    """One more candidate on the roster answers ``text`` and submits: the attempt's id."""
    person = await make.candidate(ew.world.org, name="Late writer")
    roster = await ew.client.post(
        f"/api/v1/administrations/{ew.administration_id}/roster",
        json={"entries": [{"candidate_id": str(person.id)}]},
        headers=ew.admin,
    )
    assert roster.status_code == 201, roster.text
    attempt_id, credential = await begin(ew.client, roster.json()[0]["access_code"])
    saved = await ew.client.put(
        f"/api/v1/attempts/{attempt_id}/responses/E1",
        json={"seq": 1, "value": text},
        headers=credential,
    )
    assert saved.status_code == 200, saved.text
    await ew.client.post(f"/api/v1/attempts/{attempt_id}/submit", headers=credential)
    return attempt_id
