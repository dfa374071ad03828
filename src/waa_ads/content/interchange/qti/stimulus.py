"""Reading and writing shared stimuli: ``qti-assessment-stimulus`` (QTI 3.0) and
``assessmentStimulus`` (QTI 2.2) documents.

A stimulus is read like an item's body: the same safe parser, the same sanitizer, QTI 2
names converted to QTI 3.0. What the model does not keep is listed in ``import_notes``
(stylesheets, the accessibility catalog); a body that holds an interaction is refused,
since a stimulus is read, never answered.
"""

from __future__ import annotations

from typing import Any

from lxml import etree
from pydantic import ValidationError

from waa_ads.content.interchange.qti.common import (
    QTI3_NS,
    QTI22_NS,
    XML_NS,
    XSI_NS,
    adopt_document,
    default_nsmap,
    fragment_nodes,
    fragment_of,
    parse_document,
    pictures_as_images,
    rebuild,
    source_line,
    split_tag,
)
from waa_ads.content.item.definition import ItemFormatError
from waa_ads.content.item.stimulus import StimulusDefinition
from waa_ads.content.render.sanitize import sanitize_body

STIMULUS_SCHEMA_LOCATION = (
    f"{QTI3_NS} https://purl.imsglobal.org/spec/qti/v3p0/schema/xsd/imsqti_stimulusv3p0_v1p0.xsd"
)

#: Root element of a stimulus document, by namespace.
STIMULUS_ROOTS = {QTI3_NS: "qti-assessment-stimulus", QTI22_NS: "assessmentStimulus"}

_IGNORED = {
    "qti-stylesheet": "ignored stylesheet {href} (stimuli are shown in the player's style)",
    "stylesheet": "ignored stylesheet {href} (stimuli are shown in the player's style)",
    "qti-catalog-info": "the accessibility catalog was not kept",
    "catalogInfo": "the accessibility catalog was not kept",
}
_BODIES = frozenset({"qti-stimulus-body", "stimulusBody"})


def _error(reason: str, element: etree._Element) -> ItemFormatError:
    return ItemFormatError(reason, element=split_tag(element.tag)[1], line=source_line(element))


def is_stimulus(root: etree._Element) -> bool:
    """Whether a parsed document is a shared stimulus of QTI 3.0 or 2.2."""
    namespace, local = split_tag(root.tag) if isinstance(root.tag, str) else (None, "")
    return namespace in STIMULUS_ROOTS and STIMULUS_ROOTS[namespace] == local


def parse_stimulus(
    xml: bytes | str, *, document: etree._Element | None = None
) -> StimulusDefinition:
    """Parse one stimulus document into the model, its body sanitized as an item's.

    Raises :class:`ItemFormatError` for malformed XML (with its line), a DOCTYPE, a root
    that is not a QTI 3.0 or 2.2 stimulus, a missing identifier, an unexpected element,
    or an interaction in the body. ``document``: the root as a package reader parsed it.
    """
    what = "stimulus"
    root = parse_document(xml, what=what) if document is None else adopt_document(xml, document)
    if not is_stimulus(root):
        raise _error(
            "not a shared stimulus: expected qti-assessment-stimulus (QTI 3.0) or "
            "assessmentStimulus (QTI 2.2)",
            root,
        )
    identifier = (root.get("identifier") or "").strip()
    if not identifier:
        raise _error("missing identifier attribute", root)
    notes: list[str] = []
    title = (root.get("title") or "").strip()
    if not title:
        notes.append("the stimulus has no title; its identifier is used")
    holder = etree.Element(f"{{{QTI3_NS}}}qti-content", nsmap=default_nsmap(QTI3_NS))
    seen_body = False
    for child in root:
        if not isinstance(child.tag, str):
            continue
        local = split_tag(child.tag)[1]
        if local in _BODIES:
            if seen_body:
                raise _error("a stimulus has one body", child)
            seen_body = True
            for element in list(child.iter()):
                if isinstance(element.tag, str):
                    pictures_as_images(element)
            rebuild(child, holder, QTI3_NS)
        elif local in _IGNORED:
            notes.append(_IGNORED[local].format(href=child.get("href") or ""))
        else:
            raise _error("unexpected element in a shared stimulus", child)
    for element in holder.iter():
        if isinstance(element.tag, str) and split_tag(element.tag)[1].endswith("-interaction"):
            raise _error("a shared stimulus cannot hold an interaction", element)
    notes[:0] = sanitize_body(holder)
    try:
        return StimulusDefinition(
            identifier=identifier,
            title=title or identifier,
            language=root.get(f"{{{XML_NS}}}lang") or None,
            body=fragment_of(holder),
            import_notes=tuple(notes),
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise _error(f"{field}: {first['msg']}", root) from None


def stimulus_element(stimulus: StimulusDefinition) -> etree._Element:
    """The ``qti-assessment-stimulus`` element of ``stimulus``."""
    nsmap: Any = {None: QTI3_NS, "xsi": XSI_NS}
    root = etree.Element(f"{{{QTI3_NS}}}qti-assessment-stimulus", nsmap=nsmap)
    root.set(f"{{{XSI_NS}}}schemaLocation", STIMULUS_SCHEMA_LOCATION)
    root.set("identifier", stimulus.identifier)
    root.set("title", stimulus.title)
    if stimulus.language is not None:
        root.set(f"{{{XML_NS}}}lang", stimulus.language)
    body = etree.SubElement(root, f"{{{QTI3_NS}}}qti-stimulus-body")
    if stimulus.body:
        rebuild(fragment_nodes(stimulus.body, what="stimulus body"), body, QTI3_NS)
    return root


def write_stimulus(stimulus: StimulusDefinition) -> bytes:
    """``stimulus`` as a QTI 3.0 document (UTF-8, with an XML declaration)."""
    root = stimulus_element(stimulus)
    root.text = "\n  "
    root[0].tail = "\n"
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")
