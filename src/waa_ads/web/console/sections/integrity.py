"""Integrity review: the reviewers' queue of flagged attempts, one attempt's review page
(flags with their evidence, the timeline of events and saves, similarity partners with
their shared answers, past decisions, analysing again, the decision form), the
organization's integrity policies (list, versions, editing the YAML) and an
administration's answer-similarity run.

Everything is read and changed through ``/api/v1/integrity``; the API decides who may do
what (a proctor reviews the administrations assigned to them and never invalidates).
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any, Final

from babel.numbers import format_decimal
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from waa_ads.core.i18n import current_language, lazy_gettext, lazy_pgettext
from waa_ads.core.i18n import gettext as _
from waa_ads.web.console.gateway import FieldError, Problem
from waa_ads.web.console.pages import CONSOLE, Form, Staff, redirect, render, templates
from waa_ads.web.console.router import ActionDep, StaffDep

router = APIRouter()

INTEGRITY: Final = f"{CONSOLE}/integrity"
API: Final = "/api/v1/integrity"
PAGE_SIZE: Final = 50
STATUSES: Final = ("open", "decided")
#: The decisions a reviewer makes in the main form; invalidating has a form of its own.
KINDS: Final = (
    ("dismiss", lazy_gettext("Dismiss: nothing wrong happened")),
    ("note", lazy_gettext("Note: keep a remark, no consequence")),
    ("warn", lazy_gettext("Warn the candidate")),
)
#: Refusals about the decision that the API gives as a problem code of their own.
KIND_CODES: Final = frozenset(
    {"integrity-decision-not-allowed", "illegal-transition", "attempt-changed"}
)
POLICY_TEMPLATE: Final = """\
format: 1
description: Rules for supervised online tests
appeals: false
rules:
  - id: left-often
    when: focus_loss_count >= 3
    severity: medium
    reason: Left the test window {focus_loss_count} times
"""


def _short(value: Any) -> str:
    """An id short enough to read (its tail: ids made together share their head)."""
    return str(value)[-8:]


def _when(value: Any) -> str:
    text = str(value or "")
    return text[:19].replace("T", " ") if text else "—"


def _decimal(value: float | int, pattern: str) -> str:
    """A number in the page's language, without grouping (``pattern`` as Babel reads it)."""
    return format_decimal(value, format=pattern, locale=current_language().format_locale)


def _number(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, int | float):
        number = float(value)
        if number.is_integer():
            return _decimal(int(number), "0")
        if abs(number) < 0.001:
            mantissa, _e, exponent = f"{number:.3g}".partition("e")
            shown = _decimal(float(mantissa), "0.###")
            return f"{shown}e{exponent}" if exponent else shown
        return _decimal(number, "0.###")
    return str(value)


def _evidence_value(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(_evidence_value(v) for v in value) or _("none")
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_evidence_value(v)}" for k, v in value.items())
    return _number(value)


def _answer(value: Any) -> str:
    """A saved or shared answer as text (the stored shape keeps it under ``value``)."""
    if isinstance(value, dict) and "value" in value:
        value = value["value"]
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if value is None:
        return _("(none)")
    return str(value)


#: Evidence keys that name an event or a save of the timeline, linked to its row.
EVENT_KEYS: Final = frozenset({"event", "from_event", "to_event", "away_event"})
SAVE_KEYS: Final = frozenset({"save", "save_id", "saves"})

#: Evidence keys in the order a reader wants them, and what to call them.
EVIDENCE_LABELS: Final[dict[str, Any]] = {
    "from": lazy_pgettext("evidence", "from"),
    "to": lazy_pgettext("evidence", "until"),
    "at": lazy_pgettext("evidence", "at"),
    "seconds": lazy_pgettext("evidence", "seconds"),
    "kind": lazy_pgettext("evidence", "kind"),
    "item": lazy_pgettext("evidence", "item"),
    "items": lazy_pgettext("evidence", "items"),
    "from_event": lazy_pgettext("evidence", "first"),
    "to_event": lazy_pgettext("evidence", "last"),
    "event": "",
    "away_event": lazy_pgettext("evidence", "while away since"),
    "save": "",
    "saves": "",
}
_ISO_TIME: Final = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}")


def _evidence_parts(item: dict[str, Any]) -> list[dict[str, Any]]:
    """One piece of evidence as (label, text, links) parts, known keys first; event and
    save ids link to the timeline's rows."""
    order = list(EVIDENCE_LABELS)
    keys = sorted(
        (k for k in item if k != "signal"),
        key=lambda k: (order.index(k) if k in order else len(order), k),
    )
    parts: list[dict[str, Any]] = []
    for key in keys:
        value = item[key]
        label = EVIDENCE_LABELS.get(key, key.replace("_", " "))
        links: list[tuple[str, str]] = []
        text = ""
        if key in EVENT_KEYS and value:
            links = [(f"#event-{value}", _("event %(id)s", id=_short(value)))]
        elif key in SAVE_KEYS and value:
            links = [
                (f"#save-{v}", _("save %(id)s", id=v))
                for v in (value if isinstance(value, list) else [value])
            ]
        elif key == "frame" and value:
            links = [
                (f"#frame-{value}", _("still %(number)s", number=item.get("seq", _short(value))))
            ]
        elif key == "attempt_id" and value:
            links = [(f"{INTEGRITY}/attempts/{value}", _("attempt %(id)s", id=_short(value)))]
        elif isinstance(value, str) and _ISO_TIME.match(value):
            text = _("%(time)s UTC", time=_when(value))
        elif key == "kind" and isinstance(value, str):
            text = _word(EVENT_NAMES, value)
        else:
            text = _evidence_value(value)
        parts.append({"label": label, "text": text, "links": links})
    return parts


#: The browser signals of the timeline, by kind.
EVENT_NAMES: Final = {
    "focus_lost": lazy_pgettext("integrity event", "focus lost"),
    "focus_regained": lazy_pgettext("integrity event", "focus regained"),
    "copy": lazy_pgettext("integrity event", "copy"),
    "paste": lazy_pgettext("integrity event", "paste"),
    "cut": lazy_pgettext("integrity event", "cut"),
    "fullscreen_exit": lazy_pgettext("integrity event", "fullscreen exit"),
    "fullscreen_enter": lazy_pgettext("integrity event", "fullscreen enter"),
    "network_lost": lazy_pgettext("integrity event", "network lost"),
    "network_restored": lazy_pgettext("integrity event", "network restored"),
    "visibility_hidden": lazy_pgettext("integrity event", "visibility hidden"),
    "visibility_visible": lazy_pgettext("integrity event", "visibility visible"),
    "context_menu": lazy_pgettext("integrity event", "context menu"),
    "print_attempt": lazy_pgettext("integrity event", "print attempt"),
    "devtools_suspected": lazy_pgettext("integrity event", "devtools suspected"),
}
#: What became of a save, as the timeline says it.
SAVE_STATUSES: Final = {
    "accepted": lazy_pgettext("save status", "accepted"),
    "stale": lazy_pgettext("save status", "stale"),
    "late": lazy_pgettext("save status", "late"),
    "paused": lazy_pgettext("save status", "paused"),
    "closed": lazy_pgettext("save status", "closed"),
}
#: The lighting conditions of the webcam analysis's evaluation.
LIGHTING: Final = {
    "normal": lazy_pgettext("lighting", "normal"),
    "dim": lazy_pgettext("lighting", "dim"),
    "very_dark": lazy_pgettext("lighting", "very dark"),
    "backlit": lazy_pgettext("lighting", "backlit"),
    "noisy": lazy_pgettext("lighting", "noisy"),
    "blurred": lazy_pgettext("lighting", "blurred"),
    "overexposed": lazy_pgettext("lighting", "overexposed"),
}


def _word(table: dict[str, Any], value: Any) -> str:
    """A stored value shown as a word (an unknown one as itself, underscores as spaces)."""
    found = table.get(str(value))
    return str(found) if found is not None else str(value or "").replace("_", " ")


templates.globals.update(
    integrity_event_name=lambda kind: _word(EVENT_NAMES, kind),
    integrity_save_status=lambda status: _word(SAVE_STATUSES, status),
    lighting_condition=lambda condition: _word(LIGHTING, condition),
    integrity_evidence_parts=_evidence_parts,
    integrity_event_keys=EVENT_KEYS,
    integrity_save_keys=SAVE_KEYS,
    integrity_kinds=KINDS,
)
templates.filters.update(
    integrity_short=_short,
    integrity_when=_when,
    integrity_number=_number,
    integrity_evidence=_evidence_value,
    integrity_answer=_answer,
)


async def _candidate_names(who: Staff, ids: set[str]) -> dict[str, str]:
    names: dict[str, str] = {}
    for candidate_id in sorted(ids):
        reply = await who.api.get(f"/api/v1/candidates/{candidate_id}")
        if reply.ok:
            body = reply.json()
            names[candidate_id] = body["full_name"] or (
                _("Erased candidate") if body["erased_at"] else _("Candidate without a name")
            )
        else:
            names[candidate_id] = _("Candidate %(id)s", id=_short(candidate_id))
    return names


async def _staff_names(who: Staff, ids: set[str]) -> dict[str, str]:
    """How the pages name the staff behind decisions and policy versions: "you", the
    account's name where the caller may read accounts, else a short id."""
    names: dict[str, str] = {}
    me = str(who.me.get("user_id", ""))
    for user_id in sorted(i for i in ids if i):
        if user_id == me:
            names[user_id] = _("you")
            continue
        reply = await who.api.get(f"/api/v1/users/{user_id}")
        body = reply.json() if reply.ok else {}
        names[user_id] = (
            body.get("display_name")
            or body.get("email")
            or _("staff member %(id)s", id=_short(user_id))
        )
    return names


async def _administrations(who: Staff) -> list[dict[str, Any]]:
    reply = await who.api.get("/api/v1/administrations", {"archived": True})
    found: list[dict[str, Any]] = reply.json() if reply.ok else []
    return found


# --- the queue ---------------------------------------------------------------------------


@router.get("/integrity", response_class=HTMLResponse)
async def queue(
    request: Request,
    who: StaffDep,
    administration_id: str = "",
    status: str = "open",
    cursor: str = "",
) -> HTMLResponse:
    administrations = await _administrations(who)
    chosen = next((a for a in administrations if a["id"] == administration_id), None)
    status = status if status in STATUSES else "open"
    page = await who.read(
        f"{API}/queue",
        {
            "administration_id": chosen["id"] if chosen else None,
            "status": status,
            "cursor": cursor or None,
            "limit": PAGE_SIZE,
        },
    )
    names = await _candidate_names(who, {row["candidate_id"] for row in page["items"]})
    titles = {a["id"]: a["title"] for a in administrations}
    query = f"status={status}" + (f"&administration_id={chosen['id']}" if chosen else "")
    return render(
        request,
        "integrity/queue.html",
        staff=who,
        rows=page["items"],
        next_cursor=page["next_cursor"],
        names=names,
        titles=titles,
        administrations=administrations,
        chosen=chosen,
        review_status=status,
        base=f"{INTEGRITY}?{query}",
    )


# --- policies (before the attempt routes) -----------------------------------------------


def _policy_form(values: dict[str, Any], problem: Problem | None = None) -> Form:
    return Form(values=values, problem=problem, fields={"name": "name", "source": "source"})


def _policy_problems(problem: Problem | None) -> list[dict[str, Any]]:
    """Each problem of a refused policy: its line, field and reason."""
    if problem is None:
        return []
    listed = problem.extra.get("problems")
    return [p for p in listed if isinstance(p, dict)] if isinstance(listed, list) else []


@router.get("/integrity/policies", response_class=HTMLResponse)
async def policies(request: Request, who: StaffDep) -> HTMLResponse:
    listed = await who.read(f"{API}/policies")
    return render(
        request,
        "integrity/policies.html",
        staff=who,
        policies=listed,
        form=_policy_form({"source": POLICY_TEMPLATE}),
        problems=[],
    )


async def _save_policy(
    request: Request, who: Staff, name: str, source: str, *, new: bool
) -> Response:
    reply = await who.api.call(
        "PUT", f"{API}/policies/{name}", json_body={"source": source.replace("\r\n", "\n")}
    )
    if reply.ok:
        saved = reply.json()
        return redirect(
            f"{INTEGRITY}/policies/{saved['name']}",
            flash=_(
                "Saved policy %(name)s as version %(version)s",
                name=saved["name"],
                version=saved["version"],
            ),
        )
    problem = reply.problem
    form = _policy_form({"name": name, "source": source}, problem)
    if new:
        listed = await who.read(f"{API}/policies")
        return render(
            request,
            "integrity/policies.html",
            staff=who,
            status=reply.status,
            policies=listed,
            form=form,
            problems=_policy_problems(problem),
        )
    current = await who.api.get(f"{API}/policies/{name}")
    shown = current.json() if current.ok else None
    return render(
        request,
        "integrity/policy.html",
        staff=who,
        status=reply.status,
        policy=shown,
        name=name,
        versions=list(range(shown["version"], 0, -1)) if shown else [],
        current_version=shown["version"] if shown else 0,
        people=await _staff_names(who, {str(shown["created_by"] or "")} if shown else set()),
        form=form,
        problems=_policy_problems(problem),
    )


@router.post("/integrity/policies", response_class=Response)
async def create_policy(request: Request, who: ActionDep) -> Response:
    data = await request.form()
    name = str(data.get("name", "")).strip()
    source = str(data.get("source", ""))
    if not name:
        problem = Problem(
            422,
            "validation-error",
            _("Invalid request"),
            _("A policy needs a name."),
            fields=(FieldError("name", _("Give the policy a name.")),),
        )
        listed = await who.read(f"{API}/policies")
        return render(
            request,
            "integrity/policies.html",
            staff=who,
            status=422,
            policies=listed,
            form=_policy_form({"name": name, "source": source}, problem),
            problems=[],
        )
    return await _save_policy(request, who, name, source, new=True)


@router.get("/integrity/policies/{name}", response_class=HTMLResponse)
async def policy(request: Request, who: StaffDep, name: str, version: int = 0) -> HTMLResponse:
    shown = await who.read(f"{API}/policies/{name}", {"version": version or None})
    current = shown if not version else await who.read(f"{API}/policies/{name}")
    return render(
        request,
        "integrity/policy.html",
        staff=who,
        policy=shown,
        name=shown["name"],
        versions=list(range(current["version"], 0, -1)),
        current_version=current["version"],
        people=await _staff_names(who, {str(shown["created_by"] or "")}),
        form=_policy_form({"source": current["source"]}),
        problems=[],
    )


@router.post("/integrity/policies/{name}", response_class=Response)
async def save_policy(request: Request, who: ActionDep, name: str) -> Response:
    data = await request.form()
    return await _save_policy(request, who, name, str(data.get("source", "")), new=False)


# --- answer similarity -------------------------------------------------------------------


@router.get(
    "/integrity/administrations/{administration_id}/similarity", response_class=HTMLResponse
)
async def similarity(request: Request, who: StaffDep, administration_id: str) -> HTMLResponse:
    administration = await who.read(f"/api/v1/administrations/{administration_id}")
    reply = await who.api.get(f"{API}/administrations/{administration_id}/similarity")
    report = None
    if reply.ok:
        report = reply.json()
    elif reply.problem is None or reply.problem.code != "similarity-not-run":
        who.expect(reply)
    return render(
        request,
        "integrity/similarity.html",
        staff=who,
        administration=administration,
        report=report,
    )


@router.post("/integrity/administrations/{administration_id}/similarity", response_class=Response)
async def run_similarity(request: Request, who: ActionDep, administration_id: str) -> Response:
    who.expect(await who.api.post(f"{API}/administrations/{administration_id}/similarity"))
    return redirect(
        f"{INTEGRITY}/administrations/{administration_id}/similarity",
        flash=_("Answer similarity is being analysed; reload this page in a moment for the result"),
    )


# --- one attempt -------------------------------------------------------------------------


def _cited(summary: dict[str, Any] | None) -> dict[tuple[str, str], list[str]]:
    """The rules whose evidence names each event and save, by ("event"|"save", id)."""
    cited: dict[tuple[str, str], list[str]] = {}
    for flag in (summary or {}).get("flags", []):
        for item in flag["evidence"]:
            for key, value in item.items():
                kind = (
                    "event"
                    if key in EVENT_KEYS
                    else "save"
                    if key in SAVE_KEYS
                    else "frame"
                    if key == "frame"
                    else None
                )
                if kind is None or value is None:
                    continue
                for one in value if isinstance(value, list) else [value]:
                    rules = cited.setdefault((kind, str(one)), [])
                    if flag["rule"] not in rules:
                        rules.append(flag["rule"])
    return cited


async def _attempt_page(
    request: Request,
    who: Staff,
    attempt_id: str,
    *,
    form: Form | None = None,
    failed: str = "",
    status: int = 200,
) -> HTMLResponse:
    line = await who.read(f"{API}/attempts/{attempt_id}/timeline")
    names = await _candidate_names(who, {line["candidate_id"]})
    people = await _staff_names(
        who, {str(d["actor_id"]) for d in line["decisions"] if d["actor_type"] == "user"}
    )
    administration = await who.api.get(f"/api/v1/administrations/{line['administration_id']}")
    # One list of what happened, in the order the server received it.
    rows: list[dict[str, Any]] = [
        {"at": e["received_at"], "type": "event", "id": str(e["id"]), "entry": e}
        for e in line["events"]
    ]
    rows += [
        {"at": s["received_at"], "type": "save", "id": str(s["id"]), "entry": s}
        for s in line["saves"]
    ]
    rows += [
        {"at": f["received_at"], "type": "frame", "id": str(f["id"]), "entry": f}
        for f in line.get("frames", [])
    ]
    rows.sort(key=lambda r: (r["at"], r["type"]))
    cited = _cited(line["summary"])
    for row in rows:
        row["flags"] = cited.get((row["type"], row["id"]), [])
    return render(
        request,
        "integrity/attempt.html",
        staff=who,
        status=status,
        line=line,
        summary=line["summary"],
        rows=rows,
        name=names[line["candidate_id"]],
        people=people,
        administration=administration.json() if administration.ok else None,
        form=form or Form(),
        empty=Form(),
        failed=failed,
    )


@router.get("/integrity/attempts/{attempt_id}", response_class=HTMLResponse)
async def attempt(request: Request, who: StaffDep, attempt_id: str) -> HTMLResponse:
    return await _attempt_page(request, who, attempt_id)


@router.post("/integrity/attempts/{attempt_id}/analyse", response_class=Response)
async def analyse(request: Request, who: ActionDep, attempt_id: str) -> Response:
    who.expect(await who.api.post(f"{API}/attempts/{attempt_id}/analyse"))
    return redirect(f"{INTEGRITY}/attempts/{attempt_id}", flash=_("Analysed the attempt again"))


@router.post("/integrity/attempts/{attempt_id}/decisions", response_class=Response)
async def decide(request: Request, who: ActionDep, attempt_id: str) -> Response:
    data = await request.form()
    kind = str(data.get("kind", ""))
    invalidate = kind == "invalidate"
    reason = str(data.get("invalidate_reason" if invalidate else "reason", ""))
    reply = await who.api.post(
        f"{API}/attempts/{attempt_id}/decisions", {"kind": kind, "reason": reason.strip()}
    )
    if reply.ok:
        words = {
            "dismiss": _("Dismissed: the decision is recorded"),
            "note": _("Noted: the decision is recorded"),
            "warn": _("Warned: the decision is recorded"),
            "invalidate": _("Invalidated: the decision is recorded"),
        }
        return redirect(
            f"{INTEGRITY}/attempts/{attempt_id}",
            flash=words.get(kind) or _("Decided: the decision is recorded"),
        )
    problem = reply.problem
    assert problem is not None
    if problem.code in KIND_CODES and not problem.fields:
        problem = replace(
            problem, fields=(FieldError("body.kind", problem.detail or problem.title),)
        )
    prefix = "invalidate_" if invalidate else ""
    form = Form(
        values={f"{prefix}reason": reason, "kind": kind},
        problem=problem,
        fields={f"{prefix}reason": "reason", f"{prefix}kind": "kind"},
    )
    return await _attempt_page(
        request,
        who,
        attempt_id,
        form=form,
        failed="invalidate" if invalidate else "decide",
        status=reply.status,
    )


# --- webcam stills and the fairness report ----------------------------------------------------

CONCERNS: Final = {
    "no_face": lazy_gettext("no face"),
    "several_faces": lazy_gettext("several faces"),
    "looking_away": lazy_gettext("face turned away"),
    "at_edge": lazy_gettext("leaving the frame"),
    "too_dark": lazy_gettext("too dark"),
    "too_bright": lazy_gettext("too bright"),
    "uniform": lazy_gettext("a single tone (covered lens?)"),
    "frozen": lazy_gettext("same picture as before"),
}


def _concerns(values: list[str]) -> str:
    return ", ".join(_word(CONCERNS, v) for v in values) or _("nothing unusual")


templates.filters.update(integrity_concerns=_concerns)


@router.get("/integrity/frames/{frame_id}/thumbnail", response_class=Response)
async def frame_thumbnail(who: StaffDep, frame_id: str) -> Response:
    """A still's thumbnail for the review page (read through the API, so the API's
    access rules apply)."""
    reply = await who.api.get(f"{API}/frames/{frame_id}/thumbnail")
    if not reply.ok:
        return Response(status_code=404 if reply.status != 401 else 401)
    return Response(
        reply.body,
        media_type=reply.content_type or "image/jpeg",
        headers={"Cache-Control": "private, max-age=300"},
    )


@router.get("/integrity/fairness", response_class=HTMLResponse)
async def fairness(request: Request, who: StaffDep, administration_id: str = "") -> HTMLResponse:
    administrations = await _administrations(who)
    chosen = next((a for a in administrations if a["id"] == administration_id), None)
    report = await who.read(
        f"{API}/fairness", {"administration_id": chosen["id"] if chosen else None}
    )
    return render(
        request,
        "integrity/fairness.html",
        staff=who,
        report=report,
        administrations=administrations,
        chosen=chosen,
        export=f"{INTEGRITY}/fairness.csv"
        + (f"?administration_id={chosen['id']}" if chosen else ""),
    )


@router.get("/integrity/fairness.csv", response_class=Response)
async def fairness_csv(who: StaffDep, administration_id: str = "") -> Response:
    reply = await who.api.get(
        f"{API}/fairness.csv", {"administration_id": administration_id or None}
    )
    if not reply.ok:
        who.expect(reply)  # the problem page
    return Response(
        reply.body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="integrity-fairness.csv"'},
    )
