"""Scoring attempts: each item through its scorer, totals by the scoring policy, a new
result revision, and the attempt's move to ``scored`` (and ``released`` when the policy
releases immediately)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from waa_ads.assessments.definition import ReleasePolicy
from waa_ads.audit.service import Actor
from waa_ads.content.model import ItemDefinition
from waa_ads.core.db import utcnow
from waa_ads.delivery import service as delivery
from waa_ads.delivery.models import Attempt, Response
from waa_ads.delivery.state_machine import AttemptState
from waa_ads.scoring.engine import evaluate
from waa_ads.scoring.models import AttemptResult, ItemScore
from waa_ads.scoring.policy import ScoredItem, totals

SCORER = Actor("system", "scoring")


@dataclass(frozen=True)
class Score:
    score: float | None
    max_score: float
    method: str
    scorer: str
    confidence: float | None
    outcomes: dict[str, Any]
    notes: list[str]


class Scorer(Protocol):
    """Scores one item's response. ``score`` None means a person (or a trained model) has
    to score it; the attempt then waits in ``scoring``."""

    def score(self, item: ItemDefinition, response: dict[str, Any]) -> Score: ...


def _max_score(item: ItemDefinition, outcomes: dict[str, Any]) -> float:
    if isinstance(outcomes.get("MAXSCORE"), int | float):
        return float(outcomes["MAXSCORE"])
    declared = item.outcome_declaration("MAXSCORE")
    if declared is not None and isinstance(declared.default_value, int | float):
        return float(declared.default_value)
    return 0.0


class ObjectiveScorer:
    """The response processing engine: certain, so confidence 1."""

    def score(self, item: ItemDefinition, response: dict[str, Any]) -> Score:
        result = evaluate(item, response)
        raw = result.outcomes.get("SCORE")
        return Score(
            score=float(raw) if isinstance(raw, int | float) else 0.0,
            max_score=_max_score(item, result.outcomes),
            method="objective",
            scorer="response-processing",
            confidence=1.0,
            outcomes=result.outcomes,
            notes=result.notes,
        )


class PendingHumanScorer:
    """For items without response processing (essays, uploads): queued for a rater."""

    def score(self, item: ItemDefinition, response: dict[str, Any]) -> Score:
        declared = item.outcome_declaration("MAXSCORE")
        maximum = (
            float(declared.default_value)
            if declared is not None and isinstance(declared.default_value, int | float)
            else 0.0
        )
        return Score(None, maximum, "pending", "human", None, {}, [])


def scorer_for(item: ItemDefinition) -> Scorer:
    return ObjectiveScorer() if item.response_processing is not None else PendingHumanScorer()


async def score_attempt(
    session: AsyncSession, attempt_id: uuid.UUID, *, reason: str
) -> AttemptResult | None:
    """Score an ended attempt into a new result revision. Idempotent: an attempt already
    scored (or still live) is left as it is; a redelivered task finds it in ``scoring``
    and scores again into a fresh revision, never adding to an earlier one."""
    attempt = await session.get(Attempt, attempt_id, with_for_update=True)
    if attempt is None:
        return None
    if attempt.state in (AttemptState.submitted, AttemptState.expired, AttemptState.terminated):
        await delivery.transition(session, attempt, "begin_scoring", actor=SCORER)
    elif attempt.state != AttemptState.scoring:
        return None
    version = await delivery.published_version(session, attempt.assessment_version_id)
    definition = version.definition
    items = await delivery.form_items(session, attempt)
    responses = {
        r.item_ref: r
        for r in (
            await session.execute(select(Response).where(Response.attempt_id == attempt.id))
        ).scalars()
    }
    revision = (
        int(
            (
                await session.execute(
                    select(func.coalesce(func.max(AttemptResult.revision), 0)).where(
                        AttemptResult.attempt_id == attempt.id
                    )
                )
            ).scalar_one()
        )
        + 1
    )
    result = AttemptResult(
        organization_id=attempt.organization_id,
        attempt_id=attempt.id,
        revision=revision,
        reason=reason,
        created_by=SCORER.id,
        created_at=utcnow(),
    )
    session.add(result)
    await session.flush()
    scored: list[ScoredItem] = []
    for form_item in items:
        item = await delivery.item_definition(session, form_item.item_version_id)
        stored = responses.get(form_item.ref)
        normalized = (stored.value or {}).get("normalized", {}) if stored is not None else {}
        outcome = scorer_for(item).score(item, normalized)
        session.add(
            ItemScore(
                organization_id=attempt.organization_id,
                result_id=result.id,
                attempt_id=attempt.id,
                item_ref=form_item.ref,
                item_version_id=form_item.item_version_id,
                section=form_item.section,
                weight=form_item.weight,
                score=outcome.score,
                max_score=outcome.max_score,
                method=outcome.method,
                scorer=outcome.scorer,
                confidence=outcome.confidence,
                outcomes=outcome.outcomes,
                notes=outcome.notes,
            )
        )
        scored.append(
            ScoredItem(form_item.section, outcome.score, outcome.max_score, form_item.weight)
        )
    section_weights = {s.identifier: s.weight for s in definition.sections}
    computed = totals(scored, section_weights, definition.scoring)
    result.raw, result.max_raw = computed.raw, computed.max_raw
    result.weighted, result.max_weighted = computed.weighted, computed.max_weighted
    result.scaled, result.band, result.passed = computed.scaled, computed.band, computed.passed
    result.sections = computed.sections
    result.pending_items = computed.pending
    result.complete = computed.pending == 0
    await session.flush()
    if result.complete:
        await delivery.transition(session, attempt, "finish_scoring", actor=SCORER)
        if definition.scoring.release is ReleasePolicy.immediately:
            await delivery.transition(session, attempt, "release", actor=SCORER)
    return result


async def latest_result(session: AsyncSession, attempt_id: uuid.UUID) -> AttemptResult | None:
    return (
        await session.execute(
            select(AttemptResult)
            .where(AttemptResult.attempt_id == attempt_id)
            .order_by(AttemptResult.revision.desc())
            .limit(1)
        )
    ).scalar_one_or_none()


async def item_scores(session: AsyncSession, result_id: uuid.UUID) -> list[ItemScore]:
    return list(
        (
            await session.execute(
                select(ItemScore)
                .where(ItemScore.result_id == result_id)
                .order_by(ItemScore.item_ref)
            )
        ).scalars()
    )
