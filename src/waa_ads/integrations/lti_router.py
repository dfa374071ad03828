"""Public LTI 1.3 endpoints (``/lti``): the tool's JWKS, OIDC login initiation, the
launch (resource link and deep linking), the deep-linking choice and the page script.
Platforms and browsers call these without a WAA-ADS account; each request is trusted
only as far as the checks in :mod:`waa_ads.integrations.lti` allow."""

from __future__ import annotations

import uuid
from importlib import resources
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict

from waa_ads.core import i18n
from waa_ads.core.deps import SessionDep, SettingsDep, WriteSessionDep
from waa_ads.core.errors import COMMON_ERROR_RESPONSES, error_responses
from waa_ads.core.settings import Settings
from waa_ads.integrations import lti, lti_claims, pages
from waa_ads.integrations.errors import LtiLaunchRefused, LtiLinkNotFound, LtiLoginRateLimited

router = APIRouter(prefix="/lti", tags=["lti"], responses=COMMON_ERROR_RESPONSES)


class PublicJwk(BaseModel):
    """One of the tool's RSA public keys (RFC 7517)."""

    model_config = ConfigDict(extra="forbid")

    kty: str
    kid: str
    use: str | None = None
    alg: str | None = None
    n: str
    e: str


class PublicJwks(BaseModel):
    """The tool's key set: the current key and keys retired less than 30 days ago."""

    model_config = ConfigDict(extra="forbid")

    keys: list[PublicJwk]


def _page(description: str) -> dict[int | str, dict[str, Any]]:
    return {200: {"description": description, "content": {"text/html": {}}}}


#: Where the login sends the browser: the platform's authorization endpoint.
_REDIRECT: dict[int | str, dict[str, Any]] = {
    302: {"description": "To the platform's OIDC authorization endpoint (Location)."}
}


#: Logins per client address and minute: a whole class behind one school address
#: launching at once stays well below it; a client filling the login table does not.
LOGINS_PER_MINUTE = 300


def base_url(request: Request, settings: Settings) -> str:
    return (settings.public_base_url or str(request.base_url)).rstrip("/")


async def _limit_logins(request: Request) -> None:
    limiter = request.app.state.auth.limiter
    client = request.client.host if request.client else "unknown"
    window = await limiter.hit(f"lti-login:{client}", 60)
    if window.count > LOGINS_PER_MINUTE:
        raise LtiLoginRateLimited(
            "too many LTI logins from this address; try again in a minute",
            extra={"headers": {"Retry-After": str(window.retry_after_s)}},
        )


@router.get("/jwks", summary="The tool's public keys (JWKS)", response_model=PublicJwks)
async def jwks(session: WriteSessionDep) -> JSONResponse:
    return JSONResponse(await lti.published_jwks(session), headers={"Cache-Control": "max-age=300"})


async def _login(
    request: Request, session: Any, settings: Settings, params: dict[str, Any]
) -> Response:
    def text(name: str) -> str | None:
        value = params.get(name)
        return value if isinstance(value, str) and value else None

    await _limit_logins(request)
    issuer, hint, target = text("iss"), text("login_hint"), text("target_link_uri")
    if issuer is None or hint is None or target is None:
        raise LtiLaunchRefused(
            "a login needs iss, login_hint and target_link_uri",
            extra={"reason": "login-parameters"},
        )
    started = await lti.begin_login(
        session,
        issuer=issuer,
        login_hint=hint,
        target_link_uri=target,
        base_url=base_url(request, settings),
        client_id=text("client_id"),
        lti_message_hint=text("lti_message_hint"),
        deployment_id=text("lti_deployment_id"),
    )
    redirect = RedirectResponse(
        started.location, status_code=302, headers={"Cache-Control": "no-store"}
    )
    # The launch comes back as a cross-site form post from the platform: only a
    # SameSite=None cookie (which must be Secure) rides along; over plain http (local
    # development) a Lax one, which a same-site platform still gets back.
    secure = base_url(request, settings).startswith("https://")
    redirect.set_cookie(
        lti.state_cookie_name(started.state),
        started.state,
        max_age=int(lti.LOGIN_TTL.total_seconds()),
        path="/lti",
        secure=secure,
        httponly=True,
        samesite="none" if secure else "lax",
    )
    return redirect


@router.get(
    "/login",
    summary="OIDC third-party login initiation (GET)",
    status_code=302,
    response_class=RedirectResponse,
    responses={**_REDIRECT, **error_responses(LtiLaunchRefused, LtiLoginRateLimited)},
)
async def login_get(request: Request, session: WriteSessionDep, settings: SettingsDep) -> Response:
    return await _login(request, session, settings, dict(request.query_params))


@router.post(
    "/login",
    summary="OIDC third-party login initiation (form post)",
    status_code=302,
    response_class=RedirectResponse,
    responses={**_REDIRECT, **error_responses(LtiLaunchRefused, LtiLoginRateLimited)},
)
async def login_post(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    form = await request.form()
    return await _login(request, session, settings, dict(form.items()))


@router.post(
    "/launch",
    summary="LTI launch: the platform posts the id_token and state here",
    response_class=HTMLResponse,
    responses={
        **_page("The learner's hand-off into the player, or the instructor's page."),
        **error_responses(LtiLaunchRefused, LtiLinkNotFound),
    },
)
async def launch(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    id_token: Annotated[str, Form(max_length=20_000)] = "",
    state: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    if not id_token:
        raise LtiLaunchRefused("the launch has no id_token", extra={"reason": "malformed"})
    launched = await lti.validate_launch(
        session,
        settings,
        id_token=id_token,
        state=state,
        browser_state=request.cookies.get(lti.state_cookie_name(state)) if state else None,
    )
    # The page in the person's language in the course (the platform says which), unless
    # they chose one here with the switcher.
    if launched.launch.locale and i18n.cookie_choice(request.headers.get("cookie")) is None:
        spoken = i18n.best_match([launched.launch.locale])
        if spoken is not None:
            i18n.set_locale(spoken)
    response = await _launched_page(session, settings, launched)
    # The login is spent: its cookie has done its work.
    response.delete_cookie(lti.state_cookie_name(state), path="/lti")
    return response


async def _launched_page(session: Any, settings: Settings, launched: lti.Launched) -> Response:
    message = launched.launch
    if message.message_type == lti_claims.DEEP_LINKING_REQUEST:
        if not message.is_staff:
            raise LtiLaunchRefused(
                "only instructors choose the test of a link", extra={"reason": "role"}
            )
        return pages.page(
            "picker.html",
            title=i18n.gettext("Choose a test"),
            token=lti.deep_link_token(settings, launched),
            administrations=await lti.administrations_to_link(
                session, launched.registration.organization_id
            ),
        )
    if message.is_staff:
        link = await lti.bind_link(session, settings, launched)
        return pages.page(
            "message.html",
            title=link.title or "WAA-ADS",
            message=(
                i18n.gettext(
                    "This link is linked to a test. Results are sent to the course's grade "
                    "book when they are released."
                )
                if link.administration_id
                else i18n.gettext(
                    "This link is not linked to a test yet. Results are sent to the course's "
                    "grade book when they are released."
                )
            ),
        )
    started = await lti.launch_learner(session, settings, launched)
    return pages.page(
        "handoff.html",
        title=i18n.gettext("Opening your test"),
        attempt_id=str(started.attempt_id),
        credential=started.credential,
        link_title=started.title,
    )


@router.post(
    "/deep-link",
    summary="The instructor's choice: answered with the signed deep-linking response",
    response_class=HTMLResponse,
    responses={
        **_page("A page that posts the signed deep-linking response back to the platform."),
        **error_responses(LtiLaunchRefused, LtiLinkNotFound),
    },
)
async def deep_link(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    token: Annotated[str, Form(max_length=4000)],
    administration_id: Annotated[uuid.UUID, Form()],
) -> Response:
    answer = await lti.deep_link_response(
        session,
        settings,
        token=token,
        administration_id=administration_id,
        base_url=base_url(request, settings),
    )
    return pages.page(
        "return.html",
        title=i18n.gettext("Test chosen"),
        return_url=answer.return_url,
        jwt=answer.jwt,
    )


_SCRIPT = resources.files("waa_ads.integrations").joinpath("static/lti-handoff.js").read_bytes()


@router.get("/handoff.js", include_in_schema=False)
async def handoff_script() -> Response:
    return Response(
        _SCRIPT,
        media_type="text/javascript",
        headers={"Cache-Control": "max-age=300", "X-Content-Type-Options": "nosniff"},
    )
