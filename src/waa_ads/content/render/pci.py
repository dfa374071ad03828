"""What a portable custom interaction's frame is given besides its modules, markup and
properties: its own style sheets (signed URLs of the item's media), and the template and
context variables it names (QTI 3.0 ``qti-template-variable``, ``qti-context-variable``),
as typed values the frame puts in the QTI JSON binding its ``getInstance`` configuration
carries them in (``templateVariables``, ``contextVariables``; static/pci-frame.js).

Only variables the item declares as template or context variables are named by a PCI
(content/item/validation.py checks it), so nothing of scoring reaches the frame: no
response, correct response, mapping or outcome. A cloned item's template values are its
instance's (content/item/templates.py gives each declaration its drawn value as its
default), so each candidate's PCI gets the values that candidate's text shows; context
variables carry their declared default values (the bank sets no other).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from waa_ads.content.item.definition import (
    BaseType,
    Cardinality,
    ContextDeclaration,
    ItemDefinition,
    PciVariable,
    PortableCustom,
    TemplateDeclaration,
)


def _base_key(value: Any, base_type: BaseType | None) -> str:
    if base_type is not None:
        return base_type.value
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    return "string"


def variable(
    name: str, value: Any, cardinality: Cardinality, base_type: BaseType | None
) -> dict[str, Any]:
    """One variable as the frame is sent it: ``{name, cardinality, base_type, value}``
    (a record's ``fields``: ``[{name, base_type, value}]``), typed values the frame puts
    in the QTI JSON binding (``{"base": {"integer": 3}}``, ``{"list": {"identifier":
    ["A", "B"]}}``, ``{"record": [...]}``: pci-frame.js) so that what the player is sent
    stays a closed shape."""
    if cardinality is Cardinality.RECORD:
        fields = value if isinstance(value, Mapping) else {}
        return {
            "name": name,
            "cardinality": cardinality.value,
            "base_type": None,
            "value": None,
            "fields": [
                {"name": str(k), "base_type": _base_key(v, None), "value": v}
                for k, v in fields.items()
            ],
        }
    if cardinality is Cardinality.SINGLE:
        values: Any = value
    else:
        values = (
            list(value) if isinstance(value, list | tuple) else ([] if value is None else [value])
        )
        values = values or None
    sample = values[0] if isinstance(values, list) else values
    return {
        "name": name,
        "cardinality": cardinality.value,
        "base_type": _base_key(sample, base_type),
        "value": values,
    }


def _variables(
    variables: Iterable[PciVariable],
    declarations: Sequence[TemplateDeclaration] | Sequence[ContextDeclaration],
) -> list[dict[str, Any]]:
    by_id = {d.identifier: d for d in declarations}
    out: list[dict[str, Any]] = []
    for wanted in variables:
        declaration = by_id.get(wanted.identifier)
        if declaration is None:  # the item's validation refuses this; never guess
            continue
        out.append(
            variable(
                wanted.pci_identifier or wanted.identifier,
                declaration.default_value,
                declaration.cardinality,
                declaration.base_type,
            )
        )
    return out


def variables_for(item: ItemDefinition, pci: PortableCustom) -> dict[str, list[dict[str, Any]]]:
    """``{"template_variables": [...], "context_variables": [...]}`` for ``pci`` in
    ``item`` (the instance a candidate sees, for a cloned item), each under the name the
    PCI gets it by."""
    return {
        "template_variables": _variables(pci.template_variables, item.template_declarations),
        "context_variables": _variables(pci.context_variables, item.context_declarations),
    }


def stylesheet_urls(pci: PortableCustom, resolve_media: Callable[[str], str] | None) -> list[str]:
    """Where the frame loads the PCI's own style sheets from: the item's media (signed
    URLs of this origin). A style sheet the item's media lacks, or one of another origin
    (the import refuses both), is never given."""
    urls: list[str] = []
    for sheet in pci.stylesheets:
        parts = urlsplit(sheet.href)
        if parts.scheme or parts.netloc or sheet.href.startswith(("/", "\\")):
            continue
        if resolve_media is None:
            urls.append(sheet.href)
            continue
        url = resolve_media(sheet.href)
        if url and url != sheet.href:
            urls.append(url)
    return urls


def frame_fields(
    item: ItemDefinition, pci: PortableCustom, resolve_media: Callable[[str], str] | None
) -> dict[str, Any]:
    """The fields of a PCI's description this module makes: its style sheets' URLs and
    the variables it names."""
    return {"frame_stylesheets": stylesheet_urls(pci, resolve_media), **variables_for(item, pci)}
