"""Item bank tables: banks with per-bank permissions, items with immutable versions, media
assets, rubrics with versions.

An item's versions are immutable once they leave ``draft``: editing a published item makes a
new draft version. The ``item`` row carries a denormalized summary of its newest version
(title, status, types, tags) so that searching a bank never has to open version documents.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from waa_ads.core.db import Base, JSONType, TimestampMixin, uuid7


class VersionStatus(StrEnum):
    draft = "draft"
    in_review = "in_review"
    published = "published"
    retired = "retired"


class BankPermission(StrEnum):
    author = "author"
    reviewer = "reviewer"


class ItemBank(TimestampMixin, Base):
    __tablename__ = "item_bank"
    __table_args__ = (UniqueConstraint("organization_id", "slug"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True
    )
    slug: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text())
    review_required: Mapped[bool] = mapped_column(default=False)
    #: Set while archived: left out of listings, still readable by id.
    archived_at: Mapped[datetime | None]


class BankMember(Base):
    """A per-bank permission: ``author`` may write items, ``reviewer`` may also approve them.
    Organization admins may do both in every bank without a row here."""

    __tablename__ = "bank_member"
    __table_args__ = (UniqueConstraint("bank_id", "user_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True
    )
    bank_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("item_bank.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    permission: Mapped[str] = mapped_column(String(16))


class Item(TimestampMixin, Base):
    __tablename__ = "item"
    __table_args__ = (
        UniqueConstraint("bank_id", "identifier"),
        UniqueConstraint("translation_of", "language"),
        Index("ix_item_organization_id_status", "organization_id", "status"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True
    )
    bank_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("item_bank.id", ondelete="CASCADE"), index=True
    )
    identifier: Mapped[str] = mapped_column(String(200))
    # Summary of the newest version.
    latest_version: Mapped[int] = mapped_column(Integer(), default=1)
    published_version: Mapped[int | None] = mapped_column(Integer())
    status: Mapped[str] = mapped_column(String(16), default=VersionStatus.draft.value)
    title: Mapped[str] = mapped_column(String(500))
    interaction_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    subject: Mapped[str | None] = mapped_column(String(200))
    search_text: Mapped[str] = mapped_column(Text(), default="")
    # "|choice|text_entry|": filterable with LIKE on both dialects.
    search_types: Mapped[str] = mapped_column(String(400), default="|")
    #: Set while archived: left out of searches and exports, still readable by id.
    archived_at: Mapped[datetime | None]
    #: The language candidates read the item in (a code of ``core.i18n.LANGUAGES``).
    language: Mapped[str] = mapped_column(String(16), default="en", server_default="en")
    #: Set on a translation: the item (in the same bank) it is a language variant of. A
    #: translation is never assembled on its own: delivery shows it in place of its source
    #: to candidates of its language, and responses, scores and statistics stay the
    #: source's. Deleting the source deletes its translations.
    translation_of: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("item.id", ondelete="CASCADE")
    )


class ItemTag(Base):
    """One row per tag of an item's newest version, so tag filters use an index."""

    __tablename__ = "item_tag"
    __table_args__ = (Index("ix_item_tag_organization_id_tag", "organization_id", "tag"),)

    item_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("item.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(100), primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE")
    )


class ItemVersion(Base):
    __tablename__ = "item_version"
    __table_args__ = (UniqueConstraint("item_id", "version"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True
    )
    item_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("item.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer())
    status: Mapped[str] = mapped_column(String(16), default=VersionStatus.draft.value)
    definition: Mapped[dict[str, Any]] = mapped_column(JSONType)
    content_hash: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(500))
    interaction_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    subject: Mapped[str | None] = mapped_column(String(200))
    language: Mapped[str | None] = mapped_column(String(35))
    standards: Mapped[list[str]] = mapped_column(JSON, default=list)
    estimated_time_s: Mapped[int | None] = mapped_column(Integer())
    # Filled by psychometrics later: classical statistics and IRT parameters.
    statistics: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    irt: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    rubric_version_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("rubric_version.id", ondelete="RESTRICT")
    )
    change_note: Mapped[str | None] = mapped_column(Text())
    created_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    submitted_at: Mapped[datetime | None]
    published_at: Mapped[datetime | None]
    published_by: Mapped[str | None] = mapped_column(String(64))
    retired_at: Mapped[datetime | None]


class MediaAsset(Base):
    """A media file in the blob store, de-duplicated per organization by its SHA-256."""

    __tablename__ = "media_asset"
    __table_args__ = (UniqueConstraint("organization_id", "sha256"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True
    )
    sha256: Mapped[str] = mapped_column(String(64))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger())
    filename: Mapped[str | None] = mapped_column(String(300))
    width: Mapped[int | None] = mapped_column(Integer())
    height: Mapped[int | None] = mapped_column(Integer())
    created_at: Mapped[datetime]


class Rubric(TimestampMixin, Base):
    __tablename__ = "rubric"
    __table_args__ = (UniqueConstraint("organization_id", "slug"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True
    )
    slug: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(16))
    latest_version: Mapped[int] = mapped_column(Integer(), default=1)


class RubricVersion(Base):
    __tablename__ = "rubric_version"
    __table_args__ = (UniqueConstraint("rubric_id", "version"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True
    )
    rubric_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("rubric.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer())
    source_yaml: Mapped[str] = mapped_column(Text())
    document: Mapped[dict[str, Any]] = mapped_column(JSONType)
    max_points: Mapped[float]
    created_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]


class Stimulus(TimestampMixin, Base):
    """A shared stimulus of a bank (a passage, a picture, a table several items are shown
    beside). Items name it by ``identifier``; its versions are immutable, and the row
    carries a summary of the newest one."""

    __tablename__ = "stimulus"
    __table_args__ = (UniqueConstraint("bank_id", "identifier"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True
    )
    bank_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("item_bank.id", ondelete="CASCADE"), index=True
    )
    identifier: Mapped[str] = mapped_column(String(200))
    # Summary of the newest version.
    latest_version: Mapped[int] = mapped_column(Integer(), default=1)
    title: Mapped[str] = mapped_column(String(500))
    language: Mapped[str | None] = mapped_column(String(35))
    content_hash: Mapped[str] = mapped_column(String(64))
    #: Set while archived: left out of the bank's list and of new references, still shown
    #: beside the items that use it.
    archived_at: Mapped[datetime | None]


class StimulusVersion(Base):
    """One version of a stimulus, never changed once written. An item version pins the
    stimulus version it is shown with by its ``content_hash`` (the item's
    ``metadata.stimuli``), as it pins its media by SHA-256."""

    __tablename__ = "stimulus_version"
    __table_args__ = (
        UniqueConstraint("stimulus_id", "version"),
        Index(
            "ix_stimulus_version_organization_id_content_hash", "organization_id", "content_hash"
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE")
    )
    stimulus_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("stimulus.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int] = mapped_column(Integer())
    definition: Mapped[dict[str, Any]] = mapped_column(JSONType)
    content_hash: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(500))
    language: Mapped[str | None] = mapped_column(String(35))
    change_note: Mapped[str | None] = mapped_column(Text())
    created_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
