"""Webcam stills' bytes against concurrent work, on PostgreSQL with real commits: the
purge deletes bytes only after it commits and only when no frame needs them (an identical
still received meanwhile keeps its image), and an analysis that finishes after its still
was purged keeps no thumbnail."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from datetime import timedelta

import cv2
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, text, update

from tests.support.exams import begin, exam
from tests.support.factories import Factory
from waa_ads.core.db import Database, utcnow
from waa_ads.core.tasks import TaskContext
from waa_ads.delivery.models import Attempt
from waa_ads.integrity import evalset, frame_service, frames, tasks
from waa_ads.integrity.models import IntegrityFrame

pytestmark = [
    pytest.mark.asyncio,
    pytest.mark.parametrize("backend", ["postgresql"], indirect=True),
]

POLICY = """\
format: 1
camera: {frames: true, interval_s: 30, retention_days: 1}
rules: []
"""


def _still() -> bytes:
    ok, data = cv2.imencode(".jpg", evalset.one_face(), [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    return bytes(data.tobytes())


def _context(app: FastAPI, name: str) -> TaskContext:
    return TaskContext(
        db=app.state.db,
        settings=app.state.settings,
        blobs=app.state.blobs,
        task_name=name,
        task_id=str(uuid.uuid4()),
        attempt=0,
    )


async def _filming(
    client: httpx.AsyncClient, make: Factory
) -> tuple[dict[str, str], str, dict[str, str]]:
    """An attempt in progress whose candidate consented to the camera: the admin's
    headers, the attempt's id and the candidate's credential headers."""
    ex = await exam(client, make, candidates=1, policy=POLICY)
    attempt_id, me = await begin(client, ex.codes[0])
    consent = await client.post(
        f"/api/v1/integrity/candidate/attempts/{attempt_id}/camera",
        json={"consent": "given"},
        headers=me,
    )
    assert consent.status_code == 200, consent.text
    return ex.world.headers, attempt_id, me


async def _lock_waiters(db: Database) -> int:
    """Sessions of this database waiting for a lock (other than the asking one)."""
    async with db.transaction(write=False) as session:
        return int(
            await session.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
                )
            )
            or 0
        )


async def _someone_waits(db: Database, timeout_s: float = 10.0) -> bool:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while asyncio.get_running_loop().time() < deadline:
        if await _lock_waiters(db):
            return True
        await asyncio.sleep(0.05)
    return False


async def test_an_identical_still_received_during_a_purge_keeps_its_image(
    live_app: FastAPI, live_client: httpx.AsyncClient, live_make: Factory
) -> None:
    admin, attempt_id, me = await _filming(live_client, live_make)
    still = _still()
    sent = await live_client.post(
        f"/api/v1/integrity/candidate/attempts/{attempt_id}/frames",
        content=still,
        headers={**me, "Content-Type": "image/jpeg"},
    )
    assert sent.status_code == 202, sent.text
    runner = live_app.state.background.runner
    await runner.wait_idle()
    db: Database = live_app.state.db
    async with db.transaction() as session:
        await session.execute(
            update(IntegrityFrame).values(expires_at=utcnow() - timedelta(minutes=1))
        )

    # The candidate sends the same picture again while the first one's retention ends:
    # its row is written, not yet committed, when the purge of the first one commits.
    async with db.transaction() as intake:
        admitted = await frame_service.admit_frame(
            intake, live_app.state.settings, uuid.UUID(attempt_id), me["X-Attempt-Token"]
        )
        again = await frame_service.receive_frame(intake, live_app.state.blobs, admitted, still)
        assert await tasks.purge_frames(_context(live_app, "integrity.purge_frames")) == 1
    await runner.wait_idle()

    image = await live_client.get(f"/api/v1/integrity/frames/{again.id}/image", headers=admin)
    assert image.status_code == 200, image.text
    assert image.content == still
    async with db.transaction(write=False) as session:
        digests = set((await session.scalars(select(IntegrityFrame.sha256))).all())
    assert len(digests) == 2, "the same picture sent twice is stored twice, sealed"


async def test_a_still_identical_to_an_items_picture_takes_nothing_with_it_when_purged(
    live_app: FastAPI, live_client: httpx.AsyncClient, live_make: Factory
) -> None:
    """The blob store is shared and content-addressed: a candidate who sends, as a webcam
    still, the very bytes of a picture stored for something else (here staff media) must
    not have that picture deleted when the still's retention ends."""
    admin, attempt_id, me = await _filming(live_client, live_make)
    still = _still()
    media = await live_client.post(
        "/api/v1/media", files={"file": ("face.jpg", still, "image/jpeg")}, headers=admin
    )
    assert media.status_code == 201, media.text
    blobs = live_app.state.blobs
    picture = hashlib.sha256(still).hexdigest()
    assert await blobs.exists(picture)
    sent = await live_client.post(
        f"/api/v1/integrity/candidate/attempts/{attempt_id}/frames",
        content=still,
        headers={**me, "Content-Type": "image/jpeg"},
    )
    assert sent.status_code == 202, sent.text
    runner = live_app.state.background.runner
    await runner.wait_idle()
    db: Database = live_app.state.db
    async with db.transaction() as session:
        (frame,) = (await session.scalars(select(IntegrityFrame))).all()
        assert frame.thumbnail_sha256 is not None
        stored = {frame.sha256, frame.thumbnail_sha256}
        await session.execute(
            update(IntegrityFrame).values(expires_at=utcnow() - timedelta(minutes=1))
        )
    assert await tasks.purge_frames(_context(live_app, "integrity.purge_frames")) == 1
    await runner.wait_idle()

    assert not any([await blobs.exists(key) for key in stored]), "the still's bytes are gone"
    assert await blobs.get(picture) == still, "the media picture is untouched"
    served = await live_client.get(f"/api/v1/media/{media.json()['id']}/content", headers=admin)
    assert served.status_code == 200 and served.content == still


async def test_a_still_purged_during_its_analysis_keeps_no_thumbnail(
    live_app: FastAPI, live_client: httpx.AsyncClient, live_make: Factory
) -> None:
    admin, attempt_id, _ = await _filming(live_client, live_make)
    db: Database = live_app.state.db
    blobs = live_app.state.blobs
    still = _still()
    thumbnail = hashlib.sha256(frames.thumbnail(frames.decode(still))).hexdigest()
    # A still received and not analysed yet (its job still queued), whose retention ends.
    async with db.transaction() as session:
        attempt = await session.get(Attempt, uuid.UUID(attempt_id))
        assert attempt is not None
        ref = await blobs.put(still, frames.JPEG)
        frame = IntegrityFrame(
            organization_id=attempt.organization_id,
            attempt_id=attempt.id,
            seq=1,
            sha256=ref.sha256,
            size=ref.size,
            content_type=frames.JPEG,
            width=640,
            height=480,
            received_at=utcnow() - timedelta(days=2),
            expires_at=utcnow() - timedelta(days=1),
        )
        session.add(frame)

    # The analysis reads the still before the purge commits and finishes after it.
    async with db.transaction() as purge:
        assert await frame_service.purge_expired(purge) == 1
        analysis = asyncio.create_task(
            tasks.analyse_frame(
                _context(live_app, "integrity.analyse_frame"), frame_id=str(frame.id)
            )
        )
        assert await _someone_waits(db), "the analysis never reached the purged row"
    assert await analysis is False
    await live_app.state.background.runner.wait_idle()

    async with db.transaction(write=False) as session:
        row = await session.get(IntegrityFrame, frame.id)
        assert row is not None
        assert (row.purged_at is not None, row.thumbnail_sha256, row.findings) == (
            True,
            None,
            None,
        )
    assert not await blobs.exists(thumbnail)
    assert not await blobs.exists(ref.sha256)
    thumb = await live_client.get(f"/api/v1/integrity/frames/{frame.id}/thumbnail", headers=admin)
    assert thumb.status_code == 404
