"""Request and response bodies of the item bank API."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
)
from pydantic_core import PydanticCustomError

from waa_ads.content.item import supports
from waa_ads.content.item.definition import BaseType, Cardinality, InteractionType
from waa_ads.content.models import BankPermission, VersionStatus
from waa_ads.core.params import PatchModel, Version


def _split_cell(value: Any) -> Any:
    """Names given as one text (a CSV cell), or as texts each holding one or more (query
    parameters, ``?supports=spoken,braille``), as one list of names."""
    if isinstance(value, str):
        return supports.split_supports(value)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return [name for v in value for name in supports.split_supports(v)]
    return value


def _checked_supports(value: list[str]) -> list[str]:
    try:
        return supports.check_supports(value)
    except ValueError as exc:
        # The reason as it is (no "Value error," before it): it names the support.
        raise PydanticCustomError("accessibility_support", str(exc)) from None


AccessibilitySupports = Annotated[
    list[Annotated[str, StringConstraints(max_length=80)]],
    BeforeValidator(_split_cell),
    AfterValidator(_checked_supports),
    Field(
        max_length=supports.MAX_SUPPORTS,
        description=(
            "QTI 3.0 accessibility supports the candidate gets, beyond the glossary and "
            "keyword translations every candidate has: linguistic-guidance, spoken, "
            "sign-language, braille, audio-description, illustrated-glossary, "
            "simplified-language, tactile, or an ext: extension. The player shows an "
            "item's cards of these supports to this candidate only."
        ),
    ),
]
"""A candidate's accessibility supports (content/item/supports.py): a list, or one text of
names separated by spaces, commas or semicolons (a CSV cell); checked, each once, sorted."""

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


class BankUpdate(PatchModel):
    nullable = frozenset({"description"})

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
    archived_at: datetime | None = Field(description="When it was archived; null if not.")


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

    @classmethod
    def from_document(cls, metadata: Mapping[str, Any]) -> ItemMetadata:
        """The bank metadata an item document carries itself (a native item's
        ``metadata: {tags, subject, standards, estimated_time_s}``); other keys are the
        document's own. Raises ValueError naming the field when one is malformed."""
        fields = {k: metadata[k] for k in cls.model_fields if metadata.get(k) is not None}
        try:
            return cls.model_validate(fields)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in ("metadata", *err["loc"]))
            raise ValueError(f"{where}: {err['msg']}") from None

    def or_document(self, metadata: Mapping[str, Any]) -> ItemMetadata:
        """These fields, each one left empty filled from the document's own metadata."""
        try:
            found = ItemMetadata.from_document(metadata)
        except ValueError:
            return self
        return ItemMetadata(
            tags=self.tags or found.tags,
            subject=self.subject if self.subject is not None else found.subject,
            standards=self.standards or found.standards,
            estimated_time_s=self.estimated_time_s or found.estimated_time_s,
        )


class ItemSource(BaseModel):
    """An item as its author wrote it.

    ``format``: ``native`` (YAML or JSON text, docs/native-format.md), ``qti`` (a QTI 3.0 or
    2.x ``assessmentItem`` XML document), or ``definition`` (the stored JSON form, as returned
    by ``GET /items/{id}/versions/{version}``).
    """

    format: Literal["native", "qti", "definition"]
    content: str | dict[str, Any]


class StimulusSource(BaseModel):
    """A shared stimulus as its author wrote it: ``qti`` (a ``qti-assessment-stimulus``
    or QTI 2.2 ``assessmentStimulus`` XML document) or ``definition`` (the stored JSON
    form, as ``GET /stimuli/{id}/versions/{version}`` returns it)."""

    format: Literal["qti", "definition"]
    content: str | dict[str, Any]


class StimulusCreate(BaseModel):
    source: StimulusSource
    media: dict[str, Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]] = Field(
        default_factory=dict,
        description="Each media path the body uses (an img src), with the SHA-256 of a media "
        "asset of the organization (POST /api/v1/media) that candidates are shown there.",
        max_length=200,
    )
    change_note: str | None = Field(default=None, max_length=2000)


class StimulusRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    bank_id: uuid.UUID
    identifier: str
    title: str
    language: str | None
    latest_version: int
    content_hash: str = Field(description="SHA-256 of the newest version's stored form.")
    archived_at: datetime | None = Field(
        default=None,
        description="Set while archived: left out of the bank's list and of new references; "
        "the items that already use it keep showing it.",
    )
    created_at: datetime
    updated_at: datetime


class StimulusVersionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    stimulus_id: uuid.UUID
    version: int
    title: str
    language: str | None
    definition: dict[str, Any] = Field(
        description="The stored form: identifier, title, language, body (sanitized XHTML), "
        "metadata.media."
    )
    content_hash: str
    change_note: str | None
    created_by: str | None
    created_at: datetime


class StimulusWithVersion(BaseModel):
    stimulus: StimulusRead
    version: StimulusVersionRead


class StimulusUser(BaseModel):
    """An item whose newest version refers to the stimulus."""

    item_id: uuid.UUID
    identifier: str
    title: str = Field(description="The title of the item's newest version.")
    version: int = Field(description="The item's newest version.")
    status: str = Field(description="That version's status (draft, published...).")
    archived: bool = Field(description="Whether the item is archived.")


class StimulusDetail(StimulusWithVersion):
    items: list[StimulusUser] = Field(
        description="The items whose newest version refers to the stimulus, by identifier."
    )


class ItemCreate(BaseModel):
    source: ItemSource
    metadata: ItemMetadata = Field(default_factory=ItemMetadata)
    rubric_version_id: uuid.UUID | None = None
    change_note: str | None = Field(default=None, max_length=2000)
    language: str | None = Field(
        default=None,
        max_length=16,
        description="The language candidates read the item in (a code of the product's "
        "languages: en, fr...); omitted: the one the document declares (QTI xml:lang, "
        "native language) if the product speaks it, else the organization's default.",
    )


class TranslationCreate(BaseModel):
    """A translation of an item: the same interactions, response identifiers,
    cardinalities and choice identifiers as its source, in another language."""

    source: ItemSource
    language: str | None = Field(
        default=None,
        max_length=16,
        description="The translation's language (en, fr...); omitted: the one the document "
        "declares.",
    )
    change_note: str | None = Field(default=None, max_length=2000)
    publish: bool = Field(default=False, description="Publish the translation at once.")


class ItemUpdate(PatchModel):
    """Edit an item: its draft is changed in place; a published or retired item gets a new
    draft version. Omitted parts are kept from the newest version."""

    nullable = frozenset({"change_note", "expected_version"})

    source: ItemSource | None = None
    metadata: ItemMetadata | None = None
    rubric_version_id: uuid.UUID | None = None
    change_note: str | None = Field(default=None, max_length=2000)
    expected_version: Version | None = Field(
        default=None, description="Refuse (409) if the newest version is not this one."
    )
    language: str | None = Field(
        default=None, max_length=16, description="Change the item's language (en, fr...)."
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
    archived_at: datetime | None = Field(description="When it was archived; null if not.")
    language: str = Field(description="The language candidates read the item in.")
    translation_of: uuid.UUID | None = Field(
        description="On a translation: the item it translates (delivered in its place to "
        "candidates of its language, scored and analysed as that item); null otherwise."
    )


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


class ImportedItemOutcome(BaseModel):
    source: str = Field(description="The file (or package entry) the item came from.")
    identifier: str | None
    status: Literal["imported", "new_version", "rejected", "not_imported"] = Field(
        description="imported: stored as a new item; new_version: the bank already held an "
        "item with this identifier, and this became its newest version (a new draft version "
        "of a published or retired item, or its draft replaced); rejected: refused, see "
        "reason; not_imported: fine, but left out because another item was rejected "
        "(all-or-nothing mode)."
    )
    reason: str | None = Field(
        description="Why it was rejected or not imported; for a new version, which one."
    )
    item_id: uuid.UUID | None
    version: int | None = Field(description="The item version the import stored.")


class ImportedStimulusOutcome(BaseModel):
    source: str
    identifier: str
    status: Literal["imported", "new_version", "unchanged", "not_imported"]
    stimulus_id: uuid.UUID | None
    version: int | None


class ImportReportRead(BaseModel):
    """What an import did, item by item."""

    ok: bool = Field(description="Every item was stored (as a new item or a new version).")
    mode: Literal["all", "partial"]
    imported: int = Field(description="Items stored as new items.")
    new_versions: int = Field(description="Items stored as new versions of existing items.")
    rejected: int = Field(description="Items refused (listed with their reason).")
    items: list[ImportedItemOutcome]
    stimuli: list[ImportedStimulusOutcome] = Field(
        default_factory=list,
        description="The shared stimuli the import brought, each stored as a new stimulus, "
        "a new version, or left unchanged (the bank holds it as it is).",
    )
    warnings: list[str]


class RubricWithVersion(BaseModel):
    rubric: RubricRead
    version: RubricVersionRead

    @classmethod
    def build(cls, rubric: object, version: object) -> RubricWithVersion:
        return cls(
            rubric=RubricRead.model_validate(rubric),
            version=RubricVersionRead.model_validate(version),
        )


# --- what a candidate's player receives ------------------------------------------------------


class CandidateReply(BaseModel):
    """Base of every reply a candidate receives: closed to fields it does not name, so an
    answer key, a rubric or another candidate's data cannot slip into it by accident."""

    model_config = ConfigDict(extra="forbid")


class _Rendered(CandidateReply):
    """Part of a rendered item (``content.render.candidate``). The renderer leaves out what
    does not apply, so optional fields are only sent when they were given: replies holding
    them are serialized with ``exclude_unset`` (which the other fields, all required, never
    lose)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class CandidateOption(_Rendered):
    """An option of an interaction: a choice, hot text, gap text, associable choice or
    hotspot (hotspots carry ``label``, ``shape`` and ``coords`` instead of ``content``)."""

    identifier: str
    content: str | None = Field(default=None, description="Sanitized HTML of the option.")
    text: str | None = Field(default=None, description="Plain text (inline choices).")
    match_max: int | None = None
    match_min: int | None = None
    image: bool | None = Field(default=None, description="A gap image rather than a gap text.")
    label: str | None = None
    shape: str | None = None
    coords: list[float] | None = None


class CandidateGap(_Rendered):
    identifier: str
    required: bool


class CandidateGraphic(_Rendered):
    """The picture a graphic interaction draws on (``src`` resolved to a fetchable URL)."""

    src: str | None = None
    media_type: str | None = None
    width: str | None = None
    height: str | None = None
    alt: str | None = None


class CandidateMedia(_Rendered):
    """The sound or video of a media interaction (``src`` resolved to a fetchable URL)."""

    kind: str = Field(description="audio or video")
    src: str | None = None
    width: str | None = None
    height: str | None = None


class CandidatePciModule(_Rendered):
    id: str
    urls: list[str] = Field(
        description="Where its file is: the primary path's, then the fallback's."
    )


PciScalar = bool | int | float | str
#: A variable's value: one value (a point or pair is a list of two), or a list of them.
PciValue = PciScalar | list[PciScalar] | list[list[PciScalar]]


class CandidatePciField(_Rendered):
    name: str
    base_type: str
    value: PciValue | None = None


class CandidatePciVariable(_Rendered):
    """A template or context variable given to a PCI: typed values, put in the QTI JSON
    binding by the frame."""

    name: str
    cardinality: str
    base_type: str | None = None
    value: PciValue | None = None
    fields: list[CandidatePciField] | None = Field(default=None, description="A record's fields.")


class CandidatePci(_Rendered):
    """What the player's sandboxed frame needs to run a portable custom interaction."""

    type_identifier: str
    module: str | None = None
    modules: list[CandidatePciModule]
    markup: str = Field(description="The interaction markup, sanitized HTML.")
    properties: dict[str, str] = Field(description="Its configuration (data-* attributes).")
    frame_stylesheets: list[str] = Field(
        default_factory=list,
        description="Its own style sheets (qti-stylesheet inside it), URLs of the item's media "
        "on this origin; they style its frame only.",
    )
    template_variables: list[CandidatePciVariable] = Field(
        default_factory=list,
        description="The item's template variables it names (qti-template-variable), under the "
        "name the PCI gets them by: this candidate's values of a cloned item. Never a response "
        "or outcome variable. The frame gives them to the PCI in the QTI JSON binding.",
    )
    context_variables: list[CandidatePciVariable] = Field(
        default_factory=list,
        description="The item's context variables it names (qti-context-variable): their "
        "declared values.",
    )


class CandidateLimits(_Rendered):
    """The constraints of an interaction that the player enforces or shows."""

    max_choices: int | None = None
    min_choices: int | None = None
    required: bool | None = None
    expected_length: int | None = None
    expected_lines: int | None = None
    pattern_mask: str | None = None
    base: int | None = None
    format: str | None = None
    max_strings: int | None = None
    min_strings: int | None = None
    max_associations: int | None = None
    min_associations: int | None = None
    lower_bound: float | None = None
    upper_bound: float | None = None
    step: float | None = None
    step_label: bool | None = None
    reverse: bool | None = None
    autostart: bool | None = None
    min_plays: int | None = None
    max_plays: int | None = Field(default=None, description="0 or absent: no limit.")
    loop: bool | None = None


class CandidateInteraction(_Rendered):
    """One interaction of a rendered item: how to read and fill its control (``dom_id``)."""

    type: InteractionType
    response_identifier: str
    cardinality: Cardinality | None
    base_type: BaseType | None
    dom_id: str
    prompt: str | None
    shuffled: bool
    options: list[CandidateOption] | None = None
    source_options: list[CandidateOption] | None = None
    target_options: list[CandidateOption] | None = None
    gaps: list[CandidateGap] | None = None
    hotspots: list[CandidateOption] | None = Field(
        default=None, description="The areas of a graphic gap match, where its options go."
    )
    graphic: CandidateGraphic | None = None
    media: CandidateMedia | None = None
    object: CandidateGraphic | None = Field(
        default=None, description="The picture a position object interaction places."
    )
    button_label: str | None = Field(
        default=None, description="The text of an end attempt interaction's button."
    )
    limits: CandidateLimits | None = None
    accept: list[str] | None = Field(default=None, description="Media types an upload accepts.")
    placeholder: str | None = None
    orientation: str | None = None
    pci: CandidatePci | None = Field(
        default=None, description="A portable custom interaction's modules and configuration."
    )


class CandidateFeedback(CandidateReply):
    """Feedback a candidate's answer selected, shown when the assessment's feedback policy
    allows it (see content/render/feedback.py)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["block", "inline", "modal"] = Field(
        description="Where the item holds it: a feedback block or inline of its body, or "
        "modal feedback (after the body)."
    )
    title: str | None = Field(description="A modal feedback's title, when it has one.")
    html: str = Field(description="The feedback as a sanitized polyglot HTML fragment.")


class CandidateStimulus(_Rendered):
    """A shared stimulus shown beside the item: its title and sanitized body, nothing
    else of the bank's record. Items that share one carry the same ``identifier``, so a
    player shows (and a screen reader reads) it once for the group."""

    identifier: str
    title: str
    language: str | None
    html: str = Field(description="The body as a sanitized polyglot HTML fragment.")


class CandidateItem(_Rendered):
    """An item as a candidate's player receives it: never a correct response, a mapping,
    response processing, a rubric or scoring notes (see content/render/candidate.py)."""

    format: int = Field(description="The payload format's version.")
    item_identifier: str
    language: str | None
    html: str = Field(description="The body as a sanitized polyglot HTML fragment.")
    interactions: list[CandidateInteraction]
    stimuli: list[CandidateStimulus] | None = Field(
        default=None,
        description="The shared stimuli to show beside the item, in order (only sent when "
        "the item has any).",
    )
