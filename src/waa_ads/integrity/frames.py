"""Webcam stills: what the bytes are, and what a frame shows (no I/O: bytes or pixels in,
findings out).

The detector is OpenCV's frontal-face Haar cascade (its XML ships in the OpenCV wheel, so
nothing is downloaded at run time), run on a grey copy of the frame scaled to 320 pixels
wide; a dark frame is first lifted (gamma) and equalized locally (CLAHE). Where no
frontal face is found the profile cascade is tried in both directions: a face seen from
the side is a person present but turned away. Findings per frame:

- ``faces`` and ``presence`` (``none``, ``one``, ``several``), each face's box as fractions
  of the frame;
- ``looking_away`` (only a profile face), ``off_centre`` (the face's centre outside the
  middle of the frame), ``at_edge`` (a box touching the border: leaving the frame),
  ``far`` (a face narrower than a tenth of the frame);
- ``brightness`` (mean luma 0-255) and ``contrast`` (its standard deviation),
  ``too_dark``, ``too_bright``, ``uniform`` (almost no contrast: a covered lens);
- ``signature``: a 32x24 grey thumbnail, hex-encoded, that the next frame of the attempt is
  compared with; ``frozen`` when the two are near identical (see :func:`is_frozen`).

Thresholds are module constants, documented in docs/integrity.md with the evaluation that
chose them.
"""

from __future__ import annotations

import os
import struct
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

# OpenCV's own ceiling on the pixels it will decode (read once, at its first decode): a
# still is at most 1920 x 1920, so nothing larger is ever allocated, whatever a header
# claims. Set before cv2 is imported; a deployment may set it lower.
os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", str(1920 * 1920))

import cv2
import numpy as np
import numpy.typing as npt

from waa_ads.core.errors import PayloadTooLarge, Unprocessable
from waa_ads.core.i18n import N_

JPEG = "image/jpeg"
PNG = "image/png"

#: Frames larger than this are refused before decoding.
MAX_FRAME_BYTES = 1024 * 1024
MAX_SIDE = 1920
MIN_WIDTH, MIN_HEIGHT = 64, 48
#: Analysis width: a webcam face at 640x480 is 100-300 px wide, 50-150 px here.
WORK_WIDTH = 320
MIN_FACE = 28  # pixels at WORK_WIDTH
DARK_BELOW = 45.0
DARK_FRAME = 90.0  # mean luma below which the detector's copy is lifted and equalized
BRIGHT_ABOVE = 220.0
UNIFORM_BELOW = 6.0  # standard deviation of luma: a covered lens or a blank picture
FAR_BELOW = 0.10  # face width as a share of the frame width
#: Two frames are frozen when their 32x24 grey signatures differ by less than this on
#: average (0-255) and nowhere by more than FROZEN_MAX: a live camera's noise and a
#: person's breathing move a signature by more than that between stills seconds apart.
FROZEN_MEAN = 0.6
FROZEN_MAX = 3
SIGNATURE_SIZE = (32, 24)
THUMBNAIL_SIZE = (160, 120)

Image = npt.NDArray[np.uint8]


class FrameRefused(Unprocessable):
    """Bytes that are not a usable still: not JPEG or PNG by their content, too large, of
    the wrong dimensions, or not decodable."""

    code = "frame-invalid"
    title = N_("Frame refused")


class FrameTooLarge(PayloadTooLarge):
    code = "frame-too-large"
    title = N_("Frame too large")


def sniff(data: bytes) -> str | None:
    """The image type the bytes themselves declare (JPEG or PNG), whatever the sender said."""
    if data[:3] == b"\xff\xd8\xff":
        return JPEG
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return PNG
    return None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:
            # Fill bytes before a marker: a decoder skips them, and so must this walk, or
            # it reads a length from the padding and lands on a decoy header.
            i += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        length = struct.unpack(">H", data[i + 2 : i + 4])[0]
        # Start-of-frame markers (baseline, progressive, ...) carry the dimensions.
        if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE):
            height, width = struct.unpack(">HH", data[i + 5 : i + 9])
            return int(width), int(height)
        i += 2 + length
    return None


def dimensions(data: bytes, content_type: str) -> tuple[int, int] | None:
    """Width and height from the header alone (a picture is never decoded before its
    dimensions are known to be acceptable)."""
    if content_type == PNG:
        if len(data) < 24 or data[12:16] != b"IHDR":
            return None
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    return _jpeg_size(data)


def check_frame(data: bytes) -> tuple[str, int, int]:
    """The content type and dimensions of an acceptable still; :class:`FrameRefused`
    saying why otherwise."""
    if not data:
        raise FrameRefused("the frame is empty")
    if len(data) > MAX_FRAME_BYTES:
        raise FrameTooLarge(f"the frame is {len(data)} bytes; the limit is {MAX_FRAME_BYTES}")
    kind = sniff(data)
    if kind is None:
        raise FrameRefused("a frame is a JPEG or PNG image (judged by its bytes)")
    size = dimensions(data, kind)
    if size is None:
        raise FrameRefused(f"the {kind} header gives no dimensions")
    width, height = size
    if not (MIN_WIDTH <= width <= MAX_SIDE and MIN_HEIGHT <= height <= MAX_SIDE):
        raise FrameRefused(
            f"the frame is {width}x{height}; each side must be between "
            f"{MIN_WIDTH}x{MIN_HEIGHT} and {MAX_SIDE}"
        )
    return kind, width, height


def decode(data: bytes) -> Image:
    """The frame as BGR pixels (after :func:`check_frame`); FrameRefused when it does not
    decode."""
    _, width, height = check_frame(data)
    try:
        pixels = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    except cv2.error:  # past the pixel ceiling, or a decoder's refusal
        pixels = None
    if pixels is None:
        raise FrameRefused("the frame does not decode as an image")
    if pixels.shape[:2] != (height, width):
        raise FrameRefused(
            f"the frame decodes as {pixels.shape[1]}x{pixels.shape[0]}, not the "
            f"{width}x{height} its header gives"
        )
    return np.asarray(pixels, dtype=np.uint8)


@dataclass(frozen=True)
class Box:
    x: float
    y: float
    w: float
    h: float
    view: str  # "frontal" or "profile"


@dataclass
class Findings:
    width: int
    height: int
    faces: int
    presence: str
    boxes: list[Box] = field(default_factory=list)
    looking_away: bool = False
    off_centre: bool = False
    at_edge: bool = False
    far: bool = False
    brightness: float = 0.0
    contrast: float = 0.0
    too_dark: bool = False
    too_bright: bool = False
    uniform: bool = False
    frozen: bool = False
    signature: str = ""

    def as_dict(self, *, with_signature: bool = True) -> dict[str, Any]:
        out = asdict(self)
        if not with_signature:
            out.pop("signature")
        return out

    @property
    def concerns(self) -> list[str]:
        """What in this frame a reviewer would look at (empty for an ordinary frame)."""
        out = []
        if self.presence != "one":
            out.append("no_face" if self.presence == "none" else "several_faces")
        for name in ("looking_away", "at_edge", "too_dark", "too_bright", "uniform", "frozen"):
            if getattr(self, name):
                out.append(name)
        return out


@lru_cache(maxsize=4)
def _cascade(name: str) -> cv2.CascadeClassifier:
    path = Path(cv2.data.haarcascades) / name  # type: ignore[attr-defined]
    cascade = cv2.CascadeClassifier(str(path))
    if cascade.empty():
        raise RuntimeError(f"the OpenCV cascade {name} did not load from {path}")
    return cascade


def _gamma_table(gamma: float) -> Image:
    return np.asarray(
        np.clip(((np.arange(256) / 255.0) ** gamma) * 255.0 + 0.5, 0, 255), dtype=np.uint8
    )


def preprocess(grey: Image, mode: str = "clahe") -> Image:
    """The grey picture the detector sees: ``none`` as is, ``equalize`` (global histogram
    equalization), or ``clahe``: a frame darker than :data:`DARK_FRAME` gets a gamma lift,
    then contrast-limited adaptive equalization over 8x8 tiles; a brighter one is left as
    it is."""
    if mode == "none":
        return grey
    if mode == "equalize":
        return np.asarray(cv2.equalizeHist(grey), dtype=np.uint8)
    mean = float(grey.mean())
    if mean >= DARK_FRAME:
        # Measured (bench/bench_faces.py): on frames in ordinary light, equalizing costs
        # more true faces than it finds, so only dark frames are touched.
        return grey
    # Lift the shadows so the cascade's light-dark features show again (a mean of 20
    # becomes about 70), then equalize contrast locally.
    gamma = max(0.35, np.log(110.0 / 255.0) / np.log(max(mean, 1.0) / 255.0))
    grey = np.asarray(cv2.LUT(grey, _gamma_table(float(gamma))), dtype=np.uint8)
    clahe = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8))
    return np.asarray(clahe.apply(grey), dtype=np.uint8)


def _detect(
    cascade: cv2.CascadeClassifier, grey: Image, neighbours: int, scale: float = 1.15
) -> list[tuple[int, int, int, int]]:
    found = cascade.detectMultiScale(
        grey, scaleFactor=scale, minNeighbors=neighbours, minSize=(MIN_FACE, MIN_FACE)
    )
    return [tuple(int(v) for v in box) for box in found]  # type: ignore[misc]


def _overlaps(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    ix = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    iy = max(0, min(ay + ah, by + bh) - max(ay, by))
    return ix * iy > 0.3 * min(aw * ah, bw * bh)


def find_faces(grey: Image, mode: str = "clahe") -> list[Box]:
    """Faces in a grey picture already scaled to :data:`WORK_WIDTH`: frontal ones, or
    failing those, profiles (either direction)."""
    height, width = grey.shape[:2]
    seen = preprocess(grey, mode)
    raw = _detect(_cascade("haarcascade_frontalface_alt2.xml"), seen, 4)
    boxes: list[tuple[int, int, int, int]] = []
    for box in sorted(raw, key=lambda b: -b[2] * b[3]):
        if not any(_overlaps(box, kept) for kept in boxes):
            boxes.append(box)
    view = "frontal"
    if not boxes:
        view = "profile"
        profile = _cascade("haarcascade_profileface.xml")
        for box in _detect(profile, seen, 5, 1.2):
            boxes.append(box)
        for x, y, w, h in _detect(profile, np.ascontiguousarray(seen[:, ::-1]), 5, 1.2):
            mirrored = (width - x - w, y, w, h)
            if not any(_overlaps(mirrored, kept) for kept in boxes):
                boxes.append(mirrored)
    return [Box(x / width, y / height, w / width, h / height, view) for x, y, w, h in boxes]


def signature(grey: Image) -> Image:
    return np.asarray(cv2.resize(grey, SIGNATURE_SIZE, interpolation=cv2.INTER_AREA))


def is_frozen(previous: str, current: str) -> bool:
    """Whether two frames' signatures (hex) are near identical: a covered or frozen camera,
    or a virtual one replaying a still."""
    if not previous or not current or len(previous) != len(current):
        return False
    a = np.frombuffer(bytes.fromhex(previous), dtype=np.uint8).astype(np.int16)
    b = np.frombuffer(bytes.fromhex(current), dtype=np.uint8).astype(np.int16)
    diff = np.abs(a - b)
    return bool(diff.mean() < FROZEN_MEAN and diff.max() <= FROZEN_MAX)


def analyse(image: Image, *, previous_signature: str = "", mode: str = "clahe") -> Findings:
    """The findings of one BGR (or grey) frame; ``previous_signature`` is the signature of
    the attempt's frame before it (frozen frames are found by comparing the two)."""
    grey = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    grey = np.asarray(grey, dtype=np.uint8)
    height, width = grey.shape[:2]
    work = grey
    if width != WORK_WIDTH:
        work_height = max(1, round(height * WORK_WIDTH / width))
        work = np.asarray(
            cv2.resize(grey, (WORK_WIDTH, work_height), interpolation=cv2.INTER_AREA),
            dtype=np.uint8,
        )
    brightness = float(grey.mean())
    contrast = float(grey.std())
    uniform = contrast < UNIFORM_BELOW
    boxes = [] if uniform else find_faces(work, mode)
    count = len(boxes)
    sig = signature(work).tobytes().hex()
    findings = Findings(
        width=width,
        height=height,
        faces=count,
        presence="none" if count == 0 else ("one" if count == 1 else "several"),
        boxes=boxes,
        brightness=round(brightness, 1),
        contrast=round(contrast, 1),
        too_dark=brightness < DARK_BELOW,
        too_bright=brightness > BRIGHT_ABOVE,
        uniform=uniform,
        signature=sig,
        frozen=is_frozen(previous_signature, sig),
    )
    if count == 1:
        box = boxes[0]
        cx, cy = box.x + box.w / 2, box.y + box.h / 2
        findings.looking_away = box.view == "profile"
        findings.off_centre = not (0.2 <= cx <= 0.8 and 0.15 <= cy <= 0.85)
        findings.at_edge = (
            box.x < 0.02 or box.y < 0.02 or box.x + box.w > 0.98 or box.y + box.h > 0.98
        )
        findings.far = box.w < FAR_BELOW
    return findings


def analyse_bytes(data: bytes, *, previous_signature: str = "", mode: str = "clahe") -> Findings:
    """:func:`analyse` of encoded bytes (JPEG or PNG; FrameRefused otherwise)."""
    return analyse(decode(data), previous_signature=previous_signature, mode=mode)


def thumbnail(image: Image) -> bytes:
    """A small JPEG of the frame (160x120, quality 70): the evidence kept after the frame
    itself is deleted."""
    small = cv2.resize(image, THUMBNAIL_SIZE, interpolation=cv2.INTER_AREA)
    ok, encoded = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, 70])
    if not ok:
        raise RuntimeError("could not encode a thumbnail")
    return bytes(encoded.tobytes())
