"""Scoring many responses to one item at once, with numpy.

:func:`score_batch` gives, for every response set, exactly the :class:`~waa_ads.scoring.
engine.Evaluation` that :func:`~waa_ads.scoring.engine.evaluate` gives (same outcomes,
same floats, same notes). It vectorizes the common case and falls back to the scalar
engine for everything else:

* the item's processing is the ``match_correct`` (or ``CC2_match``) or ``map_response``
  template, with a float ``SCORE``;
* it has one response declaration, ``RESPONSE``, of base type identifier, pair or
  directedPair and cardinality single or multiple.

Each distinct raw response is validated once (candidates' answers repeat a lot), encoded
as a code (single) or a row of a membership matrix (multiple), and scored with array
operations that add mapped values in the same order as the scalar engine, so that the
floats agree bit for bit. Rows with extra keys, or values that cannot be memoized, go
through the scalar engine.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from waa_ads.content.item.definition import BaseType, Cardinality, ItemDefinition
from waa_ads.content.item.responses import ResponseShapeError, validate_response
from waa_ads.scoring.engine import Evaluation, Program, compile_item, to_json

FloatArray = npt.NDArray[np.float64]

_VECTOR_TEMPLATES = frozenset({"match_correct", "CC2_match", "map_response"})
_VECTOR_TYPES = frozenset({BaseType.IDENTIFIER, BaseType.PAIR, BaseType.DIRECTED_PAIR})


@dataclass
class BatchResult:
    """Outcomes of a batch: ``scores`` holds SCORE per response set (NaN for NULL)."""

    scores: FloatArray
    vectorized: bool
    _program: Program
    _constant: dict[str, Any] = field(default_factory=dict)
    _notes: list[list[str] | None] = field(default_factory=list)
    _scalar: dict[int, Evaluation] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.scores.shape[0])

    def evaluation(self, index: int) -> Evaluation:
        """The evaluation of response set ``index``, as the scalar engine reports it."""
        scalar = self._scalar.get(index)
        if scalar is not None:
            return scalar
        outcomes: dict[str, Any] = {}
        for identifier, _base in self._program.outcome_types:
            outcomes[identifier] = (
                float(self.scores[index]) if identifier == "SCORE" else self._constant[identifier]
            )
        if self._program.report_max:
            outcomes["MAXSCORE"] = self._program.max_score
        notes = self._notes[index]
        return Evaluation(outcomes=outcomes, notes=list(notes) if notes else [])

    def evaluations(self) -> list[Evaluation]:
        return [self.evaluation(i) for i in range(len(self))]


def _freeze(value: Any) -> Any:
    """A hashable key for a raw JSON response, or raise ``TypeError``."""
    if value is None or isinstance(value, str | bool | int | float):
        return (type(value), value)
    if isinstance(value, list | tuple):
        return (list, tuple(_freeze(v) for v in value))
    raise TypeError("not memoizable")


class _Plan:
    """What the vectorized path needs to know about an item."""

    def __init__(self, item: ItemDefinition, program: Program) -> None:
        self.program = program
        self.declaration = item.response_declarations[0]
        self.interaction = item.interaction_for("RESPONSE")
        processing = item.response_processing
        assert processing is not None
        self.template = processing.template
        self.multiple = self.declaration.cardinality is Cardinality.MULTIPLE
        self.vocab: dict[Any, int] = {}
        self.memo: dict[Any, tuple[Any, str | None]] = {}

    def code(self, value: Any) -> int:
        key = tuple(value) if isinstance(value, list) else value
        index = self.vocab.get(key)
        if index is None:
            index = len(self.vocab)
            self.vocab[key] = index
        return index

    def encode(self, raw: Any) -> tuple[Any, str | None]:
        """(-1 | code | tuple of codes, note) for a raw response; memoized by value."""
        key = _freeze(raw)
        cached = self.memo.get(key)
        if cached is not None:
            return cached
        try:
            normalized = validate_response(self.declaration, raw, self.interaction)
        except ResponseShapeError as exc:
            result: tuple[Any, str | None] = (-1, f"{exc.detail}; treated as no response")
        else:
            if normalized is None:
                result = (-1, None)
            elif self.multiple:
                result = (tuple(self.code(v) for v in normalized), None)
            else:
                result = (self.code(normalized), None)
        self.memo[key] = result
        return result


def _eligible(item: ItemDefinition, program: Program) -> bool:
    processing = item.response_processing
    if processing is None or processing.rules is not None:
        return False
    if processing.template not in _VECTOR_TEMPLATES:
        return False
    if len(item.response_declarations) != 1:
        return False
    declaration = item.response_declarations[0]
    if declaration.identifier != "RESPONSE" or declaration.base_type not in _VECTOR_TYPES:
        return False
    if declaration.cardinality not in (Cardinality.SINGLE, Cardinality.MULTIPLE):
        return False
    score = item.outcome_declaration("SCORE")
    return (
        score is not None
        and score.base_type is BaseType.FLOAT
        and score.cardinality is Cardinality.SINGLE
    )


def _clamp(values: FloatArray, low: float | None, high: float | None) -> FloatArray:
    if low is not None:
        values = np.where(values < low, low, values)
    if high is not None:
        values = np.where(values > high, high, values)
    return values


def score_batch(item: ItemDefinition, batch: Sequence[Mapping[str, Any]]) -> BatchResult:
    """Score every response set of ``batch`` against ``item``.

    ``result.evaluation(i)`` equals ``evaluate(item, batch[i])``; ``result.scores`` is
    the SCORE column as a float array (NaN where SCORE is NULL or undeclared).
    """
    program = compile_item(item)
    n = len(batch)
    if not _eligible(item, program):
        scalar = {i: program.evaluate(responses) for i, responses in enumerate(batch)}
        scores = np.array(
            [_as_float(e.outcomes.get("SCORE")) for e in scalar.values()], dtype=np.float64
        ).reshape(n)
        return BatchResult(scores=scores, vectorized=False, _program=program, _scalar=scalar)

    plan = _Plan(item, program)
    encoded: list[Any] = [-1] * n
    notes: list[list[str] | None] = [None] * n
    fallback: dict[int, Evaluation] = {}
    for index, responses in enumerate(batch):
        if not isinstance(responses, Mapping) or any(k != "RESPONSE" for k in responses):
            fallback[index] = program.evaluate(responses)
            continue
        try:
            code, note = plan.encode(responses.get("RESPONSE"))
        except TypeError:
            fallback[index] = program.evaluate(responses)
            continue
        encoded[index] = code
        if note is not None:
            notes[index] = [note]

    scores = _score_multiple(plan, encoded) if plan.multiple else _score_single(plan, encoded)
    for index, evaluation in fallback.items():
        scores[index] = _as_float(evaluation.outcomes.get("SCORE"))
    constant = {
        identifier: to_json(base, program.initial.get(identifier))
        for identifier, base in program.outcome_types
        if identifier != "SCORE"
    }
    return BatchResult(
        scores=scores,
        vectorized=True,
        _program=program,
        _constant=constant,
        _notes=notes,
        _scalar=fallback,
    )


def _as_float(value: Any) -> float:
    return (
        float(value) if isinstance(value, int | float) and not isinstance(value, bool) else np.nan
    )


def _key_code(plan: _Plan, key: Any) -> int | None:
    stored = tuple(key) if isinstance(key, list) else key
    return plan.vocab.get(stored)


def _score_single(plan: _Plan, encoded: list[Any]) -> FloatArray:
    codes = np.fromiter(
        (c if isinstance(c, int) else -1 for c in encoded), dtype=np.int64, count=len(encoded)
    )
    is_null = codes < 0
    declaration = plan.declaration
    if plan.template in ("match_correct", "CC2_match"):
        correct = (
            None
            if declaration.correct_response is None
            else _key_code(plan, declaration.correct_response)
        )
        if correct is None:
            return np.zeros(len(encoded), dtype=np.float64)
        return np.where(codes == correct, 1.0, 0.0)
    mapping = declaration.mapping
    assert mapping is not None
    table = np.full(max(len(plan.vocab), 1), float(mapping.default_value), dtype=np.float64)
    seen: set[int] = set()
    for entry in mapping.entries:
        code = _key_code(plan, entry.key)
        if code is not None and code not in seen:
            seen.add(code)
            table[code] = float(entry.value)
    mapped = _clamp(table[np.where(is_null, 0, codes)], mapping.lower_bound, mapping.upper_bound)
    return np.where(is_null, 0.0, mapped)


def _score_multiple(plan: _Plan, encoded: list[Any]) -> FloatArray:
    n = len(encoded)
    width = max(len(plan.vocab), 1)
    members = np.zeros((n, width), dtype=bool)
    rows: list[int] = []
    cols: list[int] = []
    for row, codes in enumerate(encoded):
        if isinstance(codes, tuple):
            rows.extend([row] * len(codes))
            cols.extend(codes)
    if rows:
        members[np.asarray(rows), np.asarray(cols)] = True
    is_null = ~members.any(axis=1)
    declaration = plan.declaration
    if plan.template in ("match_correct", "CC2_match"):
        if declaration.correct_response is None:
            return np.zeros(n, dtype=np.float64)
        target = np.zeros(width, dtype=bool)
        for value in declaration.correct_response:
            code = _key_code(plan, value)
            if code is None:
                # A correct value no candidate gave: nobody matches it.
                return np.zeros(n, dtype=np.float64)
            target[code] = True
        return np.where((members == target).all(axis=1) & ~is_null, 1.0, 0.0)
    mapping = declaration.mapping
    assert mapping is not None
    total = np.zeros(n, dtype=np.float64)
    matched = np.zeros(n, dtype=np.int64)
    claimed: set[int] = set()
    # Entry order, as the scalar engine adds them: floats must agree bit for bit.
    for entry in mapping.entries:
        code = _key_code(plan, entry.key)
        if code is None or code in claimed:
            continue
        claimed.add(code)
        column = members[:, code]
        total = np.where(column, total + float(entry.value), total)
        matched += column
    unmatched = members.sum(axis=1) - matched
    total = total + float(mapping.default_value) * unmatched
    total = _clamp(total, mapping.lower_bound, mapping.upper_bound)
    return np.where(is_null, 0.0, total)
