"""Media assets: sniffing, allow-listing and checking the bytes an item refers to.

Pure functions over bytes, no I/O. The content type of a file is sniffed from its leading
bytes (magic numbers; no libmagic), never taken from a file name or a client's header;
a declared type that disagrees with the sniffed one is refused, because a browser that
trusts the label may render the bytes as something else. Every type has a size limit and
the whole set is an allow-list: PNG, JPEG, GIF, WebP, SVG, MP3, Ogg, WAV, MP4, WebM, PDF.

SVG is an XML document that can carry script. It is **refused, not rewritten**, when it
holds anything active: ``script``, ``foreignObject``, event-handler attributes,
script or external URLs, animation that targets links or handlers, a DTD with entity
declarations, or a stylesheet processing instruction. Refusing keeps the stored bytes
exactly those the author uploaded (assets are addressed by their SHA-256) and tells the
author what to fix; a silent rewrite would change the picture without anybody noticing.

PDF can carry JavaScript and launch actions; a PDF naming ``/JavaScript``, ``/JS`` or
``/Launch`` in its uncompressed structure is refused. Names inside compressed object
streams are not visible to this check, so PDFs must still be served as attachments.
"""

from __future__ import annotations

import hashlib
import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from lxml import etree

from waa_ads.content.render.sanitize import (
    SVG_NS,
    XLINK_NS,
    is_safe_style,
    is_safe_url,
)
from waa_ads.core.errors import Unprocessable
from waa_ads.core.i18n import N_

KiB = 1024
MiB = 1024 * KiB

PNG = "image/png"
JPEG = "image/jpeg"
GIF = "image/gif"
WEBP = "image/webp"
SVG = "image/svg+xml"
MP3 = "audio/mpeg"
OGG_AUDIO = "audio/ogg"
OGG_VIDEO = "video/ogg"
WAV = "audio/wav"
MP4_VIDEO = "video/mp4"
MP4_AUDIO = "audio/mp4"
WEBM_VIDEO = "video/webm"
WEBM_AUDIO = "audio/webm"
PDF = "application/pdf"

#: Default size limit per sniffed content type, in bytes. Types absent here are refused.
DEFAULT_LIMITS: Mapping[str, int] = MappingProxyType(
    {
        PNG: 10 * MiB,
        JPEG: 10 * MiB,
        GIF: 10 * MiB,
        WEBP: 10 * MiB,
        SVG: 2 * MiB,
        MP3: 50 * MiB,
        OGG_AUDIO: 50 * MiB,
        OGG_VIDEO: 200 * MiB,
        WAV: 100 * MiB,
        MP4_AUDIO: 50 * MiB,
        MP4_VIDEO: 200 * MiB,
        WEBM_VIDEO: 200 * MiB,
        PDF: 20 * MiB,
    }
)

#: Declared types that name the same format as a sniffed type (legacy and vendor names,
#: and audio/video variants of containers that cannot be told apart cheaply).
_EQUIVALENT_DECLARED: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        JPEG: frozenset({"image/jpg", "image/pjpeg"}),
        PNG: frozenset({"image/x-png"}),
        MP3: frozenset({"audio/mp3", "audio/mpeg3", "audio/x-mpeg-3", "audio/x-mp3"}),
        WAV: frozenset({"audio/x-wav", "audio/wave", "audio/vnd.wave"}),
        OGG_AUDIO: frozenset({"application/ogg", "audio/vorbis", "audio/opus", OGG_VIDEO}),
        OGG_VIDEO: frozenset({"application/ogg", OGG_AUDIO}),
        MP4_VIDEO: frozenset({MP4_AUDIO, "audio/x-m4a", "audio/m4a"}),
        MP4_AUDIO: frozenset({MP4_VIDEO, "audio/x-m4a", "audio/m4a"}),
        WEBM_VIDEO: frozenset({WEBM_AUDIO}),
        PDF: frozenset({"application/x-pdf"}),
    }
)

#: File-name extensions and the types they announce.
EXTENSION_TYPES: Mapping[str, str] = MappingProxyType(
    {
        "png": PNG,
        "jpg": JPEG,
        "jpeg": JPEG,
        "jpe": JPEG,
        "gif": GIF,
        "webp": WEBP,
        "svg": SVG,
        "mp3": MP3,
        "ogg": OGG_AUDIO,
        "oga": OGG_AUDIO,
        "opus": OGG_AUDIO,
        "ogv": OGG_VIDEO,
        "wav": WAV,
        "mp4": MP4_VIDEO,
        "m4a": MP4_AUDIO,
        "m4v": MP4_VIDEO,
        "webm": WEBM_VIDEO,
        "pdf": PDF,
    }
)


class MediaError(Unprocessable):
    """A media file that cannot be accepted; ``detail`` says why in plain words."""

    code = "media-invalid"
    title = N_("Media file refused")


class UnrecognizedMedia(MediaError):
    code = "media-unrecognized"
    title = N_("Unrecognized media file")


class MediaTypeNotAllowed(MediaError):
    code = "media-type-not-allowed"
    title = N_("Media type not allowed")


class MediaTooLarge(MediaError):
    code = "media-too-large"
    title = N_("Media file too large")


class MediaTypeMismatch(MediaError):
    code = "media-type-mismatch"
    title = N_("Media file mislabelled")


class UnsafeMedia(MediaError):
    code = "media-unsafe"
    title = N_("Media file with active content")


@dataclass(frozen=True)
class MediaPolicy:
    """What media is accepted: an allow-list of sniffed types with a byte limit each, and a
    pixel limit for images (a small file can declare a huge canvas)."""

    limits: Mapping[str, int] = field(default_factory=lambda: DEFAULT_LIMITS)
    max_pixels: int = 50_000_000

    def with_limits(self, **changes: int | None) -> MediaPolicy:
        """A copy with some limits changed or removed, keyed by a short name
        (``png=5 * MiB``, ``svg=None`` to refuse SVG altogether)."""
        by_short = {
            "png": PNG, "jpeg": JPEG, "gif": GIF, "webp": WEBP, "svg": SVG, "mp3": MP3,
            "ogg_audio": OGG_AUDIO, "ogg_video": OGG_VIDEO, "wav": WAV, "mp4_audio": MP4_AUDIO,
            "mp4_video": MP4_VIDEO, "webm": WEBM_VIDEO, "pdf": PDF,
        }  # fmt: skip
        limits = dict(self.limits)
        for short, value in changes.items():
            if short not in by_short:
                raise ValueError(f"unknown media kind {short!r}; known: {sorted(by_short)}")
            if value is None:
                limits.pop(by_short[short], None)
            else:
                limits[by_short[short]] = value
        return MediaPolicy(limits=MappingProxyType(limits), max_pixels=self.max_pixels)


DEFAULT_POLICY = MediaPolicy()


@dataclass(frozen=True)
class MediaCheck:
    """The verdict on accepted bytes: their address, size, sniffed type and, for images
    whose header gives it cheaply, their pixel size."""

    sha256: str
    size: int
    content_type: str
    width: int | None = None
    height: int | None = None

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")


def content_address(data: bytes) -> str:
    """The hex SHA-256 of ``data``, the key media is stored and de-duplicated under."""
    return hashlib.sha256(data).hexdigest()


def normalize_content_type(value: str) -> str:
    """``"Image/PNG; charset=x"`` -> ``"image/png"``."""
    return value.split(";", 1)[0].strip().lower()


def type_from_filename(name: str) -> str | None:
    """The type a file name's extension announces, or None when it has none we know."""
    base = name.rsplit("/", 1)[-1]
    if "." not in base:
        return None
    return EXTENSION_TYPES.get(base.rsplit(".", 1)[-1].lower())


# --- sniffing -----------------------------------------------------------------------------

# An XML-looking start and an <svg start tag early on; parsing then confirms the root.
_SVG_START_RE = re.compile(rb"^(?:\xef\xbb\xbf)?\s*<(?:\?xml|!--|!doctype|svg)", re.I)
_SVG_TAG_RE = re.compile(rb"<(?:[a-z0-9_-]+:)?svg[\s>/]", re.I)
_SVG_PROBE_BYTES = 4096


def sniff_content_type(data: bytes) -> str | None:
    """The content type the leading bytes announce, or None when none we know.

    Only the magic numbers are looked at; whether the rest of the file is valid is not
    checked (browsers decode media in their own sandboxed decoders).
    """
    head = data[:64]
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith((b"GIF87a", b"GIF89a")):
        return GIF
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return WAV
    if head.startswith(b"%PDF-"):
        return PDF
    if head.startswith(b"OggS"):
        # The first page holds the codec header; Theora means video.
        return OGG_VIDEO if b"\x80theora" in data[:512] else OGG_AUDIO
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"qt  ",):
            return None
        return MP4_AUDIO if brand in (b"M4A ", b"M4B ") else MP4_VIDEO
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        # EBML: WebM announces itself with the DocType "webm" (Matroska says "matroska").
        return WEBM_VIDEO if b"\x42\x82\x84webm" in data[:64] else None
    if head.startswith(b"ID3") or _is_mpeg_audio_frame(head):
        return MP3
    probe = data[:_SVG_PROBE_BYTES]
    if _SVG_START_RE.match(probe) and _SVG_TAG_RE.search(probe):
        return SVG
    return None


def _is_mpeg_audio_frame(head: bytes) -> bool:
    # 11 sync bits, then an MPEG version other than "reserved" and layer III.
    if len(head) < 4 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return False
    version = (head[1] >> 3) & 0b11
    layer = (head[1] >> 1) & 0b11
    bitrate = head[2] >> 4
    return version != 0b01 and layer == 0b01 and bitrate not in (0b0000, 0b1111)


# --- image dimensions ---------------------------------------------------------------------


def image_dimensions(data: bytes, content_type: str) -> tuple[int, int] | None:
    """(width, height) from an image header, or None when the header does not say."""
    try:
        if content_type == PNG:
            return _png_size(data)
        if content_type == GIF:
            return _gif_size(data)
        if content_type == JPEG:
            return _jpeg_size(data)
        if content_type == WEBP:
            return _webp_size(data)
    except (struct.error, IndexError):
        return None
    return None


def _png_size(data: bytes) -> tuple[int, int] | None:
    if data[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


def _gif_size(data: bytes) -> tuple[int, int]:
    width, height = struct.unpack("<HH", data[6:10])
    return int(width), int(height)


# Start-of-frame markers carry the size; C4 (DHT), C8 (JPG) and CC (DAC) do not.
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    pos = 2
    end = len(data)
    while pos + 4 <= end:
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # no length
            pos += 2
            continue
        if marker == 0xD9:  # end of image before any frame
            return None
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        if marker in _JPEG_SOF:
            height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
            return int(width), int(height)
        if length < 2:
            return None
        pos += 2 + length
    return None


def _webp_size(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8X":
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
        return width, height
    if chunk == b"VP8L" and data[20] == 0x2F:
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8 " and data[23:26] == b"\x9d\x01\x2a":
        width, height = struct.unpack("<HH", data[26:30])
        return int(width) & 0x3FFF, int(height) & 0x3FFF
    return None


# --- active content -----------------------------------------------------------------------

_SVG_FORBIDDEN_ELEMENTS = frozenset(
    {"script", "foreignobject", "handler", "listener", "iframe", "embed", "object", "applet"}
)
_SVG_ANIMATION = frozenset({"set", "animate", "animatemotion", "animatetransform", "animatecolor"})
_SVG_URL_ATTRIBUTES = frozenset({"href", "src", "action", "formaction", "data"})


def svg_problems(data: bytes) -> list[str]:
    """Why an SVG document is unsafe to serve, or an empty list when it is not."""
    return _inspect_svg(data)[0]


def _inspect_svg(data: bytes) -> tuple[list[str], tuple[int, int] | None]:
    if re.search(rb"<!ENTITY", data, re.I):
        return ["declares XML entities (entity expansion and external entities)"], None
    try:
        root = etree.fromstring(data, safe_xml_parser_keep_pis())
    except etree.XMLSyntaxError as exc:
        return [f"is not well-formed XML ({exc.msg})"], None
    problems: list[str] = []
    if etree.QName(root).localname != "svg" or etree.QName(root).namespace not in (
        SVG_NS,
        None,
    ):
        problems.append("does not have an <svg> root element")
    for pi in root.itersiblings(preceding=True):
        if isinstance(pi, etree._ProcessingInstruction) and pi.target == "xml-stylesheet":
            problems.append("links a stylesheet through <?xml-stylesheet?>")
    for el in root.iter():
        if isinstance(el, etree._ProcessingInstruction) and el.target == "xml-stylesheet":
            problems.append("links a stylesheet through <?xml-stylesheet?>")
        if not isinstance(el.tag, str):
            continue
        local = etree.QName(el).localname
        lowered = local.lower()
        if lowered in _SVG_FORBIDDEN_ELEMENTS:
            problems.append(f"contains a <{local}> element")
        if lowered in _SVG_ANIMATION:
            target = (el.get("attributeName") or "").strip().lower()
            if target.startswith("on") or target.endswith("href"):
                problems.append(f"animates the {target!r} attribute")
        if lowered == "style" and el.text and not is_safe_style(el.text):
            problems.append("has a <style> that could run code or fetch URLs")
        for name, value in el.attrib.items():
            qname = etree.QName(name)
            attr = qname.localname.lower()
            if attr.startswith("on"):
                problems.append(f"has an event handler attribute {qname.localname}")
            elif attr in _SVG_URL_ATTRIBUTES or qname.namespace == XLINK_NS:
                reason = _svg_url_problem(str(value), fetches=lowered != "a")
                if reason:
                    problems.append(f"<{local} {qname.localname}> {reason}")
            elif attr == "style" and not is_safe_style(str(value)):
                problems.append(f"<{local}> has a style that could run code or fetch URLs")
    return list(dict.fromkeys(problems)), _svg_size(root)


_SVG_LENGTH_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(px)?\s*$")


def _svg_size(root: etree._Element) -> tuple[int, int] | None:
    """The root's width and height when given in pixels, else the viewBox's size."""
    width = _SVG_LENGTH_RE.match(str(root.get("width") or ""))
    height = _SVG_LENGTH_RE.match(str(root.get("height") or ""))
    if width and height:
        return round(float(width[1])), round(float(height[1]))
    parts = re.split(r"[\s,]+", str(root.get("viewBox") or "").strip())
    if len(parts) == 4:
        try:
            return round(float(parts[2])), round(float(parts[3]))
        except ValueError:
            return None
    return None


def _svg_url_problem(value: str, *, fetches: bool) -> str | None:
    """A link (``<a href>``) may point anywhere safe; a reference that the renderer fetches
    (``image``, ``use``, filters...) must stay inside the package, or the picture would
    reach out to a third party every time a candidate sees it."""
    stripped = value.strip()
    if stripped.startswith("#"):
        return None
    if not is_safe_url(stripped, allow_data_image=True):
        return "uses a URL scheme that is not allowed"
    if fetches and re.match(r"^\s*(https?:)?//", stripped, re.I):
        return "refers to an external resource"
    return None


def safe_xml_parser_keep_pis() -> etree.XMLParser:
    """Like :func:`waa_ads.content.render.sanitize.safe_xml_parser` but keeping processing
    instructions, so that ``<?xml-stylesheet?>`` can be seen and refused."""
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        remove_pis=False,
        huge_tree=False,
    )


_PDF_NAME_RE = re.compile(rb"/([A-Za-z0-9#]+)")
_PDF_ACTIVE_NAMES = frozenset({b"JavaScript", b"JS", b"Launch"})


def pdf_problems(data: bytes) -> list[str]:
    """Active-content names in a PDF's uncompressed structure (``#xx`` escapes decoded)."""
    found: set[str] = set()
    for match in _PDF_NAME_RE.finditer(data):
        name = re.sub(rb"#([0-9A-Fa-f]{2})", lambda m: bytes([int(m.group(1), 16)]), match[1])
        if name in _PDF_ACTIVE_NAMES:
            found.add(name.decode())
    return [f"names a /{name} action" for name in sorted(found)]


# --- the check ----------------------------------------------------------------------------


def _human(size: int) -> str:
    if size >= MiB:
        return f"{size / MiB:.1f} MiB"
    if size >= KiB:
        return f"{size / KiB:.1f} KiB"
    return f"{size} bytes"


def _matches(declared: str, sniffed: str) -> bool:
    return declared == sniffed or declared in _EQUIVALENT_DECLARED.get(sniffed, frozenset())


def check_media(
    data: bytes,
    *,
    declared_type: str | None = None,
    filename: str | None = None,
    policy: MediaPolicy = DEFAULT_POLICY,
) -> MediaCheck:
    """Check one media file and describe it.

    ``declared_type`` (an HTTP or manifest content type) and ``filename`` (whose extension
    announces a type) are optional; when given, each must agree with the sniffed type.
    Raises a :class:`MediaError` subclass: :class:`UnrecognizedMedia` when the bytes are
    no format we know, :class:`MediaTypeNotAllowed` when the policy has no limit for the
    sniffed type, :class:`MediaTooLarge` over the type's byte limit or the pixel limit,
    :class:`MediaTypeMismatch` when a declared type or extension disagrees with the bytes,
    :class:`UnsafeMedia` for SVG or PDF with active content.
    """
    where = f" {filename!r}" if filename else ""
    size = len(data)
    if size == 0:
        raise UnrecognizedMedia(f"media file{where} is empty")
    sniffed = sniff_content_type(data)
    if sniffed is None:
        raise UnrecognizedMedia(
            f"media file{where} is not a recognized format; accepted: "
            + ", ".join(sorted(policy.limits))
        )
    if sniffed not in policy.limits:
        raise MediaTypeNotAllowed(
            f"media file{where} is {sniffed}, which is not accepted; accepted: "
            + ", ".join(sorted(policy.limits))
        )
    if declared_type is not None:
        declared = normalize_content_type(declared_type)
        if declared not in ("", "application/octet-stream") and not _matches(declared, sniffed):
            raise MediaTypeMismatch(
                f"media file{where} is declared as {declared} but its content is {sniffed}"
            )
    if filename is not None:
        by_extension = type_from_filename(filename)
        if by_extension is None or not _matches(by_extension, sniffed):
            extension = filename.rsplit(".", 1)[-1] if "." in filename else ""
            raise MediaTypeMismatch(
                f"media file{where} has the extension {extension!r} but its content is {sniffed}"
                if extension
                else f"media file{where} has no extension; its content is {sniffed}"
            )
    limit = policy.limits[sniffed]
    if size > limit:
        raise MediaTooLarge(
            f"media file{where} is {_human(size)}; the limit for {sniffed} is {_human(limit)}"
        )
    width = height = None
    if sniffed == SVG:
        problems, svg_size = _inspect_svg(data)
        if problems:
            raise UnsafeMedia(f"SVG file{where} refused: it " + "; it ".join(problems))
        if svg_size is not None:
            width, height = svg_size
    elif sniffed == PDF:
        problems = pdf_problems(data)
        if problems:
            raise UnsafeMedia(f"PDF file{where} refused: it " + "; it ".join(problems))
    else:
        dimensions = image_dimensions(data, sniffed)
        if dimensions is not None:
            width, height = dimensions
            if width * height > policy.max_pixels:
                raise MediaTooLarge(
                    f"image{where} is {width}x{height} pixels; the limit is "
                    f"{policy.max_pixels:,} pixels"
                )
    return MediaCheck(
        sha256=content_address(data),
        size=size,
        content_type=sniffed,
        width=width,
        height=height,
    )


class MediaSet:
    """The media of one import or one item, de-duplicated by content.

    Files with identical bytes share one :class:`MediaCheck` (and will share one stored
    blob); each name still maps to its content address, so an item's references resolve.
    """

    def __init__(self, policy: MediaPolicy = DEFAULT_POLICY) -> None:
        self.policy = policy
        self._by_sha256: dict[str, MediaCheck] = {}
        self._names: dict[str, str] = {}

    def add(self, name: str, data: bytes, *, declared_type: str | None = None) -> MediaCheck:
        """Check ``data`` under ``name`` and record it; returns the (possibly shared) check.

        Raises what :func:`check_media` raises; a name added twice with different bytes is
        refused with :class:`MediaError`.
        """
        address = content_address(data)
        known = self._names.get(name)
        if known is not None and known != address:
            raise MediaError(f"media file {name!r} was given twice with different content")
        existing = self._by_sha256.get(address)
        if existing is not None:
            # Identical bytes already passed the checks; the name must still fit them.
            check_name_against(existing, name, declared_type)
            self._names[name] = address
            return existing
        check = check_media(data, declared_type=declared_type, filename=name, policy=self.policy)
        self._by_sha256[address] = check
        self._names[name] = address
        return check

    @property
    def names(self) -> Mapping[str, str]:
        """Each added name -> its content address."""
        return MappingProxyType(self._names)

    @property
    def unique(self) -> list[MediaCheck]:
        """One check per distinct content, in the order first seen."""
        return list(self._by_sha256.values())

    def __len__(self) -> int:
        return len(self._by_sha256)


def check_name_against(check: MediaCheck, name: str, declared_type: str | None) -> None:
    """Refuse ``name``/``declared_type`` when they announce another type than ``check``."""
    if declared_type is not None:
        declared = normalize_content_type(declared_type)
        if declared not in ("", "application/octet-stream") and not _matches(
            declared, check.content_type
        ):
            raise MediaTypeMismatch(
                f"media file {name!r} is declared as {declared} but its content is "
                f"{check.content_type}"
            )
    by_extension = type_from_filename(name)
    if by_extension is None or not _matches(by_extension, check.content_type):
        raise MediaTypeMismatch(
            f"media file {name!r} does not have an extension for {check.content_type}"
        )
