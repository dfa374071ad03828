"""Criterion models route live answers like item models: once every criterion of the
item's rubric has an active model, an answer all of them are sure about gets the rubric's
score from their points; one that any of them is unsure about, or that is unlike their
training answers, stays with people with the reason naming the criterion."""

from __future__ import annotations

import io
import random
import uuid
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.autoscore.test_registry import idle, model_of
from tests.autoscore.world import EssayWorld, essay_world, live_essays, submit_late
from tests.support.factories import Factory
from waa_ads.audit.models import AuditEvent
from waa_ads.autoscore import synthetic
from waa_ads.autoscore.models import AutoscoreDecision
from waa_ads.delivery.models import Attempt
from waa_ads.rating.models import RatingOutcome
from waa_ads.scoring.models import AttemptResult, ItemScore

pytestmark = pytest.mark.asyncio


def criterion_csv(n: int, seed: int) -> bytes:
    """``n`` synthetic essays scored 0..4 (a criterion's points): ``id,text,score,score2``."""
    made = synthetic.essays(n, seed=seed, min_score=0, max_score=4)
    out = io.StringIO()
    out.write("id,text,score,score2\n")
    for ident, text, score, second in zip(
        made.ids, made.texts, made.scores, made.second_scores, strict=True
    ):
        quoted = text.replace('"', '""')
        out.write(f'{ident},"{quoted}",{score},{second}\n')
    return out.getvalue().encode()


async def train_criterion(ew: EssayWorld, criterion: str, seed: int, **form: str) -> str:
    queued = await ew.client.post(
        "/api/v1/autoscore/models/upload",
        data={"item_id": ew.item_id, "folds": "3", "criterion": criterion, **form},
        files={"file": ("train.csv", criterion_csv(120, seed), "text/csv")},
        headers=ew.admin,
    )
    assert queued.status_code == 202, queued.text
    model_id: str = queued.json()["id"]
    await idle(ew.app)
    trained = await model_of(ew.client, ew.admin, model_id)
    assert trained["status"] == "trained", trained["error"]
    assert trained["criterion"] == criterion
    assert (trained["min_score"], trained["max_score"]) == (0, 4)
    assert trained["gate_now"]["passed"] is True, trained["gate_now"]
    return model_id


async def activate(ew: EssayWorld, model_id: str) -> None:
    done = await ew.client.post(f"/api/v1/autoscore/models/{model_id}/activate", headers=ew.admin)
    assert done.status_code == 200, done.text


async def decisions_of(session: AsyncSession, attempt_id: str) -> dict[str, AutoscoreDecision]:
    rows = (
        await session.execute(
            select(AutoscoreDecision).where(AutoscoreDecision.attempt_id == uuid.UUID(attempt_id))
        )
    ).scalars()
    return {d.criterion: d for d in rows}


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
async def test_criterion_models_score_sure_answers_and_send_unsure_ones_to_people(
    app: FastAPI, client: Any, make: Factory, db_session: AsyncSession
) -> None:
    rng = random.Random(11)
    texts = [*live_essays(3), synthetic.gibberish(rng)]
    ew = await essay_world(app, client, make, texts)
    settings = await client.put(
        "/api/v1/autoscore/settings",
        json={"min_responses": 60, "check_share": 0.0},
        headers=ew.admin,
    )
    assert settings.status_code == 200, settings.text
    unknown = await client.post(
        "/api/v1/autoscore/models/upload",
        data={"item_id": ew.item_id, "criterion": "style"},
        files={"file": ("train.csv", criterion_csv(30, 1), "text/csv")},
        headers=ew.admin,
    )
    assert unknown.status_code == 422, unknown.text
    assert "no criterion 'style'" in unknown.json()["detail"]
    content = await train_criterion(ew, "content", seed=1)
    language = await train_criterion(ew, "language", seed=2)

    # One criterion of two covered: the models decide nothing, the answers wait for people.
    await activate(ew, content)
    await ew.plan()
    routed = await client.post("/api/v1/autoscore/route", headers=ew.admin)
    assert routed.status_code == 202 and routed.json()["routed"] == 0
    await idle(app)
    assert await db_session.scalar(select(AutoscoreDecision.id).limit(1)) is None

    # Both covered: each answer is decided once, one decision row per criterion.
    await activate(ew, language)
    routed = await client.post("/api/v1/autoscore/route", headers=ew.admin)
    assert routed.status_code == 202 and routed.json()["routed"] == len(texts)
    await idle(app)
    gibberish = await decisions_of(db_session, ew.attempts[-1])
    assert set(gibberish) == {"content", "language"}
    assert {d.route for d in gibberish.values()} == {"human"}
    assert (
        gibberish["content"].reason == "criterion content: gibberish; criterion language: gibberish"
    )
    assert gibberish["content"].model_id == uuid.UUID(content)
    assert gibberish["language"].model_id == uuid.UUID(language)
    for attempt_id in ew.attempts[:-1]:
        decided = await decisions_of(db_session, attempt_id)
        assert {d.route for d in decided.values()} == {"auto"}, decided
        c, lang = decided["content"], decided["language"]
        assert c.score is not None and lang.score is not None
        assert c.revision == lang.revision is not None
        attempt = await db_session.get(Attempt, uuid.UUID(attempt_id))
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
        assert result.revision == c.revision
        score = (
            await db_session.execute(select(ItemScore).where(ItemScore.result_id == result.id))
        ).scalar_one()
        # The rubric's score: content + 0.5 x language (its maximum 6 is the item's).
        assert score.method == "model"
        assert score.score == pytest.approx(c.score + 0.5 * lang.score)
        assert score.scorer == "essay-models:content v1, language v1"
        assert score.confidence == pytest.approx(min(c.confidence or 0, lang.confidence or 0))
        outcome = (
            await db_session.execute(
                select(RatingOutcome).where(RatingOutcome.attempt_id == attempt.id)
            )
        ).scalar_one()
        assert outcome.status == "resolved" and outcome.revision == c.revision
    scored = (
        (
            await db_session.execute(
                select(AuditEvent).where(
                    AuditEvent.organization_id == ew.world.org.id,
                    AuditEvent.action == "autoscore.scored",
                )
            )
        )
        .scalars()
        .all()
    )
    assert len(scored) == len(texts) - 1
    assert '"criterion":"content"' in scored[0].canonical and content in scored[0].canonical
    assert language in scored[0].canonical

    # A criterion model that is unsure (a new language model asking for 99.9% sets within
    # a point) sends the answer to people, naming the criterion.
    unsure = await train_criterion(ew, "language", seed=2, confidence="0.999")
    await activate(ew, unsure)
    late = await submit_late(ew, make, live_essays(1, seed=99)[0])
    await idle(app)
    decided = await decisions_of(db_session, late)
    assert {d.route for d in decided.values()} == {"human"}
    reason = decided["language"].reason
    assert reason is not None and reason.startswith("criterion language: low confidence")
    assert "criterion content" not in reason and decided["content"].reason == reason
    assert decided["language"].model_id == uuid.UUID(unsure)
    assert decided["content"].revision is None
    sent = (
        await db_session.execute(
            select(AuditEvent)
            .where(
                AuditEvent.organization_id == ew.world.org.id,
                AuditEvent.action == "autoscore.sent_to_people",
            )
            .order_by(AuditEvent.seq.desc())
            .limit(1)
        )
    ).scalar_one()
    assert "criterion language: low confidence" in sent.canonical

    # People get the gibberish and the unsure answer; the content model's live agreement
    # compares its points with the rater's content points.
    rater = ew.rater_headers[0]
    leased = []
    while (lease := await ew.lease(rater)) is not None:
        leased.append(lease["response"]["value"])
        await ew.rate(rater, lease["lease_id"], 2)
    assert sorted(leased) == sorted([texts[-1], live_essays(1, seed=99)[0]])
    live = await client.get(f"/api/v1/autoscore/models/{content}/agreement", headers=ew.admin)
    assert live.status_code == 200, live.text
    figures = live.json()
    assert figures["decisions"] == {"auto": len(texts) - 1, "check": 0, "human": 2}
    assert figures["doubtful"]["pairs"] == 2
    exact = sum(d.score == 2.0 for d in (gibberish["content"], decided["content"]))
    assert figures["doubtful"]["exact"] == pytest.approx(exact / 2)
