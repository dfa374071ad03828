"""Cross-reference checks of an item: what a single field's type cannot say.

An :class:`~waa_ads.content.item.definition.ItemDefinition` is well-typed by construction;
:func:`validate_item` checks what spans fields (identifiers, bindings, mappings, rules).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from waa_ads.content.item import processing
from waa_ads.content.item.definition import (
    ASSOCIATING_INTERACTIONS,
    INTERACTION_BINDINGS,
    INTERACTION_ELEMENTS,
    BaseType,
    Cardinality,
    Interaction,
    InteractionType,
    ItemDefinition,
    ItemFormatError,
    ResponseDeclaration,
    SetCorrectResponse,
    TemplateCondition,
    TemplateRule,
)


def validate_item(item: ItemDefinition) -> None:
    """Check an item's cross references; raise :class:`ItemFormatError` on the first problem.

    Checks: identifiers are unique; every interaction is bound to a declared response of a
    cardinality and base type it can produce, and no response to two interactions; correct
    responses and map keys use the interaction's own choice identifiers; mappings are
    consistent (no duplicate keys, lower bound not above upper bound); and the response
    processing rules reference declared variables with operands of fitting types.
    """
    _check_unique("response declaration", [d.identifier for d in item.response_declarations])
    _check_unique("outcome declaration", [d.identifier for d in item.outcome_declarations])
    clash = {d.identifier for d in item.response_declarations} & {
        d.identifier for d in item.outcome_declarations
    }
    if clash:
        raise ItemFormatError(
            f"identifier {sorted(clash)[0]!r} is declared both as a response and an outcome"
        )
    for declaration in item.response_declarations:
        _check_declaration(declaration)
    bound: set[str] = set()
    for interaction in item.interactions:
        _check_binding(item, interaction, bound)
    processing.check_processing(item)


def _check_unique(kind: str, identifiers: list[str]) -> None:
    seen: set[str] = set()
    for identifier in identifiers:
        if identifier in seen:
            raise ItemFormatError(f"duplicate {kind} identifier {identifier!r}")
        seen.add(identifier)


def _check_binding(item: ItemDefinition, interaction: Interaction, bound: set[str]) -> None:
    rid = interaction.response_identifier
    element = INTERACTION_ELEMENTS[interaction.type]
    declaration = item.response_declaration(rid)
    if declaration is None:
        raise ItemFormatError(
            f"interaction is bound to response {rid!r}, which is not declared", element=element
        )
    if rid in bound:
        raise ItemFormatError(
            f"response {rid!r} is bound to more than one interaction", element=element
        )
    bound.add(rid)
    cardinalities, base_types = INTERACTION_BINDINGS[interaction.type]
    if declaration.cardinality not in cardinalities or declaration.base_type not in base_types:
        allowed = ", ".join(sorted(f"{c}" for c in cardinalities))
        types = ", ".join(sorted(f"{b}" for b in base_types))
        raise ItemFormatError(
            f"response {rid!r} is {declaration.cardinality} {declaration.base_type}, but a "
            f"{interaction.type} interaction needs cardinality {allowed} and base type {types}",
            element=element,
        )
    if (
        interaction.type in (InteractionType.CHOICE, InteractionType.HOTTEXT)
        and declaration.cardinality is Cardinality.SINGLE
        and interaction.max_choices not in (None, 1)
    ):
        raise ItemFormatError(
            f"response {rid!r} has single cardinality but the interaction allows "
            f"max-choices={interaction.max_choices}",
            element=element,
        )
    _check_choice_references(interaction, declaration, element)
    if interaction.pci is not None:
        _check_pci_variables(item, interaction, element)


def _check_pci_variables(item: ItemDefinition, interaction: Interaction, element: str) -> None:
    """A PCI is given only template variables the item declares as such, and context
    variables it declares as such: never a response or outcome (the candidate's answer,
    a correct response, a score), whatever the identifier names."""
    assert interaction.pci is not None
    kinds = (
        ("template", interaction.pci.template_variables, item.template_declarations),
        ("context", interaction.pci.context_variables, item.context_declarations),
    )
    keys = _key_variables(item.template_processing or ())
    for kind, variables, declarations in kinds:
        declared = {d.identifier for d in declarations}
        names: set[str] = set()
        for variable in variables:
            if variable.identifier not in declared:
                raise ItemFormatError(
                    f"the PCI is given {kind} variable {variable.identifier!r}, which the "
                    f"item does not declare as a {kind} variable",
                    element=element,
                )
            if kind == "template" and variable.identifier in keys:
                raise ItemFormatError(
                    f"the PCI is given template variable {variable.identifier!r}, which "
                    "becomes the correct response (setCorrectResponse): the candidate's "
                    "browser would hold the answer",
                    element=element,
                )
            name = variable.pci_identifier or variable.identifier
            if name in names:
                raise ItemFormatError(
                    f"the PCI is given two {kind} variables named {name!r}", element=element
                )
            names.add(name)


def _key_variables(rules: tuple[TemplateRule, ...]) -> set[str]:
    """Template variables that a ``setCorrectResponse`` makes the correct response, as
    they are (``variable X``) or as members of a container of them. The variables a key
    is computed from (``A + B``) are the question's own numbers, shown to candidates by
    printed variables anyway: not these."""
    found: set[str] = set()
    for rule in rules:
        if isinstance(rule, SetCorrectResponse):
            expression = rule.expression
            members = expression.args if expression.op in ("multiple", "ordered") else (expression,)
            found.update(str(m.attrs.get("identifier")) for m in members if m.op == "variable")
        elif isinstance(rule, TemplateCondition):
            for branch in rule.branches:
                found |= _key_variables(branch.rules)
            found |= _key_variables(rule.otherwise or ())
    return found


def _check_choice_references(
    interaction: Interaction, declaration: ResponseDeclaration, element: str
) -> None:
    """Correct responses and map keys of choice-based interactions name real choices."""
    if declaration.base_type is BaseType.BOOLEAN and interaction.type is InteractionType.CHOICE:
        ids = {c.identifier for c in interaction.choices}
        if ids != {"true", "false"}:
            raise ItemFormatError(
                f"response {declaration.identifier!r} is boolean, so its choices must be "
                f"identified 'true' and 'false' (found {sorted(ids)})",
                element=element,
            )
        return
    if declaration.base_type not in (
        BaseType.IDENTIFIER,
        BaseType.PAIR,
        BaseType.DIRECTED_PAIR,
    ):
        return
    known = set(interaction.choice_identifiers())
    if not known:
        return

    def identifiers_in(value: Any) -> Iterator[str]:
        if value is None:
            return
        values = [value] if declaration.cardinality is Cardinality.SINGLE else list(value)
        for single in values:
            if isinstance(single, str):
                yield single
            else:
                yield from (str(part) for part in single)

    sources: list[tuple[str, Any]] = [("correct response", declaration.correct_response)]
    if declaration.mapping is not None:
        sources.extend(
            ("map key", entry.key if declaration.cardinality is Cardinality.SINGLE else [entry.key])
            for entry in declaration.mapping.entries
        )
    for what, value in sources:
        for identifier in identifiers_in(value):
            if identifier not in known:
                raise ItemFormatError(
                    f"{what} of {declaration.identifier!r} names {identifier!r}, which is not "
                    "a choice of its interaction",
                    element=element,
                )


def _check_declaration(declaration: ResponseDeclaration) -> None:
    for kind, mapping in (
        ("mapping", declaration.mapping),
        ("area mapping", declaration.area_mapping),
    ):
        if mapping is None:
            continue
        if (
            mapping.lower_bound is not None
            and mapping.upper_bound is not None
            and mapping.lower_bound > mapping.upper_bound
        ):
            raise ItemFormatError(
                f"{kind} of {declaration.identifier!r} has lower-bound {mapping.lower_bound} "
                f"above upper-bound {mapping.upper_bound}"
            )
    if declaration.mapping is not None:
        seen: set[str] = set()
        for entry in declaration.mapping.entries:
            key = repr(entry.key)
            if key in seen:
                raise ItemFormatError(
                    f"mapping of {declaration.identifier!r} has the key {entry.key!r} twice"
                )
            seen.add(key)
    if declaration.area_mapping is not None and declaration.base_type is not BaseType.POINT:
        raise ItemFormatError(
            f"response {declaration.identifier!r} has an area mapping but is not of base type point"
        )
    if declaration.cardinality is Cardinality.RECORD and declaration.base_type is not None:
        raise ItemFormatError(
            f"response {declaration.identifier!r} has record cardinality and a base type"
        )
    if declaration.cardinality is not Cardinality.RECORD and declaration.base_type is None:
        raise ItemFormatError(f"response {declaration.identifier!r} has no base type")


def key_constraint_notes(item: ItemDefinition) -> list[str]:
    """Notes for correct responses a candidate cannot give: more values than the
    interaction lets a candidate choose (``max-choices``, ``max-associations``). The item is
    kept as it was written (its scoring may rely on a mapping), and the note says so."""
    notes: list[str] = []
    declarations = {d.identifier: d for d in item.response_declarations}
    for interaction in item.interactions:
        declaration = declarations.get(interaction.response_identifier)
        if (
            declaration is None
            or declaration.cardinality not in (Cardinality.MULTIPLE, Cardinality.ORDERED)
            or not isinstance(declaration.correct_response, list | tuple)
        ):
            continue
        if interaction.type in ASSOCIATING_INTERACTIONS:
            limit, name = interaction.max_associations, "max-associations"
        else:
            limit, name = interaction.max_choices, "max-choices"
        given = len(declaration.correct_response)
        if limit and given > limit:
            notes.append(
                f"the correct response of {declaration.identifier} has {given} values but its "
                f"{interaction.type} interaction lets a candidate give at most {limit} "
                f"({name}): no candidate can match it"
            )
    return notes
