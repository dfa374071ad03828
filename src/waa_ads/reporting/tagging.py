"""A tagged PDF/UA-1 document from ReportLab: marked content while drawing, the structure
tree and the identification after.

ReportLab's open-source library writes no structure tree, so it is built in two steps:

1. While the document is drawn, each piece of real content is marked in its page's
   content stream (``/P <</MCID n>> BDC ... EMC``) by the flowables of this module
   (:class:`Tagged` around paragraphs and images, :class:`TaggedTable` for data tables,
   headings by :func:`begin`/:func:`end`), and a :class:`Tagger` records what each mark is
   (its tag, its alt text, its table row, and for a figure where it was drawn). Page
   furniture (running header and footer, the watermark, table rules and shading) is marked
   ``/Artifact``. A table used only to place things side by side (the logo beside the
   organization's name, the QR code beside its text) is a :class:`LayoutTable`: it is not
   a ``Table`` element, its cells' contents are tagged as what they are and anything the
   table itself draws is an artifact.
2. :func:`add_structure` (pypdf) writes the structure tree from that record:
   ``/StructTreeRoot`` with one ``Document`` element whose children are, in reading
   order, ``H1``-``H3``, ``P``, ``Figure`` (with ``/Alt`` and a layout ``/BBox``) and
   ``Table`` (``TR`` rows of ``TH``, with ``/Scope``, and ``TD`` cells); the
   ``/ParentTree``; each page's ``/StructParents`` and ``/Tabs /S``; ``/MarkInfo
   <</Marked true>>``; ``/ViewerPreferences <</DisplayDocTitle true>>``; and the XMP
   metadata stream that identifies the file as PDF/UA-1 (``pdfuaid:part 1``) with its
   title, language, author, subject, producer and dates, the same as in the Info
   dictionary.

Nothing here reads a clock or draws a random number: the same drawing gives the same bytes.

Limits: a table header row repeated on a new page is a second ``TR``; no PDF/UA validator
(veraPDF, PAC) is available offline, so conformance is checked by the project's own checks
of the rules above (tests/reporting/pdfua.py), not certified.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Final
from xml.sax.saxutils import escape

from pypdf import PdfReader, PdfWriter
from pypdf.generic import (
    ArrayObject,
    BooleanObject,
    DictionaryObject,
    FloatObject,
    IndirectObject,
    NameObject,
    NumberObject,
    PdfObject,
    TextStringObject,
)
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, Table

_ATTRIBUTE = "_waa_tagger"
_TABLE_IDS = itertools.count()


@dataclass(frozen=True)
class Mark:
    """One marked-content sequence: page (0-based), its MCID on that page, the structure
    type, and for figures the alt text and the box it was drawn in (page coordinates:
    left, bottom, right, top), for table cells the table, row and header scope."""

    page: int
    mcid: int
    tag: str
    alt: str | None = None
    table: int | None = None
    row: int | None = None
    scope: str | None = None
    bbox: tuple[float, float, float, float] | None = None


@dataclass
class Tagger:
    """What was marked while a document was drawn, in drawing (= reading) order."""

    marks: list[Mark] = field(default_factory=list)
    _next: dict[int, int] = field(default_factory=dict)

    def attach(self, canvas: Canvas) -> None:
        setattr(canvas, _ATTRIBUTE, self)

    def begin(self, canvas: Canvas, tag: str, **details: Any) -> None:
        page = canvas.getPageNumber() - 1
        mcid = self._next.get(page, 0)
        self._next[page] = mcid + 1
        self.marks.append(Mark(page, mcid, tag, **details))
        canvas.addLiteral(f"/{tag} <</MCID {mcid}>> BDC")


def tagger_of(canvas: Canvas) -> Tagger | None:
    found: Tagger | None = getattr(canvas, _ATTRIBUTE, None)
    return found


def begin(canvas: Canvas, tag: str, **details: Any) -> bool:
    """Open a marked-content sequence when the canvas is being tagged; whether it was."""
    tagger = tagger_of(canvas)
    if tagger is None:
        return False
    tagger.begin(canvas, tag, **details)
    return True


def end(canvas: Canvas, opened: bool) -> None:
    if opened:
        canvas.addLiteral("EMC")


@contextmanager
def artifact(canvas: Canvas) -> Iterator[None]:
    """Page furniture: drawn, but not part of the document's content."""
    tagged = tagger_of(canvas) is not None
    if tagged:
        canvas.addLiteral("/Artifact BMC")
    yield
    if tagged:
        canvas.addLiteral("EMC")


class Tagged(Flowable):  # type: ignore[misc]
    """A flowable whose drawing is one structure element (``P``, ``Figure`` with alt
    text, ...); split parts (a paragraph over a page break) are one element each."""

    def __init__(self, inner: Flowable, tag: str, *, alt: str | None = None) -> None:
        super().__init__()
        self.inner, self.tag, self.alt = inner, tag, alt
        self.hAlign = getattr(inner, "hAlign", "LEFT")
        self.vAlign = getattr(inner, "vAlign", "BOTTOM")

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        self.width, self.height = self.inner.wrap(available_width, available_height)
        return self.width, self.height

    def wrapOn(self, canvas: Canvas, width: float, height: float) -> tuple[float, float]:
        self.width, self.height = self.inner.wrapOn(canvas, width, height)
        return self.width, self.height

    def split(self, available_width: float, available_height: float) -> list[Flowable]:
        return [
            Tagged(part, self.tag, alt=self.alt)
            for part in self.inner.split(available_width, available_height)
        ]

    def minWidth(self) -> float:
        width: float = self.inner.minWidth()
        return width

    def getSpaceBefore(self) -> float:
        space: float = self.inner.getSpaceBefore()
        return space

    def getSpaceAfter(self) -> float:
        space: float = self.inner.getSpaceAfter()
        return space

    def getKeepWithNext(self) -> bool:
        keep: bool = self.inner.getKeepWithNext()
        return keep

    def drawOn(self, canvas: Canvas, x: float, y: float, _sW: float = 0) -> None:
        bbox = None
        if self.tag == "Figure":
            left = self.inner._hAlignAdjust(x, _sW)
            bbox = page_box(canvas, left, y, self.width, self.height)
        opened = begin(canvas, self.tag, alt=self.alt, bbox=bbox)
        self.inner.drawOn(canvas, x, y, _sW)
        end(canvas, opened)


def page_box(
    canvas: Canvas, x: float, y: float, width: float, height: float
) -> tuple[float, float, float, float]:
    """The rectangle ``(x, y, width, height)`` of the canvas's current coordinates (a table
    cell's are translated) in the page's default coordinates, rounded to a hundredth of a
    point: left, bottom, right, top."""
    a, b, c, d, e, f = canvas._currentMatrix
    corners = [(x, y), (x + width, y), (x, y + height), (x + width, y + height)]
    xs = [a * u + c * v + e for u, v in corners]
    ys = [b * u + d * v + f for u, v in corners]
    return (round(min(xs), 2), round(min(ys), 2), round(max(xs), 2), round(max(ys), 2))


class TaggedTable(Table):  # type: ignore[misc]
    """A data table: each cell whose content carries ``_waa_cell = (tag, row, scope)`` is a
    ``TH``/``TD`` of its row; rules and shading are artifacts. A table split over pages is
    one ``Table`` element per page."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._waa_table = next(_TABLE_IDS)

    def _drawBkgrnd(self) -> None:
        with artifact(self.canv):
            super()._drawBkgrnd()

    def _drawLines(self) -> None:
        with artifact(self.canv):
            super()._drawLines()

    def _drawCell(self, cellval: Any, cellstyle: Any, pos: Any, size: Any) -> None:
        # a flowable cell arrives as a tuple of the flowables (ReportLab expands it)
        first = cellval[0] if isinstance(cellval, list | tuple) and cellval else cellval
        cell = getattr(first, "_waa_cell", None)
        opened = False
        if cell is not None:
            tag, row, scope = cell
            opened = begin(self.canv, tag, table=self._waa_table, row=row, scope=scope)
        super()._drawCell(cellval, cellstyle, pos, size)
        end(self.canv, opened)


class LayoutTable(Table):  # type: ignore[misc]
    """A table that only places things side by side: no ``Table`` element (PDF/UA), each
    cell's content is tagged by its own flowable, and any background or rule the table
    draws is an artifact."""

    def _drawBkgrnd(self) -> None:
        with artifact(self.canv):
            super()._drawBkgrnd()

    def _drawLines(self) -> None:
        with artifact(self.canv):
            super()._drawLines()


def mark_cell(flowable: Flowable, tag: str, row: int, scope: str | None = None) -> Flowable:
    flowable._waa_cell = (tag, row, scope)
    return flowable


def new_object(writer: PdfWriter, body: PdfObject) -> IndirectObject:
    """``body`` as a new indirect object of ``writer``; its reference.

    pypdf (7.1) has no public way to add an indirect object: its own ``add_*`` methods and
    setters use the private ``PdfWriter._add_object``, and so does this function, the only
    place the project calls it. Structure elements, the structure tree root and the parent
    tree must be indirect objects (the parent tree points at elements by reference), so
    there is no way around it. tests/reporting/test_documents.py checks that the method is
    still there and behaves as relied on, and says what to change if a pypdf release
    renames it or makes a public one."""
    adder = getattr(writer, "_add_object", None)
    if adder is None:
        raise RuntimeError(
            "pypdf's PdfWriter has no _add_object any more: the tagged PDF cannot add its "
            "structure tree; use pypdf's public replacement in reporting/tagging.py new_object"
        )
    reference: IndirectObject = adder(body)
    return reference


XMP_PACKET_ID: Final = "W5M0MpCehiHzreSzNTczkc9d"


def _xmp_date(value: Any) -> str | None:
    """An Info dictionary date (``D:20000101000000+00'00'``) as an XMP date, or None."""
    text = str(value or "")
    if not text.startswith("D:") or len(text) < 16:
        return None
    digits = text[2:16]
    if not digits.isdigit():
        return None
    stamp = (
        f"{digits[0:4]}-{digits[4:6]}-{digits[6:8]}T{digits[8:10]}:{digits[10:12]}:{digits[12:14]}"
    )
    zone = text[16:].replace("'", "")
    if zone in ("", "Z"):
        return stamp + "Z"
    if len(zone) == 5 and zone[0] in "+-" and zone[1:].isdigit():
        return f"{stamp}{zone[:3]}:{zone[3:]}"
    return stamp


def xmp_packet(info: dict[str, Any], language: str) -> bytes:
    """The XMP metadata of a PDF/UA-1 document whose Info dictionary is ``info`` and whose
    ``/Lang`` is ``language``: ``pdfuaid:part`` 1, ``dc:title`` (in ``language`` and as
    the default), ``dc:language``, ``dc:creator`` and ``dc:description`` from the author
    and the subject, ``pdf:Producer``, ``pdf:Keywords``, ``xmp:CreatorTool`` and the dates
    copied from the Info dictionary so that both say the same. Deterministic in its
    inputs (a fixed packet id, no clock)."""

    def text(key: str) -> str:
        return escape(str(info.get(key) or ""))

    lang = escape(language or "x-default", {'"': "&quot;"})
    lines = [
        f'<?xpacket begin="\ufeff" id="{XMP_PACKET_ID}"?>',
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">',
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">',
        '<rdf:Description rdf:about=""',
        ' xmlns:pdfuaid="http://www.aiim.org/pdfua/ns/id/"',
        ' xmlns:dc="http://purl.org/dc/elements/1.1/"',
        ' xmlns:pdf="http://ns.adobe.com/pdf/1.3/"',
        ' xmlns:xmp="http://ns.adobe.com/xap/1.0/">',
        "<pdfuaid:part>1</pdfuaid:part>",
        "<dc:format>application/pdf</dc:format>",
        "<dc:title><rdf:Alt>",
        f'<rdf:li xml:lang="x-default">{text("/Title")}</rdf:li>',
    ]
    if language:
        lines.append(f'<rdf:li xml:lang="{lang}">{text("/Title")}</rdf:li>')
    lines.append("</rdf:Alt></dc:title>")
    if language:
        lines.append(f"<dc:language><rdf:Bag><rdf:li>{lang}</rdf:li></rdf:Bag></dc:language>")
    if info.get("/Author"):
        lines.append(
            f"<dc:creator><rdf:Seq><rdf:li>{text('/Author')}</rdf:li></rdf:Seq></dc:creator>"
        )
    if info.get("/Subject"):
        lines.append(
            "<dc:description><rdf:Alt>"
            f'<rdf:li xml:lang="x-default">{text("/Subject")}</rdf:li>'
            "</rdf:Alt></dc:description>"
        )
    lines.append(f"<pdf:Producer>{text('/Producer')}</pdf:Producer>")
    if info.get("/Keywords"):
        lines.append(f"<pdf:Keywords>{text('/Keywords')}</pdf:Keywords>")
    if info.get("/Creator"):
        lines.append(f"<xmp:CreatorTool>{text('/Creator')}</xmp:CreatorTool>")
    for key, name in (("/CreationDate", "CreateDate"), ("/ModDate", "ModifyDate")):
        date = _xmp_date(info.get(key))
        if date:
            lines.append(f"<xmp:{name}>{date}</xmp:{name}>")
    lines += ["</rdf:Description>", "</rdf:RDF>", "</x:xmpmeta>", '<?xpacket end="r"?>']
    return "\n".join(lines).encode("utf-8")


def add_structure(data: bytes, marks: Sequence[Mark]) -> bytes:
    """The PDF ``data`` (drawn with a :class:`Tagger`) as a PDF/UA-1 document: its
    structure tree written from ``marks``, the XMP identification from its Info dictionary
    and ``/Lang``, ``DisplayDocTitle``, each page's tab order, and PDF version 1.7.
    Deterministic in ``data`` and ``marks``."""
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    writer.pdf_header = "%PDF-1.7"  # PDF/UA-1 is built on ISO 32000-1 (PDF 1.7)
    pages = [page.indirect_reference for page in writer.pages]

    def element(tag: str, parent: IndirectObject, **extra: Any) -> tuple[IndirectObject, Any]:
        body = DictionaryObject(
            {
                NameObject("/Type"): NameObject("/StructElem"),
                NameObject("/S"): NameObject(f"/{tag}"),
                NameObject("/P"): parent,
            }
        )
        body.update({NameObject(k): v for k, v in extra.items()})
        return new_object(writer, body), body

    root = DictionaryObject({NameObject("/Type"): NameObject("/StructTreeRoot")})
    root_ref = new_object(writer, root)
    document_ref, document = element("Document", root_ref, **{"/K": ArrayObject()})
    root[NameObject("/K")] = ArrayObject([document_ref])
    by_page: dict[int, dict[int, IndirectObject]] = {}
    tables: dict[int, tuple[IndirectObject, Any]] = {}
    rows: dict[tuple[int, int, int], tuple[IndirectObject, Any]] = {}
    for mark in marks:
        parent_ref, parent = document_ref, document
        if mark.table is not None and mark.row is not None:
            if mark.table not in tables:
                tables[mark.table] = element("Table", document_ref, **{"/K": ArrayObject()})
                document["/K"].append(tables[mark.table][0])
            table_ref, table = tables[mark.table]
            key = (mark.table, mark.row, mark.page)
            if key not in rows:
                rows[key] = element("TR", table_ref, **{"/K": ArrayObject()})
                table["/K"].append(rows[key][0])
            parent_ref, parent = rows[key]
        extra: dict[str, Any] = {"/Pg": pages[mark.page], "/K": NumberObject(mark.mcid)}
        if mark.alt:
            extra["/Alt"] = TextStringObject(mark.alt)
        if mark.scope:
            extra["/A"] = DictionaryObject(
                {
                    NameObject("/O"): NameObject("/Table"),
                    NameObject("/Scope"): NameObject(f"/{mark.scope}"),
                }
            )
        elif mark.bbox is not None:
            extra["/A"] = DictionaryObject(
                {
                    NameObject("/O"): NameObject("/Layout"),
                    NameObject("/BBox"): ArrayObject(FloatObject(v) for v in mark.bbox),
                }
            )
        ref, _ = element(mark.tag, parent_ref, **extra)
        parent["/K"].append(ref)
        by_page.setdefault(mark.page, {})[mark.mcid] = ref
    nums = ArrayObject()
    for index, page in enumerate(writer.pages):
        page[NameObject("/StructParents")] = NumberObject(index)
        page[NameObject("/Tabs")] = NameObject("/S")
        marked = by_page.get(index, {})
        nums += [NumberObject(index), ArrayObject(marked[m] for m in sorted(marked))]
    root[NameObject("/ParentTree")] = new_object(
        writer, DictionaryObject({NameObject("/Nums"): nums})
    )
    root[NameObject("/ParentTreeNextKey")] = NumberObject(len(pages))
    catalog = writer.root_object
    catalog[NameObject("/StructTreeRoot")] = root_ref
    catalog[NameObject("/MarkInfo")] = DictionaryObject(
        {NameObject("/Marked"): BooleanObject(True)}
    )
    preferences = writer.viewer_preferences or writer.create_viewer_preferences()
    preferences[NameObject("/DisplayDocTitle")] = BooleanObject(True)
    info = dict(writer.metadata or {})
    writer.xmp_metadata = xmp_packet(info, str(catalog.get("/Lang") or ""))
    stream: Any = catalog["/Metadata"].get_object()
    stream[NameObject("/Type")] = NameObject("/Metadata")
    stream[NameObject("/Subtype")] = NameObject("/XML")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
