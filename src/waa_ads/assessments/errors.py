"""The assessment domain's problems: one class per case a client may need to tell apart.

Each has a stable ``code`` (the problem ``type`` is ``PROBLEM_TYPE_BASE + code``); clients
match the code, never the detail sentence.
"""

from __future__ import annotations

from waa_ads.assessments import schemas
from waa_ads.core.errors import Conflict, NotFound, TooManyRequests, Unprocessable
from waa_ads.core.i18n import N_

# --- assessments -----------------------------------------------------------------------------


class AssessmentNotFound(NotFound):
    code = "assessment-not-found"
    title = N_("Assessment not found")


class AssessmentVersionNotFound(NotFound):
    code = "assessment-version-not-found"
    title = N_("Assessment version not found")


class AssessmentSlugTaken(Conflict):
    code = "assessment-slug-taken"
    title = N_("Assessment slug taken")


class AssessmentVersionStale(Conflict):
    """The edit names an ``expected_version`` that is no longer the newest."""

    code = "assessment-version-stale"
    title = N_("Assessment version is not the newest")


class AssessmentVersionNotDraft(Conflict):
    """Only a draft is published (and of two concurrent publishes, one finds it published)."""

    code = "assessment-version-not-draft"
    title = N_("Assessment version is not a draft")


class UnknownItem(Unprocessable):
    """The definition names an item that does not exist in the organization."""

    code = "unknown-item"
    title = N_("Unknown item")


class UnknownItemBank(Unprocessable):
    """A selection rule draws from an item bank that does not exist in the organization."""

    code = "unknown-item-bank"
    title = N_("Unknown item bank")


class ItemNotPublished(Unprocessable):
    """A fixed item of the definition has no published version to pin."""

    code = "assessment-item-not-published"
    title = N_("Item has no published version")


class SelectionUnsatisfiable(Unprocessable):
    """A selection rule draws more items than the bank has published ones matching it."""

    code = "selection-unsatisfiable"
    title = N_("Too few items match a selection rule")


class AdaptivePoolInvalid(Unprocessable):
    """An adaptive section's pool cannot run an adaptive test: items without right/wrong IRT
    parameters, unpublished items, fewer items than ``min_items``, or a content tag no pool
    item carries. ``problems`` lists each with its section (and item)."""

    code = "adaptive-pool-invalid"
    title = N_("Adaptive pool cannot run an adaptive test")


class SectionTimeLimitUnsupported(Unprocessable):
    """A section sets its own ``time_limit_s``, which delivery does not enforce (only the
    assessment's time limit is): refused rather than accepted and ignored."""

    code = "section-time-limit-unsupported"
    title = N_("Section time limits are not supported")


# --- administrations -------------------------------------------------------------------------


class AdministrationNotFound(NotFound):
    """No such administration in the organization, or one a proctor is not assigned to."""

    code = "administration-not-found"
    title = N_("Administration not found")


class AssessmentVersionNotPublished(Conflict):
    code = "assessment-version-not-published"
    title = N_("Only a published version can be administered")


class AdministrationWindowInvalid(Unprocessable):
    """The window's times lack a time zone, or it closes before it opens."""

    code = "administration-window-invalid"
    title = N_("Invalid administration window")


class AdministrationWindowOverlaps(Conflict):
    """The new window overlaps another administration of the same assessment where a
    candidate of this roster is also rostered."""

    code = "administration-window-overlaps"
    title = N_("Administration windows overlap")


class AdministrationCancelled(Conflict):
    code = "administration-cancelled"
    title = N_("Administration cancelled")


class UnknownProctor(Unprocessable):
    code = "unknown-proctor"
    title = N_("Not a proctor of this organization")


# --- rosters ---------------------------------------------------------------------------------


class RosterEntryNotFound(NotFound):
    code = "roster-entry-not-found"
    title = N_("Roster entry not found")


class AccessCodeRateLimited(TooManyRequests):
    """Too many unknown access codes from one client address within the window (codes
    are not to be guessed): the candidate's code routes refuse it until the window ends,
    a known code included. ``Retry-After`` says when."""

    code = "access-code-rate-limited"
    title = N_("Too many access code attempts")


class RosterCsvInvalid(Unprocessable):
    """The roster CSV as a whole cannot be read: not UTF-8, no usable header, unknown
    columns, no rows or too many."""

    code = "roster-csv-invalid"
    title = N_("Invalid roster CSV")


class RosterRejected(Unprocessable):
    """Some rows have problems, so no candidate was added; ``problems`` lists each row's."""

    code = "roster-rejected"
    title = N_("Roster rejected")

    def __init__(self, problems: list[schemas.RowProblem]) -> None:
        first = problems[0]
        super().__init__(
            f"{len(problems)} rows have problems, so no candidate was added; "
            f"first: row {first.row}: {first.problem}",
            extra={"problems": [p.model_dump() for p in problems]},
        )


# --- archiving and deleting --------------------------------------------------------------------


class AssessmentInUse(Conflict):
    """Attempts were made on one of the assessment's versions: deleting it would take what
    they used. Archive it instead."""

    code = "assessment-in-use"
    title = N_("Assessment is in use")


class AdministrationInUse(Conflict):
    """Attempts were made in the administration: deleting it would take what they used.
    Archive it instead."""

    code = "administration-in-use"
    title = N_("Administration is in use")


class UnknownIntegrityPolicy(Unprocessable):
    """The definition's ``integrity_policy`` names no policy of the organization (refused
    at publish; save the policy under /api/v1/integrity/policies first)."""

    code = "unknown-integrity-policy"
    title = N_("Unknown integrity policy")
