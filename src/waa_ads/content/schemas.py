"""Request and response bodies of the item bank API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from waa_ads.content.models import BankPermission, VersionStatus

Slug = Annotated[
    str, StringConstraints(min_length=2, max_length=64, pattern=r"^[a-z0-9][a-z0-9-]*$")
]
Tag = Annotated[str, StringConstraints(min_length=1, max_length=100, strip_whitespace=True)]


class BankCreate(BaseModel):
    slug: Slug
    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=5000)
    review_required: bool = Field(
        default=False, description="Publishing needs a reviewer's approval of a submitted version."
    )


class BankUpdate(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=5000)
    review_required: bool | None = None


class BankRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    slug: str
    name: str
    description: str | None
    review_required: bool
    created_at: datetime


class BankMemberSet(BaseModel):
    user_id: uuid.UUID
    permission: BankPermission


class BankMemberRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    user_id: uuid.UUID
    permission: BankPermission


class ItemMetadata(BaseModel):
    """Bank metadata of a version (beside what the item document itself carries)."""

    tags: list[Tag] = Field(default_factory=list, max_length=50)
    subject: str | None = Field(default=None, max_length=200)
    standards: list[Annotated[str, StringConstraints(max_length=200)]] = Field(
        default_factory=list, max_length=50, description="Standards alignment codes."
    )
    estimated_time_s: int | None = Field(default=None, ge=1, le=86_400)


class ItemSource(BaseModel):
    """An item as its author wrote it.

    ``format``: ``native`` (YAML or JSON text, docs/native-format.md), ``qti`` (a QTI 3.0 or
    2.x ``assessmentItem`` XML document), or ``definition`` (the stored JSON form, as returned
    by ``GET /items/{id}/versions/{version}``).
    """

    format: Literal["native", "qti", "definition"]
    content: str | dict[str, Any]


class ItemCreate(BaseModel):
    source: ItemSource
    metadata: ItemMetadata = Field(default_factory=ItemMetadata)
    rubric_version_id: uuid.UUID | None = None
    change_note: str | None = Field(default=None, max_length=2000)


class ItemUpdate(BaseModel):
    """Edit an item: its draft is changed in place; a published or retired item gets a new
    draft version. Omitted parts are kept from the newest version."""

    source: ItemSource | None = None
    metadata: ItemMetadata | None = None
    rubric_version_id: uuid.UUID | None = None
    change_note: str | None = Field(default=None, max_length=2000)
    expected_version: int | None = Field(
        default=None, description="Refuse (409) if the newest version is not this one."
    )


class ItemRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    bank_id: uuid.UUID
    identifier: str
    title: str
    status: VersionStatus
    latest_version: int
    published_version: int | None
    interaction_types: list[str]
    tags: list[str]
    subject: str | None
    created_at: datetime
    updated_at: datetime


class ItemVersionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    item_id: uuid.UUID
    version: int
    status: VersionStatus
    title: str
    interaction_types: list[str]
    tags: list[str]
    subject: str | None
    language: str | None
    standards: list[str]
    estimated_time_s: int | None
    statistics: dict[str, Any]
    irt: dict[str, Any]
    rubric_version_id: uuid.UUID | None
    change_note: str | None
    content_hash: str
    created_by: str | None
    created_at: datetime
    submitted_at: datetime | None
    published_at: datetime | None
    retired_at: datetime | None
    definition: dict[str, Any]


class ItemWithVersion(BaseModel):
    item: ItemRead
    version: ItemVersionRead


class MediaRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    sha256: str
    content_type: str
    size: int
    filename: str | None
    width: int | None
    height: int | None
    created_at: datetime


class RubricCreate(BaseModel):
    slug: Slug
    yaml: str = Field(
        min_length=1, max_length=200_000, description="The rubric document (docs/rubrics.md)."
    )


class RubricVersionCreate(BaseModel):
    yaml: str = Field(min_length=1, max_length=200_000)


class RubricRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    slug: str
    title: str
    kind: str
    latest_version: int


class RubricVersionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    version: int
    source_yaml: str
    document: dict[str, Any]
    max_points: float
    created_at: datetime


class RubricWithVersion(BaseModel):
    rubric: RubricRead
    version: RubricVersionRead

    @classmethod
    def build(cls, rubric: object, version: object) -> RubricWithVersion:
        return cls(
            rubric=RubricRead.model_validate(rubric),
            version=RubricVersionRead.model_validate(version),
        )
