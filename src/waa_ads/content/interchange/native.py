"""The native item format: YAML or JSON written by hand, loaded into the same model.

``docs/native-format.md`` documents the format with examples. In short: an item gives its
``identifier``, ``title``, an XHTML ``body`` with ``{{RESPONSE}}`` placeholders where its
``interactions`` go, each interaction with its choices and (inline) its correct response or
mapping, and how it is ``scoring``: a standard template, a shortcut (``numeric``,
``pattern``), rules in the model's dict form, or QTI response processing XML.

The loader builds the QTI 3.0 document the item stands for and reads it with the QTI
reader, so a native item is sanitized, checked and structured exactly like an imported one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any
from xml.sax.saxutils import escape

import yaml
from lxml import etree
from pydantic import TypeAdapter, ValidationError

from waa_ads.content.interchange.qti.common import (
    MAX_ITEM_BYTES,
    QTI3_NS,
    default_nsmap,
    element_fragment,
    fragment_nodes,
    parse_document,
)
from waa_ads.content.interchange.qti.reader import item_from_root
from waa_ads.content.interchange.qti.writer import (
    context_declaration_element,
    interaction_element,
    outcome_declaration_element,
    response_declaration_element,
    response_processing_element,
)
from waa_ads.content.item.definition import (
    INLINE_INTERACTIONS,
    AreaMapEntry,
    AreaMapping,
    BaseType,
    Cardinality,
    Choice,
    ContextDeclaration,
    Expression,
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
    OutcomeDeclaration,
    PortableCustom,
    ResponseBranch,
    ResponseCondition,
    ResponseDeclaration,
    ResponseMapping,
    ResponseProcessing,
    Rule,
    SetOutcomeValue,
    Shape,
)
from waa_ads.content.item.processing import (
    TEMPLATE_NAMES,
    parse_response_processing,
    template_name,
)
from waa_ads.content.item.responses import ResponseShapeError, normalize_value

FORMAT_MARKER = "waa-ads/item@1"

_PLACEHOLDER_RE = re.compile(r"\{\{\s*([^\s{}]+)\s*\}\}")
_RULES = TypeAdapter(tuple[Rule, ...])

_ITEM_KEYS = frozenset(
    {
        "format",
        "identifier",
        "title",
        "language",
        "label",
        "body",
        "interactions",
        "responses",
        "outcomes",
        "contexts",
        "scoring",
        "metadata",
        "rubric",
        "adaptive",
        "time_dependent",
        "stimuli",
        "catalogs",
    }
)
_CARD_KEYS = frozenset({"support", "content", "entries"})
_CARD_ENTRY_KEYS = frozenset({"language", "default", "content"})
_STIMULUS_KEYS = frozenset({"identifier", "title"})
_DECLARATION_KEYS = frozenset(
    {"cardinality", "base_type", "correct", "default", "mapping", "area_mapping"}
)
_INTERACTION_KEYS: dict[str, frozenset[str]] = {
    "choice": frozenset({"choices", "shuffle", "max_choices", "min_choices", "orientation"}),
    "true_false": frozenset({"true_label", "false_label", "orientation"}),
    "order": frozenset({"choices", "shuffle", "max_choices", "min_choices", "orientation"}),
    "inline_choice": frozenset({"choices", "shuffle", "required"}),
    "text_entry": frozenset({"expected_length", "pattern_mask", "placeholder", "format", "base"}),
    "numeric_entry": frozenset(
        {"expected_length", "pattern_mask", "placeholder", "format", "base"}
    ),
    "match": frozenset({"sources", "targets", "shuffle", "max_associations", "min_associations"}),
    "associate": frozenset({"choices", "shuffle", "max_associations", "min_associations"}),
    "gap_match": frozenset(
        {"choices", "content", "shuffle", "max_associations", "min_associations"}
    ),
    "hottext": frozenset({"content", "max_choices", "min_choices"}),
    "hotspot": frozenset({"image", "choices", "max_choices", "min_choices"}),
    "select_point": frozenset({"image", "max_choices", "min_choices"}),
    "extended_text": frozenset(
        {
            "expected_lines",
            "expected_length",
            "format",
            "max_strings",
            "min_strings",
            "placeholder",
            "pattern_mask",
        }
    ),
    "upload": frozenset({"types"}),
    "slider": frozenset(
        {"lower_bound", "upper_bound", "step", "step_label", "orientation", "reverse"}
    ),
    "graphic_order": frozenset({"image", "choices", "max_choices", "min_choices"}),
    "graphic_associate": frozenset({"image", "choices", "max_associations", "min_associations"}),
    "graphic_gap_match": frozenset(
        {"image", "choices", "hotspots", "max_associations", "min_associations"}
    ),
    "end_attempt": frozenset({"title"}),
    "drawing": frozenset({"image"}),
    "position_object": frozenset({"image", "stage", "max_choices", "min_choices"}),
    "media": frozenset({"media", "autostart", "min_plays", "max_plays", "loop"}),
    "portable_custom": frozenset({"pci"}),
}
_COMMON_KEYS = frozenset({"type", "response", "prompt"}) | _DECLARATION_KEYS


class _Path:
    """Where in the document a value sits, for error messages (``interactions[0].choices``)."""

    def __init__(self, text: str = "") -> None:
        self.text = text

    def key(self, name: str) -> _Path:
        return _Path(f"{self.text}.{name}" if self.text else name)

    def index(self, position: int) -> _Path:
        return _Path(f"{self.text}[{position}]")

    def fail(self, message: str) -> ItemFormatError:
        return ItemFormatError(f"{self.text or 'item'}: {message}")


def _mapping_of(value: Any, path: _Path) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise path.fail("expected a mapping (key: value)")
    return value


def _list_of(value: Any, path: _Path) -> Sequence[Any]:
    if not isinstance(value, list):
        raise path.fail("expected a list")
    return value


def _str(value: Any, path: _Path) -> str:
    if isinstance(value, bool) or value is None or isinstance(value, list | dict):
        raise path.fail("expected text (quote values such as yes, no, on and off)")
    text = str(value)
    if not text.strip():
        raise path.fail("cannot be empty")
    return text


def _identifier(value: Any, path: _Path) -> str:
    text = _str(value, path)
    if any(ch.isspace() for ch in text):
        raise path.fail(f"{text!r} is not an identifier (no spaces)")
    return text


def _opt_int(data: Mapping[str, Any], key: str, path: _Path) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise path.key(key).fail("expected a whole number")
    return value


def _opt_float(data: Mapping[str, Any], key: str, path: _Path) -> float | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise path.key(key).fail("expected a number")
    return float(value)


def _opt_bool(data: Mapping[str, Any], key: str, path: _Path) -> bool | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise path.key(key).fail("expected true or false")
    return value


def _check_keys(data: Mapping[str, Any], allowed: frozenset[str], path: _Path) -> None:
    unknown = sorted(str(k) for k in data if k not in allowed)
    if unknown:
        raise path.key(unknown[0]).fail(
            f"unknown key (expected one of: {', '.join(sorted(allowed))})"
        )


def _markup(value: Any, path: _Path) -> str:
    """A fragment of XHTML (plain text is fine; ``&`` and ``<`` must be markup)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    text = _str(value, path) if value != "" else ""
    fragment_nodes(text, what=path.text)  # refuse what is not well-formed, with its path
    return text


def _rename_inline(fragment: str, path: _Path) -> str:
    """Let authors write ``<gap/>`` and ``<hottext>`` for ``qti-gap`` and ``qti-hottext``."""
    holder = fragment_nodes(fragment, what=path.text)
    for element in holder.iter(f"{{{QTI3_NS}}}gap", f"{{{QTI3_NS}}}hottext"):
        element.tag = f"{{{QTI3_NS}}}qti-{etree.QName(element).localname}"
    out = [escape(holder.text or "")]
    out.extend(element_fragment(child) + escape(child.tail or "") for child in holder)
    return "".join(out)


# --- choices and interactions ---------------------------------------------------------------


def _choice(data: Any, path: _Path, *, hotspot: bool = False) -> Choice:
    if isinstance(data, str):
        raise path.fail("a choice is a mapping with at least an id")
    choice = _mapping_of(data, path)
    _check_keys(
        choice,
        frozenset(
            {
                "id",
                "content",
                "fixed",
                "match_max",
                "match_min",
                "shape",
                "coords",
                "image",
                "label",
            }
        ),
        path,
    )
    if "id" not in choice:
        raise path.key("id").fail("missing")
    shape: Shape | None = None
    if "shape" in choice:
        try:
            shape = Shape(str(choice["shape"]))
        except ValueError:
            raise path.key("shape").fail(
                f"unknown shape (expected one of: {', '.join(s.value for s in Shape)})"
            ) from None
    elif hotspot:
        raise path.key("shape").fail("a hotspot needs a shape")
    coords: tuple[float, ...] = ()
    if "coords" in choice:
        raw = choice["coords"]
        try:
            parts = raw.replace(",", " ").split() if isinstance(raw, str) else list(raw)
            coords = tuple(float(p) for p in parts)
        except (TypeError, ValueError):
            raise path.key("coords").fail("expected a list of numbers") from None
    return Choice(
        identifier=_identifier(choice["id"], path.key("id")),
        content=_markup(choice.get("content", ""), path.key("content")),
        fixed=bool(_opt_bool(choice, "fixed", path)),
        match_max=_opt_int(choice, "match_max", path),
        match_min=_opt_int(choice, "match_min", path),
        shape=shape,
        coords=coords,
        image=bool(_opt_bool(choice, "image", path)),
        attributes=(
            {"hotspot-label": _str(choice["label"], path.key("label"))} if "label" in choice else {}
        ),
    )


def _choices(
    data: Mapping[str, Any], key: str, path: _Path, *, hotspot: bool = False
) -> tuple[Choice, ...]:
    raw = _list_of(data.get(key, []), path.key(key))
    return tuple(_choice(c, path.key(key).index(i), hotspot=hotspot) for i, c in enumerate(raw))


def _graphic(data: Mapping[str, Any], path: _Path) -> Graphic | None:
    if "image" not in data:
        return None
    image = _mapping_of(data["image"], path.key("image"))
    _check_keys(image, frozenset({"src", "alt", "width", "height"}), path.key("image"))
    img = etree.Element("img")
    img.set("src", _str(image.get("src"), path.key("image").key("src")))
    img.set("alt", str(image.get("alt", "")))
    for dimension in ("width", "height"):
        if dimension in image:
            img.set(dimension, str(image[dimension]))
    return Graphic(markup=etree.tostring(img, encoding="unicode"), src=img.get("src"))


def _media(data: Mapping[str, Any], path: _Path) -> Graphic:
    """The ``audio`` or ``video`` of a media interaction: ``media: {src, kind, width,
    height, description}`` (``kind`` audio by default; ``description`` is the fallback
    text)."""
    if "media" not in data:
        raise path.key("media").fail("missing")
    where = path.key("media")
    media = _mapping_of(data["media"], where)
    _check_keys(media, frozenset({"src", "kind", "width", "height", "description"}), where)
    kind = str(media.get("kind", "audio"))
    if kind not in ("audio", "video"):
        raise where.key("kind").fail("expected audio or video")
    element = etree.Element(kind)
    element.set("src", _str(media.get("src"), where.key("src")))
    for dimension in ("width", "height"):
        if dimension in media and kind == "video":
            element.set(dimension, str(media[dimension]))
    if media.get("description"):
        element.text = _str(media["description"], where.key("description"))
    return Graphic(markup=etree.tostring(element, encoding="unicode"), src=element.get("src"))


def _inferred_binding(kind: str, data: Mapping[str, Any]) -> tuple[Cardinality, BaseType]:
    """The declaration an interaction's response needs when the author does not say."""
    many = {
        "choice": (data.get("max_choices", 1) != 1),
        "hottext": (data.get("max_choices", 1) != 1),
        "hotspot": (data.get("max_choices", 1) != 1),
        "select_point": (data.get("max_choices", 1) != 1),
        "match": (data.get("max_associations", 0) != 1),
        "associate": (data.get("max_associations", 0) != 1),
        "gap_match": (data.get("max_associations", 0) != 1),
        "graphic_associate": (data.get("max_associations", 0) != 1),
        "graphic_gap_match": (data.get("max_associations", 0) != 1),
        "position_object": (data.get("max_choices", 1) != 1),
    }.get(kind, False)
    card = Cardinality.MULTIPLE if many else Cardinality.SINGLE
    base = {
        "choice": BaseType.IDENTIFIER,
        "true_false": BaseType.BOOLEAN,
        "order": BaseType.IDENTIFIER,
        "inline_choice": BaseType.IDENTIFIER,
        "text_entry": BaseType.STRING,
        "numeric_entry": BaseType.FLOAT,
        "match": BaseType.DIRECTED_PAIR,
        "associate": BaseType.PAIR,
        "gap_match": BaseType.DIRECTED_PAIR,
        "hottext": BaseType.IDENTIFIER,
        "hotspot": BaseType.IDENTIFIER,
        "select_point": BaseType.POINT,
        "extended_text": BaseType.STRING,
        "upload": BaseType.FILE,
        "slider": BaseType.FLOAT,
        "graphic_order": BaseType.IDENTIFIER,
        "graphic_associate": BaseType.PAIR,
        "graphic_gap_match": BaseType.DIRECTED_PAIR,
        "end_attempt": BaseType.BOOLEAN,
        "media": BaseType.INTEGER,
        "drawing": BaseType.FILE,
        "position_object": BaseType.POINT,
        "portable_custom": BaseType.STRING,
    }[kind]
    if kind in ("order", "graphic_order"):
        card = Cardinality.ORDERED
    if kind == "slider" and all(
        isinstance(data.get(k, 0), int) for k in ("lower_bound", "upper_bound", "step")
    ):
        base = BaseType.INTEGER
    return card, base


def _pci(spec: Mapping[str, Any], path: _Path) -> PortableCustom:
    """``pci: {type_identifier, module, modules: [{id, primary_path, fallback_path}],
    markup, properties, primary_configuration, fallback_configuration,
    template_variables: [{identifier, pci_identifier}], context_variables: [...]}`` of a
    portable custom interaction."""
    where = path.key("pci")
    data = dict(_mapping_of(spec.get("pci"), where))
    if "markup" in data:
        data["markup"] = _markup(data["markup"], where.key("markup"))
    data["properties"] = {str(k): str(v) for k, v in (data.get("properties") or {}).items()}
    try:
        pci = PortableCustom.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise where.fail(
            f"{'.'.join(str(p) for p in first['loc']) or 'pci'}: {first['msg']}"
        ) from None
    if not pci.modules:
        raise where.key("modules").fail("a portable custom interaction lists its modules")
    return pci


def _interaction(data: Any, path: _Path) -> tuple[Interaction, Mapping[str, Any]]:
    spec = _mapping_of(data, path)
    kind = str(spec.get("type", ""))
    if kind not in _INTERACTION_KEYS:
        raise path.key("type").fail(
            f"unknown interaction type {kind!r} (expected one of: {', '.join(_INTERACTION_KEYS)})"
        )
    _check_keys(spec, _COMMON_KEYS | _INTERACTION_KEYS[kind], path)
    response = _identifier(spec.get("response", "RESPONSE"), path.key("response"))
    fields: dict[str, Any] = {
        "response_identifier": response,
        "prompt": None
        if spec.get("prompt") is None
        else _markup(spec["prompt"], path.key("prompt")),
        "shuffle": bool(_opt_bool(spec, "shuffle", path)),
        "orientation": spec.get("orientation"),
    }
    for key in (
        "max_choices",
        "min_choices",
        "max_associations",
        "min_associations",
        "expected_length",
        "expected_lines",
        "max_strings",
        "min_strings",
        "base",
        "min_plays",
        "max_plays",
    ):
        fields[key] = _opt_int(spec, key, path)
    for key in ("lower_bound", "upper_bound", "step"):
        fields[key] = _opt_float(spec, key, path)
    for key in ("step_label", "reverse", "required", "loop"):
        fields[key] = _opt_bool(spec, key, path)
    for key, target in (
        ("pattern_mask", "pattern_mask"),
        ("placeholder", "placeholder_text"),
        ("format", "format"),
    ):
        if spec.get(key) is not None:
            fields[target] = _str(spec[key], path.key(key))
    interaction_type: InteractionType
    if kind == "true_false":
        interaction_type = InteractionType.CHOICE
        fields["max_choices"] = 1
        fields["choices"] = (
            Choice(
                identifier="true",
                content=_markup(spec.get("true_label", "True"), path.key("true_label")),
            ),
            Choice(
                identifier="false",
                content=_markup(spec.get("false_label", "False"), path.key("false_label")),
            ),
        )
    else:
        interaction_type = InteractionType(kind)
    if kind in ("choice", "order", "inline_choice", "associate", "gap_match"):
        fields["choices"] = _choices(spec, "choices", path)
        if not fields["choices"]:
            raise path.key("choices").fail("at least one choice is needed")
    if kind == "choice" and fields["max_choices"] is None:
        fields["max_choices"] = 1
    if kind == "hotspot":
        fields["choices"] = _choices(spec, "choices", path, hotspot=True)
        fields["graphic"] = _graphic(spec, path)
    if kind == "select_point":
        fields["graphic"] = _graphic(spec, path)
    if kind in ("graphic_order", "graphic_associate", "graphic_gap_match"):
        fields["graphic"] = _graphic(spec, path)
        areas = "hotspots" if kind == "graphic_gap_match" else "choices"
        fields[areas] = _choices(spec, areas, path, hotspot=True)
        if not fields[areas]:
            raise path.key(areas).fail("at least one area is needed")
        if kind == "graphic_gap_match":
            fields["choices"] = _choices(spec, "choices", path)
            if not fields["choices"]:
                raise path.key("choices").fail("at least one choice is needed")
    if kind == "position_object":
        fields["graphic"] = _graphic(spec, path)
        fields["stage"] = _graphic({"image": spec["stage"]}, path) if "stage" in spec else None
        if fields["graphic"] is None or fields["stage"] is None:
            raise path.fail("a position object needs its image and the stage's image")
    if kind == "drawing":
        fields["graphic"] = _graphic(spec, path)
        if fields["graphic"] is None:
            raise path.key("image").fail("missing: a drawing is made on a picture")
    if kind == "end_attempt":
        fields["title"] = _str(spec.get("title"), path.key("title"))
    if kind == "media":
        fields["graphic"] = _media(spec, path)
        fields["autostart"] = bool(_opt_bool(spec, "autostart", path))
    if kind == "portable_custom":
        fields["pci"] = _pci(spec, path)
    if kind == "match":
        fields["match_sets"] = (
            _choices(spec, "sources", path),
            _choices(spec, "targets", path),
        )
    if kind in ("gap_match", "hottext"):
        if "content" not in spec:
            raise path.key("content").fail("missing")
        fields["content"] = _rename_inline(
            _markup(spec["content"], path.key("content")), path.key("content")
        )
    if kind == "upload" and "types" in spec:
        fields["upload_types"] = tuple(
            _str(t, path.key("types").index(i))
            for i, t in enumerate(_list_of(spec["types"], path.key("types")))
        )
    return Interaction(type=interaction_type, **fields), spec


# --- declarations ------------------------------------------------------------------------------


def _value(card: Cardinality, base: BaseType | None, value: Any, path: _Path) -> Any:
    try:
        return normalize_value(card, base, value, path.text)
    except ResponseShapeError as exc:
        raise path.fail(exc.detail) from None


def _response_mapping(
    raw: Any, card: Cardinality, base: BaseType | None, path: _Path
) -> ResponseMapping:
    spec = _mapping_of(raw, path)
    if "entries" not in spec:
        spec = {"entries": spec}
    _check_keys(
        spec,
        frozenset({"entries", "default", "lower_bound", "upper_bound", "case_sensitive"}),
        path,
    )
    case_sensitive = _opt_bool(spec, "case_sensitive", path)
    entries: list[MapEntry] = []
    raw_entries = spec["entries"]
    pairs: list[tuple[Any, Any]]
    if isinstance(raw_entries, Mapping):
        pairs = list(raw_entries.items())
    else:
        pairs = []
        for i, entry in enumerate(_list_of(raw_entries, path.key("entries"))):
            item = _mapping_of(entry, path.key("entries").index(i))
            pairs.append((item.get("key"), item.get("value")))
    assert base is not None
    for position, (key, value) in enumerate(pairs):
        where = path.key("entries").index(position)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise where.fail(f"the value of {key!r} must be a number")
        entries.append(
            MapEntry(
                key=_value(Cardinality.SINGLE, base, key, where),
                value=float(value),
                case_sensitive=True if case_sensitive is None else case_sensitive,
            )
        )
    return ResponseMapping(
        default_value=_opt_float(spec, "default", path) or 0.0,
        lower_bound=_opt_float(spec, "lower_bound", path),
        upper_bound=_opt_float(spec, "upper_bound", path),
        entries=tuple(entries),
    )


def _area_mapping(raw: Any, path: _Path) -> AreaMapping:
    spec: Mapping[str, Any] = {"entries": raw} if isinstance(raw, list) else _mapping_of(raw, path)
    _check_keys(spec, frozenset({"entries", "default", "lower_bound", "upper_bound"}), path)
    entries: list[AreaMapEntry] = []
    for i, raw_entry in enumerate(_list_of(spec.get("entries", []), path.key("entries"))):
        where = path.key("entries").index(i)
        entry = _mapping_of(raw_entry, where)
        _check_keys(entry, frozenset({"shape", "coords", "value"}), where)
        choice = _choice(
            {"id": "area", "shape": entry.get("shape"), "coords": entry.get("coords", [])},
            where,
            hotspot=True,
        )
        value = entry.get("value")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise where.key("value").fail("expected a number")
        assert choice.shape is not None
        entries.append(AreaMapEntry(shape=choice.shape, coords=choice.coords, value=float(value)))
    return AreaMapping(
        default_value=_opt_float(spec, "default", path) or 0.0,
        lower_bound=_opt_float(spec, "lower_bound", path),
        upper_bound=_opt_float(spec, "upper_bound", path),
        entries=tuple(entries),
    )


def _declaration(
    identifier: str,
    spec: Mapping[str, Any],
    path: _Path,
    inferred: tuple[Cardinality, BaseType | None] | None,
) -> ResponseDeclaration:
    try:
        card = Cardinality(spec["cardinality"]) if "cardinality" in spec else None
        base = BaseType(spec["base_type"]) if "base_type" in spec else None
    except ValueError as exc:
        raise path.fail(str(exc)) from None
    if inferred is not None:
        card = card or inferred[0]
        base = base or inferred[1]
    if card is None:
        raise path.key("cardinality").fail("missing")
    if base is None and card is not Cardinality.RECORD:
        raise path.key("base_type").fail("missing")
    return ResponseDeclaration(
        identifier=identifier,
        cardinality=card,
        base_type=base,
        correct_response=_value(card, base, spec.get("correct"), path.key("correct")),
        default_value=_value(card, base, spec.get("default"), path.key("default")),
        mapping=None
        if spec.get("mapping") is None
        else _response_mapping(spec["mapping"], card, base, path.key("mapping")),
        area_mapping=None
        if spec.get("area_mapping") is None
        else _area_mapping(spec["area_mapping"], path.key("area_mapping")),
    )


def _outcome(data: Any, path: _Path) -> OutcomeDeclaration:
    spec = _mapping_of(data, path)
    _check_keys(
        spec,
        frozenset(
            {
                "identifier",
                "cardinality",
                "base_type",
                "default",
                "normal_maximum",
                "normal_minimum",
                "mastery_value",
                "external_scored",
                "match_table",
                "interpolation_table",
            }
        ),
        path,
    )
    try:
        card = Cardinality(spec.get("cardinality", "single"))
        base = BaseType(spec["base_type"]) if "base_type" in spec else None
    except ValueError as exc:
        raise path.fail(str(exc)) from None
    tables: dict[str, Any] = {}
    models: tuple[tuple[str, type[MatchTable] | type[InterpolationTable]], ...] = (
        ("match_table", MatchTable),
        ("interpolation_table", InterpolationTable),
    )
    for key, model in models:
        if spec.get(key) is None:
            continue
        try:
            table: MatchTable | InterpolationTable = model.model_validate(spec[key])
        except ValidationError as exc:
            first = exc.errors()[0]
            location = ".".join(str(p) for p in first["loc"])
            raise path.key(key).fail(f"{location}: {first['msg']}") from None
        if card is not Cardinality.SINGLE or base is None:
            raise path.key(key).fail("a lookup table belongs to a single outcome with a base type")
        where = path.key(key)
        single = Cardinality.SINGLE
        entries: Sequence[MatchTableEntry | InterpolationTableEntry] = table.entries
        tables[key] = table.model_copy(
            update={
                "default_value": _value(
                    single, base, table.default_value, where.key("default_value")
                ),
                "entries": tuple(
                    entry.model_copy(
                        update={
                            "target": _value(
                                single,
                                base,
                                entry.target,
                                where.key("entries").index(i).key("target"),
                            )
                        }
                    )
                    for i, entry in enumerate(entries)
                ),
            }
        )
    return OutcomeDeclaration(
        identifier=_identifier(spec.get("identifier"), path.key("identifier")),
        cardinality=card,
        base_type=base,
        default_value=_value(card, base, spec.get("default"), path.key("default")),
        normal_maximum=_opt_float(spec, "normal_maximum", path),
        normal_minimum=_opt_float(spec, "normal_minimum", path),
        mastery_value=_opt_float(spec, "mastery_value", path),
        external_scored=None
        if spec.get("external_scored") is None
        else _str(spec["external_scored"], path.key("external_scored")),
        **tables,
    )


def _context(data: Any, path: _Path) -> ContextDeclaration:
    spec = _mapping_of(data, path)
    _check_keys(spec, frozenset({"identifier", "cardinality", "base_type", "default"}), path)
    try:
        card = Cardinality(spec.get("cardinality", "single"))
        base = BaseType(spec["base_type"]) if "base_type" in spec else None
    except ValueError as exc:
        raise path.fail(str(exc)) from None
    if base is None and card is not Cardinality.RECORD:
        raise path.key("base_type").fail("required unless the cardinality is record")
    return ContextDeclaration(
        identifier=_identifier(spec.get("identifier"), path.key("identifier")),
        cardinality=card,
        base_type=base,
        default_value=_value(card, base, spec.get("default"), path.key("default")),
    )


# --- scoring ------------------------------------------------------------------------------------


def _score_if(condition: Expression, score: float) -> ResponseCondition:
    def base(value: float) -> Expression:
        return Expression(op="base_value", attrs={"base_type": "float", "value": value})

    return ResponseCondition(
        branches=(
            ResponseBranch(
                condition=condition,
                rules=(SetOutcomeValue(identifier="SCORE", expression=base(score)),),
            ),
        ),
        otherwise=(SetOutcomeValue(identifier="SCORE", expression=base(0.0)),),
    )


def _shortcut(kind: str, raw: Any, path: _Path) -> tuple[Rule, ...]:
    spec = _mapping_of(raw, path)
    response = _identifier(spec.get("response", "RESPONSE"), path.key("response"))
    score = _opt_float(spec, "score", path)
    variable = Expression(op="variable", attrs={"identifier": response})
    if kind == "numeric":
        _check_keys(spec, frozenset({"response", "value", "tolerance", "mode", "score"}), path)
        value = _opt_float(spec, "value", path)
        if value is None:
            raise path.key("value").fail("missing")
        mode = str(spec.get("mode", "absolute"))
        if mode not in ("exact", "absolute", "relative"):
            raise path.key("mode").fail("expected exact, absolute or relative")
        attrs: dict[str, Any] = {"tolerance_mode": mode}
        tolerance = spec.get("tolerance", 0)
        tolerances = tolerance if isinstance(tolerance, list) else [tolerance]
        if mode != "exact":
            if not 1 <= len(tolerances) <= 2 or not all(
                isinstance(t, int | float) and not isinstance(t, bool) and t >= 0
                for t in tolerances
            ):
                raise path.key("tolerance").fail("expected one or two non-negative numbers")
            attrs["tolerance"] = [float(t) for t in tolerances]
        condition = Expression(
            op="equal",
            attrs=attrs,
            args=(
                variable,
                Expression(op="base_value", attrs={"base_type": "float", "value": value}),
            ),
        )
    else:
        _check_keys(spec, frozenset({"response", "pattern", "score"}), path)
        pattern = _str(spec.get("pattern"), path.key("pattern"))
        try:
            re.compile(pattern)
        except re.error as exc:
            raise path.key("pattern").fail(f"not a valid pattern: {exc}") from None
        condition = Expression(op="pattern_match", attrs={"pattern": pattern}, args=(variable,))
    return (_score_if(condition, 1.0 if score is None else score),)


def _processing(raw: Any, path: _Path) -> ResponseProcessing | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        raw = {"template": raw}
    spec = _mapping_of(raw, path)
    if len(spec) != 1:
        raise path.fail("give exactly one of: template, rules, qti, numeric, pattern")
    ((kind, value),) = spec.items()
    if kind == "template":
        name = str(value)
        if name not in TEMPLATE_NAMES:
            name = template_name(name) or ""
        if not name:
            raise path.key("template").fail(
                f"unknown template (expected one of: {', '.join(TEMPLATE_NAMES)})"
            )
        return ResponseProcessing(template=name)
    if kind == "rules":
        try:
            return ResponseProcessing(rules=_RULES.validate_python(value))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise path.key("rules").fail(f"{where}: {first['msg']}") from None
    if kind == "qti":
        element = parse_document(_str(value, path.key("qti")), what="response processing")
        return parse_response_processing(element)
    if kind in ("numeric", "pattern"):
        return ResponseProcessing(rules=_shortcut(kind, value, path.key(kind)))
    raise path.fail(f"unknown scoring {kind!r}")


def _sets_score(processing: ResponseProcessing | None) -> bool:
    return processing is not None and (processing.template is not None or bool(processing.rules))


# --- the item -------------------------------------------------------------------------------------


def _body(body: str, interactions: list[Interaction], path: _Path) -> etree._Element:
    """The ``qti-item-body``: the author's XHTML with each interaction at its placeholder
    (or appended, in order, when it has none)."""
    holder = etree.Element("holder")
    rendered: dict[str, Interaction] = {i.response_identifier: i for i in interactions}
    placed: set[str] = set()

    def markup(interaction: Interaction) -> str:
        element = interaction_element(holder, interaction)
        # A position object is written inside its stage, which is what goes in the body.
        top = element if element.getparent() is holder else element.getparent()
        assert top is not None
        text = element_fragment(top)
        holder.remove(top)
        return text

    def substitute(match: re.Match[str]) -> str:
        identifier = match.group(1)
        if identifier not in rendered:
            raise path.fail(f"placeholder {{{{{identifier}}}}} names no interaction")
        if identifier in placed:
            raise path.fail(f"placeholder {{{{{identifier}}}}} is used twice")
        placed.add(identifier)
        return markup(rendered[identifier])

    text = _PLACEHOLDER_RE.sub(substitute, body)
    for interaction in interactions:
        if interaction.response_identifier in placed:
            continue
        piece = markup(interaction)
        text += f"<p>{piece}</p>" if interaction.type in INLINE_INTERACTIONS else piece
    fragment = fragment_nodes(text, what="body")
    element = etree.Element(f"{{{QTI3_NS}}}qti-item-body", nsmap=default_nsmap(QTI3_NS))
    element.text = fragment.text
    for child in list(fragment):
        element.append(child)
    return element


def item_from_native(data: Mapping[str, Any]) -> ItemDefinition:
    """An item from a parsed native document (a dict); raises :class:`ItemFormatError`
    naming the offending key path."""
    root_path = _Path()
    doc = _mapping_of(data, root_path)
    _check_keys(doc, _ITEM_KEYS, root_path)
    if "format" in doc and doc["format"] != FORMAT_MARKER:
        raise root_path.key("format").fail(f"expected {FORMAT_MARKER!r}")
    identifier = _identifier(doc.get("identifier"), root_path.key("identifier"))
    title = _str(doc.get("title"), root_path.key("title"))

    interactions: list[Interaction] = []
    declarations: dict[str, ResponseDeclaration] = {}
    for position, raw in enumerate(
        _list_of(doc.get("interactions", []), root_path.key("interactions"))
    ):
        where = root_path.key("interactions").index(position)
        interaction, spec = _interaction(raw, where)
        kind = str(spec["type"])
        if interaction.response_identifier in declarations:
            raise where.key("response").fail(
                f"response {interaction.response_identifier!r} is used by another interaction"
            )
        declarations[interaction.response_identifier] = _declaration(
            interaction.response_identifier, spec, where, _inferred_binding(kind, spec)
        )
        interactions.append(interaction)
    for position, raw in enumerate(_list_of(doc.get("responses", []), root_path.key("responses"))):
        where = root_path.key("responses").index(position)
        spec = _mapping_of(raw, where)
        _check_keys(spec, _DECLARATION_KEYS | {"identifier"}, where)
        rid = _identifier(spec.get("identifier"), where.key("identifier"))
        if rid in declarations:
            raise where.key("identifier").fail(f"response {rid!r} is declared twice")
        declarations[rid] = _declaration(rid, spec, where, None)

    outcomes = [
        _outcome(raw, root_path.key("outcomes").index(i))
        for i, raw in enumerate(_list_of(doc.get("outcomes", []), root_path.key("outcomes")))
    ]
    contexts = [
        _context(raw, root_path.key("contexts").index(i))
        for i, raw in enumerate(_list_of(doc.get("contexts", []), root_path.key("contexts")))
    ]
    processing = _processing(doc.get("scoring"), root_path.key("scoring"))
    if _sets_score(processing) and not any(o.identifier == "SCORE" for o in outcomes):
        outcomes.insert(
            0,
            OutcomeDeclaration(identifier="SCORE", base_type=BaseType.FLOAT, default_value=0.0),
        )

    body_text = doc.get("body") or ""
    if body_text:
        body_text = _markup(body_text, root_path.key("body"))

    root = etree.Element(f"{{{QTI3_NS}}}qti-assessment-item", nsmap=default_nsmap(QTI3_NS))
    root.set("identifier", identifier)
    root.set("title", title)
    if doc.get("language") is not None:
        root.set(
            "{http://www.w3.org/XML/1998/namespace}lang",
            _str(doc["language"], root_path.key("language")),
        )
    if doc.get("label") is not None:
        root.set("label", _str(doc["label"], root_path.key("label")))
    for flag in ("adaptive", "time_dependent"):
        value = _opt_bool(doc, flag, root_path)
        if value is not None:
            root.set(flag.replace("_", "-"), "true" if value else "false")
    for context in contexts:
        context_declaration_element(root, context)
    for declaration in declarations.values():
        response_declaration_element(root, declaration)
    for outcome in outcomes:
        outcome_declaration_element(root, outcome)
    _stimulus_refs(root, doc.get("stimuli", []), root_path.key("stimuli"))
    root.append(_body(body_text, interactions, root_path.key("body")))
    _catalog_info(root, doc.get("catalogs"), root_path.key("catalogs"))
    if processing is not None:
        response_processing_element(root, processing)
    # Through the serialized document, so that line numbers in errors refer to it and the
    # reader sees exactly what an export would contain.
    item = item_from_root(parse_document(etree.tostring(root)))
    metadata = doc.get("metadata") or {}
    if not isinstance(metadata, Mapping):
        raise root_path.key("metadata").fail("expected a mapping")
    rubric = doc.get("rubric")
    return item.model_copy(
        update={
            "metadata": json.loads(json.dumps(dict(metadata), default=str)),
            "rubric_ref": None if rubric is None else _str(rubric, root_path.key("rubric")),
        }
    )


def _stimulus_refs(root: etree._Element, raw: Any, path: _Path) -> None:
    """``stimuli``: the shared stimuli the item is shown beside, each an identifier of a
    stimulus of the bank or ``{identifier, title}``."""
    for index, given in enumerate(_list_of(raw, path)):
        where = path.index(index)
        entry = {"identifier": given} if isinstance(given, str) else given
        if not isinstance(entry, Mapping):
            raise where.fail("expected a stimulus identifier or a mapping with identifier")
        unknown = sorted(set(entry) - _STIMULUS_KEYS)
        if unknown:
            raise where.fail(f"unknown key {unknown[0]!r} (known: identifier, title)")
        identifier = _str(entry.get("identifier"), where.key("identifier"))
        ref = etree.SubElement(root, f"{{{QTI3_NS}}}qti-assessment-stimulus-ref")
        ref.set("identifier", identifier)
        # Where a package holds its file; an export writes it there.
        ref.set("href", f"../stimuli/{identifier}.xml")
        if entry.get("title") is not None:
            ref.set("title", _str(entry["title"], where.key("title")))


def _html_content(parent: etree._Element, raw: Any, path: _Path) -> None:
    holder = fragment_nodes(_markup(raw if raw is not None else "", path), what=path.text)
    element = etree.SubElement(parent, f"{{{QTI3_NS}}}qti-html-content")
    element.text = holder.text
    for child in list(holder):
        element.append(child)


def _catalog_info(root: etree._Element, raw: Any, path: _Path) -> None:
    """``catalogs``: the accessibility catalogs, each an identifier (what the body's
    ``data-catalog-idref`` names) to a list of cards ``{support, content}`` or
    ``{support, entries: [{language, default, content}]}``."""
    if raw is None:
        return
    catalogs = _mapping_of(raw, path)
    if not catalogs:
        return
    info = etree.SubElement(root, f"{{{QTI3_NS}}}qti-catalog-info")
    for name, cards in catalogs.items():
        where = path.key(str(name))
        catalog = etree.SubElement(info, f"{{{QTI3_NS}}}qti-catalog")
        catalog.set("id", _identifier(name, where))
        if not _list_of(cards, where):
            raise where.fail("a catalog has at least one card")
        for position, raw_card in enumerate(cards):
            card_path = where.index(position)
            card = _mapping_of(raw_card, card_path)
            _check_keys(card, _CARD_KEYS, card_path)
            element = etree.SubElement(catalog, f"{{{QTI3_NS}}}qti-card")
            element.set("support", _identifier(card.get("support"), card_path.key("support")))
            if "entries" not in card:
                _html_content(element, card.get("content"), card_path.key("content"))
                continue
            if "content" in card:
                raise card_path.fail("a card has content or entries, not both")
            entries_path = card_path.key("entries")
            for index, raw_entry in enumerate(_list_of(card["entries"], entries_path)):
                entry_path = entries_path.index(index)
                entry = _mapping_of(raw_entry, entry_path)
                _check_keys(entry, _CARD_ENTRY_KEYS, entry_path)
                entry_element = etree.SubElement(element, f"{{{QTI3_NS}}}qti-card-entry")
                if entry.get("language") is not None:
                    entry_element.set(
                        "{http://www.w3.org/XML/1998/namespace}lang",
                        _identifier(entry["language"], entry_path.key("language")),
                    )
                if _opt_bool(entry, "default", entry_path):
                    entry_element.set("default", "true")
                _html_content(entry_element, entry.get("content"), entry_path.key("content"))


def load_native(text: str | bytes, *, syntax: str | None = None) -> ItemDefinition:
    """Load a native item written in YAML (the default) or JSON (``syntax="json"``, or
    detected from a leading ``{``)."""
    raw = text.encode("utf-8") if isinstance(text, str) else text
    if len(raw) > MAX_ITEM_BYTES:
        raise ItemFormatError(f"the item is larger than {MAX_ITEM_BYTES} bytes")
    decoded = raw.decode("utf-8-sig")
    try:
        if syntax == "json" or (syntax is None and decoded.lstrip().startswith("{")):
            data = json.loads(decoded)
        else:
            data = yaml.safe_load(decoded)
    except json.JSONDecodeError as exc:
        raise ItemFormatError(f"malformed JSON: {exc.msg}", line=exc.lineno) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = None if mark is None else int(mark.line) + 1
        problem = getattr(exc, "problem", None) or str(exc)
        raise ItemFormatError(f"malformed YAML: {problem}", line=line) from None
    if not isinstance(data, Mapping):
        raise ItemFormatError("a native item is a mapping of keys (identifier, title, body...)")
    return item_from_native(data)


def load_item_bytes(data: bytes, name: str = "") -> ItemDefinition:
    """An item from a file's bytes: QTI XML (``.xml``, or content starting with ``<``) or a
    native YAML/JSON item (``.yaml``, ``.yml``, ``.json``, or anything else)."""
    from waa_ads.content.interchange.qti.reader import parse_item

    lowered = name.lower()
    if lowered.endswith(".xml") or (
        not lowered.endswith((".yaml", ".yml", ".json")) and data.lstrip().startswith(b"<")
    ):
        return parse_item(data)
    return load_native(data, syntax="json" if lowered.endswith(".json") else None)
