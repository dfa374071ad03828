"""Score matrices from CSV text, for the command line (pure: lines in, arrays out).

The CSV has a ``person`` column and one column per item; a cell is the item's integer
score, blank when the item was not presented."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray


class ScoresCsvError(ValueError):
    """The CSV cannot be read as scores; the message says which line and why."""


@dataclass(frozen=True)
class ScoreMatrix:
    persons: list[str]
    items: list[str]
    scores: NDArray[np.int64]  # persons x items, -1 when not presented

    def as_float(self) -> NDArray[np.float64]:
        """The scores with NaN for items not presented."""
        return np.where(self.scores < 0, np.nan, self.scores.astype(np.float64))


def read_scores(lines: Iterable[str]) -> ScoreMatrix:
    return _read(lines, None)[0]


def read_scores_and_groups(lines: Iterable[str], column: str) -> tuple[ScoreMatrix, list[str]]:
    """The score matrix of every column but ``person`` and ``column``, and each person's
    value of ``column`` (stripped; blank when the person has no group)."""
    matrix, groups = _read(lines, column)
    return matrix, groups


def _read(lines: Iterable[str], group: str | None) -> tuple[ScoreMatrix, list[str]]:
    reader = csv.reader(lines)
    header = next(reader, None)
    if not header or "person" not in header:
        raise ScoresCsvError("line 1: the header needs a 'person' column and item columns")
    person_col = header.index("person")
    group_col = -1
    if group is not None:
        if group == "person" or group not in header:
            raise ScoresCsvError(f"line 1: no group column {group!r}")
        group_col = header.index(group)
    items = [h for i, h in enumerate(header) if i not in (person_col, group_col)]
    if not items:
        raise ScoresCsvError("line 1: no item columns")
    if len(set(items)) != len(items):
        raise ScoresCsvError("line 1: an item column appears twice")
    persons: list[str] = []
    labels: list[str] = []
    rows: list[list[int]] = []
    for number, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise ScoresCsvError(f"line {number}: {len(row)} cells, the header has {len(header)}")
        values: list[int] = []
        for i, cell in enumerate(row):
            if i in (person_col, group_col):
                continue
            text = cell.strip()
            if not text:
                values.append(-1)
                continue
            try:
                value = int(text)
            except ValueError:
                raise ScoresCsvError(
                    f"line {number}: {header[i]} is {text!r}, not an integer score"
                ) from None
            if value < 0:
                raise ScoresCsvError(f"line {number}: {header[i]} is negative")
            values.append(value)
        persons.append(row[person_col])
        labels.append(row[group_col].strip() if group_col >= 0 else "")
        rows.append(values)
    if not rows:
        raise ScoresCsvError("no persons")
    return ScoreMatrix(persons, items, np.array(rows, dtype=np.int64)), labels
