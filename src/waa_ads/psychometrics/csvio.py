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
    reader = csv.reader(lines)
    header = next(reader, None)
    if not header or "person" not in header:
        raise ScoresCsvError("line 1: the header needs a 'person' column and item columns")
    person_col = header.index("person")
    items = [h for i, h in enumerate(header) if i != person_col]
    if not items:
        raise ScoresCsvError("line 1: no item columns")
    if len(set(items)) != len(items):
        raise ScoresCsvError("line 1: an item column appears twice")
    persons: list[str] = []
    rows: list[list[int]] = []
    for number, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise ScoresCsvError(f"line {number}: {len(row)} cells, the header has {len(header)}")
        values: list[int] = []
        for i, cell in enumerate(row):
            if i == person_col:
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
        rows.append(values)
    if not rows:
        raise ScoresCsvError("no persons")
    return ScoreMatrix(persons, items, np.array(rows, dtype=np.int64))
