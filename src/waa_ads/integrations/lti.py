"""LTI 1.3 tool: keys, platform registrations, OIDC login, launch, deep linking, grade
passback (AGS) and roster provisioning (NRPS).

- **Keys.** The tool signs with one current RSA key (2048 bits, RS256); ``rotate_key``
  makes a new one current and retires the old one, which stays in the published JWKS for
  :data:`RETIRED_KEY_PUBLISHED` so that messages it signed still verify. Keys are the
  deployment's, not an organization's: one tool, one JWKS.
- **Login.** ``/lti/login`` (third-party initiated login) finds the registration by
  issuer (and client id when sent), stores a random state and nonce (usable once, for
  :data:`LOGIN_TTL`) and redirects to the platform's authorization endpoint.
- **Launch.** ``/lti/launch`` checks, in order: the state (known, unused, unexpired);
  the token's header (RS256, a kid); the issuer; the signature against the platform's
  JWKS (fetched and cached, fetched again for an unknown kid); audience, expiry and
  issue time with :data:`~lti_claims.CLOCK_SKEW_S` of skew; the authorized party; the
  nonce; the deployment; version and message type. The login row is consumed with a
  guarded update, so one id_token launches once.
- **Binding.** A link is bound to an administration on its first launch from the
  ``administration_id`` custom parameter the tool put in the deep-linking response, only
  when it comes back with the tool's own signature of it (:func:`binding_signature`);
  anything else is refused, so a course cannot point a link at a test it was not given.
- **Browser.** ``/lti/login`` also sets a cookie naming the state; the launch is refused
  when the browser posting it does not bring that cookie (login cross-site request
  forgery: an attacker's own launch replayed in a victim's browser).
- **Learners** are candidates of the registration's organization, found by the
  platform's ``sub`` (:class:`LtiAccount`); a launch of a link bound to an administration
  puts them on its roster (no access code needed) and starts or resumes their attempt.
- **Passback.** When a result is released (and again for each newly released
  revision), the outbox adds an ``lti_ags`` delivery for the link's line item; a task
  gets a token by the client-credentials grant with a signed assertion and posts the
  score, retried and logged like a webhook.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt
import structlog
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from waa_ads.assessments import service as assessment_service
from waa_ads.assessments.models import Administration, RosterEntry
from waa_ads.assessments.schemas import RosterAdd
from waa_ads.audit import service as audit
from waa_ads.auth import schemas as auth_schemas
from waa_ads.auth import service as auth_service
from waa_ads.auth.deps import Principal
from waa_ads.core.db import Database, insert_ignore, utcnow, uuid7
from waa_ads.core.errors import DomainError
from waa_ads.core.security import keyed_hash
from waa_ads.core.settings import Settings
from waa_ads.core.tasks import enqueue_after_commit
from waa_ads.core.tenancy import get_scoped
from waa_ads.delivery import service as delivery_service
from waa_ads.delivery.models import Attempt
from waa_ads.integrations import lti_claims, netguard, webhooks
from waa_ads.integrations.errors import (
    LtiLaunchRefused,
    LtiLinkNotFound,
    LtiRegistrationExists,
    LtiRegistrationNotFound,
    LtiRosterSyncNotFound,
    UnsafeUrl,
)
from waa_ads.integrations.lti_claims import ClaimsRefused, Launch
from waa_ads.integrations.models import (
    IntegrationDelivery,
    LtiAccount,
    LtiLogin,
    LtiRegistration,
    LtiResourceLink,
    LtiRosterSync,
    LtiToolKey,
)
from waa_ads.integrations.webhooks import Outcome
from waa_ads.scoring.models import AttemptResult

log = structlog.get_logger(__name__)

LOGIN_TTL = timedelta(minutes=10)
RETIRED_KEY_PUBLISHED = timedelta(days=30)
JWKS_CACHE_S = 300.0
AGS_CHANNEL = "lti_ags"
AGS_TASK = "integrations.deliver_lti_ags"
DEEP_LINK_TOKEN_TTL_S = 600
#: The custom parameter of a deep-linked resource link that carries the tool's signature
#: of its ``administration_id`` (the platform hands custom parameters back unsigned).
BINDING_SIGNATURE = "administration_signature"
#: The cookie that ties a login's state to the browser that started it.
STATE_COOKIE_PREFIX = "waa_lti_"


# ------------------------------------------------------------------------------ tool keys


def _b64(n: int) -> str:
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def new_key_pair() -> tuple[str, str, dict[str, Any]]:
    """A fresh RSA key: its kid, private PEM and public JWK."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    numbers = private.public_key().public_numbers()
    kid = secrets.token_hex(8)
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    jwk = {
        "kty": "RSA",
        "alg": "RS256",
        "use": "sig",
        "kid": kid,
        "n": _b64(numbers.n),
        "e": _b64(numbers.e),
    }
    return kid, pem, jwk


async def current_key(session: AsyncSession) -> LtiToolKey:
    """The key the tool signs with; the first one is made on first use."""
    key = await session.scalar(select(LtiToolKey).where(LtiToolKey.current.is_(True)))
    if key is None:
        key = await rotate_key(session)
    return key


async def rotate_key(session: AsyncSession) -> LtiToolKey:
    """Make a new current key and retire the previous one (still published)."""
    now = utcnow()
    await session.execute(
        update(LtiToolKey).where(LtiToolKey.current.is_(True)).values(current=False, retired_at=now)
    )
    kid, pem, jwk = new_key_pair()
    key = LtiToolKey(kid=kid, private_pem=pem, public_jwk=jwk, current=True, created_at=now)
    session.add(key)
    await session.flush()
    await audit.record(
        session,
        organization_id=None,
        action="lti.key_rotated",
        actor=audit.SYSTEM_ACTOR,
        target_type="lti_tool_key",
        target_id=kid,
    )
    return key


async def list_keys(session: AsyncSession) -> Sequence[LtiToolKey]:
    return (
        (await session.execute(select(LtiToolKey).order_by(LtiToolKey.created_at))).scalars().all()
    )


async def published_jwks(session: AsyncSession) -> dict[str, Any]:
    """The tool's JWKS: the current key and keys retired less than 30 days ago."""
    await current_key(session)
    cutoff = utcnow() - RETIRED_KEY_PUBLISHED
    keys = (
        (
            await session.execute(
                select(LtiToolKey)
                .where(LtiToolKey.current.is_(True) | (LtiToolKey.retired_at > cutoff))
                .order_by(LtiToolKey.created_at.desc())
            )
        )
        .scalars()
        .all()
    )
    return {"keys": [k.public_jwk for k in keys]}


def sign(key: LtiToolKey, claims: Mapping[str, Any]) -> str:
    return jwt.encode(dict(claims), key.private_pem, algorithm="RS256", headers={"kid": key.kid})


# -------------------------------------------------------------------------- registrations


@dataclass(frozen=True, slots=True)
class RegistrationData:
    name: str
    issuer: str
    client_id: str
    auth_login_url: str
    auth_token_url: str
    jwks_url: str
    deployment_ids: list[str]


async def _check_endpoints(settings: Settings, data: RegistrationData) -> None:
    for url in (data.auth_login_url, data.auth_token_url, data.jwks_url):
        await netguard.check_url(url, allow_private=settings.integrations_allow_private_urls)


async def create_registration(
    session: AsyncSession, settings: Settings, principal: Principal, data: RegistrationData
) -> LtiRegistration:
    await _check_endpoints(settings, data)
    taken = await session.scalar(
        select(LtiRegistration.id).where(
            LtiRegistration.issuer == data.issuer, LtiRegistration.client_id == data.client_id
        )
    )
    if taken is not None:
        raise LtiRegistrationExists("this issuer and client id are registered already")
    now = utcnow()
    reg = LtiRegistration(
        organization_id=principal.organization_id,
        name=data.name,
        issuer=data.issuer,
        client_id=data.client_id,
        auth_login_url=data.auth_login_url,
        auth_token_url=data.auth_token_url,
        jwks_url=data.jwks_url,
        deployment_ids=list(dict.fromkeys(data.deployment_ids)),
        created_at=now,
        updated_at=now,
    )
    session.add(reg)
    await session.flush()
    await audit.record(
        session,
        organization_id=principal.organization_id,
        action="lti.registration_created",
        actor=principal.actor,
        target_type="lti_registration",
        target_id=reg.id,
        data={"issuer": data.issuer, "client_id": data.client_id},
    )
    # Results released from now on are passed back: the outbox starts reading here.
    await webhooks.ensure_cursor(session, principal.organization_id)
    return reg


async def list_registrations(
    session: AsyncSession, principal: Principal
) -> Sequence[LtiRegistration]:
    return (
        (
            await session.execute(
                select(LtiRegistration)
                .where(LtiRegistration.organization_id == principal.organization_id)
                .order_by(LtiRegistration.id)
            )
        )
        .scalars()
        .all()
    )


async def get_registration(
    session: AsyncSession, principal: Principal, registration_id: uuid.UUID
) -> LtiRegistration:
    return await get_scoped(
        session,
        LtiRegistration,
        registration_id,
        principal.organization_id,
        what="LTI registration",
        error=LtiRegistrationNotFound,
    )


async def update_registration(
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    registration_id: uuid.UUID,
    data: RegistrationData,
) -> LtiRegistration:
    reg = await get_registration(session, principal, registration_id)
    await _check_endpoints(settings, data)
    for field in ("name", "issuer", "client_id", "auth_login_url", "auth_token_url", "jwks_url"):
        setattr(reg, field, getattr(data, field))
    reg.deployment_ids = list(dict.fromkeys(data.deployment_ids))
    reg.updated_at = utcnow()
    await session.flush()
    await audit.record(
        session,
        organization_id=principal.organization_id,
        action="lti.registration_updated",
        actor=principal.actor,
        target_type="lti_registration",
        target_id=reg.id,
    )
    _jwks_cache.pop(reg.jwks_url, None)
    return reg


async def delete_registration(
    session: AsyncSession, principal: Principal, registration_id: uuid.UUID
) -> None:
    reg = await get_registration(session, principal, registration_id)
    await session.delete(reg)
    await session.flush()
    await audit.record(
        session,
        organization_id=principal.organization_id,
        action="lti.registration_deleted",
        actor=principal.actor,
        target_type="lti_registration",
        target_id=registration_id,
    )


async def list_links(session: AsyncSession, principal: Principal) -> Sequence[LtiResourceLink]:
    return (
        (
            await session.execute(
                select(LtiResourceLink)
                .where(LtiResourceLink.organization_id == principal.organization_id)
                .order_by(LtiResourceLink.id)
            )
        )
        .scalars()
        .all()
    )


# ---------------------------------------------------------------------------------- login


def tool_urls(base_url: str) -> dict[str, str]:
    base = base_url.rstrip("/")
    return {
        "login_url": f"{base}/lti/login",
        "launch_url": f"{base}/lti/launch",
        "redirect_uri": f"{base}/lti/launch",
        "deep_linking_url": f"{base}/lti/launch",
        "jwks_url": f"{base}/lti/jwks",
    }


async def begin_login(
    session: AsyncSession,
    *,
    issuer: str,
    login_hint: str,
    target_link_uri: str,
    base_url: str,
    client_id: str | None = None,
    lti_message_hint: str | None = None,
    deployment_id: str | None = None,
) -> LoginStarted:
    """Store a state and nonce for this login: the platform authorization URL to
    redirect the browser to, and the state (for the browser's cookie)."""
    stmt = select(LtiRegistration).where(LtiRegistration.issuer == issuer)
    if client_id:
        stmt = stmt.where(LtiRegistration.client_id == client_id)
    regs = (await session.execute(stmt)).scalars().all()
    if not regs:
        raise LtiLaunchRefused(
            "no platform is registered with this issuer" + (" and client id" if client_id else ""),
            extra={"reason": "unknown-issuer"},
        )
    if len(regs) > 1:
        raise LtiLaunchRefused(
            "several registrations share this issuer; the login must name its client_id",
            extra={"reason": "client-id-needed"},
        )
    reg = regs[0]
    if deployment_id is not None and deployment_id not in reg.deployment_ids:
        raise LtiLaunchRefused(
            f"unknown deployment {deployment_id!r}", extra={"reason": "unknown-deployment"}
        )
    now = utcnow()
    login = LtiLogin(
        state=secrets.token_urlsafe(32),
        nonce=secrets.token_urlsafe(32),
        registration_id=reg.id,
        target_link_uri=target_link_uri[:2000],
        created_at=now,
        expires_at=now + LOGIN_TTL,
    )
    session.add(login)
    await session.flush()
    params = {
        "scope": "openid",
        "response_type": "id_token",
        "response_mode": "form_post",
        "prompt": "none",
        "client_id": reg.client_id,
        "redirect_uri": tool_urls(base_url)["redirect_uri"],
        "login_hint": login_hint,
        "state": login.state,
        "nonce": login.nonce,
    }
    if lti_message_hint:
        params["lti_message_hint"] = lti_message_hint
    separator = "&" if "?" in reg.auth_login_url else "?"
    return LoginStarted(f"{reg.auth_login_url}{separator}{urlencode(params)}", login.state)


@dataclass(frozen=True, slots=True)
class LoginStarted:
    location: str
    state: str


def state_cookie_name(state: str) -> str:
    """The cookie of one login (one per state, so logins in several tabs coexist)."""
    return STATE_COOKIE_PREFIX + hashlib.sha256(state.encode()).hexdigest()[:24]


# ------------------------------------------------------------------------- platform JWKS

_jwks_cache: dict[str, tuple[float, jwt.PyJWKSet]] = {}


async def platform_keys(
    settings: Settings, jwks_url: str, *, refresh: bool = False
) -> jwt.PyJWKSet:
    """The platform's keys, cached for :data:`JWKS_CACHE_S`."""
    cached = _jwks_cache.get(jwks_url)
    if cached is not None and not refresh and time.monotonic() - cached[0] < JWKS_CACHE_S:
        return cached[1]
    await netguard.check_url(jwks_url, allow_private=settings.integrations_allow_private_urls)
    async with netguard.client(
        allow_private=settings.integrations_allow_private_urls, timeout=10.0
    ) as client:
        response = await client.get(jwks_url, headers={"Accept": "application/json"})
    response.raise_for_status()
    keys = jwt.PyJWKSet.from_dict(response.json())
    _jwks_cache[jwks_url] = (time.monotonic(), keys)
    return keys


def _key_for(keys: jwt.PyJWKSet, kid: str) -> jwt.PyJWK | None:
    return next((k for k in keys.keys if k.key_id == kid), None)


def _refuse(reason: str, detail: str) -> LtiLaunchRefused:
    return LtiLaunchRefused(detail, extra={"reason": reason})


def verify_id_token(
    id_token: str,
    key: Any,
    *,
    issuer: str,
    client_id: str,
    nonce: str,
    deployment_ids: Sequence[str],
    leeway: int = lti_claims.CLOCK_SKEW_S,
) -> Launch:
    """Verify an id_token with the platform's public ``key``; LtiLaunchRefused naming the
    failed check otherwise. No I/O: the benchmark times exactly this."""
    try:
        claims = jwt.decode(
            id_token,
            key,
            algorithms=["RS256"],
            audience=client_id,
            issuer=issuer,
            leeway=leeway,
            options={"require": ["exp", "iat", "iss", "aud", "sub", "nonce"]},
        )
    except jwt.ExpiredSignatureError:
        raise _refuse("expired", "the id_token has expired") from None
    except jwt.InvalidSignatureError:
        raise _refuse("signature", "the id_token's signature does not verify") from None
    except jwt.InvalidAudienceError:
        raise _refuse("audience", "the id_token is not addressed to this tool") from None
    except jwt.InvalidIssuerError:
        raise _refuse("issuer", "the id_token's issuer is not the platform's") from None
    except (jwt.ImmatureSignatureError, jwt.InvalidIssuedAtError):
        raise _refuse("issued-at", "the id_token is issued in the future") from None
    except jwt.MissingRequiredClaimError as exc:
        raise _refuse("claims", f"the id_token lacks the {exc.claim} claim") from None
    except jwt.InvalidTokenError as exc:
        raise _refuse("malformed", f"the id_token is not valid: {exc}") from None
    try:
        return lti_claims.check(
            claims, client_id=client_id, nonce=nonce, deployment_ids=deployment_ids
        )
    except ClaimsRefused as exc:
        text = str(exc)
        reason = "nonce" if "nonce" in text else "deployment" if "deployment" in text else "claims"
        raise _refuse(reason, text) from None


@dataclass(frozen=True, slots=True)
class Launched:
    registration: LtiRegistration
    launch: Launch


async def validate_launch(
    session: AsyncSession,
    settings: Settings,
    *,
    id_token: str,
    state: str,
    browser_state: str | None,
) -> Launched:
    """Every check of a launch (see the module's docstring); consumes the login.
    ``browser_state`` is the value of the login's cookie (:func:`state_cookie_name`) the
    browser sent, None without one."""
    login = await session.get(LtiLogin, state) if state else None
    if login is None:
        raise _refuse("state", "unknown state: start again from the platform")
    if login.used_at is not None:
        raise _refuse("replayed", "this login was used already")
    if login.expires_at < utcnow():
        raise _refuse("state", "the login has expired: start again from the platform")
    if browser_state is None or not hmac.compare_digest(browser_state, state):
        raise _refuse(
            "browser",
            "this launch did not come back to the browser that started the login "
            "(its cookie is missing): start again from the platform, in a new window",
        )
    reg = await session.get(LtiRegistration, login.registration_id)
    if reg is None:
        raise _refuse("state", "the platform registration is gone")
    try:
        header = jwt.get_unverified_header(id_token)
        unverified = jwt.decode(id_token, options={"verify_signature": False})
    except jwt.InvalidTokenError:
        raise _refuse("malformed", "the id_token is not a JWT") from None
    if header.get("alg") != "RS256" or not isinstance(header.get("kid"), str):
        raise _refuse("signature", "the id_token must be RS256 with a kid")
    if unverified.get("iss") != reg.issuer:
        raise _refuse("issuer", "the id_token's issuer is not the platform's")
    try:
        keys = await platform_keys(settings, reg.jwks_url)
        key = _key_for(keys, header["kid"])
        if key is None:
            keys = await platform_keys(settings, reg.jwks_url, refresh=True)
            key = _key_for(keys, header["kid"])
    except (httpx.HTTPError, ValueError, jwt.PyJWKSetError, UnsafeUrl) as exc:
        raise _refuse("jwks", f"the platform's keys could not be read: {exc}") from None
    if key is None:
        raise _refuse("signature", f"the platform publishes no key {header['kid']!r}")
    launch = verify_id_token(
        id_token,
        key.key,
        issuer=reg.issuer,
        client_id=reg.client_id,
        nonce=login.nonce,
        deployment_ids=reg.deployment_ids,
    )
    consumed = (
        await session.execute(
            update(LtiLogin)
            .where(LtiLogin.state == state, LtiLogin.used_at.is_(None))
            .values(used_at=utcnow())
            .returning(LtiLogin.state)
        )
    ).first()
    if consumed is None:
        raise _refuse("replayed", "this login was used already")
    return Launched(reg, launch)


# -------------------------------------------------------------------------------- learners


def binding_signature(
    settings: Settings, registration_id: uuid.UUID, deployment_id: str, administration_id: str
) -> str:
    """The tool's signature of a link's binding, given with it in the deep-linking
    response: keyed with the deployment's secret, for this platform and deployment."""
    return keyed_hash(
        settings, "lti-link-binding", f"{registration_id}:{deployment_id}:{administration_id}"
    )


def _binding_from(settings: Settings, reg: LtiRegistration, launch: Launch) -> str | None:
    """The administration id the launch's custom parameters bind its link to, or None
    when they name none; refused when they name one without the tool's signature."""
    bound = launch.custom.get("administration_id")
    if bound is None:
        return None
    signature = launch.custom.get(BINDING_SIGNATURE)
    expected = binding_signature(settings, reg.id, launch.deployment_id, str(bound))
    if not isinstance(bound, str) or not isinstance(signature, str):
        raise _refuse(
            "link-binding",
            "this link names a test (custom administration_id) without WAA-ADS's signature: "
            "an instructor chooses the test by deep linking",
        )
    if not hmac.compare_digest(signature, expected):
        raise _refuse(
            "link-binding",
            "the signature of this link's test (custom administration_signature) does not "
            "verify: an instructor chooses the test again by deep linking",
        )
    return bound


async def _link_for(
    session: AsyncSession, settings: Settings, reg: LtiRegistration, launch: Launch
) -> LtiResourceLink:
    assert launch.resource_link_id is not None
    now = utcnow()
    link = await session.scalar(
        select(LtiResourceLink).where(
            LtiResourceLink.registration_id == reg.id,
            LtiResourceLink.deployment_id == launch.deployment_id,
            LtiResourceLink.resource_link_id == launch.resource_link_id,
        )
    )
    if link is None:
        link = LtiResourceLink(
            organization_id=reg.organization_id,
            registration_id=reg.id,
            deployment_id=launch.deployment_id,
            resource_link_id=launch.resource_link_id,
            created_at=now,
            updated_at=now,
        )
        session.add(link)
    # A bound link keeps its test; only an unbound one reads (and checks) the custom value.
    bound = _binding_from(settings, reg, launch) if link.administration_id is None else None
    if bound is not None:
        try:
            administration = await session.get(Administration, uuid.UUID(bound))
        except ValueError:
            administration = None
        if administration is not None and administration.organization_id == reg.organization_id:
            link.administration_id = administration.id
    link.title = launch.resource_link_title or link.title
    link.context_id = launch.context_id or link.context_id
    link.lineitem_url = launch.lineitem_url or link.lineitem_url
    link.memberships_url = launch.memberships_url or link.memberships_url
    link.updated_at = now
    await session.flush()
    return link


async def candidate_for(
    session: AsyncSession,
    reg: LtiRegistration,
    subject: str,
    *,
    name: str | None,
    email: str | None,
) -> uuid.UUID:
    """The candidate the platform user ``subject`` is, made on first sight."""
    known = await session.scalar(
        select(LtiAccount.candidate_id).where(
            LtiAccount.registration_id == reg.id, LtiAccount.subject == subject
        )
    )
    if known is not None:
        return known
    try:
        data = auth_schemas.CandidateCreate(
            full_name=(name or f"LTI learner {subject[:40]}")[:200],
            email=email,
            external_id=f"lti:{reg.id.hex[:12]}:{subject}"[:200],
        )
    except ValueError:
        data = auth_schemas.CandidateCreate(
            full_name=(name or f"LTI learner {subject[:40]}")[:200],
            external_id=f"lti:{reg.id.hex[:12]}:{subject}"[:200],
        )
    candidate = await auth_service.create_candidate(
        session, reg.organization_id, data, actor=audit.Actor("system", "lti")
    )
    session.add(
        LtiAccount(
            organization_id=reg.organization_id,
            registration_id=reg.id,
            subject=subject,
            candidate_id=candidate.id,
            created_at=utcnow(),
        )
    )
    await session.flush()
    return candidate.id


async def roster_entry_for(
    session: AsyncSession,
    settings: Settings,
    organization_id: uuid.UUID,
    administration_id: uuid.UUID,
    candidate_id: uuid.UUID,
) -> RosterEntry:
    entry = await session.scalar(
        select(RosterEntry).where(
            RosterEntry.administration_id == administration_id,
            RosterEntry.candidate_id == candidate_id,
        )
    )
    if entry is not None:
        return entry
    issued = await assessment_service.add_to_roster(
        session,
        settings,
        Principal.system(organization_id, via="lti"),
        administration_id,
        [RosterAdd(candidate_id=candidate_id)],
    )
    return issued[0].entry


@dataclass(frozen=True, slots=True)
class LearnerStart:
    attempt_id: uuid.UUID
    credential: str
    created: bool
    title: str | None


async def launch_learner(
    session: AsyncSession, settings: Settings, launched: Launched
) -> LearnerStart:
    """A resource link launch of a learner: the link bound to its administration, the
    learner as a candidate on its roster, their attempt started or resumed."""
    reg, launch = launched.registration, launched.launch
    link = await _link_for(session, settings, reg, launch)
    if link.administration_id is None:
        raise LtiLinkNotFound(
            "this link is not bound to a test yet: an instructor chooses one by deep linking"
        )
    candidate_id = await candidate_for(
        session, reg, launch.subject, name=launch.name, email=launch.email
    )
    entry = await roster_entry_for(
        session, settings, reg.organization_id, link.administration_id, candidate_id
    )
    started = await delivery_service.start_for_entry(session, settings, entry)
    return LearnerStart(started.attempt.id, started.credential, started.created, link.title)


async def bind_link(
    session: AsyncSession, settings: Settings, launched: Launched
) -> LtiResourceLink:
    """An instructor's launch of a link: record it (and its binding) and return it."""
    return await _link_for(session, settings, launched.registration, launched.launch)


# ---------------------------------------------------------------------------- deep linking


def deep_link_token(settings: Settings, launched: Launched) -> str:
    """A short-lived token (HS256, the deployment's secret) carrying the deep-linking
    request to the picker's form, so the choice needs no server-side session."""
    launch = launched.launch
    return jwt.encode(
        {
            "typ": "lti-deep-link",
            "reg": str(launched.registration.id),
            "dep": launch.deployment_id,
            "ret": launch.deep_link_return_url,
            "data": launch.deep_link_data,
            "exp": int(time.time()) + DEEP_LINK_TOKEN_TTL_S,
        },
        settings.secret_key,
        algorithm="HS256",
    )


async def administrations_to_link(
    session: AsyncSession, organization_id: uuid.UUID
) -> Sequence[Administration]:
    return (
        (
            await session.execute(
                select(Administration)
                .where(
                    Administration.organization_id == organization_id,
                    Administration.cancelled_at.is_(None),
                )
                .order_by(Administration.opens_at.desc())
                .limit(200)
            )
        )
        .scalars()
        .all()
    )


@dataclass(frozen=True, slots=True)
class DeepLinkResponse:
    return_url: str
    jwt: str


async def deep_link_response(
    session: AsyncSession,
    settings: Settings,
    *,
    token: str,
    administration_id: uuid.UUID,
    base_url: str,
) -> DeepLinkResponse:
    """The signed LtiDeepLinkingResponse naming the chosen administration."""
    try:
        request = jwt.decode(token, settings.secret_key, algorithms=["HS256"])
    except jwt.InvalidTokenError:
        raise _refuse("deep-link", "the choice has expired: open the picker again") from None
    if request.get("typ") != "lti-deep-link":
        raise _refuse("deep-link", "not a deep-linking token")
    reg = await session.get(LtiRegistration, uuid.UUID(request["reg"]))
    administration = await session.get(Administration, administration_id)
    if (
        reg is None
        or administration is None
        or administration.organization_id != reg.organization_id
    ):
        raise LtiLinkNotFound(f"administration {administration_id} not found")
    key = await current_key(session)
    now = int(time.time())
    item: dict[str, Any] = {
        "type": "ltiResourceLink",
        "title": administration.title,
        "url": tool_urls(base_url)["launch_url"],
        "custom": {
            "administration_id": str(administration.id),
            BINDING_SIGNATURE: binding_signature(
                settings, reg.id, str(request["dep"]), str(administration.id)
            ),
        },
        "lineItem": {"scoreMaximum": 100, "label": administration.title},
    }
    claims: dict[str, Any] = {
        "iss": reg.client_id,
        "aud": reg.issuer,
        "iat": now,
        "exp": now + 300,
        "nonce": secrets.token_urlsafe(16),
        lti_claims.DEPLOYMENT_ID: request["dep"],
        lti_claims.MESSAGE_TYPE: lti_claims.DEEP_LINKING_RESPONSE,
        lti_claims.VERSION: lti_claims.LTI_VERSION,
        lti_claims.DEEP_LINKING_CONTENT_ITEMS: [item],
    }
    if request.get("data"):
        claims[lti_claims.DEEP_LINKING_DATA] = request["data"]
    return DeepLinkResponse(str(request["ret"]), sign(key, claims))


# ------------------------------------------------------------------------ platform services

_tokens: dict[tuple[uuid.UUID, str], tuple[float, str]] = {}


async def access_token(
    session: AsyncSession, settings: Settings, reg: LtiRegistration, scopes: Sequence[str]
) -> str:
    """A platform access token by the client-credentials grant with a signed JWT
    assertion (cached until a minute before it expires)."""
    scope = " ".join(scopes)
    cached = _tokens.get((reg.id, scope))
    if cached is not None and cached[0] > time.monotonic():
        return cached[1]
    await netguard.check_url(
        reg.auth_token_url, allow_private=settings.integrations_allow_private_urls
    )
    key = await current_key(session)
    now = int(time.time())
    assertion = sign(
        key,
        {
            "iss": reg.client_id,
            "sub": reg.client_id,
            "aud": reg.auth_token_url,
            "iat": now,
            "exp": now + 300,
            "jti": secrets.token_urlsafe(16),
        },
    )
    async with netguard.client(
        allow_private=settings.integrations_allow_private_urls, timeout=10.0
    ) as client:
        response = await client.post(
            reg.auth_token_url,
            data={
                "grant_type": "client_credentials",
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                "client_assertion": assertion,
                "scope": scope,
            },
        )
    response.raise_for_status()
    body = response.json()
    token = str(body["access_token"])
    lifetime = float(body.get("expires_in", 3600))
    _tokens[(reg.id, scope)] = (time.monotonic() + max(0.0, lifetime - 60), token)
    return token


async def add_passbacks(
    session: AsyncSession,
    organization_id: uuid.UUID,
    *,
    seq: int,
    attempt_id: str | None,
    revision: int | None,
    occurred_at: str,
) -> list[IntegrationDelivery]:
    """For a released result of a learner who came by LTI through a link with a line
    item: an ``lti_ags`` delivery of the score (idempotent per link and event)."""
    if attempt_id is None or revision is None:
        return []
    try:
        attempt = await session.get(Attempt, uuid.UUID(attempt_id))
    except ValueError:
        return []
    if attempt is None or attempt.organization_id != organization_id:
        return []
    links = (
        (
            await session.execute(
                select(LtiResourceLink).where(
                    LtiResourceLink.administration_id == attempt.administration_id,
                    LtiResourceLink.lineitem_url.is_not(None),
                )
            )
        )
        .scalars()
        .all()
    )
    if not links:
        return []
    accounts = {
        a.registration_id: a
        for a in (
            await session.execute(
                select(LtiAccount).where(LtiAccount.candidate_id == attempt.candidate_id)
            )
        ).scalars()
    }
    result = await session.scalar(
        select(AttemptResult).where(
            AttemptResult.attempt_id == attempt.id, AttemptResult.revision == revision
        )
    )
    if result is None:
        return []
    added: list[IntegrationDelivery] = []
    now = utcnow()
    for link in links:
        account = accounts.get(link.registration_id)
        if account is None or link.lineitem_url is None:
            continue
        body = lti_claims.score_body(
            user_id=account.subject,
            score=round(result.raw, 4),
            maximum=round(result.max_raw, 4),
            timestamp=occurred_at,
        )
        key = f"ags:{link.id}:{seq}"
        delivery_id = uuid7()
        await insert_ignore(
            session,
            IntegrationDelivery,
            {
                "id": delivery_id,
                "organization_id": organization_id,
                "channel": AGS_CHANNEL,
                "subscription_id": None,
                "target": link.lineitem_url,
                "event_type": "result.released",
                "event_seq": seq,
                "dedupe_key": key,
                "payload": _json({"link_id": str(link.id), "revision": revision, "score": body}),
                "status": "pending",
                "attempts": 0,
                "tries": [],
                "created_at": now,
                "updated_at": now,
            },
        )
        row = await session.scalar(
            select(IntegrationDelivery).where(IntegrationDelivery.dedupe_key == key)
        )
        if row is not None:
            added.append(row)
    return added


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


@dataclass(frozen=True, slots=True)
class PreparedPassback:
    id: uuid.UUID
    organization_id: uuid.UUID
    registration_id: uuid.UUID
    scores_url: str
    score: dict[str, Any]

    def as_delivery(self) -> webhooks.PreparedDelivery:
        return webhooks.PreparedDelivery(
            self.id, self.organization_id, None, self.scores_url, "", "result.released", ""
        )  # the bearer token is fetched per try (post_score)


async def post_score(db: Database, settings: Settings, prepared: PreparedPassback) -> Outcome:
    """Get a token (short transaction) and post the score (outside any transaction);
    the platform's failures are the outcome, never raised."""
    started = time.perf_counter()
    try:
        async with db.transaction() as session:
            reg = await session.get(LtiRegistration, prepared.registration_id)
            if reg is None:
                return Outcome(False, None, None, 0.0, "the platform registration is gone")
            token = await access_token(session, settings, reg, [lti_claims.SCOPE_SCORE])
        await netguard.check_url(
            prepared.scores_url, allow_private=settings.integrations_allow_private_urls
        )
        client = webhooks.shared_client(
            settings.webhook_timeout_s, allow_private=settings.integrations_allow_private_urls
        )
        response = await client.post(
            prepared.scores_url,
            content=_json(prepared.score).encode(),
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/vnd.ims.lis.v1.score+json",
            },
        )
    except UnsafeUrl as exc:
        return Outcome(False, None, None, _ms(started), exc.detail)
    except httpx.TimeoutException:
        return Outcome(False, None, None, _ms(started), "the platform did not answer in time")
    except (httpx.HTTPError, KeyError, ValueError) as exc:
        return Outcome(False, None, None, _ms(started), f"{type(exc).__name__}: {exc}"[:1000])
    ok = 200 <= response.status_code < 300
    return Outcome(
        ok,
        response.status_code,
        response.text[: webhooks.EXCERPT_CHARS],
        _ms(started),
        None if ok else f"the platform answered {response.status_code}",
    )


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


async def prepare_passback(
    session: AsyncSession, delivery_id: uuid.UUID
) -> PreparedPassback | None:
    delivery = await webhooks.claim(session, delivery_id)
    if delivery is None:
        return None
    body = json.loads(delivery.payload)
    link = await session.get(LtiResourceLink, uuid.UUID(body["link_id"]))
    if link is None:
        delivery.status = "cancelled"
        delivery.error = "the LTI link is gone"
        delivery.updated_at = delivery.completed_at = utcnow()
        await session.flush()
        return None
    return PreparedPassback(
        delivery.id,
        delivery.organization_id,
        link.registration_id,
        lti_claims.scores_url(delivery.target),
        body["score"],
    )


@dataclass(frozen=True, slots=True)
class Member:
    subject: str
    name: str | None
    email: str | None


async def fetch_members(
    session: AsyncSession, settings: Settings, link: LtiResourceLink
) -> list[Member]:
    """The learners of the link's context by NRPS (every page, ``rel="next"``)."""
    reg = await session.get(LtiRegistration, link.registration_id)
    if reg is None or link.memberships_url is None:
        raise LtiLinkNotFound("this link has no roster service (no NRPS claim was launched)")
    token = await access_token(session, settings, reg, [lti_claims.SCOPE_MEMBERSHIPS])
    members: list[Member] = []
    url: str | None = link.memberships_url
    async with netguard.client(
        allow_private=settings.integrations_allow_private_urls, timeout=10.0
    ) as client:
        for _ in range(100):
            if url is None:
                break
            await netguard.check_url(url, allow_private=settings.integrations_allow_private_urls)
            response = await client.get(
                url,
                headers={
                    "Authorization": f"Bearer {token}",
                    "Accept": "application/vnd.ims.lti-nrps.v2.membershipcontainer+json",
                },
            )
            response.raise_for_status()
            for m in response.json().get("members", []):
                roles = m.get("roles", [])
                if m.get("status", "Active") != "Active" or not any(
                    str(r).endswith("#Learner") or r == "Learner" for r in roles
                ):
                    continue
                if isinstance(m.get("user_id"), str):
                    members.append(Member(m["user_id"], m.get("name"), m.get("email")))
            url = response.links.get("next", {}).get("url")
    return members


ROSTER_SYNC_TASK = "integrations.sync_roster"
#: Learners handled per transaction of a sync (each commit shows its progress).
ROSTER_SYNC_BATCH = 25
#: A sync ``running`` this long without finishing lost its worker: it may be taken again.
ROSTER_SYNC_ABANDONED = timedelta(minutes=10)


async def start_roster_sync(
    session: AsyncSession, principal: Principal, link_id: uuid.UUID, *, enqueue: bool = True
) -> LtiRosterSync:
    """Queue a roster sync of the link for a worker (after commit; with ``enqueue``
    false the caller runs it, :func:`run_roster_sync`); a sync of the link already queued
    or running is returned instead of a second one."""
    link = await get_scoped(
        session,
        LtiResourceLink,
        link_id,
        principal.organization_id,
        what="LTI link",
        error=LtiLinkNotFound,
    )
    if link.administration_id is None:
        raise LtiLinkNotFound("this link is not bound to a test yet")
    if link.memberships_url is None:
        raise LtiLinkNotFound("this link has no roster service (no NRPS claim was launched)")
    busy = await session.scalar(
        select(LtiRosterSync)
        .where(LtiRosterSync.link_id == link.id, LtiRosterSync.status.in_(("queued", "running")))
        .order_by(LtiRosterSync.created_at.desc())
        .limit(1)
    )
    if busy is not None:
        return busy
    job = LtiRosterSync(
        organization_id=link.organization_id,
        link_id=link.id,
        status="queued",
        done=0,
        added=0,
        skipped=0,
        created_at=utcnow(),
    )
    session.add(job)
    await session.flush()
    await audit.record(
        session,
        organization_id=principal.organization_id,
        action="lti.roster_sync_started",
        actor=principal.actor,
        target_type="lti_resource_link",
        target_id=link.id,
        data={"sync": str(job.id)},
    )
    if enqueue:
        enqueue_after_commit(session, ROSTER_SYNC_TASK, sync_id=str(job.id))
    return job


async def get_roster_sync(
    session: AsyncSession, principal: Principal, sync_id: uuid.UUID
) -> LtiRosterSync:
    return await get_scoped(
        session,
        LtiRosterSync,
        sync_id,
        principal.organization_id,
        what="roster sync",
        error=LtiRosterSyncNotFound,
    )


async def list_roster_syncs(
    session: AsyncSession, principal: Principal, link_id: uuid.UUID, *, limit: int = 20
) -> Sequence[LtiRosterSync]:
    link = await get_scoped(
        session,
        LtiResourceLink,
        link_id,
        principal.organization_id,
        what="LTI link",
        error=LtiLinkNotFound,
    )
    return (
        (
            await session.execute(
                select(LtiRosterSync)
                .where(LtiRosterSync.link_id == link.id)
                .order_by(LtiRosterSync.created_at.desc(), LtiRosterSync.id.desc())
                .limit(max(1, min(limit, 100)))
            )
        )
        .scalars()
        .all()
    )


async def _finish_sync(
    db: Database, sync_id: uuid.UUID, status: str, error: str | None = None
) -> str:
    async with db.transaction() as session:
        job = await session.get(LtiRosterSync, sync_id, with_for_update=True)
        if job is None:
            return "gone"
        job.status = status
        job.error = error[:1000] if error else job.error
        job.finished_at = utcnow()
        await session.flush()
        await audit.record(
            session,
            organization_id=job.organization_id,
            action="lti.roster_synced" if status == "succeeded" else "lti.roster_sync_failed",
            actor=audit.SYSTEM_ACTOR,
            target_type="lti_resource_link",
            target_id=job.link_id,
            data={
                "sync": str(job.id),
                "members": job.members,
                "added": job.added,
                "skipped": job.skipped,
            },
        )
    log.info("lti.roster_sync_finished", sync_id=str(sync_id), status=status)
    return status


async def run_roster_sync(
    db: Database,
    settings: Settings,
    sync_id: uuid.UUID,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> str:
    """Do a queued roster sync: read the course's learners by NRPS (every page), then put
    each active learner on the administration's roster (creating the candidate on first
    sight), :data:`ROSTER_SYNC_BATCH` per transaction with the progress on the row (and
    to ``progress``). Idempotent: a finished sync is left alone, and a learner already on
    the roster is not added twice. Returns the sync's status."""
    now = utcnow()
    async with db.transaction() as session:
        claimed = (
            await session.execute(
                update(LtiRosterSync)
                .where(
                    LtiRosterSync.id == sync_id,
                    (LtiRosterSync.status == "queued")
                    | (
                        (LtiRosterSync.status == "running")
                        & (LtiRosterSync.started_at < now - ROSTER_SYNC_ABANDONED)
                    ),
                )
                .values(status="running", started_at=now, done=0, added=0, skipped=0)
                .returning(LtiRosterSync.link_id)
            )
        ).first()
        if claimed is None:
            job = await session.get(LtiRosterSync, sync_id)
            return job.status if job is not None else "gone"
    # The platform is called with the claim committed: no lock is held meanwhile.
    failure: str | None = None
    members: list[Member] = []
    async with db.transaction() as session:
        link = await session.get(LtiResourceLink, claimed[0])
        if link is None or link.administration_id is None:
            failure = "the link is gone or no longer bound to a test"
        else:
            administration_id, registration_id = link.administration_id, link.registration_id
            try:
                members = await fetch_members(session, settings, link)
            except (httpx.HTTPError, ValueError, UnsafeUrl, LtiLinkNotFound) as exc:
                detail = exc.detail if isinstance(exc, DomainError) else str(exc)
                failure = f"the platform's roster service failed: {type(exc).__name__}: {detail}"
    if failure is not None:
        return await _finish_sync(db, sync_id, "failed", failure)
    async with db.transaction() as session:
        await session.execute(
            update(LtiRosterSync).where(LtiRosterSync.id == sync_id).values(members=len(members))
        )
    if progress is not None:
        progress(0, len(members))
    for start in range(0, len(members), ROSTER_SYNC_BATCH):
        batch = members[start : start + ROSTER_SYNC_BATCH]
        async with db.transaction() as session:
            reg = await session.get(LtiRegistration, registration_id)
            if reg is None:
                break
            added = skipped = 0
            last_problem: str | None = None
            for member in batch:
                candidate_id = await candidate_for(
                    session, reg, member.subject, name=member.name, email=member.email
                )
                before = await session.scalar(
                    select(RosterEntry.id).where(
                        RosterEntry.administration_id == administration_id,
                        RosterEntry.candidate_id == candidate_id,
                    )
                )
                if before is not None:
                    continue
                try:
                    await roster_entry_for(
                        session, settings, reg.organization_id, administration_id, candidate_id
                    )
                except DomainError as exc:
                    # The roster refuses before writing (an erased candidate, a clash).
                    skipped += 1
                    last_problem = f"{member.subject}: {exc.detail or exc.title}"
                    continue
                added += 1
            values: dict[str, Any] = {
                "done": LtiRosterSync.done + len(batch),
                "added": LtiRosterSync.added + added,
                "skipped": LtiRosterSync.skipped + skipped,
            }
            if last_problem is not None:
                values["error"] = last_problem[:1000]
            await session.execute(
                update(LtiRosterSync).where(LtiRosterSync.id == sync_id).values(**values)
            )
        if progress is not None:
            progress(min(start + len(batch), len(members)), len(members))
    else:
        return await _finish_sync(db, sync_id, "succeeded")
    return await _finish_sync(db, sync_id, "failed", "the platform registration is gone")
