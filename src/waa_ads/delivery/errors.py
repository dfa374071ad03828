"""The problems the attempt engine reports, one class per case a client may tell apart.

(A cancelled administration and a missing assessment or item version are the assessment
and bank domains' own classes, re-exported here with the rest.)

Each has a stable ``code``: the problem's ``type`` is ``PROBLEM_TYPE_BASE + code``, and that
is what the player and other clients match on (never the ``detail`` sentence). The refused
saves (:class:`DeadlinePassed`, :class:`AttemptPaused`, :class:`ItemClosed`) are rendered
without being raised, so that the history row of the refused save still commits; they carry
``current_seq`` in the problem body.
"""

from __future__ import annotations

from waa_ads.assessments.errors import AdministrationCancelled, AssessmentVersionNotFound
from waa_ads.content.errors import ItemVersionNotFound
from waa_ads.core.errors import (
    Conflict,
    DomainError,
    Forbidden,
    Gone,
    NotFound,
    PayloadTooLarge,
    TooManyRequests,
    Unprocessable,
)
from waa_ads.delivery.state_machine import IllegalTransition

# --- starting ------------------------------------------------------------------------------


class AccessCodeInvalid(NotFound):
    code = "access-code-invalid"
    title = "Access code not valid"


class AdministrationNotOpen(Conflict):
    code = "administration-not-open"
    title = "Administration not open yet"


class AdministrationClosed(Gone):
    code = "administration-closed"
    title = "Administration closed"


class AttemptsExhausted(Conflict):
    code = "attempts-exhausted"
    title = "No attempts left"


# --- finding the attempt ------------------------------------------------------------------------


class AttemptNotFound(NotFound):
    """No such attempt for this caller: also a wrong or revoked credential, another
    candidate's attempt, or (for a proctor) an attempt they are not assigned to."""

    code = "attempt-not-found"
    title = "Attempt not found"


# --- the attempt's state -------------------------------------------------------------------


class AttemptNotStarted(Conflict):
    code = "attempt-not-started"
    title = "Attempt not started"


class AttemptPaused(Conflict):
    """The attempt is paused (a break or a proctor's pause). A save is kept in the history
    but is not the current response; submitting waits for the resume."""

    code = "attempt-paused"
    title = "Attempt paused"


class AttemptNotPaused(Conflict):
    code = "attempt-not-paused"
    title = "Attempt not paused"


class AttemptEnded(Conflict):
    code = "attempt-ended"
    title = "Attempt ended"


class AttemptChanged(Conflict):
    """Another request changed the attempt between our read and our guarded update."""

    code = "attempt-changed"
    title = "Attempt changed meanwhile"


class DeadlinePassed(Gone):
    """A save after the deadline plus the grace window: kept in the history, never scored."""

    code = "deadline-passed"
    title = "Deadline passed"


# --- responses and navigation ------------------------------------------------------------


class ItemClosed(Conflict):
    """Linear navigation: only the current item can be answered."""

    code = "item-closed"
    title = "Item closed"


class LastItem(Conflict):
    code = "last-item"
    title = "Last item"


class PositionOutOfRange(Unprocessable):
    """The position to record is not one of the form's (1 to the number of items)."""

    code = "position-out-of-range"
    title = "Position not on this attempt's form"


class ItemNotOnForm(Unprocessable):
    code = "item-not-on-form"
    title = "Item not on this attempt's form"


class ResponseInvalid(Unprocessable):
    """The value is not of the item's response shape (docs/response-shapes.md)."""

    code = "response-invalid"
    title = "Response of the wrong shape"


class UploadEmpty(Unprocessable):
    code = "upload-empty"
    title = "Empty file"


class UploadTooLarge(PayloadTooLarge):
    code = "upload-too-large"
    title = "File too large"


# --- breaks ------------------------------------------------------------------------------


class BreaksNotAllowed(Forbidden):
    code = "breaks-not-allowed"
    title = "Breaks not allowed"


class BreaksExhausted(Conflict):
    code = "breaks-exhausted"
    title = "No breaks left"


class NotOnBreak(Conflict):
    code = "not-on-break"
    title = "Not on a break"


# --- integrity events ----------------------------------------------------------------------


class EventsRateLimited(TooManyRequests):
    code = "events-rate-limited"
    title = "Too many integrity events"


#: Every problem a delivery route may answer with, for documentation and tests.
ALL: tuple[type[DomainError], ...] = (
    AccessCodeInvalid,
    AdministrationCancelled,
    AdministrationNotOpen,
    AdministrationClosed,
    AttemptsExhausted,
    AttemptNotFound,
    AssessmentVersionNotFound,
    ItemVersionNotFound,
    AttemptNotStarted,
    AttemptPaused,
    AttemptNotPaused,
    AttemptEnded,
    AttemptChanged,
    IllegalTransition,
    DeadlinePassed,
    ItemClosed,
    LastItem,
    ItemNotOnForm,
    PositionOutOfRange,
    ResponseInvalid,
    UploadEmpty,
    UploadTooLarge,
    BreaksNotAllowed,
    BreaksExhausted,
    NotOnBreak,
    EventsRateLimited,
)

__all__ = [
    "ALL",
    "AccessCodeInvalid",
    "AdministrationCancelled",
    "AdministrationClosed",
    "AdministrationNotOpen",
    "AssessmentVersionNotFound",
    "AttemptChanged",
    "AttemptEnded",
    "AttemptNotFound",
    "AttemptNotPaused",
    "AttemptNotStarted",
    "AttemptPaused",
    "AttemptsExhausted",
    "BreaksExhausted",
    "BreaksNotAllowed",
    "DeadlinePassed",
    "EventsRateLimited",
    "IllegalTransition",
    "ItemClosed",
    "ItemNotOnForm",
    "ItemVersionNotFound",
    "LastItem",
    "NotOnBreak",
    "PositionOutOfRange",
    "ResponseInvalid",
    "UploadEmpty",
    "UploadTooLarge",
]
