"""The problems scoring and results report, one class per case a client may tell apart.

Each has a stable ``code``: the problem's ``type`` is ``PROBLEM_TYPE_BASE + code``, and that
is what clients match on (never the ``detail`` sentence). A missing attempt is delivery's
``AttemptNotFound``, a missing item version the bank's ``ItemVersionNotFound`` and a missing
role the identity domain's ``RoleRequired``.
"""

from __future__ import annotations

from waa_ads.core.errors import Conflict, NotFound, Unprocessable
from waa_ads.core.i18n import N_

# --- the candidate's result ----------------------------------------------------------------


class ResultNotReleased(NotFound):
    """No result is released to the candidate yet: not scored, not released, or withheld
    (the candidate cannot tell these apart)."""

    code = "result-not-released"
    title = N_("Result not released")


# --- results, as admins manage them --------------------------------------------------------


class ResultNotFound(NotFound):
    code = "result-not-found"
    title = N_("Attempt not scored yet")


class AttemptNotScored(Conflict):
    """The attempt has no result to change yet (it is still being delivered or scored)."""

    code = "attempt-not-scored"
    title = N_("Attempt not scored yet")


class ResultIncomplete(Conflict):
    """The newest result still waits for scores (a rater, a model); it cannot be released."""

    code = "result-incomplete"
    title = N_("Result incomplete")


class AttemptNotReleasable(Conflict):
    code = "attempt-not-releasable"
    title = N_("Attempt cannot be released")


class ItemAlreadyScored(Conflict):
    """A machine's score offered for an item that is no longer waiting for one (a person
    scored it meanwhile): the person's score stands."""

    code = "item-already-scored"
    title = N_("Item already scored")


class ItemNotOnAttempt(NotFound):
    code = "item-not-on-attempt"
    title = N_("Item not on this attempt's form")


class ScoreOutOfRange(Unprocessable):
    code = "score-out-of-range"
    title = N_("Score out of range")


# --- answer-key corrections ----------------------------------------------------------------


class RescoreVersionsDiffer(Unprocessable):
    code = "rescore-versions-differ"
    title = N_("Versions of different items")
