"""Reports: per administration, the cohort report (the API's data, shown here), the item
report with characteristic curves, downloads (cohort HTML and PDF, results and item
statistics as CSV and XLSX), and scorecards in bulk with their progress and download.

Everything is read and started through ``/api/v1/reports``; downloads and charts are links
to the API's own routes, which the browser's cookie session opens. The bulk job's
progress is shown as of the page's loading; ``reports.js`` keeps it live (without it,
reloading shows the progress)."""

from __future__ import annotations

from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from waa_ads.core.i18n import ngettext
from waa_ads.web.console.pages import CONSOLE, Staff, redirect, render
from waa_ads.web.console.router import ActionDep, StaffDep

router = APIRouter()

REPORTS: Final = f"{CONSOLE}/reports"


async def _administrations(who: Staff) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = await who.read("/api/v1/administrations", {"archived": True})
    return found


async def _administration(who: Staff, administration_id: str) -> dict[str, Any]:
    found: dict[str, Any] = await who.read(f"/api/v1/administrations/{administration_id}")
    return found


@router.get("/reports", response_class=HTMLResponse)
async def reports_home(request: Request, who: StaffDep) -> HTMLResponse:
    return render(
        request, "reports/list.html", staff=who, administrations=await _administrations(who)
    )


@router.get("/reports/{administration_id}", response_class=HTMLResponse)
async def cohort_page(request: Request, who: StaffDep, administration_id: str) -> HTMLResponse:
    administration = await _administration(who, administration_id)
    report = await who.read(f"/api/v1/reports/administrations/{administration_id}/cohort")
    jobs = await who.read("/api/v1/reports/jobs", {"administration_id": administration_id})
    return render(
        request,
        "reports/cohort.html",
        staff=who,
        administration=administration,
        report=report,
        jobs=jobs,
        api=f"/api/v1/reports/administrations/{administration_id}",
    )


@router.get("/reports/{administration_id}/items", response_class=HTMLResponse)
async def items_page(request: Request, who: StaffDep, administration_id: str) -> HTMLResponse:
    administration = await _administration(who, administration_id)
    report = await who.read(f"/api/v1/reports/administrations/{administration_id}/cohort")
    return render(
        request,
        "reports/items.html",
        staff=who,
        administration=administration,
        report=report,
        api=f"/api/v1/reports/administrations/{administration_id}",
    )


@router.post("/reports/{administration_id}/scorecards", response_class=Response)
async def start_scorecards(request: Request, who: ActionDep, administration_id: str) -> Response:
    reply = await who.api.post(f"/api/v1/reports/administrations/{administration_id}/scorecards")
    job = who.expect(reply)
    return redirect(
        f"{REPORTS}/{administration_id}#scorecards",
        flash=ngettext(
            "Generating %(num)d scorecard in the background.",
            "Generating %(num)d scorecards in the background.",
            job["total"],
        ),
    )
