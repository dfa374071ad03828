"""A tagged PDF from ReportLab: marked content while drawing, the structure tree after.

ReportLab's open-source library writes no structure tree, so it is built in two steps:

1. While the document is drawn, each piece of real content is marked in its page's
   content stream (``/P <</MCID n>> BDC ... EMC``) by the flowables of this module
   (:class:`Tagged` around paragraphs and images, :class:`TaggedTable` for data tables,
   headings by :func:`begin`/:func:`end`), and a :class:`Tagger` records what each mark is
   (its tag, its alt text, its table row). Page furniture (running header and footer, the
   watermark, table rules and shading) is marked ``/Artifact``.
2. :func:`add_structure` (pypdf) writes the structure tree from that record:
   ``/StructTreeRoot`` with one ``Document`` element whose children are, in reading
   order, ``H1``-``H3``, ``P``, ``Figure`` (with ``/Alt``) and ``Table`` (``TR`` rows of
   ``TH``, with ``/Scope``, and ``TD`` cells); the ``/ParentTree``; each page's
   ``/StructParents`` and ``/Tabs /S``; and ``/MarkInfo <</Marked true>>``.

What it does not do (so the documents are not claimed to be PDF/UA): layout tables (the
logo beside the organization's name, the QR code beside its text) are not tagged as
tables, their cells' contents become plain ``P``/``Figure`` elements; a figure has no
``/BBox`` attribute; a table header row repeated on a new page is a second ``TR``; and
no checker for PDF/UA (veraPDF, PAC) runs here.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from pypdf import PdfReader, PdfWriter
from pypdf.generic import (
    ArrayObject,
    BooleanObject,
    DictionaryObject,
    IndirectObject,
    NameObject,
    NumberObject,
    TextStringObject,
)
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, Table

_ATTRIBUTE = "_waa_tagger"
_TABLE_IDS = itertools.count()


@dataclass(frozen=True)
class Mark:
    """One marked-content sequence: page (0-based), its MCID on that page, the structure
    type, and for figures the alt text, for table cells the table, row and header scope."""

    page: int
    mcid: int
    tag: str
    alt: str | None = None
    table: int | None = None
    row: int | None = None
    scope: str | None = None


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
        opened = begin(canvas, self.tag, alt=self.alt)
        self.inner.drawOn(canvas, x, y, _sW)
        end(canvas, opened)


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


def mark_cell(flowable: Flowable, tag: str, row: int, scope: str | None = None) -> Flowable:
    flowable._waa_cell = (tag, row, scope)
    return flowable


def add_structure(data: bytes, marks: Sequence[Mark]) -> bytes:
    """The PDF ``data`` (drawn with a :class:`Tagger`) with its structure tree written.
    New objects go in through ``PdfWriter._add_object`` (pypdf has no public way to add an
    indirect object); tests/reporting/test_documents.py reads the tree back, so a pypdf
    release that changes it fails there."""
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
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
        return writer._add_object(body), body

    root = DictionaryObject({NameObject("/Type"): NameObject("/StructTreeRoot")})
    root_ref = writer._add_object(root)
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
        ref, _ = element(mark.tag, parent_ref, **extra)
        parent["/K"].append(ref)
        by_page.setdefault(mark.page, {})[mark.mcid] = ref
    nums = ArrayObject()
    for index, page in enumerate(writer.pages):
        page[NameObject("/StructParents")] = NumberObject(index)
        page[NameObject("/Tabs")] = NameObject("/S")
        marked = by_page.get(index, {})
        nums += [NumberObject(index), ArrayObject(marked[m] for m in sorted(marked))]
    root[NameObject("/ParentTree")] = writer._add_object(
        DictionaryObject({NameObject("/Nums"): nums})
    )
    root[NameObject("/ParentTreeNextKey")] = NumberObject(len(pages))
    catalog = writer.root_object
    catalog[NameObject("/StructTreeRoot")] = root_ref
    catalog[NameObject("/MarkInfo")] = DictionaryObject(
        {NameObject("/Marked"): BooleanObject(True)}
    )
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
