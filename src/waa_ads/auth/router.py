"""HTTP routes of the identity domain: logins and tokens, the organization, accounts,
candidates."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Query, Request, Response, UploadFile, status

from waa_ads.auth import branding, schemas, service
from waa_ads.auth.deps import (
    CSRF_COOKIE,
    CSRF_HEADER,
    REFRESH_COOKIE,
    SESSION_COOKIE,
    AdminDep,
    AuthDep,
    Principal,
    PrincipalDep,
    require_roles,
)
from waa_ads.auth.errors import (
    CREDENTIAL_ERRORS,
    AccountErased,
    CandidateErased,
    CandidateExternalIdTaken,
    CandidateNotFound,
    CsrfTokenInvalid,
    EmailTaken,
    InvalidCredentials,
    InvitationInvalid,
    LoginRateLimited,
    LogoNotAccepted,
    LogoNotFound,
    OrganizationNotFound,
    RefreshTokenInvalid,
    RefreshTokenMissing,
    RefreshTokenReused,
    RoleRequired,
    SelfErasure,
    SelfLockout,
    SessionRevoked,
    UnknownTimeZone,
    UserNotFound,
)
from waa_ads.auth.models import Role
from waa_ads.core.deps import SessionDep
from waa_ads.core.errors import error_responses
from waa_ads.core.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page
from waa_ads.core.security import constant_time_equals, csrf_token_for

router = APIRouter()
auth_router = APIRouter(prefix="/auth", tags=["auth"])
users_router = APIRouter(prefix="/users", tags=["users"])
candidates_router = APIRouter(prefix="/candidates", tags=["candidates"])
org_router = APIRouter(prefix="/organizations", tags=["organizations"])

REFRESH_PATH = "/api/v1/auth"
Cursor = Annotated[str | None, Query(description="Cursor from the previous page.")]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
CandidateViewerDep = Annotated[Principal, Depends(require_roles(Role.admin, Role.proctor))]


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


# --- tokens ----------------------------------------------------------------------------


@auth_router.post(
    "/token",
    response_model=schemas.TokenPair,
    summary="Log in (OAuth2 password flow)",
    responses=error_responses(InvalidCredentials, LoginRateLimited),
)
async def token(
    request: Request,
    session: SessionDep,
    auth: AuthDep,
    username: Annotated[str, Form(description="The account's e-mail address.")],
    password: Annotated[str, Form()],
    organization: Annotated[str | None, Form(description="Organization slug, if needed.")] = None,
) -> schemas.TokenPair:
    user = await service.authenticate(
        auth,
        email=username,
        password=password,
        organization_slug=organization,
        client=_client(request),
    )
    issued = await service.issue_tokens(auth, user, transport="bearer")
    await service.record_login(session, user)
    return schemas.TokenPair(
        access_token=issued.access_token,
        expires_in=issued.expires_in,
        refresh_token=issued.refresh_token,
    )


@auth_router.post(
    "/refresh",
    response_model=schemas.TokenPair,
    summary="Trade a refresh token for a new pair (rotation)",
    responses=error_responses(
        RefreshTokenMissing,
        RefreshTokenInvalid,
        RefreshTokenReused,
        SessionRevoked,
        CsrfTokenInvalid,
    ),
)
async def refresh(
    request: Request,
    response: Response,
    auth: AuthDep,
    body: schemas.RefreshRequest | None = None,
) -> schemas.TokenPair:
    if body is not None and body.refresh_token:
        issued = await service.rotate_refresh_token(auth, body.refresh_token, transport="bearer")
        return schemas.TokenPair(
            access_token=issued.access_token,
            expires_in=issued.expires_in,
            refresh_token=issued.refresh_token,
        )
    cookie = request.cookies.get(REFRESH_COOKIE)
    if not cookie:
        raise RefreshTokenMissing("no refresh token given")
    _check_double_submit(request)
    issued = await service.rotate_refresh_token(auth, cookie, transport="cookie")
    _set_session_cookies(response, auth, issued)
    return schemas.TokenPair(
        access_token=issued.access_token,
        expires_in=issued.expires_in,
        refresh_token=issued.refresh_token,
    )


@auth_router.post(
    "/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="End this session (access token and its refresh tokens)",
    responses=error_responses(*CREDENTIAL_ERRORS),
)
async def logout(
    response: Response, session: SessionDep, auth: AuthDep, principal: PrincipalDep
) -> Response:
    assert principal.claims is not None  # requests always carry a token
    await service.logout(session, auth, claims=principal.claims, user_id=principal.user_id)
    response.status_code = status.HTTP_204_NO_CONTENT
    _clear_session_cookies(response, auth)
    return response


@auth_router.post(
    "/session",
    response_model=schemas.SessionInfo,
    summary="Log in for browser pages (sets the session cookies)",
    responses=error_responses(InvalidCredentials, LoginRateLimited),
)
async def create_session(
    request: Request,
    response: Response,
    session: SessionDep,
    auth: AuthDep,
    body: schemas.SessionLogin,
) -> schemas.SessionInfo:
    user = await service.authenticate(
        auth,
        email=str(body.email),
        password=body.password,
        organization_slug=body.organization,
        client=_client(request),
    )
    issued = await service.issue_tokens(auth, user, transport="cookie")
    await service.record_login(session, user)
    _set_session_cookies(response, auth, issued)
    return schemas.SessionInfo(
        csrf_token=csrf_token_for(auth.settings, issued.claims.family_id),
        expires_in=issued.expires_in,
    )


@auth_router.get(
    "/me",
    response_model=schemas.Me,
    summary="The caller",
    responses=error_responses(*CREDENTIAL_ERRORS, OrganizationNotFound, UserNotFound),
)
async def me(session: SessionDep, principal: PrincipalDep) -> schemas.Me:
    user = await service.get_user(session, principal.organization_id, principal.user_id)
    org = await service.get_organization(session, principal.organization_id)
    return schemas.Me(
        user_id=user.id,
        organization=schemas.OrganizationRead.model_validate(org),
        email=user.email,
        display_name=user.display_name,
        roles=[Role(r) for r in user.roles],
        transport=principal.transport,
        locale=user.locale,
    )


@auth_router.put(
    "/me/language",
    response_model=schemas.Me,
    summary="Set the caller's own language (the console's and their e-mails'); null: the "
    "organization's default",
    responses=error_responses(
        *CREDENTIAL_ERRORS, OrganizationNotFound, UserNotFound, AccountErased
    ),
)
async def set_my_language(
    session: SessionDep, principal: PrincipalDep, body: schemas.MyLanguage
) -> schemas.Me:
    await service.set_own_locale(session, principal.organization_id, principal.user_id, body.locale)
    return await me(session, principal)


@auth_router.post(
    "/invitations/accept",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Set a password with an invitation token",
    responses=error_responses(InvitationInvalid),
)
async def accept_invitation(
    session: SessionDep, auth: AuthDep, body: schemas.InvitationAccept
) -> Response:
    await service.accept_invitation(session, auth, body)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _check_double_submit(request: Request) -> None:
    sent = request.headers.get(CSRF_HEADER, "")
    cookie = request.cookies.get(CSRF_COOKIE, "")
    if not sent or not cookie or not constant_time_equals(sent, cookie):
        raise CsrfTokenInvalid(f"missing or wrong {CSRF_HEADER} header for this cookie session")


def _set_session_cookies(
    response: Response, auth: service.AuthComponents, issued: service.IssuedTokens
) -> None:
    settings = auth.settings
    secure = settings.cookie_secure
    response.set_cookie(
        SESSION_COOKIE,
        issued.access_token,
        max_age=settings.access_token_ttl_s,
        httponly=True,
        secure=secure,
        samesite="lax",
        path="/",
    )
    response.set_cookie(
        REFRESH_COOKIE,
        issued.refresh_token,
        max_age=settings.refresh_token_ttl_s,
        httponly=True,
        secure=secure,
        samesite="strict",
        path=REFRESH_PATH,
    )
    # Readable by the page's script, which echoes it in X-CSRF-Token.
    response.set_cookie(
        CSRF_COOKIE,
        csrf_token_for(settings, issued.claims.family_id),
        max_age=settings.refresh_token_ttl_s,
        httponly=False,
        secure=secure,
        samesite="strict",
        path="/",
    )


def _clear_session_cookies(response: Response, auth: service.AuthComponents) -> None:
    secure = auth.settings.cookie_secure
    response.delete_cookie(SESSION_COOKIE, path="/", secure=secure, httponly=True)
    response.delete_cookie(REFRESH_COOKIE, path=REFRESH_PATH, secure=secure, httponly=True)
    response.delete_cookie(CSRF_COOKIE, path="/", secure=secure)


# --- the organization ------------------------------------------------------------------


@org_router.get(
    "/current",
    response_model=schemas.OrganizationRead,
    summary="The caller's organization",
    responses=error_responses(*CREDENTIAL_ERRORS, OrganizationNotFound),
)
async def current_organization(
    session: SessionDep, principal: PrincipalDep
) -> schemas.OrganizationRead:
    org = await service.get_organization(session, principal.organization_id)
    return schemas.OrganizationRead.model_validate(org)


@org_router.patch(
    "/current",
    response_model=schemas.OrganizationRead,
    summary="Rename the organization, change its time zone or brand colour",
    responses=error_responses(
        *CREDENTIAL_ERRORS, RoleRequired, OrganizationNotFound, UnknownTimeZone
    ),
)
async def update_current_organization(
    session: SessionDep, admin: AdminDep, body: schemas.OrganizationUpdate
) -> schemas.OrganizationRead:
    org = await service.update_organization(session, admin.organization_id, body, actor=admin.actor)
    return schemas.OrganizationRead.model_validate(org)


@org_router.put(
    "/current/logo",
    response_model=schemas.OrganizationRead,
    summary="Set the organization's logo (PNG, JPEG or WebP, at most 256 KiB)",
    responses=error_responses(
        *CREDENTIAL_ERRORS, RoleRequired, OrganizationNotFound, LogoNotAccepted, 413
    ),
)
async def set_organization_logo(
    request: Request,
    session: SessionDep,
    admin: AdminDep,
    file: Annotated[UploadFile, File(description="The picture")],
) -> schemas.OrganizationRead:
    data = await file.read(branding.MAX_LOGO_BYTES + 1)
    org = await service.set_organization_logo(
        session, request.app.state.blobs, admin.organization_id, data, actor=admin.actor
    )
    return schemas.OrganizationRead.model_validate(org)


@org_router.delete(
    "/current/logo",
    response_model=schemas.OrganizationRead,
    summary="Remove the organization's logo",
    responses=error_responses(*CREDENTIAL_ERRORS, RoleRequired, OrganizationNotFound),
)
async def clear_organization_logo(session: SessionDep, admin: AdminDep) -> schemas.OrganizationRead:
    org = await service.clear_organization_logo(session, admin.organization_id, actor=admin.actor)
    return schemas.OrganizationRead.model_validate(org)


# The two public reads of an organization's look: the candidate's player shows them before
# anyone signs in (an <img> and a <link> cannot send the attempt's header). Only what the
# organization chose to show is served; the URL changes with it, so it may be cached long.
_PUBLIC_CACHE = "public, max-age=86400"


@org_router.get(
    "/{organization_id}/logo",
    summary="The organization's logo (public)",
    response_class=Response,
    responses={
        200: {
            "description": "The picture.",
            "content": {
                t: {"schema": {"type": "string", "format": "binary"}} for t in branding.LOGO_TYPES
            },
        },
        **error_responses(LogoNotFound),
    },
)
async def organization_logo(
    request: Request, session: SessionDep, organization_id: uuid.UUID
) -> Response:
    data, content_type, sha256 = await service.organization_logo(
        session, request.app.state.blobs, organization_id
    )
    return Response(
        data,
        media_type=content_type,
        headers={
            "Cache-Control": _PUBLIC_CACHE,
            "ETag": f'"{sha256}"',
            "X-Content-Type-Options": "nosniff",
            "Cross-Origin-Resource-Policy": "same-origin",
        },
    )


@org_router.get(
    "/{organization_id}/player.css",
    summary="The player's stylesheet for the organization: its brand colour (public)",
    response_class=Response,
    responses={
        200: {
            "description": "CSS custom properties for the player's header.",
            "content": {"text/css": {"schema": {"type": "string"}}},
        },
        **error_responses(OrganizationNotFound),
    },
)
async def organization_player_style(session: SessionDep, organization_id: uuid.UUID) -> Response:
    text = await service.organization_player_style(session, organization_id)
    return Response(
        text,
        media_type="text/css",
        headers={
            "Cache-Control": _PUBLIC_CACHE,
            "X-Content-Type-Options": "nosniff",
            "Cross-Origin-Resource-Policy": "same-origin",
        },
    )


# --- accounts --------------------------------------------------------------------------


@users_router.post(
    "",
    response_model=schemas.UserCreated,
    status_code=status.HTTP_201_CREATED,
    summary="Create an account, or invite one (no password given)",
    responses=error_responses(*CREDENTIAL_ERRORS, RoleRequired, EmailTaken),
)
async def create_user(
    session: SessionDep, auth: AuthDep, admin: AdminDep, body: schemas.UserCreate
) -> schemas.UserCreated:
    user, invitation = await service.create_user(
        session, auth, admin.organization_id, body, actor=admin.actor
    )
    created = schemas.UserCreated.model_validate(user)
    created.invitation_token = invitation
    return created


@users_router.get(
    "",
    response_model=Page[schemas.UserRead],
    summary="List the organization's accounts",
    responses=error_responses(*CREDENTIAL_ERRORS, RoleRequired),
)
async def list_users(
    session: SessionDep, admin: AdminDep, cursor: Cursor = None, limit: Limit = DEFAULT_LIMIT
) -> Page[schemas.UserRead]:
    rows, next_cursor = await service.list_users(
        session, admin.organization_id, cursor=cursor, limit=limit
    )
    return Page(items=[schemas.UserRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@users_router.get(
    "/{user_id}",
    response_model=schemas.UserRead,
    summary="One account",
    responses=error_responses(*CREDENTIAL_ERRORS, RoleRequired, UserNotFound),
)
async def get_user(session: SessionDep, admin: AdminDep, user_id: uuid.UUID) -> schemas.UserRead:
    return schemas.UserRead.model_validate(
        await service.get_user(session, admin.organization_id, user_id)
    )


@users_router.patch(
    "/{user_id}",
    response_model=schemas.UserRead,
    summary="Change an account's roles, name, or deactivate it",
    responses=error_responses(
        *CREDENTIAL_ERRORS, RoleRequired, UserNotFound, AccountErased, SelfLockout
    ),
)
async def update_user(
    session: SessionDep, admin: AdminDep, user_id: uuid.UUID, body: schemas.UserUpdate
) -> schemas.UserRead:
    user = await service.update_user(
        session, admin.organization_id, user_id, body, actor=admin.actor
    )
    return schemas.UserRead.model_validate(user)


@users_router.post(
    "/{user_id}/erase",
    response_model=schemas.UserRead,
    summary="Erase an account's personal data (the audit trail keeps only its id)",
    responses=error_responses(*CREDENTIAL_ERRORS, RoleRequired, UserNotFound, SelfErasure),
)
async def erase_user(session: SessionDep, admin: AdminDep, user_id: uuid.UUID) -> schemas.UserRead:
    user = await service.erase_user(session, admin.organization_id, user_id, actor=admin.actor)
    return schemas.UserRead.model_validate(user)


# --- candidates ------------------------------------------------------------------------


@candidates_router.post(
    "",
    response_model=schemas.CandidateRead,
    status_code=status.HTTP_201_CREATED,
    summary="Register a candidate",
    responses=error_responses(*CREDENTIAL_ERRORS, RoleRequired, CandidateExternalIdTaken),
)
async def create_candidate(
    session: SessionDep, admin: AdminDep, body: schemas.CandidateCreate
) -> schemas.CandidateRead:
    candidate = await service.create_candidate(
        session, admin.organization_id, body, actor=admin.actor
    )
    return schemas.CandidateRead.model_validate(candidate)


@candidates_router.get(
    "",
    response_model=Page[schemas.CandidateRead],
    summary="List candidates (search by name, e-mail or external id)",
    responses=error_responses(*CREDENTIAL_ERRORS, RoleRequired),
)
async def list_candidates(
    session: SessionDep,
    staff: CandidateViewerDep,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
    q: Annotated[str | None, Query(max_length=200)] = None,
) -> Page[schemas.CandidateRead]:
    rows, next_cursor = await service.list_candidates(
        session, staff.organization_id, cursor=cursor, limit=limit, search=q
    )
    return Page(
        items=[schemas.CandidateRead.model_validate(r) for r in rows], next_cursor=next_cursor
    )


@candidates_router.get(
    "/{candidate_id}",
    response_model=schemas.CandidateRead,
    summary="One candidate",
    responses=error_responses(*CREDENTIAL_ERRORS, RoleRequired, CandidateNotFound),
)
async def get_candidate(
    session: SessionDep, staff: CandidateViewerDep, candidate_id: uuid.UUID
) -> schemas.CandidateRead:
    return schemas.CandidateRead.model_validate(
        await service.get_candidate(session, staff.organization_id, candidate_id)
    )


@candidates_router.patch(
    "/{candidate_id}",
    response_model=schemas.CandidateRead,
    summary="Change a candidate's details",
    responses=error_responses(
        *CREDENTIAL_ERRORS,
        RoleRequired,
        CandidateNotFound,
        CandidateErased,
        CandidateExternalIdTaken,
    ),
)
async def update_candidate(
    session: SessionDep, admin: AdminDep, candidate_id: uuid.UUID, body: schemas.CandidateUpdate
) -> schemas.CandidateRead:
    candidate = await service.update_candidate(
        session, admin.organization_id, candidate_id, body, actor=admin.actor
    )
    return schemas.CandidateRead.model_validate(candidate)


@candidates_router.post(
    "/{candidate_id}/erase",
    response_model=schemas.CandidateRead,
    summary="Erase a candidate's personal data (the audit trail keeps only the id)",
    responses=error_responses(*CREDENTIAL_ERRORS, RoleRequired, CandidateNotFound),
)
async def erase_candidate(
    session: SessionDep, admin: AdminDep, candidate_id: uuid.UUID
) -> schemas.CandidateRead:
    candidate = await service.erase_candidate(
        session, admin.organization_id, candidate_id, actor=admin.actor
    )
    return schemas.CandidateRead.model_validate(candidate)


for sub in (auth_router, org_router, users_router, candidates_router):
    router.include_router(sub)
