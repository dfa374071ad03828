"""The item bank area of the console: banks, their items, the item page (facts, workflow,
the candidate's preview, trying a response, versions and their differences), the item
editor (a form per common interaction, and the item's source), import and export, media
and rubrics.

Everything is read and changed through the content and scoring API
(``/api/v1/banks``, ``/api/v1/items``, ``/api/v1/media``, ``/api/v1/rubrics``), so what an
author may see and do is exactly what the API allows them.
"""

from __future__ import annotations

import difflib
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Final
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData, UploadFile

from waa_ads.core import i18n
from waa_ads.core.i18n import N_, LazyString, gettext, lazy_pgettext
from waa_ads.web.console.gateway import FieldError, Problem, multipart
from waa_ads.web.console.pages import (
    CONSOLE,
    ApiRefused,
    Form,
    Staff,
    redirect,
    render,
    status_label,
)
from waa_ads.web.console.router import ActionDep, StaffDep
from waa_ads.web.console.sections import bank_forms
from waa_ads.web.console.sections.administrations import support_options

router = APIRouter()

BANKS: Final = f"{CONSOLE}/banks"
#: The interaction types the bank knows (``content.item.definition.InteractionType``),
#: named in English for the catalogue (:func:`translated` shows them in the reader's).
INTERACTION_TYPES: Final[tuple[tuple[str, LazyString], ...]] = (
    ("choice", lazy_pgettext("interaction", "Choice")),
    ("text_entry", lazy_pgettext("interaction", "Text entry")),
    ("numeric_entry", lazy_pgettext("interaction", "Numeric entry")),
    ("inline_choice", lazy_pgettext("interaction", "Inline choice")),
    ("order", lazy_pgettext("interaction", "Order")),
    ("match", lazy_pgettext("interaction", "Match")),
    ("associate", lazy_pgettext("interaction", "Associate")),
    ("gap_match", lazy_pgettext("interaction", "Gap match")),
    ("hottext", lazy_pgettext("interaction", "Hot text")),
    ("hotspot", lazy_pgettext("interaction", "Hotspot")),
    ("select_point", lazy_pgettext("interaction", "Select point")),
    ("extended_text", lazy_pgettext("interaction", "Extended text")),
    ("upload", lazy_pgettext("interaction", "Upload")),
    ("slider", lazy_pgettext("interaction", "Slider")),
)
STATUSES: Final = (
    ("draft", N_("Draft")),
    ("in_review", N_("In review")),
    ("published", N_("Published")),
    ("retired", N_("Retired")),
)
#: Workflow actions of the item page: the API route and what the flash message says.
WORKFLOW: Final = {
    "submit": ("submit", N_("Submitted for review.")),
    "publish": ("publish", N_("Published.")),
    "retire": ("retire", N_("Retired.")),
    "archive": ("archive", N_("Archived: the item is left out of searches and exports.")),
    "restore": ("restore", N_("Restored.")),
}


def translated(pairs: Sequence[tuple[str, str | LazyString]]) -> list[tuple[str, str]]:
    """(value, label) pairs with each label in the reader's language."""
    return [
        (value, str(label) if isinstance(label, LazyString) else gettext(label))
        for value, label in pairs
    ]


PAGE_SIZE: Final = 25


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _values(form: FormData) -> dict[str, Any]:
    return {k: v for k, v in form.multi_items() if isinstance(v, str) and k != "csrf_token"}


def bank_url(bank_id: Any) -> str:
    return f"{BANKS}/{bank_id}"


def item_url(bank_id: Any, item_id: Any) -> str:
    return f"{BANKS}/{bank_id}/items/{item_id}"


# --- banks -----------------------------------------------------------------------------------


def _whole(text: str) -> int | None:
    """A whole number typed in a form (ASCII digits only, within an int's reach), else
    ``None``: other digits ("²", "٣") or text are not numbers here."""
    text = text.strip()
    if text.isascii() and text.isdecimal() and len(text) < 12:
        return int(text)
    return None


@router.get("/banks", response_class=HTMLResponse)
async def bank_list(
    request: Request, who: StaffDep, archived: Annotated[bool, Query()] = False
) -> HTMLResponse:
    banks = await who.read("/api/v1/banks", {"archived": archived})
    return render(
        request, "banks/list.html", staff=who, banks=banks, archived=archived, form=Form()
    )


@router.post("/banks", response_class=Response)
async def bank_create(request: Request, who: ActionDep) -> Response:
    form = await request.form()
    values = _values(form)
    body = {
        "slug": _text(form, "slug"),
        "name": _text(form, "name"),
        "description": _text(form, "description") or None,
        "review_required": form.get("review_required") == "on",
    }
    reply = await who.api.post("/api/v1/banks", body)
    if not reply.ok:
        banks = await who.read("/api/v1/banks")
        shown = Form(values=values, problem=reply.problem, fields=_BANK_FIELDS)
        return render(
            request,
            "banks/list.html",
            staff=who,
            banks=banks,
            archived=False,
            form=shown,
            status=reply.status,
        )
    bank = reply.json()
    return redirect(
        bank_url(bank["id"]), flash=gettext("Bank “%(name)s” created.", name=bank["name"])
    )


_BANK_FIELDS: Final = {
    "slug": "slug",
    "name": "name",
    "description": "description",
    "review_required": "review_required",
}


# --- media and rubrics (registered before the bank page, whose path would take their names) ---

MEDIA: Final = f"{BANKS}/media"
RUBRICS: Final = f"{BANKS}/rubrics"


@router.get("/banks/media", response_class=HTMLResponse)
async def media_list(request: Request, who: StaffDep) -> HTMLResponse:
    assets = await who.read("/api/v1/media")
    return render(request, "banks/media.html", staff=who, assets=assets, form=Form())


@router.post("/banks/media", response_class=Response)
async def media_upload(request: Request, who: ActionDep) -> Response:
    form = await request.form()
    upload = form.get("file")
    files: dict[str, tuple[str, bytes, str]] = {}
    if isinstance(upload, UploadFile) and upload.filename:
        data = await upload.read()
        files["file"] = (upload.filename, data, upload.content_type or "application/octet-stream")
    body, content_type = multipart({}, files)
    reply = await who.api.call("POST", "/api/v1/media", content=body, content_type=content_type)
    if reply.ok:
        asset = reply.json()
        said = (
            gettext("Uploaded: %(file)s.", file=asset["filename"])
            if reply.status == 201
            else gettext("Already in the library: %(file)s.", file=asset["filename"])
        )
        return redirect(f"{MEDIA}/{asset['id']}", flash=said)
    problem = reply.problem
    assert problem is not None
    if not problem.fields:
        problem = Problem(
            status=problem.status,
            code=problem.code,
            title=problem.title,
            detail=problem.detail,
            fields=(FieldError("file", problem.detail or problem.title),),
        )
    assets = await who.read("/api/v1/media")
    return render(
        request,
        "banks/media.html",
        staff=who,
        assets=assets,
        form=Form(problem=problem),
        status=reply.status,
    )


@router.get("/banks/media/{media_id}", response_class=HTMLResponse)
async def media_page(request: Request, who: StaffDep, media_id: uuid.UUID) -> HTMLResponse:
    asset = await who.read(f"/api/v1/media/{media_id}")
    return render(request, "banks/media_item.html", staff=who, asset=asset)


@router.get("/banks/rubrics", response_class=HTMLResponse)
async def rubric_list(request: Request, who: StaffDep) -> HTMLResponse:
    rubrics = await who.read("/api/v1/rubrics")
    return render(request, "banks/rubrics.html", staff=who, rubrics=rubrics, form=Form())


_RUBRIC_FIELDS: Final = {"slug": "slug", "yaml": "yaml"}


def _rubric_problem(problem: Problem | None) -> Problem:
    """A refused rubric: the document's problems (``invalid_params`` by their place in it)
    are shown by the YAML field and listed in the summary."""
    assert problem is not None
    others = tuple(f for f in problem.fields if f.name.startswith(("body.", "slug")))
    in_document = [f"{f.name}: {f.reason}" for f in problem.fields if f not in others]
    if not in_document and problem.code in ("rubric-invalid", "rubric-kind-changed"):
        in_document = [problem.detail or problem.title]
    # Every problem of the document at once, beside the field and in the summary.
    named = others + ((FieldError("yaml", "; ".join(in_document)),) if in_document else ())
    return Problem(
        status=problem.status,
        code=problem.code,
        title=problem.title,
        detail=problem.detail,
        fields=named,
    )


@router.post("/banks/rubrics", response_class=Response)
async def rubric_create(request: Request, who: ActionDep) -> Response:
    form = await request.form()
    values = _values(form)
    values["yaml"] = str(form.get("yaml") or "")
    reply = await who.api.post(
        "/api/v1/rubrics", {"slug": _text(form, "slug"), "yaml": values["yaml"]}
    )
    if reply.ok:
        made = reply.json()
        return redirect(
            f"{RUBRICS}/{made['rubric']['id']}",
            flash=gettext("Rubric “%(title)s” created.", title=made["rubric"]["title"]),
        )
    rubrics = await who.read("/api/v1/rubrics")
    shown = Form(values=values, problem=_rubric_problem(reply.problem), fields=_RUBRIC_FIELDS)
    return render(
        request,
        "banks/rubrics.html",
        staff=who,
        rubrics=rubrics,
        form=shown,
        status=reply.status,
    )


async def _rubric_page(
    request: Request,
    who: Staff,
    rubric_id: uuid.UUID,
    version: int | None,
    form: Form | None = None,
    status: int = 200,
) -> HTMLResponse:
    rubrics = await who.read("/api/v1/rubrics")
    rubric = next((r for r in rubrics if r["id"] == str(rubric_id)), None)
    if rubric is None:
        raise ApiRefused(_not_found(gettext("There is no such rubric.")), who)
    shown = version or rubric["latest_version"]
    found = await who.read(f"/api/v1/rubrics/{rubric_id}/versions/{shown}")
    latest_yaml = found["version"]["source_yaml"]
    if shown != rubric["latest_version"]:
        latest = await who.read(f"/api/v1/rubrics/{rubric_id}/versions/{rubric['latest_version']}")
        latest_yaml = latest["version"]["source_yaml"]
    return render(
        request,
        "banks/rubric.html",
        staff=who,
        rubric=rubric,
        version=found["version"],
        form=form or Form(values={"yaml": latest_yaml}),
        status=status,
    )


@router.get("/banks/rubrics/{rubric_id}", response_class=HTMLResponse)
async def rubric_page(
    request: Request,
    who: StaffDep,
    rubric_id: uuid.UUID,
    version: Annotated[int | None, Query(ge=1)] = None,
) -> HTMLResponse:
    return await _rubric_page(request, who, rubric_id, version)


@router.post("/banks/rubrics/{rubric_id}/versions", response_class=Response)
async def rubric_version_add(request: Request, who: ActionDep, rubric_id: uuid.UUID) -> Response:
    form = await request.form()
    text = str(form.get("yaml") or "")
    reply = await who.api.post(f"/api/v1/rubrics/{rubric_id}/versions", {"yaml": text})
    if reply.ok:
        made = reply.json()
        return redirect(
            f"{RUBRICS}/{rubric_id}",
            flash=gettext("Saved as version %(version)s.", version=made["version"]["version"]),
        )
    if reply.status == 404:
        who.expect(reply)
    shown = Form(
        values={"yaml": text}, problem=_rubric_problem(reply.problem), fields=_RUBRIC_FIELDS
    )
    return await _rubric_page(request, who, rubric_id, None, shown, reply.status)


@dataclass(frozen=True)
class ItemFilters:
    """The bank page's search: what the items API takes, as the form sent it."""

    q: str = ""
    type: str = ""
    tag: str = ""
    status: str = ""
    archived: bool = False

    def params(self) -> dict[str, Any]:
        tags = [t.strip() for t in self.tag.split(",") if t.strip()]
        return {
            "q": self.q or None,
            "type": self.type or None,
            "tag": tags,
            "status": self.status or None,
            "archived": self.archived or None,
        }

    def query(self) -> str:
        pairs = {
            k: v
            for k, v in {
                "q": self.q,
                "type": self.type,
                "tag": self.tag,
                "status": self.status,
                "archived": "true" if self.archived else "",
            }.items()
            if v
        }
        return urlencode(pairs)


@router.get("/banks/{bank_id}", response_class=HTMLResponse)
async def bank_page(
    request: Request,
    who: StaffDep,
    bank_id: uuid.UUID,
    q: Annotated[str, Query(max_length=200)] = "",
    type: Annotated[str, Query(max_length=40)] = "",
    tag: Annotated[str, Query(max_length=300)] = "",
    status: Annotated[str, Query(max_length=20)] = "",
    archived: Annotated[bool, Query()] = False,
    cursor: Annotated[str, Query(max_length=500)] = "",
) -> HTMLResponse:
    bank = await who.read(f"/api/v1/banks/{bank_id}")
    filters = ItemFilters(q=q, type=type, tag=tag, status=status, archived=archived)
    reply = await who.api.get(
        "/api/v1/items",
        {"bank_id": str(bank_id), **filters.params(), "cursor": cursor or None, "limit": PAGE_SIZE},
    )
    # A malformed filter (a status the API does not know) is shown beside the search form.
    problem = reply.problem
    page = reply.json() if reply.ok else {"items": [], "next_cursor": None}
    if problem is not None and problem.status != 422:
        who.expect(reply)
    query = filters.query()
    base = f"{bank_url(bank_id)}?{query}" if query else bank_url(bank_id)
    return render(
        request,
        "banks/bank.html",
        staff=who,
        bank=bank,
        items=page["items"],
        next_cursor=page["next_cursor"],
        paged=bool(cursor),
        base=base,
        filters=filters,
        search=Form(values=filters.__dict__, problem=problem, fields={"status": "status"}),
        types=translated(INTERACTION_TYPES),
        statuses=translated(STATUSES),
    )


@router.get("/banks/{bank_id}/settings", response_class=HTMLResponse)
async def bank_settings(request: Request, who: StaffDep, bank_id: uuid.UUID) -> HTMLResponse:
    bank = await who.read(f"/api/v1/banks/{bank_id}")
    values = {
        "name": bank["name"],
        "description": bank["description"] or "",
        "review_required": bank["review_required"],
    }
    return render(request, "banks/settings.html", staff=who, bank=bank, form=Form(values=values))


@router.post("/banks/{bank_id}/settings", response_class=Response)
async def bank_settings_save(request: Request, who: ActionDep, bank_id: uuid.UUID) -> Response:
    form = await request.form()
    values: dict[str, Any] = _values(form)
    values["review_required"] = form.get("review_required") == "on"
    body = {
        "name": _text(form, "name"),
        "description": _text(form, "description") or None,
        "review_required": values["review_required"],
    }
    reply = await who.api.call("PATCH", f"/api/v1/banks/{bank_id}", json_body=body)
    if not reply.ok:
        bank = await who.read(f"/api/v1/banks/{bank_id}")
        shown = Form(values=values, problem=reply.problem, fields=_BANK_FIELDS)
        return render(
            request,
            "banks/settings.html",
            staff=who,
            bank=bank,
            form=shown,
            status=reply.status,
        )
    return redirect(bank_url(bank_id), flash=gettext("Bank settings saved."))


@router.post("/banks/{bank_id}/archive", response_class=Response)
async def bank_archive(who: ActionDep, bank_id: uuid.UUID) -> Response:
    bank = who.expect(await who.api.post(f"/api/v1/banks/{bank_id}/archive"))
    return redirect(
        bank_url(bank_id),
        flash=gettext("Bank “%(name)s” archived: it is left out of the list.", name=bank["name"]),
    )


@router.post("/banks/{bank_id}/restore", response_class=Response)
async def bank_restore(who: ActionDep, bank_id: uuid.UUID) -> Response:
    bank = who.expect(await who.api.post(f"/api/v1/banks/{bank_id}/restore"))
    return redirect(
        bank_url(bank_id), flash=gettext("Bank “%(name)s” restored.", name=bank["name"])
    )


# --- import ----------------------------------------------------------------------------------


@router.get("/banks/{bank_id}/import", response_class=HTMLResponse)
async def import_page(request: Request, who: StaffDep, bank_id: uuid.UUID) -> HTMLResponse:
    bank = await who.read(f"/api/v1/banks/{bank_id}")
    return render(
        request,
        "banks/import.html",
        staff=who,
        bank=bank,
        form=Form(values={"mode": "all"}),
        report=None,
    )


@router.post("/banks/{bank_id}/import", response_class=Response)
async def import_run(request: Request, who: ActionDep, bank_id: uuid.UUID) -> Response:
    form = await request.form()
    values = _values(form)
    upload = form.get("file")
    bank = await who.read(f"/api/v1/banks/{bank_id}")
    mode = "partial" if values.get("mode") == "partial" else "all"
    fields = {"mode": mode, "publish": "true" if form.get("publish") == "on" else "false"}
    if isinstance(upload, UploadFile) and upload.filename:
        data = await upload.read()
        files = {
            "file": (
                upload.filename,
                data,
                upload.content_type or "application/octet-stream",
            )
        }
        body, content_type = multipart(fields, files)
        reply = await who.api.call(
            "POST", f"/api/v1/banks/{bank_id}/import", content=body, content_type=content_type
        )
    else:
        body, content_type = multipart(fields, {})
        reply = await who.api.call(
            "POST", f"/api/v1/banks/{bank_id}/import", content=body, content_type=content_type
        )
    problem = reply.problem
    report = reply.json() if reply.ok else (problem.extra.get("report") if problem else None)
    return render(
        request,
        "banks/import.html",
        staff=who,
        bank=bank,
        form=Form(values=values, problem=problem, fields={"file": "file", "mode": "mode"}),
        report=report,
        status=reply.status if not reply.ok else 200,
    )


# --- the editor ------------------------------------------------------------------------------
# (registered before the item page, whose path would take "new" for an item id)

_SOURCE_FORMATS: Final = (
    ("native", N_("Native YAML or JSON")),
    ("qti", N_("QTI XML (3.0 or 2.x)")),
    ("definition", N_("Stored JSON (the native export's form)")),
)


def _form_values(form: FormData) -> dict[str, Any]:
    """A form's fields by name; a check box is ``True`` when ticked."""
    values: dict[str, Any] = {}
    for key, value in form.multi_items():
        if isinstance(value, str) and key != "csrf_token":
            values[key] = True if value == "on" else value
    return values


def _item_problem(problem: Problem | None, values: Mapping[str, Any], field: str) -> Problem:
    """The API's refusal with the place it names in the item turned into the form's field
    (``field`` takes what no other field does)."""
    assert problem is not None
    fields = list(problem.fields)
    if problem.code == "item-format-error" and problem.detail:
        named = bank_forms.field_of(problem.detail, values) if field == "" else None
        if named is not None:
            fields.insert(0, FieldError(*named))
        elif field:
            fields.insert(0, FieldError(field, problem.detail))
    return Problem(
        status=problem.status,
        code=problem.code,
        title=problem.title,
        detail=problem.detail,
        fields=tuple(fields),
        extra=problem.extra,
    )


async def _editor(
    request: Request,
    who: Staff,
    bank: Mapping[str, Any],
    values: Mapping[str, Any],
    *,
    item: Mapping[str, Any] | None,
    problem: Problem | None = None,
    status: int = 200,
) -> HTMLResponse:
    # The fields a refusal names (the form's own names) link from the summary too.
    named = {f.name: f.name for f in problem.fields if "." not in f.name} if problem else {}
    form = Form(
        values=dict(values), problem=problem, fields={**named, **bank_forms.METADATA_FIELDS}
    )
    rubrics: list[tuple[str, str]] = []
    if values["type"] == "extended_text":
        # The newest version of each rubric, to attach to an essay.
        rubrics = [("", gettext("None"))]
        for rubric in await who.read("/api/v1/rubrics"):
            latest = rubric["latest_version"]
            found = await who.read(f"/api/v1/rubrics/{rubric['id']}/versions/{latest}")
            rubrics.append(
                (
                    found["version"]["id"],
                    gettext(
                        "%(title)s (version %(version)s)", title=rubric["title"], version=latest
                    ),
                )
            )
        attached = str(values.get("rubric_version_id") or "")
        if attached and attached not in dict(rubrics):
            rubrics.append((attached, gettext("An earlier rubric version (attached now)")))
    return render(
        request,
        "banks/editor.html",
        rubrics=rubrics,
        staff=who,
        bank=bank,
        item=item,
        form=form,
        kind=values["type"],
        kind_label=str(dict(INTERACTION_TYPES)[values["type"]]),
        inline=values["type"] in bank_forms.INLINE,
        status=status,
    )


@router.get("/banks/{bank_id}/items/new", response_class=HTMLResponse)
async def item_new(
    request: Request,
    who: StaffDep,
    bank_id: uuid.UUID,
    type: Annotated[str, Query(max_length=40)] = "",
) -> Response:
    bank = await who.read(f"/api/v1/banks/{bank_id}")
    if type in bank_forms.FORM_TYPES:
        return await _editor(request, who, bank, bank_forms.blank_values(type), item=None)
    if type in dict(INTERACTION_TYPES):
        return redirect(f"{bank_url(bank_id)}/items/new/source?type={type}")
    return render(
        request,
        "banks/new.html",
        staff=who,
        bank=bank,
        form_types=[
            (t, label) for t, label in translated(INTERACTION_TYPES) if t in bank_forms.FORM_TYPES
        ],
        source_types=[
            (t, label)
            for t, label in translated(INTERACTION_TYPES)
            if t not in bank_forms.FORM_TYPES
        ],
    )


async def _save_editor(
    request: Request, who: Staff, bank_id: uuid.UUID, item_id: uuid.UUID | None
) -> Response:
    form = await request.form()
    values = _form_values(form)
    kind = str(values.get("type", ""))
    bank = await who.read(f"/api/v1/banks/{bank_id}")
    found = await _item_of_bank(who, bank_id, item_id) if item_id else None
    if kind not in bank_forms.FORM_TYPES:
        raise ApiRefused(_not_found(gettext("There is no form for this interaction type.")), who)
    if found is not None:
        values["identifier"] = found["item"]["identifier"]
    more = str(values.pop("more", ""))
    if more in ("choice", "source", "target"):
        # Without a script, "Add a row" comes back with one more empty row.
        values[f"{more}_rows"] = (_whole(str(values.get(f"{more}_rows") or "")) or 0) + 1
        return await _editor(request, who, bank, values, item=found["item"] if found else None)
    metadata = dict((found["version"]["definition"].get("metadata") or {}) if found else {})
    body: dict[str, Any] = {
        "source": {"format": "native", "content": bank_forms.native_document(values, metadata)},
        "metadata": bank_forms.bank_metadata(values),
        "change_note": str(values.get("change_note", "")).strip() or None,
    }
    if kind == "extended_text" and values.get("rubric_version_id"):
        body["rubric_version_id"] = str(values["rubric_version_id"])
    if found is None:
        reply = await who.api.post(f"/api/v1/banks/{bank_id}/items", body)
    else:
        expected = str(values.get("expected_version", ""))
        body["expected_version"] = _whole(expected)
        reply = await who.api.call("PATCH", f"/api/v1/items/{item_id}", json_body=body)
    if not reply.ok:
        return await _editor(
            request,
            who,
            bank,
            values,
            item=found["item"] if found else None,
            problem=_item_problem(reply.problem, values, ""),
            status=reply.status,
        )
    saved = reply.json()
    version = saved["version"]["version"]
    flash = gettext(
        "Saved as version %(version)s (%(status)s).",
        version=version,
        status=status_label(saved["version"]["status"]),
    )
    return redirect(item_url(bank_id, saved["item"]["id"]), flash=flash)


@router.post("/banks/{bank_id}/items/new", response_class=Response)
async def item_create(request: Request, who: ActionDep, bank_id: uuid.UUID) -> Response:
    return await _save_editor(request, who, bank_id, None)


def _source_page(
    request: Request,
    who: Staff,
    bank: Mapping[str, Any],
    *,
    item: Mapping[str, Any] | None,
    format: str,
    form: Form,
    status: int = 200,
    native_shown: bool = True,
) -> HTMLResponse:
    return render(
        request,
        "banks/source.html",
        staff=who,
        bank=bank,
        item=item,
        format=format,
        formats=translated(_SOURCE_FORMATS),
        form=form,
        native_shown=native_shown,
        status=status,
    )


@router.get("/banks/{bank_id}/items/new/source", response_class=HTMLResponse)
async def item_new_source(
    request: Request,
    who: StaffDep,
    bank_id: uuid.UUID,
    type: Annotated[str, Query(max_length=40)] = "",
) -> HTMLResponse:
    bank = await who.read(f"/api/v1/banks/{bank_id}")
    values = {"format": "native", "content": bank_forms.source_template(type)}
    return _source_page(request, who, bank, item=None, format="native", form=Form(values=values))


async def _save_source(
    request: Request, who: Staff, bank_id: uuid.UUID, item_id: uuid.UUID | None
) -> Response:
    form = await request.form()
    values = _values(form)
    bank = await who.read(f"/api/v1/banks/{bank_id}")
    found = await _item_of_bank(who, bank_id, item_id) if item_id else None
    fmt = values.get("format", "native")
    text = str(form.get("content") or "")
    values["content"] = text
    content: Any = text
    problem: Problem | None = None
    if fmt == "definition":
        try:
            content = json.loads(text)
        except ValueError as exc:
            problem = _field_problem("source", gettext("not JSON: %(error)s", error=exc))
        if isinstance(content, dict):
            content.pop("waa_item", None)
    if problem is None:
        body: dict[str, Any] = {
            "source": {"format": fmt, "content": content},
            "change_note": str(values.get("change_note", "")).strip() or None,
        }
        if found is None:
            reply = await who.api.post(f"/api/v1/banks/{bank_id}/items", body)
        else:
            expected = str(values.get("expected_version", ""))
            body["expected_version"] = _whole(expected)
            reply = await who.api.call("PATCH", f"/api/v1/items/{item_id}", json_body=body)
        if reply.ok:
            saved = reply.json()
            version = saved["version"]["version"]
            return redirect(
                item_url(bank_id, saved["item"]["id"]),
                flash=gettext("Saved as version %(version)s.", version=version),
            )
        problem = _item_problem(reply.problem, values, "source")
    shown = Form(
        values=values,
        problem=problem,
        fields={"content": "source", "change_note": "change_note"},
    )
    return _source_page(
        request,
        who,
        bank,
        item=found["item"] if found else None,
        format=fmt,
        form=shown,
        status=problem.status,
    )


@router.post("/banks/{bank_id}/items/new/source", response_class=Response)
async def item_create_source(request: Request, who: ActionDep, bank_id: uuid.UUID) -> Response:
    return await _save_source(request, who, bank_id, None)


@router.get("/banks/{bank_id}/items/{item_id}/edit", response_class=HTMLResponse)
async def item_edit(
    request: Request, who: StaffDep, bank_id: uuid.UUID, item_id: uuid.UUID
) -> Response:
    bank = await who.read(f"/api/v1/banks/{bank_id}")
    found = await _item_of_bank(who, bank_id, item_id)
    definition = found["version"]["definition"]
    if bank_forms.editable(definition) is None:
        return redirect(
            f"{item_url(bank_id, item_id)}/source",
            flash=gettext("This item says more than the form can show: edit its source."),
        )
    values = bank_forms.values_from_definition(definition, found["version"])
    return await _editor(request, who, bank, values, item=found["item"])


@router.post("/banks/{bank_id}/items/{item_id}/edit", response_class=Response)
async def item_save(
    request: Request, who: ActionDep, bank_id: uuid.UUID, item_id: uuid.UUID
) -> Response:
    return await _save_editor(request, who, bank_id, item_id)


@router.get("/banks/{bank_id}/items/{item_id}/source", response_class=HTMLResponse)
async def item_source(
    request: Request,
    who: StaffDep,
    bank_id: uuid.UUID,
    item_id: uuid.UUID,
    format: Annotated[str, Query(max_length=20)] = "qti",
) -> HTMLResponse:
    bank = await who.read(f"/api/v1/banks/{bank_id}")
    found = await _item_of_bank(who, bank_id, item_id)
    version = found["version"]
    definition = version["definition"]
    native_shown = bank_forms.editable(definition) is not None
    if format == "definition":
        content = json.dumps({"waa_item": 1, **definition}, indent=2, ensure_ascii=False)
    elif format == "native":
        if native_shown:
            values = bank_forms.values_from_definition(definition, version)
            metadata = dict(definition.get("metadata") or {})
            for key in ("tags", "subject", "standards", "estimated_time_s"):
                if version.get(key):
                    metadata[key] = version[key]
            content = bank_forms.native_yaml(bank_forms.native_document(values, metadata))
        else:
            content = ""
    else:
        format = "qti"
        reply = await who.api.get(f"/api/v1/items/{item_id}/versions/{version['version']}/qti")
        if not reply.ok:
            who.expect(reply)
        content = reply.body.decode("utf-8")
    values = {"format": format, "content": content, "expected_version": version["version"]}
    return _source_page(
        request,
        who,
        bank,
        item=found["item"],
        format=format,
        form=Form(values=values),
        native_shown=native_shown,
    )


@router.post("/banks/{bank_id}/items/{item_id}/source", response_class=Response)
async def item_source_save(
    request: Request, who: ActionDep, bank_id: uuid.UUID, item_id: uuid.UUID
) -> Response:
    return await _save_source(request, who, bank_id, item_id)


# --- items -----------------------------------------------------------------------------------


async def _item_of_bank(who: Staff, bank_id: uuid.UUID, item_id: uuid.UUID) -> dict[str, Any]:
    """The item with its newest version; one of another bank is not found here."""
    found: dict[str, Any] = await who.read(f"/api/v1/items/{item_id}")
    if found["item"]["bank_id"] != str(bank_id):
        raise ApiRefused(_not_found(gettext("There is no such item in this bank.")), who)
    return found


@dataclass
class TryState:
    """The "try a response" form: what was sent, and what the scoring answered."""

    responses: str = ""
    result: Mapping[str, Any] | None = None
    problem: Problem | None = None

    @property
    def form(self) -> Form:
        return Form(
            values={"responses": self.responses},
            problem=self.problem,
            fields={"responses": "responses"},
        )


async def _item_page(
    request: Request,
    who: Staff,
    bank_id: uuid.UUID,
    item_id: uuid.UUID,
    *,
    version: int | None,
    seed: int | None,
    tried: TryState | None = None,
    status: int = 200,
    translation_form: Form | None = None,
    supports: Sequence[str] = (),
) -> HTMLResponse:
    bank = await who.read(f"/api/v1/banks/{bank_id}")
    found = await _item_of_bank(who, bank_id, item_id)
    item = found["item"]
    translations: list[dict[str, Any]] = await who.read(f"/api/v1/items/{item_id}/translations")
    versions: list[dict[str, Any]] = await who.read(f"/api/v1/items/{item_id}/versions")
    shown_version = version or item["latest_version"]
    current = next((v for v in versions if v["version"] == shown_version), None)
    if current is None:
        current = await who.read(f"/api/v1/items/{item_id}/versions/{shown_version}")
    # The preview as a candidate with these accessibility supports sees it (the boxes give
    # known names only; anything else in the address is left out).
    known = {value for value, _label in support_options()}
    shown_supports = [s for s in dict.fromkeys(supports) if s in known]
    preview = await who.read(
        f"/api/v1/items/{item_id}/versions/{shown_version}/preview",
        {"seed": seed, "supports": shown_supports},
    )
    return render(
        request,
        "banks/item.html",
        staff=who,
        bank=bank,
        item=item,
        current=current,
        versions=sorted(versions, key=lambda v: v["version"], reverse=True),
        preview=preview,
        preview_data=json.dumps(preview),
        seed="" if seed is None else seed,
        supports=support_options(),
        preview_supports=shown_supports,
        preview_form=Form(values={"supports": shown_supports}),
        tried=tried or TryState(),
        form_editable=bank_forms.editable(current["definition"]) is not None,
        translations=translations,
        translation_form=translation_form or Form(),
        item_languages=[(code, language.name) for code, language in i18n.LANGUAGES.items()],
        status=status,
    )


@router.post("/banks/{bank_id}/items/{item_id}/translations", response_class=Response)
async def item_translation_add(
    request: Request, who: ActionDep, bank_id: uuid.UUID, item_id: uuid.UUID
) -> Response:
    """Add a translation of the item from an uploaded QTI (.xml) or native (.yaml, .json)
    file; a refusal shows the item page again with the API's reason at the form."""
    form = await request.form()
    values = _form_values(form)
    await _item_of_bank(who, bank_id, item_id)
    upload = form.get("translation_file")
    problem: Problem | None
    if not isinstance(upload, UploadFile) or not upload.filename:
        problem = _field_problem("source", gettext("choose the translation's file"))
    else:
        data = (await upload.read()).decode("utf-8", "replace")
        kind = "qti" if upload.filename.lower().endswith(".xml") else "native"
        body: dict[str, Any] = {
            "source": {"format": kind, "content": data},
            "publish": values.get("translation_publish") is True,
        }
        if values.get("translation_language"):
            body["language"] = values["translation_language"]
        reply = await who.api.post(f"/api/v1/items/{item_id}/translations", body)
        if reply.ok:
            created = reply.json()["item"]
            return redirect(
                item_url(bank_id, created["id"]),
                flash=gettext(
                    "Translation %(identifier)s added.", identifier=created["identifier"]
                ),
            )
        problem = reply.problem
    assert problem is not None
    return await _item_page(
        request,
        who,
        bank_id,
        item_id,
        version=None,
        seed=None,
        status=problem.status,
        translation_form=Form(
            values=values,
            problem=problem,
            fields={"translation_file": "source", "translation_language": "language"},
        ),
    )


@router.get("/banks/{bank_id}/items/{item_id}", response_class=HTMLResponse)
async def item_page(
    request: Request,
    who: StaffDep,
    bank_id: uuid.UUID,
    item_id: uuid.UUID,
    version: Annotated[int | None, Query(ge=1)] = None,
    seed: Annotated[str | None, Query(max_length=20)] = None,
    supports: Annotated[list[str] | None, Query()] = None,
) -> HTMLResponse:
    # The preview form sends an empty seed for document order, as its hint says; a seed
    # that is no whole number within the API's range is document order too.
    number = _whole(seed or "")
    return await _item_page(
        request,
        who,
        bank_id,
        item_id,
        version=version,
        seed=number if number is not None and number <= 2**31 - 1 else None,
        supports=supports or (),
    )


def responses_from_controls(form: FormData, interactions: Sequence[Mapping[str, Any]]) -> Any:
    """Without the page's script the item's own controls are posted by name (the response
    identifier): read the simple ones (choices, text) into responses."""
    found: dict[str, Any] = {}
    for interaction in interactions:
        rid = interaction["response_identifier"]
        given = [v for v in form.getlist(rid) if isinstance(v, str) and v != ""]
        if not given:
            continue
        if interaction.get("base_type") == "boolean":
            given = [v == "true" for v in given]  # type: ignore[misc]
        several = interaction.get("cardinality") in ("multiple", "ordered")
        found[rid] = given if several else given[0]
    return found


@router.post("/banks/{bank_id}/items/{item_id}/try", response_class=Response)
async def item_try(
    request: Request, who: ActionDep, bank_id: uuid.UUID, item_id: uuid.UUID
) -> Response:
    form = await request.form()
    version = _whole(_text(form, "version")) or None
    seed_text = _text(form, "seed")
    seed = _whole(seed_text)
    text = _text(form, "responses")
    tried = TryState(responses=text)
    responses: Any
    if text:
        try:
            responses = json.loads(text)
        except ValueError as exc:
            responses = None
            tried.problem = _field_problem("responses", gettext("not JSON: %(error)s", error=exc))
    else:
        found = await _item_of_bank(who, bank_id, item_id)
        shown = version or found["item"]["latest_version"]
        preview = await who.read(f"/api/v1/items/{item_id}/versions/{shown}/preview")
        responses = responses_from_controls(form, preview["interactions"])
        tried.responses = json.dumps(responses)
    if tried.problem is None and not isinstance(responses, dict):
        tried.problem = _field_problem(
            "responses",
            gettext('give an object keyed by response identifier, e.g. {"RESPONSE": "A"}'),
        )
    if tried.problem is None:
        found = await _item_of_bank(who, bank_id, item_id)
        shown = version or found["item"]["latest_version"]
        reply = await who.api.post(
            f"/api/v1/items/{item_id}/versions/{shown}/score", {"responses": responses}
        )
        if reply.ok:
            tried.result = reply.json()
        else:
            tried.problem = reply.problem
    status = 200 if tried.problem is None else (tried.problem.status or 422)
    supports = [v for v in form.getlist("supports") if isinstance(v, str)]
    return await _item_page(
        request,
        who,
        bank_id,
        item_id,
        version=version,
        seed=seed,
        tried=tried,
        status=status,
        supports=supports,
    )


def _not_found(detail: str) -> Problem:
    return Problem(status=404, code="not-found", title=gettext("Not found"), detail=detail)


def _field_problem(name: str, reason: str) -> Problem:
    return Problem(
        status=422,
        code="validation-error",
        title=gettext("Invalid response"),
        detail=gettext("%(field)s: %(reason)s", field=name, reason=reason),
        fields=(FieldError(name, reason),),
    )


@router.post("/banks/{bank_id}/items/{item_id}/workflow/{action}", response_class=Response)
async def item_workflow(
    who: ActionDep, bank_id: uuid.UUID, item_id: uuid.UUID, action: str
) -> Response:
    step = WORKFLOW.get(action)
    if step is None:
        raise ApiRefused(_not_found(gettext("There is no such workflow step.")), who)
    await _item_of_bank(who, bank_id, item_id)
    reply = await who.api.post(f"/api/v1/items/{item_id}/{step[0]}")
    who.expect(reply)
    return redirect(item_url(bank_id, item_id), flash=gettext(step[1]))


# --- versions and their differences ------------------------------------------------------------


def version_source(version: Mapping[str, Any]) -> list[str]:
    """The lines compared between versions: the bank facts, then the stored item (JSON,
    keys sorted, the body's markup one element per line so a change in it shows alone)."""
    facts = {
        k: version.get(k)
        for k in (
            "title",
            "tags",
            "subject",
            "language",
            "standards",
            "estimated_time_s",
            "rubric_version_id",
        )
    }
    definition = dict(version.get("definition") or {})
    body = definition.pop("body", "")
    lines = [f"{k}: {json.dumps(v, ensure_ascii=False)}" for k, v in facts.items()]
    lines.append("body:")
    lines.extend("  " + part for part in str(body).replace("><", ">\n<").splitlines())
    lines.append("definition:")
    lines.extend(json.dumps(definition, indent=2, sort_keys=True, ensure_ascii=False).splitlines())
    return lines


@dataclass(frozen=True)
class DiffLine:
    kind: str  # "add", "del", "same", "hunk"
    text: str

    @property
    def marker(self) -> str:
        return {"add": "+", "del": "\u2212", "same": " ", "hunk": "@"}[self.kind]

    @property
    def spoken(self) -> str:
        return {"add": "added", "del": "removed", "same": "", "hunk": ""}[self.kind]


def diff_lines(old: list[str], new: list[str]) -> list[DiffLine]:
    out: list[DiffLine] = []
    for line in difflib.unified_diff(old, new, lineterm="", n=3):
        if line.startswith(("---", "+++")):
            continue
        if line.startswith("@@"):
            out.append(DiffLine("hunk", line))
        elif line.startswith("+"):
            out.append(DiffLine("add", line[1:]))
        elif line.startswith("-"):
            out.append(DiffLine("del", line[1:]))
        else:
            out.append(DiffLine("same", line[1:]))
    return out


@router.get("/banks/{bank_id}/items/{item_id}/diff", response_class=HTMLResponse)
async def item_diff(
    request: Request,
    who: StaffDep,
    bank_id: uuid.UUID,
    item_id: uuid.UUID,
    old: Annotated[int, Query(alias="from", ge=1)],
    new: Annotated[int, Query(alias="to", ge=1)],
) -> HTMLResponse:
    bank = await who.read(f"/api/v1/banks/{bank_id}")
    found = await _item_of_bank(who, bank_id, item_id)
    left = await who.read(f"/api/v1/items/{item_id}/versions/{old}")
    right = await who.read(f"/api/v1/items/{item_id}/versions/{new}")
    lines = diff_lines(version_source(left), version_source(right))
    return render(
        request,
        "banks/diff.html",
        staff=who,
        bank=bank,
        item=found["item"],
        left=left,
        right=right,
        lines=lines,
        added=sum(1 for line in lines if line.kind == "add"),
        removed=sum(1 for line in lines if line.kind == "del"),
    )
