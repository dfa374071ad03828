"""Scored and unscored answers from CSV text, and predictions as CSV, for the command line
(pure: lines in, values out).

Training CSV: columns ``id``, ``text``, ``score`` and optionally ``score2`` (a second
person's score, blank where there is none) and ``group`` (blank where unknown). Answers to
score: columns ``id`` and ``text``. Other columns are ignored. Errors name the record
(its line in the file) and the problem in one line.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

from waa_ads.autoscore.errors import TrainingDataInvalid
from waa_ads.autoscore.model import MIN_RESPONSES, Prediction, TrainingSet
from waa_ads.core.i18n import N_


class EssayCsvError(TrainingDataInvalid):
    """The CSV cannot be read as answers; the message says which line and why."""

    code = "autoscore-csv-invalid"
    title = N_("CSV cannot be read")


def _rows(lines: Iterable[str], required: Sequence[str]) -> tuple[list[str], csv.DictReader[str]]:
    reader = csv.DictReader(lines)
    header = reader.fieldnames
    if not header:
        raise EssayCsvError("the file is empty; its header needs " + ", ".join(required))
    missing = [c for c in required if c not in header]
    if missing:
        raise EssayCsvError(
            "line 1: missing column" + ("s " if len(missing) > 1 else " ") + ", ".join(missing)
        )
    return list(header), reader


def _int(value: str, column: str, line: int) -> int:
    try:
        return int(value.strip())
    except ValueError:
        raise EssayCsvError(f"line {line}: {column} is {value.strip()!r}, not an integer") from None


def read_training(
    lines: Iterable[str], *, min_score: int | None = None, max_score: int | None = None
) -> TrainingSet:
    """A :class:`TrainingSet`; the scale defaults to the lowest and highest score given."""
    header, reader = _rows(lines, ("id", "text", "score"))
    ids: list[str] = []
    texts: list[str] = []
    scores: list[int] = []
    seconds: list[int | None] = []
    groups: list[str | None] = []
    seen: set[str] = set()
    for row in reader:
        line = reader.line_num
        if None in row or any(v is None for v in row.values()):
            raise EssayCsvError(f"line {line}: the number of cells differs from the header")
        ident = row["id"].strip()
        if not ident:
            raise EssayCsvError(f"line {line}: id is blank")
        if ident in seen:
            raise EssayCsvError(f"line {line}: id {ident!r} appears twice")
        seen.add(ident)
        ids.append(ident)
        texts.append(row["text"])
        scores.append(_int(row["score"], "score", line))
        second = row.get("score2", "") or ""
        seconds.append(_int(second, "score2", line) if second.strip() else None)
        group = (row.get("group", "") or "").strip()
        groups.append(group or None)
    if len(ids) < MIN_RESPONSES:
        raise EssayCsvError(f"{len(ids)} scored rows; at least {MIN_RESPONSES} are needed")
    low = min(scores) if min_score is None else min_score
    high = max(scores) if max_score is None else max_score
    return TrainingSet(
        ids=ids,
        texts=texts,
        scores=scores,
        min_score=low,
        max_score=high,
        second_scores=seconds if "score2" in header else None,
        groups=groups if "group" in header else None,
    )


def read_answers(lines: Iterable[str]) -> tuple[list[str], list[str]]:
    """The ids and texts of answers to score."""
    _, reader = _rows(lines, ("id", "text"))
    ids: list[str] = []
    texts: list[str] = []
    for row in reader:
        if None in row or any(v is None for v in row.values()):
            raise EssayCsvError(
                f"line {reader.line_num}: the number of cells differs from the header"
            )
        ids.append(row["id"].strip())
        texts.append(row["text"])
    return ids, texts


def predictions_csv(predictions: Sequence[Prediction]) -> str:
    """CSV ``id,score,confidence,route,reason``."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["id", "score", "confidence", "route", "reason"])
    for p in predictions:
        writer.writerow([p.id or "", p.score, f"{p.confidence:.4f}", p.route, p.reason or ""])
    return out.getvalue()
