"""Sanitizing item bodies at the QTI layer.

An HTML5 sanitizer run over raw QTI would drop or mangle what matters most in an item:
interaction elements (``qti-choice-interaction``, ``choiceInteraction``...), their choices
and prompts, and MathML. This module sanitizes the *QTI* tree instead, before anything is
turned into HTML:

* QTI structural elements (interactions, choices, prompts, gaps, hotspots, feedback,
  template and rubric blocks, printed variables) are kept as they are; their attributes go
  through the same attribute checks as everything else.
* XHTML elements are kept from an allow-list, with an allow-list of attributes per element.
* MathML is kept from an allow-list of presentation elements and attributes;
  ``annotation-xml`` (which can host HTML or SVG) is removed.
* Inline SVG is kept from an allow-list of shapes and presentation attributes; ``script``,
  ``foreignObject``, animation elements and ``use``/``image`` (which fetch other documents)
  are removed.
* ``script``, ``style``, ``iframe``, ``object``, ``embed``, ``form`` and their kin are removed
  with their content, in any namespace. The exception is ``object``: an image, audio or
  video object (the carrier of a graphic or media interaction, which QTI 2 requires, or
  one in running content) is kept with only ``data``, ``type``, ``width`` and ``height``
  and its fallback content; any other object is replaced by its fallback content (the
  text a reader without the plug-in would see), with a note.
* Event-handler attributes (``on*``), URL attributes with a scheme other than https, http
  or mailto (``data:image/png|jpeg|gif|webp`` on image sources only), and ``style``
  attributes that could run code or fetch URLs are removed. URLs are judged after
  decoding entities and percent-escapes and removing the whitespace and control
  characters that browsers ignore, so ``jav&#x09;ascript:`` and ``JaVaScRiPt:`` are caught.
* Comments, processing instructions, unresolved entity references and XInclude elements are
  removed; elements in unknown namespaces, and unknown names in the host namespace, are
  unwrapped (their content is kept) unless they are known to carry answer data, which is
  removed with its content.

The host namespaces are those of QTI 3.0 (``imsqtiasi_v3p0``), QTI 2.1 and 2.2 (where
XHTML elements live in the QTI namespace), XHTML itself, and no namespace at all (for
fragments).
"""

from __future__ import annotations

import html
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache
from typing import Any
from urllib.parse import unquote

from lxml import etree

QTI3_NS = "http://www.imsglobal.org/xsd/imsqtiasi_v3p0"
QTI21_NS = "http://www.imsglobal.org/xsd/imsqti_v2p1"
QTI22_NS = "http://www.imsglobal.org/xsd/imsqti_v2p2"
XHTML_NS = "http://www.w3.org/1999/xhtml"
MATHML_NS = "http://www.w3.org/1998/Math/MathML"
SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
XML_NS = "http://www.w3.org/XML/1998/namespace"
XINCLUDE_NS = "http://www.w3.org/2001/XInclude"
PCI_NS_PREFIX = "http://www.imsglobal.org/xsd/portableCustomInteraction"

#: Namespaces whose elements are XHTML or QTI body elements. ``None`` is a fragment without
#: a namespace.
#: QTI 2.2's HTML5 elements (figure, video, ruby...) live in a namespace of their own.
QTI22_HTML5_NS = "http://www.imsglobal.org/xsd/imsqtiv2p2_html5_v1p0"
HOST_NAMESPACES: frozenset[str | None] = frozenset(
    {QTI3_NS, QTI21_NS, QTI22_NS, QTI22_HTML5_NS, XHTML_NS, None}
)

# --- element allow-lists -------------------------------------------------------------------

#: QTI 3.0 structured body elements, kept with their structure.
QTI3_BODY_ELEMENTS: frozenset[str] = frozenset(
    {
        "qti-item-body",
        "qti-associate-interaction",
        "qti-choice-interaction",
        "qti-custom-interaction",
        "qti-drawing-interaction",
        "qti-end-attempt-interaction",
        "qti-extended-text-interaction",
        "qti-gap-match-interaction",
        "qti-graphic-associate-interaction",
        "qti-graphic-gap-match-interaction",
        "qti-graphic-order-interaction",
        "qti-hotspot-interaction",
        "qti-hottext-interaction",
        "qti-inline-choice-interaction",
        "qti-match-interaction",
        "qti-media-interaction",
        "qti-order-interaction",
        "qti-portable-custom-interaction",
        "qti-position-object-interaction",
        "qti-position-object-stage",
        "qti-select-point-interaction",
        "qti-slider-interaction",
        "qti-text-entry-interaction",
        "qti-upload-interaction",
        "qti-prompt",
        "qti-simple-choice",
        "qti-simple-associable-choice",
        "qti-simple-match-set",
        "qti-inline-choice",
        "qti-gap",
        "qti-gap-text",
        "qti-gap-img",
        "qti-hottext",
        "qti-hotspot-choice",
        "qti-associable-hotspot",
        "qti-feedback-block",
        "qti-feedback-inline",
        "qti-template-block",
        "qti-template-inline",
        "qti-printed-variable",
        "qti-rubric-block",
        "qti-content-body",
        "qti-label",
        "qti-interaction-markup",
        "qti-interaction-modules",
        "qti-interaction-module",
        "qti-template-variable",
        "qti-context-variable",
    }
)

#: QTI 2.1/2.2 structured body elements (camelCase).
QTI2_BODY_ELEMENTS: frozenset[str] = frozenset(
    {
        "itemBody",
        "associateInteraction",
        "choiceInteraction",
        "customInteraction",
        "drawingInteraction",
        "endAttemptInteraction",
        "extendedTextInteraction",
        "gapMatchInteraction",
        "graphicAssociateInteraction",
        "graphicGapMatchInteraction",
        "graphicOrderInteraction",
        "hotspotInteraction",
        "hottextInteraction",
        "inlineChoiceInteraction",
        "matchInteraction",
        "mediaInteraction",
        "orderInteraction",
        "positionObjectInteraction",
        "positionObjectStage",
        "selectPointInteraction",
        "sliderInteraction",
        "textEntryInteraction",
        "uploadInteraction",
        "portableCustomInteraction",
        "prompt",
        "simpleChoice",
        "simpleAssociableChoice",
        "simpleMatchSet",
        "inlineChoice",
        "gap",
        "gapText",
        "gapImg",
        "hottext",
        "hotspotChoice",
        "associableHotspot",
        "feedbackBlock",
        "feedbackInline",
        "templateBlock",
        "templateInline",
        "printedVariable",
        "rubricBlock",
        "infoControl",
        "interactionModules",
        "interactionModule",
        "interactionMarkup",
    }
)

#: Elements of the 2.2 portable-custom-interaction namespace, kept as structure.
PCI2_ELEMENTS: frozenset[str] = frozenset(
    {
        "portableCustomInteraction",
        "templateVariables",
        "templateVariable",
        "contextVariables",
        "contextVariable",
        "responseSchemas",
        "resources",
        "libraries",
        "lib",
        "stylesheets",
        "stylesheet",
        "mediaFiles",
        "file",
        "markup",
        "properties",
        "property",
        "modules",
        "module",
    }
)

#: QTI elements that carry answer data or processing, never candidate-facing content: if one
#: turns up inside a body it is removed with its content (unwrapping would show its text).
QTI_DATA_ELEMENTS: frozenset[str] = frozenset(
    {
        "qti-response-declaration",
        "qti-outcome-declaration",
        "qti-template-declaration",
        "qti-context-declaration",
        "qti-correct-response",
        "qti-default-value",
        "qti-mapping",
        "qti-area-mapping",
        "qti-map-entry",
        "qti-area-map-entry",
        "qti-response-processing",
        "qti-template-processing",
        "qti-outcome-processing",
        "qti-modal-feedback",
        "qti-stylesheet",
        "qti-catalog-info",
        "qti-value",
        "responseDeclaration",
        "outcomeDeclaration",
        "templateDeclaration",
        "correctResponse",
        "defaultValue",
        "mapping",
        "areaMapping",
        "mapEntry",
        "areaMapEntry",
        "responseProcessing",
        "templateProcessing",
        "outcomeProcessing",
        "modalFeedback",
        "stylesheet",
        "value",
    }
)

#: XHTML elements allowed in a body.
XHTML_ELEMENTS: frozenset[str] = frozenset(
    {
        "a", "abbr", "acronym", "address", "article", "aside", "audio", "b", "bdi", "bdo",
        "big", "blockquote", "br", "caption", "cite", "code", "col", "colgroup", "dd", "del",
        "details", "dfn", "div", "dl", "dt", "em", "figcaption", "figure", "footer", "h1",
        "h2", "h3", "h4", "h5", "h6", "header", "hr", "i", "img", "ins", "kbd", "label", "li",
        "mark", "nav", "ol", "p", "picture", "pre", "q", "rb", "rp", "rt", "rtc", "ruby",
        "s", "samp", "section", "small", "source", "span", "strong", "sub", "summary", "sup",
        "table", "tbody", "td", "tfoot", "th", "thead", "time", "tr", "track", "tt", "u",
        "ul", "var", "video", "wbr",
    }
)  # fmt: skip

#: Elements removed together with their content, whatever their namespace.
DANGEROUS_ELEMENTS: frozenset[str] = frozenset(
    {
        "script", "style", "iframe", "frame", "frameset", "object", "embed", "applet",
        "form", "input", "button", "select", "option", "optgroup", "textarea", "datalist",
        "output", "keygen", "link", "meta", "base", "noscript", "noembed", "noframes",
        "template", "xmp", "plaintext", "listing", "title", "head", "portal", "dialog",
        "canvas", "param", "slot", "foreignObject", "foreignobject", "set", "animate",
        "animateMotion", "animateTransform", "animateColor", "handler", "listener",
        "annotation-xml", "image", "use",
    }
)  # fmt: skip
_DANGEROUS_LOWER = frozenset(name.lower() for name in DANGEROUS_ELEMENTS)

#: Presentation MathML elements kept in a ``math`` tree.
MATHML_ELEMENTS: frozenset[str] = frozenset(
    {
        "math", "mi", "mn", "mo", "ms", "mtext", "mspace", "mrow", "mfrac", "msqrt", "mroot",
        "mstyle", "merror", "mpadded", "mphantom", "mfenced", "menclose", "msub", "msup",
        "msubsup", "munder", "mover", "munderover", "mmultiscripts", "mprescripts", "none",
        "mtable", "mlabeledtr", "mtr", "mtd", "maligngroup", "malignmark", "mstack",
        "mlongdiv", "msgroup", "msrow", "mscarries", "mscarry", "msline", "semantics",
        "annotation",
    }
)  # fmt: skip

MATHML_ATTRIBUTES: frozenset[str] = frozenset(
    {
        "accent", "accentunder", "align", "alttext", "bevelled", "close", "columnalign",
        "columnlines", "columnspacing", "columnspan", "denomalign", "depth", "dir",
        "display", "displaystyle", "encoding", "fence", "form", "frame", "framespacing",
        "height", "largeop", "linebreak", "linethickness", "lquote", "lspace", "mathbackground",
        "mathcolor", "mathsize", "mathvariant", "maxsize", "minsize", "movablelimits",
        "notation", "numalign", "open", "rowalign", "rowlines", "rowspacing", "rowspan",
        "rquote", "rspace", "scriptlevel", "scriptminsize", "scriptsizemultiplier",
        "separator", "separators", "side", "stretchy", "subscriptshift", "superscriptshift",
        "symmetric", "voffset", "width", "equalrows", "equalcolumns", "crossout",
        "longdivstyle", "charalign", "charspacing", "stackalign", "position", "shift",
        "location",
    }
)  # fmt: skip

SVG_ELEMENTS: frozenset[str] = frozenset(
    {
        "svg", "g", "path", "rect", "circle", "ellipse", "line", "polyline", "polygon",
        "text", "tspan", "title", "desc", "defs", "linearGradient", "radialGradient", "stop",
        "clipPath", "marker", "pattern", "symbol", "mask",
    }
)  # fmt: skip

SVG_ATTRIBUTES: frozenset[str] = frozenset(
    {
        "viewBox", "preserveAspectRatio", "width", "height", "x", "y", "x1", "y1", "x2",
        "y2", "cx", "cy", "r", "rx", "ry", "d", "points", "transform", "fill",
        "fill-opacity", "fill-rule", "stroke", "stroke-width", "stroke-opacity",
        "stroke-linecap", "stroke-linejoin", "stroke-dasharray", "stroke-dashoffset",
        "stroke-miterlimit", "opacity", "font-family", "font-size", "font-weight",
        "font-style", "text-anchor", "dominant-baseline", "dx", "dy", "rotate",
        "textLength", "lengthAdjust", "offset", "stop-color", "stop-opacity",
        "gradientUnits", "gradientTransform", "fx", "fy", "clip-path", "clipPathUnits",
        "clip-rule", "marker-start", "marker-mid", "marker-end", "markerWidth",
        "markerHeight", "markerUnits", "refX", "refY", "orient", "patternUnits",
        "patternContentUnits", "patternTransform", "mask", "maskUnits", "maskContentUnits",
        "visibility", "display", "vector-effect", "shape-rendering", "role", "focusable",
        "version",
    }
)  # fmt: skip

#: Attributes allowed on every XHTML and QTI element.
GLOBAL_ATTRIBUTES: frozenset[str] = frozenset(
    {"id", "class", "title", "lang", "dir", "role", "label", "hidden", "translate"}
)

#: Extra attributes per XHTML element.
XHTML_ATTRIBUTES: dict[str, frozenset[str]] = {
    "a": frozenset({"href", "hreflang", "type"}),
    "abbr": frozenset(),
    "audio": frozenset({"src", "controls", "loop", "muted", "preload"}),
    "bdo": frozenset(),
    "blockquote": frozenset({"cite"}),
    "col": frozenset({"span", "width", "align", "valign"}),
    "colgroup": frozenset({"span", "width", "align", "valign"}),
    "del": frozenset({"cite", "datetime"}),
    "details": frozenset({"open"}),
    "img": frozenset({"src", "alt", "width", "height", "longdesc"}),
    "ins": frozenset({"cite", "datetime"}),
    "li": frozenset({"value"}),
    "ol": frozenset({"start", "type", "reversed"}),
    "q": frozenset({"cite"}),
    "source": frozenset({"src", "type", "media", "sizes"}),
    "table": frozenset({"summary", "border", "cellpadding", "cellspacing", "width"}),
    "td": frozenset({"colspan", "rowspan", "headers", "abbr", "scope", "align", "valign"}),
    "th": frozenset({"colspan", "rowspan", "headers", "abbr", "scope", "align", "valign"}),
    "tr": frozenset({"align", "valign"}),
    "tbody": frozenset({"align", "valign"}),
    "thead": frozenset({"align", "valign"}),
    "tfoot": frozenset({"align", "valign"}),
    "time": frozenset({"datetime"}),
    "track": frozenset({"src", "kind", "srclang", "default"}),
    "ul": frozenset({"type"}),
    "video": frozenset({"src", "controls", "loop", "muted", "preload", "poster", "width",
                        "height"}),
}  # fmt: skip

#: Attributes that hold URLs (checked against the scheme allow-list), in any vocabulary.
URL_ATTRIBUTES: frozenset[str] = frozenset(
    {
        "href", "src", "data", "cite", "longdesc", "poster", "action", "formaction",
        "background", "codebase", "classid", "archive", "usemap", "dynsrc", "lowsrc",
        "profile", "manifest", "ping", "altimg", "primary-path", "fallback-path",
        "primaryPath", "fallbackPath",
    }
)  # fmt: skip

#: Graphic and media interactions whose image or media is carried by an ``object`` element.
OBJECT_CARRIERS: frozenset[str] = frozenset(
    {
        "hotspotInteraction",
        "selectPointInteraction",
        "graphicOrderInteraction",
        "graphicAssociateInteraction",
        "graphicGapMatchInteraction",
        "positionObjectInteraction",
        "positionObjectStage",
        "mediaInteraction",
        "gapImg",
        "qti-hotspot-interaction",
        "qti-select-point-interaction",
        "qti-graphic-order-interaction",
        "qti-graphic-associate-interaction",
        "qti-graphic-gap-match-interaction",
        "qti-position-object-interaction",
        "qti-position-object-stage",
        "qti-media-interaction",
        "qti-gap-img",
    }
)
OBJECT_ATTRIBUTES: frozenset[str] = frozenset({"data", "type", "width", "height"})
OBJECT_TYPE_RE = re.compile(r"^(image|audio|video)/[a-z0-9.+-]+$")

ALLOWED_SCHEMES: frozenset[str] = frozenset({"https", "http", "mailto"})
SAFE_DATA_IMAGE_RE = re.compile(r"^data:image/(png|jpeg|gif|webp);base64,[a-z0-9+/=\s]*$", re.I)
#: Attributes that may hold a ``data:image/...`` URL (an image source, nothing navigable).
DATA_IMAGE_ATTRIBUTES: frozenset[str] = frozenset({"src", "poster", "data"})
_SCRIPT_VALUE_RE = re.compile(
    r"^(javascript|vbscript|livescript|mocha):|^data:(?!image/(png|jpeg|gif|webp)[;,])[a-z-]+/"
)

# Browsers drop tab, CR and LF anywhere in a URL and leading/trailing C0 controls and
# spaces; removing every control and whitespace character is stricter than that.
_URL_IGNORED_RE = re.compile(
    r"[\x00-\x20\x7f-\xa0\u1680\u180e\u2000-\u200f\u2028-\u202f\u205f\u3000\ufeff]"
)
_SCHEME_RE = re.compile(r"^([a-z][a-z0-9+.\-]*):", re.I)
_ATTR_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_.\-]*$")
_CSS_ESCAPE_RE = re.compile(r"\\([0-9a-f]{1,6}\s?|.)", re.I)
_CSS_COMMENT_RE = re.compile(r"/\*.*?(\*/|$)", re.S)
_CSS_URL_RE = re.compile(r"url\s*\(\s*(['\"]?)(.*?)\1\s*\)", re.I | re.S)
_CSS_FORBIDDEN = (
    "expression",
    "javascript",
    "vbscript",
    "-moz-binding",
    "behavior",
    "@import",
    "<",
)


class _Zone(Enum):
    HOST = "host"
    MATH = "math"
    SVG = "svg"


class _Action(Enum):
    KEEP = "keep"
    DROP = "drop"
    UNWRAP = "unwrap"


@dataclass(frozen=True)
class _Verdict:
    action: _Action
    zone: _Zone
    reason: str = ""


class _Notes:
    """Collects what was removed; identical notes are merged with a count, order kept."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()

    def add(self, note: str) -> None:
        self._counts[note] += 1

    def render(self) -> list[str]:
        return [note if n == 1 else f"{note} (x{n})" for note, n in self._counts.items()]


def _str(value: str | bytes) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value


@lru_cache(maxsize=4096)
def _split(tag: str) -> tuple[str | None, str]:
    """``"{ns}local"`` -> ``(ns, local)``; cached, as the same few tags recur."""
    if tag.startswith("{"):
        ns, _, local = tag[1:].partition("}")
        return ns, local
    return None, tag


@lru_cache(maxsize=4096)
def _display(tag: str) -> str:
    ns, local = _split(tag)
    if ns in HOST_NAMESPACES or ns in (MATHML_NS, SVG_NS):
        return local
    return f"{{{ns}}}{local}"


def _decode_url(value: str) -> str:
    """The URL as a browser would read its scheme: entities and escapes decoded, whitespace
    and control characters removed, lower-cased. Decoding repeats until stable so that
    double-encoded schemes (``&amp;#106;avascript:``) are caught too."""
    current = value
    for _ in range(5):
        decoded = _URL_IGNORED_RE.sub("", unquote(html.unescape(current)))
        if decoded == current:
            break
        current = decoded
    return current.lower()


def is_safe_url(value: str, *, allow_data_image: bool = False) -> bool:
    """True when ``value`` is a relative reference or an https, http or mailto URL.

    With ``allow_data_image``, ``data:image/png|jpeg|gif|webp;base64,...`` is accepted too.
    Every other scheme, including obfuscated ``javascript:`` written with entities,
    percent-escapes, mixed case or embedded whitespace, is refused.
    """
    decoded = _decode_url(value)
    match = _SCHEME_RE.match(decoded)
    if match is None:
        # No scheme: a relative path, a fragment or a protocol-relative URL. A colon before
        # the first '/' would still make a browser see a scheme, so refuse those.
        first_colon = decoded.find(":")
        if first_colon == -1:
            return True
        first_delim = min((i for i in (decoded.find(c) for c in "/?#") if i != -1), default=-1)
        return first_delim != -1 and first_delim < first_colon
    scheme = match.group(1)
    if scheme in ALLOWED_SCHEMES:
        return True
    if scheme == "data" and allow_data_image:
        return SAFE_DATA_IMAGE_RE.match(_URL_IGNORED_RE.sub("", html.unescape(value))) is not None
    return False


def is_safe_style(value: str) -> bool:
    """True when a ``style`` attribute can neither run code nor fetch from another origin.

    CSS escapes and comments are decoded/removed before the check, so ``expr/**/ession(``
    and ``\\65 xpression(`` are caught; ``url(...)`` is allowed only with a relative or
    https/http target.
    """
    text = html.unescape(value)

    def _unescape(match: re.Match[str]) -> str:
        body = match.group(1).strip()
        if re.fullmatch(r"[0-9a-fA-F]{1,6}", body):
            try:
                return chr(int(body, 16))
            except (ValueError, OverflowError):
                return ""
        return body

    text = _CSS_COMMENT_RE.sub("", _CSS_ESCAPE_RE.sub(_unescape, text))
    compact = _URL_IGNORED_RE.sub("", text).lower()
    if any(word in compact for word in _CSS_FORBIDDEN):
        return False
    return all(is_safe_url(m.group(2)) for m in _CSS_URL_RE.finditer(text))


def _has_dangerous_scheme(value: str) -> bool:
    """True when a value that is not declared as a URL still reads as a script URL (or a
    ``data:`` document), in case a player ever uses it as one."""
    if ":" not in value and "&" not in value and "%" not in value:
        return False  # no scheme, and nothing that could decode into one
    return _SCRIPT_VALUE_RE.match(_decode_url(value)) is not None


class _Sanitizer:
    def __init__(self) -> None:
        self.notes = _Notes()

    # -- elements ---------------------------------------------------------------------

    def classify(self, el: etree._Element, zone: _Zone, parent_local: str) -> _Verdict:
        ns, local = _split(el.tag)
        lowered = local.lower()
        shown = _display(el.tag)
        if ns == XINCLUDE_NS:
            return _Verdict(_Action.DROP, zone, f"removed XInclude <{local}> element")
        if lowered == "object" and ns in HOST_NAMESPACES and parent_local in OBJECT_CARRIERS:
            return self._classify_media_object(el, zone, parent_local)
        if lowered == "object" and ns in HOST_NAMESPACES:
            # In running content an object shows a picture, a sound or a video (kept as
            # such, its fallback too); anything else (an HTML page, a plug-in) is not run,
            # and what the author gave for a reader without it is shown in its place.
            media = self._classify_media_object(el, zone, parent_local)
            if media.action is _Action.KEEP:
                return media
            kind = (el.get("type") or "").strip() or "no type"
            return _Verdict(
                _Action.UNWRAP,
                zone,
                f"replaced <{shown}> ({kind}) by its fallback content: only image, audio or "
                "video objects are shown",
            )
        # svg:title is a plain label; everywhere else "title" is a document-head element.
        if lowered in _DANGEROUS_LOWER and not (ns == SVG_NS and local == "title"):
            return _Verdict(_Action.DROP, zone, f"removed <{shown}> element with its content")
        if ns == MATHML_NS:
            if local in MATHML_ELEMENTS and (zone is _Zone.MATH or local == "math"):
                return _Verdict(_Action.KEEP, _Zone.MATH)
            return _Verdict(_Action.UNWRAP, zone, f"unwrapped MathML <{local}> (not allowed here)")
        if ns == SVG_NS:
            if local in SVG_ELEMENTS and (zone is _Zone.SVG or local == "svg"):
                return _Verdict(_Action.KEEP, _Zone.SVG)
            return _Verdict(_Action.UNWRAP, zone, f"unwrapped SVG <{local}> (not allowed here)")
        if ns in HOST_NAMESPACES and local in QTI_DATA_ELEMENTS:
            return _Verdict(
                _Action.DROP,
                zone,
                f"removed <{local}> element with its content (answer or processing data "
                "does not belong in a body)",
            )
        if zone is not _Zone.HOST:
            # Mixing vocabularies inside MathML or SVG is where HTML parsers and XML
            # parsers disagree; only MathML in MathML and SVG in SVG is kept.
            return _Verdict(
                _Action.UNWRAP, zone, f"unwrapped <{shown}> inside {zone.value.upper()}"
            )
        if ns is not None and ns.startswith(PCI_NS_PREFIX):
            if local in PCI2_ELEMENTS:
                return _Verdict(_Action.KEEP, _Zone.HOST)
            return _Verdict(_Action.UNWRAP, zone, f"unwrapped <{shown}> (unknown element)")
        if ns in HOST_NAMESPACES:
            if local in XHTML_ELEMENTS:
                return _Verdict(_Action.KEEP, _Zone.HOST)
            if ns in (QTI3_NS, None) and local in QTI3_BODY_ELEMENTS:
                return _Verdict(_Action.KEEP, _Zone.HOST)
            if ns in (QTI21_NS, QTI22_NS, None) and local in QTI2_BODY_ELEMENTS:
                return _Verdict(_Action.KEEP, _Zone.HOST)
            return _Verdict(_Action.UNWRAP, zone, f"unwrapped <{shown}> (unknown element)")
        return _Verdict(_Action.UNWRAP, zone, f"unwrapped <{shown}> (unknown namespace)")

    def _classify_media_object(
        self, el: etree._Element, zone: _Zone, parent_local: str
    ) -> _Verdict:
        obj_type = (el.get("type") or "").strip().lower()
        data = el.get("data") or ""
        # An SVG shown through <object> runs its scripts; only package files, which media
        # checks vet on import, may be SVG.
        svg_ok = obj_type != "image/svg+xml" or _SCHEME_RE.match(_decode_url(data)) is None
        if OBJECT_TYPE_RE.match(obj_type) and data and is_safe_url(data) and svg_ok:
            return _Verdict(_Action.KEEP, _Zone.HOST)
        return _Verdict(
            _Action.DROP,
            zone,
            f"removed <object> in <{parent_local}>: only image, audio or video objects with "
            "a safe data URL are kept",
        )

    # -- attributes -------------------------------------------------------------------

    def clean_attributes(self, el: etree._Element, zone: _Zone, parent_local: str) -> None:
        if not len(el.attrib):
            return
        ns, local = _split(el.tag)
        # Only media objects are kept (classify), in an interaction or in running content.
        is_object = local == "object" and ns in HOST_NAMESPACES
        for name in list(el.attrib):
            attr_ns, attr_local = _split(_str(name))
            value = _str(el.attrib[name])
            reason = self._attribute_problem(
                ns=ns,
                local=local,
                attr_ns=attr_ns,
                attr=attr_local,
                value=value,
                zone=zone,
                is_object=is_object,
            )
            if reason is not None:
                del el.attrib[name]
                shown = _display(el.tag)
                self.notes.add(f"removed attribute {attr_local!s} from <{shown}>: {reason}")

    def _attribute_problem(
        self,
        *,
        ns: str | None,
        local: str,
        attr_ns: str | None,
        attr: str,
        value: str,
        zone: _Zone,
        is_object: bool,
    ) -> str | None:
        """Why an attribute must go, or None to keep it."""
        if attr.lower().startswith("on"):
            return "event handler"
        if attr_ns == XML_NS:
            if attr in ("lang", "space"):
                return None
            return "not allowed"
        if attr_ns == XLINK_NS:
            if attr == "href" and zone is not _Zone.HOST and is_safe_url(value):
                return None
            return "not allowed"
        if attr_ns is not None:
            return "attribute in a foreign namespace"
        if not _ATTR_NAME_RE.match(attr):
            return "not allowed"
        if attr == "style":
            return None if is_safe_style(value) else "style that could run code or fetch URLs"
        if attr in URL_ATTRIBUTES:
            if not is_safe_url(value, allow_data_image=attr in DATA_IMAGE_ATTRIBUTES):
                return "URL scheme not allowed"
        elif _has_dangerous_scheme(value):
            return "value is a script URL"
        if is_object:
            if attr not in OBJECT_ATTRIBUTES:
                return "not allowed on a media object"
            return None
        if attr.startswith(("aria-", "data-")) or attr in GLOBAL_ATTRIBUTES:
            return None
        if zone is _Zone.MATH:
            if attr in MATHML_ATTRIBUTES or attr in ("href", "xref", "style"):
                return None
            return "not an allowed MathML attribute"
        if zone is _Zone.SVG:
            if attr in SVG_ATTRIBUTES:
                return None
            return "not an allowed SVG attribute"
        if local in XHTML_ELEMENTS and (ns in HOST_NAMESPACES):
            if attr in XHTML_ATTRIBUTES.get(local, frozenset()):
                return None
            return "not allowed on this element"
        # QTI structured elements: QTI defines many attributes (shuffle, max-choices,
        # response-identifier, expected-length...); their names were checked above and
        # any value that could be a script URL was refused, so they are kept.
        return None

    # -- walk -------------------------------------------------------------------------

    def run(self, root: etree._Element) -> None:
        root_ns = _split(root.tag)[0] if isinstance(root.tag, str) else None
        zone = (
            _Zone.MATH if root_ns == MATHML_NS else _Zone.SVG if root_ns == SVG_NS else _Zone.HOST
        )
        self.clean_attributes(root, zone, "")
        # Depth-first in document order with an explicit stack (no recursion limit on
        # deep trees). Each frame is [parent, zone, next node to examine]; walking by
        # sibling links keeps the pass linear (len() and index() on lxml are O(children)).
        stack: list[list[Any]] = [[root, zone, next(iter(root), None)]]
        while stack:
            frame = stack[-1]
            parent, parent_zone, node = frame
            if node is None:
                stack.pop()
                continue
            following = node.getnext()
            if not isinstance(node.tag, str):
                self._note_non_element(node)
                _remove_keep_tail(node)
                frame[2] = following
                continue
            parent_local = _split(parent.tag)[1]
            self._adopt_foreign_root(node)
            verdict = self.classify(node, parent_zone, parent_local)
            if verdict.action is _Action.DROP:
                self.notes.add(verdict.reason)
                _remove_keep_tail(node)
                frame[2] = following
                continue
            if verdict.action is _Action.UNWRAP:
                self.notes.add(verdict.reason)
                # The moved children are examined next, in the parent's context.
                first = next(iter(node), None)
                _unwrap(node)
                frame[2] = first if first is not None else following
                continue
            self.clean_attributes(node, verdict.zone, parent_local)
            if _split(node.tag)[1] == "annotation":
                # An annotation is text (TeX, plain text); elements inside are not.
                for grand in list(node):
                    self.notes.add("removed markup inside a MathML <annotation>")
                    _remove_keep_tail(grand)
            frame[2] = following
            stack.append([node, verdict.zone, next(iter(node), None)])

    def _adopt_foreign_root(self, el: etree._Element) -> None:
        """Move a ``math``/``svg`` written without its namespace (as HTML allows, and as
        the HTML parser produces) into the MathML/SVG namespace, with its descendants
        that are in a host namespace, so that it is judged by the MathML/SVG rules."""
        ns, local = _split(el.tag)
        if ns not in HOST_NAMESPACES or local not in ("math", "svg"):
            return
        target = MATHML_NS if local == "math" else SVG_NS
        for node in el.iter():
            if isinstance(node.tag, str):
                node_ns, node_local = _split(node.tag)
                if node_ns in HOST_NAMESPACES:
                    node.tag = f"{{{target}}}{node_local}"
        self.notes.add(
            f"moved <{local}> into the {'MathML' if local == 'math' else 'SVG'} namespace"
        )

    def _note_non_element(self, node: etree._Element) -> None:
        if isinstance(node, etree._Comment):
            self.notes.add("removed comment")
        elif isinstance(node, etree._ProcessingInstruction):
            self.notes.add("removed processing instruction")
        elif isinstance(node, etree._Entity):
            self.notes.add("removed unresolved entity reference")
        else:
            self.notes.add("removed non-element node")


def _remove_keep_tail(node: etree._Element) -> None:
    """Remove ``node`` and its subtree, keeping the text that follows it."""
    parent = node.getparent()
    if parent is None:
        return
    tail = node.tail
    if tail:
        previous = node.getprevious()
        if previous is not None:
            previous.tail = (previous.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail
    parent.remove(node)


def _unwrap(node: etree._Element) -> None:
    """Replace ``node`` by its content: text, children and tail stay in place."""
    parent = node.getparent()
    if parent is None:
        return
    previous = node.getprevious()
    if node.text:
        if previous is not None:
            previous.tail = (previous.tail or "") + node.text
        else:
            parent.text = (parent.text or "") + node.text
    children = list(node)
    for child in children:
        node.addprevious(child)  # moves the child with its tail
    if node.tail:
        before = node.getprevious()
        if before is not None:
            before.tail = (before.tail or "") + node.tail
        else:
            parent.text = (parent.text or "") + node.tail
    parent.remove(node)


def sanitize_body(body: etree._Element) -> list[str]:
    """Sanitize a QTI item body (or any QTI/XHTML subtree) in place.

    ``body`` is typically ``qti-item-body`` (QTI 3.0) or ``itemBody`` (QTI 2.1/2.2), but any
    element of a host namespace works; the root's own attributes are checked, the root
    itself is always kept. Returns human-readable notes of what was removed or unwrapped,
    in document order, identical notes merged with a count (``"... (x3)"``). An empty
    list means the tree was already clean. Running it twice is a no-op the second time.
    """
    sanitizer = _Sanitizer()
    sanitizer.run(body)
    return sanitizer.notes.render()


# --- fragments ---------------------------------------------------------------------------

#: XHTML void elements, serialized as ``<br/>``; every other empty element gets an explicit
#: end tag so that the output parses the same as HTML and as XML.
VOID_ELEMENTS: frozenset[str] = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
     "track", "wbr"}
)  # fmt: skip


def safe_xml_parser() -> etree.XMLParser:
    """An lxml parser that never resolves entities, loads a DTD or touches the network.

    Comments and processing instructions are dropped at parse time; ``huge_tree`` stays
    off, so libxml2's depth and size limits apply.
    """
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        remove_comments=True,
        remove_pis=True,
        huge_tree=False,
    )


def _parse_fragment(markup: str) -> etree._Element:
    wrapped = f'<div xmlns="{XHTML_NS}">{markup}</div>'
    try:
        return etree.fromstring(wrapped.encode("utf-8"), safe_xml_parser())
    except etree.XMLSyntaxError:
        pass
    # Not well-formed XML (e.g. ``<br>`` or ``&nbsp;``): fall back to the HTML parser. Its
    # tree is sanitized like any other and re-serialized, so parser differences cannot
    # smuggle markup through: only allow-listed elements with escaped text come out.
    from lxml import html as lxml_html

    container: etree._Element = lxml_html.fragment_fromstring(markup or "", create_parent="div")
    return container


_FOREIGN_PREFIXES = {XLINK_NS: "xlink", XML_NS: "xml"}


def _escape_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _escape_attr(text: str) -> str:
    # Tabs and line breaks as character references: an XML parser would otherwise
    # normalize them to spaces, and the value would not survive a round trip.
    return (
        _escape_text(text)
        .replace('"', "&quot;")
        .replace("\t", "&#9;")
        .replace("\n", "&#10;")
        .replace("\r", "&#13;")
    )


def serialize_polyglot(nodes: Iterable[etree._Element], *, leading_text: str = "") -> str:
    """Serialize elements (with their tails) as polyglot markup: the same tree whether a
    browser parses it as HTML5 or as XML.

    Host-namespace (XHTML/QTI) elements are written without a namespace; a MathML or SVG
    subtree gets a default ``xmlns`` on its root (HTML parsers ignore prefixes, so no
    ``m:`` prefixes are written); void elements are self-closed and every other element
    gets an end tag; text and attribute values are escaped. Comments and processing
    instructions are skipped. Attributes in namespaces other than xml and xlink are
    skipped too: sanitized trees have none.
    """
    out: list[str] = [_escape_text(leading_text)]
    for node in nodes:
        _serialize_node(node, out)
    return "".join(out)


def _serialize_node(node: etree._Element, out: list[str]) -> None:
    # Iterative walk: ("open", el, parent default namespace) writes the start tag, text and
    # schedules the children and the close; ("close", el, ...) writes the end tag and tail.
    todo: list[tuple[bool, etree._Element, str | None]] = [(True, node, None)]
    while todo:
        opening, el, scope = todo.pop()
        if not isinstance(el.tag, str):
            out.append(_escape_text(el.tail or ""))
            continue
        ns, local = _split(el.tag)
        out_ns = ns if ns in (MATHML_NS, SVG_NS) else None
        is_void = out_ns is None and local in VOID_ELEMENTS
        if not opening:
            if not is_void:
                out.append(f"</{local}>")
            out.append(_escape_text(el.tail or ""))
            continue
        parts = [local]
        if out_ns != scope:
            parts.append(f'xmlns="{out_ns or XHTML_NS}"')
        declared_xlink = False
        for name, value in el.attrib.items():
            attr_ns, attr_local = _split(_str(name))
            if attr_ns is None:
                parts.append(f'{attr_local}="{_escape_attr(_str(value))}"')
            elif attr_ns in _FOREIGN_PREFIXES:
                prefix = _FOREIGN_PREFIXES[attr_ns]
                if prefix == "xlink" and not declared_xlink:
                    parts.append(f'xmlns:xlink="{XLINK_NS}"')
                    declared_xlink = True
                parts.append(f'{prefix}:{attr_local}="{_escape_attr(_str(value))}"')
        out.append("<" + " ".join(parts) + ("/>" if is_void else ">"))
        todo.append((False, el, scope))
        if not is_void:
            out.append(_escape_text(el.text or ""))
            todo.extend((True, child, out_ns) for child in reversed(el))


def serialize_children(container: etree._Element) -> str:
    """The content of ``container`` (its text and children, not the element itself) as
    polyglot markup; see :func:`serialize_polyglot`."""
    return serialize_polyglot(list(container), leading_text=container.text or "")


def sanitize_fragment_html(markup: str) -> str:
    """Sanitize an XHTML snippet (a prompt, a choice label, a rubric descriptor...).

    Accepts well-formed XHTML and, failing that, tag soup; returns polyglot markup holding
    only allow-listed elements and attributes (see :func:`sanitize_body`), without a
    wrapping element. QTI interaction elements are not expected in a snippet and are kept
    only if present in their namespace. Never raises on bad input: what cannot be parsed
    comes back as escaped text or is dropped.
    """
    return sanitize_fragment_notes(markup)[0]


def sanitize_fragment_notes(markup: str) -> tuple[str, list[str]]:
    """Like :func:`sanitize_fragment_html`, also returning the notes of what was removed."""
    root = _parse_fragment(markup)
    sanitizer = _Sanitizer()
    sanitizer.run(root)
    return serialize_children(root), sanitizer.notes.render()
