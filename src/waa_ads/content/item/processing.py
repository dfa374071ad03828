"""Response processing rules: the standard templates, rule trees parsed from QTI, and the
checks run when an item is loaded.

QTI 2.x (``responseCondition``, ``mapResponse``, camelCase attributes) and QTI 3.0
(``qti-response-condition``, ``qti-map-response``, kebab-case attributes) parse into the
same AST (:class:`~waa_ads.content.item.definition.Expression` and the rule models), whose operator
and attribute names are snake_case. The engine that evaluates the AST lives in
``waa_ads.scoring.engine``; this module only parses and validates, so that an item with an
unknown operator or a malformed rule is refused when it is loaded, never when a candidate
is scored.

The standard templates are known here by URL and defined in code, so nothing is ever
fetched: ``match_correct``, ``map_response``, ``map_response_point`` (QTI 2.0/2.1/2.2 and 3.0
URLs) and the Common Cartridge ``CC2_match``, ``CC2_match_basic``, ``CC2_map_response``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from waa_ads.content.item.definition import (
    NUMERIC_BASE_TYPES,
    BaseType,
    Cardinality,
    ExitResponse,
    ExitTemplate,
    Expression,
    ItemDefinition,
    ItemFormatError,
    LookupOutcomeValue,
    ResponseBranch,
    ResponseCondition,
    ResponseProcessing,
    Rule,
    SetCorrectResponse,
    SetDefaultValue,
    SetOutcomeValue,
    SetTemplateValue,
    Shape,
    TemplateBranch,
    TemplateCondition,
    TemplateConstraint,
    TemplateRule,
)
from waa_ads.content.item.responses import parse_qti_value

QTI3_NS = "http://www.imsglobal.org/xsd/imsqtiasi_v3p0"
QTI2_NAMESPACES = frozenset(
    {
        "http://www.imsglobal.org/xsd/imsqti_v2p0",
        "http://www.imsglobal.org/xsd/imsqti_v2p1",
        "http://www.imsglobal.org/xsd/imsqti_v2p2",
    }
)
QTI_NAMESPACES = QTI2_NAMESPACES | {QTI3_NS}

# --- names ------------------------------------------------------------------------------------

_CAMEL_RE = re.compile(r"(?<!^)(?=[A-Z])")


def snake_name(local: str) -> str:
    """The AST name of a QTI element or attribute, from its 2.x or 3.0 spelling."""
    if local.startswith("qti-"):
        local = local[4:]
    if "-" in local:
        return local.replace("-", "_")
    return _CAMEL_RE.sub("_", local).lower()


def qti3_name(snake: str) -> str:
    """The QTI 3.0 element name of an AST name (``map_response`` -> ``qti-map-response``)."""
    return "qti-" + snake.replace("_", "-")


def kebab_name(snake: str) -> str:
    return snake.replace("_", "-")


def _local(element: etree._Element) -> str:
    return etree.QName(element).localname


# --- templates --------------------------------------------------------------------------------

TEMPLATE_NAMES = (
    "match_correct",
    "map_response",
    "map_response_point",
    "CC2_match",
    "CC2_match_basic",
    "CC2_map_response",
)

# Every form the specifications and 1EdTech's examples use: the QTI 2.0/2.1/2.2 URLs
# (www.imsglobal.org/question/qti_v2pN/rptemplates/NAME, with or without .xml), the QTI 3.0
# purl (purl.imsglobal.org/spec/qti/v3p0/rptemplates/NAME.xml), the www.imsglobal.org form
# of the 3.0 examples (www.imsglobal.org/question/qti_v3p0/rptemplates/NAME.xml), over
# http or https, with or without www, under imsglobal.org or 1edtech.org.
_TEMPLATE_URL_RE = re.compile(
    r"^(?:https?:)?//(?:www\.|purl\.)?(?:imsglobal|1edtech)\.org/"
    r"(?:question/qti_v[23]p[0-9]|spec/qti/v[23]p[0-9])/rptemplates/"
    r"(?P<name>[A-Za-z0-9_]+?)(?:\.xml)?$",
    re.IGNORECASE,
)


def template_name(url: str) -> str | None:
    """The canonical name of a standard template URL, or ``None`` if it is not one."""
    match = _TEMPLATE_URL_RE.match(url.strip())
    if match is None:
        return None
    wanted = match.group("name").lower()
    return next((n for n in TEMPLATE_NAMES if n.lower() == wanted), None)


def template_url(name: str) -> str:
    """The QTI 3.0 URL of a standard template."""
    return f"https://purl.imsglobal.org/spec/qti/v3p0/rptemplates/{name}.xml"


def _var(identifier: str) -> Expression:
    return Expression(op="variable", attrs={"identifier": identifier})


def _base(base_type: BaseType, value: Any) -> Expression:
    return Expression(op="base_value", attrs={"base_type": base_type.value, "value": value})


def _set(identifier: str, expression: Expression) -> SetOutcomeValue:
    return SetOutcomeValue(identifier=identifier, expression=expression)


def _if_else(
    condition: Expression, then: Sequence[Rule], otherwise: Sequence[Rule] | None
) -> ResponseCondition:
    return ResponseCondition(
        branches=(ResponseBranch(condition=condition, rules=tuple(then)),),
        otherwise=None if otherwise is None else tuple(otherwise),
    )


def _build_templates() -> dict[str, tuple[Rule, ...]]:
    matches = Expression(
        op="match",
        args=(_var("RESPONSE"), Expression(op="correct", attrs={"identifier": "RESPONSE"})),
    )
    is_null = Expression(op="is_null", args=(_var("RESPONSE"),))

    def mapped(op: str, zero: float) -> ResponseCondition:
        return _if_else(
            is_null,
            [_set("SCORE", _base(BaseType.FLOAT, zero))],
            [_set("SCORE", Expression(op=op, attrs={"identifier": "RESPONSE"}))],
        )

    match_correct = _if_else(
        matches,
        [_set("SCORE", _base(BaseType.FLOAT, 1.0))],
        [_set("SCORE", _base(BaseType.FLOAT, 0.0))],
    )
    feedback = _if_else(
        Expression(
            op="equal",
            attrs={"tolerance_mode": "exact"},
            args=(_var("MAXSCORE"), _var("SCORE")),
        ),
        [_set("FEEDBACK", _base(BaseType.IDENTIFIER, "correct"))],
        [_set("FEEDBACK", _base(BaseType.IDENTIFIER, "incorrect"))],
    )
    match_basic = _if_else(
        matches,
        [
            _set("SCORE", _var("MAXSCORE")),
            _set("FEEDBACKBASIC", _base(BaseType.IDENTIFIER, "correct")),
        ],
        [_set("FEEDBACKBASIC", _base(BaseType.IDENTIFIER, "incorrect"))],
    )
    return {
        "match_correct": (match_correct,),
        "map_response": (mapped("map_response", 0.0),),
        "map_response_point": (mapped("map_response_point", 0.0),),
        "CC2_match": (match_correct,),
        "CC2_match_basic": (match_basic,),
        "CC2_map_response": (mapped("map_response", 0.0), feedback),
    }


#: The rules of each standard template, exactly as the published templates define them.
TEMPLATES: dict[str, tuple[Rule, ...]] = _build_templates()


def effective_rules(processing: ResponseProcessing | None) -> tuple[Rule, ...]:
    """The rules that score an item: its own rules if it has any, else its template's."""
    if processing is None:
        return ()
    if processing.rules is not None:
        return processing.rules
    if processing.template is not None:
        return TEMPLATES[processing.template]
    return ()


# --- operators --------------------------------------------------------------------------------


def _bool_attr(value: str) -> bool:
    if value in ("true", "1"):
        return True
    if value in ("false", "0"):
        return False
    raise ValueError(f"{value!r} is not true or false")


def _int_attr(value: str) -> int:
    try:
        return int(value.strip())
    except ValueError:
        raise ValueError(
            f"{value!r} is not an integer (variable references are not supported here)"
        ) from None


#: A QTI identifier as a variable reference in an attribute (``n="i"``,
#: ``number-repeats="N"``): a letter or underscore, then letters, digits, ``_ - .``.
_VARIABLE_REF_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")


def _int_or_ref_attr(value: str) -> int | str:
    """An integer, or a variable reference: the identifier of an integer variable whose
    value at run time is used (QTI ``integerOrVariableRef``)."""
    text = value.strip()
    try:
        return int(text)
    except ValueError:
        pass
    if not _VARIABLE_REF_RE.match(text):
        raise ValueError(f"{value!r} is neither an integer nor a variable identifier")
    return text


def _tolerance_attr(value: str) -> list[float]:
    parts = value.split()
    if not 1 <= len(parts) <= 2:
        raise ValueError("tolerance holds one or two numbers")
    try:
        numbers = [float(p) for p in parts]
    except ValueError:
        raise ValueError(
            f"{value!r} is not one or two numbers (variable references are not supported)"
        ) from None
    if any(n < 0 for n in numbers):
        raise ValueError("tolerance cannot be negative")
    return numbers


def _enum_attr(*allowed: str) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if value not in allowed:
            raise ValueError(f"{value!r} is not one of {', '.join(allowed)}")
        return value

    return parse


def _pattern_attr(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"{value!r} is not a valid pattern: {exc}") from None
    return value


def _coords_attr(value: str) -> list[float]:
    try:
        return [float(p) for p in value.replace(",", " ").split()]
    except ValueError:
        raise ValueError(f"{value!r} is not a list of numbers") from None


def _str_attr(value: str) -> str:
    if not value.strip():
        raise ValueError("cannot be empty")
    return value.strip()


@dataclass(frozen=True)
class _Attr:
    parse: Callable[[str], Any]
    required: bool = False


@dataclass(frozen=True)
class OperatorSpec:
    """How an expression is written: its argument count and attributes."""

    min_args: int
    max_args: int | None
    attrs: dict[str, _Attr] = field(default_factory=dict)


_ID = {"identifier": _Attr(_str_attr, required=True)}

#: The functions of ``mathOperator`` (QTI 2.2 and 3.0), by their ``name``.
MATH_FUNCTIONS = (
    "sin", "cos", "tan", "sec", "csc", "cot", "asin", "acos", "atan", "atan2", "asec", "acsc",
    "acot", "sinh", "cosh", "tanh", "sech", "csch", "coth", "log", "ln", "exp", "abs", "signum",
    "floor", "ceil", "toDegrees", "toRadians",
)  # fmt: skip
#: The ``mathOperator`` functions whose result is an integer (the others give a float).
INTEGER_MATH_FUNCTIONS = frozenset({"signum", "floor", "ceil"})
#: The statistics of ``statsOperator``, by their ``name``.
STATS_FUNCTIONS = ("mean", "sampleVariance", "sampleSD", "popVariance", "popSD")

#: Every expression the engine evaluates, by AST name.
OPERATORS: dict[str, OperatorSpec] = {
    # values
    "base_value": OperatorSpec(0, 0, {"base_type": _Attr(BaseType, required=True)}),
    "variable": OperatorSpec(0, 0, dict(_ID)),
    "correct": OperatorSpec(0, 0, dict(_ID)),
    "default": OperatorSpec(0, 0, dict(_ID)),
    "null": OperatorSpec(0, 0),
    "map_response": OperatorSpec(0, 0, dict(_ID)),
    "map_response_point": OperatorSpec(0, 0, dict(_ID)),
    "math_constant": OperatorSpec(0, 0, {"name": _Attr(_enum_attr("pi", "e"), required=True)}),
    # containers
    "multiple": OperatorSpec(0, None),
    "ordered": OperatorSpec(0, None),
    "container_size": OperatorSpec(1, 1),
    "is_null": OperatorSpec(1, 1),
    "index": OperatorSpec(1, 1, {"n": _Attr(_int_or_ref_attr, required=True)}),
    "repeat": OperatorSpec(1, None, {"number_repeats": _Attr(_int_or_ref_attr, required=True)}),
    "field_value": OperatorSpec(1, 1, {"field_identifier": _Attr(_str_attr, required=True)}),
    "delete": OperatorSpec(2, 2),
    "member": OperatorSpec(2, 2),
    "contains": OperatorSpec(2, 2),
    # logic
    "and": OperatorSpec(1, None),
    "or": OperatorSpec(1, None),
    "not": OperatorSpec(1, 1),
    "any_n": OperatorSpec(
        1, None, {"min": _Attr(_int_attr, required=True), "max": _Attr(_int_attr, required=True)}
    ),
    # comparison
    "match": OperatorSpec(2, 2),
    "string_match": OperatorSpec(
        2, 2, {"case_sensitive": _Attr(_bool_attr, required=True), "substring": _Attr(_bool_attr)}
    ),
    "pattern_match": OperatorSpec(1, 1, {"pattern": _Attr(_pattern_attr, required=True)}),
    "substring": OperatorSpec(2, 2, {"case_sensitive": _Attr(_bool_attr)}),
    "equal": OperatorSpec(
        2,
        2,
        {
            "tolerance_mode": _Attr(_enum_attr("exact", "absolute", "relative")),
            "tolerance": _Attr(_tolerance_attr),
            "include_lower_bound": _Attr(_bool_attr),
            "include_upper_bound": _Attr(_bool_attr),
        },
    ),
    "equal_rounded": OperatorSpec(
        2,
        2,
        {
            "rounding_mode": _Attr(_enum_attr("significantFigures", "decimalPlaces")),
            "figures": _Attr(_int_attr, required=True),
        },
    ),
    "gt": OperatorSpec(2, 2),
    "gte": OperatorSpec(2, 2),
    "lt": OperatorSpec(2, 2),
    "lte": OperatorSpec(2, 2),
    "duration_lt": OperatorSpec(2, 2),
    "duration_gte": OperatorSpec(2, 2),
    "inside": OperatorSpec(
        1, 1, {"shape": _Attr(Shape, required=True), "coords": _Attr(_coords_attr)}
    ),
    # arithmetic
    "sum": OperatorSpec(1, None),
    "product": OperatorSpec(1, None),
    "subtract": OperatorSpec(2, 2),
    "divide": OperatorSpec(2, 2),
    "power": OperatorSpec(2, 2),
    "integer_divide": OperatorSpec(2, 2),
    "integer_modulus": OperatorSpec(2, 2),
    "integer_to_float": OperatorSpec(1, 1),
    "round": OperatorSpec(1, 1),
    "truncate": OperatorSpec(1, 1),
    "round_to": OperatorSpec(
        1,
        1,
        {
            "rounding_mode": _Attr(_enum_attr("significantFigures", "decimalPlaces")),
            "figures": _Attr(_int_attr, required=True),
        },
    ),
    "max": OperatorSpec(1, None),
    "min": OperatorSpec(1, None),
    "gcd": OperatorSpec(1, None),
    "lcm": OperatorSpec(1, None),
    # atan2 takes two sub-expressions, every other function one (checked by name)
    "math_operator": OperatorSpec(
        1, 2, {"name": _Attr(_enum_attr(*MATH_FUNCTIONS), required=True)}
    ),
    "stats_operator": OperatorSpec(
        1, 1, {"name": _Attr(_enum_attr(*STATS_FUNCTIONS), required=True)}
    ),
    # a member of a container drawn at random: in response processing from the attempt's
    # seed and the responses (docs/response-processing.md, "Random values")
    "random": OperatorSpec(1, 1),
}


def _float_attr(value: str) -> float:
    try:
        return float(value.strip())
    except ValueError:
        raise ValueError(
            f"{value!r} is not a number (variable references are not supported here)"
        ) from None


#: Expressions that only template processing evaluates: random values, drawn per candidate.
TEMPLATE_OPERATORS: dict[str, OperatorSpec] = {
    "random_integer": OperatorSpec(
        0,
        0,
        {
            "min": _Attr(_int_attr, required=True),
            "max": _Attr(_int_attr, required=True),
            "step": _Attr(_int_attr),
        },
    ),
    "random_float": OperatorSpec(
        0, 0, {"min": _Attr(_float_attr, required=True), "max": _Attr(_float_attr, required=True)}
    ),
}

#: QTI expressions that exist but that response processing here does not evaluate.
UNSUPPORTED_OPERATORS: dict[str, str] = {
    "random_integer": "random values have no place in scoring (only in template processing)",
    "random_float": "random values have no place in scoring (only in template processing)",
    "custom_operator": "custom operators are implementation-specific and none is known here",
    "number_correct": "test-level expressions do not apply to an item",
    "number_incorrect": "test-level expressions do not apply to an item",
    "number_presented": "test-level expressions do not apply to an item",
    "number_responded": "test-level expressions do not apply to an item",
    "number_selected": "test-level expressions do not apply to an item",
    "outcome_minimum": "test-level expressions do not apply to an item",
    "outcome_maximum": "test-level expressions do not apply to an item",
    "test_variables": "test-level expressions do not apply to an item",
}

#: QTI 2.x names whose camel case does not split into the AST name (``durationLT``).
_OPERATOR_ALIASES = {"duration_l_t": "duration_lt", "duration_g_t_e": "duration_gte"}


def _operator_name(element: etree._Element) -> str:
    """The AST name of an expression or rule element."""
    name = snake_name(_local(element))
    return _OPERATOR_ALIASES.get(name, name)


_RULE_NAMES = frozenset(
    {
        "response_condition",
        "set_outcome_value",
        "exit_response",
        "response_processing_fragment",
        "lookup_outcome_value",
    }
)


# --- parsing ----------------------------------------------------------------------------------


def _display(element: etree._Element) -> str:
    return _local(element)


def _error(reason: str, element: etree._Element) -> ItemFormatError:
    line = element.sourceline
    return ItemFormatError(
        reason, element=_display(element), line=line if isinstance(line, int) else None
    )


def _children(element: etree._Element) -> list[etree._Element]:
    """Element children of a processing element; text and foreign elements are errors."""
    out: list[etree._Element] = []
    if element.text and element.text.strip():
        raise _error(f"unexpected text {element.text.strip()[:30]!r}", element)
    for child in element:
        if not isinstance(child.tag, str):
            continue  # comments and processing instructions carry no rules
        if etree.QName(child).namespace not in QTI_NAMESPACES:
            raise _error("element outside the QTI namespace in response processing", child)
        if child.tail and child.tail.strip():
            raise _error(f"unexpected text {child.tail.strip()[:30]!r}", element)
        out.append(child)
    return out


def _attributes(element: etree._Element) -> dict[str, str]:
    """Un-namespaced attributes by snake_case name (namespaced ones such as
    ``xsi:schemaLocation`` carry nothing for processing)."""
    out: dict[str, str] = {}
    for name, value in element.attrib.items():
        key = str(name)
        if key.startswith("{"):
            continue
        out[snake_name(key)] = str(value)
    return out


def _custom_operator_reason(element: etree._Element) -> str:
    """Why a ``customOperator`` is refused, naming it by its ``class`` and ``definition``:
    its meaning belongs to the system that wrote it, and this bank knows no custom
    operator, so scoring it would be a guess."""
    attrs = _attributes(element)
    names = [
        f"{kebab_name(key)} {attrs[key]!r}" for key in ("class", "definition") if attrs.get(key)
    ]
    named = " and ".join(names) if names else "no class or definition"
    return (
        f"unsupported custom operator ({named}): custom operators are implementation-specific "
        "and this bank evaluates none, so the item could not be scored as its author meant"
    )


def parse_expression(element: etree._Element, *, template: bool = False) -> Expression:
    """An expression element (2.x or 3.0) as an :class:`Expression`; raises
    :class:`ItemFormatError` naming an unknown operator or a malformed expression.
    ``template``: the expression belongs to template processing, where random values
    (``randomInteger``, ``randomFloat``, ``random``) are allowed."""
    op = _operator_name(element)
    if op == "custom_operator":
        raise _error(_custom_operator_reason(element), element)
    spec = TEMPLATE_OPERATORS.get(op) if template else None
    if spec is None and op in UNSUPPORTED_OPERATORS:
        raise _error(f"unsupported operator: {UNSUPPORTED_OPERATORS[op]}", element)
    spec = spec or OPERATORS.get(op)
    if spec is None:
        raise _error("unknown operator", element)
    attrs: dict[str, Any] = {}
    for name, raw in _attributes(element).items():
        attr = spec.attrs.get(name)
        if attr is None:
            raise _error(f"unknown attribute {kebab_name(name)!r}", element)
        try:
            parsed = attr.parse(raw)
        except ValueError as exc:
            raise _error(f"bad {kebab_name(name)} attribute: {exc}", element) from None
        attrs[name] = parsed.value if isinstance(parsed, BaseType | Shape) else parsed
    for name, attr in spec.attrs.items():
        if attr.required and name not in attrs:
            raise _error(f"missing {kebab_name(name)} attribute", element)
    if op == "base_value":
        if len(element):
            raise _error("a base value holds text, not elements", element)
        try:
            attrs["value"] = parse_qti_value(BaseType(attrs["base_type"]), element.text or "")
        except ValueError as exc:
            raise _error(str(exc), element) from None
        return Expression(op=op, attrs=attrs)
    if op == "equal":
        mode = attrs.get("tolerance_mode", "exact")
        if mode != "exact" and "tolerance" not in attrs:
            raise _error(f"tolerance-mode {mode} needs a tolerance attribute", element)
    if op in ("equal_rounded", "round_to"):
        mode = attrs.get("rounding_mode", "significantFigures")
        minimum = 1 if mode == "significantFigures" else 0
        if attrs["figures"] < minimum:
            raise _error(f"figures must be at least {minimum} for {mode}", element)
    if op == "repeat" and isinstance(attrs["number_repeats"], int) and attrs["number_repeats"] < 1:
        raise _error("number-repeats must be at least 1", element)
    if op in ("random_integer", "random_float"):
        if attrs["max"] < attrs["min"]:
            raise _error("max is less than min", element)
        if attrs.get("step", 1) < 1:
            raise _error("step must be at least 1", element)
    args = tuple(parse_expression(child, template=template) for child in _children(element))
    if len(args) < spec.min_args or (spec.max_args is not None and len(args) > spec.max_args):
        expected = (
            f"{spec.min_args}"
            if spec.min_args == spec.max_args
            else f"at least {spec.min_args}"
            if spec.max_args is None
            else f"{spec.min_args} to {spec.max_args}"
        )
        raise _error(f"takes {expected} sub-expressions, found {len(args)}", element)
    if op == "math_operator":
        wanted = math_operator_arity(attrs["name"])
        if len(args) != wanted:
            raise _error(
                f"{attrs['name']} takes {wanted} sub-expression{'s' if wanted > 1 else ''}, "
                f"found {len(args)}",
                element,
            )
    return Expression(op=op, args=args, attrs=attrs)


def math_operator_arity(name: str) -> int:
    """How many sub-expressions the ``mathOperator`` function ``name`` takes."""
    return 2 if name == "atan2" else 1


def parse_rules(elements: Iterable[etree._Element]) -> tuple[Rule, ...]:
    """Response rules (conditions, outcome settings, exits) parsed into the AST."""
    rules: list[Rule] = []
    for element in elements:
        name = _operator_name(element)
        if name == "response_processing_fragment":
            rules.extend(parse_rules(_children(element)))
        elif name == "set_outcome_value":
            rules.append(_parse_set(element))
        elif name == "exit_response":
            if len(_children(element)):
                raise _error("exitResponse takes no content", element)
            rules.append(ExitResponse())
        elif name == "response_condition":
            rules.append(_parse_condition(element))
        elif name == "lookup_outcome_value":
            rules.append(_parse_lookup(element))
        elif name in OPERATORS or name in UNSUPPORTED_OPERATORS:
            raise _error("an expression cannot stand where a rule is expected", element)
        else:
            raise _error("unknown response rule", element)
    return tuple(rules)


def _parse_set(element: etree._Element) -> SetOutcomeValue:
    identifier = _attributes(element).get("identifier", "").strip()
    if not identifier:
        raise _error("missing identifier attribute", element)
    children = _children(element)
    if len(children) != 1:
        raise _error(f"takes exactly one expression, found {len(children)}", element)
    return SetOutcomeValue(identifier=identifier, expression=parse_expression(children[0]))


def _parse_lookup(element: etree._Element) -> LookupOutcomeValue:
    identifier = _attributes(element).get("identifier", "").strip()
    if not identifier:
        raise _error("missing identifier attribute", element)
    unknown = set(_attributes(element)) - {"identifier"}
    if unknown:
        raise _error(f"unknown attribute {kebab_name(sorted(unknown)[0])!r}", element)
    children = _children(element)
    if len(children) != 1:
        raise _error(f"takes exactly one expression, found {len(children)}", element)
    return LookupOutcomeValue(identifier=identifier, expression=parse_expression(children[0]))


def _parse_branches(
    element: etree._Element,
    kind: str,
    parse_body: Callable[[Iterable[etree._Element]], tuple[Any, ...]],
    *,
    template: bool = False,
) -> tuple[list[tuple[Expression, tuple[Any, ...]]], tuple[Any, ...] | None]:
    """The branches of a ``<kind>Condition`` (``response`` or ``template``): its
    ``<kind>If``, any ``<kind>ElseIf`` and at most one ``<kind>Else``, in that order,
    each with its condition expression and its rules (``parse_body``)."""
    first, middle, last = f"{kind}_if", f"{kind}_else_if", f"{kind}_else"
    children = _children(element)
    names = [snake_name(_local(child)) for child in children]
    if not names or names[0] != first:
        raise _error(f"a {kind} condition starts with a {kind}If", element)
    branches: list[tuple[Expression, tuple[Any, ...]]] = []
    otherwise: tuple[Any, ...] | None = None
    for position, (child, name) in enumerate(zip(children, names, strict=True)):
        if name in (first, middle):
            if (name == first) != (position == 0) or otherwise is not None:
                raise _error(f"misplaced branch in a {kind} condition", child)
            parts = _children(child)
            if not parts:
                raise _error("a branch needs a condition expression", child)
            branches.append((parse_expression(parts[0], template=template), parse_body(parts[1:])))
        elif name == last:
            if otherwise is not None:
                raise _error(f"a {kind} condition has one {kind}Else at most", child)
            otherwise = parse_body(_children(child))
        else:
            raise _error(f"only {kind}If, {kind}ElseIf and {kind}Else belong here", child)
    return branches, otherwise


def _parse_condition(element: etree._Element) -> ResponseCondition:
    branches, otherwise = _parse_branches(element, "response", parse_rules)
    return ResponseCondition(
        branches=tuple(ResponseBranch(condition=c, rules=r) for c, r in branches),
        otherwise=otherwise,
    )


_TEMPLATE_RULE_NAMES = {
    "set_template_value": "setTemplateValue",
    "set_correct_response": "setCorrectResponse",
    "set_default_value": "setDefaultValue",
    "template_constraint": "templateConstraint",
    "exit_template": "exitTemplate",
    "template_condition": "templateCondition",
}


def parse_template_rules(elements: Iterable[etree._Element]) -> tuple[TemplateRule, ...]:
    """Template rules (``setTemplateValue``, ``setCorrectResponse``, ``setDefaultValue``,
    ``templateCondition``, ``templateConstraint``, ``exitTemplate``) parsed into the AST;
    any other element is refused, naming it."""
    rules: list[TemplateRule] = []
    for element in elements:
        name = _operator_name(element)
        if name in ("set_template_value", "set_correct_response", "set_default_value"):
            identifier = _attributes(element).get("identifier", "").strip()
            if not identifier:
                raise _error("missing identifier attribute", element)
            children = _children(element)
            if len(children) != 1:
                raise _error(f"takes exactly one expression, found {len(children)}", element)
            expression = parse_expression(children[0], template=True)
            if name == "set_template_value":
                rules.append(SetTemplateValue(identifier=identifier, expression=expression))
            elif name == "set_correct_response":
                rules.append(SetCorrectResponse(identifier=identifier, expression=expression))
            else:
                rules.append(SetDefaultValue(identifier=identifier, expression=expression))
        elif name == "template_constraint":
            children = _children(element)
            if len(children) != 1:
                raise _error(f"takes exactly one expression, found {len(children)}", element)
            rules.append(
                TemplateConstraint(expression=parse_expression(children[0], template=True))
            )
        elif name == "exit_template":
            if len(_children(element)):
                raise _error("exitTemplate takes no content", element)
            rules.append(ExitTemplate())
        elif name == "template_condition":
            rules.append(_parse_template_condition(element))
        elif name in OPERATORS or name in TEMPLATE_OPERATORS:
            raise _error("an expression cannot stand where a template rule is expected", element)
        else:
            raise _error("unsupported template rule", element)
    return tuple(rules)


def _parse_template_condition(element: etree._Element) -> TemplateCondition:
    branches, otherwise = _parse_branches(element, "template", parse_template_rules, template=True)
    return TemplateCondition(
        branches=tuple(TemplateBranch(condition=c, rules=r) for c, r in branches),
        otherwise=otherwise,
    )


def parse_template_processing(element: etree._Element) -> tuple[TemplateRule, ...]:
    """A ``templateProcessing`` / ``qti-template-processing`` element as template rules."""
    unknown = set(_attributes(element))
    if unknown:
        raise _error(
            f"unsupported attribute {kebab_name(sorted(unknown)[0])!r} of template processing "
            "(external template rules are not fetched)",
            element,
        )
    return parse_template_rules(_children(element))


def parse_response_processing(element: etree._Element) -> ResponseProcessing:
    """A ``responseProcessing`` / ``qti-response-processing`` element as the model.

    A ``template`` URL must be one of the standard templates (nothing is fetched);
    ``templateLocation`` is a retrieval hint, read as the template when it is a standard
    template's URL and there is nothing else, and refused when it is all there is
    otherwise (see :func:`template_location_note` for the note it leaves).
    """
    attrs = _attributes(element)
    unknown = set(attrs) - {"template", "template_location"}
    if unknown:
        raise _error(f"unknown attribute {kebab_name(sorted(unknown)[0])!r}", element)
    template: str | None = None
    if attrs.get("template", "").strip():  # template="" names no template
        template = template_name(attrs["template"])
        if template is None:
            raise _error(
                f"unknown response processing template {attrs['template']!r}; the standard "
                "match_correct, map_response, map_response_point and CC2 templates are known",
                element,
            )
    children = _children(element)
    rules = parse_rules(children) if children else None
    location = attrs.get("template_location")
    if template is None and rules is None and location is not None:
        # Only the external rules' location: a standard template's URL is the template;
        # anything else would be fetched, which the reader never does.
        template = template_name(location)
        if template is None:
            raise _error(
                f"the response processing is only a templateLocation ({location!r}), which "
                "is not fetched; without its rules the item could not be scored",
                element,
            )
    if template is None and rules is None:
        return ResponseProcessing(rules=())
    return ResponseProcessing(template=template, rules=rules)


def template_location_note(element: etree._Element, processing: ResponseProcessing) -> str | None:
    """The import note for a ``templateLocation`` the item keeps no trace of (``None`` when
    there is none): the reader never fetches it, the built-in template or the item's own
    rules score the item instead."""
    location = _attributes(element).get("template_location")
    if location is None:
        return None
    if processing.template is not None:
        used = f"the built-in standard template {processing.template} scores the item"
    else:
        used = "the item's own rules score it"
    return f"ignored templateLocation {location!r} of the response processing: {used}"


# --- checks -----------------------------------------------------------------------------------

#: Variables every item has without declaring them.
BUILTIN_VARIABLES: dict[str, tuple[Cardinality, BaseType]] = {
    "numAttempts": (Cardinality.SINGLE, BaseType.INTEGER),
    "duration": (Cardinality.SINGLE, BaseType.DURATION),
    "completionStatus": (Cardinality.SINGLE, BaseType.IDENTIFIER),
}

#: The values ``completionStatus`` may take (QTI), which response processing may set.
COMPLETION_STATUSES = ("completed", "incomplete", "not_attempted", "unknown")

_TEXTUAL = frozenset({BaseType.IDENTIFIER, BaseType.STRING, BaseType.URI})

Signature = tuple[Cardinality | None, BaseType | None]
"""What static analysis knows of an expression's value: cardinality and base type, each
``None`` when it cannot be known before evaluation."""


class _Checker:
    """Walks an item's rules and refuses what could not evaluate sensibly."""

    def __init__(self, item: ItemDefinition, origin: str, *, template: bool = False) -> None:
        self.item = item
        self.origin = origin
        self.template = template
        self.responses = {d.identifier: d for d in item.response_declarations}
        self.outcomes = {d.identifier: d for d in item.outcome_declarations}
        self.templates = {d.identifier: d for d in item.template_declarations}
        self.contexts = {d.identifier: d for d in item.context_declarations}

    def template_rules(self, rules: Iterable[TemplateRule]) -> None:
        for rule in rules:
            if isinstance(rule, SetTemplateValue):
                declaration = self.templates.get(rule.identifier)
                if declaration is None:
                    raise self.fail(
                        f"sets {rule.identifier!r}, which is not declared as a template variable"
                    )
                card, base = self.expression(rule.expression)
                self._assignable(
                    rule.identifier, declaration.cardinality, declaration.base_type, card, base
                )
            elif isinstance(rule, SetCorrectResponse | SetDefaultValue):
                target = self.responses.get(rule.identifier)
                if target is None and isinstance(rule, SetDefaultValue):
                    target = self.outcomes.get(rule.identifier)  # type: ignore[assignment]
                if target is None:
                    what = "a response" if isinstance(rule, SetCorrectResponse) else "a variable"
                    raise self.fail(f"sets {rule.identifier!r}, which is not {what}")
                card, base = self.expression(rule.expression)
                self._assignable(rule.identifier, target.cardinality, target.base_type, card, base)
            elif isinstance(rule, TemplateConstraint):
                self._expect(rule.expression, {BaseType.BOOLEAN}, "a template constraint")
            elif isinstance(rule, TemplateCondition):
                for branch in rule.branches:
                    self._expect(branch.condition, {BaseType.BOOLEAN}, "a condition")
                    self.template_rules(branch.rules)
                if rule.otherwise is not None:
                    self.template_rules(rule.otherwise)

    def fail(self, reason: str) -> ItemFormatError:
        return ItemFormatError(f"{self.origin}: {reason}")

    def rules(self, rules: Iterable[Rule]) -> None:
        for rule in rules:
            if (
                isinstance(rule, SetOutcomeValue)
                and rule.identifier == "completionStatus"
                and rule.identifier not in self.outcomes
            ):
                self._completion(rule.expression)
                continue
            if isinstance(rule, LookupOutcomeValue):
                self._lookup(rule)
            elif isinstance(rule, SetOutcomeValue):
                outcome = self.outcomes.get(rule.identifier)
                if outcome is None:
                    raise self.fail(
                        f"sets {rule.identifier!r}, which is not declared as an outcome"
                    )
                card, base = self.expression(rule.expression)
                self._assignable(
                    rule.identifier, outcome.cardinality, outcome.base_type, card, base
                )
            elif isinstance(rule, ResponseCondition):
                for branch in rule.branches:
                    self._expect(branch.condition, {BaseType.BOOLEAN}, "a condition")
                    self.rules(branch.rules)
                if rule.otherwise is not None:
                    self.rules(rule.otherwise)

    def _completion(self, expression: Expression) -> None:
        """``completionStatus`` is set to one of its four identifiers (an adaptive item's
        response processing ends the item by setting it to ``completed``)."""
        card, base = self.expression(expression)
        self._assignable("completionStatus", Cardinality.SINGLE, BaseType.IDENTIFIER, card, base)
        if expression.op == "base_value" and expression.attrs["value"] not in COMPLETION_STATUSES:
            raise self.fail(
                f"sets completionStatus to {expression.attrs['value']!r}, which is not one of "
                + ", ".join(COMPLETION_STATUSES)
            )

    def _lookup(self, rule: LookupOutcomeValue) -> None:
        outcome = self.outcomes.get(rule.identifier)
        if outcome is None:
            raise self.fail(f"looks up {rule.identifier!r}, which is not declared as an outcome")
        if outcome.match_table is None and outcome.interpolation_table is None:
            raise self.fail(
                f"looks up {rule.identifier!r}, whose declaration has no match table or "
                "interpolation table"
            )
        what = f"the value <lookupOutcomeValue> looks up in {rule.identifier!r}"
        allowed = {BaseType.INTEGER}
        if outcome.interpolation_table is not None:
            allowed.add(BaseType.FLOAT)
        card, _ = self._expect(rule.expression, allowed, what)
        if card is not None and card is not Cardinality.SINGLE:
            raise self.fail(f"{what} must be a single value, not {card}")

    def _assignable(
        self,
        identifier: str,
        card: Cardinality,
        base: BaseType | None,
        got_card: Cardinality | None,
        got_base: BaseType | None,
    ) -> None:
        # A single value set to a multiple or ordered variable is the container of that one
        # value (the engine wraps it), as 1EdTech's adaptive examples expect.
        wrapped = got_card is Cardinality.SINGLE and card in (
            Cardinality.MULTIPLE,
            Cardinality.ORDERED,
        )
        if got_card is not None and got_card is not card and not wrapped:
            raise self.fail(f"sets {card} outcome {identifier!r} to a {got_card} value")
        if base is None or got_base is None:
            return
        numeric = base in NUMERIC_BASE_TYPES
        if numeric != (got_base in NUMERIC_BASE_TYPES) or (
            not numeric and base is not got_base and not {base, got_base} <= _TEXTUAL
        ):
            raise self.fail(f"sets {base} outcome {identifier!r} to a {got_base} value")

    def _expect(self, expression: Expression, allowed: set[BaseType], what: str) -> Signature:
        card, base = self.expression(expression)
        if base is not None and base not in allowed:
            names = " or ".join(sorted(str(b) for b in allowed))
            raise self.fail(f"{what} must be {names}, but <{expression.op}> gives {base}")
        return card, base

    def _declared(self, expression: Expression) -> Signature:
        identifier = expression.attrs["identifier"]
        if identifier in self.responses:
            response = self.responses[identifier]
            return response.cardinality, response.base_type
        if identifier in self.outcomes:
            outcome = self.outcomes[identifier]
            return outcome.cardinality, outcome.base_type
        if identifier in self.templates and expression.op in ("variable", "default"):
            template = self.templates[identifier]
            return template.cardinality, template.base_type
        if identifier in self.contexts and expression.op in ("variable", "default"):
            context = self.contexts[identifier]
            return context.cardinality, context.base_type
        if identifier in BUILTIN_VARIABLES and expression.op == "variable":
            return BUILTIN_VARIABLES[identifier]
        raise self.fail(f"<{expression.op}> refers to {identifier!r}, which is not declared")

    def expression(self, expression: Expression) -> Signature:
        op = expression.op
        spec = OPERATORS.get(op)
        if spec is None and self.template:
            spec = TEMPLATE_OPERATORS.get(op)
        if spec is None:
            reason = UNSUPPORTED_OPERATORS.get(op, "unknown operator")
            raise self.fail(f"<{op}>: {reason}")
        for name, attr in spec.attrs.items():
            if attr.required and name not in expression.attrs:
                raise self.fail(f"<{op}> is missing its {name} attribute")
        count = len(expression.args)
        if count < spec.min_args or (spec.max_args is not None and count > spec.max_args):
            raise self.fail(f"<{op}> has {count} sub-expressions")
        args = [self.expression(arg) for arg in expression.args]
        single = Cardinality.SINGLE
        boolean = (single, BaseType.BOOLEAN)
        if op == "base_value":
            return single, BaseType(expression.attrs["base_type"])
        if op in ("variable", "default"):
            return self._declared(expression)
        if op == "correct":
            identifier = expression.attrs["identifier"]
            if identifier not in self.responses:
                raise self.fail(f"<correct> refers to {identifier!r}, which is not a response")
            return self._declared(expression)
        if op == "map_response":
            return self._mapped(expression, point=False)
        if op == "map_response_point":
            return self._mapped(expression, point=True)
        if op == "null":
            return None, None
        if op == "math_constant":
            return single, BaseType.FLOAT
        if op == "random_integer":
            return single, BaseType.INTEGER
        if op == "random_float":
            return single, BaseType.FLOAT
        if op == "random":
            if args[0][0] is Cardinality.SINGLE:
                raise self.fail("<random> picks from a multiple or ordered container")
            return single, args[0][1]
        if op in ("multiple", "ordered"):
            bases = {b for _, b in args if b is not None}
            if len(bases) > 1 and not bases <= _TEXTUAL:
                raise self.fail(f"<{op}> mixes base types {sorted(str(b) for b in bases)}")
            return Cardinality(op), next(iter(bases)) if bases else None
        if op == "container_size":
            return single, BaseType.INTEGER
        if op in ("is_null", "match", "member", "contains", "inside", "pattern_match"):
            if op == "match":
                self._same(op, args)
            return boolean
        if op in ("and", "or", "not", "any_n"):
            for arg in expression.args:
                self._expect(arg, {BaseType.BOOLEAN}, f"an operand of <{op}>")
            return boolean
        if op in ("string_match", "substring"):
            for arg in expression.args:
                self._expect(arg, set(_TEXTUAL), f"an operand of <{op}>")
            return boolean
        if op in ("equal", "equal_rounded", "gt", "gte", "lt", "lte"):
            self._numeric(expression)
            return boolean
        if op == "index":
            self._count_attr(expression, "n")
            return single, args[0][1]
        if op == "math_operator":
            return self._math(expression)
        if op == "stats_operator":
            return self._stats(expression)
        if op == "repeat":
            return self._repeat(expression, args)
        if op in ("duration_lt", "duration_gte"):
            for arg in expression.args:
                card, _ = self._expect(arg, {BaseType.DURATION}, f"an operand of <{op}>")
                self._single(card, op)
            return boolean
        if op == "delete":
            return args[1][0], args[1][1]
        if op == "field_value":
            return single, None
        return self._arithmetic(expression, args)

    def _single(self, card: Cardinality | None, op: str) -> None:
        if card is not None and card is not Cardinality.SINGLE:
            raise self.fail(f"an operand of <{op}> must be a single value, not {card}")

    def _named(self, expression: Expression, names: Sequence[str]) -> str:
        name = expression.attrs["name"]
        if name not in names:
            raise self.fail(f"<{expression.op}> name {name!r} is not one of {', '.join(names)}")
        return str(name)

    def _math(self, expression: Expression) -> Signature:
        """``mathOperator``: single numbers in (two for atan2, one otherwise); a float out,
        an integer for signum, floor and ceil."""
        name = self._named(expression, MATH_FUNCTIONS)
        wanted = math_operator_arity(name)
        if len(expression.args) != wanted:
            raise self.fail(
                f"<math_operator> {name} takes {wanted} sub-expression"
                f"{'s' if wanted > 1 else ''}, not {len(expression.args)}"
            )
        for arg in expression.args:
            card, _ = self._expect(
                arg, {BaseType.INTEGER, BaseType.FLOAT}, f"an operand of <math_operator> {name}"
            )
            self._single(card, "math_operator")
        base = BaseType.INTEGER if name in INTEGER_MATH_FUNCTIONS else BaseType.FLOAT
        return Cardinality.SINGLE, base

    def _stats(self, expression: Expression) -> Signature:
        """``statsOperator``: a multiple or ordered container of numbers in, a float out."""
        name = self._named(expression, STATS_FUNCTIONS)
        (arg,) = expression.args
        card, _ = self._expect(
            arg, {BaseType.INTEGER, BaseType.FLOAT}, f"the operand of <stats_operator> {name}"
        )
        if card is not None and card not in (Cardinality.MULTIPLE, Cardinality.ORDERED):
            raise self.fail(
                f"the operand of <stats_operator> {name} must be a multiple or ordered "
                f"container, not {card}"
            )
        return Cardinality.SINGLE, BaseType.FLOAT

    def _repeat(self, expression: Expression, args: list[Signature]) -> Signature:
        """``repeat``: single or ordered values of one base type, repeated into an ordered
        container ``number_repeats`` times."""
        self._count_attr(expression, "number_repeats")
        count = expression.attrs["number_repeats"]
        if isinstance(count, int) and count < 1:
            raise self.fail("<repeat> number_repeats must be at least 1")
        for card, _ in args:
            if card is not None and card not in (Cardinality.SINGLE, Cardinality.ORDERED):
                raise self.fail(f"an operand of <repeat> must be single or ordered, not {card}")
        bases = {b for _, b in args if b is not None}
        if len(bases) > 1 and not bases <= _TEXTUAL:
            raise self.fail(f"<repeat> mixes base types {sorted(str(b) for b in bases)}")
        return Cardinality.ORDERED, next(iter(bases)) if bases else None

    def _count_attr(self, expression: Expression, name: str) -> None:
        """An integer attribute that may instead name an integer variable (``index``'s
        ``n``, ``repeat``'s ``number_repeats``): the variable must be a declared single
        integer."""
        value = expression.attrs[name]
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise self.fail(f"<{expression.op}> {name} must be an integer or a variable identifier")
        if isinstance(value, int):
            return
        if not _VARIABLE_REF_RE.match(value):
            raise self.fail(
                f"<{expression.op}> {name} {value!r} is neither an integer nor a variable "
                "identifier"
            )
        try:
            card, base = self._declared(Expression(op="variable", attrs={"identifier": value}))
        except ItemFormatError:
            raise self.fail(
                f"<{expression.op}> {name} refers to {value!r}, which is not declared"
            ) from None
        if card is not Cardinality.SINGLE or base is not BaseType.INTEGER:
            raise self.fail(
                f"<{expression.op}> {name} refers to {value!r}, which is not a single integer"
            )

    def _arithmetic(self, expression: Expression, args: list[Signature]) -> Signature:
        op = expression.op
        self._numeric(expression)
        single = Cardinality.SINGLE
        if op in ("divide", "power", "integer_to_float", "round_to"):
            return single, BaseType.FLOAT
        if op in ("integer_divide", "integer_modulus", "round", "truncate", "gcd", "lcm"):
            return single, BaseType.INTEGER
        bases = {b for _, b in args}
        if None in bases:
            return single, None
        return single, BaseType.INTEGER if bases == {BaseType.INTEGER} else BaseType.FLOAT

    def _numeric(self, expression: Expression) -> None:
        for arg in expression.args:
            self._expect(
                arg,
                {BaseType.INTEGER, BaseType.FLOAT, BaseType.DURATION},
                f"an operand of <{expression.op}>",
            )

    def _same(self, op: str, args: list[Signature]) -> None:
        (card_a, base_a), (card_b, base_b) = args
        if card_a is not None and card_b is not None and card_a is not card_b:
            raise self.fail(f"<{op}> compares a {card_a} value with a {card_b} value")
        pair = {base_a, base_b}
        compatible = pair <= _TEXTUAL or pair <= NUMERIC_BASE_TYPES
        if None not in pair and len(pair) == 2 and not compatible:
            raise self.fail(f"<{op}> compares {base_a} with {base_b}")

    def _mapped(self, expression: Expression, *, point: bool) -> Signature:
        identifier = expression.attrs["identifier"]
        response = self.responses.get(identifier)
        if response is None:
            raise self.fail(f"<{expression.op}> refers to {identifier!r}, which is not a response")
        if response.cardinality is Cardinality.RECORD:
            raise self.fail(f"<{expression.op}> cannot map the record response {identifier!r}")
        if point and response.area_mapping is None:
            raise self.fail(f"<{expression.op}> needs an area mapping on {identifier!r}")
        if not point and response.mapping is None:
            raise self.fail(f"<{expression.op}> needs a mapping on {identifier!r}")
        return Cardinality.SINGLE, BaseType.FLOAT


def check_processing(item: ItemDefinition) -> None:
    """Refuse response processing that references undeclared variables, misses a mapping
    it uses, or combines operands of unfitting types. Raises :class:`ItemFormatError`."""
    _check_templates(item)
    _check_contexts(item)
    processing = item.response_processing
    if processing is None:
        return
    if processing.template is not None:
        if processing.template not in TEMPLATES:
            raise ItemFormatError(f"unknown response processing template {processing.template!r}")
        _Checker(item, f"template {processing.template}").rules(TEMPLATES[processing.template])
    if processing.rules is not None:
        _Checker(item, "response processing").rules(processing.rules)


def _check_contexts(item: ItemDefinition) -> None:
    """Refuse context declarations that clash with other variables or the built-ins."""
    others = (
        {d.identifier for d in item.response_declarations}
        | {d.identifier for d in item.outcome_declarations}
        | {d.identifier for d in item.template_declarations}
        | set(BUILTIN_VARIABLES)
    )
    seen: set[str] = set()
    for declaration in item.context_declarations:
        if declaration.identifier in seen:
            raise ItemFormatError(
                f"duplicate context declaration identifier {declaration.identifier!r}"
            )
        seen.add(declaration.identifier)
        if declaration.identifier in others:
            raise ItemFormatError(
                f"identifier {declaration.identifier!r} is declared both as a context "
                "variable and another variable"
            )
        if declaration.cardinality is not Cardinality.RECORD and declaration.base_type is None:
            raise ItemFormatError(f"context variable {declaration.identifier!r} needs a base type")


def _check_templates(item: ItemDefinition) -> None:
    """Refuse template declarations that clash with other variables, and template rules
    that set undeclared variables or combine unfitting operands."""
    identifiers = {d.identifier for d in item.response_declarations} | {
        d.identifier for d in item.outcome_declarations
    }
    seen: set[str] = set()
    for declaration in item.template_declarations:
        if declaration.identifier in seen:
            raise ItemFormatError(
                f"duplicate template declaration identifier {declaration.identifier!r}"
            )
        seen.add(declaration.identifier)
        if declaration.identifier in identifiers:
            raise ItemFormatError(
                f"identifier {declaration.identifier!r} is declared both as a template "
                "variable and a response or outcome"
            )
        if declaration.cardinality is Cardinality.RECORD or declaration.base_type is None:
            raise ItemFormatError(
                f"template variable {declaration.identifier!r}: record template variables "
                "are not supported"
            )
        if declaration.base_type in (BaseType.FILE, BaseType.DURATION):
            raise ItemFormatError(
                f"template variable {declaration.identifier!r}: {declaration.base_type} "
                "template variables are not supported"
            )
    if item.template_processing is not None:
        _Checker(item, "template processing", template=True).template_rules(
            item.template_processing
        )
