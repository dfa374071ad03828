"""The console's own routes: sign-in, sign-out, the start page and the static files.

Each area of the console (item bank, assessments, administrations, proctoring, results,
organization) has a module of its own whose router is included here.
"""

from __future__ import annotations

import hmac
from typing import Annotated, Any, Final
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import HTMLResponse, Response

from waa_ads.auth.deps import CSRF_COOKIE
from waa_ads.core import i18n
from waa_ads.web.console.gateway import Gateway, Problem
from waa_ads.web.console.pages import (
    CONSOLE,
    ApiRefused,
    Form,
    SignInNeeded,
    Staff,
    cookie_policy,
    nav_groups,
    problem_page,
    redirect,
    render,
    staff,
    staff_action,
)
from waa_ads.web.router import serve_static, static_files

router = APIRouter()

_FILES: Final = static_files("waa_ads.web.console")
#: How long the switcher's choice of language is kept.
LANGUAGE_COOKIE_AGE: Final = 365 * 24 * 3600

StaffDep = Annotated[Staff, Depends(staff)]
ActionDep = Annotated[Staff, Depends(staff_action)]


def _safe_next(value: Any) -> str:
    """Only a console path is a place to come back to (no open redirect)."""
    text = value if isinstance(value, str) else ""
    if text.startswith(CONSOLE) and not text.startswith("//") and "\\" not in text:
        return text
    return CONSOLE


@router.get("/static/{name}", response_class=Response)
async def console_static(name: str) -> Response:
    return serve_static(_FILES, name, cache="no-cache")


@router.get("/login", response_class=HTMLResponse)
async def login_page(
    request: Request, next_url: Annotated[str, Query(alias="next")] = CONSOLE
) -> HTMLResponse:
    return render(request, "login.html", form=Form(), next=_safe_next(next_url))


@router.post("/login", response_class=Response)
async def login(request: Request) -> Response:
    form = await request.form()
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    next_url = _safe_next(values.get("next"))
    body = {
        "email": values.get("email", ""),
        "password": values.get("password", ""),
        "organization": values.get("organization") or None,
    }
    api = Gateway(request)
    reply = await api.post("/api/v1/auth/session", body)
    if not reply.ok:
        shown = Form(
            values={k: v for k, v in values.items() if k != "password"},
            problem=reply.problem,
            fields={"email": "email", "password": "password", "organization": "organization"},
        )
        return render(request, "login.html", form=shown, next=next_url, status=reply.status)
    return redirect(next_url, reply=reply)


@router.post("/logout", response_class=Response)
async def logout(request: Request, who: ActionDep) -> Response:
    reply = await who.api.post("/api/v1/auth/logout")
    who.expect(reply)
    return redirect(f"{CONSOLE}/login", flash=i18n.gettext("You are signed out."), reply=reply)


def _same_origin(request: Request) -> bool:
    """The post came from a page of this site (``Origin``, else ``Referer``)."""
    sent = request.headers.get("origin") or request.headers.get("referer") or ""
    if not sent or sent == "null":
        return False
    theirs = urlsplit(sent)
    ours = urlsplit(str(request.base_url))
    return (theirs.scheme, theirs.netloc) == (ours.scheme, ours.netloc)


def _language_problem(request: Request, status: int, title: str, detail: str) -> Response:
    problem = Problem(status=status, code="language", title=title, detail=detail)
    return problem_page(request, problem)


@router.post("/language", response_class=Response)
async def choose_language(request: Request) -> Response:
    """The switcher at the foot of every page: keep the reader's language in the
    ``waa_lang`` cookie (for a year, for every page of the site) and, for a signed-in
    reader, on their account (``PUT /api/v1/auth/me/language``); go back where they were.

    A signed-in reader's form carries the session's CSRF token (the double-submit value of
    its cookie); a reader not signed in has no session to protect, and the post must come
    from a page of this site."""
    form = await request.form()
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    session_token = request.cookies.get(CSRF_COOKIE)
    sent = values.get("csrf_token", "")
    if session_token:
        allowed = bool(sent) and hmac.compare_digest(sent.encode(), session_token.encode())
    else:
        allowed = _same_origin(request)
    if not allowed:
        return _language_problem(
            request,
            403,
            i18n.gettext("Language not changed"),
            i18n.gettext(
                "The form was not sent from this site's page (its security token is missing"
                " or wrong). Reload the page and choose the language again."
            ),
        )
    code = values.get("language", "")
    if not i18n.is_supported(code):
        return _language_problem(
            request,
            422,
            i18n.gettext("Language not changed"),
            i18n.gettext(
                "%(language)s is not a language of the console. Choose one of: %(languages)s.",
                language=code[:40] or "?",
                languages=", ".join(
                    f"{lang.name} ({lang.code})"
                    for lang in i18n.LANGUAGES.values()
                    if not lang.pseudo
                ),
            ),
        )
    i18n.set_locale(code)
    if session_token:
        # A signed-in reader's choice is theirs, not only this browser's: saved on their
        # account, the console speaks it wherever they sign in. Should the session have
        # lapsed, the cookie still keeps the choice here.
        api = Gateway(request, csrf_token=sent)
        if api.signed_in:
            await api.call("PUT", "/api/v1/auth/me/language", json_body={"locale": code})
    response = redirect(_safe_next(values.get("next")))
    response.set_cookie(
        i18n.LANGUAGE_COOKIE,
        code,
        max_age=LANGUAGE_COOKIE_AGE,
        path="/",
        samesite="lax",
        httponly=True,
        secure=bool(request.app.state.settings.cookie_secure),
    )
    return response


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, who: StaffDep) -> HTMLResponse:
    return render(request, "home.html", staff=who, sections=nav_groups(who.roles))


def install_console(app: FastAPI) -> None:
    """Mount the console on ``app``: its routes, and the two ways a page ends early (no
    session: to the sign-in page; a refusal it cannot go on without: the problem page)."""
    from waa_ads.web.console import areas

    console = APIRouter(prefix=CONSOLE, dependencies=[Depends(cookie_policy)])
    console.add_api_route("", home, methods=["GET"], response_class=HTMLResponse)
    console.include_router(router)
    for area in areas.routers():
        console.include_router(area)
    app.include_router(console, include_in_schema=False)

    async def to_sign_in(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, SignInNeeded)
        target = f"{CONSOLE}/login?next={quote(_safe_next(exc.next_url), safe='/')}"
        return redirect(target)

    async def refused(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiRefused)
        return problem_page(request, exc.problem, exc.staff)

    app.add_exception_handler(SignInNeeded, to_sign_in)
    app.add_exception_handler(ApiRefused, refused)
