"""Published response-pattern tables (pure data): sections 6 and 7 of the Law School
Admission Test as analysed by Bock and Lieberman (1970), 1,000 examinees and 5 items each.
Each pattern is the item scores in order, with its frequency."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

LSAT6: dict[str, int] = {
    "00000": 3, "00001": 6, "00010": 2, "00011": 11, "00100": 1, "00101": 1, "00110": 3,
    "00111": 4, "01000": 1, "01001": 8, "01010": 0, "01011": 16, "01100": 0, "01101": 3,
    "01110": 2, "01111": 15, "10000": 10, "10001": 29, "10010": 14, "10011": 81,
    "10100": 3, "10101": 28, "10110": 15, "10111": 80, "11000": 16, "11001": 56,
    "11010": 21, "11011": 173, "11100": 11, "11101": 61, "11110": 28, "11111": 298,
}  # fmt: skip
LSAT7: dict[str, int] = {
    "00000": 12, "00001": 19, "00010": 1, "00011": 7, "00100": 3, "00101": 19, "00110": 3,
    "00111": 17, "01000": 10, "01001": 5, "01010": 3, "01011": 7, "01100": 7, "01101": 23,
    "01110": 8, "01111": 28, "10000": 7, "10001": 39, "10010": 11, "10011": 34,
    "10100": 14, "10101": 51, "10110": 15, "10111": 90, "11000": 6, "11001": 25,
    "11010": 7, "11011": 35, "11100": 18, "11101": 136, "11110": 32, "11111": 308,
}  # fmt: skip


def patterns(table: dict[str, int]) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """The distinct patterns with a positive count as a score matrix, and their counts."""
    rows = [(p, n) for p, n in table.items() if n > 0]
    scores = np.array([[int(ch) for ch in p] for p, _ in rows], dtype=np.int64)
    return scores, np.array([float(n) for _, n in rows])


def expand(table: dict[str, int]) -> NDArray[np.int64]:
    """One row per examinee."""
    scores, counts = patterns(table)
    return np.repeat(scores, counts.astype(np.int64), axis=0)
