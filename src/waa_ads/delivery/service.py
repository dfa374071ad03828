"""The attempt engine: start, resume, server-owned time, autosave, submit, expiry, proctor
controls, breaks and integrity-event intake.

Every state change goes through :func:`transition`: the pure state machine says whether it
is legal, and a guarded ``UPDATE ... WHERE id = :id AND state = :from`` makes it atomic, so
two concurrent requests can never both end an attempt. Services flush; the request or task
edge commits, so a 2xx is only sent after the save is durable.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import uuid
import weakref
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from waa_ads.assessments import service as assessment_service
from waa_ads.assessments.assembly import FormEntry, assemble
from waa_ads.assessments.code_limits import CodeAttempts
from waa_ads.assessments.definition import AssessmentDefinition, BreakPolicy, Navigation, Pinned
from waa_ads.assessments.models import Administration, AssessmentVersion, RosterEntry
from waa_ads.audit import service as audit
from waa_ads.audit.service import Actor
from waa_ads.auth.deps import Principal
from waa_ads.auth.models import Candidate, Organization, Role
from waa_ads.content import service as content_service
from waa_ads.content import stimuli as content_stimuli
from waa_ads.content.item import templates
from waa_ads.content.item.definition import ItemDefinition
from waa_ads.content.item.responses import ResponseShapeError, validate_response
from waa_ads.content.models import ItemVersion
from waa_ads.content.schemas import CandidateItem
from waa_ads.core import i18n, language_choice
from waa_ads.core.db import Database, utcnow, uuid7
from waa_ads.core.errors import Conflict, DomainError
from waa_ads.core.security import constant_time_equals, keyed_hash, media_signature
from waa_ads.core.settings import Settings
from waa_ads.core.tasks import enqueue_after_commit
from waa_ads.delivery import adaptive, errors, live, schemas, timers, variants
from waa_ads.delivery.models import (
    Attempt,
    AttemptItem,
    IntegrityEvent,
    Response,
    ResponseEvent,
    SaveStatus,
)
from waa_ads.delivery.state_machine import (
    ENDED,
    ENDED_BY,
    LIVE,
    AttemptState,
    EndReason,
    PauseKind,
    next_state,
)

SCORING_TASK = "scoring.score_attempt"
#: The integrity engine analyses an attempt once it ends (named, so delivery does not
#: import integrity; its periodic sweep catches any that a lost job missed).
INTEGRITY_TASK = "integrity.analyse_attempt"
EXPIRY_BATCH = 200

# --- caches of immutable published content ---------------------------------------------


class _Lru(OrderedDict[Any, Any]):
    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def put(self, key: Any, value: Any) -> Any:
        self[key] = value
        self.move_to_end(key)
        while len(self) > self.size:
            self.popitem(last=False)
        return value


# Every cache here is bounded by its entry count, so a process's memory levels off once
# they are full; the sizes keep that ceiling small (docs/reliability.md, the soak).
_versions: _Lru = _Lru(256)
# (attempt id, ref) -> (item version id, position): a form only ever grows, and a row
# once presented never changes, so it can be remembered. About 0.5 KiB an entry, so at
# most about 25 MiB; a row forgotten costs one read of its attempt's form on a save.
FORM_ROWS_CACHED = 50_000
_form_rows: _Lru = _Lru(FORM_ROWS_CACHED)
_items: _Lru = _Lru(4096)
# (item version, shuffle seed, media key) -> the item as a candidate sees it. With choices
# shuffled the seed is the attempt's, so most entries serve one attempt; each is a rendered
# item (about 7 KiB for a short one, far more with long passages), and the entries of
# ended attempts stay until pushed out. Sized for the items candidates are on now (a miss
# renders the item again), not for a day of attempts.
PAYLOADS_CACHED = 1024
_payloads: _Lru = _Lru(PAYLOADS_CACHED)
# (item version, template seed) -> an attempt's instance of a cloned item whose choices
# its values show or hide, for checking that attempt's saves (:func:`shape_item`).
_instances: _Lru = _Lru(PAYLOADS_CACHED)
# attempt id -> its seed, for the one-statement save of a cloned item (an attempt's seed
# never changes); filled with the form rows.
_attempt_seeds: _Lru = _Lru(FORM_ROWS_CACHED)


@dataclass(frozen=True)
class PublishedVersion:
    id: uuid.UUID
    definition: AssessmentDefinition
    pinned: Pinned


async def published_version(session: AsyncSession, version_id: uuid.UUID) -> PublishedVersion:
    """A published assessment version, parsed once per process (they never change)."""
    cached = _versions.get(version_id)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    row = await session.get(AssessmentVersion, version_id)
    if row is None or row.pinned is None:
        raise errors.AssessmentVersionNotFound("assessment version not found")
    parsed = PublishedVersion(
        row.id,
        AssessmentDefinition.model_validate(row.definition),
        Pinned.model_validate(row.pinned),
    )
    return _versions.put(version_id, parsed)  # type: ignore[no-any-return]


async def item_definition(session: AsyncSession, item_version_id: uuid.UUID) -> ItemDefinition:
    cached = _items.get(item_version_id)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    row = await session.get(ItemVersion, item_version_id)
    if row is None:
        raise errors.ItemVersionNotFound("item version not found")
    return _items.put(item_version_id, ItemDefinition.from_dict(row.definition))  # type: ignore[no-any-return]


async def candidate_item(
    session: AsyncSession,
    settings: Settings,
    item_version_id: uuid.UUID,
    seed: int | None,
    *,
    template_seed: int | None = None,
    locale: str | None = None,
    supports: Iterable[str] = (),
) -> CandidateItem:
    """An item version rendered for a candidate (with this seed's option order), its media
    behind signed URLs. Checked against the closed :class:`CandidateItem` once,
    then remembered: published versions never change. ``template_seed`` chooses a cloned
    item's values (content/item/templates.py); it is part of the cache key, so two
    candidates with different values never share a rendering. ``locale`` (the attempt's;
    the locale in force when ``None``) is the language of the labels the renderer adds
    (content/render/candidate.py), and is part of the key too: a French candidate never
    gets a rendering made for an English one. ``supports``: the candidate's accessibility
    supports (their roster entry's), whose catalog cards the rendering shows; part of the
    key as well."""
    language = locale if i18n.is_supported(locale) else i18n.current()
    shown_supports = frozenset(supports)
    key = (
        item_version_id,
        seed,
        template_seed,
        language,
        tuple(sorted(shown_supports)),
        media_signature(settings, "key", "fingerprint"),
    )
    cached = _payloads.get(key)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    row = await session.get(ItemVersion, item_version_id)
    if row is None:
        raise errors.ItemVersionNotFound("item version not found")
    organization = str(row.organization_id)

    def signed(sha256: str) -> str:
        signature = media_signature(settings, organization, sha256)
        return f"/api/v1/media/signed/{organization}/{sha256}?sig={signature}"

    shown = await content_stimuli.for_item_version(session, row, media_url=signed)
    payload = content_service.candidate_payload(
        row,
        seed,
        media_url=signed,
        template_seed=template_seed,
        locale=language,
        shared_stimuli=shown,
        supports=shown_supports,
    )
    return _payloads.put(key, CandidateItem.model_validate(payload))  # type: ignore[no-any-return]


# --- credentials -------------------------------------------------------------------------


def credential_for(settings: Settings, attempt: Attempt) -> str:
    """A bearer credential bound to one attempt (and its current epoch). Derived, not
    stored: the same access code always hands out the same credential, so several tabs and
    devices work together, and bumping the epoch revokes every copy."""
    mac = keyed_hash(settings, "attempt", f"{attempt.id}:{attempt.credential_epoch}")
    return f"{attempt.id}.{attempt.credential_epoch}.{mac[:43]}"


#: (attempt id, epoch) -> the credential expected for them: HMACs are cheap, but saves are
#: the hottest request there is.
_credentials: _Lru = _Lru(100_000)


def credential_epoch(
    settings: Settings, attempt_id: uuid.UUID, credential: str | None
) -> int | None:
    """The epoch a credential was issued for when it is a genuine credential for this
    attempt (its MAC checks out), else None. Whether that epoch is still the attempt's
    current one is for the database to say."""
    if not credential:
        return None
    _, _, rest = credential.partition(".")
    epoch_text, _, _ = rest.partition(".")
    if not epoch_text.isdigit() or len(epoch_text) > 9:
        return None
    epoch = int(epoch_text)
    key = (attempt_id, epoch)
    expected = _credentials.get(key)
    if expected is None:
        mac = keyed_hash(settings, "attempt", f"{attempt_id}:{epoch}")
        expected = _credentials.put(key, f"{attempt_id}.{epoch}.{mac[:43]}")
    return epoch if constant_time_equals(credential, expected) else None


async def attempt_for_credential(
    session: AsyncSession,
    settings: Settings,
    attempt_id: uuid.UUID,
    credential: str | None,
    *,
    share_lock: bool = False,
) -> Attempt:
    """The attempt a candidate's credential opens; 404 for anything else (another
    candidate's attempt looks like no attempt at all).

    ``share_lock`` (saves) reads the row ``FOR SHARE`` on PostgreSQL: a transition that ends
    the attempt then waits for the save in flight, so a save acknowledged as accepted is
    always one the scoring sees. (SQLite serializes writers anyway.)"""
    attempt = await session.get(
        Attempt, attempt_id, with_for_update={"read": True} if share_lock else None
    )
    if attempt is None or not credential:
        raise errors.AttemptNotFound(f"attempt {attempt_id} not found")
    if not constant_time_equals(credential, credential_for(settings, attempt)):
        raise errors.AttemptNotFound(f"attempt {attempt_id} not found")
    return attempt


# --- transitions -------------------------------------------------------------------------


async def transition(
    session: AsyncSession,
    attempt: Attempt,
    event: str,
    *,
    actor: Actor,
    reason: str | None = None,
    values: dict[str, Any] | None = None,
) -> AttemptState:
    """Apply ``event`` atomically: legal per the state machine, and only if the attempt is
    still in the state we read (else 409). An event that ends the attempt records how it
    ended (``ended_because``). Audited."""
    before = attempt.state
    after = next_state(before, event)
    changes: dict[str, Any] = {"state": after.value, "updated_at": utcnow(), **(values or {})}
    if event in ENDED_BY:
        changes["ended_because"] = ENDED_BY[event]
    changed = (
        await session.execute(
            update(Attempt)
            .where(Attempt.id == attempt.id, Attempt.state == before)
            .values(**changes)
            .returning(Attempt.id)
        )
    ).first()
    if changed is None:
        raise errors.AttemptChanged(
            f"the attempt changed meanwhile (it was {before}); reload and retry"
        )
    await session.refresh(attempt)
    await audit.record(
        session,
        organization_id=attempt.organization_id,
        action=f"attempt.{event}",
        actor=actor,
        target_type="attempt",
        target_id=attempt.id,
        data={"from": before, "to": after.value, **({"reason": reason} if reason else {})},
    )
    if after in (AttemptState.submitted, AttemptState.expired, AttemptState.terminated):
        enqueue_after_commit(session, SCORING_TASK, attempt_id=str(attempt.id))
        enqueue_after_commit(session, INTEGRITY_TASK, attempt_id=str(attempt.id))
    live.changed(session, attempt, event)
    return after


def _candidate_actor(attempt: Attempt) -> Actor:
    return Actor("candidate", str(attempt.candidate_id))


def not_in_progress(attempt: Attempt) -> DomainError:
    """Why an attempt that is not in progress cannot take a save or move on."""
    if attempt.state == AttemptState.paused:
        return errors.AttemptPaused("the attempt is paused")
    if attempt.state in ENDED:
        return errors.AttemptEnded(f"the attempt is {attempt.state}")
    return errors.AttemptNotStarted(f"the attempt is {attempt.state}")


# --- start -------------------------------------------------------------------------------


@dataclass(frozen=True)
class AttemptLanguages:
    """The language an attempt is delivered in, and those its candidate may switch to
    (empty when the administration allows no switching)."""

    locale: str
    locales: list[str]


def attempt_languages(
    attempt_locale: str | None,
    *,
    candidate: str | None,
    administration: str | None,
    administration_locales: Sequence[str],
    organization: str | None,
    accept_language: str | None = None,
) -> AttemptLanguages:
    """An attempt's languages from the rows it belongs to: its own ``locale`` once set
    (at start), else the one :func:`language_choice.attempt_locale` resolves."""
    locales = list(administration_locales or ())
    locale = (
        attempt_locale
        if i18n.is_supported(attempt_locale)
        else language_choice.attempt_locale(
            candidate=candidate,
            administration=administration,
            administration_locales=locales,
            organization=organization,
            accept_language=accept_language,
        )
    )
    assert locale is not None
    return AttemptLanguages(
        locale, language_choice.switchable_locales(administration, locales, organization)
    )


async def languages(
    session: AsyncSession, attempt: Attempt, *, accept_language: str | None = None
) -> AttemptLanguages:
    """:func:`attempt_languages` for an attempt, reading its administration, organization
    and candidate (from the session's identity map when it holds them)."""
    administration = await session.get(Administration, attempt.administration_id)
    organization = await session.get(Organization, attempt.organization_id)
    candidate = (
        await session.get(Candidate, attempt.candidate_id)
        if not i18n.is_supported(attempt.locale)
        else None
    )
    return attempt_languages(
        attempt.locale,
        candidate=candidate.locale if candidate is not None else None,
        administration=administration.locale if administration is not None else None,
        administration_locales=administration.locales if administration is not None else [],
        organization=organization.default_locale if organization is not None else None,
        accept_language=accept_language,
    )


@dataclass
class Started:
    attempt: Attempt
    created: bool
    credential: str
    #: The attempt's languages when the start read them already (else :func:`languages`).
    languages: AttemptLanguages | None = None


async def _compute_deadline(
    session: AsyncSession, attempt: Attempt, entry: RosterEntry | None = None
) -> datetime:
    version = await published_version(session, attempt.assessment_version_id)
    administration = await session.get(Administration, attempt.administration_id)
    assert administration is not None
    assert attempt.started_at is not None
    if entry is None:
        entry = await session.get(RosterEntry, attempt.roster_entry_id)
    assert entry is not None
    return timers.deadline(
        started_at=attempt.started_at,
        limit_s=version.definition.time_limit_s,
        multiplier=entry.extra_time_multiplier,
        extension_s=attempt.extension_s,
        uncounted_pause_s=attempt.uncounted_pause_s,
        window_closes_at=administration.closes_at,
    )


def start_refusal(
    administration: Administration, now: datetime, *, allowed: int, latest: Attempt | None
) -> DomainError | None:
    """Why a new attempt cannot be started now (None when it can): the administration's
    state and window, then the attempts left. (A live attempt is resumed, never refused.)"""
    return _start_refusal(
        administration.cancelled_at,
        administration.opens_at,
        administration.closes_at,
        now,
        allowed=allowed,
        used=latest.number if latest is not None else 0,
        latest_scheduled=latest is not None and latest.state == AttemptState.scheduled,
    )


def _start_refusal(
    cancelled_at: datetime | None,
    opens_at: datetime,
    closes_at: datetime,
    now: datetime,
    *,
    allowed: int,
    used: int,
    latest_scheduled: bool,
) -> DomainError | None:
    if cancelled_at is not None:
        return errors.AdministrationCancelled("this administration was cancelled")
    if now < opens_at:
        return errors.AdministrationNotOpen(f"this administration opens at {opens_at.isoformat()}")
    if now >= closes_at:
        return errors.AdministrationClosed(f"this administration closed at {closes_at.isoformat()}")
    if not latest_scheduled and used >= allowed:
        return errors.AttemptsExhausted(f"all {allowed} attempts allowed have been used")
    return None


def break_allowance(policy: BreakPolicy, entry: RosterEntry) -> tuple[bool, int]:
    """Whether the candidate may take breaks, and how many in all: the assessment's
    (when it allows breaks) plus the candidate's extra breaks."""
    total = (policy.max_breaks if policy.allowed else 0) + entry.extra_breaks
    return total > 0, total


def question_count(pinned: Pinned) -> int:
    """How many questions a form of this published version has (fixed items, plus the
    number each selection rule draws)."""
    return sum(
        section.draw if section.draw is not None else len(section.items)
        for section in pinned.sections
    )


@dataclass
class Overview:
    """What an access code opens, without starting anything: the roster entry, its
    administration and assessment, every attempt (newest last), and what may happen next."""

    entry: RosterEntry
    administration: Administration
    version: PublishedVersion
    attempts: list[Attempt]
    allowed: int
    live: Attempt | None
    refusal: DomainError | None


async def overview(session: AsyncSession, settings: Settings, access_code: str) -> Overview:
    """The candidate's side of an access code: their attempts (a live one past its
    deadline is expired first) and whether a new one could start now. Starts nothing."""
    entry = await assessment_service.find_by_code(session, settings, access_code)
    if entry is None:
        raise errors.AccessCodeInvalid("this access code is not valid")
    attempts = list(
        (
            await session.execute(
                select(Attempt).where(Attempt.roster_entry_id == entry.id).order_by(Attempt.number)
            )
        ).scalars()
    )
    latest = attempts[-1] if attempts else None
    if latest is not None:
        await expire_if_due(session, settings, latest)
    administration = await session.get(Administration, entry.administration_id)
    assert administration is not None
    version = await published_version(session, administration.assessment_version_id)
    allowed = version.definition.attempts_allowed + entry.extra_attempts
    live = latest if latest is not None and latest.state in LIVE else None
    refusal = (
        None
        if live is not None
        else start_refusal(administration, utcnow(), allowed=allowed, latest=latest)
    )
    return Overview(entry, administration, version, attempts, allowed, live, refusal)


async def _form(
    session: AsyncSession, version: PublishedVersion, seed: int
) -> tuple[list[tuple[str, FormEntry]], adaptive.Selected | None]:
    """The form a seed draws from a version, each item with its ref on the form: the item's
    identifier, suffixed ``-2``, ``-3``... when the form holds it more than once; then the
    first item of an adaptive section, when there is one (with its step to keep)."""
    refs: dict[str, int] = {}
    form: list[tuple[str, FormEntry]] = []
    for entry_form in assemble(version.definition, version.pinned, seed):
        definition = await item_definition(session, entry_form.item_version_id)
        ref = definition.identifier
        if ref in refs:
            refs[ref] += 1
            ref = f"{ref}-{refs[ref]}"
        else:
            refs[ref] = 1
        form.append((ref, entry_form))
    chosen = adaptive.first_selection(version.definition, version.pinned, seed, len(form) + 1)
    if chosen is not None:
        form.append((chosen.ref, chosen.entry))
    return form, chosen


# --- start in a few statements (PostgreSQL) ----------------------------------------------

_ATTEMPT_COLUMNS = (
    "id, organization_id, administration_id, roster_entry_id, candidate_id, "
    "assessment_version_id, number, state, seed, started_at, deadline_at, paused_at, "
    "pause_kind, uncounted_pause_s, breaks_taken, extension_s, current_position, ended_at, "
    "end_reason, credential_epoch, created_at, updated_at, ended_because, locale"
)
_ATTEMPT_FIELDS = tuple(_ATTEMPT_COLUMNS.split(", "))

# The roster entry an access code opens (what ``find_by_code`` reads), its administration
# and the entry's latest attempt, in one read.
_START_LOOKUP = """
SELECT re.id AS entry_id, re.organization_id AS entry_organization_id,
       re.candidate_id AS entry_candidate_id, re.administration_id AS entry_administration_id,
       re.extra_time_multiplier, re.extra_attempts, re.code_revoked_at,
       ad.assessment_version_id AS administration_version_id, ad.opens_at, ad.closes_at,
       ad.cancelled_at, ad.locale AS administration_locale,
       ad.locales AS administration_locales, c.locale AS candidate_locale,
       o.default_locale AS organization_locale,
       a.id AS a_id, a.organization_id AS a_organization_id,
       a.administration_id AS a_administration_id, a.roster_entry_id AS a_roster_entry_id,
       a.candidate_id AS a_candidate_id, a.assessment_version_id AS a_assessment_version_id,
       a.number AS a_number, a.state AS a_state, a.seed AS a_seed,
       a.started_at AS a_started_at, a.deadline_at AS a_deadline_at,
       a.paused_at AS a_paused_at, a.pause_kind AS a_pause_kind,
       a.uncounted_pause_s AS a_uncounted_pause_s, a.breaks_taken AS a_breaks_taken,
       a.extension_s AS a_extension_s, a.current_position AS a_current_position,
       a.ended_at AS a_ended_at, a.end_reason AS a_end_reason,
       a.credential_epoch AS a_credential_epoch, a.created_at AS a_created_at,
       a.updated_at AS a_updated_at, a.ended_because AS a_ended_because,
       a.locale AS a_locale
FROM roster_entry re
JOIN administration ad ON ad.id = re.administration_id
JOIN candidate c ON c.id = re.candidate_id
JOIN organization o ON o.id = re.organization_id
LEFT JOIN LATERAL (
    SELECT * FROM attempt WHERE attempt.roster_entry_id = re.id ORDER BY number DESC LIMIT 1
) a ON true
WHERE re.access_code_hmac = $1
"""

# The new attempt, already in progress, and its whole form, in one statement. When the
# same candidate's start has just inserted this number (a double click, two tabs), the
# ``ON CONFLICT`` waits for that transaction and, once it has committed, inserts nothing:
# the caller then resumes the attempt the other start made.
_START_INSERT = """
WITH started AS (
    INSERT INTO attempt (
        id, organization_id, administration_id, roster_entry_id, candidate_id,
        assessment_version_id, number, state, seed, started_at, deadline_at, paused_at,
        pause_kind, uncounted_pause_s, breaks_taken, extension_s, current_position,
        ended_at, end_reason, credential_epoch, created_at, updated_at, ended_because, locale
    )
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, NULL, NULL, 0, 0, 0, 1, NULL, NULL, 0,
            $10, $10, NULL, $18)
    ON CONFLICT (roster_entry_id, number) DO NOTHING
    RETURNING id
), presented AS (
    INSERT INTO attempt_item
        (attempt_id, ref, position, section, item_id, item_version_id, weight, presented_at)
    SELECT started.id, f.ref, f.position, f.section, f.item_id, f.item_version_id, f.weight, $10
    FROM started,
         unnest($12::text[], $13::integer[], $14::text[], $15::uuid[], $16::uuid[],
                $17::float8[]) AS f(ref, position, section, item_id, item_version_id, weight)
)
SELECT id FROM started
"""
_START_WINNER = """
SELECT
    id, organization_id, administration_id, roster_entry_id, candidate_id,
    assessment_version_id, number, state, seed, started_at, deadline_at, paused_at,
    pause_kind, uncounted_pause_s, breaks_taken, extension_s, current_position, ended_at,
    end_reason, credential_epoch, created_at, updated_at, ended_because, locale
FROM attempt WHERE roster_entry_id = $1 AND number = $2
"""


def _attempt_of(row: Any, prefix: str = "") -> Attempt:
    """A detached :class:`Attempt` holding a row read with plain SQL (for the reply)."""
    values = {field: row[prefix + field] for field in _ATTEMPT_FIELDS}
    if values["ended_because"] is not None:
        values["ended_because"] = EndReason(values["ended_because"])
    return Attempt(**values)


def _row_languages(
    row: Any, attempt_locale: str | None, accept_language: str | None
) -> AttemptLanguages:
    locales = row["administration_locales"]
    if isinstance(locales, str):  # a driver without a JSON codec
        locales = json.loads(locales)
    return attempt_languages(
        attempt_locale,
        candidate=row["candidate_locale"],
        administration=row["administration_locale"],
        administration_locales=locales or [],
        organization=row["organization_locale"],
        accept_language=accept_language,
    )


async def start_at_once(
    session: AsyncSession,
    settings: Settings,
    access_code: str,
    *,
    accept_language: str | None = None,
) -> Started | None:
    """:func:`start` in two statements and the audit record, for the common cases on
    PostgreSQL: a new attempt (nothing started yet, or the last attempt ended), or the
    resumption of an attempt in progress and in time. Returns None, having written
    nothing, for anything else (an unknown or revoked code, a paused attempt, one past its
    deadline, one left ``scheduled``); :func:`start` then goes the general way, which
    answers those as before.

    The same rules as the general way: the administration's window and state, the
    attempts allowed, the deadline (``timers.deadline``), the state machine's ``start``,
    the ``attempt.start`` audit event in the same transaction, one attempt per number
    (``uq_attempt_roster_entry_id_number``). It runs in the session's transaction (the
    request's edge commits it): the insert goes through SQLAlchemy's connection, so the
    transaction has begun before anything is written."""
    if not 8 <= len(access_code) <= 64:
        return None  # never a valid code (``find_by_code``)
    conn = await session.connection()
    driver = (await conn.get_raw_connection()).driver_connection
    assert driver is not None
    row = await driver.fetchrow(_START_LOOKUP, assessment_service.code_hmac(settings, access_code))
    if row is None or row["code_revoked_at"] is not None:
        return None
    now = utcnow()
    if row["a_id"] is not None:
        state = row["a_state"]
        if state == AttemptState.in_progress:
            deadline_at = row["a_deadline_at"]
            if deadline_at is not None and timers.is_late(
                deadline_at=deadline_at, now=now, grace_s=settings.save_grace_s
            ):
                return None  # expired first, the general way
            latest = _attempt_of(row, "a_")
            return Started(
                latest,
                False,
                credential_for(settings, latest),
                _row_languages(row, latest.locale, accept_language),
            )
        if state not in ENDED:
            return None  # paused (maybe a break to end first) or left scheduled
    used = row["a_number"] or 0
    version = await published_version(session, row["administration_version_id"])
    allowed = version.definition.attempts_allowed + row["extra_attempts"]
    refusal = _start_refusal(
        row["cancelled_at"],
        row["opens_at"],
        row["closes_at"],
        now,
        allowed=allowed,
        used=used,
        latest_scheduled=False,
    )
    if refusal is not None:
        raise refusal
    form, chosen = await _form(session, version, seed := secrets.randbelow(2**31))
    deadline = timers.deadline(
        started_at=now,
        limit_s=version.definition.time_limit_s,
        multiplier=row["extra_time_multiplier"],
        extension_s=0,
        uncounted_pause_s=0.0,
        window_closes_at=row["closes_at"],
    )
    state_after = next_state(AttemptState.scheduled, "start")
    attempt_id = uuid7()
    chosen_languages = _row_languages(row, None, accept_language)
    created = (
        await conn.exec_driver_sql(
            _START_INSERT,
            (
                attempt_id,
                row["entry_organization_id"],
                row["entry_administration_id"],
                row["entry_id"],
                row["entry_candidate_id"],
                row["administration_version_id"],
                used + 1,
                state_after.value,
                seed,
                now,
                deadline,
                [ref for ref, _ in form],
                [f.position for _, f in form],
                [f.section for _, f in form],
                [f.item_id for _, f in form],
                [f.item_version_id for _, f in form],
                [f.weight for _, f in form],
                chosen_languages.locale,
            ),
        )
    ).first()
    if created is None:
        # Another request started this very attempt a moment ago: resume it.
        winner = await driver.fetchrow(_START_WINNER, row["entry_id"], used + 1)
        if winner is None:
            return None  # gone again meanwhile: the general way decides
        existing = _attempt_of(winner)
        return Started(
            existing,
            False,
            credential_for(settings, existing),
            _row_languages(row, existing.locale, accept_language),
        )
    if chosen is not None:
        session.add(adaptive.step_row(attempt_id, chosen, now))
        await session.flush()
    attempt = Attempt(
        id=attempt_id,
        organization_id=row["entry_organization_id"],
        administration_id=row["entry_administration_id"],
        roster_entry_id=row["entry_id"],
        candidate_id=row["entry_candidate_id"],
        assessment_version_id=row["administration_version_id"],
        number=used + 1,
        state=state_after.value,
        seed=seed,
        started_at=now,
        deadline_at=deadline,
        paused_at=None,
        pause_kind=None,
        uncounted_pause_s=0.0,
        breaks_taken=0,
        extension_s=0,
        current_position=1,
        ended_at=None,
        end_reason=None,
        credential_epoch=0,
        created_at=now,
        updated_at=now,
        ended_because=None,
        locale=chosen_languages.locale,
    )
    await audit.record(
        session,
        organization_id=attempt.organization_id,
        action="attempt.start",
        actor=_candidate_actor(attempt),
        target_type="attempt",
        target_id=attempt.id,
        data={"from": AttemptState.scheduled.value, "to": state_after.value},
    )
    live.changed(session, attempt, "start")
    # The first save in this process then needs no read of the form (rows never change).
    for ref, entry_form in form:
        _form_rows.put((attempt_id, ref), FormRow(entry_form.item_version_id, entry_form.position))
    _linear.put(attempt_id, version.definition.navigation is Navigation.linear)
    return Started(attempt, True, credential_for(settings, attempt), chosen_languages)


#: The starts of this process that may be using the database at once, per event loop. A
#: storm of starts (a whole hall pressing "start" together) then waits here, first come
#: first served and without a time limit, instead of in the connection pool's queue, which
#: gives up after 30 seconds (a 500) and lets newcomers overtake.
_start_slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)


def _start_slot(settings: Settings) -> asyncio.Semaphore:
    loop = asyncio.get_running_loop()
    slots = _start_slots.get(loop)
    if slots is None:
        # Half the pool (which holds twice ``database_pool_size``): saves and views keep
        # the other half, and a start committing at the edge still finds a connection.
        slots = _start_slots[loop] = asyncio.Semaphore(max(1, settings.database_pool_size))
    return slots


async def start(
    session: AsyncSession,
    settings: Settings,
    access_code: str,
    *,
    accept_language: str | None = None,
    guard: CodeAttempts | None = None,
) -> Started:
    """Start or resume with an access code: the live attempt if there is one, else a new
    attempt while the candidate has attempts left and the window is open. On PostgreSQL
    the common cases take :func:`start_at_once`; starts wait their turn for the database
    first come first served (:func:`_start_slot`). A new attempt's language is resolved
    by :func:`language_choice.attempt_locale` (``accept_language``: the browser's).
    ``guard``: the client's unknown-code counter, checked once the start has its turn
    (AccessCodeRateLimited past its limit, the code not looked at)."""
    async with _start_slot(settings):
        if guard is not None:
            await guard.refuse_if_exhausted(session)
        return await _start(session, settings, access_code, accept_language)


async def _start(
    session: AsyncSession, settings: Settings, access_code: str, accept_language: str | None
) -> Started:
    if session.get_bind().dialect.name == "postgresql":
        quick = await start_at_once(session, settings, access_code, accept_language=accept_language)
        if quick is not None:
            return quick
    entry = await assessment_service.find_by_code(session, settings, access_code)
    if entry is None:
        raise errors.AccessCodeInvalid("this access code is not valid")
    return await _start_entry(session, settings, entry, accept_language)


async def start_for_entry(
    session: AsyncSession,
    settings: Settings,
    entry: RosterEntry,
    *,
    accept_language: str | None = None,
) -> Started:
    """Start or resume the attempt of a roster entry the caller has already identified
    without its access code (a learner arriving from an LMS by LTI): the same rules as
    :func:`start`, the same credential."""
    async with _start_slot(settings):
        return await _start_entry(session, settings, entry, accept_language)


async def _start_entry(
    session: AsyncSession,
    settings: Settings,
    entry: RosterEntry,
    accept_language: str | None = None,
) -> Started:
    latest = (
        await session.execute(
            select(Attempt)
            .where(Attempt.roster_entry_id == entry.id)
            .order_by(Attempt.number.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    if latest is not None:
        await expire_if_due(session, settings, latest)
        if latest.state in (AttemptState.in_progress, AttemptState.paused):
            return Started(latest, False, credential_for(settings, latest))
    administration = await session.get(Administration, entry.administration_id)
    assert administration is not None
    now = utcnow()
    version = await published_version(session, administration.assessment_version_id)
    allowed = version.definition.attempts_allowed + entry.extra_attempts
    used = latest.number if latest is not None else 0
    refusal = start_refusal(administration, now, allowed=allowed, latest=latest)
    if refusal is not None:
        raise refusal
    if latest is not None and latest.state == AttemptState.scheduled:
        attempt = latest
    else:
        attempt = Attempt(
            organization_id=entry.organization_id,
            administration_id=administration.id,
            roster_entry_id=entry.id,
            candidate_id=entry.candidate_id,
            assessment_version_id=administration.assessment_version_id,
            number=used + 1,
            state=AttemptState.scheduled.value,
            seed=secrets.randbelow(2**31),
        )
        session.add(attempt)
        try:
            async with session.begin_nested():
                await session.flush()
        except IntegrityError:
            # Another request started this very attempt a moment ago: resume it.
            session.expunge(attempt)
            existing = (
                await session.execute(
                    select(Attempt).where(
                        Attempt.roster_entry_id == entry.id, Attempt.number == used + 1
                    )
                )
            ).scalar_one()
            return Started(existing, False, credential_for(settings, existing))
    form, chosen = await _form(session, version, attempt.seed)
    if chosen is not None:
        session.add(adaptive.step_row(attempt.id, chosen, now))
    for ref, entry_form in form:
        session.add(
            AttemptItem(
                attempt_id=attempt.id,
                ref=ref,
                position=entry_form.position,
                section=entry_form.section,
                item_id=entry_form.item_id,
                item_version_id=entry_form.item_version_id,
                weight=entry_form.weight,
                presented_at=now,
            )
        )
    attempt.started_at = now
    chosen_languages = await languages(session, attempt, accept_language=accept_language)
    attempt.locale = chosen_languages.locale
    await session.flush()
    deadline_at = await _compute_deadline(session, attempt, entry)
    await transition(
        session,
        attempt,
        "start",
        actor=_candidate_actor(attempt),
        values={"started_at": now, "deadline_at": deadline_at},
    )
    return Started(attempt, True, credential_for(settings, attempt))


# --- time --------------------------------------------------------------------------------


BREAK_KINDS = (PauseKind.candidate_break, PauseKind.counted_break)


async def end_overdue_break(session: AsyncSession, attempt: Attempt) -> bool:
    """End a candidate's break that has lasted the assessment's ``max_break_s``: the
    attempt resumes as of the moment the break's time was up (a break that stops the clock
    stops it for ``max_break_s`` at most; from then on the time runs). Audited as
    ``attempt.resume`` by the clock."""
    if (
        attempt.state != AttemptState.paused
        or attempt.pause_kind not in BREAK_KINDS
        or attempt.paused_at is None
    ):
        return False
    version = await published_version(session, attempt.assessment_version_id)
    longest = version.definition.breaks.max_break_s
    if (utcnow() - attempt.paused_at).total_seconds() < longest:
        return False
    try:
        await _resume(
            session, attempt, Actor("system", "clock"), "break time over", paused_s=longest
        )
    except Conflict:
        await session.refresh(attempt)
    return True


async def expire_if_due(session: AsyncSession, settings: Settings, attempt: Attempt) -> bool:
    """Expire a live attempt whose deadline (plus the grace window) has passed (after
    ending a break that has lasted its longest)."""
    if attempt.state not in (AttemptState.in_progress, AttemptState.paused):
        return False
    await end_overdue_break(session, attempt)
    if attempt.deadline_at is None:
        return False
    now = utcnow()
    frozen = (
        attempt.paused_at
        if attempt.state == AttemptState.paused and not _pause_counts(attempt)
        else None
    )
    if frozen is not None:
        return False
    if not timers.is_late(deadline_at=attempt.deadline_at, now=now, grace_s=settings.save_grace_s):
        return False
    try:
        await transition(
            session,
            attempt,
            "expire",
            actor=Actor("system", "clock"),
            values={"ended_at": attempt.deadline_at, "end_reason": "time ran out"},
        )
    except Conflict:
        await session.refresh(attempt)
    return True


def _pause_counts(attempt: Attempt) -> bool:
    return attempt.pause_kind == PauseKind.counted_break


def remaining(attempt: Attempt) -> int | None:
    if attempt.deadline_at is None:
        return None
    if attempt.state not in (AttemptState.in_progress, AttemptState.paused):
        return 0
    return timers.remaining_s(
        deadline_at=attempt.deadline_at,
        now=utcnow(),
        paused_at=attempt.paused_at,
        pause_counts=_pause_counts(attempt),
    )


async def sweep_expired(db: Database, settings: Settings, *, batch: int = EXPIRY_BATCH) -> int:
    """Expire live attempts past their deadline plus grace, in bounded batches, each in its
    own transaction (so the sweep never holds locks for long)."""
    total = 0
    while True:
        cutoff = utcnow() - timedelta(seconds=settings.save_grace_s)
        async with db.transaction() as session:
            due = (
                (
                    await session.execute(
                        select(Attempt)
                        .where(
                            # A paused attempt whose pause stops the clock is not due.
                            (Attempt.state == AttemptState.in_progress.value)
                            | (
                                (Attempt.state == AttemptState.paused.value)
                                & (Attempt.pause_kind == PauseKind.counted_break.value)
                            ),
                            Attempt.deadline_at < cutoff,
                        )
                        .order_by(Attempt.deadline_at)
                        .limit(batch)
                        # Lock the batch before the first audit record takes the chain's
                        # head: a late save holds its attempt FOR SHARE and then wants the
                        # head to expire it, so waiting on its row while holding the head
                        # would deadlock. A row a save holds is skipped; that save expires
                        # the attempt itself.
                        .with_for_update(skip_locked=True)
                    )
                )
                .scalars()
                .all()
            )
            expired = 0
            for attempt in due:
                if await expire_if_due(session, settings, attempt):
                    expired += 1
        total += expired
        if len(due) < batch or expired == 0:
            return total


async def _live_batches(
    db: Database, condition: Any, *, batch: int = EXPIRY_BATCH
) -> AsyncIterator[tuple[AsyncSession, list[Attempt]]]:
    """Live attempts matching ``condition``, in bounded batches by id, each batch in its own
    transaction (yielded with its session), so that a large administration never holds
    locks for long."""
    after: uuid.UUID | None = None
    while True:
        async with db.transaction() as session:
            stmt = (
                select(Attempt)
                .where(condition, Attempt.state.in_([s.value for s in LIVE]))
                .order_by(Attempt.id)
                .limit(batch)
            )
            if after is not None:
                stmt = stmt.where(Attempt.id > after)
            rows = list((await session.execute(stmt)).scalars())
            if rows:
                yield session, rows
        if len(rows) < batch:
            return
        after = rows[-1].id


async def sweep_overdue_breaks(db: Database, settings: Settings) -> int:
    """End the breaks that have lasted their longest (and expire what is then due), also
    for candidates who never come back; bounded batches, each in its own transaction."""
    cutoff = utcnow() - timedelta(seconds=30)  # no break may be shorter
    condition = (Attempt.state == AttemptState.paused.value) & (
        Attempt.pause_kind.in_([k.value for k in BREAK_KINDS]) & (Attempt.paused_at < cutoff)
    )
    ended = 0
    async for session, attempts in _live_batches(db, condition):
        for attempt in attempts:
            if await end_overdue_break(session, attempt):
                ended += 1
                await expire_if_due(session, settings, attempt)
    return ended


async def recompute_deadlines(
    db: Database,
    settings: Settings,
    *,
    administration_id: uuid.UUID | None = None,
    roster_entry_id: uuid.UUID | None = None,
    reason: str,
) -> int:
    """Compute again the deadline of every live attempt of an administration (its window
    changed) or of a roster entry (its accommodations changed); an attempt whose new
    deadline has passed expires. Each change is audited as ``attempt.deadline_changed``.
    Returns how many deadlines moved."""
    if administration_id is not None:
        condition = Attempt.administration_id == administration_id
    elif roster_entry_id is not None:
        condition = Attempt.roster_entry_id == roster_entry_id
    else:
        raise ValueError("an administration or a roster entry is needed")
    moved = 0
    async for session, attempts in _live_batches(db, condition):
        for attempt in attempts:
            before = attempt.deadline_at
            after = await _compute_deadline(session, attempt)
            if before == after:
                continue
            changed = (
                await session.execute(
                    update(Attempt)
                    .where(Attempt.id == attempt.id, Attempt.state == attempt.state)
                    .values(deadline_at=after)
                    .returning(Attempt.id)
                )
            ).first()
            if changed is None:
                continue  # it ended or paused meanwhile; the next change computes again
            await session.refresh(attempt)
            moved += 1
            await audit.record(
                session,
                organization_id=attempt.organization_id,
                action="attempt.deadline_changed",
                actor=Actor("system", "clock"),
                target_type="attempt",
                target_id=attempt.id,
                data={
                    "from": before.isoformat() if before else None,
                    "to": after.isoformat(),
                    "reason": reason,
                },
            )
            await expire_if_due(session, settings, attempt)
    return moved


async def end_cancelled_attempts(db: Database, administration_id: uuid.UUID | None = None) -> int:
    """Terminate the live attempts of cancelled administrations (one, or all of them): each
    ends as ``terminated`` and goes to scoring like any ended attempt."""
    cancelled = select(Administration.id).where(Administration.cancelled_at.is_not(None))
    if administration_id is not None:
        cancelled = cancelled.where(Administration.id == administration_id)
    ended = 0
    async for session, attempts in _live_batches(db, Attempt.administration_id.in_(cancelled)):
        for attempt in attempts:
            try:
                await transition(
                    session,
                    attempt,
                    "terminate",
                    actor=Actor("system", "administration"),
                    reason="the administration was cancelled",
                    values={
                        "ended_at": utcnow(),
                        "end_reason": "the administration was cancelled",
                    },
                )
            except Conflict:
                continue  # it ended meanwhile
            ended += 1
    return ended


# --- the candidate's view ----------------------------------------------------------------


async def form_items(session: AsyncSession, attempt: Attempt) -> list[AttemptItem]:
    return list(
        (
            await session.execute(
                select(AttemptItem)
                .where(AttemptItem.attempt_id == attempt.id)
                .order_by(AttemptItem.position)
            )
        ).scalars()
    )


async def view(session: AsyncSession, settings: Settings, attempt: Attempt) -> schemas.AttemptView:
    """What the candidate sees: state, remaining time, the reachable items rendered
    without answer keys, and their own latest responses (so a reload resumes)."""
    await expire_if_due(session, settings, attempt)
    version = await published_version(session, attempt.assessment_version_id)
    definition = version.definition
    items = await form_items(session, attempt)
    # Paused (a break or a proctor's pause, with the clock stopped): no items are shown.
    live = attempt.state == AttemptState.in_progress
    if definition.navigation is Navigation.linear:
        reachable = [i for i in items if i.position <= attempt.current_position]
    else:
        reachable = items
    responses = {
        r.item_ref: r
        for r in (
            await session.execute(select(Response).where(Response.attempt_id == attempt.id))
        ).scalars()
    }
    seed = attempt.seed if definition.shuffle_choices else None
    entry = await session.get(RosterEntry, attempt.roster_entry_id)
    assert entry is not None
    rendered = []
    # Each item in the attempt's language where it has a variant in it (delivery/variants.py).
    shown = await variants.deliver(
        session, attempt, reachable if live else [], lambda v: item_definition(session, v)
    )
    for item in reachable if live else []:
        definition_shown = await item_definition(session, shown[item.ref])
        template_seed = (
            templates.template_seed(attempt.seed, item.ref)
            if definition_shown.is_template
            else None
        )
        rendered.append(
            schemas.AttemptViewItem(
                ref=item.ref,
                position=item.position,
                section=item.section,
                item=await candidate_item(
                    session,
                    settings,
                    shown[item.ref],
                    seed,
                    template_seed=template_seed,
                    locale=attempt.locale,
                    supports=entry.accessibility_supports or (),
                ),
                response=_response_read(responses.get(item.ref)),
            )
        )
    breaks_allowed, breaks_total = break_allowance(definition.breaks, entry)
    candidate = await session.get(Candidate, attempt.candidate_id)
    organization = await session.get(Organization, attempt.organization_id)
    assert organization is not None
    spoken = await languages(session, attempt)
    return schemas.AttemptView(
        attempt=attempt_read(attempt),
        remaining_s=remaining(attempt),
        breaks=schemas.BreaksRead(
            allowed=breaks_allowed,
            remaining=max(0, breaks_total - attempt.breaks_taken),
            max_break_s=definition.breaks.max_break_s,
            count_against_time=definition.breaks.count_against_time,
        ),
        navigation=definition.navigation,
        allow_review=definition.allow_review,
        allow_flags=definition.allow_flags,
        title=definition.title,
        candidate_name=None if candidate is None or candidate.erased_at else candidate.full_name,
        organization_name=organization.name,
        item_count=len(items),
        current_position=attempt.current_position,
        more_items=bool(adaptive.adaptive_sections(definition))
        and not adaptive.finished(definition, await adaptive.steps(session, attempt.id)),
        items=rendered,
        locale=spoken.locale,
        locales=spoken.locales,
    )


def _response_read(response: Response | None) -> schemas.ResponseRead | None:
    if response is None:
        return None
    return schemas.ResponseRead(
        seq=response.seq,
        value=response.value.get("value") if response.value is not None else None,
        flagged=response.flagged,
        time_spent_ms=response.time_spent_ms,
    )


def attempt_read(attempt: Attempt) -> schemas.AttemptRead:
    """The attempt as its candidate sees it (the proctor's reason for ending it is not
    shown; ``ended_because`` says how it ended)."""
    return schemas.AttemptRead(
        id=attempt.id,
        state=AttemptState(attempt.state),
        number=attempt.number,
        started_at=attempt.started_at,
        deadline_at=attempt.deadline_at,
        paused=attempt.state == AttemptState.paused,
        pause_kind=PauseKind(attempt.pause_kind) if attempt.pause_kind else None,
        ended_at=attempt.ended_at,
        ended_because=attempt.ended_because,
        administration_id=attempt.administration_id,
    )


def attempt_summary(attempt: Attempt) -> schemas.AttemptSummary:
    """The attempt as its proctors list it."""
    return schemas.AttemptSummary(
        id=attempt.id,
        state=AttemptState(attempt.state),
        number=attempt.number,
        candidate_id=attempt.candidate_id,
        started_at=attempt.started_at,
        deadline_at=attempt.deadline_at,
        remaining_s=remaining(attempt),
        ended_at=attempt.ended_at,
        end_reason=attempt.end_reason,
        pause_kind=PauseKind(attempt.pause_kind) if attempt.pause_kind else None,
    )


# --- autosave ----------------------------------------------------------------------------


#: The problem each refused save is answered with, and its explanation.
_REFUSALS: dict[SaveStatus, tuple[type[DomainError], str]] = {
    SaveStatus.late: (
        errors.DeadlinePassed,
        "the time for this attempt is over; your answer was kept but does not count",
    ),
    SaveStatus.paused: (
        errors.AttemptPaused,
        "the attempt is paused; your answer was kept but is not the current one",
    ),
    SaveStatus.closed: (
        errors.ItemClosed,
        "linear navigation: only the current item can be answered; your answer was kept",
    ),
}


@dataclass
class SaveResult:
    """``status``: accepted, stale (an older or replayed seq), or refused but kept in the
    history: late (past the deadline plus grace), paused, closed (linear navigation)."""

    status: SaveStatus
    seq: int
    current_seq: int

    @property
    def accepted(self) -> bool:
        return self.status == SaveStatus.accepted

    @property
    def refusal(self) -> DomainError | None:
        """The problem a refused save is answered with (with ``current_seq``), or None.
        The caller renders it rather than raising it, so the save's history row commits."""
        refused = _REFUSALS.get(self.status)
        if refused is None:
            return None
        error, detail = refused
        return error(detail, extra={"current_seq": self.current_seq})


@dataclass(frozen=True, slots=True)
class FormRow:
    item_version_id: uuid.UUID
    position: int


async def form_item(session: AsyncSession, attempt: Attempt, ref: str) -> FormRow:
    """Where ``ref`` sits on the attempt's form; 422 when it is not on it."""
    key = (attempt.id, ref)
    cached = _form_rows.get(key)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    item_row = await session.get(AttemptItem, key)
    if item_row is None:
        raise errors.ItemNotOnForm(f"item {ref!r} is not on this attempt's form")
    return _form_rows.put(key, FormRow(item_row.item_version_id, item_row.position))  # type: ignore[no-any-return]


def shape_item(
    item_version_id: uuid.UUID, item: ItemDefinition, attempt_seed: int, ref: str
) -> ItemDefinition:
    """The item whose shapes check one attempt's responses to ``item`` (at ``ref`` on its
    form): the attempt's own instance when ``item`` is a cloned item whose values show or
    hide choices (``templates.shapes_vary``), so a choice the candidate was not shown is
    refused; else ``item`` itself, every instance having its shapes. Instances are
    remembered, as the rendered items are."""
    if not item.is_template or not templates.shapes_vary(item):
        return item
    key = (item_version_id, templates.template_seed(attempt_seed, ref))
    cached = _instances.get(key)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    return _instances.put(key, templates.instantiate(item, key[1]))  # type: ignore[no-any-return]


def check_upload(item: ItemDefinition, value: dict[str, Any]) -> None:
    """422 unless the item takes a file and accepts this one (type, shape)."""
    _normalize(item, value)


def _normalize(item: ItemDefinition, value: Any) -> dict[str, Any]:
    """The response in the item's shapes: a bare value for an item with one response
    declaration, or a mapping of response identifiers for several. 422 naming the problem."""
    declarations = item.response_declarations
    if len(declarations) == 1:
        declaration = declarations[0]
        per_id = {declaration.identifier: value}
    else:
        if value is not None and not isinstance(value, dict):
            ids = ", ".join(d.identifier for d in declarations)
            raise errors.ResponseInvalid(
                f"this item has several responses ({ids}); send an object keyed by them"
            )
        per_id = dict(value or {})
        unknown = set(per_id) - {d.identifier for d in declarations}
        if unknown:
            raise errors.ResponseInvalid(
                f"unknown response identifiers: {', '.join(sorted(unknown))}"
            )
    normalized: dict[str, Any] = {}
    for declaration in declarations:
        if declaration.identifier not in per_id:
            continue
        try:
            normalized[declaration.identifier] = validate_response(
                declaration,
                per_id[declaration.identifier],
                item.interaction_for(declaration.identifier),
            )
        except ResponseShapeError as exc:
            raise errors.ResponseInvalid(exc.detail) from None
    return normalized


async def save_response(
    session: AsyncSession,
    settings: Settings,
    attempt: Attempt,
    ref: str,
    *,
    seq: int,
    value: Any,
    flagged: bool | None = None,
    time_spent_ms: int | None = None,
) -> SaveResult:
    """Autosave. The highest ``seq`` wins; an older or replayed seq is answered with
    ``accepted: false`` and the current seq. Saves to a paused attempt or after the deadline
    plus grace are refused but kept in the history, marked, never scored: they come back
    as a status (not an exception) so that the caller's transaction still commits them."""
    item_row = await form_item(session, attempt, ref)
    item = shape_item(
        item_row.item_version_id,
        await item_definition(session, item_row.item_version_id),
        attempt.seed,
        ref,
    )
    normalized = _normalize(item, value)
    stored = {"value": value, "normalized": normalized}
    now = utcnow()

    async def keep(status: SaveStatus) -> None:
        session.add(
            ResponseEvent(
                attempt_id=attempt.id,
                item_ref=ref,
                seq=seq,
                value=stored,
                flagged=flagged,
                time_spent_ms=time_spent_ms,
                status=status,
                received_at=now,
            )
        )
        await session.flush()

    async def current_seq() -> int:
        found = (
            await session.execute(
                select(Response.seq).where(
                    Response.attempt_id == attempt.id, Response.item_ref == ref
                )
            )
        ).scalar_one_or_none()
        return int(found or 0)

    late = attempt.deadline_at is not None and timers.is_late(
        deadline_at=attempt.deadline_at, now=now, grace_s=settings.save_grace_s
    )
    if attempt.state in ENDED or (attempt.state == AttemptState.in_progress and late):
        await keep(SaveStatus.late)
        await expire_if_due(session, settings, attempt)
        return SaveResult(SaveStatus.late, seq, await current_seq())
    if attempt.state == AttemptState.paused:
        await keep(SaveStatus.paused)
        return SaveResult(SaveStatus.paused, seq, await current_seq())
    if attempt.state != AttemptState.in_progress:
        raise not_in_progress(attempt)
    version = await published_version(session, attempt.assessment_version_id)
    _linear.put(attempt.id, version.definition.navigation is Navigation.linear)
    if (
        version.definition.navigation is Navigation.linear
        and item_row.position != attempt.current_position
    ):
        await keep(SaveStatus.closed)
        return SaveResult(SaveStatus.closed, seq, await current_seq())

    values = {
        "attempt_id": attempt.id,
        "item_ref": ref,
        "seq": seq,
        "value": stored,
        "flagged": bool(flagged) if flagged is not None else False,
        "time_spent_ms": time_spent_ms or 0,
        "updated_at": now,
    }
    insert = (
        sqlite_insert(Response)
        if session.get_bind().dialect.name == "sqlite"
        else pg_insert(Response)
    )
    stmt = insert.values(values)
    update_set: dict[str, Any] = {
        "seq": stmt.excluded.seq,
        "value": stmt.excluded.value,
        "updated_at": stmt.excluded.updated_at,
        "time_spent_ms": stmt.excluded.time_spent_ms,
    }
    if flagged is not None:
        update_set["flagged"] = stmt.excluded.flagged
    upsert = stmt.on_conflict_do_update(
        index_elements=["attempt_id", "item_ref"],
        set_=update_set,
        where=Response.seq < stmt.excluded.seq,
    ).returning(Response.seq)
    won = (await session.execute(upsert)).first()
    if won is None:
        await keep(SaveStatus.stale)
        return SaveResult(SaveStatus.stale, seq, await current_seq())
    await keep(SaveStatus.accepted)
    return SaveResult(SaveStatus.accepted, seq, seq)


# --- autosave in one statement (PostgreSQL) -----------------------------------------------

#: attempt id -> whether its assessment's navigation is linear (a version never changes).
_linear: _Lru = _Lru(200_000)

# One statement, one round trip, one transaction of its own (no BEGIN/COMMIT round trips):
# read the attempt, decide, upsert with the seq guard, keep the save in the history.
#
# Why ``FOR SHARE``, and why it is enough (PostgreSQL, READ COMMITTED):
# * A transition that ends the attempt is an ``UPDATE attempt`` (``transition``). It waits
#   for this share lock, so it commits after this save, and the scoring it enqueues after
#   its commit sees the save. The other way round, if the ending committed first, or while
#   this statement waited for the row, the locking read returns the row's newest version
#   (READ COMMITTED re-reads a locked row that changed), so the save sees the attempt
#   ended and writes nothing. A plain read would not do: its snapshot is taken when the
#   statement starts, and an ending that commits in between would go unseen, leaving an
#   accepted save that the scoring might miss.
# * The lock is not an extra write per save: ``response_event.attempt_id`` references the
#   attempt, so inserting the history row takes ``FOR KEY SHARE`` on the same row anyway;
#   taking ``FOR SHARE`` first makes that check find the row already locked by us.
# * The ``ON CONFLICT`` arbiter sees the newest committed response row whatever the
#   snapshot, so the highest seq wins across concurrent saves; a stale save writes only
#   its history row.
# Anything but an in-progress, in-time attempt with this credential's epoch (and, when
# navigation is linear, this item current) writes nothing here and goes the general way
# (``save_response``), which keeps late, paused and closed saves and answers not found.
_SAVE_ONE_STATEMENT = """
WITH current_attempt AS (
    SELECT state, credential_epoch, deadline_at, current_position
    FROM attempt WHERE id = $1
    FOR SHARE
), open_attempt AS (
    SELECT 1 FROM current_attempt
    WHERE credential_epoch = $2
      AND state = 'in_progress'
      AND (deadline_at IS NULL OR deadline_at >= $3)
      AND ($4::integer IS NULL OR current_position = $4)
), saved AS (
    INSERT INTO response AS r
        (attempt_id, item_ref, seq, value, flagged, time_spent_ms, updated_at)
    SELECT $1, $5, $6, $7::jsonb, coalesce($8::boolean, false), coalesce($9::bigint, 0), $10
    FROM open_attempt
    ON CONFLICT (attempt_id, item_ref) DO UPDATE
        SET seq = excluded.seq,
            value = excluded.value,
            updated_at = excluded.updated_at,
            time_spent_ms = excluded.time_spent_ms,
            flagged = CASE WHEN $8::boolean IS NULL THEN r.flagged ELSE excluded.flagged END
        WHERE r.seq < excluded.seq
    RETURNING r.seq
), kept AS (
    INSERT INTO response_event
        (attempt_id, item_ref, seq, value, flagged, time_spent_ms, status, received_at)
    SELECT $1, $5, $6, $7::jsonb, $8::boolean, $9::bigint,
           CASE WHEN EXISTS (SELECT 1 FROM saved) THEN 'accepted' ELSE 'stale' END, $10
    FROM open_attempt
)
SELECT EXISTS (SELECT 1 FROM open_attempt) AS open, EXISTS (SELECT 1 FROM saved) AS won
"""
_CURRENT_SEQ = "SELECT seq FROM response WHERE attempt_id = $1 AND item_ref = $2"
_FORM = """
SELECT ai.ref, ai.item_version_id, ai.position, a.assessment_version_id, a.seed
FROM attempt a JOIN attempt_item ai ON ai.attempt_id = a.id
WHERE a.id = $1
"""


async def _learn_form(conn: Any, attempt_id: uuid.UUID) -> None:
    """Remember where each item presented so far sits on the attempt's form, and whether
    its navigation is linear when this process knows its version: one read for the
    attempt's first save here, instead of one per item (presented rows never change)."""
    version_id = None
    for row in await conn.fetch(_FORM, attempt_id):
        _form_rows.put((attempt_id, row["ref"]), FormRow(row["item_version_id"], row["position"]))
        version_id = row["assessment_version_id"]
        _attempt_seeds.put(attempt_id, row["seed"])
    version: PublishedVersion | None = _versions.get(version_id)
    if version is not None:
        _linear.put(attempt_id, version.definition.navigation is Navigation.linear)


async def save_response_at_once(
    db: Database,
    settings: Settings,
    attempt_id: uuid.UUID,
    credential: str | None,
    ref: str,
    *,
    seq: int,
    value: Any,
    flagged: bool | None = None,
    time_spent_ms: int | None = None,
) -> SaveResult | None:
    """Autosave in one statement, for the common case: a genuine credential, an attempt in
    progress and in time, an item on its form whose definition and place this process
    already knows, a valid value. Returns None when it cannot decide (nothing written); the
    caller then goes the general way (``attempt_for_credential`` and ``save_response``),
    which answers every other case exactly as before, in the same order (not found, not
    on the form, invalid, late, paused, closed)."""
    if db.dialect_name != "postgresql":
        return None
    epoch = credential_epoch(settings, attempt_id, credential)
    if epoch is None:
        return None
    async with db.driver_connection() as conn:
        item_row: FormRow | None = _form_rows.get((attempt_id, ref))
        linear: bool | None = _linear.get(attempt_id)
        if item_row is None or linear is None:
            await _learn_form(conn, attempt_id)
            item_row = _form_rows.get((attempt_id, ref))
            linear = _linear.get(attempt_id)
            if item_row is None or linear is None:
                return None
        item: ItemDefinition | None = _items.get(item_row.item_version_id)
        if item is None:
            return None
        if item.is_template:
            # A cloned item: its own instance checks the save where the values show or
            # hide choices; ordinary items skip this (one attribute read).
            attempt_seed: int | None = _attempt_seeds.get(attempt_id)
            if attempt_seed is None:
                await _learn_form(conn, attempt_id)
                attempt_seed = _attempt_seeds.get(attempt_id)
                if attempt_seed is None:
                    return None
            item = shape_item(item_row.item_version_id, item, attempt_seed, ref)
        try:
            normalized = _normalize(item, value)
        except DomainError:
            return None  # answered the general way, after the credential is checked
        now = utcnow()
        stored = json.dumps({"value": value, "normalized": normalized})
        outcome = await conn.fetchrow(
            _SAVE_ONE_STATEMENT,
            attempt_id,
            epoch,
            now - timedelta(seconds=settings.save_grace_s),
            item_row.position if linear else None,
            ref,
            seq,
            stored,
            flagged,
            time_spent_ms,
            now,
        )
        if not outcome["open"]:
            return None
        if outcome["won"]:
            return SaveResult(SaveStatus.accepted, seq, seq)
        current = await conn.fetchval(_CURRENT_SEQ, attempt_id, ref)
    return SaveResult(SaveStatus.stale, seq, int(current or 0))


async def autosave(
    db: Database,
    settings: Settings,
    attempt_id: uuid.UUID,
    credential: str | None,
    ref: str,
    *,
    seq: int,
    value: Any,
    flagged: bool | None = None,
    time_spent_ms: int | None = None,
) -> SaveResult:
    """A candidate's save, committed when this returns (so the reply, sent after, is only
    ever for a durable save): in one statement when it can be
    (:func:`save_response_at_once`), else in a unit of work of its own."""
    result = await save_response_at_once(
        db,
        settings,
        attempt_id,
        credential,
        ref,
        seq=seq,
        value=value,
        flagged=flagged,
        time_spent_ms=time_spent_ms,
    )
    if result is not None:
        return result
    async with db.transaction() as session:
        attempt = await attempt_for_credential(
            session, settings, attempt_id, credential, share_lock=True
        )
        return await save_response(
            session,
            settings,
            attempt,
            ref,
            seq=seq,
            value=value,
            flagged=flagged,
            time_spent_ms=time_spent_ms,
        )


async def advance(
    session: AsyncSession, settings: Settings, attempt: Attempt
) -> schemas.AdvanceResponse:
    """Linear navigation: move on to the next item (there is no going back). From the last
    item presented of an adaptive section, the response is scored and the next item chosen
    (``adaptive.advance``); ``finished`` says the adaptive part is over."""
    await expire_if_due(session, settings, attempt)
    if attempt.state != AttemptState.in_progress:
        raise not_in_progress(attempt)
    version = await published_version(session, attempt.assessment_version_id)
    if adaptive.adaptive_sections(version.definition):
        # The row lock orders this move after any save in flight (saves share-lock the
        # attempt), so the response scored is the last one accepted for the item, and a
        # save arriving after the move finds the item closed.
        expected = attempt.current_position
        locked = await session.get(
            Attempt, attempt.id, with_for_update=True, populate_existing=True
        )
        assert locked is not None
        attempt = locked
        if attempt.state != AttemptState.in_progress:
            raise not_in_progress(attempt)
        if attempt.current_position != expected:
            # A second press of Next sent before the first one's reply (a double click,
            # two tabs): the first moved on; this one must not score the new item unseen.
            taken = await adaptive.steps(session, attempt.id)
            return schemas.AdvanceResponse(
                current_position=attempt.current_position,
                finished=adaptive.finished(version.definition, taken),
            )
    count = (
        await session.execute(
            select(func.count())
            .select_from(AttemptItem)
            .where(AttemptItem.attempt_id == attempt.id)
        )
    ).scalar_one()
    if attempt.current_position >= count and adaptive.adaptive_sections(version.definition):
        shown = await variants.scoring_versions(session, attempt.id)
        outcome = await adaptive.advance(
            session,
            attempt,
            version.definition,
            version.pinned,
            # The shown variant's processing scores the answer (delivery/variants.py).
            lambda version_id: item_definition(session, shown.get(version_id, version_id)),
            count,
        )
        return schemas.AdvanceResponse(
            current_position=outcome.current_position, finished=outcome.finished
        )
    if attempt.current_position >= count:
        raise errors.LastItem("this is the last item; submit the attempt")
    moved = (
        await session.execute(
            update(Attempt)
            .where(Attempt.id == attempt.id, Attempt.current_position == attempt.current_position)
            .values(current_position=attempt.current_position + 1)
            .returning(Attempt.current_position)
        )
    ).first()
    if moved is None:
        raise errors.AttemptChanged("the attempt moved on meanwhile; reload")
    await session.refresh(attempt)
    return schemas.AdvanceResponse(current_position=attempt.current_position)


async def set_position(
    session: AsyncSession, settings: Settings, attempt: Attempt, position: int
) -> schemas.PositionResponse:
    """Record the question open (free navigation), so that a reload or another device
    opens it again. Idempotent and cheap: one guarded update, no history. With linear
    navigation the position moves only by :func:`advance`: recording the current one is
    accepted (a no-op), any other is ``item-closed``."""
    await expire_if_due(session, settings, attempt)
    if attempt.state not in (AttemptState.in_progress, AttemptState.paused):
        raise not_in_progress(attempt)
    count = (
        await session.execute(
            select(func.count())
            .select_from(AttemptItem)
            .where(AttemptItem.attempt_id == attempt.id)
        )
    ).scalar_one()
    if not 1 <= position <= count:
        raise errors.PositionOutOfRange(f"the position must be between 1 and {count}")
    version = await published_version(session, attempt.assessment_version_id)
    if version.definition.navigation is Navigation.linear:
        if position != attempt.current_position:
            raise errors.ItemClosed(
                "linear navigation: the position moves only by advancing to the next item"
            )
        return schemas.PositionResponse(current_position=attempt.current_position)
    if position != attempt.current_position:
        await session.execute(
            update(Attempt)
            .where(Attempt.id == attempt.id, Attempt.state.in_([s.value for s in LIVE]))
            .values(current_position=position)
        )
        attempt.current_position = position
    return schemas.PositionResponse(current_position=position)


# --- submit ------------------------------------------------------------------------------


async def submit(session: AsyncSession, settings: Settings, attempt: Attempt) -> Attempt:
    """Final and idempotent: a second submit returns the same outcome."""
    await expire_if_due(session, settings, attempt)
    if attempt.state in ENDED:
        return attempt
    if attempt.state == AttemptState.paused:
        raise errors.AttemptPaused("a paused attempt cannot be submitted; resume it first")
    try:
        await transition(
            session,
            attempt,
            "submit",
            actor=_candidate_actor(attempt),
            values={"ended_at": utcnow(), "end_reason": "submitted by the candidate"},
        )
    except Conflict:
        await session.refresh(attempt)
        if attempt.state not in ENDED:
            raise
    return attempt


# --- language ----------------------------------------------------------------------------


async def switch_locale(
    session: AsyncSession, settings: Settings, attempt: Attempt, locale: str
) -> AttemptLanguages:
    """Deliver the attempt in ``locale`` from now on: one of the languages its
    administration lets candidates switch to (else :class:`errors.LocaleNotOffered`, 409),
    or its own (nothing changes). Only while the attempt is in progress or paused: an
    ended attempt keeps the language it was taken in (``attempt-ended``). Audited as
    ``attempt.locale_changed``; nothing is published (proctors' boards and other
    candidates do not show languages)."""
    await expire_if_due(session, settings, attempt)
    spoken = await languages(session, attempt)
    if locale == spoken.locale:
        return spoken
    if attempt.state not in (AttemptState.in_progress, AttemptState.paused):
        raise not_in_progress(attempt)
    if locale not in spoken.locales:
        offered = ", ".join(spoken.locales) or spoken.locale
        raise errors.LocaleNotOffered(
            f"this test is not offered in {locale!r} (offered: {offered})",
            extra={"locales": spoken.locales or [spoken.locale]},
        )
    attempt.locale = locale
    attempt.updated_at = utcnow()
    await session.flush()
    await audit.record(
        session,
        organization_id=attempt.organization_id,
        action="attempt.locale_changed",
        actor=_candidate_actor(attempt),
        target_type="attempt",
        target_id=attempt.id,
        data={"from": spoken.locale, "to": locale},
    )
    return AttemptLanguages(locale, spoken.locales)


# --- breaks and proctor controls ---------------------------------------------------------


async def take_break(session: AsyncSession, settings: Settings, attempt: Attempt) -> Attempt:
    await expire_if_due(session, settings, attempt)
    version = await published_version(session, attempt.assessment_version_id)
    policy = version.definition.breaks
    entry = await session.get(RosterEntry, attempt.roster_entry_id)
    assert entry is not None
    allowed, total = break_allowance(policy, entry)
    if not allowed:
        raise errors.BreaksNotAllowed("breaks are not allowed in this assessment")
    if attempt.breaks_taken >= total:
        raise errors.BreaksExhausted("no breaks left")
    kind = PauseKind.counted_break if policy.count_against_time else PauseKind.candidate_break
    await transition(
        session,
        attempt,
        "pause",
        actor=_candidate_actor(attempt),
        reason="candidate break",
        values={
            "paused_at": utcnow(),
            "pause_kind": kind,
            "breaks_taken": attempt.breaks_taken + 1,
        },
    )
    return attempt


async def _resume(
    session: AsyncSession,
    attempt: Attempt,
    actor: Actor,
    reason: str | None,
    *,
    paused_s: float | None = None,
) -> Attempt:
    assert attempt.paused_at is not None
    if paused_s is None:
        paused_s = (utcnow() - attempt.paused_at).total_seconds()
    uncounted = attempt.uncounted_pause_s + (0.0 if _pause_counts(attempt) else paused_s)
    attempt.uncounted_pause_s = uncounted
    deadline_at = await _compute_deadline(session, attempt)
    await transition(
        session,
        attempt,
        "resume",
        actor=actor,
        reason=reason,
        values={
            "paused_at": None,
            "pause_kind": None,
            "uncounted_pause_s": uncounted,
            "deadline_at": deadline_at,
        },
    )
    return attempt


async def end_break(session: AsyncSession, settings: Settings, attempt: Attempt) -> Attempt:
    if await end_overdue_break(session, attempt):
        await expire_if_due(session, settings, attempt)
        return attempt  # its time was up already: it ended by itself
    if attempt.state != AttemptState.paused or attempt.pause_kind not in (
        PauseKind.candidate_break,
        PauseKind.counted_break,
    ):
        raise errors.NotOnBreak(
            "the attempt is not on a break (a proctor's pause is lifted by the proctor)"
        )
    await expire_if_due(session, settings, attempt)
    if attempt.state != AttemptState.paused:
        return attempt
    return await _resume(session, attempt, _candidate_actor(attempt), "break over")


async def proctor_attempt(
    session: AsyncSession, principal: Principal, attempt_id: uuid.UUID
) -> Attempt:
    """An attempt a proctor may control: only proctors assigned to its administration."""
    attempt = await session.get(Attempt, attempt_id)
    if attempt is None or attempt.organization_id != principal.organization_id:
        raise errors.AttemptNotFound(f"attempt {attempt_id} not found")
    if not (
        principal.has_any(Role.proctor)
        and await assessment_service.is_assigned_proctor(
            session, attempt.administration_id, principal.user_id
        )
    ):
        raise errors.AttemptNotFound(f"attempt {attempt_id} not found")
    return attempt


async def pause(
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    attempt_id: uuid.UUID,
    *,
    reason: str,
) -> Attempt:
    """A proctor pauses a live attempt: its clock stops until they resume it; the
    candidate's saves meanwhile are kept but refused (``attempt-paused``)."""
    attempt = await proctor_attempt(session, principal, attempt_id)
    await expire_if_due(session, settings, attempt)
    await transition(
        session,
        attempt,
        "pause",
        actor=principal.actor,
        reason=reason,
        values={"paused_at": utcnow(), "pause_kind": PauseKind.proctor},
    )
    return attempt


async def resume(
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    attempt_id: uuid.UUID,
    *,
    reason: str,
) -> Attempt:
    """A proctor resumes a paused attempt (theirs or a candidate's break); the deadline
    moves on by the pause when the pause did not count against the time."""
    attempt = await proctor_attempt(session, principal, attempt_id)
    await expire_if_due(session, settings, attempt)
    if attempt.state != AttemptState.paused:
        raise errors.AttemptNotPaused(f"the attempt is {attempt.state}, not paused")
    return await _resume(session, attempt, principal.actor, reason)


async def terminate(
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    attempt_id: uuid.UUID,
    *,
    reason: str,
) -> Attempt:
    """A proctor ends a live attempt; it goes to scoring like any ended attempt."""
    attempt = await proctor_attempt(session, principal, attempt_id)
    await expire_if_due(session, settings, attempt)
    await transition(
        session,
        attempt,
        "terminate",
        actor=principal.actor,
        reason=reason,
        values={"ended_at": utcnow(), "end_reason": f"terminated by a proctor: {reason}"},
    )
    return attempt


async def extend(
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    attempt_id: uuid.UUID,
    *,
    extra_s: int,
    reason: str,
) -> Attempt:
    """A proctor gives a live attempt ``extra_s`` more seconds (the deadline is computed
    again, still capped by the window's close). Audited as ``attempt.extend``."""
    attempt = await proctor_attempt(session, principal, attempt_id)
    await expire_if_due(session, settings, attempt)
    if attempt.state not in (AttemptState.in_progress, AttemptState.paused):
        raise errors.AttemptEnded(
            f"the attempt is {attempt.state}; only a live attempt gets more time"
        )
    changed = (
        await session.execute(
            update(Attempt)
            .where(Attempt.id == attempt.id, Attempt.state == attempt.state)
            .values(extension_s=Attempt.extension_s + extra_s)
            .returning(Attempt.id)
        )
    ).first()
    if changed is None:
        raise errors.AttemptChanged("the attempt changed meanwhile; reload and retry")
    await session.refresh(attempt)
    attempt.deadline_at = await _compute_deadline(session, attempt)
    await session.flush()
    await audit.record(
        session,
        organization_id=attempt.organization_id,
        action="attempt.extend",
        actor=principal.actor,
        target_type="attempt",
        target_id=attempt.id,
        data={"extra_s": extra_s, "reason": reason},
    )
    return attempt


async def list_attempts_for_proctor(
    session: AsyncSession, principal: Principal, administration_id: uuid.UUID
) -> list[Attempt]:
    administration = await assessment_service.get_administration(
        session, principal, administration_id
    )
    return list(
        (
            await session.execute(
                select(Attempt)
                .where(Attempt.administration_id == administration.id)
                .order_by(Attempt.created_at)
            )
        ).scalars()
    )


# --- integrity events --------------------------------------------------------------------


async def record_events(
    session: AsyncSession, attempt: Attempt, events: Sequence[schemas.BrowserEvent]
) -> int:
    """Keep browser events for the integrity engine, stamped with the server's time."""
    now = utcnow()
    for event in events:
        session.add(
            IntegrityEvent(
                organization_id=attempt.organization_id,
                attempt_id=attempt.id,
                kind=event.kind,
                client_time=event.client_time,
                data=event.data,
                received_at=now,
            )
        )
    await session.flush()
    return len(events)
