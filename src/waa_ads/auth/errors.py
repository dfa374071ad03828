"""The identity domain's problems: one class per case a client may need to tell apart.

Each has a stable ``code`` (the problem ``type`` is ``PROBLEM_TYPE_BASE + code``); clients
match the code, never the detail sentence. A 401 raised while reading a request's
credentials carries ``WWW-Authenticate: Bearer`` (:func:`bearer_challenge`).
"""

from __future__ import annotations

from typing import Any

from waa_ads.core.errors import (
    Conflict,
    Forbidden,
    NotFound,
    TooManyRequests,
    Unauthorized,
    Unprocessable,
)
from waa_ads.core.i18n import N_

# --- credentials (401, 403, 429) ---------------------------------------------------------


class AuthenticationRequired(Unauthorized):
    code = "authentication-required"
    title = N_("Authentication required")


class AuthorizationHeaderMalformed(Unauthorized):
    code = "authorization-header-malformed"
    title = N_("Malformed Authorization header")


class TokenInvalid(Unauthorized):
    """The access token is malformed, expired, badly signed or names no valid subject."""

    code = "token-invalid"
    title = N_("Invalid or expired token")


class TokenRevoked(Unauthorized):
    code = "token-revoked"
    title = N_("Token revoked")


class AccountInactive(Unauthorized):
    """The token's account was deactivated, erased or deleted since it was issued."""

    code = "account-inactive"
    title = N_("Account not active")


class InvalidCredentials(Unauthorized):
    """Wrong password or no such account: the same answer, so accounts cannot be probed."""

    code = "invalid-credentials"
    title = N_("Invalid credentials")


class LoginRateLimited(TooManyRequests):
    """Too many failed logins for the account or the client address; see Retry-After."""

    code = "login-rate-limited"
    title = N_("Too many failed logins")


class RefreshTokenMissing(Unauthorized):
    code = "refresh-token-missing"
    title = N_("No refresh token")


class RefreshTokenInvalid(Unauthorized):
    code = "refresh-token-invalid"
    title = N_("Invalid or expired refresh token")


class RefreshTokenReused(Unauthorized):
    """A refresh token was presented twice: its whole session was revoked."""

    code = "refresh-token-reused"
    title = N_("Refresh token reused")


class SessionRevoked(Unauthorized):
    code = "session-revoked"
    title = N_("Session revoked")


class InvitationInvalid(Unauthorized):
    code = "invitation-invalid"
    title = N_("Unknown, used or expired invitation")


class CsrfTokenInvalid(Forbidden):
    """A cookie session's unsafe request lacks the right ``X-CSRF-Token`` header."""

    code = "csrf-token-invalid"
    title = N_("Missing or wrong CSRF token")


class RoleRequired(Forbidden):
    code = "role-required"
    title = N_("Role required")


# --- organizations, accounts, candidates --------------------------------------------------


class OrganizationNotFound(NotFound):
    code = "organization-not-found"
    title = N_("Organization not found")


class OrganizationSlugTaken(Conflict):
    code = "organization-slug-taken"
    title = N_("Organization slug taken")


class UnknownTimeZone(Unprocessable):
    code = "unknown-time-zone"
    title = N_("Unknown time zone")


class LogoNotAccepted(Unprocessable):
    """An organization logo that is not a PNG, JPEG or WebP picture, or is too large.
    ``invalid_params`` names the ``file``."""

    code = "logo-not-accepted"
    title = N_("Logo not accepted")

    def __init__(self, detail: str) -> None:
        super().__init__(detail, extra={"invalid_params": [{"name": "file", "reason": detail}]})


class LogoNotFound(NotFound):
    code = "logo-not-found"
    title = N_("Logo not found")


class UserNotFound(NotFound):
    code = "user-not-found"
    title = N_("Account not found")


class EmailTaken(Conflict):
    code = "email-taken"
    title = N_("E-mail address taken")


class AccountErased(Conflict):
    code = "account-erased"
    title = N_("Account erased")


class SelfLockout(Conflict):
    """An admin may not deactivate themself or drop their own admin role."""

    code = "self-lockout"
    title = N_("Cannot lock yourself out")


class SelfErasure(Conflict):
    code = "self-erasure"
    title = N_("Cannot erase your own account")


class CandidateNotFound(NotFound):
    code = "candidate-not-found"
    title = N_("Candidate not found")


class CandidateExternalIdTaken(Conflict):
    code = "candidate-external-id-taken"
    title = N_("Candidate external id taken")


class CandidateErased(Conflict):
    code = "candidate-erased"
    title = N_("Candidate erased")


def bearer_challenge() -> dict[str, Any]:
    """The ``extra`` of a 401 about a request's credentials: names the scheme to use."""
    return {"headers": {"WWW-Authenticate": "Bearer"}}


#: What the principal dependency (``PrincipalDep`` and the role dependencies built on it)
#: may raise: every authenticated route documents these.
CREDENTIAL_ERRORS: tuple[type[Unauthorized | Forbidden], ...] = (
    AuthenticationRequired,
    AuthorizationHeaderMalformed,
    TokenInvalid,
    TokenRevoked,
    AccountInactive,
    CsrfTokenInvalid,
)
