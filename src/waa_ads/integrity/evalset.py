"""The evaluation set of the frame analysis: real photographs that scikit-image ships (read
from the installed package at evaluation time, never copied into the project) with known
face counts, composed into 640x480 webcam-like frames and varied in code (lighting, noise,
blur, position, a second face).

Photographs (all in ``skimage.data``):

- ``astronaut()``: Eileen Collins, NASA, public domain - one face;
- ``lfw_subset()``: 100 face crops from Labeled Faces in the Wild and 100 crops of the same
  photographs' backgrounds, 25x25 grey - one face / no face (upscaled, so they are also the
  hardest, least sharp faces of the set);
- ``camera()``: a photographer behind a camera, CC0 - one face, half hidden;
- ``coffee()``, ``chelsea()`` (a cat), ``rocket()``, ``brick()``, ``grass()``,
  ``gravel()``, ``horse()`` - no face.

scikit-image is a development dependency; :func:`frames` raises ImportError without it.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

Image = npt.NDArray[np.uint8]
WIDTH, HEIGHT = 640, 480

#: Each lighting or camera condition and what it does to a frame.
CONDITIONS = (
    "normal",
    "dim",
    "very_dark",
    "backlit",
    "noisy",
    "blurred",
    "overexposed",
)


@dataclass(frozen=True)
class Frame:
    name: str
    condition: str
    faces: int  # the true number of faces
    image: Image  # BGR, 640x480
    off_centre: bool = False


def _skimage_data() -> Any:
    """``skimage.data`` (untyped; a development dependency)."""
    return importlib.import_module("skimage.data")


def _bgr(rgb_or_grey: npt.NDArray[np.generic]) -> Image:
    arr = np.asarray(rgb_or_grey)
    if arr.dtype != np.uint8:
        arr = np.clip(arr * (255.0 if arr.max() <= 1.0 else 1.0), 0, 255).astype(np.uint8)
    if arr.ndim == 2:
        return np.asarray(cv2.cvtColor(arr, cv2.COLOR_GRAY2BGR), dtype=np.uint8)
    return np.asarray(cv2.cvtColor(arr, cv2.COLOR_RGB2BGR), dtype=np.uint8)


def _room(background: Image) -> Image:
    """A 640x480 backdrop: a photograph scaled to fill the frame and softened, as the
    out-of-focus room behind a candidate."""
    room = cv2.resize(background, (WIDTH, HEIGHT), interpolation=cv2.INTER_AREA)
    return np.asarray(cv2.GaussianBlur(room, (0, 0), 6), dtype=np.uint8)


def _place(room: Image, picture: Image, height: int, cx: float, cy: float) -> Image:
    """``picture`` scaled to ``height`` pixels tall and pasted centred on (cx, cy) (frame
    fractions), cut where it leaves the frame."""
    out = room.copy()
    h, w = picture.shape[:2]
    width = max(1, round(w * height / h))
    scaled = cv2.resize(picture, (width, height), interpolation=cv2.INTER_CUBIC)
    x0, y0 = round(cx * WIDTH - width / 2), round(cy * HEIGHT - height / 2)
    fx0, fy0 = max(0, x0), max(0, y0)
    fx1, fy1 = min(WIDTH, x0 + width), min(HEIGHT, y0 + height)
    if fx1 > fx0 and fy1 > fy0:
        out[fy0:fy1, fx0:fx1] = scaled[fy0 - y0 : fy1 - y0, fx0 - x0 : fx1 - x0]
    return out


def _lfw_portrait(face: npt.NDArray[np.generic]) -> Image:
    """A 25x25 LFW crop (the face fills it) with a margin of its own edge colours, so the
    detector sees a head on a background rather than a cropped face."""
    grey = np.clip(np.asarray(face) * 255.0, 0, 255).astype(np.uint8)
    padded = cv2.copyMakeBorder(grey, 5, 5, 5, 5, cv2.BORDER_REPLICATE)
    return _bgr(padded)


def _vary(image: Image, condition: str, rng: np.random.Generator) -> Image:
    f: Any = image.astype(np.float32)
    if condition == "dim":
        f = f * 0.35
    elif condition == "very_dark":
        f = f * 0.12 + rng.normal(0, 4, f.shape)
    elif condition == "backlit":
        # A bright window behind the candidate: the backdrop washes out, the person darkens.
        mask: Any = np.zeros(f.shape[:2], np.float32)
        cv2.ellipse(mask, (WIDTH // 2, HEIGHT // 2), (200, 260), 0, 0, 360, 1.0, -1)
        mask = cv2.GaussianBlur(mask, (0, 0), 25)[..., None]
        f = f * (0.45 * mask) + (255 * 0.9 + f * 0.1) * (1 - mask)
    elif condition == "noisy":
        f = f + rng.normal(0, 22, f.shape)
    elif condition == "blurred":
        f = cv2.GaussianBlur(f, (0, 0), 3.0)
    elif condition == "overexposed":
        f = f * 1.7 + 40
    return np.asarray(np.clip(f, 0, 255), dtype=np.uint8)


def _sources() -> tuple[list[tuple[str, Image, int]], list[tuple[str, Image]], list[Image]]:
    """(one-face portraits with their height in the frame, no-face photographs, LFW
    portraits for composing pairs)."""
    data = _skimage_data()

    lfw = data.lfw_subset()
    portraits = [_lfw_portrait(face) for face in lfw[:100]]
    singles: list[tuple[str, Image, int]] = [("astronaut", _bgr(data.astronaut()), 470)]
    singles.append(("camera", _bgr(data.camera()), 470))
    singles += [(f"lfw-face-{i:03d}", p, 200) for i, p in enumerate(portraits)]
    empty: list[tuple[str, Image]] = [
        (name, _bgr(getattr(data, name)()))
        for name in ("coffee", "chelsea", "rocket", "brick", "grass", "gravel", "horse")
    ]
    empty += [(f"lfw-background-{i:03d}", _bgr(lfw[100 + i])) for i in range(100)]
    return singles, empty, portraits


def frames(conditions: tuple[str, ...] = CONDITIONS, *, seed: int = 7) -> Iterator[Frame]:
    """Every frame of the set under each condition: one face centred, one face off centre
    (its box partly out of the frame), two faces side by side, and no face."""
    data = _skimage_data()

    rng = np.random.default_rng(seed)
    singles, empty, portraits = _sources()
    backdrops = [_room(_bgr(data.coffee())), _room(_bgr(data.brick())), _room(_bgr(data.gravel()))]

    def each(cond: str) -> Iterator[Frame]:
        for i, (name, picture, height) in enumerate(singles):
            room = backdrops[i % len(backdrops)]
            yield Frame(name, cond, 1, _vary(_place(room, picture, height, 0.5, 0.5), cond, rng))
            if i % 4 == 0:
                shifted = _place(room, picture, height, 0.2, 0.45)
                yield Frame(f"{name}-off-centre", cond, 1, _vary(shifted, cond, rng), True)
        for i in range(0, 40, 2):
            room = backdrops[i % len(backdrops)]
            pair = _place(
                _place(room, portraits[i], 190, 0.27, 0.5), portraits[i + 1], 190, 0.73, 0.5
            )
            yield Frame(f"lfw-pair-{i:03d}", cond, 2, _vary(pair, cond, rng))
        astro = singles[0][1]
        pair = _place(_place(backdrops[0], astro, 330, 0.3, 0.5), portraits[50], 200, 0.78, 0.45)
        yield Frame("astronaut-and-lfw", cond, 2, _vary(pair, cond, rng))
        for i, (name, picture) in enumerate(empty):
            framed: Any
            if name.startswith("lfw"):
                room = backdrops[i % len(backdrops)]
                padded = np.asarray(
                    cv2.copyMakeBorder(picture, 5, 5, 5, 5, cv2.BORDER_REPLICATE), np.uint8
                )
                framed = _place(room, padded, 200, 0.5, 0.5)
            else:
                framed = cv2.resize(picture, (WIDTH, HEIGHT), interpolation=cv2.INTER_AREA)
            yield Frame(name, cond, 0, _vary(np.asarray(framed, np.uint8), cond, rng))

    for condition in conditions:
        yield from each(condition)


def one_face(condition: str = "normal", *, seed: int = 7) -> Image:
    """The astronaut's portrait in a 640x480 frame under ``condition`` (for tests)."""
    data = _skimage_data()

    rng = np.random.default_rng(seed)
    room = _room(_bgr(data.coffee()))
    return _vary(_place(room, _bgr(data.astronaut()), 470, 0.5, 0.5), condition, rng)


def no_face(*, seed: int = 7) -> Image:
    """A frame of an empty scene (the coffee cup photograph)."""
    data = _skimage_data()

    return np.asarray(cv2.resize(_bgr(data.coffee()), (WIDTH, HEIGHT)), dtype=np.uint8)
