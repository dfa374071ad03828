"""Scoring attempts: each item through its scorer, totals by the scoring policy, a new
result revision, and the attempt's move to ``scored`` (and ``released`` when the policy
releases immediately)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from waa_ads.assessments import adaptive as cat
from waa_ads.assessments.definition import AssessmentDefinition, ReleasePolicy
from waa_ads.audit import service as audit
from waa_ads.audit.service import Actor
from waa_ads.auth.deps import Principal
from waa_ads.content.item import templates
from waa_ads.content.item.definition import ItemDefinition
from waa_ads.core.db import Database, utcnow
from waa_ads.core.settings import Settings
from waa_ads.core.tenancy import get_scoped
from waa_ads.delivery import adaptive as delivery_adaptive
from waa_ads.delivery import feedback as delivery_feedback
from waa_ads.delivery import service as delivery
from waa_ads.delivery.errors import AttemptNotFound
from waa_ads.delivery.models import Attempt, Response
from waa_ads.delivery.state_machine import AttemptState
from waa_ads.scoring import errors, schemas
from waa_ads.scoring.engine import derived_max_score, evaluate
from waa_ads.scoring.models import AttemptResult, ItemScore
from waa_ads.scoring.policy import ScoredItem, band_for, totals

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


#: The maximum of an item a person scores when neither the item nor a rubric says one:
#: a single point (the item is then scored 0 or 1, or anything in between).
DEFAULT_HUMAN_MAX_SCORE = 1.0


def declared_max_score(item: ItemDefinition) -> float | None:
    """The maximum the item itself declares: its ``MAXSCORE`` default, else the
    ``normalMaximum`` of its ``SCORE`` outcome; None when it declares neither."""
    declared = item.outcome_declaration("MAXSCORE")
    if declared is not None and isinstance(declared.default_value, int | float):
        return float(declared.default_value)
    score = item.outcome_declaration("SCORE")
    if score is not None and score.normal_maximum is not None and score.normal_maximum > 0:
        return float(score.normal_maximum)
    return None


def objective_max_score(item: ItemDefinition, outcomes: dict[str, Any]) -> float:
    """An objectively scored item's maximum: its ``MAXSCORE`` outcome, else the maximum it
    declares, else the one its processing implies (a template's, or what its key scores
    under its own rules). A positive score is never out of 0: when no maximum can be
    worked out, the score is its own maximum."""
    reported = outcomes.get("MAXSCORE")
    if isinstance(reported, int | float) and not isinstance(reported, bool):
        maximum = float(reported)
    else:
        found = declared_max_score(item)
        if found is None:
            found = derived_max_score(item)
        maximum = found if found is not None else 0.0
    score = outcomes.get("SCORE")
    if isinstance(score, int | float) and not isinstance(score, bool) and maximum <= 0 < score:
        maximum = float(score)
    return maximum


class ObjectiveScorer:
    """The response processing engine: certain, so confidence 1."""

    def score(self, item: ItemDefinition, response: dict[str, Any]) -> Score:
        result = evaluate(item, response)
        raw = result.outcomes.get("SCORE")
        return Score(
            score=float(raw) if isinstance(raw, int | float) else 0.0,
            max_score=objective_max_score(item, result.outcomes),
            method="objective",
            scorer="response-processing",
            confidence=1.0,
            outcomes=result.outcomes,
            notes=result.notes,
        )


class PendingHumanScorer:
    """For items without response processing (essays, short answers, uploads): queued for
    a person. Their maximum is the item's declared one (``MAXSCORE``, else the ``SCORE``
    outcome's ``normalMaximum``), else the maximum of the rubric the item version is scored
    with, else :data:`DEFAULT_HUMAN_MAX_SCORE`."""

    def __init__(self, rubric_max: float | None = None) -> None:
        self.rubric_max = rubric_max

    def max_score(self, item: ItemDefinition) -> float:
        declared = declared_max_score(item)
        if declared is not None:
            return declared
        if self.rubric_max is not None and self.rubric_max > 0:
            return float(self.rubric_max)
        return DEFAULT_HUMAN_MAX_SCORE

    def score(self, item: ItemDefinition, response: dict[str, Any]) -> Score:
        return Score(None, self.max_score(item), "pending", "human", None, {}, [])


def scorer_for(item: ItemDefinition, *, rubric_max: float | None = None) -> Scorer:
    if item.response_processing is not None:
        return ObjectiveScorer()
    return PendingHumanScorer(rubric_max)


async def rubric_maxima(
    session: AsyncSession, item_version_ids: list[uuid.UUID]
) -> dict[uuid.UUID, float]:
    """The maximum of the rubric each item version is scored with (those that have one)."""
    from waa_ads.content.models import ItemVersion, RubricVersion

    if not item_version_ids:
        return {}
    rows = await session.execute(
        select(ItemVersion.id, RubricVersion.max_points)
        .join(RubricVersion, RubricVersion.id == ItemVersion.rubric_version_id)
        .where(ItemVersion.id.in_(set(item_version_ids)))
    )
    return {version_id: float(points) for version_id, points in rows.all()}


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
    elif attempt.state == AttemptState.scoring:
        existing = await latest_result(session, attempt.id)
        if existing is not None:
            # Scored already and waiting for people: a redelivered task must not start a
            # fresh revision that would drop their manual scores.
            return existing
    else:
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
    rubric_max = await rubric_maxima(session, [i.item_version_id for i in items])
    for form_item in items:
        # An item shown as a language variant is scored by the variant's processing, under
        # the item's own version (delivery/variants.py).
        item = await delivery.item_definition(
            session, form_item.variant_version_id or form_item.item_version_id
        )
        # A cloned item is scored by this attempt's own instance (content/item/templates.py).
        item = templates.instance_for(item, attempt.seed, form_item.ref)
        stored = responses.get(form_item.ref)
        normalized = (stored.value or {}).get("normalized", {}) if stored is not None else {}
        scorer = scorer_for(item, rubric_max=rubric_max.get(form_item.item_version_id))
        outcome = scorer.score(item, normalized)
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
    _fill_totals(result, scored, definition)
    await _fill_abilities(session, result, attempt, version)
    await session.flush()
    await _settle(session, attempt, result, definition, actor=SCORER)
    if result.pending_items:
        # Answers now wait for a person; a trained model may score some of them first
        # (by name: scoring does not import automated scoring).
        from waa_ads.core.tasks import enqueue_after_commit

        enqueue_after_commit(session, ROUTE_TO_MODELS_TASK, attempt_id=str(attempt.id))
    return result


#: Attempts that ended this long ago and still wait are taken to have lost their task.
WAITING_AFTER_S = 60
#: The states an ended attempt waits in until scoring takes it.
WAITING_STATES = (AttemptState.submitted, AttemptState.expired, AttemptState.terminated)


async def score_waiting(
    db: Database, *, older_than_s: float = WAITING_AFTER_S, batch: int = 100
) -> int:
    """Score attempts that ended more than ``older_than_s`` ago and still wait for scoring.

    Their own ``scoring.score_attempt`` task was lost: the broker was unreachable or
    emptied (a Redis restart keeps nothing) when it was published, or the process died
    between the commit and the publication. One transaction per attempt, at most ``batch``
    per run (the oldest first; the next run takes the rest). Safe beside the per-attempt
    task and the bulk scorer: each takes the attempt's row lock, and whoever comes second
    finds it scored. Returns how many attempts got a result."""
    cutoff = utcnow() - timedelta(seconds=older_than_s)
    async with db.transaction(write=False) as session:
        waiting = (
            (
                await session.execute(
                    select(Attempt.id)
                    .where(
                        Attempt.state.in_([s.value for s in WAITING_STATES]),
                        Attempt.ended_at < cutoff,
                    )
                    .order_by(Attempt.ended_at)
                    .limit(batch)
                )
            )
            .scalars()
            .all()
        )
    scored = 0
    for attempt_id in waiting:
        async with db.transaction() as session:
            if await score_attempt(session, attempt_id, reason="attempt ended") is not None:
                scored += 1
    return scored


async def score_administration(
    db: Database,
    organization_id: uuid.UUID,
    administration_id: uuid.UUID,
    *,
    reason: str = "attempt ended",
    chunk: int | None = None,
    parallel: int = 2,
    figures: Any = None,
) -> int:
    """Score every attempt of the administration that waits for scoring (ended, or in
    ``scoring`` without a result), exactly as :func:`score_attempt` would one by one.
    Returns how many attempts got a result.

    On PostgreSQL the attempts go through :class:`waa_ads.scoring.bulk.BulkScorer`, ``chunk``
    attempts per transaction, ``parallel`` transactions at a time (while the database
    writes one chunk, the next one is read and scored); each chunk commits on its own, and
    takes the organization's audit chain only at its end. Elsewhere one transaction per
    attempt. Idempotent: attempts already scored are not touched, and the per-attempt task
    of an attempt scored here finds it scored and returns. ``figures`` (a
    :class:`~waa_ads.scoring.bulk.BulkFigures`) collects where the time went."""
    import asyncio

    from waa_ads.scoring import bulk

    async with db.transaction(write=False) as session:
        ids = await bulk.ended_attempt_ids(session, organization_id, administration_id)
        adaptive_test = await _is_adaptive(session, administration_id)
    scored = 0
    # Adaptive attempts go one by one: their results carry the ability estimates
    # (``_fill_abilities``), which the bulk path does not compute. (Cloned items go the
    # bulk way: it scores each attempt against its own instance, as score_attempt does.)
    if db.dialect_name != "postgresql" or adaptive_test:
        for attempt_id in ids:
            async with db.transaction() as session:
                attempt = await session.get(Attempt, attempt_id)
                if attempt is None or attempt.state not in (*bulk.ENDED, "scoring"):
                    continue
                previous = await latest_result(session, attempt_id)
                result = await score_attempt(session, attempt_id, reason=reason)
                if result is not None and result is not previous:
                    scored += 1
        return scored
    scorer = bulk.BulkScorer(organization_id, reason=reason, actor=SCORER)
    if figures is not None:
        scorer.figures = figures
    step = max(1, chunk or bulk.BULK_CHUNK)
    parts = iter([ids[start : start + step] for start in range(0, len(ids), step)])
    counts: list[int] = []

    async def work() -> None:
        for part in parts:
            async with db.transaction() as session:
                counts.append(await scorer.score_chunk(session, part))

    async with asyncio.TaskGroup() as group:
        for _ in range(max(1, parallel)):
            group.create_task(work())
    return sum(counts)


async def _is_adaptive(session: AsyncSession, administration_id: uuid.UUID) -> bool:
    from waa_ads.assessments.models import Administration

    administration = await session.get(Administration, administration_id)
    if administration is None:
        return False
    version = await delivery.published_version(session, administration.assessment_version_id)
    return bool(delivery_adaptive.adaptive_sections(version.definition))


async def queue_administration_scoring(
    session: AsyncSession, principal: Principal, administration_id: uuid.UUID
) -> int:
    """Enqueue ``scoring.score_administration`` for an administration of the caller's
    organization (after the transaction commits); the number of attempts waiting now.
    AdministrationNotFound for one the caller cannot see."""
    from waa_ads.assessments import service as assessments
    from waa_ads.core.tasks import enqueue_after_commit
    from waa_ads.scoring import bulk

    administration = await assessments.get_administration(session, principal, administration_id)
    waiting = await bulk.ended_attempt_ids(session, principal.organization_id, administration.id)
    enqueue_after_commit(
        session,
        SCORE_ADMINISTRATION_TASK,
        organization_id=str(principal.organization_id),
        administration_id=str(administration.id),
    )
    return len(waiting)


SCORE_ADMINISTRATION_TASK = "scoring.score_administration"
#: Lets active essay models decide on an attempt's answers waiting for a person.
ROUTE_TO_MODELS_TASK = "autoscore.route_attempt"


def _fill_totals(
    result: AttemptResult, scored: list[ScoredItem], definition: AssessmentDefinition
) -> None:
    computed = totals(
        scored, {s.identifier: s.weight for s in definition.sections}, definition.scoring
    )
    result.raw, result.max_raw = computed.raw, computed.max_raw
    result.weighted, result.max_weighted = computed.weighted, computed.max_weighted
    result.scaled, result.band, result.passed = computed.scaled, computed.band, computed.passed
    result.sections = computed.sections
    result.pending_items = computed.pending
    result.complete = computed.pending == 0


async def _fill_abilities(
    session: AsyncSession,
    result: AttemptResult,
    attempt: Attempt,
    version: delivery.PublishedVersion,
) -> None:
    """Each adaptive section's final ability estimate into the result's ``sections``
    (``theta``, ``se``, ``scaled``, ``scaled_se``, ``items``), from this revision's item
    scores in the order the items were selected (right: the item's full marks). When the
    whole assessment is one adaptive section, its scaled estimate is the result's scaled
    score (and the bands apply to it)."""
    definition = version.definition
    sections = delivery_adaptive.adaptive_sections(definition)
    if not sections:
        return
    await session.flush()
    scores = {
        row.item_ref: row.score is not None
        and row.max_score > 0
        and row.score >= row.max_score - 1e-9
        for row in await item_scores(session, result.id)
    }
    taken = await delivery_adaptive.steps(session, attempt.id)
    merged = dict(result.sections)
    for identifier in sections:
        settings = next(s.adaptive for s in definition.sections if s.identifier == identifier)
        pin = next(p for p in version.pinned.sections if p.identifier == identifier)
        assert settings is not None
        answers = [
            (s.item_ref, scores[s.item_ref])
            for s in taken
            if s.section == identifier and s.item_ref in scores
        ]
        estimate = cat.section_ability(settings, pin.adaptive, answers)
        stopped = next(
            (s.stop_reason for s in taken if s.section == identifier and s.stop_reason), None
        )
        merged[identifier] = {**merged.get(identifier, {}), **estimate, "stop_reason": stopped}
    result.sections = merged
    if len(definition.sections) == 1:
        only = merged[sections[0]]
        result.scaled = float(only["scaled"])
        band = band_for(result.scaled, definition.scoring.bands)
        result.band, result.passed = (band.name, band.passed) if band else (None, None)


def _delivery_score(item: ItemDefinition, response: dict[str, Any]) -> tuple[float, float] | None:
    """An adaptive step's response scored the way the attempt's scoring will score it."""
    outcome = scorer_for(item).score(item, response)
    return None if outcome.score is None else (outcome.score, outcome.max_score)


delivery_adaptive.set_item_scorer(_delivery_score)


def _feedback_outcomes(item: ItemDefinition, response: dict[str, Any]) -> dict[str, Any]:
    """The outcomes that select an item's feedback: its response processing's (the
    declared defaults when it has none, as for an essay a person scores)."""
    return evaluate(item, response).outcomes


delivery_feedback.set_outcome_evaluator(_feedback_outcomes)


async def _settle(
    session: AsyncSession,
    attempt: Attempt,
    result: AttemptResult,
    definition: AssessmentDefinition,
    *,
    actor: Actor,
    reviewed: bool = False,
) -> None:
    """Move the attempt on once its newest result is complete: to ``scored``, and released
    where the policy says so (a revision of a released attempt is released too):

    - ``immediately``: as soon as the result is complete;
    - ``after_review``: when a person's score completes the result (``reviewed``: the last
      item waiting for a person was scored by one); a result complete without anyone
      (objective items only) waits for an admin's release, which is its review;
    - ``manual``: never by itself; only an admin's release publishes a revision."""
    if not result.complete:
        return
    if attempt.state == AttemptState.scoring:
        await delivery.transition(session, attempt, "finish_scoring", actor=actor)
    if attempt.state not in (AttemptState.scored, AttemptState.released):
        return
    policy = definition.scoring.release
    if policy is ReleasePolicy.immediately:
        await release(session, attempt, actor=SCORER)
    elif policy is ReleasePolicy.after_review and reviewed:
        await release(session, attempt, actor=actor)


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


# --- revisions, release, manual scores, rescoring ------------------------------------------


async def _new_revision(
    session: AsyncSession,
    attempt: Attempt,
    previous: AttemptResult,
    *,
    reason: str,
    actor: Actor,
    replace: dict[str, Score],
    key_versions: dict[str, uuid.UUID] | None = None,
    reviewed: bool = False,
    feedback: dict[str, dict[str, Any] | None] | None = None,
) -> AttemptResult:
    """A new revision: the previous revision's item scores, with ``replace`` swapped in
    (by item ref), and totals recomputed. Earlier revisions are never changed. An item
    replaced takes its ``feedback`` (none when not given); the others keep theirs."""
    version = await delivery.published_version(session, attempt.assessment_version_id)
    definition = version.definition
    result = AttemptResult(
        organization_id=attempt.organization_id,
        attempt_id=attempt.id,
        revision=previous.revision + 1,
        reason=reason,
        created_by=actor.id,
        created_at=utcnow(),
    )
    session.add(result)
    await session.flush()
    scored: list[ScoredItem] = []
    for old in await item_scores(session, previous.id):
        new = replace.get(old.item_ref)
        row = ItemScore(
            organization_id=old.organization_id,
            result_id=result.id,
            attempt_id=attempt.id,
            item_ref=old.item_ref,
            item_version_id=(key_versions or {}).get(old.item_ref, old.item_version_id),
            section=old.section,
            weight=old.weight,
            score=new.score if new else old.score,
            max_score=new.max_score if new else old.max_score,
            method=new.method if new else old.method,
            scorer=new.scorer if new else old.scorer,
            confidence=new.confidence if new else old.confidence,
            outcomes=new.outcomes if new else old.outcomes,
            notes=new.notes if new else old.notes,
            feedback=(feedback or {}).get(old.item_ref) if new else old.feedback,
        )
        session.add(row)
        scored.append(ScoredItem(row.section, row.score, row.max_score, row.weight))
    _fill_totals(result, scored, definition)
    await _fill_abilities(session, result, attempt, version)
    result.withheld = previous.withheld
    result.withheld_reason = previous.withheld_reason
    await session.flush()
    await audit.record(
        session,
        organization_id=attempt.organization_id,
        action="result.revised",
        actor=actor,
        target_type="attempt",
        target_id=attempt.id,
        data={
            "revision": result.revision,
            "reason": reason,
            "before": {"raw": previous.raw, "scaled": previous.scaled, "band": previous.band},
            "after": {"raw": result.raw, "scaled": result.scaled, "band": result.band},
        },
    )
    await _settle(session, attempt, result, definition, actor=actor, reviewed=reviewed)
    return result


async def attempt_of(
    session: AsyncSession, organization_id: uuid.UUID, attempt_id: uuid.UUID
) -> Attempt:
    """An attempt of the organization whose results are managed; AttemptNotFound else."""
    return await get_scoped(
        session, Attempt, attempt_id, organization_id, what="attempt", error=AttemptNotFound
    )


async def release(session: AsyncSession, attempt: Attempt, *, actor: Actor) -> AttemptResult:
    """Release the newest complete revision to the candidate (the attempt becomes
    ``released``; releasing a later revision of a released attempt just publishes it)."""
    result = await latest_result(session, attempt.id)
    if result is None or not result.complete:
        raise errors.ResultIncomplete("there is no complete result to release yet")
    if attempt.state == AttemptState.scored:
        await delivery.transition(session, attempt, "release", actor=actor)
    elif attempt.state != AttemptState.released:
        raise errors.AttemptNotReleasable(f"an attempt that is {attempt.state} cannot be released")
    if result.released_at is None:
        result.released_at, result.released_by = utcnow(), actor.id
        await session.flush()
        await audit.record(
            session,
            organization_id=attempt.organization_id,
            action="result.released",
            actor=actor,
            target_type="attempt",
            target_id=attempt.id,
            data={"revision": result.revision},
        )
    return result


async def set_withheld(
    session: AsyncSession, attempt: Attempt, *, withheld: bool, reason: str, actor: Actor
) -> AttemptResult:
    """Withhold (or stop withholding) the result from the candidate: a flag, not a state."""
    result = await latest_result(session, attempt.id)
    if result is None:
        raise errors.AttemptNotScored("this attempt has no result yet")
    result.withheld = withheld
    result.withheld_reason = reason if withheld else None
    await session.flush()
    await audit.record(
        session,
        organization_id=attempt.organization_id,
        action="result.withheld" if withheld else "result.unwithheld",
        actor=actor,
        target_type="attempt",
        target_id=attempt.id,
        data={"revision": result.revision, "reason": reason},
    )
    return result


async def manual_score(
    session: AsyncSession,
    attempt: Attempt,
    item_ref: str,
    *,
    score: float,
    reason: str,
    actor: Actor,
    feedback: dict[str, Any] | None = None,
) -> AttemptResult:
    """A person's score for one item (an admin's, or one resolved by rating): a new
    revision. ``feedback`` (``{"comments": [...], "criteria": [{"criterion", "level",
    "descriptor"}]}``) is what the candidate reads with the released result."""
    return await manual_scores(
        session,
        attempt,
        {item_ref: score},
        reason=f"manual score for {item_ref}: {reason}",
        actor=actor,
        feedback={item_ref: feedback} if feedback is not None else None,
        notes=[reason],
    )


async def manual_scores(
    session: AsyncSession,
    attempt: Attempt,
    scores: dict[str, float],
    *,
    reason: str,
    actor: Actor,
    feedback: dict[str, dict[str, Any]] | None = None,
    notes: list[str] | None = None,
) -> AttemptResult:
    """Scores people gave several items of one attempt, in one new revision (each checked
    against the item's maximum before anything is written)."""
    # The attempt's row lock orders concurrent revisions (and always comes before the
    # audit chain's lock, as in score_attempt).
    await session.refresh(attempt, with_for_update=True)
    previous = await latest_result(session, attempt.id)
    if previous is None:
        raise errors.AttemptNotScored("this attempt has not been scored yet")
    rows = {row.item_ref: row for row in await item_scores(session, previous.id)}
    replace = {}
    for item_ref, score in scores.items():
        if item_ref not in rows:
            raise errors.ItemNotOnAttempt(f"item {item_ref!r} is not on this attempt's form")
        maximum = await _human_max_score(session, rows[item_ref])
        if not 0 <= score <= maximum:
            raise errors.ScoreOutOfRange(
                f"the score must be between 0 and {maximum:g} for this item"
            )
        replace[item_ref] = Score(
            score,
            maximum,
            "manual",
            f"{actor.type}:{actor.id}",
            1.0,
            {"SCORE": score},
            list(notes if notes is not None else [reason]),
        )
    return await _new_revision(
        session,
        attempt,
        previous,
        reason=reason,
        actor=actor,
        replace=replace,
        reviewed=True,
        feedback={ref: (feedback or {}).get(ref) for ref in replace},
    )


async def automated_score(
    session: AsyncSession,
    attempt: Attempt,
    item_ref: str,
    *,
    score: float,
    confidence: float | None,
    scorer: str,
    reason: str,
    actor: Actor,
) -> AttemptResult:
    """A trained model's score for one item waiting for a person: a new revision whose
    item score says ``method`` "model", the ``scorer`` (the model's name and version) and
    its ``confidence``. Not a person's review: under ``after_review`` the complete result
    waits for an admin's release. ScoreOutOfRange outside the item's range;
    ItemAlreadyScored when the item no longer waits (a person's score is never replaced
    by a model's: the check is made under the attempt's lock)."""
    await session.refresh(attempt, with_for_update=True)
    previous = await latest_result(session, attempt.id)
    if previous is None:
        raise errors.AttemptNotScored("this attempt has not been scored yet")
    rows = {row.item_ref: row for row in await item_scores(session, previous.id)}
    if item_ref not in rows:
        raise errors.ItemNotOnAttempt(f"item {item_ref!r} is not on this attempt's form")
    if rows[item_ref].method != "pending" or rows[item_ref].score is not None:
        raise errors.ItemAlreadyScored(f"item {item_ref!r} was scored meanwhile")
    maximum = await _human_max_score(session, rows[item_ref])
    if not 0 <= score <= maximum:
        raise errors.ScoreOutOfRange(f"the score must be between 0 and {maximum:g} for this item")
    automated = Score(score, maximum, "model", scorer[:100], confidence, {"SCORE": score}, [reason])
    return await _new_revision(
        session,
        attempt,
        previous,
        reason=f"automated score for {item_ref}: {reason}"[:500],
        actor=actor,
        replace={item_ref: automated},
    )


async def _human_max_score(session: AsyncSession, row: ItemScore) -> float:
    """The most a person may give for an item: what the scorer would say today for an
    item people score (so results scored before its maximum was known, recorded with 0,
    take a real score too), else the maximum the row was scored with."""
    item = await delivery.item_definition(session, row.item_version_id)
    if item.response_processing is not None:
        return row.max_score
    rubric_max = (await rubric_maxima(session, [row.item_version_id])).get(row.item_version_id)
    return max(row.max_score, PendingHumanScorer(rubric_max).max_score(item))


@dataclass(frozen=True)
class RescoreChange:
    attempt_id: uuid.UUID
    item_ref: str
    before_item: float | None
    after_item: float | None
    before_total: float
    after_total: float
    before_band: str | None
    after_band: str | None


#: Attempts revised per transaction by a rescore: the organization's audit chain (and each
#: attempt's row) is locked for one batch at a time, never for the whole run.
RESCORE_BATCH = 50


@dataclass(frozen=True)
class _Rescore:
    attempt_id: uuid.UUID
    ref: str
    score: Score


async def rescore_item(
    db: Database,
    principal: Principal,
    *,
    item_id: uuid.UUID,
    from_version: int,
    to_version: int,
    administration_id: uuid.UUID | None,
    reason: str,
    batch: int | None = None,
    after_batch: Callable[[int], Awaitable[None]] | None = None,
) -> list[RescoreChange]:
    """Apply a corrected answer key (``to_version``) to every scored attempt that saw
    ``from_version``: their responses to that item are scored in one vectorized batch
    (read in one transaction), then the attempts whose item score changes get a new result
    revision, ``batch`` attempts per transaction (default :data:`RESCORE_BATCH` attempt by
    attempt, or on PostgreSQL :data:`waa_ads.scoring.bulk.BULK_RESCORE_BATCH` through
    :func:`waa_ads.scoring.bulk.rescore_chunk`, which writes a batch's revisions with
    ``COPY`` and appends its audit events last), each committed before the next begins, so
    that other audited work of the organization waits for one batch at most. Returns the
    before/after report (empty when nothing changes). If a batch fails, the ones before it
    stay done: running the rescore again finishes the rest (it is idempotent).

    ``after_batch`` is awaited after each committed batch with the changes so far."""
    from waa_ads.content import service as content_service
    from waa_ads.delivery.models import AttemptItem
    from waa_ads.scoring.vectorized import score_batch

    async with db.transaction(write=False) as session:
        _, old_row = await content_service.get_version(session, principal, item_id, from_version)
        _, new_row = await content_service.get_version(session, principal, item_id, to_version)
        organization_id = principal.organization_id
        if new_row.item_id != old_row.item_id:
            raise errors.RescoreVersionsDiffer(
                "the corrected version must be a version of the same item"
            )
        corrected = ItemDefinition.from_dict(new_row.definition)
        new_version_id: uuid.UUID = new_row.id
        stmt = (
            select(Attempt.id, AttemptItem.ref, Attempt.seed)
            .join(AttemptItem, AttemptItem.attempt_id == Attempt.id)
            .where(
                Attempt.organization_id == organization_id,
                AttemptItem.item_version_id == old_row.id,
                # Shown a translation instead, the attempt was scored by its own key.
                AttemptItem.variant_version_id.is_(None),
                Attempt.state.in_(_RESCORABLE),
            )
            .order_by(Attempt.id)
        )
        if administration_id is not None:
            stmt = stmt.where(Attempt.administration_id == administration_id)
        rows = (await session.execute(stmt)).all()
        affected = [(attempt_id, ref) for attempt_id, ref, _ in rows]
        seeds = {(attempt_id, ref): seed for attempt_id, ref, seed in rows}
        if not affected:
            return []
        stored = {
            (r.attempt_id, r.item_ref): r
            for r in (
                await session.execute(
                    select(Response).where(Response.attempt_id.in_([a for a, _ in affected]))
                )
            ).scalars()
        }

        def normalized(attempt_id: uuid.UUID, ref: str) -> dict[str, Any]:
            response = stored.get((attempt_id, ref))
            if response is None or response.value is None:
                return {}
            return dict(response.value.get("normalized", {}))

        if corrected.is_template:
            # Each attempt saw its own instance of a cloned item, with its own key.
            evaluations = [
                evaluate(
                    templates.instance_for(corrected, seeds[(a, ref)], ref), normalized(a, ref)
                )
                for a, ref in affected
            ]
        else:
            scored_batch = score_batch(corrected, [normalized(a, ref) for a, ref in affected])
            evaluations = [scored_batch.evaluation(i) for i in range(len(affected))]
    plan: list[_Rescore] = []
    for index, (attempt_id, ref) in enumerate(affected):
        evaluation = evaluations[index]
        raw = evaluation.outcomes.get("SCORE")
        score = Score(
            float(raw) if isinstance(raw, int | float) else 0.0,
            objective_max_score(corrected, evaluation.outcomes),
            "objective",
            "response-processing",
            1.0,
            evaluation.outcomes,
            evaluation.notes,
        )
        plan.append(_Rescore(attempt_id, ref, score))

    changes: list[RescoreChange] = []
    async with db.transaction(write=False) as session:
        # Adaptive attempts go one by one: their revisions carry the ability estimates
        # (``_fill_abilities``), which the bulk path does not compute.
        adaptive_attempts = await delivery_adaptive.any_steps(session, [p.attempt_id for p in plan])
    if db.dialect_name == "postgresql" and not adaptive_attempts:
        from waa_ads.scoring import bulk

        versions: dict[uuid.UUID, AssessmentDefinition] = {}
        step = max(1, batch if batch is not None else bulk.BULK_RESCORE_BATCH)
        for start in range(0, len(plan), step):
            async with db.transaction() as session:
                changes.extend(
                    await bulk.rescore_chunk(
                        session,
                        organization_id,
                        [
                            bulk.Rescore(p.attempt_id, p.ref, p.score)
                            for p in plan[start : start + step]
                        ],
                        new_version_id=new_version_id,
                        reason=reason,
                        actor=principal.actor,
                        versions=versions,
                    )
                )
            if after_batch is not None:
                await after_batch(len(changes))
        return changes
    step = max(1, batch if batch is not None else RESCORE_BATCH)
    for start in range(0, len(plan), step):
        async with db.transaction() as session:
            for item in plan[start : start + step]:
                change = await _apply_rescore(
                    session,
                    item,
                    new_version_id=new_version_id,
                    reason=reason,
                    actor=principal.actor,
                )
                if change is not None:
                    changes.append(change)
        if after_batch is not None:
            await after_batch(len(changes))
    return changes


_RESCORABLE = [AttemptState.scoring.value, AttemptState.scored.value, AttemptState.released.value]


async def _apply_rescore(
    session: AsyncSession,
    step: _Rescore,
    *,
    new_version_id: uuid.UUID,
    reason: str,
    actor: Actor,
) -> RescoreChange | None:
    """One attempt's new revision with the corrected score (its row locked first, then the
    audit chain's head, as everywhere); None when nothing changes for it."""
    attempt = await session.get(Attempt, step.attempt_id, with_for_update=True)
    if attempt is None or attempt.state not in _RESCORABLE:
        return None
    previous = await latest_result(session, attempt.id)
    if previous is None:
        return None
    old_score = next(
        (s for s in await item_scores(session, previous.id) if s.item_ref == step.ref), None
    )
    new = step.score
    if old_score is not None and old_score.method == "manual":
        return None  # a person's score stands; the report leaves it out
    if old_score is not None and (old_score.score, old_score.max_score) == (
        new.score,
        new.max_score,
    ):
        return None  # the correction does not change this attempt's score
    revised = await _new_revision(
        session,
        attempt,
        previous,
        reason=f"answer key corrected ({reason})",
        actor=actor,
        replace={step.ref: new},
        key_versions={step.ref: new_version_id},
    )
    return RescoreChange(
        attempt.id,
        step.ref,
        old_score.score if old_score else None,
        new.score,
        previous.scaled,
        revised.scaled,
        previous.band,
        revised.band,
    )


async def revisions(session: AsyncSession, attempt_id: uuid.UUID) -> list[AttemptResult]:
    return list(
        (
            await session.execute(
                select(AttemptResult)
                .where(AttemptResult.attempt_id == attempt_id)
                .order_by(AttemptResult.revision)
            )
        ).scalars()
    )


async def released_result(session: AsyncSession, attempt_id: uuid.UUID) -> AttemptResult | None:
    """The newest released revision, unless the newest revision is withheld."""
    latest = await latest_result(session, attempt_id)
    if latest is None or latest.withheld:
        return None
    return (
        await session.execute(
            select(AttemptResult)
            .where(AttemptResult.attempt_id == attempt_id, AttemptResult.released_at.is_not(None))
            .order_by(AttemptResult.revision.desc())
            .limit(1)
        )
    ).scalar_one_or_none()


async def candidate_feedback(
    session: AsyncSession, released: AttemptResult
) -> list[schemas.ItemFeedback]:
    """The feedback people left on a released revision's item scores (comments to the
    candidate, rubric levels), in form order; nothing else of the item scores."""
    from waa_ads.delivery.models import AttemptItem

    positions = {
        ref: n
        for n, ref in enumerate(
            (
                await session.execute(
                    select(AttemptItem.ref)
                    .where(AttemptItem.attempt_id == released.attempt_id)
                    .order_by(AttemptItem.position)
                )
            ).scalars(),
            start=1,
        )
    }
    out = []
    for row in await item_scores(session, released.id):
        given = row.feedback or {}
        comments = [c for c in given.get("comments", []) if isinstance(c, str) and c.strip()]
        criteria = [schemas.CriterionFeedback(**c) for c in given.get("criteria", [])]
        if comments or criteria:
            out.append(
                schemas.ItemFeedback(
                    item_ref=row.item_ref,
                    position=positions.get(row.item_ref, 0),
                    comments=comments,
                    criteria=criteria,
                )
            )
    out.sort(key=lambda f: (f.position, f.item_ref))
    return out


def candidate_result(
    attempt_id: uuid.UUID,
    released: AttemptResult,
    feedback: list[schemas.ItemFeedback] | None = None,
) -> schemas.CandidateResult:
    """A released revision as its candidate sees it: totals, band, sections and the
    feedback of :func:`candidate_feedback`."""
    assert released.released_at is not None
    return schemas.CandidateResult(
        attempt_id=attempt_id,
        revision=released.revision,
        raw=released.raw,
        max_raw=released.max_raw,
        scaled=released.scaled,
        band=released.band,
        passed=released.passed,
        sections={k: schemas.SectionTotals(**v) for k, v in released.sections.items()},
        released_at=released.released_at,
        feedback=feedback or [],
    )


async def lookup(
    session: AsyncSession, settings: Settings, access_code: str
) -> schemas.CandidateLookup:
    """What an access code opens, without starting anything: the candidate, the test, each
    attempt with how it ended and its released result, and what can happen next."""
    from waa_ads.auth.models import Candidate, Organization
    from waa_ads.auth.schemas import OrganizationRead

    seen = await delivery.overview(session, settings, access_code)
    definition = seen.version.definition
    candidate = await session.get(Candidate, seen.entry.candidate_id)
    organization = await session.get(Organization, seen.entry.organization_id)
    assert organization is not None
    breaks_allowed, breaks_total = delivery.break_allowance(definition.breaks, seen.entry)
    attempts = []
    for attempt in seen.attempts:
        released = await released_result(session, attempt.id)
        attempts.append(
            schemas.LookupAttempt(
                id=attempt.id,
                number=attempt.number,
                state=AttemptState(attempt.state),
                started_at=attempt.started_at,
                ended_at=attempt.ended_at,
                ended_because=attempt.ended_because,
                result_released=released is not None,
                result=(
                    candidate_result(
                        attempt.id, released, await candidate_feedback(session, released)
                    )
                    if released is not None
                    else None
                ),
            )
        )
    limit = definition.time_limit_s
    administration = seen.administration
    look = OrganizationRead.model_validate(organization)
    return schemas.CandidateLookup(
        candidate_name=None if candidate is None or candidate.erased_at else candidate.full_name,
        organization_name=organization.name,
        organization_logo_url=look.logo_url,
        organization_style_url=look.player_style_url,
        assessment=schemas.LookupAssessment(
            title=definition.title,
            instructions=definition.description,
            time_limit_s=limit,
            candidate_time_limit_s=(
                None if limit is None else round(limit * seen.entry.extra_time_multiplier)
            ),
            question_count=delivery.question_count(seen.version.pinned),
            navigation=definition.navigation,
            allow_review=definition.allow_review,
            allow_flags=definition.allow_flags,
            breaks=schemas.LookupBreaks(
                allowed=breaks_allowed,
                max_breaks=breaks_total,
                max_break_s=definition.breaks.max_break_s,
                count_against_time=definition.breaks.count_against_time,
            ),
        ),
        administration=schemas.LookupAdministration(
            title=administration.title,
            opens_at=administration.opens_at,
            closes_at=administration.closes_at,
            cancelled=administration.cancelled_at is not None,
        ),
        attempts_used=sum(1 for a in seen.attempts if a.state != AttemptState.scheduled),
        attempts_allowed=seen.allowed,
        attempts=attempts,
        next_step="resume" if seen.live is not None else "none" if seen.refusal else "start",
        live_attempt_id=seen.live.id if seen.live is not None else None,
        blocked_by=seen.refusal.code if seen.refusal is not None else None,
    )


async def list_attempts(
    session: AsyncSession,
    organization_id: uuid.UUID,
    *,
    administration_id: uuid.UUID | None,
    state: str | None,
    cursor: str | None,
    limit: int,
) -> tuple[Any, str | None]:
    from waa_ads.core.pagination import paginate
    from waa_ads.core.tenancy import scoped

    stmt = scoped(select(Attempt), Attempt, organization_id)
    if administration_id is not None:
        stmt = stmt.where(Attempt.administration_id == administration_id)
    if state:
        stmt = stmt.where(Attempt.state == state)
    return await paginate(session, stmt, Attempt.id, cursor=cursor, limit=limit)


CSV_COLUMNS = [
    "attempt_id", "candidate_id", "external_id", "administration_id", "attempt_number",
    "state", "revision", "raw", "max_raw", "weighted", "scaled", "band", "passed",
    "pending_items", "released_at", "withheld",
]  # fmt: skip


async def results_csv(
    session: AsyncSession, organization_id: uuid.UUID, administration_id: uuid.UUID | None
) -> str:
    """One row per attempt with its newest revision; people by id (and external id)."""
    import csv
    import io

    from waa_ads.auth.models import Candidate

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    stmt = (
        select(Attempt, Candidate.external_id)
        .join(Candidate, Candidate.id == Attempt.candidate_id)
        .where(Attempt.organization_id == organization_id)
        .order_by(Attempt.administration_id, Attempt.id)
    )
    if administration_id is not None:
        stmt = stmt.where(Attempt.administration_id == administration_id)
    for attempt, external_id in (await session.execute(stmt)).all():
        latest = await latest_result(session, attempt.id)
        head = [
            attempt.id,
            attempt.candidate_id,
            external_id or "",
            attempt.administration_id,
            attempt.number,
            attempt.state,
        ]
        if latest is None:
            writer.writerow(head + [""] * 10)
            continue
        writer.writerow(
            [
                *head,
                latest.revision,
                latest.raw,
                latest.max_raw,
                latest.weighted,
                latest.scaled,
                latest.band or "",
                "" if latest.passed is None else str(latest.passed).lower(),
                latest.pending_items,
                latest.released_at.isoformat() if latest.released_at else "",
                str(latest.withheld).lower(),
            ]
        )
    return buffer.getvalue()


async def qti_report(session: AsyncSession, attempt: Attempt) -> Any:
    """The QTI 3.0 results report of an attempt's newest revision (None before scoring)."""
    from waa_ads.assessments.models import Assessment, AssessmentVersion
    from waa_ads.scoring.qti_results import report_from_rows

    result = await latest_result(session, attempt.id)
    if result is None:
        return None
    form = await delivery.form_items(session, attempt)
    responses = list(
        (await session.execute(select(Response).where(Response.attempt_id == attempt.id))).scalars()
    )
    items = {
        row.item_version_id: await delivery.item_definition(session, row.item_version_id)
        for row in form
    }
    version = await session.get(AssessmentVersion, attempt.assessment_version_id)
    assessment = await session.get(Assessment, version.assessment_id) if version else None
    return report_from_rows(
        attempt=attempt,
        result=result,
        item_scores=await item_scores(session, result.id),
        responses=responses,
        form=form,
        items=items,
        assessment_identifier=assessment.slug if assessment else "assessment",
    )
