"""Integration tables.

- ``webhook_subscription``: an organization's receiver of signed event deliveries;
- ``integration_delivery``: every outgoing message (webhook, LTI grade passback) with its
  status and the outcome of each try, which is the delivery log;
- ``integration_cursor``: per organization, the last audit sequence number turned into
  deliveries (the audit log is the outbox);
- ``lti_tool_key``: the tool's own RSA keys (deployment-wide, published at ``/lti/jwks``);
- ``lti_registration``: a platform (LMS) an organization trusts, with its deployments;
- ``lti_login``: the state and nonce of one OIDC login, usable once;
- ``lti_resource_link``: a platform's link bound to an administration;
- ``lti_account``: a platform user (``iss`` + ``sub``) known as a candidate;
- ``lti_roster_sync``: one run of filling a link's administration roster from the
  course (NRPS), done by a worker, with its progress.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from waa_ads.core.db import Base, JSONType, uuid7


class WebhookSubscription(Base):
    __tablename__ = "webhook_subscription"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True
    )
    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str] = mapped_column(String(200), default="")
    event_types: Mapped[list[str]] = mapped_column(JSONType, default=list)
    #: ``waa`` (the WAA-ADS body) or ``caliper`` (a Caliper 1.2 envelope).
    format: Mapped[str] = mapped_column(String(16), default="waa", server_default="waa")
    #: Sent as ``Authorization: Bearer`` (Caliper endpoints ask for one); never shown.
    bearer_token: Mapped[str | None] = mapped_column(String(500))
    #: Signs every delivery; returned once, when created or rotated.
    secret: Mapped[str] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(Boolean(), default=True)
    #: Failed tries since the last success; the subscription is disabled at the limit.
    consecutive_failures: Mapped[int] = mapped_column(Integer(), default=0)
    disabled_at: Mapped[datetime | None]
    disabled_reason: Mapped[str | None] = mapped_column(String(500))
    #: Audit events up to this sequence number happened before it existed.
    start_seq: Mapped[int] = mapped_column(BigInteger(), default=0)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class IntegrationDelivery(Base):
    """One outgoing message and what became of it.

    ``status``: ``pending`` (queued), ``retrying`` (a try failed, another is scheduled),
    ``succeeded``, ``failed`` (tries exhausted), ``cancelled`` (its subscription was
    disabled or removed). ``dedupe_key`` makes turning one audit event into deliveries
    idempotent; a replay gets a key of its own and names the delivery it replays.
    """

    __tablename__ = "integration_delivery"
    __table_args__ = (UniqueConstraint("dedupe_key"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[str] = mapped_column(String(16))
    subscription_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("webhook_subscription.id", ondelete="CASCADE"), index=True
    )
    target: Mapped[str] = mapped_column(String(2000))
    event_type: Mapped[str] = mapped_column(String(64))
    event_seq: Mapped[int | None] = mapped_column(BigInteger())
    dedupe_key: Mapped[str] = mapped_column(String(200))
    payload: Mapped[str] = mapped_column(Text())
    status: Mapped[str] = mapped_column(String(16), index=True)
    attempts: Mapped[int] = mapped_column(Integer(), default=0)
    response_status: Mapped[int | None] = mapped_column(Integer())
    response_excerpt: Mapped[str | None] = mapped_column(Text())
    duration_ms: Mapped[float | None]
    error: Mapped[str | None] = mapped_column(String(1000))
    tries: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    replay_of: Mapped[uuid.UUID | None] = mapped_column()
    #: The candidate an e-mail is to (erasing the candidate clears the row's address and
    #: text). No foreign key: the row outlives nothing it names.
    candidate_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]


class IntegrationCursor(Base):
    __tablename__ = "integration_cursor"

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), primary_key=True
    )
    last_seq: Mapped[int] = mapped_column(BigInteger(), default=0)
    updated_at: Mapped[datetime]


class LtiToolKey(Base):
    """One RSA key pair of the tool. The current key signs; retired keys stay published
    for a while so that messages signed just before a rotation still verify."""

    __tablename__ = "lti_tool_key"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    kid: Mapped[str] = mapped_column(String(64), unique=True)
    private_pem: Mapped[str] = mapped_column(Text())
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSONType)
    current: Mapped[bool] = mapped_column(Boolean(), default=False)
    created_at: Mapped[datetime]
    retired_at: Mapped[datetime | None]


class LtiRegistration(Base):
    __tablename__ = "lti_registration"
    __table_args__ = (UniqueConstraint("issuer", "client_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    issuer: Mapped[str] = mapped_column(String(500))
    client_id: Mapped[str] = mapped_column(String(500))
    auth_login_url: Mapped[str] = mapped_column(String(2000))
    auth_token_url: Mapped[str] = mapped_column(String(2000))
    jwks_url: Mapped[str] = mapped_column(String(2000))
    deployment_ids: Mapped[list[str]] = mapped_column(JSONType, default=list)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class LtiLogin(Base):
    """An OIDC login in flight: the launch must bring back this state and this nonce,
    before ``expires_at``, once."""

    __tablename__ = "lti_login"

    state: Mapped[str] = mapped_column(String(100), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(100), unique=True)
    registration_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("lti_registration.id", ondelete="CASCADE"), index=True
    )
    target_link_uri: Mapped[str] = mapped_column(String(2000))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class LtiResourceLink(Base):
    __tablename__ = "lti_resource_link"
    __table_args__ = (UniqueConstraint("registration_id", "deployment_id", "resource_link_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True
    )
    registration_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("lti_registration.id", ondelete="CASCADE")
    )
    deployment_id: Mapped[str] = mapped_column(String(500))
    resource_link_id: Mapped[str] = mapped_column(String(500))
    administration_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("administration.id", ondelete="SET NULL"), index=True
    )
    title: Mapped[str | None] = mapped_column(String(500))
    context_id: Mapped[str | None] = mapped_column(String(500))
    lineitem_url: Mapped[str | None] = mapped_column(String(2000))
    memberships_url: Mapped[str | None] = mapped_column(String(2000))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class LtiAccount(Base):
    __tablename__ = "lti_account"
    __table_args__ = (UniqueConstraint("registration_id", "subject"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True
    )
    registration_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("lti_registration.id", ondelete="CASCADE")
    )
    subject: Mapped[str] = mapped_column(String(255))
    candidate_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("candidate.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime]


class EmailTemplate(Base):
    """An organization's wording of one kind of e-mail (Jinja2 text, sandboxed); a kind
    without a row, or with empty fields, uses the default wording. ``enabled`` turns the
    kind on for the organization."""

    __tablename__ = "email_template"
    __table_args__ = (UniqueConstraint("organization_id", "kind"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(32))
    enabled: Mapped[bool] = mapped_column(Boolean(), default=False)
    subject: Mapped[str | None] = mapped_column(String(500))
    body: Mapped[str | None] = mapped_column(Text())
    updated_at: Mapped[datetime]


class LtiRosterSync(Base):
    """One roster sync of a link, run by a worker: ``queued`` -> ``running`` ->
    ``succeeded`` | ``failed`` (``error`` says why). ``members`` is the count of active
    learners the platform listed (known once they are read), ``done`` how many of them are
    handled so far, ``added`` put on the roster now, ``skipped`` refused by the roster
    (``error`` names the last reason)."""

    __tablename__ = "lti_roster_sync"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True
    )
    link_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("lti_resource_link.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(16))
    members: Mapped[int | None] = mapped_column(Integer())
    done: Mapped[int] = mapped_column(Integer(), default=0)
    added: Mapped[int] = mapped_column(Integer(), default=0)
    skipped: Mapped[int] = mapped_column(Integer(), default=0)
    error: Mapped[str | None] = mapped_column(String(1000))
    created_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
