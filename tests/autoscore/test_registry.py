"""The essay model registry through the API, on both backends: training from people's
resolved scores and from a CSV, the acceptance gate (refusal with every check), activation
and retirement in the audit chain, version checks, tenancy, and routing live answers
(confident ones scored by the model, a share sent to people as a check, doubtful ones left
in the raters' queue with the reason), explanations for raters and live agreement."""

from __future__ import annotations

import random
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tests.autoscore.world import (
    EssayWorld,
    essay_world,
    live_essays,
    submit_late,
    training_csv,
)
from tests.support.factories import Factory, login
from waa_ads.audit.models import AuditEvent
from waa_ads.auth.models import Role
from waa_ads.autoscore import service, synthetic
from waa_ads.autoscore.models import AutoscoreDecision, EssayModel
from waa_ads.delivery.models import Attempt
from waa_ads.rating.models import RatingOutcome, RatingTask
from waa_ads.scoring.models import AttemptResult, ItemScore

pytestmark = pytest.mark.asyncio


async def idle(app: FastAPI) -> None:
    runner = app.state.background.runner
    assert runner is not None
    await runner.wait_idle()


async def model_of(client: httpx.AsyncClient, headers: dict[str, str], model_id: str) -> Any:
    reply = await client.get(f"/api/v1/autoscore/models/{model_id}", headers=headers)
    assert reply.status_code == 200, reply.text
    return reply.json()


async def actions(session: AsyncSession, organization_id: uuid.UUID) -> list[str]:
    return list(
        (
            await session.execute(
                select(AuditEvent.action)
                .where(
                    AuditEvent.organization_id == organization_id,
                    AuditEvent.action.like("autoscore.%"),
                )
                .order_by(AuditEvent.seq)
            )
        ).scalars()
    )


async def upload(ew: EssayWorld, data: bytes, **form: str) -> httpx.Response:
    return await ew.client.post(
        "/api/v1/autoscore/models/upload",
        data={"item_id": ew.item_id, "folds": "3", **form},
        files={"file": ("train.csv", data, "text/csv")},
        headers=ew.admin,
    )


# Twenty-two answers rated twice through the queue are the slowest data to build: on one
# backend only (routing below covers both).
@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
async def test_a_model_trained_from_people_scores_is_gated_and_unseen_by_other_organizations(
    app: FastAPI, client: httpx.AsyncClient, make: Factory, db_session: AsyncSession
) -> None:
    made = synthetic.essays(22, seed=3, min_score=0, max_score=4)
    ew = await essay_world(app, client, make, made.texts)
    await ew.plan(
        double_share=1.0, disagreement_rule="distance", disagreement_distance=10, resolution="mean"
    )
    by_text = dict(zip(made.texts, zip(made.scores, made.second_scores, strict=True), strict=True))
    for index, headers in enumerate(ew.rater_headers):
        while (lease := await ew.lease(headers)) is not None:
            text = lease["response"]["value"]
            await ew.rate(headers, lease["lease_id"], by_text[text][index])

    unknown = await client.post(
        "/api/v1/autoscore/models", json={"item_id": str(uuid.uuid4())}, headers=ew.admin
    )
    assert unknown.status_code == 404, unknown.text
    requested = await client.post(
        "/api/v1/autoscore/models", json={"item_id": ew.item_id, "folds": 3}, headers=ew.admin
    )
    assert requested.status_code == 202, requested.text
    assert requested.json()["status"] == "training"
    model_id = requested.json()["id"]
    await idle(app)
    trained = await model_of(client, ew.admin, model_id)
    assert trained["status"] == "trained", trained["error"]
    assert trained["progress"] == 1.0
    assert trained["item_version_id"] == ew.item_version_id
    ref = trained["training_ref"]
    assert ref["rows"] == 22 and ref["double_scored"] == 22
    assert len(ref["plan_ids"]) == 1 and ref["administration_ids"] == [ew.administration_id]
    assert len(ref["rows_sha256"]) == 64 and ref["groups"] == []
    assert trained["artifact_sha256"] and trained["library_versions"]["scikit-learn"]
    assert trained["metrics"]["n"] == 22 and trained["metrics"]["human"]["n"] == 22
    # 22 answers are fewer than the default gate's 200: refused, every check listed.
    assert trained["gate_now"]["passed"] is False
    refused = await client.post(f"/api/v1/autoscore/models/{model_id}/activate", headers=ew.admin)
    assert refused.status_code == 409, refused.text
    problem = refused.json()
    assert problem["type"].endswith("/essay-model-gate-failed")
    checks = {c["name"]: c for c in problem["checks"]}
    assert checks["responses"]["passed"] is False and "fewer than 200" in problem["detail"]
    assert {"qwk", "smd", "qwk below human"} <= set(checks)
    assert (await model_of(client, ew.admin, model_id))["status"] == "trained"
    item = next(
        i
        for i in (await client.get("/api/v1/autoscore/items", headers=ew.admin)).json()
        if i["item_id"] == ew.item_id
    )
    assert item["resolved"] == 22 and item["double_rated"] == 22 and item["models"] == 1

    other = await make.organization()
    stranger = await login(client, await make.user(other, Role.admin))
    assert (await client.get("/api/v1/autoscore/models", headers=stranger)).json() == []
    assert (await client.get("/api/v1/autoscore/items", headers=stranger)).json() == []
    for method, path in (
        ("GET", f"/api/v1/autoscore/models/{model_id}"),
        ("POST", f"/api/v1/autoscore/models/{model_id}/activate"),
        ("GET", f"/api/v1/autoscore/models/{model_id}/agreement"),
    ):
        seen = await client.request(method, path, headers=stranger)
        assert seen.status_code == 404, seen.text
        assert seen.json()["type"].endswith("/essay-model-not-found")
    foreign = await client.post(
        "/api/v1/autoscore/models", json={"item_id": ew.item_id}, headers=stranger
    )
    assert foreign.status_code == 404
    rater = await client.get("/api/v1/autoscore/models", headers=ew.rater_headers[0])
    assert rater.status_code == 403
    assert await actions(db_session, ew.world.org.id) == [
        "autoscore.training_requested",
        "autoscore.model_trained",
    ]


async def test_bad_training_csv_is_refused_naming_lines_and_stores_nothing(
    app: FastAPI, client: httpx.AsyncClient, make: Factory, db_session: AsyncSession
) -> None:
    ew = await essay_world(app, client, make, ["A short answer."])
    bad = b"id,text,score\na,fine,3\na,repeated,2\nb,too high,9\nc,not a number,x\n"
    refused = await upload(ew, bad)
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert problem["type"].endswith("/essay-model-csv-invalid")
    names = [p["name"] for p in problem["invalid_params"]]
    assert names == ["line 3.id", "line 4.score", "line 5.score"]
    missing = await upload(ew, b"id,answer\n1,x\n")
    assert missing.status_code == 422
    assert "text" in missing.json()["detail"] and "score" in missing.json()["detail"]
    latin = await upload(ew, "id,text,score\n1,caf\xe9,1\n".encode("latin-1"))
    assert latin.status_code == 422 and "UTF-8" in latin.json()["detail"]
    few = await upload(ew, b"id,text,score\n1,one answer,2\n")
    assert few.status_code == 422 and "at least" in few.json()["detail"]
    assert (await db_session.execute(select(EssayModel))).scalars().all() == []


async def test_confident_answers_are_scored_by_the_model_and_doubtful_ones_stay_with_people(
    app: FastAPI, client: httpx.AsyncClient, make: Factory, db_session: AsyncSession
) -> None:
    rng = random.Random(11)
    texts = [*live_essays(5), synthetic.gibberish(rng)]
    ew = await essay_world(app, client, make, texts)
    org = ew.world.org.id
    settings = await client.put(
        "/api/v1/autoscore/settings",
        json={"min_responses": 60, "check_share": 0.0},
        headers=ew.admin,
    )
    assert settings.status_code == 200, settings.text
    queued = await upload(ew, training_csv(120))
    assert queued.status_code == 202, queued.text
    model_id = queued.json()["id"]
    await idle(app)
    trained = await model_of(client, ew.admin, model_id)
    assert trained["status"] == "trained", trained["error"]
    assert trained["training_ref"]["groups"] == ["A", "B"]
    assert trained["gate_now"]["passed"] is True, trained["gate_now"]
    activated = await client.post(f"/api/v1/autoscore/models/{model_id}/activate", headers=ew.admin)
    assert activated.status_code == 200, activated.text
    assert activated.json()["status"] == "active"
    await ew.plan()  # queues every waiting answer for people first

    routed = await client.post("/api/v1/autoscore/route", headers=ew.admin)
    assert routed.status_code == 202 and routed.json()["routed"] == len(texts)
    await idle(app)
    decisions = {
        d["attempt_id"]: d
        for d in (
            await client.get(f"/api/v1/autoscore/models/{model_id}/decisions", headers=ew.admin)
        ).json()
    }
    assert set(decisions) == set(ew.attempts)
    doubtful = decisions[ew.attempts[-1]]
    assert doubtful["route"] == "human" and doubtful["reason"] == "gibberish"
    confident = [decisions[a] for a in ew.attempts[:-1]]
    assert [d["route"] for d in confident] == ["auto"] * len(confident), confident
    auto = [d for d in confident if d["route"] == "auto"]
    checks = [d for d in confident if d["route"] == "check"]

    for decision in auto:
        attempt = await db_session.get(Attempt, uuid.UUID(decision["attempt_id"]))
        assert attempt is not None
        await db_session.refresh(attempt)
        assert attempt.state == "scored"
        result = (
            await db_session.execute(
                select(AttemptResult)
                .where(AttemptResult.attempt_id == attempt.id)
                .order_by(AttemptResult.revision.desc())
                .limit(1)
            )
        ).scalar_one()
        assert result.complete and result.revision == decision["revision"]
        score = (
            await db_session.execute(select(ItemScore).where(ItemScore.result_id == result.id))
        ).scalar_one()
        assert score.method == "model" and score.score == decision["score"]
        assert score.scorer == f"essay-model:{model_id}:v1"
        states = set(
            (
                await db_session.execute(
                    select(RatingTask.state).where(RatingTask.response_key == f"{attempt.id}:E1")
                )
            ).scalars()
        )
        assert states == {"withdrawn"}
        outcome = (
            await db_session.execute(
                select(RatingOutcome).where(RatingOutcome.response_key == f"{attempt.id}:E1")
            )
        ).scalar_one()
        assert outcome.status == "resolved" and outcome.revision == decision["revision"]

    # People get exactly the doubtful answer and the checks; the rater sees why.
    rater = ew.rater_headers[0]
    leased: dict[str, Any] = {}
    while (lease := await ew.lease(rater)) is not None:
        leased[lease["response"]["value"]] = lease
        explained = await client.get(
            f"/api/v1/autoscore/leases/{lease['lease_id']}/explanation", headers=rater
        )
        assert explained.status_code == 200, explained.text
        body = explained.json()
        attempt_id = ew.attempts[texts.index(lease["response"]["value"])]
        # Before their rating the rater sees people's similar answers, not the model's view.
        assert body["blind"] is True
        assert body["score"] is None and body["confidence"] is None
        assert body["route"] is None and body["reason"] is None
        assert body["up"] == [] and body["down"] == []
        assert body["model_version"] == 1 and len(body["neighbours"]) == 3
        overseen = (
            await client.get(
                f"/api/v1/autoscore/leases/{lease['lease_id']}/explanation", headers=ew.admin
            )
        ).json()
        assert overseen["blind"] is False and overseen["score"] is not None
        assert overseen["route"] == decisions[attempt_id]["route"]
        assert overseen["reason"] == decisions[attempt_id]["reason"]
        assert all(n["label"].startswith("training answer") for n in body["neighbours"])
        assert all(n["text"] for n in body["neighbours"])
        assert "attempt" not in explained.text and "e000" not in explained.text
        other = await client.get(
            f"/api/v1/autoscore/leases/{lease['lease_id']}/explanation",
            headers=ew.rater_headers[1],
        )
        assert other.status_code == 403
        await ew.rate(rater, lease["lease_id"], 2)
        afterwards = (
            await client.get(
                f"/api/v1/autoscore/leases/{lease['lease_id']}/explanation", headers=rater
            )
        ).json()
        assert afterwards["blind"] is False
        assert afterwards["route"] == decisions[attempt_id]["route"]
        assert afterwards["reason"] == decisions[attempt_id]["reason"]
    assert set(leased) == {texts[-1], *(texts[ew.attempts.index(d["attempt_id"])] for d in checks)}

    live = await client.get(f"/api/v1/autoscore/models/{model_id}/agreement", headers=ew.admin)
    assert live.status_code == 200, live.text
    figures = live.json()
    assert figures["decisions"] == {"auto": len(auto), "check": len(checks), "human": 1}
    assert figures["checks"]["pairs"] == len(checks)
    assert figures["doubtful"]["pairs"] == 1
    assert figures["overall"]["pairs"] == len(checks) + 1
    assert sum(d["pairs"] for d in figures["by_day"]) == len(checks) + 1
    exact = sum(d["score"] == 3.0 for d in checks) + (doubtful["score"] == 3.0)
    assert figures["overall"]["exact"] == pytest.approx(exact / (len(checks) + 1))

    events = await actions(db_session, org)
    assert events[:4] == [
        "autoscore.settings_changed",
        "autoscore.training_requested",
        "autoscore.model_trained",
        "autoscore.model_activated",
    ]
    assert events.count("autoscore.scored") == len(auto)
    assert events.count("autoscore.sent_to_people") == len(checks) + 1
    scored_event = (
        (
            await db_session.execute(
                select(AuditEvent).where(
                    AuditEvent.organization_id == org, AuditEvent.action == "autoscore.scored"
                )
            )
        )
        .scalars()
        .first()
    )
    assert scored_event is not None
    assert model_id in scored_event.canonical and '"model_version":1' in scored_event.canonical

    # An attempt reaching scoring while the model is active is decided at once (scoring
    # hands it over by name), without the sweep or a request.
    # With every confident answer checked, it stays with people as a check.
    shared = await client.put(
        "/api/v1/autoscore/settings",
        json={"min_responses": 60, "check_share": 1.0},
        headers=ew.admin,
    )
    assert shared.status_code == 200, shared.text
    late_text = live_essays(1, seed=99)[0]
    late = await submit_late(ew, make, late_text)
    await idle(app)
    decided = await db_session.scalar(
        select(AutoscoreDecision).where(AutoscoreDecision.attempt_id == uuid.UUID(late))
    )
    assert decided is not None and decided.route == "check", decided
    assert decided.reason is not None and "check" in decided.reason
    assert decided.revision is None
    lease = await ew.lease(rater)
    assert lease is not None and lease["response"]["value"] == late_text
    explained = await client.get(
        f"/api/v1/autoscore/leases/{lease['lease_id']}/explanation", headers=rater
    )
    # A check is rated blind: nothing tells the rater the model already scored it.
    assert explained.json()["blind"] is True and explained.json()["route"] is None
    assert "check" not in explained.text
    await ew.rate(rater, lease["lease_id"], 2)
    live = await client.get(f"/api/v1/autoscore/models/{model_id}/agreement", headers=ew.admin)
    assert live.json()["checks"]["pairs"] == 1
    assert live.json()["decisions"]["check"] == 1

    # Scored by the model before any queue sync saw it: its outcome is written resolved at
    # once, so no later sync queues it for people.
    no_checks = await client.put(
        "/api/v1/autoscore/settings",
        json={"min_responses": 60, "check_share": 0.0},
        headers=ew.admin,
    )
    assert no_checks.status_code == 200, no_checks.text
    unqueued = await submit_late(ew, make, live_essays(1, seed=7)[0])
    await idle(app)
    auto_decided = await db_session.scalar(
        select(AutoscoreDecision).where(AutoscoreDecision.attempt_id == uuid.UUID(unqueued))
    )
    assert auto_decided is not None and auto_decided.route == "auto", auto_decided
    settled = (
        await db_session.execute(
            select(RatingOutcome).where(RatingOutcome.attempt_id == uuid.UUID(unqueued))
        )
    ).scalar_one()
    assert (settled.status, settled.needed) == ("resolved", 0)
    assert settled.revision == auto_decided.revision
    assert await ew.lease(rater) is None  # the rater's queue syncs and finds nothing new

    # Retired, the model scores nothing more; with other library versions it refuses.
    retired = await client.post(f"/api/v1/autoscore/models/{model_id}/retire", headers=ew.admin)
    assert retired.status_code == 200 and retired.json()["status"] == "retired"
    again = await client.post(f"/api/v1/autoscore/models/{model_id}/retire", headers=ew.admin)
    assert again.status_code == 409
    await db_session.execute(
        update(EssayModel)
        .where(EssayModel.id == uuid.UUID(model_id))
        .values(library_versions={**trained["library_versions"], "scikit-learn": "0.1"})
    )
    await db_session.flush()
    mismatch = await client.post(f"/api/v1/autoscore/models/{model_id}/activate", headers=ew.admin)
    assert mismatch.status_code == 409, mismatch.text
    assert mismatch.json()["type"].endswith("/autoscore-model-version-mismatch")
    assert "scikit-learn" in mismatch.json()["detail"]
    assert (await actions(db_session, org))[-1] == "autoscore.model_retired"


async def test_the_check_draw_is_fixed_per_answer_and_model_and_uniform() -> None:
    model_id = uuid.UUID(int=7)
    keys = [f"{uuid.UUID(int=n)}:E1" for n in range(4000)]
    draws = [service.check_draw(k, model_id) for k in keys]
    assert draws == [service.check_draw(k, model_id) for k in keys]
    assert all(0.0 <= d < 1.0 for d in draws)
    assert 0.47 < sum(d < 0.5 for d in draws) / len(draws) < 0.53
    other = [service.check_draw(k, uuid.UUID(int=8)) for k in keys]
    assert other != draws, "another model draws other answers"
