"""Assessments: the list, creating one, the builder (sections of fixed items picked from the
bank, selection rules with the size of their pool, navigation, time, attempts, breaks,
scoring and release), the candidate's preview, publishing, archiving and deleting.

Every change reads the newest definition from the API, edits it and writes it back whole
(``PUT /api/v1/assessments/{id}`` with ``expected_version``), so the API's validation is the
only one; its refusals are shown next to the section, rule, item or setting they concern.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from waa_ads.content.item.definition import InteractionType
from waa_ads.core.i18n import gettext
from waa_ads.web.console.gateway import Problem
from waa_ads.web.console.pages import CONSOLE, Form, Staff, interaction_label, redirect, render
from waa_ads.web.console.router import ActionDep, StaffDep

router = APIRouter()

BASE: Final = f"{CONSOLE}/assessments"
INTERACTION_TYPES: Final = tuple(t.value for t in InteractionType)


def interaction_types() -> list[tuple[str, str]]:
    """Every interaction type with its name in the reader's language."""
    return [(value, interaction_label(value)) for value in INTERACTION_TYPES]


#: The settings form's fields and the API's names for them.
SETTINGS_FIELDS: Final = {
    "title": "definition.title",
    "description": "definition.description",
    "language": "definition.language",
    "navigation": "definition.navigation",
    "allow_review": "definition.allow_review",
    "allow_flags": "definition.allow_flags",
    "shuffle_choices": "definition.shuffle_choices",
    "feedback": "definition.feedback",
    "time_limit_min": "definition.time_limit_s",
    "attempts_allowed": "definition.attempts_allowed",
    "breaks_allowed": "definition.breaks.allowed",
    "breaks_count_against_time": "definition.breaks.count_against_time",
    "max_breaks": "definition.breaks.max_breaks",
    "max_break_min": "definition.breaks.max_break_s",
    "scale_slope": "definition.scoring.scale_slope",
    "scale_intercept": "definition.scoring.scale_intercept",
    "bands": "definition.scoring.bands",
    "release": "definition.scoring.release",
    "integrity_policy": "definition.integrity_policy",
}
CREATE_FIELDS: Final = {
    "slug": "slug",
    "title": "definition.title",
    "description": "definition.description",
    "section_title": "definition.sections",
}
_SECTION_PARAM = re.compile(r"^(?:body\.)?definition\.sections\.(\d+)(?:\.(.*))?$")
BAND_ROWS_EXTRA: Final = 2


# --- reading the form -----------------------------------------------------------------------


async def _values(request: Request) -> tuple[dict[str, str], dict[str, list[str]]]:
    """The posted form: single values, and every value of repeated names."""
    form = await request.form()
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for key, value in form.multi_items():
        if isinstance(value, str):
            single.setdefault(key, value)
            multi.setdefault(key, []).append(value)
    return single, multi


def _number(text: str | None, *, scale: float = 1, integer: bool = True) -> Any:
    """A number typed into a field (``scale`` turns minutes into seconds), ``None`` when
    empty; text that is no number is passed on as typed, for the API to refuse by name."""
    raw = (text or "").strip()
    if raw == "":
        return None
    try:
        value = float(raw) * scale
    except ValueError:
        return raw
    return round(value) if integer else value


def _words(text: str | None) -> list[str]:
    """Comma-separated words (tags), trimmed, without empties or repeats."""
    return list(dict.fromkeys(w.strip() for w in (text or "").split(",") if w.strip()))


def _checked(values: Mapping[str, str], name: str) -> bool:
    return values.get(name) in ("on", "true", "1", "yes")


# --- what the builder shows -----------------------------------------------------------------


@dataclass
class Refusal:
    """A refused change or publish, spread over the page: each message next to the section
    (and item) it concerns, the rest at the top."""

    problem: Problem
    by_section: dict[str, list[str]] = field(default_factory=dict)
    by_item: dict[str, str] = field(default_factory=dict)
    general: list[str] = field(default_factory=list)
    titles: dict[str, str] = field(default_factory=dict)
    #: (field id, message) of the settings form's own fields.
    settings: list[tuple[str, str]] = field(default_factory=list)

    @property
    def summary(self) -> list[tuple[str | None, str]]:
        items: list[tuple[str | None, str]] = [(None, m) for m in self.general]
        items.extend((name, message) for name, message in self.settings)
        for ident, messages in self.by_section.items():
            name = self.titles.get(ident, ident)
            items.extend(
                (f"section-{ident}", gettext("%(field)s: %(reason)s", field=name, reason=m))
                for m in messages
            )
        return items or [(None, self.problem.detail or self.problem.title)]


def spread(
    problem: Problem, sections: list[Mapping[str, Any]], *, claimed: Callable[[str], bool]
) -> Refusal:
    """Where each part of the API's ``problem`` belongs: ``invalid_params`` under
    ``definition.sections.N`` to the N-th section of the definition sent; a problem naming
    its ``section`` (and ``problems``, one per section or item, when publishing) to those;
    field errors the settings form shows itself (``claimed``) are left to it."""
    identifiers = [str(s.get("identifier", "")) for s in sections]
    refusal = Refusal(
        problem,
        titles={
            ident: gettext("Section %(n)s (%(title)s)", n=n, title=s.get("title") or ident)
            for n, (ident, s) in enumerate(zip(identifiers, sections, strict=True), start=1)
        },
    )
    for f in problem.fields:
        bare = f.name.removeprefix("body.")
        found = _SECTION_PARAM.match(bare)
        if found and int(found.group(1)) < len(identifiers):
            ident = identifiers[int(found.group(1))]
            where = found.group(2)
            refusal.by_section.setdefault(ident, []).append(
                gettext("%(field)s: %(reason)s", field=where, reason=f.reason)
                if where
                else f.reason
            )
        elif not claimed(bare):
            refusal.general.append(
                gettext("%(field)s: %(reason)s", field=bare, reason=f.reason) if bare else f.reason
            )
    listed = problem.extra.get("problems")
    if isinstance(listed, list) and listed:
        for entry in listed:
            if not isinstance(entry, Mapping):
                continue
            ident = str(entry.get("section", ""))
            detail = str(entry.get("detail", ""))
            refusal.by_section.setdefault(ident, []).append(detail)
            if entry.get("item_id"):
                refusal.by_item[str(entry["item_id"])] = detail
    elif isinstance(problem.extra.get("section"), str):
        ident = problem.extra["section"]
        refusal.by_section.setdefault(ident, []).append(problem.detail or problem.title)
        if isinstance(problem.extra.get("item_id"), str):
            refusal.by_item[problem.extra["item_id"]] = problem.detail or problem.title
    elif not problem.fields:
        refusal.general.append(problem.detail or problem.title)
    return refusal


def _settings_values(definition: Mapping[str, Any]) -> dict[str, Any]:
    breaks = definition.get("breaks") or {}
    scoring = definition.get("scoring") or {}

    def minutes(seconds: Any) -> str:
        if seconds is None:
            return ""
        value = float(seconds) / 60
        return str(int(value)) if value.is_integer() else f"{value:g}"

    return {
        "title": definition.get("title", ""),
        "description": definition.get("description") or "",
        "language": definition.get("language") or "",
        "navigation": definition.get("navigation", "free"),
        "allow_review": definition.get("allow_review", True),
        "allow_flags": definition.get("allow_flags", True),
        "shuffle_choices": definition.get("shuffle_choices", True),
        "feedback": definition.get("feedback", "none"),
        "time_limit_min": minutes(definition.get("time_limit_s")),
        "attempts_allowed": definition.get("attempts_allowed", 1),
        "breaks_allowed": breaks.get("allowed", False),
        "breaks_count_against_time": breaks.get("count_against_time", False),
        "max_breaks": breaks.get("max_breaks", 1),
        "max_break_min": minutes(breaks.get("max_break_s", 600)),
        "scale_slope": scoring.get("scale_slope", 1.0),
        "scale_intercept": scoring.get("scale_intercept", 0.0),
        "release": scoring.get("release", "after_review"),
        "integrity_policy": definition.get("integrity_policy") or "",
        "bands": [
            {
                "name": b.get("name", ""),
                "min_score": b.get("min_score", ""),
                "passed": "" if b.get("passed") is None else ("yes" if b["passed"] else "no"),
            }
            for b in scoring.get("bands") or []
        ],
    }


def _bands_from(values: Mapping[str, str]) -> list[dict[str, Any]]:
    bands: list[dict[str, Any]] = []
    index = 0
    while f"band_name_{index}" in values:
        name = values.get(f"band_name_{index}", "").strip()
        low = values.get(f"band_min_{index}", "").strip()
        passed = values.get(f"band_passed_{index}", "")
        if name or low:
            bands.append(
                {
                    "name": name,
                    "min_score": _number(low, integer=False),
                    "passed": {"yes": True, "no": False}.get(passed),
                }
            )
        index += 1
    return bands


def _band_rows(values: Mapping[str, Any]) -> list[dict[str, Any]]:
    rows = list(values.get("bands") or [])
    return rows + [{"name": "", "min_score": "", "passed": ""}] * BAND_ROWS_EXTRA


def _rule_from(values: Mapping[str, str], multi: Mapping[str, list[str]]) -> dict[str, Any]:
    return {
        "bank_id": values.get("bank_id", "") or None,
        "count": _number(values.get("count")),
        "tags": _words(values.get("tags")),
        "subject": values.get("subject", "").strip() or None,
        "interaction_types": list(multi.get("interaction_types", [])),
        "weight": _number(values.get("weight"), integer=False) or 1.0,
    }


def _rule_shown(values: Mapping[str, str], multi: Mapping[str, list[str]]) -> dict[str, Any]:
    """A rule's form as it was posted, to show it again."""
    return {
        "title": values.get("title", ""),
        "bank_id": values.get("bank_id", ""),
        "count": values.get("count", ""),
        "tags": values.get("tags", ""),
        "subject": values.get("subject", ""),
        "interaction_types": list(multi.get("interaction_types", [])),
        "weight": values.get("weight", ""),
    }


def _adaptive_from(values: Mapping[str, str]) -> dict[str, Any]:
    """An adaptive section's settings as its form posted them (blank: the default)."""
    adaptive: dict[str, Any] = {
        "bank_id": values.get("bank_id", "") or None,
        "tags": _words(values.get("tags")),
        "selection": values.get("selection", "") or "max-info",
    }
    for name, integer in (
        ("min_items", True),
        ("max_items", True),
        ("se_target", False),
        ("exposure_target", False),
        ("max_seconds", True),
    ):
        typed = _number(values.get(name), integer=integer)
        if typed is not None:
            adaptive[name] = typed
    slope = _number(values.get("scale_slope"), integer=False)
    intercept = _number(values.get("scale_intercept"), integer=False)
    if slope is not None or intercept is not None:
        adaptive["scale"] = {
            "slope": 1.0 if slope is None else slope,
            "intercept": 0.0 if intercept is None else intercept,
        }
    return adaptive


def _rule_values(rule: Mapping[str, Any]) -> dict[str, Any]:
    """A rule as its form shows it."""
    return {
        "bank_id": str(rule.get("bank_id") or ""),
        "count": rule.get("count", ""),
        "tags": ", ".join(rule.get("tags") or []),
        "subject": rule.get("subject") or "",
        "interaction_types": list(rule.get("interaction_types") or []),
        "weight": rule.get("weight", 1.0),
    }


async def _pool(who: Staff, rule: Mapping[str, Any]) -> int | None:
    """How many published items the rule's filters match now (``None`` when they cannot
    be counted, e.g. no bank chosen)."""
    if not rule.get("bank_id"):
        return None
    reply = await who.api.get(
        "/api/v1/assessments/pool-size",
        {
            "bank_id": rule["bank_id"],
            "tag": _words(rule["tags"]) if isinstance(rule.get("tags"), str) else rule.get("tags"),
            "subject": rule.get("subject") or None,
            "type": rule.get("interaction_types") or [],
        },
    )
    if not reply.ok:
        return None
    count: int = reply.json()["count"]
    return count


def _default_title(identifier: str) -> str:
    """The title of a new section left untitled ("Section 2"), in the author's language."""
    number = identifier.removeprefix("section-")
    if number.isdigit():
        return gettext("Section %(n)s", n=number)
    return identifier.replace("-", " ").title()


def _new_identifier(definition: Mapping[str, Any]) -> str:
    taken = {s.get("identifier") for s in definition.get("sections", [])}
    n = len(taken) + 1
    while f"section-{n}" in taken:
        n += 1
    return f"section-{n}"


def _section(definition: dict[str, Any], identifier: str) -> dict[str, Any] | None:
    for section in definition.get("sections", []):
        if section.get("identifier") == identifier:
            found: dict[str, Any] = section
            return found
    return None


# --- pages ----------------------------------------------------------------------------------


@router.get("/assessments", response_class=HTMLResponse)
async def list_assessments(request: Request, who: StaffDep, archived: bool = False) -> HTMLResponse:
    rows = await who.read("/api/v1/assessments", {"archived": archived})
    return render(request, "assessments/list.html", staff=who, assessments=rows, archived=archived)


async def _create_page(
    request: Request,
    who: Staff,
    form: Form,
    *,
    q: str = "",
    bank: str = "",
    checked: list[str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    banks = await who.read("/api/v1/banks")
    found = await who.read("/api/v1/items", {"q": q or None, "bank_id": bank or None, "limit": 50})
    return render(
        request,
        "assessments/new.html",
        staff=who,
        form=form,
        banks=banks,
        results=found["items"],
        q=q,
        bank=bank,
        checked=checked or [],
        types=interaction_types(),
        status=status,
    )


@router.get("/assessments/new", response_class=HTMLResponse)
async def new_assessment(
    request: Request, who: StaffDep, q: str = "", bank: str = ""
) -> HTMLResponse:
    return await _create_page(
        request, who, Form(values={"kind": "items", "count": 1}), q=q, bank=bank
    )


@router.post("/assessments", response_class=Response)
async def create_assessment(request: Request, who: ActionDep) -> Response:
    values, multi = await _values(request)
    section: dict[str, Any] = {
        "identifier": "section-1",
        "title": values.get("section_title", "").strip() or gettext("Section 1"),
    }
    if values.get("kind") == "rule":
        section["selection"] = _rule_from(values, multi)
    else:
        section["items"] = [{"item_id": i} for i in multi.get("item_id", [])]
    definition = {
        "title": values.get("title", "").strip(),
        "description": values.get("description", "").strip() or None,
        "sections": [section],
    }
    reply = await who.api.post(
        "/api/v1/assessments", {"slug": values.get("slug", "").strip(), "definition": definition}
    )
    if reply.ok:
        created = reply.json()["assessment"]
        return redirect(
            f"{BASE}/{created['id']}", flash=gettext("Created “%(title)s”.", title=created["title"])
        )
    if reply.status == 403:
        who.expect(reply)
    kept = {**values, "interaction_types": multi.get("interaction_types", [])}
    return await _create_page(
        request,
        who,
        Form(values=kept, problem=reply.problem, fields=CREATE_FIELDS),
        checked=multi.get("item_id", []),
        status=reply.status,
    )


async def _builder(
    request: Request,
    who: Staff,
    assessment_id: str,
    *,
    refusal: Refusal | None = None,
    settings: Form | None = None,
    rule_forms: Mapping[str, dict[str, Any]] | None = None,
    status: int = 200,
) -> HTMLResponse:
    current = await who.read(f"/api/v1/assessments/{assessment_id}")
    assessment, version = current["assessment"], current["version"]
    definition = version["definition"]
    banks = await who.read("/api/v1/banks")
    bank_names = {b["id"]: b["name"] for b in banks}
    params = request.query_params
    q, bank, kind = params.get("q", ""), params.get("bank", ""), params.get("type", "")
    searched = "q" in params or "bank" in params or "type" in params
    results: list[dict[str, Any]] = []
    if searched:
        found = await who.read(
            "/api/v1/items",
            {"q": q or None, "bank_id": bank or None, "type": kind or None, "limit": 25},
        )
        results = found["items"]
    item_ids = [ref["item_id"] for s in definition["sections"] for ref in s.get("items", [])]
    items: dict[str, Any] = {}
    for item_id in item_ids:
        reply = await who.api.get(f"/api/v1/items/{item_id}")
        if reply.ok:
            items[item_id] = reply.json()["item"]
    rules: dict[str, dict[str, Any]] = {}
    for section in definition["sections"]:
        if section.get("selection"):
            ident = section["identifier"]
            shown = (rule_forms or {}).get(ident) or _rule_values(section["selection"])
            rules[ident] = {
                **shown,
                "count": _number(str(shown.get("count", ""))),
                "pool": await _pool(who, shown),
            }
    new_rule = (rule_forms or {}).get("") or {
        "bank_id": banks[0]["id"] if banks else "",
        "count": 1,
        "tags": "",
        "subject": "",
        "interaction_types": [],
        "weight": 1.0,
        "title": "",
    }
    new_rule = {
        **new_rule,
        "count": _number(str(new_rule.get("count", ""))),
        "pool": await _pool(who, new_rule),
    }
    settings_form = settings or Form(values=_settings_values(definition), fields=SETTINGS_FIELDS)
    return render(
        request,
        "assessments/builder.html",
        staff=who,
        assessment=assessment,
        version=version,
        definition=definition,
        banks=banks,
        bank_names=bank_names,
        items=items,
        rules=rules,
        new_rule=new_rule,
        results=results,
        searched=searched,
        q=q,
        bank=bank,
        kind=kind,
        types=interaction_types(),
        refusal=refusal,
        settings=settings_form,
        band_rows=_band_rows(settings_form.values),
        fixed_sections=[
            s for s in definition["sections"] if not s.get("selection") and not s.get("adaptive")
        ],
        selections=("max-info", "randomesque", "a-stratified"),
        status=status,
    )


@router.get("/assessments/{assessment_id}", response_class=HTMLResponse)
async def builder(request: Request, who: StaffDep, assessment_id: str) -> HTMLResponse:
    return await _builder(request, who, assessment_id)


async def _change(
    request: Request,
    who: Staff,
    assessment_id: str,
    edit: Callable[[dict[str, Any]], str | None],
    *,
    flash: str,
    anchor: str = "",
    settings_values: dict[str, Any] | None = None,
    rule_forms: Mapping[str, dict[str, Any]] | None = None,
) -> Response:
    """Edit the newest definition with ``edit`` and save it; a refusal shows the builder
    again with each message where it belongs (``edit`` may refuse itself by returning a
    message, e.g. a section that is no longer there)."""
    current = await who.read(f"/api/v1/assessments/{assessment_id}")
    definition = copy.deepcopy(current["version"]["definition"])
    refused = edit(definition)
    if refused is not None:
        stale = Problem(status=409, code="conflict", title=gettext("Not changed"), detail=refused)
        return await _builder(
            request, who, assessment_id, refusal=Refusal(stale, general=[refused]), status=409
        )
    reply = await who.api.call(
        "PUT",
        f"/api/v1/assessments/{assessment_id}",
        json_body={"definition": definition, "expected_version": current["version"]["version"]},
    )
    if reply.ok:
        return redirect(f"{BASE}/{assessment_id}{anchor}", flash=flash)
    if reply.status in (403, 404):
        who.expect(reply)
    problem = reply.problem
    assert problem is not None
    settings = None
    if settings_values is not None:
        settings = Form(values=settings_values, problem=problem, fields=SETTINGS_FIELDS)

    def claimed(name: str) -> bool:
        return settings is not None and any(
            name == api or name.startswith(api + ".") for api in SETTINGS_FIELDS.values()
        )

    refusal = spread(problem, definition.get("sections", []), claimed=claimed)
    if settings is not None:
        for name in SETTINGS_FIELDS:
            message = settings.error(name)
            if message is not None:
                refusal.settings.append((name, message))
    return await _builder(
        request,
        who,
        assessment_id,
        refusal=refusal,
        settings=settings,
        rule_forms=rule_forms,
        status=reply.status,
    )


@router.post("/assessments/{assessment_id}/settings", response_class=Response)
async def save_settings(request: Request, who: ActionDep, assessment_id: str) -> Response:
    values, _ = await _values(request)
    bands = _bands_from(values)

    def edit(definition: dict[str, Any]) -> str | None:
        definition.update(
            {
                "title": values.get("title", "").strip(),
                "description": values.get("description", "").strip() or None,
                "language": values.get("language", "").strip() or None,
                "navigation": values.get("navigation", "free"),
                "allow_review": _checked(values, "allow_review"),
                "allow_flags": _checked(values, "allow_flags"),
                "shuffle_choices": _checked(values, "shuffle_choices"),
                "feedback": values.get("feedback", "none"),
                "time_limit_s": _number(values.get("time_limit_min"), scale=60),
                "attempts_allowed": _number(values.get("attempts_allowed")),
                "integrity_policy": values.get("integrity_policy", "").strip() or None,
            }
        )
        definition["breaks"] = {
            "allowed": _checked(values, "breaks_allowed"),
            "count_against_time": _checked(values, "breaks_count_against_time"),
            "max_breaks": _number(values.get("max_breaks")),
            "max_break_s": _number(values.get("max_break_min"), scale=60),
        }
        definition["scoring"] = {
            "scale_slope": _number(values.get("scale_slope"), integer=False),
            "scale_intercept": _number(values.get("scale_intercept"), integer=False),
            "bands": bands,
            "release": values.get("release", "after_review"),
        }
        for key in ("max_breaks", "max_break_s"):
            if definition["breaks"][key] is None:
                del definition["breaks"][key]
        for key in ("scale_slope", "scale_intercept"):
            if definition["scoring"][key] is None:
                del definition["scoring"][key]
        return None

    shown: dict[str, Any] = {
        **values,
        **{k: _checked(values, k) for k in SETTINGS_FIELDS if k.startswith(("allow", "shuffle"))},
        "breaks_allowed": _checked(values, "breaks_allowed"),
        "breaks_count_against_time": _checked(values, "breaks_count_against_time"),
        "bands": [
            {
                "name": values.get(f"band_name_{i}", ""),
                "min_score": values.get(f"band_min_{i}", ""),
                "passed": values.get(f"band_passed_{i}", ""),
            }
            for i in range(100)
            if f"band_name_{i}" in values
            and (values.get(f"band_name_{i}") or values.get(f"band_min_{i}"))
        ],
    }
    return await _change(
        request,
        who,
        assessment_id,
        edit,
        flash=gettext("Settings saved."),
        anchor="#settings",
        settings_values=shown,
    )


@router.post("/assessments/{assessment_id}/sections", response_class=Response)
async def add_section(request: Request, who: ActionDep, assessment_id: str) -> Response:
    """A new section: a selection rule (the rule's form), or fixed items (the item picked
    in the search, with ``to=new``)."""
    values, multi = await _values(request)
    target = values.get("to", "")

    if values.get("kind") == "adaptive":
        adaptive = _adaptive_from(values)

        def edit_adaptive(definition: dict[str, Any]) -> str | None:
            ident = _new_identifier(definition)
            definition["sections"].append(
                {
                    "identifier": ident,
                    "title": values.get("title", "").strip() or gettext("Adaptive"),
                    "adaptive": adaptive,
                }
            )
            # An adaptive section moves forward only.
            definition["navigation"] = "linear"
            definition["allow_review"] = False
            return None

        return await _change(
            request,
            who,
            assessment_id,
            edit_adaptive,
            flash=gettext("Adaptive section added; navigation is now linear (forward only)."),
            anchor="#sections",
        )

    if values.get("kind") == "rule":
        rule = _rule_from(values, multi)
        shown = _rule_shown(values, multi)
        if values.get("action") == "check":
            return await _builder(request, who, assessment_id, rule_forms={"": shown})

        def edit_rule(definition: dict[str, Any]) -> str | None:
            ident = _new_identifier(definition)
            definition["sections"].append(
                {
                    "identifier": ident,
                    "title": values.get("title", "").strip() or _default_title(ident),
                    "selection": rule,
                }
            )
            return None

        return await _change(
            request,
            who,
            assessment_id,
            edit_rule,
            flash=gettext("Selection rule added."),
            anchor="#sections",
            rule_forms={"": shown},
        )

    item_id = values.get("item_id", "")

    def edit_items(definition: dict[str, Any]) -> str | None:
        if target and target != "new":
            section = _section(definition, target)
            if section is None or section.get("selection") or section.get("adaptive"):
                return gettext(
                    "there is no section %(section)s of fixed items any more", section=repr(target)
                )
            section.setdefault("items", []).append({"item_id": item_id})
            return None
        ident = _new_identifier(definition)
        definition["sections"].append(
            {
                "identifier": ident,
                "title": _default_title(ident),
                "items": [{"item_id": item_id}],
            }
        )
        return None

    return await _change(
        request, who, assessment_id, edit_items, flash=gettext("Item added."), anchor="#sections"
    )


@router.post("/assessments/{assessment_id}/sections/{identifier}", response_class=Response)
async def save_section(
    request: Request, who: ActionDep, assessment_id: str, identifier: str
) -> Response:
    """The section's own form: its title, shuffling, weight, its items' weights or its
    rule (``action=check`` only counts the rule's pool)."""
    values, multi = await _values(request)
    is_rule = "bank_id" in values
    shown = _rule_shown(values, multi)
    if is_rule and values.get("action") == "check":
        return await _builder(request, who, assessment_id, rule_forms={identifier: shown})

    def edit(definition: dict[str, Any]) -> str | None:
        section = _section(definition, identifier)
        if section is None:
            return gettext("there is no section %(section)s any more", section=repr(identifier))
        section["title"] = values.get("title", "").strip()
        section["shuffle_items"] = _checked(values, "shuffle_items")
        section["weight"] = _number(values.get("section_weight"), integer=False)
        if section["weight"] is None:
            section.pop("weight")
        if is_rule:
            section["selection"] = _rule_from(values, multi)
        for ref in section.get("items", []):
            typed = _number(values.get(f"weight-{ref['item_id']}"), integer=False)
            if typed is not None:
                ref["weight"] = typed
        return None

    return await _change(
        request,
        who,
        assessment_id,
        edit,
        flash=gettext("Section saved."),
        anchor=f"#section-{identifier}",
        rule_forms={identifier: shown} if is_rule else None,
    )


@router.post("/assessments/{assessment_id}/sections/{identifier}/move", response_class=Response)
async def move_section(
    request: Request, who: ActionDep, assessment_id: str, identifier: str
) -> Response:
    values, _ = await _values(request)
    step = -1 if values.get("direction") == "up" else 1

    def edit(definition: dict[str, Any]) -> str | None:
        sections = definition["sections"]
        index = next((i for i, s in enumerate(sections) if s["identifier"] == identifier), None)
        if index is None:
            return gettext("there is no section %(section)s any more", section=repr(identifier))
        other = index + step
        if 0 <= other < len(sections):
            sections[index], sections[other] = sections[other], sections[index]
        return None

    return await _change(
        request,
        who,
        assessment_id,
        edit,
        flash=gettext("Section moved."),
        anchor=f"#section-{identifier}",
    )


@router.post("/assessments/{assessment_id}/sections/{identifier}/delete", response_class=Response)
async def delete_section(
    request: Request, who: ActionDep, assessment_id: str, identifier: str
) -> Response:
    def edit(definition: dict[str, Any]) -> str | None:
        definition["sections"] = [
            s for s in definition["sections"] if s["identifier"] != identifier
        ]
        return None

    return await _change(
        request,
        who,
        assessment_id,
        edit,
        flash=gettext("Section %(section)s removed.", section=identifier),
        anchor="#sections",
    )


@router.post(
    "/assessments/{assessment_id}/sections/{identifier}/items/{item_id}/delete",
    response_class=Response,
)
async def remove_item(
    request: Request, who: ActionDep, assessment_id: str, identifier: str, item_id: str
) -> Response:
    def edit(definition: dict[str, Any]) -> str | None:
        section = _section(definition, identifier)
        if section is None:
            return gettext("there is no section %(section)s any more", section=repr(identifier))
        section["items"] = [r for r in section.get("items", []) if r["item_id"] != item_id]
        return None

    return await _change(
        request,
        who,
        assessment_id,
        edit,
        flash=gettext("Item removed."),
        anchor=f"#section-{identifier}",
    )


@router.post("/assessments/{assessment_id}/publish", response_class=Response)
async def publish(request: Request, who: ActionDep, assessment_id: str) -> Response:
    reply = await who.api.post(f"/api/v1/assessments/{assessment_id}/publish")
    if reply.ok:
        number = reply.json()["version"]["version"]
        return redirect(
            f"{BASE}/{assessment_id}",
            flash=gettext("Version %(version)s published.", version=number),
        )
    problem = reply.problem
    assert problem is not None
    if problem.status in (403, 404):
        who.expect(reply)
    current = await who.read(f"/api/v1/assessments/{assessment_id}")
    sections = current["version"]["definition"].get("sections", [])
    return await _builder(
        request,
        who,
        assessment_id,
        refusal=spread(problem, sections, claimed=lambda _: False),
        status=reply.status,
    )


@router.get("/assessments/{assessment_id}/preview", response_class=HTMLResponse)
async def preview(
    request: Request,
    who: StaffDep,
    assessment_id: str,
    seed: int = Query(default=1, ge=0, le=2**31 - 1),
    version: int | None = None,
) -> HTMLResponse:
    current = await who.read(f"/api/v1/assessments/{assessment_id}")
    shown_version = None
    if version is not None:
        pair = await who.read(f"/api/v1/assessments/{assessment_id}/versions/{version}")
        shown_version = pair["version"]
    reply = await who.api.get(
        f"/api/v1/assessments/{assessment_id}/preview", {"seed": seed, "version": version}
    )
    problem = reply.problem
    if problem is not None and problem.status in (401, 403, 404):
        who.expect(reply)
    refusal = None
    if problem is not None:
        sections = current["version"]["definition"].get("sections", [])
        refusal = spread(problem, sections, claimed=lambda _: False)
    return render(
        request,
        "assessments/preview.html",
        staff=who,
        assessment=current["assessment"],
        version=current["version"],
        shown_version=shown_version,
        form=reply.json() if reply.ok else None,
        refusal=refusal,
        seed=seed,
        status=reply.status if problem is not None else 200,
    )


async def _lifecycle(
    who: Staff, assessment_id: str, action: str, flash: str, *, to: str | None = None
) -> Response:
    if action == "delete":
        reply = await who.api.call("DELETE", f"/api/v1/assessments/{assessment_id}")
    else:
        reply = await who.api.post(f"/api/v1/assessments/{assessment_id}/{action}")
    who.expect(reply)
    return redirect(to or f"{BASE}/{assessment_id}", flash=flash)


@router.post("/assessments/{assessment_id}/archive", response_class=Response)
async def archive(who: ActionDep, assessment_id: str) -> Response:
    return await _lifecycle(who, assessment_id, "archive", gettext("Archived."), to=BASE)


@router.post("/assessments/{assessment_id}/restore", response_class=Response)
async def restore(who: ActionDep, assessment_id: str) -> Response:
    return await _lifecycle(who, assessment_id, "restore", gettext("Restored."))


@router.post("/assessments/{assessment_id}/delete", response_class=Response)
async def delete(who: ActionDep, assessment_id: str) -> Response:
    return await _lifecycle(who, assessment_id, "delete", gettext("Deleted."), to=BASE)
