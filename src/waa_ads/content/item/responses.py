"""Candidate response shapes: one JSON shape per declaration, validated and normalized.

A response always uses the item's own identifiers, never shuffled positions. The shapes
(``docs/response-shapes.md`` has the full table):

=================  =============================  ==========================================
base type          single value                   notes
=================  =============================  ==========================================
identifier         ``"ChoiceA"``                  no whitespace
boolean            ``true``
integer            ``42``                         ``42.0`` and ``"42"`` are accepted
float              ``3.5``                        numbers and decimal strings accepted
string             ``"Paris"``                    ``""`` is no response
point              ``[x, y]``                     ``"x y"`` accepted; integers
pair               ``["A", "B"]``                 ``"A B"`` accepted; sorted (unordered)
directedPair       ``["A", "B"]``                 ``"A B"`` accepted; order kept
duration           ``12.5``                       seconds, not negative
file               ``{"sha256", "name", "content_type", "size"}``
uri                ``"https://..."``
intOrIdentifier    ``3`` or ``"A"``
=================  =============================  ==========================================

``multiple`` and ``ordered`` responses are JSON arrays of those; a ``record`` is an object of
scalar fields. ``null`` is no response, and so are ``[]``, ``{}`` and ``""`` (QTI treats an
empty container and an empty string as NULL).
"""

from __future__ import annotations

import math
import re
from typing import Any

from waa_ads.content.item.definition import (
    ASSOCIATING_INTERACTIONS,
    BaseType,
    Cardinality,
    Interaction,
    InteractionType,
    ResponseDeclaration,
)
from waa_ads.core.errors import Unprocessable
from waa_ads.core.i18n import N_

IDENTIFIER_RE = re.compile(r"^\S+$")
_INT_RE = re.compile(r"^\s*[+-]?\d+\s*$")
_FLOAT_RE = re.compile(r"^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$")
_POINT_RE = re.compile(r"^\s*([+-]?\d+)\s+([+-]?\d+)\s*$")
_PAIR_RE = re.compile(r"^\s*(\S+)\s+(\S+)\s*$")
_SHA256_RE = re.compile(r"^[0-9a-fA-F]{64}$")
_MEDIA_TYPE_RE = re.compile(r"^[A-Za-z0-9][\w.+-]*/[A-Za-z0-9][\w.+-]*$")

#: Base types whose values are selections: a multiple response may not repeat one.
SELECTION_TYPES = frozenset(
    {
        BaseType.IDENTIFIER,
        BaseType.PAIR,
        BaseType.DIRECTED_PAIR,
        BaseType.POINT,
        BaseType.BOOLEAN,
        BaseType.INT_OR_IDENTIFIER,
    }
)

FILE_KEYS = ("sha256", "name", "content_type", "size")


class ResponseShapeError(Unprocessable):
    """A response does not have the JSON shape its declaration calls for."""

    code = "invalid-response"
    title = N_("Invalid response")


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _fail(label: str, message: str) -> ResponseShapeError:
    return ResponseShapeError(f"response {label!r}: {message}")


# --- single values ----------------------------------------------------------------------------


def normalize_single(base_type: BaseType, value: Any, label: str = "RESPONSE") -> Any:
    """One value of ``base_type`` in its normalized JSON shape (never ``None``)."""
    if base_type in (BaseType.IDENTIFIER, BaseType.URI):
        if (
            not isinstance(value, str)
            or not value
            or (base_type is BaseType.IDENTIFIER and not IDENTIFIER_RE.match(value))
        ):
            raise _fail(label, f"expected {_article(base_type)} string, got {_show(value)}")
        return value
    if base_type is BaseType.STRING:
        if not isinstance(value, str):
            raise _fail(label, f"expected a string, got {_kind(value)}")
        return value
    if base_type is BaseType.BOOLEAN:
        if not isinstance(value, bool):
            raise _fail(label, f"expected true or false, got {_show(value)}")
        return value
    if base_type is BaseType.INTEGER:
        return _integer(value, label)
    if base_type in (BaseType.FLOAT, BaseType.DURATION):
        number = _number(value, label)
        if base_type is BaseType.DURATION and number < 0:
            raise _fail(label, f"a duration cannot be negative, got {number}")
        return number
    if base_type is BaseType.POINT:
        return _point(value, label)
    if base_type in (BaseType.PAIR, BaseType.DIRECTED_PAIR):
        return _pair(base_type, value, label)
    if base_type is BaseType.FILE:
        return _file(value, label)
    if base_type is BaseType.INT_OR_IDENTIFIER:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and IDENTIFIER_RE.match(value):
            return value
        raise _fail(label, f"expected an integer or an identifier, got {_show(value)}")
    raise _fail(label, f"unsupported base type {base_type}")  # pragma: no cover


def _article(base_type: BaseType) -> str:
    return "an identifier" if base_type is BaseType.IDENTIFIER else "a URI"


def _show(value: Any) -> str:
    if isinstance(value, str):
        return repr(value) if len(value) <= 40 else repr(value[:40] + "...")
    return _kind(value)


def _integer(value: Any, label: str) -> int:
    if isinstance(value, bool):
        raise _fail(label, "expected an integer, got a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _INT_RE.match(value):
        return int(value)
    raise _fail(label, f"expected an integer, got {_show(value)}")


def _number(value: Any, label: str) -> float:
    if isinstance(value, bool):
        raise _fail(label, "expected a number, got a boolean")
    if isinstance(value, int | float) or (isinstance(value, str) and _FLOAT_RE.match(value)):
        number = float(value)
    else:
        raise _fail(label, f"expected a number, got {_show(value)}")
    if not math.isfinite(number):
        raise _fail(label, "expected a finite number")
    return number


def _point(value: Any, label: str) -> list[int]:
    if isinstance(value, str):
        match = _POINT_RE.match(value)
        if match is None:
            raise _fail(label, f"expected a point as 'x y' or [x, y], got {_show(value)}")
        return [int(match.group(1)), int(match.group(2))]
    if isinstance(value, list | tuple) and len(value) == 2:
        try:
            return [_integer(value[0], label), _integer(value[1], label)]
        except ResponseShapeError:
            pass
    raise _fail(label, f"expected a point as 'x y' or [x, y] of integers, got {_show(value)}")


def _pair(base_type: BaseType, value: Any, label: str) -> list[str]:
    parts: list[Any]
    if isinstance(value, str):
        match = _PAIR_RE.match(value)
        if match is None:
            raise _fail(label, f"expected a pair as 'A B' or ['A', 'B'], got {_show(value)}")
        parts = [match.group(1), match.group(2)]
    elif isinstance(value, list | tuple) and len(value) == 2:
        parts = list(value)
    else:
        raise _fail(label, f"expected a pair as 'A B' or ['A', 'B'], got {_show(value)}")
    for part in parts:
        if not isinstance(part, str) or not IDENTIFIER_RE.match(part):
            raise _fail(label, f"a pair holds two identifiers, got {_show(part)}")
    if base_type is BaseType.PAIR:
        parts.sort()
    return [parts[0], parts[1]]


def _file(value: Any, label: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail(label, f"expected a file object, got {_kind(value)}")
    missing = [k for k in FILE_KEYS if k not in value]
    extra = sorted(set(value) - set(FILE_KEYS))
    if missing or extra:
        problem = f"missing {', '.join(missing)}" if missing else f"unexpected {', '.join(extra)}"
        raise _fail(label, f"a file object has exactly {', '.join(FILE_KEYS)} ({problem})")
    sha = value["sha256"]
    if not isinstance(sha, str) or not _SHA256_RE.match(sha):
        raise _fail(label, "file sha256 must be 64 hexadecimal digits")
    name = value["name"]
    if not isinstance(name, str) or not name:
        raise _fail(label, "file name must be a non-empty string")
    content_type = value["content_type"]
    if not isinstance(content_type, str) or not _MEDIA_TYPE_RE.match(content_type):
        raise _fail(label, f"file content_type must be a media type, got {_show(content_type)}")
    size = value["size"]
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise _fail(label, "file size must be a non-negative integer")
    return {"sha256": sha.lower(), "name": name, "content_type": content_type, "size": size}


# --- whole values -----------------------------------------------------------------------------


def normalize_value(
    cardinality: Cardinality,
    base_type: BaseType | None,
    value: Any,
    label: str = "RESPONSE",
) -> Any:
    """A value of the given cardinality and base type in its normalized JSON shape.

    Returns ``None`` for no response (``None``, ``""``, ``[]``, ``{}``). Raises
    :class:`ResponseShapeError` naming the problem otherwise.
    """
    if value is None:
        return None
    if cardinality is Cardinality.RECORD:
        return _record(value, label)
    if base_type is None:
        raise _fail(label, "the declaration has no base type")
    if cardinality is Cardinality.SINGLE:
        if base_type is BaseType.STRING and value == "":
            return None
        if isinstance(value, list | tuple) and base_type not in (
            BaseType.POINT,
            BaseType.PAIR,
            BaseType.DIRECTED_PAIR,
        ):
            raise _fail(label, f"expected a single value, got {_kind(value)}")
        return normalize_single(base_type, value, label)
    if not isinstance(value, list | tuple):
        raise _fail(label, f"expected a list ({cardinality} response), got {_kind(value)}")
    items: list[Any] = []
    for position, item in enumerate(value):
        if item is None:
            raise _fail(label, f"item {position} of the list is null")
        if base_type is BaseType.STRING and item == "":
            continue  # a blank line of a multi-string response is not an answer
        items.append(normalize_single(base_type, item, f"{label}[{position}]"))
    if not items:
        return None
    if cardinality is Cardinality.MULTIPLE and base_type in SELECTION_TYPES:
        seen: set[str] = set()
        for item in items:
            key = repr(item)
            if key in seen:
                raise _fail(label, f"{_show_item(item)} is given twice in a multiple response")
            seen.add(key)
    return items


def _show_item(item: Any) -> str:
    if isinstance(item, list):
        return repr(" ".join(str(part) for part in item))
    return repr(item)


def _record(value: Any, label: str) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        raise _fail(label, f"expected an object (record response), got {_kind(value)}")
    out: dict[str, Any] = {}
    for key, field in value.items():
        if not isinstance(key, str) or not key:
            raise _fail(label, "record field names must be non-empty strings")
        if field is None:
            continue
        if isinstance(field, float) and not math.isfinite(field):
            raise _fail(label, f"record field {key!r} must be a finite number")
        if not isinstance(field, str | int | float | bool):
            raise _fail(label, f"record field {key!r} must be a string, number or boolean")
        out[key] = field
    return out or None


def validate_response(
    declaration: ResponseDeclaration,
    value: Any,
    interaction: Interaction | None = None,
) -> Any:
    """Validate a candidate's response to ``declaration`` and return it normalized.

    With ``interaction`` (the one the response is bound to), the response must also use
    that interaction's own choice identifiers, stay within its ``max-choices`` /
    ``max-associations``, its slider bounds and its accepted upload types. Minimums are
    not enforced: a partial answer is scored as given. Raises :class:`ResponseShapeError`.
    """
    label = declaration.identifier
    normalized = normalize_value(declaration.cardinality, declaration.base_type, value, label)
    if normalized is not None and interaction is not None:
        _check_against_interaction(interaction, declaration, normalized, label)
    return normalized


def _check_against_interaction(
    interaction: Interaction, declaration: ResponseDeclaration, value: Any, label: str
) -> None:
    values: list[Any] = value if isinstance(value, list) and _is_container(declaration) else [value]
    kind = interaction.type
    if kind is InteractionType.PORTABLE_CUSTOM:
        return  # its own code decides what it answers; the declaration's shape is checked
    limit: int | None = None
    if kind in (
        InteractionType.CHOICE,
        InteractionType.HOTTEXT,
        InteractionType.HOTSPOT,
        InteractionType.SELECT_POINT,
        InteractionType.ORDER,
        InteractionType.GRAPHIC_ORDER,
        InteractionType.POSITION_OBJECT,
    ):
        limit = interaction.max_choices
    elif kind in ASSOCIATING_INTERACTIONS:
        limit = interaction.max_associations
    if limit and len(values) > limit:
        raise _fail(label, f"{len(values)} values given but the interaction allows {limit}")
    if kind in (InteractionType.ORDER, InteractionType.GRAPHIC_ORDER) and len({*values}) != len(
        values
    ):
        raise _fail(label, "an order response names a choice twice")
    if declaration.base_type is BaseType.IDENTIFIER:
        known = {c.identifier for c in interaction.choices}
        for item in values:
            if item not in known:
                raise _fail(label, f"{item!r} is not a choice of this interaction")
    elif kind is InteractionType.CHOICE and declaration.base_type is BaseType.BOOLEAN:
        return
    elif kind is InteractionType.MATCH and len(interaction.match_sets) == 2:
        sources = {c.identifier for c in interaction.match_sets[0]}
        targets = {c.identifier for c in interaction.match_sets[1]}
        _check_pairs(values, sources, targets, label)
    elif kind is InteractionType.GAP_MATCH:
        _check_pairs(
            values,
            {c.identifier for c in interaction.choices},
            {g.identifier for g in interaction.gaps},
            label,
        )
    elif kind in (InteractionType.ASSOCIATE, InteractionType.GRAPHIC_ASSOCIATE):
        known = {c.identifier for c in interaction.choices}
        _check_pairs(values, known, known, label)
        for first, second in values:
            if kind is InteractionType.GRAPHIC_ASSOCIATE and first == second:
                raise _fail(label, f"'{first} {second}' pairs a choice with itself")
    elif kind is InteractionType.GRAPHIC_GAP_MATCH:
        _check_pairs(
            values,
            {c.identifier for c in interaction.choices},
            {h.identifier for h in interaction.hotspots},
            label,
        )
    elif kind is InteractionType.DRAWING:
        content_type = values[0]["content_type"]
        if not content_type.startswith("image/"):
            raise _fail(label, f"a drawing is a picture, not {content_type!r}")
    elif kind is InteractionType.MEDIA:
        plays = values[0]
        if plays < 0:
            raise _fail(label, f"a media interaction counts plays, got {plays}")
        if interaction.max_plays and plays > interaction.max_plays:
            raise _fail(
                label, f"{plays} plays, but the media may be played {interaction.max_plays} times"
            )
    elif kind is InteractionType.SLIDER:
        number = float(values[0])
        if interaction.lower_bound is not None and number < interaction.lower_bound:
            raise _fail(label, f"{values[0]} is below the slider's lower bound")
        if interaction.upper_bound is not None and number > interaction.upper_bound:
            raise _fail(label, f"{values[0]} is above the slider's upper bound")
    elif kind is InteractionType.UPLOAD and interaction.upload_types:
        content_type = values[0]["content_type"]
        if content_type not in interaction.upload_types:
            raise _fail(
                label,
                f"file type {content_type!r} is not accepted "
                f"(accepted: {', '.join(interaction.upload_types)})",
            )


def _is_container(declaration: ResponseDeclaration) -> bool:
    return declaration.cardinality in (Cardinality.MULTIPLE, Cardinality.ORDERED)


def _check_pairs(values: list[Any], sources: set[str], targets: set[str], label: str) -> None:
    for first, second in values:
        if first not in sources or second not in targets:
            raise _fail(label, f"'{first} {second}' does not pair choices of this interaction")


# --- JSON Schema ------------------------------------------------------------------------------


def _single_schema(base_type: BaseType, interaction: Interaction | None) -> dict[str, Any]:
    identifier = {"type": "string", "pattern": r"^\S+$"}
    if base_type is BaseType.IDENTIFIER:
        if interaction is not None and interaction.choices:
            return {"type": "string", "enum": [c.identifier for c in interaction.choices]}
        return identifier
    if base_type is BaseType.URI:
        return {"type": "string", "minLength": 1}
    if base_type is BaseType.STRING:
        return {"type": "string"}
    if base_type is BaseType.BOOLEAN:
        return {"type": "boolean"}
    if base_type is BaseType.INTEGER:
        return {"anyOf": [{"type": "integer"}, {"type": "string", "pattern": _INT_RE.pattern}]}
    if base_type in (BaseType.FLOAT, BaseType.DURATION):
        number: dict[str, Any] = {"type": "number"}
        if base_type is BaseType.DURATION:
            number["minimum"] = 0
        return {"anyOf": [number, {"type": "string", "pattern": _FLOAT_RE.pattern}]}
    if base_type is BaseType.POINT:
        return {
            "anyOf": [
                {"type": "string", "pattern": _POINT_RE.pattern},
                {"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 2},
            ]
        }
    if base_type in (BaseType.PAIR, BaseType.DIRECTED_PAIR):
        return {
            "anyOf": [
                {"type": "string", "pattern": _PAIR_RE.pattern},
                {"type": "array", "items": identifier, "minItems": 2, "maxItems": 2},
            ]
        }
    if base_type is BaseType.FILE:
        return {
            "type": "object",
            "properties": {
                "sha256": {"type": "string", "pattern": _SHA256_RE.pattern},
                "name": {"type": "string", "minLength": 1},
                "content_type": {"type": "string", "pattern": _MEDIA_TYPE_RE.pattern},
                "size": {"type": "integer", "minimum": 0},
            },
            "required": list(FILE_KEYS),
            "additionalProperties": False,
        }
    return {"anyOf": [{"type": "integer"}, identifier]}


def response_schema(
    declaration: ResponseDeclaration, interaction: Interaction | None = None
) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of responses to ``declaration``.

    The schema describes the accepted shapes; :func:`validate_response` is the authority
    (it also normalizes, and rejects repeats that differ only in notation, such as a pair
    written once as ``"A B"`` and once as ``["B", "A"]``).
    """
    schema: dict[str, Any] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"Response {declaration.identifier}",
    }
    if declaration.cardinality is Cardinality.RECORD:
        schema["anyOf"] = [
            {"type": "null"},
            {
                "type": "object",
                "additionalProperties": {"type": ["string", "number", "boolean", "null"]},
            },
        ]
        return schema
    assert declaration.base_type is not None
    single = _single_schema(declaration.base_type, interaction)
    if declaration.cardinality is Cardinality.SINGLE:
        schema["anyOf"] = [{"type": "null"}, single]
        return schema
    array: dict[str, Any] = {"type": "array", "items": single}
    if declaration.cardinality is Cardinality.MULTIPLE and declaration.base_type in SELECTION_TYPES:
        array["uniqueItems"] = True
    if interaction is not None:
        limit = (
            interaction.max_associations
            if interaction.type in ASSOCIATING_INTERACTIONS
            else interaction.max_choices
        )
        if limit:
            array["maxItems"] = limit
        if interaction.type in (InteractionType.ORDER, InteractionType.GRAPHIC_ORDER):
            array["uniqueItems"] = True
    schema["anyOf"] = [{"type": "null"}, array]
    return schema


# --- QTI text values --------------------------------------------------------------------------


def parse_qti_value(base_type: BaseType, text: str) -> Any:
    """A value written in QTI XML (``qti-value``, ``qti-base-value``, a map key) as its JSON
    shape. Raises ``ValueError`` with the reason."""
    stripped = text.strip()
    if base_type is BaseType.STRING:
        return _string_value(text, stripped)
    if base_type is BaseType.BOOLEAN:
        if stripped in ("true", "1"):
            return True
        if stripped in ("false", "0"):
            return False
        raise ValueError(f"{stripped!r} is not a boolean")
    if base_type is BaseType.FILE:
        raise ValueError("file values cannot be written in an item")
    try:
        return normalize_single(base_type, stripped)
    except ResponseShapeError as exc:
        raise ValueError(f"{stripped!r} is not a valid {base_type} value") from exc


def _string_value(text: str, stripped: str) -> str:
    """A string value as written: its own spaces are kept (`` H2O `` is three characters
    with two spaces), but whitespace around it that holds a line break is the document's
    indentation (``<qti-value>\n    P\n  </qti-value>``, as pretty-printed packages write
    it) and is not part of the value: XML Schema's whitespace facet for the QTI value types
    is ``collapse`` for every base type but string, and authoring tools indent string values
    like any other, so a value that starts or ends on another line than its text is read
    without those lines' whitespace."""
    if text == stripped:
        return text
    head = text[: len(text) - len(text.lstrip())]
    tail = text[len(text.rstrip()) :]
    if "\n" in head or "\r" in head or "\n" in tail or "\r" in tail:
        return stripped
    return text


def format_qti_value(base_type: BaseType, value: Any) -> str:
    """The QTI XML text of a JSON-shaped single value (inverse of :func:`parse_qti_value`)."""
    if base_type is BaseType.BOOLEAN:
        return "true" if value else "false"
    if base_type in (BaseType.POINT, BaseType.PAIR, BaseType.DIRECTED_PAIR):
        return f"{value[0]} {value[1]}"
    if base_type in (BaseType.FLOAT, BaseType.DURATION):
        return repr(float(value))
    return str(value)


def record_field_base_type(value: Any) -> BaseType:
    """The base type a record field value is written with (records are typed by JSON type)."""
    if isinstance(value, bool):
        return BaseType.BOOLEAN
    if isinstance(value, int):
        return BaseType.INTEGER
    if isinstance(value, float):
        return BaseType.FLOAT
    return BaseType.STRING
