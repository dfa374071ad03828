"""Routes of the candidate's player: the page at ``/`` and ``/take`` and its static files.

The player is plain static files (no build step, no third-party code). Every response from
these routes carries a strict Content-Security-Policy and the usual hardening headers. The
policy allows scripts, styles, images and connections from this origin only (plus
``data:`` images), no inline scripts or styles, and no framing, so sanitized item HTML that
somehow carried a script or a style attribute could still not run or restyle the page.
The player authenticates with the ``X-Attempt-Token`` header, never a cookie, so there is
no ambient credential for a cross-site request to ride on.
"""

from __future__ import annotations

from importlib import resources
from typing import Final

from fastapi import APIRouter
from fastapi.responses import Response

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


@router.get("/", response_class=Response)
@router.get("/take", response_class=Response)
async def player_page() -> Response:
    """The player (one page; its screens are shown and hidden by ``player.js``)."""
    return serve_static(
        _FILES,
        "player.html",
        cache="no-store",
        headers={"Permissions-Policy": PLAYER_PERMISSIONS},
    )


@router.get("/static/player/{name}", response_class=Response)
async def player_static(name: str) -> Response:
    """A static file of the player. ``no-cache`` makes browsers revalidate, so a new
    version of the player is picked up at the next load."""
    if name == "player.html":
        raise NotFound("no such file")
    return serve_static(_FILES, name, cache="no-cache")
