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

import math
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
    ExitResponse,
    Expression,
    Interaction,
    InteractionType,
    ItemDefinition,
    OutcomeDeclaration,
    ResponseCondition,
    ResponseDeclaration,
    ResponseMapping,
    Rule,
    SetOutcomeValue,
    Shape,
)
from waa_ads.content.item.processing import BUILTIN_VARIABLES, effective_rules
from waa_ads.content.item.responses import ResponseShapeError, validate_response

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


class EvaluationError(Exception):
    """Processing could not go on (a value of an unexpected type at run time)."""


class Context:
    """Variable values during one evaluation."""

    __slots__ = ("notes", "values")

    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values
        self.notes: list[str] = []


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

    def base_type_of(self, identifier: str) -> BaseType | None:
        if identifier in self.responses:
            return self.responses[identifier].base_type
        if identifier in self.outcomes:
            return self.outcomes[identifier].base_type
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
        if isinstance(rule, SetOutcomeValue):
            return self._set(rule)
        if isinstance(rule, ResponseCondition):
            branches = [(self.expr(b.condition), self.rules(b.rules)) for b in rule.branches]
            otherwise = None if rule.otherwise is None else self.rules(rule.otherwise)

            def condition(ctx: Context) -> None:
                for test, body in branches:
                    if test(ctx) is True:
                        body(ctx)
                        return
                if otherwise is not None:
                    otherwise(ctx)

            return condition
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

    def expr(self, expression: Expression) -> Fn:
        op = expression.op
        args = [self.expr(arg) for arg in expression.args]
        builder = _BUILDERS.get(op)
        if builder is not None:
            return builder(self, expression, args)
        raise EvaluationError(f"operator {op} cannot be evaluated")  # pragma: no cover


def _coercer(declaration: OutcomeDeclaration) -> Callable[[Any, Context], Any]:
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
    declaration: ResponseDeclaration | OutcomeDeclaration | None = c.responses.get(
        identifier
    ) or c.outcomes.get(identifier)
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


@_builds("index")
def _index(c: _Compiler, e: Expression, args: list[Fn]) -> Fn:
    n = int(e.attrs["n"])

    def pick(value: Any) -> Any:
        members = _members(value)
        return members[n - 1] if 1 <= n <= len(members) else None

    return _null_if_any(pick, args)


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


@_builds("inside")
def _inside(c: _Compiler, e: Expression, args: list[Fn]) -> Fn:
    shape = Shape(e.attrs["shape"])
    coords = [float(v) for v in e.attrs.get("coords", [])]
    return _null_if_any(lambda value: any(inside(shape, coords, p) for p in _members(value)), args)


# --- programs ---------------------------------------------------------------------------------


def derived_max_score(item: ItemDefinition) -> float | None:
    """MAXSCORE implied by a standard template, or ``None`` when it cannot be derived."""
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
        self.max_score = derived_max_score(item)
        self.initial: dict[str, Any] = {}
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

    def evaluate(self, responses: Mapping[str, Any]) -> Evaluation:
        notes: list[str] = []
        if not isinstance(responses, Mapping):
            notes.append("responses must be an object keyed by response identifier")
            responses = {}
        values = self.validated(responses, notes)
        return self.evaluate_values(values, notes)

    def evaluate_values(self, values: dict[str, Any], notes: list[str]) -> Evaluation:
        """Run the rules over already validated runtime values."""
        values.update(self.initial)
        ctx = Context(values)
        try:
            self.run(ctx)
        except _Exit:
            pass
        except (EvaluationError, TypeError, ValueError, OverflowError) as exc:
            # The item passed its load-time checks, so this is a value the checks could not
            # foresee (e.g. a record field of an unexpected type). Score from the defaults.
            notes.append(f"response processing stopped: {exc}; outcomes reset to their defaults")
            ctx.values.update(self.initial)
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
        return Evaluation(outcomes=outcomes, notes=notes)


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


def evaluate(item: ItemDefinition, responses: Mapping[str, Any]) -> Evaluation:
    """Score ``responses`` (response identifier -> JSON response) to ``item``.

    Returns every declared outcome (and a derived MAXSCORE, see the module docs) in its
    JSON shape, with notes on responses that were ignored or treated as NULL. Never raises
    for anything in ``responses``.
    """
    return compile_item(item).evaluate(responses)
