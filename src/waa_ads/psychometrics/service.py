"""Item analysis of an administration from its stored item scores (reads only)."""

from __future__ import annotations

import uuid

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from waa_ads.assessments.errors import AdministrationNotFound
from waa_ads.assessments.models import Administration
from waa_ads.auth.deps import Principal
from waa_ads.core.tenancy import get_scoped
from waa_ads.delivery.models import Attempt
from waa_ads.psychometrics.classical import ItemAnalysis, ItemAnalysisAccumulator
from waa_ads.scoring.models import AttemptResult, ItemScore


async def administration_item_analysis(
    session: AsyncSession, principal: Principal, administration_id: uuid.UUID
) -> ItemAnalysis:
    """Classical statistics over the newest result revision of every scored attempt of the
    administration (items in form order of first appearance). An item a person has not
    scored yet (waiting for a rater) counts as not presented for that attempt.
    AdministrationNotFound for one outside the caller's organization."""
    administration = await get_scoped(
        session,
        Administration,
        administration_id,
        principal.organization_id,
        what="administration",
        error=AdministrationNotFound,
    )
    newest = (
        select(AttemptResult.attempt_id, func.max(AttemptResult.revision).label("revision"))
        .join(Attempt, Attempt.id == AttemptResult.attempt_id)
        .where(
            Attempt.administration_id == administration.id,
            Attempt.organization_id == principal.organization_id,
        )
        .group_by(AttemptResult.attempt_id)
        .subquery()
    )
    rows = (
        await session.execute(
            select(ItemScore.attempt_id, ItemScore.item_ref, ItemScore.score, ItemScore.max_score)
            .join(AttemptResult, AttemptResult.id == ItemScore.result_id)
            .join(
                newest,
                and_(
                    newest.c.attempt_id == AttemptResult.attempt_id,
                    newest.c.revision == AttemptResult.revision,
                ),
            )
            .where(ItemScore.organization_id == principal.organization_id)
            .order_by(ItemScore.attempt_id, ItemScore.id)
        )
    ).all()
    items: dict[str, float] = {}
    attempts: dict[uuid.UUID, dict[str, float | None]] = {}
    for attempt_id, ref, score, max_score in rows:
        items[ref] = max(items.get(ref, 0.0), float(max_score or 0.0))
        attempts.setdefault(attempt_id, {})[ref] = None if score is None else float(score)
    accumulator = ItemAnalysisAccumulator(
        list(items), {ref: (m if m > 0 else 1.0) for ref, m in items.items()}
    )
    for scores in attempts.values():
        accumulator.add(scores)
    return accumulator.result()
