"""What a proctor watches: every attempt of an administration with its candidate, state,
question open, time left, last activity and integrity events (the live view's first
picture; :mod:`waa_ads.delivery.live` brings the changes after it)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from waa_ads.assessments import service as assessment_service
from waa_ads.auth.deps import Principal
from waa_ads.auth.models import Candidate
from waa_ads.delivery import live, schemas
from waa_ads.delivery.models import Attempt, AttemptItem, IntegrityEvent, Response
from waa_ads.delivery.state_machine import AttemptState, EndReason, PauseKind

#: How many of the latest integrity events the board lists.
RECENT_INTEGRITY = 50


def _latest(*moments: datetime | None) -> datetime | None:
    known = [m for m in moments if m is not None]
    return max(known) if known else None


async def board(
    session: AsyncSession, principal: Principal, administration_id: uuid.UUID
) -> schemas.LiveBoard:
    """The live board of an administration, for its assigned proctors and the
    organization's admins (anyone else: 404 ``administration-not-found``, as for every
    administration route). Five queries, whatever the number of attempts."""
    administration = await assessment_service.get_administration(
        session, principal, administration_id
    )
    ids = select(Attempt.id).where(Attempt.administration_id == administration.id)
    rows = (
        await session.execute(
            select(Attempt, Candidate.full_name, Candidate.erased_at)
            .outerjoin(Candidate, Candidate.id == Attempt.candidate_id)
            .where(Attempt.administration_id == administration.id)
            .order_by(Attempt.created_at)
        )
    ).all()
    items: dict[uuid.UUID, int] = dict(
        (
            await session.execute(
                select(AttemptItem.attempt_id, func.count())
                .where(AttemptItem.attempt_id.in_(ids))
                .group_by(AttemptItem.attempt_id)
            )
        ).all()
    )
    saves: dict[uuid.UUID, datetime] = dict(
        (
            await session.execute(
                select(Response.attempt_id, func.max(Response.updated_at))
                .where(Response.attempt_id.in_(ids))
                .group_by(Response.attempt_id)
            )
        ).all()
    )
    signals = {
        attempt_id: (count, last)
        for attempt_id, count, last in (
            await session.execute(
                select(
                    IntegrityEvent.attempt_id,
                    func.count(),
                    func.max(IntegrityEvent.received_at),
                )
                .where(IntegrityEvent.attempt_id.in_(ids))
                .group_by(IntegrityEvent.attempt_id)
            )
        ).all()
    }
    recent = (
        await session.execute(
            select(IntegrityEvent.attempt_id, IntegrityEvent.kind, IntegrityEvent.received_at)
            .where(IntegrityEvent.attempt_id.in_(ids))
            .order_by(IntegrityEvent.received_at.desc(), IntegrityEvent.id.desc())
            .limit(RECENT_INTEGRITY)
        )
    ).all()
    attempts = []
    for attempt, full_name, erased_at in rows:
        live.remember(attempt)
        count, last_signal = signals.get(attempt.id, (0, None))
        attempts.append(
            schemas.LiveAttempt(
                id=attempt.id,
                number=attempt.number,
                state=AttemptState(attempt.state),
                candidate_id=attempt.candidate_id,
                candidate_name=None if erased_at is not None else full_name,
                started_at=attempt.started_at,
                deadline_at=attempt.deadline_at,
                remaining_s=live.remaining_s(attempt),
                pause_kind=PauseKind(attempt.pause_kind) if attempt.pause_kind else None,
                current_position=attempt.current_position,
                item_count=items.get(attempt.id, 0),
                ended_at=attempt.ended_at,
                ended_because=EndReason(attempt.ended_because) if attempt.ended_because else None,
                end_reason=attempt.end_reason,
                last_activity_at=_latest(
                    attempt.started_at,
                    attempt.updated_at,
                    saves.get(attempt.id),
                    last_signal,
                ),
                integrity_event_count=count,
            )
        )
    return schemas.LiveBoard(
        administration_id=administration.id,
        title=administration.title,
        opens_at=administration.opens_at,
        closes_at=administration.closes_at,
        attempts=attempts,
        recent_integrity=[
            schemas.LiveIntegrityEvent(attempt_id=a, kind=k, received_at=r) for a, k, r in recent
        ],
    )
