"""The organization: its settings (name, time zone, the brand colour and logo the candidate's
player shows), its people's accounts and roles (create, invite, edit, deactivate, erase),
and its candidates; and the public page where an invited person sets a password.

Everything goes through ``/api/v1/organizations/current``, ``/api/v1/users``,
``/api/v1/candidates`` and ``/api/v1/auth/invitations/accept``.
"""

from __future__ import annotations

import uuid
from typing import Any, Final
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import UploadFile

from waa_ads.auth.branding import BRAND_INK, HEX_COLOR, contrast_ratio
from waa_ads.core.i18n import LANGUAGES, N_, format_number, gettext, pgettext
from waa_ads.web.console.gateway import Gateway, multipart
from waa_ads.web.console.pages import CONSOLE, Form, Staff, redirect, render, templates
from waa_ads.web.console.router import ActionDep, StaffDep

router = APIRouter()

ORGANIZATION: Final = f"{CONSOLE}/organization"
USERS: Final = f"{ORGANIZATION}/users"
CANDIDATES: Final = f"{ORGANIZATION}/candidates"
PAGE_SIZE: Final = 50
#: The roles, with what each may do (the checkboxes' words; translated when shown).
ROLE_CHOICES: Final = (
    ("admin", N_("Administrator: people, settings, results, audit")),
    ("author", N_("Author: item bank and assessments")),
    ("proctor", N_("Proctor: supervises administrations")),
    ("rater", N_("Rater: scores responses")),
)


def _roles() -> list[tuple[str, str]]:
    """The role checkboxes in the reader's language."""
    return [(code, gettext(label)) for code, label in ROLE_CHOICES]


def role_name(code: str) -> str:
    """A role as a word in the reader's language (the stored value is the code)."""
    names = {
        "admin": pgettext("role", "administrator"),
        "author": pgettext("role", "author"),
        "proctor": pgettext("role", "proctor"),
        "rater": pgettext("role", "rater"),
    }
    return names.get(code, code)


templates.filters["role_name"] = role_name
SETTINGS_FIELDS: Final = {
    "name": "name",
    "timezone": "timezone",
    "default_locale": "default_locale",
    "brand_color": "brand_color",
}


def language_options() -> list[tuple[str, str]]:
    """The product's languages as (code, name in itself) pairs, for a select."""
    return [(code, f"{lang.name} ({code})") for code, lang in LANGUAGES.items()]


def language_name(code: str | None) -> str:
    """A language as its own name ("Français"); the code itself for one not spoken."""
    lang = LANGUAGES.get(code or "")
    return lang.name if lang is not None else code or ""


templates.globals["language_options"] = language_options
templates.filters["language_name"] = language_name
USER_FIELDS: Final = {
    "email": "email",
    "display_name": "display_name",
    "roles": "roles",
    "password": "password",
    "locale": "locale",
}


async def _values(request: Request) -> dict[str, str]:
    return {k: v for k, v in (await request.form()).items() if isinstance(v, str)}


# --- settings --------------------------------------------------------------------------------


def _settings_page(
    request: Request,
    who: Staff,
    org: dict[str, Any],
    *,
    form: Form | None = None,
    logo_form: Form | None = None,
    status: int = 200,
) -> HTMLResponse:
    color = org.get("brand_color")
    contrast = (
        f"{format_number(int(contrast_ratio(color, BRAND_INK) * 10) / 10, 1)}:1"
        if isinstance(color, str) and HEX_COLOR.fullmatch(color)
        else None
    )
    shown = form or Form(
        values={
            "name": org["name"],
            "timezone": org["timezone"],
            "default_locale": org.get("default_locale", "en"),
            "brand_color": color or "",
        }
    )
    return render(
        request,
        "organization/settings.html",
        staff=who,
        status=status,
        org=org,
        form=shown,
        logo_form=logo_form or Form(),
        contrast=contrast,
    )


@router.get("/organization", response_class=HTMLResponse)
async def settings(request: Request, who: StaffDep) -> HTMLResponse:
    if not who.has("admin"):
        # The API lets anyone read their organization; its settings are the admins'.
        await who.read("/api/v1/users", {"limit": 1})
    org = await who.read("/api/v1/organizations/current")
    return _settings_page(request, who, org)


@router.post("/organization", response_class=Response)
async def save_settings(request: Request, who: ActionDep) -> Response:
    values = await _values(request)
    color = values.get("brand_color", "").strip()
    body = {
        "name": values.get("name", "").strip(),
        "timezone": values.get("timezone", "").strip(),
        "brand_color": color or None,
    }
    if values.get("default_locale"):
        body["default_locale"] = values["default_locale"].strip()
    reply = await who.api.call("PATCH", "/api/v1/organizations/current", json_body=body)
    if not reply.ok:
        org = await who.read("/api/v1/organizations/current")
        form = Form(values=values, problem=reply.problem, fields=SETTINGS_FIELDS)
        return _settings_page(request, who, org, form=form, status=reply.status)
    return redirect(ORGANIZATION, flash=gettext("Settings saved."))


@router.post("/organization/logo", response_class=Response)
async def upload_logo(request: Request, who: ActionDep) -> Response:
    upload = (await request.form()).get("logo")
    if isinstance(upload, UploadFile) and upload.filename:
        data = await upload.read()
        body, content_type = multipart(
            {},
            {"file": (upload.filename, data, upload.content_type or "application/octet-stream")},
        )
        reply = await who.api.call(
            "PUT", "/api/v1/organizations/current/logo", content=body, content_type=content_type
        )
    else:
        body, content_type = multipart({}, {})
        reply = await who.api.call(
            "PUT", "/api/v1/organizations/current/logo", content=body, content_type=content_type
        )
    if not reply.ok:
        org = await who.read("/api/v1/organizations/current")
        logo_form = Form(problem=reply.problem, fields={"logo": "file"})
        return _settings_page(request, who, org, logo_form=logo_form, status=reply.status)
    return redirect(ORGANIZATION, flash=gettext("Logo saved."))


@router.post("/organization/logo/remove", response_class=Response)
async def remove_logo(request: Request, who: ActionDep) -> Response:
    who.expect(await who.api.call("DELETE", "/api/v1/organizations/current/logo"))
    return redirect(ORGANIZATION, flash=gettext("Logo removed."))


# --- accounts --------------------------------------------------------------------------------


@router.get("/organization/users", response_class=HTMLResponse)
async def users(request: Request, who: StaffDep, cursor: str = "") -> HTMLResponse:
    page = await who.read("/api/v1/users", {"cursor": cursor or None, "limit": PAGE_SIZE})
    return render(
        request,
        "organization/users.html",
        staff=who,
        users=page["items"],
        next_cursor=page["next_cursor"],
    )


@router.get("/organization/users/new", response_class=HTMLResponse)
async def new_user(request: Request, who: StaffDep) -> HTMLResponse:
    await who.read("/api/v1/users", {"limit": 1})  # admins only, as the API says
    return render(request, "organization/user_new.html", staff=who, form=Form(), roles=_roles())


@router.post("/organization/users", response_class=Response)
async def create_user(request: Request, who: ActionDep) -> Response:
    form = await request.form()
    values = {k: v for k, v in form.items() if isinstance(v, str) and k != "password"}
    password = form.get("password")
    chosen = [r for r in form.getlist("roles") if isinstance(r, str)]
    body: dict[str, Any] = {
        "email": values.get("email", "").strip(),
        "display_name": values.get("display_name", "").strip() or None,
        "roles": chosen,
        "locale": values.get("locale") or None,
    }
    if isinstance(password, str) and password:
        body["password"] = password
    reply = await who.api.post("/api/v1/users", body)
    if not reply.ok:
        shown = Form(values={**values, "roles": chosen}, problem=reply.problem, fields=USER_FIELDS)
        return render(
            request,
            "organization/user_new.html",
            staff=who,
            status=reply.status,
            form=shown,
            roles=_roles(),
        )
    created = reply.json()
    token = created.get("invitation_token")
    if token:
        # Shown once: the API keeps only the token's hash.
        link = f"{str(request.base_url).rstrip('/')}{CONSOLE}/invitation?token={token}"
        return render(
            request, "organization/invited.html", staff=who, user=created, accept_link=link
        )
    return redirect(
        f"{USERS}/{created['id']}",
        flash=gettext("Account for %(email)s created.", email=created["email"]),
    )


def _user_page(
    request: Request,
    who: Staff,
    user: dict[str, Any],
    *,
    form: Form | None = None,
    status: int = 200,
) -> HTMLResponse:
    shown = form or Form(
        values={
            "display_name": user["display_name"] or "",
            "roles": list(user["roles"]),
            "locale": user.get("locale") or "",
        }
    )
    return render(
        request,
        "organization/user.html",
        staff=who,
        status=status,
        user=user,
        form=shown,
        roles=_roles(),
        is_self=user["id"] == str(who.me["user_id"]),
    )


@router.get("/organization/users/{user_id}", response_class=HTMLResponse)
async def user_detail(request: Request, who: StaffDep, user_id: uuid.UUID) -> HTMLResponse:
    return _user_page(request, who, await who.read(f"/api/v1/users/{user_id}"))


@router.post("/organization/users/{user_id}", response_class=Response)
async def update_user(request: Request, who: ActionDep, user_id: uuid.UUID) -> Response:
    form = await request.form()
    chosen = [r for r in form.getlist("roles") if isinstance(r, str)]
    display = form.get("display_name")
    locale = form.get("locale")
    body = {
        "display_name": (display.strip() or None) if isinstance(display, str) else None,
        "roles": chosen,
        "locale": (locale or None) if isinstance(locale, str) else None,
    }
    reply = await who.api.call("PATCH", f"/api/v1/users/{user_id}", json_body=body)
    if not reply.ok:
        user = await who.read(f"/api/v1/users/{user_id}")
        shown = Form(
            values={"display_name": display or "", "roles": chosen, "locale": locale or ""},
            problem=reply.problem,
            fields=USER_FIELDS,
        )
        return _user_page(request, who, user, form=shown, status=reply.status)
    return redirect(f"{USERS}/{user_id}", flash=gettext("Account saved."))


@router.post("/organization/users/{user_id}/active", response_class=Response)
async def set_active(request: Request, who: ActionDep, user_id: uuid.UUID) -> Response:
    active = (await _values(request)).get("is_active") == "true"
    reply = await who.api.call("PATCH", f"/api/v1/users/{user_id}", json_body={"is_active": active})
    if not reply.ok:
        user = await who.read(f"/api/v1/users/{user_id}")
        return _user_page(request, who, user, form=Form(problem=reply.problem), status=reply.status)
    said = (
        gettext("Account reactivated.")
        if active
        else gettext("Account deactivated: it can no longer sign in.")
    )
    return redirect(f"{USERS}/{user_id}", flash=said)


@router.get("/organization/users/{user_id}/erase", response_class=HTMLResponse)
async def confirm_erase(request: Request, who: StaffDep, user_id: uuid.UUID) -> HTMLResponse:
    user = await who.read(f"/api/v1/users/{user_id}")
    return render(request, "organization/user_erase.html", staff=who, user=user, form=Form())


@router.post("/organization/users/{user_id}/erase", response_class=Response)
async def erase_user(request: Request, who: ActionDep, user_id: uuid.UUID) -> Response:
    reply = await who.api.post(f"/api/v1/users/{user_id}/erase")
    if not reply.ok:
        user = await who.read(f"/api/v1/users/{user_id}")
        return render(
            request,
            "organization/user_erase.html",
            staff=who,
            user=user,
            form=Form(problem=reply.problem),
            status=reply.status,
        )
    return redirect(f"{USERS}/{user_id}", flash=gettext("The account's personal data is erased."))


# --- candidates ------------------------------------------------------------------------------


@router.get("/organization/candidates", response_class=HTMLResponse)
async def candidates(
    request: Request, who: StaffDep, q: str = "", cursor: str = ""
) -> HTMLResponse:
    page = await who.read(
        "/api/v1/candidates", {"q": q.strip() or None, "cursor": cursor or None, "limit": PAGE_SIZE}
    )
    base = f"{CANDIDATES}?{urlencode({'q': q})}" if q else CANDIDATES
    return render(
        request,
        "organization/candidates.html",
        staff=who,
        candidates=page["items"],
        next_cursor=page["next_cursor"],
        q=q,
        base=base,
    )


# --- accepting an invitation (no session: the invited person has no password yet) ------------


@router.get("/invitation", response_class=HTMLResponse)
async def invitation(request: Request, token: str = "") -> HTMLResponse:
    return render(request, "organization/accept.html", form=Form(values={"token": token}))


@router.post("/invitation", response_class=Response)
async def accept_invitation(request: Request) -> Response:
    values = await _values(request)
    api = Gateway(request)
    reply = await api.post(
        "/api/v1/auth/invitations/accept",
        {"token": values.get("token", ""), "password": values.get("password", "")},
    )
    if not reply.ok:
        shown = Form(
            values={"token": values.get("token", "")},
            problem=reply.problem,
            fields={"password": "password", "token": "token"},
        )
        return render(request, "organization/accept.html", form=shown, status=reply.status)
    return redirect(
        f"{CONSOLE}/login",
        flash=gettext("Your password is set. Sign in with your e-mail address."),
    )
