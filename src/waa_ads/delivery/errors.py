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
from waa_ads.core.i18n import N_
from waa_ads.delivery.state_machine import IllegalTransition

# --- starting ------------------------------------------------------------------------------


class AccessCodeInvalid(NotFound):
    code = "access-code-invalid"
    title = N_("Access code not valid")


class AdministrationNotOpen(Conflict):
    code = "administration-not-open"
    title = N_("Administration not open yet")


class AdministrationClosed(Gone):
    code = "administration-closed"
    title = N_("Administration closed")


class AttemptsExhausted(Conflict):
    code = "attempts-exhausted"
    title = N_("No attempts left")


# --- finding the attempt ------------------------------------------------------------------------


class AttemptNotFound(NotFound):
    """No such attempt for this caller: also a wrong or revoked credential, another
    candidate's attempt, or (for a proctor) an attempt they are not assigned to."""

    code = "attempt-not-found"
    title = N_("Attempt not found")


# --- the attempt's state -------------------------------------------------------------------


class AttemptNotStarted(Conflict):
    code = "attempt-not-started"
    title = N_("Attempt not started")


class AttemptPaused(Conflict):
    """The attempt is paused (a break or a proctor's pause). A save is kept in the history
    but is not the current response; submitting waits for the resume."""

    code = "attempt-paused"
    title = N_("Attempt paused")


class AttemptNotPaused(Conflict):
    code = "attempt-not-paused"
    title = N_("Attempt not paused")


class AttemptEnded(Conflict):
    code = "attempt-ended"
    title = N_("Attempt ended")


class AttemptChanged(Conflict):
    """Another request changed the attempt between our read and our guarded update."""

    code = "attempt-changed"
    title = N_("Attempt changed meanwhile")


class DeadlinePassed(Gone):
    """A save after the deadline plus the grace window: kept in the history, never scored."""

    code = "deadline-passed"
    title = N_("Deadline passed")


# --- responses and navigation ------------------------------------------------------------


class ItemClosed(Conflict):
    """Linear navigation: only the current item can be answered."""

    code = "item-closed"
    title = N_("Item closed")


class LastItem(Conflict):
    code = "last-item"
    title = N_("Last item")


class PositionOutOfRange(Unprocessable):
    """The position to record is not one of the form's (1 to the number of items)."""

    code = "position-out-of-range"
    title = N_("Position not on this attempt's form")


class ItemNotOnForm(Unprocessable):
    code = "item-not-on-form"
    title = N_("Item not on this attempt's form")


class ResponseInvalid(Unprocessable):
    """The value is not of the item's response shape (docs/response-shapes.md)."""

    code = "response-invalid"
    title = N_("Response of the wrong shape")


class UploadEmpty(Unprocessable):
    code = "upload-empty"
    title = N_("Empty file")


class UploadTooLarge(PayloadTooLarge):
    code = "upload-too-large"
    title = N_("File too large")


# --- breaks ------------------------------------------------------------------------------


class BreaksNotAllowed(Forbidden):
    code = "breaks-not-allowed"
    title = N_("Breaks not allowed")


class BreaksExhausted(Conflict):
    code = "breaks-exhausted"
    title = N_("No breaks left")


class NotOnBreak(Conflict):
    code = "not-on-break"
    title = N_("Not on a break")


# --- language ------------------------------------------------------------------------------


class LocaleNotOffered(Conflict):
    """The administration does not let its candidates switch to that language (the
    problem's ``locales`` lists those it does)."""

    code = "locale-not-offered"
    title = N_("Language not offered")


# --- integrity events ----------------------------------------------------------------------


class EventsRateLimited(TooManyRequests):
    code = "events-rate-limited"
    title = N_("Too many integrity events")


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
    LocaleNotOffered,
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
    "LocaleNotOffered",
    "NotOnBreak",
    "PositionOutOfRange",
    "ResponseInvalid",
    "UploadEmpty",
    "UploadTooLarge",
]
