"""Automated-scoring routes (``/api/v1/autoscore``): the organization's gate, the model
registry (train from ratings or a CSV, progress, metrics against the gate, activate,
retire), live agreement and decisions (admins), and explanations (admins for any text; a
lease's rater and the plan's leads for the answer leased)."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Query, Request, UploadFile, status

from waa_ads.auth.deps import PrincipalDep
from waa_ads.auth.errors import CREDENTIAL_ERRORS, RoleRequired
from waa_ads.autoscore import problems, schemas, service
from waa_ads.autoscore.errors import EmbeddingModelUnavailable, ModelCorrupt, ModelVersionMismatch
from waa_ads.content.errors import ItemNotFound
from waa_ads.core.deps import SessionDep
from waa_ads.core.errors import error_responses
from waa_ads.core.storage import BlobStore
from waa_ads.rating.errors import LeaseNotFound, RatingNotAssigned

router = APIRouter(prefix="/autoscore", tags=["autoscore"])

_ADMIN = (*CREDENTIAL_ERRORS, RoleRequired)
_MODEL = (*_ADMIN, problems.EssayModelNotFound)


def _blobs(request: Request) -> BlobStore:
    blobs: BlobStore = request.app.state.blobs
    return blobs


@router.get(
    "/settings",
    response_model=schemas.GateSettingsRead,
    summary="The organization's acceptance gate and check share (admins)",
    responses=error_responses(*_ADMIN),
)
async def read_settings(session: SessionDep, principal: PrincipalDep) -> schemas.GateSettingsRead:
    return schemas.GateSettingsRead.model_validate(await service.read_settings(session, principal))


@router.put(
    "/settings",
    response_model=schemas.GateSettingsRead,
    summary="Replace the acceptance gate and check share (admins; audited)",
    responses=error_responses(*_ADMIN),
)
async def update_settings(
    session: SessionDep, principal: PrincipalDep, body: schemas.GateSettings
) -> schemas.GateSettingsRead:
    return schemas.GateSettingsRead.model_validate(
        await service.update_settings(session, principal, body)
    )


@router.get(
    "/items",
    response_model=list[schemas.ItemCandidate],
    summary="Item versions people have scored or that have models, with counts (admins)",
    responses=error_responses(*_ADMIN),
)
async def items(session: SessionDep, principal: PrincipalDep) -> list[schemas.ItemCandidate]:
    return await service.item_candidates(session, principal)


@router.get(
    "/models",
    response_model=list[schemas.ModelRead],
    summary="The organization's essay models, newest version first per item (admins)",
    responses=error_responses(*_ADMIN),
)
async def list_models(
    session: SessionDep, principal: PrincipalDep, item_id: uuid.UUID | None = None
) -> list[schemas.ModelRead]:
    return [
        schemas.ModelRead.model_validate(m)
        for m in await service.list_models(session, principal, item_id)
    ]


@router.post(
    "/models",
    response_model=schemas.ModelRead,
    status_code=status.HTTP_202_ACCEPTED,
    summary="Train a new model version from the item's resolved human scores (admins)",
    responses=error_responses(
        *_ADMIN, ItemNotFound, problems.TrainingRequestInvalid, EmbeddingModelUnavailable
    ),
)
async def train_from_ratings(
    session: SessionDep, principal: PrincipalDep, body: schemas.TrainFromRatings
) -> schemas.ModelRead:
    return schemas.ModelRead.model_validate(
        await service.request_training(session, principal, body)
    )


@router.post(
    "/models/upload",
    response_model=schemas.ModelRead,
    status_code=status.HTTP_202_ACCEPTED,
    summary="Train a new model version from a CSV id,text,score[,score2,group] (admins)",
    responses=error_responses(
        *_ADMIN,
        ItemNotFound,
        problems.TrainingRequestInvalid,
        problems.TrainingCsvInvalid,
        EmbeddingModelUnavailable,
    ),
)
async def train_from_csv(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    item_id: Annotated[uuid.UUID, Form()],
    file: Annotated[UploadFile, File(description="UTF-8 CSV with a header row")],
    item_version_id: Annotated[uuid.UUID | None, Form()] = None,
    folds: Annotated[int, Form(ge=2, le=20)] = 5,
    confidence: Annotated[float, Form(gt=0, lt=1)] = 0.9,
    seed: Annotated[int, Form(ge=0, le=2**31 - 1)] = 0,
    embeddings: Annotated[bool, Form()] = False,
    criterion: Annotated[str, Form(max_length=128)] = "",
) -> schemas.ModelRead:
    data = await file.read(service.CSV_MAX_BYTES + 1)
    row = await service.request_training_from_csv(
        session,
        _blobs(request),
        principal,
        item_id=item_id,
        item_version_id=item_version_id,
        data=data,
        options=schemas.TrainOptions(
            folds=folds, confidence=confidence, seed=seed, embeddings=embeddings
        ),
        criterion=criterion,
    )
    return schemas.ModelRead.model_validate(row)


@router.get(
    "/models/{model_id}",
    response_model=schemas.ModelDetail,
    summary="A model: progress, cross-validated metrics, its verdict against the gate",
    responses=error_responses(*_MODEL),
)
async def read_model(
    session: SessionDep, principal: PrincipalDep, model_id: uuid.UUID
) -> schemas.ModelDetail:
    return await service.model_detail(session, principal, model_id)


@router.post(
    "/models/{model_id}/activate",
    response_model=schemas.ModelDetail,
    summary="Let the model score its item live; 409 with every check when the gate fails",
    responses=error_responses(
        *_MODEL, problems.GateFailed, problems.ModelStateConflict, ModelVersionMismatch
    ),
)
async def activate(
    session: SessionDep, principal: PrincipalDep, model_id: uuid.UUID
) -> schemas.ModelDetail:
    await service.activate(session, principal, model_id)
    return await service.model_detail(session, principal, model_id)


@router.post(
    "/models/{model_id}/retire",
    response_model=schemas.ModelDetail,
    summary="Stop an active model; its item's answers go to people again (audited)",
    responses=error_responses(*_MODEL, problems.ModelStateConflict),
)
async def retire(
    session: SessionDep, principal: PrincipalDep, model_id: uuid.UUID
) -> schemas.ModelDetail:
    await service.retire(session, principal, model_id)
    return await service.model_detail(session, principal, model_id)


@router.get(
    "/models/{model_id}/agreement",
    response_model=schemas.LiveAgreement,
    summary="Live agreement of the model with people on the answers both scored",
    responses=error_responses(*_MODEL),
)
async def agreement(
    session: SessionDep, principal: PrincipalDep, model_id: uuid.UUID
) -> schemas.LiveAgreement:
    return await service.live_agreement(session, principal, model_id)


@router.get(
    "/models/{model_id}/decisions",
    response_model=list[schemas.DecisionRead],
    summary="What the model did with live answers, newest first, with its reasons",
    responses=error_responses(*_MODEL),
)
async def decisions(
    session: SessionDep,
    principal: PrincipalDep,
    model_id: uuid.UUID,
    route: Literal["auto", "check", "human"] | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[schemas.DecisionRead]:
    return await service.list_decisions(session, principal, model_id, route=route, limit=limit)


@router.post(
    "/models/{model_id}/explain",
    response_model=schemas.ExplanationRead,
    summary="Explain the score the model gives a text (admins)",
    responses=error_responses(
        *_MODEL, problems.ModelStateConflict, ModelCorrupt, ModelVersionMismatch
    ),
)
async def explain_text(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    model_id: uuid.UUID,
    body: schemas.ExplainText,
) -> schemas.ExplanationRead:
    return await service.explain_text(session, _blobs(request), principal, model_id, body.text)


@router.get(
    "/leases/{lease_id}/explanation",
    response_model=schemas.ExplanationRead,
    summary="The model's explanation of a leased answer, for its rater and the plan's leads",
    responses=error_responses(
        *CREDENTIAL_ERRORS,
        LeaseNotFound,
        RatingNotAssigned,
        problems.NoModelForItem,
        ModelCorrupt,
        ModelVersionMismatch,
    ),
)
async def explain_lease(
    request: Request, session: SessionDep, principal: PrincipalDep, lease_id: uuid.UUID
) -> schemas.ExplanationRead:
    return await service.explain_lease(session, _blobs(request), principal, lease_id)


@router.post(
    "/route",
    response_model=schemas.RouteReply,
    status_code=status.HTTP_202_ACCEPTED,
    summary="Route every answer waiting for a person through the active models now (admins)",
    responses=error_responses(*_ADMIN),
)
async def route_now(session: SessionDep, principal: PrincipalDep) -> schemas.RouteReply:
    return schemas.RouteReply(routed=await service.queue_routing(session, principal))
