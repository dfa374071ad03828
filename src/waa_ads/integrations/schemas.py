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


DeliveryStatus = Literal["pending", "retrying", "succeeded", "failed", "cancelled"]


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
