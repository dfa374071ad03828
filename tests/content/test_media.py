"""Media checks: sniffing, allow-list, size limits, mislabelling, SVG/PDF active content."""

from __future__ import annotations

import hashlib
import re

import pytest

from tests.support import media as samples
from waa_ads.content.media.check import (
    DEFAULT_POLICY,
    KiB,
    MediaCheck,
    MediaError,
    MediaPolicy,
    MediaSet,
    MediaTooLarge,
    MediaTypeMismatch,
    MediaTypeNotAllowed,
    UnrecognizedMedia,
    UnsafeMedia,
    check_media,
    content_address,
    image_dimensions,
    normalize_content_type,
    sniff_content_type,
    svg_problems,
    type_from_filename,
)
from waa_ads.core.errors import Unprocessable

SNIFF_CASES = [
    ("png", samples.png(), "image/png", (2, 1)),
    ("jpeg", samples.jpeg(3, 2), "image/jpeg", (3, 2)),
    ("gif", samples.gif(7, 9), "image/gif", (7, 9)),
    ("webp-lossless", samples.webp_lossless(4, 3), "image/webp", (4, 3)),
    ("webp-lossy", samples.webp_lossy(5, 6), "image/webp", (5, 6)),
    ("webp-extended", samples.webp_extended(640, 480), "image/webp", (640, 480)),
    ("svg", samples.svg(), "image/svg+xml", (10, 10)),
    ("mp3-id3", samples.mp3_with_id3(), "audio/mpeg", None),
    ("mp3-frame", samples.mp3_frame(), "audio/mpeg", None),
    ("ogg", samples.ogg(), "audio/ogg", None),
    ("ogg-theora", samples.ogg_theora(), "video/ogg", None),
    ("wav", samples.wav(), "audio/wav", None),
    ("mp4", samples.mp4(), "video/mp4", None),
    ("m4a", samples.mp4(b"M4A "), "audio/mp4", None),
    ("webm", samples.webm(), "video/webm", None),
    ("pdf", samples.pdf(), "application/pdf", None),
]


@pytest.mark.parametrize(("name", "data", "expected", "size"), SNIFF_CASES)
def test_each_format_is_sniffed_and_accepted(
    name: str, data: bytes, expected: str, size: tuple[int, int] | None
) -> None:
    assert sniff_content_type(data) == expected
    check = check_media(data, declared_type=expected)
    assert check == MediaCheck(
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        content_type=expected,
        width=size[0] if size else None,
        height=size[1] if size else None,
    )


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"hello world",
        b"\x00\x00\x00\x00",
        b"PK\x03\x04zipfile",
        b"MZ\x90\x00executable",
        b"<html><body>hi</body></html>",
        b"<?xml version='1.0'?><note/>",
        samples.webm(b"matroska"),
        samples.mp4(b"qt  "),
        b"\xff\xf1\x50\x80AAC-ADTS",
        b"RIFF\x10\x00\x00\x00AVI LIST",
    ],
)
def test_unknown_formats_are_refused(data: bytes) -> None:
    with pytest.raises(UnrecognizedMedia) as info:
        check_media(data)
    assert isinstance(info.value, Unprocessable)
    assert info.value.status_code == 422
    assert "recognized" in info.value.detail or "empty" in info.value.detail


def test_svg_sniffing_needs_an_svg_root() -> None:
    assert sniff_content_type(b"\xef\xbb\xbf  <?xml version='1.0'?>\n<!-- c -->\n<svg/>") == (
        "image/svg+xml"
    )
    assert sniff_content_type(b"<svg:svg xmlns:svg='http://www.w3.org/2000/svg'/>") == (
        "image/svg+xml"
    )
    with pytest.raises(UnsafeMedia, match="does not have an <svg> root"):
        check_media(b"<?xml version='1.0'?><div><svg xmlns='http://www.w3.org/2000/svg'/></div>")


@pytest.mark.parametrize(
    ("data", "declared", "message"),
    [
        (samples.png(), "image/jpeg", "declared as image/jpeg but its content is image/png"),
        (samples.jpeg(), "image/png", "declared as image/png but its content is image/jpeg"),
        (samples.svg(), "image/png", "its content is image/svg+xml"),
        (samples.pdf(), "image/png", "its content is application/pdf"),
        (samples.mp3_frame(), "video/mp4", "its content is audio/mpeg"),
        (samples.wav(), "audio/mpeg", "its content is audio/wav"),
    ],
)
def test_mislabelled_media_is_refused(data: bytes, declared: str, message: str) -> None:
    with pytest.raises(MediaTypeMismatch, match=re.escape(message)):
        check_media(data, declared_type=declared)


def test_equivalent_declared_names_are_accepted() -> None:
    assert check_media(samples.jpeg(), declared_type="image/jpg").content_type == "image/jpeg"
    assert check_media(samples.mp3_frame(), declared_type="audio/mp3").content_type == (
        "audio/mpeg"
    )
    assert check_media(samples.wav(), declared_type="audio/x-wav; codecs=1").content_type == (
        "audio/wav"
    )
    assert check_media(samples.webm(), declared_type="audio/webm").content_type == "video/webm"
    assert check_media(samples.png(), declared_type="IMAGE/PNG").content_type == "image/png"
    # A generic label says nothing, so it cannot be wrong.
    assert check_media(samples.png(), declared_type="application/octet-stream").size > 0


def test_file_name_extension_must_match() -> None:
    assert check_media(samples.png(), filename="images/a.PNG").content_type == "image/png"
    assert check_media(samples.jpeg(), filename="photo.jpeg").content_type == "image/jpeg"
    with pytest.raises(MediaTypeMismatch, match=r"extension 'jpg' but its content is image/png"):
        check_media(samples.png(), filename="cat.jpg")
    with pytest.raises(MediaTypeMismatch, match="has no extension"):
        check_media(samples.png(), filename="images/cat")
    with pytest.raises(MediaTypeMismatch, match="'html'"):
        check_media(samples.svg(), filename="page.html")


def test_size_limits_per_type() -> None:
    policy = DEFAULT_POLICY.with_limits(png=100)
    small = samples.png()
    assert check_media(small, policy=policy).size == len(small)
    big = samples.png(64, 64, color=(1, 2, 3)) + b"\x00" * 200
    with pytest.raises(MediaTooLarge, match=r"limit for image/png is 100 bytes"):
        check_media(big, policy=policy)
    # Other types keep their defaults.
    assert check_media(samples.gif(), policy=policy).content_type == "image/gif"
    assert isinstance(MediaTooLarge("x"), Unprocessable)


def test_refusing_a_type_by_policy() -> None:
    policy = DEFAULT_POLICY.with_limits(svg=None, pdf=None)
    with pytest.raises(MediaTypeNotAllowed, match="image/svg\\+xml, which is not accepted"):
        check_media(samples.svg(), policy=policy)
    with pytest.raises(MediaTypeNotAllowed, match="application/pdf"):
        check_media(samples.pdf(), policy=policy)
    with pytest.raises(ValueError, match="unknown media kind"):
        DEFAULT_POLICY.with_limits(tiff=5)


def test_pixel_limit_stops_image_bombs() -> None:
    bomb = samples.png_header_only(100_000, 100_000)
    assert image_dimensions(bomb, "image/png") == (100_000, 100_000)
    with pytest.raises(MediaTooLarge, match="100000x100000 pixels"):
        check_media(bomb)
    assert check_media(bomb, policy=MediaPolicy(max_pixels=10**11)).width == 100_000
    with pytest.raises(MediaTooLarge):
        check_media(samples.webp_extended(16_000, 16_000))


def test_truncated_headers_give_no_dimensions_but_do_not_crash() -> None:
    assert image_dimensions(samples.jpeg()[:12], "image/jpeg") is None
    assert image_dimensions(b"\x89PNG\r\n\x1a\n", "image/png") is None
    assert image_dimensions(b"RIFF\x00\x00\x00\x00WEBPVP8L", "image/webp") is None
    check = check_media(b"\xff\xd8\xff\xe0\x00")
    assert check.content_type == "image/jpeg" and check.width is None


@pytest.mark.parametrize(
    ("svg", "reason"),
    [
        (samples.svg("<script>alert(1)</script>"), "contains a <script> element"),
        (
            samples.svg('<script xlink:href="https://evil.example/x.js"/>'),
            "contains a <script> element",
        ),
        (samples.svg('<rect onclick="alert(1)"/>'), "event handler attribute onclick"),
        (samples.svg("", attrs=' onload="alert(1)"'), "event handler attribute onload"),
        (
            samples.svg(
                "<foreignObject><div xmlns='http://www.w3.org/1999/xhtml'/></foreignObject>"
            ),
            "contains a <foreignObject> element",
        ),
        (samples.svg('<a href="javascript:alert(1)"><rect/></a>'), "URL scheme"),
        (samples.svg('<a xlink:href="JaVa&#x09;Script:alert(1)"><rect/></a>'), "URL scheme"),
        (samples.svg('<image href="https://tracker.example/p.png"/>'), "external resource"),
        (samples.svg('<use xlink:href="//evil.example/s.svg#x"/>'), "external resource"),
        (
            samples.svg('<set attributeName="href" to="javascript:alert(1)"/>'),
            "animates the 'href' attribute",
        ),
        (
            samples.svg('<animate attributeName="onclick" values="alert(1)"/>'),
            "animates the 'onclick' attribute",
        ),
        (samples.svg("<style>@import url(https://x.example/a.css);</style>"), "<style>"),
        (samples.svg('<rect style="fill:url(javascript:alert(1))"/>'), "style"),
        (
            b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            b'<svg xmlns="http://www.w3.org/2000/svg">&x;</svg>',
            "declares XML entities",
        ),
        (
            b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>'
            b'<svg xmlns="http://www.w3.org/2000/svg">&b;</svg>',
            "declares XML entities",
        ),
        (
            b'<?xml version="1.0"?><?xml-stylesheet href="https://x.example/a.css"?>'
            b'<svg xmlns="http://www.w3.org/2000/svg"/>',
            "xml-stylesheet",
        ),
        (b'<svg xmlns="http://www.w3.org/2000/svg"><rect></svg>', "not well-formed"),
        (samples.svg('<iframe src="https://evil.example/"/>'), "contains a <iframe> element"),
    ],
)
def test_svg_with_active_content_is_refused(svg: bytes, reason: str) -> None:
    assert sniff_content_type(svg) == "image/svg+xml"
    with pytest.raises(UnsafeMedia, match=r"SVG file 'figure\.svg' refused") as info:
        check_media(svg, filename="figure.svg")
    assert reason in info.value.detail


def test_harmless_svg_is_accepted_with_its_size() -> None:
    svg = samples.svg(
        '<defs><linearGradient id="g"><stop offset="0" stop-color="#fff"/></linearGradient>'
        '</defs><rect width="10" height="10" fill="url(#g)" style="stroke: black"/>'
        '<use xlink:href="#g"/><image href="figure-2.png" width="5" height="5"/>'
        '<a href="https://example.org/"><text x="1" y="5">link</text></a>'
        "<style>rect { fill: red; }</style>"
    )
    assert svg_problems(svg) == []
    check = check_media(svg, filename="figure.svg", declared_type="image/svg+xml")
    assert (check.width, check.height) == (10, 10)
    view_box_only = b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 320 200"/>'
    assert check_media(view_box_only).width == 320


@pytest.mark.parametrize(
    ("extra", "name"),
    [
        (b"/OpenAction << /S /JavaScript /JS (app.alert(1)) >>", "JavaScript"),
        (b"/AA << /O << /S /Launch /F (calc.exe) >> >>", "Launch"),
        (b"/OpenAction << /S /J#61vaScript /J#53 (x) >>", "JavaScript"),
    ],
)
def test_pdf_with_scripts_or_launch_actions_is_refused(extra: bytes, name: str) -> None:
    with pytest.raises(UnsafeMedia, match=f"names a /{name} action"):
        check_media(samples.pdf(extra))


def test_content_address_and_deduplication() -> None:
    media = MediaSet()
    first = media.add("images/a.png", samples.png())
    same = media.add("copies/a-copy.png", samples.png(), declared_type="image/png")
    other = media.add("images/b.png", samples.png(color=(255, 0, 0)))
    assert same is first
    assert other.sha256 != first.sha256
    assert len(media) == 2
    assert media.unique == [first, other]
    assert dict(media.names) == {
        "images/a.png": content_address(samples.png()),
        "copies/a-copy.png": content_address(samples.png()),
        "images/b.png": other.sha256,
    }
    # Adding the same name and bytes again is harmless.
    assert media.add("images/a.png", samples.png()) is first
    assert len(media) == 2


def test_media_set_refuses_conflicts_and_mislabelled_duplicates() -> None:
    media = MediaSet()
    media.add("a.png", samples.png())
    with pytest.raises(MediaError, match="given twice with different content"):
        media.add("a.png", samples.png(color=(1, 1, 1)))
    # Identical bytes under a misleading name are still mislabelled.
    with pytest.raises(MediaTypeMismatch):
        media.add("a.jpg", samples.png())
    with pytest.raises(MediaTypeMismatch):
        media.add("b.png", samples.png(), declared_type="image/gif")


def test_media_set_uses_its_policy() -> None:
    media = MediaSet(DEFAULT_POLICY.with_limits(png=10 * KiB))
    with pytest.raises(MediaTooLarge):
        media.add("big.png", samples.png() + b"\x00" * (11 * KiB))
    assert len(media) == 0


def test_helpers() -> None:
    assert normalize_content_type(" Image/PNG ; charset=binary") == "image/png"
    assert type_from_filename("a/b/c.JPG") == "image/jpeg"
    assert type_from_filename("a.b/c") is None
    assert type_from_filename("archive.tar") is None
    assert MediaCheck("x", 1, "image/png").is_image
    assert not MediaCheck("x", 1, "audio/wav").is_image
