"""The project's own checks of the PDF/UA-1 rules its documents implement.

No PDF/UA validator (veraPDF, PAC) runs offline here, so :func:`problems` reads a PDF back
with pypdf and reports, in words, each breach of the rules the reporting documents are
built to follow (ISO 14289-1 and the Matterhorn checkpoints named in brackets):

- identification: the XMP metadata stream says ``pdfuaid:part`` 1 and has a ``dc:title``
  equal to the Info ``/Title`` and a ``dc:language`` equal to the catalog's ``/Lang``;
  its ``pdf:Producer`` is the Info ``/Producer`` (06-001..06-003, 07-001);
- the catalog: ``/MarkInfo /Marked true``, a ``/StructTreeRoot``, a ``/Lang``,
  ``/ViewerPreferences /DisplayDocTitle true`` (01-*, 06-*, 07-001, 11-*);
- every page: ``/Tabs /S`` and ``/StructParents`` (28-*);
- content: every text, image and path painted is inside a marked-content sequence with
  an MCID or inside an ``/Artifact`` (01-001..01-003); every MCID of a page is reached
  from the structure tree through the parent tree, and every element's MCID exists on
  its page;
- figures: a ``/Figure`` has ``/Alt`` text (13-004) and a ``/Layout`` ``/BBox`` inside the
  page that contains everything painted in it;
- tables: a ``/Table`` holds ``/TR`` rows of ``/TH`` and ``/TD`` cells, a ``/TH`` has a
  ``/Scope`` (15-*);
- headings: no heading level is skipped after the first (14-003);
- fonts: every font used to show text is embedded (31-*).

It is a regression net for these rules, not a certificate of conformance.
"""

from __future__ import annotations

import io
import re
from typing import Any

from pypdf import PdfReader

_PAINT = {
    b"Tj", b"TJ", b"'", b'"', b"Do", b"f", b"F", b"f*", b"B", b"B*", b"b", b"b*", b"S",
    b"s", b"sh", b"EI",
}  # fmt: skip
_TEXT = {b"Tj", b"TJ", b"'", b'"'}


def _mul(m: list[float], n: list[float]) -> list[float]:
    a, b, c, d, e, f = m
    a2, b2, c2, d2, e2, f2 = n
    return [
        a * a2 + b * c2,
        a * b2 + b * d2,
        c * a2 + d * c2,
        c * b2 + d * d2,
        e * a2 + f * c2 + e2,
        e * b2 + f * d2 + f2,
    ]


def _apply(m: list[float], x: float, y: float) -> tuple[float, float]:
    return m[0] * x + m[2] * y + m[4], m[1] * x + m[3] * y + m[5]


class _Page:
    """What one page's content stream paints, by MCID: operators outside any marked
    content, the MCIDs seen, the extent painted by images and rectangles in each, and the
    fonts used to show text."""

    def __init__(self, page: Any) -> None:
        self.unmarked: list[str] = []
        self.mcids: list[int] = []
        self.extent: dict[int, list[float]] = {}
        self.fonts: set[str] = set()
        stack: list[int | str | None] = []  # an MCID, "artifact", or None (other tags)
        ctm = [1.0, 0.0, 0.0, 1.0, 0.0, 0.0]
        saved: list[list[float]] = []
        path: list[tuple[float, float]] = []
        font = ""
        content = page.get_contents()
        operations = content.operations if content is not None else []
        for args, op in operations:
            if op == b"BDC":
                props = args[1] if len(args) > 1 else {}
                props = props.get_object() if hasattr(props, "get_object") else props
                is_artifact = str(args[0]) == "/Artifact"
                mcid = int(props["/MCID"]) if isinstance(props, dict) and "/MCID" in props else None
                if mcid is not None:
                    self.mcids.append(mcid)
                stack.append("artifact" if is_artifact else mcid)
            elif op == b"BMC":
                stack.append("artifact" if str(args[0]) == "/Artifact" else None)
            elif op == b"EMC":
                stack.pop()
            elif op == b"q":
                saved.append(list(ctm))
            elif op == b"Q":
                ctm = saved.pop()
            elif op == b"cm":
                ctm = _mul([float(v) for v in args], ctm)
            elif op == b"Tf":
                font = str(args[0])
            elif op == b"re":
                x, y, w, h = (float(v) for v in args)
                path += [_apply(ctm, x, y), _apply(ctm, x + w, y + h)]
            if op in _PAINT:
                inside = next((m for m in reversed(stack) if m is not None), None)
                if inside is None:
                    self.unmarked.append(op.decode())
                    continue
                if op in _TEXT:
                    self.fonts.add(font)
                if isinstance(inside, int):
                    points = list(path)
                    if op == b"Do":
                        points = [_apply(ctm, u, v) for u in (0, 1) for v in (0, 1)]
                    box = self.extent.get(inside)
                    for px, py in points:
                        box = (
                            [px, py, px, py]
                            if box is None
                            else [
                                min(box[0], px),
                                min(box[1], py),
                                max(box[2], px),
                                max(box[3], py),
                            ]
                        )
                    if box is not None:
                        self.extent[inside] = box
            if op in _PAINT or op == b"n":
                path = []


def _xmp(reader: PdfReader) -> tuple[str, list[str]]:
    found: list[str] = []
    metadata = reader.root_object.get("/Metadata")
    if metadata is None:
        return "", ["the catalog has no /Metadata (XMP) stream"]
    stream = metadata.get_object()
    if str(stream.get("/Type")) != "/Metadata" or str(stream.get("/Subtype")) != "/XML":
        found.append("the XMP stream is not /Type /Metadata /Subtype /XML")
    return stream.get_data().decode("utf-8"), found


def problems(pdf: bytes) -> list[str]:
    """Each breach of the rules above found in ``pdf``; empty when it passes them all."""
    reader = PdfReader(io.BytesIO(pdf))
    found: list[str] = []
    pages: list[Any] = list(reader.pages)
    root: Any = reader.root_object
    info: Any = reader.metadata or {}
    xmp_text, xmp_problems = _xmp(reader)
    found += xmp_problems
    xmp = reader.xmp_metadata
    if not re.search(r"<pdfuaid:part>\s*1\s*</pdfuaid:part>|pdfuaid:part=\"1\"", xmp_text):
        found.append("the XMP metadata does not say pdfuaid:part 1")
    title = str(info.get("/Title") or "")
    lang = str(root.get("/Lang") or "")
    if not title:
        found.append("the Info dictionary has no /Title")
    if xmp is None or not xmp.dc_title or xmp.dc_title.get("x-default") != title:
        found.append(f"the XMP dc:title is not the document title {title!r}")
    if not lang:
        found.append("the catalog has no /Lang")
    if xmp is None or lang not in (xmp.dc_language or []):
        found.append(f"the XMP dc:language does not hold the document language {lang!r}")
    producer = str(info.get("/Producer") or "")
    if xmp is None or (xmp.pdf_producer or "") != producer:
        found.append(f"the XMP pdf:Producer is not the Info /Producer {producer!r}")
    if root.get("/MarkInfo", {}).get("/Marked") != True:  # noqa: E712
        found.append("the catalog's /MarkInfo is not /Marked true")
    if root.get("/ViewerPreferences", {}).get("/DisplayDocTitle") != True:  # noqa: E712
        found.append("the viewer preferences do not say /DisplayDocTitle true")
    if "/StructTreeRoot" not in root:
        return [*found, "the document has no structure tree"]
    tree = root["/StructTreeRoot"]
    page_numbers = {p.indirect_reference.idnum: i for i, p in enumerate(pages)}
    nums = list(tree["/ParentTree"]["/Nums"])
    parent_tree = {int(nums[i]): nums[i + 1] for i in range(0, len(nums), 2)}
    drawn = [_Page(p) for p in pages]
    for number, (page, content) in enumerate(zip(pages, drawn, strict=True)):
        where = f"page {number + 1}"
        if str(page.get("/Tabs")) != "/S":
            found.append(f"{where} has no /Tabs /S")
        if "/StructParents" not in page:
            found.append(f"{where} has no /StructParents")
            continue
        if content.unmarked:
            found.append(
                f"{where} paints outside marked content and artifacts: "
                + " ".join(sorted(set(content.unmarked)))
            )
        reached = parent_tree.get(int(page["/StructParents"]), [])
        if len(reached) != len(content.mcids) or sorted(content.mcids) != list(
            range(len(content.mcids))
        ):
            found.append(f"{where}: the parent tree does not reach each MCID of the page")
        for font_name in sorted(content.fonts):
            font = page["/Resources"]["/Font"][font_name].get_object()
            descriptor = (
                font["/DescendantFonts"][0].get_object()["/FontDescriptor"]
                if "/DescendantFonts" in font
                else font.get("/FontDescriptor")
            )
            if descriptor is None or not any(
                k in descriptor.get_object() for k in ("/FontFile", "/FontFile2", "/FontFile3")
            ):
                found.append(f"{where}: the font {font.get('/BaseFont')} is not embedded")
    levels: list[int] = []

    def walk(node: Any) -> None:
        element = node.get_object()
        kind = str(element["/S"])
        kids = element.get("/K")
        if isinstance(kids, list):
            kid_kinds = [str(k.get_object()["/S"]) for k in kids]
            if kind == "/Table" and set(kid_kinds) - {"/TR"}:
                found.append(f"a /Table holds {sorted(set(kid_kinds))}, not only /TR")
            if kind == "/TR" and set(kid_kinds) - {"/TH", "/TD"}:
                found.append(f"a /TR holds {sorted(set(kid_kinds))}, not only /TH and /TD")
            for kid in kids:
                walk(kid)
            return
        page_index = page_numbers.get(element.raw_get("/Pg").idnum)
        if page_index is None or int(kids) not in drawn[page_index].mcids:
            found.append(f"a {kind} element points at no marked content of its page")
            return
        if re.fullmatch(r"/H[1-6]", kind):
            level = int(kind[2])
            if levels and level > max(levels) + 1:
                found.append(f"the heading level skips from H{max(levels)} to {kind[1:]}")
            levels.append(level)
        if kind == "/TH" and "/Scope" not in element.get("/A", {}):
            found.append("a /TH has no /Scope")
        if kind == "/Figure":
            if not str(element.get("/Alt") or ""):
                found.append("a /Figure has no /Alt text")
            attributes = element.get("/A", {})
            bbox = [float(v) for v in attributes.get("/BBox", [])]
            box = pages[page_index].mediabox
            if str(attributes.get("/O")) != "/Layout" or len(bbox) != 4:
                found.append("a /Figure has no /Layout /BBox")
            elif not (
                float(box.left) <= bbox[0] < bbox[2] <= float(box.right)
                and float(box.bottom) <= bbox[1] < bbox[3] <= float(box.top)
            ):
                found.append(f"a /Figure's /BBox {bbox} is not a box inside its page")
            else:
                painted = drawn[page_index].extent.get(int(kids))
                if painted is None:
                    found.append("a /Figure paints nothing")
                elif not (
                    bbox[0] - 0.5 <= painted[0]
                    and bbox[1] - 0.5 <= painted[1]
                    and painted[2] <= bbox[2] + 0.5
                    and painted[3] <= bbox[3] + 0.5
                ):
                    found.append(f"a /Figure paints {painted}, outside its /BBox {bbox}")

    for top in tree["/K"]:
        walk(top)
    return found
