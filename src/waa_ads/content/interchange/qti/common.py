"""QTI XML: reading items (``reader``), writing them as QTI 3.0 (``writer``), and the XML
plumbing both share: namespaces, the safe parser, and XHTML fragments.

Fragments are how the model holds small markup (a prompt, a choice's content): XHTML and
QTI elements written *without* a namespace, MathML and SVG with their own default
``xmlns``. :func:`fragment_of` turns element content into one; :func:`fragment_nodes`
parses one back into elements of the QTI 3.0 namespace.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Any
from xml.sax.saxutils import escape

from lxml import etree

from waa_ads.content.item.definition import ItemFormatError

QTI3_NS = "http://www.imsglobal.org/xsd/imsqtiasi_v3p0"
QTI20_NS = "http://www.imsglobal.org/xsd/imsqti_v2p0"
QTI21_NS = "http://www.imsglobal.org/xsd/imsqti_v2p1"
QTI22_NS = "http://www.imsglobal.org/xsd/imsqti_v2p2"
XHTML_NS = "http://www.w3.org/1999/xhtml"
MATHML_NS = "http://www.w3.org/1998/Math/MathML"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
XML_NS = "http://www.w3.org/XML/1998/namespace"
QTI3_SCHEMA_LOCATION = (
    f"{QTI3_NS} https://purl.imsglobal.org/spec/qti/v3p0/schema/xsd/imsqti_asiv3p0_v1p0.xsd"
)

#: Namespace of each QTI version the reader accepts.
VERSIONS: dict[str, str] = {
    QTI20_NS: "2.0",
    QTI21_NS: "2.1",
    QTI22_NS: "2.2",
    QTI3_NS: "3.0",
}
QTI2_NAMESPACES = frozenset({QTI20_NS, QTI21_NS, QTI22_NS})

#: QTI 2.2's HTML5 elements (figure, video, audio, ruby...) have a namespace of their own;
#: in QTI 3.0 they are plain body elements.
QTI22_HTML5_NS = "http://www.imsglobal.org/xsd/imsqtiv2p2_html5_v1p0"

#: Namespaces whose elements are body content (XHTML lives in the QTI namespace in items).
HOST_NAMESPACES: frozenset[str | None] = frozenset(
    {QTI3_NS, QTI20_NS, QTI21_NS, QTI22_NS, QTI22_HTML5_NS, XHTML_NS, None}
)

#: QTI 2.x body elements (camelCase); in QTI 3.0 they are ``qti-`` + kebab-case.
QTI2_BODY_ELEMENTS = frozenset(
    {
        "associateInteraction", "choiceInteraction", "customInteraction",
        "drawingInteraction", "endAttemptInteraction", "extendedTextInteraction",
        "gapMatchInteraction", "graphicAssociateInteraction", "graphicGapMatchInteraction",
        "graphicOrderInteraction", "hotspotInteraction", "hottextInteraction",
        "inlineChoiceInteraction", "matchInteraction", "mediaInteraction",
        "orderInteraction", "positionObjectInteraction", "positionObjectStage",
        "selectPointInteraction", "sliderInteraction", "textEntryInteraction",
        "uploadInteraction", "portableCustomInteraction", "prompt", "simpleChoice",
        "simpleAssociableChoice", "simpleMatchSet", "inlineChoice", "gap", "gapText",
        "gapImg", "hottext", "hotspotChoice", "associableHotspot", "feedbackBlock",
        "feedbackInline", "templateBlock", "templateInline", "printedVariable",
        "rubricBlock", "infoControl", "interactionModules", "interactionModule",
        "interactionMarkup", "templateVariable", "contextVariable",
    }
)  # fmt: skip

_CAMEL_RE = re.compile(r"(?<!^)(?=[A-Z])")

#: Largest item document accepted, in bytes.
MAX_ITEM_BYTES = 8 * 1024 * 1024


def kebab(name: str) -> str:
    """``responseIdentifier`` -> ``response-identifier`` (QTI 2 to QTI 3 attribute names)."""
    return _CAMEL_RE.sub("-", name).lower()


def qti3_element(local: str) -> str:
    """QTI 3.0 name of a QTI 2.x body element (``choiceInteraction`` ->
    ``qti-choice-interaction``); other names (XHTML) are unchanged."""
    if local in QTI2_BODY_ELEMENTS:
        return "qti-" + kebab(local)
    return local


_QTI2_NAMES = {"qti-" + kebab(local): local for local in QTI2_BODY_ELEMENTS}
_QTI3_NAME_RE = re.compile(r"<(qti-[a-z-]+)>")


def qti2_element(local: str) -> str:
    """The QTI 2.x spelling of a QTI 3.0 body element :func:`qti3_element` renamed
    (``qti-drawing-interaction`` -> ``drawingInteraction``); other names are unchanged."""
    return _QTI2_NAMES.get(local, local)


def in_qti2_terms(error: ItemFormatError) -> ItemFormatError:
    """``error`` naming elements as a QTI 2.x document spells them: its body was read
    under QTI 3.0 names, but its author wrote (and searches for) the 2.x ones."""
    element = qti2_element(error.element) if error.element else error.element
    reason = _QTI3_NAME_RE.sub(lambda m: f"<{qti2_element(m.group(1))}>", error.reason)
    if element == error.element and reason == error.reason:
        return error
    return ItemFormatError(reason, element=element, line=error.line)


def safe_parser() -> etree.XMLParser:
    """A parser that resolves no entities, loads no DTD, never touches the network and
    keeps libxml2's size and depth limits (``huge_tree`` off)."""
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


def parse_document(data: bytes | str, *, what: str = "item") -> etree._Element:
    """Parse untrusted XML; raise :class:`ItemFormatError` when it is malformed, too large,
    or declares a DOCTYPE (external entities, entity expansion and DTDs are refused)."""
    raw = _checked_size(data, what)
    try:
        root = etree.fromstring(raw, safe_parser())
    except etree.XMLSyntaxError as exc:
        message = " ".join(str(exc.msg).split()).rstrip(",")
        raise ItemFormatError(f"malformed XML: {message}", line=exc.lineno) from None
    return _checked_document(root)


def adopt_document(
    data: bytes | str, root: etree._Element, *, what: str = "item"
) -> etree._Element:
    """``root``, parsed from ``data`` already by a parser with the options of
    :func:`safe_parser` (a package reader's), put through the checks of
    :func:`parse_document` instead of parsing ``data`` a second time."""
    _checked_size(data, what)
    return _checked_document(root)


def _checked_size(data: bytes | str, what: str) -> bytes:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if len(raw) > MAX_ITEM_BYTES:
        raise ItemFormatError(f"the {what} is larger than {MAX_ITEM_BYTES} bytes")
    return raw


def _checked_document(root: etree._Element) -> etree._Element:
    docinfo = root.getroottree().docinfo
    if (
        getattr(docinfo, "doctype", "")
        or docinfo.internalDTD is not None
        or docinfo.externalDTD is not None
    ):
        raise ItemFormatError(
            "DOCTYPE declarations are refused: an item may not declare entities or a DTD",
            line=1,
        )
    for node in root.iter():
        if isinstance(node, etree._Entity):
            raise ItemFormatError(
                "entity references are refused", line=source_line(node)
            )  # pragma: no cover - a DOCTYPE is needed to declare one
    return root


def source_line(element: etree._Element) -> int | None:
    """The line ``element`` was parsed from, when known."""
    line = element.sourceline
    return line if isinstance(line, int) else None


def default_nsmap(namespace: str) -> Any:
    """An nsmap making ``namespace`` the default (lxml's stubs do not allow a ``None`` key)."""
    return {None: namespace}


def split_tag(tag: str) -> tuple[str | None, str]:
    if tag.startswith("{"):
        ns, _, local = tag[1:].partition("}")
        return ns, local
    return None, tag


def rebuild(
    source: etree._Element,
    target: etree._Element,
    host_ns: str | None,
    *,
    skip: frozenset[etree._Element] = frozenset(),
) -> None:
    """Copy ``source``'s content (text, children, tails) under ``target``.

    Host-namespace elements (XHTML, QTI 2.x or 3.0) land in ``host_ns`` (``None`` for a
    fragment), QTI 2.x body elements and their attributes renamed to QTI 3.0; MathML,
    SVG and other elements keep their namespace as the default of their subtree, so the
    result serializes without generated prefixes. Elements in ``skip`` are left out.
    """
    if source.text:
        target.text = (target.text or "") + source.text
    last: etree._Element | None = None
    for child in source:
        if not isinstance(child.tag, str) or child in skip:
            tail = child.tail or ""
            if not tail:
                continue
            if last is None:
                target.text = (target.text or "") + tail
            else:
                last.tail = (last.tail or "") + tail
            continue
        last = _copy_element(child, target, host_ns)
        last.tail = child.tail


def _copy_element(
    source: etree._Element, parent: etree._Element, host_ns: str | None
) -> etree._Element:
    ns, local = split_tag(source.tag)
    attrib: dict[str, str] = {}
    if ns in HOST_NAMESPACES:
        renamed = qti3_element(local) if ns in QTI2_NAMESPACES else local
        converted = ns in QTI2_NAMESPACES and renamed != local
        tag = f"{{{host_ns}}}{renamed}" if host_ns else renamed
        for name, value in source.attrib.items():
            key = str(name)
            attrib[kebab(key) if converted and not key.startswith("{") else key] = str(value)
        element = etree.SubElement(parent, tag, attrib)
        element_ns = host_ns
    else:
        attrib = {str(k): str(v) for k, v in source.attrib.items()}
        parent_ns = split_tag(parent.tag)[0] if isinstance(parent.tag, str) else None
        nsmap = None if parent_ns == ns or ns is None else default_nsmap(ns)
        element = etree.SubElement(parent, source.tag, attrib, nsmap=nsmap)
        element_ns = host_ns  # host elements nested in MathML/SVG stay in the host namespace
    line = source_line(source)
    if line is not None:
        # so that errors about the copy name the author's line (lxml-stubs type it oddly)
        element.sourceline = line  # type: ignore[assignment]
    rebuild(source, element, element_ns if ns in HOST_NAMESPACES else host_ns)
    return element


def fragment_of(source: etree._Element, *, skip: frozenset[etree._Element] = frozenset()) -> str:
    """The content of ``source`` (text and children, not the element itself) as a
    namespace-free XHTML fragment string."""
    wrapper = etree.Element("fragment")
    rebuild(source, wrapper, None, skip=skip)
    out = [escape(wrapper.text or "")]
    out.extend(etree.tostring(child, encoding="unicode") for child in wrapper)
    return "".join(out)


def element_fragment(source: etree._Element) -> str:
    """``source`` itself (with its content, without its tail) as a fragment string."""
    wrapper = etree.Element("fragment")
    copy = _copy_element(source, wrapper, None)
    copy.tail = None
    return etree.tostring(copy, encoding="unicode")


def fragment_nodes(fragment: str, *, what: str = "fragment") -> etree._Element:
    """Parse a fragment into a ``fragment`` wrapper element whose content is in the QTI 3.0
    namespace (MathML in its own); raise :class:`ItemFormatError` if it is not well-formed."""
    wrapped = f'<fragment xmlns="{QTI3_NS}">{fragment}</fragment>'
    try:
        return etree.fromstring(wrapped.encode("utf-8"), safe_parser())
    except etree.XMLSyntaxError as exc:
        raise ItemFormatError(f"{what} is not well-formed XHTML: {exc.msg}") from None


_IMAGE_SUFFIXES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".svg": "image/svg+xml",
    ".webp": "image/webp",
}


def pictures_as_images(interaction: etree._Element) -> None:
    """Replace, in place, a picture ``object`` that is a direct child of ``interaction`` (a
    graphic interaction, or any element of running content) with an ``img`` in the same
    namespace: ``src`` from ``data``, ``alt`` from
    the object's fallback text, ``width`` and ``height`` kept. QTI 2 gives the picture as
    an ``object``; QTI 3.0 players draw hotspots over an ``img`` (an ``object`` that is
    not an image, a video say, is left as it is)."""
    for child in list(interaction):
        if not isinstance(child.tag, str):
            continue
        namespace, local = split_tag(child.tag)
        if local != "object":
            continue
        data = child.get("data")
        media_type = (child.get("type") or "").lower()
        if not media_type and data:
            suffix = PurePosixPath(data.split("?")[0]).suffix.lower()
            media_type = _IMAGE_SUFFIXES.get(suffix, "")
        if not data or not media_type.startswith("image/"):
            continue
        img = etree.Element(f"{{{namespace}}}img" if namespace else "img")
        img.set("src", data)
        img.set("alt", " ".join("".join(str(t) for t in child.itertext()).split()))
        for name in ("width", "height"):
            value = child.get(name)
            if value:
                img.set(name, value)
        img.tail = child.tail
        if child.sourceline is not None:
            img.sourceline = child.sourceline
        interaction.replace(child, img)


#: Attributes that hold a reference to a file (a picture, a PCI module or its configuration).
REFERENCE_ATTRIBUTES = (
    "src",
    "data",
    "href",
    "poster",
    "primary-path",
    "fallback-path",
    "primary-configuration",
    "fallback-configuration",
)
