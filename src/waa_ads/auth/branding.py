"""An organization's look in the candidate's player and its reports: a brand colour and a
logo. Pure: checks and the player's stylesheet, no I/O.

The brand colour replaces the player header's background, whose text (the organization's
and candidate's names, the timer's frame, the focus ring) stays white; reports may print it
as a text colour on white paper. Both uses need the same thing, a colour dark enough for
white text at WCAG 2.1 AA (4.5:1), so that is the rule a colour must pass. (Black text is
no way out: the header's light elements are designed for a dark background, and any colour
too light for white text would be too light as text on paper.)
"""

from __future__ import annotations

import re
from typing import Final

HEX_COLOR: Final = re.compile(r"^#[0-9a-fA-F]{6}$")
#: The header's text colour over the brand colour.
BRAND_INK: Final = "#ffffff"
#: WCAG 2.1 AA for normal text (success criterion 1.4.3).
MIN_CONTRAST: Final = 4.5

PNG: Final = "image/png"
JPEG: Final = "image/jpeg"
WEBP: Final = "image/webp"
#: Raster pictures only: an SVG logo could carry script or external references.
LOGO_TYPES: Final = (PNG, JPEG, WEBP)
#: A header logo is shown 2rem high; this is plenty for a sharp one and keeps it cheap.
MAX_LOGO_BYTES: Final = 256 * 1024


def _channel(value: int) -> float:
    c = value / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def relative_luminance(color: str) -> float:
    """The WCAG relative luminance of ``#rrggbb`` (0 for black, 1 for white)."""
    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * _channel(r) + 0.7152 * _channel(g) + 0.0722 * _channel(b)


def contrast_ratio(a: str, b: str) -> float:
    """The WCAG contrast ratio of two ``#rrggbb`` colours, from 1 to 21."""
    la, lb = relative_luminance(a), relative_luminance(b)
    hi, lo = max(la, lb), min(la, lb)
    return (hi + 0.05) / (lo + 0.05)


def brand_color_problem(value: str) -> str | None:
    """Why ``value`` cannot be the brand colour, or ``None`` when it can."""
    if not HEX_COLOR.fullmatch(value):
        return "a colour is written #rrggbb, six hexadecimal digits (like #0b57d0)"
    with_white = contrast_ratio(value, BRAND_INK)
    if with_white < MIN_CONTRAST:
        with_black = contrast_ratio(value, "#000000")
        return (
            f"{value.lower()} is too light: white text on it has a contrast of "
            f"{_ratio(with_white)} (black: {_ratio(with_black)}); the player's header and "
            f"reports need at least {MIN_CONTRAST}:1 with white, so choose a darker colour"
        )
    return None


def _ratio(value: float) -> str:
    # Rounded down, so a colour shown as 4.5:1 never fails the check it is said to pass.
    return f"{int(value * 10) / 10}:1"


def sniff_logo(data: bytes) -> str | None:
    """The picture type of ``data`` by its first bytes (PNG, JPEG, WebP), else ``None``."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return WEBP
    return None


def player_stylesheet(brand_color: str | None) -> str:
    """The player's per-organization stylesheet: the brand colour as the header's
    background, and the header's lighter text and focus ring made white (they were tuned for
    the default dark blue). Empty of rules without a colour. ``brand_color`` must have passed
    :func:`brand_color_problem` (it is written into CSS)."""
    if brand_color is None:
        return "/* no brand colour: the player's own */\n"
    if brand_color_problem(brand_color) is not None:
        raise ValueError(f"not an accepted brand colour: {brand_color!r:.20}")
    color = brand_color.lower()
    return (
        f":root {{ --brand: {color}; --brand-ink: {BRAND_INK}; }}\n"
        ".candidate-name { color: var(--brand-ink); }\n"
        ".topbar :focus-visible { outline-color: var(--brand-ink); }\n"
    )
