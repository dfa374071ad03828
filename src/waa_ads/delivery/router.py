"""HTTP and WebSocket routes of the attempt engine: candidates (with an attempt
credential) and proctors (signed in, assigned to the administration)."""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Header, Request, UploadFile, WebSocket, status
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.websockets import WebSocketDisconnect

from waa_ads.auth.deps import PrincipalDep
from waa_ads.content.media.check import content_address
from waa_ads.core.deps import SessionDep, SettingsDep, WriteSessionDep
from waa_ads.core.errors import (
    PayloadTooLarge,
    TooManyRequests,
    Unprocessable,
    error_responses,
    problem_response,
)
from waa_ads.delivery import schemas, service
from waa_ads.delivery.models import Attempt

router = APIRouter(prefix="/attempts", tags=["attempts"])
proctor_router = APIRouter(tags=["proctoring"])

CREDENTIAL_HEADER = "X-Attempt-Token"
Credential = Annotated[
    str | None, Header(alias=CREDENTIAL_HEADER, description="The attempt's credential.")
]


async def _attempt(
    session: SessionDep,
    settings: SettingsDep,
    attempt_id: uuid.UUID,
    credential: str | None,
    *,
    share_lock: bool = False,
) -> Attempt:
    return await service.attempt_for_credential(
        session, settings, attempt_id, credential, share_lock=share_lock
    )


@router.post(
    "",
    response_model=schemas.StartResponse,
    status_code=status.HTTP_201_CREATED,
    summary="Start (or resume) an attempt with an access code",
    responses={
        200: {"model": schemas.StartResponse, "description": "Resumed."},
        **error_responses(404, 409, 410),
    },
)
async def start(
    session: SessionDep, settings: SettingsDep, body: schemas.StartRequest
) -> JSONResponse:
    started = await service.start(session, settings, body.access_code)
    payload = schemas.StartResponse(
        attempt=service.attempt_out(started.attempt),
        credential=started.credential,
        resumed=not started.created,
    )
    return JSONResponse(
        payload.model_dump(mode="json"),
        status_code=status.HTTP_201_CREATED if started.created else status.HTTP_200_OK,
    )


@router.get(
    "/{attempt_id}",
    response_model=dict[str, Any],
    summary="State, remaining seconds, and the reachable items (never an answer key)",
    responses=error_responses(404),
)
async def get_attempt(
    session: WriteSessionDep,
    settings: SettingsDep,
    attempt_id: uuid.UUID,
    credential: Credential = None,
) -> dict[str, Any]:
    attempt = await _attempt(session, settings, attempt_id, credential)
    return await service.view(session, settings, attempt)


@router.put(
    "/{attempt_id}/responses/{item_ref}",
    response_model=schemas.SaveResponse,
    response_model_exclude_none=False,
    summary="Autosave a response (the highest seq wins; 2xx only once it is durable)",
    responses=error_responses(404, 409, 410),
)
async def save(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    attempt_id: uuid.UUID,
    item_ref: str,
    body: schemas.SaveRequest,
    credential: Credential = None,
) -> Any:
    attempt = await _attempt(session, settings, attempt_id, credential, share_lock=True)
    result = await service.save_response(
        session,
        settings,
        attempt,
        item_ref,
        seq=body.seq,
        value=body.value,
        flagged=body.flagged,
        time_spent_ms=body.time_spent_ms,
    )
    return _save_reply(request, result)


REFUSED = {
    "late": (
        410,
        "deadline-passed",
        "Deadline passed",
        "the time for this attempt is over; your answer was kept but does not count",
    ),
    "paused": (
        409,
        "attempt-paused",
        "Attempt paused",
        "the attempt is paused; your answer was kept but is not the current one",
    ),
    "closed": (
        409,
        "item-closed",
        "Item closed",
        "linear navigation: only the current item can be answered; your answer was kept",
    ),
}


def _save_reply(request: Request, result: service.SaveResult) -> Any:
    """The reply to a save. A refused save is answered with a problem, but returned (not
    raised) so that its history row still commits."""
    if result.status in REFUSED:
        status_code, code, title, detail = REFUSED[result.status]
        return problem_response(
            request,
            status=status_code,
            code=code,
            title=title,
            detail=detail,
            current_seq=result.current_seq,
        )
    if result.accepted:
        return schemas.SaveResponse(accepted=True, seq=result.seq, current_seq=result.current_seq)
    return schemas.SaveResponse(accepted=False, current_seq=result.current_seq)


@router.post(
    "/{attempt_id}/responses/{item_ref}/file",
    response_model=schemas.SaveResponse,
    summary="Upload a file as the response to a file-upload item",
    responses=error_responses(404, 409, 410, 413),
)
async def upload(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    attempt_id: uuid.UUID,
    item_ref: str,
    seq: Annotated[int, Form(ge=1)],
    file: Annotated[UploadFile, File()],
    credential: Credential = None,
) -> Any:
    attempt = await _attempt(session, settings, attempt_id, credential, share_lock=True)
    data = await file.read(settings.response_upload_max_bytes + 1)
    if len(data) > settings.response_upload_max_bytes:
        raise PayloadTooLarge(f"the file is larger than {settings.response_upload_max_bytes} bytes")
    if not data:
        raise Unprocessable("the file is empty")
    content_type = (file.content_type or "application/octet-stream").split(";")[0].strip()
    value = {
        "sha256": content_address(data),
        "name": (file.filename or "upload")[:200],
        "content_type": content_type,
        "size": len(data),
    }
    # Validate the response shape (accepted types) before storing any bytes.
    item = await service.item_definition(
        session,
        (await service.form_item(session, attempt, item_ref)).item_version_id,
    )
    service.check_upload(item, value)
    await request.app.state.blobs.put(data, content_type)
    result = await service.save_response(session, settings, attempt, item_ref, seq=seq, value=value)
    return _save_reply(request, result)


@router.post(
    "/{attempt_id}/advance",
    response_model=dict[str, Any],
    summary="Linear navigation: move on to the next item",
    responses=error_responses(404, 409, 410),
)
async def advance(
    session: SessionDep, settings: SettingsDep, attempt_id: uuid.UUID, credential: Credential = None
) -> dict[str, Any]:
    attempt = await _attempt(session, settings, attempt_id, credential)
    return await service.advance(session, settings, attempt)


@router.post(
    "/{attempt_id}/submit",
    response_model=dict[str, Any],
    summary="Submit the attempt (final; submitting again returns the same outcome)",
    responses=error_responses(404, 409),
)
async def submit(
    session: SessionDep, settings: SettingsDep, attempt_id: uuid.UUID, credential: Credential = None
) -> dict[str, Any]:
    attempt = await _attempt(session, settings, attempt_id, credential)
    await service.submit(session, settings, attempt)
    return service.attempt_out(attempt)


@router.post(
    "/{attempt_id}/break",
    response_model=dict[str, Any],
    summary="Take a break, where the assessment allows it",
    responses=error_responses(403, 404, 409),
)
async def take_break(
    session: SessionDep, settings: SettingsDep, attempt_id: uuid.UUID, credential: Credential = None
) -> dict[str, Any]:
    attempt = await _attempt(session, settings, attempt_id, credential)
    await service.take_break(session, settings, attempt)
    return service.attempt_out(attempt)


@router.post(
    "/{attempt_id}/break/end",
    response_model=dict[str, Any],
    summary="Come back from a break",
    responses=error_responses(404, 409),
)
async def end_break(
    session: SessionDep, settings: SettingsDep, attempt_id: uuid.UUID, credential: Credential = None
) -> dict[str, Any]:
    attempt = await _attempt(session, settings, attempt_id, credential)
    await service.end_break(session, settings, attempt)
    return service.attempt_out(attempt)


async def _rate_limit_events(
    request: Request, session: SessionDep, attempt: Attempt, count: int
) -> None:
    settings = request.app.state.settings
    limiter = request.app.state.auth.limiter
    window = await limiter.hit(f"events:{attempt.id}", 60, cost=count, session=session)
    if window.count > settings.integrity_events_per_minute:
        raise TooManyRequests(
            "too many integrity events from this attempt; slow down",
            extra={"headers": {"Retry-After": str(window.retry_after_s)}},
        )


@router.post(
    "/{attempt_id}/events",
    response_model=schemas.EventsAccepted,
    summary="Report browser integrity events (focus lost, copy/paste, fullscreen exit...)",
    responses=error_responses(404, 429),
)
async def events(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    attempt_id: uuid.UUID,
    body: schemas.EventBatch,
    credential: Credential = None,
) -> schemas.EventsAccepted:
    attempt = await _attempt(session, settings, attempt_id, credential)
    await _rate_limit_events(request, session, attempt, len(body.events))
    accepted = await service.record_events(session, attempt, [e.model_dump() for e in body.events])
    return schemas.EventsAccepted(accepted=accepted)


@router.websocket("/{attempt_id}/ws")
async def events_socket(websocket: WebSocket, attempt_id: uuid.UUID, token: str = "") -> None:
    """The player's event channel: send ``{"kind", "client_time", "data"}`` messages; each
    is answered ``{"ok": true}`` or ``{"ok": false, "error": ...}``. The credential comes as
    ``?token=`` (browsers cannot set headers on WebSockets)."""
    app = websocket.app
    db = app.state.db
    settings = app.state.settings
    async with db.transaction(write=False) as session:
        try:
            attempt = await service.attempt_for_credential(session, settings, attempt_id, token)
        except Exception:
            await websocket.close(code=4404)
            return
    await websocket.accept()
    limiter = app.state.auth.limiter
    try:
        while True:
            raw = await websocket.receive_text()
            try:
                event = schemas.BrowserEvent.model_validate(json.loads(raw))
            except (ValueError, ValidationError) as exc:
                await websocket.send_json({"ok": False, "error": str(exc)[:300]})
                continue
            async with db.transaction() as session:
                window = await limiter.hit(f"events:{attempt.id}", 60, session=session)
                if window.count <= settings.integrity_events_per_minute:
                    await service.record_events(session, attempt, [event.model_dump()])
            if window.count > settings.integrity_events_per_minute:
                await websocket.send_json(
                    {"ok": False, "error": "rate limited", "retry_after_s": window.retry_after_s}
                )
                continue
            await websocket.send_json({"ok": True})
    except WebSocketDisconnect:
        return


# --- proctors ----------------------------------------------------------------------------


@proctor_router.get(
    "/administrations/{administration_id}/attempts",
    response_model=list[schemas.AttemptSummary],
    summary="The attempts of an administration (its proctors and admins)",
    responses=error_responses(401, 404),
)
async def list_attempts(
    session: SessionDep, principal: PrincipalDep, administration_id: uuid.UUID
) -> list[schemas.AttemptSummary]:
    rows = await service.list_attempts_for_proctor(session, principal, administration_id)
    return [
        schemas.AttemptSummary(
            id=str(a.id),
            state=a.state,
            number=a.number,
            candidate_id=str(a.candidate_id),
            started_at=a.started_at.isoformat() if a.started_at else None,
            deadline_at=a.deadline_at.isoformat() if a.deadline_at else None,
            remaining_s=service.remaining(a),
            ended_at=a.ended_at.isoformat() if a.ended_at else None,
            end_reason=a.end_reason,
            pause_kind=a.pause_kind,
        )
        for a in rows
    ]


def _proctor_route(verb: str, summary: str) -> None:
    async def action(
        session: SessionDep,
        settings: SettingsDep,
        principal: PrincipalDep,
        attempt_id: uuid.UUID,
        body: schemas.ProctorAction,
    ) -> dict[str, Any]:
        attempt = await service.proctor_action(
            session, settings, principal, attempt_id, verb, body.reason
        )
        return service.attempt_out(attempt)

    proctor_router.add_api_route(
        f"/attempts/{{attempt_id}}/{verb}",
        action,
        methods=["POST"],
        response_model=dict[str, Any],
        summary=summary,
        responses=error_responses(401, 404, 409),
        name=f"proctor_{verb}",
    )


_proctor_route("pause", "Pause an attempt (assigned proctors; the clock stops)")
_proctor_route("resume", "Resume a paused attempt (assigned proctors)")
_proctor_route("terminate", "Terminate an attempt (assigned proctors); it goes to scoring")


@proctor_router.post(
    "/attempts/{attempt_id}/extend",
    response_model=dict[str, Any],
    summary="Give an attempt more time (assigned proctors)",
    responses=error_responses(401, 404, 409),
)
async def extend(
    session: SessionDep,
    settings: SettingsDep,
    principal: PrincipalDep,
    attempt_id: uuid.UUID,
    body: schemas.ExtendAction,
) -> dict[str, Any]:
    attempt = await service.proctor_action(
        session, settings, principal, attempt_id, "extend", body.reason, body.extra_s
    )
    return service.attempt_out(attempt)
