"""Calibrations run in the background: a request records a run (``psychometrics_calibration``)
and queues ``psychometrics.calibrate``; a worker fits the model, stores the parameters on
the item versions (``service.calibrate_administrations``) and records the summary, or why
it failed. Progress goes by stage (queued 0, running 0.05, done 1); the run row is the
calibration's history (who asked, when, on which administrations, with what outcome)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from waa_ads.assessments.errors import AdministrationNotFound
from waa_ads.assessments.models import Administration
from waa_ads.audit import service as audit
from waa_ads.audit.service import Actor
from waa_ads.auth.deps import Principal
from waa_ads.auth.errors import RoleRequired
from waa_ads.auth.models import Role
from waa_ads.core.db import Database, utcnow
from waa_ads.core.errors import DomainError
from waa_ads.core.tasks import enqueue_after_commit
from waa_ads.core.tenancy import get_scoped
from waa_ads.psychometrics import schemas, service
from waa_ads.psychometrics.errors import CalibrationRunNotFound
from waa_ads.psychometrics.irt import Calibration
from waa_ads.psychometrics.models import CalibrationRun

CALIBRATE_TASK = "psychometrics.calibrate"
RUNNER = Actor("system", "psychometrics")


class CalibrationRunRead(BaseModel):
    """A calibration run: ``status`` queued, running, done or failed; ``progress`` 0 to 1;
    ``result`` (the calibration, as ``POST /calibrations`` answers it) once done; ``error``
    (the problem's detail) once failed."""

    id: str
    model: str
    administration_ids: list[str]
    status: Literal["queued", "running", "done", "failed"]
    progress: float = Field(ge=0, le=1)
    message: str | None
    error: str | None
    created_by: str | None
    created_at: datetime
    finished_at: datetime | None
    result: schemas.CalibrationRead | None


def summary(
    calibration_id: uuid.UUID,
    fit: Calibration,
    administration_ids: list[uuid.UUID],
    columns: list[tuple[uuid.UUID, str]],
) -> schemas.CalibrationRead:
    """What a calibration answers: the fit and each item version's parameters."""
    return schemas.CalibrationRead(
        id=str(calibration_id),
        model=fit.model,
        administration_ids=[str(i) for i in dict.fromkeys(administration_ids)],
        persons=fit.persons,
        log_likelihood=fit.log_likelihood,
        iterations=fit.iterations,
        converged=fit.converged,
        items=[
            schemas.ItemCalibrationRead(
                item_version_id=str(version_id),
                item=estimate.item,
                a=estimate.a,
                b=estimate.b,
                d=estimate.d,
                c=estimate.c,
                se=estimate.se,
                fit=estimate.fit,
            )
            for (version_id, _), estimate in zip(columns, fit.items, strict=True)
        ],
    )


def run_read(run: CalibrationRun) -> CalibrationRunRead:
    return CalibrationRunRead(
        id=str(run.id),
        model=run.model,
        administration_ids=list(run.administration_ids),
        status=run.status,
        progress=run.progress,
        message=run.message,
        error=run.error,
        created_by=run.created_by,
        created_at=run.created_at,
        finished_at=run.finished_at,
        result=schemas.CalibrationRead.model_validate(run.summary) if run.summary else None,
    )


def _require(principal: Principal) -> None:
    if not principal.has_any(Role.admin, Role.author):
        raise RoleRequired("calibrations are for admins and authors")


async def queue_run(
    session: AsyncSession,
    principal: Principal,
    body: schemas.CalibrationCreate,
    *,
    queue: bool = True,
) -> CalibrationRun:
    """Record a run and queue it (after commit; ``queue=False``: the caller runs it, as the
    command line does). 403 for other roles; 404 ``administration-not-found`` for an
    administration the caller cannot see."""
    _require(principal)
    ids = list(dict.fromkeys(body.administration_ids))
    for administration_id in ids:
        await get_scoped(
            session,
            Administration,
            administration_id,
            principal.organization_id,
            what="administration",
            error=AdministrationNotFound,
        )
    run = CalibrationRun(
        organization_id=principal.organization_id,
        model=body.model,
        administration_ids=[str(i) for i in ids],
        status="queued",
        progress=0.0,
        message="waiting for a worker",
        created_by=str(principal.user_id),
        created_at=utcnow(),
    )
    session.add(run)
    await session.flush()
    await audit.record(
        session,
        organization_id=principal.organization_id,
        action="psychometrics.calibration_queued",
        actor=principal.actor,
        target_type="calibration",
        target_id=run.id,
        data={"model": body.model, "administration_ids": run.administration_ids},
    )
    if queue:
        enqueue_after_commit(session, CALIBRATE_TASK, run_id=str(run.id))
    return run


async def get_run(session: AsyncSession, principal: Principal, run_id: uuid.UUID) -> CalibrationRun:
    _require(principal)
    run: CalibrationRun = await get_scoped(
        session,
        CalibrationRun,
        run_id,
        principal.organization_id,
        what="calibration run",
        error=CalibrationRunNotFound,
    )
    return run


async def list_runs(
    session: AsyncSession,
    principal: Principal,
    administration_id: uuid.UUID | None = None,
    limit: int = 50,
) -> list[CalibrationRun]:
    """The organization's runs, newest first (those including ``administration_id``)."""
    _require(principal)
    rows = (
        await session.execute(
            select(CalibrationRun)
            .where(CalibrationRun.organization_id == principal.organization_id)
            .order_by(CalibrationRun.created_at.desc())
            .limit(500 if administration_id is not None else limit)
        )
    ).scalars()
    runs = [
        r
        for r in rows
        if administration_id is None or str(administration_id) in r.administration_ids
    ]
    return runs[:limit]


async def execute_run(db: Database, run_id: uuid.UUID) -> str:
    """Run a queued calibration (the task's body; the command line calls it too). Idempotent:
    a run done or failed is left alone; a run found ``running`` (its worker died) runs
    again. Each stage commits, so progress is visible while the fit runs. Returns the final
    status."""
    async with db.transaction() as session:
        run = await session.get(CalibrationRun, run_id, with_for_update=True)
        if run is None:
            return "missing"
        if run.status in ("done", "failed"):
            return run.status
        run.status, run.progress = "running", 0.05
        run.message = "reading the scores and fitting the model"
        organization_id, model = run.organization_id, run.model
        ids = [uuid.UUID(i) for i in run.administration_ids]
        try:
            user_id = uuid.UUID(run.created_by or "")
        except ValueError:
            user_id = uuid.UUID(int=0)
    principal = Principal(user_id, organization_id, frozenset({Role.admin.value}), "task", None)
    outcome: dict[str, Any]
    try:
        async with db.transaction() as session:
            calibration_id, fit, columns = await service.calibrate_administrations(
                session, principal, ids, model
            )
            made = summary(calibration_id, fit, ids, columns)
            outcome = {
                "status": "done",
                "progress": 1.0,
                "message": f"{len(made.items)} items calibrated on {fit.persons:.0f} candidates",
                "summary": made.model_dump(mode="json"),
                "error": None,
            }
            await _finish(session, run_id, outcome)
    except DomainError as exc:
        outcome = {
            "status": "failed",
            "progress": 1.0,
            "message": "the calibration failed",
            "summary": None,
            "error": (exc.detail or exc.title)[:1000],
        }
        async with db.transaction() as session:
            await _finish(session, run_id, outcome)
    return str(outcome["status"])


async def _finish(session: AsyncSession, run_id: uuid.UUID, outcome: dict[str, Any]) -> None:
    run = await session.get(CalibrationRun, run_id, with_for_update=True)
    assert run is not None
    for key, value in outcome.items():
        setattr(run, key, value)
    run.finished_at = utcnow()
    await session.flush()
    await audit.record(
        session,
        organization_id=run.organization_id,
        action=f"psychometrics.calibration_{run.status}",
        actor=RUNNER,
        target_type="calibration",
        target_id=run.id,
        data={"model": run.model, **({"error": run.error} if run.error else {})},
    )
