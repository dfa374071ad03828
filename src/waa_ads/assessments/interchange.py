"""Assessments in and out as QTI assessment tests (content packages).

Import: a package holding a ``qti-assessment-test`` (3.0) or ``assessmentTest`` (2.1/2.2)
and its items becomes the bank's items (published, so the assessment can use them) and a
draft assessment of them, in one transaction: when an item is refused, nothing is
stored and the report says why. What the assessment model cannot say is listed in the
result's ``notes`` (see :mod:`waa_ads.assessments.qti_test`).

Export: an assessment version as a QTI 3.0 package: its items (the versions a published
assessment pinned, else each item's published version, else its newest), their media,
and the test.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from waa_ads.assessments import qti_test, schemas, service
from waa_ads.assessments.definition import (
    AssessmentDefinition,
    FeedbackPolicy,
    ItemRef,
    Navigation,
    Pinned,
    Section,
    Selection,
)
from waa_ads.assessments.models import Assessment, AssessmentVersion
from waa_ads.auth.deps import Principal
from waa_ads.content import transfer
from waa_ads.content.interchange.qti.package import read_tests
from waa_ads.content.models import Item, ItemTag, ItemVersion
from waa_ads.content.schemas import ItemMetadata
from waa_ads.core.errors import Unprocessable
from waa_ads.core.i18n import N_
from waa_ads.core.storage import BlobStore


class TestPackageInvalid(Unprocessable):
    """The package holds no assessment test this system can read, or the test refers to
    what the package does not hold; the detail names it."""

    code = "qti-test-invalid"
    title = N_("QTI assessment test cannot be imported")


class TestExportUnsupported(Unprocessable):
    """The assessment uses something a QTI assessment test cannot carry."""

    code = "qti-test-export-unsupported"
    title = N_("Assessment cannot be written as a QTI test")


@dataclass
class TestImport:
    assessment: Assessment
    version: AssessmentVersion
    items: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


_IDENTIFIER = re.compile(r"[^A-Za-z0-9_.-]")


def _section_identifier(raw: str, taken: set[str]) -> str:
    name = _IDENTIFIER.sub("_", raw)[:60] or "S"
    if not re.match(r"[A-Za-z_]", name):
        name = "S_" + name[:58]
    unique, n = name, 1
    while unique in taken:
        n += 1
        unique = f"{name[:56]}_{n}"
    taken.add(unique)
    return unique


def _slug(raw: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", raw.lower()).strip("-")[:64].strip("-")
    return slug if len(slug) >= 2 else f"qti-test-{slug or 'imported'}"[:64]


def selection_tag(test_identifier: str, section_identifier: str) -> str:
    """The tag given to the items of a section that draws some of them, by which the
    assessment's selection finds them."""
    return f"qti:{test_identifier}/{section_identifier}"[:100]


async def import_test_package(
    session: AsyncSession,
    blobs: BlobStore,
    principal: Principal,
    bank_id: uuid.UUID,
    name: str,
    data: bytes,
    *,
    slug: str | None = None,
    test: str | None = None,
) -> TestImport:
    """Import the package's test (``test``: its resource identifier, needed when the
    package holds several) and the items it uses into ``bank_id``; create a draft
    assessment of them. Raises TestPackageInvalid, the package and import problems of
    the content domain, or the assessment's own (a slug taken)."""
    service.require_author(principal)
    tests = await asyncio.to_thread(read_tests, data)  # CPU work: off the event loop
    if not tests:
        raise TestPackageInvalid(
            "the package declares no assessment test (a resource of type "
            "imsqti_test_xmlv3p0, imsqti_test_xmlv2p2 or imsqti_test_xmlv2p1); "
            "import its items into a bank instead"
        )
    if test is not None:
        chosen = [t for t in tests if t.identifier == test]
        if not chosen:
            raise TestPackageInvalid(
                f"the package has no test {test!r}; it has "
                + ", ".join(repr(t.identifier) for t in tests)
            )
    elif len(tests) > 1:
        raise TestPackageInvalid(
            "the package holds several tests ("
            + ", ".join(repr(t.identifier) for t in tests)
            + "); name the one to import"
        )
    else:
        chosen = tests
    package_test = chosen[0]
    if package_test.xml is None or package_test.href is None:
        raise TestPackageInvalid(
            f"test {package_test.identifier!r} cannot be read: {package_test.error}"
        )
    try:
        spec = qti_test.parse_test(
            package_test.xml, href=package_test.href, files=package_test.files
        )
    except qti_test.TestFormatError as exc:
        raise TestPackageInvalid(str(exc)) from None

    # Each package item's source is "<name>:<its path in the package>".
    found = await asyncio.to_thread(transfer.candidates_from_bytes, name, data)
    by_href = {c.source[len(name) + 1 :]: c for c in found}
    used: set[str] = set()
    for section in spec.sections:
        for ref in section.items:
            if ref.href not in by_href:
                raise TestPackageInvalid(
                    f"section {section.identifier!r}: item {ref.identifier!r} refers to "
                    f"{ref.href!r}, which is not an item resource of the package"
                )
            if ref.href in used:
                raise TestPackageInvalid(
                    f"section {section.identifier!r}: item {ref.href!r} is used twice in "
                    "the test; an assessment gives each item once"
                )
            used.add(ref.href)
    notes = list(spec.notes)
    left_out = len(by_href) - len(used)
    if left_out:
        notes.append(f"{left_out} item(s) of the package are not used by the test: not imported")

    # Items of sections that draw some of them carry the section's tag; the others none.
    groups: list[tuple[list[transfer.ImportCandidate], ItemMetadata | None]] = []
    for section in spec.sections:
        found = [by_href[ref.href] for ref in section.items]
        tag = selection_tag(spec.identifier, section.identifier)
        groups.append((found, ItemMetadata(tags=[tag]) if section.select else None))
    outcomes: list[dict[str, Any]] = []
    identifiers: dict[str, uuid.UUID] = {}
    warnings: list[str] = []
    for found, metadata in groups:
        report = await transfer.import_items(
            session, blobs, principal, bank_id, found, metadata=metadata, publish=True
        )
        for outcome in report.outcomes:
            if outcome.item_id is not None and outcome.identifier is not None:
                identifiers[outcome.source] = outcome.item_id
        items = report.as_dict()["items"]
        assert isinstance(items, list)
        outcomes.extend(items)
        warnings.extend(report.warnings)
    notes.extend(warnings)

    taken: set[str] = set()
    sections: list[Section] = []
    for section in spec.sections:
        identifier = _section_identifier(section.identifier, taken)
        if section.time_limit_s is not None:
            notes.append(
                f"section {section.identifier!r}: its time limit is not kept (only the "
                "assessment's time limit is enforced)"
            )
        refs = [(identifiers[by_href[r.href].source], r.weight) for r in section.items]
        if section.select:
            weights = {w for _, w in refs}
            if len(weights) > 1:
                notes.append(
                    f"section {section.identifier!r}: drawn items share one weight; "
                    "their weights differ, so 1 is used"
                )
            sections.append(
                Section(
                    identifier=identifier,
                    title=section.title,
                    selection=Selection(
                        bank_id=bank_id,
                        count=section.select,
                        tags=[selection_tag(spec.identifier, section.identifier)],
                        weight=weights.pop() if len(weights) == 1 else 1.0,
                    ),
                    shuffle_items=section.shuffle,
                )
            )
        else:
            sections.append(
                Section(
                    identifier=identifier,
                    title=section.title,
                    items=[ItemRef(item_id=i, weight=w) for i, w in refs],
                    shuffle_items=section.shuffle,
                )
            )
    try:
        definition = AssessmentDefinition(
            title=spec.title[:300],
            sections=sections,
            navigation=Navigation.linear if spec.linear else Navigation.free,
            allow_review=not spec.linear,
            time_limit_s=spec.time_limit_s,
            feedback=(
                FeedbackPolicy.none
                if not spec.show_feedback
                else FeedbackPolicy.after_item
                if spec.linear
                else FeedbackPolicy.after_test
            ),
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        raise TestPackageInvalid(f"the test makes no valid assessment: {first['msg']}") from None
    assessment, version = await service.create_assessment(
        session,
        principal,
        schemas.AssessmentCreate(slug=slug or _slug(spec.identifier), definition=definition),
    )
    return TestImport(assessment, version, outcomes, notes)


async def export_test_package(
    session: AsyncSession,
    blobs: BlobStore,
    principal: Principal,
    assessment_id: uuid.UUID,
    version: int | None = None,
) -> bytes:
    """A QTI 3.0 package of the assessment version: its items and the test."""
    assessment, row = await service.get_version(session, principal, assessment_id, version)
    definition = AssessmentDefinition.model_validate(row.definition)
    adaptive = [s.identifier for s in definition.sections if s.adaptive is not None]
    if adaptive:
        raise TestExportUnsupported(
            f"section {adaptive[0]!r} is adaptive; a QTI assessment test has no adaptive "
            "selection, so the assessment cannot be written as one"
        )
    pinned = Pinned.model_validate(row.pinned) if row.pinned else None
    chosen: dict[uuid.UUID, uuid.UUID] = {}  # item id -> item version id
    if pinned is not None:
        for pinned_section in pinned.sections:
            for p in [*pinned_section.items, *pinned_section.pool]:
                chosen[p.item_id] = p.item_version_id
    sections: list[tuple[Section, list[uuid.UUID]]] = []
    for section in definition.sections:
        if section.selection is not None and pinned is not None:
            pool = next(s.pool for s in pinned.sections if s.identifier == section.identifier)
            ids = [p.item_id for p in pool]
        elif section.selection is not None:
            ids = await _pool(session, principal, section.selection)
        else:
            ids = [r.item_id for r in section.items]
        sections.append((section, ids))
    versions = await _versions(session, principal, [i for _, ids in sections for i in ids], chosen)
    identifier_of = {v.item_id: str(v.definition.get("identifier")) for v in versions.values()}
    written: list[qti_test.WrittenSection] = []
    for section, ids in sections:
        if section.selection is not None:
            weight = section.selection.weight
            items = [qti_test.WrittenItem(identifier_of[i], weight) for i in ids]
            select = section.selection.count if section.selection.count < len(items) else None
        else:
            weights = {r.item_id: r.weight for r in section.items}
            items = [qti_test.WrittenItem(identifier_of[i], weights[i]) for i in ids]
            select = None
        written.append(
            qti_test.WrittenSection(
                identifier=section.identifier,
                title=section.title,
                items=items,
                select=select,
                shuffle=section.shuffle_items,
            )
        )
    test_identifier = _IDENTIFIER.sub("_", assessment.slug)
    if not re.match(r"[A-Za-z_]", test_identifier):
        test_identifier = "T_" + test_identifier

    def build(hrefs: Any) -> bytes:
        return qti_test.write_test(
            test_identifier,
            definition.title,
            written,
            hrefs,
            linear=definition.navigation is Navigation.linear,
            time_limit_s=definition.time_limit_s,
            show_feedback=definition.feedback is not FeedbackPolicy.none,
        )

    ordered = [versions[i] for _, ids in sections for i in ids]
    return await transfer.export_qti3(
        session, blobs, principal, ordered, tests=[(test_identifier, build)]
    )


async def _pool(
    session: AsyncSession, principal: Principal, selection: Selection
) -> list[uuid.UUID]:
    """The published items a selection draws from now (an unpublished assessment)."""
    stmt = (
        select(Item.id)
        .where(
            Item.organization_id == principal.organization_id,
            Item.bank_id == selection.bank_id,
            Item.published_version.is_not(None),
            Item.archived_at.is_(None),
            Item.translation_of.is_(None),
        )
        .order_by(Item.identifier)
    )
    for tag in selection.tags:
        stmt = stmt.where(Item.id.in_(select(ItemTag.item_id).where(ItemTag.tag == tag)))
    if selection.subject:
        stmt = stmt.where(Item.subject == selection.subject)
    return list((await session.execute(stmt)).scalars())


async def _versions(
    session: AsyncSession,
    principal: Principal,
    item_ids: list[uuid.UUID],
    chosen: dict[uuid.UUID, uuid.UUID],
) -> dict[uuid.UUID, ItemVersion]:
    """For each item: the pinned version, else its published one, else its newest."""
    items = {
        i.id: i
        for i in (
            await session.execute(
                select(Item).where(
                    Item.organization_id == principal.organization_id, Item.id.in_(item_ids)
                )
            )
        ).scalars()
    }
    found: dict[uuid.UUID, ItemVersion] = {}
    for item_id in item_ids:
        item = items.get(item_id)
        if item is None:
            raise TestExportUnsupported(f"item {item_id} is not in this organization's banks")
        stmt = select(ItemVersion).where(ItemVersion.item_id == item_id)
        if item_id in chosen:
            stmt = stmt.where(ItemVersion.id == chosen[item_id])
        else:
            number = item.published_version or item.latest_version
            stmt = stmt.where(ItemVersion.version == number)
        found[item_id] = (await session.execute(stmt)).scalar_one()
    return found
