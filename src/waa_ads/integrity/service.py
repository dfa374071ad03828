"""Integrity rules and transactions: policies, per-attempt analysis, answer similarity,
the reviewers' queue, timelines, decisions and appeals. Takes a session; only flushes.

Who may do what: admins manage policies and see and decide everything of their
organization; proctors see the attempts of the administrations they are assigned to and
may dismiss, note and warn there, but only an admin invalidates. A candidate, with the
attempt's credential, sees the flags and decisions of a reviewed attempt and appeals when
the policy allows it.
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np
import structlog
from sqlalchemy import case, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from waa_ads.assessments import service as assessment_service
from waa_ads.assessments.errors import AdministrationNotFound
from waa_ads.assessments.models import Administration, AdministrationProctor, AssessmentVersion
from waa_ads.audit import service as audit
from waa_ads.audit.service import SYSTEM_ACTOR, Actor
from waa_ads.auth.deps import Principal
from waa_ads.auth.errors import RoleRequired
from waa_ads.auth.models import Role
from waa_ads.core.db import Database, utcnow, uuid7
from waa_ads.core.pagination import decode_cursor, encode_cursor
from waa_ads.core.settings import Settings
from waa_ads.core.tasks import enqueue_after_commit
from waa_ads.delivery import service as delivery_service
from waa_ads.delivery.errors import AttemptNotFound
from waa_ads.delivery.models import (
    Attempt,
    AttemptItem,
    IntegrityEvent,
    Response,
    ResponseEvent,
)
from waa_ads.delivery.state_machine import ENDED
from waa_ads.integrity import errors, rules, schemas, signals, similarity
from waa_ads.integrity.models import (
    IntegrityDecision,
    IntegrityFrame,
    IntegrityPolicy,
    IntegrityPolicyVersion,
    IntegritySummary,
    SimilarityPair,
    SimilarityRun,
)
from waa_ads.scoring import service as scoring_service
from waa_ads.scoring.models import AttemptResult, ItemScore

SIMILARITY_TASK = "integrity.analyse_similarity"
ANALYSE_TASK = "integrity.analyse_attempt"
SWEEP_BATCH = 100
_SEVERITY_ORDER = {"low": 1, "medium": 2, "high": 3}
_APPEALABLE = frozenset({"warn", "invalidate"})
_log = structlog.get_logger(__name__)
#: Who raises flags in the audit trail: the analysis, whoever asked for it.
ANALYSIS_ACTOR = Actor("system", "integrity")


# --- access ---------------------------------------------------------------------------------


def _require_admin(principal: Principal) -> None:
    if not principal.has_any(Role.admin):
        raise RoleRequired("integrity policies need the admin role")


def _require_reviewer(principal: Principal) -> None:
    if not principal.has_any(Role.admin, Role.proctor):
        raise RoleRequired("integrity review needs the admin or proctor role")


async def _visible_administrations(
    session: AsyncSession, principal: Principal
) -> list[uuid.UUID] | None:
    """None: all of the organization's (admins); else the administrations assigned."""
    if principal.has_any(Role.admin):
        return None
    return list(
        (
            await session.scalars(
                select(AdministrationProctor.administration_id).where(
                    AdministrationProctor.user_id == principal.user_id,
                    AdministrationProctor.organization_id == principal.organization_id,
                )
            )
        ).all()
    )


async def _reviewable_attempt(
    session: AsyncSession, principal: Principal, attempt_id: uuid.UUID
) -> Attempt:
    _require_reviewer(principal)
    attempt = await session.get(Attempt, attempt_id)
    if attempt is None or attempt.organization_id != principal.organization_id:
        raise AttemptNotFound(f"attempt {attempt_id} not found")
    if not principal.has_any(Role.admin) and not await assessment_service.is_assigned_proctor(
        session, attempt.administration_id, principal.user_id
    ):
        raise AttemptNotFound(f"attempt {attempt_id} not found")
    return attempt


async def _reviewable_administration(
    session: AsyncSession, principal: Principal, administration_id: uuid.UUID
) -> Administration:
    _require_reviewer(principal)
    administration = await session.get(Administration, administration_id)
    if administration is None or administration.organization_id != principal.organization_id:
        raise AdministrationNotFound(f"administration {administration_id} not found")
    if not principal.has_any(Role.admin) and not await assessment_service.is_assigned_proctor(
        session, administration_id, principal.user_id
    ):
        raise AdministrationNotFound(f"administration {administration_id} not found")
    return administration


# --- policies -------------------------------------------------------------------------------


async def save_policy(
    session: AsyncSession, principal: Principal, name: str, source: str
) -> tuple[IntegrityPolicy, IntegrityPolicyVersion]:
    """Check ``source`` (PolicyProblem with line and field otherwise) and save it as the
    policy's next version (version 1 creates the policy). Audited."""
    _require_admin(principal)
    rules.parse_policy(source)
    now = utcnow()
    policy = await session.scalar(
        select(IntegrityPolicy)
        .where(
            IntegrityPolicy.organization_id == principal.organization_id,
            IntegrityPolicy.name == name,
        )
        .with_for_update()
    )
    if policy is None:
        policy = IntegrityPolicy(
            organization_id=principal.organization_id,
            name=name,
            current_version=1,
            created_at=now,
            updated_at=now,
        )
        session.add(policy)
        await session.flush()
    else:
        policy.current_version += 1
        policy.updated_at = now
    version = IntegrityPolicyVersion(
        organization_id=principal.organization_id,
        policy_id=policy.id,
        version=policy.current_version,
        source=source,
        created_by=str(principal.user_id),
        created_at=now,
    )
    session.add(version)
    await session.flush()
    await audit.record(
        session,
        organization_id=principal.organization_id,
        action="integrity.policy_saved",
        actor=principal.actor,
        target_type="integrity_policy",
        target_id=policy.id,
        data={"name": name, "version": version.version},
    )
    return policy, version


async def list_policies(session: AsyncSession, principal: Principal) -> list[IntegrityPolicy]:
    _require_reviewer(principal)
    return list(
        (
            await session.scalars(
                select(IntegrityPolicy)
                .where(IntegrityPolicy.organization_id == principal.organization_id)
                .order_by(IntegrityPolicy.name)
            )
        ).all()
    )


async def _policy_version(
    session: AsyncSession, organization_id: uuid.UUID, name: str, version: int | None
) -> IntegrityPolicyVersion | None:
    stmt = (
        select(IntegrityPolicyVersion)
        .join(IntegrityPolicy, IntegrityPolicy.id == IntegrityPolicyVersion.policy_id)
        .where(IntegrityPolicy.organization_id == organization_id, IntegrityPolicy.name == name)
    )
    if version is None:
        stmt = stmt.where(IntegrityPolicyVersion.version == IntegrityPolicy.current_version)
    else:
        stmt = stmt.where(IntegrityPolicyVersion.version == version)
    return await session.scalar(stmt)


async def get_policy_version(
    session: AsyncSession, principal: Principal, name: str, version: int | None
) -> schemas.PolicyVersionRead:
    _require_reviewer(principal)
    row = await _policy_version(session, principal.organization_id, name, version)
    if row is None:
        what = f"version {version} of " if version is not None else ""
        raise errors.IntegrityPolicyNotFound(f"{what}integrity policy {name!r} not found")
    return schemas.PolicyVersionRead(
        name=name,
        version=row.version,
        source=row.source,
        created_by=row.created_by,
        created_at=row.created_at,
    )


async def policy_exists(session: AsyncSession, organization_id: uuid.UUID, name: str) -> bool:
    """Whether the organization has a policy of this name (asked when publishing)."""
    found = await session.scalar(
        select(IntegrityPolicy.id).where(
            IntegrityPolicy.organization_id == organization_id, IntegrityPolicy.name == name
        )
    )
    return found is not None


assessment_service.set_integrity_policy_lookup(policy_exists)


async def _attempt_policy(
    session: AsyncSession, attempt: Attempt
) -> tuple[str | None, int | None, rules.Policy]:
    return await _version_policy(session, attempt.organization_id, attempt.assessment_version_id)


async def _version_policy(
    session: AsyncSession, organization_id: uuid.UUID, assessment_version_id: uuid.UUID
) -> tuple[str | None, int | None, rules.Policy]:
    """The policy the assessment version names, at the policy's current version; no rules
    when it names none (signals are still computed)."""
    version = await session.get(AssessmentVersion, assessment_version_id)
    name = (version.definition or {}).get("integrity_policy") if version is not None else None
    if not name:
        return None, None, rules.Policy(rules=())
    row = await _policy_version(session, organization_id, name, None)
    if row is None:
        return name, None, rules.Policy(rules=())
    return name, row.version, rules.parse_policy(row.source)


# --- analysis -------------------------------------------------------------------------------


async def _cohort(
    session: AsyncSession, administration_id: uuid.UUID
) -> dict[str, signals.CohortTime]:
    rows = await session.execute(
        select(Response.item_ref, Response.time_spent_ms)
        .join(Attempt, Attempt.id == Response.attempt_id)
        .where(Attempt.administration_id == administration_id, Response.time_spent_ms > 0)
    )
    times: dict[str, list[float]] = defaultdict(list)
    for ref, ms in rows:
        times[ref].append(float(ms))
    return signals.cohort_times(times)


async def _partners(session: AsyncSession, attempt: Attempt) -> list[dict[str, Any]]:
    run_id = await session.scalar(
        select(SimilarityRun.id)
        .where(SimilarityRun.administration_id == attempt.administration_id)
        .order_by(SimilarityRun.computed_at.desc(), SimilarityRun.id.desc())
        .limit(1)
    )
    if run_id is None:
        return []
    pairs = (
        await session.scalars(
            select(SimilarityPair).where(
                SimilarityPair.run_id == run_id,
                (SimilarityPair.attempt_id == attempt.id)
                | (SimilarityPair.source_attempt_id == attempt.id),
            )
        )
    ).all()
    return [
        {
            "partner": str(p.source_attempt_id if p.attempt_id == attempt.id else p.attempt_id),
            "direction": "copies_from" if p.attempt_id == attempt.id else "copied_by",
            "index": p.index,
            "p_value": p.p_value,
            "q_value": p.q_value,
            "identical": p.identical,
            "identical_wrong": p.identical_wrong,
        }
        for p in pairs
    ]


async def analyse_attempt(
    session: AsyncSession,
    attempt_id: uuid.UUID,
    *,
    cohorts: dict[uuid.UUID, dict[str, signals.CohortTime]] | None = None,
) -> IntegritySummary:
    """Compute the attempt's signals from its events and saves, evaluate its policy, and
    store the summary (replacing an earlier one). Idempotent. ``cohorts`` caches the
    administrations' response times across the attempts of one batch."""
    # The row lock makes two analyses of one attempt (the end-of-attempt task and a
    # reviewer's request, say) take turns: the second finds the first's summary to replace.
    await session.execute(select(Attempt.id).where(Attempt.id == attempt_id).with_for_update())
    attempt = await session.get(Attempt, attempt_id)
    if attempt is None:
        raise AttemptNotFound(f"attempt {attempt_id} not found")
    cohorts = {} if cohorts is None else cohorts
    if attempt.administration_id not in cohorts:
        cohorts[attempt.administration_id] = await _cohort(session, attempt.administration_id)
    name, version, policy = await _attempt_policy(session, attempt)
    events = [
        signals.EventRecord(str(e.id), e.kind, e.received_at, e.client_time)
        for e in (
            await session.scalars(
                select(IntegrityEvent).where(IntegrityEvent.attempt_id == attempt.id)
            )
        ).all()
    ]
    saves = [
        signals.SaveRecord(
            s.id, s.item_ref, s.seq, s.value, s.status, s.received_at, s.time_spent_ms
        )
        for s in (
            await session.scalars(
                select(ResponseEvent).where(ResponseEvent.attempt_id == attempt.id)
            )
        ).all()
    ]
    computed = signals.compute_signals(
        events,
        saves,
        cohorts[attempt.administration_id],
        policy.settings,
        ended_at=attempt.ended_at or utcnow(),
        similarity_partners=await _partners(session, attempt),
        frames=[
            signals.FrameRecord(str(f.id), f.seq, f.received_at, f.findings)
            for f in await _frames(session, attempt.id)
            if f.findings is not None
        ],
    )
    if (
        policy.camera.frames
        and not computed["camera_refused"].value
        and not computed["camera_unavailable"].value
        and not any(e.kind == "camera_consent_given" for e in events)
    ):
        # The policy asked for the camera and the player never answered: as good as none.
        computed["camera_unavailable"] = signals.SignalValue(
            1.0, [{"reason": "the camera question was never answered"}]
        )
    flags = rules.evaluate(policy, computed)
    decided = await session.scalar(
        select(func.count())
        .select_from(IntegrityDecision)
        .where(IntegrityDecision.attempt_id == attempt.id, IntegrityDecision.kind != "appeal")
    )
    summary = await session.scalar(
        select(IntegritySummary).where(IntegritySummary.attempt_id == attempt.id)
    )
    # A flag keeps its id while its rule keeps firing; a rule that fires where it did not
    # before raises a new flag (audited below).
    before: dict[str, str | None] = {
        str(f.get("rule")): f.get("id") for f in (summary.flags if summary is not None else [])
    }
    if summary is None:
        summary = IntegritySummary(
            organization_id=attempt.organization_id,
            attempt_id=attempt.id,
            administration_id=attempt.administration_id,
        )
        session.add(summary)
    ids = {f.rule: before.get(f.rule) or str(uuid7()) for f in flags}
    raised = [f for f in flags if f.rule not in before]
    summary.policy_name, summary.policy_version = name, version
    summary.signals = {
        key: {"value": value.value, "evidence": value.evidence} for key, value in computed.items()
    }
    summary.flags = [
        {
            "id": ids[f.rule],
            "rule": f.rule,
            "severity": f.severity,
            "reason": f.reason,
            "signals": f.signals,
            "evidence": f.evidence,
        }
        for f in flags
    ]
    summary.flag_count = len(flags)
    summary.top_severity = max(
        (f.severity for f in flags), key=lambda s: _SEVERITY_ORDER[s], default=None
    )
    summary.status = "decided" if decided else ("open" if flags else "clear")
    summary.computed_at = utcnow()
    await session.flush()
    if raised:
        # Ids, the rule and its severity only: the reason and the evidence stay in the
        # summary, for reviewers.
        await audit.record_many(
            session,
            organization_id=attempt.organization_id,
            events=[
                audit.PendingEvent(
                    "integrity.flag_raised",
                    ANALYSIS_ACTOR,
                    "attempt",
                    attempt.id,
                    {
                        "flag_id": ids[f.rule],
                        "attempt_id": str(attempt.id),
                        "rule": f.rule,
                        "severity": f.severity,
                    },
                )
                for f in raised
            ],
        )
    return summary


async def analyse_pending(db: Database, *, limit: int = SWEEP_BATCH) -> int:
    """Analyse ended attempts with no summary, or one computed before they ended (a
    bounded batch, oldest first), each in a transaction of its own; the number analysed.

    One attempt per transaction, so the sweep holds one attempt's lock at a time: a batch
    in one transaction took the locks in the order the attempts ended while other work
    locks attempts by id, and two such orders can deadlock. An attempt whose analysis
    fails is logged and keeps no summary (the next sweep tries it again); the attempts
    after it are analysed all the same."""
    async with db.transaction(write=False) as session:
        pending = (
            await session.scalars(
                select(Attempt.id)
                .outerjoin(IntegritySummary, IntegritySummary.attempt_id == Attempt.id)
                .where(
                    Attempt.ended_at.is_not(None),
                    (IntegritySummary.id.is_(None))
                    | (IntegritySummary.computed_at < Attempt.ended_at),
                )
                .order_by(Attempt.ended_at, Attempt.id)
                .limit(limit)
            )
        ).all()
    cohorts: dict[uuid.UUID, dict[str, signals.CohortTime]] = {}
    analysed = 0
    for attempt_id in pending:
        try:
            async with db.transaction() as session:
                await analyse_attempt(session, attempt_id, cohorts=cohorts)
        except Exception:
            _log.exception("integrity.analysis_failed", attempt_id=str(attempt_id))
            continue
        analysed += 1
    return analysed


async def request_analysis(
    session: AsyncSession, principal: Principal, attempt_id: uuid.UUID
) -> IntegritySummary:
    """Analyse an attempt now, on a reviewer's request."""
    attempt = await _reviewable_attempt(session, principal, attempt_id)
    return await analyse_attempt(session, attempt.id)


# --- similarity -----------------------------------------------------------------------------


def _answer_key(stored: Any) -> str | None:
    """A stored response as text to compare: its normalized form where scoring keeps one
    (so that, say, the same choices in another order are the same answer), else its value."""
    if isinstance(stored, dict):
        stored = stored.get("normalized", stored.get("value"))
    if stored is None or stored in ("", []):
        return None
    return json.dumps(stored, sort_keys=True, separators=(",", ":"))


async def request_similarity(
    session: AsyncSession, principal: Principal, administration_id: uuid.UUID
) -> schemas.SimilarityRequested:
    await _reviewable_administration(session, principal, administration_id)
    job = enqueue_after_commit(
        session,
        SIMILARITY_TASK,
        organization_id=str(principal.organization_id),
        administration_id=str(administration_id),
        requested_by=str(principal.user_id),
    )
    return schemas.SimilarityRequested(administration_id=administration_id, task=job.name)


async def analyse_similarity(
    session: AsyncSession,
    organization_id: uuid.UUID,
    administration_id: uuid.UUID,
    *,
    requested_by: str | None = None,
) -> SimilarityRun:
    """Answer similarity over the administration's ended attempts (their latest
    responses), stored as a run with its flagged pairs; the attempts in a flagged pair are
    queued for analysis again after the commit (``integrity.analyse_attempt``, each in a
    transaction of its own) so that their summaries name their partners. No attempt is
    locked here: this transaction holds the audit chain's head, which work on an attempt
    takes after the attempt's lock."""
    administration = await session.get(Administration, administration_id)
    if administration is None or administration.organization_id != organization_id:
        raise AdministrationNotFound(f"administration {administration_id} not found")
    attempts = (
        await session.scalars(
            select(Attempt)
            .where(
                Attempt.administration_id == administration_id,
                Attempt.state.in_([s.value for s in ENDED]),
            )
            .order_by(Attempt.id)
        )
    ).all()
    index = {a.id: row for row, a in enumerate(attempts)}
    item_of: dict[tuple[uuid.UUID, str], str] = {}
    for attempt_id, ref, item_id in await session.execute(
        select(AttemptItem.attempt_id, AttemptItem.ref, AttemptItem.item_id)
        .join(Attempt, Attempt.id == AttemptItem.attempt_id)
        .where(Attempt.administration_id == administration_id)
    ):
        if attempt_id in index:
            item_of[(attempt_id, ref)] = str(item_id)
    answers: dict[tuple[int, str], str] = {}
    refs: dict[str, str] = {}
    for attempt_id, ref, value in await session.execute(
        select(Response.attempt_id, Response.item_ref, Response.value)
        .join(Attempt, Attempt.id == Response.attempt_id)
        .where(Attempt.administration_id == administration_id)
    ):
        item = item_of.get((attempt_id, ref))
        key = _answer_key(value)
        if item is not None and key is not None:
            answers[(index[attempt_id], item)] = key
            refs[item] = ref
    items = sorted(refs)
    rows: list[list[str | None]] = [
        [answers.get((row, item)) for item in items] for row in range(len(attempts))
    ]
    correct = await _correctness(session, attempts, items, item_of)
    _, _, policy = await _version_policy(
        session, organization_id, administration.assessment_version_id
    )
    policy_settings = policy.settings
    codes = similarity.encode(rows)[0] if rows and items else np.zeros((0, 0), dtype=np.int32)
    found = similarity.similarity(
        codes.astype(np.int32),
        correct,
        alpha=policy_settings.similarity_alpha,
        correction=policy_settings.similarity_correction,
    )
    await session.execute(
        delete(SimilarityRun).where(SimilarityRun.administration_id == administration_id)
    )
    run = SimilarityRun(
        organization_id=organization_id,
        administration_id=administration_id,
        candidates=found.candidates,
        items=found.items,
        tests=found.tests,
        alpha=found.alpha,
        correction=found.correction,
        flagged=len(found.pairs),
        computed_at=utcnow(),
    )
    session.add(run)
    await session.flush()
    involved: set[uuid.UUID] = set()
    for pair in found.pairs:
        a, b = attempts[pair.a], attempts[pair.b]
        involved |= {a.id, b.id}
        session.add(
            SimilarityPair(
                organization_id=organization_id,
                run_id=run.id,
                attempt_id=a.id,
                source_attempt_id=b.id,
                compared=pair.compared,
                matches=pair.matches,
                expected=pair.expected,
                index=pair.index,
                p_value=pair.p_value,
                q_value=pair.q_value,
                identical=[refs[items[j]] for j in pair.identical],
                identical_wrong=[refs[items[j]] for j in pair.identical_wrong],
                overlap_s=_overlap(a, b),
            )
        )
    await session.flush()
    await audit.record(
        session,
        organization_id=organization_id,
        action="integrity.similarity_analysed",
        actor=Actor("user", requested_by) if requested_by else SYSTEM_ACTOR,
        target_type="administration",
        target_id=administration_id,
        data={"candidates": found.candidates, "items": found.items, "flagged": len(found.pairs)},
    )
    for attempt_id in sorted(involved):
        enqueue_after_commit(session, ANALYSE_TASK, attempt_id=str(attempt_id))
    return run


def _overlap(a: Attempt, b: Attempt) -> float:
    if a.started_at is None or b.started_at is None:
        return 0.0
    end_a = a.ended_at or a.started_at
    end_b = b.ended_at or b.started_at
    seconds = (min(end_a, end_b) - max(a.started_at, b.started_at)).total_seconds()
    return max(0.0, round(seconds, 3))


async def _correctness(
    session: AsyncSession,
    attempts: Sequence[Attempt],
    items: list[str],
    item_of: dict[tuple[uuid.UUID, str], str],
) -> np.ndarray[Any, np.dtype[np.bool_]] | None:
    """Whether each answer earned full marks in the attempt's latest result; None unless
    every attempt has a result (the analysis then ranks ability by a consensus key)."""
    if not attempts:
        return None
    latest = (
        select(AttemptResult.attempt_id, func.max(AttemptResult.revision).label("revision"))
        .where(AttemptResult.attempt_id.in_([a.id for a in attempts]))
        .group_by(AttemptResult.attempt_id)
        .subquery()
    )
    rows = (
        await session.execute(
            select(ItemScore.attempt_id, ItemScore.item_ref, ItemScore.score, ItemScore.max_score)
            .join(AttemptResult, AttemptResult.id == ItemScore.result_id)
            .join(
                latest,
                (latest.c.attempt_id == AttemptResult.attempt_id)
                & (latest.c.revision == AttemptResult.revision),
            )
        )
    ).all()
    scored = {r.attempt_id for r in rows}
    if len(scored) < len(attempts):
        return None
    row_of = {a.id: i for i, a in enumerate(attempts)}
    column = {item: j for j, item in enumerate(items)}
    correct = np.zeros((len(attempts), len(items)), dtype=bool)
    for attempt_id, ref, score, max_score in rows:
        item = item_of.get((attempt_id, ref))
        if item in column and score is not None and max_score > 0 and score >= max_score:
            correct[row_of[attempt_id], column[item]] = True
    return correct


async def similarity_report(
    session: AsyncSession, principal: Principal, administration_id: uuid.UUID
) -> schemas.SimilarityReport:
    await _reviewable_administration(session, principal, administration_id)
    run = await session.scalar(
        select(SimilarityRun)
        .where(SimilarityRun.administration_id == administration_id)
        .order_by(SimilarityRun.computed_at.desc())
        .limit(1)
    )
    if run is None:
        raise errors.SimilarityNotRun("no similarity analysis of this administration yet")
    pairs = (
        await session.scalars(
            select(SimilarityPair)
            .where(SimilarityPair.run_id == run.id)
            .order_by(SimilarityPair.p_value, SimilarityPair.id)
        )
    ).all()
    return schemas.SimilarityReport(
        run=schemas.SimilarityRunRead.model_validate(run),
        pairs=[schemas.SimilarityPairRead.model_validate(p) for p in pairs],
    )


# --- review ---------------------------------------------------------------------------------


def _queue_cursor(rank: int, summary_id: uuid.UUID) -> str:
    return f"{rank}.{encode_cursor(summary_id)}"


def _read_queue_cursor(cursor: str) -> tuple[int, uuid.UUID]:
    rank, _, rest = cursor.partition(".")
    if not rank.isdigit() or not rest:
        raise errors.QueueCursorInvalid(f"invalid cursor {cursor!r}")
    return int(rank), decode_cursor(rest)


async def queue(
    session: AsyncSession,
    principal: Principal,
    *,
    administration_id: uuid.UUID | None,
    status: str | None,
    cursor: str | None,
    limit: int,
) -> schemas.QueuePage:
    """Flagged attempts the caller may review, most severe first, then in the order they
    were first analysed; a page at a time (the cursor holds the last severity and id)."""
    _require_reviewer(principal)
    visible = await _visible_administrations(session, principal)
    stmt = (
        select(IntegritySummary, Attempt.candidate_id)
        .join(Attempt, Attempt.id == IntegritySummary.attempt_id)
        .where(
            IntegritySummary.organization_id == principal.organization_id,
            IntegritySummary.flag_count > 0,
        )
    )
    if visible is not None:
        stmt = stmt.where(IntegritySummary.administration_id.in_(visible))
    if administration_id is not None:
        stmt = stmt.where(IntegritySummary.administration_id == administration_id)
    stmt = stmt.where(IntegritySummary.status == (status or "open"))
    severity = case(_SEVERITY_ORDER, value=IntegritySummary.top_severity, else_=0)
    if cursor:
        rank, last = _read_queue_cursor(cursor)
        stmt = stmt.where((severity < rank) | ((severity == rank) & (IntegritySummary.id > last)))
    rows = (
        await session.execute(stmt.order_by(severity.desc(), IntegritySummary.id).limit(limit + 1))
    ).all()
    following = None
    if len(rows) > limit:
        rows = rows[:limit]
        last_row = rows[-1][0]
        following = _queue_cursor(_SEVERITY_ORDER.get(last_row.top_severity or "", 0), last_row.id)
    return schemas.QueuePage(
        items=[
            schemas.QueueEntry(
                attempt_id=s.attempt_id,
                administration_id=s.administration_id,
                candidate_id=candidate_id,
                status=s.status,
                flag_count=s.flag_count,
                top_severity=s.top_severity,
                reasons=[f["reason"] for f in s.flags],
                top_reason=_top_reason(s.flags),
                computed_at=s.computed_at,
            )
            for s, candidate_id in rows
        ],
        next_cursor=following,
    )


def _top_reason(flags: Sequence[dict[str, Any]]) -> str | None:
    """The reason of the most severe flag (the first in rule order among equals)."""
    ranked = sorted(flags, key=lambda f: -_SEVERITY_ORDER.get(str(f.get("severity")), 0))
    return str(ranked[0]["reason"]) if ranked else None


async def summary_of(
    session: AsyncSession, principal: Principal, attempt_id: uuid.UUID
) -> IntegritySummary:
    attempt = await _reviewable_attempt(session, principal, attempt_id)
    summary = await session.scalar(
        select(IntegritySummary).where(IntegritySummary.attempt_id == attempt.id)
    )
    if summary is None:
        raise errors.NotAnalysed(f"attempt {attempt_id} has not been analysed yet")
    return summary


async def timeline(
    session: AsyncSession, principal: Principal, attempt_id: uuid.UUID
) -> schemas.Timeline:
    """Everything a reviewer weighs: events, saves, flags, similarity partners with their
    shared answers, and the decisions so far."""
    attempt = await _reviewable_attempt(session, principal, attempt_id)
    summary = await session.scalar(
        select(IntegritySummary).where(IntegritySummary.attempt_id == attempt.id)
    )
    events = (
        await session.scalars(
            select(IntegrityEvent)
            .where(IntegrityEvent.attempt_id == attempt.id)
            .order_by(IntegrityEvent.received_at, IntegrityEvent.client_time, IntegrityEvent.id)
        )
    ).all()
    saves = (
        await session.scalars(
            select(ResponseEvent)
            .where(ResponseEvent.attempt_id == attempt.id)
            .order_by(ResponseEvent.received_at, ResponseEvent.id)
        )
    ).all()
    mine = {
        r.item_ref: r.value
        for r in (
            await session.scalars(select(Response).where(Response.attempt_id == attempt.id))
        ).all()
    }
    partners = []
    for partner in await _partners(session, attempt):
        other = await session.get(Attempt, uuid.UUID(partner["partner"]))
        pair_overlap = _overlap(attempt, other) if other is not None else 0.0
        partners.append(
            schemas.PartnerRead(
                attempt_id=uuid.UUID(partner["partner"]),
                direction=partner["direction"],
                index=partner["index"],
                p_value=partner["p_value"],
                q_value=partner["q_value"],
                compared=0,
                matches=len(partner["identical"]),
                expected=0.0,
                identical=partner["identical"],
                identical_wrong=partner["identical_wrong"],
                shared_answers={ref: mine.get(ref) for ref in partner["identical"]},
                overlap_s=pair_overlap,
            )
        )
    await _fill_partner_counts(session, attempt, partners)
    return schemas.Timeline(
        attempt_id=attempt.id,
        administration_id=attempt.administration_id,
        candidate_id=attempt.candidate_id,
        state=attempt.state,
        started_at=attempt.started_at,
        ended_at=attempt.ended_at,
        summary=_summary_read(summary) if summary is not None else None,
        events=[schemas.EventRead.model_validate(e) for e in events],
        saves=[schemas.SaveRead.model_validate(s) for s in saves],
        partners=partners,
        decisions=[
            schemas.DecisionRead.model_validate(d) for d in await _decisions(session, attempt.id)
        ],
        frames=[frame_read(f) for f in await _frames(session, attempt.id)],
    )


async def _frames(session: AsyncSession, attempt_id: uuid.UUID) -> list[IntegrityFrame]:
    return list(
        (
            await session.scalars(
                select(IntegrityFrame)
                .where(IntegrityFrame.attempt_id == attempt_id)
                .order_by(IntegrityFrame.seq)
            )
        ).all()
    )


def frame_read(frame: IntegrityFrame) -> schemas.FrameRead:
    findings = dict(frame.findings or {})
    findings.pop("signature", None)
    concerns = list(findings.pop("concerns", []))
    return schemas.FrameRead(
        id=frame.id,
        seq=frame.seq,
        received_at=frame.received_at,
        analysed_at=frame.analysed_at,
        expires_at=frame.expires_at,
        purged_at=frame.purged_at,
        width=frame.width,
        height=frame.height,
        findings=findings or None,
        concerns=concerns,
        has_image=frame.purged_at is None,
        has_thumbnail=frame.thumbnail_sha256 is not None,
    )


async def _fill_partner_counts(
    session: AsyncSession, attempt: Attempt, partners: list[schemas.PartnerRead]
) -> None:
    for partner in partners:
        ids = (
            (attempt.id, partner.attempt_id)
            if partner.direction == "copies_from"
            else (partner.attempt_id, attempt.id)
        )
        row = await session.scalar(
            select(SimilarityPair)
            .where(SimilarityPair.attempt_id == ids[0], SimilarityPair.source_attempt_id == ids[1])
            .order_by(SimilarityPair.id.desc())
            .limit(1)
        )
        if row is not None:
            partner.compared, partner.matches, partner.expected = (
                row.compared,
                row.matches,
                row.expected,
            )


def _summary_read(summary: IntegritySummary) -> schemas.SummaryRead:
    return schemas.SummaryRead.model_validate(summary)


async def _decisions(session: AsyncSession, attempt_id: uuid.UUID) -> list[IntegrityDecision]:
    return list(
        (
            await session.scalars(
                select(IntegrityDecision)
                .where(IntegrityDecision.attempt_id == attempt_id)
                .order_by(IntegrityDecision.created_at, IntegrityDecision.id)
            )
        ).all()
    )


async def decide(
    session: AsyncSession,
    principal: Principal,
    attempt_id: uuid.UUID,
    body: schemas.DecisionCreate,
) -> IntegrityDecision:
    """Record a reviewer's decision with its reason (audited). ``invalidate`` (admins only)
    moves the ended attempt to ``invalidated`` and withholds its result if it has one."""
    attempt = await _reviewable_attempt(session, principal, attempt_id)
    kind = body.kind.value
    if kind == "invalidate" and not principal.has_any(Role.admin):
        raise errors.ReviewNotAllowed("only an admin invalidates an attempt")
    actor = principal.actor
    if kind == "invalidate":
        await delivery_service.transition(
            session, attempt, "invalidate", actor=actor, reason=body.reason
        )
        if await scoring_service.latest_result(session, attempt.id) is not None:
            await scoring_service.set_withheld(
                session, attempt, withheld=True, reason=f"invalidated: {body.reason}", actor=actor
            )
    return await _record_decision(
        session,
        attempt,
        kind=kind,
        reason=body.reason,
        actor=actor,
        summary_status="decided",
        audit_reason=True,
    )


async def _record_decision(
    session: AsyncSession,
    attempt: Attempt,
    *,
    kind: str,
    reason: str,
    actor: Actor,
    summary_status: str,
    audit_reason: bool,
) -> IntegrityDecision:
    """Store a decision on the attempt, move its summary to ``summary_status`` and audit it
    as ``integrity.<kind>`` (with the reason when ``audit_reason``)."""
    decision = IntegrityDecision(
        organization_id=attempt.organization_id,
        attempt_id=attempt.id,
        kind=kind,
        reason=reason,
        actor_type=actor.type,
        actor_id=actor.id,
        created_at=utcnow(),
    )
    session.add(decision)
    summary = await session.scalar(
        select(IntegritySummary).where(IntegritySummary.attempt_id == attempt.id)
    )
    if summary is not None:
        summary.status = summary_status
    await session.flush()
    data = {"decision": str(decision.id)}
    if audit_reason:
        data["reason"] = reason
    await audit.record(
        session,
        organization_id=attempt.organization_id,
        action=f"integrity.{kind}",
        actor=actor,
        target_type="attempt",
        target_id=attempt.id,
        data=data,
    )
    return decision


async def decisions_of(
    session: AsyncSession, principal: Principal, attempt_id: uuid.UUID
) -> list[IntegrityDecision]:
    attempt = await _reviewable_attempt(session, principal, attempt_id)
    return await _decisions(session, attempt.id)


# --- the candidate's side -------------------------------------------------------------------


def _candidate_evidence(evidence: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # Another candidate's attempt is never named to a candidate.
    return [{k: v for k, v in e.items() if k not in ("partner", "direction")} for e in evidence]


async def candidate_view(
    session: AsyncSession, settings: Settings, attempt_id: uuid.UUID, credential: str | None
) -> schemas.CandidateIntegrity:
    """The flags and decisions of the candidate's reviewed attempt, when its policy lets
    candidates respond (AppealNotAllowed otherwise)."""
    attempt = await delivery_service.attempt_for_credential(
        session, settings, attempt_id, credential
    )
    _, _, policy = await _attempt_policy(session, attempt)
    if not policy.appeals:
        raise errors.AppealNotAllowed("this test's integrity policy does not allow appeals")
    decisions = await _decisions(session, attempt.id)
    summary = await session.scalar(
        select(IntegritySummary).where(IntegritySummary.attempt_id == attempt.id)
    )
    shown = [d for d in decisions if d.kind in _APPEALABLE or d.kind == "appeal"]
    flags = (summary.flags if summary is not None else []) if shown else []
    return schemas.CandidateIntegrity(
        flags=[
            schemas.CandidateFlag(
                severity=f["severity"],
                reason=f["reason"],
                evidence=_candidate_evidence(f["evidence"]),
            )
            for f in flags
        ],
        decisions=[
            schemas.CandidateDecision(kind=d.kind, reason=d.reason, created_at=d.created_at)
            for d in shown
        ],
        can_appeal=any(d.kind in _APPEALABLE for d in decisions),
    )


async def appeal(
    session: AsyncSession,
    settings: Settings,
    attempt_id: uuid.UUID,
    credential: str | None,
    reason: str,
) -> IntegrityDecision:
    """The candidate's response to a warning or an invalidation, recorded as a decision of
    kind ``appeal`` (audited) and put back in the reviewers' queue."""
    attempt = await delivery_service.attempt_for_credential(
        session, settings, attempt_id, credential
    )
    _, _, policy = await _attempt_policy(session, attempt)
    if not policy.appeals:
        raise errors.AppealNotAllowed("this test's integrity policy does not allow appeals")
    if not any(d.kind in _APPEALABLE for d in await _decisions(session, attempt.id)):
        raise errors.NothingToAppeal("there is no warning or invalidation to appeal")
    actor = Actor("candidate", str(attempt.candidate_id))
    return await _record_decision(
        session,
        attempt,
        kind="appeal",
        reason=reason,
        actor=actor,
        summary_status="open",
        audit_reason=False,
    )
