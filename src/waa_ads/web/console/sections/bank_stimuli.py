"""A bank's shared stimuli in the console: the list with a form to add one from a QTI
file, and a stimulus's page (its facts, the items that use it, what candidates are shown
beside them, a form to store its next version from a file, and buttons to archive,
restore or delete it).

Read and changed through ``/api/v1/banks/{id}/stimuli`` and ``/api/v1/stimuli`` only, so
an author sees and does exactly what the API allows. Pictures come with a package import
(a stimulus file alone brings none).
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import UploadFile

from waa_ads.core.i18n import gettext
from waa_ads.web.console.gateway import FieldError, Problem
from waa_ads.web.console.pages import CONSOLE, ApiRefused, Form, Staff, redirect, render
from waa_ads.web.console.router import ActionDep, StaffDep

router = APIRouter()

BANKS = f"{CONSOLE}/banks"


def stimuli_url(bank_id: Any) -> str:
    return f"{BANKS}/{bank_id}/stimuli"


def _file_problem(reason: str) -> Problem:
    return Problem(
        status=422,
        code="validation-error",
        title=gettext("Invalid shared stimulus"),
        detail=reason,
        fields=(FieldError("file", reason),),
    )


def _at_file(problem: Problem) -> Problem:
    """The API's refusal of a file, shown beside the file field."""
    return Problem(
        status=problem.status,
        code=problem.code,
        title=problem.title,
        detail=problem.detail,
        fields=(FieldError("file", problem.detail or problem.title),),
    )


async def _uploaded(request: Request) -> tuple[dict[str, Any] | None, Problem | None]:
    """The API body of an uploaded QTI stimulus file, or the problem to show."""
    form = await request.form()
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return None, _file_problem(gettext("choose the stimulus's file"))
    content = (await upload.read()).decode("utf-8", "replace")
    return {"source": {"format": "qti", "content": content}}, None


async def _list_page(
    request: Request,
    who: Staff,
    bank_id: uuid.UUID,
    form: Form | None = None,
    status: int = 200,
    *,
    archived: bool = False,
) -> HTMLResponse:
    bank = await who.read(f"/api/v1/banks/{bank_id}")
    page = await who.read(f"/api/v1/banks/{bank_id}/stimuli", {"limit": 200, "archived": archived})
    return render(
        request,
        "banks/stimuli.html",
        staff=who,
        bank=bank,
        stimuli=page["items"],
        more=bool(page["next_cursor"]),
        archived=archived,
        form=form or Form(),
        status=status,
    )


@router.get("/banks/{bank_id}/stimuli", response_class=HTMLResponse)
async def stimulus_list(
    request: Request,
    who: StaffDep,
    bank_id: uuid.UUID,
    archived: Annotated[bool, Query()] = False,
) -> HTMLResponse:
    return await _list_page(request, who, bank_id, archived=archived)


@router.post("/banks/{bank_id}/stimuli", response_class=Response)
async def stimulus_add(request: Request, who: ActionDep, bank_id: uuid.UUID) -> Response:
    body, problem = await _uploaded(request)
    if body is not None:
        reply = await who.api.post(f"/api/v1/banks/{bank_id}/stimuli", body)
        if reply.ok:
            stimulus = reply.json()["stimulus"]
            return redirect(
                f"{stimuli_url(bank_id)}/{stimulus['id']}",
                flash=gettext(
                    "Shared stimulus %(identifier)s added.", identifier=stimulus["identifier"]
                ),
            )
        problem = reply.problem
    assert problem is not None
    form = Form(problem=_at_file(problem))
    return await _list_page(request, who, bank_id, form=form, status=problem.status)


async def _stimulus_page(
    request: Request,
    who: Staff,
    bank_id: uuid.UUID,
    stimulus_id: uuid.UUID,
    form: Form | None = None,
    status: int = 200,
    *,
    refusal: Problem | None = None,
) -> HTMLResponse:
    bank = await who.read(f"/api/v1/banks/{bank_id}")
    found = await who.read(f"/api/v1/stimuli/{stimulus_id}")
    if found["stimulus"]["bank_id"] != str(bank_id):
        raise ApiRefused(
            Problem(
                status=404,
                code="not-found",
                title=gettext("Not found"),
                detail=gettext("There is no such shared stimulus in this bank."),
            ),
            who,
        )
    version = found["version"]
    preview = await who.read(f"/api/v1/stimuli/{stimulus_id}/versions/{version['version']}/preview")
    return render(
        request,
        "banks/stimulus.html",
        staff=who,
        bank=bank,
        stimulus=found["stimulus"],
        version=version,
        preview=preview,
        media=sorted((version["definition"].get("metadata") or {}).get("media", {}).items()),
        items=found["items"],
        refusal=refusal,
        form=form or Form(),
        status=status,
    )


@router.get("/banks/{bank_id}/stimuli/{stimulus_id}", response_class=HTMLResponse)
async def stimulus_page(
    request: Request, who: StaffDep, bank_id: uuid.UUID, stimulus_id: uuid.UUID
) -> HTMLResponse:
    return await _stimulus_page(request, who, bank_id, stimulus_id)


@router.post("/banks/{bank_id}/stimuli/{stimulus_id}", response_class=Response)
async def stimulus_new_version(
    request: Request, who: ActionDep, bank_id: uuid.UUID, stimulus_id: uuid.UUID
) -> Response:
    """Store the stimulus's next version from an uploaded file (its pictures are kept:
    the version's media go with the new body)."""
    body, problem = await _uploaded(request)
    if body is not None:
        found = await who.read(f"/api/v1/stimuli/{stimulus_id}")
        media = (found["version"]["definition"].get("metadata") or {}).get("media")
        if media:
            body["media"] = media
        reply = await who.api.call("PUT", f"/api/v1/stimuli/{stimulus_id}", json_body=body)
        if reply.ok:
            stored = reply.json()["version"]["version"]
            return redirect(
                f"{stimuli_url(bank_id)}/{stimulus_id}",
                flash=gettext("Version %(version)s stored.", version=stored)
                if stored != found["version"]["version"]
                else gettext("Unchanged: the file is the stimulus as it is."),
            )
        problem = reply.problem
    assert problem is not None
    form = Form(problem=_at_file(problem))
    return await _stimulus_page(
        request, who, bank_id, stimulus_id, form=form, status=problem.status
    )


@router.post("/banks/{bank_id}/stimuli/{stimulus_id}/archive", response_class=Response)
async def stimulus_archive(who: ActionDep, bank_id: uuid.UUID, stimulus_id: uuid.UUID) -> Response:
    stimulus = who.expect(await who.api.post(f"/api/v1/stimuli/{stimulus_id}/archive"))
    return redirect(
        f"{stimuli_url(bank_id)}/{stimulus_id}",
        flash=gettext(
            "Shared stimulus %(identifier)s archived: new items cannot use it; the items "
            "that use it still show it.",
            identifier=stimulus["identifier"],
        ),
    )


@router.post("/banks/{bank_id}/stimuli/{stimulus_id}/restore", response_class=Response)
async def stimulus_restore(who: ActionDep, bank_id: uuid.UUID, stimulus_id: uuid.UUID) -> Response:
    stimulus = who.expect(await who.api.post(f"/api/v1/stimuli/{stimulus_id}/restore"))
    return redirect(
        f"{stimuli_url(bank_id)}/{stimulus_id}",
        flash=gettext(
            "Shared stimulus %(identifier)s restored.", identifier=stimulus["identifier"]
        ),
    )


@router.post("/banks/{bank_id}/stimuli/{stimulus_id}/delete", response_class=Response)
async def stimulus_delete(
    request: Request, who: ActionDep, bank_id: uuid.UUID, stimulus_id: uuid.UUID
) -> Response:
    """Delete a stimulus no item uses; the API's refusal (items use it) is shown on the
    stimulus's page."""
    found = await who.read(f"/api/v1/stimuli/{stimulus_id}")
    reply = await who.api.call("DELETE", f"/api/v1/stimuli/{stimulus_id}")
    if reply.ok:
        return redirect(
            stimuli_url(bank_id),
            flash=gettext(
                "Shared stimulus %(identifier)s deleted.",
                identifier=found["stimulus"]["identifier"],
            ),
        )
    problem = reply.problem
    assert problem is not None
    return await _stimulus_page(
        request, who, bank_id, stimulus_id, refusal=problem, status=problem.status
    )
