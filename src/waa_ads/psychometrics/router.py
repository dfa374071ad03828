"""HTTP routes of psychometrics: item analysis of an administration."""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from fastapi.responses import Response

from waa_ads.assessments.errors import AdministrationNotFound
from waa_ads.auth.deps import PrincipalDep
from waa_ads.auth.errors import CREDENTIAL_ERRORS, RoleRequired
from waa_ads.auth.models import Role
from waa_ads.core.deps import SessionDep
from waa_ads.core.errors import error_responses
from waa_ads.psychometrics import linking, runs, schemas, service
from waa_ads.psychometrics.errors import (
    CalibrationInputError,
    CalibrationRunNotFound,
    DifInputError,
    ParametersNotFound,
)

router = APIRouter(prefix="/psychometrics", tags=["psychometrics"])


@router.get(
    "/administrations/{administration_id}/item-analysis",
    response_model=schemas.ItemAnalysisRead,
    summary="Classical item analysis of an administration's scored attempts",
    responses=error_responses(*CREDENTIAL_ERRORS, RoleRequired, AdministrationNotFound),
)
async def administration_item_analysis(
    session: SessionDep, principal: PrincipalDep, administration_id: uuid.UUID
) -> schemas.ItemAnalysisRead:
    if not principal.has_any(Role.admin, Role.author):
        raise RoleRequired("item statistics are for admins and authors")
    analysis = await service.administration_item_analysis(session, principal, administration_id)
    return schemas.ItemAnalysisRead.model_validate(
        {"administration_id": str(administration_id), **analysis.to_dict()}
    )


@router.post(
    "/calibrations",
    response_model=schemas.CalibrationRead,
    status_code=201,
    summary="Calibrate IRT parameters on administrations' scores and store them on item versions",
    responses=error_responses(
        *CREDENTIAL_ERRORS, RoleRequired, AdministrationNotFound, CalibrationInputError
    ),
)
async def create_calibration(
    session: SessionDep, principal: PrincipalDep, body: schemas.CalibrationCreate
) -> schemas.CalibrationRead:
    if not principal.has_any(Role.admin, Role.author):
        raise RoleRequired("calibrations are for admins and authors")
    ids = list(body.administration_ids)
    calibration_id, fit, columns = await service.calibrate_administrations(
        session, principal, ids, body.model
    )
    return runs.summary(calibration_id, fit, ids, columns)


@router.post(
    "/calibration-runs",
    response_model=runs.CalibrationRunRead,
    status_code=202,
    summary="Queue a calibration to run in the background; poll the run for its outcome",
    responses=error_responses(*CREDENTIAL_ERRORS, RoleRequired, AdministrationNotFound),
)
async def create_calibration_run(
    session: SessionDep, principal: PrincipalDep, body: schemas.CalibrationCreate
) -> runs.CalibrationRunRead:
    return runs.run_read(await runs.queue_run(session, principal, body))


@router.get(
    "/calibration-runs",
    response_model=list[runs.CalibrationRunRead],
    summary="The organization's calibration runs, newest first",
    responses=error_responses(*CREDENTIAL_ERRORS, RoleRequired),
)
async def list_calibration_runs(
    session: SessionDep, principal: PrincipalDep, administration_id: uuid.UUID | None = None
) -> list[runs.CalibrationRunRead]:
    return [runs.run_read(r) for r in await runs.list_runs(session, principal, administration_id)]


@router.get(
    "/calibration-runs/{run_id}",
    response_model=runs.CalibrationRunRead,
    summary="A calibration run: its status, progress and, once done, the calibration",
    responses=error_responses(*CREDENTIAL_ERRORS, RoleRequired, CalibrationRunNotFound),
)
async def get_calibration_run(
    session: SessionDep, principal: PrincipalDep, run_id: uuid.UUID
) -> runs.CalibrationRunRead:
    return runs.run_read(await runs.get_run(session, principal, run_id))


@router.post(
    "/administrations/{administration_id}/dif",
    response_model=schemas.DifRead,
    summary="Mantel-Haenszel and logistic-regression DIF of an administration's items",
    responses=error_responses(
        *CREDENTIAL_ERRORS, RoleRequired, AdministrationNotFound, DifInputError
    ),
)
async def administration_dif(
    session: SessionDep,
    principal: PrincipalDep,
    administration_id: uuid.UUID,
    body: schemas.DifCreate,
) -> schemas.DifRead:
    if not principal.has_any(Role.admin, Role.author):
        raise RoleRequired("DIF analyses are for admins and authors")
    report = await service.administration_dif(
        session, principal, administration_id, body.groups, body.reference
    )
    return schemas.DifRead.model_validate({"administration_id": str(administration_id), **report})


@router.post(
    "/linkings",
    response_model=schemas.LinkingRead,
    summary="Link two calibrations through their common items (mean-sigma, mean-mean, "
    "Stocking-Lord, Haebara)",
    responses=error_responses(*CREDENTIAL_ERRORS, RoleRequired, CalibrationInputError),
)
async def create_linking(
    principal: PrincipalDep, body: schemas.LinkingCreate
) -> schemas.LinkingRead:
    if not principal.has_any(Role.admin, Role.author):
        raise RoleRequired("linking is for admins and authors")
    result = linking.link_calibrations(body.form_x, body.form_y, body.method)
    return schemas.LinkingRead.model_validate(result)


_PRIVATE = {"Cache-Control": "private, no-store"}


@router.get(
    "/administrations/{administration_id}/item-analysis.csv",
    response_class=Response,
    summary="The classical item analysis of an administration as CSV",
    responses={
        200: {"description": "CSV.", "content": {"text/csv": {"schema": {"type": "string"}}}},
        **error_responses(*CREDENTIAL_ERRORS, RoleRequired, AdministrationNotFound),
    },
)
async def administration_item_analysis_csv(
    session: SessionDep, principal: PrincipalDep, administration_id: uuid.UUID
) -> Response:
    if not principal.has_any(Role.admin, Role.author):
        raise RoleRequired("item statistics are for admins and authors")
    analysis = await service.administration_item_analysis(session, principal, administration_id)
    return Response(
        service.item_analysis_csv(analysis),
        media_type="text/csv; charset=utf-8",
        headers={
            **_PRIVATE,
            "Content-Disposition": f'attachment; filename="item-analysis-{administration_id}.csv"',
        },
    )


@router.get(
    "/administrations/{administration_id}/parameters",
    response_model=list[schemas.ItemParametersRead],
    summary="The stored IRT parameters of the item versions an administration used",
    responses=error_responses(*CREDENTIAL_ERRORS, RoleRequired, AdministrationNotFound),
)
async def administration_parameters(
    session: SessionDep, principal: PrincipalDep, administration_id: uuid.UUID
) -> list[schemas.ItemParametersRead]:
    if not principal.has_any(Role.admin, Role.author):
        raise RoleRequired("item parameters are for admins and authors")
    items, _ = await service.administration_parameters(session, principal, administration_id)
    return [schemas.ItemParametersRead.model_validate(i) for i in items]


@router.get(
    "/administrations/{administration_id}/curves/{name}.png",
    response_class=Response,
    summary="Test information (name 'test') or one item's characteristic and information "
    "curves (name 'item-<reference>'), as PNG",
    responses={
        200: {"description": "PNG.", "content": {"image/png": {}}},
        **error_responses(
            *CREDENTIAL_ERRORS, RoleRequired, AdministrationNotFound, ParametersNotFound
        ),
    },
)
async def administration_curves(
    session: SessionDep, principal: PrincipalDep, administration_id: uuid.UUID, name: str
) -> Response:
    from waa_ads.psychometrics import charts

    if not principal.has_any(Role.admin, Role.author):
        raise RoleRequired("item curves are for admins and authors")
    _, parameters = await service.administration_parameters(session, principal, administration_id)
    if parameters is None:
        raise ParametersNotFound("the administration's items have no IRT parameters yet")
    if name == "test":
        png, _ = charts.test_curves(parameters)
    elif name.startswith("item-") and name.removeprefix("item-") in parameters.items:
        png, _ = charts.item_curves(parameters, name.removeprefix("item-"))
    else:
        raise ParametersNotFound(f"no curves named {name!r} (test or item-<reference>)")
    return Response(png, media_type="image/png", headers=_PRIVATE)
