"""The audit log: the organization's events newest first, filtered by action, actor,
subject and time; one event with its hashed text and links; the chain's verification; and
the export a third party can check.

Everything is read through ``/api/v1/audit/...``; the export is a link to the API's route.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from waa_ads.core.i18n import gettext, pgettext
from waa_ads.core.params import INT64_MAX
from waa_ads.web.console.pages import CONSOLE, Form, render, templates
from waa_ads.web.console.router import StaffDep

router = APIRouter()

AUDIT: Final = f"{CONSOLE}/audit"
PAGE_SIZE: Final = 50
#: The filters the page offers: form field -> the API's query parameter.
FILTERS: Final = {
    "action": "action_prefix",
    "actor": "actor_id",
    "subject_type": "target_type",
    "subject": "target_id",
    "since": "since",
    "until": "until",
}


def _short(value: str) -> str:
    """An id as the table shows it: a long one by its last eight characters (a UUIDv7
    begins with its time, alike for ids made together); the link and the screen-reader
    text carry it whole."""
    return f"…{value[-8:]}" if len(value) > 12 else value


templates.filters["audit_short"] = _short


def party(kind: str | None) -> str:
    """Who acted or what an event is about, as words in the reader's language (the stored
    type stays as it is; one not named here is shown as stored)."""
    if not kind:
        return ""
    names = {
        "user": pgettext("audit party", "user"),
        "candidate": pgettext("audit party", "candidate"),
        "system": pgettext("audit party", "system"),
        "attempt": pgettext("audit party", "attempt"),
        "organization": pgettext("audit party", "organization"),
        "item_bank": pgettext("audit party", "item bank"),
        "item": pgettext("audit party", "item"),
        "administration": pgettext("audit party", "administration"),
        "webhook_subscription": pgettext("audit party", "webhook subscription"),
        "rating_plan": pgettext("audit party", "rating plan"),
        "rating_task": pgettext("audit party", "rating task"),
        "rating": pgettext("audit party", "rating"),
        "essay_model": pgettext("audit party", "essay model"),
        "roster_entry": pgettext("audit party", "roster entry"),
        "lti_registration": pgettext("audit party", "LTI registration"),
        "lti_resource_link": pgettext("audit party", "LTI link"),
        "lti_tool_key": pgettext("audit party", "LTI tool key"),
        "calibration": pgettext("audit party", "calibration"),
        "rubric": pgettext("audit party", "rubric"),
        "media_asset": pgettext("audit party", "media file"),
        "integrity_policy": pgettext("audit party", "integrity policy"),
        "integration_delivery": pgettext("audit party", "delivery"),
        "assessment": pgettext("audit party", "assessment"),
    }
    return names.get(kind, kind)


templates.filters["audit_party"] = party


def _as_utc(value: str) -> str | None:
    """A ``datetime-local`` field's value (read as UTC) as the API's ISO time."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return value  # the API refuses it and says why, next to the field
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.isoformat()


@router.get("/audit", response_class=HTMLResponse)
async def events(request: Request, who: StaffDep, before: str = "") -> HTMLResponse:
    values = {name: request.query_params.get(name, "").strip() for name in FILTERS}
    params: dict[str, Any] = {
        api: (_as_utc(values[name]) if name in ("since", "until") else values[name]) or None
        for name, api in FILTERS.items()
    }
    params.update(
        {
            "newest_first": True,
            "limit": PAGE_SIZE,
            "before_seq": before if before.isdigit() and len(before) < 20 else None,
        }
    )
    reply = await who.api.get("/api/v1/audit/events", params)
    form = Form(values=values)
    page: dict[str, Any] = {"items": [], "next_before_seq": None}
    status = 200
    if reply.status == 422:
        # A filter the API cannot read (a malformed time): shown beside its field.
        form = Form(values=values, problem=reply.problem, fields=FILTERS)
        status = 422
    else:
        page = who.expect(reply)
    filters = {k: v for k, v in values.items() if v}
    next_url = None
    if page["next_before_seq"] is not None:
        next_url = f"{AUDIT}?{urlencode({**filters, 'before': page['next_before_seq']})}"
    return render(
        request,
        "audit/list.html",
        staff=who,
        status=status,
        form=form,
        rows=page["items"],
        filtered=bool(filters),
        next_url=next_url,
        export_url="/api/v1/audit/export",
    )


@router.get("/audit/verify", response_class=HTMLResponse)
async def verify(request: Request, who: StaffDep) -> HTMLResponse:
    report = await who.read("/api/v1/audit/verify")
    return render(request, "audit/verify.html", staff=who, report=report)


@router.get("/audit/{seq}", response_class=HTMLResponse)
async def event(request: Request, who: StaffDep, seq: int) -> HTMLResponse:
    if not 1 <= seq <= INT64_MAX:
        page: dict[str, Any] = {"items": []}
    else:
        page = await who.read("/api/v1/audit/events", {"after_seq": seq - 1, "limit": 1})
    found = [e for e in page["items"] if e["seq"] == seq]
    if not found:
        return render(
            request,
            "problem.html",
            staff=who,
            status=404,
            problem={
                "title": gettext("Event not found"),
                "detail": gettext("The audit log has no event number %(seq)s.", seq=seq),
            },
        )
    (shown,) = found
    body = json.loads(shown["canonical"])
    return render(
        request,
        "audit/event.html",
        staff=who,
        event=shown,
        data=json.dumps(body.get("data", {}), indent=2, ensure_ascii=False, sort_keys=True),
        pretty=json.dumps(body, indent=2, ensure_ascii=False, sort_keys=True),
    )
