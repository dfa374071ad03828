"""PDF renderings (ReportLab): the candidate's scorecard and the cohort report, and reading
a scorecard's embedded receipt back.

Determinism: documents are built in ReportLab's *invariant* mode (a fixed creation date and
document id), fonts are embedded from matplotlib's bundled DejaVu Sans, and charts come from
:mod:`waa_ads.reporting.charts` without timestamps, so the same inputs give the same bytes.

Accessibility: each document has a title, an author, a subject, a language (``/Lang``),
``DisplayDocTitle`` and an outline of its headings, its text is real text in reading
order, every chart's content is also printed as a table, and the chart's alt text is
printed under it. It is a tagged PDF that identifies itself as PDF/UA-1: the flowables of
:mod:`waa_ads.reporting.tagging` mark their content while drawing and its
``add_structure`` writes the structure tree (headings, paragraphs, figures with ``/Alt``
and their drawn box, tables with header cells) and the XMP identification afterwards.
"""

from __future__ import annotations

import asyncio
import io
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final
from xml.sax.saxutils import escape

import matplotlib
from reportlab import rl_config
from reportlab.graphics.barcode import qrencoder
from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.pdfdoc import PDFArray, PDFDictionary, PDFName, PDFStream, PDFString
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    Flowable,
    Image,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from waa_ads.core import i18n
from waa_ads.core.i18n import N_, _
from waa_ads.reporting import charts
from waa_ads.reporting.cohort import DASH, CohortReport, distractor_rows, fmt, pct, yes_no
from waa_ads.reporting.figures import (
    RECEIPT_FILE,
    Figure,
    Scorecard,
    figures,
    format_code,
    printed,
    printed_number,
    receipt_payload,
)
from waa_ads.reporting.tagging import (
    LayoutTable,
    Tagged,
    TaggedTable,
    Tagger,
    add_structure,
    artifact,
    begin,
    end,
    mark_cell,
)

# Binary streams (no ASCII85: a third larger and slower to write) and no run-time attribute
# checks on drawing shapes (the QR code is hundreds of them); the documents are the same.
rl_config.useA85 = 0
rl_config.shapeChecking = 0

FONT: Final = "WaaSans"
FONT_BOLD: Final = "WaaSans-Bold"
_FONT_DIR = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
_registered = False


def _fonts() -> None:
    global _registered  # noqa: PLW0603 (register once per process)
    if not _registered:
        pdfmetrics.registerFont(TTFont(FONT, str(_FONT_DIR / "DejaVuSans.ttf")))
        pdfmetrics.registerFont(TTFont(FONT_BOLD, str(_FONT_DIR / "DejaVuSans-Bold.ttf")))
        pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=FONT_BOLD)
        _registered = True


INK: Final = colors.HexColor("#1b1b1b")
MUTED: Final = colors.HexColor("#4a4a4a")
RULE: Final = colors.HexColor("#c8c8c8")
WATERMARK: Final = N_("NOT RELEASED")


def _styles(brand: str) -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("body", fontName=FONT, fontSize=10, leading=13, textColor=INK)
    return {
        "body": base,
        "small": ParagraphStyle("small", parent=base, fontSize=8, leading=10, textColor=MUTED),
        "org": ParagraphStyle(
            "org",
            parent=base,
            fontName=FONT_BOLD,
            fontSize=13,
            leading=16,
            textColor=colors.HexColor(brand),
        ),
        "title": ParagraphStyle("title", parent=base, fontName=FONT_BOLD, fontSize=18, leading=22),
        "h2": ParagraphStyle(
            "h2",
            parent=base,
            fontName=FONT_BOLD,
            fontSize=12,
            leading=15,
            spaceBefore=8,
            spaceAfter=4,
            textColor=colors.HexColor(brand),
        ),
        "h3": ParagraphStyle(
            "h3",
            parent=base,
            fontName=FONT_BOLD,
            fontSize=10,
            leading=13,
            spaceBefore=6,
            spaceAfter=2,
        ),
        "big": ParagraphStyle("big", parent=base, fontName=FONT_BOLD, fontSize=16, leading=20),
        "cell": ParagraphStyle("cell", parent=base, fontSize=9, leading=11, alignment=TA_LEFT),
    }


_HEADING_TAGS: Final = {"title": "H1", "h2": "H2", "h3": "H3"}


class Heading(Paragraph):  # type: ignore[misc]
    """A paragraph that is also an outline entry (the PDF's bookmarks) and a heading of
    the structure tree (``H1`` for the title, ``H2``, ``H3``)."""

    def __init__(self, text: str, style: ParagraphStyle, level: int = 0) -> None:
        super().__init__(escape(text), style)
        self.outline_text, self.outline_level = text, level

    def draw(self) -> None:
        key = f"h{id(self)}"
        self.canv.bookmarkHorizontal(key, 0, self.height)
        self.canv.addOutlineEntry(self.outline_text, key, level=self.outline_level)
        opened = begin(self.canv, _HEADING_TAGS.get(self.style.name, "H2"))
        super().draw()
        end(self.canv, opened)


def _p(text: str, style: ParagraphStyle) -> Flowable:
    """A paragraph of the text, tagged ``P``."""
    return Tagged(Paragraph(escape(text), style), "P")


def _table(
    rows: Sequence[Sequence[str]],
    styles: dict[str, ParagraphStyle],
    widths: Sequence[float],
    *,
    header: bool = True,
) -> Table:
    def cell(text: str, r: int, c: int) -> Flowable:
        flowable = Paragraph(escape(text), styles["cell"])
        if header and r == 0:
            return mark_cell(flowable, "TH", r, "Column")
        if not header and c == 0:
            return mark_cell(flowable, "TH", r, "Row")
        return mark_cell(flowable, "TD", r)

    cells = [[cell(text, r, c) for c, text in enumerate(row)] for r, row in enumerate(rows)]
    table = TaggedTable(cells, colWidths=list(widths), repeatRows=1 if header else 0, hAlign="LEFT")
    commands: list[Any] = [
        ("LINEBELOW", (0, 0), (-1, -1), 0.4, RULE),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
    ]
    if header:
        commands.append(("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")))
    table.setStyle(TableStyle(commands))
    return table


def _chart(png: bytes, alt: str, width: float, styles: dict[str, ParagraphStyle]) -> list[Flowable]:
    image = Image(io.BytesIO(png))
    scale = width / image.imageWidth
    image.drawWidth, image.drawHeight = width, image.imageHeight * scale
    image.hAlign = "LEFT"
    return [
        Tagged(image, "Figure", alt=alt),
        _p(_("Chart: %(alt)s", alt=alt), styles["small"]),
        Spacer(1, 4),
    ]


class QrBlock(Flowable):  # type: ignore[misc]
    """A QR code drawn as filled runs of modules straight onto the canvas: the code is
    encoded once (ReportLab's widget encodes it again for its bounds and for each draw,
    the larger part of a scorecard's time) with a quiet zone of two modules."""

    def __init__(self, text: str, size: float) -> None:
        super().__init__()
        code = qrencoder.QRCode(None, qrencoder.QRErrorCorrectLevel.M)
        code.addData(text)
        code.make()
        self.modules = [[bool(m) for m in row] for row in code.modules]
        self.width = self.height = size

    def draw(self) -> None:
        count = len(self.modules)
        box = self.width / (count + 4)
        canvas = self.canv
        canvas.setFillColor(colors.black)
        for r, row in enumerate(self.modules):
            c = 0
            while c < count:
                if row[c]:
                    start = c
                    while c < count and row[c]:
                        c += 1
                    y = self.height - (r + 3) * box
                    canvas.rect((start + 2) * box, y, (c - start) * box, box, stroke=0, fill=1)
                else:
                    c += 1


def _embed_receipt(canvas: Canvas, payload: bytes) -> None:
    """Attach ``receipt.json`` to the document (an embedded file in the catalog's name
    tree, listed as associated data), which pypdf and any PDF reader's attachment pane
    can open."""
    doc = canvas._doc
    stream = PDFStream(
        PDFDictionary({"Type": PDFName("EmbeddedFile"), "Subtype": PDFName("application#2Fjson")}),
        payload,
        filters=[],
    )
    spec = doc.Reference(
        PDFDictionary(
            {
                "Type": PDFName("Filespec"),
                "F": PDFString(RECEIPT_FILE),
                "UF": PDFString(RECEIPT_FILE),
                "Desc": PDFString("The figures of this scorecard and its verification code"),
                "AFRelationship": PDFName("Data"),
                "EF": PDFDictionary({"F": doc.Reference(stream)}),
            }
        )
    )
    canvas.setCatalogEntry(
        "Names",
        PDFDictionary(
            {"EmbeddedFiles": PDFDictionary({"Names": PDFArray([PDFString(RECEIPT_FILE), spec])})}
        ),
    )
    canvas.setCatalogEntry("AF", PDFArray([spec]))


def _decorate(
    title: str, footer: str, *, watermark: bool, receipt: bytes | None, tagger: Tagger
) -> Callable[[Canvas, Any], None]:
    """Each page's furniture (footer, page number, watermark), marked as artifacts; the
    first page also attaches the receipt and the canvas to ``tagger``."""

    def on_page(canvas: Canvas, doc: Any) -> None:
        tagger.attach(canvas)
        canvas.saveState()
        if receipt is not None and doc.page == 1:
            _embed_receipt(canvas, receipt)
        width, height = A4
        with artifact(canvas):
            canvas.setFont(FONT, 7.5)
            canvas.setFillColor(MUTED)
            canvas.drawString(18 * mm, 10 * mm, footer)
            canvas.drawRightString(
                width - 18 * mm, 10 * mm, _("%(title)s · page %(page)s", title=title, page=doc.page)
            )
            if watermark:
                canvas.setFont(FONT_BOLD, 64)
                canvas.setFillColor(colors.Color(0.75, 0.0, 0.0, alpha=0.18))
                canvas.translate(width / 2, height / 2)
                canvas.rotate(40)
                canvas.drawCentredString(0, 0, _(WATERMARK))
        canvas.restoreState()

    return on_page


def _document(
    buffer: io.BytesIO, *, title: str, author: str, subject: str, lang: str
) -> SimpleDocTemplate:
    return SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=16 * mm,
        bottomMargin=18 * mm,
        title=title,
        author=author,
        subject=subject,
        creator="WAA-ADS",
        lang=lang,
        invariant=1,
        displayDocTitle=1,
    )


def _header(
    organization: str, logo: bytes | None, title: str, styles: dict[str, ParagraphStyle]
) -> list[Flowable]:
    head: list[Flowable] = []
    if logo is not None:
        try:
            picture = Image(io.BytesIO(logo))
            scale = (14 * mm) / picture.imageHeight
            picture.drawHeight, picture.drawWidth = 14 * mm, picture.imageWidth * scale
            picture.hAlign = "LEFT"
            head.append(
                LayoutTable(
                    [
                        [
                            Tagged(
                                picture,
                                "Figure",
                                alt=_("Logo of %(organization)s", organization=organization),
                            ),
                            _p(organization, styles["org"]),
                        ]
                    ],
                    colWidths=[picture.drawWidth + 4 * mm, None],
                    hAlign="LEFT",
                    style=[
                        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                        ("LEFTPADDING", (0, 0), (0, 0), 0),
                    ],
                )
            )
        except OSError:
            logo = None  # a picture the imaging library cannot read: the name alone
    if logo is None:
        head.append(_p(organization, styles["org"]))
    head += [Spacer(1, 3 * mm), Heading(title, styles["title"]), Spacer(1, 2 * mm)]
    return head


def _text_locale(language: str) -> str | None:
    """The locale a document whose language is ``language`` (``en-GB``, ``fr``) is
    written in: that one, else its language alone, else English."""
    return i18n.best_match([language]) if language else None


def scorecard_pdf(card: Scorecard) -> bytes:
    """The scorecard of one released result (or a preview, watermarked and without a
    receipt), written in ``card.language`` (its ``/Lang``). Deterministic in ``card``."""
    with i18n.use_locale(_text_locale(card.language)):
        return _scorecard_pdf(card)


def _scorecard_pdf(card: Scorecard) -> bytes:
    _fonts()
    brand = card.brand_color or charts.DEFAULT_COLOR
    styles = _styles(brand)
    items = figures(card)
    by_name = {f.name: printed(f) for f in items}
    buffer = io.BytesIO()
    title = _("Score report: %(assessment)s", assessment=card.assessment_title)
    doc = _document(
        buffer,
        title=title,
        author=card.organization_name,
        subject=_("Result of %(candidate)s", candidate=card.candidate_name or card.candidate_ref),
        lang=card.language,
    )
    story = _header(card.organization_name, card.logo, _("Score report"), styles)
    if card.preview:
        story.append(
            _p(
                _(
                    "Preview — NOT RELEASED. These figures have not been released to the "
                    "candidate and this document carries no verification code."
                ),
                styles["h2"],
            )
        )
    width = doc.width

    def rows(names: Sequence[str]) -> list[list[str]]:
        return [[by_name[n].label, by_name[n].value] for n in names if n in by_name]

    story.append(Heading(_("Result"), styles["h2"]))
    headline = by_name.get("outcome") or by_name.get("band") or by_name["scaled"]
    story.append(
        _p(_("%(label)s: %(value)s", label=headline.label, value=headline.value), styles["big"])
    )
    story.append(Spacer(1, 2 * mm))
    key = [
        "candidate",
        "assessment",
        "administration",
        "raw",
        "scaled",
        "standard_error",
        "likely_range",
        "band",
        "outcome",
        "percentile",
        "revision",
        "released",
    ]
    story.append(_table(rows(key), styles, [width * 0.35, width * 0.65], header=False))
    if "standard_error" in by_name:
        story.append(
            _p(
                _(
                    "The standard error comes from the reliability of this test in this "
                    "session (classical measurement error); the likely range is the scaled "
                    "score plus or minus 1.96 standard errors."
                ),
                styles["small"],
            )
        )
    if card.sections:
        story.append(Heading(_("Sections"), styles["h2"]))
        png, alt = charts.section_profile([(s.title, s.share) for s in card.sections], brand)
        story += _chart(png, alt, width * 0.8, styles)
        section_rows = [[_("Section"), _("Score")]] + [
            [s.title, f"{printed_number(s.raw)} / {printed_number(s.max_raw)}"]
            for s in card.sections
        ]
        story.append(_table(section_rows, styles, [width * 0.6, width * 0.4]))
    if card.feedback:
        story.append(Heading(_("Feedback"), styles["h2"]))
        for item in card.feedback:
            block: list[Flowable] = [_p(item.title, styles["big"])]
            score_rows = []
            if item.score is not None:
                score_rows.append(
                    [
                        _("%(title)s (rated)", title=item.title),
                        f"{printed_number(item.score)} / {printed_number(item.max_score)}",
                    ]
                )
            score_rows += [[criterion, level] for criterion, level in item.levels]
            if score_rows:
                block.append(_table(score_rows, styles, [width * 0.5, width * 0.5], header=False))
            if item.comment:
                block.append(_p(_("Comment: %(comment)s", comment=item.comment), styles["body"]))
            block.append(Spacer(1, 3 * mm))
            story.append(KeepTogether(block))
    story.append(Heading(_("Verification"), styles["h2"]))
    if card.code is not None and not card.preview:
        size = 30 * mm
        drawing = Tagged(
            QrBlock(card.verify_url or card.code, size),
            "Figure",
            alt=_(
                "QR code of the verification address %(address)s",
                address=card.verify_url or card.code,
            ),
        )
        text = [
            _p(_("Verification code: %(code)s", code=format_code(card.code)), styles["big"]),
            _p(
                _(
                    "Anyone can check that the figures on this page are the ones released: "
                    "scan the code or open the address below, or run `waa-ads report verify` "
                    "on this file. The figures are also embedded in this PDF (receipt.json)."
                ),
                styles["body"],
            ),
        ]
        if card.verify_url:
            text.append(_p(card.verify_url, styles["small"]))
        story.append(
            LayoutTable(
                [[drawing, text]],
                colWidths=[size + 6 * mm, None],
                hAlign="LEFT",
                style=[("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (0, 0), 0)],
            )
        )
    else:
        story.append(_p(_("This is a preview: it has no verification code."), styles["body"]))
    payload = (
        receipt_payload(card.code, items, card.verify_url)
        if card.code is not None and not card.preview
        else None
    )
    tagger = Tagger()
    decorate = _decorate(
        _("Score report"), card.organization_name, watermark=card.preview, receipt=payload,
        tagger=tagger,
    )  # fmt: skip
    doc.build(story, onFirstPage=decorate, onLaterPages=decorate)
    return add_structure(buffer.getvalue(), tagger.marks)


#: ReportLab keeps module state (fonts, rl_config): one document is rendered at a time per
#: process, off the event loop.
_RENDER = threading.Lock()


def _locked_scorecard(card: Scorecard) -> bytes:
    with _RENDER:
        return scorecard_pdf(card)


def _locked_cohort(report: CohortReport) -> bytes:
    with _RENDER:
        return cohort_pdf(report)


async def render_scorecard(card: Scorecard) -> bytes:
    """:func:`scorecard_pdf` in a worker thread (the event loop keeps serving)."""
    return await asyncio.to_thread(_locked_scorecard, card)


async def render_cohort(report: CohortReport) -> bytes:
    return await asyncio.to_thread(_locked_cohort, report)


def _distractors(
    report: CohortReport, styles: dict[str, ParagraphStyle], width: float
) -> list[Flowable]:
    """Each choice item's distractor plot with its table (the same figures)."""
    plotted = [item for item in report.items if item.distractor_plot]
    story: list[Flowable] = [Heading(_("Distractors"), styles["h2"])]
    if not plotted:
        story.append(
            _p(_("No choice item of this session has responses to count yet."), styles["body"])
        )
        return story
    story.append(
        _p(
            _(
                "Share of candidates choosing each option, overall, in the lower and upper "
                "27% by total score and in each fifth by total score (G1 lowest to G5 "
                "highest). A distractor that attracts high scorers more than low ones is "
                "noted."
            ),
            styles["body"],
        )
    )
    for item in plotted:
        # narrow columns: "G1" for "Group 1" (the paragraph above says what they are)
        rows = distractor_rows(item, short=True)
        png, alt = charts.distractors(item.item, item.options)
        widths = [0.09, 0.13, 0.07, 0.1, 0.1] + [0.07] * (len(rows[0]) - 6)
        widths.append(max(1.0 - sum(widths), 0.12))
        block: list[Flowable] = [Heading(_("Item %(item)s", item=item.item), styles["h3"], level=1)]
        block += _chart(png, alt, width * 0.75, styles)
        block.append(_table(rows, styles, [width * w for w in widths]))
        story.append(KeepTogether(block))
    return story


def cohort_pdf(report: CohortReport) -> bytes:
    """The cohort report of one administration, from the same data as its HTML page,
    written in ``report.language`` (its ``/Lang``)."""
    with i18n.use_locale(_text_locale(report.language)):
        return _cohort_pdf(report)


def _cohort_pdf(report: CohortReport) -> bytes:
    _fonts()
    brand = report.brand_color or charts.DEFAULT_COLOR
    styles = _styles(brand)
    buffer = io.BytesIO()
    doc = _document(
        buffer,
        title=_("Cohort report: %(administration)s", administration=report.administration_title),
        author=report.organization_name,
        subject=report.assessment_title,
        lang=report.language,
    )
    width = doc.width
    story = _header(
        report.organization_name,
        None,
        _("Cohort report: %(administration)s", administration=report.administration_title),
        styles,
    )
    story.append(_p(report.assessment_title, styles["body"]))
    story.append(Heading(_("Summary"), styles["h2"]))
    summary = [
        [_("Attempts"), str(report.attempts)],
        [_("Scored"), str(report.scored)],
        [i18n.pgettext("attempts", "Released"), str(report.released)],
        [i18n.pgettext("attempts", "Withheld"), str(report.withheld)],
        [_("Mean scaled score"), fmt(report.mean)],
        [_("Standard deviation"), fmt(report.sd)],
        [_("Median"), fmt(report.median)],
        [_("Lowest"), fmt(report.minimum)],
        [_("Highest"), fmt(report.maximum)],
        [_("Pass rate"), pct(report.pass_rate)],
    ]
    story.append(_table(summary, styles, [width * 0.4, width * 0.3], header=False))
    story.append(Heading(_("Score distribution"), styles["h2"]))
    png, alt = charts.distribution(report.scaled_scores, cut=report.pass_cut, color=brand)
    story += _chart(png, alt, width * 0.85, styles)
    if report.bands:
        band_rows = [[_("Band"), _("Candidates"), _("Pass")]] + [
            [b.band, str(b.count), yes_no(b.passed)] for b in report.bands
        ]
        story.append(_table(band_rows, styles, [width * 0.4, width * 0.2, width * 0.2]))
    story.append(Heading(_("Sections"), styles["h2"]))
    section_rows = [[_("Section"), _("Maximum"), _("Mean"), _("SD"), _("Mean %")]] + [
        [s.title, printed_number(s.max_raw), fmt(s.mean), fmt(s.sd), pct(s.mean_share)]
        for s in report.sections
    ]
    story.append(_table(section_rows, styles, [width * 0.36] + [width * 0.16] * 4))
    story.append(Heading(_("Reliability"), styles["h2"]))
    rel = report.reliability
    story.append(
        _table(
            [
                [_("Persons"), str(rel.get("persons", 0))],
                [_("Items"), str(rel.get("items", 0))],
                [_("Cronbach's alpha"), fmt(rel.get("alpha"), 3)],
                ["KR-20", fmt(rel.get("kr20"), 3)],
                [_("Standard error of measurement (raw)"), fmt(rel.get("sem"))],
            ],
            styles,
            [width * 0.5, width * 0.3],
            header=False,
        )
    )
    story.append(Heading(_("Items"), styles["h2"]))
    item_rows = [
        [
            _("Item"),
            "n",
            _("Facility"),
            _("Discrim."),
            _("r pbis"),
            _("r corr."),
            _("alpha if del."),
            _("Flags"),
        ]
    ]
    for item in report.items:
        item_rows.append(
            [
                item.item,
                str(item.presented),
                fmt(item.facility),
                fmt(item.discrimination),
                fmt(item.point_biserial),
                fmt(item.corrected_item_total),
                fmt(item.alpha_if_deleted, 3),
                ", ".join(item.flags) or DASH,
            ]
        )
    story.append(_table(item_rows, styles, [width * 0.16] + [width * 0.09] * 6 + [width * 0.3]))
    story += _distractors(report, styles, width)
    story.append(Heading(_("Integrity"), styles["h2"]))
    integrity = report.integrity
    integrity_rows = [
        [_("Attempts analysed"), str(integrity.get("analysed", 0))],
        [_("Attempts with flags"), str(integrity.get("flagged", 0))],
    ]
    integrity_rows += [
        [_("Flags: %(severity)s", severity=k), str(v)]
        for k, v in integrity.get("severity", {}).items()
    ]
    integrity_rows += [
        [_("Decisions: %(decision)s", decision=k), str(v)]
        for k, v in integrity.get("decisions", {}).items()
    ]
    story.append(_table(integrity_rows, styles, [width * 0.5, width * 0.3], header=False))
    story.append(Heading(_("Rating agreement"), styles["h2"]))
    if report.rating:
        rating_rows = [[_("Item"), _("Pairs"), _("Exact"), _("Adjacent"), _("QWK")]] + [
            [
                r["item_ref"],
                str(r.get("pairs", 0)),
                pct(r.get("exact")),
                pct(r.get("adjacent")),
                fmt(r.get("qwk"), 3),
            ]
            for r in report.rating
        ]
        story.append(_table(rating_rows, styles, [width * 0.3] + [width * 0.15] * 4))
    else:
        story.append(
            _p(_("No responses of this session were rated by two people."), styles["body"])
        )
    tagger = Tagger()
    decorate = _decorate(
        _("Cohort report"), report.organization_name, watermark=False, receipt=None, tagger=tagger
    )
    doc.build(story, onFirstPage=decorate, onLaterPages=decorate)
    return add_structure(buffer.getvalue(), tagger.marks)


class NotAScorecard(ValueError):
    """The file is not a readable PDF, or has no receipt this system embedded."""


def read_scorecard(data: bytes) -> tuple[bytes, str]:
    """The embedded receipt's bytes and the text of every page of a scorecard PDF.
    :class:`NotAScorecard` for a damaged file, another PDF, or no PDF at all."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError, PyPdfError

    if not data.startswith(b"%PDF-"):
        raise NotAScorecard("the file is not a PDF")
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        attachments = reader.attachments
        found = attachments.get(RECEIPT_FILE) if attachments else None
        if not found:
            raise NotAScorecard("the PDF carries no WAA-ADS receipt (receipt.json)")
        text = "\n".join(page.extract_text() or "" for page in reader.pages)
    except NotAScorecard:
        raise
    except (
        PdfReadError,
        PyPdfError,
        ValueError,
        KeyError,
        TypeError,
        AttributeError,
        OSError,
    ) as exc:
        raise NotAScorecard(f"the PDF cannot be read ({type(exc).__name__})") from exc
    return found[0], text


def scorecard_language(data: bytes) -> str | None:
    """The language a scorecard PDF says it is written in (its ``/Lang``), if it says."""
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        lang = PdfReader(io.BytesIO(data), strict=False).root_object.get("/Lang")
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, OSError):
        return None
    return str(lang) if lang else None


def receipt_figures(card: Scorecard) -> list[Figure]:
    return figures(card)
