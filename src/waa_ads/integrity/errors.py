"""The problems integrity reports, one class per case a client may tell apart (matched on
the stable ``code``; the problem's ``type`` is ``PROBLEM_TYPE_BASE + code``)."""

from __future__ import annotations

from waa_ads.core.errors import Conflict, Forbidden, NotFound, Unprocessable
from waa_ads.core.i18n import N_
from waa_ads.integrity.rules import PolicyProblem

__all__ = [
    "AppealNotAllowed",
    "IntegrityPolicyNotFound",
    "NotAnalysed",
    "NothingToAppeal",
    "PolicyProblem",
    "QueueCursorInvalid",
    "ReviewNotAllowed",
    "SimilarityNotRun",
]


class IntegrityPolicyNotFound(NotFound):
    code = "integrity-policy-not-found"
    title = N_("Integrity policy not found")


class NotAnalysed(NotFound):
    """The attempt has no integrity summary yet (it has not ended, or the analysis has not
    run); ``POST .../analyse`` runs it."""

    code = "integrity-not-analysed"
    title = N_("Not analysed yet")


class SimilarityNotRun(NotFound):
    code = "similarity-not-run"
    title = N_("No similarity analysis yet")


class ReviewNotAllowed(Forbidden):
    """A decision the caller's role does not allow: only admins invalidate."""

    code = "integrity-decision-not-allowed"
    title = N_("Decision not allowed")


class AppealNotAllowed(Forbidden):
    """The attempt's integrity policy does not let candidates respond."""

    code = "appeal-not-allowed"
    title = N_("Appeals not allowed")


class NothingToAppeal(Conflict):
    """Only a warning or an invalidation can be appealed."""

    code = "nothing-to-appeal"
    title = N_("Nothing to appeal")


class QueueCursorInvalid(Unprocessable):
    code = "invalid-cursor"
    title = N_("Invalid cursor")
