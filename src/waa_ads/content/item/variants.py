"""Language variants of an item: what a translation must share with its source.

A translation is shown in place of its source to candidates of its language, and its
response is stored, scored and analysed as the source's. So the two must be answered the
same way: the same interactions, bound to the same response identifiers with the same
cardinality and base type, offering the same choice identifiers (what a choice *says*
differs; which choice it is does not). Keys may differ (a text entry's accepted words
are the language's own), so response processing is the variant's.

Pure: no I/O.
"""

from __future__ import annotations

from collections import Counter

from waa_ads.content.item.definition import Interaction, ItemDefinition


def _choice_ids(interaction: Interaction) -> tuple[frozenset[str], ...]:
    groups = [
        frozenset(c.identifier for c in interaction.choices),
        frozenset(c.identifier for c in interaction.hotspots),
        frozenset(g.identifier for g in interaction.gaps),
    ]
    groups.extend(frozenset(c.identifier for c in s) for s in interaction.match_sets)
    return tuple(groups)


def variant_mismatch(source: ItemDefinition, variant: ItemDefinition) -> str | None:
    """Why ``variant`` cannot stand in for ``source`` (a sentence naming the first
    difference), or None when it can."""
    declared = {d.identifier: d for d in source.response_declarations}
    other = {d.identifier: d for d in variant.response_declarations}
    if set(declared) != set(other):
        return (
            f"the source declares the responses {sorted(declared)}, the translation {sorted(other)}"
        )
    for identifier, declaration in sorted(declared.items()):
        theirs = other[identifier]
        if (declaration.cardinality, declaration.base_type) != (
            theirs.cardinality,
            theirs.base_type,
        ):
            return (
                f"response {identifier!r} is {declaration.cardinality.value} "
                f"{declaration.base_type.value if declaration.base_type else 'record'} in the "
                f"source, {theirs.cardinality.value} "
                f"{theirs.base_type.value if theirs.base_type else 'record'} in the translation"
            )
    mine = Counter((i.response_identifier, i.type.value) for i in source.interactions)
    yours = Counter((i.response_identifier, i.type.value) for i in variant.interactions)
    if mine != yours:
        return (
            f"the source's interactions are {sorted(mine.elements())}, "
            f"the translation's {sorted(yours.elements())}"
        )
    for interaction in source.interactions:
        counterpart = variant.interaction_for(interaction.response_identifier)
        assert counterpart is not None
        if _choice_ids(interaction) != _choice_ids(counterpart):
            return (
                f"the interaction of response {interaction.response_identifier!r} offers "
                "other choice identifiers in the translation"
            )
    return None
