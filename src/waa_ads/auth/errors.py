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

# --- credentials (401, 403, 429) ---------------------------------------------------------


class AuthenticationRequired(Unauthorized):
    code = "authentication-required"
    title = "Authentication required"


class AuthorizationHeaderMalformed(Unauthorized):
    code = "authorization-header-malformed"
    title = "Malformed Authorization header"


class TokenInvalid(Unauthorized):
    """The access token is malformed, expired, badly signed or names no valid subject."""

    code = "token-invalid"
    title = "Invalid or expired token"


class TokenRevoked(Unauthorized):
    code = "token-revoked"
    title = "Token revoked"


class AccountInactive(Unauthorized):
    """The token's account was deactivated, erased or deleted since it was issued."""

    code = "account-inactive"
    title = "Account not active"


class InvalidCredentials(Unauthorized):
    """Wrong password or no such account: the same answer, so accounts cannot be probed."""

    code = "invalid-credentials"
    title = "Invalid credentials"


class LoginRateLimited(TooManyRequests):
    """Too many failed logins for the account or the client address; see Retry-After."""

    code = "login-rate-limited"
    title = "Too many failed logins"


class RefreshTokenMissing(Unauthorized):
    code = "refresh-token-missing"
    title = "No refresh token"


class RefreshTokenInvalid(Unauthorized):
    code = "refresh-token-invalid"
    title = "Invalid or expired refresh token"


class RefreshTokenReused(Unauthorized):
    """A refresh token was presented twice: its whole session was revoked."""

    code = "refresh-token-reused"
    title = "Refresh token reused"


class SessionRevoked(Unauthorized):
    code = "session-revoked"
    title = "Session revoked"


class InvitationInvalid(Unauthorized):
    code = "invitation-invalid"
    title = "Unknown, used or expired invitation"


class CsrfTokenInvalid(Forbidden):
    """A cookie session's unsafe request lacks the right ``X-CSRF-Token`` header."""

    code = "csrf-token-invalid"
    title = "Missing or wrong CSRF token"


class RoleRequired(Forbidden):
    code = "role-required"
    title = "Role required"


# --- organizations, accounts, candidates --------------------------------------------------


class OrganizationNotFound(NotFound):
    code = "organization-not-found"
    title = "Organization not found"


class OrganizationSlugTaken(Conflict):
    code = "organization-slug-taken"
    title = "Organization slug taken"


class UnknownTimeZone(Unprocessable):
    code = "unknown-time-zone"
    title = "Unknown time zone"


class LogoNotAccepted(Unprocessable):
    """An organization logo that is not a PNG, JPEG or WebP picture, or is too large.
    ``invalid_params`` names the ``file``."""

    code = "logo-not-accepted"
    title = "Logo not accepted"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, extra={"invalid_params": [{"name": "file", "reason": detail}]})


class LogoNotFound(NotFound):
    code = "logo-not-found"
    title = "Logo not found"


class UserNotFound(NotFound):
    code = "user-not-found"
    title = "Account not found"


class EmailTaken(Conflict):
    code = "email-taken"
    title = "E-mail address taken"


class AccountErased(Conflict):
    code = "account-erased"
    title = "Account erased"


class SelfLockout(Conflict):
    """An admin may not deactivate themself or drop their own admin role."""

    code = "self-lockout"
    title = "Cannot lock yourself out"


class SelfErasure(Conflict):
    code = "self-erasure"
    title = "Cannot erase your own account"


class CandidateNotFound(NotFound):
    code = "candidate-not-found"
    title = "Candidate not found"


class CandidateExternalIdTaken(Conflict):
    code = "candidate-external-id-taken"
    title = "Candidate external id taken"


class CandidateErased(Conflict):
    code = "candidate-erased"
    title = "Candidate erased"


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
