"""The documents themselves, without a database: figures and codes, determinism of the PDF
and its charts, the QR code's content, what a reader of the PDF finds in it."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json

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
