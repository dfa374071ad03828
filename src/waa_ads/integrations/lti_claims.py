"""LTI 1.3 claim names and the checks on a launch's claims that need no I/O (pure).

The signature, issuer, audience and times are checked by PyJWT against the platform's
key (see :mod:`waa_ads.integrations.lti`); what remains is here: the authorized party,
the nonce, the deployment, the message type and version, and what a launch carries
(resource link, roles, AGS and NRPS endpoints, deep-linking settings).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
MESSAGE_TYPE = CLAIM + "message_type"
VERSION = CLAIM + "version"
DEPLOYMENT_ID = CLAIM + "deployment_id"
TARGET_LINK_URI = CLAIM + "target_link_uri"
RESOURCE_LINK = CLAIM + "resource_link"
ROLES = CLAIM + "roles"
CONTEXT = CLAIM + "context"
CUSTOM = CLAIM + "custom"
LAUNCH_PRESENTATION = CLAIM + "launch_presentation"
AGS_ENDPOINT = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
NRPS = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
DEEP_LINKING_SETTINGS = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"
DEEP_LINKING_CONTENT_ITEMS = "https://purl.imsglobal.org/spec/lti-dl/claim/content_items"
DEEP_LINKING_DATA = "https://purl.imsglobal.org/spec/lti-dl/claim/data"

RESOURCE_LINK_REQUEST = "LtiResourceLinkRequest"
DEEP_LINKING_REQUEST = "LtiDeepLinkingRequest"
DEEP_LINKING_RESPONSE = "LtiDeepLinkingResponse"
LTI_VERSION = "1.3.0"

SCOPE_SCORE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
SCOPE_LINEITEM = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
SCOPE_MEMBERSHIPS = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"

ROLE_LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
_STAFF_ROLES = (
    "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor",
    "http://purl.imsglobal.org/vocab/lis/v2/membership#ContentDeveloper",
    "http://purl.imsglobal.org/vocab/lis/v2/membership#Administrator",
    "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Administrator",
    "http://purl.imsglobal.org/vocab/lis/v2/system/person#Administrator",
)

#: Seconds of clock difference tolerated on ``exp``, ``iat`` and ``nbf``.
CLOCK_SKEW_S = 60


class ClaimsRefused(ValueError):
    """The launch's claims fail a check; the message names which."""


@dataclass(frozen=True, slots=True)
class Launch:
    """What the tool needs from a validated launch."""

    message_type: str
    subject: str
    deployment_id: str
    roles: tuple[str, ...]
    name: str | None
    email: str | None
    resource_link_id: str | None
    resource_link_title: str | None
    context_id: str | None
    custom: Mapping[str, Any]
    lineitem_url: str | None
    ags_scopes: tuple[str, ...]
    memberships_url: str | None
    deep_link_return_url: str | None
    deep_link_data: str | None
    #: The person's language in the platform (``launch_presentation.locale``), if it says.
    locale: str | None = None

    @property
    def is_staff(self) -> bool:
        return any(r in _STAFF_ROLES for r in self.roles)


def _object(claims: Mapping[str, Any], name: str) -> dict[str, Any]:
    value = claims.get(name)
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def check(
    claims: Mapping[str, Any],
    *,
    client_id: str,
    nonce: str,
    deployment_ids: Sequence[str],
) -> Launch:
    """Check what PyJWT does not and extract the launch; ClaimsRefused otherwise."""
    aud = claims.get("aud")
    audiences = aud if isinstance(aud, list) else [aud]
    azp = claims.get("azp")
    if azp is not None and azp != client_id:
        raise ClaimsRefused("the authorized party (azp) is not this tool")
    if len(audiences) > 1 and azp is None:
        raise ClaimsRefused("several audiences and no authorized party (azp)")
    if claims.get("nonce") != nonce:
        raise ClaimsRefused("the nonce is not the one this login issued")
    deployment = claims.get(DEPLOYMENT_ID)
    if not isinstance(deployment, str) or deployment not in deployment_ids:
        raise ClaimsRefused(f"unknown deployment {deployment!r} for this platform registration")
    if claims.get(VERSION) != LTI_VERSION:
        raise ClaimsRefused(f"LTI version {claims.get(VERSION)!r} is not {LTI_VERSION}")
    message_type = claims.get(MESSAGE_TYPE)
    if message_type not in (RESOURCE_LINK_REQUEST, DEEP_LINKING_REQUEST):
        raise ClaimsRefused(f"message type {message_type!r} is not supported")
    subject = _text(claims.get("sub"))
    if subject is None:
        raise ClaimsRefused("the launch has no subject (sub)")
    roles = claims.get(ROLES)
    if not isinstance(roles, list):
        raise ClaimsRefused("the launch has no roles claim")
    link = _object(claims, RESOURCE_LINK)
    if message_type == RESOURCE_LINK_REQUEST and not _text(link.get("id")):
        raise ClaimsRefused("a resource link launch without resource_link.id")
    context = _object(claims, CONTEXT)
    ags = _object(claims, AGS_ENDPOINT)
    nrps = _object(claims, NRPS)
    settings = _object(claims, DEEP_LINKING_SETTINGS)
    if message_type == DEEP_LINKING_REQUEST and not _text(settings.get("deep_link_return_url")):
        raise ClaimsRefused("a deep linking request without deep_link_return_url")
    custom = _object(claims, CUSTOM)
    return Launch(
        message_type=str(message_type),
        subject=subject,
        deployment_id=deployment,
        roles=tuple(r for r in roles if isinstance(r, str)),
        name=_text(claims.get("name")),
        email=_text(claims.get("email")),
        resource_link_id=_text(link.get("id")),
        resource_link_title=_text(link.get("title")),
        context_id=_text(context.get("id")),
        custom=custom,
        lineitem_url=_text(ags.get("lineitem")),
        ags_scopes=tuple(s for s in ags.get("scope", []) if isinstance(s, str)),
        memberships_url=_text(nrps.get("context_memberships_url")),
        deep_link_return_url=_text(settings.get("deep_link_return_url")),
        deep_link_data=_text(settings.get("data")),
        locale=_text(_object(claims, LAUNCH_PRESENTATION).get("locale")),
    )


def scores_url(lineitem_url: str) -> str:
    """The AGS score service of a line item: ``/scores`` appended to its path, before
    any query string."""
    path, sep, query = lineitem_url.partition("?")
    return f"{path.rstrip('/')}/scores{sep}{query}"


def score_body(
    *,
    user_id: str,
    score: float,
    maximum: float,
    timestamp: str,
    comment: str | None = None,
) -> dict[str, Any]:
    """An AGS score (application/vnd.ims.lis.v1.score+json) for a completed, graded
    attempt."""
    body: dict[str, Any] = {
        "userId": user_id,
        "scoreGiven": score,
        "scoreMaximum": maximum,
        "activityProgress": "Completed",
        "gradingProgress": "FullyGraded",
        "timestamp": timestamp,
    }
    if comment:
        body["comment"] = comment
    return body
