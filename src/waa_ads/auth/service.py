"""Identity rules: organizations, accounts, candidates, logins, token rotation, erasure.

Services flush and never commit; the request or task edge commits. Audit events name people
by id only.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

import redis.asyncio as aioredis
import sqlalchemy as sa
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from waa_ads.audit import service as audit
from waa_ads.audit.service import Actor
from waa_ads.auth import branding, schemas
from waa_ads.auth.errors import (
    AccountErased,
    CandidateErased,
    CandidateExternalIdTaken,
    CandidateNotFound,
    EmailTaken,
    InvalidCredentials,
    InvitationInvalid,
    LoginRateLimited,
    LogoNotAccepted,
    LogoNotFound,
    OrganizationNotFound,
    OrganizationSlugTaken,
    RefreshTokenInvalid,
    RefreshTokenReused,
    SelfErasure,
    SelfLockout,
    SessionRevoked,
    UnknownTimeZone,
    UserNotFound,
)
from waa_ads.auth.models import Candidate, Invitation, Organization, Role, User, role_values
from waa_ads.auth.tokens import (
    Claim,
    DatabaseTokenStore,
    RedisTokenStore,
    RefreshRecord,
    TokenStore,
    family_key,
    jti_key,
)
from waa_ads.core.db import Database, utcnow
from waa_ads.core.pagination import paginate
from waa_ads.core.ratelimit import DatabaseRateLimiter, RateLimiter, RedisRateLimiter
from waa_ads.core.security import (
    AccessClaims,
    PasswordHasher,
    issue_access_token,
    new_opaque_token,
    sha256_hex,
    split_opaque_token,
)
from waa_ads.core.settings import Settings
from waa_ads.core.storage import BlobStore
from waa_ads.core.tenancy import get_scoped, scoped

BAD_CREDENTIALS = "Incorrect email or password."


@dataclass
class AuthComponents:
    """What the identity services need beyond a session, built once per process."""

    settings: Settings
    db: Database
    hasher: PasswordHasher
    tokens: TokenStore
    limiter: RateLimiter
    extra: dict[str, object] = field(default_factory=dict)


def build_auth(
    settings: Settings, db: Database, redis: aioredis.Redis[bytes] | None
) -> AuthComponents:
    """Redis-backed token store and rate limits when Redis is configured, the database's
    otherwise."""
    tokens: TokenStore
    limiter: RateLimiter
    if redis is not None:
        tokens, limiter = RedisTokenStore(redis), RedisRateLimiter(redis)
    else:
        tokens, limiter = DatabaseTokenStore(db), DatabaseRateLimiter(db)
    return AuthComponents(settings, db, PasswordHasher.from_settings(settings), tokens, limiter)


def normalize_email(email: str) -> str:
    return email.strip().lower()


def user_actor(user_id: uuid.UUID) -> Actor:
    return Actor("user", str(user_id))


# --- organizations ---------------------------------------------------------------------


async def create_organization(
    session: AsyncSession,
    *,
    slug: str,
    name: str,
    timezone: str = "UTC",
    default_locale: str = "en",
    actor: Actor,
) -> Organization:
    existing = (
        await session.execute(select(Organization).where(Organization.slug == slug))
    ).scalar_one_or_none()
    if existing is not None:
        raise OrganizationSlugTaken(f"an organization with slug {slug!r} already exists")
    org = Organization(
        slug=slug, name=name, timezone=_valid_timezone(timezone), default_locale=default_locale
    )
    session.add(org)
    await session.flush()
    await audit.record(
        session,
        organization_id=None,
        action="organization.created",
        actor=actor,
        target_type="organization",
        target_id=org.id,
    )
    await audit.record(
        session,
        organization_id=org.id,
        action="organization.created",
        actor=actor,
        target_type="organization",
        target_id=org.id,
    )
    return org


async def get_organization(session: AsyncSession, organization_id: uuid.UUID) -> Organization:
    org = await session.get(Organization, organization_id)
    if org is None:
        raise OrganizationNotFound("organization not found")
    return org


async def update_organization(
    session: AsyncSession, org_id: uuid.UUID, data: schemas.OrganizationUpdate, *, actor: Actor
) -> Organization:
    org = await get_organization(session, org_id)
    # Only a nullable field (the brand colour) may be set to null: that clears it.
    changed = data.model_dump(exclude_unset=True)
    if "timezone" in changed:
        changed["timezone"] = _valid_timezone(changed["timezone"])
    for key, value in changed.items():
        setattr(org, key, value)
    await session.flush()
    await audit.record(
        session,
        organization_id=org.id,
        action="organization.updated",
        actor=actor,
        target_type="organization",
        target_id=org.id,
        data={"fields": sorted(changed)},
    )
    return org


async def set_organization_logo(
    session: AsyncSession,
    blobs: BlobStore,
    org_id: uuid.UUID,
    data: bytes,
    *,
    actor: Actor,
) -> Organization:
    """Make ``data`` the organization's logo: a PNG, JPEG or WebP picture of at most
    :data:`~waa_ads.auth.branding.MAX_LOGO_BYTES` (else :class:`LogoNotAccepted`), stored
    in the blob store by its SHA-256. The previous picture's blob is kept (blobs are shared
    by content). Audited as ``organization.logo_changed``."""
    org = await get_organization(session, org_id)
    content_type = branding.sniff_logo(data)
    if content_type is None:
        raise LogoNotAccepted("the logo must be a PNG, JPEG or WebP picture")
    if len(data) > branding.MAX_LOGO_BYTES:
        raise LogoNotAccepted(
            f"the logo is {len(data) // 1024} KiB; the limit is "
            f"{branding.MAX_LOGO_BYTES // 1024} KiB"
        )
    ref = await blobs.put(data, content_type)
    org.logo_sha256 = ref.sha256
    org.logo_content_type = content_type
    await session.flush()
    await audit.record(
        session,
        organization_id=org.id,
        action="organization.logo_changed",
        actor=actor,
        target_type="organization",
        target_id=org.id,
        data={"sha256": ref.sha256, "content_type": content_type, "size": ref.size},
    )
    return org


async def clear_organization_logo(
    session: AsyncSession, org_id: uuid.UUID, *, actor: Actor
) -> Organization:
    """Remove the organization's logo (nothing happens, and nothing is audited, without
    one)."""
    org = await get_organization(session, org_id)
    if org.logo_sha256 is None:
        return org
    org.logo_sha256 = None
    org.logo_content_type = None
    await session.flush()
    await audit.record(
        session,
        organization_id=org.id,
        action="organization.logo_removed",
        actor=actor,
        target_type="organization",
        target_id=org.id,
        data={},
    )
    return org


async def organization_logo(
    session: AsyncSession, blobs: BlobStore, org_id: uuid.UUID
) -> tuple[bytes, str, str]:
    """The logo's bytes, content type and SHA-256 (public: the player shows it before
    anyone signs in); :class:`LogoNotFound` for an organization without one, or none."""
    org = await session.get(Organization, org_id)
    if org is None or org.logo_sha256 is None or org.logo_content_type is None:
        raise LogoNotFound("no logo")
    return await blobs.get(org.logo_sha256), org.logo_content_type, org.logo_sha256


async def organization_player_style(session: AsyncSession, org_id: uuid.UUID) -> str:
    """The player's stylesheet for the organization (public, like the logo);
    :class:`OrganizationNotFound` when there is no such organization."""
    org = await session.get(Organization, org_id)
    if org is None:
        raise OrganizationNotFound("organization not found")
    return branding.player_stylesheet(org.brand_color)


def _valid_timezone(name: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        reason = f"unknown time zone {name!r}; use an IANA name like Europe/Paris"
        raise UnknownTimeZone(
            reason, extra={"invalid_params": [{"name": "body.timezone", "reason": reason}]}
        ) from None
    return name


# --- accounts --------------------------------------------------------------------------


async def create_user(
    session: AsyncSession,
    auth: AuthComponents,
    organization_id: uuid.UUID,
    data: schemas.UserCreate,
    *,
    actor: Actor,
) -> tuple[User, str | None]:
    """Create an account; without a password, also an invitation whose token is returned
    (only its hash is stored)."""
    email = normalize_email(str(data.email))
    taken = (
        await session.execute(
            scoped(select(User.id), User, organization_id).where(User.email == email)
        )
    ).first()
    if taken is not None:
        raise EmailTaken(f"an account with e-mail {email} already exists in this organization")
    user = User(
        organization_id=organization_id,
        email=email,
        display_name=data.display_name,
        roles=role_values(data.roles),
        password_hash=await auth.hasher.hash(data.password) if data.password else None,
        is_active=True,
        locale=data.locale,
    )
    session.add(user)
    try:
        await session.flush()
    except IntegrityError:
        raise EmailTaken(f"an account with e-mail {email} already exists") from None
    invitation_token = None
    if data.password is None:
        invitation_token = secrets.token_urlsafe(32)
        session.add(
            Invitation(
                organization_id=organization_id,
                user_id=user.id,
                token_hash=sha256_hex(invitation_token),
                expires_at=utcnow() + timedelta(seconds=auth.settings.invitation_ttl_s),
            )
        )
        await session.flush()
    await audit.record(
        session,
        organization_id=organization_id,
        action="user.created",
        actor=actor,
        target_type="user",
        target_id=user.id,
        data={"roles": user.roles, "invited": invitation_token is not None},
    )
    return user, invitation_token


async def accept_invitation(
    session: AsyncSession, auth: AuthComponents, data: schemas.InvitationAccept
) -> User:
    invitation = (
        await session.execute(
            select(Invitation).where(Invitation.token_hash == sha256_hex(data.token))
        )
    ).scalar_one_or_none()
    if (
        invitation is None
        or invitation.accepted_at is not None
        or invitation.expires_at <= utcnow()
    ):
        raise InvitationInvalid("this invitation is unknown, used or expired")
    user = await session.get(User, invitation.user_id)
    if user is None or not user.is_active or user.erased_at is not None:
        raise InvitationInvalid("this invitation is unknown, used or expired")
    user.password_hash = await auth.hasher.hash(data.password)
    invitation.accepted_at = utcnow()
    await session.flush()
    await audit.record(
        session,
        organization_id=user.organization_id,
        action="user.invitation_accepted",
        actor=user_actor(user.id),
        target_type="user",
        target_id=user.id,
    )
    return user


async def list_users(
    session: AsyncSession, organization_id: uuid.UUID, *, cursor: str | None, limit: int
) -> tuple[Sequence[User], str | None]:
    return await paginate(
        session, scoped(select(User), User, organization_id), User.id, cursor=cursor, limit=limit
    )


async def get_user(session: AsyncSession, organization_id: uuid.UUID, user_id: uuid.UUID) -> User:
    return await get_scoped(
        session, User, user_id, organization_id, what="user", error=UserNotFound
    )


async def update_user(
    session: AsyncSession,
    organization_id: uuid.UUID,
    user_id: uuid.UUID,
    data: schemas.UserUpdate,
    *,
    actor: Actor,
) -> User:
    user = await get_user(session, organization_id, user_id)
    if user.erased_at is not None:
        raise AccountErased("this account was erased")
    changes = data.model_dump(exclude_unset=True)
    if actor.id == str(user.id) and (
        changes.get("is_active") is False
        or ("roles" in changes and Role.admin not in (changes["roles"] or []))
    ):
        raise SelfLockout("you cannot deactivate yourself or remove your own admin role")
    if changes.get("roles") is not None:
        before = list(user.roles)
        user.roles = role_values(changes["roles"])
        if before != user.roles:
            await audit.record(
                session,
                organization_id=organization_id,
                action="user.roles_changed",
                actor=actor,
                target_type="user",
                target_id=user.id,
                data={"before": before, "after": user.roles},
            )
    if changes.get("is_active") is not None and changes["is_active"] != user.is_active:
        user.is_active = bool(changes["is_active"])
        await audit.record(
            session,
            organization_id=organization_id,
            action="user.activated" if user.is_active else "user.deactivated",
            actor=actor,
            target_type="user",
            target_id=user.id,
        )
    if "display_name" in changes:
        user.display_name = changes["display_name"]
        await audit.record(
            session,
            organization_id=organization_id,
            action="user.updated",
            actor=actor,
            target_type="user",
            target_id=user.id,
            data={"fields": ["display_name"]},
        )
    if "locale" in changes:
        await _set_locale(session, user, changes["locale"], actor=actor)
    await session.flush()
    return user


async def set_own_locale(
    session: AsyncSession, organization_id: uuid.UUID, user_id: uuid.UUID, locale: str | None
) -> User:
    """The caller's own language (``None``: the organization's default); audited when it
    changes. An erased account has none to set (404 as for any unknown account)."""
    user = await get_user(session, organization_id, user_id)
    if user.erased_at is not None:
        raise AccountErased("this account was erased")
    await _set_locale(session, user, locale, actor=user_actor(user.id))
    await session.flush()
    return user


async def _set_locale(
    session: AsyncSession, user: User, locale: str | None, *, actor: Actor
) -> None:
    if user.locale == locale:
        return
    before, user.locale = user.locale, locale
    await audit.record(
        session,
        organization_id=user.organization_id,
        action="user.language_changed",
        actor=actor,
        target_type="user",
        target_id=user.id,
        data={"from": before, "to": locale},
    )


async def erase_user(
    session: AsyncSession, organization_id: uuid.UUID, user_id: uuid.UUID, *, actor: Actor
) -> User:
    """Remove an account's personal data; the row (and every audit event naming its id)
    stays, so the audit chain is untouched."""
    user = await get_user(session, organization_id, user_id)
    if actor.id == str(user.id):
        raise SelfErasure("you cannot erase your own account")
    if user.erased_at is None:
        user.email = f"erased-{user.id}@erased.invalid"
        user.display_name = None
        user.password_hash = None
        user.is_active = False
        user.roles = []
        user.erased_at = utcnow()
        await session.flush()
        await audit.record(
            session,
            organization_id=organization_id,
            action="user.erased",
            actor=actor,
            target_type="user",
            target_id=user.id,
        )
    return user


# --- candidates ------------------------------------------------------------------------


async def create_candidate(
    session: AsyncSession,
    organization_id: uuid.UUID,
    data: schemas.CandidateCreate,
    *,
    actor: Actor,
) -> Candidate:
    if data.external_id is not None:
        await _ensure_external_id_free(session, organization_id, data.external_id)
    candidate = Candidate(
        organization_id=organization_id,
        external_id=data.external_id,
        full_name=data.full_name,
        email=normalize_email(str(data.email)) if data.email else None,
        group=data.group,
        locale=data.locale,
    )
    session.add(candidate)
    await session.flush()
    await audit.record(
        session,
        organization_id=organization_id,
        action="candidate.created",
        actor=actor,
        target_type="candidate",
        target_id=candidate.id,
    )
    return candidate


async def _ensure_external_id_free(
    session: AsyncSession, organization_id: uuid.UUID, external_id: str
) -> None:
    taken = (
        await session.execute(
            scoped(select(Candidate.id), Candidate, organization_id).where(
                Candidate.external_id == external_id
            )
        )
    ).first()
    if taken is not None:
        raise CandidateExternalIdTaken(
            f"a candidate with external id {external_id!r} already exists"
        )


async def list_candidates(
    session: AsyncSession,
    organization_id: uuid.UUID,
    *,
    cursor: str | None,
    limit: int,
    search: str | None = None,
) -> tuple[Sequence[Candidate], str | None]:
    stmt = scoped(select(Candidate), Candidate, organization_id)
    if search:
        pattern = f"%{search.lower()}%"
        stmt = stmt.where(
            Candidate.full_name.ilike(pattern)
            | Candidate.email.ilike(pattern)
            | Candidate.external_id.ilike(pattern)
        )
    return await paginate(session, stmt, Candidate.id, cursor=cursor, limit=limit)


async def get_candidate(
    session: AsyncSession, organization_id: uuid.UUID, candidate_id: uuid.UUID
) -> Candidate:
    return await get_scoped(
        session, Candidate, candidate_id, organization_id, what="candidate", error=CandidateNotFound
    )


async def update_candidate(
    session: AsyncSession,
    organization_id: uuid.UUID,
    candidate_id: uuid.UUID,
    data: schemas.CandidateUpdate,
    *,
    actor: Actor,
) -> Candidate:
    candidate = await get_candidate(session, organization_id, candidate_id)
    if candidate.erased_at is not None:
        raise CandidateErased("this candidate's personal data was erased")
    changes = data.model_dump(exclude_unset=True)
    if changes.get("external_id") and changes["external_id"] != candidate.external_id:
        await _ensure_external_id_free(session, organization_id, changes["external_id"])
    if changes.get("email"):
        changes["email"] = normalize_email(changes["email"])
    for key, value in changes.items():
        setattr(candidate, key, value)
    await session.flush()
    await audit.record(
        session,
        organization_id=organization_id,
        action="candidate.updated",
        actor=actor,
        target_type="candidate",
        target_id=candidate.id,
        data={"fields": sorted(changes)},
    )
    return candidate


# Integrations' delivery log, named here as a table: integrations builds on this domain,
# not the other way round.
_delivery_log = sa.table(
    "integration_delivery",
    sa.column("organization_id", sa.Uuid()),
    sa.column("candidate_id", sa.Uuid()),
    sa.column("channel", sa.String()),
    sa.column("target", sa.String()),
    sa.column("payload", sa.Text()),
    sa.column("response_excerpt", sa.Text()),
    sa.column("status", sa.String()),
    sa.column("error", sa.String()),
)


async def _clear_sent_mail(
    session: AsyncSession, organization_id: uuid.UUID, candidate_id: uuid.UUID, email: str | None
) -> None:
    """The e-mails to a candidate being erased keep neither address nor text (those sent
    before deliveries named their candidate are found by address); any not sent yet are
    cancelled."""
    log = _delivery_log.c
    to_them = log.candidate_id == candidate_id
    if email:
        to_them = to_them | (log.target == email)
    waiting = log.status.in_(("pending", "retrying"))
    await session.execute(
        sa.update(_delivery_log)
        .where(log.organization_id == organization_id, log.channel == "email", to_them)
        .values(
            target="(erased)",
            payload='{"erased":true}',
            response_excerpt=None,
            status=sa.case((waiting, "cancelled"), else_=log.status),
            error=sa.case((waiting, "the candidate was erased"), else_=log.error),
        )
    )


#: Run inside a candidate's erasure as ``hook(session, organization_id, candidate_id)``: the
#: domains that keep a candidate's personal data of their own (integrity's webcam stills)
#: register here when imported, as auth imports none of them.
CandidateErasedHook = Callable[[AsyncSession, uuid.UUID, uuid.UUID], Awaitable[None]]
_candidate_erased_hooks: list[CandidateErasedHook] = []


def on_candidate_erased(hook: CandidateErasedHook) -> None:
    """Have ``hook`` run whenever a candidate is erased (registering it again is a no-op)."""
    if hook not in _candidate_erased_hooks:
        _candidate_erased_hooks.append(hook)


async def erase_candidate(
    session: AsyncSession, organization_id: uuid.UUID, candidate_id: uuid.UUID, *, actor: Actor
) -> Candidate:
    candidate = await get_candidate(session, organization_id, candidate_id)
    if candidate.erased_at is None:
        await _clear_sent_mail(session, organization_id, candidate.id, candidate.email)
        candidate.full_name = None
        candidate.email = None
        candidate.external_id = None
        candidate.group = None
        candidate.locale = None
        candidate.erased_at = utcnow()
        await session.flush()
        await audit.record(
            session,
            organization_id=organization_id,
            action="candidate.erased",
            actor=actor,
            target_type="candidate",
            target_id=candidate.id,
        )
    # Again on a candidate erased before: what an earlier erasure left goes now.
    for hook in _candidate_erased_hooks:
        await hook(session, organization_id, candidate.id)
    return candidate


# --- logins and tokens -----------------------------------------------------------------


@dataclass(frozen=True)
class IssuedTokens:
    access_token: str
    claims: AccessClaims
    refresh_token: str
    expires_in: int


def _limit_keys(email: str, client: str) -> tuple[str, str]:
    return f"login:acct:{sha256_hex(email)[:32]}", f"login:client:{client}"


async def authenticate(
    auth: AuthComponents,
    *,
    email: str,
    password: str,
    organization_slug: str | None,
    client: str,
) -> User:
    """The active account these credentials open, or 401 (same answer whether or not the
    account exists). Failures count per account and per client address; past either limit
    the answer is 429 with Retry-After, without checking the password.

    Reads in a short transaction of its own and verifies the password outside any
    transaction, so no database lock is held during the (deliberately slow) hashing.
    Call :func:`record_login` in the request's transaction afterwards.
    """
    settings = auth.settings
    email = normalize_email(email)
    account_key, client_key = _limit_keys(email, client)
    window = settings.login_failure_window_s
    # Count the attempt before checking the password (the hit is atomic): parallel
    # guesses cannot all slip past a limit that is only read. A success gives it back.
    for key, limit in (
        (account_key, settings.login_max_failures_per_account),
        (client_key, settings.login_max_failures_per_client),
    ):
        state = await auth.limiter.hit(key, window)
        if state.count > limit:
            raise LoginRateLimited(
                "too many failed logins; try again later",
                extra={"headers": {"Retry-After": str(state.retry_after_s)}},
            )
    stmt = (
        select(User)
        .join(Organization, Organization.id == User.organization_id)
        .where(User.email == email, User.is_active.is_(True), User.erased_at.is_(None))
    )
    if organization_slug:
        stmt = stmt.where(Organization.slug == organization_slug)
    async with auth.db.transaction(write=False) as read:
        accounts = (await read.execute(stmt.order_by(User.id).limit(10))).scalars().all()
    matched: User | None = None
    if not accounts:
        await auth.hasher.verify(password, None)
    for account in accounts:
        if await auth.hasher.verify(password, account.password_hash):
            matched = account
            break
    if matched is None:
        raise InvalidCredentials(BAD_CREDENTIALS)
    await auth.limiter.reset(account_key)
    await auth.limiter.hit(client_key, window, cost=-1)
    return matched


async def record_login(session: AsyncSession, user: User) -> None:
    """Note the login on the account and in the audit trail (the request's transaction)."""
    account = await session.get(User, user.id)
    if account is not None:
        account.last_login_at = utcnow()
        await session.flush()
    await audit.record(
        session,
        organization_id=user.organization_id,
        action="auth.login",
        actor=user_actor(user.id),
        target_type="user",
        target_id=user.id,
    )


async def issue_tokens(
    auth: AuthComponents, user: User, *, transport: str, family_id: str | None = None
) -> IssuedTokens:
    settings = auth.settings
    now = utcnow()
    family = family_id or secrets.token_urlsafe(16)
    access, claims = issue_access_token(
        settings,
        subject=str(user.id),
        organization_id=str(user.organization_id),
        family_id=family,
        now=now,
    )
    refresh, refresh_id, secret_hash = new_opaque_token()
    await auth.tokens.save_refresh(
        RefreshRecord(
            id=refresh_id,
            family_id=family,
            organization_id=user.organization_id,
            user_id=user.id,
            secret_hash=secret_hash,
            transport=transport,
            created_at=now,
            expires_at=now + timedelta(seconds=settings.refresh_token_ttl_s),
        )
    )
    return IssuedTokens(access, claims, refresh, settings.access_token_ttl_s)


async def rotate_refresh_token(auth: AuthComponents, token: str, *, transport: str) -> IssuedTokens:
    """Trade a refresh token for a new pair. A token presented a second time means it was
    stolen or replayed: the whole family (every token of that login) is revoked, and the
    reuse audited.

    One exception: a cookie session's token presented again within
    ``refresh_reuse_grace_s`` of its first use is two tabs of one browser refreshing at
    once (they share the cookie), not a theft; it gets a new pair of the same family.
    Bearer tokens, held by one client each, get no grace.

    Every step commits on its own: the revocation of a replayed family must stick although
    the request answers 401.
    """
    parts = split_opaque_token(token)
    if parts is None:
        raise RefreshTokenInvalid("invalid refresh token")
    token_id, secret = parts
    claim = await auth.tokens.claim_refresh(token_id, sha256_hex(secret), transport)
    record = claim.record
    if record is None:
        raise RefreshTokenInvalid("invalid or expired refresh token")
    if claim.already_used and not _within_reuse_grace(auth.settings, claim, transport):
        await revoke_family(auth, record.family_id)
        async with auth.db.transaction() as own:
            # Recorded in its own transaction: this request answers 401 and rolls back.
            await audit.record(
                own,
                organization_id=record.organization_id,
                action="auth.refresh_token_reused",
                actor=user_actor(record.user_id),
                target_type="user",
                target_id=record.user_id,
            )
        raise RefreshTokenReused("refresh token already used; this session has been revoked")
    if await auth.tokens.is_revoked(family_key(record.family_id)):
        raise SessionRevoked("this session has been revoked")
    async with auth.db.transaction(write=False) as read:
        user = await read.get(User, record.user_id)
    if user is None or not user.is_active or user.erased_at is not None:
        raise RefreshTokenInvalid("invalid or expired refresh token")
    return await issue_tokens(auth, user, transport=transport, family_id=record.family_id)


def _within_reuse_grace(settings: Settings, claim: Claim, transport: str) -> bool:
    if transport != "cookie" or claim.first_used_at is None:
        return False
    age = utcnow() - claim.first_used_at
    return timedelta(0) <= age <= timedelta(seconds=settings.refresh_reuse_grace_s)


async def revoke_family(
    auth: AuthComponents, family_id: str, *, session: AsyncSession | None = None
) -> None:
    until = utcnow() + timedelta(seconds=auth.settings.refresh_token_ttl_s)
    await auth.tokens.revoke(family_key(family_id), until, session=session)


async def logout(
    session: AsyncSession, auth: AuthComponents, *, claims: AccessClaims, user_id: uuid.UUID
) -> None:
    """End the session: its access token and every refresh token of its family."""
    await auth.tokens.revoke(jti_key(claims.jti), claims.expires_at, session=session)
    await revoke_family(auth, claims.family_id, session=session)
    await audit.record(
        session,
        organization_id=uuid.UUID(claims.organization_id),
        action="auth.logout",
        actor=user_actor(user_id),
        target_type="user",
        target_id=user_id,
    )


async def create_admin(
    session: AsyncSession,
    auth: AuthComponents,
    *,
    email: str,
    password: str,
    organization_slug: str,
    organization_name: str | None,
) -> tuple[Organization, User]:
    """For the CLI: an admin account, creating the organization if it does not exist."""
    org = (
        await session.execute(select(Organization).where(Organization.slug == organization_slug))
    ).scalar_one_or_none()
    actor = Actor("system", "cli")
    if org is None:
        org = await create_organization(
            session,
            slug=organization_slug,
            name=organization_name or organization_slug,
            actor=actor,
        )
    user, _ = await create_user(
        session,
        auth,
        org.id,
        schemas.UserCreate(email=email, roles=[Role.admin], password=password),
        actor=actor,
    )
    return org, user
