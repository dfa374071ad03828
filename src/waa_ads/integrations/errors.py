"""The problems integrations report, one class per case a client may tell apart."""

from __future__ import annotations

from waa_ads.core.errors import Conflict, DomainError, NotFound, TooManyRequests, Unprocessable


class UnsafeUrl(Unprocessable):
    """A URL that is not http(s), or that names a private, loopback or link-local
    address while the deployment does not allow those."""

    code = "integration-url-refused"
    title = "URL refused"


class UnknownEventType(Unprocessable):
    code = "webhook-event-type-unknown"
    title = "Unknown event type"


class SubscriptionNotFound(NotFound):
    code = "webhook-subscription-not-found"
    title = "Webhook subscription not found"


class DeliveryNotFound(NotFound):
    code = "webhook-delivery-not-found"
    title = "Webhook delivery not found"


class SubscriptionInactive(Conflict):
    code = "webhook-subscription-inactive"
    title = "Webhook subscription inactive"


class DeliveryCursorInvalid(Unprocessable):
    code = "webhook-delivery-cursor-invalid"
    title = "Delivery cursor not valid"


# --- LTI ----------------------------------------------------------------------------------


class LtiRegistrationNotFound(NotFound):
    code = "lti-registration-not-found"
    title = "LTI platform registration not found"


class LtiRegistrationExists(Conflict):
    code = "lti-registration-exists"
    title = "LTI platform registration exists"


class LtiLaunchRefused(DomainError):
    """A login or launch that cannot be trusted: the ``reason`` says which check failed
    (signature, nonce, state, audience, deployment, expiry...)."""

    status_code = 401
    code = "lti-launch-refused"
    title = "LTI launch refused"


class LtiLoginRateLimited(TooManyRequests):
    """Too many LTI logins from one client address in a minute."""

    code = "lti-login-rate-limited"
    title = "Too many LTI logins"


class LtiLinkNotFound(NotFound):
    code = "lti-link-not-found"
    title = "LTI resource link not found"


class LtiRosterSyncNotFound(NotFound):
    code = "lti-roster-sync-not-found"
    title = "LTI roster sync not found"
