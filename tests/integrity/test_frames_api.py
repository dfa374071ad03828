"""Webcam stills through the API: consent first, intake refusals (type by
content, size, another candidate's credential, a flood), analysis in the background,
signals and flags at the attempt's end, the reviewers' timeline and images, retention,
the policy's choice for a candidate without a camera, the staff analysis route and the
fairness report with its CSV export."""

from __future__ import annotations

import asyncio
import csv
import io
import uuid
from datetime import timedelta
from typing import Any

import cv2
import httpx
import numpy as np
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from tests.support.exams import begin, exam, wait_for_state
from tests.support.factories import Factory, login
from tests.support.problems import problem
from waa_ads.auth.models import Role
from waa_ads.core.db import utcnow
from waa_ads.integrity import evalset, frame_service
from waa_ads.integrity.models import IntegrityFrame

pytestmark = pytest.mark.asyncio

POLICY = """\
format: 1
camera:
  frames: true
  interval_s: 60
  retention_days: 7
  without_camera: {without}
rules:
  - id: others-present
    when: frame_several_faces_count >= 1
    severity: high
    reason: Another face in {{frame_several_faces_count}} stills
  - id: camera-covered
    when: frame_frozen_count >= 1
    severity: medium
    reason: The camera showed the same picture {{frame_frozen_count}} times
  - id: no-camera
    when:
      any:
        - camera_refused == 1
        - camera_unavailable == 1
    severity: low
    reason: Took the test without the camera
"""


def jpeg(image: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    return bytes(data.tobytes())


FACE = evalset.one_face()
_HEAD = FACE[20:280, 180:440]
TWO = np.full((480, 640, 3), 90, np.uint8)
TWO[110:370, 30:290] = _HEAD
TWO[110:370, 350:610] = _HEAD[:, ::-1]
BLACK = np.zeros((480, 640, 3), np.uint8)


async def _frames(client: httpx.AsyncClient, attempt_id: str, headers: dict[str, str]) -> Any:
    response = await client.get(f"/api/v1/integrity/attempts/{attempt_id}/frames", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def _analysed(
    client: httpx.AsyncClient, attempt_id: str, headers: dict[str, str], count: int
) -> Any:
    """The attempt's frames once ``count`` are analysed (the in-process runner does it)."""
    deadline = asyncio.get_running_loop().time() + 20
    while True:
        listed = await _frames(client, attempt_id, headers)
        if sum(1 for f in listed if f["analysed_at"]) >= count:
            return listed
        assert asyncio.get_running_loop().time() < deadline, listed
        await asyncio.sleep(0.05)


async def _summary(client: httpx.AsyncClient, attempt_id: str, headers: dict[str, str]) -> Any:
    deadline = asyncio.get_running_loop().time() + 20
    while True:
        got = await client.get(f"/api/v1/integrity/attempts/{attempt_id}", headers=headers)
        if got.status_code == 200 and got.json()["signals"]["frame_count"]["value"] >= 1:
            return got.json()
        assert asyncio.get_running_loop().time() < deadline, got.text
        await asyncio.sleep(0.05)


def _post_frame(
    client: httpx.AsyncClient, attempt_id: str, headers: dict[str, str], data: bytes, kind: str
) -> Any:
    return client.post(
        f"/api/v1/integrity/candidate/attempts/{attempt_id}/frames",
        content=data,
        headers={**headers, "Content-Type": kind},
    )


async def test_stills_from_consent_to_review_retention_and_fairness(
    app: FastAPI, client: httpx.AsyncClient, make: Factory
) -> None:
    ex = await exam(client, make, candidates=2, policy=POLICY.format(without="note"))
    admin = ex.world.headers
    mine, me = await begin(client, ex.codes[0])
    theirs, them = await begin(client, ex.codes[1])
    camera = f"/api/v1/integrity/candidate/attempts/{mine}/camera"

    asked = (await client.get(camera, headers=me)).json()
    assert (asked["frames"], asked["interval_s"], asked["consent"]) == (True, 60, None)
    assert "every 60 seconds" in asked["consent_text"] and "7 days" in asked["consent_text"]
    early = await _post_frame(client, mine, me, jpeg(FACE), "image/jpeg")
    assert (early.status_code, problem(early)) == (409, "camera-consent-missing")
    given = await client.post(camera, json={"consent": "given"}, headers=me)
    assert (given.status_code, given.json()["consent"], given.json()["paused"]) == (
        200,
        "given",
        False,
    )

    # Refused before anything is stored: the type judged by the bytes, the size, the
    # credential of another candidate.
    gif = await _post_frame(client, mine, me, b"GIF89a" + b"\0" * 200, "image/jpeg")
    assert (gif.status_code, problem(gif)) == (422, "frame-invalid")
    assert "JPEG or PNG" in gif.json()["detail"]
    big = await _post_frame(client, mine, me, b"\xff\xd8\xff" + b"\0" * (1 << 20), "image/jpeg")
    assert (big.status_code, problem(big)) == (413, "frame-too-large")
    crossed = await _post_frame(client, mine, them, jpeg(FACE), "image/jpeg")
    assert (crossed.status_code, problem(crossed)) == (404, "attempt-not-found")
    assert await _frames(client, mine, admin) == []

    for image in (FACE, TWO, BLACK, BLACK):
        sent = await _post_frame(client, mine, me, jpeg(image), "image/jpeg")
        assert sent.status_code == 202, sent.text
    assert sent.json()["seq"] == 4 and sent.json()["next_in_s"] == 60
    # Twice the policy's rate (at least four a minute) and no more.
    flood = await _post_frame(client, mine, me, jpeg(FACE), "image/jpeg")
    assert (flood.status_code, problem(flood)) == (429, "frames-rate-limited")
    assert int(flood.headers["Retry-After"]) >= 1

    listed = await _analysed(client, mine, admin, 4)
    assert [f["findings"]["presence"] for f in listed] == ["one", "several", "none", "none"]
    assert [f["concerns"] for f in listed] == [
        [],
        ["several_faces"],
        ["no_face", "too_dark", "uniform"],
        ["no_face", "too_dark", "uniform", "frozen"],
    ]
    assert all(f["has_thumbnail"] and f["has_image"] for f in listed)
    assert "signature" not in listed[0]["findings"]

    # The end of the attempt starts its analysis (no sweep, no request).
    done = await client.post(f"/api/v1/attempts/{mine}/submit", headers=me)
    assert done.status_code == 200, done.text
    summary = await _summary(client, mine, admin)
    signals = {k: v["value"] for k, v in summary["signals"].items()}
    assert (signals["frame_count"], signals["frame_several_faces_count"]) == (4, 1)
    assert (signals["frame_no_face_count"], signals["frame_frozen_count"]) == (2, 1)
    assert signals["camera_refused"] == signals["camera_unavailable"] == 0
    assert [f["rule"] for f in summary["flags"]] == ["others-present", "camera-covered"]
    assert summary["flags"][0]["evidence"][0]["frame"] == listed[1]["id"]

    timeline = (
        await client.get(f"/api/v1/integrity/attempts/{mine}/timeline", headers=admin)
    ).json()
    assert [f["seq"] for f in timeline["frames"]] == [1, 2, 3, 4]
    thumb = await client.get(f"/api/v1/integrity/frames/{listed[1]['id']}/thumbnail", headers=admin)
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
    assert thumb.content[:3] == b"\xff\xd8\xff"
    still = await client.get(f"/api/v1/integrity/frames/{listed[0]['id']}/image", headers=admin)
    assert still.content == jpeg(FACE)
    other = await make.organization()
    stranger = await login(client, await make.user(other, Role.admin))
    hidden = await client.get(
        f"/api/v1/integrity/frames/{listed[0]['id']}/thumbnail", headers=stranger
    )
    assert (hidden.status_code, problem(hidden)) == (404, "frame-not-found")

    # Retention: a warning rests on this attempt, so its thumbnails stay as the evidence;
    # the other attempt's frame goes entirely.
    warned = await client.post(
        f"/api/v1/integrity/attempts/{mine}/decisions",
        json={"kind": "warn", "reason": "Someone else in the room"},
        headers=admin,
    )
    assert warned.status_code == 201, warned.text
    await client.post(
        f"/api/v1/integrity/candidate/attempts/{theirs}/camera",
        json={"consent": "given"},
        headers=them,
    )
    assert (await _post_frame(client, theirs, them, jpeg(FACE), "image/jpeg")).status_code == 202
    [their_frame] = await _analysed(client, theirs, admin, 1)
    blobs = app.state.blobs
    async with app.state.db.transaction() as session:
        await session.execute(
            update(IntegrityFrame).values(expires_at=utcnow() - timedelta(seconds=1))
        )
    async with app.state.db.transaction() as session:
        assert await frame_service.purge_expired(session) == 5
        assert await frame_service.purge_expired(session) == 0  # idempotent
    # The bytes go once the purge has committed (integrity.delete_frame_blobs).
    await app.state.background.runner.wait_idle()
    after = await _frames(client, mine, admin)
    assert [(f["has_image"], f["has_thumbnail"]) for f in after] == [(False, True)] * 4
    assert after[1]["findings"]["presence"] == "several"  # findings stay
    gone = await client.get(f"/api/v1/integrity/frames/{after[0]['id']}/image", headers=admin)
    assert (gone.status_code, problem(gone)) == (404, "frame-image-purged")
    kept = await client.get(f"/api/v1/integrity/frames/{after[0]['id']}/thumbnail", headers=admin)
    assert kept.status_code == 200
    [their_after] = await _frames(client, theirs, admin)
    assert (their_after["has_image"], their_after["has_thumbnail"]) == (False, False)
    async with app.state.db.transaction(write=False) as session:
        row = await session.get(IntegrityFrame, uuid.UUID(their_frame["id"]))
        assert row is not None
        assert not await blobs.exists(row.sha256)
        # The findings stay without the small grey picture kept for the frozen test.
        for purged in [
            row,
            *[await session.get(IntegrityFrame, uuid.UUID(f["id"])) for f in after],
        ]:
            assert purged is not None and purged.findings is not None
            assert "presence" in purged.findings and "signature" not in purged.findings

    # The staff analysis route: the same findings, nothing stored.
    faces = await client.post(
        "/api/v1/integrity/faces",
        content=jpeg(TWO),
        headers={**admin, "Content-Type": "image/jpeg"},
    )
    assert faces.status_code == 200, faces.text
    assert (faces.json()["faces"], faces.json()["concerns"]) == (2, ["several_faces"])
    anonymous = await client.post("/api/v1/integrity/faces", content=jpeg(TWO))
    assert anonymous.status_code == 401

    # Fairness: flag and decision rates per candidate group.
    people = (await client.get("/api/v1/candidates", headers=admin)).json()["items"]
    for person in people:
        named = await client.patch(
            f"/api/v1/candidates/{person['id']}",
            json={"group": "site-a" if person["full_name"] == "Cand 0" else "site-b"},
            headers=admin,
        )
        assert named.status_code == 200 and named.json()["group"], named.text
    await client.post(f"/api/v1/attempts/{theirs}/submit", headers=them)
    assert await wait_for_state(app, theirs, "scored") == "scored"
    await _summary(client, theirs, admin)
    report = (await client.get("/api/v1/integrity/fairness", headers=admin)).json()
    assert [
        (g["group"], g["attempts"], g["flagged"], g["flag_rate"], g["decisions"])
        for g in report["groups"]
    ] == [("site-a", 1, 1, 1.0, {"warn": 1}), ("site-b", 1, 0, 0.0, {})]
    conditions = {c["condition"] for c in report["frame_analysis"]["conditions"]}
    assert {"normal", "dim", "very_dark", "backlit", "noisy"} <= conditions
    exported = await client.get("/api/v1/integrity/fairness.csv", headers=admin)
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [r["name"] for r in rows if r["section"] == "group"] == ["site-a", "site-b"]
    assert len([r for r in rows if r["section"] == "condition"]) == len(conditions)
    others = (await client.get("/api/v1/integrity/fairness", headers=stranger)).json()
    assert others["groups"] == []


# One backend each for the two below (the intake above runs on both): they exercise
# policy decisions, not storage.
@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
async def test_without_a_camera_the_policy_decides(
    app: FastAPI, client: httpx.AsyncClient, make: Factory
) -> None:
    ex = await exam(
        client, make, candidates=2, proctor=True, policy=POLICY.format(without="proctor")
    )
    refused_id, refused = await begin(client, ex.codes[0])
    reply = await client.post(
        f"/api/v1/integrity/candidate/attempts/{refused_id}/camera",
        json={"consent": "refused"},
        headers=refused,
    )
    assert (reply.status_code, reply.json()["paused"]) == (200, True)
    # The attempt waits: saves are refused until a proctor lets the candidate go on.
    saved = await client.put(
        f"/api/v1/attempts/{refused_id}/responses/Q1",
        json={"seq": 1, "value": "B"},
        headers=refused,
    )
    assert (saved.status_code, problem(saved)) == (409, "attempt-paused")
    frame = await _post_frame(client, refused_id, refused, jpeg(FACE), "image/jpeg")
    assert frame.status_code == 409
    assert ex.world.proctor is not None
    proctor = await login(client, ex.world.proctor)
    resumed = await client.post(
        f"/api/v1/attempts/{refused_id}/resume",
        json={"reason": "Approved without camera: no webcam at home"},
        headers=proctor,
    )
    assert resumed.status_code == 200, resumed.text
    bad = await client.post(
        f"/api/v1/integrity/candidate/attempts/{refused_id}/camera",
        json={"consent": "maybe"},
        headers=refused,
    )
    assert bad.status_code == 422

    # A player that never answers the camera question counts as no camera.
    silent_id, silent = await begin(client, ex.codes[1])
    await client.post(f"/api/v1/attempts/{silent_id}/submit", headers=silent)
    await client.post(f"/api/v1/attempts/{refused_id}/submit", headers=refused)
    admin = ex.world.headers
    for attempt_id, signal in ((refused_id, "camera_refused"), (silent_id, "camera_unavailable")):
        assert await wait_for_state(app, attempt_id, "scored") == "scored"
        analysed = await client.post(
            f"/api/v1/integrity/attempts/{attempt_id}/analyse", headers=admin
        )
        body = analysed.json()
        assert body["signals"][signal]["value"] == 1, body["signals"][signal]
        assert [f["rule"] for f in body["flags"]] == ["no-camera"]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_a_policy_without_stills_takes_none(client: httpx.AsyncClient, make: Factory) -> None:
    ex = await exam(client, make, candidates=1, policy="format: 1\nrules: []\n")
    attempt_id, headers = await begin(client, ex.codes[0])
    asked = await client.get(
        f"/api/v1/integrity/candidate/attempts/{attempt_id}/camera", headers=headers
    )
    assert (asked.json()["frames"], asked.json()["consent_text"]) == (False, None)
    consent = await client.post(
        f"/api/v1/integrity/candidate/attempts/{attempt_id}/camera",
        json={"consent": "given"},
        headers=headers,
    )
    assert (consent.status_code, problem(consent)) == (409, "frames-not-requested")
    frame = await _post_frame(client, attempt_id, headers, jpeg(FACE), "image/png")
    assert (frame.status_code, problem(frame)) == (409, "frames-not-requested")


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
async def test_erasing_the_candidate_deletes_every_image_of_their_stills(
    app: FastAPI, client: httpx.AsyncClient, make: Factory
) -> None:
    ex = await exam(client, make, candidates=1, policy=POLICY.format(without="note"))
    admin = ex.world.headers
    attempt_id, me = await begin(client, ex.codes[0])
    await client.post(
        f"/api/v1/integrity/candidate/attempts/{attempt_id}/camera",
        json={"consent": "given"},
        headers=me,
    )
    for image in (FACE, TWO):
        sent = await _post_frame(client, attempt_id, me, jpeg(image), "image/jpeg")
        assert sent.status_code == 202, sent.text
    listed = await _analysed(client, attempt_id, admin, 2)
    await client.post(f"/api/v1/attempts/{attempt_id}/submit", headers=me)
    # A warning would keep the thumbnails past the stills' retention; not past an erasure.
    warned = await client.post(
        f"/api/v1/integrity/attempts/{attempt_id}/decisions",
        json={"kind": "warn", "reason": "Someone else in the room"},
        headers=admin,
    )
    assert warned.status_code == 201, warned.text
    blobs = app.state.blobs
    async with app.state.db.transaction(write=False) as session:
        rows = [await session.get(IntegrityFrame, uuid.UUID(f["id"])) for f in listed]
        keys = {k for r in rows if r is not None for k in (r.sha256, r.thumbnail_sha256) if k}
    assert len(keys) == 4 and all([await blobs.exists(k) for k in keys])

    timeline = await client.get(f"/api/v1/integrity/attempts/{attempt_id}/timeline", headers=admin)
    candidate_id = timeline.json()["candidate_id"]
    erased = await client.post(f"/api/v1/candidates/{candidate_id}/erase", headers=admin)
    assert erased.status_code == 200, erased.text
    await app.state.background.runner.wait_idle()

    after = await _frames(client, attempt_id, admin)
    assert [(f["has_image"], f["has_thumbnail"]) for f in after] == [(False, False)] * 2
    assert [f["findings"]["presence"] for f in after] == ["one", "several"]  # no picture
    for frame in after:
        for kind in ("image", "thumbnail"):
            gone = await client.get(f"/api/v1/integrity/frames/{frame['id']}/{kind}", headers=admin)
            assert (gone.status_code, problem(gone)) == (404, "frame-image-purged")
    assert not any([await blobs.exists(k) for k in keys])
    async with app.state.db.transaction(write=False) as session:
        for f in after:
            row = await session.get(IntegrityFrame, uuid.UUID(f["id"]))
            assert row is not None and row.findings is not None
            assert "signature" not in row.findings
