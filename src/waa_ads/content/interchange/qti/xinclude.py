"""XInclude in QTI items: ``<xi:include href="passage.xml"/>`` put in place from the package.

Authoring tools keep a passage, or a part of an item body shared by several items, in a
file of its own and include it (QTI 3.0 allows ``xi:include`` wherever body content goes).
The bank stores each item whole, so an include is resolved when the item is read: the
included file's root element (``parse="xml"``, the default) or its text (``parse="text"``)
takes the include's place. Only files of the same package (or of the folder a loose item
file was read from) are read, through the caller's ``read``; nothing is fetched. An
``xi:fallback`` stands in for a file that is not there; without one the item is refused,
naming the file. ``xpointer`` (a part of a file) is refused, as are includes nested deeper
than :data:`MAX_DEPTH` or including themselves, more than :data:`MAX_INCLUDES` includes in
one item, or more bytes included than the item may have (``max_bytes``). Relative
references of an included file (pictures) are rewritten relative to the item, so they
name the same files.
"""

from __future__ import annotations

import copy
import posixpath
from collections.abc import Callable

from lxml import etree

from waa_ads.content.interchange.qti.common import REFERENCE_ATTRIBUTES

XINCLUDE_NS = "http://www.w3.org/2001/XInclude"
MAX_DEPTH = 4
MAX_INCLUDES = 64
_INCLUDE = f"{{{XINCLUDE_NS}}}include"
_FALLBACK = f"{{{XINCLUDE_NS}}}fallback"

Resolve = Callable[[str, str], "str | None"]
"""``(base_dir, href)`` -> the path ``href`` names from ``base_dir``, or None outside."""
Read = Callable[[str], "bytes | None"]
"""A path -> its bytes, or None when there is no such file."""
Parse = Callable[[bytes, str], etree._Element]
"""Bytes and what they are (for the error) -> the root element; raises ValueError."""


def has_includes(root: etree._Element) -> bool:
    return next(root.iter(_INCLUDE), None) is not None


def include_hrefs(root: etree._Element) -> list[str]:
    """The ``href`` of each ``xi:include`` under ``root``, as written."""
    return [href for e in root.iter(_INCLUDE) if (href := (e.get("href") or "").strip())]


def has_include_elements(data: bytes) -> bool:
    """Whether an XML document (bytes) holds an ``xi:include`` (a cheap test first: the
    namespace may be declared and unused)."""
    if XINCLUDE_NS.encode() not in data:
        return False
    try:
        root = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError:
        return False
    return has_includes(root)


class _Budget:
    """What one item may still include: a number of includes and of bytes."""

    def __init__(self, max_bytes: int) -> None:
        self.includes = MAX_INCLUDES
        self.bytes = max_bytes
        self.max_bytes = max_bytes

    def take(self, path: str, size: int) -> None:
        self.includes -= 1
        if self.includes < 0:
            raise ValueError(f"the item has more than {MAX_INCLUDES} xi:includes")
        self.bytes -= size
        if self.bytes < 0:
            raise ValueError(
                f"the files the item includes (up to {path!r}) hold more than "
                f"{self.max_bytes} bytes, the most an item may have"
            )


def resolve_includes(
    root: etree._Element,
    base_dir: str,
    *,
    read: Read,
    resolve: Resolve,
    parse: Parse,
    max_bytes: int,
) -> list[str]:
    """Replace every ``xi:include`` under ``root`` (an item read from ``base_dir``) with
    what it names. Returns the notes for the import report; raises ValueError with the
    reason when an include cannot be resolved."""
    notes: list[str] = []
    context = _Context(base_dir, read, resolve, parse, notes, _Budget(max_bytes))
    _resolve_under(root, base_dir, (), context)
    return notes


class _Context:
    def __init__(
        self,
        item_dir: str,
        read: Read,
        resolve: Resolve,
        parse: Parse,
        notes: list[str],
        budget: _Budget,
    ) -> None:
        self.item_dir, self.read, self.resolve, self.parse = item_dir, read, resolve, parse
        self.notes, self.budget = notes, budget


def _outside_fallbacks(root: etree._Element) -> list[etree._Element]:
    """The includes under ``root`` that are not inside another include's fallback (a
    fallback is resolved only when it is used)."""
    return [
        include
        for include in root.iter(_INCLUDE)
        if not any(a.tag == _FALLBACK for a in include.iterancestors() if a is not root)
    ]


def _resolve_under(
    root: etree._Element, here: str, chain: tuple[str, ...], context: _Context
) -> None:
    item_dir, read, resolve, parse, notes = (
        context.item_dir,
        context.read,
        context.resolve,
        context.parse,
        context.notes,
    )
    for include in _outside_fallbacks(root):
        if include.getparent() is None:
            raise ValueError("an xi:include cannot be the item's root element")
        href = (include.get("href") or "").strip()
        if include.get("xpointer") is not None:
            raise ValueError(
                f"xi:include of {href!r} uses xpointer (a part of a file), which is not "
                "supported: include the whole file"
            )
        how = include.get("parse", "xml")
        if how not in ("xml", "text"):
            raise ValueError(f"xi:include of {href!r}: parse must be xml or text, not {how!r}")
        if not href:
            raise ValueError("an xi:include has no href")
        path = resolve(here, href)
        if path is None:
            raise ValueError(
                f"xi:include of {href!r} points outside the package; only files of the "
                "package are included"
            )
        if path in chain:
            raise ValueError(f"xi:include of {href!r} includes itself ({' -> '.join(chain)})")
        if len(chain) >= MAX_DEPTH:
            raise ValueError(f"xi:include of {href!r}: includes nest more than {MAX_DEPTH} deep")
        data = read(path)
        if data is None:
            fallback = include.find(_FALLBACK)
            if fallback is None:
                raise ValueError(
                    f"the item includes {href!r} ({path!r} in the package), which is not in "
                    "the package"
                )
            notes.append(f"included file {path!r} is not in the package: its fallback is used")
            holder = etree.Element("fallback")
            holder.text = fallback.text
            holder.extend(copy.deepcopy(child) for child in fallback)
            _resolve_under(holder, here, chain, context)
            _replace(include, list(holder), holder.text)
            continue
        context.budget.take(path, len(data))
        if how == "text":
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                raise ValueError(f"included text file {path!r} is not UTF-8") from None
            notes.append(f"included the text of {path!r} in the item body")
            _replace(include, [], text)
            continue
        included = parse(data, f"included file {path!r}")
        if not isinstance(included.tag, str):
            raise ValueError(f"included file {path!r} has no root element")
        included_dir = posixpath.dirname(path)
        _resolve_under(included, included_dir, (*chain, path), context)
        if included_dir != item_dir:
            _rebase(included, included_dir, item_dir, resolve)
        notes.append(f"included {path!r} in the item body")
        _replace(include, [included], None)


def _replace(include: etree._Element, elements: list[etree._Element], text: str | None) -> None:
    """Put ``text`` then ``elements`` where ``include`` is, keeping its tail."""
    parent = include.getparent()
    assert parent is not None
    position = parent.index(include)
    tail = include.tail or ""
    leading = text or ""
    if leading:
        previous = include.getprevious()
        if previous is None:
            parent.text = (parent.text or "") + leading
        else:
            previous.tail = (previous.tail or "") + leading
    for offset, element in enumerate(elements):
        parent.insert(position + 1 + offset, element)
    last = elements[-1] if elements else None
    if last is not None:
        last.tail = (last.tail or "") + tail
    elif tail:
        previous = include.getprevious()
        if previous is None:
            parent.text = (parent.text or "") + tail
        else:
            previous.tail = (previous.tail or "") + tail
    parent.remove(include)
    include.tail = None


def _rebase(root: etree._Element, from_dir: str, to_dir: str, resolve: Resolve) -> None:
    """Relative references under ``root``, written from ``from_dir``, made relative to
    ``to_dir`` (they name the same files). A reference outside is left as written: the
    package's checks refuse it as they would in the item itself."""
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        for attribute in REFERENCE_ATTRIBUTES:
            value = element.get(attribute)
            if not value or value.startswith("#"):
                continue
            target = resolve(from_dir, value.strip())
            if target is not None:
                element.set(attribute, posixpath.relpath(target, to_dir or "."))
