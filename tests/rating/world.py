"""An administration of essays scored with a rubric, ended attempts waiting for people,
raters, an adjudicator and a lead: built over HTTP as an administrator would."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI

from tests.support.exams import World, begin, wait_for_state
from tests.support.factories import Account, Factory, login
from tests.support.items import QTI3
from waa_ads.auth.models import Role

RUBRIC = """format: 1
id: short-essay
version: 1
title: Short essay
kind: analytic
criteria:
  - id: content
    title: Content
    levels:
      - {id: absent, points: 0, descriptor: Nothing relevant.}
      - {id: partial, points: 1, descriptor: Some relevant ideas.}
      - {id: good, points: 2, descriptor: Relevant and developed.}
      - {id: strong, points: 3, descriptor: Well developed.}
      - {id: excellent, points: 4, descriptor: Insightful.}
  - id: language
    title: Language
    weight: 0.5
    levels:
      - {id: weak, points: 0, descriptor: Hard to follow.}
      - {id: fair, points: 2, descriptor: Clear enough.}
      - {id: fluent, points: 4, descriptor: Fluent.}
"""
#: The rubric's maximum: 4 + 0.5 x 4.
RUBRIC_MAX = 6.0


def essay(identifier: str) -> str:
    return f"""<qti-assessment-item xmlns="{QTI3}" identifier="{identifier}" title="Essay"
    adaptive="false" time-dependent="false">
  <qti-response-declaration identifier="RESPONSE" cardinality="single" base-type="string"/>
  <qti-outcome-declaration identifier="SCORE" cardinality="single" base-type="float"/>
  <qti-item-body>
    <qti-extended-text-interaction response-identifier="RESPONSE">
      <qti-prompt>Argue for or against homework.</qti-prompt>
    </qti-extended-text-interaction>
  </qti-item-body>
</qti-assessment-item>"""


def upload_item(identifier: str) -> str:
    return f"""<qti-assessment-item xmlns="{QTI3}" identifier="{identifier}" title="Upload"
    adaptive="false" time-dependent="false">
  <qti-response-declaration identifier="RESPONSE" cardinality="single" base-type="file"/>
  <qti-outcome-declaration identifier="SCORE" cardinality="single" base-type="float"/>
  <qti-item-body>
    <qti-upload-interaction response-identifier="RESPONSE">
      <qti-prompt>Upload your worked solution.</qti-prompt>
    </qti-upload-interaction>
  </qti-item-body>
</qti-assessment-item>"""


#: What an upload's candidate sends.
UPLOADED = b"x = 3, because 2x + 1 = 7"


def levels(content: str, language: str) -> dict[str, str]:
    return {"content": content, "language": language}


@dataclass
class RatingWorld:
    app: FastAPI
    client: httpx.AsyncClient
    world: World
    administration_id: str
    attempts: list[str]
    credentials: list[dict[str, str]]
    raters: list[Account] = field(default_factory=list)
    rater_headers: list[dict[str, str]] = field(default_factory=list)
    adjudicator: Account | None = None
    adjudicator_headers: dict[str, str] = field(default_factory=dict)
    lead: Account | None = None
    lead_headers: dict[str, str] = field(default_factory=dict)

    @property
    def admin(self) -> dict[str, str]:
        return self.world.headers

    async def plan(self, **settings: Any) -> dict[str, Any]:
        assert self.adjudicator is not None and self.lead is not None
        body = {
            "administration_id": self.administration_id,
            "title": "Essays",
            "raters": [{"user_id": str(r.user.id)} for r in self.raters],
            "adjudicators": [{"user_id": str(self.adjudicator.user.id)}],
            "leads": [str(self.lead.user.id)],
            **settings,
        }
        created = await self.client.post("/api/v1/rating/plans", json=body, headers=self.admin)
        assert created.status_code == 201, created.text
        result: dict[str, Any] = created.json()
        return result

    async def next(self, headers: dict[str, str], plan_id: str | None = None) -> Any:
        reply = await self.client.post(
            "/api/v1/rating/next",
            json={"plan_id": plan_id} if plan_id else None,
            headers=headers,
        )
        assert reply.status_code == 200, reply.text
        return reply.json()["lease"]

    async def rate(
        self, headers: dict[str, str], lease_id: str, chosen: dict[str, str], **extra: Any
    ) -> httpx.Response:
        return await self.client.post(
            f"/api/v1/rating/leases/{lease_id}/rating",
            json={"levels": chosen, **extra},
            headers=headers,
        )


async def rating_world(
    app: FastAPI,
    client: httpx.AsyncClient,
    make: Factory,
    *,
    candidates: int = 1,
    raters: int = 2,
    release: str = "after_review",
    upload: bool = False,
    blank: int = 0,
) -> RatingWorld:
    """One essay item (rubric :data:`RUBRIC`, no declared maximum), ``candidates`` attempts
    submitted and waiting in ``scoring`` (the first ``blank`` of them left unanswered);
    ``raters`` raters, one adjudicator, one lead."""
    world = await World(client, make).setup(tagged={})
    headers = world.headers
    rubric = await client.post(
        "/api/v1/rubrics", json={"slug": "short-essay", "yaml": RUBRIC}, headers=headers
    )
    assert rubric.status_code == 201, rubric.text
    created = await client.post(
        f"/api/v1/banks/{world.bank_id}/items",
        json={
            "source": {"format": "qti", "content": upload_item("E1") if upload else essay("E1")},
            # Rubrics go with extended text; an upload is rated on its points.
            "rubric_version_id": None if upload else rubric.json()["version"]["id"],
        },
        headers=headers,
    )
    assert created.status_code == 201, created.text
    item_id = created.json()["item"]["id"]
    await client.post(f"/api/v1/items/{item_id}/publish", headers=headers)
    assessment = await client.post(
        "/api/v1/assessments",
        json={
            "slug": "essays",
            "definition": world.definition(
                sections=[{"identifier": "s", "title": "S", "items": [{"item_id": item_id}]}],
                scoring={"release": release},
            ),
        },
        headers=headers,
    )
    assert assessment.status_code == 201, assessment.text
    published = await client.post(
        f"/api/v1/assessments/{assessment.json()['assessment']['id']}/publish", headers=headers
    )
    administration = await world.administration(published.json()["version"]["id"])
    people = [await make.candidate(world.org, name=f"Writer {n}") for n in range(candidates)]
    roster = await client.post(
        f"/api/v1/administrations/{administration['id']}/roster",
        json={"entries": [{"candidate_id": str(p.id)} for p in people]},
        headers=headers,
    )
    assert roster.status_code == 201, roster.text
    attempts, credentials = [], []
    for n, entry in enumerate(roster.json()):
        attempt_id, credential = await begin(client, entry["access_code"])
        if upload and n >= blank:
            saved = await client.post(
                f"/api/v1/attempts/{attempt_id}/responses/E1/file",
                data={"seq": "1"},
                files={"file": ("work.txt", UPLOADED, "text/plain")},
                headers=credential,
            )
            assert saved.status_code == 200, saved.text
        elif n >= blank:
            saved = await client.put(
                f"/api/v1/attempts/{attempt_id}/responses/E1",
                json={"seq": 1, "value": f"Homework builds habits, says writer {n}."},
                headers=credential,
            )
            assert saved.status_code == 200, saved.text
        await client.post(f"/api/v1/attempts/{attempt_id}/submit", headers=credential)
        assert await wait_for_state(app, attempt_id, "scoring") == "scoring"
        attempts.append(attempt_id)
        credentials.append(credential)
    rw = RatingWorld(app, client, world, administration["id"], attempts, credentials)
    for _ in range(raters):
        account = await make.user(world.org, Role.rater)
        rw.raters.append(account)
        rw.rater_headers.append(await login(client, account))
    rw.adjudicator = await make.user(world.org, Role.rater)
    rw.adjudicator_headers = await login(client, rw.adjudicator)
    rw.lead = await make.user(world.org, Role.rater)
    rw.lead_headers = await login(client, rw.lead)
    return rw


def as_uuid(value: str) -> uuid.UUID:
    return uuid.UUID(value)
