"""Webcam frame analysis without a database: what bytes are accepted, what the analysis
finds on frames made from real photographs (scikit-image's, read from the installed
package) and on made-up ones (black, uniform, repeated), the frame signals and the policy's
camera section, and the ``waa-ads integrity faces`` command."""

from __future__ import annotations

import json
import struct
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from waa_ads.cli import app as cli_app
from waa_ads.integrity import evalset, frames, rules, signals


def jpeg(image: np.ndarray, quality: int = 90) -> bytes:
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return bytes(data.tobytes())


def png(image: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".png", image)
    assert ok
    return bytes(data.tobytes())


@pytest.fixture(scope="module")
def face() -> np.ndarray:
    return evalset.one_face()


@pytest.fixture(scope="module")
def two_faces() -> np.ndarray:
    """Two of the package's photographs composited side by side into one frame."""
    head = evalset.one_face()[20:280, 180:440]  # the astronaut's head and shoulders
    frame = np.full((480, 640, 3), 90, np.uint8)
    frame[110:370, 30:290] = head
    frame[110:370, 350:610] = head[:, ::-1]
    return frame


# --- intake checks ----------------------------------------------------------------------------


def test_the_bytes_decide_the_type_not_the_name(face: np.ndarray) -> None:
    assert frames.check_frame(jpeg(face)) == (frames.JPEG, 640, 480)
    assert frames.check_frame(png(face[:100, :120])) == (frames.PNG, 120, 100)
    for bad in (b"GIF89a" + b"\0" * 100, b"<svg xmlns='http://www.w3.org/2000/svg'/>", b"%PDF-1"):
        with pytest.raises(frames.FrameRefused, match="JPEG or PNG"):
            frames.check_frame(bad)
    with pytest.raises(frames.FrameRefused, match="empty"):
        frames.check_frame(b"")


def test_oversized_and_odd_dimensions_are_refused_before_decoding(face: np.ndarray) -> None:
    with pytest.raises(frames.FrameTooLarge):
        frames.check_frame(b"\xff\xd8\xff" + b"\0" * frames.MAX_FRAME_BYTES)
    with pytest.raises(frames.FrameRefused, match="between"):
        frames.check_frame(png(face[:20, :20]))
    # A PNG header claiming 100,000 x 100,000 pixels (a decompression bomb) in a few bytes.
    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    bomb = (
        b"\x89PNG\r\n\x1a\n"
        + struct.pack(">I", len(ihdr))
        + b"IHDR"
        + ihdr
        + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    )
    with pytest.raises(frames.FrameRefused, match="100000x100000"):
        frames.check_frame(bomb)
    # The right magic bytes and nothing after them.
    with pytest.raises(frames.FrameRefused):
        frames.decode(b"\xff\xd8\xff\xe0" + b"\0" * 64)


def test_a_jpeg_decoy_header_behind_fill_bytes_does_not_hide_its_real_size() -> None:
    """Fill bytes (FF) may precede a marker; a walk that read a length from them landed on
    a decoy start-of-frame inside an APP0 segment (320x240) while the decoder read the real
    one (2400x1800): the still passed the size check and decoded far larger."""
    ok, encoded = cv2.imencode(".jpg", np.zeros((1800, 2400, 3), np.uint8))
    assert ok
    real = encoded.tobytes()
    app_length = 0xF000
    payload = bytearray(app_length - 2)
    # Where a walk that takes "FF FF E0 F0" as a marker with length 0xE0F0 lands.
    decoy_at = 2 + 2 + 0xE0F0 - 7
    decoy = b"\xff\xc0" + struct.pack(">HBHHB", 17, 8, 240, 320, 3) + b"\x01\x11\x00" * 3
    payload[decoy_at : decoy_at + len(decoy)] = decoy
    crafted = (
        b"\xff\xd8\xff" + b"\xff\xe0" + struct.pack(">H", app_length) + bytes(payload) + real[2:]
    )
    # What a decoder sees: the real size, past OpenCV's pixel ceiling that frames sets.
    with pytest.raises(cv2.error, match="CV_IO_MAX_IMAGE_PIXELS"):
        cv2.imdecode(np.frombuffer(crafted, np.uint8), cv2.IMREAD_GRAYSCALE)
    assert frames.dimensions(crafted, frames.JPEG) == (2400, 1800)
    with pytest.raises(frames.FrameRefused, match="2400x1800"):
        frames.check_frame(crafted)
    with pytest.raises(frames.FrameRefused, match="2400x1800"):
        frames.decode(crafted)


# --- findings -----------------------------------------------------------------------------


def test_a_real_portrait_is_one_face_centred_and_well_lit(face: np.ndarray) -> None:
    found = frames.analyse_bytes(jpeg(face))
    assert (found.faces, found.presence, found.looking_away) == (1, "one", False)
    assert not (found.too_dark or found.too_bright or found.uniform or found.frozen)
    assert not found.off_centre and not found.at_edge and not found.far
    [box] = found.boxes
    assert 0.3 < box.x + box.w / 2 < 0.7 and box.view == "frontal"
    assert found.concerns == []


def test_the_face_is_still_found_in_a_dim_room(face: np.ndarray) -> None:
    dim = evalset.one_face("dim")
    found = frames.analyse(dim)
    assert found.presence == "one" and found.too_dark
    assert found.concerns == ["too_dark"]


def test_two_people_and_nobody(two_faces: np.ndarray) -> None:
    assert frames.analyse(two_faces).presence == "several"
    empty = frames.analyse(evalset.no_face())
    assert (empty.faces, empty.presence, empty.concerns) == (0, "none", ["no_face"])


def test_a_face_leaving_the_frame(face: np.ndarray) -> None:
    shifted = np.full_like(face, 60)
    shifted[:, :260] = face[:, 245:505]  # the face now touches the left border
    found = frames.analyse(shifted)
    assert found.presence == "one"
    assert found.off_centre and found.at_edge
    assert "at_edge" in found.concerns


def test_black_and_covered_frames() -> None:
    black = frames.analyse(np.zeros((480, 640, 3), np.uint8))
    assert black.too_dark and black.uniform and black.presence == "none"
    white = frames.analyse(np.full((480, 640, 3), 250, np.uint8))
    assert white.too_bright and white.uniform


def test_repeated_frames_are_frozen_and_a_live_camera_is_not(face: np.ndarray) -> None:
    first = frames.analyse_bytes(jpeg(face))
    again = frames.analyse_bytes(jpeg(face, quality=85), previous_signature=first.signature)
    assert again.frozen and "frozen" in again.concerns
    # The same scene a few seconds later: the person moved a little, the sensor is noisy.
    moved = np.roll(face, 6, axis=1).astype(np.int16)
    rng = np.random.default_rng(3)
    moved = np.clip(moved + rng.normal(0, 3, moved.shape), 0, 255).astype(np.uint8)
    later = frames.analyse_bytes(jpeg(moved), previous_signature=first.signature)
    assert not later.frozen
    assert not frames.is_frozen("", first.signature)


def test_preprocessing_lifts_a_very_dark_frame(face: np.ndarray) -> None:
    dark = evalset.one_face("very_dark")
    assert frames.analyse(dark, mode="clahe").presence == "one"
    grey = np.asarray(cv2.cvtColor(dark, cv2.COLOR_BGR2GRAY), dtype=np.uint8)
    assert frames.preprocess(grey).mean() > 2 * grey.mean()


def test_thumbnail_is_a_small_jpeg(face: np.ndarray) -> None:
    thumb = frames.thumbnail(face)
    assert frames.check_frame(thumb) == (frames.JPEG, 160, 120)


# --- signals and policy -----------------------------------------------------------------------


def test_frame_findings_become_signals_with_their_evidence() -> None:
    t0 = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
    found = [
        {"presence": "one", "faces": 1, "brightness": 120.0},
        {"presence": "none", "faces": 0, "brightness": 20.0, "too_dark": True},
        {"presence": "several", "faces": 2, "brightness": 110.0},
        {"presence": "none", "faces": 0, "brightness": 3.0, "uniform": True, "frozen": True},
    ]
    records = [
        signals.FrameRecord(f"f{i}", i + 1, t0 + timedelta(seconds=30 * i), f)
        for i, f in enumerate(found)
    ]
    events = [signals.EventRecord("e1", "camera_consent_refused", t0)]
    out = signals.compute_signals(
        events, [], {}, signals.SignalSettings(), ended_at=t0, frames=records
    )
    assert out["frame_count"].value == 4
    assert out["frame_no_face_count"].value == 2
    assert out["frame_no_face_share"].value == 0.5
    assert out["frame_several_faces_count"].value == 1
    assert (out["frame_too_dark_count"].value, out["frame_covered_count"].value) == (1, 1)
    assert out["frame_frozen_count"].evidence == [
        {"frame": "f3", "seq": 4, "at": records[3].at.isoformat(), "faces": 0, "brightness": 3.0}
    ]
    assert out["camera_refused"].value == 1 and out["camera_unavailable"].value == 0
    policy = rules.parse_policy(
        "format: 1\nrules:\n  - id: away\n    when: frame_no_face_share > 0.3\n"
        "    severity: medium\n    reason: No face in {frame_no_face_count} stills\n"
    )
    [flag] = rules.evaluate(policy, out)
    assert flag.reason == "No face in 2 stills"
    assert {e["frame"] for e in flag.evidence} == {"f1", "f3"}


def test_the_camera_section_of_a_policy() -> None:
    policy = rules.parse_policy(
        "format: 1\ncamera:\n  frames: true\n  interval_s: 20\n  retention_days: 14\n"
        "  without_camera: proctor\nrules: []\n"
    )
    camera = policy.camera
    assert (camera.frames, camera.interval_s, camera.retention_days) == (True, 20, 14)
    assert camera.without_camera == "proctor"
    assert "every 20 seconds" in camera.consent and "14 days" in camera.consent
    assert rules.parse_policy("format: 1\nrules: []\n").camera.frames is False
    with pytest.raises(rules.PolicyProblem) as refused:
        rules.parse_policy(
            "format: 1\ncamera:\n  frames: true\n  interval_s: 1\n  without_camera: maybe\n"
            "rules: []\n"
        )
    fields = {(p[0], p[1]) for p in refused.value.problems}
    assert fields == {("camera.interval_s", 4), ("camera.without_camera", 5)}


# --- the command line ---------------------------------------------------------------------


def test_faces_command_prints_one_json_line_per_image(tmp_path: Path, face: np.ndarray) -> None:
    files = {
        "face.jpg": jpeg(face),
        "again.jpg": jpeg(face),
        "black.png": png(np.zeros((480, 640, 3), np.uint8)),
        "notes.txt": b"not an image",
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    result = CliRunner().invoke(
        cli_app, ["integrity", "faces", *(str(tmp_path / n) for n in files)]
    )
    assert result.exit_code == 2, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [Path(line["file"]).name for line in lines] == list(files)
    first, again, black, text = lines
    assert (first["faces"], first["presence"], first["concerns"]) == (1, "one", [])
    assert again["frozen"] is True  # compared with the file before it
    assert black["too_dark"] and black["presence"] == "none"
    assert "JPEG or PNG" in text["error"]
    assert "signature" not in first
