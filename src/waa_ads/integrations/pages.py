"""The few HTML pages of LTI launches (a learner's hand-off to the player, an
instructor's picker and messages, the deep-linking return), built with Jinja2 from
``templates/lti``. They carry a strict Content-Security-Policy: scripts from this origin
only, no inline script or style; forms may post to the platform. They are written in the
language of the request (the learner's or instructor's browser, or their choice), which
``Content-Language`` names."""

from __future__ import annotations

from typing import Any, Final

from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape

from waa_ads.core import i18n

_env = Environment(
    loader=PackageLoader("waa_ads.integrations", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
i18n.install(_env)

LTI_CSP: Final = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "form-action 'self' https: http:",
        "base-uri 'none'",
    ]
)


def page(name: str, *, status_code: int = 200, **context: Any) -> HTMLResponse:
    html = _env.get_template(f"lti/{name}").render(**context)
    return HTMLResponse(
        html,
        status_code=status_code,
        headers={
            "Content-Security-Policy": LTI_CSP,
            "Content-Language": i18n.current(),
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff",
        },
    )
