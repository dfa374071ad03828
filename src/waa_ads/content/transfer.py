"""Import and export of items: QTI 3.0 / 2.x files and content packages, native YAML/JSON.

Import is all or nothing by default: every item of a file, folder or package is parsed and
checked first; if any is rejected, nothing is stored and the report says why for each
item. In ``partial`` mode the items that pass are stored and each refused one is listed
with its reason. In both modes an item whose identifier the bank already holds becomes a
new version of that item (a published or retired item gets a new draft version; a draft
is replaced), never a second item.
"""

from __future__ import annotations

import asyncio
import gc
import io
import itertools
import json
import threading
import uuid
import zipfile
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Literal
from urllib.parse import unquote, urlsplit

from lxml import etree
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from waa_ads.auth.deps import Principal
from waa_ads.content import assets, schemas, service, stimuli
from waa_ads.content.errors import BankWriteForbidden, ImportRejected, NothingToImport
from waa_ads.content.interchange import pci
from waa_ads.content.interchange.native import load_native
from waa_ads.content.interchange.qti import xinclude
from waa_ads.content.interchange.qti.package import (
    DEFAULT_LIMITS,
    PackageBuildError,
    PackageError,
    PackageStimulus,
    UnsafePackage,
    build_package,
    iter_package_items,
    media_references,
    parse_untrusted_xml,
    resolve_href,
    rewrite_references,
)
from waa_ads.content.interchange.qti.reader import parse_item
from waa_ads.content.interchange.qti.stimulus import is_stimulus, parse_stimulus, write_stimulus
from waa_ads.content.interchange.qti.writer import write_item
from waa_ads.content.item.definition import ItemDefinition, ItemFormatError
from waa_ads.content.item.stimulus import StimulusDefinition
from waa_ads.content.item.validation import validate_item
from waa_ads.content.media.check import MediaError
from waa_ads.content.models import (
    Item,
    ItemTag,
    ItemVersion,
    MediaAsset,
    Stimulus,
    VersionStatus,
)
from waa_ads.content.sources import check_document_metadata
from waa_ads.core.errors import DomainError
from waa_ads.core.storage import BlobStore

NATIVE_SUFFIXES = (".yaml", ".yml", ".json")
QTI_SUFFIXES = (".xml",)
MAX_FILE_BYTES = 16 * 1024 * 1024
#: Package items read (and their XML parsed) before they are built, at a time.
PACKAGE_BATCH = 100


@dataclass
class StimulusCandidate:
    """A shared stimulus a package brings with its items: parsed, with its media."""

    source: str
    stimulus: StimulusDefinition
    media: dict[str, bytes] = field(default_factory=dict)


@dataclass
class ImportCandidate:
    """One item found in what is being imported: parsed, or with the reason it was not."""

    source: str
    item: ItemDefinition | None = None
    error: str | None = None
    media: dict[str, bytes] = field(default_factory=dict)
    #: The shared stimuli the package holds for the item (by identifier).
    stimuli: list[StimulusCandidate] = field(default_factory=list)


ImportMode = Literal["all", "partial"]
OutcomeStatus = Literal["imported", "new_version", "rejected", "not_imported"]


@dataclass
class ItemOutcome:
    source: str
    identifier: str | None
    status: OutcomeStatus
    reason: str | None = None
    item_id: uuid.UUID | None = None
    version: int | None = None


StimulusStatus = Literal["imported", "new_version", "unchanged", "not_imported"]


@dataclass
class StimulusOutcome:
    source: str
    identifier: str
    status: StimulusStatus = "not_imported"
    stimulus_id: uuid.UUID | None = None
    version: int | None = None


@dataclass
class ImportReport:
    outcomes: list[ItemOutcome]
    warnings: list[str] = field(default_factory=list)
    mode: ImportMode = "all"
    stimuli: list[StimulusOutcome] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(o.status in ("imported", "new_version") for o in self.outcomes)

    def as_dict(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "mode": self.mode,
            "imported": sum(o.status == "imported" for o in self.outcomes),
            "new_versions": sum(o.status == "new_version" for o in self.outcomes),
            "rejected": sum(o.status == "rejected" for o in self.outcomes),
            "items": [
                {
                    "source": o.source,
                    "identifier": o.identifier,
                    "status": o.status,
                    "reason": o.reason,
                    "item_id": str(o.item_id) if o.item_id else None,
                    "version": o.version,
                }
                for o in self.outcomes
            ],
            "stimuli": [
                {
                    "source": s.source,
                    "identifier": s.identifier,
                    "status": s.status,
                    "stimulus_id": str(s.stimulus_id) if s.stimulus_id else None,
                    "version": s.version,
                }
                for s in self.stimuli
            ],
            "warnings": self.warnings,
        }


class _CollectorPause:
    """Keeps the cyclic garbage collector off while any bulk reading or storing runs.

    An import builds tens of objects per item that all live until it ends (the parsed
    items, their rows, their audit events). Each of the collector's full passes walks
    every live object, and a growing heap triggers one pass per quarter of growth, so for
    a large import they cost about a third of its time while finding nothing to free
    (items, trees and rows hold no reference cycles). The pause is process-wide and
    nests (concurrent imports, threads); the collector runs again when the last one
    ends, and reference counting frees memory meanwhile as always.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._depth = 0
        self._resume = False

    @contextmanager
    def __call__(self) -> Iterator[None]:
        with self._lock:
            if self._depth == 0:
                self._resume = gc.isenabled()
                gc.disable()
            self._depth += 1
        try:
            yield
        finally:
            with self._lock:
                self._depth -= 1
                if self._depth == 0 and self._resume:
                    gc.enable()


collector_paused = _CollectorPause()


def _parse_one(source: str, data: bytes, document: etree._Element | None = None) -> ImportCandidate:
    """``document``: the root of a package item's XML, parsed already by the package."""
    suffix = PurePosixPath(source).suffix.lower()
    try:
        if suffix in QTI_SUFFIXES:
            item = parse_item(data, document=document)  # validated by the reader
        else:
            if suffix == ".json" and b'"waa_item"' in data[:200]:
                item = _stored_form(data)
            elif suffix in NATIVE_SUFFIXES:
                item = load_native(data, syntax="json" if suffix == ".json" else None)
            else:
                return ImportCandidate(source, error=f"unsupported file type {suffix or '(none)'}")
            validate_item(item)
        check_document_metadata(item)
    except ItemFormatError as exc:
        return ImportCandidate(source, error=exc.detail)
    return ImportCandidate(source, item=item)


def _attach_stimuli(
    candidate: ImportCandidate,
    package: str,
    stimuli: Sequence[PackageStimulus],
    read: dict[str, StimulusCandidate | str],
) -> None:
    """Parse the stimuli a package item refers to (each file once per package) onto its
    candidate; a stimulus that cannot be read, or whose identifier is not the one the
    item names, rejects the item with the reason."""
    item = candidate.item
    if item is None or not stimuli:
        return
    by_identifier: dict[str, StimulusCandidate] = {}
    for packaged in stimuli:
        known = read.get(packaged.path)
        if known is None:
            try:
                known = StimulusCandidate(
                    f"{package}:{packaged.path}",
                    parse_stimulus(packaged.xml),
                    packaged.media_by_path,
                )
            except ItemFormatError as exc:
                known = f"its shared stimulus {packaged.path!r}: {exc.detail}"
            read[packaged.path] = known
        if isinstance(known, str):
            candidate.item, candidate.error = None, known
            return
        by_identifier[known.stimulus.identifier] = known
    for ref in item.stimuli:
        if ref.identifier not in by_identifier:
            candidate.item = None
            candidate.error = (
                f"item {item.identifier!r} refers to the shared stimulus {ref.identifier!r} "
                f"({ref.href}), but that file is the stimulus "
                + ", ".join(repr(i) for i in by_identifier)
            )
            return
    candidate.stimuli = [by_identifier[ref.identifier] for ref in item.stimuli]


def _stored_form(data: bytes) -> ItemDefinition:
    """An item in the stored form, as :func:`export_native` writes it."""
    try:
        document = json.loads(data)
    except ValueError as exc:
        raise ItemFormatError(f"malformed JSON: {exc}") from None
    if not isinstance(document, dict) or document.pop("waa_item", None) != 1:
        raise ItemFormatError("not a stored-form item (waa_item: 1)")
    return ItemDefinition.from_dict(document)


@collector_paused()
def candidates_from_bytes(name: str, data: bytes) -> list[ImportCandidate]:
    """The items in one uploaded file: a content package (zip), a QTI XML file or a native
    YAML/JSON file. A package refused as a whole raises PackageError."""
    if name.lower().endswith(".zip") or data[:4] == b"PK\x03\x04":
        found: list[ImportCandidate] = []
        read_stimuli: dict[str, StimulusCandidate | str] = {}
        # Each item is parsed once: the package's reader parses its XML to check it, and
        # the item is built from that tree. Read a batch, then build it: alternating item
        # by item between the two costs about a tenth more (measured), and holding every
        # tree of a large package until the end would cost its memory.
        resources = iter_package_items(data)
        while batch := list(itertools.islice(resources, PACKAGE_BATCH)):
            for resource, document in batch:
                label = f"{name}:{resource.href or resource.identifier}"
                if not resource.ok or resource.xml is None:
                    found.append(ImportCandidate(label, error=resource.error or "unreadable"))
                    continue
                candidate = _parse_one(
                    label if label.endswith(".xml") else label + ".xml", resource.xml, document
                )
                candidate.source = label
                candidate.media = resource.media_by_path
                if candidate.item is not None and resource.warnings:
                    # What the package reader noted (an include resolved, a dependency
                    # the manifest does not declare...) goes in the item's notes.
                    notes = (*resource.warnings, *candidate.item.import_notes)
                    candidate.item = candidate.item.model_copy(update={"import_notes": notes})
                _attach_stimuli(candidate, name, resource.stimuli, read_stimuli)
                found.append(candidate)
        if not found:
            raise PackageError("the package holds no QTI items")
        return found
    if len(data) > MAX_FILE_BYTES:
        return [ImportCandidate(name, error=f"file is larger than {MAX_FILE_BYTES} bytes")]
    if PurePosixPath(name).suffix.lower() in QTI_SUFFIXES and xinclude.has_include_elements(data):
        return [
            ImportCandidate(
                name,
                error="the item includes other files (xi:include), which a single file "
                "does not bring: import the package, or the folder that holds them",
            )
        ]
    return [_parse_one(name, data)]


@collector_paused()
def candidates_from_path(path: Path) -> list[ImportCandidate]:
    """Items in a file, a zip, or a folder (every .xml/.yaml/.yml/.json/.zip under it; a
    folder holding an imsmanifest.xml, at the top or below, is read as the content package
    it was unpacked from, and its files are not read one by one).

    An item file (not a package) brings the media files it refers to from beside it on
    disk (``../media/chart.svg`` from ``items/``), as a package would; a reference to a
    file that is not there refuses the item, naming it and the path. Its shared stimuli
    come from beside it too when their ``href`` names a stimulus file there (with that
    file's pictures), else from the bank when the items are stored; a loose stimulus file
    in a folder is read that way, never as an item of its own.
    """
    if path.is_dir():
        found: list[ImportCandidate] = []
        # An unpacked content package (a folder with imsmanifest.xml) is read as the
        # package it was, manifest, resources and media, with every check of the zip.
        packages = _package_roots(path)
        for root in packages:
            name = str(root.relative_to(path)) if root != path else path.name
            found += candidates_from_bytes(name, _zipped_folder(root))
        children = sorted(p for p in path.rglob("*") if p.is_file())
        included = _included_files(children, path)
        for child in children:
            if any(root in child.parents for root in packages) or child in included:
                continue  # read with its package, or with the items that include it
            if child.suffix.lower() in QTI_SUFFIXES and _is_stimulus_file(child):
                continue  # read with the items that refer to it
            if child.suffix.lower() in (*QTI_SUFFIXES, *NATIVE_SUFFIXES, ".zip"):
                found += _with_local_media(_loose_file(child, path), child)
        return found
    return _with_local_media(_loose_file(path, path.parent), path)


def _loose_file(path: Path, within: Path) -> list[ImportCandidate]:
    """The items of one file of a folder (``within``, the folder the import reads); an
    item file's ``xi:include``s are put in place from the files of that folder."""
    name = str(path.relative_to(within))
    data = path.read_bytes()
    if path.suffix.lower() not in QTI_SUFFIXES or xinclude.XINCLUDE_NS.encode() not in data:
        return candidates_from_bytes(name, data)
    try:
        root = parse_untrusted_xml(data, f"item file {name!r}")
        notes = xinclude.resolve_includes(
            root,
            "" if (folder := PurePosixPath(name).parent.as_posix()) == "." else folder,
            read=lambda relative: _file_within(within, relative),
            resolve=resolve_href,
            parse=parse_untrusted_xml,
            max_bytes=MAX_FILE_BYTES,
        )
    except ValueError as exc:
        return [ImportCandidate(name, error=str(exc))]
    found = candidates_from_bytes(
        name, etree.tostring(root, encoding="utf-8", xml_declaration=True)
    )
    for candidate in found:
        if candidate.item is not None and notes:
            merged = (*notes, *candidate.item.import_notes)
            candidate.item = candidate.item.model_copy(update={"import_notes": merged})
    return found


def _included_files(files: Sequence[Path], within: Path) -> set[Path]:
    """The files of a folder that its item files include (``xi:include``): fragments
    read with those items, not as items of their own."""
    included: set[Path] = set()
    for path in files:
        if path.suffix.lower() not in QTI_SUFFIXES:
            continue
        data = path.read_bytes()
        if xinclude.XINCLUDE_NS.encode() not in data:
            continue
        try:
            root = parse_untrusted_xml(data, str(path))
        except ValueError:
            continue  # refused when read as an item
        folder = path.parent.relative_to(within).as_posix()
        for href in xinclude.include_hrefs(root):
            target = resolve_href("" if folder == "." else folder, href)
            if target is not None:
                included.add(within / target)
    return included


_INCLUDABLE = frozenset({".xml", ".html", ".htm", ".xhtml", ".txt"})


def _file_within(folder: Path, relative: str) -> bytes | None:
    """The bytes of ``folder/relative`` when it is a file inside ``folder`` (a link
    leading out of it is not followed) that an item may include: XML, HTML or text, not
    hidden (so that an item read from a home or deployment folder cannot copy a ``.env``
    into the bank); else None."""
    target = folder / relative
    if any(part.startswith(".") for part in PurePosixPath(relative).parts) or (
        target.suffix.lower() not in _INCLUDABLE
    ):
        return None
    try:
        if not target.is_file() or not target.resolve().is_relative_to(folder.resolve()):
            return None
        if target.stat().st_size > MAX_FILE_BYTES:
            raise ValueError(f"included file {relative!r} is larger than {MAX_FILE_BYTES} bytes")
        return target.read_bytes()
    except OSError:
        return None


def _package_roots(path: Path) -> list[Path]:
    """The outermost folders under ``path`` (itself included) holding an imsmanifest.xml."""
    roots: list[Path] = []
    for manifest in sorted(path.rglob("imsmanifest.xml"), key=lambda p: len(p.parts)):
        folder = manifest.parent
        if manifest.is_file() and not any(r == folder or r in folder.parents for r in roots):
            roots.append(folder)
    return roots


def _zipped_folder(root: Path) -> bytes:
    """The folder as the zip it was unpacked from (stored, not compressed): the package
    reader's limits and checks then apply as to any package. A symbolic link, or more bytes
    than a package may hold, refuses the folder."""
    limit = DEFAULT_LIMITS.max_package_bytes
    buffer = io.BytesIO()
    total = 0
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for child in sorted(root.rglob("*")):
            relative = child.relative_to(root).as_posix()
            if child.is_symlink():
                raise UnsafePackage(f"{root.name}/{relative} is a symbolic link")
            if not child.is_file():
                continue
            total += child.stat().st_size
            if total > limit:
                raise PackageError(f"the package folder {root.name} holds more than {limit} bytes")
            archive.write(child, relative)
    return buffer.getvalue()


def _with_local_media(found: list[ImportCandidate], source: Path) -> list[ImportCandidate]:
    if source.suffix.lower() == ".zip":
        return found
    for candidate in found:
        item = candidate.item
        if item is None:
            continue
        for ref in media_references(write_item(item)):
            target = source.parent / unquote(urlsplit(ref).path)
            if not target.is_file():
                candidate.error = (
                    f"item {item.identifier!r} refers to {ref!r}, which is not there ({target})"
                )
            elif target.stat().st_size > MAX_FILE_BYTES:
                candidate.error = f"{ref!r} is larger than {MAX_FILE_BYTES} bytes"
            if candidate.error is not None:
                candidate.item, candidate.media = None, {}
                break
            candidate.media[ref] = target.read_bytes()
        if candidate.item is not None and candidate.item.stimuli:
            _with_local_stimuli(candidate, source)
    return found


def _is_stimulus_file(path: Path) -> bool:
    """Whether an .xml file's root is a shared stimulus (read as far as its root only)."""
    try:
        for _, element in etree.iterparse(
            str(path), events=("start",), resolve_entities=False, no_network=True
        ):
            return is_stimulus(element)
    except (etree.XMLSyntaxError, OSError):
        return False
    return False


def _with_local_stimuli(candidate: ImportCandidate, source: Path) -> None:
    """The item's shared stimuli read from beside its file, where its references find a
    stimulus file (the others are the bank's to hold); one that cannot be read, or is
    another stimulus than the item names, refuses the item naming it."""
    assert candidate.item is not None
    for ref in candidate.item.stimuli:
        target = source.parent / unquote(urlsplit(ref.href).path)
        if not target.is_file():
            continue
        try:
            found = stimulus_from_path(target)
        except ItemFormatError as exc:
            candidate.item, candidate.media = None, {}
            candidate.error = f"its shared stimulus {ref.href!r}: {exc.detail}"
            return
        if found.stimulus.identifier != ref.identifier:
            candidate.item, candidate.media = None, {}
            candidate.error = (
                f"it refers to the shared stimulus {ref.identifier!r} ({ref.href}), but that "
                f"file is the stimulus {found.stimulus.identifier!r}"
            )
            return
        candidate.stimuli.append(found)


def stimulus_from_path(path: Path) -> StimulusCandidate:
    """A shared stimulus file (QTI 3.0 ``qti-assessment-stimulus`` or 2.2
    ``assessmentStimulus``) with the media files its body refers to, read from beside it
    on disk as an item file's are. Raises :class:`ItemFormatError` for a malformed file
    or a picture that is not there."""
    data = path.read_bytes()
    if len(data) > MAX_FILE_BYTES:
        raise ItemFormatError(f"{path.name} is larger than {MAX_FILE_BYTES} bytes")
    stimulus = parse_stimulus(data)
    media: dict[str, bytes] = {}
    for ref in media_references(write_stimulus(stimulus)):
        target = path.parent / unquote(urlsplit(ref).path)
        if not target.is_file():
            raise ItemFormatError(
                f"stimulus {stimulus.identifier!r} refers to {ref!r}, which is not there ({target})"
            )
        if target.stat().st_size > MAX_FILE_BYTES:
            raise ItemFormatError(f"{ref!r} is larger than {MAX_FILE_BYTES} bytes")
        media[ref] = target.read_bytes()
    return StimulusCandidate(path.name, stimulus, media)


async def store_stimulus(
    session: AsyncSession,
    blobs: BlobStore,
    principal: Principal,
    bank_id: uuid.UUID,
    found: StimulusCandidate,
) -> tuple[Stimulus, stimuli.StoreStatus, int]:
    """Store a stimulus read from a file with its media (the blob store first): a new
    stimulus, its next version, or nothing when the bank holds it as it is."""
    refs: dict[str, str] = {}
    for path, data in found.media.items():
        asset, _ = await assets.store_media(
            session,
            blobs,
            principal,
            principal.organization_id,
            data,
            filename=PurePosixPath(path).name,
            declared_type=None,
        )
        refs[path] = asset.sha256
    definition = found.stimulus
    if refs:
        definition = definition.model_copy(
            update={"metadata": {**definition.metadata, "media": refs}}
        )
    row, version, status = await stimuli.store(
        session,
        principal,
        bank_id,
        definition,
        change_note=f"imported from {found.source}"[:2000],
        audit_data={"imported_from": found.source[:200]},
    )
    return row, status, version.version


async def import_items(
    session: AsyncSession,
    blobs: BlobStore,
    principal: Principal,
    bank_id: uuid.UUID,
    candidates: Sequence[ImportCandidate],
    *,
    metadata: schemas.ItemMetadata | None = None,
    publish: bool = False,
    mode: ImportMode = "all",
) -> ImportReport:
    """Store the candidates: each new identifier as a new item, each identifier the bank
    already holds as a new version of that item (published too, with ``publish``).

    ``mode="all"``: when any candidate is rejected nothing is stored and ImportRejected
    carries the report. ``mode="partial"``: the rejected ones are left out and listed in
    the report; ImportRejected only when none could be stored.

    Media files of package items go to the blob store first (content-addressed, so a
    rejected import leaves at most unreferenced blobs, never rows), and each item records
    the package paths it uses with their SHA-256 in ``metadata.media``.
    """
    with collector_paused():
        access = await service.bank_access(session, principal, bank_id)
        if not access.can_write:
            raise BankWriteForbidden("you may not write items in this bank")
        outcomes: list[ItemOutcome] = []
        seen: dict[str, str] = {}
        existing = {
            identifier: (item_id, latest)
            for identifier, item_id, latest in await session.execute(
                select(Item.identifier, Item.id, Item.latest_version).where(
                    Item.bank_id == bank_id,
                    Item.identifier.in_([c.item.identifier for c in candidates if c.item]),
                )
            )
        }
        for candidate in candidates:
            if candidate.item is None:
                outcomes.append(ItemOutcome(candidate.source, None, "rejected", candidate.error))
                continue
            identifier = candidate.item.identifier
            reason = None
            if identifier in seen:
                reason = f"identifier {identifier!r} is also used by {seen[identifier]}"
            seen.setdefault(identifier, candidate.source)
            outcomes.append(
                ItemOutcome(
                    candidate.source,
                    identifier,
                    "rejected" if reason else "not_imported",
                    reason,
                    item_id=existing[identifier][0] if identifier in existing else None,
                )
            )
        if not outcomes:
            raise NothingToImport("nothing to import: no items were found")
        brought = await _check_stimuli(session, bank_id, candidates, outcomes)
        # Every change the reader made to an item (an element unwrapped, an attribute or a
        # templateLocation ignored...) is a warning of the report, naming the item's source.
        warnings = [
            f"{c.source}: {note}" for c in candidates if c.item for note in c.item.import_notes
        ]
        warnings.extend(
            f"{stimulus.source}: {note}"
            for stimulus in brought.values()
            for note in stimulus.stimulus.import_notes
        )
        report = ImportReport(
            outcomes,
            warnings=warnings,
            mode=mode,
            stimuli=[StimulusOutcome(s.source, identifier) for identifier, s in brought.items()],
        )
        if mode == "all" and not report_ok_to_store(report):
            raise ImportRejected(report)
        await _store_stimuli(session, blobs, principal, bank_id, candidates, brought, report, mode)

        new_items: list[tuple[ItemOutcome, service.NewItem]] = []
        new_versions: list[tuple[ItemOutcome, ItemDefinition, str]] = []
        for candidate, outcome in zip(candidates, outcomes, strict=True):
            if outcome.status == "rejected":
                continue
            assert candidate.item is not None
            item = candidate.item
            if candidate.media:
                refs, refused = await _store_media(session, blobs, principal, candidate.media)
                if refused is not None:
                    outcome.status, outcome.reason = "rejected", refused
                    if mode == "all":
                        raise ImportRejected(report)
                    continue
                item = item.model_copy(update={"metadata": {**item.metadata, "media": refs}})
            note = f"imported from {candidate.source}"[:2000]
            if outcome.item_id is not None:
                new_versions.append((outcome, item, note))
            else:
                new_items.append(
                    (
                        outcome,
                        service.NewItem(
                            item,
                            metadata or schemas.ItemMetadata(),
                            change_note=note,
                            audit_data={"imported_from": candidate.source[:200]},
                        ),
                    )
                )
        if not new_items and not new_versions:
            raise ImportRejected(report)
        if new_items:
            created = await service.insert_items(
                session, principal, bank_id, [new for _, new in new_items], publish=publish
            )
            for (outcome, _), stored in zip(new_items, created, strict=True):
                outcome.status, outcome.item_id = "imported", stored.item_id
                outcome.version = stored.version
            report.warnings.extend(
                await service.link_imported_translations(
                    session,
                    bank_id,
                    [
                        (stored.item_id, new.definition)
                        for (_, new), stored in zip(new_items, created, strict=True)
                    ],
                )
            )
        for outcome, item, note in new_versions:
            assert outcome.item_id is not None
            previous = existing[item.identifier][1]
            try:
                # A savepoint each: in partial mode one refused version leaves the others.
                async with session.begin_nested():
                    row, version = await service.update_item(
                        session,
                        principal,
                        outcome.item_id,
                        definition=item,
                        metadata=metadata,
                        rubric_version_id=None,
                        change_note=note,
                        expected_version=None,
                    )
                    if publish:
                        row, version = await service.publish(session, principal, row.id)
            except DomainError as exc:
                # e.g. the item's rubric needs an extended-text interaction the new one lacks
                outcome.status, outcome.reason = "rejected", f"as a new version: {exc.detail}"
                if mode == "all":
                    for other in report.outcomes:
                        if other.status in ("imported", "new_version"):
                            other.status, other.item_id, other.version = "not_imported", None, None
                    raise ImportRejected(report) from None
                continue
            outcome.status, outcome.version = "new_version", version.version
            outcome.reason = (
                f"the bank already holds {outcome.identifier!r}: "
                + (
                    f"its draft version {version.version} was replaced"
                    if version.version == previous
                    else f"this is its new version {version.version}"
                )
                + f" ({version.status})"
            )
        if not report.ok and not any(o.status in ("imported", "new_version") for o in outcomes):
            raise ImportRejected(report)
        return report


async def _check_stimuli(
    session: AsyncSession,
    bank_id: uuid.UUID,
    candidates: Sequence[ImportCandidate],
    outcomes: Sequence[ItemOutcome],
) -> dict[str, StimulusCandidate]:
    """The shared stimuli the import brings (by identifier); each item that refers to a
    stimulus neither the import nor the bank holds, or brings one whose identifier another
    item of the import brings with other content, is rejected with the reason."""
    brought: dict[str, StimulusCandidate] = {}
    for candidate, outcome in zip(candidates, outcomes, strict=True):
        if outcome.status == "rejected":
            continue
        for packaged in candidate.stimuli:
            identifier = packaged.stimulus.identifier
            first = brought.setdefault(identifier, packaged)
            if first is not packaged and stimuli.content_hash(
                first.stimulus
            ) != stimuli.content_hash(packaged.stimulus):
                outcome.status = "rejected"
                outcome.reason = (
                    f"its shared stimulus {identifier!r} ({packaged.source}) differs from the "
                    f"one of the same identifier in {first.source}"
                )
    wanted = {
        ref.identifier
        for c, o in zip(candidates, outcomes, strict=True)
        if c.item is not None and o.status != "rejected"
        for ref in c.item.stimuli
    } - set(brought)
    held: set[str] = set()
    if wanted:
        held = set(
            (
                await session.execute(
                    select(Stimulus.identifier).where(
                        Stimulus.bank_id == bank_id, Stimulus.identifier.in_(sorted(wanted))
                    )
                )
            ).scalars()
        )
    for candidate, outcome in zip(candidates, outcomes, strict=True):
        if candidate.item is None or outcome.status == "rejected":
            continue
        missing = [
            ref.identifier
            for ref in candidate.item.stimuli
            if ref.identifier not in brought and ref.identifier not in held
        ]
        if missing:
            outcome.status = "rejected"
            outcome.reason = (
                f"item {candidate.item.identifier!r} refers to the shared "
                + ("stimulus " if len(missing) == 1 else "stimuli ")
                + ", ".join(repr(m) for m in missing)
                + ", which neither the bank nor the import holds (import the package "
                "with its stimulus file, or add the stimulus to the bank first)"
            )
    return brought


async def _store_media(
    session: AsyncSession,
    blobs: BlobStore,
    principal: Principal,
    media: Mapping[str, bytes],
) -> tuple[dict[str, str], str | None]:
    """Store each media file (path -> bytes) as an asset of the principal's organization,
    stopping at the first one refused: (path -> SHA-256 of those stored, and the reason
    of the refusal, ``media <path>: <why>``, or ``None`` when all were stored)."""
    refs: dict[str, str] = {}
    for path, data in media.items():
        try:
            asset, _ = await assets.store_media(
                session,
                blobs,
                principal,
                principal.organization_id,
                data,
                filename=PurePosixPath(path).name,
                declared_type=None,
                check=pci.check_file(data, filename=path) if pci.is_module_file(path) else None,
            )
        except MediaError as exc:
            return refs, f"media {path}: {exc.detail}"
        refs[path] = asset.sha256
    return refs, None


async def _store_stimuli(
    session: AsyncSession,
    blobs: BlobStore,
    principal: Principal,
    bank_id: uuid.UUID,
    candidates: Sequence[ImportCandidate],
    brought: Mapping[str, StimulusCandidate],
    report: ImportReport,
    mode: ImportMode,
) -> None:
    """Store each stimulus an item to be stored uses (its media in the blob store, as an
    item's): a new stimulus, its next version, or nothing when the bank holds it as it
    is. A refused media file rejects the items that use the stimulus."""
    used = {
        packaged.stimulus.identifier
        for candidate, outcome in zip(candidates, report.outcomes, strict=True)
        if outcome.status != "rejected"
        for packaged in candidate.stimuli
    }
    for entry in report.stimuli:
        if entry.identifier not in used:
            continue
        packaged = brought[entry.identifier]
        refs, refused = await _store_media(session, blobs, principal, packaged.media)
        if refused is not None:
            refused = f"its shared stimulus {entry.identifier!r}: {refused}"
            for candidate, outcome in zip(candidates, report.outcomes, strict=True):
                if any(p.stimulus.identifier == entry.identifier for p in candidate.stimuli):
                    outcome.status, outcome.reason = "rejected", refused
            if mode == "all":
                raise ImportRejected(report)
            continue
        definition = packaged.stimulus
        if refs:
            metadata = {**definition.metadata, "media": refs}
            definition = definition.model_copy(update={"metadata": metadata})
        row, version, status = await stimuli.store(
            session,
            principal,
            bank_id,
            definition,
            change_note=f"imported from {packaged.source}"[:2000],
            audit_data={"imported_from": packaged.source[:200]},
        )
        entry.status, entry.stimulus_id, entry.version = status, row.id, version.version


def report_ok_to_store(report: ImportReport) -> bool:
    return not any(o.status == "rejected" for o in report.outcomes)


# --- export ------------------------------------------------------------------------------


async def versions_for_export(
    session: AsyncSession,
    principal: Principal,
    *,
    bank_id: uuid.UUID,
    status: VersionStatus | None,
    tags: Iterable[str] = (),
) -> list[ItemVersion]:
    """The newest version of each matching item of a bank (archived items left out), in
    identifier order; with ``status=published``, each item's published version."""
    await service.bank_access(session, principal, bank_id)
    number = Item.published_version if status is VersionStatus.published else Item.latest_version
    stmt = (
        select(ItemVersion)
        .join(Item, (Item.id == ItemVersion.item_id) & (ItemVersion.version == number))
        .where(
            Item.bank_id == bank_id,
            Item.organization_id == principal.organization_id,
            Item.archived_at.is_(None),
        )
        .order_by(Item.identifier)
    )
    if status is not None and status is not VersionStatus.published:
        stmt = stmt.where(Item.status == status.value)
    for tag in tags:
        stmt = stmt.where(Item.id.in_(select(ItemTag.item_id).where(ItemTag.tag == tag)))
    return list((await session.execute(stmt)).scalars())


async def _media_for(
    session: AsyncSession, blobs: BlobStore, organization_id: uuid.UUID, refs: Mapping[str, str]
) -> dict[str, tuple[str, bytes]]:
    """The media of a document (an item's or a stimulus's ``metadata.media``) the
    organization holds: each path it uses, with the file's SHA-256 and bytes."""
    found: dict[str, tuple[str, bytes]] = {}
    for path, sha in refs.items():
        owned = (
            await session.execute(
                select(MediaAsset.id).where(
                    MediaAsset.organization_id == organization_id, MediaAsset.sha256 == sha
                )
            )
        ).first()
        if owned is not None:
            found[str(path)] = (str(sha), await blobs.get(str(sha)))
    return found


def _normal(path: str) -> str:
    """A reference without its ``.``, ``..`` and empty segments (how previews match it)."""
    return "/".join(p for p in path.split("/") if p not in ("", ".", ".."))


async def export_qti3(
    session: AsyncSession,
    blobs: BlobStore,
    principal: Principal,
    versions: Sequence[ItemVersion],
    *,
    tests: Sequence[tuple[str, Callable[[Mapping[str, str]], bytes]]] = (),
) -> bytes:
    """A QTI 3.0 content package of the given item versions with their media (and the
    assessment ``tests`` :func:`build_package` writes beside them).

    Each media file is placed at ``media/<file name>`` inside the package (the file's
    SHA-256 prefixed to the name when two different files share one), and each item,
    written under ``items/``, refers to it as ``../media/<file name>``, whatever path
    the item used in the bank (``../media/chart.svg`` of a folder of items, a package's
    own layout): a package never points outside itself.
    """
    items: list[tuple[str, bytes]] = []
    media: dict[str, bytes] = {}
    by_sha: dict[str, str] = {}
    shared: dict[str, bytes] = {}
    stimulus_paths: dict[str, str] = {}

    async def place_media(refs: Mapping[str, str]) -> dict[str, str]:
        """Each media path of a document, placed in the package's media folder."""
        used = await _media_for(session, blobs, principal.organization_id, refs)
        placed: dict[str, str] = {}
        for path, (sha, data) in used.items():
            if sha not in by_sha:
                name = PurePosixPath(_normal(path)).name or "file"
                package_path = f"media/{name}"
                if package_path in media:
                    package_path = f"media/{sha[:12]}-{name}"
                by_sha[sha] = package_path
                media[package_path] = data
            placed[_normal(path)] = by_sha[sha]
        return placed

    for version in versions:
        item = ItemDefinition.from_dict(version.definition)
        placed = await place_media(item.metadata.get("media") or {})
        if item.stimuli:
            item = await _with_exported_stimuli(
                session, principal, item, shared, stimulus_paths, place_media
            )
        try:
            xml = write_item(item)
        except ItemFormatError as exc:
            raise PackageBuildError(
                f"item {item.identifier!r} (version {version.version}) cannot be written "
                f"as QTI 3.0: {exc.detail}"
            ) from None
        if placed:
            _repoint_pci_configurations(item, placed, media)
        items.append((item.identifier, rewrite_references(xml, _target(placed)) if placed else xml))
    # Zipping thousands of items is CPU work: off the event loop.
    return await asyncio.to_thread(build_package, items, media, tests=tests, stimuli=shared)


def _repoint_pci_configurations(
    item: ItemDefinition, placed: Mapping[str, str], media: dict[str, bytes]
) -> None:
    """Point the ``paths`` of each PCI module configuration file of ``item`` (placed in
    ``media`` like any of its files) at where the module files are placed, as the item's
    own references are: the exported configuration maps each module id to a file of the
    package again. Paths to files the item does not hold are kept as written."""
    target = _target(placed)
    for interaction in item.interactions:
        pci_ = interaction.pci
        if pci_ is None:
            continue
        for ref in (pci_.primary_configuration, pci_.fallback_configuration):
            where = target(ref) if ref else None
            package_path = where[3:] if where and where.startswith("../") else None
            if package_path is None or package_path not in media:
                continue
            try:
                paths = pci.configuration_paths(media[package_path], filename=package_path)
            except MediaError:
                continue  # checked when stored; a file that no longer reads stays as it is
            moved = {
                module: target(path) or target(path + ".js") or path
                for module, path in paths.items()
            }
            if moved != paths:
                whole = json.loads(media[package_path].decode("utf-8"))
                whole["paths"] = moved
                media[package_path] = json.dumps(whole, indent=2).encode()


def _target(placed: Mapping[str, str]) -> Callable[[str], str | None]:
    """Where a reference of a document under ``items/`` or ``stimuli/`` finds its media."""

    def target(ref: str) -> str | None:
        wanted = _normal(ref)
        for known, package_path in placed.items():
            if known == wanted or known.endswith("/" + wanted) or wanted.endswith("/" + known):
                return "../" + package_path
        return None

    return target


async def _with_exported_stimuli(
    session: AsyncSession,
    principal: Principal,
    item: ItemDefinition,
    shared: dict[str, bytes],
    paths: dict[str, str],
    place_media: Callable[[Mapping[str, str]], Awaitable[dict[str, str]]],
) -> ItemDefinition:
    """``item`` with each stimulus reference pointing at the stimulus version it pinned,
    written into ``shared`` as ``stimuli/<identifier>.xml`` (its media placed like an
    item's; ``paths`` remembers each content hash's file, so items sharing a stimulus
    share its file). A pinned version the organization no longer holds cannot be
    exported (:class:`PackageBuildError`)."""
    pins: Mapping[str, str] = item.metadata.get("stimuli") or {}
    held = await stimuli.pinned_definitions(session, principal.organization_id, pins)
    refs = []
    for ref in item.stimuli:
        digest = pins.get(ref.identifier)
        stimulus = held.get(digest or "")
        if digest is None or stimulus is None:
            raise PackageBuildError(
                f"item {item.identifier!r} refers to the shared stimulus {ref.identifier!r}, "
                "which the bank does not hold"
            )
        if digest not in paths:
            path = f"stimuli/{ref.identifier}.xml"
            if path in shared:
                path = f"stimuli/{ref.identifier}-{digest[:12]}.xml"
            placed = await place_media(stimulus.metadata.get("media") or {})
            xml = write_stimulus(stimulus)
            shared[path] = rewrite_references(xml, _target(placed)) if placed else xml
            paths[digest] = path
        refs.append(ref.model_copy(update={"href": "../" + paths[digest]}))
    return item.model_copy(update={"stimuli": tuple(refs)})


def export_native(versions: Sequence[ItemVersion]) -> bytes:
    """A zip of one JSON file per item, in the stored item form (``format: definition``),
    which imports back unchanged."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for version in versions:
            document = {"waa_item": 1, **version.definition}
            name = f"items/{version.definition['identifier']}.json"
            info = zipfile.ZipInfo(name, date_time=(2000, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, json.dumps(document, indent=2, ensure_ascii=False))
    return buffer.getvalue()
