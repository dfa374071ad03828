"""The proctor's live view of an administration: every attempt with its candidate, state,
question, time left, last activity and integrity events, and the proctor's actions
(pause, resume, extend, terminate, each with a reason).

The page and its forms work without JavaScript (a form posts, the API acts, the page comes
back). With it, ``proctor.js`` follows the administration's live news over a WebSocket
(:func:`live_socket`), which the API processes publish on the bus of
:mod:`waa_ads.core.live` (Redis pub/sub between processes): rows change as candidates
start, move, save, lose focus, are paused or finish, without a reload.

Everything is read and changed through the API (``GET .../administrations/{id}/live`` and
the proctor routes of ``/api/v1/attempts/{id}/...``); the socket is authorized by that same
read, so exactly the API's rule applies (an assigned proctor or an admin).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from datetime import UTC, datetime
from typing import Any, Final

from fastapi import APIRouter, Request, WebSocket
from fastapi.responses import HTMLResponse, Response
from starlette.websockets import WebSocketDisconnect

from waa_ads.core import i18n
from waa_ads.core import live as live_bus
from waa_ads.core.i18n import gettext as _
from waa_ads.core.i18n import lazy_gettext, lazy_pgettext
from waa_ads.delivery.live import administration_channel
from waa_ads.web.console.gateway import Gateway, Problem
from waa_ads.web.console.pages import CONSOLE, Form, page_headers, redirect, render, templates
from waa_ads.web.console.router import ActionDep, StaffDep

router = APIRouter()

#: The proctor's actions: the API route of each, and what the flash message says.
ACTIONS: Final = {
    "pause": ("pause", lazy_gettext("%(name)s: paused.")),
    "resume": ("resume", lazy_gettext("%(name)s: resumed.")),
    "extend": ("extend", lazy_gettext("%(name)s: given more time.")),
    "terminate": ("terminate", lazy_gettext("%(name)s: terminated.")),
}
#: The socket reads the board through the API again this often, so a proctor who loses the
#: assignment (or the session) stops receiving news.
RECHECK_S: Final = 60.0
#: Close codes of the live socket.
CLOSE_REFUSED: Final = 4403
CLOSE_SIGNED_OUT: Final = 4401

#: What a candidate did, as the log says it after their name (the same words as proctor.js).
INTEGRITY_LABELS: Final = {
    "focus_lost": lazy_pgettext("integrity event", "left the test window"),
    "focus_regained": lazy_pgettext("integrity event", "came back to the test window"),
    "copy": lazy_pgettext("integrity event", "copied text"),
    "paste": lazy_pgettext("integrity event", "pasted text"),
    "cut": lazy_pgettext("integrity event", "cut text"),
    "fullscreen_exit": lazy_pgettext("integrity event", "left full screen"),
    "fullscreen_enter": lazy_pgettext("integrity event", "entered full screen"),
    "network_lost": lazy_pgettext("integrity event", "lost the network"),
    "network_restored": lazy_pgettext("integrity event", "is back online"),
    "visibility_hidden": lazy_pgettext("integrity event", "hid the test tab"),
    "visibility_visible": lazy_pgettext("integrity event", "showed the test tab again"),
    "context_menu": lazy_pgettext("integrity event", "opened the context menu"),
    "print_attempt": lazy_pgettext("integrity event", "tried to print"),
    "devtools_suspected": lazy_pgettext("integrity event", "may have opened developer tools"),
}
STATE_LABELS: Final = {
    "scheduled": lazy_pgettext("live attempt state", "not started"),
    "in_progress": lazy_pgettext("live attempt state", "in progress"),
    "paused": lazy_pgettext("live attempt state", "paused"),
    "submitted": lazy_pgettext("live attempt state", "submitted"),
    "expired": lazy_pgettext("live attempt state", "time ran out"),
    "terminated": lazy_pgettext("live attempt state", "terminated"),
    "scoring": lazy_pgettext("live attempt state", "being scored"),
    "scored": lazy_pgettext("live attempt state", "scored"),
    "released": lazy_pgettext("live attempt state", "result released"),
    "invalidated": lazy_pgettext("live attempt state", "invalidated"),
}


def _clock(seconds: int | None) -> str:
    if seconds is None:
        return _("no limit")
    h, rest = divmod(max(0, seconds), 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _time_of_day(value: str | None) -> str:
    if not value:
        return "—"
    return datetime.fromisoformat(value).strftime("%H:%M:%S UTC")


def _day(value: str | None) -> str:
    """The day of an API timestamp (in UTC, as the times beside it), in the page's language."""
    if not value:
        return "—"
    return i18n.format_date(datetime.fromisoformat(value).astimezone(UTC), "medium")


#: How the server words an attempt's ending (stored with it, in English), for the page.
END_REASONS: Final = {
    "submitted by the candidate": lazy_pgettext("attempt ending", "submitted by the candidate"),
    "time ran out": lazy_pgettext("attempt ending", "time ran out"),
    "the administration was cancelled": lazy_pgettext(
        "attempt ending", "the administration was cancelled"
    ),
}
_BY_A_PROCTOR: Final = "terminated by a proctor: "


def end_reason(text: str | None) -> str:
    """An attempt's ending in the page's language (a proctor's own reason as written)."""
    if not text:
        return ""
    if text.startswith(_BY_A_PROCTOR):
        return _("terminated by a proctor: %(reason)s", reason=text[len(_BY_A_PROCTOR) :])
    found = END_REASONS.get(text)
    return str(found) if found is not None else text


def _label(table: dict[str, Any], value: str) -> str:
    found = table.get(value)
    return str(found) if found is not None else value


templates.filters["clock"] = _clock
templates.filters["time_of_day"] = _time_of_day
templates.filters["day"] = _day
templates.filters["end_reason"] = end_reason
templates.globals["integrity_label"] = lambda kind: _label(INTEGRITY_LABELS, kind)
templates.globals["state_label"] = lambda state: _label(STATE_LABELS, state)


def _live_url(administration_id: uuid.UUID) -> str:
    return f"{CONSOLE}/administrations/{administration_id}/live"


def _names(board: dict[str, Any]) -> dict[str, str]:
    """Attempt id -> how the page names its candidate."""
    return {
        a["id"]: _(
            "%(name)s, attempt %(number)s",
            name=a["candidate_name"] or _("Candidate (name withheld)"),
            number=a["number"],
        )
        for a in board["attempts"]
    }


def _page(
    request: Request,
    who: Any,
    board: dict[str, Any],
    *,
    status: int = 200,
    failed: str | None = None,
    form: Form | None = None,
) -> HTMLResponse:
    return render(
        request,
        "proctor/live.html",
        staff=who,
        status=status,
        board=board,
        names=_names(board),
        live_url=_live_url(uuid.UUID(board["administration_id"])),
        failed=failed,
        form=form or Form(),
        now_text=datetime.now(UTC).strftime("%H:%M:%S UTC"),
    )


@router.get("/administrations/{administration_id}/live", response_class=HTMLResponse)
async def live_page(request: Request, who: StaffDep, administration_id: uuid.UUID) -> HTMLResponse:
    board = await who.read(f"/api/v1/administrations/{administration_id}/live")
    return _page(request, who, board)


def _rows(board: dict[str, Any], who: Any, administration_id: uuid.UUID) -> str:
    row = templates.get_template("proctor/row.html")
    return "".join(
        row.render(
            attempt=attempt,
            live_url=_live_url(administration_id),
            csrf_token=who.api.csrf_token,
            failed=None,
            form=Form(),
        )
        for attempt in board["attempts"]
    )


@router.get("/administrations/{administration_id}/live/rows", response_class=HTMLResponse)
async def live_rows(request: Request, who: StaffDep, administration_id: uuid.UUID) -> HTMLResponse:
    """Every attempt's row (``proctor.js`` reads them again after a reconnection)."""
    board = await who.read(f"/api/v1/administrations/{administration_id}/live")
    return HTMLResponse(_rows(board, who, administration_id), headers=page_headers())


@router.get(
    "/administrations/{administration_id}/live/rows/{attempt_id}", response_class=HTMLResponse
)
async def live_row(
    request: Request, who: StaffDep, administration_id: uuid.UUID, attempt_id: uuid.UUID
) -> HTMLResponse:
    """One attempt's row, as the page shows it (``proctor.js`` swaps it in on news)."""
    board = await who.read(f"/api/v1/administrations/{administration_id}/live")
    found = [a for a in board["attempts"] if a["id"] == str(attempt_id)]
    if not found:
        return HTMLResponse("", status_code=404, headers=page_headers())
    html = _rows({**board, "attempts": found}, who, administration_id)
    return HTMLResponse(html, headers=page_headers())


def _action_body(action: str, values: dict[str, str]) -> dict[str, Any]:
    body: dict[str, Any] = {"reason": values.get("reason", "").strip()}
    if action == "extend":
        minutes = values.get("minutes", "").strip()
        # The API owns the rule (1 s to a day); a value that is no whole number goes to it
        # as written and comes back refused, next to the field.
        # (isdigit() would take "²", which int() refuses: ASCII decimal digits only.)
        whole = minutes.isascii() and minutes.isdecimal()
        body["extra_s"] = int(minutes) * 60 if whole else minutes
    return body


@router.post(
    "/administrations/{administration_id}/live/attempts/{attempt_id}/{action}",
    response_class=Response,
)
async def act(
    request: Request,
    who: ActionDep,
    administration_id: uuid.UUID,
    attempt_id: uuid.UUID,
    action: str,
) -> Response:
    if action not in ACTIONS:
        return HTMLResponse(_("Not found"), status_code=404, headers=page_headers())
    route, done = ACTIONS[action]
    form = await request.form()
    values = {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}
    reply = await who.api.post(
        f"/api/v1/attempts/{attempt_id}/{route}", _action_body(action, values)
    )
    board = await who.read(f"/api/v1/administrations/{administration_id}/live")
    if reply.ok:
        name = _names(board).get(str(attempt_id)) or _("The attempt")
        return redirect(
            f"{_live_url(administration_id)}#attempt-{attempt_id}",
            flash=str(done) % {"name": name},
        )
    shown = Form(
        values=values,
        problem=reply.problem,
        fields={
            f"{action}-reason-{attempt_id}": "reason",
            f"{action}-minutes-{attempt_id}": "extra_s",
        },
    )
    return _page(
        request, who, board, status=reply.status, failed=f"{action}:{attempt_id}", form=shown
    )


# --- the live socket ----------------------------------------------------------------------------


def _same_origin(websocket: WebSocket) -> bool:
    """Browsers send cookies with a cross-site WebSocket too: only this site's pages may
    open the socket (no cross-site WebSocket hijacking)."""
    origin = websocket.headers.get("origin")
    host = websocket.headers.get("host")
    if not origin or not host:
        return False
    return origin.split("://", 1)[-1].rstrip("/") == host


def _as_request(websocket: WebSocket) -> Request:
    """The socket's handshake as a GET request, for the gateway (same cookies, client and
    server; the API sees the caller exactly as on a page)."""
    scope = {**websocket.scope, "type": "http", "method": "GET"}
    return Request(scope)


async def _allowed(api: Gateway, administration_id: uuid.UUID) -> Problem | None:
    """Why the socket's caller may not watch this administration (None when they may):
    the API's own answer to reading its live board."""
    reply = await api.get(f"/api/v1/administrations/{administration_id}/live")
    return reply.problem


async def _refuse(websocket: WebSocket, code: int) -> None:
    """Open the socket, then close it with ``code``: the browser's close event carries it."""
    await websocket.accept()
    await websocket.close(code=code)


@router.websocket("/administrations/{administration_id}/live/ws")
async def live_socket(websocket: WebSocket, administration_id: uuid.UUID) -> None:
    """The administration's live news, as JSON text messages (one per event, see
    ``delivery/live.py``), for a signed-in proctor of it or an admin of its organization.
    Refused with close code 4401 (no session) or 4403 (anything the API refuses); the
    read is repeated every :data:`RECHECK_S` seconds while the socket is open.

    Another site's page is refused before the handshake completes (it learns nothing).
    Any other refusal accepts the socket first and then closes it with its code: a close
    before ``accept()`` reaches a browser as a failed handshake (1006), and the page could
    not tell "signed out" from "network down"."""
    if not _same_origin(websocket):
        await websocket.close(code=CLOSE_REFUSED)
        return
    api = Gateway(_as_request(websocket))
    if not api.signed_in:
        await _refuse(websocket, CLOSE_SIGNED_OUT)
        return
    refused = await _allowed(api, administration_id)
    if refused is not None:
        await _refuse(websocket, CLOSE_SIGNED_OUT if refused.status == 401 else CLOSE_REFUSED)
        return
    bus = live_bus.current()
    if bus is None:
        await _refuse(websocket, 1013)  # try again later: no bus in this process
        return
    async with bus.subscribe(administration_channel(administration_id)) as news:
        await websocket.accept()
        await websocket.send_text(json.dumps({"event": "hello"}))
        closed = asyncio.create_task(_until_closed(websocket))
        loop = asyncio.get_running_loop()
        check_at = loop.time() + RECHECK_S
        try:
            while not closed.done():
                got = asyncio.ensure_future(news.get())
                done, _pending = await asyncio.wait(
                    {got, closed},
                    timeout=max(0.0, check_at - loop.time()),
                    return_when=asyncio.FIRST_COMPLETED,
                )
                if got in done:
                    _channel, message = got.result()
                    await websocket.send_text(json.dumps(message))
                else:
                    got.cancel()
                if closed in done:
                    return
                if loop.time() < check_at:
                    continue
                check_at = loop.time() + RECHECK_S
                refused = await _allowed(api, administration_id)
                if refused is not None:
                    await websocket.close(
                        code=CLOSE_SIGNED_OUT if refused.status == 401 else CLOSE_REFUSED
                    )
                    return
        except (WebSocketDisconnect, RuntimeError):
            return
        finally:
            closed.cancel()
            with contextlib.suppress(BaseException):
                await closed


async def _until_closed(websocket: WebSocket) -> None:
    """Read (and ignore) what the browser sends, until it closes the socket."""
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
