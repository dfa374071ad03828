"""Domain errors and their rendering as RFC 9457 ``application/problem+json``.

Services raise a subclass of :class:`DomainError`; one handler turns it into a response.
Status codes carry meaning: 404 for anything the caller may not see (never a 403 that
leaks existence across organizations), 409 for conflicts, 410 for work past a deadline,
422 for malformed input.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any, Final

import asyncpg
import redis.exceptions
import sqlalchemy.exc
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from waa_ads.core import i18n
from waa_ads.core.db import ended_session_error
from waa_ads.core.i18n import N_

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://waa-ads.dev/problems/"

log = structlog.get_logger(__name__)


class InvalidParam(BaseModel):
    name: str = Field(description="Dotted location of the offending field, e.g. body.email.")
    reason: str


class Problem(BaseModel):
    """An RFC 9457 problem details object."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="URI naming the kind of problem.")
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    request_id: str | None = None
    invalid_params: list[InvalidParam] | None = Field(
        default=None, description="For 422: each offending field and why."
    )


class DomainError(Exception):
    """Base of every error a service raises on purpose.

    Each case a client may need to tell apart is a subclass of its own, in the raising
    domain's ``errors.py``, with a stable ``code`` (the problem ``type`` is
    ``PROBLEM_TYPE_BASE + code``); clients match the code, never the title or the detail
    sentence. The ``title`` is English marked for the catalogue (``N_``) and sent in the
    request's language; the ``detail`` is for developers and stays English. The generic
    classes below are the bases those cases derive from.
    """

    status_code: int = 400
    code: str = "bad-request"
    title: str = N_("Bad request")

    def __init__(self, detail: str, *, extra: dict[str, Any] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra or {}


class NotFound(DomainError):
    status_code = 404
    code = "not-found"
    title = N_("Not found")


class Conflict(DomainError):
    status_code = 409
    code = "conflict"
    title = N_("Conflict")


class Gone(DomainError):
    status_code = 410
    code = "gone"
    title = N_("Gone")


class Unprocessable(DomainError):
    status_code = 422
    code = "validation-error"
    title = N_("Unprocessable content")


class Unauthorized(DomainError):
    status_code = 401
    code = "unauthorized"
    title = N_("Unauthorized")


class Forbidden(DomainError):
    status_code = 403
    code = "forbidden"
    title = N_("Forbidden")


class TooManyRequests(DomainError):
    status_code = 429
    code = "too-many-requests"
    title = N_("Too many requests")


class PayloadTooLarge(DomainError):
    status_code = 413
    code = "payload-too-large"
    title = N_("Payload too large")


def problem_response(
    request: Request | None,
    *,
    status: int,
    code: str,
    title: str,
    detail: str | None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """The problem as a response. ``title`` is the English title (marked with ``N_``
    where it is written): it is sent in the language in force (the request's, or the one a
    handler chose), which ``Content-Language`` names."""
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + code,
        "title": i18n.gettext(title),
        "status": status,
    }
    if detail is not None:
        body["detail"] = detail
    if request is not None:
        body["instance"] = request.url.path
        request_id = getattr(request.state, "request_id", None)
        if request_id:
            body["request_id"] = request_id
    body.update({k: v for k, v in extra.items() if v is not None})
    sent = {**(headers or {}), "Content-Language": i18n.current()}
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=sent)


#: The titles of the statuses the framework answers by itself (HTTP's reason phrases),
#: marked for the catalogue.
_STATUS_TITLES: Final = (
    N_("Bad Request"),
    N_("Unauthorized"),
    N_("Forbidden"),
    N_("Not Found"),
    N_("Method Not Allowed"),
    N_("Not Acceptable"),
    N_("Request Timeout"),
    N_("Conflict"),
    N_("Gone"),
    N_("Length Required"),
    N_("Request Entity Too Large"),
    N_("Content Too Large"),
    N_("Request-URI Too Long"),
    N_("URI Too Long"),
    N_("Unsupported Media Type"),
    N_("Unprocessable Entity"),
    N_("Unprocessable Content"),
    N_("Too Many Requests"),
    N_("Internal Server Error"),
    N_("Not Implemented"),
    N_("Bad Gateway"),
    N_("Service Unavailable"),
    N_("Gateway Timeout"),
    N_("Error"),
)


def _code_for_status(status: int) -> tuple[str, str]:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    return phrase.lower().replace(" ", "-").replace("'", ""), phrase


def _location(loc: tuple[Any, ...] | list[Any]) -> str:
    return ".".join(str(part) for part in loc)


async def _domain_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    headers = exc.extra.pop("headers", None) if exc.extra else None
    return problem_response(
        request,
        status=exc.status_code,
        code=exc.code,
        title=exc.title,
        detail=exc.detail,
        headers=headers,
        **exc.extra,
    )


async def _validation_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    params = [
        {"name": _location(err.get("loc", ())), "reason": str(err.get("msg", "invalid"))}
        for err in exc.errors()
    ]
    summary = "; ".join(f"{p['name']}: {p['reason']}" for p in params[:5])
    # The reasons are the validator's (English); the sentence around them is translated.
    return problem_response(
        request,
        status=422,
        code="validation-error",
        title=N_("Unprocessable content"),
        detail=(
            i18n.gettext("Invalid request: %(summary)s", summary=summary)
            if summary
            else i18n.gettext("Invalid request")
        ),
        invalid_params=params,
    )


async def _http_exception_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400:
        # The framework's answer to a body it cannot decode (JSON that is not UTF-8 or nests
        # past the parser's limit, a broken multipart form): malformed input, which this API
        # answers with 422 like any other (the routes raise DomainErrors, never a bare 400).
        reason = (
            i18n.gettext("is not JSON text (UTF-8) that can be parsed")
            if exc.detail == _UNPARSABLE_BODY
            else i18n.gettext("cannot be parsed: %(reason)s", reason=exc.detail)
        )
        return problem_response(
            request,
            status=422,
            code="validation-error",
            title=N_("Unprocessable content"),
            detail=i18n.gettext("Invalid request: %(summary)s", summary="body: " + reason),
            invalid_params=[{"name": "body", "reason": reason}],
        )
    code, title = _code_for_status(exc.status_code)
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail != title else None
    return problem_response(
        request,
        status=exc.status_code,
        code=code,
        title=title,
        detail=detail,
        headers=dict(exc.headers) if exc.headers else None,
    )


async def _unhandled_handler(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled_error", error_type=type(exc).__name__)
    # Outside the middleware that set the request's language: found again from its headers.
    with i18n.use_locale(
        i18n.negotiate(
            i18n.cookie_choice(request.headers.get("cookie")),
            accept_language=request.headers.get("accept-language"),
        )
    ):
        return problem_response(
            request,
            status=500,
            code="internal-error",
            title=N_("Internal server error"),
            detail=i18n.gettext(
                "An unexpected error occurred; quote the request id when reporting it."
            ),
        )


#: Seconds a client is told to wait (``Retry-After``) while a dependency is unreachable: a
#: PostgreSQL restart or a Redis failover takes a few seconds.
UNAVAILABLE_RETRY_AFTER_S = 5

# PostgreSQL's own "go away for now" states: admin/crash shutdown, cannot connect now (the
# server is starting or stopping), and the whole connection-exception class 08.
_PG_UNAVAILABLE_STATES = ("57P01", "57P02", "57P03")


def is_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` (or an error it was raised from) says that PostgreSQL or Redis cannot
    be reached right now, as opposed to a bug: a refused or dropped connection, a server
    shutting down or starting up, a pool that found no connection in time, a statement
    started on a connection whose session the server had just ended. Such a request can
    simply be sent again once the dependency is back. asyncpg's errors for a connection
    used by two statements at once, or for a protocol fault on a connection that is still
    open, are bugs and are not counted."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(seen) < 10:
        seen.add(id(current))
        if isinstance(current, sqlalchemy.exc.DBAPIError) and current.connection_invalidated:
            return True
        if isinstance(current, sqlalchemy.exc.TimeoutError):  # no pooled connection in time
            return True
        if isinstance(current, ConnectionError | redis.exceptions.ConnectionError):
            return True
        if isinstance(current, redis.exceptions.TimeoutError):
            return True
        if isinstance(current, asyncpg.exceptions.ConnectionDoesNotExistError):
            return True
        # The hot paths' raw driver connections: one the server dropped says so on next use.
        if isinstance(current, asyncpg.InterfaceError) and "connection is closed" in str(current):
            return True
        # A raw driver connection's statement started between the server's farewell (a
        # restart's "terminating connection") and the socket closing.
        if ended_session_error(current):
            return True
        if isinstance(current, asyncpg.PostgresError):
            state = getattr(current, "sqlstate", None) or ""
            if state in _PG_UNAVAILABLE_STATES or state.startswith("08"):
                return True
        current = current.__cause__ or current.__context__ or getattr(current, "orig", None)
    return False


def _unavailable_response(request: Request, exc: BaseException) -> JSONResponse:
    log.warning("dependency_unavailable", error_type=type(exc).__name__, error=str(exc)[:300])
    return problem_response(
        request,
        status=503,
        code="service-unavailable",
        title=N_("Service unavailable"),
        detail=i18n.gettext(
            "The database or Redis is not answering at the moment; nothing of this request "
            "was stored. Send it again in %(seconds)d seconds.",
            seconds=UNAVAILABLE_RETRY_AFTER_S,
        ),
        headers={"Retry-After": str(UNAVAILABLE_RETRY_AFTER_S)},
    )


async def _unavailable_handler(request: Request, exc: Exception) -> JSONResponse:
    if not is_unavailable(exc):
        return await _unhandled_handler(request, exc)
    return _unavailable_response(request, exc)


class UnavailableMiddleware:
    """Answers 503 (with ``Retry-After``) for a dependency outage raised where the exception
    handlers do not reach: in a middleware below this one, such as autosave's short way
    past the routing. Anything else, and anything raised once a reply has begun, passes."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            if started or not is_unavailable(exc):
                raise
            await _unavailable_response(Request(scope), exc)(scope, receive, send)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain_error_handler)
    app.add_exception_handler(RequestValidationError, _validation_handler)
    app.add_exception_handler(StarletteHTTPException, _http_exception_handler)
    # Errors that may mean "a dependency is down" get their own handler (503 with
    # Retry-After when they do, the 500 below when they do not).
    for kind in (
        sqlalchemy.exc.DBAPIError,
        sqlalchemy.exc.TimeoutError,
        OSError,
        redis.exceptions.ConnectionError,
        redis.exceptions.TimeoutError,
        asyncpg.PostgresError,
        asyncpg.InterfaceError,
        asyncpg.exceptions.InternalClientError,
    ):
        app.add_exception_handler(kind, _unavailable_handler)
    app.add_exception_handler(Exception, _unhandled_handler)


def _problem_response_doc(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


_UNPARSABLE_BODY = "There was an error parsing the body"

#: Error responses every API route may produce; routers add these to their OpenAPI docs.
COMMON_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    413: _problem_response_doc("The request body is larger than WAA_MAX_BODY_BYTES."),
    422: _problem_response_doc("The request is malformed; invalid_params names each field."),
    500: _problem_response_doc("An unexpected error; the request id identifies it in the logs."),
}


ErrorSpec = int | type[DomainError]

_STATUS_DESCRIPTIONS = {
    400: "The request cannot be carried out as asked.",
    401: "Missing, expired or invalid credentials.",
    403: "Authenticated, but not allowed (or the CSRF token is missing).",
    404: "No such resource in the caller's organization.",
    409: "The resource is not in a state that allows this.",
    410: "The deadline for this has passed.",
    413: "The request body is too large.",
    422: "The request is malformed; invalid_params names each field.",
    429: "Too many requests; retry after the time given in Retry-After.",
    503: "A dependency is unavailable.",
}


def error_responses(*specs: ErrorSpec) -> dict[int | str, dict[str, Any]]:
    """OpenAPI documentation of a route's problems, for its ``responses=``.

    Each spec is a status code or a :class:`DomainError` subclass the route raises. Classes
    are grouped by status; the description lists each problem ``type`` code with its title
    and the media type carries one example per code, so a client sees every code it may
    have to match.
    """
    by_status: dict[int, list[type[DomainError]]] = {}
    for spec in specs:
        if isinstance(spec, int):
            by_status.setdefault(spec, [])
        else:
            errors = by_status.setdefault(spec.status_code, [])
            if spec not in errors:
                errors.append(spec)
    docs: dict[int | str, dict[str, Any]] = {}
    for status, errors in sorted(by_status.items()):
        description = _STATUS_DESCRIPTIONS.get(status, HTTPStatus(status).phrase)
        doc = _problem_response_doc(description)
        if errors:
            doc["description"] = (
                description
                + " Problem types: "
                + "; ".join(f"`{e.code}` ({e.title})" for e in errors)
            )
            doc["content"][PROBLEM_MEDIA_TYPE]["examples"] = {
                e.code: {
                    "summary": e.title,
                    "value": {
                        "type": PROBLEM_TYPE_BASE + e.code,
                        "title": e.title,
                        "status": status,
                    },
                }
                for e in errors
            }
        docs[status] = doc
    return docs
