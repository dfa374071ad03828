"""Writing items as QTI 3.0 XML (``imsqtiasi_v3p0``, ``qti-`` kebab-case names).

:func:`write_item` is the inverse of :func:`waa_ads.content.interchange.qti.reader.parse_item` for
everything the model holds: reading what it writes gives back an equal item (the item
bank's ``metadata``, ``rubric_ref`` and ``import_notes`` live outside QTI and are not
written). The builders for declarations, rules and interactions are public because the
native loader assembles QTI through them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lxml import etree

from waa_ads.content.interchange.qti.common import (
    QTI3_NS,
    QTI3_SCHEMA_LOCATION,
    XML_NS,
    XSI_NS,
    fragment_nodes,
    parse_document,
    pictures_as_images,
    rebuild,
)
from waa_ads.content.item.definition import (
    INLINE_INTERACTIONS,
    INTERACTION_ELEMENTS,
    AreaMapping,
    BaseType,
    Cardinality,
    Choice,
    ContextDeclaration,
    ExitResponse,
    ExitTemplate,
    Expression,
    Interaction,
    InteractionType,
    ItemDefinition,
    ItemFormatError,
    LookupOutcomeValue,
    ModalFeedback,
    OutcomeDeclaration,
    ResponseBranch,
    ResponseCondition,
    ResponseDeclaration,
    ResponseMapping,
    ResponseProcessing,
    Rule,
    SetCorrectResponse,
    SetDefaultValue,
    SetOutcomeValue,
    SetTemplateValue,
    Stylesheet,
    TemplateBranch,
    TemplateCondition,
    TemplateConstraint,
    TemplateDeclaration,
    TemplateRule,
)
from waa_ads.content.item.processing import kebab_name, qti3_name, template_url
from waa_ads.content.item.responses import format_qti_value, record_field_base_type
from waa_ads.content.item.truefalse import as_identifier_choices


def _root_nsmap() -> Any:
    return {None: QTI3_NS, "xsi": XSI_NS}


def _q(local: str) -> str:
    return f"{{{QTI3_NS}}}{local}"


def _num(value: float) -> str:
    """A number as QTI writes it: ``1`` rather than ``1.0``, full precision otherwise."""
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _sub(parent: etree._Element, local: str, **attrs: str | None) -> etree._Element:
    element = etree.SubElement(parent, _q(local))
    for name, value in attrs.items():
        if value is not None:
            element.set(name.replace("_", "-"), value)
    return element


def _append_fragment(element: etree._Element, fragment: str, what: str) -> None:
    if fragment:
        rebuild(fragment_nodes(fragment, what=what), element, QTI3_NS)


# --- declarations -----------------------------------------------------------------------------


def _values(
    parent: etree._Element,
    local: str,
    cardinality: Cardinality,
    base_type: BaseType | None,
    value: Any,
) -> None:
    if value is None:
        return
    container = _sub(parent, local)
    if cardinality is Cardinality.RECORD:
        for field, field_value in value.items():
            field_type = record_field_base_type(field_value)
            item = _sub(container, "qti-value", field_identifier=field, base_type=field_type.value)
            item.text = format_qti_value(field_type, field_value)
        return
    assert base_type is not None
    values = [value] if cardinality is Cardinality.SINGLE else list(value)
    for single in values:
        _sub(container, "qti-value").text = format_qti_value(base_type, single)


def _mapping_attrs(mapping: ResponseMapping | AreaMapping) -> dict[str, str | None]:
    return {
        "default_value": _num(mapping.default_value),
        "lower_bound": None if mapping.lower_bound is None else _num(mapping.lower_bound),
        "upper_bound": None if mapping.upper_bound is None else _num(mapping.upper_bound),
    }


def _coords(coords: tuple[float, ...]) -> str:
    return ",".join(_num(c) for c in coords)


def response_declaration_element(
    parent: etree._Element, declaration: ResponseDeclaration
) -> etree._Element:
    """Append a ``qti-response-declaration`` for ``declaration`` to ``parent``."""
    element = _sub(
        parent,
        "qti-response-declaration",
        identifier=declaration.identifier,
        cardinality=declaration.cardinality.value,
        base_type=None if declaration.base_type is None else declaration.base_type.value,
    )
    card, base = declaration.cardinality, declaration.base_type
    _values(element, "qti-default-value", card, base, declaration.default_value)
    _values(element, "qti-correct-response", card, base, declaration.correct_response)
    if declaration.mapping is not None:
        assert base is not None
        mapping = _sub(element, "qti-mapping", **_mapping_attrs(declaration.mapping))
        for entry in declaration.mapping.entries:
            _sub(
                mapping,
                "qti-map-entry",
                map_key=format_qti_value(base, entry.key),
                mapped_value=_num(entry.value),
                case_sensitive=_flag(entry.case_sensitive),
            )
    if declaration.area_mapping is not None:
        area = _sub(element, "qti-area-mapping", **_mapping_attrs(declaration.area_mapping))
        for area_entry in declaration.area_mapping.entries:
            _sub(
                area,
                "qti-area-map-entry",
                shape=area_entry.shape.value,
                coords=_coords(area_entry.coords),
                mapped_value=_num(area_entry.value),
            )
    return element


def outcome_declaration_element(
    parent: etree._Element, declaration: OutcomeDeclaration
) -> etree._Element:
    """Append a ``qti-outcome-declaration`` for ``declaration`` to ``parent``."""
    element = _sub(
        parent,
        "qti-outcome-declaration",
        identifier=declaration.identifier,
        cardinality=declaration.cardinality.value,
        base_type=None if declaration.base_type is None else declaration.base_type.value,
        normal_maximum=_opt_num(declaration.normal_maximum),
        normal_minimum=_opt_num(declaration.normal_minimum),
        mastery_value=_opt_num(declaration.mastery_value),
        external_scored=declaration.external_scored,
    )
    _set_attributes(element, declaration.attributes)
    _values(
        element,
        "qti-default-value",
        declaration.cardinality,
        declaration.base_type,
        declaration.default_value,
    )
    if declaration.base_type is not None:
        _lookup_table_element(element, declaration.base_type, declaration)
    return element


def _lookup_table_element(
    parent: etree._Element, base_type: BaseType, declaration: OutcomeDeclaration
) -> None:
    def text(value: Any) -> str | None:
        return None if value is None else format_qti_value(base_type, value)

    if declaration.match_table is not None:
        match = declaration.match_table
        table = _sub(parent, "qti-match-table", default_value=text(match.default_value))
        for entry in match.entries:
            _sub(
                table,
                "qti-match-table-entry",
                source_value=str(entry.source),
                target_value=text(entry.target),
            )
    if declaration.interpolation_table is not None:
        steps = declaration.interpolation_table
        table = _sub(parent, "qti-interpolation-table", default_value=text(steps.default_value))
        for step in steps.entries:
            _sub(
                table,
                "qti-interpolation-table-entry",
                source_value=_num(step.source),
                include_boundary=None if step.include_boundary else "false",
                target_value=text(step.target),
            )


def context_declaration_element(
    parent: etree._Element, declaration: ContextDeclaration
) -> etree._Element:
    """Append a ``qti-context-declaration`` for ``declaration`` to ``parent``."""
    element = _sub(
        parent,
        "qti-context-declaration",
        identifier=declaration.identifier,
        cardinality=declaration.cardinality.value,
        base_type=None if declaration.base_type is None else declaration.base_type.value,
    )
    _values(
        element,
        "qti-default-value",
        declaration.cardinality,
        declaration.base_type,
        declaration.default_value,
    )
    return element


def _opt_num(value: float | None) -> str | None:
    return None if value is None else _num(value)


def _set_attributes(element: etree._Element, attributes: dict[str, str]) -> None:
    for name, value in attributes.items():
        if name.startswith("xml:"):
            element.set(f"{{{XML_NS}}}{name[4:]}", value)
        else:
            element.set(name, value)


# --- rules ------------------------------------------------------------------------------------


def _attr_text(value: Any, name: str) -> str:
    if isinstance(value, bool):
        return _flag(value)
    if isinstance(value, list | tuple):
        separator = "," if name == "coords" else " "
        return separator.join(_num(v) for v in value)
    if isinstance(value, float):
        return _num(value)
    return str(value)


def expression_element(parent: etree._Element, expression: Expression) -> etree._Element:
    """Append the QTI 3.0 element of ``expression`` (and its sub-expressions)."""
    element = etree.SubElement(parent, _q(qti3_name(expression.op)))
    for name, value in expression.attrs.items():
        if expression.op == "base_value" and name == "value":
            continue
        element.set(kebab_name(name), _attr_text(value, name))
    if expression.op == "base_value":
        element.text = format_qti_value(
            BaseType(expression.attrs["base_type"]), expression.attrs["value"]
        )
    for arg in expression.args:
        expression_element(element, arg)
    return element


def rule_elements(parent: etree._Element, rules: tuple[Rule, ...]) -> None:
    """Append the QTI 3.0 elements of response rules to ``parent``."""
    for rule in rules:
        if isinstance(rule, SetOutcomeValue):
            element = _sub(parent, "qti-set-outcome-value", identifier=rule.identifier)
            expression_element(element, rule.expression)
        elif isinstance(rule, LookupOutcomeValue):
            element = _sub(parent, "qti-lookup-outcome-value", identifier=rule.identifier)
            expression_element(element, rule.expression)
        elif isinstance(rule, ResponseCondition):
            _condition_element(parent, "response", rule, rule_elements)
        elif isinstance(rule, ExitResponse):
            _sub(parent, "qti-exit-response")


def _condition_element(
    parent: etree._Element,
    kind: str,
    rule: ResponseCondition | TemplateCondition,
    write_rules: Callable[[etree._Element, Any], None],
) -> None:
    """Append a ``qti-<kind>-condition``: its if, else-if and else branches, each with its
    condition expression and its rules (``write_rules``)."""
    condition = _sub(parent, f"qti-{kind}-condition")
    branches: tuple[ResponseBranch | TemplateBranch, ...] = rule.branches
    for position, branch in enumerate(branches):
        branch_el = _sub(condition, f"qti-{kind}-if" if position == 0 else f"qti-{kind}-else-if")
        expression_element(branch_el, branch.condition)
        write_rules(branch_el, branch.rules)
    if rule.otherwise is not None:
        write_rules(_sub(condition, f"qti-{kind}-else"), rule.otherwise)


def template_declaration_element(
    parent: etree._Element, declaration: TemplateDeclaration
) -> etree._Element:
    """Append a ``qti-template-declaration`` for ``declaration`` to ``parent``."""
    element = _sub(
        parent,
        "qti-template-declaration",
        identifier=declaration.identifier,
        cardinality=declaration.cardinality.value,
        base_type=None if declaration.base_type is None else declaration.base_type.value,
        param_variable=_flag(declaration.param_variable) if declaration.param_variable else None,
        math_variable=_flag(declaration.math_variable) if declaration.math_variable else None,
    )
    _values(
        element,
        "qti-default-value",
        declaration.cardinality,
        declaration.base_type,
        declaration.default_value,
    )
    return element


def template_rule_elements(parent: etree._Element, rules: tuple[TemplateRule, ...]) -> None:
    """Append the QTI 3.0 elements of template rules to ``parent``."""
    for rule in rules:
        if isinstance(rule, SetTemplateValue | SetCorrectResponse | SetDefaultValue):
            local = qti3_name(rule.rule)
            expression_element(_sub(parent, local, identifier=rule.identifier), rule.expression)
        elif isinstance(rule, TemplateConstraint):
            expression_element(_sub(parent, "qti-template-constraint"), rule.expression)
        elif isinstance(rule, TemplateCondition):
            _condition_element(parent, "template", rule, template_rule_elements)
        elif isinstance(rule, ExitTemplate):
            _sub(parent, "qti-exit-template")


def response_processing_element(
    parent: etree._Element, processing: ResponseProcessing
) -> etree._Element:
    """Append ``qti-response-processing``: a template reference, rules, or both."""
    element = _sub(parent, "qti-response-processing")
    if processing.template is not None:
        element.set("template", template_url(processing.template))
    if processing.rules is not None:
        rule_elements(element, processing.rules)
    return element


# --- interactions -----------------------------------------------------------------------------


def _choice_element(parent: etree._Element, local: str, choice: Choice) -> etree._Element:
    element = _sub(
        parent,
        local,
        identifier=choice.identifier,
        fixed="true" if choice.fixed else None,
        match_max=None if choice.match_max is None else str(choice.match_max),
        match_min=None if choice.match_min is None else str(choice.match_min),
        shape=None if choice.shape is None else choice.shape.value,
        coords=_coords(choice.coords) if choice.coords else None,
    )
    _set_attributes(element, choice.attributes)
    _append_fragment(element, choice.content, f"content of choice {choice.identifier}")
    return element


_SHUFFLING = frozenset(
    {
        InteractionType.CHOICE,
        InteractionType.ORDER,
        InteractionType.ASSOCIATE,
        InteractionType.MATCH,
        InteractionType.GAP_MATCH,
        InteractionType.INLINE_CHOICE,
    }
)


def interaction_element(parent: etree._Element, interaction: Interaction) -> etree._Element:
    """Append the QTI 3.0 element of a structured interaction to ``parent``."""
    kind = interaction.type
    ints = {
        "max_choices": interaction.max_choices,
        "min_choices": interaction.min_choices,
        "max_associations": interaction.max_associations,
        "min_associations": interaction.min_associations,
        "expected_length": interaction.expected_length,
        "expected_lines": interaction.expected_lines,
        "base": interaction.base,
        "max_strings": interaction.max_strings,
        "min_strings": interaction.min_strings,
        "min_plays": interaction.min_plays,
        "max_plays": interaction.max_plays,
    }
    element = _sub(
        parent,
        INTERACTION_ELEMENTS[kind],
        response_identifier=interaction.response_identifier,
        shuffle=_flag(interaction.shuffle) if kind in _SHUFFLING else None,
        orientation=interaction.orientation,
        pattern_mask=interaction.pattern_mask,
        placeholder_text=interaction.placeholder_text,
        format=interaction.format,
        string_identifier=interaction.string_identifier,
        lower_bound=_opt_num(interaction.lower_bound),
        upper_bound=_opt_num(interaction.upper_bound),
        step=_opt_num(interaction.step),
        step_label=None if interaction.step_label is None else _flag(interaction.step_label),
        reverse=None if interaction.reverse is None else _flag(interaction.reverse),
        required=None if interaction.required is None else _flag(interaction.required),
        type=" ".join(interaction.upload_types) or None,
        title=interaction.title,
        autostart=None if interaction.autostart is None else _flag(interaction.autostart),
        loop=None if interaction.loop is None else _flag(interaction.loop),
        **{k: None if v is None else str(v) for k, v in ints.items()},
    )
    _set_attributes(element, interaction.attributes)
    if kind is InteractionType.POSITION_OBJECT and interaction.stage is not None:
        # A position object is placed on a stage: written inside one, after its picture.
        stage = _sub(parent, "qti-position-object-stage")
        _append_fragment(stage, interaction.stage.markup, "stage")
        parent.remove(element)
        stage.append(element)
    if interaction.prompt is not None:
        if kind in INLINE_INTERACTIONS:
            raise ItemFormatError(f"a {kind} interaction cannot have a prompt")
        _append_fragment(_sub(element, "qti-prompt"), interaction.prompt, "prompt")
    if interaction.graphic is not None:
        _append_fragment(element, interaction.graphic.markup, "graphic")
    choice_tag = {
        InteractionType.CHOICE: "qti-simple-choice",
        InteractionType.ORDER: "qti-simple-choice",
        InteractionType.INLINE_CHOICE: "qti-inline-choice",
        InteractionType.ASSOCIATE: "qti-simple-associable-choice",
        InteractionType.HOTSPOT: "qti-hotspot-choice",
        InteractionType.GRAPHIC_ORDER: "qti-hotspot-choice",
        InteractionType.GRAPHIC_ASSOCIATE: "qti-associable-hotspot",
    }.get(kind)
    if choice_tag is not None:
        for choice in interaction.choices:
            _choice_element(element, choice_tag, choice)
    elif kind is InteractionType.MATCH:
        for match_set in interaction.match_sets:
            set_el = _sub(element, "qti-simple-match-set")
            for choice in match_set:
                _choice_element(set_el, "qti-simple-associable-choice", choice)
    elif kind in (InteractionType.GAP_MATCH, InteractionType.GRAPHIC_GAP_MATCH):
        for choice in interaction.choices:
            _choice_element(element, "qti-gap-img" if choice.image else "qti-gap-text", choice)
        for hotspot in interaction.hotspots:
            _choice_element(element, "qti-associable-hotspot", hotspot)
    if kind in (InteractionType.GAP_MATCH, InteractionType.HOTTEXT):
        _append_fragment(element, interaction.content or "", f"content of {kind}")
    if kind is InteractionType.PORTABLE_CUSTOM and interaction.pci is not None:
        pci = interaction.pci
        element.set("custom-interaction-type-identifier", pci.type_identifier)
        if pci.module is not None:
            element.set("module", pci.module)
        for name, value in pci.properties.items():
            element.set(f"data-{name}", value)
        modules = _sub(
            element,
            "qti-interaction-modules",
            primary_configuration=pci.primary_configuration,
            fallback_configuration=pci.fallback_configuration,
        )
        for module in pci.modules:
            _sub(
                modules,
                "qti-interaction-module",
                id=module.id,
                primary_path=module.primary_path,
                fallback_path=module.fallback_path,
            )
        for variable in pci.context_variables:
            _sub(
                element,
                "qti-context-variable",
                identifier=variable.identifier,
                pci_identifier=variable.pci_identifier,
            )
        for variable in pci.template_variables:
            _sub(
                element,
                "qti-template-variable",
                template_identifier=variable.identifier,
                pci_identifier=variable.pci_identifier,
            )
        for sheet in pci.stylesheets:
            _sub(
                element,
                "qti-stylesheet",
                href=sheet.href,
                type=sheet.type,
                media=sheet.media,
                title=sheet.title,
            )
        _append_fragment(_sub(element, "qti-interaction-markup"), pci.markup, "PCI markup")
    return element


# --- the item ---------------------------------------------------------------------------------


def _modal_feedback_element(parent: etree._Element, feedback: ModalFeedback) -> None:
    element = _sub(
        parent,
        "qti-modal-feedback",
        outcome_identifier=feedback.outcome_identifier,
        identifier=feedback.identifier,
        show_hide=feedback.show_hide,
        title=feedback.title,
    )
    # QTI 3.0 holds the feedback's content in a qti-content-body.
    what = f"modal feedback {feedback.identifier}"
    holder = fragment_nodes(feedback.content, what=what) if feedback.content else None
    children = [] if holder is None else [c for c in holder if isinstance(c.tag, str)]
    wrapped = (
        holder is not None
        and len(children) == 1
        and children[0].tag == _q("qti-content-body")
        and not (holder.text or "").strip()
        and not (children[0].tail or "").strip()
    )
    _append_fragment(
        element if wrapped else _sub(element, "qti-content-body"), feedback.content, what
    )


def _catalog_info_element(parent: etree._Element, item: ItemDefinition) -> None:
    info = _sub(parent, "qti-catalog-info")
    for catalog in item.catalogs:
        catalog_element = _sub(info, "qti-catalog", id=catalog.identifier)
        for card in catalog.cards:
            card_element = _sub(catalog_element, "qti-card", support=card.support)
            what = f"catalog {catalog.identifier}, card {card.support}"
            if card.content or not card.entries:
                _append_fragment(_sub(card_element, "qti-html-content"), card.content, what)
            for entry in card.entries:
                entry_element = _sub(card_element, "qti-card-entry")
                if entry.language is not None:
                    entry_element.set(f"{{{XML_NS}}}lang", entry.language)
                if entry.default:
                    entry_element.set("default", "true")
                _append_fragment(_sub(entry_element, "qti-html-content"), entry.content, what)


def _graphics_as_images(body: etree._Element) -> None:
    """Write each picture ``object`` (a graphic interaction's, or one in running content)
    as an ``img``: items stored before the reader made pictures ``img``s may still hold
    a QTI 2 ``object``."""
    for element in list(body.iter()):
        if isinstance(element.tag, str):
            pictures_as_images(element)
            # Items stored before the reader did so: QTI 3.0 has no fixed on hotspot
            # choices and gaps, and a rubric block states its use.
            if (
                element.tag
                in (_q("qti-hotspot-choice"), _q("qti-associable-hotspot"), _q("qti-gap"))
                and "fixed" in element.attrib
            ):
                del element.attrib["fixed"]
            elif element.tag == _q("qti-rubric-block") and element.get("use") is None:
                element.set("use", "instructions")


def _stylesheet_element(parent: etree._Element, stylesheet: Stylesheet) -> None:
    _sub(
        parent,
        "qti-stylesheet",
        href=stylesheet.href,
        type=stylesheet.type,
        media=stylesheet.media,
        title=stylesheet.title,
    )


def item_element(item: ItemDefinition) -> etree._Element:
    """The ``qti-assessment-item`` element of ``item``, children in the QTI 3.0 order.

    A boolean true/false response is written as the identifier response QTI 3.0 binds to
    a choice interaction (:mod:`~waa_ads.content.item.truefalse`)."""
    item = as_identifier_choices(item)
    root = etree.Element(_q("qti-assessment-item"), nsmap=_root_nsmap())
    root.set(f"{{{XSI_NS}}}schemaLocation", QTI3_SCHEMA_LOCATION)
    root.set("identifier", item.identifier)
    root.set("title", item.title)
    if item.label is not None:
        root.set("label", item.label)
    if item.language is not None:
        root.set(f"{{{XML_NS}}}lang", item.language)
    root.set("adaptive", _flag(item.adaptive))
    root.set("time-dependent", _flag(item.time_dependent))
    if item.tool_name is not None:
        root.set("tool-name", item.tool_name)
    if item.tool_version is not None:
        root.set("tool-version", item.tool_version)
    for context in item.context_declarations:
        context_declaration_element(root, context)
    for response in item.response_declarations:
        response_declaration_element(root, response)
    for outcome in item.outcome_declarations:
        outcome_declaration_element(root, outcome)
    for template in item.template_declarations:
        template_declaration_element(root, template)
    if item.template_processing is not None:
        template_rule_elements(_sub(root, "qti-template-processing"), item.template_processing)
    for stimulus in item.stimuli:
        _sub(
            root,
            "qti-assessment-stimulus-ref",
            identifier=stimulus.identifier,
            href=stimulus.href,
            title=stimulus.title,
        )
    for stylesheet in item.stylesheets:
        _stylesheet_element(root, stylesheet)
    parsed_body = parse_document(item.body, what="item body")
    body = _sub(root, "qti-item-body")
    for name, value in parsed_body.attrib.items():
        body.set(str(name), str(value))
    rebuild(parsed_body, body, QTI3_NS)
    _graphics_as_images(body)
    _pci_stylesheets(body, item.interactions)
    if item.catalogs:
        _catalog_info_element(root, item)
    if item.response_processing is not None:
        response_processing_element(root, item.response_processing)
    for feedback in item.modal_feedback:
        _modal_feedback_element(root, feedback)
    return root


def _indent_outside_body(root: etree._Element) -> None:
    """Indent declarations and rules for people to read; the body and fragments are left
    exactly as they are, since whitespace there is content."""

    def indent(element: etree._Element, level: int) -> None:
        children = [c for c in element if isinstance(c.tag, str)]
        if not children or (element.text and element.text.strip()):
            return
        local = etree.QName(element).localname
        if local in (
            "qti-item-body",
            "qti-modal-feedback",
            "qti-html-content",
            "qti-base-value",
            "qti-value",
        ):
            return
        pad = "\n" + "  " * (level + 1)
        element.text = pad
        for child in children:
            child.tail = pad
            indent(child, level + 1)
        children[-1].tail = "\n" + "  " * level

    indent(root, 0)


def _pci_stylesheets(body: etree._Element, interactions: tuple[Interaction, ...]) -> None:
    """Put each portable custom interaction's own style sheets back inside it, before its
    markup: the stored body holds none (the sanitizer removes every ``qti-stylesheet``
    of a body; the interaction keeps them)."""
    sheets = [i.pci.stylesheets for i in interactions if i.pci is not None]
    elements = list(body.iter(_q("qti-portable-custom-interaction")))
    if len(sheets) != len(elements):
        return
    for element, found in zip(elements, sheets, strict=True):
        if not found or element.find(_q("qti-stylesheet")) is not None:
            continue
        markup = element.find(_q("qti-interaction-markup"))
        for sheet in found:
            new = etree.Element(_q("qti-stylesheet"))
            for name, value in (
                ("href", sheet.href),
                ("type", sheet.type),
                ("media", sheet.media),
                ("title", sheet.title),
            ):
                if value is not None:
                    new.set(name, value)
            if markup is not None:
                markup.addprevious(new)
            else:
                element.append(new)


def write_item(item: ItemDefinition) -> bytes:
    """``item`` as a QTI 3.0 document (UTF-8, with an XML declaration)."""
    root = item_element(item)
    _indent_outside_body(root)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")
