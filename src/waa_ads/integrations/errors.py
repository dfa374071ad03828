"""The problems integrations report, one class per case a client may tell apart."""

from __future__ import annotations

from waa_ads.core.errors import Conflict, DomainError, NotFound, TooManyRequests, Unprocessable
from waa_ads.core.i18n import N_


class UnsafeUrl(Unprocessable):
    """A URL that is not http(s), or that names a private, loopback or link-local
    address while the deployment does not allow those."""

    code = "integration-url-refused"
    title = N_("URL refused")


class UnknownEventType(Unprocessable):
    code = "webhook-event-type-unknown"
    title = N_("Unknown event type")


class SubscriptionNotFound(NotFound):
    code = "webhook-subscription-not-found"
    title = N_("Webhook subscription not found")


class DeliveryNotFound(NotFound):
    code = "webhook-delivery-not-found"
    title = N_("Webhook delivery not found")


class SubscriptionInactive(Conflict):
    code = "webhook-subscription-inactive"
    title = N_("Webhook subscription inactive")


class DeliveryCursorInvalid(Unprocessable):
    code = "webhook-delivery-cursor-invalid"
    title = N_("Delivery cursor not valid")


# --- LTI ----------------------------------------------------------------------------------


class LtiRegistrationNotFound(NotFound):
    code = "lti-registration-not-found"
    title = N_("LTI platform registration not found")


class LtiRegistrationExists(Conflict):
    code = "lti-registration-exists"
    title = N_("LTI platform registration exists")


class LtiLaunchRefused(DomainError):
    """A login or launch that cannot be trusted: the ``reason`` says which check failed
    (signature, nonce, state, audience, deployment, expiry...)."""

    status_code = 401
    code = "lti-launch-refused"
    title = N_("LTI launch refused")


class LtiLoginRateLimited(TooManyRequests):
    """Too many LTI logins from one client address in a minute."""

    code = "lti-login-rate-limited"
    title = N_("Too many LTI logins")


class LtiLinkNotFound(NotFound):
    code = "lti-link-not-found"
    title = N_("LTI resource link not found")


class LtiRosterSyncNotFound(NotFound):
    code = "lti-roster-sync-not-found"
    title = N_("LTI roster sync not found")
