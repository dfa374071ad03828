"""Assessments in from a QTI assessment test package (a form posting the package to the
API, then the new draft with every note), and out as one (the assessment page links to the
API's export). Registered before the assessment pages, whose path would take "import"
for an assessment id."""

from __future__ import annotations

from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import UploadFile

from waa_ads.web.console.gateway import multipart
from waa_ads.web.console.pages import CONSOLE, Form, Staff, render
from waa_ads.web.console.router import ActionDep, StaffDep

router = APIRouter()

PAGE: Final = f"{CONSOLE}/assessments/import"
FIELDS: Final = {"file": "file", "bank_id": "bank_id", "slug": "slug", "test": "test"}


async def _banks(who: Staff) -> list[tuple[str, str]]:
    rows: list[dict[str, Any]] = await who.read("/api/v1/banks")
    return [(str(b["id"]), str(b["name"])) for b in rows]


@router.get("/assessments/import", response_class=HTMLResponse)
async def import_page(request: Request, who: StaffDep) -> HTMLResponse:
    return render(
        request,
        "assessments/import.html",
        staff=who,
        banks=await _banks(who),
        form=Form(),
        done=None,
        report=None,
    )


@router.post("/assessments/import", response_class=Response)
async def import_run(request: Request, who: ActionDep) -> Response:
    form = await request.form()
    values = {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}
    fields = {
        k: values[k].strip() for k in ("bank_id", "slug", "test") if values.get(k, "").strip()
    }
    upload = form.get("file")
    files: dict[str, tuple[str, bytes, str]] = {}
    if isinstance(upload, UploadFile) and upload.filename:
        files["file"] = (
            upload.filename,
            await upload.read(),
            upload.content_type or "application/zip",
        )
    body, content_type = multipart(fields, files)
    reply = await who.api.call(
        "POST", "/api/v1/assessments/import-qti", content=body, content_type=content_type
    )
    problem = reply.problem
    report = problem.extra.get("report") if problem else None
    return render(
        request,
        "assessments/import.html",
        staff=who,
        banks=await _banks(who),
        # After an import, the form is for the next one (the bank kept).
        form=Form(
            values={"bank_id": values.get("bank_id", "")} if reply.ok else values,
            problem=problem,
            fields=FIELDS,
        ),
        done=reply.json() if reply.ok else None,
        report=report,
        status=201 if reply.ok else reply.status,
    )
