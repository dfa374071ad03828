"""Who is calling: one identity from either transport.

API clients send ``Authorization: Bearer <access token>``; browser pages carry the same
token in the HttpOnly ``waa_session`` cookie, and then every unsafe method must also send
the session's CSRF token in ``X-CSRF-Token``. Roles are read from the account on every
request, so a role change or deactivation takes effect at once.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from waa_ads.audit.service import Actor
from waa_ads.auth.errors import (
    AccountInactive,
    AuthenticationRequired,
    AuthorizationHeaderMalformed,
    CsrfTokenInvalid,
    RoleRequired,
    TokenInvalid,
    TokenRevoked,
    bearer_challenge,
)
from waa_ads.auth.models import Role, User
from waa_ads.auth.service import AuthComponents
from waa_ads.auth.tokens import family_key, jti_key
from waa_ads.core.deps import READ_METHODS, SessionDep
from waa_ads.core.security import (
    AccessClaims,
    TokenError,
    constant_time_equals,
    csrf_token_for,
    decode_access_token,
)

SESSION_COOKIE = "waa_session"
REFRESH_COOKIE = "waa_refresh"
CSRF_COOKIE = "waa_csrf"
CSRF_HEADER = "X-CSRF-Token"


def get_auth(request: Request) -> AuthComponents:
    auth: AuthComponents = request.app.state.auth
    return auth


AuthDep = Annotated[AuthComponents, Depends(get_auth)]


@dataclass(frozen=True)
class Principal:
    """Who acts. Requests carry a user's token (``claims``); command-line work acts as the
    system with an admin's rights (:meth:`system`)."""

    user_id: uuid.UUID
    organization_id: uuid.UUID
    roles: frozenset[str]
    transport: str
    claims: AccessClaims | None

    @classmethod
    def system(cls, organization_id: uuid.UUID, *, via: str = "cli") -> Principal:
        return cls(uuid.UUID(int=0), organization_id, frozenset({Role.admin.value}), via, None)

    @property
    def actor(self) -> Actor:
        if self.claims is None:
            return Actor("system", self.transport)
        return Actor("user", str(self.user_id))

    def has_any(self, *roles: Role) -> bool:
        return any(r.value in self.roles for r in roles)


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthorizationHeaderMalformed(
            "malformed Authorization header; expected 'Bearer <token>'", extra=bearer_challenge()
        )
    return token.strip()


async def get_principal(request: Request, session: SessionDep, auth: AuthDep) -> Principal:
    token = _bearer(request)
    transport = "bearer"
    if token is None:
        token = request.cookies.get(SESSION_COOKIE)
        transport = "cookie"
    if not token:
        raise AuthenticationRequired("authentication required", extra=bearer_challenge())
    try:
        claims = decode_access_token(auth.settings, token)
    except TokenError:
        raise TokenInvalid("invalid or expired token", extra=bearer_challenge()) from None
    if transport == "cookie" and request.method not in READ_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not sent or not constant_time_equals(
            sent, csrf_token_for(auth.settings, claims.family_id)
        ):
            raise CsrfTokenInvalid(f"missing or wrong {CSRF_HEADER} header for this cookie session")
    if await auth.tokens.is_revoked(
        jti_key(claims.jti), family_key(claims.family_id), session=session
    ):
        raise TokenRevoked("this token has been revoked", extra=bearer_challenge())
    try:
        user_id = uuid.UUID(claims.subject)
        organization_id = uuid.UUID(claims.organization_id)
    except ValueError:
        raise TokenInvalid("invalid token subject", extra=bearer_challenge()) from None
    user = await session.get(User, user_id)
    if (
        user is None
        or user.organization_id != organization_id
        or not user.is_active
        or user.erased_at is not None
    ):
        raise AccountInactive("this account is not active", extra=bearer_challenge())
    return Principal(user.id, organization_id, frozenset(user.roles), transport, claims)


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def require_roles(*roles: Role) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency admitting callers that hold any of ``roles``; others get 403 (they are
    in the organization, so its existence is no secret to them)."""

    async def dependency(principal: PrincipalDep) -> Principal:
        if not principal.has_any(*roles):
            names = ", ".join(r.value for r in roles)
            raise RoleRequired(f"this needs one of the roles: {names}")
        return principal

    return dependency


AdminDep = Annotated[Principal, Depends(require_roles(Role.admin))]
