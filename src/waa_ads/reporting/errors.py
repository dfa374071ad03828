"""The problems reporting answers, one class per case a client may tell apart (each with a
stable ``code``; the problem ``type`` is ``PROBLEM_TYPE_BASE + code``). A missing attempt is
delivery's ``AttemptNotFound``, a missing administration the assessments'
``AdministrationNotFound`` and a missing role the identity domain's ``RoleRequired``."""

from __future__ import annotations

from waa_ads.core.errors import Conflict, DomainError, NotFound, TooManyRequests, Unprocessable
from waa_ads.core.i18n import N_


class ResultNotReleasedForReport(Conflict):
    """The attempt has no released result (not scored, not released, or withheld): no
    scorecard. Staff may ask for a preview instead (``preview=true``)."""

    code = "result-not-released-for-report"
    title = N_("Result not released")


class ResultNotScoredForReport(Conflict):
    """Even a preview needs a result: the attempt has not been scored yet."""

    code = "result-not-scored-for-report"
    title = N_("Attempt not scored yet")


class ReleaseNotRecorded(Conflict):
    """The released revision has no ``result.released`` event in the audit chain, so no
    receipt can be bound to it (the chain is damaged, or the release predates auditing)."""

    code = "release-not-recorded"
    title = N_("Release not in the audit chain")


class ReceiptNotFound(NotFound):
    """No scorecard was issued with this verification code."""

    code = "receipt-not-found"
    title = N_("Unknown verification code")


class ReportJobNotFound(NotFound):
    code = "report-job-not-found"
    title = N_("Report job not found")


class ReportNotReady(Conflict):
    """The bulk job has not finished: its archive does not exist yet."""

    code = "report-not-ready"
    title = N_("Report not ready")


class DownloadLinkInvalid(NotFound):
    """The download link was altered or has expired (404: a link tells nothing)."""

    code = "download-link-invalid"
    title = N_("Download link invalid or expired")


class ReportFormatUnsupported(Unprocessable):
    code = "report-format-unsupported"
    title = N_("Report format not supported")


class ScorecardUnreadable(DomainError):
    """A file offered for verification is not a scorecard this system issued."""

    status_code = 422
    code = "scorecard-unreadable"
    title = N_("Not a readable scorecard")


class VerifyRateLimited(TooManyRequests):
    """Too many verifications from one client in a minute (codes are not to be guessed)."""

    code = "verify-rate-limited"
    title = N_("Too many verifications")


class ScorecardRateLimited(TooManyRequests):
    """One access code asked for more scorecards in an hour than
    ``WAA_CANDIDATE_SCORECARDS_PER_HOUR`` allows (each is rendered anew)."""

    code = "scorecard-rate-limited"
    title = N_("Too many scorecard downloads")
