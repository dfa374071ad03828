"""QTI content packages: safe reading of IMS CP zip files, and writing QTI 3.0 packages.

Reading treats the zip as hostile. Before any entry is decompressed the central directory
is checked: package size, number of entries, declared sizes (each and in total), the
compression ratio of every large entry (zip bombs), and every name (no ``..``, absolute
paths, drive letters, backslashes, control characters, symlinks, encrypted entries, or
names that collide exactly or by case). Any of those refuses the whole package with a
:class:`PackageError`. Entries are then read in bounded chunks, so a header that lies
about a size cannot make us inflate more than it declared.

``imsmanifest.xml`` is parsed without DTDs, entities or network access, and a manifest
with a DOCTYPE is refused (IMS CP and QTI use none; a DOCTYPE in a package is an XXE or
entity-expansion attempt). Each item resource (``imsqti_item_xmlv3p0``,
``imsqti_item_xmlv2p1``, ``imsqti_item_xmlv2p2``) then comes back with its XML bytes and
media, or with an error of its own, so one broken item does not sink the others.

:func:`build_package` writes a QTI 3.0 package: a manifest in the 1EdTech QTI 3.0
content-packaging namespace with ``imsqti_item_xmlv3p0`` item resources that depend on
``webcontent`` media resources. Its output is deterministic (fixed timestamps, sorted
entries) and reads back with :func:`read_package`.
"""

from __future__ import annotations

import hashlib
import io
import json
import posixpath
import re
import stat
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any
from urllib.parse import unquote, urlsplit

from lxml import etree

from waa_ads.content.interchange import pci
from waa_ads.content.interchange.qti import xinclude
from waa_ads.content.interchange.qti.common import REFERENCE_ATTRIBUTES
from waa_ads.content.media.check import (
    DEFAULT_POLICY,
    EXTENSION_TYPES,
    MediaCheck,
    MediaError,
    MediaPolicy,
    check_media,
    type_from_filename,
)
from waa_ads.content.render.sanitize import QTI3_NS, QTI21_NS, QTI22_NS
from waa_ads.core.errors import Unprocessable
from waa_ads.core.i18n import N_

KiB = 1024
MiB = 1024 * KiB

MANIFEST_NAME = "imsmanifest.xml"

#: IMS Content Packaging namespaces a manifest may use: the QTI 3.0 profile of CP 1.2
#: (as published, under both names seen in the wild) and plain CP 1.1 used by QTI 2.x.
CP_QTI3_NS = "http://www.imsglobal.org/xsd/qti/qtiv3p0/imscp_v1p1"
CP_QTI3_NS_ALT = "http://www.imsglobal.org/xsd/qti/qtiv3p0/imscp_v1p2"
CP_NS = "http://www.imsglobal.org/xsd/imscp_v1p1"
CP_NAMESPACES = frozenset({CP_QTI3_NS, CP_QTI3_NS_ALT, CP_NS})
CP_QTI3_SCHEMA_LOCATION = (
    "https://purl.imsglobal.org/spec/qti/v3p0/schema/xsd/imsqtiv3p0_imscpv1p2_v1p0.xsd"
)
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
XML_NS = "http://www.w3.org/XML/1998/namespace"

#: Resource types of items, and the QTI version each announces.
ITEM_RESOURCE_TYPES: Mapping[str, str] = MappingProxyType(
    {
        "imsqti_item_xmlv3p0": "3.0",
        "imsqti_item_xmlv2p2": "2.2",
        "imsqti_item_xmlv2p1": "2.1",
    }
)
#: Item root element (namespace, local name) for each QTI version.
_ITEM_ROOTS: Mapping[tuple[str, str], str] = MappingProxyType(
    {
        (QTI3_NS, "qti-assessment-item"): "3.0",
        (QTI22_NS, "assessmentItem"): "2.2",
        (QTI21_NS, "assessmentItem"): "2.1",
    }
)


class PackageError(Unprocessable):
    """The package as a whole cannot be read; ``detail`` says why."""

    code = "qti-package-invalid"
    title = N_("Invalid QTI package")


class UnsafePackage(PackageError):
    """The package is built to attack the reader: a zip bomb, unsafe names, XXE..."""

    code = "qti-package-unsafe"
    title = N_("Unsafe QTI package")


class PackageBuildError(Unprocessable):
    code = "qti-package-build-invalid"
    title = N_("Cannot build QTI package")


@dataclass(frozen=True)
class PackageLimits:
    """Bounds on what a package may make the reader do. Sizes are in bytes."""

    max_package_bytes: int = 512 * MiB
    max_entries: int = 10_000
    max_entry_bytes: int = 256 * MiB
    max_total_bytes: int = 1024 * MiB
    #: Uncompressed / compressed size above which an entry is treated as a bomb ...
    max_ratio: float = 100.0
    #: ... once it inflates to more than this (small text files compress very well).
    ratio_floor_bytes: int = 1 * MiB
    max_manifest_bytes: int = 8 * MiB
    max_item_bytes: int = 16 * MiB
    max_name_length: int = 1024


DEFAULT_LIMITS = PackageLimits()


@dataclass(frozen=True)
class PackageMedia:
    """A media file an item uses: its path in the package, its bytes, and its check."""

    path: str
    data: bytes
    check: MediaCheck


@dataclass(frozen=True)
class PackageStimulus:
    """A shared stimulus an item refers to (``qti-assessment-stimulus-ref``): the path of
    its file in the package, its XML, and the media files its body uses."""

    path: str
    xml: bytes
    media: tuple[PackageMedia, ...] = ()

    @property
    def media_by_path(self) -> dict[str, bytes]:
        return {m.path: m.data for m in self.media}


@dataclass(frozen=True)
class PackageResource:
    """One item resource of the manifest. Either ``xml`` is set and ``error`` is None, or
    ``error`` says in plain words why the item cannot be imported."""

    identifier: str
    resource_type: str
    href: str | None
    qti_version: str | None
    files: tuple[str, ...] = ()
    xml: bytes | None = None
    media: tuple[PackageMedia, ...] = ()
    error: str | None = None
    warnings: tuple[str, ...] = ()
    stimuli: tuple[PackageStimulus, ...] = ()

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def media_by_path(self) -> dict[str, bytes]:
        return {m.path: m.data for m in self.media}


@dataclass(frozen=True)
class QtiPackage:
    """What a package holds: its item resources (each ok or with its error), and the
    other resources it declares (tests, stimuli, web content) by identifier and type."""

    identifier: str | None
    manifest_namespace: str
    items: tuple[PackageResource, ...]
    other_resources: tuple[tuple[str, str], ...] = ()
    warnings: tuple[str, ...] = field(default=())


# --- zip safety ------------------------------------------------------------------------------

_DRIVE_RE = re.compile(r"^[A-Za-z]:")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


def _name_problem(name: str, limits: PackageLimits) -> str | None:
    if len(name) > limits.max_name_length:
        return "name too long"
    if "\\" in name:
        return "backslash in name"
    if _CONTROL_RE.search(name):
        return "control character in name"
    if name.startswith("/"):
        return "absolute path"
    if _DRIVE_RE.match(name):
        return "drive letter"
    segments = name.rstrip("/").split("/")
    if any(seg == ".." for seg in segments):
        return "parent directory reference (..)"
    if any(seg in ("", ".") for seg in segments):
        return "empty or '.' path segment"
    return None


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    mode = info.external_attr >> 16
    return info.create_system == 3 and stat.S_ISLNK(mode)


class _Archive:
    """A zip whose directory passed the safety checks; entries read with bounds."""

    def __init__(self, data: bytes, limits: PackageLimits) -> None:
        self.limits = limits
        if len(data) > limits.max_package_bytes:
            raise PackageError(
                f"package is {len(data):,} bytes; the limit is {limits.max_package_bytes:,}"
            )
        try:
            self.zip = zipfile.ZipFile(io.BytesIO(data))
            infos = self.zip.infolist()
        except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as exc:
            raise PackageError(f"package is not a readable zip file ({exc})") from exc
        if len(infos) > limits.max_entries:
            raise UnsafePackage(
                f"package has {len(infos):,} entries; the limit is {limits.max_entries:,}"
            )
        problems: list[str] = []
        total = 0
        seen: dict[str, str] = {}
        self.entries: dict[str, zipfile.ZipInfo] = {}
        for info in infos:
            name = info.filename
            reason = _name_problem(name, limits)
            if reason is None and _is_symlink(info):
                reason = "symbolic link"
            if reason is None and info.flag_bits & 0x1:
                reason = "encrypted entry"
            if reason is None:
                folded = name.casefold()
                if folded in seen:
                    reason = (
                        "duplicate name"
                        if seen[folded] == name
                        else f"same name as {seen[folded]!r} but for case"
                    )
                seen.setdefault(folded, name)
            if reason is None and info.file_size > limits.max_entry_bytes:
                reason = (
                    f"inflates to {info.file_size:,} bytes; the limit per entry is "
                    f"{limits.max_entry_bytes:,}"
                )
            if reason is None and info.file_size > limits.ratio_floor_bytes:
                ratio = info.file_size / max(info.compress_size, 1)
                if ratio > limits.max_ratio:
                    reason = (
                        f"compression ratio {ratio:,.0f}:1 exceeds {limits.max_ratio:,.0f}:1 "
                        "(zip bomb)"
                    )
            if reason is not None:
                problems.append(f"{name!r}: {reason}")
                continue
            total += info.file_size
            if not info.is_dir():
                self.entries[name] = info
        if problems:
            shown = "; ".join(problems[:10])
            more = f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""
            raise UnsafePackage(f"package refused, unsafe entries: {shown}{more}")
        if total > limits.max_total_bytes:
            raise UnsafePackage(
                f"package inflates to {total:,} bytes; the limit is {limits.max_total_bytes:,} "
                "(zip bomb)"
            )
        self._budget = limits.max_total_bytes
        #: Shared stimuli read so far (by path), or the reason one cannot be: items that
        #: share a stimulus read its file once.
        self.stimuli: dict[str, PackageStimulus | str] = {}

    def read(self, name: str, limit: int) -> bytes:
        """The entry's bytes. Raises :class:`_EntryError` when it is larger than ``limit``,
        larger than its header says, corrupt, or over the package's total budget."""
        info = self.entries[name]
        if info.file_size > limit:
            raise _EntryError(f"{name!r} is {info.file_size:,} bytes; the limit is {limit:,}")
        cap = min(limit, info.file_size)
        chunks: list[bytes] = []
        size = 0
        try:
            with self.zip.open(info) as stream:
                while True:
                    chunk = stream.read(64 * KiB)
                    if not chunk:
                        break
                    size += len(chunk)
                    if size > cap:
                        raise _EntryError(f"{name!r} inflates to more than its header declares")
                    chunks.append(chunk)
        except (
            zipfile.BadZipFile,
            zlib.error,
            EOFError,
            OSError,
            ValueError,
            NotImplementedError,
        ) as exc:
            raise _EntryError(f"{name!r} cannot be read ({exc})") from exc
        self._budget -= size
        if self._budget < 0:
            raise UnsafePackage("package inflates to more than its headers declare (zip bomb)")
        return b"".join(chunks)


class _EntryError(Exception):
    """A problem with one entry, reported against the resource that needs it."""


# --- XML ---------------------------------------------------------------------------------------


def _safe_parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        remove_comments=True,
        remove_pis=True,
        huge_tree=False,
    )


_DOCTYPE_RE = re.compile(rb"<!DOCTYPE", re.I)


def _parse_xml(data: bytes, what: str) -> etree._Element:
    """Parse untrusted XML; raises ValueError with a readable reason."""
    if _DOCTYPE_RE.search(data):
        raise ValueError(
            f"{what} has a DOCTYPE; DTDs and entity declarations are refused (XML external "
            "entity and entity-expansion attacks)"
        )
    try:
        root = etree.fromstring(data, _safe_parser())
    except etree.XMLSyntaxError as exc:
        raise ValueError(f"{what} is not well-formed XML ({exc.msg})") from exc
    return root


def parse_untrusted_xml(data: bytes, what: str) -> etree._Element:
    """Parse untrusted XML (no DOCTYPE, entities, network); ValueError with the reason."""
    return _parse_xml(data, what)


# --- paths -------------------------------------------------------------------------------------


def _resolve(base_dir: str, href: str) -> str | None:
    """The package path ``href`` points to from ``base_dir``, or None when it points
    outside the package (absolute, another scheme or host, or above the root)."""
    parts = urlsplit(href)
    if parts.scheme or parts.netloc or href.startswith(("/", "\\")):
        return None
    path = unquote(parts.path)
    if not path or "\\" in path:
        return None
    joined = (
        posixpath.normpath(posixpath.join(base_dir, path)) if base_dir else posixpath.normpath(path)
    )
    if joined.startswith("../") or joined in ("..", ".") or joined.startswith("/"):
        return None
    return joined


resolve_href = _resolve


def _base(element: etree._Element, inherited: str) -> str:
    """The directory ``xml:base`` on ``element`` sets for hrefs below it."""
    base = element.get(f"{{{XML_NS}}}base")
    if not base:
        return inherited
    resolved = _resolve(inherited, base.rstrip("/") + "/placeholder")
    return posixpath.dirname(resolved) if resolved is not None else inherited


_REFERENCE_ATTRIBUTES = REFERENCE_ATTRIBUTES


def _item_references(root: etree._Element) -> list[str]:
    """Relative references (img src, object data, source src, a href...) in an item."""
    refs: list[str] = []
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        for attr in _REFERENCE_ATTRIBUTES:
            value = el.get(attr)
            if value and not value.startswith("#"):
                refs.append(value.strip())
        xlink = el.get("{http://www.w3.org/1999/xlink}href")
        if xlink and not xlink.startswith("#"):
            refs.append(xlink.strip())
    return list(dict.fromkeys(refs))


def _is_media_path(path: str) -> bool:
    return type_from_filename(path) is not None


def media_references(xml: bytes) -> list[str]:
    """The relative references of an item document (img src, object data...) that name a
    media file by its extension: what must travel with the item."""
    found: list[str] = []
    for ref in _item_references(_parse_xml(xml, "item")):
        parts = urlsplit(ref)
        if parts.scheme or parts.netloc or ref.startswith(("/", "\\")):
            continue
        if _is_media_path(unquote(parts.path)):
            found.append(ref)
    return found


def rewrite_references(xml: bytes, target: Callable[[str], str | None]) -> bytes:
    """The item document with each relative reference (img src, object data...) that
    ``target`` maps replaced by what it returns; others are kept as they are."""
    root = _parse_xml(xml, "item")
    changed = False
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        for attr in (*_REFERENCE_ATTRIBUTES, "{http://www.w3.org/1999/xlink}href"):
            value = el.get(attr)
            if not value or value.startswith("#"):
                continue
            new = target(value.strip())
            if new is not None and new != value:
                el.set(attr, new)
                changed = True
    if not changed:
        return xml
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


# --- reading -----------------------------------------------------------------------------------


@dataclass
class _ManifestResource:
    identifier: str
    resource_type: str
    href: str | None
    files: list[str]
    dependencies: list[str]
    problems: list[str]


def _manifest_resources(
    manifest: etree._Element, ns: str
) -> tuple[dict[str, _ManifestResource], list[str]]:
    warnings: list[str] = []
    resources: dict[str, _ManifestResource] = {}
    q = f"{{{ns}}}"
    root_base = _base(manifest, "")
    for container in manifest.iter(f"{q}resources"):
        container_base = _base(container, root_base)
        for res in container.findall(f"{q}resource"):
            identifier = (res.get("identifier") or "").strip()
            if not identifier:
                warnings.append("a resource without an identifier was skipped")
                continue
            if identifier in resources:
                warnings.append(f"resource {identifier!r} is declared twice; the first is kept")
                continue
            base = _base(res, container_base)
            problems: list[str] = []
            href_raw = res.get("href")
            href = None
            if href_raw:
                href = _resolve(base, href_raw)
                if href is None:
                    problems.append(f"href {href_raw!r} points outside the package")
            files: list[str] = []
            for file_el in res.findall(f"{q}file"):
                raw = file_el.get("href")
                if not raw:
                    continue
                resolved = _resolve(base, raw)
                if resolved is None:
                    if raw != href_raw:  # already reported as the href
                        problems.append(f"file {raw!r} points outside the package")
                elif resolved not in files:
                    files.append(resolved)
            deps = [
                d.get("identifierref", "").strip()
                for d in res.findall(f"{q}dependency")
                if d.get("identifierref")
            ]
            resources[identifier] = _ManifestResource(
                identifier=identifier,
                resource_type=(res.get("type") or "").strip(),
                href=href,
                files=files,
                dependencies=deps,
                problems=problems,
            )
    return resources, warnings


def _dependency_files(
    resources: Mapping[str, _ManifestResource], start: _ManifestResource
) -> tuple[list[str], list[str]]:
    """Files of the resources ``start`` depends on, transitively (cycles are harmless)."""
    files: list[str] = []
    missing: list[str] = []
    seen = {start.identifier}
    todo = list(start.dependencies)
    while todo:
        ref = todo.pop(0)
        if ref in seen:
            continue
        seen.add(ref)
        dep = resources.get(ref)
        if dep is None:
            missing.append(ref)
            continue
        files.extend(f for f in dep.files if f not in files)
        if dep.href and dep.href not in files:
            files.append(dep.href)
        todo.extend(dep.dependencies)
    return files, missing


def read_package(
    data: bytes,
    *,
    limits: PackageLimits = DEFAULT_LIMITS,
    media_policy: MediaPolicy = DEFAULT_POLICY,
) -> QtiPackage:
    """Read a QTI 3.0 or 2.1/2.2 content package.

    Raises :class:`PackageError` (or :class:`UnsafePackage`) when the package as a whole
    is refused: not a zip, over a limit, unsafe entry names, no or bad manifest. Otherwise
    returns every item resource, each with its XML and media or with its own ``error``
    (missing file, a picture or other media file the item refers to that the package
    lacks, file over a limit, XML with a DOCTYPE or not well-formed, item of
    another QTI version than declared, media refused by :func:`check_media`).
    Media are the files the manifest lists for the item or its dependencies, plus files
    of the package the item XML refers to, when their extension names a media type.
    """
    opened = _open_package(data, limits)
    items = [
        _read_item(opened.archive, opened.resources, res, version, limits, media_policy)[0]
        for res, version in opened.item_resources()
    ]
    warnings = list(opened.warnings)
    if not items:
        warnings.append("the manifest declares no QTI item resources")
    return QtiPackage(
        identifier=opened.manifest.get("identifier"),
        manifest_namespace=opened.namespace,
        items=tuple(items),
        other_resources=tuple(
            (res.identifier, res.resource_type)
            for res in opened.resources.values()
            if res.resource_type not in ITEM_RESOURCE_TYPES
        ),
        warnings=tuple(warnings),
    )


def iter_package_items(
    data: bytes,
    *,
    limits: PackageLimits = DEFAULT_LIMITS,
    media_policy: MediaPolicy = DEFAULT_POLICY,
) -> Iterator[tuple[PackageResource, etree._Element | None]]:
    """The item resources :func:`read_package` returns, one at a time, each with the root
    of its parsed item document (None when the resource is not ok).

    For a reader that converts each item as it comes: it holds one document at a time and
    need not parse it again (see ``parse_item(xml, document=root)``). The package is
    refused as a whole (:class:`PackageError`) as by :func:`read_package`, when the
    iteration starts or, for an entry that inflates past the package's budget, when it
    is reached.
    """
    opened = _open_package(data, limits)
    for res, version in opened.item_resources():
        yield _read_item(opened.archive, opened.resources, res, version, limits, media_policy)


#: Assessment test resource types of the manifest, with the QTI version each announces.
TEST_RESOURCE_TYPES: Mapping[str, str] = MappingProxyType(
    {
        "imsqti_test_xmlv3p0": "3.0",
        "imsqti_test_xmlv2p2": "2.2",
        "imsqti_test_xmlv2p1": "2.1",
    }
)


@dataclass(frozen=True)
class PackageTest:
    """One assessment test resource: its XML (and the package files it refers to by
    ``href`` from where it stands, e.g. a separate section file) or the reason it cannot
    be read. ``href`` is the test file's path inside the package."""

    identifier: str
    href: str | None
    qti_version: str
    xml: bytes | None = None
    files: Mapping[str, bytes] = field(default_factory=dict)
    error: str | None = None


def read_tests(data: bytes, *, limits: PackageLimits = DEFAULT_LIMITS) -> list[PackageTest]:
    """The assessment tests a content package declares, in manifest order, each with its
    XML (checked like an item's: no DOCTYPE, well-formed, within the limits) and the other
    XML files of the package (section files a test may refer to), or with its error.
    Raises PackageError when the package as a whole is refused."""
    opened = _open_package(data, limits)
    item_files = {
        r.href for r in opened.resources.values() if r.resource_type in ITEM_RESOURCE_TYPES
    }
    found: list[PackageTest] = []
    for res in opened.resources.values():
        version = TEST_RESOURCE_TYPES.get(res.resource_type)
        if version is None:
            continue
        if res.problems or res.href is None:
            reason = "; ".join(res.problems) or "the resource names no file (href)"
            found.append(PackageTest(res.identifier, res.href, version, error=reason))
            continue
        try:
            xml = opened.archive.read(res.href, limits.max_item_bytes)
            _parse_xml(xml, res.href)
            others = {
                name: opened.archive.read(name, limits.max_item_bytes)
                for name in [*res.files, *_dependency_files(opened.resources, res)[0]]
                if name != res.href and name.endswith(".xml") and name not in item_files
            }
        except (_EntryError, ValueError) as exc:
            found.append(PackageTest(res.identifier, res.href, version, error=str(exc)))
            continue
        found.append(PackageTest(res.identifier, res.href, version, xml=xml, files=others))
    return found


@dataclass
class _OpenedPackage:
    archive: _Archive
    manifest: etree._Element
    namespace: str
    resources: dict[str, _ManifestResource]
    warnings: list[str]

    def item_resources(self) -> Iterator[tuple[_ManifestResource, str]]:
        """Each item resource, in manifest order, with the QTI version its type announces."""
        for res in self.resources.values():
            version = ITEM_RESOURCE_TYPES.get(res.resource_type)
            if version is not None:
                yield res, version


def _open_package(data: bytes, limits: PackageLimits) -> _OpenedPackage:
    """The checked archive and its manifest's resources; raises PackageError (or
    UnsafePackage) when the package as a whole is refused."""
    archive = _Archive(data, limits)
    if MANIFEST_NAME not in archive.entries:
        raise PackageError(f"package has no {MANIFEST_NAME} at its root")
    try:
        manifest_bytes = archive.read(MANIFEST_NAME, limits.max_manifest_bytes)
    except _EntryError as exc:
        raise PackageError(f"manifest cannot be read: {exc}") from exc
    try:
        manifest = _parse_xml(manifest_bytes, MANIFEST_NAME)
    except ValueError as exc:
        if "DOCTYPE" in str(exc):
            raise UnsafePackage(str(exc)) from exc
        raise PackageError(str(exc)) from exc
    ns = etree.QName(manifest).namespace or ""
    if etree.QName(manifest).localname != "manifest" or ns not in CP_NAMESPACES:
        raise PackageError(
            f"{MANIFEST_NAME} is not an IMS content-packaging manifest (root "
            f"{manifest.tag!r}); expected <manifest> in one of: {', '.join(sorted(CP_NAMESPACES))}"
        )
    resources, warnings = _manifest_resources(manifest, ns)
    return _OpenedPackage(archive, manifest, ns, resources, warnings)


def _read_item(
    archive: _Archive,
    resources: Mapping[str, _ManifestResource],
    res: _ManifestResource,
    version: str,
    limits: PackageLimits,
    media_policy: MediaPolicy,
) -> tuple[PackageResource, etree._Element | None]:
    """The resource with its XML and media, and its parsed document; or with its error."""
    warnings: list[str] = []
    dep_files, missing_deps = _dependency_files(resources, res)
    files = list(dict.fromkeys([*res.files, *dep_files]))

    def failed(reason: str) -> tuple[PackageResource, None]:
        resource = PackageResource(
            identifier=res.identifier,
            resource_type=res.resource_type,
            href=res.href,
            qti_version=version,
            files=tuple(files),
            error=reason,
            warnings=tuple(warnings),
        )
        return resource, None

    if res.problems:
        return failed("; ".join(res.problems))
    warnings.extend(f"dependency {ref!r} is not declared in the manifest" for ref in missing_deps)
    href = res.href or next((f for f in res.files if f.lower().endswith(".xml")), None)
    if href is None:
        return failed("the resource names no item file (no href and no XML file)")
    if href not in archive.entries:
        return failed(f"item file {href!r} is not in the package")
    try:
        xml = archive.read(href, limits.max_item_bytes)
        root = _parse_xml(xml, f"item file {href!r}")
    except (_EntryError, ValueError) as exc:
        return failed(str(exc))
    root_version = _ITEM_ROOTS.get((etree.QName(root).namespace or "", etree.QName(root).localname))
    if root_version is None:
        return failed(
            f"item file {href!r} is not a QTI item (root {root.tag!r}); expected "
            "qti-assessment-item (QTI 3.0) or assessmentItem (QTI 2.1/2.2)"
        )
    if root_version[0] != version[0]:
        return failed(
            f"the manifest declares a QTI {version} item but {href!r} is QTI {root_version}"
        )
    if root_version != version:
        warnings.append(
            f"the manifest declares QTI {version} but {href!r} is QTI {root_version}; read as "
            f"{root_version}"
        )
        version = root_version
    if href not in files:
        files.insert(0, href)

    media_paths = [f for f in files if f != href and _is_media_path(f)]
    item_dir = posixpath.dirname(href)
    if xinclude.has_includes(root):
        try:
            warnings.extend(
                xinclude.resolve_includes(
                    root,
                    item_dir,
                    read=lambda path: (
                        archive.read(path, limits.max_item_bytes)
                        if path in archive.entries
                        else None
                    ),
                    resolve=_resolve,
                    parse=_parse_xml,
                    max_bytes=limits.max_item_bytes,
                )
            )
        except (_EntryError, ValueError) as exc:
            return failed(f"item {root.get('identifier') or res.identifier!r}: {exc}")
        xml = etree.tostring(root, encoding="utf-8", xml_declaration=True)
    for ref in _item_references(root):
        target = _resolve(item_dir, ref)
        if target is None or target in media_paths or not _is_media_path(target):
            continue
        if target in archive.entries:
            media_paths.append(target)
        else:
            # The candidate would see a broken picture: refuse the item, naming the path.
            return failed(
                f"item {root.get('identifier') or res.identifier!r} refers to {ref!r} "
                f"({target!r} in the package), which is not in the package"
            )
    media: list[PackageMedia] = []
    for path in media_paths:
        if path not in archive.entries:
            return failed(f"media file {path!r} is listed in the manifest but not in the package")
        try:
            media.append(_read_media(archive, path, limits, media_policy))
        except _EntryError as exc:
            return failed(str(exc))
        except MediaError as exc:
            return failed(exc.detail)
    configured = _with_configured_modules(archive, item_dir, root)
    if isinstance(configured, str):
        return failed(f"item {root.get('identifier') or res.identifier!r}: {configured}")
    changed, configurations = configured
    resolved = _with_resolved_modules(archive, item_dir, root)
    if _with_js_extensions(archive, item_dir, root) or resolved or changed:
        xml = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    modules = _pci_module_files(archive, item_dir, root)
    if isinstance(modules, str):
        return failed(f"item {root.get('identifier') or res.identifier!r}: {modules}")
    sheets = _pci_stylesheet_files(archive, item_dir, root)
    if isinstance(sheets, str):
        return failed(f"item {root.get('identifier') or res.identifier!r}: {sheets}")
    for path in [*configurations, *modules, *sheets]:
        if any(m.path == path for m in media):
            continue
        try:
            blob = archive.read(path, pci.MAX_MODULE_BYTES)
            media.append(
                PackageMedia(path=path, data=blob, check=pci.check_file(blob, filename=path))
            )
        except _EntryError as exc:
            return failed(str(exc))
        except MediaError as exc:
            return failed(exc.detail)
    stimuli: list[PackageStimulus] = []
    for ref in _stimulus_references(root):
        stimulus = _read_stimulus(archive, item_dir, ref, limits, media_policy)
        if isinstance(stimulus, str):
            return failed(f"item {root.get('identifier') or res.identifier!r}: {stimulus}")
        if stimulus not in stimuli:
            stimuli.append(stimulus)
    resource = PackageResource(
        identifier=res.identifier,
        resource_type=res.resource_type,
        href=href,
        qti_version=version,
        files=tuple(files),
        xml=xml,
        media=tuple(media),
        warnings=tuple(warnings),
        stimuli=tuple(stimuli),
    )
    return resource, root


_PCI_MODULE_TAGS = frozenset({"qti-interaction-module", "interactionModule"})
_PCI_TAGS = {
    "qti-portable-custom-interaction": ("qti-interaction-modules", "qti-interaction-module"),
    "portableCustomInteraction": ("interactionModules", "interactionModule"),
}
#: Where a package maps module ids to files for PCIs that list no modules (QTI 3.0).
_PCI_RESOLUTION_FILES = ("modules/module_resolution.js", "modules/fallback_module_resolution.js")


def _pci_resolution(archive: _Archive, item_dir: str) -> dict[str, str]:
    """The package's module resolution (``{"paths": {"id": "modules/file"}}``, as
    RequireJS writes it), read beside the item; empty when there is none."""
    for name in _PCI_RESOLUTION_FILES:
        path = _resolve(item_dir, name)
        if path is None or path not in archive.entries:
            continue
        try:
            paths = json.loads(archive.read(path, pci.MAX_MODULE_BYTES)).get("paths")
        except (_EntryError, ValueError, AttributeError):
            continue
        if isinstance(paths, dict):
            return {str(k): str(v) for k, v in paths.items() if isinstance(v, str) and v}
    return {}


def _with_resolved_modules(archive: _Archive, item_dir: str, root: etree._Element) -> bool:
    """Give each PCI that names its ``module`` but lists no modules the file the
    package's module resolution maps it to, as a listed module (changed in place);
    whether anything changed."""
    changed = False
    resolution: dict[str, str] | None = None
    for el in list(root.iter()):
        if not isinstance(el.tag, str):
            continue
        qname = etree.QName(el)
        tags = _PCI_TAGS.get(qname.localname)
        module = el.get("module")
        if tags is None or not module:
            continue
        if any(isinstance(c.tag, str) and etree.QName(c).localname == tags[0] for c in el):
            continue
        if resolution is None:
            resolution = _pci_resolution(archive, item_dir)
        target = resolution.get(module)
        if target is None:
            continue
        if not target.lower().endswith(".js") and not pci.is_outside(target):
            target += ".js"
        ns = qname.namespace
        holder = etree.Element(f"{{{ns}}}{tags[0]}" if ns else tags[0])
        entry = etree.SubElement(holder, f"{{{ns}}}{tags[1]}" if ns else tags[1], id=module)
        entry.set("primary-path" if tags[0].startswith("qti-") else "primaryPath", target)
        holder.tail = el.text
        el.text = None
        el.insert(0, holder)
        changed = True
    return changed


#: The module configuration attributes of ``qti-interaction-modules`` (QTI 3.0) and
#: ``interactionModules`` (QTI 2.2), primary first, then the fallback (QTI 2.2 calls it
#: the secondary configuration), with the module path attribute each one supplies.
_PCI_CONFIGURATIONS = (
    (("primary-configuration", "primaryConfiguration"), ("primary-path", "primaryPath")),
    (
        ("fallback-configuration", "secondary-configuration", "fallbackConfiguration"),
        ("fallback-path", "fallbackPath"),
    ),
    (("secondaryConfiguration",), ("fallback-path", "fallbackPath")),
)


def _with_configured_modules(
    archive: _Archive, item_dir: str, root: etree._Element
) -> tuple[bool, list[str]] | str:
    """Give each module of a PCI whose modules name configuration files
    (``primary-configuration``, ``fallback-configuration``: RequireJS ``paths`` in JSON)
    the paths those files map its id to, where the module names none of its own: the
    primary configuration's as its primary path, the fallback's as its fallback path,
    relative to the item as module paths are (changed in place). Returns whether
    anything changed and the package paths of the configuration files the package holds
    (kept as the item's media, so that an export names them again), or why the item is
    refused: a configuration outside the package, or one that is not such JSON. A
    configuration the package lacks is passed over (a module it alone would give a file
    to is refused by the reader, as naming no file)."""
    changed = False
    found: list[str] = []
    for holder in root.iter():
        if not isinstance(holder.tag, str):
            continue
        local = etree.QName(holder).localname
        if local not in ("qti-interaction-modules", "interactionModules"):
            continue
        for names, (dashed, camel) in _PCI_CONFIGURATIONS:
            href = next((holder.get(n) for n in names if holder.get(n)), None)
            if href is None:
                continue
            target = _resolve(item_dir, href)
            if target is None or pci.is_outside(href):
                return (
                    f"PCI module configuration {href!r} is outside the package; a module "
                    "configuration must be a file of the package"
                )
            if target not in archive.entries:
                continue  # as a primary path the package lacks: the other one is tried
            try:
                paths = pci.configuration_paths(
                    archive.read(target, pci.MAX_MODULE_BYTES), filename=target
                )
            except _EntryError as exc:
                return str(exc)
            except MediaError as exc:
                return exc.detail
            if target not in found:
                found.append(target)
            attribute = dashed if local.startswith("qti-") else camel
            for module in holder:
                if not isinstance(module.tag, str) or etree.QName(module).localname not in (
                    _PCI_MODULE_TAGS
                ):
                    continue
                path = paths.get(module.get("id") or "")
                if path and not module.get(dashed) and not module.get(camel):
                    module.set(attribute, path)
                    changed = True
    return changed, found


def _pci_stylesheet_files(
    archive: _Archive, item_dir: str, root: etree._Element
) -> list[str] | str:
    """The package files of the style sheets inside the item's portable custom
    interactions (``qti-stylesheet``), or why the item is refused: a style sheet outside
    the package, or one the package lacks. They are stored as the item's media and
    loaded into the PCI's frame only."""
    found: list[str] = []
    for pci_el in root.iter():
        if not isinstance(pci_el.tag, str) or etree.QName(pci_el).localname not in _PCI_TAGS:
            continue
        for sheet in pci_el:
            if not isinstance(sheet.tag, str) or etree.QName(sheet).localname not in (
                "qti-stylesheet",
                "stylesheet",
            ):
                continue
            href = (sheet.get("href") or "").strip()
            if not href:
                continue  # the reader refuses a style sheet without its href
            target = _resolve(item_dir, href)
            if target is None or pci.is_outside(href):
                return (
                    f"PCI style sheet {href!r} is outside the package; a style sheet of a "
                    "PCI must be a file of the package"
                )
            if target not in archive.entries:
                return f"PCI style sheet {href!r} ({target!r} in the package) is not in the package"
            if not target.lower().endswith(".css"):
                return f"PCI style sheet {href!r} is not a .css file"
            if target not in found:
                found.append(target)
    return found


_PCI_PATH_ATTRIBUTES = ("primary-path", "fallback-path", "primaryPath", "fallbackPath")


def _with_js_extensions(archive: _Archive, item_dir: str, root: etree._Element) -> bool:
    """Write a module path given without its extension (as AMD paths are) with the
    ``.js`` of the package file it stands for (changed in place), so the item names the
    file it is stored and exported with; whether anything changed."""
    changed = False
    for el in root.iter():
        if not isinstance(el.tag, str) or etree.QName(el).localname not in _PCI_MODULE_TAGS:
            continue
        for name in _PCI_PATH_ATTRIBUTES:
            path = el.get(name)
            if not path or pci.is_outside(path) or path.lower().endswith(".js"):
                continue
            bare, with_js = _resolve(item_dir, path), _resolve(item_dir, path + ".js")
            if bare not in archive.entries and with_js in archive.entries:
                el.set(name, path + ".js")
                changed = True
    return changed


def _pci_module_files(archive: _Archive, item_dir: str, root: etree._Element) -> list[str] | str:
    """The package files of the item's portable custom interaction modules (the primary
    path's when the package holds it, else the fallback's), or why the item is refused:
    a module loaded from outside the package, or whose file the package lacks."""
    found: list[str] = []
    for el in root.iter():
        if not isinstance(el.tag, str) or etree.QName(el).localname not in _PCI_MODULE_TAGS:
            continue
        name = el.get("id") or "(no id)"
        paths = [
            p
            for p in (
                el.get("primary-path") or el.get("primaryPath"),
                el.get("fallback-path") or el.get("fallbackPath"),
            )
            if p
        ]
        chosen: str | None = None
        for path in paths:
            targets = [_resolve(item_dir, c) for c in pci.candidates_for(path)]
            if pci.is_outside(path) or None in targets:
                return (
                    f"PCI module {name!r} is loaded from {path!r}, outside the package; "
                    "a module must be a file of the package"
                )
            if chosen is None:
                chosen = next((t for t in targets if t is not None and t in archive.entries), None)
        if chosen is None:
            if not paths:
                continue  # the reader refuses a module that names no file
            return f"PCI module {name!r}: its file {paths[0]!r} is not in the package"
        if chosen not in found:
            found.append(chosen)
    return found


def _read_media(
    archive: _Archive, path: str, limits: PackageLimits, media_policy: MediaPolicy
) -> PackageMedia:
    largest = max(media_policy.limits.values(), default=0)
    blob = archive.read(path, min(largest, limits.max_entry_bytes))
    return PackageMedia(
        path=path, data=blob, check=check_media(blob, filename=path, policy=media_policy)
    )


#: The element an item refers to a shared stimulus with, by namespace (QTI 3.0, 2.2).
_STIMULUS_REFS = frozenset(
    {f"{{{QTI3_NS}}}qti-assessment-stimulus-ref", f"{{{QTI22_NS}}}assessmentStimulusRef"}
)
_STIMULUS_ROOTS = frozenset(
    {(QTI3_NS, "qti-assessment-stimulus"), (QTI22_NS, "assessmentStimulus")}
)


def _stimulus_references(root: etree._Element) -> list[str]:
    """The ``href`` of each shared stimulus an item document refers to."""
    return [
        (child.get("href") or "").strip()
        for child in root
        if isinstance(child.tag, str) and child.tag in _STIMULUS_REFS
    ]


def _read_stimulus(
    archive: _Archive,
    item_dir: str,
    href: str,
    limits: PackageLimits,
    media_policy: MediaPolicy,
) -> PackageStimulus | str:
    """The stimulus file ``href`` names from an item in ``item_dir``, with the media its
    body uses; or the reason it cannot be read (outside or missing from the package, not
    well-formed, not a stimulus, a picture it shows missing, refused media)."""
    path = _resolve(item_dir, href) if href else None
    if path is None:
        return f"its shared stimulus {href!r} points outside the package"
    known = archive.stimuli.get(path)
    if known is not None:
        return known
    found = _load_stimulus(archive, href, path, limits, media_policy)
    archive.stimuli[path] = found
    return found


def _load_stimulus(
    archive: _Archive,
    href: str,
    path: str,
    limits: PackageLimits,
    media_policy: MediaPolicy,
) -> PackageStimulus | str:
    if path not in archive.entries:
        return f"its shared stimulus {href!r} ({path!r} in the package) is not in the package"
    try:
        xml = archive.read(path, limits.max_item_bytes)
        root = _parse_xml(xml, f"stimulus file {path!r}")
    except (_EntryError, ValueError) as exc:
        return str(exc)
    if (etree.QName(root).namespace, etree.QName(root).localname) not in _STIMULUS_ROOTS:
        return f"its shared stimulus {path!r} is not a qti-assessment-stimulus (root {root.tag!r})"
    media: list[PackageMedia] = []
    stimulus_dir = posixpath.dirname(path)
    for ref in _item_references(root):
        target = _resolve(stimulus_dir, ref)
        if target is None or not _is_media_path(target) or any(m.path == target for m in media):
            continue
        if target not in archive.entries:
            return (
                f"its shared stimulus {path!r} refers to {ref!r} ({target!r} in the "
                "package), which is not in the package"
            )
        try:
            media.append(_read_media(archive, target, limits, media_policy))
        except _EntryError as exc:
            return str(exc)
        except MediaError as exc:
            return exc.detail
    return PackageStimulus(path=path, xml=xml, media=tuple(media))


# --- writing -----------------------------------------------------------------------------------

_NCNAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)
#: Formats that are compressed already; deflating them again only costs time.
_STORED_TYPES = frozenset(
    t for t in EXTENSION_TYPES.values() if not t.startswith(("image/svg", "application/pdf"))
) - {"audio/wav"}


def _media_identifier(path: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9_.-]", "_", posixpath.basename(path)) or "file"
    digest = hashlib.sha256(path.encode("utf-8")).hexdigest()[:8]
    return f"MEDIA-{digest}-{stem}"


def build_package(
    items: list[tuple[str, bytes]],
    media: Mapping[str, bytes],
    *,
    identifier: str | None = None,
    media_policy: MediaPolicy = DEFAULT_POLICY,
    tests: Sequence[tuple[str, Callable[[Mapping[str, str]], bytes]]] = (),
    stimuli: Mapping[str, bytes] | None = None,
) -> bytes:
    """A QTI 3.0 content package (zip bytes) holding ``items`` and ``media``, and the
    assessment ``tests``: ``(identifier, build)`` pairs where ``build`` is given each item
    identifier's path in the package and returns the QTI 3.0 test XML (written at the
    package root as ``<identifier>.xml``, so those paths are its ``href``s).

    ``items`` are ``(identifier, QTI 3.0 item XML)`` pairs. ``media`` maps package paths
    (``media/figure-1.png``) to bytes. The item XML is stored unchanged, so each item is
    placed where its references find the media: as ``items/<identifier>.xml`` when they
    are written from that folder (``../media/figure-1.png``), at the package root as
    ``<identifier>.xml`` when they are written from the root (``media/figure-1.png``);
    ``items/`` when neither resolves more. Each item resource depends on the
    ``webcontent`` resources of the media it refers to.
    ``stimuli`` maps package paths (``stimuli/passage.xml``) to QTI 3.0 shared stimulus
    documents: each is an ``imsqti_stimulus_xmlv3p0`` resource depending on the media its
    body refers to, and each item resource depends on the stimuli its
    ``qti-assessment-stimulus-ref`` elements reach from where the item is placed.
    Every media file goes through :func:`check_media`. Raises
    :class:`PackageBuildError` for an identifier that is not an XML name, a duplicate,
    an item that is not QTI 3.0 XML, an unsafe media path, or refused media. The zip is
    deterministic: the same input gives the same bytes.
    """
    problems: list[str] = []
    seen: set[str] = set()
    roots: dict[str, etree._Element] = {}
    for item_id, xml in items:
        if not _NCNAME_RE.match(item_id):
            problems.append(f"item identifier {item_id!r} is not a valid XML name")
        if item_id in seen:
            problems.append(f"item identifier {item_id!r} is used twice")
        seen.add(item_id)
        try:
            root = _parse_xml(xml, f"item {item_id!r}")
        except ValueError as exc:
            problems.append(str(exc))
            continue
        if (etree.QName(root).namespace, etree.QName(root).localname) != (
            QTI3_NS,
            "qti-assessment-item",
        ):
            problems.append(f"item {item_id!r} is not a QTI 3.0 qti-assessment-item")
        roots[item_id] = root
    media_checks: dict[str, MediaCheck] = {}
    for path, blob in media.items():
        reason = _name_problem(path, DEFAULT_LIMITS)
        if reason is None and (path.endswith("/") or path == MANIFEST_NAME):
            reason = "not a file name"
        if reason is None and path.endswith(".xml"):
            reason = "collides with the item files"
        if reason is not None:
            problems.append(f"media path {path!r}: {reason}")
            continue
        try:
            media_checks[path] = (
                pci.check_file(blob, filename=path)
                if pci.is_module_file(path)
                else check_media(blob, filename=path, policy=media_policy)
            )
        except MediaError as exc:
            problems.append(exc.detail)
    stimulus_roots: dict[str, etree._Element] = {}
    for path, xml in sorted((stimuli or {}).items()):
        reason = _name_problem(path, DEFAULT_LIMITS)
        if reason is None and not path.endswith(".xml"):
            reason = "a stimulus file's name ends in .xml"
        try:
            stimulus_root = _parse_xml(xml, f"stimulus {path!r}")
        except ValueError as exc:
            reason = reason or str(exc)
        else:
            if (
                etree.QName(stimulus_root).namespace or "",
                etree.QName(stimulus_root).localname,
            ) != (
                QTI3_NS,
                "qti-assessment-stimulus",
            ):
                reason = reason or "not a QTI 3.0 qti-assessment-stimulus"
            stimulus_roots[path] = stimulus_root
        if reason is not None:
            problems.append(f"stimulus path {path!r}: {reason}")
    if problems:
        raise PackageBuildError("cannot build the package: " + "; ".join(problems))

    media_ids = {path: _media_identifier(path) for path in sorted(media)}
    stimulus_ids = {
        path: _media_identifier(path).replace("MEDIA-", "STIMULUS-", 1)
        for path in sorted(stimulus_roots)
    }
    cp = f"{{{CP_QTI3_NS}}}"
    # lxml-stubs type nsmap keys as str, but None (the default namespace) is what lxml wants.
    nsmap: Any = {None: CP_QTI3_NS, "xsi": XSI_NS}
    manifest = etree.Element(f"{cp}manifest", nsmap=nsmap)
    content_hash = hashlib.sha256()
    for item_id, xml in items:
        content_hash.update(item_id.encode() + b"\0" + xml + b"\0")
    for path in sorted(stimulus_roots):
        content_hash.update(path.encode() + b"\0" + (stimuli or {})[path] + b"\0")
    for path in sorted(media):
        content_hash.update(path.encode() + b"\0" + media_checks[path].sha256.encode())
    manifest.set("identifier", identifier or f"MANIFEST-{content_hash.hexdigest()[:16]}")
    manifest.set(f"{{{XSI_NS}}}schemaLocation", f"{CP_QTI3_NS} {CP_QTI3_SCHEMA_LOCATION}")
    metadata = etree.SubElement(manifest, f"{cp}metadata")
    etree.SubElement(metadata, f"{cp}schema").text = "QTI Package"
    etree.SubElement(metadata, f"{cp}schemaversion").text = "3.0.0"
    etree.SubElement(manifest, f"{cp}organizations")
    resources = etree.SubElement(manifest, f"{cp}resources")
    hrefs: dict[str, str] = {}
    for item_id, _ in items:
        folder, used = _place_item(roots[item_id], media_ids)
        href = hrefs[item_id] = f"{folder}{item_id}.xml"
        resource = etree.SubElement(
            resources,
            f"{cp}resource",
            identifier=item_id,
            type="imsqti_item_xmlv3p0",
            href=href,
        )
        etree.SubElement(resource, f"{cp}file", href=href)
        for target in used:
            etree.SubElement(resource, f"{cp}dependency", identifierref=media_ids[target])
        for ref in _stimulus_references(roots[item_id]):
            stimulus_path = _resolve(folder.rstrip("/"), ref)
            if stimulus_path is not None and stimulus_path in stimulus_ids:
                etree.SubElement(
                    resource, f"{cp}dependency", identifierref=stimulus_ids[stimulus_path]
                )
    for path, stimulus_id in stimulus_ids.items():
        resource = etree.SubElement(
            resources,
            f"{cp}resource",
            identifier=stimulus_id,
            type="imsqti_stimulus_xmlv3p0",
            href=path,
        )
        etree.SubElement(resource, f"{cp}file", href=path)
        reached: list[str] = []
        for ref in _item_references(stimulus_roots[path]):
            medium = _resolve(posixpath.dirname(path), ref)
            if medium is not None and medium in media_ids and medium not in reached:
                reached.append(medium)
                etree.SubElement(resource, f"{cp}dependency", identifierref=media_ids[medium])
    test_files: dict[str, bytes] = {}
    for test_id, build in tests:
        href = f"{test_id}.xml"
        if not _NCNAME_RE.match(test_id) or test_id in seen or href in test_files:
            raise PackageBuildError(f"test identifier {test_id!r} is not a free XML name")
        test_files[href] = build(MappingProxyType(dict(hrefs)))
        content_hash.update(test_id.encode() + b"\0" + test_files[href] + b"\0")
        resource = etree.SubElement(
            resources, f"{cp}resource", identifier=test_id, type="imsqti_test_xmlv3p0", href=href
        )
        etree.SubElement(resource, f"{cp}file", href=href)
        for item_id, _ in items:
            etree.SubElement(resource, f"{cp}dependency", identifierref=item_id)
    for path, media_id in media_ids.items():
        resource = etree.SubElement(
            resources, f"{cp}resource", identifier=media_id, type="webcontent", href=path
        )
        etree.SubElement(resource, f"{cp}file", href=path)
    etree.indent(manifest, space="  ")
    manifest_bytes = etree.tostring(manifest, xml_declaration=True, encoding="UTF-8")

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        _write(archive, MANIFEST_NAME, manifest_bytes, compress=True)
        for item_id, xml in sorted(items):
            _write(archive, hrefs[item_id], xml, compress=True)
        for path in sorted(stimulus_roots):
            _write(archive, path, (stimuli or {})[path], compress=True)
        for href, xml in sorted(test_files.items()):
            _write(archive, href, xml, compress=True)
        for path in sorted(media):
            stored = media_checks[path].content_type in _STORED_TYPES
            _write(archive, path, media[path], compress=not stored)
    return buffer.getvalue()


def _place_item(root: etree._Element, media_paths: Mapping[str, str]) -> tuple[str, list[str]]:
    """The folder (``"items/"`` or ``""``) from which more of the item's references reach
    the given media, and the media paths they reach from there."""
    refs = _item_references(root)
    best: tuple[str, list[str]] | None = None
    for folder in ("items/", ""):
        reached: list[str] = []
        for ref in refs:
            target = _resolve(folder.rstrip("/"), ref)
            if target is not None and target in media_paths and target not in reached:
                reached.append(target)
        if best is None or len(reached) > len(best[1]):
            best = (folder, reached)
    assert best is not None
    return best


def _write(archive: zipfile.ZipFile, name: str, data: bytes, *, compress: bool) -> None:
    info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    info.external_attr = (stat.S_IFREG | 0o644) << 16
    info.create_system = 3
    archive.writestr(info, data, compresslevel=9 if compress else None)


def iter_ok_items(package: QtiPackage) -> Iterable[PackageResource]:
    """The item resources that could be read."""
    return (item for item in package.items if item.ok)
