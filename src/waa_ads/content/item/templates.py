"""Item templates ("cloned items"): one candidate's instance of an item.

An item with template declarations and template processing (QTI ``templateDeclaration``,
``templateProcessing``) shows each candidate its own values: "What is 7 + 12?" for one,
"What is 3 + 15?" for another, each scored against their own key. :func:`instantiate`
turns such an item into the plain item one candidate sees and is scored by:

* the values are drawn from a pseudo-random generator seeded by :func:`template_seed`,
  a pure function of the attempt's seed and the item's place on the form, so a reload,
  a resume, scoring, rescoring and an answer key correction all see the same values
  without storing them;
* the template variables' declarations carry the chosen values as their default values
  (response processing reads them as variables), the correct responses and default values
  that template processing set replace the declared ones, and template processing itself
  is gone from the result;
* the body and the interactions' prompts and choices show the values: each
  ``qti-printed-variable`` becomes its formatted value (:func:`format_value`), a MathML
  ``<mi>`` naming a math variable becomes its value, an object ``param`` whose value names
  a param variable takes the variable's value, and template blocks, inlines and choices
  with a ``template-identifier`` are kept or removed by their ``show-hide`` rule.

Evaluation reuses the response processing engine (``waa_ads.scoring.engine``), which comes
later in the import order than content; the engine installs its entry point here when it is
imported (:func:`install_evaluator`), as every application entry point does.
"""

from __future__ import annotations

import hashlib
import math
import random
import re
from collections.abc import Callable
from typing import Any, Protocol

from lxml import etree

from waa_ads.content.item.definition import (
    Cardinality,
    Choice,
    Interaction,
    ItemDefinition,
    ModalFeedback,
    TemplateDeclaration,
)

#: How many times template processing runs before its constraints are given up on (the
#: number QTI names); the template variables then keep their default values.
MAX_TEMPLATE_TRIES = 100

QTI3_NS = "http://www.imsglobal.org/xsd/imsqtiasi_v3p0"
MATHML_NS = "http://www.w3.org/1998/Math/MathML"


class TemplateOutcomeLike(Protocol):
    """What template processing chose (``waa_ads.scoring.engine.TemplateOutcome``)."""

    @property
    def values(self) -> dict[str, Any]: ...
    @property
    def correct(self) -> dict[str, Any]: ...
    @property
    def defaults(self) -> dict[str, Any]: ...
    @property
    def notes(self) -> list[str]: ...


Evaluator = Callable[..., TemplateOutcomeLike]
_evaluator: list[Evaluator] = []


def install_evaluator(evaluator: Evaluator) -> None:
    """Install the function that runs template processing
    (``waa_ads.scoring.engine.run_template_processing``)."""
    _evaluator[:] = [evaluator]


def template_seed(attempt_seed: int, item_key: str) -> int:
    """The seed of one item's template values in one attempt: a pure function of the
    attempt's seed and the item's key on the form (its ref), so two items of an attempt
    differ and the same attempt and item always agree."""
    digest = hashlib.sha256(f"waa-ads/template/{attempt_seed}/{item_key}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def instantiate(item: ItemDefinition, seed: int) -> ItemDefinition:
    """The instance of ``item`` for ``seed`` (see the module docs); ``item`` itself when it
    is not a template. Deterministic: the same item and seed give the same instance."""
    if not item.is_template:
        return item
    if not _evaluator:
        raise RuntimeError(
            "template processing needs the response processing engine: import "
            "waa_ads.scoring.engine first"
        )
    # Reproducible draws, not secrets: the values must be the same at every reload.
    rng = random.Random(seed)  # noqa: S311
    outcome = _evaluator[0](item, rng, max_tries=MAX_TEMPLATE_TRIES)
    values = outcome.values
    declarations = tuple(
        d.model_copy(update={"default_value": values.get(d.identifier)})
        for d in item.template_declarations
    )
    responses = tuple(
        d.model_copy(
            update={
                "correct_response": outcome.correct.get(d.identifier, d.correct_response),
                "default_value": outcome.defaults.get(d.identifier, d.default_value),
            }
        )
        for d in item.response_declarations
    )
    outcomes = tuple(
        d.model_copy(update={"default_value": outcome.defaults.get(d.identifier, d.default_value)})
        for d in item.outcome_declarations
    )
    printer = _Printer(item.template_declarations, values)
    return item.model_copy(
        update={
            "template_declarations": declarations,
            "template_processing": None,
            "response_declarations": responses,
            "outcome_declarations": outcomes,
            "body": printer.document(item.body),
            "interactions": tuple(printer.interaction(i) for i in item.interactions),
            "modal_feedback": tuple(printer.feedback(f) for f in item.modal_feedback),
        }
    )


# --- printed values --------------------------------------------------------------------------

# A C printf conversion as QTI's printedVariable format uses it (ISO 9899): flags, width,
# precision and one of d i o u x X f F e E g G s, or %% for a percent sign.
_FORMAT_RE = re.compile(r"%(?P<spec>[-+ #0]*\d*(?:\.\d+)?)(?P<conv>[diouxXfFeEgGs%])")


def _printf(template: str, value: Any) -> str:
    def convert(match: re.Match[str]) -> str:
        conv, spec = match.group("conv"), match.group("spec")
        if conv == "%":
            return "%"
        try:
            if conv in "diouxX":
                number = int(value) if not isinstance(value, str) else int(float(value))
                return ("%" + spec + ("d" if conv in "iu" else conv)) % number
            if conv in "fFeEgG":
                return ("%" + spec + conv) % float(value)
            return ("%" + spec + "s") % _plain(value)
        except (TypeError, ValueError):
            return _plain(value)

    return _FORMAT_RE.sub(convert, template)


def _plain(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    if isinstance(value, list | tuple):
        return " ".join(_plain(v) for v in value)
    return str(value)


def format_value(
    value: Any,
    *,
    format: str | None = None,
    base: int | None = None,
    index: int | None = None,
    delimiter: str = ";",
    container: bool = False,
) -> str:
    """A template value as ``qti-printed-variable`` shows it: with ``format`` (printf-style,
    ``%d``, ``%.2f``, ``%5.1e``...), an integer in another ``base`` (2 to 36), and for a
    ``container`` one member (``index``, from 1) or all of them separated by ``delimiter``;
    NULL is empty. A point or pair shows its two parts separated by a space."""
    if value is None:
        return ""
    if container and isinstance(value, list):
        if index is not None:
            return (
                format_value(value[index - 1], format=format, base=base)
                if 1 <= index <= len(value)
                else ""
            )
        return delimiter.join(format_value(v, format=format, base=base) for v in value)
    if format:
        return _printf(format, value)
    if base is not None and base != 10 and isinstance(value, int) and not isinstance(value, bool):
        return _in_base(value, base)
    return _plain(value)


def _in_base(number: int, base: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    if not 2 <= base <= 36:
        return str(number)
    if number == 0:
        return "0"
    sign, number = ("-", -number) if number < 0 else ("", number)
    out = []
    while number:
        number, rest = divmod(number, base)
        out.append(digits[rest])
    return sign + "".join(reversed(out))


#: The attributes of ``qti-printed-variable`` that instances honour; an item using any
#: other (``field``, ``power-form``, ``mapping-indicator``) is refused at import.
PRINTED_VARIABLE_ATTRIBUTES = frozenset(
    {"identifier", "format", "base", "index", "delimiter", "class", "id", "xml:lang"}
)


class _Printer:
    def __init__(self, declarations: tuple[TemplateDeclaration, ...], values: dict[str, Any]):
        self.values = values
        self.math = {d.identifier for d in declarations if d.math_variable}
        self.params = {d.identifier for d in declarations if d.param_variable}
        self.containers = {
            d.identifier for d in declarations if d.cardinality is not Cardinality.SINGLE
        }

    def shown(self, template_identifier: str, identifier: str, show_hide: str) -> bool:
        value = self.values.get(template_identifier)
        members = value if isinstance(value, list) else [value]
        matched = identifier in members
        return matched if show_hide != "hide" else not matched

    def printed(self, element: etree._Element) -> str | None:
        identifier = element.get("identifier") or ""
        if identifier not in self.values:
            return None  # not a template variable (an outcome): left to the renderer
        base = element.get("base")
        index = element.get("index")
        return format_value(
            self.values[identifier],
            format=element.get("format"),
            base=int(base) if base and base.strip().lstrip("-").isdigit() else None,
            index=int(index) if index and index.strip().isdigit() else None,
            delimiter=element.get("delimiter") or ";",
            container=identifier in self.containers,
        )

    def tree(self, root: etree._Element) -> None:
        for element in list(root.iter()):
            if not isinstance(element.tag, str):
                continue
            qname = etree.QName(element)
            local, namespace = qname.localname, qname.namespace
            if namespace == MATHML_NS:
                if local == "mi" and (element.text or "").strip() in self.math:
                    value = self.values.get((element.text or "").strip())
                    numeric = isinstance(value, int | float) and not isinstance(value, bool)
                    if numeric:
                        element.tag = f"{{{MATHML_NS}}}mn"
                    element.text = format_value(value)
                continue
            if element.getparent() is None and element is not root:
                continue  # inside a subtree removed already
            if local == "qti-printed-variable":
                text = self.printed(element)
                if text is not None:
                    _replace_with_text(element, text)
            elif local in ("qti-template-block", "qti-template-inline"):
                template_identifier = element.get("template-identifier") or ""
                if template_identifier not in self.values:
                    continue
                if self.shown(
                    template_identifier,
                    element.get("identifier") or "",
                    element.get("show-hide") or "show",
                ):
                    _unwrap(element)
                else:
                    _remove(element)
            elif local == "param" and (element.get("value") or "") in self.params:
                element.set("value", format_value(self.values.get(element.get("value") or "")))

    def document(self, body: str) -> str:
        root = etree.fromstring(body.encode("utf-8"), _parser())
        self.tree(root)
        return etree.tostring(root, encoding="unicode")

    def fragment(self, markup: str | None) -> str | None:
        if not markup or not (
            "printed-variable" in markup
            or "template-" in markup
            or "<mi" in markup
            or "param" in markup
        ):
            return markup
        holder = etree.fromstring(f"<holder>{markup}</holder>".encode(), _parser())
        self.tree(holder)
        parts = [_escape(holder.text or "")]
        parts.extend(etree.tostring(child, encoding="unicode") for child in holder)
        return "".join(parts)

    def choices(self, choices: tuple[Choice, ...]) -> tuple[Choice, ...]:
        kept: list[Choice] = []
        for choice in choices:
            template_identifier = choice.attributes.get("template-identifier")
            if (
                template_identifier is not None
                and template_identifier in self.values
                and not self.shown(
                    template_identifier,
                    choice.identifier,
                    choice.attributes.get("show-hide", "show"),
                )
            ):
                continue
            kept.append(choice.model_copy(update={"content": self.fragment(choice.content) or ""}))
        return tuple(kept)

    def interaction(self, interaction: Interaction) -> Interaction:
        return interaction.model_copy(
            update={
                "prompt": self.fragment(interaction.prompt),
                "content": self.fragment(interaction.content),
                "choices": self.choices(interaction.choices),
                "match_sets": tuple(self.choices(s) for s in interaction.match_sets),
            }
        )

    def feedback(self, feedback: ModalFeedback) -> ModalFeedback:
        return feedback.model_copy(update={"content": self.fragment(feedback.content) or ""})


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, remove_comments=False)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _replace_with_text(element: etree._Element, text: str) -> None:
    _append_text_before(element, text + (element.tail or ""))
    parent = element.getparent()
    assert parent is not None
    parent.remove(element)


def _append_text_before(element: etree._Element, text: str) -> None:
    parent = element.getparent()
    assert parent is not None
    previous = element.getprevious()
    if previous is not None:
        previous.tail = (previous.tail or "") + text
    else:
        parent.text = (parent.text or "") + text


def _remove(element: etree._Element) -> None:
    _append_text_before(element, element.tail or "")
    parent = element.getparent()
    assert parent is not None
    parent.remove(element)


def _unwrap(element: etree._Element) -> None:
    parent = element.getparent()
    assert parent is not None
    _append_text_before(element, element.text or "")
    position = parent.index(element)
    children = list(element)
    for offset, child in enumerate(children):
        parent.insert(position + offset, child)
    tail = element.tail or ""
    if children:
        children[-1].tail = (children[-1].tail or "") + tail
    else:
        _append_text_before(element, tail)
    parent.remove(element)


def shapes_vary(item: ItemDefinition) -> bool:
    """Whether the response shapes of ``item``'s instances can differ from its own: some
    choice is shown or hidden by a template variable (``template-identifier``), so a
    response naming it is valid for some candidates and not for others. Values printed
    in the text, keys and default values leave every instance's shapes the item's own."""
    if not item.is_template:
        return False
    return any(
        "template-identifier" in choice.attributes
        for interaction in item.interactions
        for group in (interaction.choices, *interaction.match_sets)
        for choice in group
    )


def instance_for(item: ItemDefinition, attempt_seed: int, item_key: str) -> ItemDefinition:
    """``item`` as one attempt shows and scores it: its instance for the attempt's seed and
    the item's key on the form (its ref) when it is a template, else ``item`` itself."""
    if not item.is_template:
        return item
    return instantiate(item, template_seed(attempt_seed, item_key))
