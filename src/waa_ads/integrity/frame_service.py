"""Webcam stills: the candidate's consent, intake (checked, stored in the blob store with an
expiry), analysis, the purge at expiry, what reviewers read, and the fairness report.

The policy's ``camera`` section decides everything (docs/integrity.md, "Webcam frames"):
without ``frames: true`` no still is accepted; with it, a still is accepted only after the
candidate consented (``camera_consent_given``), only with the attempt's own credential,
only while the attempt is in progress, at most about twice the policy's rate.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import math
import secrets
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from importlib import resources
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from waa_ads.audit.service import SYSTEM_ACTOR
from waa_ads.auth import service as auth_service
from waa_ads.auth.deps import Principal
from waa_ads.auth.models import Candidate
from waa_ads.core.db import Database, utcnow
from waa_ads.core.errors import Conflict, NotFound, TooManyRequests
from waa_ads.core.i18n import N_
from waa_ads.core.settings import Settings
from waa_ads.core.storage import BlobNotFound, BlobStore
from waa_ads.core.tasks import enqueue_after_commit
from waa_ads.delivery import service as delivery_service
from waa_ads.delivery.models import Attempt, IntegrityEvent
from waa_ads.delivery.state_machine import ENDED, AttemptState, PauseKind
from waa_ads.integrity import frames, rules, schemas
from waa_ads.integrity.models import IntegrityDecision, IntegrityFrame, IntegritySummary
from waa_ads.integrity.service import (
    _APPEALABLE,
    _attempt_policy,
    _require_reviewer,
    _reviewable_attempt,
    _visible_administrations,
    frame_read,
)

PURGE_BATCH = 200
DELETE_BLOBS_TASK = "integrity.delete_frame_blobs"
CONSENT_KINDS = {
    "given": "camera_consent_given",
    "refused": "camera_consent_refused",
    "unavailable": "camera_unavailable",
}


class FramesNotRequested(Conflict):
    """The attempt's integrity policy takes no webcam stills."""

    code = "frames-not-requested"
    title = N_("No webcam stills for this test")


class ConsentMissing(Conflict):
    """A still arrived before the candidate consented to the camera (or after refusing)."""

    code = "camera-consent-missing"
    title = N_("No consent to the camera")


class FramesRateLimited(TooManyRequests):
    code = "frames-rate-limited"
    title = N_("Too many webcam stills")


class FrameNotFound(NotFound):
    code = "frame-not-found"
    title = N_("Frame not found")


class FrameImageGone(NotFound):
    """The still (or its thumbnail) was deleted when its retention ended."""

    code = "frame-image-purged"
    title = N_("Image deleted at the end of its retention")


# --- the candidate's side -------------------------------------------------------------------


async def _consent_state(session: AsyncSession, attempt: Attempt) -> str | None:
    """The candidate's latest answer to the camera question (given, refused, unavailable)."""
    kind = await session.scalar(
        select(IntegrityEvent.kind)
        .where(
            IntegrityEvent.attempt_id == attempt.id,
            IntegrityEvent.kind.in_(list(CONSENT_KINDS.values())),
        )
        .order_by(IntegrityEvent.received_at.desc(), IntegrityEvent.id.desc())
        .limit(1)
    )
    return next((k for k, v in CONSENT_KINDS.items() if v == kind), None)


def _camera_read(camera: rules.CameraPolicy, consent: str | None) -> schemas.CameraRead:
    return schemas.CameraRead(
        frames=camera.frames,
        interval_s=camera.interval_s,
        retention_days=camera.retention_days,
        without_camera=camera.without_camera,
        consent_text=camera.consent if camera.frames else None,
        consent=consent,
    )


async def camera_for_candidate(
    session: AsyncSession, settings: Settings, attempt_id: uuid.UUID, credential: str | None
) -> schemas.CameraRead:
    """What the player needs: whether to ask for the camera, what to say, how often."""
    attempt = await delivery_service.attempt_for_credential(
        session, settings, attempt_id, credential
    )
    _, _, policy = await _attempt_policy(session, attempt)
    return _camera_read(policy.camera, await _consent_state(session, attempt))


async def record_consent(
    session: AsyncSession,
    settings: Settings,
    attempt_id: uuid.UUID,
    credential: str | None,
    answer: str,
) -> schemas.CameraRead:
    """Record the candidate's answer (``given``, ``refused``, ``unavailable``) as an
    integrity event. Without a camera or consent, a policy saying ``without_camera:
    proctor`` pauses the live attempt as a proctor's pause (its clock stops; saves are
    refused) until a proctor resumes it; ``note`` lets the candidate go on, and the
    signals ``camera_refused`` / ``camera_unavailable`` say what happened."""
    attempt = await delivery_service.attempt_for_credential(
        session, settings, attempt_id, credential
    )
    _, _, policy = await _attempt_policy(session, attempt)
    if not policy.camera.frames:
        raise FramesNotRequested("this test's integrity policy takes no webcam stills")
    # Written here, not through the browser's event intake: these kinds are not among the
    # events a player may send, so only this route (which applies the policy) records them.
    session.add(
        IntegrityEvent(
            organization_id=attempt.organization_id,
            attempt_id=attempt.id,
            kind=CONSENT_KINDS[answer],
            client_time=None,
            data={},
            received_at=utcnow(),
        )
    )
    await session.flush()
    if (
        answer != "given"
        and policy.camera.without_camera == "proctor"
        and attempt.state == AttemptState.in_progress
    ):
        await delivery_service.transition(
            session,
            attempt,
            "pause",
            actor=SYSTEM_ACTOR,
            reason=f"camera {answer}: waiting for a proctor's approval",
            values={"paused_at": utcnow(), "pause_kind": PauseKind.proctor},
        )
    read = _camera_read(policy.camera, answer)
    read.paused = attempt.state == AttemptState.paused
    return read


def frames_per_minute(camera: rules.CameraPolicy) -> int:
    """The most stills an attempt may send in a minute: twice the policy's rate, at least
    four (a retry after a network loss comes on top of the regular still)."""
    return max(4, math.ceil(120 / camera.interval_s))


@dataclass(frozen=True)
class FrameIntake:
    attempt: Attempt
    camera: rules.CameraPolicy


async def admit_frame(
    session: AsyncSession, settings: Settings, attempt_id: uuid.UUID, credential: str | None
) -> FrameIntake:
    """Whether this attempt may send a still now (before its bytes are read): its own
    credential, in progress, a policy taking stills, consent given."""
    attempt = await delivery_service.attempt_for_credential(
        session, settings, attempt_id, credential
    )
    _, _, policy = await _attempt_policy(session, attempt)
    if not policy.camera.frames:
        raise FramesNotRequested("this test's integrity policy takes no webcam stills")
    if attempt.state != AttemptState.in_progress:
        raise delivery_service.not_in_progress(attempt)
    if await _consent_state(session, attempt) != "given":
        raise ConsentMissing("the candidate has not consented to the camera")
    return FrameIntake(attempt, policy.camera)


async def receive_frame(
    session: AsyncSession, blobs: BlobStore, intake: FrameIntake, data: bytes
) -> IntegrityFrame:
    """Check the bytes (JPEG or PNG by content, size, dimensions), store them, and queue
    their analysis (``integrity.analyse_frame``) after the commit."""
    content_type, width, height = frames.check_frame(data)
    attempt = intake.attempt
    # The row lock orders two stills of one attempt arriving together (their seq).
    await session.execute(select(Attempt.id).where(Attempt.id == attempt.id).with_for_update())
    seq = (
        await session.scalar(
            select(func.max(IntegrityFrame.seq)).where(IntegrityFrame.attempt_id == attempt.id)
        )
        or 0
    ) + 1
    # Sealed: a digest of its own, which no deletion of other bytes can take with it.
    ref = await blobs.put(_sealed(data), SEALED_CONTENT_TYPE)
    now = utcnow()
    frame = IntegrityFrame(
        organization_id=attempt.organization_id,
        attempt_id=attempt.id,
        seq=seq,
        sha256=ref.sha256,
        size=ref.size,
        content_type=content_type,
        width=width,
        height=height,
        received_at=now,
        expires_at=now + timedelta(days=intake.camera.retention_days),
    )
    session.add(frame)
    await session.flush()
    enqueue_after_commit(session, "integrity.analyse_frame", frame_id=str(frame.id))
    return frame


# --- analysis -------------------------------------------------------------------------------


async def _previous_signature(
    session: AsyncSession, blobs: BlobStore, frame: IntegrityFrame
) -> str:
    previous = await session.scalar(
        select(IntegrityFrame).where(
            IntegrityFrame.attempt_id == frame.attempt_id, IntegrityFrame.seq == frame.seq - 1
        )
    )
    if previous is None:
        return ""
    if previous.findings and previous.findings.get("signature"):
        return str(previous.findings["signature"])
    if previous.purged_at is not None:
        return ""
    try:
        data = _opened(await blobs.get(previous.sha256))
    except BlobNotFound:  # purged since it was read
        return ""
    image = await asyncio.to_thread(frames.decode, data)
    return await asyncio.to_thread(_signature_of, image)


def _signature_of(image: frames.Image) -> str:
    return frames.analyse(image).signature


async def analyse_frame(session: AsyncSession, blobs: BlobStore, frame_id: uuid.UUID) -> bool:
    """Analyse one still (faces, light, frozen against the one before), keep a thumbnail,
    and, when its attempt has ended, queue the attempt's analysis again so that its
    signals count the still. False when there was nothing to do (analysed already,
    purged, or gone, before or during the analysis: then nothing is kept, and a thumbnail
    stored meanwhile is deleted unless another frame needs it). Idempotent."""
    frame = await session.get(IntegrityFrame, frame_id)
    if frame is None or frame.analysed_at is not None or frame.purged_at is not None:
        return False
    try:
        data = _opened(await blobs.get(frame.sha256))
    except BlobNotFound:
        if await _current(session, frame_id) is None:
            return False  # purged or erased since it was read: nothing left to analyse
        raise
    previous = await _previous_signature(session, blobs, frame)

    def work() -> tuple[frames.Findings, bytes]:
        image = frames.decode(data)
        return frames.analyse(image, previous_signature=previous), frames.thumbnail(image)

    findings, thumb = await asyncio.to_thread(work)
    ref = await blobs.put(_sealed(thumb), SEALED_CONTENT_TYPE)
    # The analysis took a while: read the row again under its lock (the purge and the
    # erasure take it too). A thumbnail set on a still purged meanwhile would outlive its
    # retention, and one stored for a row gone would be named by nothing.
    current = await _current(session, frame_id)
    if current is None:
        release_blobs_after_commit(session, [ref.sha256])
        return False
    current.findings = findings.as_dict() | {"concerns": findings.concerns}
    current.thumbnail_sha256 = ref.sha256
    current.analysed_at = utcnow()
    await session.flush()
    attempt = await session.get(Attempt, current.attempt_id)
    if attempt is not None and attempt.state in ENDED:
        enqueue_after_commit(session, "integrity.analyse_attempt", attempt_id=str(attempt.id))
    return True


async def _current(session: AsyncSession, frame_id: uuid.UUID) -> IntegrityFrame | None:
    """The frame as committed now, locked until the transaction ends; None when it is gone,
    purged or analysed already."""
    frame = await session.scalar(
        select(IntegrityFrame)
        .where(IntegrityFrame.id == frame_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if frame is None or frame.analysed_at is not None or frame.purged_at is not None:
        return None
    return frame


# --- retention ------------------------------------------------------------------------------


async def purge_expired(
    session: AsyncSession,
    *,
    now: datetime | None = None,
    limit: int = PURGE_BATCH,
) -> int:
    """Delete the stills whose retention ended (a bounded batch, oldest first), and their
    thumbnails unless a warning or an invalidation was decided on the attempt: that
    decision's evidence is kept with it. Rows and findings stay (they are the signals'
    evidence), without the grey signature of the picture; ``purged_at`` says the image is
    gone. The bytes themselves are deleted
    after this transaction commits (``integrity.delete_frame_blobs``), and only those no
    row needs any more (the same picture sent twice, or received meanwhile, keeps them).
    The number purged. Idempotent."""
    now = now or utcnow()
    oldest = (
        select(IntegrityFrame.id)
        .where(IntegrityFrame.expires_at <= now, IntegrityFrame.purged_at.is_(None))
        .order_by(IntegrityFrame.expires_at, IntegrityFrame.id)
        .limit(limit)
    )
    # Locked in id order (as the erasure locks them), re-read as committed: a thumbnail
    # the analysis set meanwhile is seen and deleted too. A row locked by other work (a
    # still being analysed) is left for the next run.
    due = (
        await session.scalars(
            select(IntegrityFrame)
            .where(
                IntegrityFrame.id.in_(oldest.scalar_subquery()),
                IntegrityFrame.purged_at.is_(None),
            )
            .order_by(IntegrityFrame.id)
            .with_for_update(skip_locked=True)
            .execution_options(populate_existing=True)
        )
    ).all()
    if not due:
        return 0
    attempts = {f.attempt_id for f in due}
    decided = set(
        (
            await session.scalars(
                select(IntegrityDecision.attempt_id).where(
                    IntegrityDecision.attempt_id.in_(attempts),
                    IntegrityDecision.kind.in_(list(_APPEALABLE)),
                )
            )
        ).all()
    )
    released: set[str] = set()
    for frame in due:
        frame.purged_at = now
        released.add(frame.sha256)
        frame.findings = _without_signature(frame.findings)
        if frame.thumbnail_sha256 is not None and frame.attempt_id not in decided:
            released.add(frame.thumbnail_sha256)
            frame.thumbnail_sha256 = None
    await session.flush()
    release_blobs_after_commit(session, released)
    return len(due)


async def erase_frames(session: AsyncSession, attempt_ids: Iterable[uuid.UUID]) -> int:
    """Delete the images of every still of these attempts at once, whatever decision
    rests on them: the stills, their thumbnails and the small grey signature kept in the
    findings (a picture too). The rows stay, purged, with the rest of their findings (no
    picture: counts and boxes the signals and flags were computed from). The bytes go
    after the commit, as at the end of retention. For a candidate's erasure, and for
    anything that deletes attempts: call it first, their rows then go with the attempts
    and their bytes after the commit. The number of frames. Idempotent."""
    now = utcnow()
    rows = (
        await session.scalars(
            select(IntegrityFrame)
            .where(IntegrityFrame.attempt_id.in_(list(attempt_ids)))
            .order_by(IntegrityFrame.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).all()
    released: set[str] = set()
    for frame in rows:
        released.add(frame.sha256)
        frame.purged_at = frame.purged_at or now
        if frame.thumbnail_sha256 is not None:
            released.add(frame.thumbnail_sha256)
            frame.thumbnail_sha256 = None
        frame.findings = _without_signature(frame.findings)
    await session.flush()
    release_blobs_after_commit(session, released)
    return len(rows)


async def erase_candidate_frames(
    session: AsyncSession, organization_id: uuid.UUID, candidate_id: uuid.UUID
) -> None:
    """The images of every still of the candidate's attempts, deleted when the candidate
    is erased (:func:`erase_frames`)."""
    attempts = (
        await session.scalars(
            select(Attempt.id).where(
                Attempt.organization_id == organization_id, Attempt.candidate_id == candidate_id
            )
        )
    ).all()
    if attempts:
        await erase_frames(session, attempts)


auth_service.on_candidate_erased(erase_candidate_frames)


def _without_signature(findings: dict[str, Any] | None) -> dict[str, Any] | None:
    """The findings without their ``signature``: a 32x24 grey picture of the still, only
    needed to tell whether the next still is frozen, so it goes with the still."""
    if findings is None or "signature" not in findings:
        return findings
    return {k: v for k, v in findings.items() if k != "signature"}


# --- blob lifetime --------------------------------------------------------------------------

# Stills and thumbnails are stored sealed: a marker, a random salt, then the image. The blob
# store is shared and content-addressed, so an image stored as it is would have the same
# digest as identical bytes stored by anything else (an item's picture sent back as a
# webcam still, a candidate's upload), and deleting it when its retention ends would delete
# theirs too. The salt gives every stored image a digest no other row can name. Images
# stored before they were sealed are read as they are.
_SEAL = b"WAA-ADS integrity image\x00"
_SALT_BYTES = 16
SEALED_CONTENT_TYPE = "application/octet-stream"


def _sealed(image: bytes) -> bytes:
    return _SEAL + secrets.token_bytes(_SALT_BYTES) + image


def _opened(stored: bytes) -> bytes:
    if stored.startswith(_SEAL):
        return stored[len(_SEAL) + _SALT_BYTES :]
    return stored


def release_blobs_after_commit(session: AsyncSession, sha256s: Iterable[str]) -> None:
    """Queue the deletion of these stills' and thumbnails' bytes for after the session's
    transaction commits (nothing when it rolls back); each is deleted only if no frame
    row needs it then."""
    wanted = sorted(set(sha256s))
    if wanted:
        enqueue_after_commit(session, DELETE_BLOBS_TASK, sha256s=wanted)


async def _needed(session: AsyncSession, sha256: str) -> bool:
    """Whether a frame row still needs these bytes: as a still not purged yet, or as a
    thumbnail."""
    found = await session.scalar(
        select(IntegrityFrame.id)
        .where(
            ((IntegrityFrame.sha256 == sha256) & IntegrityFrame.purged_at.is_(None))
            | (IntegrityFrame.thumbnail_sha256 == sha256)
        )
        .limit(1)
    )
    return found is not None


async def delete_unneeded_blobs(db: Database, blobs: BlobStore, sha256s: Iterable[str]) -> int:
    """Delete the bytes of each digest that no frame row needs any more; run after the
    commit that let go of them. Stills and thumbnails are sealed (a digest of their own,
    never put again), so only stills stored before sealing can share bytes: those are kept
    while another still not yet purged, or a thumbnail, names them. The number deleted.
    Idempotent."""
    deleted = 0
    for sha256 in sorted(set(sha256s)):
        async with db.transaction(write=False) as session:
            if not await _needed(session, sha256) and await blobs.delete(sha256):
                deleted += 1
    return deleted


# --- reviewers ------------------------------------------------------------------------------


async def frames_of_attempt(session: AsyncSession, attempt_id: uuid.UUID) -> list[IntegrityFrame]:
    return list(
        (
            await session.scalars(
                select(IntegrityFrame)
                .where(IntegrityFrame.attempt_id == attempt_id)
                .order_by(IntegrityFrame.seq)
            )
        ).all()
    )


async def list_frames(
    session: AsyncSession, principal: Principal, attempt_id: uuid.UUID
) -> list[schemas.FrameRead]:
    attempt = await _reviewable_attempt(session, principal, attempt_id)
    return [frame_read(f) for f in await frames_of_attempt(session, attempt.id)]


async def frame_image(
    session: AsyncSession,
    blobs: BlobStore,
    principal: Principal,
    frame_id: uuid.UUID,
    *,
    thumbnail: bool,
) -> tuple[bytes, str]:
    """The still (until its retention ends) or its thumbnail, for a reviewer of its
    attempt; FrameNotFound for any other frame, FrameImageGone once deleted."""
    frame = await session.get(IntegrityFrame, frame_id)
    if frame is None or frame.organization_id != principal.organization_id:
        raise FrameNotFound(f"frame {frame_id} not found")
    try:
        await _reviewable_attempt(session, principal, frame.attempt_id)
    except NotFound as exc:
        raise FrameNotFound(f"frame {frame_id} not found") from exc
    if thumbnail:
        if frame.thumbnail_sha256 is None:
            raise FrameImageGone("this frame has no thumbnail (not analysed yet, or deleted)")
        return _opened(await blobs.get(frame.thumbnail_sha256)), frames.JPEG
    if frame.purged_at is not None:
        raise FrameImageGone("this still was deleted when its retention ended")
    return _opened(await blobs.get(frame.sha256)), frame.content_type


def analyse_upload(principal: Principal, data: bytes) -> schemas.FacesRead:
    """The analysis of one still a reviewer uploads (the same code as the task's); nothing
    is stored."""
    _require_reviewer(principal)
    findings = frames.analyse_bytes(data)
    return schemas.FacesRead.model_validate(
        findings.as_dict(with_signature=False) | {"concerns": findings.concerns}
    )


# --- fairness -------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def evaluation() -> dict[str, Any]:
    """The frame analysis's figures on the evaluation set, as ``bench/bench_faces.py
    --write`` last recorded them (with the command, the detector and the date)."""
    text = resources.files("waa_ads.integrity").joinpath("frame_evaluation.json").read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


async def fairness(
    session: AsyncSession, principal: Principal, administration_id: uuid.UUID | None = None
) -> schemas.FairnessReport:
    """Error rates of the frame analysis per lighting condition, and per candidate group
    (``Candidate.group``; candidates without one are the group ``null``): analysed
    attempts, flagged attempts, decisions of each kind, invalidations, and the rates."""
    visible = await _visible_administrations(session, principal)
    query = (
        select(
            Candidate.group,
            IntegritySummary.attempt_id,
            IntegritySummary.flag_count,
        )
        .join(Attempt, Attempt.id == IntegritySummary.attempt_id)
        .join(Candidate, Candidate.id == Attempt.candidate_id)
        .where(IntegritySummary.organization_id == principal.organization_id)
    )
    if administration_id is not None:
        query = query.where(IntegritySummary.administration_id == administration_id)
    if visible is not None:
        query = query.where(IntegritySummary.administration_id.in_(visible))
    rows = (await session.execute(query)).all()
    attempt_group = {row.attempt_id: row.group for row in rows}
    decisions: dict[uuid.UUID, set[str]] = defaultdict(set)
    if attempt_group:
        for attempt_id, kind in await session.execute(
            select(IntegrityDecision.attempt_id, IntegrityDecision.kind).where(
                IntegrityDecision.attempt_id.in_(list(attempt_group)),
                IntegrityDecision.kind != "appeal",
            )
        ):
            decisions[attempt_id].add(kind)
    groups: dict[str | None, dict[str, Any]] = {}
    for row in rows:
        g = groups.setdefault(
            row.group,
            {"attempts": 0, "flagged": 0, "decisions": defaultdict(int), "decided": 0},
        )
        g["attempts"] += 1
        g["flagged"] += 1 if row.flag_count else 0
        kinds = decisions.get(row.attempt_id, set())
        g["decided"] += 1 if kinds else 0
        for kind in kinds:
            g["decisions"][kind] += 1
    report_groups = [
        schemas.GroupRates(
            group=name,
            attempts=g["attempts"],
            flagged=g["flagged"],
            flag_rate=round(g["flagged"] / g["attempts"], 4),
            decided=g["decided"],
            decisions=dict(g["decisions"]),
            warn_rate=round(g["decisions"].get("warn", 0) / g["attempts"], 4),
            invalidate_rate=round(g["decisions"].get("invalidate", 0) / g["attempts"], 4),
        )
        for name, g in sorted(groups.items(), key=lambda kv: (kv[0] is None, kv[0] or ""))
    ]
    return schemas.FairnessReport(
        administration_id=administration_id,
        frame_analysis=schemas.FrameEvaluation.model_validate(evaluation()),
        groups=report_groups,
    )


def fairness_csv(report: schemas.FairnessReport) -> str:
    """The report as CSV: ``section,name,...`` rows, lighting conditions first."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        [
            "section",
            "name",
            "count",
            "accuracy",
            "false_flag_rate",
            "no_face_missed_rate",
            "flagged",
            "flag_rate",
            "decided",
            "warn_rate",
            "invalidate_rate",
        ]
    )
    for c in report.frame_analysis.conditions:
        writer.writerow(
            [
                "condition",
                c.condition,
                c.frames,
                c.accuracy,
                c.false_flag_rate,
                c.no_face_missed_rate,
                "",
                "",
                "",
                "",
                "",
            ]
        )
    for g in report.groups:
        writer.writerow(
            [
                "group",
                g.group or "",
                g.attempts,
                "",
                "",
                "",
                g.flagged,
                g.flag_rate,
                g.decided,
                g.warn_rate,
                g.invalidate_rate,
            ]
        )
    return out.getvalue()
