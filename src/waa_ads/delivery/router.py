"""HTTP and WebSocket routes of the attempt engine: candidates (with an attempt
credential) and proctors (signed in, assigned to the administration).

Each route names its reply model and the problem codes it may answer with
(``delivery/errors.py``); the candidate's routes come first."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import Annotated, Any

import structlog
from fastapi import (
    APIRouter,
    File,
    Form,
    Header,
    Request,
    Response,
    UploadFile,
    WebSocket,
    status,
)
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.websockets import WebSocketDisconnect

from waa_ads.assessments import code_limits
from waa_ads.assessments.errors import AccessCodeRateLimited, AdministrationNotFound
from waa_ads.auth.deps import PrincipalDep
from waa_ads.auth.errors import CREDENTIAL_ERRORS
from waa_ads.content.media.check import content_address
from waa_ads.core import i18n
from waa_ads.core import live as live_bus
from waa_ads.core.deps import DatabaseDep, SessionDep, SettingsDep, WriteSessionDep
from waa_ads.core.errors import DomainError, error_responses, problem_response
from waa_ads.core.safejson import UnsafeJson, parse_bounded
from waa_ads.delivery import feedback, live, monitor, schemas, service
from waa_ads.delivery.autosave_edge import save_reply
from waa_ads.delivery.errors import (
    AccessCodeInvalid,
    AdministrationCancelled,
    AdministrationClosed,
    AdministrationNotOpen,
    AttemptChanged,
    AttemptEnded,
    AttemptNotFound,
    AttemptNotPaused,
    AttemptNotStarted,
    AttemptPaused,
    AttemptsExhausted,
    BreaksExhausted,
    BreaksNotAllowed,
    DeadlinePassed,
    EventsRateLimited,
    IllegalTransition,
    ItemClosed,
    ItemNotOnForm,
    LastItem,
    LocaleNotOffered,
    NotOnBreak,
    PositionOutOfRange,
    ResponseInvalid,
    UploadEmpty,
    UploadTooLarge,
)
from waa_ads.delivery.models import Attempt

router = APIRouter(prefix="/attempts", tags=["attempts"])
proctor_router = APIRouter(tags=["proctoring"])

CREDENTIAL_HEADER = "X-Attempt-Token"
# One integrity event per WebSocket message: its data is at most 2,000 characters.
WS_MAX_MESSAGE_BYTES = 16_384
WS_MAX_DEPTH = 16

log = structlog.get_logger(__name__)
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
    attempt = await service.attempt_for_credential(
        session, settings, attempt_id, credential, share_lock=share_lock
    )
    # The candidate's problems (their titles) in the attempt's language, which may differ
    # from the browser's. (The autosave fast path reads no attempt row and skips this.)
    if attempt.locale is not None:
        i18n.set_locale(attempt.locale)
    return attempt


#: Why a proctor's action on an attempt may be refused.
_PROCTOR_ERRORS = (*CREDENTIAL_ERRORS, AttemptNotFound, IllegalTransition, AttemptChanged)


def _problem(request: Request, error: DomainError) -> JSONResponse:
    """A domain error rendered as the problem the error handler would send."""
    return problem_response(
        request,
        status=error.status_code,
        code=error.code,
        title=error.title,
        detail=error.detail,
        **error.extra,
    )


# --- candidates ------------------------------------------------------------------------------


@router.post(
    "",
    response_model=schemas.StartResponse,
    status_code=status.HTTP_201_CREATED,
    summary="Start (or resume) an attempt with an access code",
    responses={
        200: {"model": schemas.StartResponse, "description": "Resumed."},
        **error_responses(
            AccessCodeInvalid,
            AdministrationCancelled,
            AdministrationNotOpen,
            AttemptsExhausted,
            AttemptChanged,
            AdministrationClosed,
            AccessCodeRateLimited,
        ),
    },
)
async def start(
    request: Request, session: SessionDep, settings: SettingsDep, body: schemas.StartRequest
) -> JSONResponse:
    """Unknown codes count against the client address, with those of the lookup and the
    scorecard download: past ``WAA_ACCESS_CODE_MAX_FAILURES_PER_CLIENT`` in
    ``WAA_ACCESS_CODE_FAILURE_WINDOW_S`` the address is answered 429 until the window ends."""
    accept_language = request.headers.get("accept-language")
    attempts = code_limits.CodeAttempts.of(request, settings)
    try:
        started = await service.start(
            session, settings, body.access_code, accept_language=accept_language, guard=attempts
        )
    except AccessCodeInvalid as unknown:
        return await attempts.count_failure(session, request, unknown)
    spoken = started.languages or await service.languages(
        session, started.attempt, accept_language=accept_language
    )
    payload = schemas.StartResponse(
        attempt=service.attempt_read(started.attempt),
        credential=started.credential,
        resumed=not started.created,
        locale=spoken.locale,
        locales=spoken.locales,
    )
    return JSONResponse(
        payload.model_dump(mode="json"),
        status_code=status.HTTP_201_CREATED if started.created else status.HTTP_200_OK,
    )


@router.get(
    "/{attempt_id}",
    response_model=schemas.AttemptView,
    # A rendered item leaves out what does not apply to it (see content.schemas).
    response_model_exclude_unset=True,
    summary="State, remaining seconds, and the reachable items (never an answer key)",
    responses=error_responses(AttemptNotFound),
)
async def get_attempt(
    session: WriteSessionDep,
    settings: SettingsDep,
    attempt_id: uuid.UUID,
    credential: Credential = None,
) -> schemas.AttemptView:
    attempt = await _attempt(session, settings, attempt_id, credential)
    shown = await service.view(session, settings, attempt)
    return await feedback.with_feedback(session, settings, attempt, shown)


_SAVE_ERRORS = (
    AttemptNotFound,
    ItemNotOnForm,
    ResponseInvalid,
    AttemptPaused,
    ItemClosed,
    AttemptNotStarted,
    DeadlinePassed,
)


@router.put(
    "/{attempt_id}/responses/{item_ref}",
    response_model=schemas.SaveResponse,
    response_model_exclude_none=False,
    summary="Autosave a response (the highest seq wins; 2xx only once it is durable)",
    responses=error_responses(*_SAVE_ERRORS),
)
async def save(
    request: Request,
    db: DatabaseDep,
    settings: SettingsDep,
    attempt_id: uuid.UUID,
    item_ref: str,
    body: schemas.SaveRequest,
    credential: Credential = None,
) -> schemas.SaveResponse | Response:
    result = await service.autosave(
        db,
        settings,
        attempt_id,
        credential,
        item_ref,
        seq=body.seq,
        value=body.value,
        flagged=body.flagged,
        time_spent_ms=body.time_spent_ms,
    )
    if result.refusal is None:
        if result.accepted:
            live.saved(db, attempt_id, item_ref)
        # The reply model's own JSON, written directly: no validation of what we built.
        return Response(save_reply(result), media_type="application/json")
    return _save_reply(request, result)


def _save_reply(
    request: Request, result: service.SaveResult
) -> schemas.SaveResponse | JSONResponse:
    """The reply to a save. A refused save is answered with its problem, returned (not
    raised) so that its history row still commits."""
    refusal = result.refusal
    if refusal is not None:
        return _problem(request, refusal)
    return schemas.SaveResponse(
        accepted=result.accepted,
        seq=result.seq if result.accepted else None,
        current_seq=result.current_seq,
    )


@router.post(
    "/{attempt_id}/responses/{item_ref}/file",
    response_model=schemas.SaveResponse,
    summary="Upload a file as the response to a file-upload item",
    responses=error_responses(*_SAVE_ERRORS, UploadEmpty, UploadTooLarge),
)
async def upload(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    attempt_id: uuid.UUID,
    item_ref: str,
    seq: Annotated[int, Form(ge=1, le=2**53)],
    file: Annotated[UploadFile, File()],
    credential: Credential = None,
) -> schemas.SaveResponse | JSONResponse:
    attempt = await _attempt(session, settings, attempt_id, credential, share_lock=True)
    data = await file.read(settings.response_upload_max_bytes + 1)
    if len(data) > settings.response_upload_max_bytes:
        raise UploadTooLarge(f"the file is larger than {settings.response_upload_max_bytes} bytes")
    if not data:
        raise UploadEmpty("the file is empty")
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
    response_model=schemas.AdvanceResponse,
    summary="Linear navigation: move on to the next item",
    responses=error_responses(
        AttemptNotFound, AttemptPaused, AttemptEnded, AttemptNotStarted, LastItem, AttemptChanged
    ),
)
async def advance(
    session: SessionDep, settings: SettingsDep, attempt_id: uuid.UUID, credential: Credential = None
) -> schemas.AdvanceResponse:
    attempt = await _attempt(session, settings, attempt_id, credential)
    moved = await service.advance(session, settings, attempt)
    live.navigated(session, attempt, moved.current_position)
    return moved


@router.put(
    "/{attempt_id}/position",
    response_model=schemas.PositionResponse,
    summary="Record the question open, so a reload or another device opens it again",
    responses=error_responses(
        AttemptNotFound,
        AttemptEnded,
        AttemptNotStarted,
        PositionOutOfRange,
        ItemClosed,
    ),
)
async def set_position(
    session: SessionDep,
    settings: SettingsDep,
    attempt_id: uuid.UUID,
    body: schemas.PositionRequest,
    credential: Credential = None,
) -> schemas.PositionResponse:
    attempt = await _attempt(session, settings, attempt_id, credential)
    before = attempt.current_position
    recorded = await service.set_position(session, settings, attempt, body.position)
    if recorded.current_position != before:
        live.navigated(session, attempt, recorded.current_position)
    return recorded


@router.post(
    "/{attempt_id}/submit",
    response_model=schemas.AttemptRead,
    summary="Submit the attempt (final; submitting again returns the same outcome)",
    responses=error_responses(AttemptNotFound, AttemptPaused, IllegalTransition, AttemptChanged),
)
async def submit(
    session: SessionDep, settings: SettingsDep, attempt_id: uuid.UUID, credential: Credential = None
) -> schemas.AttemptRead:
    attempt = await _attempt(session, settings, attempt_id, credential)
    await service.submit(session, settings, attempt)
    return service.attempt_read(attempt)


@router.put(
    "/{attempt_id}/locale",
    response_model=schemas.AttemptView,
    response_model_exclude_unset=True,
    summary="Switch the attempt's language (one the administration offers); the state in it",
    responses=error_responses(AttemptNotFound, AttemptEnded, LocaleNotOffered),
)
async def switch_locale(
    session: SessionDep,
    settings: SettingsDep,
    attempt_id: uuid.UUID,
    body: schemas.LocaleRequest,
    credential: Credential = None,
) -> schemas.AttemptView:
    attempt = await _attempt(session, settings, attempt_id, credential)
    await service.switch_locale(session, settings, attempt, body.locale)
    i18n.set_locale(attempt.locale)
    shown = await service.view(session, settings, attempt)
    return await feedback.with_feedback(session, settings, attempt, shown)


@router.post(
    "/{attempt_id}/break",
    response_model=schemas.AttemptRead,
    summary="Take a break, where the assessment allows it",
    responses=error_responses(
        AttemptNotFound, BreaksNotAllowed, BreaksExhausted, IllegalTransition, AttemptChanged
    ),
)
async def take_break(
    session: SessionDep, settings: SettingsDep, attempt_id: uuid.UUID, credential: Credential = None
) -> schemas.AttemptRead:
    attempt = await _attempt(session, settings, attempt_id, credential)
    await service.take_break(session, settings, attempt)
    return service.attempt_read(attempt)


@router.post(
    "/{attempt_id}/break/end",
    response_model=schemas.AttemptRead,
    summary="Come back from a break",
    responses=error_responses(AttemptNotFound, NotOnBreak, IllegalTransition, AttemptChanged),
)
async def end_break(
    session: SessionDep, settings: SettingsDep, attempt_id: uuid.UUID, credential: Credential = None
) -> schemas.AttemptRead:
    attempt = await _attempt(session, settings, attempt_id, credential)
    await service.end_break(session, settings, attempt)
    return service.attempt_read(attempt)


async def _rate_limit_events(
    request: Request, session: SessionDep, attempt: Attempt, count: int
) -> None:
    settings = request.app.state.settings
    limiter = request.app.state.auth.limiter
    window = await limiter.hit(f"events:{attempt.id}", 60, cost=count, session=session)
    if window.count > settings.integrity_events_per_minute:
        raise EventsRateLimited(
            "too many integrity events from this attempt; slow down",
            extra={"headers": {"Retry-After": str(window.retry_after_s)}},
        )


@router.post(
    "/{attempt_id}/events",
    response_model=schemas.EventsAccepted,
    summary="Report browser integrity events (focus lost, copy/paste, fullscreen exit...)",
    responses=error_responses(AttemptNotFound, EventsRateLimited),
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
    accepted = await service.record_events(session, attempt, body.events)
    live.integrity(session, attempt, [event.kind for event in body.events])
    return schemas.EventsAccepted(accepted=accepted)


@router.websocket("/{attempt_id}/ws")
async def events_socket(websocket: WebSocket, attempt_id: uuid.UUID, token: str = "") -> None:
    """The player's event channel: send ``{"kind", "client_time", "data"}`` messages; each
    is answered ``{"ok": true}`` or ``{"ok": false, "code": ..., "error": ...}`` (a binary,
    malformed, over-nested or unstorable message included). A message over
    ``WS_MAX_MESSAGE_BYTES`` closes the socket with 1009, a failure of the server with 1011.
    The credential comes as ``?token=`` (browsers cannot set headers on WebSockets).

    The server also writes to the socket, unasked: ``{"type": "attempt", "event", "state",
    "paused", "pause_kind", "deadline_at", "remaining_s"}`` whenever the attempt's state or
    time changes (a proctor's pause, resume, extension or termination, a break, the end),
    on whichever process the change happened (``delivery/live.py``)."""
    app = websocket.app
    db = app.state.db
    settings = app.state.settings
    try:
        async with db.transaction(write=False) as session:
            attempt = await service.attempt_for_credential(session, settings, attempt_id, token)
    except Exception:
        # Accepted, then closed: a close before accept() reaches a browser as a failed
        # handshake (1006) and the player could not tell a bad credential from the network.
        # The transaction has ended first: nothing of the database is held while the
        # socket closes (and the server, shutting down, cancels what is left).
        await websocket.accept()
        await websocket.close(code=4404)
        return
    lock = asyncio.Lock()

    async def send(message: dict[str, object]) -> None:
        # Replies and pushed news share the socket: one frame at a time.
        async with lock:
            await websocket.send_json(message)

    async with contextlib.AsyncExitStack() as stack:
        bus = live_bus.current()
        # Subscribed before the socket opens: a change made once the player is connected
        # is never missed.
        news = (
            await stack.enter_async_context(bus.subscribe(live.attempt_channel(attempt.id)))
            if bus is not None
            else None
        )
        await websocket.accept()
        if news is not None:
            forwarder = asyncio.create_task(_forward(news, send))
            stack.callback(forwarder.cancel)
        limiter = app.state.auth.limiter
        try:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    return
                raw = message.get("text")
                if raw is None:
                    await send(
                        {"ok": False, "code": "not-text", "error": "send JSON as a text message"}
                    )
                    continue
                try:
                    parsed = parse_bounded(
                        raw, max_bytes=WS_MAX_MESSAGE_BYTES, max_depth=WS_MAX_DEPTH
                    )
                    event = schemas.BrowserEvent.model_validate(parsed)
                except UnsafeJson as exc:
                    if exc.code == "too-large":
                        await websocket.close(code=status.WS_1009_MESSAGE_TOO_BIG, reason=str(exc))
                        return
                    await send({"ok": False, "code": exc.code, "error": str(exc)})
                    continue
                except ValidationError as exc:
                    await send({"ok": False, "code": "invalid-event", "error": str(exc)[:300]})
                    continue
                async with db.transaction() as session:
                    window = await limiter.hit(f"events:{attempt.id}", 60, session=session)
                    if window.count <= settings.integrity_events_per_minute:
                        await service.record_events(session, attempt, [event])
                        live.integrity(session, attempt, [event.kind])
                if window.count > settings.integrity_events_per_minute:
                    await send(
                        {
                            "ok": False,
                            "error": "rate limited",
                            "retry_after_s": window.retry_after_s,
                        }
                    )
                    continue
                await send({"ok": True})
        except WebSocketDisconnect:
            return
        except Exception:
            # Whatever failed, the player gets a close frame it can reconnect after.
            log.exception("events_socket_failed", attempt_id=str(attempt_id))
            with contextlib.suppress(Exception):
                await websocket.close(code=status.WS_1011_INTERNAL_ERROR)


async def _forward(news: live_bus.Subscription, send: Any) -> None:
    """Hand the attempt's live news to its candidate's socket until it closes."""
    with contextlib.suppress(Exception):
        async for _, message in news:
            await send(message)


# --- proctors ----------------------------------------------------------------------------


@proctor_router.get(
    "/administrations/{administration_id}/attempts",
    response_model=list[schemas.AttemptSummary],
    summary="The attempts of an administration (its proctors and admins)",
    responses=error_responses(*CREDENTIAL_ERRORS, AdministrationNotFound),
)
async def list_attempts(
    session: SessionDep, principal: PrincipalDep, administration_id: uuid.UUID
) -> list[schemas.AttemptSummary]:
    rows = await service.list_attempts_for_proctor(session, principal, administration_id)
    return [service.attempt_summary(a) for a in rows]


@proctor_router.get(
    "/administrations/{administration_id}/live",
    response_model=schemas.LiveBoard,
    summary="What its proctors watch: every attempt, its question, time and integrity events",
    responses=error_responses(*CREDENTIAL_ERRORS, AdministrationNotFound),
)
async def live_board(
    session: SessionDep, principal: PrincipalDep, administration_id: uuid.UUID
) -> schemas.LiveBoard:
    return await monitor.board(session, principal, administration_id)


@proctor_router.post(
    "/attempts/{attempt_id}/pause",
    response_model=schemas.AttemptRead,
    summary="Pause an attempt (assigned proctors; the clock stops)",
    responses=error_responses(*_PROCTOR_ERRORS),
)
async def pause(
    session: SessionDep,
    settings: SettingsDep,
    principal: PrincipalDep,
    attempt_id: uuid.UUID,
    body: schemas.PauseRequest,
) -> schemas.AttemptRead:
    attempt = await service.pause(session, settings, principal, attempt_id, reason=body.reason)
    return service.attempt_read(attempt)


@proctor_router.post(
    "/attempts/{attempt_id}/resume",
    response_model=schemas.AttemptRead,
    summary="Resume a paused attempt (assigned proctors)",
    responses=error_responses(*_PROCTOR_ERRORS, AttemptNotPaused),
)
async def resume(
    session: SessionDep,
    settings: SettingsDep,
    principal: PrincipalDep,
    attempt_id: uuid.UUID,
    body: schemas.ResumeRequest,
) -> schemas.AttemptRead:
    attempt = await service.resume(session, settings, principal, attempt_id, reason=body.reason)
    return service.attempt_read(attempt)


@proctor_router.post(
    "/attempts/{attempt_id}/terminate",
    response_model=schemas.AttemptRead,
    summary="Terminate an attempt (assigned proctors); it goes to scoring",
    responses=error_responses(*_PROCTOR_ERRORS),
)
async def terminate(
    session: SessionDep,
    settings: SettingsDep,
    principal: PrincipalDep,
    attempt_id: uuid.UUID,
    body: schemas.TerminateRequest,
) -> schemas.AttemptRead:
    attempt = await service.terminate(session, settings, principal, attempt_id, reason=body.reason)
    return service.attempt_read(attempt)


@proctor_router.post(
    "/attempts/{attempt_id}/extend",
    response_model=schemas.AttemptRead,
    summary="Give an attempt more time (assigned proctors)",
    responses=error_responses(*CREDENTIAL_ERRORS, AttemptNotFound, AttemptEnded, AttemptChanged),
)
async def extend(
    session: SessionDep,
    settings: SettingsDep,
    principal: PrincipalDep,
    attempt_id: uuid.UUID,
    body: schemas.ExtendRequest,
) -> schemas.AttemptRead:
    attempt = await service.extend(
        session, settings, principal, attempt_id, extra_s=body.extra_s, reason=body.reason
    )
    live.changed(session, attempt, "extend")
    return service.attempt_read(attempt)
