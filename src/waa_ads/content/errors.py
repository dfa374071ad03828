"""The item bank's problems: one class per case a client may need to tell apart.

Each has a stable ``code`` (the problem ``type`` is ``PROBLEM_TYPE_BASE + code``); clients
match the code, never the detail sentence. The pure sub-packages raise their own cases
(they import nothing but ``core.errors``); they are re-exported here so this module lists
every problem the bank can answer with.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from waa_ads.content.interchange.qti.package import PackageBuildError, PackageError, UnsafePackage
from waa_ads.content.item.definition import ItemFormatError
from waa_ads.content.item.responses import ResponseShapeError
from waa_ads.content.media.check import (
    MediaError,
    MediaTooLarge,
    MediaTypeMismatch,
    MediaTypeNotAllowed,
    UnrecognizedMedia,
    UnsafeMedia,
)
from waa_ads.content.rubrics.document import RubricError, RubricScoringError
from waa_ads.core.errors import Conflict, Forbidden, NotFound, Unprocessable
from waa_ads.core.i18n import N_

if TYPE_CHECKING:
    from waa_ads.content.transfer import ImportReport

__all__ = [
    "MEDIA_REFUSALS",
    "BankInUse",
    "BankNotFound",
    "BankReviewerRequired",
    "BankSlugTaken",
    "BankWriteForbidden",
    "ImportRejected",
    "ItemFormatError",
    "ItemIdentifierChanged",
    "ItemIdentifierTaken",
    "ItemInUse",
    "ItemIsTranslation",
    "ItemNotFound",
    "ItemNotPublished",
    "ItemVersionNotFound",
    "ItemVersionStale",
    "ItemVersionWrongStatus",
    "LanguageNotSupported",
    "MediaError",
    "MediaNotFound",
    "MediaTooLarge",
    "MediaTypeMismatch",
    "MediaTypeNotAllowed",
    "NothingToImport",
    "PackageBuildError",
    "PackageError",
    "ResponseShapeError",
    "RubricError",
    "RubricKindChanged",
    "RubricNeedsExtendedText",
    "RubricNotFound",
    "RubricScoringError",
    "RubricSlugTaken",
    "RubricVersionNotFound",
    "StimulusIdentifierTaken",
    "StimulusInvalid",
    "StimulusMissing",
    "StimulusNotFound",
    "TranslationExists",
    "TranslationMismatch",
    "UnrecognizedMedia",
    "UnsafeMedia",
    "UnsafePackage",
]

#: What storing a media file may be refused with.
MEDIA_REFUSALS = (
    UnrecognizedMedia,
    MediaTypeNotAllowed,
    MediaTooLarge,
    MediaTypeMismatch,
    UnsafeMedia,
)

# --- banks -----------------------------------------------------------------------------------


class BankNotFound(NotFound):
    """No such bank in the organization, or one the caller may not read."""

    code = "item-bank-not-found"
    title = N_("Item bank not found")


class BankSlugTaken(Conflict):
    code = "item-bank-slug-taken"
    title = N_("Item bank slug taken")


class BankWriteForbidden(Forbidden):
    code = "item-bank-write-forbidden"
    title = N_("No write permission on this bank")


class BankReviewerRequired(Forbidden):
    """Changing the bank's settings, or publishing where the bank requires review, needs
    the reviewer permission on it."""

    code = "item-bank-reviewer-required"
    title = N_("Reviewer permission required")


class BankInUse(Conflict):
    """Deleting the bank would take items that an attempt or an assessment uses: archive
    it instead."""

    code = "item-bank-in-use"
    title = N_("Item bank is in use")


# --- items -----------------------------------------------------------------------------------


class ItemInUse(Conflict):
    """Deleting the item would take versions that an attempt, a result or an assessment
    uses: archive it instead."""

    code = "item-in-use"
    title = N_("Item is in use")


class ItemNotFound(NotFound):
    code = "item-not-found"
    title = N_("Item not found")


class ItemVersionNotFound(NotFound):
    code = "item-version-not-found"
    title = N_("Item version not found")


class ItemIdentifierTaken(Conflict):
    code = "item-identifier-taken"
    title = N_("Item identifier taken")


class ItemIdentifierChanged(Unprocessable):
    """A new version names another identifier than its item's: identifiers never change."""

    code = "item-identifier-changed"
    title = N_("Item identifier cannot change")


class ItemVersionStale(Conflict):
    """The edit names an ``expected_version`` that is no longer the newest."""

    code = "item-version-stale"
    title = N_("Item version is not the newest")


class ItemVersionWrongStatus(Conflict):
    """The workflow step needs the version in another status (submit: draft; publish: in
    review, or draft where review is not required; retire: published)."""

    code = "item-version-wrong-status"
    title = N_("Item version status does not allow this")


class ItemNotPublished(Conflict):
    code = "item-not-published"
    title = N_("Item has no published version")


class RubricNeedsExtendedText(Unprocessable):
    code = "rubric-needs-extended-text"
    title = N_("Rubric needs an extended-text interaction")


# --- languages and translations ---------------------------------------------------------------


class LanguageNotSupported(Unprocessable):
    """The language named is not one the product speaks (``core.i18n.LANGUAGES``)."""

    code = "language-not-supported"
    title = N_("Language not supported")


class TranslationMismatch(Unprocessable):
    """A translation must be answerable and scorable as its source: the same interactions,
    response identifiers, cardinalities, base types and choice identifiers."""

    code = "translation-mismatch"
    title = N_("Translation does not match its source")


class ItemIsTranslation(Conflict):
    """A translation is translated through its source, never itself."""

    code = "item-is-translation"
    title = N_("Item is a translation")


class TranslationExists(Conflict):
    """The item is already written in that language, or has a translation in it."""

    code = "translation-exists"
    title = N_("Translation already exists")


# --- media and rubrics -----------------------------------------------------------------------


class StimulusNotFound(NotFound):
    code = "stimulus-not-found"
    title = N_("Stimulus not found")


class StimulusIdentifierTaken(Conflict):
    code = "stimulus-identifier-taken"
    title = N_("Stimulus identifier taken")


class StimulusMissing(Unprocessable):
    """An item refers to a shared stimulus that its bank does not hold (and that what is
    imported with it does not bring); ``missing`` names each."""

    code = "stimulus-missing"
    title = N_("Shared stimulus missing")


class StimulusInUse(Conflict):
    """Deleting the stimulus would take what items are shown beside: archive it instead
    (``items``: how many items use it)."""

    code = "stimulus-in-use"
    title = N_("Shared stimulus in use")


class StimulusArchived(Unprocessable):
    """An item refers to an archived shared stimulus that it did not use before
    (``archived`` names each)."""

    code = "stimulus-archived"
    title = N_("Shared stimulus archived")


class StimulusInvalid(Unprocessable):
    """A stimulus document is malformed or unsupported (``detail`` names the element and
    line), or a stimulus identifier changes."""

    code = "stimulus-invalid"
    title = N_("Invalid shared stimulus")


class MediaNotFound(NotFound):
    code = "media-not-found"
    title = N_("Media not found")


class RubricNotFound(NotFound):
    code = "rubric-not-found"
    title = N_("Rubric not found")


class RubricVersionNotFound(NotFound):
    code = "rubric-version-not-found"
    title = N_("Rubric version not found")


class RubricSlugTaken(Conflict):
    code = "rubric-slug-taken"
    title = N_("Rubric slug taken")


class RubricKindChanged(Conflict):
    """A rubric keeps its kind (analytic, holistic...) across versions."""

    code = "rubric-kind-changed"
    title = N_("Rubric kind cannot change")


# --- import ----------------------------------------------------------------------------------


class NothingToImport(Unprocessable):
    code = "nothing-to-import"
    title = N_("Nothing to import")


class ImportRejected(Unprocessable):
    """Some items could not be imported, so none were (in partial mode: none of the items
    could be); ``report`` says why for each."""

    code = "import-rejected"
    title = N_("Import rejected")

    def __init__(self, report: ImportReport) -> None:
        rejected = [o for o in report.outcomes if o.status == "rejected"]
        first = rejected[0] if rejected else None
        detail = (
            f"{len(rejected)} of {len(report.outcomes)} items were rejected, so nothing was "
            f"imported; first: {first.source}: {first.reason}"
            if first
            else "nothing to import"
        )
        super().__init__(detail, extra={"report": report.as_dict()})
        self.report = report
