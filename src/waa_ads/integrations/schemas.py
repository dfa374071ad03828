"""Request and response shapes of the integrations API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Read(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class EventTypes(BaseModel):
    event_types: list[str] = Field(description="Event types a subscription may ask for.")


class SubscriptionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1, max_length=2000, description="http(s) URL receiving POSTs.")
    event_types: list[str] = Field(min_length=1, max_length=50)
    description: str = Field("", max_length=200)
    format: Literal["waa", "caliper"] = Field(
        "waa", description="waa: the WAA-ADS body; caliper: a Caliper 1.2 envelope."
    )
    bearer_token: str | None = Field(
        None,
        min_length=1,
        max_length=500,
        description="Sent as Authorization: Bearer (Caliper endpoints ask for one).",
    )


class SubscriptionUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(None, min_length=1, max_length=2000)
    event_types: list[str] | None = Field(None, min_length=1, max_length=50)
    description: str | None = Field(None, max_length=200)
    active: bool | None = Field(
        None, description="false disables; true enables again and forgets past failures."
    )


class SubscriptionRead(_Read):
    id: uuid.UUID
    url: str
    description: str
    event_types: list[str]
    format: str
    active: bool
    consecutive_failures: int
    disabled_at: datetime | None
    disabled_reason: str | None
    created_at: datetime
    updated_at: datetime


class SubscriptionWithSecret(SubscriptionRead):
    secret: str = Field(
        description="Signs every delivery (see WAA-Signature). Shown only in this reply."
    )


DeliveryStatus = Literal["pending", "sending", "retrying", "succeeded", "failed", "cancelled"]


class DeliveryRead(_Read):
    id: uuid.UUID
    channel: str
    subscription_id: uuid.UUID | None
    target: str
    event_type: str
    event_seq: int | None
    status: str
    attempts: int
    response_status: int | None
    response_excerpt: str | None
    duration_ms: float | None
    error: str | None
    replay_of: uuid.UUID | None
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None


class DeliveryDetail(DeliveryRead):
    payload: str = Field(description="The exact body sent.")
    tries: list[dict[str, Any]] = Field(description="Each try: at, status, duration_ms, error.")


class DeliveryPage(BaseModel):
    items: list[DeliveryRead]
    next_before: str | None = Field(
        description="Pass as ?before= for the next (older) page; null on the last page."
    )


class DispatchStarted(BaseModel):
    queued: bool


# --- LTI ------------------------------------------------------------------------------------


class RegistrationWrite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    issuer: str = Field(min_length=1, max_length=500, description="The platform's iss.")
    client_id: str = Field(min_length=1, max_length=500, description="This tool's client id there.")
    auth_login_url: str = Field(min_length=1, max_length=2000, description="OIDC auth endpoint.")
    auth_token_url: str = Field(min_length=1, max_length=2000, description="OAuth2 token endpoint.")
    jwks_url: str = Field(min_length=1, max_length=2000, description="The platform's JWKS.")
    deployment_ids: list[str] = Field(min_length=1, max_length=100)


class RegistrationRead(_Read):
    id: uuid.UUID
    name: str
    issuer: str
    client_id: str
    auth_login_url: str
    auth_token_url: str
    jwks_url: str
    deployment_ids: list[str]
    created_at: datetime
    updated_at: datetime


class ToolConfiguration(BaseModel):
    """What an LMS administrator pastes into the platform's tool registration."""

    login_url: str
    launch_url: str
    redirect_uri: str
    deep_linking_url: str
    jwks_url: str
    current_kid: str
    scopes: list[str]
    claims_used: list[str]


class LinkRead(_Read):
    id: uuid.UUID
    registration_id: uuid.UUID
    deployment_id: str
    resource_link_id: str
    administration_id: uuid.UUID | None
    title: str | None
    context_id: str | None
    lineitem_url: str | None
    memberships_url: str | None
    created_at: datetime
    updated_at: datetime


class RosterSyncRead(_Read):
    """A roster sync run by a worker: poll it until ``status`` is ``succeeded`` or
    ``failed``."""

    id: uuid.UUID
    link_id: uuid.UUID
    status: str = Field(description="queued, running, succeeded or failed.")
    members: int | None = Field(
        description="Active learners the platform listed (null until they are read)."
    )
    done: int = Field(description="Learners handled so far.")
    added: int = Field(description="Of those, added to the administration's roster now.")
    skipped: int = Field(description="Of those, refused by the roster (see error).")
    error: str | None = Field(description="Why the sync failed, or the last learner refused.")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


# --- e-mail ---------------------------------------------------------------------------------


class EmailTemplateWrite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(description="Send this kind of e-mail.")
    subject: str | None = Field(
        None, max_length=500, description="Jinja2 text; null for the default wording."
    )
    body: str | None = Field(
        None, max_length=20_000, description="Jinja2 text; null for the default wording."
    )


class EmailTemplateRead(BaseModel):
    kind: str
    enabled: bool
    subject: str
    body: str
    default: bool = Field(description="Whether subject and body are the default wording.")
    variables: list[str] = Field(description="What the template may use.")


class AccessCodesSend(BaseModel):
    model_config = ConfigDict(extra="forbid")

    administration_id: uuid.UUID
    entry_ids: list[uuid.UUID] | None = Field(
        None,
        max_length=20_000,
        description="Roster entries to send to; null for the whole roster.",
    )


class AccessCodeSent(BaseModel):
    entry_id: uuid.UUID
    candidate_id: uuid.UUID
    delivery_id: uuid.UUID = Field(description="The e-mail in the delivery log.")


class AccessCodeSkipped(BaseModel):
    entry_id: uuid.UUID
    candidate_id: uuid.UUID
    reason: str


class AccessCodesSent(BaseModel):
    queued: list[AccessCodeSent] = Field(
        description="Entries that got a new code, queued for e-mail (their old code ended)."
    )
    skipped: list[AccessCodeSkipped] = Field(
        description="Entries left alone (their code unchanged), with the reason."
    )


class InvitationSent(BaseModel):
    user_id: uuid.UUID = Field(description="The account made (no password yet).")
    email: str
    delivery_id: uuid.UUID = Field(description="The invitation e-mail in the delivery log.")
