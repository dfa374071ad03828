"""Routes of the candidate's player: the page at ``/`` and ``/take`` and its static files.

The player is one page rendered in the candidate's language (``templates/player.html``,
with that language's catalogue embedded as JSON for the modules) and plain static files
(no build step, no third-party code). Every response from
these routes carries a strict Content-Security-Policy and the usual hardening headers. The
policy allows scripts, styles, images and connections from this origin only (plus
``data:`` images), no inline scripts or styles, and no framing, so sanitized item HTML that
somehow carried a script or a style attribute could still not run or restyle the page.
The player authenticates with the ``X-Attempt-Token`` header, never a cookie, so there is
no ambient credential for a cross-site request to ride on.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Final

from fastapi import APIRouter
from fastapi.responses import Response
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from waa_ads.core import i18n
from waa_ads.core.errors import NotFound

router = APIRouter(include_in_schema=False)

CONTENT_SECURITY_POLICY: Final = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

SECURITY_HEADERS: Final[dict[str, str]] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
}

_MEDIA_TYPES: Final = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}


def static_files(package: str) -> dict[str, tuple[bytes, str]]:
    """Every file of ``package``'s ``static/`` by name, read once: the allow-list of what
    can be served (a request names a file, never a path, so nothing outside the folder is
    reachable)."""
    files: dict[str, tuple[bytes, str]] = {}
    for entry in resources.files(package).joinpath("static").iterdir():
        name = entry.name
        suffix = name[name.rfind(".") :] if "." in name else ""
        if entry.is_file() and suffix in _MEDIA_TYPES:
            files[name] = (entry.read_bytes(), _MEDIA_TYPES[suffix])
    return files


_FILES: Final = static_files("waa_ads.web")


#: The player may use this page's own camera: webcam stills when a test's integrity policy
#: takes them (after the candidate's consent); every other page keeps it off.
PLAYER_PERMISSIONS: Final = "camera=(self), microphone=(), geolocation=(), payment=(), usb=()"


def serve_static(
    files: dict[str, tuple[bytes, str]],
    name: str,
    *,
    cache: str,
    headers: dict[str, str] | None = None,
) -> Response:
    """One file of ``files`` with the security headers (``headers`` override some); 404
    for any other name."""
    found = files.get(name)
    if found is None:
        raise NotFound("no such file")
    data, media_type = found
    return Response(
        data,
        media_type=media_type,
        headers={**SECURITY_HEADERS, "Cache-Control": cache, **(headers or {})},
    )


_templates: Final = i18n.install(
    Environment(
        loader=PackageLoader("waa_ads.web", "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
)

#: The languages a candidate may choose before entering a code (the pseudo-locales are
#: reachable with ``?lang=`` but not offered).
PAGE_LANGUAGES: Final = tuple(lang for lang in i18n.LANGUAGES.values() if not lang.pseudo)


#: What an access code looks like, shown on the access screen.
CODE_SAMPLE: Final = Markup('<span class="code-sample">K7QM-2XHD-9RTA-BC4W</span>')


def script_json(value: object) -> Markup:
    """``value`` as JSON that is safe inside a ``<script>`` element: ``<``, ``>`` and ``&``
    are escaped, so no text in it can close the element or open a comment."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return Markup(text)  # noqa: S704 (escaped above: no markup can remain)


def page_locale(lang: str | None) -> str:
    """The page's locale: ``?lang=`` when the product speaks it (exactly, or its language),
    else what the request negotiated (the ``waa_lang`` cookie, else Accept-Language)."""
    chosen = i18n.best_match([lang]) if lang else None
    return i18n.set_locale(chosen) if chosen else i18n.current()


@router.get("/", response_class=Response)
@router.get("/take", response_class=Response)
async def player_page(lang: str | None = None) -> Response:
    """The player (one page; its screens are shown and hidden by ``player.js``), in the
    language asked with ``?lang=``, else the reader's."""
    locale = page_locale(lang[:35] if lang else None)
    language = i18n.language(locale)
    html = _templates.get_template("player.html").render(
        locale=locale,
        direction=language.direction,
        languages=PAGE_LANGUAGES,
        code_sample=CODE_SAMPLE,
        product="WAA-ADS",
        catalogue=script_json(
            {
                **i18n.client_catalogue(locale),
                "languages": {
                    code: {"name": lang.name, "dir": lang.direction}
                    for code, lang in i18n.LANGUAGES.items()
                },
            }
        ),
    )
    return Response(
        html,
        media_type=_MEDIA_TYPES[".html"],
        headers={
            **SECURITY_HEADERS,
            "Cache-Control": "no-store",
            "Content-Language": locale,
            "Vary": "Accept-Language, Cookie",
            "Permissions-Policy": PLAYER_PERMISSIONS,
        },
    )


@router.get("/static/player/{name}", response_class=Response)
async def player_static(name: str) -> Response:
    """A static file of the player. ``no-cache`` makes browsers revalidate, so a new
    version of the player is picked up at the next load."""
    return serve_static(_FILES, name, cache="no-cache")


#: The policy of the frame a portable custom interaction runs in: a sandbox (scripts, but
#: an opaque origin: no cookies, storage or same-origin requests of the player), scripts
#: from this origin only (the host page's and the item's modules, served as media), no
#: network connections, and framed by the player only.
PCI_FRAME_POLICY: Final = "; ".join(
    [
        "sandbox allow-scripts",
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "media-src 'self'",
        "font-src 'self'",
        "connect-src 'none'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'self'",
    ]
)


@router.get("/player/pci-frame", response_class=Response)
async def pci_frame() -> Response:
    """The host page of a portable custom interaction (``static/pci-frame.html``), shown
    in a sandboxed frame of the player's item."""
    return serve_static(
        _FILES,
        "pci-frame.html",
        cache="no-cache",
        headers={
            "Content-Security-Policy": PCI_FRAME_POLICY,
            "X-Frame-Options": "SAMEORIGIN",
        },
    )


#: The host page's own files: fetched by a sandboxed (opaque-origin) document, so they
#: are marked as readable cross-origin (they are public and hold no secret).
_PCI_FRAME_FILES: Final = frozenset({"pci-frame.js", "pci-frame.css"})


@router.get("/player/pci-frame/{name}", response_class=Response)
async def pci_frame_file(name: str) -> Response:
    """The script and style sheet of the PCI host page."""
    if name not in _PCI_FRAME_FILES:
        raise NotFound("no such file")
    return serve_static(
        _FILES,
        name,
        cache="no-cache",
        headers={"Cross-Origin-Resource-Policy": "cross-origin"},
    )
