"""Human rating: the rater's queue and scoring form, and the rating lead's page.

A rater takes the next response of a plan (``POST /api/v1/rating/next``), sees it without
the candidate's identity beside the rubric (a radio group per criterion, keyboard
shortcuts from ``rating.js``), writes annotations and a comment to the candidate, and
saves, usually asking for the next response in the same call. The scoring form is shown
as the reply of the post that leased it (the API has no read of a lease but the queue's
own, which gives the held lease back when asked again), so reloading after a refusal
shows the same lease with the refusal beside its field.

The lead's page reads the plan's progress, disagreements, agreement and per-rater figures
(raters by the names the plan's detail gives its leads) and pauses or resumes raters;
adjudication is the same scoring form, leased from the same queue by an adjudicator of the
plan. Admins create plans here, and leads change them (``PATCH``, from the version the form
showed: a plan changed meanwhile is refused and the form shown again with the current
plan). Everything goes through ``/api/v1/rating``; the CSV export is a link to the API's
own route.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from waa_ads.core import i18n
from waa_ads.core.i18n import N_, ngettext
from waa_ads.core.i18n import gettext as _
from waa_ads.web.console.gateway import ApiReply, FieldError, Problem
from waa_ads.web.console.pages import CONSOLE, ApiRefused, Form, Staff, redirect, render, templates
from waa_ads.web.console.router import ActionDep, StaffDep

router = APIRouter()

RATING: Final = f"{CONSOLE}/rating"
API: Final = "/api/v1/rating"
#: The keyboard shortcuts of the scoring form, as the page documents them (rating.js);
#: marked for the catalogue, looked up when a page shows them.
SHORTCUTS: Final = (
    (N_("1 to 9"), N_("choose that level (counted from the top) of the criterion you are in")),
    (N_("[ and ]"), N_("go to the previous or next criterion")),
    (N_("Ctrl + Enter"), N_("save and take the next response")),
)
RULES: Final = (
    ("adjacent", N_("more than one point apart (adjacent)")),
    ("exact", N_("any difference (exact)")),
    ("distance", N_("more than the distance below apart")),
)
RESOLUTIONS: Final = (
    ("adjudicator", N_("the adjudicator's score")),
    ("mean", N_("the mean of the ratings")),
    ("sum_of_criteria", N_("the sum of the criteria's mean levels")),
)
PLAN_FIELDS: Final = {
    "administration_id": "administration_id",
    "title": "title",
    "item_refs": "item_refs",
    "double_share": "double_share",
    "disagreement_rule": "disagreement_rule",
    "disagreement_distance": "disagreement_distance",
    "resolution": "resolution",
    "lease_seconds": "lease_seconds",
    "seeded_share": "seeded_share",
    "agreement_threshold": "agreement_threshold",
    "score_unanswered": "score_unanswered",
    "raters": "raters",
    "adjudicators": "adjudicators",
    "leads": "leads",
}
_ANNOTATION = re.compile(r"^\s*(\d+)\s*[-\u2013]\s*(\d+)\s*:\s*(.*)$")


def _percent(value: Any) -> str:
    return "—" if value is None else i18n.format_percent(float(value))


def _figure(value: Any) -> str:
    if value is None:
        return "—"
    number = float(value)
    return str(int(number)) if number.is_integer() else i18n.format_number(number, 2)


def _points(value: Any) -> str:
    """A number of points in words ("1 point", "2.5 points")."""
    if value is None:
        return "—"
    number = float(value)
    count = int(number) if number.is_integer() else 2
    return ngettext("%(points)s point", "%(points)s points", count, points=_figure(number))


def _moment(value: Any) -> str:
    """An instant the API gives (ISO 8601, UTC) in the reader's language."""
    if not value:
        return "—"
    try:
        when = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return str(value)
    return _("%(moment)s UTC", moment=i18n.format_datetime(when))


def _local(value: Any) -> str:
    """A wall-clock time the API gives in a place's own zone, as it stands there."""
    if not value:
        return "—"
    try:
        when = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return str(value)
    return i18n.format_datetime(when.replace(tzinfo=None))


def _day(value: Any) -> str:
    """A calendar day the API gives (``2026-12-03``) in the reader's language."""
    try:
        return i18n.format_date(datetime.fromisoformat(str(value)))
    except ValueError:
        return str(value)


def _words(pairs: tuple[tuple[str, str], ...]) -> list[tuple[str, str]]:
    """A table of (code, words) with its words in the reader's language."""
    return [(code, _(words)) for code, words in pairs]


templates.filters["rating_percent"] = _percent
templates.filters["rating_figure"] = _figure
templates.filters["rating_points"] = _points
# Shared by the scoring pages (rating, automated scoring, results).
templates.filters["scoring_moment"] = _moment
templates.filters["scoring_local"] = _local
templates.filters["scoring_day"] = _day


def _is_lead(who: Staff, plan: dict[str, Any]) -> bool:
    return who.has("admin") or str(who.me["user_id"]) in {str(x) for x in plan["leads"]}


def _response_parts(response: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The stored response as the page shows it, one part per response variable: text,
    a file (an upload or a drawing) or any other value as written."""
    parts: list[dict[str, Any]] = []
    stored = response or {}
    # An attempt stores {"value": as sent, "normalized": {response id: value}}.
    if isinstance(stored.get("normalized"), dict):
        stored = stored["normalized"]
    elif "value" in stored:
        stored = {"response": stored["value"]} if stored["value"] is not None else {}
    for name, value in stored.items():
        if isinstance(value, str):
            parts.append({"name": name, "kind": "text", "text": value})
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            parts.append({"name": name, "kind": "text", "text": "\n\n".join(value)})
        elif isinstance(value, dict) and "sha256" in value:
            parts.append(
                {
                    "name": name,
                    "kind": "file",
                    "file_name": str(value.get("name") or _("file")),
                    "content_type": str(value.get("content_type") or ""),
                    "size": value.get("size"),
                    "sha256": str(value["sha256"]),
                    "drawing": str(value.get("content_type", "")).startswith("image/"),
                }
            )
        else:
            parts.append({"name": name, "kind": "value", "text": repr(value)})
    return parts


def _annotations(text: str) -> tuple[list[dict[str, Any]], str | None]:
    """One note a line; ``12-40: note`` marks characters 12 to 40 of the response."""
    notes: list[dict[str, Any]] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        match = _ANNOTATION.match(line)
        if match:
            start, end = int(match[1]), int(match[2])
            if end < start:
                return [], _("in “%(line)s” the end comes before the start", line=line.strip())
            notes.append({"note": match[3].strip(), "start": start, "end": end})
        else:
            notes.append({"note": line.strip()})
    return notes, None


async def _plan(who: Staff, plan_id: uuid.UUID) -> dict[str, Any]:
    detail: dict[str, Any] = await who.read(f"{API}/plans/{plan_id}")
    return detail


@router.get("/rating", response_class=HTMLResponse)
async def queue(request: Request, who: StaffDep) -> HTMLResponse:
    plans: list[dict[str, Any]] = await who.read(f"{API}/plans")
    me = str(who.me["user_id"])
    if not plans and not who.has("rater", "admin"):
        # What the API says to anyone else who asks for a response to rate.
        raise ApiRefused(
            Problem(403, "role-required", _("Role required"), _("rating needs the rater role")),
            who,
        )
    rows = []
    for plan in plans:
        detail = await _plan(who, uuid.UUID(plan["id"]))
        roles = sorted({m["role"] for m in detail["members"] if m["user_id"] == me})
        mine = None
        if roles:
            reply = await who.api.get(f"{API}/plans/{plan['id']}/me")
            mine = reply.json() if reply.ok else None
        rows.append({"plan": plan, "roles": roles, "lead": _is_lead(who, plan), "stats": mine})
    return render(request, "rating/queue.html", staff=who, rows=rows)


def _scoring_page(
    request: Request,
    who: Staff,
    lease: dict[str, Any],
    *,
    waiting: int | None = None,
    form: Form | None = None,
    status: int = 200,
    notice: str | None = None,
) -> HTMLResponse:
    return render(
        request,
        "rating/score.html",
        staff=who,
        status=status,
        lease=lease,
        parts=_response_parts(lease["response"]),
        waiting=waiting,
        form=form or Form(),
        shortcuts=[(_(keys), _(what)) for keys, what in SHORTCUTS],
        notice=notice,
    )


async def _take(request: Request, who: Staff, plan_id: uuid.UUID) -> Response:
    reply = await who.api.post(f"{API}/next", {"plan_id": str(plan_id)})
    body = who.expect(reply)
    if body["lease"] is None:
        return redirect(RATING, flash=_("Nothing waits for you on this plan now."))
    return _scoring_page(request, who, body["lease"], waiting=body["waiting"])


@router.post("/rating/plans/{plan_id}/next", response_class=HTMLResponse)
async def take_next(request: Request, who: ActionDep, plan_id: uuid.UUID) -> Response:
    return await _take(request, who, plan_id)


def _level_fields(lease: dict[str, Any]) -> dict[str, str]:
    return {f"level-{c['id']}": f"levels.{c['id']}" for c in lease["rubric"]["criteria"]}


@router.post("/rating/leases/{lease_id}", response_class=HTMLResponse)
async def save(request: Request, who: ActionDep, lease_id: uuid.UUID) -> Response:
    submitted = await request.form()
    values = {k: v for k, v in submitted.items() if isinstance(v, str) and k != "csrf_token"}
    plan_id = values.get("plan_id", "")
    levels = {
        k.removeprefix("level-"): v for k, v in values.items() if k.startswith("level-") and v
    }
    go_on = values.get("then") != "queue"
    notes, note_error = _annotations(values.get("annotations", ""))
    reply: ApiReply | None = None
    problem: Problem | None
    if note_error is None:
        reply = await who.api.post(
            f"{API}/leases/{lease_id}/rating",
            {
                "levels": levels,
                "annotations": notes,
                "comment": values.get("comment") or None,
                "next": go_on,
            },
        )
        problem = reply.problem
    else:
        problem = Problem(
            status=422,
            code="annotations",
            title=_("Annotations"),
            detail=note_error,
            fields=(FieldError("annotations", note_error),),
        )
    if problem is None and reply is not None:
        saved = reply.json()
        done = _("Saved: %(points)s.", points=_points(saved["score"]))
        following = saved["next"]
        if following is None or following["lease"] is None:
            flash = (
                done
                if following is None
                else _("%(saved)s Nothing else waits for you now.", saved=done)
            )
            return redirect(RATING, flash=flash)
        return _scoring_page(
            request, who, following["lease"], waiting=following["waiting"], notice=done
        )
    assert problem is not None
    # The refusal beside its field, on the lease the rater holds (the same one when the
    # levels were refused; a new one when the lease ran out, which the message says).
    try:
        plan = uuid.UUID(plan_id)
    except ValueError:
        return redirect(RATING, flash=problem.detail or problem.title)
    again = await who.api.post(f"{API}/next", {"plan_id": str(plan)})
    body = again.json() if again.ok else None
    if body is None or body["lease"] is None:
        return redirect(RATING, flash=f"{problem.title}: {problem.detail or ''}".strip(": "))
    lease = body["lease"]
    same = lease["lease_id"] == str(lease_id)
    if not same:
        values = {}
    fields = {**_level_fields(lease), "annotations": "annotations", "comment": "comment"}
    if problem.code == "lease-expired":
        problem = Problem(
            status=problem.status,
            code=problem.code,
            title=problem.title,
            detail=_(
                "%(refusal)s. Nothing was saved; this is the response you hold now.",
                refusal=problem.detail or "",
            ),
            fields=(FieldError("lease", problem.detail or problem.title),),
        )
        fields["lease"] = "lease"
    return _scoring_page(
        request,
        who,
        lease,
        waiting=body["waiting"],
        form=Form(values=values, problem=problem, fields=fields),
        status=problem.status,
    )


# --- the lead's page ------------------------------------------------------------------------


@router.get("/rating/plans/new", response_class=HTMLResponse)
async def new_plan(request: Request, who: StaffDep, administration_id: str = "") -> HTMLResponse:
    values = {"administration_id": administration_id, "score_unanswered": "on"}
    return await _plan_form(request, who, Form(values=values))


async def _plan_form(
    request: Request,
    who: Staff,
    form: Form,
    status: int = 200,
    detail: dict[str, Any] | None = None,
) -> HTMLResponse:
    """The plan form: a new plan (admins), or changing ``detail``'s plan (its leads, who
    may not list the organization's accounts: they choose among its raters, read through
    the rating API, and the people the plan has)."""
    administrations: list[tuple[str, str]] = []
    if detail is None:
        listed: list[dict[str, Any]] = await who.read("/api/v1/administrations")
        administrations = [("", _("Choose one"))] + [(a["id"], a["title"]) for a in listed]
    if who.has("admin"):
        users = await who.read_all("/api/v1/users")
        active = [u for u in users if u["is_active"] and not u["erased_at"]]
        raters = [
            (u["id"], u["display_name"] or u["email"]) for u in active if "rater" in u["roles"]
        ]
        people = [(u["id"], u["display_name"] or u["email"]) for u in active]
    else:
        raters = [(p["user_id"], p["name"]) for p in await who.read(f"{API}/people")]
        known = dict(raters) | (detail or {}).get("names", {})
        people = sorted(known.items(), key=lambda kv: kv[1].casefold())
    if detail is not None:
        # Someone on the plan but no longer offered (an account made inactive) stays
        # listed and ticked, so saving never takes off anyone unseen.
        names = detail.get("names", {})
        on_plan = {m["user_id"] for m in detail["members"]} | set(detail["plan"]["leads"])
        for user_id in sorted(on_plan):
            label = names.get(user_id, user_id)
            if user_id not in dict(people):
                people.append((user_id, label))
            if user_id not in dict(raters) and any(
                m["user_id"] == user_id and m["role"] == "rater" for m in detail["members"]
            ):
                raters.append((user_id, label))
    # Banks per rater: for admins, who may list every bank (a lead keeps what is set).
    banks: list[tuple[str, str]] = []
    if detail is not None and who.has("admin"):
        banks = [(b["id"], b["name"]) for b in await who.read("/api/v1/banks")]
    return render(
        request,
        "rating/plan_form.html",
        staff=who,
        status=status,
        form=form,
        banks=banks,
        plan=detail["plan"] if detail else None,
        administrations=administrations,
        raters=raters,
        people=people,
        rules=_words(RULES),
        resolutions=_words(RESOLUTIONS),
    )


def _plan_values(detail: dict[str, Any]) -> dict[str, Any]:
    """The form's fields as the plan has them (shares as percentages)."""
    plan = detail["plan"]

    def percent(x: float) -> str:
        return _figure(round(x * 100, 4))

    values: dict[str, Any] = {
        "title": plan["title"],
        "item_refs": ", ".join(plan["item_refs"]),
        "double_share": percent(plan["double_share"]),
        "disagreement_rule": plan["disagreement_rule"],
        "disagreement_distance": _figure(plan["disagreement_distance"]),
        "resolution": plan["resolution"],
        "lease_seconds": str(plan["lease_seconds"]),
        "seeded_share": percent(plan["seeded_share"]),
        "agreement_threshold": percent(plan["agreement_threshold"]),
        "expected_version": str(plan["version"]),
        "raters": [m["user_id"] for m in detail["members"] if m["role"] == "rater"],
        "adjudicators": [m["user_id"] for m in detail["members"] if m["role"] == "adjudicator"],
        "leads": list(plan["leads"]),
    }
    for m in detail["members"]:
        if m["role"] == "rater":
            values[f"banks-{m['user_id']}"] = list(m["bank_ids"])
    if plan["per_criterion"]:
        values["per_criterion"] = "on"
    if plan["score_unanswered"]:
        values["score_unanswered"] = "on"
    return values


def _share(value: str) -> Any:
    """A percentage field as the API's share (0-1); anything else goes as written, and the
    API says what is wrong with it beside the field."""
    try:
        return float(value) / 100 if value.strip() else 0.0
    except ValueError:
        return value


async def _submitted_plan(request: Request) -> tuple[dict[str, Any], dict[str, Any]]:
    """The plan form as posted (``values``, to show again) and as the API's body."""
    submitted = await request.form()
    values: dict[str, Any] = {
        k: v for k, v in submitted.items() if isinstance(v, str) and k != "csrf_token"
    }
    for many in ("raters", "adjudicators", "leads"):
        values[many] = [v for v in submitted.getlist(many) if isinstance(v, str)]
    for name in {k for k in submitted if k.startswith("banks-")}:
        values[name] = [v for v in submitted.getlist(name) if isinstance(v, str)]
    body = {
        "title": values.get("title", ""),
        "item_refs": [r.strip() for r in str(values.get("item_refs", "")).split(",") if r.strip()],
        "double_share": _share(str(values.get("double_share", "0"))),
        "disagreement_rule": values.get("disagreement_rule", "adjacent"),
        "disagreement_distance": values.get("disagreement_distance") or 1,
        "per_criterion": values.get("per_criterion") == "on",
        "resolution": values.get("resolution", "adjudicator"),
        "lease_seconds": values.get("lease_seconds") or 900,
        "seeded_share": _share(str(values.get("seeded_share", "0"))),
        "agreement_threshold": _share(str(values.get("agreement_threshold", "70"))),
        "score_unanswered": values.get("score_unanswered") == "on",
        "raters": [{"user_id": u} for u in values["raters"]],
        "adjudicators": [{"user_id": u} for u in values["adjudicators"]],
        "leads": values["leads"],
    }
    return values, body


@router.post("/rating/plans", response_class=HTMLResponse)
async def create_plan(request: Request, who: ActionDep) -> Response:
    values, body = await _submitted_plan(request)
    body["administration_id"] = values.get("administration_id") or None
    reply = await who.api.post(f"{API}/plans", body)
    if reply.problem is not None:
        form = Form(values=values, problem=reply.problem, fields=PLAN_FIELDS)
        return await _plan_form(request, who, form, status=reply.status)
    created = reply.json()
    return redirect(f"{RATING}/plans/{created['plan']['id']}", flash=_("Rating plan created."))


@router.get("/rating/plans/{plan_id}/edit", response_class=HTMLResponse)
async def edit_plan(request: Request, who: StaffDep, plan_id: uuid.UUID) -> HTMLResponse:
    detail = await _plan(who, plan_id)
    # The plan's figures are for its leads: the same refusal as the API's for anyone else.
    who.expect(await who.api.get(f"{API}/plans/{plan_id}/progress"))
    return await _plan_form(request, who, Form(values=_plan_values(detail)), detail=detail)


@router.post("/rating/plans/{plan_id}/edit", response_class=HTMLResponse)
async def change_plan(request: Request, who: ActionDep, plan_id: uuid.UUID) -> Response:
    values, body = await _submitted_plan(request)
    detail = await _plan(who, plan_id)
    # People kept keep the items and banks they were assigned; a raters' banks change when
    # the form offered them (admins), each rater's ticks in "banks-<user id>".
    kept = {(m["user_id"], m["role"]): m for m in detail["members"]}
    offered = values.get("banks_offered") == "1"
    for role, many in (("rater", "raters"), ("adjudicator", "adjudicators")):
        body[many] = [
            {
                "user_id": u,
                "item_refs": kept[(u, role)]["item_refs"] if (u, role) in kept else [],
                "bank_ids": (
                    values.get(f"banks-{u}", [])
                    if offered and role == "rater"
                    else kept[(u, role)]["bank_ids"]
                    if (u, role) in kept
                    else []
                ),
            }
            for u in values[many]
        ]
    version = values.get("expected_version", "")
    body["expected_version"] = int(version) if version.isascii() and version.isdigit() else 0
    reply = await who.api.call("PATCH", f"{API}/plans/{plan_id}", json_body=body)
    if reply.problem is None:
        return redirect(f"{RATING}/plans/{plan_id}", flash=_("Rating plan changed."))
    if reply.problem.code == "rating-plan-changed":
        # Shown again from the plan as it is now, with what was typed, to be saved again.
        fresh = await _plan(who, plan_id)
        values["expected_version"] = str(fresh["plan"]["version"])
        detail = fresh
    form = Form(values=values, problem=reply.problem, fields=PLAN_FIELDS)
    return await _plan_form(request, who, form, status=reply.status, detail=detail)


@router.get("/rating/plans/{plan_id}", response_class=HTMLResponse)
async def lead_page(request: Request, who: StaffDep, plan_id: uuid.UUID) -> HTMLResponse:
    detail = await _plan(who, plan_id)
    progress = await who.read(f"{API}/plans/{plan_id}/progress")
    waiting = await who.read(f"{API}/plans/{plan_id}/disagreements")
    stats = await who.read(f"{API}/plans/{plan_id}/stats")
    names = detail.get("names", {})
    me = str(who.me["user_id"])
    return render(
        request,
        "rating/lead.html",
        staff=who,
        plan=detail["plan"],
        members=detail["members"],
        progress=progress["items"],
        disagreements=waiting,
        stats=stats,
        names=names,
        adjudicator=any(
            m["user_id"] == me and m["role"] == "adjudicator" for m in detail["members"]
        ),
        rules=dict(_words(RULES)),
        resolutions=dict(_words(RESOLUTIONS)),
    )


@router.post("/rating/plans/{plan_id}/sync")
async def sync(who: ActionDep, plan_id: uuid.UUID) -> Response:
    added = who.expect(await who.api.post(f"{API}/plans/{plan_id}/sync"))
    tasks = added["tasks_added"]
    ratings = ngettext("%(num)d rating", "%(num)d ratings", tasks)
    queued = ngettext(
        "%(num)d response queued (%(ratings)s).",
        "%(num)d responses queued (%(ratings)s).",
        added["responses_added"],
        ratings=ratings,
    )
    return redirect(f"{RATING}/plans/{plan_id}", flash=queued)


@router.post("/rating/plans/{plan_id}/raters/{user_id}/{action}")
async def pause_or_resume(
    who: ActionDep, plan_id: uuid.UUID, user_id: uuid.UUID, action: str
) -> Response:
    if action not in ("pause", "resume"):
        return redirect(f"{RATING}/plans/{plan_id}")
    who.expect(await who.api.post(f"{API}/plans/{plan_id}/raters/{user_id}/{action}"))
    said = _("Rater paused.") if action == "pause" else _("Rater resumed.")
    return redirect(f"{RATING}/plans/{plan_id}", flash=said)
