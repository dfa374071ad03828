"""Reply bodies of the audit API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class VerifyReport(BaseModel):
    """The outcome of recomputing a chain from its first event."""

    chain: str
    ok: bool
    checked: int = Field(description="How many events were checked.")
    head_seq: int = Field(description="The sequence number of the newest event.")
    first_broken_seq: int | None = Field(description="The first event whose link is broken.")
    reason: str | None = Field(description="Why that link is broken.")


class AuditEventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    seq: int
    occurred_at: datetime
    action: str
    actor_type: str
    actor_id: str | None
    target_type: str | None
    target_id: str | None
    canonical: str = Field(description="The hashed event as RFC 8785 canonical JSON.")
    prev_hash: str
    hash: str


class AuditPage(BaseModel):
    items: list[AuditEventRead]
    next_after_seq: int | None = Field(description="Pass as after_seq for the next page.")
    next_before_seq: int | None = Field(
        default=None, description="Newest first: pass as before_seq for the next page."
    )
