"""The item model: what an item *is*, independent of the XML it came from.

Everything here is pure data: immutable (frozen) pydantic models that round-trip through a
plain JSON-able dict (:meth:`ItemDefinition.to_dict` / :meth:`ItemDefinition.from_dict`),
which is what the item bank stores. The QTI reader and the native (YAML/JSON) loader both
produce an :class:`ItemDefinition`; the QTI writer and the scoring engine consume one.

Values (correct responses, default values, map keys, base values in rules) are held in
the same JSON shapes as candidate responses (see ``docs/response-shapes.md``): an
identifier is ``"A"``, a multiple container ``["A", "C"]``, a point ``[x, y]``, a pair or
directed pair ``["A", "B"]`` (pairs sorted, because a pair is unordered).

The body is the QTI 3.0 ``qti-item-body`` element serialized as XML with the QTI 3.0 default
namespace declared on it; interactions stay in it as elements, and :attr:`ItemDefinition.
interactions` is the structured view of those same elements. Smaller markup (a prompt, a
choice's content) is an XHTML *fragment*: elements written without a namespace, MathML with
its own ``xmlns``.
"""

from __future__ import annotations

from collections.abc import Iterator
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_serializer,
    model_validator,
)
from pydantic_core.core_schema import SerializerFunctionWrapHandler

from waa_ads.core.errors import Unprocessable
from waa_ads.core.i18n import N_


class ItemFormatError(Unprocessable):
    """An item (QTI XML, native YAML/JSON or a stored dict) is malformed or unsupported.

    ``detail`` names what is wrong and, when known, the element and line where it is.
    """

    code = "item-format-error"
    title = N_("Malformed or unsupported item")

    def __init__(self, reason: str, *, element: str | None = None, line: int | None = None):
        where = ""
        if element is not None and line is not None:
            where = f" (<{element}> at line {line})"
        elif element is not None:
            where = f" (<{element}>)"
        elif line is not None:
            where = f" (line {line})"
        super().__init__(f"{reason}{where}", extra={"element": element, "line": line})
        self.reason = reason
        self.element = element
        self.line = line


class Cardinality(StrEnum):
    SINGLE = "single"
    MULTIPLE = "multiple"
    ORDERED = "ordered"
    RECORD = "record"


class BaseType(StrEnum):
    IDENTIFIER = "identifier"
    BOOLEAN = "boolean"
    INTEGER = "integer"
    FLOAT = "float"
    STRING = "string"
    POINT = "point"
    PAIR = "pair"
    DIRECTED_PAIR = "directedPair"
    DURATION = "duration"
    FILE = "file"
    URI = "uri"
    INT_OR_IDENTIFIER = "intOrIdentifier"


NUMERIC_BASE_TYPES = frozenset({BaseType.INTEGER, BaseType.FLOAT, BaseType.DURATION})


class Shape(StrEnum):
    """Area shapes of hotspots and area mappings (coordinates as in HTML image maps)."""

    CIRCLE = "circle"
    RECT = "rect"
    POLY = "poly"
    ELLIPSE = "ellipse"
    DEFAULT = "default"


class InteractionType(StrEnum):
    """The interactions the item bank supports.

    ``numeric_entry`` is a QTI text entry interaction bound to an integer or float response;
    it is written back as ``qti-text-entry-interaction``. A true/false item is a ``choice``
    with two options (identifier base type) or bound to a boolean response whose choices
    are identified ``true`` and ``false``.
    """

    CHOICE = "choice"
    TEXT_ENTRY = "text_entry"
    NUMERIC_ENTRY = "numeric_entry"
    INLINE_CHOICE = "inline_choice"
    ORDER = "order"
    MATCH = "match"
    ASSOCIATE = "associate"
    GAP_MATCH = "gap_match"
    HOTTEXT = "hottext"
    HOTSPOT = "hotspot"
    SELECT_POINT = "select_point"
    EXTENDED_TEXT = "extended_text"
    UPLOAD = "upload"
    SLIDER = "slider"
    GRAPHIC_GAP_MATCH = "graphic_gap_match"
    GRAPHIC_ORDER = "graphic_order"
    GRAPHIC_ASSOCIATE = "graphic_associate"
    END_ATTEMPT = "end_attempt"
    MEDIA = "media"
    DRAWING = "drawing"
    POSITION_OBJECT = "position_object"
    PORTABLE_CUSTOM = "portable_custom"


#: The QTI 3.0 element of each interaction type.
INTERACTION_ELEMENTS: dict[InteractionType, str] = {
    InteractionType.CHOICE: "qti-choice-interaction",
    InteractionType.TEXT_ENTRY: "qti-text-entry-interaction",
    InteractionType.NUMERIC_ENTRY: "qti-text-entry-interaction",
    InteractionType.INLINE_CHOICE: "qti-inline-choice-interaction",
    InteractionType.ORDER: "qti-order-interaction",
    InteractionType.MATCH: "qti-match-interaction",
    InteractionType.ASSOCIATE: "qti-associate-interaction",
    InteractionType.GAP_MATCH: "qti-gap-match-interaction",
    InteractionType.HOTTEXT: "qti-hottext-interaction",
    InteractionType.HOTSPOT: "qti-hotspot-interaction",
    InteractionType.SELECT_POINT: "qti-select-point-interaction",
    InteractionType.EXTENDED_TEXT: "qti-extended-text-interaction",
    InteractionType.UPLOAD: "qti-upload-interaction",
    InteractionType.SLIDER: "qti-slider-interaction",
    InteractionType.GRAPHIC_GAP_MATCH: "qti-graphic-gap-match-interaction",
    InteractionType.GRAPHIC_ORDER: "qti-graphic-order-interaction",
    InteractionType.GRAPHIC_ASSOCIATE: "qti-graphic-associate-interaction",
    InteractionType.END_ATTEMPT: "qti-end-attempt-interaction",
    InteractionType.MEDIA: "qti-media-interaction",
    InteractionType.DRAWING: "qti-drawing-interaction",
    InteractionType.POSITION_OBJECT: "qti-position-object-interaction",
    InteractionType.PORTABLE_CUSTOM: "qti-portable-custom-interaction",
}

#: Interactions answered with associations (pairs), limited by ``max-associations``.
ASSOCIATING_INTERACTIONS = frozenset(
    {
        InteractionType.MATCH,
        InteractionType.ASSOCIATE,
        InteractionType.GAP_MATCH,
        InteractionType.GRAPHIC_GAP_MATCH,
        InteractionType.GRAPHIC_ASSOCIATE,
    }
)

#: Interactions drawn on a picture (``graphic``) whose areas are ``choices`` or ``hotspots``.
GRAPHIC_INTERACTIONS = frozenset(
    {
        InteractionType.HOTSPOT,
        InteractionType.SELECT_POINT,
        InteractionType.GRAPHIC_GAP_MATCH,
        InteractionType.GRAPHIC_ORDER,
        InteractionType.GRAPHIC_ASSOCIATE,
    }
)

#: Interactions whose element sits inside running text (a ``<p>``), not between blocks.
INLINE_INTERACTIONS = frozenset(
    {
        InteractionType.TEXT_ENTRY,
        InteractionType.NUMERIC_ENTRY,
        InteractionType.INLINE_CHOICE,
        InteractionType.END_ATTEMPT,
    }
)

#: Which (cardinality, base types) a response bound to each interaction may have.
INTERACTION_BINDINGS: dict[InteractionType, tuple[frozenset[Cardinality], frozenset[BaseType]]] = {
    InteractionType.CHOICE: (
        frozenset({Cardinality.SINGLE, Cardinality.MULTIPLE}),
        frozenset({BaseType.IDENTIFIER, BaseType.BOOLEAN}),
    ),
    InteractionType.TEXT_ENTRY: (frozenset({Cardinality.SINGLE}), frozenset({BaseType.STRING})),
    InteractionType.NUMERIC_ENTRY: (
        frozenset({Cardinality.SINGLE}),
        frozenset({BaseType.INTEGER, BaseType.FLOAT}),
    ),
    InteractionType.INLINE_CHOICE: (
        frozenset({Cardinality.SINGLE}),
        frozenset({BaseType.IDENTIFIER}),
    ),
    InteractionType.ORDER: (frozenset({Cardinality.ORDERED}), frozenset({BaseType.IDENTIFIER})),
    InteractionType.MATCH: (
        frozenset({Cardinality.SINGLE, Cardinality.MULTIPLE}),
        frozenset({BaseType.DIRECTED_PAIR}),
    ),
    InteractionType.ASSOCIATE: (
        frozenset({Cardinality.SINGLE, Cardinality.MULTIPLE}),
        frozenset({BaseType.PAIR}),
    ),
    InteractionType.GAP_MATCH: (
        frozenset({Cardinality.SINGLE, Cardinality.MULTIPLE}),
        frozenset({BaseType.DIRECTED_PAIR}),
    ),
    InteractionType.HOTTEXT: (
        frozenset({Cardinality.SINGLE, Cardinality.MULTIPLE}),
        frozenset({BaseType.IDENTIFIER}),
    ),
    InteractionType.HOTSPOT: (
        frozenset({Cardinality.SINGLE, Cardinality.MULTIPLE}),
        frozenset({BaseType.IDENTIFIER}),
    ),
    InteractionType.SELECT_POINT: (
        frozenset({Cardinality.SINGLE, Cardinality.MULTIPLE}),
        frozenset({BaseType.POINT}),
    ),
    InteractionType.EXTENDED_TEXT: (
        frozenset({Cardinality.SINGLE, Cardinality.MULTIPLE, Cardinality.ORDERED}),
        frozenset({BaseType.STRING}),
    ),
    InteractionType.UPLOAD: (frozenset({Cardinality.SINGLE}), frozenset({BaseType.FILE})),
    InteractionType.SLIDER: (
        frozenset({Cardinality.SINGLE}),
        frozenset({BaseType.INTEGER, BaseType.FLOAT}),
    ),
    InteractionType.GRAPHIC_GAP_MATCH: (
        frozenset({Cardinality.SINGLE, Cardinality.MULTIPLE}),
        frozenset({BaseType.DIRECTED_PAIR}),
    ),
    InteractionType.GRAPHIC_ORDER: (
        frozenset({Cardinality.ORDERED}),
        frozenset({BaseType.IDENTIFIER}),
    ),
    InteractionType.GRAPHIC_ASSOCIATE: (
        frozenset({Cardinality.SINGLE, Cardinality.MULTIPLE}),
        frozenset({BaseType.PAIR}),
    ),
    InteractionType.END_ATTEMPT: (frozenset({Cardinality.SINGLE}), frozenset({BaseType.BOOLEAN})),
    InteractionType.MEDIA: (frozenset({Cardinality.SINGLE}), frozenset({BaseType.INTEGER})),
    InteractionType.DRAWING: (frozenset({Cardinality.SINGLE}), frozenset({BaseType.FILE})),
    InteractionType.POSITION_OBJECT: (
        frozenset({Cardinality.SINGLE, Cardinality.MULTIPLE}),
        frozenset({BaseType.POINT}),
    ),
    # A portable custom interaction answers in whatever its response declares (but files).
    InteractionType.PORTABLE_CUSTOM: (
        frozenset({Cardinality.SINGLE, Cardinality.MULTIPLE, Cardinality.ORDERED}),
        frozenset(BaseType) - {BaseType.FILE},
    ),
}


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", use_enum_values=False)


# --- interactions -----------------------------------------------------------------------------


class Choice(_Frozen):
    """One option of an interaction: a simple choice, inline choice, hot text, hotspot,
    associable choice or gap text/image. Which fields apply depends on the interaction."""

    identifier: str
    content: str = ""
    """XHTML fragment shown for the choice (empty for a hotspot without a label)."""
    fixed: bool = False
    """Keeps its position when the interaction shuffles."""
    match_max: int | None = None
    match_min: int | None = None
    shape: Shape | None = None
    coords: tuple[float, ...] = ()
    image: bool = False
    """A gap match option given as an image (``qti-gap-img``) instead of text."""
    attributes: dict[str, str] = Field(default_factory=dict)
    """Other attributes of the choice element (``class``, ``template-identifier``...),
    kept verbatim under their QTI 3.0 names."""


class Gap(_Frozen):
    """A gap of a gap match interaction, placed in its content."""

    identifier: str
    required: bool = False
    attributes: dict[str, str] = Field(default_factory=dict)


class Graphic(_Frozen):
    """The image (``img``) or ``object`` a graphic interaction draws on."""

    markup: str
    """The element as an XHTML fragment."""
    src: str | None = None
    media_type: str | None = None
    width: str | None = None
    height: str | None = None


class PciModule(_Frozen):
    """One ``qti-interaction-module`` of a portable custom interaction: an AMD module id
    and the package files (relative to the item) that define it."""

    id: str
    primary_path: str | None = None
    fallback_path: str | None = None


class Stylesheet(_Frozen):
    href: str
    type: str = "text/css"
    media: str | None = None
    title: str | None = None


class PciVariable(_Frozen):
    """A variable of the item a PCI is given (``qti-template-variable``,
    ``qti-context-variable``): its ``identifier`` among the item's template (or context)
    declarations, and the name the PCI gets it under (``pci-identifier``; its identifier
    when absent). Never a response or outcome variable: those are the candidate's and the
    scorer's."""

    identifier: str
    pci_identifier: str | None = None


class PortableCustom(_Frozen):
    """What a portable custom interaction (PCI) needs to run: its type, the modules to
    load, the markup it starts from and its configuration (the ``data-*`` attributes)."""

    type_identifier: str
    """``custom-interaction-type-identifier``: the name the PCI registers itself under."""
    module: str | None = None
    """The module that registers the PCI (the ``module`` attribute); ``None``: every
    module listed is loaded."""
    modules: tuple[PciModule, ...] = ()
    markup: str = ""
    """The ``qti-interaction-markup`` content, an XHTML fragment (sanitized)."""
    properties: dict[str, str] = Field(default_factory=dict)
    """The ``data-*`` attributes without their ``data-`` prefix, as written."""
    primary_configuration: str | None = None
    """``primary-configuration`` of its modules: a JSON file of the package mapping module
    ids to paths (RequireJS ``paths``), relative to the item. The import gives each module
    that names no path of its own the one this file (else the fallback) maps it to, and
    keeps the file as the item's media so that an export names it again."""
    fallback_configuration: str | None = None
    """``fallback-configuration`` (QTI 2.2 ``secondaryConfiguration``), read after the
    primary one as a fallback path is after a primary path."""
    template_variables: tuple[PciVariable, ...] = ()
    """``qti-template-variable``: template variables of the item given to the PCI."""
    context_variables: tuple[PciVariable, ...] = ()
    """``qti-context-variable``: context variables of the item given to the PCI."""
    stylesheets: tuple[Stylesheet, ...] = ()
    """``qti-stylesheet`` inside the PCI: CSS files of the package (kept as the item's
    media) that style the PCI's frame, and nothing else of the page."""


class Interaction(_Frozen):
    """The structured view of one interaction element of the body.

    Fields left ``None`` were absent from the element (QTI defaults apply); ``attributes``
    keeps every other attribute verbatim under its QTI 3.0 name.
    """

    type: InteractionType
    response_identifier: str
    prompt: str | None = None
    choices: tuple[Choice, ...] = ()
    """Simple/inline/hot-text/hotspot/associable choices, the gap texts of a gap match, or
    the gap images and texts of a graphic gap match."""
    hotspots: tuple[Choice, ...] = ()
    """The areas of a graphic gap match (``qti-associable-hotspot``): where its gap
    images go. The areas of a graphic order or associate interaction are its ``choices``."""
    match_sets: tuple[tuple[Choice, ...], ...] = ()
    """The two sets of a match interaction (source, target)."""
    gaps: tuple[Gap, ...] = ()
    content: str | None = None
    """Block content of a hot text or gap match interaction, holding its hot texts/gaps."""
    graphic: Graphic | None = None
    """The picture of a graphic or drawing interaction, the sound or video of a media
    interaction, or the object a position object interaction places."""
    stage: Graphic | None = None
    """The picture of the ``qti-position-object-stage`` a position object is placed on."""
    shuffle: bool = False
    max_choices: int | None = None
    min_choices: int | None = None
    max_associations: int | None = None
    min_associations: int | None = None
    orientation: str | None = None
    expected_length: int | None = None
    expected_lines: int | None = None
    pattern_mask: str | None = None
    placeholder_text: str | None = None
    format: str | None = None
    base: int | None = None
    string_identifier: str | None = None
    max_strings: int | None = None
    min_strings: int | None = None
    lower_bound: float | None = None
    upper_bound: float | None = None
    step: float | None = None
    step_label: bool | None = None
    reverse: bool | None = None
    required: bool | None = None
    upload_types: tuple[str, ...] = ()
    title: str | None = None
    """The label of an end attempt interaction's button."""
    autostart: bool | None = None
    min_plays: int | None = None
    max_plays: int | None = None
    """How often a media interaction's sound or video may be played (0 or ``None``: no limit)."""
    loop: bool | None = None
    pci: PortableCustom | None = None
    """A portable custom interaction's modules, markup and configuration."""
    attributes: dict[str, str] = Field(default_factory=dict)

    def choice_identifiers(self) -> list[str]:
        """Every identifier a response to this interaction may use, in document order."""
        ids = [c.identifier for c in self.choices]
        for match_set in self.match_sets:
            ids.extend(c.identifier for c in match_set)
        ids.extend(g.identifier for g in self.gaps)
        ids.extend(h.identifier for h in self.hotspots)
        return ids


# --- declarations -----------------------------------------------------------------------------


class MapEntry(_Frozen):
    key: Any
    """The mapped value, in its JSON response shape (``"A"``, ``["A", "B"]``, ``"Paris"``)."""
    value: float
    case_sensitive: bool = True
    """Only meaningful for string keys: ``False`` matches whatever the letter case."""


class ResponseMapping(_Frozen):
    """A ``qti-mapping``: response values to floats, summed over containers, then bounded."""

    default_value: float = 0.0
    lower_bound: float | None = None
    upper_bound: float | None = None
    entries: tuple[MapEntry, ...] = ()


class AreaMapEntry(_Frozen):
    shape: Shape
    coords: tuple[float, ...] = ()
    value: float


class AreaMapping(_Frozen):
    """A ``qti-area-mapping``: points to floats by the first area containing them."""

    default_value: float = 0.0
    lower_bound: float | None = None
    upper_bound: float | None = None
    entries: tuple[AreaMapEntry, ...] = ()


class ResponseDeclaration(_Frozen):
    identifier: str
    cardinality: Cardinality
    base_type: BaseType | None = None
    """``None`` only for record cardinality."""
    correct_response: Any = None
    default_value: Any = None
    mapping: ResponseMapping | None = None
    area_mapping: AreaMapping | None = None


class MatchTableEntry(_Frozen):
    source: int
    target: Any
    """In the JSON shape of the outcome's base type."""


class MatchTable(_Frozen):
    """A ``qti-match-table``: an integer to the value of the entry whose source equals it,
    else ``default_value`` (NULL when there is none)."""

    default_value: Any = None
    entries: tuple[MatchTableEntry, ...] = ()


class InterpolationTableEntry(_Frozen):
    source: float
    target: Any
    include_boundary: bool = True
    """Whether a value equal to ``source`` falls in this entry (else it must exceed it)."""


class InterpolationTable(_Frozen):
    """A ``qti-interpolation-table``: a number to the value of the first entry (in document
    order) whose source it exceeds (or equals, with ``include_boundary``), else
    ``default_value`` (NULL when there is none)."""

    default_value: Any = None
    entries: tuple[InterpolationTableEntry, ...] = ()


class OutcomeDeclaration(_Frozen):
    identifier: str
    cardinality: Cardinality = Cardinality.SINGLE
    base_type: BaseType | None = None
    default_value: Any = None
    normal_maximum: float | None = None
    normal_minimum: float | None = None
    mastery_value: float | None = None
    external_scored: str | None = None
    match_table: MatchTable | None = None
    interpolation_table: InterpolationTable | None = None
    """The lookup table ``lookupOutcomeValue`` uses (one of the two at most)."""
    attributes: dict[str, str] = Field(default_factory=dict)


class ContextDeclaration(_Frozen):
    """A ``qti-context-declaration`` (QTI 3.0): a variable the delivery system sets and
    processing only reads; it holds its default value unless given one when scoring."""

    identifier: str
    cardinality: Cardinality = Cardinality.SINGLE
    base_type: BaseType | None = None
    """``None`` only for record cardinality (``QTI_CONTEXT`` is a record)."""
    default_value: Any = None


# --- response processing rules ----------------------------------------------------------------


class Expression(_Frozen):
    """One expression of a response processing rule tree.

    ``op`` is the QTI expression name in snake_case (``map_response``, ``is_null``...);
    ``attrs`` its parsed attributes in snake_case (``identifier``, ``base_type``,
    ``tolerance_mode``...); ``args`` its sub-expressions. As a dict the attributes sit next
    to ``op`` (``{"op": "variable", "identifier": "RESPONSE"}``).
    """

    op: str
    args: tuple[Expression, ...] = ()
    attrs: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _gather_attrs(cls, data: Any) -> Any:
        if isinstance(data, dict) and "attrs" not in data:
            attrs = {k: v for k, v in data.items() if k not in ("op", "args")}
            gathered: dict[str, Any] = {"op": data.get("op"), "attrs": attrs}
            if "args" in data:
                gathered["args"] = data["args"]
            return gathered
        return data

    @model_serializer(mode="wrap")
    def _flatten(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        dumped: dict[str, Any] = handler(self)
        if "attrs" not in dumped:
            # Already flattened (pydantic applies a recursive model's wrap serializer to its
            # own output once more), or no attributes at all.
            return dumped
        attrs = dumped.pop("attrs") or {}
        out: dict[str, Any] = {"op": dumped.pop("op", self.op)}
        out.update(attrs)
        if dumped.get("args"):
            out["args"] = dumped["args"]
        return out

    def walk(self) -> Iterator[Expression]:
        """This expression and every sub-expression, depth first."""
        yield self
        for arg in self.args:
            yield from arg.walk()


class _RuleModel(_Frozen):
    """A rule; its ``rule`` tag is always written, even where it is the field's default,
    because it tells the kinds of rule apart when a stored item is read back."""

    rule: str

    @model_serializer(mode="wrap")
    def _tagged(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        dumped: dict[str, Any] = handler(self)
        return {"rule": self.rule, **dumped}


class SetOutcomeValue(_RuleModel):
    rule: Literal["set_outcome_value"] = "set_outcome_value"
    identifier: str
    expression: Expression


class LookupOutcomeValue(_RuleModel):
    """Sets an outcome to what its declaration's match or interpolation table gives for
    the value of ``expression``."""

    rule: Literal["lookup_outcome_value"] = "lookup_outcome_value"
    identifier: str
    expression: Expression


class ExitResponse(_RuleModel):
    rule: Literal["exit_response"] = "exit_response"


class ResponseBranch(_Frozen):
    condition: Expression
    rules: tuple[Rule, ...] = ()


class ResponseCondition(_RuleModel):
    """``responseIf`` (the first branch), ``responseElseIf`` (the others), ``responseElse``."""

    rule: Literal["response_condition"] = "response_condition"
    branches: tuple[ResponseBranch, ...]
    otherwise: tuple[Rule, ...] | None = None


Rule = Annotated[
    SetOutcomeValue | LookupOutcomeValue | ResponseCondition | ExitResponse,
    Field(discriminator="rule"),
]
ResponseBranch.model_rebuild()
ResponseCondition.model_rebuild()


# --- template processing (cloned items) ---------------------------------------------------


class TemplateDeclaration(_Frozen):
    """A ``qti-template-declaration``: a variable whose value template processing chooses
    per candidate (docs/response-processing.md, "Item templates")."""

    identifier: str
    cardinality: Cardinality = Cardinality.SINGLE
    base_type: BaseType | None = None
    default_value: Any = None
    param_variable: bool = False
    """Its value replaces ``{identifier}`` references in the body's attributes."""
    math_variable: bool = False
    """Its value replaces MathML ``<mi>identifier</mi>`` in the body."""


class SetTemplateValue(_RuleModel):
    rule: Literal["set_template_value"] = "set_template_value"
    identifier: str
    expression: Expression


class SetCorrectResponse(_RuleModel):
    rule: Literal["set_correct_response"] = "set_correct_response"
    identifier: str
    expression: Expression


class SetDefaultValue(_RuleModel):
    rule: Literal["set_default_value"] = "set_default_value"
    identifier: str
    expression: Expression


class TemplateConstraint(_RuleModel):
    """Template processing starts again while the expression is not true (at most
    :data:`~waa_ads.content.item.templates.MAX_TEMPLATE_TRIES` times, then the defaults)."""

    rule: Literal["template_constraint"] = "template_constraint"
    expression: Expression


class ExitTemplate(_RuleModel):
    rule: Literal["exit_template"] = "exit_template"


class TemplateBranch(_Frozen):
    condition: Expression
    rules: tuple[TemplateRule, ...] = ()


class TemplateCondition(_RuleModel):
    """``templateIf`` (the first branch), ``templateElseIf`` (the others), ``templateElse``."""

    rule: Literal["template_condition"] = "template_condition"
    branches: tuple[TemplateBranch, ...]
    otherwise: tuple[TemplateRule, ...] | None = None


TemplateRule = Annotated[
    SetTemplateValue
    | SetCorrectResponse
    | SetDefaultValue
    | TemplateConstraint
    | ExitTemplate
    | TemplateCondition,
    Field(discriminator="rule"),
]
TemplateBranch.model_rebuild()
TemplateCondition.model_rebuild()


class ResponseProcessing(_Frozen):
    """How an item is scored: a standard template, a rule tree, or (rarely) both, in which
    case the item's own rules are used and the template is kept for export."""

    template: str | None = None
    """Canonical template name: ``match_correct``, ``map_response``, ``map_response_point``,
    ``CC2_match``, ``CC2_match_basic`` or ``CC2_map_response``."""
    rules: tuple[Rule, ...] | None = None


# --- item-level extras ----------------------------------------------------------------------


class ModalFeedback(_Frozen):
    outcome_identifier: str
    identifier: str
    show_hide: Literal["show", "hide"] = "show"
    title: str | None = None
    content: str = ""


class StimulusRef(_Frozen):
    """A shared stimulus the item is shown beside (QTI ``qti-assessment-stimulus-ref``):
    the stimulus is a bank object of its own (``content/stimuli.py``), found by its
    ``identifier`` in the item's bank; ``href`` is where a package holds its file."""

    identifier: str
    href: str
    title: str | None = None


class CardEntry(_Frozen):
    """One version of a card's content (QTI ``qti-card-entry``): most often one language
    of a keyword translation."""

    language: str | None = None
    """The entry's ``xml:lang``."""
    default: bool = False
    """The entry to use when none matches the candidate's needs."""
    content: str = ""
    """Its ``qti-html-content``, sanitized as an item body is."""


class CatalogCard(_Frozen):
    """One accessibility support for the content that refers to the catalog (QTI
    ``qti-card``): content that stays dormant until a candidate needs it."""

    support: str
    """The QTI support name (``glossary-on-screen``, ``keyword-translation``, ``spoken``,
    ``sign-language``, ``braille``, ``linguistic-guidance``... or an ``ext:`` extension);
    any name is kept, whether or not the player shows it."""
    content: str = ""
    """The card's own ``qti-html-content`` (sanitized), when it has no entries."""
    entries: tuple[CardEntry, ...] = ()


class Catalog(_Frozen):
    """The cards for one part of the item body (QTI ``qti-catalog``); body elements refer
    to it by ``data-catalog-idref``."""

    identifier: str
    cards: tuple[CatalogCard, ...] = ()


class ItemDefinition(_Frozen):
    """One item, ready to render, store, export and score."""

    identifier: str
    title: str
    language: str | None = None
    label: str | None = None
    adaptive: bool = False
    """Responses are processed at each attempt of the item, outcomes carried from one
    attempt to the next, until response processing sets ``completionStatus`` to
    ``completed`` (docs/response-processing.md, "Adaptive items")."""
    time_dependent: bool = False
    tool_name: str | None = None
    tool_version: str | None = None
    body: str
    interactions: tuple[Interaction, ...] = ()
    response_declarations: tuple[ResponseDeclaration, ...] = ()
    outcome_declarations: tuple[OutcomeDeclaration, ...] = ()
    context_declarations: tuple[ContextDeclaration, ...] = ()
    response_processing: ResponseProcessing | None = None
    template_declarations: tuple[TemplateDeclaration, ...] = ()
    template_processing: tuple[TemplateRule, ...] | None = None
    """Chooses the template variables' values (and may set correct responses and default
    values) per candidate; ``None`` when the item has none."""
    modal_feedback: tuple[ModalFeedback, ...] = ()
    stylesheets: tuple[Stylesheet, ...] = ()
    stimuli: tuple[StimulusRef, ...] = ()
    """The shared stimuli shown beside the item, in document order. The bank pins each
    to the stimulus version it holds when the item version is stored
    (``metadata.stimuli``: identifier to the version's content hash)."""
    catalogs: tuple[Catalog, ...] = ()
    """The item's accessibility catalogs (QTI ``qti-catalog-info``), in document order."""
    rubric_ref: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    import_notes: tuple[str, ...] = ()
    """What loading changed (markup the sanitizer removed), for the author to review."""

    def response_declaration(self, identifier: str) -> ResponseDeclaration | None:
        for declaration in self.response_declarations:
            if declaration.identifier == identifier:
                return declaration
        return None

    def outcome_declaration(self, identifier: str) -> OutcomeDeclaration | None:
        for declaration in self.outcome_declarations:
            if declaration.identifier == identifier:
                return declaration
        return None

    def template_declaration(self, identifier: str) -> TemplateDeclaration | None:
        for declaration in self.template_declarations:
            if declaration.identifier == identifier:
                return declaration
        return None

    @property
    def is_template(self) -> bool:
        """Whether the item is cloned: its values differ from one candidate to another."""
        return bool(self.template_declarations) or self.template_processing is not None

    def catalog(self, identifier: str) -> Catalog | None:
        for catalog in self.catalogs:
            if catalog.identifier == identifier:
                return catalog
        return None

    def interaction_for(self, response_identifier: str) -> Interaction | None:
        for interaction in self.interactions:
            if interaction.response_identifier == response_identifier:
                return interaction
        return None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (what the item bank stores); fields at their defaults omitted."""
        return self.model_dump(mode="json", exclude_defaults=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ItemDefinition:
        """Rebuild an item from :meth:`to_dict` output; malformed data raises
        :class:`ItemFormatError` naming the offending field."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "item"
            raise ItemFormatError(
                f"invalid stored item at {where}: {first['msg']}"
                + (f" (and {exc.error_count() - 1} more problems)" if exc.error_count() > 1 else "")
            ) from None
