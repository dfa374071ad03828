"""Psychometrics: per administration, the item statistics with their flags (to check
before results are released), the reliability summary, a calibration form, the stored IRT
parameters with the test information and item characteristic curves (PNGs the API draws),
the item statistics as CSV, and a DIF analysis by groups the user gives.

Everything is read and started through ``/api/v1/psychometrics``; images and the CSV are
links to the API's own routes, which the browser's cookie session opens."""

from __future__ import annotations

import asyncio
import csv
import io
from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from waa_ads.core.i18n import N_, format_number, gettext, ngettext
from waa_ads.web.console.gateway import FieldError, Problem
from waa_ads.web.console.pages import CONSOLE, Form, Staff, redirect, render
from waa_ads.web.console.router import ActionDep, StaffDep

router = APIRouter()

PSYCHOMETRICS: Final = f"{CONSOLE}/psychometrics"
API: Final = "/api/v1/psychometrics"
#: The IRT models offered (their names translated when shown).
MODELS: Final = (
    ("rasch", N_("Rasch (one common slope)")),
    ("2pl", "2PL"),
    ("3pl", "3PL"),
    ("gpcm", N_("Generalized partial credit")),
    ("grm", N_("Graded response")),
)
FLAG_TEXT: Final = {
    "negative-discrimination": N_("negative discrimination"),
    "distractor-attracts-high-scorers": N_("a distractor attracts high scorers"),
    "key-looks-wrong": N_("the key looks wrong"),
}


def _models() -> list[tuple[str, str]]:
    return [(code, gettext(name)) for code, name in MODELS]


def _flag_text() -> dict[str, str]:
    return {code: gettext(text) for code, text in FLAG_TEXT.items()}


async def _administration(who: Staff, administration_id: str) -> dict[str, Any]:
    found: dict[str, Any] = await who.read(f"/api/v1/administrations/{administration_id}")
    return found


@router.get("/psychometrics", response_class=HTMLResponse)
async def psychometrics_home(request: Request, who: StaffDep) -> HTMLResponse:
    administrations = await who.read("/api/v1/administrations", {"archived": True})
    return render(request, "psychometrics/list.html", staff=who, administrations=administrations)


async def _analysis_page(
    request: Request,
    who: Staff,
    administration_id: str,
    *,
    form: Form | None = None,
    status: int = 200,
) -> HTMLResponse:
    administration = await _administration(who, administration_id)
    analysis = await who.read(f"{API}/administrations/{administration_id}/item-analysis")
    parameters = await who.read(f"{API}/administrations/{administration_id}/parameters")
    runs = await who.read(f"{API}/calibration-runs", {"administration_id": administration_id})
    flag_text = _flag_text()
    flagged = [
        (item["item"], [flag_text.get(f, f) for f in item["flags"]])
        for item in analysis["items"]
        if item["flags"]
    ]
    return render(
        request,
        "psychometrics/administration.html",
        staff=who,
        status=status,
        administration=administration,
        analysis=analysis,
        parameters=parameters,
        runs=runs[:10],
        flagged=flagged,
        flag_text=flag_text,
        models=_models(),
        model_names=dict(_models()),
        form=form or Form(values={"model": "2pl"}),
        api=f"{API}/administrations/{administration_id}",
    )


@router.get("/psychometrics/{administration_id}", response_class=HTMLResponse)
async def analysis_page(request: Request, who: StaffDep, administration_id: str) -> HTMLResponse:
    return await _analysis_page(request, who, administration_id)


#: How long the calibrate button waits for a run to finish before showing it as running.
CALIBRATION_WAIT_S: Final = 5.0


@router.post("/psychometrics/{administration_id}/calibrate", response_class=Response)
async def calibrate(request: Request, who: ActionDep, administration_id: str) -> Response:
    """Queue a calibration run; a small one has usually finished within a few seconds,
    which the flash then reports, otherwise the page lists it as running."""
    data = await request.form()
    model = str(data.get("model", "2pl"))
    reply = await who.api.post(
        f"{API}/calibration-runs", {"administration_ids": [administration_id], "model": model}
    )
    if reply.ok:
        run = reply.json()
        waited = 0.0
        while run["status"] in ("queued", "running") and waited < CALIBRATION_WAIT_S:
            await asyncio.sleep(0.2)
            waited += 0.2
            run = await who.read(f"{API}/calibration-runs/{run['id']}")
        target = f"{PSYCHOMETRICS}/{administration_id}#parameters"
        if run["status"] == "done":
            made = run["result"]
            figures = {
                "model": made["model"],
                "persons": format_number(made["persons"], 0),
                "iterations": made["iterations"],
            }
            said = (
                ngettext(
                    "Calibrated %(num)d item with %(model)s on %(persons)s candidates "
                    "(%(iterations)s iterations, converged).",
                    "Calibrated %(num)d items with %(model)s on %(persons)s candidates "
                    "(%(iterations)s iterations, converged).",
                    len(made["items"]),
                    **figures,
                )
                if made["converged"]
                else ngettext(
                    "Calibrated %(num)d item with %(model)s on %(persons)s candidates "
                    "(%(iterations)s iterations, did not converge).",
                    "Calibrated %(num)d items with %(model)s on %(persons)s candidates "
                    "(%(iterations)s iterations, did not converge).",
                    len(made["items"]),
                    **figures,
                )
            )
            return redirect(target, flash=said)
        if run["status"] == "failed":
            return redirect(
                target, flash=gettext("The calibration failed: %(error)s", error=run["error"])
            )
        return redirect(
            target,
            flash=gettext("The calibration is running; this page lists it with its progress."),
        )
    problem = reply.problem
    assert problem is not None
    form = Form(values={"model": model}, problem=problem, fields={"model": "model"})
    return await _analysis_page(request, who, administration_id, form=form, status=reply.status)


def _read_groups(text: str) -> tuple[dict[str, str], list[str]]:
    """``candidate,group`` lines (a header line naming them is skipped) and the reasons
    of lines that are not."""
    groups: dict[str, str] = {}
    wrong: list[str] = []
    for number, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        cells = [c.strip() for c in row]
        if not any(cells):
            continue
        if number == 1 and [c.lower() for c in cells[:2]] == ["candidate", "group"]:
            continue
        if len(cells) != 2 or not cells[0] or not cells[1]:
            wrong.append(gettext("line %(number)s: write candidate,group", number=number))
            continue
        groups[cells[0]] = cells[1]
    return groups, wrong


async def _dif_page(
    request: Request,
    who: Staff,
    administration_id: str,
    *,
    form: Form,
    result: dict[str, Any] | None = None,
    status: int = 200,
) -> HTMLResponse:
    administration = await _administration(who, administration_id)
    return render(
        request,
        "psychometrics/dif.html",
        staff=who,
        status=status,
        administration=administration,
        form=form,
        result=result,
    )


@router.get("/psychometrics/{administration_id}/dif", response_class=HTMLResponse)
async def dif_form(request: Request, who: StaffDep, administration_id: str) -> HTMLResponse:
    return await _dif_page(request, who, administration_id, form=Form())


@router.post("/psychometrics/{administration_id}/dif", response_class=HTMLResponse)
async def dif_run(request: Request, who: ActionDep, administration_id: str) -> HTMLResponse:
    data = await request.form()
    reference = str(data.get("reference", "")).strip()
    text = str(data.get("groups", ""))
    values = {"reference": reference, "groups": text}
    fields = {"reference": "reference", "groups": "groups"}
    groups, wrong = _read_groups(text)
    local: list[FieldError] = []
    if not reference:
        local.append(FieldError("reference", gettext("Name the reference group.")))
    if wrong:
        local.append(FieldError("groups", "; ".join(wrong[:5])))
    elif len(groups) == 1:
        local.append(
            FieldError("groups", gettext("Give at least two candidates with their groups."))
        )
    if local:
        problem = Problem(
            422, "validation-error", gettext("Invalid request"), None, fields=tuple(local)
        )
        form = Form(values=values, problem=problem, fields=fields)
        return await _dif_page(request, who, administration_id, form=form, status=422)
    reply = await who.api.post(
        f"{API}/administrations/{administration_id}/dif",
        {"reference": reference, "groups": groups or None},
    )
    if not reply.ok:
        refused = reply.problem
        assert refused is not None
        problem = refused
        if not refused.fields:
            problem = Problem(
                refused.status,
                refused.code,
                refused.title,
                refused.detail,
                fields=(FieldError("groups", refused.detail or refused.title),),
            )
        form = Form(values=values, problem=problem, fields=fields)
        return await _dif_page(request, who, administration_id, form=form, status=reply.status)
    return await _dif_page(
        request, who, administration_id, form=Form(values=values), result=reply.json()
    )
