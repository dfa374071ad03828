"""Rating: plans, the leased queue, ratings, adjudication, resolution into result
revisions, and the quality figures.

Lock order, as everywhere a result changes: the plan's row, then rating tasks' rows, then
attempts' rows, then outcome rows, then the audit chain's head
(``scoring.service.manual_score`` locks the attempt before it appends to the chain). The
plan's row is taken ``FOR UPDATE`` by a change of the plan or its people, ``FOR NO KEY
UPDATE`` by a sync, ``FOR SHARE`` by automated scoring (:func:`hold_responses`) and ``FOR
KEY SHARE`` by a rating being saved: a change of the plan and the ratings in progress wait
for one another, and ratings never wait for a sync. After a rater's rating is audited
(save and next), the request waits for no lock (:func:`sync_plan`, :func:`lease_next`)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
from sqlalchemy import (
    and_,
    bindparam,
    case,
    delete,
    exists,
    false,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from waa_ads.assessments import service as assessments
from waa_ads.audit import service as audit
from waa_ads.audit.service import Actor
from waa_ads.auth.deps import Principal
from waa_ads.auth.errors import RoleRequired
from waa_ads.auth.models import Role, User
from waa_ads.content.item import templates
from waa_ads.content.models import Item, ItemBank, ItemVersion, RubricVersion
from waa_ads.content.rubrics.document import (
    AnalyticRubric,
    HolisticRubric,
    RubricCriterion,
    RubricLevel,
    RubricScoringError,
    rubric_max_points,
    score_with_rubric,
    validate_rubric_document,
)
from waa_ads.core.db import Database, utcnow, uuid7
from waa_ads.core.errors import DomainError
from waa_ads.core.settings import Settings
from waa_ads.core.tenancy import get_scoped
from waa_ads.delivery import service as delivery
from waa_ads.delivery.models import Attempt, AttemptItem, Response
from waa_ads.delivery.state_machine import AttemptState
from waa_ads.rating import agreement as stats
from waa_ads.rating import errors, rules, schemas
from waa_ads.rating.models import (
    Rating,
    RatingLease,
    RatingMember,
    RatingOutcome,
    RatingPlan,
    RatingTask,
    SeededResponse,
)
from waa_ads.scoring import service as scoring
from waa_ads.scoring.models import AttemptResult, ItemScore

RATING = Actor("system", "rating")
#: The slot of a response's adjudication task (rating slots count from 0).
ADJUDICATION_SLOT = 99
#: Paired comparisons per drift window, and the fewest before a rater can be flagged.
DRIFT_WINDOW = 10
MIN_COMPARISONS = 5

# --- plans ----------------------------------------------------------------------------------


def is_lead(principal: Principal, plan: RatingPlan) -> bool:
    return principal.has_any(Role.admin) or str(principal.user_id) in plan.leads


def require_lead(principal: Principal, plan: RatingPlan) -> None:
    if not is_lead(principal, plan):
        raise RoleRequired("this needs the admin role or to lead the rating plan")


async def get_plan(session: AsyncSession, principal: Principal, plan_id: uuid.UUID) -> RatingPlan:
    """A plan of the caller's organization (RatingPlanNotFound otherwise, also for one of
    another organization)."""
    return await get_scoped(
        session,
        RatingPlan,
        plan_id,
        principal.organization_id,
        what="rating plan",
        error=errors.RatingPlanNotFound,
    )


async def _check_people(
    session: AsyncSession, organization_id: uuid.UUID, user_ids: set[uuid.UUID]
) -> None:
    if not user_ids:
        return
    found = set(
        (
            await session.execute(
                select(User.id).where(
                    User.organization_id == organization_id,
                    User.id.in_(user_ids),
                )
            )
        ).scalars()
    )
    missing = sorted(str(u) for u in user_ids - found)
    if missing:
        raise errors.RatingPlanInvalid(
            "not people of this organization: " + ", ".join(missing),
            extra={"invalid_params": [{"name": "user_id", "reason": m} for m in missing]},
        )


async def _check_banks(
    session: AsyncSession, organization_id: uuid.UUID, members: Sequence[schemas.Member]
) -> None:
    wanted = {b for m in members for b in m.bank_ids}
    if not wanted:
        return
    found = set(
        (
            await session.execute(
                select(ItemBank.id).where(
                    ItemBank.organization_id == organization_id, ItemBank.id.in_(wanted)
                )
            )
        ).scalars()
    )
    missing = sorted(str(b) for b in wanted - found)
    if missing:
        raise errors.RatingPlanInvalid(
            "not banks of this organization: " + ", ".join(missing),
            extra={"invalid_params": [{"name": "bank_ids", "reason": m} for m in missing]},
        )


def _member_row(plan: RatingPlan, role: str, member: schemas.Member) -> RatingMember:
    return RatingMember(
        organization_id=plan.organization_id,
        plan_id=plan.id,
        user_id=member.user_id,
        role=role,
        item_refs=list(member.item_refs),
        bank_ids=sorted(str(b) for b in member.bank_ids),
    )


async def create_plan(
    session: AsyncSession, principal: Principal, body: schemas.PlanCreate
) -> RatingPlan:
    """A plan for an administration the caller (an admin) can see, its members, and the
    tasks for every response already waiting for a person."""
    if not principal.has_any(Role.admin):
        raise RoleRequired("rating plans are made by admins")
    administration = await assessments.get_administration(
        session, principal, body.administration_id
    )
    existing = await session.scalar(
        select(RatingPlan.id).where(RatingPlan.administration_id == administration.id)
    )
    if existing is not None:
        raise errors.RatingPlanExists(f"administration {administration.id} has a rating plan")
    people = {m.user_id for m in [*body.raters, *body.adjudicators]} | set(body.leads)
    await _check_people(session, principal.organization_id, people)
    await _check_banks(session, principal.organization_id, [*body.raters, *body.adjudicators])
    plan = RatingPlan(
        organization_id=principal.organization_id,
        administration_id=administration.id,
        title=body.title,
        item_refs=list(body.item_refs),
        double_share=body.double_share,
        disagreement_rule=body.disagreement_rule.value,
        disagreement_distance=body.disagreement_distance,
        per_criterion=body.per_criterion,
        resolution=body.resolution.value,
        lease_seconds=body.lease_seconds,
        seeded_share=body.seeded_share,
        agreement_threshold=body.agreement_threshold,
        score_unanswered=body.score_unanswered,
        leads=[str(u) for u in body.leads],
        version=1,
        created_by=principal.actor.id,
        created_at=utcnow(),
    )
    session.add(plan)
    await session.flush()
    for role, members in (("rater", body.raters), ("adjudicator", body.adjudicators)):
        for member in members:
            session.add(_member_row(plan, role, member))
    await session.flush()
    waiting = await _prepare_sync(session, plan, score_unanswered=True)
    assert waiting is not None
    await _queue_waiting(session, plan, waiting)
    await audit.record(
        session,
        organization_id=plan.organization_id,
        action="rating.plan_created",
        actor=principal.actor,
        target_type="rating_plan",
        target_id=plan.id,
        data={
            "administration_id": str(plan.administration_id),
            "raters": sorted(str(m.user_id) for m in body.raters),
            "adjudicators": sorted(str(m.user_id) for m in body.adjudicators),
            "leads": plan.leads,
            "double_share": plan.double_share,
            "rule": plan.disagreement_rule,
            "resolution": plan.resolution,
            "score_unanswered": plan.score_unanswered,
        },
    )
    await _score_unanswered(session, plan, waiting.unanswered)
    return plan


async def list_plans(session: AsyncSession, principal: Principal) -> list[RatingPlan]:
    """Admins see every plan of the organization; others the plans they rate on or lead."""
    plans = list(
        (
            await session.execute(
                select(RatingPlan)
                .where(RatingPlan.organization_id == principal.organization_id)
                .order_by(RatingPlan.created_at)
            )
        ).scalars()
    )
    if principal.has_any(Role.admin):
        return plans
    mine = set(
        (
            await session.execute(
                select(RatingMember.plan_id).where(RatingMember.user_id == principal.user_id)
            )
        ).scalars()
    )
    return [p for p in plans if p.id in mine or str(principal.user_id) in p.leads]


async def members(session: AsyncSession, plan: RatingPlan) -> list[RatingMember]:
    return list(
        (
            await session.execute(
                select(RatingMember)
                .where(RatingMember.plan_id == plan.id)
                .order_by(RatingMember.role, RatingMember.user_id)
            )
        ).scalars()
    )


async def plan_detail(
    session: AsyncSession, principal: Principal, plan_id: uuid.UUID
) -> schemas.PlanDetail:
    plan = await get_plan(session, principal, plan_id)
    people = await members(session, plan)
    lead = is_lead(principal, plan)
    if not lead and not any(m.user_id == principal.user_id for m in people):
        raise errors.RatingPlanNotFound(f"rating plan {plan_id} not found")
    names: dict[str, str] = {}
    if lead:
        names = await _names(
            session, plan.organization_id, {m.user_id for m in people} | _lead_ids(plan)
        )
    return schemas.PlanDetail(
        plan=schemas.PlanRead.model_validate(plan),
        members=[schemas.MemberRead.model_validate(m) for m in people],
        names=names,
    )


def _lead_ids(plan: RatingPlan) -> set[uuid.UUID]:
    return {uuid.UUID(u) for u in plan.leads}


async def _names(
    session: AsyncSession, organization_id: uuid.UUID, user_ids: set[uuid.UUID]
) -> dict[str, str]:
    """Display names (else e-mail addresses) of people of the organization; an erased
    person is shown as such."""
    if not user_ids:
        return {}
    rows = await session.execute(
        select(User.id, User.display_name, User.email, User.erased_at).where(
            User.organization_id == organization_id, User.id.in_(user_ids)
        )
    )
    return {
        str(uid): "(erased)" if erased else (name or email)
        for uid, name, email, erased in rows.all()
    }


async def people(session: AsyncSession, principal: Principal) -> list[schemas.Person]:
    """The organization's active people with the rater role, by name: whom an admin or a
    plan's lead may put on a plan. Others get RoleRequired."""
    if not principal.has_any(Role.admin):
        leading = [
            p
            for p in (
                await session.execute(
                    select(RatingPlan).where(
                        RatingPlan.organization_id == principal.organization_id
                    )
                )
            ).scalars()
            if str(principal.user_id) in p.leads
        ]
        if not leading:
            raise RoleRequired("this needs the admin role or to lead a rating plan")
    rows = (
        await session.execute(
            select(User)
            .where(
                User.organization_id == principal.organization_id,
                User.is_active.is_(True),
                User.erased_at.is_(None),
            )
            .order_by(User.display_name, User.email)
        )
    ).scalars()
    return [
        schemas.Person(user_id=u.id, name=u.display_name or u.email)
        for u in rows
        if Role.rater.value in (u.roles or [])
    ]


async def set_members(
    session: AsyncSession, principal: Principal, plan_id: uuid.UUID, body: schemas.MembersUpdate
) -> RatingPlan:
    """Replace the plan's raters and adjudicators (and leads, when given). A person
    removed keeps the ratings they made; a lease they hold runs out. Leads only."""
    plan = await get_plan(session, principal, plan_id)
    require_lead(principal, plan)
    await session.refresh(plan, with_for_update=True)
    await _replace_members(session, plan, body.raters, body.adjudicators, body.leads)
    plan.version += 1
    plan.updated_at = utcnow()
    await session.flush()
    await audit.record(
        session,
        organization_id=plan.organization_id,
        action="rating.members_changed",
        actor=principal.actor,
        target_type="rating_plan",
        target_id=plan.id,
        data={
            "raters": sorted(str(m.user_id) for m in body.raters),
            "adjudicators": sorted(str(m.user_id) for m in body.adjudicators),
            "leads": plan.leads,
        },
    )
    return plan


async def _replace_members(
    session: AsyncSession,
    plan: RatingPlan,
    raters: list[schemas.Member],
    adjudicators: list[schemas.Member],
    leads: list[uuid.UUID] | None,
) -> None:
    """The plan's raters and adjudicators become these (a person kept keeps their paused
    state), and its leads, when given."""
    people = {m.user_id for m in [*raters, *adjudicators]} | set(leads or [])
    await _check_people(session, plan.organization_id, people)
    await _check_banks(session, plan.organization_id, [*raters, *adjudicators])
    existing = {(m.user_id, m.role): m for m in await members(session, plan)}
    wanted = {(m.user_id, "rater"): m for m in raters} | {
        (m.user_id, "adjudicator"): m for m in adjudicators
    }
    for key, gone in existing.items():
        if key not in wanted:
            await session.delete(gone)
    for (_, role), member in wanted.items():
        row = existing.get((member.user_id, role))
        if row is None:
            session.add(_member_row(plan, role, member))
        else:
            row.item_refs = list(member.item_refs)
            row.bank_ids = sorted(str(b) for b in member.bank_ids)
    if leads is not None:
        plan.leads = [str(u) for u in leads]
    await session.flush()


#: Fields that decide how scores are made: once any response of the plan has been
#: resolved or sent to adjudication, changing them would score its responses by two rules.
_SCORING_FIELDS = ("disagreement_rule", "disagreement_distance", "per_criterion", "resolution")
_SETTINGS = (
    "title", "item_refs", "double_share", *_SCORING_FIELDS, "lease_seconds", "seeded_share",
    "agreement_threshold", "score_unanswered",
)  # fmt: skip


async def update_plan(
    session: AsyncSession, principal: Principal, plan_id: uuid.UUID, body: schemas.PlanUpdate
) -> RatingPlan:
    """Change a plan (leads): the fields given, and its people when given.

    Refused with nothing changed: a plan changed since ``expected_version``
    (RatingPlanChanged); changing how scores are made (rule, distance, per criterion,
    resolution) once a response was resolved or sent to adjudication, or taking an item
    off the plan that has ratings (RatingPlanInUse). An item taken off without ratings
    loses its queued tasks (its responses wait for people again outside this plan).
    ``double_share`` applies to responses queued from now on; ``lease_seconds`` to leases
    from now on. Items added are queued at once."""
    plan = await get_plan(session, principal, plan_id)
    require_lead(principal, plan)
    await session.refresh(plan, with_for_update=True)
    if plan.version != body.expected_version:
        raise errors.RatingPlanChanged(
            f"the plan is at version {plan.version}, the change was made from version "
            f"{body.expected_version}; reload it and make the change again",
            extra={"version": plan.version},
        )
    given = body.model_fields_set
    changes: dict[str, Any] = {}
    for name in _SETTINGS:
        if name not in given:
            continue
        value = getattr(body, name)
        if value is None:
            raise errors.RatingPlanInvalid(
                f"{name} cannot be null",
                extra={"invalid_params": [{"name": name, "reason": "may not be null"}]},
            )
        if isinstance(value, rules.DisagreementRule | rules.Resolution):
            value = value.value
        before = getattr(plan, name)
        if before != value:
            changes[name] = {"before": before, "after": value}
    scoring_changes = [n for n in _SCORING_FIELDS if n in changes]
    if scoring_changes:
        decided = await session.scalar(
            select(func.count())
            .select_from(RatingOutcome)
            .where(
                RatingOutcome.plan_id == plan.id,
                RatingOutcome.status.in_(("resolved", "adjudicating")),
                RatingOutcome.needed > 0,
            )
        )
        if decided:
            raise errors.RatingPlanInUse(
                f"{decided} response(s) were scored or sent to adjudication under this plan's "
                f"rules; {', '.join(scoring_changes)} can no longer change",
                extra={
                    "invalid_params": [
                        {"name": n, "reason": "responses were scored with it"}
                        for n in scoring_changes
                    ]
                },
            )
    dropped: list[str] = []
    if "item_refs" in changes:
        dropped = await _drop_items(session, plan, set(changes["item_refs"]["after"]))
    people_given = given & {"raters", "adjudicators", "leads"}
    if people_given:
        current = await members(session, plan)

        def kept(role: str) -> list[schemas.Member]:
            return [
                schemas.Member(
                    user_id=m.user_id,
                    item_refs=list(m.item_refs),
                    bank_ids=[uuid.UUID(b) for b in m.bank_ids or []],
                )
                for m in current
                if m.role == role
            ]

        raters = body.raters if body.raters is not None else kept("rater")
        adjudicators = body.adjudicators if body.adjudicators is not None else kept("adjudicator")
        await _replace_members(session, plan, raters, adjudicators, body.leads)
        changes["people"] = {
            "raters": sorted(str(m.user_id) for m in raters),
            "adjudicators": sorted(str(m.user_id) for m in adjudicators),
            "leads": plan.leads,
        }
    for name in _SETTINGS:
        if name in changes:
            setattr(plan, name, changes[name]["after"])
    if not changes:
        return plan
    plan.version += 1
    plan.updated_at = utcnow()
    await session.flush()
    waiting = None
    if "item_refs" in changes or changes.get("score_unanswered", {}).get("after") is True:
        # Every lock the sync needs is taken, and its rows written, before the change is
        # audited; the unanswered responses are scored after.
        waiting = await _prepare_sync(session, plan, score_unanswered=True)
        assert waiting is not None
        await _queue_waiting(session, plan, waiting)
    await audit.record(
        session,
        organization_id=plan.organization_id,
        action="rating.plan_changed",
        actor=principal.actor,
        target_type="rating_plan",
        target_id=plan.id,
        data={"version": plan.version, "changes": changes, "tasks_dropped_for": dropped},
    )
    if waiting is not None:
        await _score_unanswered(session, plan, waiting.unanswered)
    return plan


async def _drop_items(session: AsyncSession, plan: RatingPlan, kept: set[str]) -> list[str]:
    """Take items off the plan (``kept`` empty: every item stays): refused when one has
    ratings; else its outcomes and unrated tasks go. Returns the items taken off."""
    if not kept:
        return []
    queued = set(
        (
            await session.execute(
                select(RatingOutcome.item_ref)
                .where(RatingOutcome.plan_id == plan.id, RatingOutcome.needed > 0)
                .distinct()
            )
        ).scalars()
    )
    gone = sorted(queued - kept)
    if not gone:
        return []
    # Hold the items' tasks first: a rating being saved on one (its task locked) finishes
    # before the check below reads the ratings, and one not yet saved then finds its task
    # gone, instead of the delete taking a just-saved rating with it.
    await session.execute(
        select(RatingTask.id)
        .where(
            RatingTask.plan_id == plan.id,
            RatingTask.item_ref.in_(gone),
            RatingTask.kind != "seeded",
        )
        .order_by(RatingTask.id)
        .with_for_update()
    )
    rated = sorted(
        (
            await session.execute(
                select(Rating.item_ref)
                .where(
                    Rating.plan_id == plan.id,
                    Rating.kind != "seeded",
                    Rating.item_ref.in_(gone),
                )
                .distinct()
            )
        ).scalars()
    )
    if rated:
        raise errors.RatingPlanInUse(
            "items with ratings cannot be taken off the plan: " + ", ".join(rated),
            extra={"invalid_params": [{"name": "item_refs", "reason": r} for r in rated]},
        )
    await session.execute(
        delete(RatingTask).where(
            RatingTask.plan_id == plan.id,
            RatingTask.item_ref.in_(gone),
            RatingTask.kind != "seeded",
        )
    )
    await session.execute(
        delete(RatingOutcome).where(
            RatingOutcome.plan_id == plan.id, RatingOutcome.item_ref.in_(gone)
        )
    )
    return gone


async def set_paused(
    session: AsyncSession,
    principal: Principal,
    plan_id: uuid.UUID,
    user_id: uuid.UUID,
    *,
    paused: bool,
) -> list[RatingMember]:
    """Pause (or resume) a rater on a plan: a paused rater gets no leases. Leads only."""
    plan = await get_plan(session, principal, plan_id)
    require_lead(principal, plan)
    rows = [m for m in await members(session, plan) if m.user_id == user_id]
    if not rows:
        raise errors.RaterNotOnPlan(f"user {user_id} does not rate on this plan")
    for row in rows:
        row.paused_at = utcnow() if paused else None
        row.paused_by = principal.actor.id if paused else None
    await session.flush()
    await audit.record(
        session,
        organization_id=plan.organization_id,
        action="rating.rater_paused" if paused else "rating.rater_resumed",
        actor=principal.actor,
        target_type="rating_plan",
        target_id=plan.id,
        data={"rater_id": str(user_id)},
    )
    return rows


# --- rubrics --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scale:
    """How an item is rated: its rubric and the item's maximum (the declared one, else the
    rubric's). Rubric points are scaled to the item's maximum."""

    rubric: AnalyticRubric | HolisticRubric
    rubric_max: float
    item_max: float
    #: No rubric: one level per point (its levels say the score, so no feedback shows them).
    points_only: bool = False

    def item_score(self, rubric_points: float) -> float:
        if self.rubric_max <= 0:
            return 0.0
        return round(rubric_points * self.item_max / self.rubric_max, 9)


def _points_rubric(item_ref: str, maximum: float) -> HolisticRubric:
    """For an item without a rubric: one level per whole point up to its maximum."""
    if maximum == int(maximum) and maximum <= 100:
        points = [float(p) for p in range(int(maximum) + 1)]
    else:
        points = [0.0, maximum]
    return HolisticRubric(
        id=f"points-{item_ref}"[:128],
        version=1,
        title="Points",
        levels=tuple(
            RubricLevel(id=f"{p:g}", points=p, descriptor=f"{p:g} points") for p in points
        ),
    )


#: Scales by item version: a published version and its rubric version never change.
_scale_cache: dict[tuple[uuid.UUID, str], Scale] = {}


async def scale_for(session: AsyncSession, item_version_id: uuid.UUID, item_ref: str) -> Scale:
    cached = _scale_cache.get((item_version_id, item_ref))
    if cached is not None:
        return cached
    if len(_scale_cache) > 4096:
        _scale_cache.clear()
    scale = await _scale_for(session, item_version_id, item_ref)
    _scale_cache[(item_version_id, item_ref)] = scale
    return scale


async def _scale_for(session: AsyncSession, item_version_id: uuid.UUID, item_ref: str) -> Scale:
    row = await session.get(ItemVersion, item_version_id)
    assert row is not None
    item = await delivery.item_definition(session, item_version_id)
    declared = scoring.declared_max_score(item)
    rubric: AnalyticRubric | HolisticRubric | None = None
    if row.rubric_version_id is not None:
        version = await session.get(RubricVersion, row.rubric_version_id)
        if version is not None:
            rubric = validate_rubric_document(version.document)
    points_only = rubric is None
    if rubric is None:
        maximum = declared if declared is not None else scoring.DEFAULT_HUMAN_MAX_SCORE
        rubric = _points_rubric(item_ref, maximum)
    rubric_max = rubric_max_points(rubric)
    return Scale(rubric, rubric_max, declared if declared is not None else rubric_max, points_only)


def criterion_points(
    rubric: AnalyticRubric | HolisticRubric, levels: dict[str, str]
) -> dict[str, float]:
    """Each criterion's points (unweighted) for levels already checked against the rubric."""
    if isinstance(rubric, HolisticRubric):
        level = rubric.level(levels["level"])
        assert level is not None
        return {"level": level.points}
    out = {}
    for criterion in rubric.criteria:
        level = criterion.level(levels[criterion.id])
        assert level is not None
        out[criterion.id] = level.points
    return out


def check_levels(
    rubric: AnalyticRubric | HolisticRubric, levels: dict[str, str], error: type[DomainError]
) -> float:
    """The rubric points of ``levels``; ``error`` (with every problem named) if they do
    not fit the rubric."""
    try:
        return score_with_rubric(rubric, levels)
    except RubricScoringError as exc:
        names = sorted(set(levels) | {c.id for c in getattr(rubric, "criteria", ())})
        raise error(
            exc.detail,
            extra={
                "invalid_params": [
                    {"name": f"levels.{n}", "reason": part}
                    for n in names
                    for part in exc.detail.split("; ")
                    if repr(n) in part
                ]
                or [{"name": "levels", "reason": exc.detail}]
            },
        ) from exc


def rubric_read(scale: Scale) -> schemas.RubricRead:
    rubric = scale.rubric
    criteria: Sequence[RubricCriterion]
    if isinstance(rubric, HolisticRubric):
        criteria = [RubricCriterion(id="level", title=rubric.title, levels=rubric.levels)]
    else:
        criteria = rubric.criteria
    return schemas.RubricRead(
        id=rubric.id,
        version=rubric.version,
        title=rubric.title,
        kind=rubric.kind,
        description=rubric.description,
        max_points=scale.rubric_max,
        criteria=[
            schemas.RubricCriterionRead(
                id=c.id,
                title=c.title,
                description=c.description,
                weight=c.weight,
                levels=[
                    schemas.RubricLevelRead(
                        id=lv.id, points=lv.points, label=lv.label, descriptor=lv.descriptor
                    )
                    for lv in c.levels
                ],
            )
            for c in criteria
        ],
    )


# --- tasks ----------------------------------------------------------------------------------


async def bank_of(session: AsyncSession, item_version_id: uuid.UUID) -> uuid.UUID | None:
    """The bank of an item version's item (for assignment per bank)."""
    return await session.scalar(
        select(Item.bank_id)
        .join(ItemVersion, ItemVersion.item_id == Item.id)
        .where(ItemVersion.id == item_version_id)
    )


def response_key(attempt_id: uuid.UUID, item_ref: str) -> str:
    return f"{attempt_id}:{item_ref}"


@dataclass
class _Waiting:
    """What a sync found waiting for people under the plan's lock: the responses to queue
    (attempt, item, item version, bank), and the unanswered ones to score 0 by attempt
    (those attempts locked already)."""

    queue: list[tuple[uuid.UUID, str, uuid.UUID, uuid.UUID | None]]
    unanswered: dict[uuid.UUID, list[tuple[str, uuid.UUID]]]


async def _lock_plan(session: AsyncSession, plan: RatingPlan, *, wait: bool) -> bool:
    """Take the plan's row for a sync and read its settings as they are now.

    ``FOR NO KEY UPDATE``: two syncs, or a sync and a plan change (``FOR UPDATE``), exclude
    each other, while a rating's ``FOR KEY SHARE`` and the foreign-key checks of rows that
    name the plan never wait for a sync. ``wait=False`` gives up at once (False) when
    someone else holds the row: that sync or change queues the responses instead."""
    row = (
        await session.execute(
            select(RatingPlan)
            .where(RatingPlan.id == plan.id)
            .with_for_update(key_share=True, skip_locked=not wait)
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
    return row is not None


def _waiting_items(plan: RatingPlan) -> Any:
    """Items of the plan's administration waiting for a person: an item of the newest
    result still ``pending``, of an attempt in ``scoring``."""
    newest = (
        select(AttemptResult.id)
        .where(AttemptResult.attempt_id == Attempt.id)
        .order_by(AttemptResult.revision.desc())
        .limit(1)
        .correlate(Attempt)
        .scalar_subquery()
    )
    stmt = (
        select(ItemScore.attempt_id, ItemScore.item_ref, ItemScore.item_version_id, Item.bank_id)
        .join(Attempt, Attempt.id == ItemScore.attempt_id)
        .join(ItemVersion, ItemVersion.id == ItemScore.item_version_id)
        .join(Item, Item.id == ItemVersion.item_id)
        .where(
            Attempt.organization_id == plan.organization_id,
            Attempt.administration_id == plan.administration_id,
            Attempt.state == AttemptState.scoring.value,
            ItemScore.result_id == newest,
            ItemScore.method == "pending",
            ItemScore.score.is_(None),
        )
    )
    if plan.item_refs:
        stmt = stmt.where(ItemScore.item_ref.in_(plan.item_refs))
    return stmt


async def _prepare_sync(
    session: AsyncSession, plan: RatingPlan, *, score_unanswered: bool, wait: bool = True
) -> _Waiting | None:
    """The first half of a sync, which takes every lock it needs before anything is
    written: the plan's row (:func:`_lock_plan`; None when ``wait`` is False and someone
    else holds it), then, when unanswered responses are to be scored now
    (``score_unanswered``), their attempts in one ``SELECT ... ORDER BY id FOR UPDATE``.
    Writing (:func:`_queue_waiting`, :func:`_score_unanswered`) and appending to the audit
    chain come after, so a sync
    never waits for an attempt while holding the chain's head (the deadlock with a result
    change that holds the attempt and waits for the head). Without ``score_unanswered``,
    unanswered responses (of a plan that scores them) are left waiting for a sync that
    scores them."""
    if not await _lock_plan(session, plan, wait=wait):
        return None
    waiting = (await session.execute(_waiting_items(plan))).all()
    known = set(
        (
            await session.execute(
                select(RatingOutcome.response_key).where(RatingOutcome.plan_id == plan.id)
            )
        ).scalars()
    )
    fresh = []
    for attempt_id, item_ref, version_id, bank_id in waiting:
        key = response_key(attempt_id, item_ref)
        if key not in known:
            known.add(key)
            fresh.append((attempt_id, item_ref, version_id, bank_id))
    blank: set[tuple[uuid.UUID, str]] = set()
    if plan.score_unanswered and fresh:
        blank = await _unanswered(session, [(w[0], w[1]) for w in fresh])
    unanswered: dict[uuid.UUID, list[tuple[str, uuid.UUID]]] = {}
    if score_unanswered and blank:
        unanswered = await _hold_unanswered(
            session, plan, [(w[0], w[1], w[2]) for w in fresh if (w[0], w[1]) in blank]
        )
    queue = [w for w in fresh if (w[0], w[1]) not in blank]
    if not wait and queue:
        queue = await _referable(session, queue)
    return _Waiting(queue, unanswered)


async def _referable(
    session: AsyncSession, queue: list[tuple[uuid.UUID, str, uuid.UUID, uuid.UUID | None]]
) -> list[tuple[uuid.UUID, str, uuid.UUID, uuid.UUID | None]]:
    """The responses of ``queue`` whose attempt and item version new rows can name without
    waiting: those rows taken ``FOR KEY SHARE SKIP LOCKED`` now (the lock the inserts'
    foreign-key checks take, which waits while a result change holds the attempt ``FOR
    UPDATE``). The others wait for the next sync."""
    attempts = sorted({w[0] for w in queue})
    versions = sorted({w[2] for w in queue})
    held: set[uuid.UUID] = set()
    for model, ids in ((Attempt, attempts), (ItemVersion, versions)):
        for start in range(0, len(ids), 500):
            held |= set(
                (
                    await session.execute(
                        select(model.id)
                        .where(model.id.in_(ids[start : start + 500]))
                        .with_for_update(read=True, key_share=True, skip_locked=True)
                    )
                ).scalars()
            )
    return [w for w in queue if w[0] in held and w[2] in held]


async def _hold_unanswered(
    session: AsyncSession, plan: RatingPlan, blank: list[tuple[uuid.UUID, str, uuid.UUID]]
) -> dict[uuid.UUID, list[tuple[str, uuid.UUID]]]:
    """Lock the attempts of these unanswered responses (in id order, before any write)
    and keep the responses still waiting once they are held: a person or a model that
    scored one in the meantime keeps their score."""
    attempts = sorted({a for a, _, _ in blank})
    for start in range(0, len(attempts), 500):
        await session.execute(
            select(Attempt.id)
            .where(Attempt.id.in_(attempts[start : start + 500]))
            .order_by(Attempt.id)
            .with_for_update()
        )
    still: set[tuple[uuid.UUID, str]] = set()
    for start in range(0, len(attempts), 500):
        rows = await session.execute(
            _waiting_items(plan).where(ItemScore.attempt_id.in_(attempts[start : start + 500]))
        )
        still |= {(a, ref) for a, ref, _, _ in rows.all()}
    held: dict[uuid.UUID, list[tuple[str, uuid.UUID]]] = defaultdict(list)
    for attempt_id, item_ref, version_id in blank:
        if (attempt_id, item_ref) in still:
            held[attempt_id].append((item_ref, version_id))
    return {a: sorted(items) for a, items in sorted(held.items())}


async def _queue_waiting(
    session: AsyncSession, plan: RatingPlan, waiting: _Waiting
) -> tuple[int, int]:
    """The second half of a sync, before anything is audited (the inserts' foreign-key
    checks may wait for an attempt): an outcome row and its rating tasks per response to
    queue. The unanswered responses are scored after (:func:`_score_unanswered`). Returns
    (responses, tasks) queued."""
    now = utcnow()
    responses = tasks = 0
    for attempt_id, item_ref, version_id, bank_id in waiting.queue:
        key = response_key(attempt_id, item_ref)
        needed = rules.ratings_needed(key, plan.double_share)
        session.add(
            RatingOutcome(
                organization_id=plan.organization_id,
                plan_id=plan.id,
                response_key=key,
                attempt_id=attempt_id,
                item_ref=item_ref,
                item_version_id=version_id,
                needed=needed,
                created_at=now,
            )
        )
        for slot in range(needed):
            session.add(
                RatingTask(
                    organization_id=plan.organization_id,
                    plan_id=plan.id,
                    response_key=key,
                    kind="rating",
                    item_ref=item_ref,
                    item_version_id=version_id,
                    bank_id=bank_id,
                    attempt_id=attempt_id,
                    slot=slot,
                    order_key=rules.order_key(f"{plan.id}:{key}:{slot}"),
                    created_at=now,
                )
            )
        responses += 1
        tasks += needed
    await session.flush()
    return responses, tasks


async def sync_plan(
    session: AsyncSession, plan: RatingPlan, *, score_unanswered: bool = True, wait: bool = True
) -> tuple[int, int]:
    """Add an outcome row and its rating tasks for every response of the plan's
    administration waiting for a person that has none yet, and (``score_unanswered``)
    score the unanswered ones 0 when the plan says so. Idempotent; the plan's row lock
    keeps two syncs of one plan from adding the same response twice. ``wait=False``
    (a rater's request, with ``score_unanswered=False``) waits for no lock at all: a plan
    someone else holds is skipped, and so is a response whose attempt or item version
    someone holds ``FOR UPDATE`` (:func:`_referable`); the next sync queues them. Returns
    (responses, tasks) added."""
    waiting = await _prepare_sync(session, plan, score_unanswered=score_unanswered, wait=wait)
    if waiting is None:
        return 0, 0
    added = await _queue_waiting(session, plan, waiting)
    await _score_unanswered(session, plan, waiting.unanswered)
    return added


async def _unanswered(
    session: AsyncSession, pairs: list[tuple[uuid.UUID, str]]
) -> set[tuple[uuid.UUID, str]]:
    """Which of these (attempt, item) responses hold no answer (none stored, or blank)."""
    stored: dict[tuple[uuid.UUID, str], Any] = {}
    attempts = sorted({a for a, _ in pairs})
    for start in range(0, len(attempts), 500):
        rows = await session.execute(
            select(Response.attempt_id, Response.item_ref, Response.value).where(
                Response.attempt_id.in_(attempts[start : start + 500])
            )
        )
        for attempt_id, item_ref, value in rows.all():
            stored[(attempt_id, item_ref)] = value
    return {p for p in pairs if rules.unanswered(stored.get(p))}


async def _score_unanswered(
    session: AsyncSession,
    plan: RatingPlan,
    unanswered: dict[uuid.UUID, list[tuple[str, uuid.UUID]]],
) -> None:
    """Score the unanswered responses 0 ("no response"), one result revision per attempt,
    each recorded as a resolved outcome that needed no rating. The attempts are locked
    already (:func:`_hold_unanswered`)."""
    for attempt_id, items in unanswered.items():
        attempt = await session.get(
            Attempt, attempt_id, with_for_update=True, populate_existing=True
        )
        if attempt is None or attempt.state != AttemptState.scoring.value:
            continue
        result = await scoring.manual_scores(
            session,
            attempt,
            {ref: 0.0 for ref, _ in items},
            reason=f"no response ({', '.join(ref for ref, _ in items)}; plan {plan.id})",
            actor=RATING,
            feedback={ref: {"comments": [], "criteria": []} for ref, _ in items},
            notes=["no response"],
        )
        now = utcnow()
        for ref, version_id in items:
            session.add(
                RatingOutcome(
                    organization_id=plan.organization_id,
                    plan_id=plan.id,
                    response_key=response_key(attempt_id, ref),
                    attempt_id=attempt_id,
                    item_ref=ref,
                    item_version_id=version_id,
                    needed=0,
                    status="resolved",
                    score=0.0,
                    revision=result.revision,
                    created_at=now,
                    resolved_at=now,
                )
            )
        await session.flush()
        await audit.record(
            session,
            organization_id=plan.organization_id,
            action="rating.unanswered_scored",
            actor=RATING,
            target_type="attempt",
            target_id=attempt_id,
            data={
                "plan_id": str(plan.id),
                "item_refs": [ref for ref, _ in items],
                "score": 0.0,
                "revision": result.revision,
            },
        )


async def sync(
    session: AsyncSession, principal: Principal, plan_id: uuid.UUID
) -> schemas.SyncReply:
    plan = await get_plan(session, principal, plan_id)
    require_lead(principal, plan)
    responses, tasks = await sync_plan(session, plan)
    return schemas.SyncReply(responses_added=responses, tasks_added=tasks)


async def sync_all(db: Database, *, limit: int = 100) -> int:
    """Sync every plan whose administration has attempts in ``scoring`` (a bounded batch),
    each plan in a unit of work of its own: its locks (the plan's row, the attempts of
    its unanswered responses) are held only while that plan is synced, and never while
    another plan's are awaited. Returns the responses queued."""
    async with db.transaction(write=False) as session:
        plan_ids = list(
            (
                await session.execute(
                    select(RatingPlan.id)
                    .where(
                        exists().where(
                            Attempt.administration_id == RatingPlan.administration_id,
                            Attempt.state == AttemptState.scoring.value,
                        )
                    )
                    .order_by(RatingPlan.id)
                    .limit(limit)
                )
            ).scalars()
        )
    added = 0
    for plan_id in plan_ids:
        async with db.transaction() as session:
            plan = await session.get(RatingPlan, plan_id)
            if plan is not None:
                added += (await sync_plan(session, plan))[0]
    return added


# --- the queue ------------------------------------------------------------------------------


def _open(now: Any) -> Any:
    return or_(
        RatingTask.state == "open",
        and_(RatingTask.state == "leased", RatingTask.lease_expires_at < now),
    )


async def _my_memberships(
    session: AsyncSession, principal: Principal, plan_id: uuid.UUID | None, now: Any
) -> tuple[list[tuple[RatingMember, RatingPlan]], uuid.UUID | None]:
    """The caller's memberships (with their plans) and, in the same query, the task of a
    lease they hold on one of those plans, if any."""
    held = (
        select(RatingTask.id)
        .where(
            RatingTask.plan_id == RatingMember.plan_id,
            RatingTask.rater_id == principal.user_id,
            RatingTask.state == "leased",
            RatingTask.lease_expires_at > now,
        )
        .limit(1)
        .correlate(RatingMember)
        .scalar_subquery()
    )
    stmt = (
        select(RatingMember, RatingPlan, held.label("held"))
        .join(RatingPlan, RatingPlan.id == RatingMember.plan_id)
        .where(
            RatingMember.organization_id == principal.organization_id,
            RatingMember.user_id == principal.user_id,
        )
    )
    if plan_id is not None:
        stmt = stmt.where(RatingMember.plan_id == plan_id)
    rows = (await session.execute(stmt)).all()
    return [(m, p) for m, p, _ in rows], next((h for _, _, h in rows if h is not None), None)


def covers(member: RatingMember, task: RatingTask, *, leased: bool = False) -> bool:
    """Whether ``member`` may rate ``task``: the right role for its kind, and its item
    among the member's items or banks (both empty: every item). A paused member takes no
    task, but finishes the one leased (``leased``) before the pause."""
    if member.paused_at is not None and not leased:
        return False
    if (member.role == "adjudicator") != (task.kind == "adjudication"):
        return False
    if not member.item_refs and not member.bank_ids:
        return True
    return task.item_ref in member.item_refs or (
        task.bank_id is not None and str(task.bank_id) in (member.bank_ids or [])
    )


def _queue_filter(memberships: list[tuple[RatingMember, RatingPlan]], user_id: Any) -> Any:
    """The tasks ``memberships`` may take: ratings of the plans they rate (their items) and
    their own seeded responses whose lease ran out, adjudications of those they adjudicate;
    never a response they rated or adjudicate."""
    allowed = []
    for member, plan in memberships:
        if member.paused_at is not None:
            continue
        kind = "rating" if member.role == "rater" else "adjudication"
        condition = and_(RatingTask.plan_id == plan.id, RatingTask.kind == kind)
        assigned = []
        if member.item_refs:
            assigned.append(RatingTask.item_ref.in_(member.item_refs))
        if member.bank_ids:
            assigned.append(RatingTask.bank_id.in_([uuid.UUID(b) for b in member.bank_ids]))
        if assigned:
            condition = and_(condition, or_(*assigned))
        allowed.append(condition)
        if member.role == "rater":
            # A seeded response is a task of one rater's own: when its lease runs out it
            # goes back to that rater's queue, like any task to the queue.
            allowed.append(
                and_(
                    RatingTask.plan_id == plan.id,
                    RatingTask.kind == "seeded",
                    RatingTask.rater_id == user_id,
                )
            )
    if not allowed:
        return false()
    other = aliased(RatingTask)
    seen = (
        select(other.id)
        .where(
            other.plan_id == RatingTask.plan_id,
            other.response_key == RatingTask.response_key,
            other.rater_id == user_id,
            other.id != RatingTask.id,
        )
        .exists()
    )
    return and_(or_(*allowed), ~seen)


async def _lease_seed(
    session: AsyncSession, principal: Principal, plan: RatingPlan, now: Any
) -> RatingTask | None:
    """With the plan's seeded share (drawn per rater and per lease, reproducibly), a seeded
    response this rater has not rated, as a task of their own."""
    count = await session.scalar(
        select(func.count())
        .select_from(RatingLease)
        .join(RatingTask, RatingTask.id == RatingLease.task_id)
        .where(RatingTask.plan_id == plan.id, RatingLease.rater_id == principal.user_id)
    )
    draw = rules.stable_fraction(f"seed:{plan.id}:{principal.user_id}:{count or 0}")
    if draw >= plan.seeded_share:
        return None
    taken = select(RatingTask.seed_id).where(
        RatingTask.plan_id == plan.id,
        RatingTask.rater_id == principal.user_id,
        RatingTask.seed_id.is_not(None),
    )
    seed = (
        await session.execute(
            select(SeededResponse)
            .where(SeededResponse.plan_id == plan.id, SeededResponse.id.not_in(taken))
            .order_by(SeededResponse.id)
            .limit(1)
        )
    ).scalar_one_or_none()
    if seed is None:
        return None
    # The rows the new task names, taken without waiting (its foreign-key checks would wait
    # while a change of the plan or an edit of the item holds one FOR UPDATE, and this may
    # run after the caller's rating was audited): no seeded response this time otherwise.
    for model, row_id in ((RatingPlan, plan.id), (ItemVersion, seed.item_version_id)):
        held = await session.scalar(
            select(model.id)
            .where(model.id == row_id)
            .with_for_update(read=True, key_share=True, skip_locked=True)
        )
        if held is None:
            return None
    key = f"seed:{seed.id}"
    task = RatingTask(
        organization_id=plan.organization_id,
        plan_id=plan.id,
        response_key=key,
        kind="seeded",
        item_ref=seed.item_ref,
        item_version_id=seed.item_version_id,
        bank_id=await bank_of(session, seed.item_version_id),
        seed_id=seed.id,
        slot=0,
        order_key=rules.order_key(f"{key}:{principal.user_id}"),
        rater_id=principal.user_id,
        state="leased",
        created_at=now,
    )
    session.add(task)
    await session.flush()
    return task


async def lease_next(
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    plan_id: uuid.UUID | None,
    *,
    synced: bool = False,
    audited: bool = False,
) -> schemas.NextReply:
    """Lease the next response for the caller (the one they hold, if they hold one): a
    seeded one now and then (the plan's share), else the first open task in the scattered
    queue order that the caller may take; when none is left, the plans are synced first
    (:func:`sync_plan`) and the pick tried once more.

    The pick and the lease are one statement (:func:`_claim`): ``UPDATE rating_task ...
    WHERE id = (SELECT ... ORDER BY order_key LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING``,
    so raters asking at once each get a different task; on PostgreSQL the same statement
    also writes the lease row and reads the response (SQLite, one writer at a time, takes
    three). With the memberships (and the lease held, in the same query) that is two round
    trips for a lease on PostgreSQL, after the rater's turn (:func:`_take_turn`: two tabs
    of one rater asking at once get the same lease).

    ``audited``: the caller's rating was just saved and audited in this transaction (save
    and next), so nothing here may wait for a lock: when another request of the same rater
    is leasing at this very moment, no lease is given (``lease`` None; asking again gives
    the one that request took)."""
    if not synced and not await _take_turn(session, principal, wait=not audited):
        return schemas.NextReply(lease=None, waiting=0)
    now = utcnow()
    memberships, held_id = await _my_memberships(session, principal, plan_id, now)
    if not memberships:
        if plan_id is not None:
            await get_plan(session, principal, plan_id)
        raise errors.RatingNotAssigned("the caller rates on no plan here")
    if all(m.paused_at is not None for m, _ in memberships):
        raise errors.RaterPaused("a lead paused this rater; ask them to resume")
    if held_id is not None:
        held = (
            await session.execute(
                select(RatingTask, RatingLease)
                .join(RatingLease, RatingLease.id == RatingTask.lease_id)
                .where(RatingTask.id == held_id)
            )
        ).first()
        if held is not None:
            # Asking again (a reloaded page) gives back the lease the rater holds: one at
            # a time.
            return schemas.NextReply(
                lease=await _lease_read(session, settings, held[0], held[1]), waiting=0
            )
    for member, plan in memberships:
        if member.role == "rater" and member.paused_at is None and plan.seeded_share > 0:
            seeded = await _lease_seed(session, principal, plan, now)
            if seeded is not None:
                return await _lease_task(session, settings, principal, memberships, seeded, now)
    claimed = await _claim(session, principal, memberships, now)
    if claimed is None and not synced:
        # Answers that started waiting since the last sweep join the queue now, so a rater
        # never waits for the periodic task. Without waiting for any lock: a plan another
        # sync or change holds is left to it, and unanswered responses to the syncs that
        # score them (this may run after the rating just saved was audited, and a wait
        # while holding the audit chain's head could deadlock).
        plans = {p.id: p for m, p in memberships if m.paused_at is None}
        added = 0
        for key in sorted(plans):
            added += (await sync_plan(session, plans[key], score_unanswered=False, wait=False))[0]
        if added:
            return await lease_next(session, settings, principal, plan_id, synced=True)
    if claimed is None:
        return schemas.NextReply(lease=None, waiting=0)
    task, lease, response, waiting = claimed
    return schemas.NextReply(
        lease=await _lease_read(session, settings, task, lease, response=response),
        waiting=waiting,
    )


def _turn_key(user_id: uuid.UUID) -> int:
    """The advisory lock key of a rater's turn at the queue (64 bits of a hash)."""
    digest = hashlib.sha256(b"rating.lease:" + user_id.bytes).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


async def _take_turn(session: AsyncSession, principal: Principal, *, wait: bool) -> bool:
    """One lease request at a time per rater, until the transaction ends: on PostgreSQL a
    transaction-level advisory lock on the rater (SQLite runs one writer at a time
    already). Two tabs asking at once would otherwise both find no lease held and claim
    two tasks, or the same response's two rating tasks (a unique violation, a 500); now
    the second waits for the first and gets back the lease it holds. The holder of a turn
    never waits for a lock that someone holding the audit chain's head may hold (its sync
    and its seeded task take what they name without waiting). ``wait=False`` gives up at
    once (False) when the turn is taken."""
    if session.get_bind().dialect.name != "postgresql":
        return True
    key = _turn_key(principal.user_id)
    if wait:
        await session.execute(select(func.pg_advisory_xact_lock(key)))
        return True
    return bool(await session.scalar(select(func.pg_try_advisory_xact_lock(key))))


async def _lease_task(
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    memberships: list[tuple[RatingMember, RatingPlan]],
    task: RatingTask,
    now: Any,
) -> schemas.NextReply:
    """Lease a task already taken for the caller (a seeded response of their own)."""
    plan = next(p for _, p in memberships if p.id == task.plan_id)
    lease = RatingLease(
        id=uuid7(),
        organization_id=task.organization_id,
        task_id=task.id,
        rater_id=principal.user_id,
        leased_at=now,
        expires_at=now + timedelta(seconds=plan.lease_seconds),
    )
    session.add(lease)
    task.lease_id, task.lease_expires_at = lease.id, lease.expires_at
    await session.flush()
    return schemas.NextReply(
        lease=await _lease_read(session, settings, task, lease),
        waiting=await _waiting(session, memberships),
    )


async def _waiting(
    session: AsyncSession, memberships: list[tuple[RatingMember, RatingPlan]]
) -> int:
    """Open tasks of the caller's plans (without the never-twice check, which would cost a
    subquery per row): what still waits, as a progress hint."""
    return int(
        await session.scalar(
            select(func.count())
            .select_from(RatingTask)
            .where(
                RatingTask.plan_id.in_({p.id for _, p in memberships}),
                RatingTask.state == "open",
            )
        )
        or 0
    )


#: The task columns a lease's reply is built from.
_TASK_COLUMNS = (
    "id", "organization_id", "plan_id", "response_key", "kind", "item_ref", "item_version_id",
    "bank_id", "attempt_id", "seed_id", "slot", "order_key", "state", "rater_id", "lease_id",
    "lease_expires_at", "created_at",
)  # fmt: skip


async def _claim(
    session: AsyncSession,
    principal: Principal,
    memberships: list[tuple[RatingMember, RatingPlan]],
    now: Any,
) -> tuple[RatingTask, RatingLease, dict[str, Any] | None, int] | None:
    """Take the first task in queue order the caller may take (an open one, else one whose
    lease ran out) and lease it, in one guarded statement per range: the task, its new
    lease, the stored response and what else waits; None when nothing waits."""
    postgres = session.get_bind().dialect.name == "postgresql"
    plans = sorted({p.id: p for _, p in memberships}.values(), key=lambda p: str(p.id))
    lease_id = uuid7()
    params: dict[str, Any] = {
        "org": principal.organization_id,
        "rater": principal.user_id,
        "now": now,
        "lease_id": lease_id,
        **{f"expires_{n}": now + timedelta(seconds=p.lease_seconds) for n, p in enumerate(plans)},
    }
    for statement in _claim_statements(memberships, plans, postgres):
        if postgres:
            row = (await session.execute(statement, params)).first()
            if row is None:
                continue
            task = _task_of(row)
            # The count's snapshot predates the update: the task taken still counts as open.
            waiting = max(int(row.waiting) - 1, 0)
            response = row.seed_value if task.seed_id is not None else row.response_value
            lease = _lease_of(lease_id, task, principal, now)
        else:
            row = (await session.execute(statement, params)).first()
            if row is None:
                continue
            task = _task_of(row)
            lease = _lease_of(lease_id, task, principal, now)
            await session.execute(
                insert(RatingLease).values(
                    id=lease.id,
                    organization_id=lease.organization_id,
                    task_id=lease.task_id,
                    rater_id=lease.rater_id,
                    leased_at=lease.leased_at,
                    expires_at=lease.expires_at,
                )
            )
            response = await _response_value(session, task)
            waiting = await _waiting(session, memberships)
        return task, lease, (dict(response) if response is not None else None), waiting
    return None


#: The claim statements by the shape of the memberships they serve (plans, roles, items,
#: banks, paused): building them costs more Python than running them, and every value
#: that changes per call (organization, rater, time, lease) is a bound parameter.
_claims: dict[tuple[Any, ...], tuple[Any, ...]] = {}


def _claim_statements(
    memberships: list[tuple[RatingMember, RatingPlan]], plans: list[RatingPlan], postgres: bool
) -> tuple[Any, ...]:
    key = (
        postgres,
        tuple(
            sorted(
                (
                    str(p.id),
                    m.role,
                    tuple(m.item_refs),
                    tuple(m.bank_ids or ()),
                    m.paused_at is None,
                )
                for m, p in memberships
            )
        ),
    )
    cached = _claims.get(key)
    if cached is not None:
        return cached
    if len(_claims) > 1024:
        _claims.clear()
    now = bindparam("now", type_=RatingTask.lease_expires_at.type)
    rater = bindparam("rater", type_=RatingTask.rater_id.type)
    condition = and_(
        RatingTask.organization_id == bindparam("org", type_=RatingTask.organization_id.type),
        _queue_filter(memberships, rater),
    )
    expires: Any = bindparam("expires_0", type_=RatingTask.lease_expires_at.type)
    if len(plans) > 1:
        expires = case(
            {
                p.id: bindparam(f"expires_{n}", type_=RatingTask.lease_expires_at.type)
                for n, p in enumerate(plans)
            },
            value=RatingTask.plan_id,
        )
    lease_id = bindparam("lease_id", type_=RatingLease.id.type)
    statements = []
    # Open tasks first, then leases run out: each an index range in queue order
    # (ix_rating_task_queue), where one query with OR would sort every row.
    for state in (
        RatingTask.state == "open",
        and_(RatingTask.state == "leased", RatingTask.lease_expires_at < now),
    ):
        pick = select(RatingTask.id).where(state, condition).order_by(RatingTask.order_key).limit(1)
        if postgres:
            pick = pick.with_for_update(skip_locked=True)
        # Guarded: the row must still be takeable when the update reaches it.
        leased = (
            update(RatingTask)
            .where(RatingTask.id == pick.scalar_subquery(), _open(now))
            .values(state="leased", rater_id=rater, lease_id=lease_id, lease_expires_at=expires)
            .returning(*[getattr(RatingTask, c) for c in _TASK_COLUMNS])
        )
        if postgres:
            statements.append(_claim_statement(leased, lease_id, rater, now, {p.id for p in plans}))
        else:
            statements.append(leased.execution_options(synchronize_session=False))
    _claims[key] = tuple(statements)
    return _claims[key]


def _claim_statement(
    leased: Any, lease_id: Any, rater: Any, now: Any, plan_ids: set[uuid.UUID]
) -> Any:
    """PostgreSQL: the update as a CTE, the lease row written from it, and the task read
    back with its stored response (or seeded response) and the count of open tasks."""
    taken = leased.cte("taken")
    made = (
        insert(RatingLease)
        .from_select(
            ["id", "organization_id", "task_id", "rater_id", "leased_at", "expires_at"],
            select(
                lease_id,
                taken.c.organization_id,
                taken.c.id,
                rater,
                now,
                taken.c.lease_expires_at,
            ),
        )
        .returning(RatingLease.id)
        .cte("made")
    )
    others = (
        select(func.count())
        .select_from(RatingTask)
        .where(RatingTask.plan_id.in_(plan_ids), RatingTask.state == "open")
        .scalar_subquery()
    )
    return (
        select(
            *[taken.c[c] for c in _TASK_COLUMNS],
            Response.value.label("response_value"),
            SeededResponse.value.label("seed_value"),
            others.label("waiting"),
        )
        .select_from(taken)
        .outerjoin(
            Response,
            and_(Response.attempt_id == taken.c.attempt_id, Response.item_ref == taken.c.item_ref),
        )
        .outerjoin(SeededResponse, SeededResponse.id == taken.c.seed_id)
        .add_cte(made)
    )


def _task_of(row: Any) -> RatingTask:
    """A task as the claim returned it (not in the session: the statement wrote it)."""
    return RatingTask(**{c: getattr(row, c) for c in _TASK_COLUMNS})


def _lease_of(lease_id: uuid.UUID, task: RatingTask, principal: Principal, now: Any) -> RatingLease:
    assert task.lease_expires_at is not None
    return RatingLease(
        id=lease_id,
        organization_id=task.organization_id,
        task_id=task.id,
        rater_id=principal.user_id,
        leased_at=now,
        expires_at=task.lease_expires_at,
    )


async def _response_value(session: AsyncSession, task: RatingTask) -> dict[str, Any] | None:
    if task.seed_id is not None:
        seed = await session.get(SeededResponse, task.seed_id)
        return dict(seed.value) if seed is not None else None
    if task.attempt_id is None:
        return None
    stored = await session.get(Response, (task.attempt_id, task.item_ref))
    return dict(stored.value) if stored is not None and stored.value is not None else None


async def _template_seed(session: AsyncSession, task: RatingTask) -> int | None:
    """The seed of the candidate's own values of a cloned item (content/item/templates.py),
    so the rater reads the question that candidate answered; None for an ordinary item.
    A seeded response, which no attempt answered, shows the item's preview values."""
    if task.attempt_id is None:
        return None
    item = await delivery.item_definition(session, task.item_version_id)
    if not item.is_template:
        return None
    attempt_seed = (
        await session.execute(select(Attempt.seed).where(Attempt.id == task.attempt_id))
    ).scalar_one_or_none()
    if attempt_seed is None:
        return None
    return templates.template_seed(attempt_seed, task.item_ref)


async def _ratings_of(session: AsyncSession, plan_id: uuid.UUID, key: str) -> list[Rating]:
    return list(
        (
            await session.execute(
                select(Rating)
                .where(Rating.plan_id == plan_id, Rating.response_key == key)
                .order_by(Rating.submitted_at, Rating.id)
            )
        ).scalars()
    )


#: What a lease's reply shows of an item version: its rubric as read (the rendered item is
#: remembered by delivery). Published versions and their rubrics never change.
_rubric_reads: dict[tuple[uuid.UUID, str], schemas.RubricRead] = {}
_FETCH: Any = object()


async def _lease_read(
    session: AsyncSession,
    settings: Settings,
    task: RatingTask,
    lease: RatingLease,
    *,
    response: Any = _FETCH,
) -> schemas.LeaseRead:
    """The reply for a lease; ``response``, when the caller read it already, is the stored
    response (else it is read here)."""
    scale = await scale_for(session, task.item_version_id, task.item_ref)
    key = (task.item_version_id, task.item_ref)
    rubric = _rubric_reads.get(key)
    if rubric is None:
        if len(_rubric_reads) > 4096:
            _rubric_reads.clear()
        rubric = _rubric_reads[key] = rubric_read(scale)
    prior = []
    if task.kind == "adjudication":
        prior = [
            schemas.PriorRating(levels=r.levels, score=r.score)
            for r in await _ratings_of(session, task.plan_id, task.response_key)
            if r.kind == "rating"
        ]
    if response is _FETCH:
        response = await _response_value(session, task)
    return schemas.LeaseRead(
        file_url=(
            f"/api/v1/rating/leases/{lease.id}/file" if file_of(response) is not None else None
        ),
        lease_id=lease.id,
        plan_id=task.plan_id,
        kind="adjudication" if task.kind == "adjudication" else "rating",
        expires_at=lease.expires_at,
        item_ref=task.item_ref,
        item=await delivery.candidate_item(
            session,
            settings,
            task.item_version_id,
            None,
            template_seed=await _template_seed(session, task),
        ),
        response=response,
        rubric=rubric,
        item_max_score=scale.item_max,
        prior_ratings=prior,
    )


def file_of(response: dict[str, Any] | None) -> dict[str, Any] | None:
    """The uploaded file (``{"sha256", "name", "content_type", "size"}``) a stored response
    holds, if it is an upload."""
    if not response:
        return None
    value = response.get("value", response)
    candidates = [value, *(value.values() if isinstance(value, dict) else [])]
    for candidate in candidates:
        if isinstance(candidate, dict) and isinstance(candidate.get("sha256"), str):
            return candidate
    return None


async def lease_file(
    session: AsyncSession, principal: Principal, lease_id: uuid.UUID
) -> dict[str, Any]:
    """The uploaded file of the response a lease holds, for its rater (or a lead of the
    plan): LeaseNotFound, RatingNotAssigned, ResponseFileNotFound otherwise."""
    lease = await session.get(RatingLease, lease_id)
    if lease is None or lease.organization_id != principal.organization_id:
        raise errors.LeaseNotFound(f"lease {lease_id} not found")
    task = await session.get(RatingTask, lease.task_id)
    assert task is not None
    if lease.rater_id != principal.user_id:
        plan = await session.get(RatingPlan, task.plan_id)
        if plan is None or not is_lead(principal, plan):
            raise errors.RatingNotAssigned("this lease belongs to another rater")
    found = file_of(await _response_value(session, task))
    if found is None:
        raise errors.ResponseFileNotFound("the response holds no uploaded file")
    return found


# --- ratings --------------------------------------------------------------------------------


async def submit_rating(
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    lease_id: uuid.UUID,
    body: schemas.RatingSubmit,
) -> schemas.RatingSaved:
    """Record the caller's levels for the response their lease holds. All checks come
    before anything is written: a lease of another organization is LeaseNotFound, of
    another rater RatingNotAssigned, rated already LeaseAlreadyRated, run out LeaseExpired;
    levels that do not fit the rubric RatingLevelsInvalid. When this completes the ratings
    a response needs, the plan's rule resolves it (a new result revision) or opens an
    adjudication."""
    lease = await session.get(RatingLease, lease_id)
    if lease is None or lease.organization_id != principal.organization_id:
        raise errors.LeaseNotFound(f"lease {lease_id} not found")
    if lease.rater_id != principal.user_id:
        raise errors.RatingNotAssigned("this lease belongs to another rater")
    # The plan first, and read as it is once held: a change of its rules (which holds the
    # row FOR UPDATE) either ends before and this rating is judged by the new rules, or
    # waits until this rating is saved and then counts the response as decided.
    plan = (
        await session.execute(
            select(RatingPlan)
            .where(
                RatingPlan.id
                == select(RatingTask.plan_id)
                .where(RatingTask.id == lease.task_id)
                .scalar_subquery()
            )
            .with_for_update(read=True, key_share=True)
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
    task = await session.get(RatingTask, lease.task_id, with_for_update=True)
    if plan is None or task is None:
        # Its item was taken off the plan meanwhile (the lease went with its task).
        raise errors.LeaseNotFound(f"lease {lease_id} not found")
    await session.refresh(task)
    if await session.scalar(select(Rating.id).where(Rating.lease_id == lease.id)) is not None:
        raise errors.LeaseAlreadyRated("this lease has been rated already")
    now = utcnow()
    if task.lease_id != lease.id or task.state != "leased" or lease.expires_at <= now:
        raise errors.LeaseExpired("the lease ran out; the response went back to the queue")
    mine = (
        await session.execute(
            select(RatingMember).where(
                RatingMember.plan_id == plan.id, RatingMember.user_id == principal.user_id
            )
        )
    ).scalars()
    if not any(covers(m, task, leased=True) for m in mine):
        # Taken off the plan, or off this item or bank, since the lease was handed out.
        raise errors.RatingNotAssigned("the caller is no longer assigned to this response")
    scale = await scale_for(session, task.item_version_id, task.item_ref)
    points = check_levels(scale.rubric, body.levels, errors.RatingLevelsInvalid)
    attempt = None
    if task.attempt_id is not None:
        attempt = await session.get(Attempt, task.attempt_id, with_for_update=True)
    outcome = None
    if task.kind != "seeded":
        outcome = (
            await session.execute(
                select(RatingOutcome)
                .where(
                    RatingOutcome.plan_id == plan.id,
                    RatingOutcome.response_key == task.response_key,
                )
                .with_for_update()
            )
        ).scalar_one()
    rating = Rating(
        organization_id=task.organization_id,
        plan_id=plan.id,
        task_id=task.id,
        lease_id=lease.id,
        response_key=task.response_key,
        kind=task.kind,
        item_ref=task.item_ref,
        attempt_id=task.attempt_id,
        seed_id=task.seed_id,
        rater_id=principal.user_id,
        levels=dict(body.levels),
        criteria=criterion_points(scale.rubric, body.levels),
        score=scale.item_score(points),
        annotations=[a.model_dump() for a in body.annotations],
        comment=body.comment,
        started_at=lease.leased_at,
        submitted_at=now,
        duration_ms=int((now - lease.leased_at).total_seconds() * 1000),
    )
    session.add(rating)
    task.state = "done"
    await session.flush()
    await audit.record(
        session,
        organization_id=plan.organization_id,
        action="rating.adjudicated" if task.kind == "adjudication" else "rating.submitted",
        actor=principal.actor,
        target_type="rating",
        target_id=rating.id,
        data={
            "plan_id": str(plan.id),
            "task_id": str(task.id),
            "kind": task.kind,
            "item_ref": task.item_ref,
            "attempt_id": str(task.attempt_id) if task.attempt_id else None,
            "levels": rating.levels,
            "score": rating.score,
        },
    )
    if outcome is not None and attempt is not None:
        await _after_rating(session, plan, outcome, attempt, scale, task.kind)
    following = None
    if body.next:
        following = await lease_next(session, settings, principal, plan.id, audited=True)
    return schemas.RatingSaved(rating_id=rating.id, score=rating.score, next=following)


def _given(rating: Rating) -> rules.Given:
    return rules.Given(rating.score, {k: float(v) for k, v in rating.criteria.items()})


async def _after_rating(
    session: AsyncSession,
    plan: RatingPlan,
    outcome: RatingOutcome,
    attempt: Attempt,
    scale: Scale,
    kind: str,
) -> None:
    ratings = await _ratings_of(session, plan.id, outcome.response_key)
    given = [_given(r) for r in ratings if r.kind == "rating"]
    adjudication = next((_given(r) for r in ratings if r.kind == "adjudication"), None)
    if kind == "adjudication" and outcome.status == "adjudicating" and adjudication is not None:
        await _resolve(session, plan, outcome, attempt, scale, ratings, given, adjudication)
        return
    if outcome.status != "open" or len(given) < outcome.needed:
        return
    rule = rules.DisagreementRule(plan.disagreement_rule)
    if rules.disagree(
        given, rule, distance=plan.disagreement_distance, per_criterion=plan.per_criterion
    ):
        outcome.status = "adjudicating"
        task = RatingTask(
            organization_id=plan.organization_id,
            plan_id=plan.id,
            response_key=outcome.response_key,
            kind="adjudication",
            item_ref=outcome.item_ref,
            item_version_id=outcome.item_version_id,
            bank_id=await bank_of(session, outcome.item_version_id),
            attempt_id=outcome.attempt_id,
            slot=ADJUDICATION_SLOT,
            order_key=rules.order_key(f"{plan.id}:{outcome.response_key}:adjudication"),
            created_at=utcnow(),
        )
        session.add(task)
        await session.flush()
        await audit.record(
            session,
            organization_id=plan.organization_id,
            action="rating.adjudication_opened",
            actor=RATING,
            target_type="rating_task",
            target_id=task.id,
            data={
                "plan_id": str(plan.id),
                "attempt_id": str(outcome.attempt_id),
                "item_ref": outcome.item_ref,
                "scores": [g.score for g in given],
                "rule": plan.disagreement_rule,
            },
        )
        return
    await _resolve(session, plan, outcome, attempt, scale, ratings, given, None)


def _scales(scale: Scale) -> dict[str, rules.CriterionScale]:
    rubric = scale.rubric
    if isinstance(rubric, HolisticRubric):
        return {"level": rules.CriterionScale(1.0, [lv.points for lv in rubric.levels])}
    return {
        c.id: rules.CriterionScale(c.weight, [lv.points for lv in c.levels])
        for c in rubric.criteria
    }


async def _resolve(
    session: AsyncSession,
    plan: RatingPlan,
    outcome: RatingOutcome,
    attempt: Attempt,
    scale: Scale,
    ratings: list[Rating],
    given: list[rules.Given],
    adjudication: rules.Given | None,
) -> None:
    resolution = rules.Resolution(plan.resolution)
    final = rules.resolve(given, adjudication, resolution, _scales(scale))
    if resolution is rules.Resolution.sum_of_criteria:
        final = scale.item_score(final)
    final = min(max(round(final, 6), 0.0), scale.item_max)
    result = await scoring.manual_score(
        session,
        attempt,
        outcome.item_ref,
        score=final,
        reason=f"rated ({plan.resolution}, plan {plan.id})",
        actor=RATING,
        feedback=candidate_feedback(scale, ratings, given, adjudication),
    )
    outcome.status, outcome.score = "resolved", final
    outcome.revision, outcome.resolved_at = result.revision, utcnow()
    await session.flush()
    await audit.record(
        session,
        organization_id=plan.organization_id,
        action="rating.resolved",
        actor=RATING,
        target_type="attempt",
        target_id=attempt.id,
        data={
            "plan_id": str(plan.id),
            "item_ref": outcome.item_ref,
            "score": final,
            "resolution": plan.resolution,
            "adjudicated": adjudication is not None,
            "revision": result.revision,
        },
    )


def candidate_feedback(
    scale: Scale,
    ratings: Sequence[Rating],
    given: list[rules.Given],
    adjudication: rules.Given | None,
) -> dict[str, Any]:
    """What the candidate reads with the released result: the comments to them (the
    adjudicator's when they wrote one, else the raters'; each once) and, per criterion,
    the rubric level reached (as the ``sum_of_criteria`` resolution finds it). No rater is
    named and no score is given."""
    deciding = [r for r in ratings if r.kind == "adjudication"] if adjudication else []
    if not any((r.comment or "").strip() for r in deciding):
        deciding = [r for r in ratings if r.kind == "rating"]
    comments: list[str] = []
    for r in deciding:
        text = (r.comment or "").strip()
        if text and text not in comments:
            comments.append(text)
    reached = rules.criterion_levels(given, adjudication, _scales(scale))
    rubric = scale.rubric
    pairs: Sequence[tuple[str, Sequence[RubricLevel]]]
    if isinstance(rubric, HolisticRubric):
        pairs = [("level", rubric.levels)]
        titles = {"level": rubric.title}
    else:
        pairs = [(c.id, c.levels) for c in rubric.criteria]
        titles = {c.id: c.title for c in rubric.criteria}
    criteria: list[dict[str, str]] = []
    for name, levels in [] if scale.points_only else pairs:
        level = next((lv for lv in levels if abs(lv.points - reached[name]) < 1e-9), None)
        if level is not None:
            criteria.append(
                {
                    "criterion": titles[name],
                    "level": level.label or level.id,
                    "descriptor": level.descriptor,
                }
            )
    return {"comments": comments, "criteria": criteria}


# --- other scorers -------------------------------------------------------------------------

#: The state of a rating task whose response another scorer (an automated model) scored
#: before anyone started on it: out of the queue for good.
WITHDRAWN = "withdrawn"


@dataclass
class HeldResponse:
    """A response's rating rows, held while another scorer (automated scoring) decides on
    it: the plan of its administration (None: the administration has no plan), its tasks
    (locked), and its outcome once :func:`withdraw_for_scorer` locked it."""

    plan_id: uuid.UUID | None
    organization_id: uuid.UUID
    attempt_id: uuid.UUID
    item_ref: str
    key: str
    tasks: list[RatingTask]
    outcome: RatingOutcome | None = None

    def started(self, now: Any) -> bool:
        """Whether a person started on it: a task rated, or leased and not run out."""
        return any(
            t.state == "done" or (t.state == "leased" and (t.lease_expires_at or now) > now)
            for t in self.tasks
        )


async def hold_responses(
    session: AsyncSession, attempt: Attempt, item_refs: Sequence[str]
) -> dict[str, HeldResponse]:
    """Hold the rating rows of these responses of ``attempt`` for another scorer, in
    rating's lock order and before the attempt's row is locked: the plan's row ``FOR
    SHARE`` (a change of its rules waits, as it does for a rating, and no sync runs
    meanwhile, so no rating row of the responses appears behind the scorer's back), then
    every task of the responses ``FOR UPDATE`` in id order, in one statement."""
    plan_id = await session.scalar(
        select(RatingPlan.id)
        .where(RatingPlan.administration_id == attempt.administration_id)
        .with_for_update(read=True)
    )
    keys = {ref: response_key(attempt.id, ref) for ref in item_refs}
    tasks: dict[str, list[RatingTask]] = defaultdict(list)
    if plan_id is not None and keys:
        for task in (
            await session.execute(
                select(RatingTask)
                .where(RatingTask.plan_id == plan_id, RatingTask.response_key.in_(keys.values()))
                .order_by(RatingTask.id)
                .with_for_update()
            )
        ).scalars():
            tasks[task.response_key].append(task)
    return {
        ref: HeldResponse(plan_id, attempt.organization_id, attempt.id, ref, key, tasks[key])
        for ref, key in keys.items()
    }


async def withdraw_for_scorer(session: AsyncSession, held: HeldResponse) -> None:
    """Another scorer scores the held response: its tasks are withdrawn, and its outcome
    row (if it was queued) locked, after the attempt's row and before the audit chain's
    head. Then :func:`resolve_by_scorer` records the score."""
    for task in held.tasks:
        task.state = WITHDRAWN
    if held.plan_id is not None:
        held.outcome = (
            await session.execute(
                select(RatingOutcome)
                .where(
                    RatingOutcome.plan_id == held.plan_id, RatingOutcome.response_key == held.key
                )
                .with_for_update()
            )
        ).scalar_one_or_none()


async def resolve_by_scorer(
    session: AsyncSession,
    held: HeldResponse,
    *,
    item_version_id: uuid.UUID,
    score: float,
    revision: int,
) -> None:
    """The held response (withdrawn) is resolved with another scorer's score and the
    result revision it made. One not queued for people yet gets its resolved outcome now,
    so a sync that read it as waiting before this commits cannot add it for raters
    afterwards (the plan's one outcome per response refuses the second)."""
    if held.outcome is not None:
        held.outcome.status, held.outcome.score = "resolved", score
        held.outcome.revision, held.outcome.resolved_at = revision, utcnow()
    elif held.plan_id is not None:
        now = utcnow()
        session.add(
            RatingOutcome(
                organization_id=held.organization_id,
                plan_id=held.plan_id,
                response_key=held.key,
                attempt_id=held.attempt_id,
                item_ref=held.item_ref,
                item_version_id=item_version_id,
                needed=0,
                status="resolved",
                score=score,
                revision=revision,
                created_at=now,
                resolved_at=now,
            )
        )
    await session.flush()


# --- seeded responses -----------------------------------------------------------------------


async def add_seed(
    session: AsyncSession, principal: Principal, plan_id: uuid.UUID, body: schemas.SeedCreate
) -> SeededResponse:
    """A pre-scored response of one of the administration's items (its levels checked
    against the item's rubric). Leads only."""
    plan = await get_plan(session, principal, plan_id)
    require_lead(principal, plan)
    administration = await assessments.get_administration(
        session, Principal.system(plan.organization_id), plan.administration_id
    )
    version_id = await session.scalar(
        select(AttemptItem.item_version_id)
        .join(Attempt, Attempt.id == AttemptItem.attempt_id)
        .where(Attempt.administration_id == administration.id, AttemptItem.ref == body.item_ref)
        .limit(1)
    )
    if version_id is None:
        raise errors.SeedInvalid(f"no attempt of this administration has item {body.item_ref!r}")
    scale = await scale_for(session, version_id, body.item_ref)
    points = check_levels(scale.rubric, body.levels, errors.SeedInvalid)
    seed = SeededResponse(
        organization_id=plan.organization_id,
        plan_id=plan.id,
        item_ref=body.item_ref,
        item_version_id=version_id,
        value=dict(body.response),
        levels=dict(body.levels),
        score=scale.item_score(points),
        created_by=principal.actor.id,
        created_at=utcnow(),
    )
    session.add(seed)
    await session.flush()
    await audit.record(
        session,
        organization_id=plan.organization_id,
        action="rating.seed_added",
        actor=principal.actor,
        target_type="rating_plan",
        target_id=plan.id,
        data={"seed_id": str(seed.id), "item_ref": seed.item_ref, "score": seed.score},
    )
    return seed


# --- the lead's views -----------------------------------------------------------------------


async def progress(
    session: AsyncSession, principal: Principal, plan_id: uuid.UUID
) -> schemas.Progress:
    plan = await get_plan(session, principal, plan_id)
    require_lead(principal, plan)
    items: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for item_ref, status, needed, count in (
        await session.execute(
            select(
                RatingOutcome.item_ref,
                RatingOutcome.status,
                func.sum(RatingOutcome.needed),
                func.count(),
            )
            .where(RatingOutcome.plan_id == plan.id)
            .group_by(RatingOutcome.item_ref, RatingOutcome.status)
        )
    ).all():
        entry = items[item_ref]
        entry["responses"] += int(count)
        entry["needed"] += int(needed)
        entry[status] += int(count)
    for item_ref, count in (
        await session.execute(
            select(Rating.item_ref, func.count())
            .where(Rating.plan_id == plan.id, Rating.kind == "rating")
            .group_by(Rating.item_ref)
        )
    ).all():
        items[item_ref]["done"] += int(count)
    return schemas.Progress(
        items=[
            schemas.ItemProgress(
                item_ref=ref,
                responses=e["responses"],
                ratings_needed=e["needed"],
                ratings_done=e["done"],
                adjudicating=e["adjudicating"],
                resolved=e["resolved"],
            )
            for ref, e in sorted(items.items())
        ]
    )


async def disagreements(
    session: AsyncSession, principal: Principal, plan_id: uuid.UUID
) -> list[schemas.Disagreement]:
    """Responses waiting for an adjudicator, with the raters' levels (raters unnamed)."""
    plan = await get_plan(session, principal, plan_id)
    require_lead(principal, plan)
    waiting = (
        await session.execute(
            select(RatingOutcome)
            .where(RatingOutcome.plan_id == plan.id, RatingOutcome.status == "adjudicating")
            .order_by(RatingOutcome.created_at)
        )
    ).scalars()
    now = utcnow()
    out = []
    for outcome in list(waiting):
        ratings = await _ratings_of(session, plan.id, outcome.response_key)
        leased = await session.scalar(
            select(RatingTask.id).where(
                RatingTask.plan_id == plan.id,
                RatingTask.response_key == outcome.response_key,
                RatingTask.kind == "adjudication",
                RatingTask.state == "leased",
                RatingTask.lease_expires_at > now,
            )
        )
        out.append(
            schemas.Disagreement(
                response_key=outcome.response_key,
                item_ref=outcome.item_ref,
                ratings=[
                    schemas.PriorRating(levels=r.levels, score=r.score)
                    for r in ratings
                    if r.kind == "rating"
                ],
                adjudication_leased=leased is not None,
            )
        )
    return out


def _read(values: stats.Agreement) -> dict[str, Any]:
    def clean(x: float) -> float | None:
        return None if math.isnan(x) else round(x, 6)

    return {
        "pairs": values.pairs,
        "exact": clean(values.exact),
        "adjacent": clean(values.adjacent),
        "kappa": clean(values.kappa),
        "quadratic_kappa": clean(values.quadratic_kappa),
        "smd": clean(values.smd),
    }


async def _plan_ratings(session: AsyncSession, plan_id: uuid.UUID) -> list[Rating]:
    return list(
        (
            await session.execute(
                select(Rating)
                .where(Rating.plan_id == plan_id)
                .order_by(Rating.submitted_at, Rating.id)
            )
        ).scalars()
    )


def _groups(keys: Any) -> list[Any]:
    """Indices into ``keys`` (an integer array) grouped by key, in key order."""
    order = np.argsort(keys, kind="stable")
    bounds = np.flatnonzero(np.diff(keys[order])) + 1
    return list(np.split(order, bounds)) if order.size else []


def plan_statistics(
    ratings: Sequence[Any],
    seeds: dict[uuid.UUID, float],
    *,
    threshold: float,
    paused: set[uuid.UUID],
    raters: Sequence[uuid.UUID] = (),
) -> schemas.PlanStats:
    """Agreement per item (each response's first two ratings), per rater pair (every two
    ratings of one response), and per rater (against every other rating of the same
    responses, and against the seeded responses' scores), with drift windows and the flag
    below ``threshold``. ``ratings`` are rows with the :class:`Rating` columns ``kind``,
    ``response_key``, ``item_ref``, ``rater_id``, ``seed_id``, ``score``, ``submitted_at``
    and ``duration_ms``, oldest first. Pairs are found with numpy, so 100,000 ratings take
    well under a second."""
    people = sorted({r.rater_id for r in ratings} | set(raters), key=str)
    code = {person: n for n, person in enumerate(people)}
    keys: dict[str, int] = {}
    items: dict[str, int] = {}
    n = len(ratings)
    kind = np.empty(n, dtype=np.int8)  # 0 rating, 1 seeded, 2 adjudication
    response = np.empty(n, dtype=np.int64)
    item = np.empty(n, dtype=np.int64)
    rater = np.empty(n, dtype=np.int64)
    score = np.empty(n, dtype=np.float64)
    truth = np.full(n, np.nan)
    duration = np.empty(n, dtype=np.float64)
    for i, r in enumerate(ratings):
        kind[i] = 0 if r.kind == "rating" else 1 if r.kind == "seeded" else 2
        response[i] = keys.setdefault(r.response_key, len(keys))
        item[i] = items.setdefault(r.item_ref, len(items))
        rater[i] = code[r.rater_id]
        score[i] = r.score
        duration[i] = r.duration_ms
        if r.seed_id is not None and r.seed_id in seeds:
            truth[i] = seeds[r.seed_id]
    position = np.arange(n)  # oldest first: the position is the time order
    rated = np.flatnonzero(kind == 0)
    firsts, seconds = [], []
    for group in _groups(response[rated]):
        members = rated[group]
        for a_i in range(len(members)):
            for b_i in range(a_i + 1, len(members)):
                firsts.append(members[a_i])
                seconds.append(members[b_i])
    first = np.asarray(firsts, dtype=np.int64)
    second = np.asarray(seconds, dtype=np.int64)
    # Per item: each response's first two ratings (its first pair).
    lead_pair = np.ones(first.size, dtype=bool)
    if first.size:
        lead_pair[1:] = response[first[1:]] != response[first[:-1]]
    item_names = {v: k for k, v in items.items()}
    item_rows = []
    fp, sp = first[lead_pair], second[lead_pair]
    for group in _groups(item[fp]):
        ref = item_names[int(item[fp[group[0]]])]
        item_rows.append(
            schemas.ItemAgreement(
                item_ref=ref, **_read(stats.agreement(score[fp[group]], score[sp[group]]))
            )
        )
    item_rows.sort(key=lambda row: row.item_ref)
    # Per pair of raters: oriented by the raters' order (their ids as text).
    lo = np.minimum(rater[first], rater[second])
    hi = np.maximum(rater[first], rater[second])
    lo_score = np.where(rater[first] <= rater[second], score[first], score[second])
    hi_score = np.where(rater[first] <= rater[second], score[second], score[first])
    pair_rows = []
    for group in _groups(lo * max(len(people), 1) + hi):
        a, b = int(lo[group[0]]), int(hi[group[0]])
        pair_rows.append(
            schemas.PairAgreement(
                rater_a=people[a],
                rater_b=people[b],
                **_read(stats.agreement(lo_score[group], hi_score[group])),
            )
        )
    # Per rater: each comparison from the rater's side (other's score, own score, when).
    who = np.concatenate([rater[first], rater[second]])
    other = np.concatenate([score[second], score[first]])
    own = np.concatenate([score[first], score[second]])
    when = np.concatenate([position[first], position[second]])
    seeded = np.flatnonzero((kind == 1) & ~np.isnan(truth))
    all_who = np.concatenate([who, rater[seeded]])
    all_other = np.concatenate([other, truth[seeded]])
    all_own = np.concatenate([own, score[seeded]])
    all_when = np.concatenate([when, position[seeded]])
    co_groups = {int(who[g[0]]): g for g in _groups(who)}
    all_groups = {int(all_who[g[0]]): g for g in _groups(all_who)}
    seed_groups = {int(rater[seeded][g[0]]): seeded[g] for g in _groups(rater[seeded])}
    count_groups = {int(rater[g[0]]): g for g in _groups(rater)}
    rater_rows = []
    for index, person in enumerate(people):
        co = co_groups.get(index, np.empty(0, dtype=np.int64))
        compared = all_groups.get(index, np.empty(0, dtype=np.int64))
        compared = compared[np.argsort(all_when[compared], kind="stable")]
        close = np.abs(all_other[compared] - all_own[compared]) <= 1.0 + 1e-9
        drift = [
            float(np.mean(close[start : start + DRIFT_WINDOW]))
            for start in range(0, close.size, DRIFT_WINDOW)
        ]
        recent = close[-DRIFT_WINDOW:]
        mine_seeded = seed_groups.get(index, np.empty(0, dtype=np.int64))
        own_rows = count_groups.get(index, np.empty(0, dtype=np.int64))
        rater_rows.append(
            schemas.RaterStats(
                rater_id=person,
                ratings=int(own_rows.size),
                mean_seconds=float(np.mean(duration[own_rows])) / 1000 if own_rows.size else None,
                agreement=schemas.AgreementRead(**_read(stats.agreement(other[co], own[co]))),
                seeded=int(mine_seeded.size),
                seeded_exact=(
                    stats.exact_agreement(truth[mine_seeded], score[mine_seeded])
                    if mine_seeded.size
                    else None
                ),
                seeded_adjacent=(
                    stats.adjacent_agreement(truth[mine_seeded], score[mine_seeded])
                    if mine_seeded.size
                    else None
                ),
                drift=[round(d, 6) for d in drift],
                flagged=bool(
                    close.size >= MIN_COMPARISONS and recent.size and recent.mean() < threshold
                ),
                paused=person in paused,
            )
        )
    return schemas.PlanStats(items=item_rows, pairs=pair_rows, raters=rater_rows)


async def _statistics(session: AsyncSession, plan: RatingPlan) -> schemas.PlanStats:
    seeds = {
        s.id: s.score
        for s in (
            await session.execute(select(SeededResponse).where(SeededResponse.plan_id == plan.id))
        ).scalars()
    }
    people = await members(session, plan)
    rows = (
        await session.execute(
            select(
                Rating.kind,
                Rating.response_key,
                Rating.item_ref,
                Rating.rater_id,
                Rating.seed_id,
                Rating.score,
                Rating.submitted_at,
                Rating.duration_ms,
            )
            .where(Rating.plan_id == plan.id)
            .order_by(Rating.submitted_at, Rating.id)
        )
    ).all()
    return plan_statistics(
        rows,
        seeds,
        threshold=plan.agreement_threshold,
        paused={m.user_id for m in people if m.paused_at is not None},
        raters=[m.user_id for m in people if m.role == "rater"],
    )


async def statistics(
    session: AsyncSession, principal: Principal, plan_id: uuid.UUID
) -> schemas.PlanStats:
    plan = await get_plan(session, principal, plan_id)
    require_lead(principal, plan)
    return await _statistics(session, plan)


async def my_statistics(
    session: AsyncSession, principal: Principal, plan_id: uuid.UUID
) -> schemas.RaterStats:
    """The caller's own figures on a plan they rate on (others' figures are not shown)."""
    plan = await get_plan(session, principal, plan_id)
    if not any(m.user_id == principal.user_id for m in await members(session, plan)):
        raise errors.RaterNotOnPlan("the caller does not rate on this plan")
    everything = await _statistics(session, plan)
    mine = next((r for r in everything.raters if r.rater_id == principal.user_id), None)
    if mine is None:
        return schemas.RaterStats(
            rater_id=principal.user_id,
            ratings=0,
            mean_seconds=None,
            agreement=schemas.AgreementRead(
                pairs=0, exact=None, adjacent=None, kappa=None, quadratic_kappa=None, smd=None
            ),
            seeded=0,
            seeded_exact=None,
            seeded_adjacent=None,
            drift=[],
            flagged=False,
            paused=False,
        )
    return mine


EXPORT_COLUMNS = [
    "rating_id", "plan_id", "kind", "item_ref", "attempt_id", "seeded_response_id",
    "rater_id", "rater_name", "started_at", "submitted_at", "duration_ms", "levels",
    "criteria", "score", "comment", "response_status", "final_score", "result_revision",
]  # fmt: skip


async def export_csv(session: AsyncSession, principal: Principal, plan_id: uuid.UUID) -> str:
    """Every rating of the plan, oldest first, with its rater's name (for the plan's
    leads) and the resolution of its response."""
    plan = await get_plan(session, principal, plan_id)
    require_lead(principal, plan)
    outcomes = {
        o.response_key: o
        for o in (
            await session.execute(select(RatingOutcome).where(RatingOutcome.plan_id == plan.id))
        ).scalars()
    }
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(EXPORT_COLUMNS)
    ratings = await _plan_ratings(session, plan.id)
    names = await _names(session, plan.organization_id, {r.rater_id for r in ratings})
    for r in ratings:
        outcome = outcomes.get(r.response_key)
        writer.writerow(
            [
                r.id,
                r.plan_id,
                r.kind,
                r.item_ref,
                r.attempt_id or "",
                r.seed_id or "",
                r.rater_id,
                names.get(str(r.rater_id), ""),
                r.started_at.isoformat(),
                r.submitted_at.isoformat(),
                r.duration_ms,
                json.dumps(r.levels, sort_keys=True),
                json.dumps(r.criteria, sort_keys=True),
                r.score,
                r.comment or "",
                outcome.status if outcome else "seeded",
                "" if outcome is None or outcome.score is None else outcome.score,
                "" if outcome is None or outcome.revision is None else outcome.revision,
            ]
        )
    return buffer.getvalue()
