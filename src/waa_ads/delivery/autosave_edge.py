"""The autosave route's short way through the HTTP stack.

Autosave is the request that decides how many candidates a process carries, and most of
its cost was the framework around one statement (routing over every route, dependency
resolution, response validation). :class:`AutosaveShortcut` sits inside the project's
middlewares (request id and access log, body size limit, text repair: they all still run)
and in front of FastAPI's routing. For ``PUT /api/v1/attempts/{id}/responses/{ref}`` with
a JSON body it validates the body with the route's own model (:class:`SaveRequest`) and
tries :func:`service.save_response_at_once`. When that decides (an accepted or stale save,
committed), it answers with the route's reply. Anything else (another dialect, a body the
model refuses, a credential or state the one statement does not settle) goes on to the
route itself with the body replayed, which answers exactly as it always has; the attempt
to go the short way wrote nothing. A database error propagates as from the route.
"""

from __future__ import annotations

import uuid

from pydantic import ValidationError
from starlette.types import ASGIApp, Receive, Scope, Send

from waa_ads.core.asgi import read_body, replay
from waa_ads.delivery import live, schemas, service

PREFIX = "/api/v1/attempts/"
_CREDENTIAL = b"x-attempt-token"
_JSON_TYPES = (b"application/json",)


def save_reply(result: service.SaveResult) -> bytes:
    """The JSON of :class:`schemas.SaveResponse` for an accepted or stale save."""
    seq = b"%d" % result.seq if result.accepted else b"null"
    accepted = b"true" if result.accepted else b"false"
    return b'{"accepted":%s,"seq":%s,"current_seq":%d}' % (accepted, seq, result.current_seq)


class AutosaveShortcut:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "PUT"
            or not scope["path"].startswith(PREFIX)
        ):
            await self.app(scope, receive, send)
            return
        parts = scope["path"][len(PREFIX) :].split("/")
        state = getattr(scope.get("app"), "state", None)
        db = getattr(state, "db", None)
        if (
            len(parts) != 3
            or parts[1] != "responses"
            or not parts[2]
            or db is None
            or db.dialect_name != "postgresql"
        ):
            await self.app(scope, receive, send)
            return
        credential: str | None = None
        json_body = False
        for name, value in scope["headers"]:
            if name == _CREDENTIAL and credential is None:
                credential = value.decode("latin-1")
            elif name == b"content-type":
                json_body = value.split(b";", 1)[0].strip().lower() in _JSON_TYPES
        body, pending = await read_body(receive)
        replayed = replay(body, pending, receive)
        if not json_body or pending is not None:
            await self.app(scope, replayed, send)
            return
        try:
            attempt_id = uuid.UUID(parts[0])
            request = schemas.SaveRequest.model_validate_json(body)
        except (ValueError, ValidationError):
            await self.app(scope, replayed, send)
            return
        result = await service.save_response_at_once(
            db,
            state.settings,  # type: ignore[union-attr]
            attempt_id,
            credential,
            parts[2],
            seq=request.seq,
            value=request.value,
            flagged=request.flagged,
            time_spent_ms=request.time_spent_ms,
        )
        if result is None:
            await self.app(scope, replayed, send)
            return
        if result.accepted:
            live.saved(db, attempt_id, parts[2])
        payload = save_reply(result)
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-length", b"%d" % len(payload)),
                    (b"content-type", b"application/json"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})
