"""Results: the attempts of an administration with their newest result, one attempt's result
(item scores, every revision, release and withholding, manual scores for the items people
score), answer-key corrections (rescoring) and the downloads (CSV, QTI results).

Everything is read and changed through ``/api/v1/results`` and ``/api/v1/rescore``; the
downloads are links to the API's own routes, which the browser's cookie session opens.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import replace
from typing import Any, Final
from urllib.parse import urlencode

from babel.numbers import format_decimal
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from waa_ads.core import i18n
from waa_ads.core.i18n import LazyString, lazy_pgettext, ngettext, pgettext
from waa_ads.core.i18n import gettext as _
from waa_ads.web.console.gateway import FieldError
from waa_ads.web.console.pages import CONSOLE, Form, Staff, redirect, render, templates
from waa_ads.web.console.router import ActionDep, StaffDep

router = APIRouter()

RESULTS: Final = f"{CONSOLE}/results"
PAGE_SIZE: Final = 50
#: The attempt states the list can be narrowed to, as the API names them.
STATES: Final = (
    "submitted",
    "expired",
    "terminated",
    "scoring",
    "scored",
    "released",
    "invalidated",
    "in_progress",
    "paused",
    "scheduled",
)
#: The attempt states in words.
STATE_WORDS: Final[dict[str, LazyString]] = {
    "submitted": lazy_pgettext("attempt state", "submitted"),
    "expired": lazy_pgettext("attempt state", "expired"),
    "terminated": lazy_pgettext("attempt state", "terminated"),
    "scoring": lazy_pgettext("attempt state", "scoring"),
    "scored": lazy_pgettext("attempt state", "scored"),
    "released": lazy_pgettext("attempt state", "released"),
    "invalidated": lazy_pgettext("attempt state", "invalidated"),
    "in_progress": lazy_pgettext("attempt state", "in progress"),
    "paused": lazy_pgettext("attempt state", "paused"),
    "scheduled": lazy_pgettext("attempt state", "scheduled"),
}
#: How an item was scored, in words.
METHODS: Final[dict[str, LazyString]] = {
    "objective": lazy_pgettext("scoring method", "objective"),
    "pending": lazy_pgettext("scoring method", "pending"),
    "manual": lazy_pgettext("scoring method", "manual"),
    "model": lazy_pgettext("scoring method", "model"),
}
#: How a plan's final score is made (a rating revision's reason names it).
RESOLUTION_WORDS: Final[dict[str, LazyString]] = {
    "adjudicator": lazy_pgettext("resolution", "adjudicator"),
    "mean": lazy_pgettext("resolution", "mean"),
    "sum_of_criteria": lazy_pgettext("resolution", "sum of criteria"),
}
#: Refusals about one field that the API gives as a problem code of their own.
FIELD_OF_CODE: Final = {"score-out-of-range": "score"}
#: Scoring methods that a machine decides: their items take no manual score here.
MACHINE_METHODS: Final = frozenset({"objective"})


def _release_state(result: dict[str, Any] | None) -> tuple[str, str]:
    """How a result stands for its candidate: (tag class, words)."""
    if result is None:
        return "scheduled", _("no result yet")
    if result["withheld"]:
        return "withheld", pgettext("result", "withheld")
    if result["released_at"]:
        return "released", pgettext("result", "released")
    if result["pending_items"]:
        n = result["pending_items"]
        return "scoring", ngettext("%(num)d item to score", "%(num)d items to score", n)
    return "review", _("not released")


def _number(value: Any) -> str:
    if value is None:
        return "—"
    number = float(value)
    if number.is_integer():
        return str(int(number))
    # At most two decimals, none written when they are zeros ("2.5", "2.25").
    return format_decimal(number, format="0.##", locale=i18n.current_language().format_locale)


def _state(code: Any) -> str:
    words = STATE_WORDS.get(str(code))
    return str(words) if words else str(code).replace("_", " ")


def _method(code: Any) -> str:
    words = METHODS.get(str(code))
    return str(words) if words else str(code)


def _resolution(code: str) -> str:
    words = RESOLUTION_WORDS.get(code)
    return str(words) if words else code


_REASONS: Final = (
    (re.compile(r"attempt ended"), lambda: _("attempt ended")),
    (
        re.compile(r"manual score for ([^:]+): (.*)", re.S),
        lambda ref, why: _("manual score for %(item)s: %(reason)s", item=ref, reason=_reason(why)),
    ),
    (
        re.compile(r"automated score for ([^:]+): (.*)", re.S),
        lambda ref, why: _(
            "automated score for %(item)s: %(reason)s", item=ref, reason=_reason(why)
        ),
    ),
    (
        re.compile(r"answer key corrected \((.*)\)", re.S),
        lambda why: _("answer key corrected (%(reason)s)", reason=why),
    ),
    (
        re.compile(r"no response \((.*); plan (\S+)\)", re.S),
        lambda refs, plan: _("no response (%(items)s; plan %(plan)s)", items=refs, plan=plan),
    ),
    (
        re.compile(r"rated \((\w+), plan (\S+)\)"),
        lambda how, plan: _(
            "rated (%(resolution)s, plan %(plan)s)", resolution=_resolution(how), plan=plan
        ),
    ),
    (
        re.compile(r"essay model v(\d+) \((\S+)\), confidence (\d+\.\d+)"),
        lambda version, model, confidence: _(
            "essay model v%(version)s (%(model)s), confidence %(confidence)s",
            version=version,
            model=model,
            confidence=i18n.format_number(float(confidence), 2),
        ),
    ),
)


def _reason(text: Any) -> str:
    """A revision's reason as the scoring service wrote it, in the reader's language when
    it is one the service writes (a person's own reason stays as they wrote it)."""
    written = str(text)
    for pattern, message in _REASONS:
        found = pattern.fullmatch(written)
        if found is not None:
            return message(*found.groups())
    return written


templates.globals["results_release_state"] = _release_state
templates.filters["results_number"] = _number
templates.filters["results_state"] = _state
templates.filters["results_method"] = _method
templates.filters["results_reason"] = _reason


async def _candidate_names(who: Staff, ids: set[str]) -> dict[str, str]:
    """How the pages name each candidate (an erased one by that fact)."""
    names: dict[str, str] = {}
    for candidate_id in sorted(ids):
        reply = await who.api.get(f"/api/v1/candidates/{candidate_id}")
        if reply.ok:
            body = reply.json()
            names[candidate_id] = body["full_name"] or (
                _("Erased candidate") if body["erased_at"] else _("Candidate without a name")
            )
        else:
            names[candidate_id] = _("Unknown candidate")
    return names


async def _administrations(who: Staff) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = await who.read("/api/v1/administrations", {"archived": True})
    return found


@router.get("/results", response_class=HTMLResponse)
async def results_list(
    request: Request,
    who: StaffDep,
    administration_id: str = "",
    state: str = "",
    cursor: str = "",
) -> HTMLResponse:
    administrations = await _administrations(who)
    chosen = next((a for a in administrations if a["id"] == administration_id), None)
    page = await who.read(
        "/api/v1/results",
        {
            "administration_id": chosen["id"] if chosen else None,
            "state": state if state in STATES else None,
            "cursor": cursor or None,
            "limit": PAGE_SIZE,
        },
    )
    names = await _candidate_names(who, {row["candidate_id"] for row in page["items"]})
    query = urlencode(
        [
            (k, v)
            for k, v in (("administration_id", chosen["id"] if chosen else ""), ("state", state))
            if v
        ]
    )
    return render(
        request,
        "results/list.html",
        staff=who,
        rows=page["items"],
        next_cursor=page["next_cursor"],
        names=names,
        administrations=administrations,
        chosen=chosen,
        state=state if state in STATES else "",
        states=STATES,
        base=f"{RESULTS}?{query}" if query else RESULTS,
    )


# --- rescoring (before the attempt routes: "rescore" is not an attempt id) ---------------


_RESCORE_FIELDS: Final = {
    "item_id": "item_id",
    "from_version": "from_version",
    "to_version": "to_version",
    "administration_id": "administration_id",
    "reason": "reason",
}


@router.get("/results/rescore", response_class=HTMLResponse)
async def rescore_form(request: Request, who: StaffDep, item_id: str = "") -> HTMLResponse:
    administrations = await _administrations(who)
    return render(
        request,
        "results/rescore.html",
        staff=who,
        form=Form(values={"item_id": item_id}),
        administrations=administrations,
        report=None,
    )


@router.post("/results/rescore", response_class=HTMLResponse)
async def rescore(request: Request, who: ActionDep) -> HTMLResponse:
    values = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    body: dict[str, Any] = {
        "item_id": values.get("item_id", "").strip(),
        "from_version": _int_or_text(values.get("from_version", "")),
        "to_version": _int_or_text(values.get("to_version", "")),
        "administration_id": values.get("administration_id") or None,
        "reason": values.get("reason", ""),
    }
    reply = await who.api.post("/api/v1/rescore", body)
    administrations = await _administrations(who)
    if not reply.ok:
        return render(
            request,
            "results/rescore.html",
            staff=who,
            status=reply.status,
            form=Form(values=values, problem=reply.problem, fields=_RESCORE_FIELDS),
            administrations=administrations,
            report=None,
        )
    return render(
        request,
        "results/rescore.html",
        staff=who,
        form=Form(values=values),
        administrations=administrations,
        report=reply.json(),
    )


def _int_or_text(value: str) -> int | str:
    """A number the API reads as one; anything else as typed, for the API to refuse."""
    text = value.strip()
    # ASCII decimal digits only: isdigit() takes "²", which int() refuses.
    return int(text) if text.isascii() and text.isdecimal() and len(text) < 12 else text


# --- one attempt ---------------------------------------------------------------------------


def _attempt_url(attempt_id: uuid.UUID) -> str:
    return f"{RESULTS}/{attempt_id}"


async def _detail_page(
    request: Request,
    who: Staff,
    attempt_id: uuid.UUID,
    *,
    status: int = 200,
    form: Form | None = None,
    failed: str | None = None,
) -> HTMLResponse:
    reply = await who.api.get(f"/api/v1/results/{attempt_id}")
    problem = reply.problem
    detail: dict[str, Any] | None = None
    if problem is not None and problem.code != "result-not-found":
        who.expect(reply)  # not the caller's attempt, or not allowed: the problem page
    if problem is None:
        detail = reply.json()
    names = await _candidate_names(who, {detail["candidate_id"]} if detail else set())
    return render(
        request,
        "results/attempt.html",
        staff=who,
        status=status,
        attempt_id=str(attempt_id),
        detail=detail,
        names=names,
        form=form or Form(),
        empty_form=Form(),
        failed=failed,
        machine_methods=MACHINE_METHODS,
    )


@router.get("/results/{attempt_id}", response_class=HTMLResponse)
async def result_detail(request: Request, who: StaffDep, attempt_id: uuid.UUID) -> HTMLResponse:
    return await _detail_page(request, who, attempt_id)


@router.post("/results/{attempt_id}/release", response_class=Response)
async def release(request: Request, who: ActionDep, attempt_id: uuid.UUID) -> Response:
    reply = await who.api.post(f"/api/v1/results/{attempt_id}/release")
    if not reply.ok:
        return await _refused(request, who, attempt_id, reply, "release", {})
    return redirect(_attempt_url(attempt_id), flash=_("The result is released to the candidate."))


@router.post("/results/{attempt_id}/{action}", response_class=Response)
async def withhold(
    request: Request, who: ActionDep, attempt_id: uuid.UUID, action: str
) -> Response:
    if action not in ("withhold", "unwithhold"):
        return await _detail_page(request, who, attempt_id, status=404)
    values = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    reply = await who.api.post(
        f"/api/v1/results/{attempt_id}/{action}", {"reason": values.get(f"{action}_reason", "")}
    )
    if not reply.ok:
        return await _refused(request, who, attempt_id, reply, action, values)
    said = (
        _("The result is withheld from the candidate.")
        if action == "withhold"
        else _("The result is no longer withheld from the candidate.")
    )
    return redirect(_attempt_url(attempt_id), flash=said)


@router.post("/results/{attempt_id}/items/{item_ref}/score", response_class=Response)
async def manual_score(
    request: Request, who: ActionDep, attempt_id: uuid.UUID, item_ref: str
) -> Response:
    values = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    score_text = values.get("score", "").strip()
    try:
        # A decimal comma as French and many languages write it ("2,5").
        score: float | str = float(
            score_text.replace(",", ".") if "." not in score_text else score_text
        )
    except ValueError:
        score = score_text
    reply = await who.api.post(
        f"/api/v1/results/{attempt_id}/items/{item_ref}/score",
        {"score": score, "reason": values.get("reason", "")},
    )
    if not reply.ok:
        return await _refused(request, who, attempt_id, reply, f"score-{item_ref}", values)
    return redirect(
        _attempt_url(attempt_id),
        flash=_("Score for %(item)s saved as a new revision.", item=item_ref),
    )


async def _refused(
    request: Request,
    who: Staff,
    attempt_id: uuid.UUID,
    reply: Any,
    failed: str,
    values: dict[str, str],
) -> HTMLResponse:
    """The attempt's page again with the API's refusal beside the form that was sent."""
    fields = {"withhold_reason": "reason", "unwithhold_reason": "reason"}
    if failed.startswith("score-"):
        # The item's fields are named after it (one form per item on the page).
        ref = failed.removeprefix("score-")
        fields = {f"score-{ref}": "score", f"reason-{ref}": "reason"}
        values = {
            f"score-{ref}": values.get("score", ""),
            f"reason-{ref}": values.get("reason", ""),
        }
    problem = reply.problem
    if reply.status == 404 and problem.code == "attempt-not-found":
        who.expect(reply)
    field = FIELD_OF_CODE.get(problem.code)
    if field is not None and problem.for_field(field) is None:
        # A rule the API checks about one field, without naming it: shown beside that field.
        reason = problem.detail or problem.title
        problem = replace(problem, fields=(*problem.fields, FieldError(field, reason)))
    return await _detail_page(
        request,
        who,
        attempt_id,
        status=reply.status,
        form=Form(values=values, problem=problem, fields=fields),
        failed=failed,
    )
