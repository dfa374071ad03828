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

from waa_ads.reporting import charts
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
from waa_ads.reporting.pdf import NotAScorecard, QrBlock, read_scorecard, scorecard_pdf

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
