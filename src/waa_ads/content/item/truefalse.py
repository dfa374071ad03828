"""True/false items between the model and QTI 3.0.

The model keeps a true/false question as a choice interaction bound to a ``boolean``
response whose two choices are identified ``true`` and ``false`` (candidates answer
``true``/``false``, rules compare booleans). QTI 3.0 binds a choice interaction to an
``identifier`` response (Information Model, ``ChoiceInteraction``: "the response variable
must have base-type identifier"), so:

- :func:`as_identifier_choices` gives the item QTI 3.0 is written from: each such
  response becomes an ``identifier`` response whose values are the choice identifiers
  ``true`` and ``false``; its correct and default values and map keys become those
  identifiers, rule constants compared with it become identifier constants, and a rule
  that uses the response itself as a condition tests ``match(response, "true")``;
- :func:`as_boolean_choices` is its inverse for what is read: a single identifier
  response bound only to one-answer choice interactions whose choices are exactly
  ``true`` and ``false``, and which rules only compare with those two constants, is the
  model's boolean response again, so export then import gives back an equal item.

Both are pure and return the item unchanged when nothing applies.
"""

from __future__ import annotations

from typing import Any

from waa_ads.content.item.definition import (
    BaseType,
    Cardinality,
    ExitResponse,
    Expression,
    InteractionType,
    ItemDefinition,
    LookupOutcomeValue,
    MapEntry,
    ResponseBranch,
    ResponseCondition,
    ResponseDeclaration,
    Rule,
    SetOutcomeValue,
)

_LABELS = ("true", "false")
_REFERENCES = frozenset({"variable", "correct", "default"})
# Operators whose operands are compared as values of one base type: a constant beside a
# converted response must change type with it.
_COMPARING = frozenset(
    {"match", "member", "contains", "delete", "index", "multiple", "ordered", "is_null"}
)
# Operators that take the response itself as a boolean (a condition, a logical operand).
_LOGICAL = frozenset({"and", "or", "not", "any_n"})


def _bound_choices(item: ItemDefinition, identifier: str) -> bool:
    """``identifier`` is bound only to choice interactions (at least one) whose choices are
    exactly ``true`` and ``false``, each taking one answer."""
    bound = [i for i in item.interactions if i.response_identifier == identifier]
    return bool(bound) and all(
        i.type is InteractionType.CHOICE
        and sorted(c.identifier for c in i.choices) == ["false", "true"]
        and i.max_choices == 1
        for i in bound
    )


def _is_reference(expression: Expression, names: frozenset[str]) -> bool:
    return expression.op in _REFERENCES and expression.attrs.get("identifier") in names


def _map_values(value: Any, convert: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, list | tuple):
        return [convert(v) for v in value]
    return convert(value)


def _rewrite_rules(rules: tuple[Rule, ...] | None, fix: Any) -> tuple[Rule, ...] | None:
    if rules is None:
        return None
    out: list[Rule] = []
    for rule in rules:
        if isinstance(rule, SetOutcomeValue | LookupOutcomeValue):
            out.append(rule.model_copy(update={"expression": fix(rule.expression, False)}))
        elif isinstance(rule, ResponseCondition):
            branches = tuple(
                ResponseBranch(
                    condition=fix(b.condition, True),
                    rules=_rewrite_rules(b.rules, fix) or (),
                )
                for b in rule.branches
            )
            out.append(
                ResponseCondition(branches=branches, otherwise=_rewrite_rules(rule.otherwise, fix))
            )
        else:
            assert isinstance(rule, ExitResponse)
            out.append(rule)
    return tuple(out)


def _with(
    item: ItemDefinition,
    declarations: list[ResponseDeclaration],
    rules_fix: Any,
) -> ItemDefinition:
    processing = item.response_processing
    if processing is not None and processing.rules is not None:
        processing = processing.model_copy(
            update={"rules": _rewrite_rules(processing.rules, rules_fix)}
        )
    return item.model_copy(
        update={"response_declarations": tuple(declarations), "response_processing": processing}
    )


# --- model -> QTI 3.0 -------------------------------------------------------------------------


def as_identifier_choices(item: ItemDefinition) -> ItemDefinition:
    """The item with each boolean choice response as the identifier response QTI 3.0 binds
    to a choice interaction (values ``true``/``false``), meaning the same."""
    names = frozenset(
        d.identifier
        for d in item.response_declarations
        if d.base_type is BaseType.BOOLEAN
        and any(
            i.response_identifier == d.identifier and i.type is InteractionType.CHOICE
            for i in item.interactions
        )
    )
    if not names:
        return item

    def label(value: Any) -> str:
        return "true" if value is True or value == "true" else "false"

    declarations = []
    for d in item.response_declarations:
        if d.identifier not in names:
            declarations.append(d)
            continue
        mapping = d.mapping
        if mapping is not None:
            mapping = mapping.model_copy(
                update={
                    "entries": tuple(
                        MapEntry(key=label(e.key), value=e.value, case_sensitive=e.case_sensitive)
                        for e in mapping.entries
                    )
                }
            )
        declarations.append(
            d.model_copy(
                update={
                    "base_type": BaseType.IDENTIFIER,
                    "correct_response": _map_values(d.correct_response, label),
                    "default_value": _map_values(d.default_value, label),
                    "mapping": mapping,
                }
            )
        )

    def fix(expression: Expression, as_condition: bool) -> Expression:
        if _is_reference(expression, names):
            if as_condition and expression.op == "variable":
                return Expression(
                    op="match",
                    args=(
                        expression,
                        Expression(
                            op="base_value", attrs={"base_type": "identifier", "value": "true"}
                        ),
                    ),
                )
            return expression
        args = [fix(a, expression.op in _LOGICAL) for a in expression.args]
        if expression.op in _COMPARING and any(_is_reference(a, names) for a in args):
            args = [
                Expression(
                    op="base_value",
                    attrs={"base_type": "identifier", "value": label(a.attrs["value"])},
                )
                if a.op == "base_value" and a.attrs.get("base_type") == "boolean"
                else a
                for a in args
            ]
        return expression.model_copy(update={"args": tuple(args)})

    return _with(item, declarations, fix)


# --- QTI -> model -----------------------------------------------------------------------------


def _constant_label(expression: Expression) -> bool:
    return (
        expression.op == "base_value"
        and expression.attrs.get("base_type") == "identifier"
        and expression.attrs.get("value") in _LABELS
    )


def _uses_fit(expression: Expression, name: str) -> bool:
    """Every use of response ``name`` in ``expression`` compares it with ``true``/``false``
    (or with itself, its correct or default value, or null)."""
    refs = [a for a in expression.args if _is_reference(a, frozenset({name}))]
    if refs:
        if expression.op not in _COMPARING:
            return False
        others = [a for a in expression.args if a not in refs]
        if not all(_constant_label(a) for a in others):
            return False
    return all(
        _uses_fit(a, name) for a in expression.args if not _is_reference(a, frozenset({name}))
    )


def _rule_expressions(rules: tuple[Rule, ...] | None) -> list[Expression]:
    found: list[Expression] = []
    for rule in rules or ():
        if isinstance(rule, SetOutcomeValue | LookupOutcomeValue):
            found.append(rule.expression)
        elif isinstance(rule, ResponseCondition):
            for branch in rule.branches:
                found.append(branch.condition)
                found.extend(_rule_expressions(branch.rules))
            found.extend(_rule_expressions(rule.otherwise))
    return found


def as_boolean_choices(item: ItemDefinition) -> ItemDefinition:
    """The item with each true/false identifier response (see the module) as the model's
    boolean response; other items are returned as they are."""
    rules = item.response_processing.rules if item.response_processing is not None else None
    expressions = _rule_expressions(rules)
    names: set[str] = set()
    for d in item.response_declarations:
        if (
            d.base_type is BaseType.IDENTIFIER
            and d.cardinality is Cardinality.SINGLE
            and d.area_mapping is None
            and _bound_choices(item, d.identifier)
            and all(v is None or v in _LABELS for v in (d.correct_response, d.default_value))
            and all(e.key in _LABELS for e in (d.mapping.entries if d.mapping else ()))
            and all(
                _uses_fit(e, d.identifier)
                and not (e.op == "variable" and e.attrs.get("identifier") == d.identifier)
                for e in expressions
            )
        ):
            names.add(d.identifier)
    if not names:
        return item
    frozen = frozenset(names)

    def flag(value: Any) -> bool:
        return bool(value == "true")

    declarations = []
    for d in item.response_declarations:
        if d.identifier not in frozen:
            declarations.append(d)
            continue
        mapping = d.mapping
        if mapping is not None:
            mapping = mapping.model_copy(
                update={
                    "entries": tuple(
                        MapEntry(key=flag(e.key), value=e.value, case_sensitive=e.case_sensitive)
                        for e in mapping.entries
                    )
                }
            )
        declarations.append(
            d.model_copy(
                update={
                    "base_type": BaseType.BOOLEAN,
                    "correct_response": _map_values(d.correct_response, flag),
                    "default_value": _map_values(d.default_value, flag),
                    "mapping": mapping,
                }
            )
        )

    def fix(expression: Expression, as_condition: bool) -> Expression:
        args = [fix(a, False) for a in expression.args]
        if expression.op in _COMPARING and any(_is_reference(a, frozen) for a in args):
            args = [
                Expression(
                    op="base_value",
                    attrs={"base_type": "boolean", "value": flag(a.attrs["value"])},
                )
                if _constant_label(a)
                else a
                for a in args
            ]
        return expression.model_copy(update={"args": tuple(args)})

    return _with(item, declarations, fix)
