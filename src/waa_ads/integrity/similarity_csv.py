"""Answer similarity over a CSV of responses, for the command line (pure: text in, text
out): ``candidate,item,response`` rows, with an optional ``correct`` column."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

import numpy as np

from waa_ads.integrity.similarity import SimilarityResult, encode, similarity

OUTPUT_COLUMNS = (
    "candidate",
    "source",
    "index",
    "p_value",
    "q_value",
    "matches",
    "expected",
    "compared",
    "shared_wrong",
    "shared_answers",
)
_TRUE = frozenset({"1", "true", "yes", "y", "t"})
_FALSE = frozenset({"0", "false", "no", "n", "f", ""})


class ResponsesCsvError(ValueError):
    """The CSV cannot be read as responses; the message says which line and why."""


def read_responses(
    lines: Iterable[str],
) -> tuple[list[str], list[str], list[list[str | None]], np.ndarray | None]:
    """Candidates, items (in first-seen order), the response matrix (``None``: no row or
    an empty response) and, when every row has a ``correct`` value, whether each is
    right."""
    reader = csv.DictReader(lines)
    fields = {f.strip().lower() for f in reader.fieldnames or []}
    missing = {"candidate", "item", "response"} - fields
    if missing:
        raise ResponsesCsvError(f"line 1: missing column(s) {', '.join(sorted(missing))}")
    has_correct = "correct" in fields
    candidates: dict[str, int] = {}
    items: dict[str, int] = {}
    cells: dict[tuple[int, int], tuple[str | None, bool | None]] = {}
    for number, raw in enumerate(reader, start=2):
        row = {k.strip().lower(): (v or "").strip() for k, v in raw.items() if k is not None}
        if not row.get("candidate") or not row.get("item"):
            raise ResponsesCsvError(f"line {number}: candidate and item are required")
        verdict: bool | None = None
        if has_correct:
            flag = row.get("correct", "").lower()
            if flag not in _TRUE | _FALSE:
                raise ResponsesCsvError(f"line {number}: correct must be 1/0 or true/false")
            verdict = flag in _TRUE if flag else None
        c = candidates.setdefault(row["candidate"], len(candidates))
        i = items.setdefault(row["item"], len(items))
        if (c, i) in cells:
            raise ResponsesCsvError(
                f"line {number}: a second response of {row['candidate']} to {row['item']}"
            )
        cells[(c, i)] = (row["response"] or None, verdict)
    matrix: list[list[str | None]] = [[None] * len(items) for _ in candidates]
    correct = np.zeros((len(candidates), len(items)), dtype=bool) if has_correct else None
    for (c, i), (value, verdict) in cells.items():
        matrix[c][i] = value
        if correct is not None:
            if verdict is None and value is not None:
                correct = None  # a response without a verdict: no key for anyone
            else:
                correct[c, i] = bool(verdict)
    return list(candidates), list(items), matrix, correct


def flagged_pairs_csv(
    lines: Iterable[str], *, alpha: float = 0.01, correction: str = "bh"
) -> tuple[str, SimilarityResult]:
    """The flagged pairs as CSV (columns :data:`OUTPUT_COLUMNS`, strongest first:
    ``candidate``'s answers agree with ``source``'s beyond chance) and the run's figures."""
    candidates, items, matrix, correct = read_responses(lines)
    codes, _ = encode(matrix) if matrix and items else (np.zeros((0, 0), dtype=np.int32), [])
    result = similarity(codes, correct, alpha=alpha, correction=correction)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(OUTPUT_COLUMNS)
    for pair in result.pairs:
        writer.writerow(
            [
                candidates[pair.a],
                candidates[pair.b],
                f"{pair.index:.3f}",
                f"{pair.p_value:.3g}",
                f"{pair.q_value:.3g}",
                pair.matches,
                f"{pair.expected:.2f}",
                pair.compared,
                ";".join(items[j] for j in pair.identical_wrong),
                ";".join(f"{items[j]}={matrix[pair.a][j]}" for j in pair.identical),
            ]
        )
    return out.getvalue(), result
