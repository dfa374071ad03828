"""Request and response bodies of the assessments and administrations API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints, model_validator

from waa_ads.assessments.definition import AssessmentDefinition, Navigation
from waa_ads.assessments.models import AssessmentStatus
from waa_ads.content.schemas import AccessibilitySupports, CandidateItem
from waa_ads.core.language_choice import LocaleCode, LocaleList
from waa_ads.core.params import PatchModel, Version

Slug = Annotated[
    str, StringConstraints(min_length=2, max_length=64, pattern=r"^[a-z0-9][a-z0-9-]*$")
]


class AssessmentCreate(BaseModel):
    slug: Slug
    definition: AssessmentDefinition


class AssessmentUpdate(BaseModel):
    definition: AssessmentDefinition
    expected_version: Version | None = None


class AssessmentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    slug: str
    title: str
    latest_version: int
    published_version: int | None
    created_at: datetime
    archived_at: datetime | None = Field(description="When it was archived; null if not.")


class AssessmentVersionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    assessment_id: uuid.UUID
    version: int
    status: AssessmentStatus
    definition: dict[str, Any]
    pinned: dict[str, Any] | None
    created_at: datetime
    published_at: datetime | None


class AssessmentWithVersion(BaseModel):
    assessment: AssessmentRead
    version: AssessmentVersionRead


class PreviewItem(BaseModel):
    position: int = Field(description="1-based position in the form.")
    section: str = Field(description="The identifier of the section it was drawn for.")
    item: CandidateItem


class PoolSize(BaseModel):
    """How many published items a selection rule with these filters would draw from now."""

    bank_id: uuid.UUID
    tags: list[str]
    subject: str | None
    interaction_types: list[str]
    count: int = Field(description="Published items matching every filter.")


class PinProblem(BaseModel):
    """One reason a definition cannot be pinned (publishing, previewing a draft), with the
    section (and item) it concerns; a refusal lists them all in ``problems``."""

    code: str = Field(description="The problem code this case has on its own.")
    section: str = Field(description="The identifier of the section concerned.")
    item_id: uuid.UUID | None = Field(default=None, description="The fixed item concerned.")
    pool_size: int | None = Field(default=None, description="Matching items, for a rule.")
    detail: str


class AssessmentPreview(BaseModel):
    """A form as a candidate with this seed would get it: its items rendered without keys
    (serialized with ``exclude_unset``, as the candidate's own replies are)."""

    title: str
    navigation: Navigation
    time_limit_s: int | None
    seed: int
    items: list[PreviewItem]


class Accommodations(BaseModel):
    extra_time_multiplier: float = Field(
        default=1.0, ge=1.0, le=4.0, description="1.5 gives 50% more time."
    )
    extra_attempts: int = Field(default=0, ge=0, le=10)
    extra_breaks: int = Field(default=0, ge=0, le=10)
    accessibility_supports: AccessibilitySupports = Field(default_factory=list)


_LOCALE = "The language its tests are delivered in; null: the organization's default."
_LOCALES = (
    "The languages a candidate may switch to during the test (with its language); empty: "
    "no switching. A candidate's own language (the roster's) is used when offered."
)


class AdministrationCreate(BaseModel):
    assessment_version_id: uuid.UUID
    title: str = Field(min_length=1, max_length=300)
    opens_at: datetime
    closes_at: datetime
    proctor_ids: list[uuid.UUID] = Field(default_factory=list, max_length=100)
    notes: str | None = Field(default=None, max_length=5000)
    locale: LocaleCode | None = Field(default=None, description=_LOCALE)
    locales: LocaleList = Field(default_factory=list, description=_LOCALES)

    @model_validator(mode="after")
    def _window(self) -> AdministrationCreate:
        if self.opens_at.tzinfo is None or self.closes_at.tzinfo is None:
            raise ValueError("opens_at and closes_at need a time zone (e.g. 2026-12-01T09:00Z)")
        if self.closes_at <= self.opens_at:
            raise ValueError("closes_at must be after opens_at")
        return self


class AdministrationUpdate(PatchModel):
    nullable = frozenset({"notes", "locale"})

    title: str | None = Field(default=None, min_length=1, max_length=300)
    opens_at: datetime | None = None
    closes_at: datetime | None = None
    proctor_ids: list[uuid.UUID] | None = Field(default=None, max_length=100)
    notes: str | None = Field(default=None, max_length=5000)
    locale: LocaleCode | None = Field(default=None, description=_LOCALE)
    locales: LocaleList | None = Field(default=None, description=_LOCALES)


class AdministrationRead(BaseModel):
    id: uuid.UUID
    assessment_version_id: uuid.UUID
    assessment_id: uuid.UUID = Field(description="The assessment it administers.")
    assessment_title: str = Field(description="The title of that assessment version.")
    assessment_version: int = Field(description="The number of that version.")
    title: str
    opens_at: datetime
    closes_at: datetime
    timezone: str = Field(description="The organization's time zone.")
    opens_at_local: str = Field(description="opens_at in the organization's time zone.")
    closes_at_local: str
    proctor_ids: list[uuid.UUID]
    notes: str | None
    cancelled_at: datetime | None
    archived_at: datetime | None = Field(description="When it was archived; null if not.")
    roster_size: int
    locale: str | None = Field(default=None, description=_LOCALE)
    locales: list[str] = Field(default_factory=list, description=_LOCALES)


class RosterAdd(BaseModel):
    candidate_id: uuid.UUID
    accommodations: Accommodations = Field(default_factory=Accommodations)


class RosterAddMany(BaseModel):
    entries: list[RosterAdd] = Field(min_length=1, max_length=5000)


class RosterEntryRead(BaseModel):
    id: uuid.UUID
    candidate_id: uuid.UUID
    accommodations: Accommodations
    code_active: bool
    code_issued_at: datetime | None
    access_code: str | None = Field(
        default=None, description="Shown once, when issued; only its HMAC is stored."
    )


class RosterCsvRow(BaseModel):
    """One CSV row: the candidate by ``external_id`` or ``email``, and accommodations."""

    external_id: str | None = None
    email: EmailStr | None = None
    extra_time_multiplier: float = Field(default=1.0, ge=1.0, le=4.0)
    extra_attempts: int = Field(default=0, ge=0, le=10)
    extra_breaks: int = Field(default=0, ge=0, le=10)
    accessibility_supports: AccessibilitySupports = Field(default_factory=list)
    locale: LocaleCode | None = Field(
        default=None, description="The candidate's language (set on the candidate)."
    )


class RowProblem(BaseModel):
    row: int
    problem: str


class TestImportRead(BaseModel):
    """An assessment made from a QTI assessment test: the draft, the items stored for it
    (each with its status, as an item import reports them) and every difference between
    the test and the assessment (``notes``)."""

    assessment: AssessmentRead
    version: AssessmentVersionRead
    items: list[dict[str, Any]]
    notes: list[str]
