"""The documents themselves, without a database: figures and codes, determinism of the PDF
and its charts, the QR code's content, what a reader of the PDF finds in it."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
from typing import Any

import cv2
import numpy as np
import pytest
from pypdf import PdfReader

from tests.reporting import pdfua
from waa_ads.reporting import charts
from waa_ads.reporting.cohort import BandCount, CohortReport, ItemRow, SectionSummary
from waa_ads.reporting.figures import (
    Estimate,
    Feedback,
    Figure,
    Scorecard,
    SectionFigure,
    figures,
    first_difference,
    format_code,
    normalize_code,
    parse_payload,
    percentile_rank,
    printed_difference,
    receipt_code,
)
from waa_ads.reporting.pdf import (
    NotAScorecard,
    QrBlock,
    cohort_pdf,
    read_scorecard,
    scorecard_pdf,
)
from waa_ads.reporting.tagging import Tagger, add_structure, begin, end, new_object

CODE = receipt_code("secret", "ab" * 32, "attempt-1", 2)
CARD = Scorecard(
    organization_name="Northfield Academy",
    brand_color="#0b57d0",
    logo=None,
    language="en-GB",
    candidate_name="Zoë Ångström",
    candidate_ref="C-1",
    assessment_title="Placement test",
    administration_title="Morning",
    attempt_id="attempt-1",
    revision=2,
    released_at="2026-12-03",
    raw=7,
    max_raw=10,
    scaled=512.4,
    band="Merit",
    passed=True,
    sections=[SectionFigure("alg", "Algebra", 5, 8), SectionFigure("geo", "Geometry", 2, 2)],
    feedback=[Feedback("E1", "Essay", 3, 4, "Clear; cite sources.", [("Content", "Good")])],
    estimate=Estimate(12.34, 61.0, 40),
    code=CODE,
    verify_url=f"https://ads.example/verify/{format_code(CODE)}",
)


def test_codes_are_stable_keyed_and_forgiving_to_type() -> None:
    assert receipt_code("secret", "ab" * 32, "attempt-1", 2) == CODE
    assert receipt_code("other secret", "ab" * 32, "attempt-1", 2) != CODE
    assert receipt_code("secret", "ab" * 32, "attempt-1", 3) != CODE
    assert len(CODE) == 16
    typed = format_code(CODE).lower().replace("0", "o").replace("1", "l")
    assert normalize_code(typed) == CODE
    assert normalize_code("not a code") is None
    assert normalize_code("UUUU-UUUU-UUUU-UUU") is None


def test_figures_and_their_differences() -> None:
    shown = {f.name: f.value for f in figures(CARD)}
    assert shown["scaled"] == "512.40"
    assert shown["likely_range"] == "488 to 537"
    assert shown["percentile"] == "61 (of 40 candidates)"
    assert shown["section:alg"] == "5 / 8"
    assert shown["item:E1"] == "3 / 4"
    issued = figures(CARD)
    assert first_difference(issued, issued) is None
    altered = [Figure(f.name, f.label, "600" if f.name == "scaled" else f.value) for f in issued]
    assert first_difference(altered, issued) == (
        "Scaled score reads '600'; the released value is '512.40'"
    )
    assert first_difference(issued[:-1], issued) == "Released (2026-12-03) is missing"
    assert printed_difference("Scaled score 512.400 and more", issued[5:6]) == (
        "the printed Scaled score reads '512.400'; the released value is '512.40'"
    )
    assert percentile_rank(5, [1, 2, 3, 4]) is None  # fewer than five: no percentile
    assert percentile_rank(3, [1, 2, 3, 4, 5]) == 50.0


def test_the_scorecard_is_deterministic_and_says_what_it_prints() -> None:
    first = scorecard_pdf(CARD)
    assert hashlib.sha256(scorecard_pdf(CARD)).digest() == hashlib.sha256(first).digest()
    changed = scorecard_pdf(dataclasses.replace(CARD, candidate_name="Someone Else"))
    assert changed != first
    payload, text = read_scorecard(first)
    code, embedded = parse_payload(payload)
    assert code == CODE
    assert embedded == figures(CARD)
    assert printed_difference(text, embedded) is None  # every figure is on the page
    assert "Zoë Ångström" in text  # not only Latin-1: the font is embedded
    reader = PdfReader(io.BytesIO(first))
    assert reader.metadata is not None
    assert reader.metadata.title == "Score report: Placement test"
    assert str(reader.root_object["/Lang"]) == "en-GB"
    assert "Chart: Section profile: Algebra 62%; Geometry 100%." in text
    assert json.loads(payload)["verify_url"] == CARD.verify_url


def _structure(pdf: bytes) -> tuple[PdfReader, list[tuple[int, str, dict[str, Any]]]]:
    """The reader and the structure tree read back: (depth, type, the element) in order."""
    reader = PdfReader(io.BytesIO(pdf))
    out: list[tuple[int, str, dict[str, Any]]] = []

    def walk(node: Any, depth: int) -> None:
        element = node.get_object()
        out.append((depth, str(element["/S"]), element))
        kids = element.get("/K")
        if isinstance(kids, list):
            for kid in kids:
                walk(kid, depth + 1)

    root: Any = reader.root_object
    for top in root["/StructTreeRoot"]["/K"]:
        walk(top, 0)
    return reader, out


def test_the_scorecard_is_a_tagged_pdf_with_a_structure_tree() -> None:
    reader, tree = _structure(scorecard_pdf(CARD))
    root: Any = reader.root_object
    assert root["/MarkInfo"]["/Marked"] == True  # noqa: E712
    assert root["/ViewerPreferences"]["/DisplayDocTitle"] == True  # noqa: E712
    assert str(root["/Lang"]) == "en-GB"
    kinds = [kind for _, kind, _ in tree]
    assert kinds[0] == "/Document"
    # reading order: the title, then the result's heading, ..., the verification last
    headings = [(kind, _text_of(reader, e)) for _, kind, e in tree if kind in ("/H1", "/H2")]
    assert headings[0] == ("/H1", "Score report")
    assert [h for _, h in headings[1:]] == ["Result", "Sections", "Feedback", "Verification"]
    figures_ = [e for _, kind, e in tree if kind == "/Figure"]
    assert [str(f["/Alt"]) for f in figures_] == [
        "Section profile: Algebra 62%; Geometry 100%.",
        f"QR code of the verification address {CARD.verify_url}",
    ]
    # tables: rows of header and data cells; the section table has column headers
    tables = [i for i, (_, kind, _) in enumerate(tree) if kind == "/Table"]
    assert len(tables) >= 3
    depth = tree[tables[1]][0]
    rows: list[list[tuple[str, str]]] = []
    for d, kind, element in tree[tables[1] + 1 :]:
        if d <= depth:
            break
        if kind == "/TR":
            rows.append([])
        elif kind in ("/TH", "/TD"):
            rows[-1].append((kind, _text_of(reader, element)))
    assert rows[0] == [("/TH", "Section"), ("/TH", "Score")]
    assert rows[1] == [("/TD", "Algebra"), ("/TD", "5 / 8")]
    header = next(e for _, kind, e in tree if kind == "/TH")
    assert str(header["/A"]["/Scope"]) == "/Row"  # the figures table: a label per row
    # every marked sequence is reachable from its page through the parent tree
    page: Any = reader.pages[0]
    nums = root["/StructTreeRoot"]["/ParentTree"]["/Nums"]
    assert int(page["/StructParents"]) == nums[0] and str(page["/Tabs"]) == "/S"
    marked = [kid.get_object() for kid in nums[1]]
    assert [int(e["/K"]) for e in marked] == list(range(len(marked)))
    assert all(e["/Pg"].get_object() == page.get_object() for e in marked)


def _text_of(reader: PdfReader, element: Any) -> str:
    """The text of one marked-content sequence, found by its MCID on its page."""
    page = next(p for p in reader.pages if p.get_object() == element["/Pg"].get_object())
    texts: dict[int, list[str]] = {}
    stack: list[int | None] = []

    def operand(op: bytes, args: Any, cm: Any, tm: Any) -> None:
        if op == b"BDC":
            properties = args[1] if len(args) > 1 else {}
            stack.append(int(properties["/MCID"]) if "/MCID" in properties else None)
        elif op == b"BMC":
            stack.append(None)
        elif op == b"EMC":
            stack.pop()

    def text(words: str, cm: Any, tm: Any, font: Any, size: Any) -> None:
        if stack and stack[-1] is not None:
            texts.setdefault(stack[-1], []).append(words)

    page.extract_text(visitor_operand_before=operand, visitor_text=text)
    return " ".join("".join(texts.get(int(element["/K"]), [])).split())


def test_charts_are_deterministic() -> None:
    one = charts._section_profile.__wrapped__((("A", 0.5), ("B", 1.0)), "#0b57d0")
    two = charts._section_profile.__wrapped__((("A", 0.5), ("B", 1.0)), "#0b57d0")
    assert one == two
    assert one[0].startswith(b"\x89PNG")
    assert (
        charts.distribution([1.0, 2.0, 2.0], cut=2.0)[0]
        == charts.distribution([1.0, 2.0, 2.0], cut=2.0)[0]
    )


def test_the_qr_code_carries_the_verification_address() -> None:
    block = QrBlock(CARD.verify_url or "", 100)
    modules = np.array(block.modules, dtype=np.uint8)
    picture = np.pad(1 - modules, 4, constant_values=1) * 255  # dark modules black
    picture = np.kron(picture, np.ones((8, 8), dtype=np.uint8))
    decoded, _, _ = cv2.QRCodeDetector().detectAndDecode(picture)
    assert decoded == CARD.verify_url


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"hello", "not a PDF"),
        (b"%PDF-1.4\ngarbage", "cannot be read"),
    ],
)
def test_files_that_are_no_scorecard(data: bytes, reason: str) -> None:
    with pytest.raises(NotAScorecard, match=reason):
        read_scorecard(data)


def test_a_pdf_without_a_receipt() -> None:
    preview = scorecard_pdf(dataclasses.replace(CARD, preview=True, code=None))
    with pytest.raises(NotAScorecard, match="carries no WAA-ADS receipt"):
        read_scorecard(preview)


def test_the_logo_is_printed_and_a_broken_one_is_left_out() -> None:
    from PIL import Image

    picture = io.BytesIO()
    Image.new("RGB", (120, 40), (11, 87, 208)).save(picture, format="PNG")

    def images(pdf: bytes) -> int:
        page = PdfReader(io.BytesIO(pdf)).pages[0]
        return len(page.images)

    plain = scorecard_pdf(CARD)
    branded = scorecard_pdf(dataclasses.replace(CARD, logo=picture.getvalue()))
    broken = scorecard_pdf(dataclasses.replace(CARD, logo=b"\x89PNG\r\n\x1a\nnot a picture"))
    assert images(branded) == images(plain) + 1
    assert images(broken) == images(plain)
    assert "Northfield Academy" in read_scorecard(broken)[1]


def _logo() -> bytes:
    from PIL import Image

    picture = io.BytesIO()
    Image.new("RGB", (120, 40), (11, 87, 208)).save(picture, format="PNG")
    return picture.getvalue()


COHORT = CohortReport(
    organization_name="Northfield Academy",
    brand_color=None,
    assessment_title="Placement test",
    administration_id="adm-1",
    administration_title="Morning",
    language="fr",
    attempts=3,
    scored=3,
    released=3,
    withheld=0,
    scaled_scores=[300.0, 400.0, 500.0],
    mean=400.0,
    sd=81.6,
    median=400.0,
    minimum=300.0,
    maximum=500.0,
    pass_cut=400.0,
    passed=2,
    failed=1,
    bands=[BandCount("Merit", 2, True), BandCount("Below", 1, False)],
    sections=[SectionSummary("alg", "Algebra", 8, 5.0, 1.0, 0.625)],
    reliability={"persons": 3, "items": 2, "alpha": 0.5, "kr20": 0.5, "sem": 1.0},
    items=[
        ItemRow(
            "Q1", 3, 1, 0.67, 0.67, 0.5, 0.4, 0.3, 0.4, [],
            options=[
                {"option": "A", "key": True, "share": 2 / 3, "lower": 0.0, "upper": 1.0,
                 "groups": [0.0, 0.5, 1.0, 1.0, 1.0]},
                {"option": "B", "key": False, "share": 1 / 3, "lower": 1.0, "upper": 0.0,
                 "groups": [1.0, 0.5, 0.0, 0.0, 0.0]},
            ],
        )
    ],
    integrity={"analysed": 3, "flagged": 0},
    rating=[],
)  # fmt: skip


@pytest.mark.parametrize(
    "document",
    [
        pytest.param(lambda: scorecard_pdf(CARD), id="scorecard"),
        pytest.param(lambda: scorecard_pdf(dataclasses.replace(CARD, logo=_logo())), id="logo"),
        pytest.param(
            lambda: scorecard_pdf(dataclasses.replace(CARD, preview=True, code=None)),
            id="preview",
        ),
        pytest.param(lambda: scorecard_pdf(dataclasses.replace(CARD, language="fr")), id="french"),
        pytest.param(lambda: cohort_pdf(COHORT), id="cohort"),
    ],
)
def test_the_documents_pass_the_pdf_ua_checks_and_are_deterministic(document: Any) -> None:
    pdf = document()
    assert pdf == document()  # regenerated: the same bytes (receipts depend on it)
    assert pdfua.problems(pdf) == []
    assert pdf.startswith(b"%PDF-1.7")


def test_the_pdf_ua_identification_and_figure_boxes_read_back() -> None:
    card = dataclasses.replace(CARD, logo=_logo())
    reader, tree = _structure(scorecard_pdf(card))
    root: Any = reader.root_object
    xmp = reader.xmp_metadata
    assert xmp is not None
    raw = xmp.stream.get_data().decode()
    assert "<pdfuaid:part>1</pdfuaid:part>" in raw
    assert xmp.dc_title == {
        "x-default": "Score report: Placement test",
        "en-GB": "Score report: Placement test",
    }
    assert xmp.dc_language == ["en-GB"]
    assert xmp.dc_creator == ["Northfield Academy"]
    info = reader.metadata
    assert info is not None and xmp.pdf_producer == info.producer
    assert xmp.xmp_create_date is not None and xmp.xmp_create_date.year == 2000  # invariant
    assert root["/ViewerPreferences"]["/DisplayDocTitle"] == True  # noqa: E712
    assert all(str(page["/Tabs"]) == "/S" for page in reader.pages)
    figures_ = [e for _, kind, e in tree if kind == "/Figure"]
    assert str(figures_[0]["/Alt"]) == "Logo of Northfield Academy"
    boxes = [[float(v) for v in f["/A"]["/BBox"]] for f in figures_]
    assert all(str(f["/A"]["/O"]) == "/Layout" for f in figures_)
    # the logo: 14 mm high at the top left margin (18 mm, and the frame's 6 pt padding);
    # the QR code: 30 mm square
    logo, _chart, qr = boxes
    assert logo[0] == pytest.approx(18 * 72 / 25.4 + 6, abs=0.01)
    assert logo[3] - logo[1] == pytest.approx(14 * 72 / 25.4, abs=0.01)
    assert logo[2] - logo[0] == pytest.approx(3 * (14 * 72 / 25.4), abs=0.01)  # 120 x 40
    assert logo[3] == pytest.approx(841.89 - 16 * 72 / 25.4 - 6 - 3, abs=0.01)  # cell padding 3
    assert qr[2] - qr[0] == pytest.approx(30 * 72 / 25.4, abs=0.01)
    assert qr[3] - qr[1] == pytest.approx(30 * 72 / 25.4, abs=0.01)
    # the layout tables (logo beside the name, QR code beside its text) are no /Table
    tables = [e for _, kind, e in tree if kind == "/Table"]
    assert all(str(kid.get_object()["/S"]) == "/TR" for table in tables for kid in table["/K"])
    assert len(tables) == 3  # the figures, the sections and the feedback's levels


def test_the_pdf_ua_checks_find_what_they_check() -> None:
    from pypdf import PdfWriter
    from pypdf.generic import ArrayObject, FloatObject, NameObject
    from reportlab.pdfgen.canvas import Canvas

    plain = io.BytesIO()
    canvas = Canvas(plain)
    canvas.drawString(72, 72, "untagged")
    canvas.save()
    found = pdfua.problems(plain.getvalue())
    assert "the XMP metadata does not say pdfuaid:part 1" in found
    assert "the document has no structure tree" in found
    assert "the viewer preferences do not say /DisplayDocTitle true" in found

    drawn = io.BytesIO()
    canvas = Canvas(drawn, lang="en", invariant=1)
    canvas.setTitle("A title")
    tagger = Tagger()
    tagger.attach(canvas)
    opened = begin(canvas, "P")
    canvas.drawString(72, 72, "tagged")
    end(canvas, opened)
    canvas.drawString(72, 100, "neither tagged nor an artifact")
    canvas.save()
    found = pdfua.problems(add_structure(drawn.getvalue(), tagger.marks))
    assert found == [
        "page 1 paints outside marked content and artifacts: Tj",
        "page 1: the font /Helvetica is not embedded",
    ]

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(scorecard_pdf(CARD))))
    for page in writer.pages:
        del page[NameObject("/Tabs")]
    root: Any = writer.root_object
    element = root["/StructTreeRoot"]["/K"][0].get_object()
    chart = next(k.get_object() for k in element["/K"] if str(k.get_object()["/S"]) == "/Figure")
    chart["/A"][NameObject("/BBox")] = ArrayObject(FloatObject(v) for v in (10, 10, 20, 20))
    out = io.BytesIO()
    writer.write(out)
    found = pdfua.problems(out.getvalue())
    assert "page 1 has no /Tabs /S" in found
    assert any(p.startswith("a /Figure paints [") and "outside its /BBox" in p for p in found)


def test_the_private_pypdf_call_is_still_there() -> None:
    """The one private pypdf call (tagging.new_object): if this fails after a pypdf
    upgrade, PdfWriter._add_object was renamed or changed; use pypdf's public way to add
    an indirect object in reporting/tagging.py new_object."""
    from pypdf import PdfWriter
    from pypdf.generic import DictionaryObject, IndirectObject, NameObject

    writer = PdfWriter()
    assert callable(getattr(writer, "_add_object", None)), (
        "pypdf's PdfWriter._add_object is gone: change reporting/tagging.py new_object"
    )
    body = DictionaryObject({NameObject("/Type"): NameObject("/StructTreeRoot")})
    reference = new_object(writer, body)
    assert isinstance(reference, IndirectObject), "PdfWriter._add_object returns no reference"
    assert writer.get_object(reference) is body, "the added object is not the one given"
    assert new_object(writer, body) == reference, "adding the same object twice differs"
