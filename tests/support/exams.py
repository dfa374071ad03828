"""An organization with a bank of published items, assessments and open administrations,
built over HTTP the way an administrator builds them; and a candidate's first steps."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from tests.support.factories import Account, Factory, login
from tests.support.items import ESSAY, choice_item
from waa_ads.auth.models import Organization, Role
from waa_ads.delivery.models import Attempt


class World:
    """An organization, its admin (logged in) and a bank of published choice items."""

    org: Organization
    admin: Account
    proctor: Account

    def __init__(self, client: httpx.AsyncClient, make: Factory) -> None:
        self.client = client
        self.make = make
        self.headers: dict[str, str] = {}
        self.bank_id = ""
        self.items: dict[str, str] = {}

    async def setup(self, *, tagged: dict[str, list[str]] | None = None) -> World:
        self.org = await self.make.organization()
        self.admin = await self.make.user(self.org, Role.admin)
        self.headers = await login(self.client, self.admin)
        bank = await self.client.post(
            "/api/v1/banks", json={"slug": "main", "name": "Main"}, headers=self.headers
        )
        self.bank_id = bank.json()["id"]
        for ident, tags in (
            tagged or {"A1": ["algebra"], "A2": ["algebra"], "G1": ["geometry"]}
        ).items():
            created = await self.client.post(
                f"/api/v1/banks/{self.bank_id}/items",
                json={
                    "source": {"format": "qti", "content": choice_item(ident, ident)},
                    "metadata": {"tags": tags},
                },
                headers=self.headers,
            )
            item_id = created.json()["item"]["id"]
            await self.client.post(f"/api/v1/items/{item_id}/publish", headers=self.headers)
            self.items[ident] = item_id
        return self

    async def with_essay(self, **overrides: Any) -> dict[str, Any]:
        """Publish :data:`~tests.support.items.ESSAY` (E1, scored by a person) in the bank:
        a definition of one section, Q1 and the essay (``overrides`` as in
        :meth:`definition`)."""
        essay = await self.client.post(
            f"/api/v1/banks/{self.bank_id}/items",
            json={"source": {"format": "qti", "content": ESSAY}},
            headers=self.headers,
        )
        assert essay.status_code == 201, essay.text
        essay_id = essay.json()["item"]["id"]
        published = await self.client.post(
            f"/api/v1/items/{essay_id}/publish", headers=self.headers
        )
        assert published.status_code == 200, published.text
        items = [{"item_id": self.items["Q1"]}, {"item_id": essay_id}]
        return self.definition(
            sections=[{"identifier": "s", "title": "S", "items": items}], **overrides
        )

    async def open_administration(
        self,
        *,
        slug: str,
        definition: dict[str, Any],
        title: str,
        candidate_ids: Sequence[uuid.UUID | str],
        hours: int = 3,
        proctor_ids: Sequence[str] = (),
    ) -> tuple[dict[str, Any], list[str]]:
        """Create and publish the assessment ``slug`` of ``definition``, open an
        administration ``title`` now for ``hours`` and roster the candidates: the
        administration and their access codes, in order."""
        created = await self.client.post(
            "/api/v1/assessments",
            json={"slug": slug, "definition": definition},
            headers=self.headers,
        )
        assert created.status_code == 201, created.text
        published = await self.client.post(
            f"/api/v1/assessments/{created.json()['assessment']['id']}/publish",
            headers=self.headers,
        )
        assert published.status_code == 200, published.text
        now = datetime.now(UTC)
        administration = await self.client.post(
            "/api/v1/administrations",
            json={
                "assessment_version_id": published.json()["version"]["id"],
                "title": title,
                "opens_at": (now - timedelta(minutes=1)).isoformat(),
                "closes_at": (now + timedelta(hours=hours)).isoformat(),
                "proctor_ids": list(proctor_ids),
            },
            headers=self.headers,
        )
        assert administration.status_code == 201, administration.text
        roster = await self.client.post(
            f"/api/v1/administrations/{administration.json()['id']}/roster",
            json={"entries": [{"candidate_id": str(c)} for c in candidate_ids]},
            headers=self.headers,
        )
        assert roster.status_code == 201, roster.text
        return administration.json(), [e["access_code"] for e in roster.json()]

    async def publish_item(self, xml: str) -> str:
        """A QTI item added to the world's bank and published; its id."""
        created = await self.client.post(
            f"/api/v1/banks/{self.bank_id}/items",
            json={"source": {"format": "qti", "content": xml}},
            headers=self.headers,
        )
        assert created.status_code == 201, created.text
        item_id: str = created.json()["item"]["id"]
        published = await self.client.post(f"/api/v1/items/{item_id}/publish", headers=self.headers)
        assert published.status_code == 200, published.text
        return item_id

    def definition(self, **overrides: Any) -> dict[str, Any]:
        base: dict[str, Any] = {
            "title": "Placement test",
            "time_limit_s": 1800,
            "scoring": {
                "bands": [
                    {"name": "fail", "min_score": 0},
                    {"name": "pass", "min_score": 2, "passed": True},
                ]
            },
        }
        if "sections" not in overrides:
            base["sections"] = [
                {
                    "identifier": "fixed",
                    "title": "Warm-up",
                    "items": [{"item_id": self.items["G1"]}],
                },
                {
                    "identifier": "drawn",
                    "title": "Algebra",
                    "selection": {"bank_id": self.bank_id, "count": 2, "tags": ["algebra"]},
                },
            ]
        base.update(overrides)
        return base

    async def published_assessment(self) -> dict[str, Any]:
        created = await self.client.post(
            "/api/v1/assessments",
            json={"slug": "placement", "definition": self.definition()},
            headers=self.headers,
        )
        assert created.status_code == 201, created.text
        published = await self.client.post(
            f"/api/v1/assessments/{created.json()['assessment']['id']}/publish",
            headers=self.headers,
        )
        assert published.status_code == 200, published.text
        result: dict[str, Any] = published.json()
        return result

    async def administration(
        self, version_id: str, *, start: datetime | None = None, hours: int = 2
    ) -> dict[str, Any]:
        start = start or datetime.now(UTC) - timedelta(minutes=5)
        response = await self.client.post(
            "/api/v1/administrations",
            json={
                "assessment_version_id": version_id,
                "title": "Morning session",
                "opens_at": start.isoformat(),
                "closes_at": (start + timedelta(hours=hours)).isoformat(),
            },
            headers=self.headers,
        )
        assert response.status_code == 201, response.text
        result: dict[str, Any] = response.json()
        return result


class Exam:
    """A published assessment of three single-choice items (correct answer B), an open
    administration, and rostered candidates with codes."""

    def __init__(self, world: World, administration: dict[str, Any], codes: list[str]) -> None:
        self.world = world
        self.administration = administration
        self.codes = codes


async def exam(
    client: httpx.AsyncClient,
    make: Factory,
    *,
    candidates: int = 2,
    proctor: bool = False,
    policy: str | None = None,
    **definition: Any,
) -> Exam:
    """``policy``: the YAML of an integrity policy saved as ``exam-policy`` and named by
    the assessment."""
    world = await World(client, make).setup(tagged={"Q1": [], "Q2": [], "Q3": []})
    if policy is not None:
        saved = await client.put(
            "/api/v1/integrity/policies/exam-policy",
            json={"source": policy},
            headers=world.headers,
        )
        assert saved.status_code == 200, saved.text
        definition["integrity_policy"] = "exam-policy"
    body = world.definition(
        sections=[
            {
                "identifier": "s",
                "title": "S",
                "items": [{"item_id": world.items[k]} for k in ("Q1", "Q2", "Q3")],
            }
        ],
        **definition,
    )
    proctors = []
    if proctor:
        world.proctor = await make.user(world.org, Role.proctor)
        proctors = [str(world.proctor.user.id)]
    people = [await make.candidate(world.org, name=f"Cand {n}") for n in range(candidates)]
    administration, codes = await world.open_administration(
        slug="exam",
        definition=body,
        title="Now",
        candidate_ids=[p.id for p in people],
        proctor_ids=proctors,
    )
    return Exam(world, administration, codes)


async def begin(client: httpx.AsyncClient, code: str) -> tuple[str, dict[str, str]]:
    """Start (or resume) the attempt ``code`` opens: its id and credential headers."""
    response = await client.post("/api/v1/attempts", json={"access_code": code})
    assert response.status_code in (200, 201), response.text
    body = response.json()
    return body["attempt"]["id"], {"X-Attempt-Token": body["credential"]}


async def submit_answers(
    client: httpx.AsyncClient, code: str, answers: Mapping[str, str | None]
) -> str:
    """Start the attempt ``code`` opens, save each answer (item identifier to value; None
    leaves the item unanswered) and submit it; the attempt's id."""
    attempt_id, headers = await begin(client, code)
    for ref, value in answers.items():
        if value is not None:
            saved = await client.put(
                f"/api/v1/attempts/{attempt_id}/responses/{ref}",
                json={"seq": 1, "value": value},
                headers=headers,
            )
            assert saved.status_code == 200, saved.text
    await client.post(f"/api/v1/attempts/{attempt_id}/submit", headers=headers)
    return attempt_id


async def wait_for_state(app: FastAPI, attempt_id: str, *states: str) -> str:
    """The attempt's state once it is one of ``states`` (background work moves it on), or
    whatever it is after 10 s."""
    deadline = asyncio.get_running_loop().time() + 10
    while True:
        async with app.state.db.transaction(write=False) as session:
            state = (
                await session.execute(
                    select(Attempt.state).where(Attempt.id == uuid.UUID(attempt_id))
                )
            ).scalar_one()
        if state in states or asyncio.get_running_loop().time() > deadline:
            return str(state)
        await asyncio.sleep(0.05)
