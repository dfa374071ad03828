"""The public page that checks a scorecard's verification code: ``/verify/{code}``.

No sign-in. The page reads ``GET /api/v1/reports/verify/{code}`` in-process (as console
pages read the API) and shows what the scorecard itself printed, never more: the figures,
whether they are the released ones and current, and the organization's name."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from waa_ads.web.console.gateway import Gateway
from waa_ads.web.console.pages import page_headers, templates

router = APIRouter(include_in_schema=False)


def _page(request: Request, status: int, **context: object) -> HTMLResponse:
    html = templates.get_template("reports/verify.html").render(request=request, **context)
    # The result of a code may change (a correction, a withdrawal): never cached.
    return HTMLResponse(html, status_code=status, headers=page_headers())


@router.get("/verify", response_class=HTMLResponse)
async def verify_form(
    request: Request, code: Annotated[str | None, Query(max_length=64)] = None
) -> Response:
    """A form to type a code; with ``?code=`` it goes to that code's page."""
    if code and code.strip():
        return RedirectResponse(f"/verify/{quote(code.strip(), safe='')}", status_code=303)
    return _page(request, 200, verdict=None, code="", problem=None)


@router.get("/verify/{code}", response_class=HTMLResponse)
async def verify_page(request: Request, code: str) -> HTMLResponse:
    reply = await Gateway(request).get(f"/api/v1/reports/verify/{quote(code[:64], safe='')}")
    if reply.ok:
        return _page(request, 200, verdict=reply.json(), code=code, problem=None)
    problem = reply.problem
    status = problem.status if problem is not None else 502
    return _page(request, status, verdict=None, code=code, problem=problem)
