"""The response processing engine: score one candidate's responses to one item.

:func:`evaluate` runs an item's response processing (its rules, or the standard template it
names) over the responses and returns every outcome variable. It never raises for a
candidate's input: a response of the wrong shape is treated as no response (NULL) and the
reason is recorded in ``notes``; with the standard templates that scores 0.

Semantics follow QTI 2.1/3.0:

* NULL propagates through operators (``match``, ``sum``, ``gt``... of NULL is NULL); a
  condition that is NULL counts as false; ``and`` is false if any operand is false, NULL
  if any is NULL and none false (``or`` likewise); an empty container or string is NULL.
* ``multiple`` containers compare as bags, ``ordered`` ones as sequences.
* ``mapResponse`` maps each *distinct* value of a container once, adds the mapping's
  default value for each distinct unmapped value, then applies the lower and upper
  bounds; a NULL response maps to the default value (the templates test ``isNull``
  first, so they give 0).
* ``mapResponsePoint`` adds each area once if any point falls in it (the first listed area
  wins for a single point) and the default value per point in no area; bounds as above.
* ``equal`` compares decimals (``0.1 + 0.2`` is within a tolerance of ``0.3``); with
  relative tolerance the range is ordered, so it also works for negative values.
* Outcomes start at their default value; numeric single outcomes without one start at 0.
  ``MAXSCORE`` is reported when declared, and derived when not (or when declared without
  a default) for the standard templates: 1 for match_correct, the best achievable mapped
  sum for map_response and map_response_point.

Rules are compiled once per item into closures, so scoring many responses to the same
item does not re-walk the tree.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import random
import statistics
import weakref
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from waa_ads.content.item.definition import (
    ASSOCIATING_INTERACTIONS,
    NUMERIC_BASE_TYPES,
    AreaMapping,
    BaseType,
    Cardinality,
    ContextDeclaration,
    ExitResponse,
    ExitTemplate,
    Expression,
    Interaction,
    InteractionType,
    ItemDefinition,
    LookupOutcomeValue,
    OutcomeDeclaration,
    ResponseCondition,
    ResponseDeclaration,
    ResponseMapping,
    Rule,
    SetCorrectResponse,
    SetDefaultValue,
    SetOutcomeValue,
    SetTemplateValue,
    Shape,
    TemplateCondition,
    TemplateConstraint,
    TemplateDeclaration,
    TemplateRule,
)
from waa_ads.content.item.processing import (
    BUILTIN_VARIABLES,
    COMPLETION_STATUSES,
    INTEGER_MATH_FUNCTIONS,
    effective_rules,
)
from waa_ads.content.item.responses import ResponseShapeError, validate_response
from waa_ads.content.item.templates import install_evaluator

# --- runtime values ---------------------------------------------------------------------------


class Container:
    """A non-empty ``multiple`` or ``ordered`` value (an empty one is NULL, i.e. ``None``)."""

    __slots__ = ("items", "ordered")

    def __init__(self, items: tuple[Any, ...], *, ordered: bool) -> None:
        self.items = items
        self.ordered = ordered

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Container) or other.ordered != self.ordered:
            return NotImplemented
        if self.ordered:
            return self.items == other.items
        return Counter(self.items) == Counter(other.items)

    def __hash__(self) -> int:
        return hash((self.ordered, self.items if self.ordered else frozenset(self.items)))

    def __repr__(self) -> str:
        return f"{'ordered' if self.ordered else 'multiple'}{list(self.items)!r}"


class Record(dict[str, Any]):
    """A ``record`` value: field name to single value."""


def container(items: Iterable[Any], *, ordered: bool) -> Container | None:
    values = tuple(items)
    return Container(values, ordered=ordered) if values else None


def _to_runtime_single(base_type: BaseType | None, value: Any) -> Any:
    if base_type in (BaseType.POINT, BaseType.PAIR, BaseType.DIRECTED_PAIR):
        return (value[0], value[1])
    if base_type is BaseType.FILE:
        return (value["sha256"], value["name"], value["content_type"], value["size"])
    if base_type in (BaseType.FLOAT, BaseType.DURATION):
        return float(value)
    return value


def to_runtime(cardinality: Cardinality, base_type: BaseType | None, value: Any) -> Any:
    """A normalized JSON-shaped value as the engine holds it (tuples for points and pairs,
    :class:`Container` for lists, ``None`` for NULL and empty values)."""
    if value is None or value in ("", [], {}):
        return None
    if cardinality is Cardinality.RECORD:
        return Record(value)
    if cardinality is Cardinality.SINGLE:
        return _to_runtime_single(base_type, value)
    return container(
        (_to_runtime_single(base_type, v) for v in value),
        ordered=cardinality is Cardinality.ORDERED,
    )


def _to_json_single(base_type: BaseType | None, value: Any) -> Any:
    if base_type is BaseType.FILE and isinstance(value, tuple):
        return dict(zip(("sha256", "name", "content_type", "size"), value, strict=True))
    if isinstance(value, tuple):
        return list(value)
    if base_type in (BaseType.FLOAT, BaseType.DURATION) and isinstance(value, int):
        return float(value)
    return value


def to_json(base_type: BaseType | None, value: Any) -> Any:
    """A runtime value back in its JSON shape."""
    if value is None:
        return None
    if isinstance(value, Container):
        return [_to_json_single(base_type, v) for v in value.items]
    if isinstance(value, Record):
        return dict(value)
    return _to_json_single(base_type, value)


# --- results ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Evaluation:
    """Outcomes of processing one set of responses, and notes on anything unusual."""

    outcomes: dict[str, Any]
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"outcomes": self.outcomes, "notes": self.notes}


class _Exit(Exception):
    """``exitResponse``: stop processing, keep the outcomes set so far."""


def _first_true(
    branches: Sequence[tuple[Callable[[Context], Any], Callable[[Context], None]]],
    otherwise: Callable[[Context], None] | None,
) -> Callable[[Context], None]:
    """A condition rule (response or template): the rules of the first branch whose
    condition is true (``NULL`` is not), else the ``otherwise`` rules if any."""

    def condition(ctx: Context) -> None:
        for test, body in branches:
            if test(ctx) is True:
                body(ctx)
                return
        if otherwise is not None:
            otherwise(ctx)

    return condition


class EvaluationError(Exception):
    """Processing could not go on (a value of an unexpected type at run time)."""


class Context:
    """Variable values during one evaluation; ``rng`` draws random values (template
    processing's, and ``random`` in response processing)."""

    __slots__ = ("correct", "defaults", "notes", "rng", "values")

    def __init__(self, values: dict[str, Any], rng: random.Random | None = None) -> None:
        self.values = values
        self.notes: list[str] = []
        self.rng = rng
        self.correct: dict[str, Any] = {}
        self.defaults: dict[str, Any] = {}


Fn = Callable[[Context], Any]


# --- numeric helpers --------------------------------------------------------------------------


def _decimal(value: Any) -> Decimal:
    # repr() is the shortest string that reads back as the same float, so 3.13 is the
    # decimal 3.13, and tolerance ranges meet their bounds exactly as written.
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def round_decimal(value: Any, mode: str, figures: int) -> Decimal | None:
    """``value`` rounded half-up to significant figures or decimal places (QTI
    ``equalRounded`` / ``roundTo``); ``None`` when it is not a finite number."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    number = _decimal(value)
    try:
        if mode == "decimalPlaces":
            return number.quantize(Decimal(1).scaleb(-figures), rounding=ROUND_HALF_UP)
        if number == 0:
            return Decimal(0)
        exponent = number.adjusted() - figures + 1
        return number.quantize(Decimal(1).scaleb(exponent), rounding=ROUND_HALF_UP)
    except InvalidOperation:
        return None


def _within_tolerance(
    x: Any, y: Any, mode: str, tolerance: Sequence[float], include_low: bool, include_high: bool
) -> bool:
    if mode == "exact":
        return bool(x == y)
    if not math.isfinite(x) or not math.isfinite(y):
        return bool(x == y)
    t0 = _decimal(float(tolerance[0]))
    t1 = _decimal(float(tolerance[1] if len(tolerance) > 1 else tolerance[0]))
    dx, dy = _decimal(x), _decimal(y)
    if mode == "absolute":
        low, high = dx - t0, dx + t1
    else:
        hundred = Decimal(100)
        low, high = dx * (1 - t0 / hundred), dx * (1 + t1 / hundred)
        low, high = min(low, high), max(low, high)
    above = dy >= low if include_low else dy > low
    below = dy <= high if include_high else dy < high
    return above and below


# --- shapes -----------------------------------------------------------------------------------


def _on_segment(px: float, py: float, ax: float, ay: float, bx: float, by: float) -> bool:
    cross = (bx - ax) * (py - ay) - (by - ay) * (px - ax)
    if cross != 0:
        return False
    return min(ax, bx) <= px <= max(ax, bx) and min(ay, by) <= py <= max(ay, by)


def inside(shape: Shape, coords: Sequence[float], point: tuple[int, int]) -> bool:
    """Whether ``point`` lies in the area (edges included), with HTML image-map coords."""
    x, y = point
    if shape is Shape.DEFAULT:
        return True
    if shape is Shape.RECT and len(coords) >= 4:
        left, top, right, bottom = coords[:4]
        return min(left, right) <= x <= max(left, right) and min(top, bottom) <= y <= max(
            top, bottom
        )
    if shape is Shape.CIRCLE and len(coords) >= 3:
        cx, cy, r = coords[:3]
        return (x - cx) ** 2 + (y - cy) ** 2 <= r**2
    if shape is Shape.ELLIPSE and len(coords) >= 4:
        cx, cy, hr, vr = coords[:4]
        if hr <= 0 or vr <= 0:
            return False
        return ((x - cx) / hr) ** 2 + ((y - cy) / vr) ** 2 <= 1
    if shape is Shape.POLY and len(coords) >= 6:
        xs, ys = coords[0::2], coords[1::2]
        n = min(len(xs), len(ys))
        hit = False
        for i in range(n):
            ax, ay, bx, by = xs[i], ys[i], xs[(i + 1) % n], ys[(i + 1) % n]
            if _on_segment(x, y, ax, ay, bx, by):
                return True
            if (ay > y) != (by > y) and x < (bx - ax) * (y - ay) / (by - ay) + ax:
                hit = not hit
        return hit
    return False


# --- mappings ---------------------------------------------------------------------------------


def _clamp(value: float, low: float | None, high: float | None) -> float:
    if low is not None and value < low:
        value = low
    if high is not None and value > high:
        value = high
    return value


def _distinct(items: Iterable[Any]) -> list[Any]:
    seen: set[Any] = set()
    out: list[Any] = []
    for item in items:
        if item not in seen:
            seen.add(item)
            out.append(item)
    return out


class _Mapper:
    """A response mapping prepared for lookups."""

    def __init__(self, declaration: ResponseDeclaration, mapping: ResponseMapping) -> None:
        self.mapping = mapping
        self.single = declaration.cardinality is Cardinality.SINGLE
        self.exact: dict[Any, int] = {}
        self.folded: list[tuple[str, int]] = []
        for index, entry in enumerate(mapping.entries):
            key = _to_runtime_single(declaration.base_type, entry.key)
            if isinstance(key, str) and not entry.case_sensitive:
                self.folded.append((key.casefold(), index))
            self.exact.setdefault(key, index)

    def entry_index(self, value: Any) -> int | None:
        index = self.exact.get(value)
        if self.folded and isinstance(value, str):
            folded = value.casefold()
            for key, candidate in self.folded:
                if key == folded and (index is None or candidate < index):
                    index = candidate
        return index

    def __call__(self, value: Any) -> float:
        mapping = self.mapping
        if value is None:
            total = mapping.default_value
        elif isinstance(value, Container):
            matched: set[int] = set()
            unmatched = 0
            for item in _distinct(value.items):
                index = self.entry_index(item)
                if index is None:
                    unmatched += 1
                else:
                    matched.add(index)
            total = 0.0
            for index in sorted(matched):
                total += mapping.entries[index].value
            total += mapping.default_value * unmatched
        else:
            index = self.entry_index(value)
            total = mapping.default_value if index is None else mapping.entries[index].value
        return _clamp(float(total), mapping.lower_bound, mapping.upper_bound)


class _AreaMapper:
    def __init__(self, mapping: AreaMapping) -> None:
        self.mapping = mapping

    def __call__(self, value: Any) -> float:
        mapping = self.mapping
        entries = mapping.entries
        if value is None:
            total = mapping.default_value
        elif isinstance(value, Container):
            points = _distinct(value.items)
            total = 0.0
            outside = len(points)
            counted: set[int] = set()
            placed: set[int] = set()
            for index, entry in enumerate(entries):
                for position, point in enumerate(points):
                    if inside(entry.shape, entry.coords, point):
                        counted.add(index)
                        placed.add(position)
            for index in sorted(counted):
                total += entries[index].value
            outside -= len(placed)
            total += mapping.default_value * outside
        else:
            total = mapping.default_value
            for entry in entries:
                if inside(entry.shape, entry.coords, value):
                    total = entry.value
                    break
        return _clamp(float(total), mapping.lower_bound, mapping.upper_bound)


#: The engine's own pieces that :mod:`waa_ads.scoring.vectorized` reuses, so that both paths
#: decide mapping keys, distinct values and matches the same way.
ResponseMapper = _Mapper
distinct_values = _distinct


def max_mapped(
    declaration: ResponseDeclaration, interaction: Interaction | None, *, point: bool
) -> float | None:
    """The best score a mapping can give (for a derived MAXSCORE)."""
    mapping: ResponseMapping | AreaMapping | None = (
        declaration.area_mapping if point else declaration.mapping
    )
    if mapping is None:
        return None
    values = [e.value for e in mapping.entries]
    if declaration.cardinality is Cardinality.SINGLE:
        best = max([*values, mapping.default_value])
    else:
        limit = None
        if interaction is not None:
            limit = (
                interaction.max_associations
                if interaction.type in ASSOCIATING_INTERACTIONS
                else interaction.max_choices
            )
        positive = sorted((v for v in values if v > 0), reverse=True)
        if limit:
            positive = positive[:limit]
        best = sum(positive)
    return _clamp(float(best), mapping.lower_bound, mapping.upper_bound)


# --- compiling expressions --------------------------------------------------------------------


class _Compiler:
    def __init__(self, item: ItemDefinition) -> None:
        self.item = item
        self.responses = {d.identifier: d for d in item.response_declarations}
        self.outcomes = {d.identifier: d for d in item.outcome_declarations}
        self.templates = {d.identifier: d for d in item.template_declarations}
        self.contexts = {d.identifier: d for d in item.context_declarations}

    def base_type_of(self, identifier: str) -> BaseType | None:
        if identifier in self.responses:
            return self.responses[identifier].base_type
        if identifier in self.outcomes:
            return self.outcomes[identifier].base_type
        if identifier in self.templates:
            return self.templates[identifier].base_type
        if identifier in self.contexts:
            return self.contexts[identifier].base_type
        if identifier in BUILTIN_VARIABLES:
            return BUILTIN_VARIABLES[identifier][1]
        return None

    def rules(self, rules: Sequence[Rule]) -> Callable[[Context], None]:
        steps = [self.rule(rule) for rule in rules]

        def run(ctx: Context) -> None:
            for step in steps:
                step(ctx)

        return run

    def rule(self, rule: Rule) -> Callable[[Context], None]:
        if isinstance(rule, SetOutcomeValue) and rule.identifier not in self.outcomes:
            assert rule.identifier == "completionStatus"  # the only built-in rules may set
            return self._set_completion(rule)
        if isinstance(rule, SetOutcomeValue):
            return self._set(rule)
        if isinstance(rule, LookupOutcomeValue):
            return self._lookup(rule)
        if isinstance(rule, ResponseCondition):
            return _first_true(
                [(self.expr(b.condition), self.rules(b.rules)) for b in rule.branches],
                None if rule.otherwise is None else self.rules(rule.otherwise),
            )
        assert isinstance(rule, ExitResponse)

        def exit_response(ctx: Context) -> None:
            raise _Exit

        return exit_response

    def _set(self, rule: SetOutcomeValue) -> Callable[[Context], None]:
        identifier = rule.identifier
        declaration = self.outcomes[identifier]
        compute = self.expr(rule.expression)
        coerce = _coercer(declaration)

        def set_outcome(ctx: Context) -> None:
            ctx.values[identifier] = coerce(compute(ctx), ctx)

        return set_outcome

    def _set_completion(self, rule: SetOutcomeValue) -> Callable[[Context], None]:
        compute = self.expr(rule.expression)

        def set_completion(ctx: Context) -> None:
            value = compute(ctx)
            if value is None or value in COMPLETION_STATUSES:
                ctx.values["completionStatus"] = value or "unknown"
            else:
                kept = ctx.values.get("completionStatus")
                ctx.notes.append(f"completionStatus cannot be {value!r}; it keeps {kept!r}")

        return set_completion

    def _lookup(self, rule: LookupOutcomeValue) -> Callable[[Context], None]:
        identifier = rule.identifier
        declaration = self.outcomes[identifier]
        compute = self.expr(rule.expression)
        coerce = _coercer(declaration)
        base, card = declaration.base_type, declaration.cardinality
        table = declaration.match_table or declaration.interpolation_table
        assert table is not None  # the load-time checks make sure of it
        default = to_runtime(card, base, table.default_value)
        matches = (
            {e.source: to_runtime(card, base, e.target) for e in declaration.match_table.entries}
            if declaration.match_table is not None
            else None
        )
        steps = (
            [
                (_decimal(e.source), e.include_boundary, to_runtime(card, base, e.target))
                for e in declaration.interpolation_table.entries
            ]
            if declaration.interpolation_table is not None
            else []
        )

        def look_up(value: Any) -> Any:
            if value is None or not _is_number(value):
                return default
            if matches is not None:
                # matchTable: the source is an integer; a float matches only a whole value
                if isinstance(value, float) and not value.is_integer():
                    return default
                return matches.get(int(value), default)
            number = _decimal(value)
            for source, include, target in steps:
                if number > source or (include and number == source):
                    return target
            return default

        def lookup_outcome(ctx: Context) -> None:
            ctx.values[identifier] = coerce(look_up(compute(ctx)), ctx)

        return lookup_outcome

    def expr(self, expression: Expression) -> Fn:
        op = expression.op
        args = [self.expr(arg) for arg in expression.args]
        builder = _BUILDERS.get(op)
        if builder is not None:
            return builder(self, expression, args)
        raise EvaluationError(f"operator {op} cannot be evaluated")  # pragma: no cover


def _coercer(
    declaration: OutcomeDeclaration | TemplateDeclaration | ResponseDeclaration,
) -> Callable[[Any, Context], Any]:
    base = declaration.base_type
    identifier = declaration.identifier
    single = declaration.cardinality is Cardinality.SINGLE

    def coerce(value: Any, ctx: Context) -> Any:
        if value is None:
            return None
        if single and isinstance(value, Container | Record):
            raise EvaluationError(
                f"a container cannot be stored in the single outcome {identifier}"
            )
        if not single and not isinstance(value, Container | Record):
            value = container([value], ordered=declaration.cardinality is Cardinality.ORDERED)
        if base is BaseType.FLOAT and _is_number(value):
            return float(value)
        if base is BaseType.INTEGER and isinstance(value, float):
            if not value.is_integer():
                ctx.notes.append(f"{identifier} is an integer outcome; {value} was truncated")
            return int(value)
        return value

    return coerce


Builder = Callable[[_Compiler, Expression, list[Fn]], Fn]
_BUILDERS: dict[str, Builder] = {}


def _builds(*names: str) -> Callable[[Builder], Builder]:
    def register(builder: Builder) -> Builder:
        for name in names:
            _BUILDERS[name] = builder
        return builder

    return register


def _null_if_any(fn: Callable[..., Any], args: list[Fn]) -> Fn:
    """An operator over its evaluated arguments that is NULL when any argument is NULL."""
    if len(args) == 1:
        (a,) = args

        def unary(ctx: Context) -> Any:
            x = a(ctx)
            return None if x is None else fn(x)

        return unary
    if len(args) == 2:
        a, b = args

        def binary(ctx: Context) -> Any:
            x = a(ctx)
            if x is None:
                return None
            y = b(ctx)
            return None if y is None else fn(x, y)

        return binary

    def nary(ctx: Context) -> Any:
        values = [arg(ctx) for arg in args]
        if any(v is None for v in values):
            return None
        return fn(*values)

    return nary


@_builds("base_value")
def _base_value(c: _Compiler, e: Expression, args: list[Fn]) -> Fn:
    value = to_runtime(Cardinality.SINGLE, BaseType(e.attrs["base_type"]), e.attrs["value"])
    return lambda ctx: value


@_builds("variable")
def _variable(c: _Compiler, e: Expression, args: list[Fn]) -> Fn:
    identifier = e.attrs["identifier"]
    return lambda ctx: ctx.values.get(identifier)


@_builds("correct")
def _correct(c: _Compiler, e: Expression, args: list[Fn]) -> Fn:
    declaration = c.responses[e.attrs["identifier"]]
    value = to_runtime(declaration.cardinality, declaration.base_type, declaration.correct_response)
    return lambda ctx: value


@_builds("default")
def _default(c: _Compiler, e: Expression, args: list[Fn]) -> Fn:
    identifier = e.attrs["identifier"]
    declaration: (
        ResponseDeclaration | OutcomeDeclaration | TemplateDeclaration | ContextDeclaration | None
    ) = (
        c.responses.get(identifier)
        or c.outcomes.get(identifier)
        or c.templates.get(identifier)
        or c.contexts.get(identifier)
    )
    value = (
        None
        if declaration is None
        else to_runtime(declaration.cardinality, declaration.base_type, declaration.default_value)
    )
    return lambda ctx: value


@_builds("null")
def _null(c: _Compiler, e: Expression, args: list[Fn]) -> Fn:
    return lambda ctx: None


@_builds("math_constant")
def _math_constant(c: _Compiler, e: Expression, args: list[Fn]) -> Fn:
    value = math.pi if e.attrs["name"] == "pi" else math.e
    return lambda ctx: value


def _rng(ctx: Context) -> random.Random:
    if ctx.rng is None:
        raise EvaluationError("no random generator for this evaluation")
    return ctx.rng


@_builds("random_integer")
def _random_integer(c: _Compiler, e: Expression, args: list[Fn]) -> Fn:
    low, high, step = int(e.attrs["min"]), int(e.attrs["max"]), int(e.attrs.get("step", 1))
    # QTI: min, min + step, ... up to max.
    return lambda ctx: low + step * _rng(ctx).randrange((high - low) // step + 1)


@_builds("random_float")
def _random_float(c: _Compiler, e: Expression, args: list[Fn]) -> Fn:
    low, high = float(e.attrs["min"]), float(e.attrs["max"])
    return lambda ctx: _rng(ctx).uniform(low, high)


@_builds("random")
def _random(c: _Compiler, e: Expression, args: list[Fn]) -> Fn:
    (a,) = args

    def pick(ctx: Context) -> Any:
        value = a(ctx)
        if value is None:
            return None
        members = _members(value)
        return members[_rng(ctx).randrange(len(members))]

    return pick


@_builds("map_response")
def _map_response(c: _Compiler, e: Expression, args: list[Fn]) -> Fn:
    identifier = e.attrs["identifier"]
    declaration = c.responses[identifier]
    assert declaration.mapping is not None
    mapper = _Mapper(declaration, declaration.mapping)
    return lambda ctx: mapper(ctx.values.get(identifier))


@_builds("map_response_point")
def _map_response_point(c: _Compiler, e: Expression, args: list[Fn]) -> Fn:
    identifier = e.attrs["identifier"]
    declaration = c.responses[identifier]
    assert declaration.area_mapping is not None
    mapper = _AreaMapper(declaration.area_mapping)
    return lambda ctx: mapper(ctx.values.get(identifier))


@_builds("is_null")
def _is_null(c: _Compiler, e: Expression, args: list[Fn]) -> Fn:
    (a,) = args

    def is_null(ctx: Context) -> bool:
        value = a(ctx)
        return value is None or value == ""

    return is_null


def _same(x: Any, y: Any) -> bool:
    if isinstance(x, Container) or isinstance(y, Container):
        return isinstance(x, Container) and isinstance(y, Container) and x == y
    return bool(x == y)


@_builds("match")
def _match(c: _Compiler, e: Expression, args: list[Fn]) -> Fn:
    return _null_if_any(_same, args)


def _members(value: Any) -> tuple[Any, ...]:
    return value.items if isinstance(value, Container) else (value,)


@_builds("member")
def _member(c: _Compiler, e: Expression, args: list[Fn]) -> Fn:
    return _null_if_any(lambda x, y: x in _members(y), args)


def _contains(haystack: Any, needle: Any) -> bool:
    whole, part = _members(haystack), _members(needle)
    if isinstance(haystack, Container) and haystack.ordered:
        n = len(part)
        return any(whole[i : i + n] == part for i in range(len(whole) - n + 1))
    return not (Counter(part) - Counter(whole))


@_builds("contains")
def _contains_op(c: _Compiler, e: Expression, args: list[Fn]) -> Fn:
    return _null_if_any(_contains, args)


@_builds("multiple", "ordered")
def _container_op(c: _Compiler, e: Expression, args: list[Fn]) -> Fn:
    ordered = e.op == "ordered"

    def build(ctx: Context) -> Container | None:
        items: list[Any] = []
        for arg in args:
            value = arg(ctx)
            if value is None:
                continue
            items.extend(_members(value))
        return container(items, ordered=ordered)

    return build


@_builds("container_size")
def _container_size(c: _Compiler, e: Expression, args: list[Fn]) -> Fn:
    (a,) = args

    def size(ctx: Context) -> int:
        value = a(ctx)
        return 0 if value is None else len(_members(value))

    return size


def _count(attr: int | str) -> Callable[[Context], Any]:
    """An integer attribute that may name an integer variable (``index``'s ``n``,
    ``repeat``'s ``number_repeats``): its value for this evaluation, ``None`` when the
    variable is NULL or not an integer."""
    if isinstance(attr, int):
        literal = attr
        return lambda ctx: literal
    identifier = attr

    def value(ctx: Context) -> Any:
        found = ctx.values.get(identifier)
        if isinstance(found, bool) or not isinstance(found, int):
            return None
        return found

    return value


@_builds("index")
def _index(c: _Compiler, e: Expression, args: list[Fn]) -> Fn:
    (a,) = args
    n_of = _count(e.attrs["n"])

    def pick(ctx: Context) -> Any:
        value = a(ctx)
        n = n_of(ctx)
        if value is None or n is None:
            return None
        members = _members(value)
        return members[n - 1] if 1 <= n <= len(members) else None

    return pick


#: The most values ``repeat`` builds: a variable count beyond it stops processing.
MAX_REPEAT_VALUES = 10_000


@_builds("repeat")
def _repeat(c: _Compiler, e: Expression, args: list[Fn]) -> Fn:
    # QTI: each sub-expression is evaluated in turn, number_repeats times over (so a random
    # value is drawn again each time); NULLs are skipped; a count below 1 is NULL.
    count_of = _count(e.attrs["number_repeats"])

    def repeat(ctx: Context) -> Container | None:
        count = count_of(ctx)
        if count is None or count < 1:
            return None
        if count * len(args) > MAX_REPEAT_VALUES:
            raise EvaluationError(
                f"repeat {count} times would make more than {MAX_REPEAT_VALUES} values"
            )
        items: list[Any] = []
        for _ in range(count):
            for arg in args:
                value = arg(ctx)
                if value is not None:
                    items.extend(_members(value))
        return container(items, ordered=True)

    return repeat


@_builds("delete")
def _delete(c: _Compiler, e: Expression, args: list[Fn]) -> Fn:
    def delete(x: Any, y: Any) -> Any:
        ordered = isinstance(y, Container) and y.ordered
        return container((v for v in _members(y) if v != x), ordered=ordered)

    return _null_if_any(delete, args)


@_builds("field_value")
def _field_value(c: _Compiler, e: Expression, args: list[Fn]) -> Fn:
    name = e.attrs["field_identifier"]
    return _null_if_any(lambda r: r.get(name) if isinstance(r, Record) else None, args)


@_builds("and")
def _and(c: _Compiler, e: Expression, args: list[Fn]) -> Fn:
    def conjunction(ctx: Context) -> bool | None:
        unknown = False
        for arg in args:
            value = arg(ctx)
            if value is False:
                return False
            if value is None:
                unknown = True
        return None if unknown else True

    return conjunction


@_builds("or")
def _or(c: _Compiler, e: Expression, args: list[Fn]) -> Fn:
    def disjunction(ctx: Context) -> bool | None:
        unknown = False
        for arg in args:
            value = arg(ctx)
            if value is True:
                return True
            if value is None:
                unknown = True
        return None if unknown else False

    return disjunction


@_builds("not")
def _not(c: _Compiler, e: Expression, args: list[Fn]) -> Fn:
    return _null_if_any(lambda x: not x, args)


@_builds("any_n")
def _any_n(c: _Compiler, e: Expression, args: list[Fn]) -> Fn:
    low, high = int(e.attrs["min"]), int(e.attrs["max"])

    def any_n(ctx: Context) -> bool | None:
        values = [arg(ctx) for arg in args]
        trues = sum(1 for v in values if v is True)
        nulls = sum(1 for v in values if v is None)
        falses = len(values) - trues - nulls
        if falses > len(values) - low or trues > high:
            return False
        if trues >= low and trues + nulls <= high:
            return True
        return None

    return any_n


@_builds("string_match")
def _string_match(c: _Compiler, e: Expression, args: list[Fn]) -> Fn:
    sensitive = bool(e.attrs["case_sensitive"])
    substring = bool(e.attrs.get("substring", False))

    def string_match(x: Any, y: Any) -> bool:
        a, b = str(x), str(y)
        if not sensitive:
            a, b = a.casefold(), b.casefold()
        return b in a if substring else a == b

    return _null_if_any(string_match, args)


@_builds("substring")
def _substring(c: _Compiler, e: Expression, args: list[Fn]) -> Fn:
    sensitive = bool(e.attrs.get("case_sensitive", True))

    def substring(x: Any, y: Any) -> bool:
        a, b = str(x), str(y)
        if not sensitive:
            a, b = a.casefold(), b.casefold()
        return a in b

    return _null_if_any(substring, args)


@_builds("pattern_match")
def _pattern_match(c: _Compiler, e: Expression, args: list[Fn]) -> Fn:
    import re

    # XML Schema patterns are implicitly anchored at both ends.
    pattern = re.compile(e.attrs["pattern"])
    return _null_if_any(lambda x: pattern.fullmatch(str(x)) is not None, args)


@_builds("equal")
def _equal(c: _Compiler, e: Expression, args: list[Fn]) -> Fn:
    mode = e.attrs.get("tolerance_mode", "exact")
    tolerance = list(e.attrs.get("tolerance", [0.0]))
    low = bool(e.attrs.get("include_lower_bound", True))
    high = bool(e.attrs.get("include_upper_bound", True))
    return _null_if_any(lambda x, y: _within_tolerance(x, y, mode, tolerance, low, high), args)


@_builds("equal_rounded")
def _equal_rounded(c: _Compiler, e: Expression, args: list[Fn]) -> Fn:
    mode = e.attrs.get("rounding_mode", "significantFigures")
    figures = int(e.attrs["figures"])

    def equal_rounded(x: Any, y: Any) -> bool | None:
        a, b = round_decimal(x, mode, figures), round_decimal(y, mode, figures)
        return None if a is None or b is None else a == b

    return _null_if_any(equal_rounded, args)


@_builds("round_to")
def _round_to(c: _Compiler, e: Expression, args: list[Fn]) -> Fn:
    mode = e.attrs.get("rounding_mode", "significantFigures")
    figures = int(e.attrs["figures"])

    def round_to(x: Any) -> float | None:
        rounded = round_decimal(x, mode, figures)
        return None if rounded is None else float(rounded)

    return _null_if_any(round_to, args)


@_builds("gt", "gte", "lt", "lte")
def _compare(c: _Compiler, e: Expression, args: list[Fn]) -> Fn:
    compare: Callable[[Any, Any], bool] = {
        "gt": lambda x, y: x > y,
        "gte": lambda x, y: x >= y,
        "lt": lambda x, y: x < y,
        "lte": lambda x, y: x <= y,
    }[e.op]
    return _null_if_any(compare, args)


def _numbers(values: Iterable[Any]) -> list[Any]:
    out: list[Any] = []
    for value in values:
        for member in _members(value):
            if not _is_number(member):
                raise EvaluationError(f"{member!r} is not a number")
            out.append(member)
    return out


@_builds("sum")
def _sum(c: _Compiler, e: Expression, args: list[Fn]) -> Fn:
    return _null_if_any(lambda *values: sum(_numbers(values)), args)


@_builds("product")
def _product(c: _Compiler, e: Expression, args: list[Fn]) -> Fn:
    return _null_if_any(lambda *values: math.prod(_numbers(values)), args)


@_builds("subtract")
def _subtract(c: _Compiler, e: Expression, args: list[Fn]) -> Fn:
    return _null_if_any(lambda x, y: x - y, args)


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


@_builds("divide")
def _divide(c: _Compiler, e: Expression, args: list[Fn]) -> Fn:
    return _null_if_any(lambda x, y: None if y == 0 else _finite(x / y), args)


@_builds("power")
def _power(c: _Compiler, e: Expression, args: list[Fn]) -> Fn:
    def power(x: Any, y: Any) -> float | None:
        try:
            result = math.pow(x, y)
        except (OverflowError, ValueError, ZeroDivisionError):
            return None
        return _finite(result)

    return _null_if_any(power, args)


@_builds("integer_divide")
def _integer_divide(c: _Compiler, e: Expression, args: list[Fn]) -> Fn:
    return _null_if_any(lambda x, y: None if y == 0 else int(x) // int(y), args)


@_builds("integer_modulus")
def _integer_modulus(c: _Compiler, e: Expression, args: list[Fn]) -> Fn:
    return _null_if_any(lambda x, y: None if y == 0 else int(x) % int(y), args)


@_builds("integer_to_float")
def _integer_to_float(c: _Compiler, e: Expression, args: list[Fn]) -> Fn:
    return _null_if_any(float, args)


@_builds("round")
def _round(c: _Compiler, e: Expression, args: list[Fn]) -> Fn:
    # QTI: n for every value in [n - 0.5, n + 0.5), so -6.5 rounds to -6.
    return _null_if_any(lambda x: math.floor(x + 0.5) if math.isfinite(x) else None, args)


@_builds("truncate")
def _truncate(c: _Compiler, e: Expression, args: list[Fn]) -> Fn:
    return _null_if_any(lambda x: math.trunc(x) if math.isfinite(x) else None, args)


@_builds("max", "min")
def _extreme(c: _Compiler, e: Expression, args: list[Fn]) -> Fn:
    pick = max if e.op == "max" else min
    return _null_if_any(lambda *values: pick(_numbers(values)), args)


@_builds("gcd", "lcm")
def _gcd_lcm(c: _Compiler, e: Expression, args: list[Fn]) -> Fn:
    combine = math.gcd if e.op == "gcd" else math.lcm

    def gcd_lcm(*values: Any) -> int:
        numbers = [int(v) for v in _numbers(values)]
        return combine(*numbers)

    return _null_if_any(gcd_lcm, args)


def _reciprocal(function: Callable[[float], float]) -> Callable[[float], float | None]:
    """1 / function(x) as QTI defines the reciprocal trigonometric and hyperbolic
    functions: 0 where function(x) is infinite, NULL where it is 0."""

    def reciprocal(x: float) -> float | None:
        try:
            value = function(x)
        except OverflowError:
            return 0.0
        if math.isinf(value):
            return 0.0
        return None if value == 0 else 1 / value

    return reciprocal


def _arc_reciprocal(function: Callable[[float], float]) -> Callable[[float], float | None]:
    """asec and acsc: acos(1/x) and asin(1/x), defined for |x| >= 1."""
    return lambda x: None if abs(x) < 1 else function(1 / x)


def _log(base_log: Callable[[float], float]) -> Callable[[float], float | None]:
    # log(0) and the log of a negative number are outside the domain: NULL.
    return lambda x: base_log(x) if x > 0 else None


def _signum(x: float) -> int:
    return (x > 0) - (x < 0)


#: mathOperator's functions of one number (atan2 takes two), each giving a number or
#: ``None`` outside its domain. Python's math raises ValueError or OverflowError outside
#: its domain, which is NULL too.
_MATH: dict[str, Callable[[float], Any]] = {
    "sin": math.sin,
    "cos": math.cos,
    "tan": math.tan,
    "sec": _reciprocal(math.cos),
    "csc": _reciprocal(math.sin),
    "cot": _reciprocal(math.tan),
    "asin": math.asin,
    "acos": math.acos,
    "atan": math.atan,
    "asec": _arc_reciprocal(math.acos),
    "acsc": _arc_reciprocal(math.asin),
    # the arccotangent as atan(1/x), with acot(0) = pi/2
    "acot": lambda x: math.pi / 2 if x == 0 else math.atan(1 / x),
    "sinh": math.sinh,
    "cosh": math.cosh,
    "tanh": math.tanh,
    "sech": _reciprocal(math.cosh),
    "csch": _reciprocal(math.sinh),
    "coth": _reciprocal(math.tanh),
    "log": _log(math.log10),
    "ln": _log(math.log),
    "exp": math.exp,
    "abs": abs,
    "signum": _signum,
    "floor": math.floor,
    "ceil": math.ceil,
    "toDegrees": math.degrees,
    "toRadians": math.radians,
}


@_builds("math_operator")
def _math_operator(c: _Compiler, e: Expression, args: list[Fn]) -> Fn:
    # QTI: NULL in, NULL out; a value outside the function's domain is NULL; the result is
    # a float but for signum, floor and ceil (integers). A result that is not a finite
    # number is NULL, as for divide and power.
    name = str(e.attrs["name"])
    function: Callable[..., Any] = math.atan2 if name == "atan2" else _MATH[name]
    integer = name in INTEGER_MATH_FUNCTIONS

    def apply(*values: Any) -> Any:
        if not all(_is_number(v) for v in values):
            return None
        if any(isinstance(v, float) and math.isnan(v) for v in values):
            return None
        if name in ("floor", "ceil") and not all(math.isfinite(v) for v in values):
            return None  # no integer is the floor of an infinity
        try:
            result = function(*values)
        except (ValueError, OverflowError, ZeroDivisionError):
            return None
        if result is None:
            return None
        if integer:
            return int(result)
        result = float(result)
        return result if math.isfinite(result) else None

    return _null_if_any(apply, args)


#: statsOperator's statistics of a list of at least (count) numbers.
_STATS: dict[str, tuple[int, Callable[[list[Any]], Any]]] = {
    "mean": (1, statistics.fmean),
    "sampleVariance": (2, statistics.variance),
    "sampleSD": (2, statistics.stdev),
    "popVariance": (2, statistics.pvariance),
    "popSD": (2, statistics.pstdev),
}


@_builds("stats_operator")
def _stats_operator(c: _Compiler, e: Expression, args: list[Fn]) -> Fn:
    # QTI: the operand is a multiple or ordered container of numbers; NULL (an empty
    # container is NULL) or a value that is not a number gives NULL; the variances and
    # standard deviations need more than one value. The result is a float.
    least, function = _STATS[str(e.attrs["name"])]

    def stats(value: Any) -> float | None:
        if not isinstance(value, Container) or len(value.items) < least:
            return None
        numbers = list(value.items)
        if not all(_is_number(v) and math.isfinite(v) for v in numbers):
            return None
        try:
            result = float(function(numbers))
        except (ValueError, OverflowError, statistics.StatisticsError):
            return None
        return result if math.isfinite(result) else None

    return _null_if_any(stats, args)


@_builds("duration_lt", "duration_gte")
def _duration_compare(c: _Compiler, e: Expression, args: list[Fn]) -> Fn:
    # Durations are seconds; QTI offers only "shorter than" and "at least as long as".
    if e.op == "duration_lt":
        return _null_if_any(lambda x, y: x < y, args)
    return _null_if_any(lambda x, y: x >= y, args)


@_builds("inside")
def _inside(c: _Compiler, e: Expression, args: list[Fn]) -> Fn:
    shape = Shape(e.attrs["shape"])
    coords = [float(v) for v in e.attrs.get("coords", [])]
    return _null_if_any(lambda value: any(inside(shape, coords, p) for p in _members(value)), args)


# --- programs ---------------------------------------------------------------------------------


def derived_max_score(item: ItemDefinition) -> float | None:
    """MAXSCORE implied by a standard template, else (for an item with its own rules that
    declares neither a ``MAXSCORE`` default nor a ``normalMaximum`` on ``SCORE``) the score
    its key earns under those rules; ``None`` when it cannot be derived."""
    return compile_item(item).max_score


def _declares_max(item: ItemDefinition) -> bool:
    """Whether the item states its maximum: a numeric ``MAXSCORE`` default, or a positive
    ``normalMaximum`` on ``SCORE``."""
    maximum = item.outcome_declaration("MAXSCORE")
    if maximum is not None and _is_number(maximum.default_value):
        return True
    score = item.outcome_declaration("SCORE")
    return score is not None and score.normal_maximum is not None and score.normal_maximum > 0


def _point_in(shape: Shape, coords: Sequence[float]) -> str | None:
    """A point inside an area, in its JSON response shape (``"x y"``), or None."""
    if shape is Shape.DEFAULT:
        return None
    if shape is Shape.POLY:
        xs, ys = coords[0::2], coords[1::2]
        if not xs or not ys:
            return None
        x, y = sum(xs) / len(xs), sum(ys) / len(ys)
    elif shape is Shape.RECT and len(coords) >= 4:
        x, y = (coords[0] + coords[2]) / 2, (coords[1] + coords[3]) / 2
    elif len(coords) >= 2:
        x, y = coords[0], coords[1]
    else:
        return None
    point = (round(x), round(y))
    return f"{point[0]} {point[1]}" if inside(shape, coords, point) else None


def _key_responses(declaration: ResponseDeclaration, interaction: Interaction | None) -> list[Any]:
    """The responses that earn an item its best score, in their JSON shape: the correct
    response, and the best a mapping gives (its top entries, within the interaction's
    limit)."""
    keys: list[Any] = []
    if declaration.correct_response is not None:
        keys.append(declaration.correct_response)
    single = declaration.cardinality is Cardinality.SINGLE
    limit = None
    if interaction is not None:
        limit = (
            interaction.max_associations
            if interaction.type in ASSOCIATING_INTERACTIONS
            else interaction.max_choices
        )
    mapped: list[tuple[float, Any]] = []
    if declaration.mapping is not None:
        mapped = [(e.value, e.key) for e in declaration.mapping.entries]
    elif declaration.area_mapping is not None:
        for area in declaration.area_mapping.entries:
            point = _point_in(area.shape, area.coords)
            if point is not None:
                mapped.append((area.value, point))
    mapped.sort(key=lambda entry: entry[0], reverse=True)
    if mapped and single:
        keys.append(mapped[0][1])
    elif mapped:
        best = [key for value, key in mapped if value > 0][: limit or None]
        if best:
            keys.append(best)
    return keys


#: At most this many combinations of key responses are scored to derive a maximum.
_KEY_COMBINATIONS = 64


def _template_max(item: ItemDefinition) -> float | None:
    """MAXSCORE implied by a standard template, or ``None``."""
    processing = item.response_processing
    if processing is None or processing.rules is not None or processing.template is None:
        return None
    template = processing.template
    if template in ("match_correct", "CC2_match"):
        return 1.0
    declaration = item.response_declaration("RESPONSE")
    if declaration is None:
        return None
    interaction = item.interaction_for("RESPONSE")
    if template in ("map_response", "CC2_map_response"):
        return max_mapped(declaration, interaction, point=False)
    if template == "map_response_point":
        return max_mapped(declaration, interaction, point=True)
    return None


class Program:
    """An item's response processing compiled for repeated evaluation."""

    def __init__(self, item: ItemDefinition) -> None:
        self.item = item
        compiler = _Compiler(item)
        self.run = compiler.rules(effective_rules(item.response_processing))
        self.responses = [
            (d, item.interaction_for(d.identifier)) for d in item.response_declarations
        ]
        self.declared = {d.identifier for d in item.response_declarations}
        self.max_score = _template_max(item)
        self.random = any(
            e.op == "random" for e in _rule_expressions(effective_rules(item.response_processing))
        )
        self.initial: dict[str, Any] = {
            # Template variables hold the values chosen for this candidate (templates.py
            # writes them into the declarations of the item it instantiates).
            template.identifier: to_runtime(
                template.cardinality, template.base_type, template.default_value
            )
            for template in item.template_declarations
        }
        self.contexts = {
            # Context variables hold their default values unless the caller gives others.
            context.identifier: to_runtime(
                context.cardinality, context.base_type, context.default_value
            )
            for context in item.context_declarations
        }
        self.initial.update(self.contexts)
        for outcome in item.outcome_declarations:
            value = to_runtime(outcome.cardinality, outcome.base_type, outcome.default_value)
            if value is None and outcome.identifier == "MAXSCORE" and self.max_score is not None:
                value = self.max_score
            if (
                value is None
                and outcome.cardinality is Cardinality.SINGLE
                and outcome.base_type in NUMERIC_BASE_TYPES
            ):
                value = 0.0 if outcome.base_type is not BaseType.INTEGER else 0
            self.initial[outcome.identifier] = value
        self.outcome_types = [(o.identifier, o.base_type) for o in item.outcome_declarations]
        self.report_max = (
            self.max_score is not None and item.outcome_declaration("MAXSCORE") is None
        )
        # completionStatus is reported for adaptive items and items whose rules set it;
        # it starts as "unknown" at the first attempt (QTI) unless the item declares it.
        self.report_completion = item.outcome_declaration("completionStatus") is None and (
            item.adaptive or _sets_completion(effective_rules(item.response_processing))
        )
        if self.report_completion:
            self.initial["completionStatus"] = "unknown"
        # An item with its own rules that states no maximum: its maximum is what its key
        # scores (None when that cannot be worked out). It is not reported as an outcome
        # the item does not declare; a declared MAXSCORE without a value takes it.
        if (
            self.max_score is None
            and item.response_processing is not None
            and item.response_processing.rules is not None
            and not _declares_max(item)
        ):
            self.max_score = self._key_score()
            declared = item.outcome_declaration("MAXSCORE")
            if (
                self.max_score is not None
                and declared is not None
                and declared.cardinality is Cardinality.SINGLE
                and declared.base_type in NUMERIC_BASE_TYPES
                and not self.initial.get("MAXSCORE")
            ):
                self.initial["MAXSCORE"] = (
                    int(self.max_score)
                    if declared.base_type is BaseType.INTEGER and self.max_score.is_integer()
                    else self.max_score
                )

    def _key_score(self) -> float | None:
        """The best ``SCORE`` the item's rules give its key responses (correct responses
        and best mappings), or None when that cannot be worked out: no key, rules that draw
        random values, an uninstantiated cloned item, or no numeric ``SCORE``."""
        if self.random or self.item.template_processing is not None:
            return None
        if self.item.outcome_declaration("SCORE") is None:
            return None
        options: list[list[tuple[str, Any]]] = []
        for declaration, interaction in self.responses:
            keys = _key_responses(declaration, interaction)
            if keys:
                options.append([(declaration.identifier, key) for key in keys])
        if not options:
            return None
        best: float | None = None
        for combination in itertools.islice(itertools.product(*options), _KEY_COMBINATIONS):
            notes: list[str] = []
            values = self.validated(dict(combination), notes)
            if notes:
                continue
            result = self.evaluate_values(values, notes)
            score = result.outcomes.get("SCORE")
            if result.notes or not isinstance(score, int | float) or isinstance(score, bool):
                continue
            if math.isfinite(score) and (best is None or float(score) > best):
                best = float(score)
        return best

    def validated(self, responses: Mapping[str, Any], notes: list[str]) -> dict[str, Any]:
        """Responses checked against their declarations, as runtime values; bad ones become
        NULL with a note."""
        values: dict[str, Any] = {}
        for declaration, interaction in self.responses:
            raw = responses.get(declaration.identifier)
            try:
                normalized = validate_response(declaration, raw, interaction)
            except ResponseShapeError as exc:
                notes.append(f"{exc.detail}; treated as no response")
                normalized = None
            if (
                normalized is None
                and interaction is not None
                and interaction.type is InteractionType.END_ATTEMPT
            ):
                # QTI: the response of an end attempt interaction is true when the candidate
                # ended the attempt with it, false when the attempt ended any other way.
                normalized = False
            values[declaration.identifier] = to_runtime(
                declaration.cardinality, declaration.base_type, normalized
            )
        for key, raw in responses.items():
            if key in self.declared:
                continue
            if (
                key == "numAttempts"
                and isinstance(raw, int)
                and not isinstance(raw, bool)
                and raw >= 1
            ):
                values[key] = raw
            elif key == "duration" and _is_number(raw) and raw >= 0:
                values[key] = float(raw)
            else:
                notes.append(f"ignored a response for {key!r}, which the item does not declare")
        values.setdefault("numAttempts", 1)
        return values

    def evaluate(
        self,
        responses: Mapping[str, Any],
        *,
        seed: int | None = None,
        state: Mapping[str, Any] | None = None,
    ) -> Evaluation:
        """``seed``: the attempt's seed, which ``random`` draws from (with the item and
        the responses); ``state``: the outcomes of the item's previous attempt, which an
        adaptive item's processing starts from (see :func:`evaluate_attempts`)."""
        notes: list[str] = []
        if not isinstance(responses, Mapping):
            notes.append("responses must be an object keyed by response identifier")
            responses = {}
        values = self.validated(responses, notes)
        rng = self.rng(responses, seed) if self.random else None
        return self.evaluate_values(values, notes, rng=rng, state=state)

    def rng(self, responses: Mapping[str, Any], seed: int | None) -> random.Random:
        """The generator ``random`` draws from: a pure function of the attempt's seed, the
        item and the responses, so rescoring the same answer gives the same score."""
        try:
            answer = json.dumps(responses, sort_keys=True, default=str)
        except (TypeError, ValueError):
            answer = repr(sorted(responses.items(), key=lambda kv: str(kv[0])))
        text = f"waa-ads/response/{seed}/{self.item.identifier}/{answer}"
        digest = hashlib.sha256(text.encode()).digest()
        return random.Random(int.from_bytes(digest[:8], "big"))  # noqa: S311

    def _carried(self, state: Mapping[str, Any]) -> dict[str, Any]:
        """An adaptive item's outcomes (and completionStatus) from its previous attempt,
        as runtime values; anything else in ``state`` is ignored."""
        carried: dict[str, Any] = {}
        for outcome in self.item.outcome_declarations:
            if outcome.identifier in state:
                carried[outcome.identifier] = to_runtime(
                    outcome.cardinality, outcome.base_type, state[outcome.identifier]
                )
        status = state.get("completionStatus")
        if self.report_completion and status in COMPLETION_STATUSES:
            carried["completionStatus"] = status
        return carried

    def evaluate_values(
        self,
        values: dict[str, Any],
        notes: list[str],
        *,
        rng: random.Random | None = None,
        state: Mapping[str, Any] | None = None,
    ) -> Evaluation:
        """Run the rules over already validated runtime values."""
        values.update(self.initial)
        if state is not None and self.item.adaptive:
            values.update(self._carried(state))
        ctx = Context(values, rng)
        try:
            self.run(ctx)
        except _Exit:
            pass
        except (EvaluationError, TypeError, ValueError, OverflowError) as exc:
            # The item passed its load-time checks, so this is a value the checks could not
            # foresee (e.g. a record field of an unexpected type). Score from the defaults.
            notes.append(f"response processing stopped: {exc}; outcomes reset to their defaults")
            ctx.values.update(self.initial)
            if state is not None and self.item.adaptive:
                ctx.values.update(self._carried(state))
            if "SCORE" in self.initial:
                score_type = next(b for i, b in self.outcome_types if i == "SCORE")
                ctx.values["SCORE"] = 0 if score_type is BaseType.INTEGER else 0.0
        notes.extend(ctx.notes)
        outcomes = {
            identifier: to_json(base_type, ctx.values.get(identifier))
            for identifier, base_type in self.outcome_types
        }
        if self.report_max:
            outcomes["MAXSCORE"] = self.max_score
        if self.report_completion:
            status = ctx.values.get("completionStatus") or "unknown"
            if not self.item.adaptive and status == "unknown":
                status = "completed"  # a non-adaptive item is complete once submitted
            outcomes["completionStatus"] = status
        return Evaluation(outcomes=outcomes, notes=notes)


def _rule_expressions(rules: Sequence[Rule] | None) -> Iterable[Expression]:
    for rule in rules or ():
        if isinstance(rule, SetOutcomeValue | LookupOutcomeValue):
            yield from rule.expression.walk()
        elif isinstance(rule, ResponseCondition):
            for branch in rule.branches:
                yield from branch.condition.walk()
                yield from _rule_expressions(branch.rules)
            yield from _rule_expressions(rule.otherwise)


def _sets_completion(rules: Sequence[Rule] | None) -> bool:
    for rule in rules or ():
        if isinstance(rule, SetOutcomeValue) and rule.identifier == "completionStatus":
            return True
        if isinstance(rule, ResponseCondition) and (
            any(_sets_completion(b.rules) for b in rule.branches)
            or _sets_completion(rule.otherwise)
        ):
            return True
    return False


_PROGRAMS: dict[int, tuple[weakref.ref[ItemDefinition], Program]] = {}


def compile_item(item: ItemDefinition) -> Program:
    """The compiled program of ``item``, cached for as long as the item object lives."""
    key = id(item)
    cached = _PROGRAMS.get(key)
    if cached is not None and cached[0]() is item:
        return cached[1]
    program = Program(item)
    cache = _PROGRAMS  # held by the closure: module globals are gone at interpreter exit

    def forget(_ref: weakref.ref[ItemDefinition]) -> None:
        cache.pop(key, None)

    _PROGRAMS[key] = (weakref.ref(item, forget), program)
    return program


def evaluate(
    item: ItemDefinition, responses: Mapping[str, Any], *, seed: int | None = None
) -> Evaluation:
    """Score ``responses`` (response identifier -> JSON response) to ``item``.

    Returns every declared outcome (and a derived MAXSCORE, see the module docs) in its
    JSON shape, with notes on responses that were ignored or treated as NULL. Never raises
    for anything in ``responses``. ``seed``: the attempt's seed, which the ``random``
    operator draws from together with the item and the responses (``None``: the same
    fixed draw for every attempt giving the same responses).

    An adaptive item is scored as its first attempt; :func:`evaluate_attempts` processes
    every attempt of one.
    """
    return compile_item(item).evaluate(responses, seed=seed)


def evaluate_attempts(
    item: ItemDefinition, attempts: Sequence[Mapping[str, Any]], *, seed: int | None = None
) -> list[Evaluation]:
    """Process the responses of each attempt of ``item`` in turn, one evaluation each.

    For an adaptive item the outcomes of one attempt are where the next starts (QTI), and
    ``numAttempts`` counts the attempts; once response processing sets
    ``completionStatus`` to ``completed`` the item is over: later attempts are not
    processed (the list is shorter than ``attempts``). The last evaluation is the item's
    final state. A non-adaptive item processes each attempt from its defaults, so its
    final state is its last attempt's."""
    program = compile_item(item)
    evaluations: list[Evaluation] = []
    state: dict[str, Any] | None = None
    for number, responses in enumerate(attempts, start=1):
        given = dict(responses) if isinstance(responses, Mapping) else {}
        given["numAttempts"] = number
        evaluation = program.evaluate(given, seed=seed, state=state)
        evaluations.append(evaluation)
        state = evaluation.outcomes
        if item.adaptive and evaluation.outcomes.get("completionStatus") == "completed":
            break
    return evaluations


# --- template processing ----------------------------------------------------------------------


class _ExitTemplate(Exception):
    """``exitTemplate``: stop template processing, keep the values set so far."""


class _ConstraintFailed(Exception):
    """A ``templateConstraint`` was not true: template processing starts again."""


class _TemplateCompiler(_Compiler):
    def template_rules(self, rules: Sequence[TemplateRule]) -> Callable[[Context], None]:
        steps = [self.template_rule(rule) for rule in rules]

        def run(ctx: Context) -> None:
            for step in steps:
                step(ctx)

        return run

    def template_rule(self, rule: TemplateRule) -> Callable[[Context], None]:
        if isinstance(rule, SetTemplateValue):
            identifier = rule.identifier
            compute = self.expr(rule.expression)
            coerce = _coercer(self.templates[identifier])

            def set_template(ctx: Context) -> None:
                ctx.values[identifier] = coerce(compute(ctx), ctx)

            return set_template
        if isinstance(rule, SetCorrectResponse | SetDefaultValue):
            identifier = rule.identifier
            compute = self.expr(rule.expression)
            declaration = self.responses.get(identifier) or self.outcomes[identifier]
            coerce = _coercer(declaration)
            correct = isinstance(rule, SetCorrectResponse)

            def set_value(ctx: Context) -> None:
                value = coerce(compute(ctx), ctx)
                (ctx.correct if correct else ctx.defaults)[identifier] = value

            return set_value
        if isinstance(rule, TemplateConstraint):
            test = self.expr(rule.expression)

            def constraint(ctx: Context) -> None:
                if test(ctx) is not True:
                    raise _ConstraintFailed

            return constraint
        if isinstance(rule, TemplateCondition):
            return _first_true(
                [(self.expr(b.condition), self.template_rules(b.rules)) for b in rule.branches],
                None if rule.otherwise is None else self.template_rules(rule.otherwise),
            )
        assert isinstance(rule, ExitTemplate)

        def exit_template(ctx: Context) -> None:
            raise _ExitTemplate

        return exit_template


@dataclass(frozen=True)
class TemplateOutcome:
    """What template processing chose, in JSON shapes: template variable values, and the
    correct responses and default values it set (by identifier)."""

    values: dict[str, Any]
    correct: dict[str, Any]
    defaults: dict[str, Any]
    notes: list[str] = field(default_factory=list)


def run_template_processing(
    item: ItemDefinition, rng: random.Random, *, max_tries: int
) -> TemplateOutcome:
    """Run ``item``'s template processing with random values drawn from ``rng``.

    Template variables start at their default values. A ``templateConstraint`` that is not
    true starts processing again from the defaults; after ``max_tries`` runs, the default
    values are kept (QTI's rule), with a note. A value the load-time checks could not
    foresee stops processing the same way."""
    compiler = _TemplateCompiler(item)
    run = compiler.template_rules(item.template_processing or ())
    declared: list[ContextDeclaration | TemplateDeclaration] = [
        *item.context_declarations,
        *item.template_declarations,
    ]
    initial = {
        d.identifier: to_runtime(d.cardinality, d.base_type, d.default_value) for d in declared
    }
    notes: list[str] = []
    ctx = Context(dict(initial), rng)
    for _ in range(max_tries):
        ctx = Context(dict(initial), rng)
        try:
            run(ctx)
        except _ExitTemplate:
            pass
        except _ConstraintFailed:
            continue
        except (EvaluationError, TypeError, ValueError, OverflowError) as exc:
            notes.append(f"template processing stopped: {exc}; the default values are used")
            ctx = Context(dict(initial), rng)
        break
    else:
        notes.append(
            f"the template constraints were not met in {max_tries} tries; "
            "the default values are used"
        )
        ctx = Context(dict(initial), rng)
    notes.extend(ctx.notes)

    def shaped(identifier: str, value: Any) -> Any:
        return to_json(compiler.base_type_of(identifier), value)

    return TemplateOutcome(
        values={
            d.identifier: shaped(d.identifier, ctx.values.get(d.identifier))
            for d in item.template_declarations
        },
        correct={k: shaped(k, v) for k, v in ctx.correct.items()},
        defaults={k: shaped(k, v) for k, v in ctx.defaults.items()},
        notes=notes,
    )


install_evaluator(run_template_processing)
