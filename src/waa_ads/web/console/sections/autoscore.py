"""Automated scoring (admins): the items people have scored with their essay models,
training a model (from people's scores or an uploaded CSV), its progress, its
cross-validated figures next to the organization's acceptance gate with each check passed
or failed, activating and retiring it, its live agreement with people and its recent
decisions; the gate's settings; and, for a rater or a lead, the model's explanation of a
leased answer.

Everything is read and changed through ``/api/v1/autoscore``; the API decides who may do
what and refuses an activation the gate does not allow.
"""

from __future__ import annotations

import uuid
from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import UploadFile

from waa_ads.web.console.gateway import Problem, multipart
from waa_ads.web.console.pages import CONSOLE, Form, Staff, redirect, render, templates
from waa_ads.web.console.router import ActionDep, StaffDep

router = APIRouter()

AREA: Final = f"{CONSOLE}/autoscore"
API: Final = "/api/v1/autoscore"
SETTINGS_FIELDS: Final = (
    "min_qwk",
    "max_below_human",
    "max_abs_smd",
    "max_abs_group_smd",
    "min_responses",
    "check_share",
)


def _figure(value: Any) -> str:
    """A statistic to three decimals; a dash when undefined."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else f"{value:.3f}"
    return str(value)


def _percent(value: Any) -> str:
    return "—" if value is None else f"{100 * float(value):.0f}%"


templates.filters["autoscore_figure"] = _figure
templates.filters["autoscore_percent"] = _percent


async def _items(who: Staff) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = await who.read(f"{API}/items")
    models: list[dict[str, Any]] = await who.read(f"{API}/models")
    for item in items:
        item["model_list"] = [m for m in models if m["item_version_id"] == item["item_version_id"]]
    return items


@router.get("/autoscore", response_class=HTMLResponse)
async def overview(request: Request, who: StaffDep) -> HTMLResponse:
    return render(
        request,
        "autoscore/list.html",
        staff=who,
        items=await _items(who),
        settings=await who.read(f"{API}/settings"),
        form=Form(),
    )


@router.post("/autoscore/items/{item_id}/train", response_class=Response)
async def train(request: Request, who: ActionDep, item_id: uuid.UUID) -> Response:
    data = await request.form()
    body: dict[str, Any] = {"item_id": str(item_id)}
    version = str(data.get("item_version_id", "")).strip()
    if version:
        body["item_version_id"] = version
    reply = await who.api.post(f"{API}/models", body)
    if reply.ok:
        made = reply.json()
        return redirect(
            f"{AREA}/models/{made['id']}",
            flash=f"Training version {made['version']} from people's scores",
        )
    if reply.status in (401, 403, 404):
        who.expect(reply)
    return render(
        request,
        "autoscore/list.html",
        staff=who,
        status=reply.status,
        items=await _items(who),
        settings=await who.read(f"{API}/settings"),
        form=Form(problem=reply.problem),
    )


def _upload_page(
    request: Request,
    who: Staff,
    item: dict[str, Any] | None,
    item_id: uuid.UUID,
    form: Form,
    status: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "autoscore/upload.html",
        staff=who,
        status=status,
        item=item,
        item_id=item_id,
        form=form,
    )


async def _item(who: Staff, item_id: uuid.UUID) -> dict[str, Any] | None:
    return next((i for i in await _items(who) if i["item_id"] == str(item_id)), None)


@router.get("/autoscore/upload", response_class=Response)
async def upload_for(who: StaffDep, item_id: str = "") -> Response:
    """The upload form of the item typed in the overview's form."""
    try:
        chosen = uuid.UUID(item_id.strip())
    except ValueError:
        return redirect(AREA, flash="That is not an item id; copy it from the item's page.")
    return redirect(f"{AREA}/items/{chosen}/upload")


@router.get("/autoscore/items/{item_id}/upload", response_class=HTMLResponse)
async def upload_form(request: Request, who: StaffDep, item_id: uuid.UUID) -> HTMLResponse:
    item = await who.read(f"/api/v1/items/{item_id}")
    return _upload_page(request, who, item, item_id, Form(values={"folds": 5, "confidence": 0.9}))


@router.post("/autoscore/items/{item_id}/upload", response_class=Response)
async def upload(request: Request, who: ActionDep, item_id: uuid.UUID) -> Response:
    data = await request.form()
    item = await who.read(f"/api/v1/items/{item_id}")
    values = {k: str(data.get(k, "")).strip() for k in ("folds", "confidence")}
    fields = {"file": "file", "folds": "folds", "confidence": "confidence"}
    upload_file = data.get("file")
    if not isinstance(upload_file, UploadFile) or not upload_file.filename:
        missing = Problem(422, "validation-error", "No file", "Choose a CSV file to upload.")
        return _upload_page(request, who, item, item_id, Form(values, missing, fields), 422)
    content = await upload_file.read()
    body, content_type = multipart(
        {"item_id": str(item_id), **{k: v for k, v in values.items() if v}},
        {"file": (upload_file.filename, content, upload_file.content_type or "text/csv")},
    )
    reply = await who.api.call(
        "POST", f"{API}/models/upload", content=body, content_type=content_type
    )
    if reply.ok:
        made = reply.json()
        return redirect(
            f"{AREA}/models/{made['id']}",
            flash=f"Training version {made['version']} from {upload_file.filename}",
        )
    if reply.status in (401, 403, 404):
        who.expect(reply)
    return _upload_page(
        request, who, item, item_id, Form(values, reply.problem, fields), reply.status
    )


async def _model_page(
    request: Request,
    who: Staff,
    model_id: uuid.UUID,
    *,
    form: Form | None = None,
    status: int = 200,
    refused: list[dict[str, Any]] | None = None,
) -> HTMLResponse:
    model = await who.read(f"{API}/models/{model_id}")
    agreement = await who.read(f"{API}/models/{model_id}/agreement")
    decisions = await who.read(f"{API}/models/{model_id}/decisions", {"limit": 20})
    item = await who.read(f"/api/v1/items/{model['item_id']}")
    return render(
        request,
        "autoscore/model.html",
        staff=who,
        status=status,
        model=model,
        report=model["metrics"] or {},
        item=item,
        agreement=agreement,
        decisions=decisions,
        form=form or Form(),
        refused=refused or [],
    )


@router.get("/autoscore/models/{model_id}", response_class=HTMLResponse)
async def model(request: Request, who: StaffDep, model_id: uuid.UUID) -> HTMLResponse:
    return await _model_page(request, who, model_id)


@router.post("/autoscore/models/{model_id}/{action}", response_class=Response)
async def change(request: Request, who: ActionDep, model_id: uuid.UUID, action: str) -> Response:
    if action not in ("activate", "retire"):
        return await _model_page(request, who, model_id)
    reply = await who.api.post(f"{API}/models/{model_id}/{action}")
    if reply.ok:
        done = reply.json()
        verb = "now scores its item" if action == "activate" else "was retired"
        return redirect(f"{AREA}/models/{model_id}", flash=f"Version {done['version']} {verb}")
    if reply.status in (401, 403, 404):
        who.expect(reply)
    problem = reply.problem
    checks = problem.extra.get("checks") if problem is not None else None
    return await _model_page(
        request,
        who,
        model_id,
        form=Form(problem=problem),
        status=reply.status,
        refused=[c for c in checks if isinstance(c, dict)] if isinstance(checks, list) else [],
    )


@router.get("/autoscore/settings", response_class=HTMLResponse)
async def settings(request: Request, who: StaffDep) -> HTMLResponse:
    current = await who.read(f"{API}/settings")
    values = {k: "" if v is None else v for k, v in current.items()}
    return render(request, "autoscore/settings.html", staff=who, form=Form(values=values))


def _number(text: str) -> float | int | str | None:
    """A typed number as the API wants it (ASCII digits only; anything else goes as typed
    and comes back as a field error)."""
    text = text.strip()
    if not text:
        return None
    if text.isascii() and text.isdigit():
        return int(text)
    try:
        return float(text) if text.isascii() else text
    except ValueError:
        return text


@router.post("/autoscore/settings", response_class=Response)
async def save_settings(request: Request, who: ActionDep) -> Response:
    data = await request.form()
    values: dict[str, Any] = {k: str(data.get(k, "")) for k in SETTINGS_FIELDS}
    body: dict[str, Any] = {k: _number(v) for k, v in values.items()}
    body = {k: v for k, v in body.items() if v is not None or k == "max_abs_group_smd"}
    body["require_human"] = data.get("require_human") == "on"
    values["require_human"] = body["require_human"]
    reply = await who.api.call("PUT", f"{API}/settings", json_body=body)
    if reply.ok:
        return redirect(AREA, flash="Saved the acceptance gate")
    if reply.status in (401, 403, 404):
        who.expect(reply)
    return render(
        request,
        "autoscore/settings.html",
        staff=who,
        status=reply.status,
        form=Form(values, reply.problem, {k: k for k in SETTINGS_FIELDS}),
    )


@router.get("/autoscore/leases/{lease_id}", response_class=HTMLResponse)
async def explanation(request: Request, who: StaffDep, lease_id: uuid.UUID) -> HTMLResponse:
    reply = await who.api.get(f"{API}/leases/{lease_id}/explanation")
    explained = None
    if reply.ok:
        explained = reply.json()
    elif reply.problem is None or reply.problem.code != "essay-model-not-active":
        who.expect(reply)
    return render(
        request, "autoscore/explanation.html", staff=who, explained=explained, lease_id=lease_id
    )
