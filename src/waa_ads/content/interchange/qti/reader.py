"""Reading QTI items (3.0, and 2.0/2.1/2.2 converted to the same model).

:func:`parse_item` takes the bytes of one ``assessmentItem`` / ``qti-assessment-item``
document and returns an :class:`~waa_ads.content.item.definition.ItemDefinition`, or raises
:class:`~waa_ads.content.item.definition.ItemFormatError` naming the element and line at fault.
Nothing is dropped silently: constructs the model cannot hold (unsupported
interactions, custom operators...) are refused with a reason, and what the body
sanitizer removes is listed in ``import_notes``.

Parsing is safe for untrusted input: no entity resolution, no DTD, no network, libxml2's
size and depth limits kept, and any DOCTYPE refused.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from pathlib import PurePosixPath
from typing import Any, TypeVar

from lxml import etree

from waa_ads.content.interchange.qti.common import (
    QTI2_NAMESPACES,
    QTI3_NS,
    VERSIONS,
    XML_NS,
    adopt_document,
    default_nsmap,
    element_fragment,
    fragment_of,
    in_qti2_terms,
    parse_document,
    pictures_as_images,
    rebuild,
    source_line,
    split_tag,
)
from waa_ads.content.item import supports as item_supports
from waa_ads.content.item.definition import (
    AreaMapEntry,
    AreaMapping,
    BaseType,
    CardEntry,
    Cardinality,
    Catalog,
    CatalogCard,
    Choice,
    ContextDeclaration,
    Gap,
    Graphic,
    Interaction,
    InteractionType,
    InterpolationTable,
    InterpolationTableEntry,
    ItemDefinition,
    ItemFormatError,
    MapEntry,
    MatchTable,
    MatchTableEntry,
    ModalFeedback,
    OutcomeDeclaration,
    PciModule,
    PciVariable,
    PortableCustom,
    ResponseDeclaration,
    ResponseMapping,
    ResponseProcessing,
    Shape,
    StimulusRef,
    Stylesheet,
    TemplateDeclaration,
    TemplateRule,
)
from waa_ads.content.item.processing import (
    parse_response_processing,
    parse_template_processing,
    template_location_note,
)
from waa_ads.content.item.responses import (
    ResponseShapeError,
    normalize_value,
    parse_qti_value,
)
from waa_ads.content.item.templates import PRINTED_VARIABLE_ATTRIBUTES
from waa_ads.content.item.truefalse import as_boolean_choices
from waa_ads.content.item.validation import key_constraint_notes, validate_item
from waa_ads.content.render.sanitize import PCI_NS_PREFIX, sanitize_body

T = TypeVar("T")

#: QTI 3.0 element of each supported interaction (text entry resolves to text or numeric).
SUPPORTED_INTERACTIONS: dict[str, InteractionType] = {
    "qti-choice-interaction": InteractionType.CHOICE,
    "qti-text-entry-interaction": InteractionType.TEXT_ENTRY,
    "qti-inline-choice-interaction": InteractionType.INLINE_CHOICE,
    "qti-order-interaction": InteractionType.ORDER,
    "qti-match-interaction": InteractionType.MATCH,
    "qti-associate-interaction": InteractionType.ASSOCIATE,
    "qti-gap-match-interaction": InteractionType.GAP_MATCH,
    "qti-hottext-interaction": InteractionType.HOTTEXT,
    "qti-hotspot-interaction": InteractionType.HOTSPOT,
    "qti-select-point-interaction": InteractionType.SELECT_POINT,
    "qti-extended-text-interaction": InteractionType.EXTENDED_TEXT,
    "qti-upload-interaction": InteractionType.UPLOAD,
    "qti-slider-interaction": InteractionType.SLIDER,
    "qti-graphic-gap-match-interaction": InteractionType.GRAPHIC_GAP_MATCH,
    "qti-graphic-order-interaction": InteractionType.GRAPHIC_ORDER,
    "qti-graphic-associate-interaction": InteractionType.GRAPHIC_ASSOCIATE,
    "qti-end-attempt-interaction": InteractionType.END_ATTEMPT,
    "qti-media-interaction": InteractionType.MEDIA,
    "qti-drawing-interaction": InteractionType.DRAWING,
    "qti-position-object-interaction": InteractionType.POSITION_OBJECT,
    "qti-portable-custom-interaction": InteractionType.PORTABLE_CUSTOM,
}

#: QTI interactions that exist but that the item bank does not deliver or score.
UNSUPPORTED_INTERACTIONS = frozenset(
    {
        "qti-custom-interaction",
    }
)

#: Attributes each interaction's structured view reads (the rest go to ``attributes``).
_INTERACTION_ATTRS: dict[InteractionType, frozenset[str]] = {
    InteractionType.CHOICE: frozenset({"shuffle", "max-choices", "min-choices", "orientation"}),
    InteractionType.ORDER: frozenset({"shuffle", "max-choices", "min-choices", "orientation"}),
    InteractionType.ASSOCIATE: frozenset({"shuffle", "max-associations", "min-associations"}),
    InteractionType.MATCH: frozenset({"shuffle", "max-associations", "min-associations"}),
    InteractionType.GAP_MATCH: frozenset({"shuffle", "max-associations", "min-associations"}),
    InteractionType.INLINE_CHOICE: frozenset({"shuffle", "required"}),
    InteractionType.TEXT_ENTRY: frozenset(
        {
            "base",
            "string-identifier",
            "expected-length",
            "pattern-mask",
            "placeholder-text",
            "format",
        }
    ),
    InteractionType.EXTENDED_TEXT: frozenset(
        {
            "base",
            "string-identifier",
            "expected-length",
            "pattern-mask",
            "placeholder-text",
            "format",
            "max-strings",
            "min-strings",
            "expected-lines",
        }
    ),
    InteractionType.HOTTEXT: frozenset({"max-choices", "min-choices"}),
    InteractionType.HOTSPOT: frozenset({"max-choices", "min-choices"}),
    InteractionType.SELECT_POINT: frozenset({"max-choices", "min-choices"}),
    InteractionType.UPLOAD: frozenset({"type"}),
    InteractionType.SLIDER: frozenset(
        {"lower-bound", "upper-bound", "step", "step-label", "orientation", "reverse"}
    ),
    InteractionType.GRAPHIC_GAP_MATCH: frozenset({"max-associations", "min-associations"}),
    InteractionType.GRAPHIC_ORDER: frozenset({"max-choices", "min-choices"}),
    InteractionType.GRAPHIC_ASSOCIATE: frozenset({"max-associations", "min-associations"}),
    InteractionType.END_ATTEMPT: frozenset({"title"}),
    InteractionType.MEDIA: frozenset({"autostart", "min-plays", "max-plays", "loop"}),
    InteractionType.DRAWING: frozenset(),
    InteractionType.POSITION_OBJECT: frozenset({"max-choices", "min-choices"}),
    InteractionType.PORTABLE_CUSTOM: frozenset({"custom-interaction-type-identifier", "module"}),
}
_INTERACTION_ATTRS[InteractionType.NUMERIC_ENTRY] = _INTERACTION_ATTRS[InteractionType.TEXT_ENTRY]

_CHOICE_ATTRS = frozenset({"identifier", "fixed", "match-max", "match-min", "shape", "coords"})
_GRAPHIC_TAGS = frozenset({"img", "object", "picture"})
_MEDIA_TAGS = frozenset({"audio", "video", "object"})
_MEDIA_SUFFIXES = {
    ".mp3": "audio/mpeg",
    ".m4a": "audio/mp4",
    ".ogg": "audio/ogg",
    ".oga": "audio/ogg",
    ".wav": "audio/wav",
    ".weba": "audio/webm",
    ".mp4": "video/mp4",
    ".m4v": "video/mp4",
    ".ogv": "video/ogg",
    ".webm": "video/webm",
}
_CAMEL_RE = re.compile(r"(?<!^)(?=[A-Z])")


def _q(local: str) -> str:
    return f"{{{QTI3_NS}}}{local}"


def _local(element: etree._Element) -> str:
    return split_tag(element.tag)[1] if isinstance(element.tag, str) else ""


def _snake(local: str) -> str:
    """Item-level element or attribute name, 2.x or 3.0 spelling, as snake_case."""
    if local.startswith("qti-"):
        local = local[4:]
    if "-" in local:
        return local.replace("-", "_")
    return _CAMEL_RE.sub("_", local).lower()


def _error(reason: str, element: etree._Element) -> ItemFormatError:
    return ItemFormatError(reason, element=_local(element), line=source_line(element))


def _elements(parent: etree._Element) -> list[etree._Element]:
    return [child for child in parent if isinstance(child.tag, str)]


@functools.cache
def _spellings(name: str) -> tuple[str, str]:
    """The 3.0 kebab and 2.x camel spellings of a snake_case attribute name."""
    parts = name.split("_")
    return name.replace("_", "-"), parts[0] + "".join(p.title() for p in parts[1:])


def _attr(element: etree._Element, name: str) -> str | None:
    """Attribute ``name`` (snake_case) in either its 3.0 kebab or 2.x camel spelling."""
    kebab, camel = _spellings(name)
    value = element.get(kebab)
    if value is None and camel != kebab:
        value = element.get(camel)
    return value


def _typed(element: etree._Element, name: str, parse: Callable[[str], T], what: str) -> T | None:
    raw = _attr(element, name)
    if raw is None:
        return None
    try:
        return parse(raw.strip())
    except ValueError:
        raise _error(f"{name.replace('_', '-')} must be {what}, got {raw!r}", element) from None


def _bool(raw: str) -> bool:
    if raw in ("true", "1"):
        return True
    if raw in ("false", "0"):
        return False
    raise ValueError(raw)


def _int_attr(element: etree._Element, name: str) -> int | None:
    return _typed(element, name, int, "an integer")


def _float_attr(element: etree._Element, name: str) -> float | None:
    return _typed(element, name, float, "a number")


def _bool_attr(element: etree._Element, name: str) -> bool | None:
    return _typed(element, name, _bool, "true or false")


def _required(element: etree._Element, name: str) -> str:
    value = _attr(element, name)
    if value is None or not value.strip():
        raise _error(f"missing {name.replace('_', '-')} attribute", element)
    return value.strip()


def _coords(raw: str) -> tuple[float, ...]:
    if "%" in raw:
        raise ValueError("percentages are not supported")
    return tuple(float(part) for part in raw.replace(",", " ").split())


def _shape(element: etree._Element) -> Shape:
    raw = _required(element, "shape")
    try:
        return Shape(raw)
    except ValueError:
        raise _error(f"unknown shape {raw!r}", element) from None


def _other_attributes(element: etree._Element, known: frozenset[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in element.attrib.items():
        key = str(name)
        if key.startswith(f"{{{XML_NS}}}"):
            key = "xml:" + key.split("}", 1)[1]
        elif key.startswith("{"):
            continue  # the sanitizer leaves no other namespaced attribute on body elements
        if key not in known:
            out[key] = str(value)
    return out


# --- values and declarations ------------------------------------------------------------------


def _base_type(element: etree._Element, *, required: bool) -> BaseType | None:
    raw = _attr(element, "base_type")
    if raw is None:
        if required:
            raise _error("missing base-type attribute", element)
        return None
    try:
        return BaseType(raw.strip())
    except ValueError:
        raise _error(f"unknown base-type {raw!r}", element) from None


def _cardinality(element: etree._Element) -> Cardinality:
    raw = _required(element, "cardinality")
    try:
        return Cardinality(raw)
    except ValueError:
        raise _error(f"unknown cardinality {raw!r}", element) from None


def _values(
    container: etree._Element, cardinality: Cardinality, base_type: BaseType | None, label: str
) -> Any:
    """The ``qti-value`` children of a default value or correct response, normalized."""
    values: list[Any] = []
    record: dict[str, Any] = {}
    for value_el in _elements(container):
        if _snake(_local(value_el)) != "value":
            raise _error("expected value elements only", value_el)
        if len(value_el):
            raise _error("a value holds text, not elements", value_el)
        own_type = _base_type(value_el, required=False) or base_type
        text = value_el.text or ""
        if cardinality is Cardinality.RECORD:
            field = _required(value_el, "field_identifier")
            field_type = own_type or BaseType.STRING
            if field_type in (BaseType.IDENTIFIER, BaseType.URI):
                field_type = BaseType.STRING
            record[field] = _parse_value(field_type, text, value_el)
            continue
        if own_type is None:
            raise _error("missing base-type for this value", value_el)
        values.append(_parse_value(own_type, text, value_el))
    if cardinality is Cardinality.RECORD:
        return record or None
    if cardinality is Cardinality.SINGLE:
        if len(values) > 1:
            raise _error(f"{label} of a single response holds {len(values)} values", container)
        raw: Any = values[0] if values else None
    else:
        raw = values
    try:
        return normalize_value(cardinality, base_type, raw, label)
    except ResponseShapeError as exc:
        raise _error(exc.detail, container) from None


def _parse_value(base_type: BaseType, text: str, element: etree._Element) -> Any:
    try:
        return parse_qti_value(base_type, text)
    except ValueError as exc:
        raise _error(str(exc), element) from None


def _mapping(element: etree._Element, base_type: BaseType | None) -> ResponseMapping:
    entries: list[MapEntry] = []
    for entry in _elements(element):
        if _snake(_local(entry)) != "map_entry":
            raise _error("expected map entries only", entry)
        if base_type is None:
            raise _error("a record response cannot have a mapping", element)
        key = _parse_value(base_type, _required(entry, "map_key"), entry)
        value = _float_attr(entry, "mapped_value")
        if value is None:
            raise _error("missing mapped-value attribute", entry)
        case_sensitive = _bool_attr(entry, "case_sensitive")
        entries.append(
            MapEntry(
                key=key,
                value=value,
                case_sensitive=True if case_sensitive is None else case_sensitive,
            )
        )
    return ResponseMapping(
        default_value=_float_attr(element, "default_value") or 0.0,
        lower_bound=_float_attr(element, "lower_bound"),
        upper_bound=_float_attr(element, "upper_bound"),
        entries=tuple(entries),
    )


def _area_mapping(element: etree._Element) -> AreaMapping:
    entries: list[AreaMapEntry] = []
    for entry in _elements(element):
        if _snake(_local(entry)) != "area_map_entry":
            raise _error("expected area map entries only", entry)
        value = _float_attr(entry, "mapped_value")
        if value is None:
            raise _error("missing mapped-value attribute", entry)
        entries.append(
            AreaMapEntry(
                shape=_shape(entry),
                coords=_typed(entry, "coords", _coords, "a list of numbers") or (),
                value=value,
            )
        )
    return AreaMapping(
        default_value=_float_attr(element, "default_value") or 0.0,
        lower_bound=_float_attr(element, "lower_bound"),
        upper_bound=_float_attr(element, "upper_bound"),
        entries=tuple(entries),
    )


def _response_declaration(element: etree._Element) -> ResponseDeclaration:
    identifier = _required(element, "identifier")
    cardinality = _cardinality(element)
    base_type = _base_type(element, required=cardinality is not Cardinality.RECORD)
    correct: Any = None
    default: Any = None
    mapping: ResponseMapping | None = None
    area_mapping: AreaMapping | None = None
    for child in _elements(element):
        name = _snake(_local(child))
        if name == "correct_response":
            correct = _values(child, cardinality, base_type, "correct response")
        elif name == "default_value":
            default = _values(child, cardinality, base_type, "default value")
        elif name == "mapping":
            mapping = _mapping(child, base_type)
        elif name == "area_mapping":
            area_mapping = _area_mapping(child)
        else:
            raise _error("unexpected element in a response declaration", child)
    return ResponseDeclaration(
        identifier=identifier,
        cardinality=cardinality,
        base_type=base_type,
        correct_response=correct,
        default_value=default,
        mapping=mapping,
        area_mapping=area_mapping,
    )


_OUTCOME_ATTRS = frozenset(
    {
        "identifier",
        "cardinality",
        "base-type",
        "baseType",
        "normal-maximum",
        "normalMaximum",
        "normal-minimum",
        "normalMinimum",
        "mastery-value",
        "masteryValue",
        "external-scored",
        "externalScored",
    }
)


_TEMPLATE_ATTRS = frozenset(
    {"identifier", "cardinality", "base_type", "param_variable", "math_variable"}
)


def _template_declaration(element: etree._Element) -> TemplateDeclaration:
    for name in element.attrib:
        key = str(name)
        if not key.startswith("{") and _snake(key) not in _TEMPLATE_ATTRS:
            raise _error(f"unsupported attribute {key!r} of a template declaration", element)
    cardinality = _cardinality(element)
    base_type = _base_type(element, required=cardinality is not Cardinality.RECORD)
    default: Any = None
    for child in _elements(element):
        if _snake(_local(child)) == "default_value":
            default = _values(child, cardinality, base_type, "default value")
        else:
            raise _error("unexpected element in a template declaration", child)
    return TemplateDeclaration(
        identifier=_required(element, "identifier"),
        cardinality=cardinality,
        base_type=base_type,
        default_value=default,
        param_variable=bool(_bool_attr(element, "param_variable")),
        math_variable=bool(_bool_attr(element, "math_variable")),
    )


def _check_template_markup(body: etree._Element, templates: set[str]) -> None:
    """Refuse body markup of templates that an instance could not show as written: a
    printed variable of a template variable with attributes the product does not honour,
    and template blocks, inlines or choices naming no template variable."""
    for element in body.iter():
        if not isinstance(element.tag, str):
            continue
        name = _snake(_local(element))
        if name == "printed_variable" and (element.get("identifier") or "") in templates:
            for attribute in element.attrib:
                key = _kebab_attr(str(attribute))
                if key.startswith("{") or key in PRINTED_VARIABLE_ATTRIBUTES:
                    continue
                if key == "power-form" and element.get(str(attribute)) == "false":
                    continue
                raise _error(
                    f"unsupported attribute {key!r} of a printed variable in a cloned item", element
                )
        template_identifier = element.get("template-identifier") or element.get(
            "templateIdentifier"
        )
        if template_identifier is not None and template_identifier not in templates:
            raise _error(
                f"template-identifier {template_identifier!r} names no template variable", element
            )


def _only_attributes(element: etree._Element, allowed: frozenset[str]) -> None:
    for name in element.attrib:
        key = str(name)
        if not key.startswith("{") and _snake(key) not in allowed:
            raise _error(f"unknown attribute {key!r}", element)


def _table_value(
    element: etree._Element, name: str, base_type: BaseType, *, required: bool = True
) -> Any:
    raw = _required(element, name) if required else _attr(element, name)
    if raw is None:
        return None
    value = _parse_value(base_type, raw, element)
    try:
        return normalize_value(Cardinality.SINGLE, base_type, value, name.replace("_", "-"))
    except ResponseShapeError as exc:
        raise _error(exc.detail, element) from None


def _lookup_table(
    element: etree._Element, cardinality: Cardinality, base_type: BaseType | None
) -> MatchTable | InterpolationTable:
    """A ``matchTable`` or ``interpolationTable`` of an outcome declaration (QTI 2.1/3.0):
    entries in document order, target values of the outcome's base type."""
    name = _snake(_local(element))
    if cardinality is not Cardinality.SINGLE or base_type is None:
        raise _error("a lookup table belongs to a single outcome with a base type", element)
    _only_attributes(element, frozenset({"default_value"}))
    default = _table_value(element, "default_value", base_type, required=False)
    match = name == "match_table"
    entry_name = "match_table_entry" if match else "interpolation_table_entry"
    allowed = frozenset(
        {"source_value", "target_value"} | (set() if match else {"include_boundary"})
    )
    matches: list[MatchTableEntry] = []
    steps: list[InterpolationTableEntry] = []
    for entry in _elements(element):
        if _snake(_local(entry)) != entry_name:
            raise _error(f"expected {entry_name.replace('_', '-')} elements only", entry)
        _only_attributes(entry, allowed)
        target = _table_value(entry, "target_value", base_type)
        if match:
            source = _typed(entry, "source_value", int, "an integer")
            if source is None:
                raise _error("missing source-value attribute", entry)
            if any(m.source == source for m in matches):
                raise _error(f"source-value {source} is given twice in the match table", entry)
            matches.append(MatchTableEntry(source=source, target=target))
        else:
            number = _typed(entry, "source_value", float, "a number")
            if number is None:
                raise _error("missing source-value attribute", entry)
            include = _bool_attr(entry, "include_boundary")
            steps.append(
                InterpolationTableEntry(
                    source=number, target=target, include_boundary=include is not False
                )
            )
    if not matches and not steps:
        raise _error("a lookup table needs at least one entry", element)
    if match:
        return MatchTable(default_value=default, entries=tuple(matches))
    return InterpolationTable(default_value=default, entries=tuple(steps))


def _outcome_declaration(element: etree._Element) -> OutcomeDeclaration:
    cardinality = _cardinality(element)
    base_type = _base_type(element, required=False)
    identifier = _required(element, "identifier")
    default: Any = None
    table: MatchTable | InterpolationTable | None = None
    for child in _elements(element):
        name = _snake(_local(child))
        if name == "default_value":
            default = _values(child, cardinality, base_type, "default value")
        elif name in ("match_table", "interpolation_table"):
            if table is not None:
                raise _error("an outcome declaration has one lookup table at most", child)
            table = _lookup_table(child, cardinality, base_type)
        else:
            raise _error("unexpected element in an outcome declaration", child)
    attributes = {_kebab_attr(k): v for k, v in _other_attributes(element, _OUTCOME_ATTRS).items()}
    return OutcomeDeclaration(
        identifier=identifier,
        cardinality=cardinality,
        base_type=base_type,
        default_value=default,
        normal_maximum=_float_attr(element, "normal_maximum"),
        normal_minimum=_float_attr(element, "normal_minimum"),
        mastery_value=_float_attr(element, "mastery_value"),
        external_scored=_attr(element, "external_scored"),
        match_table=table if isinstance(table, MatchTable) else None,
        interpolation_table=table if isinstance(table, InterpolationTable) else None,
        attributes=attributes,
    )


def _context_declaration(element: etree._Element) -> ContextDeclaration:
    """A QTI 3.0 ``qti-context-declaration``: identifier, cardinality, base type (none for
    a record) and default value."""
    _only_attributes(element, frozenset({"identifier", "cardinality", "base_type"}))
    cardinality = _cardinality(element)
    base_type = _base_type(element, required=cardinality is not Cardinality.RECORD)
    default: Any = None
    for child in _elements(element):
        if _snake(_local(child)) == "default_value":
            default = _values(child, cardinality, base_type, "default value")
        else:
            raise _error("unexpected element in a context declaration", child)
    return ContextDeclaration(
        identifier=_required(element, "identifier"),
        cardinality=cardinality,
        base_type=base_type,
        default_value=default,
    )


#: Attributes the model keeps, per declaration element (snake_case names).
_DECLARATION_ATTRS: dict[str, frozenset[str]] = {
    "response_declaration": frozenset({"identifier", "cardinality", "base_type"}),
    "correct_response": frozenset(),
    "default_value": frozenset(),
    "value": frozenset({"field_identifier", "base_type"}),
    "mapping": frozenset({"default_value", "lower_bound", "upper_bound"}),
    "area_mapping": frozenset({"default_value", "lower_bound", "upper_bound"}),
    "map_entry": frozenset({"map_key", "mapped_value", "case_sensitive"}),
    "area_map_entry": frozenset({"shape", "coords", "mapped_value"}),
}


def _note_ignored_attributes(declaration: etree._Element, notes: list[str]) -> None:
    """Note attributes of a declaration that the model does not keep (an
    ``interpretation`` text, vendor extensions), so that nothing disappears unseen."""
    for element in declaration.iter():
        known = _DECLARATION_ATTRS.get(_snake(_local(element)))
        if known is None:
            continue
        for name in element.attrib:
            key = str(name)
            if not key.startswith("{") and _snake(key) not in known:
                line = source_line(element)
                where = f" (line {line})" if line is not None else ""
                notes.append(f"ignored attribute {key} of <{_local(element)}>{where}")


def _kebab_attr(name: str) -> str:
    return name if ":" in name else _CAMEL_RE.sub("-", name).lower()


# --- the body ---------------------------------------------------------------------------------


def _convert_body(source: etree._Element) -> etree._Element:
    """A fresh ``qti-item-body`` (QTI 3.0 names, clean namespaces) copied from ``source``."""
    body = etree.Element(_q("qti-item-body"), nsmap=default_nsmap(QTI3_NS))
    for name, value in source.attrib.items():
        body.set(str(name), str(value))
    rebuild(source, body, QTI3_NS)
    return body


def _check_interactions(body: etree._Element) -> None:
    for element in body.iter():
        local = _local(element)
        # QTI 2 names of unknown interactions were not renamed, so they end in "Interaction".
        if not local.endswith(("-interaction", "Interaction")) or local in SUPPORTED_INTERACTIONS:
            continue
        if local in UNSUPPORTED_INTERACTIONS:
            raise _error(_custom_refusal(element), element)
        raise _error("unknown interaction", element)


def _custom_refusal(element: etree._Element) -> str:
    """Why a custom interaction (QTI 2.x ``customInteraction``, QTI 3.0
    ``qti-custom-interaction``) is refused: what it holds is run by the tool that wrote
    it, in a way QTI does not describe, so no other delivery system can run it. One
    holding an IMS PCI 1.0 interaction (the ``pci:`` namespace) is named as such."""
    pci_1 = any(
        isinstance(child.tag, str)
        and (etree.QName(child).namespace or "").startswith(PCI_NS_PREFIX)
        for child in element.iter()
    )
    if pci_1:
        return (
            "an IMS PCI 1.0 interaction (pci:portableCustomInteraction in a custom "
            "interaction) cannot be delivered: write it as a QTI 2.2 portableCustomInteraction "
            "or a QTI 3.0 qti-portable-custom-interaction, with its modules in the package"
        )
    return (
        "a custom interaction cannot be delivered: what it shows and how it answers are "
        "defined by the tool that wrote it, not by QTI; write it as a portable custom "
        "interaction (QTI 2.2 portableCustomInteraction, QTI 3.0 "
        "qti-portable-custom-interaction) with its modules in the package"
    )


def _prompt_and_rest(element: etree._Element) -> tuple[str | None, list[etree._Element]]:
    prompt: str | None = None
    rest: list[etree._Element] = []
    for child in _elements(element):
        if _local(child) == "qti-prompt" and prompt is None and not rest:
            prompt = fragment_of(child)
        else:
            rest.append(child)
    return prompt, rest


def _choice(element: etree._Element, *, image: bool = False) -> Choice:
    return Choice(
        identifier=_required(element, "identifier"),
        content=fragment_of(element),
        fixed=bool(_bool_attr(element, "fixed")),
        match_max=_int_attr(element, "match_max"),
        match_min=_int_attr(element, "match_min"),
        shape=_shape(element) if element.get("shape") is not None else None,
        coords=_typed(element, "coords", _coords, "a list of numbers") or (),
        image=image,
        attributes=_other_attributes(element, _CHOICE_ATTRS),
    )


def _only(interaction: etree._Element, children: list[etree._Element], allowed: set[str]) -> None:
    text = (interaction.text or "").strip() or next(
        ((c.tail or "").strip() for c in children if (c.tail or "").strip()), ""
    )
    if text:
        raise _error(f"unexpected text {text[:30]!r} in the interaction", interaction)
    for child in children:
        if _local(child) not in allowed:
            raise _error(f"unexpected <{_local(child)}> in <{_local(interaction)}>", child)


def _graphic(children: list[etree._Element]) -> Graphic | None:
    for child in children:
        local = _local(child)
        if local in _GRAPHIC_TAGS:
            return Graphic(
                markup=element_fragment(child),
                src=child.get("src") or child.get("data"),
                media_type=child.get("type"),
                width=child.get("width"),
                height=child.get("height"),
            )
    return None


def _media(children: list[etree._Element], interaction: etree._Element) -> Graphic:
    """The sound or video of a media interaction (its one ``audio``, ``video`` or
    ``object``)."""
    if len(children) != 1:
        raise _error("a media interaction holds one audio, video or object", interaction)
    (child,) = children
    src = child.get("src") or child.get("data")
    media_type = child.get("type")
    for source in child.iter(_q("source")):
        src = src or source.get("src")
        media_type = media_type or source.get("type")
    if not src:
        raise _error("the media of a media interaction has no source", child)
    return Graphic(
        markup=element_fragment(child),
        src=src,
        media_type=media_type,
        width=child.get("width"),
        height=child.get("height"),
    )


def _media_as_html5(interaction: etree._Element) -> None:
    """Replace, in place, the sound or video ``object`` of a media interaction (QTI 2's
    only way to give one) with the ``audio`` or ``video`` element QTI 3.0 and browsers
    play: ``src`` from ``data``; ``width`` and ``height`` kept for a video; the object's
    fallback text kept as the element's own."""
    namespace, _ = split_tag(interaction.tag)
    for child in list(interaction):
        if not isinstance(child.tag, str) or split_tag(child.tag)[1] != "object":
            continue
        data = child.get("data") or ""
        media_type = (child.get("type") or "").lower()
        if not media_type:
            suffix = PurePosixPath(data.split("?")[0]).suffix.lower()
            media_type = _MEDIA_SUFFIXES.get(suffix, "")
        if not data or not media_type.startswith(("audio/", "video/")):
            continue
        local = "video" if media_type.startswith("video/") else "audio"
        media = etree.Element(f"{{{namespace}}}{local}" if namespace else local)
        media.set("src", data)
        if local == "video":
            for name in ("width", "height"):
                value = child.get(name)
                if value:
                    media.set(name, value)
        fallback = " ".join("".join(str(t) for t in child.itertext()).split())
        if fallback:
            media.text = fallback
        media.tail = child.tail
        if child.sourceline is not None:
            media.sourceline = child.sourceline
        interaction.replace(child, media)


def _interaction(
    element: etree._Element, declarations: dict[str, ResponseDeclaration]
) -> Interaction:
    local = _local(element)
    kind = SUPPORTED_INTERACTIONS[local]
    response_identifier = _required(element, "response_identifier")
    declaration = declarations.get(response_identifier)
    if (
        kind is InteractionType.TEXT_ENTRY
        and declaration is not None
        and declaration.base_type in (BaseType.INTEGER, BaseType.FLOAT)
    ):
        kind = InteractionType.NUMERIC_ENTRY
    prompt, children = _prompt_and_rest(element)
    fields: dict[str, Any] = {}
    if kind in (InteractionType.CHOICE, InteractionType.ORDER):
        _only(element, children, {"qti-simple-choice"})
        fields["choices"] = tuple(_choice(c) for c in children)
    elif kind is InteractionType.INLINE_CHOICE:
        _only(element, children, {"qti-inline-choice"})
        fields["choices"] = tuple(_choice(c) for c in children)
    elif kind is InteractionType.ASSOCIATE:
        _only(element, children, {"qti-simple-associable-choice"})
        fields["choices"] = tuple(_choice(c) for c in children)
    elif kind is InteractionType.MATCH:
        _only(element, children, {"qti-simple-match-set"})
        if len(children) != 2:
            raise _error("a match interaction has exactly two match sets", element)
        sets: list[tuple[Choice, ...]] = []
        for match_set in children:
            options = _elements(match_set)
            _only(match_set, options, {"qti-simple-associable-choice"})
            sets.append(tuple(_choice(c) for c in options))
        fields["match_sets"] = tuple(sets)
    elif kind is InteractionType.GAP_MATCH:
        options = [c for c in children if _local(c) in ("qti-gap-text", "qti-gap-img")]
        fields["choices"] = tuple(_choice(c, image=_local(c) == "qti-gap-img") for c in options)
        skip = frozenset(options) | frozenset(
            c for c in _elements(element) if _local(c) == "qti-prompt"
        )
        fields["content"] = fragment_of(element, skip=skip)
        fields["gaps"] = tuple(
            Gap(
                identifier=_required(gap, "identifier"),
                required=bool(_bool_attr(gap, "required")),
                attributes=_other_attributes(gap, frozenset({"identifier", "required"})),
            )
            for gap in element.iter(_q("qti-gap"))
        )
    elif kind is InteractionType.HOTTEXT:
        skip = frozenset(c for c in _elements(element) if _local(c) == "qti-prompt")
        fields["content"] = fragment_of(element, skip=skip)
        fields["choices"] = tuple(_choice(h) for h in element.iter(_q("qti-hottext")))
    elif kind is InteractionType.HOTSPOT:
        _only(element, children, {"qti-hotspot-choice", *_GRAPHIC_TAGS})
        fields["graphic"] = _graphic(children)
        fields["choices"] = tuple(_choice(c) for c in children if _local(c) == "qti-hotspot-choice")
    elif kind is InteractionType.SELECT_POINT:
        _only(element, children, set(_GRAPHIC_TAGS))
        fields["graphic"] = _graphic(children)
    elif kind is InteractionType.GRAPHIC_ORDER:
        _only(element, children, {"qti-hotspot-choice", *_GRAPHIC_TAGS})
        fields["graphic"] = _graphic(children)
        fields["choices"] = tuple(_choice(c) for c in children if _local(c) == "qti-hotspot-choice")
    elif kind is InteractionType.GRAPHIC_ASSOCIATE:
        _only(element, children, {"qti-associable-hotspot", *_GRAPHIC_TAGS})
        fields["graphic"] = _graphic(children)
        fields["choices"] = tuple(
            _choice(c) for c in children if _local(c) == "qti-associable-hotspot"
        )
    elif kind is InteractionType.GRAPHIC_GAP_MATCH:
        _only(
            element,
            children,
            {"qti-gap-img", "qti-gap-text", "qti-associable-hotspot", *_GRAPHIC_TAGS},
        )
        fields["graphic"] = _graphic(children)
        fields["choices"] = tuple(
            _choice(c, image=_local(c) == "qti-gap-img")
            for c in children
            if _local(c) in ("qti-gap-img", "qti-gap-text")
        )
        fields["hotspots"] = tuple(
            _choice(c) for c in children if _local(c) == "qti-associable-hotspot"
        )
    elif kind is InteractionType.MEDIA:
        _only(element, children, set(_MEDIA_TAGS))
        fields["graphic"] = _media(children, element)
    elif kind is InteractionType.DRAWING:
        _only(element, children, set(_GRAPHIC_TAGS))
        fields["graphic"] = _graphic(children)
        if fields["graphic"] is None:
            raise _error("a drawing interaction needs the picture it is drawn on", element)
    elif kind is InteractionType.POSITION_OBJECT:
        if prompt is not None:
            raise _error("a position object interaction has no prompt", element)
        _only(element, children, set(_GRAPHIC_TAGS))
        fields["graphic"] = _graphic(children)
        stage = element.getparent()
        if stage is None or _local(stage) != "qti-position-object-stage":
            raise _error("a position object interaction sits in a position object stage", element)
        fields["stage"] = _graphic(_elements(stage))
        if fields["graphic"] is None or fields["stage"] is None:
            raise _error("a position object and its stage each need a picture", element)
    elif kind is InteractionType.END_ATTEMPT:
        _only(element, children, set())
        fields["title"] = _required(element, "title")
    elif kind is InteractionType.PORTABLE_CUSTOM:
        _only(element, children, set(_PCI_CHILDREN))
        fields["pci"] = _portable_custom(element, children)
    else:
        _only(element, children, set())
    return Interaction(
        type=kind,
        response_identifier=response_identifier,
        prompt=prompt,
        shuffle=bool(_bool_attr(element, "shuffle")),
        max_choices=_int_attr(element, "max_choices"),
        min_choices=_int_attr(element, "min_choices"),
        max_associations=_int_attr(element, "max_associations"),
        min_associations=_int_attr(element, "min_associations"),
        orientation=element.get("orientation"),
        expected_length=_int_attr(element, "expected_length"),
        expected_lines=_int_attr(element, "expected_lines"),
        pattern_mask=element.get("pattern-mask"),
        placeholder_text=element.get("placeholder-text"),
        format=element.get("format"),
        base=_int_attr(element, "base"),
        string_identifier=element.get("string-identifier"),
        max_strings=_int_attr(element, "max_strings"),
        min_strings=_int_attr(element, "min_strings"),
        lower_bound=_float_attr(element, "lower_bound"),
        upper_bound=_float_attr(element, "upper_bound"),
        step=_float_attr(element, "step"),
        step_label=_bool_attr(element, "step_label"),
        reverse=_bool_attr(element, "reverse"),
        required=_bool_attr(element, "required"),
        upload_types=tuple((element.get("type") or "").split()),
        autostart=(
            bool(_bool_attr(element, "autostart"))
            if kind is InteractionType.MEDIA
            else _bool_attr(element, "autostart")
        ),
        min_plays=_int_attr(element, "min_plays"),
        max_plays=_int_attr(element, "max_plays"),
        loop=_bool_attr(element, "loop"),
        attributes={
            name: value
            for name, value in _other_attributes(
                element, _INTERACTION_ATTRS[kind] | {"response-identifier"}
            ).items()
            if kind is not InteractionType.PORTABLE_CUSTOM or not name.startswith("data-")
        },
        **fields,
    )


_PCI_CHILDREN = frozenset(
    {
        "qti-interaction-modules",
        "qti-interaction-markup",
        "qti-template-variable",
        "qti-context-variable",
        "qti-stylesheet",
    }
)


def _portable_custom(element: etree._Element, children: list[etree._Element]) -> PortableCustom:
    """The modules, markup, configuration and variables of a portable custom interaction.
    Module configuration files (``primary-configuration``, ``fallback-configuration``)
    are kept by name; the package import has given each module the path they map it to
    (qti/package.py), so a module still without a path names no file."""
    modules: list[PciModule] = []
    markup = ""
    configurations: dict[str, str | None] = {"primary": None, "fallback": None}
    variables: dict[str, list[PciVariable]] = {"template": [], "context": []}
    for child in children:
        local = _local(child)
        if local == "qti-interaction-markup":
            markup = fragment_of(child)
        elif local in ("qti-template-variable", "qti-context-variable"):
            kind = "template" if local == "qti-template-variable" else "context"
            identifier = (
                child.get("template-identifier") if kind == "template" else None
            ) or child.get("identifier")
            if not identifier:
                raise _error(f"a {kind} variable of a PCI names no identifier", child)
            variables[kind].append(
                PciVariable(
                    identifier=identifier, pci_identifier=child.get("pci-identifier") or None
                )
            )
        elif local == "qti-interaction-modules":
            configurations["primary"] = child.get("primary-configuration") or None
            configurations["fallback"] = (
                child.get("fallback-configuration") or child.get("secondary-configuration") or None
            )
            for entry in _elements(child):
                if _local(entry) != "qti-interaction-module":
                    raise _error(f"unexpected <{_local(entry)}> in <{local}>", entry)
                found = PciModule(
                    id=_required(entry, "id"),
                    primary_path=entry.get("primary-path") or None,
                    fallback_path=entry.get("fallback-path") or None,
                )
                if found.primary_path is None and found.fallback_path is None:
                    raise _error(
                        f"PCI module {found.id!r} names no file"
                        + (
                            ", and no module configuration of the package maps it to one"
                            if any(configurations.values())
                            else ""
                        ),
                        entry,
                    )
                modules.append(found)
    if not modules:
        raise _error("a portable custom interaction lists its modules", element)
    module = element.get("module") or None
    if module is not None and all(m.id != module for m in modules):
        raise _error(f"the PCI module {module!r} is not among its interaction modules", element)
    return PortableCustom(
        type_identifier=_required(element, "custom_interaction_type_identifier"),
        module=module,
        modules=tuple(modules),
        markup=markup,
        properties={
            str(name)[5:]: str(value)
            for name, value in element.attrib.items()
            if str(name).startswith("data-")
        },
        primary_configuration=configurations["primary"],
        fallback_configuration=configurations["fallback"],
        template_variables=tuple(variables["template"]),
        context_variables=tuple(variables["context"]),
    )


def read_body(
    source: etree._Element, declarations: dict[str, ResponseDeclaration]
) -> tuple[str, tuple[Interaction, ...], list[str]]:
    """Convert, check and sanitize an item body; return its QTI 3.0 XML, the structured
    interactions in document order, and the sanitizer's notes."""
    body = _convert_body(source)
    _check_interactions(body)
    # A PCI's own style sheets are read before the sanitizer removes every qti-stylesheet
    # of the body (they style the PCI's frame only; see _with_pci_stylesheets).
    sheets = [
        tuple(
            _stylesheet(child)
            for child in _elements(element)
            if _local(child) in ("qti-stylesheet", "stylesheet")
        )
        for element in body.iter()
        if _local(element) == "qti-portable-custom-interaction"
    ]
    notes = sanitize_body(body)
    # The sanitizer may move elements into another namespace in place (a bare <math> into
    # MathML); copy once more so that the body serializes without generated prefixes.
    body = _convert_body(body)
    interactions = _with_pci_stylesheets(
        tuple(
            _interaction(element, declarations)
            for element in body.iter()
            if _local(element) in SUPPORTED_INTERACTIONS
        ),
        sheets,
    )
    etree.cleanup_namespaces(body)
    return etree.tostring(body, encoding="unicode"), interactions, notes


def _with_pci_stylesheets(
    interactions: tuple[Interaction, ...], sheets: list[tuple[Stylesheet, ...]]
) -> tuple[Interaction, ...]:
    """Each portable custom interaction with its own style sheets (in document order, as
    read before sanitizing). Only CSS is a style sheet of the frame."""
    pcis = [i for i in interactions if i.pci is not None]
    if len(pcis) != len(sheets):
        # A PCI inside something the sanitizer removed: its sheets cannot be matched.
        if any(sheets):
            raise ItemFormatError(
                "the style sheets of a portable custom interaction inside removed content "
                "cannot be placed"
            )
        return interactions
    given = iter(sheets)
    out: list[Interaction] = []
    for interaction in interactions:
        if interaction.pci is None:
            out.append(interaction)
            continue
        found = next(given)
        for sheet in found:
            if sheet.type.split(";")[0].strip().lower() != "text/css":
                raise ItemFormatError(
                    f"the PCI style sheet {sheet.href!r} is of type {sheet.type!r}; a style "
                    "sheet is text/css",
                    element="qti-stylesheet",
                )
        pci_ = interaction.pci.model_copy(update={"stylesheets": found})
        out.append(interaction.model_copy(update={"pci": pci_}))
    return tuple(out)


def _sanitized_fragment(source: etree._Element, notes: list[str], what: str) -> str:
    holder = etree.Element(_q("qti-content"), nsmap=default_nsmap(QTI3_NS))
    rebuild(source, holder, QTI3_NS)
    notes.extend(f"{what}: {note}" for note in sanitize_body(holder))
    return fragment_of(holder)


def _to_qti3_attributes(element: etree._Element, notes: list[str]) -> None:
    """Attributes of QTI 2 body elements that QTI 3.0 does not have, or requires: hotspot
    choices and gaps are never shuffled, so their ``fixed`` means nothing and is dropped;
    a rubric block states its ``use`` (QTI 2 had none: it gave instructions)."""
    name = _snake(_local(element))
    if name in ("hotspot_choice", "associable_hotspot", "gap") and element.get("fixed") is not None:
        del element.attrib["fixed"]
        notes.append(f"ignored attribute fixed of <{_local(element)}> (it is never shuffled)")
    elif name == "rubric_block" and element.get("use") is None:
        element.set("use", "instructions")


def _modal_feedback(element: etree._Element, notes: list[str]) -> ModalFeedback:
    show_hide = _attr(element, "show_hide") or "show"
    if show_hide not in ("show", "hide"):
        raise _error(f"show-hide must be show or hide, got {show_hide!r}", element)
    identifier = _required(element, "identifier")
    # QTI 3.0 wraps the content in qti-content-body; the model keeps the content itself.
    children = _elements(element)
    source = element
    if (
        len(children) == 1
        and _local(children[0]) == "qti-content-body"
        and not (element.text or "").strip()
        and not (children[0].tail or "").strip()
    ):
        source = children[0]
    return ModalFeedback(
        outcome_identifier=_required(element, "outcome_identifier"),
        identifier=identifier,
        show_hide="show" if show_hide == "show" else "hide",
        title=element.get("title"),
        content=_sanitized_fragment(source, notes, f"modal feedback {identifier}"),
    )


def _stimulus_ref(element: etree._Element) -> StimulusRef:
    """``qti-assessment-stimulus-ref`` (QTI 3.0) or ``assessmentStimulusRef`` (QTI 2.2)."""
    return StimulusRef(
        identifier=_required(element, "identifier"),
        href=_required(element, "href"),
        title=element.get("title") or None,
    )


def _stylesheet(element: etree._Element) -> Stylesheet:
    return Stylesheet(
        href=_required(element, "href"),
        type=element.get("type") or "text/css",
        media=element.get("media"),
        title=element.get("title"),
    )


_ROOT_ATTRS = frozenset(
    {
        "identifier",
        "title",
        "label",
        "adaptive",
        "time-dependent",
        "timeDependent",
        "tool-name",
        "toolName",
        "tool-version",
        "toolVersion",
        "xml:lang",
    }
)

_IGNORED_PARTS = {
    "companion_materials_info": "companion materials information was not kept",
}

#: The card supports the candidate's player shows to everyone (docs/player.md, "Glossary
#: and translations"); the other known ones to candidates whose accommodations name them;
#: an unknown support is kept, exported and noted.
SHOWN_SUPPORTS = item_supports.FOR_EVERYONE


def _card_content(
    parent: etree._Element, notes: list[str], what: str
) -> tuple[str, list[etree._Element]]:
    """The sanitized ``qti-html-content`` of a card or card entry, and its other children
    (``qti-card-entry`` for a card). A ``qti-file-href`` is noted and dropped."""
    content = ""
    rest: list[etree._Element] = []
    for child in _elements(parent):
        local = _local(child)
        if local == "qti-html-content":
            if content:
                raise _error(f"{what} has more than one qti-html-content", child)
            content = _sanitized_fragment(child, notes, what)
        elif local == "qti-file-href":
            notes.append(f"{what}: the file {(child.text or '').strip()!r} was not kept")
        else:
            rest.append(child)
    return content, rest


def _catalog_info(element: etree._Element, notes: list[str]) -> tuple[Catalog, ...]:
    """``qti-catalog-info``: each ``qti-catalog`` (by ``id``) with its cards."""
    catalogs: list[Catalog] = []
    for catalog_element in _elements(element):
        if _local(catalog_element) != "qti-catalog":
            raise _error("unexpected element in qti-catalog-info", catalog_element)
        identifier = _required(catalog_element, "id")
        if any(c.identifier == identifier for c in catalogs):
            raise _error(f"catalog {identifier!r} is defined twice", catalog_element)
        cards: list[CatalogCard] = []
        for card_element in _elements(catalog_element):
            if _local(card_element) != "qti-card":
                raise _error("unexpected element in qti-catalog", card_element)
            support = _required(card_element, "support")
            what = f"catalog {identifier}, card {support}"
            content, rest = _card_content(card_element, notes, what)
            entries: list[CardEntry] = []
            for entry_element in rest:
                if _local(entry_element) != "qti-card-entry":
                    raise _error("unexpected element in qti-card", entry_element)
                language = entry_element.get(f"{{{XML_NS}}}lang")
                entry_content, extra = _card_content(
                    entry_element, notes, f"{what} ({language or 'entry'})"
                )
                if extra:
                    raise _error("unexpected element in qti-card-entry", extra[0])
                entries.append(
                    CardEntry(
                        language=language or None,
                        default=bool(_bool_attr(entry_element, "default")),
                        content=entry_content,
                    )
                )
            if support in item_supports.KNOWN:
                notes.append(
                    f"{what}: shown only to candidates whose accommodations give them this support"
                )
            elif support not in SHOWN_SUPPORTS and not item_supports.is_known(support):
                notes.append(
                    f"{what}: kept and exported, but not shown to candidates (not a known "
                    "support; an organization's own support is named ext:...)"
                )
            cards.append(CatalogCard(support=support, content=content, entries=tuple(entries)))
        catalogs.append(Catalog(identifier=identifier, cards=tuple(cards)))
    return tuple(catalogs)


def _catalog_reference_notes(body: str, catalogs: tuple[Catalog, ...]) -> list[str]:
    """Body elements that refer to a catalog the item does not have."""
    known = {c.identifier for c in catalogs}
    wanted = re.findall(r'data-catalog-idref="([^"]*)"', body)
    return [
        f"the body refers to catalog {name!r}, which the item does not have"
        for name in dict.fromkeys(wanted)
        if name not in known
    ]


def parse_item(xml: bytes | str, *, document: etree._Element | None = None) -> ItemDefinition:
    """Parse one QTI 2.x or 3.0 item document into the model.

    Raises :class:`ItemFormatError` for malformed XML (with the line), a DOCTYPE or
    entities, a root that is not an assessment item, an unknown or unsupported interaction
    or operator, or declarations and rules that do not fit together.

    ``document``: the root of ``xml`` as a package reader parsed it already (with the
    parser options of :func:`~.common.safe_parser`); it gets the same checks and is not
    parsed again. The tree may be changed.
    """
    root = parse_document(xml) if document is None else adopt_document(xml, document)
    namespace, local = split_tag(root.tag)
    if namespace not in VERSIONS:
        raise ItemFormatError(
            f"not a QTI item: namespace {namespace or '(none)'} is not QTI 2.x or 3.0",
            element=local,
            line=source_line(root),
        )
    if _snake(local) != "assessment_item":
        raise _error("not a QTI item: the root is not an assessment item", root)
    if namespace not in QTI2_NAMESPACES:
        return item_from_root(root)
    try:
        return item_from_root(root)
    except ItemFormatError as exc:
        raise in_qti2_terms(exc) from None


def item_from_root(root: etree._Element) -> ItemDefinition:
    """Build and validate an item from a parsed ``assessmentItem`` element of any version."""
    notes: list[str] = []
    responses: list[ResponseDeclaration] = []
    outcomes: list[OutcomeDeclaration] = []
    contexts: list[ContextDeclaration] = []
    stylesheets: list[Stylesheet] = []
    feedback: list[ModalFeedback] = []
    body_source: etree._Element | None = None
    processing: ResponseProcessing | None = None
    template_declarations: list[TemplateDeclaration] = []
    template_processing: tuple[TemplateRule, ...] | None = None
    stimuli: list[StimulusRef] = []
    catalogs: tuple[Catalog, ...] = ()
    for child in _elements(root):
        if split_tag(child.tag)[0] != split_tag(root.tag)[0]:
            raise _error("element outside the QTI namespace", child)
        name = _snake(_local(child))
        if name == "response_declaration":
            responses.append(_response_declaration(child))
            _note_ignored_attributes(child, notes)
        elif name == "outcome_declaration":
            outcomes.append(_outcome_declaration(child))
            for default in _elements(child):
                _note_ignored_attributes(default, notes)
        elif name == "context_declaration":
            contexts.append(_context_declaration(child))
        elif name == "template_declaration":
            template_declarations.append(_template_declaration(child))
        elif name == "template_processing":
            if template_processing is not None:
                raise _error("an item has one template processing", child)
            template_processing = parse_template_processing(child)
        elif name == "stylesheet":
            stylesheets.append(_stylesheet(child))
        elif name == "item_body":
            if body_source is not None:
                raise _error("an item has one body", child)
            body_source = child
        elif name == "response_processing":
            processing = parse_response_processing(child)
            location_note = template_location_note(child, processing)
            if location_note is not None:
                notes.append(location_note)
        elif name == "modal_feedback":
            feedback.append(_modal_feedback(child, notes))
        elif name == "assessment_stimulus_ref":
            stimulus = _stimulus_ref(child)
            if any(s.identifier == stimulus.identifier for s in stimuli):
                raise _error(f"stimulus {stimulus.identifier!r} is referred to twice", child)
            stimuli.append(stimulus)
        elif name == "catalog_info":
            if catalogs:
                raise _error("an item has one qti-catalog-info", child)
            catalogs = _catalog_info(child, notes)
        elif name in _IGNORED_PARTS:
            notes.append(_IGNORED_PARTS[name])
        else:
            raise _error("unexpected element in an assessment item", child)
    declarations = {d.identifier: d for d in responses}
    body = f'<qti-item-body xmlns="{QTI3_NS}"/>'
    interactions: tuple[Interaction, ...] = ()
    body_notes: list[str] = []
    if body_source is not None:
        # A rubric block may hold a catalog of its own (QTI 3.0): catalog identifiers are
        # unique in the document, so the item keeps it with the others.
        for inner in [e for e in body_source.iter() if _local(e) == "qti-catalog-info"]:
            found = _catalog_info(inner, notes)
            for catalog in found:
                if any(c.identifier == catalog.identifier for c in catalogs):
                    raise _error(f"catalog {catalog.identifier!r} is defined twice", inner)
            catalogs = (*catalogs, *found)
            parent = inner.getparent()
            assert parent is not None
            if inner.tail:
                previous = inner.getprevious()
                if previous is not None:
                    previous.tail = (previous.tail or "") + inner.tail
                else:
                    parent.text = (parent.text or "") + inner.tail
            parent.remove(inner)
        if template_declarations:
            _check_template_markup(body_source, {d.identifier for d in template_declarations})
        # A picture given as an object (QTI 2's graphic interactions, running content) is
        # read as the img QTI 3.0 and browsers show; other objects are the sanitizer's.
        for element in list(body_source.iter()):
            if isinstance(element.tag, str):
                pictures_as_images(element)
                if _snake(_local(element)) == "media_interaction":
                    _media_as_html5(element)
                _to_qti3_attributes(element, notes)
        body, interactions, body_notes = read_body(body_source, declarations)
    notes.extend(_catalog_reference_notes(body, catalogs))
    attributes = _other_attributes(root, frozenset())
    for name in sorted(set(attributes) - _ROOT_ATTRS):
        notes.append(f"ignored attribute {name} of the item")
    identifier = _required(root, "identifier")
    title = root.get("title")
    if not title:
        notes.append("the item has no title; its identifier is used")
    item = ItemDefinition(
        identifier=identifier,
        title=title or identifier,
        language=root.get(f"{{{XML_NS}}}lang"),
        label=root.get("label"),
        adaptive=bool(_bool_attr(root, "adaptive")),
        time_dependent=bool(_bool_attr(root, "time_dependent")),
        tool_name=_attr(root, "tool_name"),
        tool_version=_attr(root, "tool_version"),
        body=body,
        interactions=interactions,
        response_declarations=tuple(responses),
        outcome_declarations=tuple(outcomes),
        context_declarations=tuple(contexts),
        response_processing=processing,
        template_declarations=tuple(template_declarations),
        template_processing=template_processing,
        modal_feedback=tuple(feedback),
        stylesheets=tuple(stylesheets),
        stimuli=tuple(stimuli),
        catalogs=catalogs,
        import_notes=(*body_notes, *notes),
    )
    # QTI 3.0's true/false question (identifiers true and false) is the model's boolean one.
    item = as_boolean_choices(item)
    validate_item(item)
    unreachable = key_constraint_notes(item)
    if unreachable:
        item = item.model_copy(update={"import_notes": (*item.import_notes, *unreachable)})
    return item
