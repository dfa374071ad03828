"""Scoring many responses to one item at once, with numpy.

:func:`score_batch` gives, for every response set, exactly the :class:`~waa_ads.scoring.
engine.Evaluation` that :func:`~waa_ads.scoring.engine.evaluate` gives (same outcomes,
same floats bit for bit, same notes).

How:

1. Response sets are deduplicated first (candidates' answers repeat a lot): each distinct
   set is scored once and every row points at its distinct set (``index``). Callers that
   already hold distinct sets (the bulk scorer reads each distinct stored JSON text once)
   pass them with their ``index``.
2. Items whose processing is a standard template — ``match_correct``, ``CC2_match``,
   ``CC2_match_basic``, ``map_response``, ``CC2_map_response``, ``map_response_point`` —
   over one ``RESPONSE`` (single, multiple or ordered) are scored with array operations over
   the distinct responses: values become codes of a vocabulary; matches compare codes, code
   counts (bags) or padded code rows (sequences); mappings add their entries' values in entry
   order, as the scalar engine does, so the floats agree bit for bit; area mappings test every
   point against every area at once (points within rounding distance of a circle's or an
   ellipse's edge are decided by the engine's own test, so both paths agree there too).
   Outcomes other than ``SCORE`` come from the engine itself, evaluated once per case.
3. Everything else (custom rules, record responses, sets with other keys) goes through the
   scalar engine, once per distinct set.

The result holds, per row, an index into a table of distinct outcome dicts and one into a
table of distinct note lists, so a caller writing a million rows encodes each distinct
outcome once.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from waa_ads.content.item.definition import (
    BaseType,
    Cardinality,
    InteractionType,
    ItemDefinition,
    Shape,
)
from waa_ads.content.item.responses import ResponseShapeError, validate_response
from waa_ads.scoring.engine import (
    Container,
    Evaluation,
    Program,
    ResponseMapper,
    compile_item,
    distinct_values,
    inside,
    to_runtime,
)

FloatArray = npt.NDArray[np.float64]
IndexArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

MATCH_TEMPLATES = frozenset({"match_correct", "CC2_match", "CC2_match_basic"})
MAP_TEMPLATES = frozenset({"map_response", "CC2_map_response"})
POINT_TEMPLATE = "map_response_point"
VECTOR_TEMPLATES = MATCH_TEMPLATES | MAP_TEMPLATES | {POINT_TEMPLATE}

_SLOW = object()

#: Point coordinates beyond this are not exact as float64; such responses go to the engine.
_EXACT_INT = 2**53


@dataclass
class BatchResult:
    """Outcomes of a batch, one row per response set.

    ``outcome_index[i]`` and ``note_index[i]`` point into ``outcome_table`` and ``note_table``
    (``note_table[0]`` is the empty list); ``scores`` is the SCORE column as floats (NaN where
    SCORE is NULL, undeclared or not a number)."""

    scores: FloatArray
    outcome_index: IndexArray
    note_index: IndexArray
    outcome_table: list[dict[str, Any]]
    note_table: list[list[str]]
    vectorized: bool

    def __len__(self) -> int:
        return int(self.scores.shape[0])

    def evaluation(self, index: int) -> Evaluation:
        """The evaluation of response set ``index``, as the scalar engine reports it."""
        return Evaluation(
            outcomes=dict(self.outcome_table[int(self.outcome_index[index])]),
            notes=list(self.note_table[int(self.note_index[index])]),
        )

    def evaluations(self) -> list[Evaluation]:
        return [self.evaluation(i) for i in range(len(self))]


class _Tables:
    """Distinct outcome dicts and note lists, each stored once."""

    def __init__(self) -> None:
        self.outcomes: list[dict[str, Any]] = []
        self.outcome_keys: dict[str, int] = {}
        self.notes: list[list[str]] = [[]]
        self.note_keys: dict[tuple[str, ...], int] = {(): 0}

    def outcome(self, outcomes: dict[str, Any]) -> int:
        # JSON text keeps what equality would blur: 1 and 1.0, 0.0 and -0.0, key order.
        try:
            key = json.dumps(outcomes)
        except (TypeError, ValueError):
            key = repr(outcomes)
        code = self.outcome_keys.get(key)
        if code is None:
            code = self.outcome_keys[key] = len(self.outcomes)
            self.outcomes.append(outcomes)
        return code

    def note(self, notes: Sequence[str]) -> int:
        key = tuple(notes)
        code = self.note_keys.get(key)
        if code is None:
            code = self.note_keys[key] = len(self.notes)
            self.notes.append(list(notes))
        return code

    def evaluation(self, evaluation: Evaluation) -> tuple[int, int]:
        return self.outcome(evaluation.outcomes), self.note(evaluation.notes)


def _freeze(value: Any) -> Any:
    """A hashable key for a raw JSON value that tells apart what the engine tells apart
    (types, the sign of zero, key order); raise ``TypeError`` for anything else (subclasses
    of the JSON types included: they are scored one by one)."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return (kind, value)
    if kind is float:
        return (float, value, math.copysign(1.0, value))
    if kind is list or kind is tuple:
        if all(type(v) is int for v in value):
            return (list, int, tuple(value))  # points, integers: the common case, flat
        return (list, tuple(map(_freeze, value)))
    if kind is dict:
        return (dict, tuple((k, _freeze(v)) for k, v in value.items()))
    raise TypeError("not memoizable")


def distinct_sets(batch: Sequence[Any]) -> tuple[list[Any], IndexArray]:
    """The distinct response sets of ``batch`` (first occurrences, in order) and, per row,
    the position of its set among them."""
    distinct: list[Any] = []
    seen: dict[Any, int] = {}
    index = np.empty(len(batch), dtype=np.int64)
    for row, responses in enumerate(batch):
        try:
            if not isinstance(responses, Mapping):
                raise TypeError("not a mapping")
            key = tuple((k, _freeze(v)) for k, v in responses.items())
        except TypeError:
            index[row] = len(distinct)
            distinct.append(responses)
            continue
        position = seen.get(key)
        if position is None:
            position = seen[key] = len(distinct)
            distinct.append(responses)
        index[row] = position
    return distinct, index


def _eligible(item: ItemDefinition) -> bool:
    processing = item.response_processing
    if processing is None or processing.rules is not None:
        return False
    if processing.template not in VECTOR_TEMPLATES:
        return False
    if len(item.response_declarations) != 1:
        return False
    declaration = item.response_declarations[0]
    if declaration.identifier != "RESPONSE" or declaration.base_type is None:
        return False
    if any(i.type is InteractionType.END_ATTEMPT for i in item.interactions):
        return False  # no response is false there, which the engine decides
    if declaration.cardinality not in (
        Cardinality.SINGLE,
        Cardinality.MULTIPLE,
        Cardinality.ORDERED,
    ):
        return False
    if processing.template == POINT_TEMPLATE and (
        declaration.base_type is not BaseType.POINT or declaration.area_mapping is None
    ):
        return False
    if processing.template in MAP_TEMPLATES and declaration.mapping is None:
        return False
    if processing.template in MATCH_TEMPLATES:
        return True  # outcomes come from the engine itself (see _Plan.outcome_codes)
    score = item.outcome_declaration("SCORE")
    if score is None or score.base_type is not BaseType.FLOAT:
        return False
    if score.cardinality is not Cardinality.SINGLE:
        return False
    if processing.template == "CC2_map_response":
        feedback = item.outcome_declaration("FEEDBACK")
        if feedback is None or feedback.cardinality is not Cardinality.SINGLE:
            return False
    return True


class _Plan:
    """The vectorized scoring of one eligible item over distinct responses."""

    def __init__(self, item: ItemDefinition, program: Program) -> None:
        self.item = item
        self.program = program
        self.declaration = item.response_declarations[0]
        self.interaction = item.interaction_for("RESPONSE")
        processing = item.response_processing
        assert processing is not None
        assert processing.template is not None
        self.template: str = processing.template
        self.cardinality = self.declaration.cardinality
        self.base_type = self.declaration.base_type
        # Points as the player sends them ([x, y] of integers) skip the general validation,
        # which they would pass unchanged; anything else takes it.
        self.points_fast = self.base_type is BaseType.POINT and (
            self.interaction is None or self.interaction.type is InteractionType.SELECT_POINT
        )
        self.limit = self.interaction.max_choices if self.interaction is not None else None

    def _points(self, raw: Any) -> Any:
        """The runtime value of well-formed points, or ``_SLOW``."""
        kind = type(raw)
        if kind is not list and kind is not tuple:
            return _SLOW
        if self.cardinality is Cardinality.SINGLE:
            if len(raw) == 2 and type(raw[0]) is int and type(raw[1]) is int:
                return (raw[0], raw[1])
            return _SLOW
        points = []
        for point in raw:
            kind = type(point)
            if (kind is not list and kind is not tuple) or len(point) != 2:
                return _SLOW
            x, y = point
            if type(x) is not int or type(y) is not int:
                return _SLOW
            points.append((x, y))
        if not points:
            return None
        if len(set(points)) != len(points) or (self.limit and len(points) > self.limit):
            return _SLOW  # the validation's note says why
        return Container(tuple(points), ordered=self.cardinality is Cardinality.ORDERED)

    def runtime(self, raw: Any) -> tuple[Any, str | None]:
        """The engine's runtime value of a raw response (None for NULL) and its note."""
        if self.points_fast:
            value = self._points(raw)
            if value is not _SLOW:
                return value, None
        try:
            normalized = validate_response(self.declaration, raw, self.interaction)
        except ResponseShapeError as exc:
            return None, f"{exc.detail}; treated as no response"
        return to_runtime(self.cardinality, self.base_type, normalized), None

    def _synthetic(self, value: Any) -> Evaluation:
        """The engine's evaluation of a RESPONSE already held as a runtime value."""
        notes: list[str] = []
        return self.program.evaluate_values({"RESPONSE": value, "numAttempts": 1}, notes)

    def outcome_codes(self, values: list[Any], tables: _Tables) -> IndexArray | None:
        """Per distinct value, its outcome code; None when the engine must decide."""
        null = np.fromiter((v is None for v in values), dtype=bool, count=len(values))
        if self.template in MATCH_TEMPLATES:
            correct = to_runtime(
                self.cardinality, self.base_type, self.declaration.correct_response
            )
            unmatched = self._synthetic(None)
            if unmatched.notes:
                return None
            miss = tables.outcome(unmatched.outcomes)
            if correct is None:
                return np.full(len(values), miss, dtype=np.int64)
            matched = self._synthetic(correct)
            if matched.notes:
                return None
            hit = tables.outcome(matched.outcomes)
            return np.where(self._matches(values, correct) & ~null, hit, miss).astype(np.int64)
        if self.template == POINT_TEMPLATE:
            scores = self._map_points(values)
            if scores is None:
                return None
        else:
            scores = self._map_values(values)
        base = self._synthetic(None)
        if base.notes:
            return None
        null_code = tables.outcome(base.outcomes)
        # Distinct scores by their bits (np.unique would merge 0.0 and -0.0).
        bits = scores.view(np.int64)
        distinct, inverse = np.unique(bits, return_inverse=True)
        codes = np.empty(len(distinct), dtype=np.int64)
        maximum = self.program.initial.get("MAXSCORE")
        for position, pattern in enumerate(distinct.tolist()):
            score = float(np.int64(pattern).view(np.float64))
            outcomes = dict(base.outcomes)
            outcomes["SCORE"] = score
            if self.template == "CC2_map_response":
                # The template's equal(MAXSCORE, SCORE) with tolerance mode exact.
                same = maximum is not None and bool(maximum == score)
                outcomes["FEEDBACK"] = "correct" if same else "incorrect"
            codes[position] = tables.outcome(outcomes)
        return np.where(null, null_code, codes[inverse.reshape(-1)]).astype(np.int64)

    # --- matching ----------------------------------------------------------------------

    def _matches(self, values: list[Any], correct: Any) -> BoolArray:
        vocab: dict[Any, int] = {}
        n = len(values)
        if self.cardinality is Cardinality.SINGLE:
            codes = np.fromiter(
                (-1 if v is None else vocab.setdefault(v, len(vocab)) for v in values),
                dtype=np.int64,
                count=n,
            )
            target = vocab.get(correct)
            if target is None:
                return np.zeros(n, dtype=bool)
            return np.asarray(codes == target)
        rows, cols, lengths = _container_codes(values, vocab)
        assert isinstance(correct, Container)
        wanted = [vocab.get(v) for v in correct.items]
        if any(code is None for code in wanted):
            return np.zeros(n, dtype=bool)  # a value of the key that no response holds
        key_codes: IndexArray = np.asarray(wanted, dtype=np.int64)
        size = len(key_codes)
        if self.cardinality is Cardinality.ORDERED:
            width = int(lengths.max(initial=0))
            if width < size:
                return np.zeros(n, dtype=bool)
            padded: IndexArray = np.full((n, width), -1, dtype=np.int64)
            offsets = np.concatenate(([0], np.cumsum(lengths)[:-1])) if n else lengths
            positions = np.arange(len(rows)) - np.repeat(offsets, lengths)
            padded[rows, positions] = cols
            same = (padded[:, :size] == key_codes).all(axis=1)
            return np.asarray(same & (lengths == size))
        width = len(vocab)
        counts = np.zeros((n, max(width, 1)), dtype=np.int64)
        np.add.at(counts, (rows, cols), 1)
        wanted_counts = np.bincount(key_codes, minlength=max(width, 1))
        return np.asarray((counts == wanted_counts).all(axis=1))

    # --- mapResponse -------------------------------------------------------------------

    def _map_values(self, values: list[Any]) -> FloatArray:
        mapping = self.declaration.mapping
        assert mapping is not None
        mapper = ResponseMapper(self.declaration, mapping)
        n = len(values)
        vocab: dict[Any, int] = {}
        entry_values = [float(e.value) for e in mapping.entries]
        default = mapping.default_value
        if self.cardinality is Cardinality.SINGLE:
            codes = np.fromiter(
                (-1 if v is None else vocab.setdefault(v, len(vocab)) for v in values),
                dtype=np.int64,
                count=n,
            )
            table = np.zeros(max(len(vocab), 1), dtype=np.float64)
            for value, code in vocab.items():
                entry = mapper.entry_index(value)
                table[code] = default if entry is None else entry_values[entry]
            mapped = table[np.where(codes < 0, 0, codes)]
            return _clamp(mapped, mapping.lower_bound, mapping.upper_bound)
        # Containers: each distinct value once (a bag's repeats count once).
        deduplicated = [
            None if v is None else Container(tuple(distinct_values(v.items)), ordered=False)
            for v in values
        ]
        rows, cols, _ = _container_codes(deduplicated, vocab)
        entry_of = np.full(max(len(vocab), 1), -1, dtype=np.int64)
        for value, code in vocab.items():
            entry = mapper.entry_index(value)
            entry_of[code] = -1 if entry is None else entry
        present = np.zeros((n, max(len(vocab), 1)), dtype=bool)
        present[rows, cols] = True
        total = np.zeros(n, dtype=np.float64)
        # Entry order, as the scalar engine adds them: floats must agree bit for bit.
        for entry, value in enumerate(entry_values):
            columns = np.flatnonzero(entry_of == entry)
            if len(columns):
                hit = present[:, columns].any(axis=1)
                total = np.where(hit, total + value, total)
        unmatched = present[:, entry_of < 0].sum(axis=1)
        total = total + default * unmatched
        return _clamp(total, mapping.lower_bound, mapping.upper_bound)

    # --- mapResponsePoint --------------------------------------------------------------

    def _map_points(self, values: list[Any]) -> FloatArray | None:
        mapping = self.declaration.area_mapping
        assert mapping is not None
        n = len(values)
        owners: list[int] = []
        xs: list[int] = []
        ys: list[int] = []
        for position, value in enumerate(values):
            if value is None:
                continue
            points = distinct_values(value.items) if isinstance(value, Container) else [value]
            for x, y in points:
                if abs(x) > _EXACT_INT or abs(y) > _EXACT_INT:
                    return None
                owners.append(position)
                xs.append(x)
                ys.append(y)
        owner = np.asarray(owners, dtype=np.int64)
        x_arr = np.asarray(xs, dtype=np.float64)
        y_arr = np.asarray(ys, dtype=np.float64)
        masks = [_inside(entry.shape, entry.coords, x_arr, y_arr) for entry in mapping.entries]
        default = mapping.default_value
        if self.cardinality is Cardinality.SINGLE:
            # The first area that holds the point gives its value.
            per_point = np.full(len(owner), default, dtype=np.float64)
            for entry, mask in zip(reversed(mapping.entries), reversed(masks), strict=True):
                per_point = np.where(mask, entry.value, per_point)
            total = np.full(n, default, dtype=np.float64)
            total[owner] = per_point
            return _clamp(total, mapping.lower_bound, mapping.upper_bound)
        total = np.zeros(n, dtype=np.float64)
        placed = np.zeros(len(owner), dtype=bool)
        for entry, mask in zip(mapping.entries, masks, strict=True):
            hit = np.bincount(owner[mask], minlength=n) > 0
            total = np.where(hit, total + entry.value, total)
            placed |= mask
        counts = np.bincount(owner, minlength=n)
        outside = counts - np.bincount(owner[placed], minlength=n)
        total = total + default * outside
        return _clamp(total, mapping.lower_bound, mapping.upper_bound)


def _container_codes(
    values: list[Any], vocab: dict[Any, int]
) -> tuple[IndexArray, IndexArray, IndexArray]:
    """(row, code) of every item of every container value, and each row's length."""
    rows: list[int] = []
    cols: list[int] = []
    lengths = np.zeros(len(values), dtype=np.int64)
    for row, value in enumerate(values):
        if value is None:
            continue
        items = value.items
        lengths[row] = len(items)
        rows.extend([row] * len(items))
        cols.extend(vocab.setdefault(v, len(vocab)) for v in items)
    return np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64), lengths


def _clamp(values: FloatArray, low: float | None, high: float | None) -> FloatArray:
    if low is not None:
        values = np.where(values < low, low, values)
    if high is not None:
        values = np.where(values > high, high, values)
    return values


def _near(lhs: FloatArray, rhs: float) -> BoolArray:
    """Where a squared-distance test is too close to call in float64 for numpy and Python
    (``x ** 2`` is ``pow`` there, ``x * x`` here) to be sure to agree."""
    return np.asarray(np.abs(lhs - rhs) <= 1e-9 * max(abs(rhs), 1.0))


def _inside(shape: Shape, coords: Sequence[float], x: FloatArray, y: FloatArray) -> BoolArray:
    """``engine.inside`` for many points at once (edges included)."""
    if shape is Shape.DEFAULT:
        return np.ones(len(x), dtype=bool)
    if shape is Shape.RECT and len(coords) >= 4:
        left, top, right, bottom = coords[:4]
        return np.asarray(
            (min(left, right) <= x)
            & (x <= max(left, right))
            & (min(top, bottom) <= y)
            & (y <= max(top, bottom))
        )
    if shape is Shape.CIRCLE and len(coords) >= 3:
        cx, cy, r = coords[:3]
        limit = r**2
        distance = (x - cx) * (x - cx) + (y - cy) * (y - cy)
        return _decide(distance <= limit, _near(distance, limit), shape, coords, x, y)
    if shape is Shape.ELLIPSE and len(coords) >= 4:
        cx, cy, hr, vr = coords[:4]
        if hr <= 0 or vr <= 0:
            return np.zeros(len(x), dtype=bool)
        u = (x - cx) / hr
        v = (y - cy) / vr
        distance = u * u + v * v
        return _decide(distance <= 1, _near(distance, 1.0), shape, coords, x, y)
    if shape is Shape.POLY and len(coords) >= 6:
        xs, ys = coords[0::2], coords[1::2]
        count = min(len(xs), len(ys))
        on_edge = np.zeros(len(x), dtype=bool)
        crossings = np.zeros(len(x), dtype=bool)
        with np.errstate(divide="ignore", invalid="ignore"):
            for i in range(count):
                ax, ay = xs[i], ys[i]
                bx, by = xs[(i + 1) % count], ys[(i + 1) % count]
                cross = (bx - ax) * (y - ay) - (by - ay) * (x - ax)
                on_edge |= (
                    (cross == 0)
                    & (min(ax, bx) <= x)
                    & (x <= max(ax, bx))
                    & (min(ay, by) <= y)
                    & (y <= max(ay, by))
                )
                straddles = (ay > y) != (by > y)
                if by != ay:
                    crossings ^= straddles & (x < (bx - ax) * (y - ay) / (by - ay) + ax)
        return np.asarray(on_edge | crossings)
    return np.zeros(len(x), dtype=bool)


def _decide(
    hit: BoolArray,
    close: BoolArray,
    shape: Shape,
    coords: Sequence[float],
    x: FloatArray,
    y: FloatArray,
) -> BoolArray:
    for position in np.flatnonzero(close).tolist():
        point = (int(x[position]), int(y[position]))
        hit[position] = inside(shape, coords, point)
    return hit


def score_batch(
    item: ItemDefinition,
    batch: Sequence[Any],
    index: Sequence[int] | IndexArray | None = None,
) -> BatchResult:
    """Score every response set of ``batch`` against ``item``.

    Without ``index``, row ``i`` is ``batch[i]``. With ``index``, ``batch`` holds distinct
    response sets and row ``i`` is ``batch[index[i]]`` (so a caller that deduplicated rows
    already need not expand them). ``result.evaluation(i)`` equals ``evaluate(item, row
    i)``.
    """
    program = compile_item(item)
    if index is None:
        distinct, rows = distinct_sets(batch)
    else:
        distinct, rows = list(batch), np.asarray(index, dtype=np.int64)
    tables = _Tables()
    outcome_codes = np.empty(len(distinct), dtype=np.int64)
    note_codes = np.zeros(len(distinct), dtype=np.int64)
    vectorized = False
    pending = list(range(len(distinct)))
    if _eligible(item):
        plan = _Plan(item, program)
        usable: list[int] = []
        values: list[Any] = []
        for position, responses in enumerate(distinct):
            if not isinstance(responses, Mapping) or any(k != "RESPONSE" for k in responses):
                continue
            value, note = plan.runtime(responses.get("RESPONSE"))
            usable.append(position)
            values.append(value)
            if note is not None:
                note_codes[position] = tables.note([note])
        codes = plan.outcome_codes(values, tables)
        if codes is not None:
            vectorized = True
            outcome_codes[np.asarray(usable, dtype=np.int64)] = codes
            taken = set(usable)
            pending = [p for p in pending if p not in taken]
        else:
            note_codes[:] = 0
    for position in pending:
        outcome_codes[position], note_codes[position] = tables.evaluation(
            program.evaluate(distinct[position])
        )
    score_table = np.array(
        [_as_float(o.get("SCORE")) for o in tables.outcomes], dtype=np.float64
    ).reshape(-1)
    row_outcomes = outcome_codes[rows] if len(rows) else np.zeros(0, dtype=np.int64)
    return BatchResult(
        scores=score_table[row_outcomes] if len(rows) else np.zeros(0, dtype=np.float64),
        outcome_index=row_outcomes,
        note_index=note_codes[rows] if len(rows) else np.zeros(0, dtype=np.int64),
        outcome_table=tables.outcomes,
        note_table=tables.notes,
        vectorized=vectorized,
    )


def _as_float(value: Any) -> float:
    return (
        float(value) if isinstance(value, int | float) and not isinstance(value, bool) else np.nan
    )
