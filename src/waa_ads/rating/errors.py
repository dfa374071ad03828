"""The problems rating reports, one class per case a client may tell apart (matched on the
stable ``code``; the problem's ``type`` is ``PROBLEM_TYPE_BASE + code``)."""

from __future__ import annotations

from waa_ads.core.errors import Conflict, Forbidden, Gone, NotFound, Unprocessable
from waa_ads.core.i18n import N_


class RatingPlanNotFound(NotFound):
    code = "rating-plan-not-found"
    title = N_("Rating plan not found")


class RatingPlanExists(Conflict):
    """An administration has one rating plan."""

    code = "rating-plan-exists"
    title = N_("Rating plan exists")


class RatingPlanInvalid(Unprocessable):
    """A plan naming people outside the organization, or items not on the test."""

    code = "rating-plan-invalid"
    title = N_("Invalid rating plan")


class RaterNotOnPlan(NotFound):
    code = "rater-not-on-plan"
    title = N_("Not a rater of this plan")


class LeaseNotFound(NotFound):
    code = "lease-not-found"
    title = N_("Lease not found")


class RatingNotAssigned(Forbidden):
    """The lease belongs to another rater, or the caller does not rate on this plan."""

    code = "rating-not-assigned"
    title = N_("Not assigned to this rating")


class LeaseExpired(Gone):
    """The lease ran out (and the response went back to the queue); take the next one."""

    code = "lease-expired"
    title = N_("Lease expired")


class LeaseAlreadyRated(Conflict):
    code = "lease-already-rated"
    title = N_("Lease already rated")


class RatingLevelsInvalid(Unprocessable):
    """Levels that do not fit the rubric: an unknown level, a criterion missing or
    unknown. ``invalid_params`` names each."""

    code = "rating-levels-invalid"
    title = N_("Levels do not fit the rubric")


class RaterPaused(Conflict):
    """The plan's lead paused this rater: no leases until resumed."""

    code = "rater-paused"
    title = N_("Rater paused")


class SeedInvalid(Unprocessable):
    code = "seed-invalid"
    title = N_("Invalid seeded response")


class ResponseFileNotFound(NotFound):
    """The leased response holds no uploaded file."""

    code = "response-file-not-found"
    title = N_("No file in this response")


class RatingPlanChanged(Conflict):
    """The plan changed since the version the edit was made from (``version`` says which
    it is now): reload it and make the change again."""

    code = "rating-plan-changed"
    title = N_("Rating plan changed meanwhile")


class RatingPlanInUse(Conflict):
    """A change that would leave ratings made under other rules: how scores are made, once
    responses were scored or sent to adjudication, or an item with ratings taken off."""

    code = "rating-plan-in-use"
    title = N_("Rating plan in use")
