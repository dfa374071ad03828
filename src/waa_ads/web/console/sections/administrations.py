"""Administrations: the list with each one's state at a glance, scheduling and editing a
window (in the organization's time zone), proctors, cancelling, archiving; the roster
(adding candidates, a CSV upload whose bad rows are listed, accommodations) and access codes
with a printable sheet of slips; the attempts, and the way to the proctors' live view.

Access codes are shown only in the reply that issues them (the API keeps only their HMAC),
so the sheet of slips is the page that answers issuing them: adding candidates, uploading a
CSV, or issuing new codes (which ends the old ones). Nothing stores a code.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import UploadFile

from waa_ads.core import i18n
from waa_ads.core.i18n import gettext as _
from waa_ads.core.i18n import ngettext, pgettext
from waa_ads.web.console.gateway import Problem, multipart
from waa_ads.web.console.pages import CONSOLE, ApiRefused, Form, Staff, redirect, render
from waa_ads.web.console.router import ActionDep, StaffDep
from waa_ads.web.console.sections.organization import language_options

router = APIRouter()

BASE: Final = f"{CONSOLE}/administrations"
WINDOW_FIELDS: Final = {
    "assessment_version_id": "assessment_version_id",
    "title": "title",
    "opens_at": "opens_at",
    "closes_at": "closes_at",
    "proctor_ids": "proctor_ids",
    "notes": "notes",
    "locale": "locale",
    "locales": "locales",
}
ACCOMMODATION_FIELDS: Final = {
    "extra_time_multiplier": "extra_time_multiplier",
    "extra_attempts": "extra_attempts",
    "extra_breaks": "extra_breaks",
    # A name the API refuses can only come from the free text (the boxes hold known ones),
    # so its reason is shown there and the boxes answer to no API field.
    "other_supports": "accessibility_supports",
    "accessibility_supports": "-",
}


def support_options() -> list[tuple[str, str]]:
    """The QTI accessibility supports a candidate may be given, with their names in the
    page's language, for the accommodation forms' boxes."""
    return [
        ("linguistic-guidance", _("Linguistic guidance")),
        ("spoken", _("Spoken (read aloud)")),
        ("sign-language", _("Sign language")),
        ("braille", _("Braille")),
        ("audio-description", _("Audio description")),
        ("illustrated-glossary", _("Illustrated glossary")),
        ("simplified-language", _("Simplified language")),
        ("tactile", _("Tactile")),
    ]


def _support_values(supports: Iterable[str]) -> dict[str, Any]:
    """A candidate's supports as the form shows them: the boxes ticked and the others (an
    organization's ``ext:`` supports) as text."""
    known = {value for value, _label in support_options()}
    given = list(supports)
    return {
        "accessibility_supports": [s for s in given if s in known],
        "other_supports": " ".join(s for s in given if s not in known),
    }


#: Attempt states in the order of their lifecycle, for the counts at a glance.
STATES: Final = (
    "in_progress",
    "paused",
    "submitted",
    "expired",
    "terminated",
    "scoring",
    "scored",
    "released",
    "invalidated",
)
_CANDIDATE_PAGES: Final = 20


# --- times ----------------------------------------------------------------------------------


def _zone(who: Staff) -> ZoneInfo:
    try:
        return ZoneInfo(str(who.organization.get("timezone") or "UTC"))
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


def _parse(moment: str | None) -> datetime | None:
    if not moment:
        return None
    try:
        return datetime.fromisoformat(moment)
    except ValueError:
        return None


def shown_time(moment: str | None, zone: ZoneInfo) -> str:
    """A timestamp of the API as people read it, in the organization's time zone and the
    page's language ("10 Jan 2027, 14:00", « 10 janv. 2027, 14:00 »)."""
    parsed = _parse(moment)
    if parsed is None:
        return "—"
    return i18n.format_datetime(parsed, "d MMM y, HH:mm", tz=zone.key)


def shown_window(opens: str | None, closes: str | None, zone: ZoneInfo) -> tuple[str, str]:
    """A window's two ends as people read them; the day is not repeated when the window
    opens and closes on the same day."""
    start, end = _parse(opens), _parse(closes)
    if start is not None and end is not None:
        a, b = start.astimezone(zone), end.astimezone(zone)
        if a.date() == b.date():
            return shown_time(opens, zone), i18n.format_datetime(end, "HH:mm", tz=zone.key)
    return shown_time(opens, zone), shown_time(closes, zone)


def _local_input(moment: str | None, zone: ZoneInfo) -> str:
    """The value of a ``datetime-local`` field: the moment in the organization's zone."""
    parsed = _parse(moment)
    return parsed.astimezone(zone).strftime("%Y-%m-%dT%H:%M") if parsed else ""


def _aware(typed: str, zone: ZoneInfo) -> str:
    """A ``datetime-local`` value read in the organization's zone, as the API takes it (a
    value that is no time is passed on as typed, for the API to refuse by name)."""
    raw = typed.strip()
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        return raw
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    return parsed.isoformat()


def window_state(administration: Mapping[str, Any], now: datetime | None = None) -> str:
    """``cancelled``, ``scheduled`` (not open yet), ``open`` or ``closed``."""
    if administration.get("cancelled_at"):
        return "cancelled"
    now = now or datetime.now(UTC)
    opens = _parse(administration["opens_at"])
    closes = _parse(administration["closes_at"])
    if opens is not None and now < opens:
        return "scheduled"
    if closes is not None and now >= closes:
        return "closed"
    return "open"


# --- reading ---------------------------------------------------------------------------------


async def _values(request: Request) -> tuple[dict[str, str], dict[str, list[str]]]:
    form = await request.form()
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for key, value in form.multi_items():
        if isinstance(value, str):
            single.setdefault(key, value)
            multi.setdefault(key, []).append(value)
    return single, multi


def _number(text: str | None, *, integer: bool = False) -> Any:
    raw = (text or "").strip()
    if raw == "":
        return None
    try:
        return int(raw) if integer else float(raw)
    except ValueError:
        return raw


async def candidates_by_id(who: Staff, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The candidates named by ``ids``: the organization's list read page by page until all
    are found, then any left one by one."""
    wanted = set(ids)
    found: dict[str, dict[str, Any]] = {}
    cursor: str | None = None
    for _page in range(_CANDIDATE_PAGES):
        if not wanted - found.keys():
            break
        page = await who.read("/api/v1/candidates", {"limit": 500, "cursor": cursor})
        for candidate in page["items"]:
            if candidate["id"] in wanted:
                found[candidate["id"]] = candidate
        cursor = page.get("next_cursor")
        if not cursor:
            break
    for missing in wanted - found.keys():
        reply = await who.api.get(f"/api/v1/candidates/{missing}")
        if reply.ok:
            found[missing] = reply.json()
    return found


def _name(candidate: Mapping[str, Any] | None) -> str:
    if candidate is None:
        return _("unknown candidate")
    if candidate.get("erased_at"):
        return _("erased candidate")
    return str(
        candidate.get("full_name")
        or candidate.get("email")
        or candidate.get("external_id")
        or candidate["id"]
    )


async def _attempts(who: Staff, administration_id: str) -> list[dict[str, Any]] | None:
    reply = await who.api.get(f"/api/v1/administrations/{administration_id}/attempts")
    if not reply.ok:
        return None
    rows: list[dict[str, Any]] = reply.json()
    return rows


def _counts(attempts: list[dict[str, Any]] | None) -> list[tuple[str, int]]:
    if not attempts:
        return []
    counted = Counter(a["state"] for a in attempts)
    return [(state, counted[state]) for state in STATES if counted[state]]


# --- list, create, edit ------------------------------------------------------------------------


@router.get("/administrations", response_class=HTMLResponse)
async def list_administrations(
    request: Request, who: StaffDep, archived: bool = False
) -> HTMLResponse:
    rows = await who.read("/api/v1/administrations", {"archived": archived})
    zone = _zone(who)
    shown = []
    for row in rows:
        attempts = await _attempts(who, row["id"])
        shown.append(
            {
                **row,
                "state": window_state(row),
                "opens": shown_window(row["opens_at"], row["closes_at"], zone)[0],
                "closes": shown_window(row["opens_at"], row["closes_at"], zone)[1],
                "counts": _counts(attempts),
                "attempt_total": len(attempts or []),
            }
        )
    return render(
        request,
        "administrations/list.html",
        staff=who,
        administrations=shown,
        archived=archived,
        zone=zone.key,
    )


async def _published_versions(who: Staff) -> list[tuple[str, str]]:
    """(version id, label) of each assessment's published version."""
    options: list[tuple[str, str]] = []
    for assessment in await who.read("/api/v1/assessments"):
        newest = assessment.get("published_version")
        if newest is None:
            continue
        # Older published versions stay administrable; the newest comes first.
        for number in range(newest, 0, -1):
            pair = await who.read(f"/api/v1/assessments/{assessment['id']}/versions/{number}")
            version = pair["version"]
            if version["status"] != "published":
                continue
            title = version["definition"].get("title") or assessment["title"]
            options.append(
                (version["id"], _("%(title)s (version %(number)s)", title=title, number=number))
            )
    return options


async def _proctors(who: Staff, assigned: Iterable[str] = ()) -> list[tuple[str, str]]:
    """Every active proctor of the organization (all pages of accounts), and any account
    still assigned that is not one now (deactivated, or no longer a proctor), so that
    saving the form never unassigns someone the page did not show."""
    options = [
        (u["id"], u.get("display_name") or u["email"])
        for u in await who.read_all("/api/v1/users")
        if "proctor" in u.get("roles", []) and u.get("is_active", True) and not u.get("erased_at")
    ]
    shown = {user_id for user_id, _ in options}
    options += [
        (
            str(user_id),
            _("account %(id)s (no longer an active proctor)", id=str(user_id)[-8:]),
        )
        for user_id in assigned
        if str(user_id) not in shown
    ]
    return options


async def _window_page(
    request: Request,
    who: Staff,
    form: Form,
    *,
    administration: Mapping[str, Any] | None = None,
    status: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "administrations/form.html",
        staff=who,
        form=form,
        administration=administration,
        versions=[] if administration else await _published_versions(who),
        proctors=await _proctors(who, form.value("proctor_ids", [])),
        language_choices=language_options(),
        zone=_zone(who).key,
        status=status,
    )


@router.get("/administrations/new", response_class=HTMLResponse)
async def new_administration(request: Request, who: StaffDep) -> HTMLResponse:
    return await _window_page(request, who, Form(values={"proctor_ids": [], "locales": []}))


def _window_body(
    values: Mapping[str, str], multi: Mapping[str, list[str]], zone: ZoneInfo
) -> dict[str, Any]:
    return {
        "title": values.get("title", "").strip(),
        "opens_at": _aware(values.get("opens_at", ""), zone),
        "closes_at": _aware(values.get("closes_at", ""), zone),
        "proctor_ids": list(multi.get("proctor_ids", [])),
        "notes": values.get("notes", "").strip() or None,
        # Empty: the organization's default language; no box ticked: no switching.
        "locale": values.get("locale", "").strip() or None,
        "locales": list(multi.get("locales", [])),
    }


@router.post("/administrations", response_class=Response)
async def create_administration(request: Request, who: ActionDep) -> Response:
    values, multi = await _values(request)
    body = {
        "assessment_version_id": values.get("assessment_version_id", ""),
        **_window_body(values, multi, _zone(who)),
    }
    reply = await who.api.post("/api/v1/administrations", body)
    if reply.ok:
        created = reply.json()
        return redirect(
            f"{BASE}/{created['id']}", flash=_("Scheduled “%(title)s”.", title=created["title"])
        )
    if reply.status == 403:
        who.expect(reply)
    kept = {
        **values,
        "proctor_ids": multi.get("proctor_ids", []),
        "locales": multi.get("locales", []),
    }
    return await _window_page(
        request,
        who,
        Form(values=kept, problem=reply.problem, fields=WINDOW_FIELDS),
        status=reply.status,
    )


@router.get("/administrations/{administration_id}/edit", response_class=HTMLResponse)
async def edit_administration(
    request: Request, who: StaffDep, administration_id: uuid.UUID
) -> HTMLResponse:
    row = await who.read(f"/api/v1/administrations/{administration_id}")
    zone = _zone(who)
    values = {
        "title": row["title"],
        "opens_at": _local_input(row["opens_at"], zone),
        "closes_at": _local_input(row["closes_at"], zone),
        "proctor_ids": row["proctor_ids"],
        "notes": row.get("notes") or "",
        "locale": row.get("locale") or "",
        "locales": row.get("locales") or [],
    }
    return await _window_page(request, who, Form(values=values), administration=row)


@router.post("/administrations/{administration_id}/edit", response_class=Response)
async def save_administration(
    request: Request, who: ActionDep, administration_id: uuid.UUID
) -> Response:
    values, multi = await _values(request)
    reply = await who.api.call(
        "PATCH",
        f"/api/v1/administrations/{administration_id}",
        json_body=_window_body(values, multi, _zone(who)),
    )
    if reply.ok:
        return redirect(f"{BASE}/{administration_id}", flash=_("Administration saved."))
    if reply.status in (403, 404):
        who.expect(reply)
    row = await who.read(f"/api/v1/administrations/{administration_id}")
    kept = {
        **values,
        "proctor_ids": multi.get("proctor_ids", []),
        "locales": multi.get("locales", []),
    }
    return await _window_page(
        request,
        who,
        Form(values=kept, problem=reply.problem, fields=WINDOW_FIELDS),
        administration=row,
        status=reply.status,
    )


# --- one administration ------------------------------------------------------------------------


async def _roster(
    who: Staff, administration_id: uuid.UUID | str
) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    entries = await who.read(f"/api/v1/administrations/{administration_id}/roster")
    people = await candidates_by_id(who, {e["candidate_id"] for e in entries})
    return entries, people


@router.get("/administrations/{administration_id}", response_class=HTMLResponse)
async def show_administration(
    request: Request, who: StaffDep, administration_id: uuid.UUID
) -> HTMLResponse:
    row = await who.read(f"/api/v1/administrations/{administration_id}")
    zone = _zone(who)
    entries, people = await _roster(who, administration_id)
    attempts = await _attempts(who, str(administration_id)) or []
    missing = {a["candidate_id"] for a in attempts} - people.keys()
    if missing:
        people.update(await candidates_by_id(who, missing))
    roster = sorted(
        (
            {
                **e,
                "name": _name(people.get(e["candidate_id"])),
                "candidate": people.get(e["candidate_id"]),
            }
            for e in entries
        ),
        key=lambda e: e["name"].lower(),
    )
    shown_attempts = [
        {
            **a,
            "name": _name(people.get(a["candidate_id"])),
            "started": shown_time(a.get("started_at"), zone),
            "deadline": shown_time(a.get("deadline_at"), zone),
            "ended": shown_time(a.get("ended_at"), zone),
        }
        for a in attempts
    ]
    return render(
        request,
        "administrations/detail.html",
        staff=who,
        administration=row,
        state=window_state(row),
        opens=shown_window(row["opens_at"], row["closes_at"], zone)[0],
        closes=shown_window(row["opens_at"], row["closes_at"], zone)[1],
        zone=zone.key,
        roster=roster,
        attempts=shown_attempts,
        counts=_counts(attempts),
        is_admin=who.has("admin"),
        proctor_names=[
            name for user_id, name in await _proctors(who) if user_id in row["proctor_ids"]
        ]
        if who.has("admin")
        else [],
    )


async def _act(who: Staff, administration_id: uuid.UUID, action: str) -> Any:
    if action == "delete":
        reply = await who.api.call("DELETE", f"/api/v1/administrations/{administration_id}")
    else:
        reply = await who.api.post(f"/api/v1/administrations/{administration_id}/{action}")
    return who.expect(reply)


@router.post("/administrations/{administration_id}/cancel", response_class=Response)
async def cancel(who: ActionDep, administration_id: uuid.UUID) -> Response:
    await _act(who, administration_id, "cancel")
    return redirect(
        f"{BASE}/{administration_id}",
        flash=_("Cancelled: no attempt can start, and live attempts are ended."),
    )


@router.post("/administrations/{administration_id}/archive", response_class=Response)
async def archive(who: ActionDep, administration_id: uuid.UUID) -> Response:
    await _act(who, administration_id, "archive")
    return redirect(BASE, flash=pgettext("administration", "Archived."))


@router.post("/administrations/{administration_id}/restore", response_class=Response)
async def restore(who: ActionDep, administration_id: uuid.UUID) -> Response:
    await _act(who, administration_id, "restore")
    return redirect(f"{BASE}/{administration_id}", flash=pgettext("administration", "Restored."))


@router.post("/administrations/{administration_id}/delete", response_class=Response)
async def delete(who: ActionDep, administration_id: uuid.UUID) -> Response:
    await _act(who, administration_id, "delete")
    return redirect(BASE, flash=pgettext("administration", "Deleted."))


# --- roster ----------------------------------------------------------------------------------


async def _sheet(
    request: Request,
    who: Staff,
    administration: Mapping[str, Any],
    issued: list[dict[str, Any]],
    *,
    heading: str,
    stopped: Problem | None = None,
) -> HTMLResponse:
    """The slips of codes just issued (``issued``: roster entries with ``access_code``)."""
    zone = _zone(who)
    people = await candidates_by_id(who, {e["candidate_id"] for e in issued})
    slips = sorted(
        (
            {
                "name": _name(people.get(e["candidate_id"])),
                "external_id": (people.get(e["candidate_id"]) or {}).get("external_id"),
                "code": e["access_code"],
                "multiplier": e["accommodations"]["extra_time_multiplier"],
            }
            for e in issued
            if e.get("access_code")
        ),
        key=lambda s: str(s["name"]).lower(),
    )
    return render(
        request,
        "administrations/codes.html",
        staff=who,
        administration=administration,
        slips=slips,
        heading=heading,
        stopped=stopped,
        opens=shown_window(administration["opens_at"], administration["closes_at"], zone)[0],
        closes=shown_window(administration["opens_at"], administration["closes_at"], zone)[1],
        zone=zone.key,
        player_url=str(request.base_url).rstrip("/") + "/take",
    )


def _row_problems(problem: Problem | None) -> list[dict[str, Any]]:
    if problem is None:
        return []
    rows = problem.extra.get("problems")
    return [dict(r) for r in rows if isinstance(r, Mapping)] if isinstance(rows, list) else []


async def _add_page(
    request: Request,
    who: Staff,
    administration_id: uuid.UUID,
    form: Form,
    *,
    q: str = "",
    chosen: list[str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    row = await who.read(f"/api/v1/administrations/{administration_id}")
    entries = await who.read(f"/api/v1/administrations/{administration_id}/roster")
    found = await who.read("/api/v1/candidates", {"q": q or None, "limit": 100})
    on_roster = {e["candidate_id"] for e in entries}
    chosen = chosen or []
    names = {c["id"]: _name(c) for c in found["items"]}
    if chosen:
        names.update({k: _name(v) for k, v in (await candidates_by_id(who, chosen)).items()})
    problems = [
        {**p, "name": names.get(chosen[p["row"] - 1], "") if 0 < p["row"] <= len(chosen) else ""}
        for p in _row_problems(form.problem)
    ]
    return render(
        request,
        "administrations/roster_add.html",
        staff=who,
        administration=row,
        form=form,
        supports=support_options(),
        candidates=found["items"],
        on_roster=on_roster,
        chosen=chosen,
        q=q,
        problems=problems,
        status=status,
    )


@router.get("/administrations/{administration_id}/roster/add", response_class=HTMLResponse)
async def add_candidates_page(
    request: Request, who: StaffDep, administration_id: uuid.UUID, q: str = ""
) -> HTMLResponse:
    return await _add_page(
        request,
        who,
        administration_id,
        Form(
            values={
                "extra_time_multiplier": "1",
                "extra_attempts": "0",
                "extra_breaks": "0",
                **_support_values([]),
            }
        ),
        q=q,
    )


def _accommodations(values: Mapping[str, str], multi: Mapping[str, list[str]]) -> dict[str, Any]:
    body = {
        "extra_time_multiplier": _number(values.get("extra_time_multiplier")),
        "extra_attempts": _number(values.get("extra_attempts"), integer=True),
        "extra_breaks": _number(values.get("extra_breaks"), integer=True),
    }
    supports = [
        *multi.get("accessibility_supports", []),
        *(values.get("other_supports") or "").replace(",", " ").replace(";", " ").split(),
    ]
    return {k: v for k, v in body.items() if v is not None} | {"accessibility_supports": supports}


def _form_values(values: Mapping[str, str], multi: Mapping[str, list[str]]) -> dict[str, Any]:
    """What was posted, to show again: the boxes ticked as a list."""
    return {**values, "accessibility_supports": multi.get("accessibility_supports", [])}


@router.post("/administrations/{administration_id}/roster", response_class=Response)
async def add_candidates(
    request: Request, who: ActionDep, administration_id: uuid.UUID
) -> Response:
    values, multi = await _values(request)
    chosen = multi.get("candidate_id", [])
    accommodations = _accommodations(values, multi)
    reply = await who.api.post(
        f"/api/v1/administrations/{administration_id}/roster",
        {"entries": [{"candidate_id": c, "accommodations": accommodations} for c in chosen]},
    )
    if reply.ok:
        row = await who.read(f"/api/v1/administrations/{administration_id}")
        return await _sheet(
            request,
            who,
            row,
            reply.json(),
            heading=ngettext(
                "%(num)d added: their access codes",
                "%(num)d added: their access codes",
                len(chosen),
            ),
        )
    if reply.status in (403, 404, 409):
        who.expect(reply)
    problem = reply.problem
    fields = {name: f"entries.0.accommodations.{api}" for name, api in ACCOMMODATION_FIELDS.items()}
    return await _add_page(
        request,
        who,
        administration_id,
        Form(
            values=_form_values(values, multi),
            problem=problem,
            fields={**fields, "candidate_id": "entries"},
        ),
        q=values.get("q", ""),
        chosen=chosen,
        status=reply.status,
    )


@router.get("/administrations/{administration_id}/roster/csv", response_class=HTMLResponse)
async def csv_page(request: Request, who: StaffDep, administration_id: uuid.UUID) -> HTMLResponse:
    row = await who.read(f"/api/v1/administrations/{administration_id}")
    return render(
        request,
        "administrations/roster_csv.html",
        staff=who,
        administration=row,
        form=Form(),
        problems=[],
    )


@router.post("/administrations/{administration_id}/roster/csv", response_class=Response)
async def upload_csv(request: Request, who: ActionDep, administration_id: uuid.UUID) -> Response:
    form = await request.form()
    upload = form.get("file")
    row = await who.read(f"/api/v1/administrations/{administration_id}")
    if not isinstance(upload, UploadFile) or not upload.filename:
        missing = Problem(
            status=422,
            code="validation-error",
            title=_("No file"),
            detail=_("Choose a CSV file to upload."),
        )
        return render(
            request,
            "administrations/roster_csv.html",
            staff=who,
            administration=row,
            form=Form(problem=missing),
            problems=[],
            status=422,
        )
    data = await upload.read()
    body, content_type = multipart(
        {}, {"file": (upload.filename, data, upload.content_type or "text/csv")}
    )
    reply = await who.api.call(
        "POST",
        f"/api/v1/administrations/{administration_id}/roster/csv",
        content=body,
        content_type=content_type,
    )
    if reply.ok:
        issued = reply.json()
        heading = ngettext(
            "%(num)d added from %(file)s",
            "%(num)d added from %(file)s",
            len(issued),
            file=upload.filename,
        )
        return await _sheet(request, who, row, issued, heading=heading)
    if reply.status in (403, 404, 409):
        who.expect(reply)
    return render(
        request,
        "administrations/roster_csv.html",
        staff=who,
        administration=row,
        form=Form(problem=reply.problem, fields={"file": "file"}),
        problems=_row_problems(reply.problem),
        filename=upload.filename,
        status=reply.status,
    )


async def _entry(who: Staff, administration_id: uuid.UUID, entry_id: uuid.UUID) -> dict[str, Any]:
    for entry in await who.read(f"/api/v1/administrations/{administration_id}/roster"):
        if entry["id"] == str(entry_id):
            found: dict[str, Any] = entry
            return found
    missing = Problem(
        status=404,
        code="roster-entry-not-found",
        title=_("Roster entry not found"),
        detail=_("roster entry %(id)s not found", id=str(entry_id)),
    )
    raise ApiRefused(missing, who)


async def _accommodations_page(
    request: Request,
    who: Staff,
    administration_id: uuid.UUID,
    entry_id: uuid.UUID,
    form: Form | None = None,
    status: int = 200,
) -> HTMLResponse:
    row = await who.read(f"/api/v1/administrations/{administration_id}")
    entry = await _entry(who, administration_id, entry_id)
    people = await candidates_by_id(who, [entry["candidate_id"]])
    accommodations = dict(entry["accommodations"])
    shown = form or Form(
        values={
            **{k: str(v) for k, v in accommodations.items() if k != "accessibility_supports"},
            **_support_values(accommodations.get("accessibility_supports") or []),
        },
        fields=ACCOMMODATION_FIELDS,
    )
    return render(
        request,
        "administrations/accommodations.html",
        staff=who,
        administration=row,
        entry=entry,
        name=_name(people.get(entry["candidate_id"])),
        form=shown,
        supports=support_options(),
        status=status,
    )


@router.get(
    "/administrations/{administration_id}/roster/{entry_id}/accommodations",
    response_class=HTMLResponse,
)
async def accommodations_page(
    request: Request, who: StaffDep, administration_id: uuid.UUID, entry_id: uuid.UUID
) -> HTMLResponse:
    return await _accommodations_page(request, who, administration_id, entry_id)


@router.post(
    "/administrations/{administration_id}/roster/{entry_id}/accommodations",
    response_class=Response,
)
async def save_accommodations(
    request: Request, who: ActionDep, administration_id: uuid.UUID, entry_id: uuid.UUID
) -> Response:
    values, multi = await _values(request)
    reply = await who.api.call(
        "PUT",
        f"/api/v1/administrations/{administration_id}/roster/{entry_id}/accommodations",
        json_body=_accommodations(values, multi),
    )
    if reply.ok:
        return redirect(
            f"{BASE}/{administration_id}#roster",
            flash=_("Accommodations saved; a live attempt's deadline follows them."),
        )
    if reply.status in (403, 404):
        who.expect(reply)
    form = Form(
        values=_form_values(values, multi), problem=reply.problem, fields=ACCOMMODATION_FIELDS
    )
    return await _accommodations_page(
        request, who, administration_id, entry_id, form, status=reply.status
    )


@router.post("/administrations/{administration_id}/roster/{entry_id}/code", response_class=Response)
async def issue_code(
    request: Request, who: ActionDep, administration_id: uuid.UUID, entry_id: uuid.UUID
) -> Response:
    reply = await who.api.post(
        f"/api/v1/administrations/{administration_id}/roster/{entry_id}/code"
    )
    issued = who.expect(reply)
    row = await who.read(f"/api/v1/administrations/{administration_id}")
    return await _sheet(request, who, row, [issued], heading=_("A new access code"))


@router.post(
    "/administrations/{administration_id}/roster/{entry_id}/revoke", response_class=Response
)
async def revoke_code(
    who: ActionDep, administration_id: uuid.UUID, entry_id: uuid.UUID
) -> Response:
    reply = await who.api.call(
        "DELETE", f"/api/v1/administrations/{administration_id}/roster/{entry_id}/code"
    )
    who.expect(reply)
    return redirect(f"{BASE}/{administration_id}#roster", flash=_("Access code revoked."))


@router.post("/administrations/{administration_id}/codes", response_class=Response)
async def issue_codes(request: Request, who: ActionDep, administration_id: uuid.UUID) -> Response:
    """New codes for the entries ticked (every entry when none is), on one sheet."""
    _single, multi = await _values(request)
    wanted = multi.get("entry_id") or [
        e["id"] for e in await who.read(f"/api/v1/administrations/{administration_id}/roster")
    ]
    issued: list[dict[str, Any]] = []
    stopped: Problem | None = None
    for entry_id in wanted:
        reply = await who.api.post(
            f"/api/v1/administrations/{administration_id}/roster/{entry_id}/code"
        )
        if not reply.ok:
            if not issued:
                who.expect(reply)
            # The codes issued so far already replaced the old ones: show them anyway.
            stopped = reply.problem
            break
        issued.append(reply.json())
    row = await who.read(f"/api/v1/administrations/{administration_id}")
    return await _sheet(
        request,
        who,
        row,
        issued,
        heading=ngettext(
            "A new access code for %(num)d candidate",
            "New access codes for %(num)d candidates",
            len(issued),
        ),
        stopped=stopped,
    )
