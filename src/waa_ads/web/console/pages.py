"""What every console page shares: who is signed in, the layout, forms and their errors.

A page handler asks for :func:`staff` (a page) or :func:`staff_action` (a form post): both
read ``/api/v1/auth/me`` through the :class:`~waa_ads.web.console.gateway.Gateway`, and
send a browser without a live session to the sign-in page, which brings it back after.
Handlers then read and change things only through ``staff.api``; a refusal comes back as a
:class:`~waa_ads.web.console.gateway.Problem` that :class:`Form` shows next to its fields.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import quote, unquote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup
from starlette.requests import HTTPConnection

from waa_ads.core import i18n
from waa_ads.core.i18n import N_
from waa_ads.web.console.gateway import ApiReply, Gateway, Problem
from waa_ads.web.router import SECURITY_HEADERS

FLASH_COOKIE: Final = "waa_flash"
CONSOLE: Final = "/console"

templates = Environment(
    loader=PackageLoader("waa_ads.web.console", "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
i18n.install(templates)

#: The states the console shows as tags (items, versions, banks, attempts, imports, models),
#: by the API's value; another value is shown as it is, its underscores as spaces.
STATUS_LABELS: Final[Mapping[str, str]] = {
    "draft": N_("draft"),
    "in_review": N_("in review"),
    "review": N_("review"),
    "published": N_("published"),
    "retired": N_("retired"),
    "archived": N_("archived"),
    "active": N_("active"),
    "revoked": N_("revoked"),
    "open": N_("open"),
    "closed": N_("closed"),
    "scheduled": N_("scheduled"),
    "in_progress": N_("in progress"),
    "paused": N_("paused"),
    "submitted": N_("submitted"),
    "expired": N_("expired"),
    "terminated": N_("terminated"),
    "cancelled": N_("cancelled"),
    "scoring": N_("scoring"),
    "scored": N_("scored"),
    "released": N_("released"),
    "withheld": N_("withheld"),
    "invalidated": N_("invalidated"),
    "imported": N_("imported"),
    "new_version": N_("new version"),
    "rejected": N_("rejected"),
    "not_imported": N_("not imported"),
    "unchanged": N_("unchanged"),
    "pass": N_("pass"),
    "fail": N_("fail"),
    "failed": N_("failed"),
    "trained": N_("trained"),
    "training": N_("training"),
}


def status_label(value: object) -> str:
    """A state as a tag shows it, in the reader's language."""
    text = str(value)
    label = STATUS_LABELS.get(text)
    return i18n.gettext(label) if label is not None else text.replace("_", " ")


templates.globals["status_label"] = status_label

#: Interaction types as the console names them in running text (lower case).
INTERACTION_NAMES: Final[Mapping[str, str]] = {
    "choice": N_("choice"),
    "text_entry": N_("text entry"),
    "numeric_entry": N_("numeric entry"),
    "inline_choice": N_("inline choice"),
    "order": N_("order"),
    "match": N_("match"),
    "associate": N_("associate"),
    "gap_match": N_("gap match"),
    "hottext": N_("hot text"),
    "hotspot": N_("hotspot"),
    "select_point": N_("select point"),
    "extended_text": N_("extended text"),
    "upload": N_("upload"),
    "slider": N_("slider"),
    "graphic_gap_match": N_("graphic gap match"),
    "graphic_order": N_("graphic order"),
    "graphic_associate": N_("graphic associate"),
    "end_attempt": N_("end attempt"),
    "media": N_("media"),
    "drawing": N_("drawing"),
    "position_object": N_("position object"),
}


def interaction_label(value: object) -> str:
    """An interaction type in running text, in the reader's language."""
    text = str(value)
    name = INTERACTION_NAMES.get(text)
    return i18n.gettext(name) if name is not None else text.replace("_", " ")


templates.filters["interaction_label"] = interaction_label

#: Staff roles as the console names them.
ROLE_LABELS: Final[Mapping[str, str]] = {
    "admin": N_("admin"),
    "author": N_("author"),
    "proctor": N_("proctor"),
    "rater": N_("rater"),
    "candidate": N_("candidate"),
}


def role_label(value: object) -> str:
    """A role in the reader's language."""
    text = str(value)
    label = ROLE_LABELS.get(text)
    return i18n.gettext(label) if label is not None else text


templates.filters["role_label"] = role_label


@dataclass(frozen=True)
class NavEntry:
    """A section of the console. ``label`` and ``group`` are English, marked for the
    catalogue; the layout shows them through ``_()`` in the reader's language."""

    label: str
    href: str
    roles: frozenset[str]
    group: str


@dataclass(frozen=True)
class NavGroup:
    """Sections shown under one heading of the navigation (a menu when it holds several)."""

    label: str
    entries: tuple[NavEntry, ...]

    def holds(self, path: str) -> bool:
        return any(path.startswith(e.href) for e in self.entries)


#: The console's sections, shown to whoever holds one of their roles (the API decides what
#: each may really do; a link is only a way there).
NAVIGATION: Final = (
    NavEntry(N_("Item bank"), f"{CONSOLE}/banks", frozenset({"admin", "author"}), N_("Content")),
    NavEntry(
        N_("Assessments"), f"{CONSOLE}/assessments", frozenset({"admin", "author"}), N_("Content")
    ),
    NavEntry(
        N_("Administrations"),
        f"{CONSOLE}/administrations",
        frozenset({"admin", "proctor"}),
        N_("Delivery"),
    ),
    NavEntry(
        N_("Integrity"), f"{CONSOLE}/integrity", frozenset({"admin", "proctor"}), N_("Delivery")
    ),
    NavEntry(N_("Rating"), f"{CONSOLE}/rating", frozenset({"rater", "admin"}), N_("Scoring")),
    NavEntry(N_("Automated scoring"), f"{CONSOLE}/autoscore", frozenset({"admin"}), N_("Scoring")),
    NavEntry(N_("Results"), f"{CONSOLE}/results", frozenset({"admin"}), N_("Scoring")),
    NavEntry(N_("Reports"), f"{CONSOLE}/reports", frozenset({"admin"}), N_("Analysis")),
    NavEntry(
        N_("Psychometrics"),
        f"{CONSOLE}/psychometrics",
        frozenset({"admin", "author"}),
        N_("Analysis"),
    ),
    NavEntry(
        N_("Organization"), f"{CONSOLE}/organization", frozenset({"admin"}), N_("Organization")
    ),
    NavEntry(
        N_("Integrations"), f"{CONSOLE}/integrations", frozenset({"admin"}), N_("Organization")
    ),
    NavEntry(N_("Audit log"), f"{CONSOLE}/audit", frozenset({"admin"}), N_("Organization")),
)

#: The catalogues the console's browser modules look sentences up in (every console area).
CLIENT_AREAS: Final = ("console", "console-delivery", "console-scoring", "console-analysis")


class SignInNeeded(Exception):
    """No live session: the browser goes to the sign-in page and comes back to ``next``."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


class ApiRefused(Exception):
    """A call a page cannot do without was refused: the page shows the problem instead."""

    def __init__(self, problem: Problem, staff: Staff | None = None) -> None:
        super().__init__(problem.detail or problem.title)
        self.problem = problem
        self.staff = staff


@dataclass
class Staff:
    """The signed-in person of one request, and the API as they may use it."""

    request: Request
    api: Gateway
    me: Mapping[str, Any]

    @property
    def roles(self) -> frozenset[str]:
        return frozenset(self.me.get("roles", []))

    @property
    def organization(self) -> Mapping[str, Any]:
        org: Mapping[str, Any] = self.me["organization"]
        return org

    def has(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))

    async def read(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """The JSON of a GET the page needs; a refusal becomes :class:`ApiRefused`."""
        return self.expect(await self.api.get(path, params))

    async def read_all(
        self, path: str, params: Mapping[str, Any] | None = None, *, limit: int = 500
    ) -> list[Any]:
        """Every item of a paged list (following ``next_cursor``)."""
        items: list[Any] = []
        cursor: str | None = None
        while True:
            page = await self.read(path, {**(params or {}), "limit": limit, "cursor": cursor})
            items += page["items"]
            cursor = page.get("next_cursor")
            if not cursor:
                return items

    def expect(self, reply: ApiReply) -> Any:
        """The JSON of a successful reply; a refusal becomes :class:`ApiRefused` (the
        problem page, in the layout of this person's console)."""
        problem = reply.problem
        if problem is not None:
            raise ApiRefused(problem, self)
        return reply.json()


def expect(reply: ApiReply) -> Any:
    """The JSON of a successful reply; a refusal raises :class:`ApiRefused`."""
    problem = reply.problem
    if problem is not None:
        raise ApiRefused(problem)
    return reply.json()


def _here(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def _back_to(request: Request) -> str:
    """Where the language switcher brings the reader back to: this page, or for the answer
    to a form post, the page the form was on."""
    if request.method == "GET":
        return _here(request)
    referer = request.headers.get("referer", "")
    base = str(request.base_url)[:-1]
    if referer.startswith(base + CONSOLE):
        return referer.removeprefix(base)
    return CONSOLE


async def _signed_in(request: Request, api: Gateway, *, next_url: str) -> Staff:
    if not api.signed_in:
        raise SignInNeeded(next_url)
    reply = await api.get("/api/v1/auth/me")
    if reply.status == 401:
        raise SignInNeeded(next_url)
    who = Staff(request, api, expect(reply))
    use_staff_language(request, who)
    return who


def use_staff_language(request: Request, who: Staff) -> None:
    """The console speaks the reader's own language (their account's, which the switcher
    saves), in whatever browser they sign in from; without one, the language chosen in
    this browser (the switcher's cookie); else their organization's default language, when
    it has one the product speaks; else the browser's (``Accept-Language``), as the
    middleware chose."""
    own = who.me.get("locale")
    if isinstance(own, str) and i18n.is_supported(own):
        i18n.set_locale(own)
        return
    if i18n.cookie_choice(request.headers.get("cookie")) is not None:
        return
    org = who.me.get("organization")
    default = org.get("default_locale") if isinstance(org, Mapping) else None
    if isinstance(default, str) and i18n.is_supported(default):
        i18n.set_locale(default)


async def staff(request: Request) -> Staff:
    """Dependency of a page: the signed-in person (or off to the sign-in page)."""
    return await _signed_in(request, Gateway(request), next_url=_here(request))


async def staff_action(request: Request) -> Staff:
    """Dependency of a form post: the signed-in person, with the CSRF token the form
    carried, which the API checks on every change."""
    form = await request.form()
    token = form.get("csrf_token")
    api = Gateway(request, csrf_token=token if isinstance(token, str) else "")
    referer = request.headers.get("referer", "")
    back = referer if referer.startswith(str(request.base_url)) else CONSOLE
    return await _signed_in(request, api, next_url=back.removeprefix(str(request.base_url)[:-1]))


@dataclass
class Form:
    """A form's values and, after a refusal, the API's problem mapped to its fields.

    ``fields`` maps the form's field names to the API's names for them (``{"title":
    "title", "limit": "time_limit_s"}``); a field error the form has no field for is shown
    in the summary at the top, so nothing the API said is lost.
    """

    values: dict[str, Any] = field(default_factory=dict)
    problem: Problem | None = None
    fields: Mapping[str, str] = field(default_factory=dict)

    def error(self, name: str) -> str | None:
        if self.problem is None:
            return None
        return self.problem.for_field(self.fields.get(name, name))

    def value(self, name: str, default: Any = "") -> Any:
        return self.values.get(name, default)

    @property
    def summary(self) -> list[tuple[str | None, str]]:
        """(field id or ``None``, message) for the error summary at the top of the form."""
        if self.problem is None:
            return []
        items: list[tuple[str | None, str]] = []
        for f in self.problem.fields:
            bare = f.name.removeprefix("body.").removeprefix("query.")
            # The first form field showing this API field links to it (two form fields
            # mapped to one API field list the reason once); none: the API's name says where.
            owner = next(
                (
                    n
                    for n in self.fields or {}
                    if bare == self.fields[n] or bare.startswith(self.fields[n] + ".")
                ),
                None,
            )
            item = (
                (owner, f.reason)
                if owner is not None
                else (None, i18n.gettext("%(field)s: %(reason)s", field=bare, reason=f.reason))
            )
            if item not in items:
                items.append(item)
        if not items or not self.problem.fields:
            items.insert(0, (None, self.problem.detail or self.problem.title))
        return items


def nav_for(roles: Iterable[str]) -> list[NavEntry]:
    held = frozenset(roles)
    return [entry for entry in NAVIGATION if entry.roles & held]


def nav_groups(roles: Iterable[str]) -> list[NavGroup]:
    """The navigation of someone holding ``roles``: their sections under five headings, in
    the order of the work (content, delivery, scoring, analysis, the organization)."""
    groups: dict[str, list[NavEntry]] = {}
    for entry in nav_for(roles):
        groups.setdefault(entry.group, []).append(entry)
    return [NavGroup(label, tuple(entries)) for label, entries in groups.items()]


def render(
    request: Request,
    template: str,
    *,
    staff: Staff | None = None,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    """A page of the console: ``template`` in the layout, with the strict CSP and
    ``no-store`` (pages show live, tenant-private data)."""
    flash = request.cookies.get(FLASH_COOKIE)
    locale = i18n.current()
    html = templates.get_template(template).render(
        request=request,
        path=request.url.path,
        staff=staff,
        nav=nav_groups(staff.roles) if staff else [],
        csrf_token=staff.api.csrf_token if staff else "",
        flash=unquote(flash) if flash else None,
        languages=switcher_languages(),
        here=_back_to(request),
        messages_json=client_messages(locale),
        **context,
    )
    response = HTMLResponse(html, status_code=status, headers=page_headers())
    if flash:
        response.delete_cookie(FLASH_COOKIE, path=CONSOLE)
    return response


def switcher_languages() -> list[i18n.Language]:
    """The languages the switcher offers: the real ones, each named in itself (the
    pseudo-locales are chosen by setting the cookie, for tests and translators; one in
    force is listed too, so the switcher shows what the page is in)."""
    current = i18n.current_language()
    return [lang for lang in i18n.LANGUAGES.values() if not lang.pseudo or lang == current]


def client_messages(locale: str) -> Markup:
    """The console's catalogue in ``locale`` as JSON for the page's data block, escaped
    so that nothing in a message can close the ``<script>`` element it sits in."""
    text = json.dumps(i18n.client_catalogue(locale, CLIENT_AREAS), ensure_ascii=False)
    for raw, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(raw, escaped)
    text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    # Safe: JSON whose <, > and & are escapes, so it cannot end its element.
    return Markup(text)  # noqa: S704


def page_headers() -> dict[str, str]:
    return {**SECURITY_HEADERS, "Cache-Control": "no-store"}


_COOKIE_SECURE: ContextVar[bool] = ContextVar("console_cookie_secure", default=True)


async def cookie_policy(request: HTTPConnection) -> None:
    """Every console route's dependency: the app's ``cookie_secure`` for this request's
    cookies (the flash cookie travels like the session's)."""
    _COOKIE_SECURE.set(bool(request.app.state.settings.cookie_secure))


def redirect(url: str, *, flash: str | None = None, reply: ApiReply | None = None) -> Response:
    """See-other to ``url`` (a form post done), with a one-time message for the next page
    and any cookies the API set in ``reply``."""
    response = RedirectResponse(url, status_code=303, headers=page_headers())
    if flash:
        response.set_cookie(
            FLASH_COOKIE,
            quote(flash),
            max_age=60,
            httponly=True,
            samesite="lax",
            path=CONSOLE,
            secure=_COOKIE_SECURE.get(),
        )
    if reply is not None:
        for raw in reply.set_cookies():
            response.headers.append("set-cookie", raw.decode("latin-1"))
    return response


def problem_page(request: Request, problem: Problem, staff: Staff | None = None) -> HTMLResponse:
    """A page saying what the API refused (not found, not allowed, ...)."""
    return render(request, "problem.html", staff=staff, status=problem.status, problem=problem)
