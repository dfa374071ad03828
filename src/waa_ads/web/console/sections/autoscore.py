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

import re
import uuid
from collections.abc import Callable
from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import UploadFile

from waa_ads.core import i18n
from waa_ads.core.i18n import N_, LazyString, lazy_pgettext, ngettext
from waa_ads.core.i18n import gettext as _
from waa_ads.web.console.gateway import Problem, multipart
from waa_ads.web.console.pages import CONSOLE, Form, Staff, redirect, render, templates
from waa_ads.web.console.router import ActionDep, StaffDep

router = APIRouter()

AREA: Final = f"{CONSOLE}/autoscore"
API: Final = "/api/v1/autoscore"
#: The gate's defaults, as the settings form's hints say them (the API's own defaults).
GATE_DEFAULTS: Final = {"min_qwk": 0.70, "max_below_human": 0.10, "max_abs_smd": 0.15}
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
        return _("yes") if value else _("no")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else i18n.format_number(value, 3)
    return str(value)


def _percent(value: Any) -> str:
    return "—" if value is None else i18n.format_percent(float(value))


#: A model's states, as the API names them, in words.
STATUSES: Final[dict[str, LazyString]] = {
    "training": lazy_pgettext("model status", "training"),
    "trained": lazy_pgettext("model status", "trained"),
    "failed": lazy_pgettext("model status", "failed"),
    "active": lazy_pgettext("model status", "active"),
    "retired": lazy_pgettext("model status", "retired"),
}
#: The acceptance gate's checks, as the API names them, in words.
CHECKS: Final[dict[str, LazyString]] = {
    "responses": lazy_pgettext("gate check", "responses"),
    "qwk": lazy_pgettext("gate check", "qwk"),
    "qwk below human": lazy_pgettext("gate check", "qwk below human"),
    "smd": lazy_pgettext("gate check", "smd"),
    "group smd": lazy_pgettext("gate check", "group smd"),
}
#: Why an answer goes to people though a model scores its item (the API's reasons).
ROUTE_REASONS: Final = {
    "empty": N_("empty"),
    "too short": N_("too short"),
    "gibberish": N_("gibberish"),
    "not in the training language": N_("not in the training language"),
    "too long": N_("too long"),
    "copied from the prompt": N_("copied from the prompt"),
    "off-topic": N_("off-topic"),
    "quality check sample": N_("quality check sample"),
    "a person had already started rating it": N_("a person had already started rating it"),
}
#: The features a model explains a score with (its dense features; word features are
#: words of the answers and shown as they are).
FEATURES: Final = frozenset(
    {
        N_("characters (log)"),
        N_("words (log)"),
        N_("distinct words (log)"),
        N_("distinct / all words"),
        N_("mean word length"),
        N_("share of long words"),
        N_("sentences (log)"),
        N_("words per sentence (log)"),
        N_("share of words unknown to the training answers"),
        N_("commas per word"),
        N_("sentences starting with a capital"),
        N_("distinct long words (log)"),
    }
)


def _sentence_number(text: str) -> str:
    """A figure the API wrote in an English sentence ("0.812", "+0.120"), in the reader's
    language with as many decimals."""
    sign = "+" if text.startswith("+") else ""
    try:
        value = float(text)
    except ValueError:
        return text
    decimals = len(text.partition(".")[2])
    return sign + i18n.format_number(value, decimals)


def _reworded(text: str, patterns: tuple[tuple[re.Pattern[str], Callable[..., str]], ...]) -> str:
    """An English sentence the API built, in the reader's language when it is one of
    ``patterns`` (a regular expression and the message made from its groups); anything
    else as written."""
    for pattern, message in patterns:
        found = pattern.fullmatch(text)
        if found is not None:
            return message(*found.groups())
    return text


_GATE_REASONS: Final = (
    (
        re.compile(r"(\d+) human-scored responses, fewer than (\d+)"),
        lambda n, least: ngettext(
            "%(num)d human-scored response, fewer than %(least)s",
            "%(num)d human-scored responses, fewer than %(least)s",
            int(n),
            least=least,
        ),
    ),
    (
        re.compile(r"(\d+) human-scored responses"),
        lambda n: ngettext(
            "%(num)d human-scored response", "%(num)d human-scored responses", int(n)
        ),
    ),
    (
        re.compile(r"model-human QWK (\S+) >= (\S+)"),
        lambda qwk, least: _(
            "model-human QWK %(qwk)s >= %(least)s",
            qwk=_sentence_number(qwk),
            least=_sentence_number(least),
        ),
    ),
    (
        re.compile(r"model-human QWK (\S+) < (\S+)"),
        lambda qwk, least: _(
            "model-human QWK %(qwk)s < %(least)s",
            qwk=_sentence_number(qwk),
            least=_sentence_number(least),
        ),
    ),
    (re.compile(r"model-human QWK undefined"), lambda: _("model-human QWK undefined")),
    (
        re.compile(r"no second human scores to compare with \(required\)"),
        lambda: _("no second human scores to compare with (required)"),
    ),
    (
        re.compile(r"no second human scores to compare with"),
        lambda: _("no second human scores to compare with"),
    ),
    (
        re.compile(
            r"human-human QWK (\S+), model (\S+) on the same (\d+) responses: (\S+) below"
            r", more than (\S+)"
        ),
        lambda human, model, n, gap, most: _(
            "human-human QWK %(human)s, model %(model)s on the same %(count)s responses: "
            "%(gap)s below, more than %(most)s",
            human=_sentence_number(human),
            model=_sentence_number(model),
            count=n,
            gap=_sentence_number(gap),
            most=_sentence_number(most),
        ),
    ),
    (
        re.compile(r"human-human QWK (\S+), model (\S+) on the same (\d+) responses: (\S+) below"),
        lambda human, model, n, gap: _(
            "human-human QWK %(human)s, model %(model)s on the same %(count)s responses: "
            "%(gap)s below",
            human=_sentence_number(human),
            model=_sentence_number(model),
            count=n,
            gap=_sentence_number(gap),
        ),
    ),
    (
        re.compile(r"standardized mean difference (\S+), limit ±(\S+)"),
        lambda smd, limit: _(
            "standardized mean difference %(smd)s, limit ±%(limit)s",
            smd=_sentence_number(smd),
            limit=_sentence_number(limit),
        ),
    ),
    (
        re.compile(r"standardized mean difference undefined"),
        lambda: _("standardized mean difference undefined"),
    ),
    (re.compile(r"no group large enough to check"), lambda: _("no group large enough to check")),
    (
        re.compile(r"(\d+) responses, standardized mean difference (\S+), limit ±(\S+)"),
        lambda n, smd, limit: ngettext(
            "%(num)d response, standardized mean difference %(smd)s, limit ±%(limit)s",
            "%(num)d responses, standardized mean difference %(smd)s, limit ±%(limit)s",
            int(n),
            smd=_sentence_number(smd),
            limit=_sentence_number(limit),
        ),
    ),
    (
        re.compile(r"(\d+) responses, standardized mean difference undefined"),
        lambda n: ngettext(
            "%(num)d response, standardized mean difference undefined",
            "%(num)d responses, standardized mean difference undefined",
            int(n),
        ),
    ),
)
_ROUTE_REASONS: Final = (
    (
        re.compile(r"low confidence (\S+) < (\S+)"),
        lambda found, least: _(
            "low confidence %(confidence)s < %(least)s",
            confidence=_sentence_number(found),
            least=_sentence_number(least),
        ),
    ),
    (
        re.compile(r"drawn as a check on the model \((\d+)% of confident answers\)"),
        lambda share: _(
            "drawn as a check on the model (%(share)s of confident answers)",
            share=i18n.format_percent(int(share) / 100),
        ),
    ),
    (
        re.compile(r"the model cannot be used: (.*)", re.S),
        lambda why: _("the model cannot be used: %(why)s", why=why),
    ),
)
#: What training says it is doing (the model's progress message).
PROGRESS: Final = {
    "queued": N_("queued"),
    "building the vocabulary": N_("building the vocabulary"),
    "fitting the final model": N_("fitting the final model"),
    "writing the report": N_("writing the report"),
    "done": N_("done"),
    "trained": N_("trained"),
    "failed": N_("failed"),
}
_PROGRESS: Final = (
    (
        re.compile(r"cross-validation fold (\d+) of (\d+)"),
        lambda fold, folds: _(
            "cross-validation fold %(fold)s of %(folds)s", fold=fold, folds=folds
        ),
    ),
)


def _progress(message: Any) -> str:
    text = str(message or "queued")
    words = PROGRESS.get(text)
    return _(words) if words else _reworded(text, _PROGRESS)


_LABEL: Final = re.compile(r"training answer (\d+)")


def _status(code: Any) -> str:
    words = STATUSES.get(str(code))
    return str(words) if words else str(code).replace("_", " ")


def _check(name: Any) -> str:
    text = str(name)
    words = CHECKS.get(text)
    if words:
        return str(words)
    group = text.removeprefix("group smd: ")
    return _("group smd: %(group)s", group=group) if group != text else text


def _route_reason(reason: Any) -> str:
    text = str(reason)
    words = ROUTE_REASONS.get(text)
    return _(words) if words else _reworded(text, _ROUTE_REASONS)


def _feature(name: Any) -> str:
    text = str(name)
    return _(text) if text in FEATURES else text


def _label(label: Any) -> str:
    """A training answer's opaque label ("training answer 2") as a heading."""
    text = str(label)
    found = _LABEL.fullmatch(text)
    if found is not None:
        return _("Training answer %(number)s", number=found.group(1))
    return text[:1].upper() + text[1:]


templates.filters["autoscore_figure"] = _figure
templates.filters["autoscore_percent"] = _percent
templates.filters["autoscore_status"] = _status
templates.filters["autoscore_check"] = _check
templates.filters["autoscore_reason"] = _route_reason
templates.filters["autoscore_gate_reason"] = lambda reason: _reworded(str(reason), _GATE_REASONS)
templates.filters["autoscore_feature"] = _feature
templates.filters["autoscore_label"] = _label
templates.filters["autoscore_progress"] = _progress


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
    if data.get("embeddings"):
        body["embeddings"] = True
    reply = await who.api.post(f"{API}/models", body)
    if reply.ok:
        made = reply.json()
        return redirect(
            f"{AREA}/models/{made['id']}",
            flash=_("Training version %(version)s from people's scores", version=made["version"]),
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
        return redirect(AREA, flash=_("That is not an item id; copy it from the item's page."))
    return redirect(f"{AREA}/items/{chosen}/upload")


@router.get("/autoscore/items/{item_id}/upload", response_class=HTMLResponse)
async def upload_form(request: Request, who: StaffDep, item_id: uuid.UUID) -> HTMLResponse:
    item = await who.read(f"/api/v1/items/{item_id}")
    return _upload_page(request, who, item, item_id, Form(values={"folds": 5, "confidence": 0.9}))


@router.post("/autoscore/items/{item_id}/upload", response_class=Response)
async def upload(request: Request, who: ActionDep, item_id: uuid.UUID) -> Response:
    data = await request.form()
    item = await who.read(f"/api/v1/items/{item_id}")
    values = {k: str(data.get(k, "")).strip() for k in ("folds", "confidence", "embeddings")}
    fields = {
        "file": "file",
        "folds": "folds",
        "confidence": "confidence",
        "embeddings": "embeddings",
    }
    upload_file = data.get("file")
    if not isinstance(upload_file, UploadFile) or not upload_file.filename:
        missing = Problem(422, "validation-error", _("No file"), _("Choose a CSV file to upload."))
        return _upload_page(request, who, item, item_id, Form(values, missing, fields), 422)
    content = await upload_file.read()
    body, content_type = multipart(
        {
            "item_id": str(item_id),
            **{k: _decimal_point(v) for k, v in values.items() if v and k != "embeddings"},
            **({"embeddings": "true"} if values["embeddings"] else {}),
        },
        {"file": (upload_file.filename, content, upload_file.content_type or "text/csv")},
    )
    reply = await who.api.call(
        "POST", f"{API}/models/upload", content=body, content_type=content_type
    )
    if reply.ok:
        made = reply.json()
        return redirect(
            f"{AREA}/models/{made['id']}",
            flash=_(
                "Training version %(version)s from %(file)s",
                version=made["version"],
                file=upload_file.filename,
            ),
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
        said = (
            _("Version %(version)s now scores its item", version=done["version"])
            if action == "activate"
            else _("Version %(version)s was retired", version=done["version"])
        )
        return redirect(f"{AREA}/models/{model_id}", flash=said)
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
    return render(
        request,
        "autoscore/settings.html",
        staff=who,
        form=Form(values=values),
        defaults=GATE_DEFAULTS,
    )


def _number(text: str) -> float | int | str | None:
    """A typed number as the API wants it (ASCII digits only, a decimal comma as French
    writes it taken for a point; anything else goes as typed and comes back as a field
    error)."""
    text = _decimal_point(text.strip())
    if not text:
        return None
    if text.isascii() and text.isdigit():
        return int(text)
    try:
        return float(text) if text.isascii() else text
    except ValueError:
        return text


def _decimal_point(text: str) -> str:
    """``0,9`` as ``0.9`` (one comma and no point: a decimal comma)."""
    return text.replace(",", ".") if text.count(",") == 1 and "." not in text else text


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
        return redirect(AREA, flash=_("Saved the acceptance gate"))
    if reply.status in (401, 403, 404):
        who.expect(reply)
    return render(
        request,
        "autoscore/settings.html",
        staff=who,
        defaults=GATE_DEFAULTS,
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
