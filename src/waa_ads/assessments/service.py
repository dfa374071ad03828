"""Assessment rules: definitions and versions, publishing (pinning item versions and
checking selection rules against the bank), administrations, rosters and access codes.

Services flush, never commit; every change is audited with ids only.
"""

from __future__ import annotations

import csv
import io
import math
import secrets
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from sqlalchemy import delete, func, or_, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from waa_ads.assessments import adaptive, schemas
from waa_ads.assessments.assembly import assemble
from waa_ads.assessments.definition import (
    AssessmentDefinition,
    Pinned,
    PinnedCatItem,
    PinnedItem,
    PinnedSection,
    Section,
    Selection,
)
from waa_ads.assessments.errors import (
    AdaptivePoolInvalid,
    AdministrationCancelled,
    AdministrationInUse,
    AdministrationNotFound,
    AdministrationWindowInvalid,
    AdministrationWindowOverlaps,
    AssessmentInUse,
    AssessmentNotFound,
    AssessmentSlugTaken,
    AssessmentVersionNotDraft,
    AssessmentVersionNotFound,
    AssessmentVersionNotPublished,
    AssessmentVersionStale,
    ItemNotPublished,
    RosterCsvInvalid,
    RosterEntryNotFound,
    RosterRejected,
    SectionTimeLimitUnsupported,
    SelectionUnsatisfiable,
    UnknownIntegrityPolicy,
    UnknownItem,
    UnknownItemBank,
    UnknownProctor,
)
from waa_ads.assessments.models import (
    Administration,
    AdministrationProctor,
    Assessment,
    AssessmentStatus,
    AssessmentVersion,
    RosterEntry,
)
from waa_ads.audit import service as audit
from waa_ads.auth.deps import Principal
from waa_ads.auth.errors import RoleRequired
from waa_ads.auth.models import Candidate, Organization, Role, User
from waa_ads.content import service as content_service
from waa_ads.content import stimuli as content_stimuli
from waa_ads.content.models import Item, ItemBank, ItemTag, ItemVersion, VersionStatus
from waa_ads.content.schemas import CandidateItem
from waa_ads.core.db import utcnow
from waa_ads.core.security import keyed_hash
from waa_ads.core.settings import Settings
from waa_ads.core.tasks import enqueue_after_commit
from waa_ads.core.tenancy import get_scoped, scoped

CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U
CODE_LENGTH = 16  # 80 bits


def require_author(principal: Principal) -> None:
    if not principal.has_any(Role.admin, Role.author):
        raise RoleRequired("this needs the admin or author role")


def require_admin(principal: Principal) -> None:
    if not principal.has_any(Role.admin):
        raise RoleRequired("this needs the admin role")


# --- assessments -------------------------------------------------------------------------

#: Whether an organization has an integrity policy of a name. The integrity domain, below
#: this one in the import order, sets it when imported; unset, every name is unknown.
IntegrityPolicyLookup = Callable[[AsyncSession, uuid.UUID, str], Awaitable[bool]]
_integrity_policy_exists: list[IntegrityPolicyLookup] = []


def set_integrity_policy_lookup(lookup: IntegrityPolicyLookup) -> None:
    _integrity_policy_exists[:] = [lookup]


async def _check_integrity_policy(
    session: AsyncSession, organization_id: uuid.UUID, definition: AssessmentDefinition
) -> None:
    name = definition.integrity_policy
    if name is None:
        return
    for lookup in _integrity_policy_exists:
        if await lookup(session, organization_id, name):
            return
    raise UnknownIntegrityPolicy(
        f"integrity_policy {name!r} names no integrity policy of this organization"
    )


def _refuse_unsupported(definition: AssessmentDefinition) -> None:
    """Refuse what delivery would not enforce, rather than accept and ignore it: a
    section's own time limit (only the assessment's ``time_limit_s`` is enforced)."""
    timed = [s.identifier for s in definition.sections if s.time_limit_s is not None]
    if timed:
        raise SectionTimeLimitUnsupported(
            f"section {timed[0]!r} sets time_limit_s; section time limits are not "
            "supported: set the assessment's time_limit_s instead",
            extra={"section": timed[0]},
        )


async def _check_references(
    session: AsyncSession, organization_id: uuid.UUID, definition: AssessmentDefinition
) -> None:
    """Every referenced item and bank exists in the organization (422 naming the first that
    does not), and nothing is set that delivery would not enforce."""
    _refuse_unsupported(definition)
    item_ids = [ref.item_id for s in definition.sections for ref in s.items]
    if item_ids:
        found = set(
            (
                await session.execute(
                    scoped(select(Item.id), Item, organization_id).where(Item.id.in_(item_ids))
                )
            ).scalars()
        )
        missing = [i for i in item_ids if i not in found]
        if missing:
            where = next(
                s for s in definition.sections if any(r.item_id == missing[0] for r in s.items)
            )
            raise UnknownItem(
                f"item {missing[0]} does not exist in this organization",
                extra={"section": where.identifier, "item_id": str(missing[0])},
            )
    for section in definition.sections:
        bank_id = (
            section.selection.bank_id
            if section.selection is not None
            else section.adaptive.bank_id
            if section.adaptive is not None
            else None
        )
        if bank_id is not None:
            bank = await session.get(ItemBank, bank_id)
            if bank is None or bank.organization_id != organization_id:
                raise UnknownItemBank(
                    f"section {section.identifier!r}: item bank "
                    f"{bank_id} does not exist in this organization",
                    extra={"section": section.identifier},
                )
    problems: list[schemas.PinProblem] = []
    for section in definition.sections:
        if section.adaptive is not None:
            problems += (await _adaptive_pool(session, organization_id, definition, section))[1]
    if problems:
        raise AdaptivePoolInvalid(
            problems[0].detail,
            extra={
                "section": problems[0].section,
                "problems": [p.model_dump(mode="json", exclude_none=True) for p in problems],
            },
        )


async def create_assessment(
    session: AsyncSession, principal: Principal, data: schemas.AssessmentCreate
) -> tuple[Assessment, AssessmentVersion]:
    require_author(principal)
    taken = (
        await session.execute(
            scoped(select(Assessment.id), Assessment, principal.organization_id).where(
                Assessment.slug == data.slug
            )
        )
    ).first()
    if taken is not None:
        raise AssessmentSlugTaken(f"an assessment with slug {data.slug!r} already exists")
    await _check_references(session, principal.organization_id, data.definition)
    assessment = Assessment(
        organization_id=principal.organization_id, slug=data.slug, title=data.definition.title
    )
    session.add(assessment)
    await session.flush()
    version = AssessmentVersion(
        organization_id=principal.organization_id,
        assessment_id=assessment.id,
        version=1,
        definition=data.definition.model_dump(mode="json"),
        created_by=principal.actor.id,
        created_at=utcnow(),
    )
    session.add(version)
    await session.flush()
    await _audit(session, principal, "assessment.created", assessment.id, {"version": 1})
    return assessment, version


async def _audit(
    session: AsyncSession,
    principal: Principal,
    action: str,
    target_id: uuid.UUID,
    data: dict[str, Any] | None = None,
    target_type: str = "assessment",
) -> None:
    await audit.record(
        session,
        organization_id=principal.organization_id,
        action=action,
        actor=principal.actor,
        target_type=target_type,
        target_id=target_id,
        data=data,
    )


async def get_version(
    session: AsyncSession, principal: Principal, assessment_id: uuid.UUID, version: int | None
) -> tuple[Assessment, AssessmentVersion]:
    assessment = await get_scoped(
        session,
        Assessment,
        assessment_id,
        principal.organization_id,
        what="assessment",
        error=AssessmentNotFound,
    )
    number = version if version is not None else assessment.latest_version
    row = (
        await session.execute(
            select(AssessmentVersion).where(
                AssessmentVersion.assessment_id == assessment.id,
                AssessmentVersion.version == number,
            )
        )
    ).scalar_one_or_none()
    if row is None:
        raise AssessmentVersionNotFound(f"assessment {assessment_id} has no version {number}")
    return assessment, row


async def list_assessments(
    session: AsyncSession, principal: Principal, *, archived: bool = False
) -> Sequence[Assessment]:
    """The organization's assessments; archived ones only with ``archived``."""
    stmt = scoped(select(Assessment), Assessment, principal.organization_id)
    if not archived:
        stmt = stmt.where(Assessment.archived_at.is_(None))
    return (await session.execute(stmt.order_by(Assessment.slug))).scalars().all()


async def update_assessment(
    session: AsyncSession,
    principal: Principal,
    assessment_id: uuid.UUID,
    data: schemas.AssessmentUpdate,
) -> tuple[Assessment, AssessmentVersion]:
    """Change the draft, or start a new draft version when the newest is published."""
    require_author(principal)
    assessment, latest = await get_version(session, principal, assessment_id, None)
    # Lock the version: an edit and a publish of the same draft must not interleave.
    await session.refresh(latest, with_for_update=True)
    if data.expected_version is not None and data.expected_version != latest.version:
        raise AssessmentVersionStale(
            f"the newest version is {latest.version}, not {data.expected_version}"
        )
    await _check_references(session, principal.organization_id, data.definition)
    document = data.definition.model_dump(mode="json")
    if latest.status == AssessmentStatus.draft.value:
        target = latest
        target.definition = document
    else:
        target = AssessmentVersion(
            organization_id=assessment.organization_id,
            assessment_id=assessment.id,
            version=latest.version + 1,
            definition=document,
            created_by=principal.actor.id,
            created_at=utcnow(),
        )
        session.add(target)
        assessment.latest_version = target.version
    assessment.title = data.definition.title
    await session.flush()
    await _audit(
        session, principal, "assessment.updated", assessment.id, {"version": target.version}
    )
    return assessment, target


async def _published_pool(
    session: AsyncSession, organization_id: uuid.UUID, selection: Selection
) -> list[PinnedItem]:
    stmt = (
        select(Item.id, ItemVersion.id, ItemVersion.version)
        .join(
            ItemVersion,
            (ItemVersion.item_id == Item.id) & (ItemVersion.version == Item.published_version),
        )
        .where(
            Item.organization_id == organization_id,
            Item.bank_id == selection.bank_id,
            ItemVersion.status == VersionStatus.published.value,
            # A translation is shown in its source's place, never drawn on its own.
            Item.translation_of.is_(None),
        )
        .order_by(Item.identifier)
    )
    for tag in selection.tags:
        stmt = stmt.where(Item.id.in_(select(ItemTag.item_id).where(ItemTag.tag == tag)))
    if selection.subject:
        stmt = stmt.where(Item.subject == selection.subject)
    if selection.interaction_types:
        stmt = stmt.where(
            or_(*(Item.search_types.contains(f"|{t}|") for t in selection.interaction_types))
        )
    rows = (await session.execute(stmt)).all()
    return [
        PinnedItem(item_id=r[0], item_version_id=r[1], version=r[2], weight=selection.weight)
        for r in rows
    ]


#: IRT models whose parameters an adaptive section can use (right/wrong items).
CAT_MODELS = frozenset({"rasch", "2pl", "3pl"})


def _cat_parameters(irt: dict[str, Any] | None) -> tuple[float, float, float] | None:
    """(a, d, c) of a version's stored right/wrong IRT parameters, or None."""
    if not irt or irt.get("model") not in CAT_MODELS:
        return None
    try:
        a, d = float(irt["a"]), float(irt["d"])
        c = float(irt.get("c") or 0.0)
    except (KeyError, TypeError, ValueError):
        return None
    if not (math.isfinite(a) and math.isfinite(d) and a > 0 and 0 <= c < 1):
        return None
    return a, d, c


async def _adaptive_pool(
    session: AsyncSession,
    organization_id: uuid.UUID,
    definition: AssessmentDefinition,
    section: Section,
) -> tuple[list[PinnedCatItem], list[schemas.PinProblem]]:
    """An adaptive section's pool with each published version's parameters, and every
    reason it cannot run (items without parameters, unpublished, too few items, content
    tags no item carries). Items fixed in another section are left out of a bank's pool."""
    settings = section.adaptive
    assert settings is not None
    problems: list[schemas.PinProblem] = []

    def problem(detail: str, item_id: uuid.UUID | None = None) -> None:
        problems.append(
            schemas.PinProblem(
                code=AdaptivePoolInvalid.code,
                section=section.identifier,
                item_id=item_id,
                detail=f"adaptive section {section.identifier!r}: {detail}",
            )
        )

    fixed = {ref.item_id for s in definition.sections if s is not section for ref in s.items}
    pinned: list[PinnedItem] = []
    if section.items:
        for ref in section.items:
            item = await session.get(Item, ref.item_id)
            if item is None or item.organization_id != organization_id:
                problem(f"item {ref.item_id} does not exist in this organization", ref.item_id)
                continue
            if item.published_version is None:
                problem(f"item {item.identifier!r} has no published version", item.id)
                continue
            version_id = (
                await session.execute(
                    select(ItemVersion.id).where(
                        ItemVersion.item_id == item.id,
                        ItemVersion.version == item.published_version,
                    )
                )
            ).scalar_one()
            pinned.append(
                PinnedItem(
                    item_id=item.id,
                    item_version_id=version_id,
                    version=item.published_version,
                    weight=ref.weight,
                )
            )
    else:
        assert settings.bank_id is not None
        rule = Selection(bank_id=settings.bank_id, count=1, tags=list(settings.tags))
        pinned = [
            p
            for p in await _published_pool(session, organization_id, rule)
            if p.item_id not in fixed
        ]
    rows = {
        row[0]: row
        for row in (
            await session.execute(
                select(ItemVersion.id, ItemVersion.irt, ItemVersion.tags, Item.identifier)
                .join(Item, Item.id == ItemVersion.item_id)
                .where(ItemVersion.id.in_([p.item_version_id for p in pinned]))
            )
        ).all()
    }
    fixed_refs = set(
        (await session.execute(select(Item.identifier).where(Item.id.in_(fixed)))).scalars()
    )
    pool: list[PinnedCatItem] = []
    taken: set[str] = set(fixed_refs)
    for pin_item in pinned:
        _, irt, tags, identifier = rows[pin_item.item_version_id]
        parameters = _cat_parameters(irt)
        if parameters is None:
            problem(
                f"item {identifier!r} has no right/wrong IRT parameters (rasch, 2pl or 3pl) "
                "on its published version; calibrate it first",
                pin_item.item_id,
            )
            continue
        cat_ref = identifier
        n = 1
        while cat_ref in taken:
            n += 1
            cat_ref = f"{identifier}-{n}"
        taken.add(cat_ref)
        a, d, c = parameters
        pool.append(
            PinnedCatItem(
                **pin_item.model_dump(), ref=cat_ref, a=a, d=d, c=c, tags=list(tags or [])
            )
        )
    if not problems and len(pool) < settings.min_items:
        problem(
            f"the pool has {len(pool)} calibrated items, fewer than min_items {settings.min_items}"
        )
    carried = {t for p in pool for t in p.tags}
    for tag, share in settings.content.items():
        if share > 0 and tag not in carried:
            problem(f"no pool item carries the content tag {tag!r}")
    return pool, problems


async def pool_size(
    session: AsyncSession,
    principal: Principal,
    *,
    bank_id: uuid.UUID,
    tags: list[str],
    subject: str | None,
    interaction_types: list[str],
) -> schemas.PoolSize:
    """How many published items a selection rule with these filters draws from, now (what
    publishing would pin); for authors composing a rule."""
    require_author(principal)
    bank = await session.get(ItemBank, bank_id)
    if bank is None or bank.organization_id != principal.organization_id:
        raise UnknownItemBank(f"item bank {bank_id} does not exist in this organization")
    rule = Selection(
        bank_id=bank_id,
        count=1,
        tags=tags,
        subject=subject or None,
        interaction_types=interaction_types,
    )
    pool = await _published_pool(session, principal.organization_id, rule)
    return schemas.PoolSize(
        bank_id=bank_id,
        tags=rule.tags,
        subject=rule.subject,
        interaction_types=rule.interaction_types,
        count=len(pool),
    )


_PIN_ERROR_CLASSES: dict[
    str, type[UnknownItem | ItemNotPublished | SelectionUnsatisfiable | AdaptivePoolInvalid]
] = {
    cls.code: cls
    for cls in (UnknownItem, ItemNotPublished, SelectionUnsatisfiable, AdaptivePoolInvalid)
}


async def pin(
    session: AsyncSession, organization_id: uuid.UUID, definition: AssessmentDefinition
) -> Pinned:
    """Pin fixed items to their published versions and selection rules to their pools;
    refuse (422, with the reason) what the bank cannot satisfy. Every problem of every
    section is found before refusing: the problem is the first one's (its class, code and
    detail), with ``section`` naming its section and ``problems`` listing all of them
    (:class:`schemas.PinProblem`), so an editor can show each where it is."""
    sections: list[PinnedSection] = []
    problems: list[schemas.PinProblem] = []
    for section in definition.sections:
        if section.adaptive is not None:
            cat_pool, cat_problems = await _adaptive_pool(
                session, organization_id, definition, section
            )
            problems += cat_problems
            if cat_pool and not cat_problems and section.adaptive.exposure_target is not None:
                bank = adaptive.section_bank(cat_pool)
                rules = adaptive.section_rules(section.adaptive, cat_pool)
                k = adaptive.sympson_hetter(
                    bank, replace(rules, exposure=None), section.adaptive.exposure_target
                )
                cat_pool = [
                    p.model_copy(update={"exposure": float(k[j])}) for j, p in enumerate(cat_pool)
                ]
            sections.append(
                PinnedSection(
                    identifier=section.identifier,
                    draw=section.adaptive.max_items,
                    adaptive=cat_pool,
                )
            )
            continue
        if section.selection is not None:
            pool = await _published_pool(session, organization_id, section.selection)
            if len(pool) < section.selection.count:
                rule = section.selection
                what = ", ".join(
                    part
                    for part in (
                        f"tags {rule.tags}" if rule.tags else "",
                        f"subject {rule.subject!r}" if rule.subject else "",
                        f"types {rule.interaction_types}" if rule.interaction_types else "",
                    )
                    if part
                )
                problems.append(
                    schemas.PinProblem(
                        code=SelectionUnsatisfiable.code,
                        section=section.identifier,
                        pool_size=len(pool),
                        detail=f"section {section.identifier!r} draws {rule.count} items but "
                        f"the bank has only {len(pool)} published items matching"
                        + (f" ({what})" if what else ""),
                    )
                )
            sections.append(
                PinnedSection(
                    identifier=section.identifier, pool=pool, draw=section.selection.count
                )
            )
            continue
        pinned_items = []
        for ref in section.items:
            item = await session.get(Item, ref.item_id)
            if item is None or item.organization_id != organization_id:
                problems.append(
                    schemas.PinProblem(
                        code=UnknownItem.code,
                        section=section.identifier,
                        item_id=ref.item_id,
                        detail=f"item {ref.item_id} does not exist in this organization",
                    )
                )
                continue
            if item.published_version is None:
                problems.append(
                    schemas.PinProblem(
                        code=ItemNotPublished.code,
                        section=section.identifier,
                        item_id=item.id,
                        detail=f"item {item.identifier!r} ({item.id}) has no published version",
                    )
                )
                continue
            version_id = (
                await session.execute(
                    select(ItemVersion.id).where(
                        ItemVersion.item_id == item.id,
                        ItemVersion.version == item.published_version,
                    )
                )
            ).scalar_one()
            pinned_items.append(
                PinnedItem(
                    item_id=item.id,
                    item_version_id=version_id,
                    version=item.published_version,
                    weight=ref.weight,
                )
            )
        sections.append(PinnedSection(identifier=section.identifier, items=pinned_items))
    if problems:
        first = problems[0]
        raise _PIN_ERROR_CLASSES[first.code](
            first.detail,
            extra={
                "section": first.section,
                "problems": [p.model_dump(mode="json", exclude_none=True) for p in problems],
            },
        )
    return Pinned(sections=sections)


async def publish(
    session: AsyncSession, principal: Principal, assessment_id: uuid.UUID
) -> tuple[Assessment, AssessmentVersion]:
    require_author(principal)
    assessment, version = await get_version(session, principal, assessment_id, None)
    await session.refresh(version, with_for_update=True)
    if version.status != AssessmentStatus.draft.value:
        raise AssessmentVersionNotDraft(
            f"version {version.version} is {version.status}; only a draft is published"
        )
    definition = AssessmentDefinition.model_validate(version.definition)
    _refuse_unsupported(definition)
    await _check_integrity_policy(session, principal.organization_id, definition)
    pinned = await pin(session, principal.organization_id, definition)
    changed = (
        await session.execute(
            update(AssessmentVersion)
            .where(
                AssessmentVersion.id == version.id,
                AssessmentVersion.status == AssessmentStatus.draft.value,
            )
            .values(
                status=AssessmentStatus.published.value,
                pinned=pinned.model_dump(mode="json"),
                published_at=utcnow(),
            )
            .returning(AssessmentVersion.id)
        )
    ).first()
    if changed is None:
        raise AssessmentVersionNotDraft("this version was published meanwhile")
    await session.refresh(version)
    assessment.published_version = version.version
    await session.flush()
    await _audit(
        session, principal, "assessment.published", assessment.id, {"version": version.version}
    )
    return assessment, version


async def preview(
    session: AsyncSession,
    principal: Principal,
    assessment_id: uuid.UUID,
    version_number: int | None,
    seed: int,
) -> schemas.AssessmentPreview:
    """A form as a candidate with this seed would get it: items rendered without keys. A
    draft is pinned on the fly (so authors see what publishing would give)."""
    require_author(principal)
    _, version = await get_version(session, principal, assessment_id, version_number)
    definition = AssessmentDefinition.model_validate(version.definition)
    pinned = (
        Pinned.model_validate(version.pinned)
        if version.pinned is not None
        else await pin(session, principal.organization_id, definition)
    )
    form = assemble(definition, pinned, seed)
    items = []
    for entry in form:
        item_version = await session.get(ItemVersion, entry.item_version_id)
        assert item_version is not None
        shown = await content_stimuli.for_item_version(session, item_version)
        payload = content_service.candidate_payload(
            item_version, seed if definition.shuffle_choices else None, shared_stimuli=shown
        )
        items.append(
            schemas.PreviewItem(
                position=entry.position,
                section=entry.section,
                item=CandidateItem.model_validate(payload),
            )
        )
    return schemas.AssessmentPreview(
        title=definition.title,
        navigation=definition.navigation,
        time_limit_s=definition.time_limit_s,
        seed=seed,
        items=items,
    )


# --- administrations ---------------------------------------------------------------------


def _local(moment: datetime, zone: str) -> str:
    return moment.astimezone(ZoneInfo(zone)).isoformat()


async def administration_read(
    session: AsyncSession, administration: Administration
) -> schemas.AdministrationRead:
    org = await session.get(Organization, administration.organization_id)
    zone = org.timezone if org is not None else "UTC"
    proctors = (
        (
            await session.execute(
                select(AdministrationProctor.user_id).where(
                    AdministrationProctor.administration_id == administration.id
                )
            )
        )
        .scalars()
        .all()
    )
    size = (
        await session.execute(
            select(func.count())
            .select_from(RosterEntry)
            .where(RosterEntry.administration_id == administration.id)
        )
    ).scalar_one()
    version = await session.get(AssessmentVersion, administration.assessment_version_id)
    assert version is not None
    return schemas.AdministrationRead(
        id=administration.id,
        assessment_version_id=administration.assessment_version_id,
        assessment_id=version.assessment_id,
        assessment_title=str(version.definition.get("title", "")),
        assessment_version=version.version,
        title=administration.title,
        opens_at=administration.opens_at,
        closes_at=administration.closes_at,
        timezone=zone,
        opens_at_local=_local(administration.opens_at, zone),
        closes_at_local=_local(administration.closes_at, zone),
        proctor_ids=list(proctors),
        notes=administration.notes,
        cancelled_at=administration.cancelled_at,
        archived_at=administration.archived_at,
        roster_size=int(size),
        locale=administration.locale,
        locales=list(administration.locales or []),
    )


async def _set_proctors(
    session: AsyncSession,
    principal: Principal,
    administration: Administration,
    ids: list[uuid.UUID],
) -> None:
    for user_id in ids:
        user = await session.get(User, user_id)
        if (
            user is None
            or user.organization_id != principal.organization_id
            or Role.proctor.value not in user.roles
        ):
            raise UnknownProctor(f"user {user_id} is not a proctor of this organization")
    current = (
        (
            await session.execute(
                select(AdministrationProctor).where(
                    AdministrationProctor.administration_id == administration.id
                )
            )
        )
        .scalars()
        .all()
    )
    for row in current:
        if row.user_id not in ids:
            await session.delete(row)
    have = {row.user_id for row in current}
    for user_id in dict.fromkeys(ids):
        if user_id not in have:
            session.add(
                AdministrationProctor(
                    organization_id=principal.organization_id,
                    administration_id=administration.id,
                    user_id=user_id,
                )
            )
    await session.flush()


async def create_administration(
    session: AsyncSession, principal: Principal, data: schemas.AdministrationCreate
) -> Administration:
    require_admin(principal)
    version = await get_scoped(
        session,
        AssessmentVersion,
        data.assessment_version_id,
        principal.organization_id,
        what="assessment version",
        error=AssessmentVersionNotFound,
    )
    if version.status != AssessmentStatus.published.value:
        raise AssessmentVersionNotPublished(
            "only a published assessment version can be administered"
        )
    administration = Administration(
        organization_id=principal.organization_id,
        assessment_version_id=version.id,
        title=data.title,
        opens_at=data.opens_at,
        closes_at=data.closes_at,
        notes=data.notes,
        locale=data.locale,
        locales=list(data.locales),
    )
    session.add(administration)
    await session.flush()
    await _set_proctors(session, principal, administration, data.proctor_ids)
    await _audit(
        session,
        principal,
        "administration.created",
        administration.id,
        {"assessment_version_id": str(version.id), "proctors": [str(p) for p in data.proctor_ids]},
        target_type="administration",
    )
    return administration


async def get_administration(
    session: AsyncSession, principal: Principal, administration_id: uuid.UUID
) -> Administration:
    """Admins see every administration; proctors only those they are assigned to."""
    administration = await get_scoped(
        session,
        Administration,
        administration_id,
        principal.organization_id,
        what="administration",
        error=AdministrationNotFound,
    )
    if principal.has_any(Role.admin):
        return administration
    if principal.has_any(Role.proctor) and await is_assigned_proctor(
        session, administration.id, principal.user_id
    ):
        return administration
    raise AdministrationNotFound(f"administration {administration_id} not found")


async def is_assigned_proctor(
    session: AsyncSession, administration_id: uuid.UUID, user_id: uuid.UUID
) -> bool:
    row = (
        await session.execute(
            select(AdministrationProctor.id).where(
                AdministrationProctor.administration_id == administration_id,
                AdministrationProctor.user_id == user_id,
            )
        )
    ).first()
    return row is not None


async def list_administrations(
    session: AsyncSession, principal: Principal, *, archived: bool = False
) -> Sequence[Administration]:
    stmt = scoped(select(Administration), Administration, principal.organization_id)
    if not archived:
        stmt = stmt.where(Administration.archived_at.is_(None))
    if not principal.has_any(Role.admin):
        stmt = stmt.where(
            Administration.id.in_(
                select(AdministrationProctor.administration_id).where(
                    AdministrationProctor.user_id == principal.user_id
                )
            )
        )
    return (await session.execute(stmt.order_by(Administration.opens_at))).scalars().all()


async def update_administration(
    session: AsyncSession,
    principal: Principal,
    administration_id: uuid.UUID,
    data: schemas.AdministrationUpdate,
) -> Administration:
    require_admin(principal)
    administration = await get_administration(session, principal, administration_id)
    changes = data.model_dump(exclude_unset=True)
    opens = changes.get("opens_at") or administration.opens_at
    closes = changes.get("closes_at") or administration.closes_at
    if opens.tzinfo is None or closes.tzinfo is None:
        raise AdministrationWindowInvalid("opens_at and closes_at need a time zone")
    if closes <= opens:
        raise AdministrationWindowInvalid("closes_at must be after opens_at")
    for key in ("title", "opens_at", "closes_at", "notes", "locale", "locales"):
        if key in changes:
            setattr(administration, key, changes[key])
    if data.proctor_ids is not None:
        await _set_proctors(session, principal, administration, data.proctor_ids)
    if "opens_at" in changes or "closes_at" in changes:
        candidates = (
            (
                await session.execute(
                    select(RosterEntry.candidate_id).where(
                        RosterEntry.administration_id == administration.id
                    )
                )
            )
            .scalars()
            .all()
        )
        for candidate_id in candidates:
            clash = await _overlapping(session, administration, candidate_id)
            if clash is not None:
                raise AdministrationWindowOverlaps(
                    f"the new window overlaps administration {clash} of the same assessment, "
                    f"where candidate {candidate_id} is also rostered"
                )
    await session.flush()
    await _audit(
        session,
        principal,
        "administration.updated",
        administration.id,
        {"fields": sorted(changes)},
        target_type="administration",
    )
    if "opens_at" in changes or "closes_at" in changes:
        # A live attempt's deadline is capped by the window's close: compute them again
        # (delivery's task, by name: delivery builds on this domain).
        enqueue_after_commit(
            session,
            "delivery.recompute_deadlines",
            administration_id=str(administration.id),
            reason="the administration's window changed",
        )
    return administration


async def cancel_administration(
    session: AsyncSession, principal: Principal, administration_id: uuid.UUID
) -> Administration:
    require_admin(principal)
    administration = await get_administration(session, principal, administration_id)
    if administration.cancelled_at is None:
        administration.cancelled_at = utcnow()
        await session.flush()
        await _audit(
            session,
            principal,
            "administration.cancelled",
            administration.id,
            target_type="administration",
        )
        # Its live attempts are terminated (then scored) by delivery's task.
        enqueue_after_commit(
            session, "delivery.end_cancelled_attempts", administration_id=str(administration.id)
        )
    return administration


# --- archiving and deleting ----------------------------------------------------------------


async def _set_archived(
    session: AsyncSession,
    principal: Principal,
    row: Assessment | Administration,
    archived: bool,
    target_type: str,
) -> None:
    if (row.archived_at is not None) != archived:
        row.archived_at = utcnow() if archived else None
        await session.flush()
        await _audit(
            session,
            principal,
            f"{target_type}.{'archived' if archived else 'restored'}",
            row.id,
            target_type=target_type,
        )


async def archive_assessment(
    session: AsyncSession, principal: Principal, assessment_id: uuid.UUID, *, archived: bool = True
) -> tuple[Assessment, AssessmentVersion]:
    """Hide an assessment from listings (``archived=False`` restores it); reads by id, its
    administrations and attempts are unaffected. Idempotent."""
    require_author(principal)
    assessment, latest = await get_version(session, principal, assessment_id, None)
    await _set_archived(session, principal, assessment, archived, "assessment")
    return assessment, latest


async def delete_assessment(
    session: AsyncSession, principal: Principal, assessment_id: uuid.UUID
) -> None:
    """Delete an assessment with its versions and their administrations (rosters and
    proctors with them; admins). Refused (AssessmentInUse, nothing deleted) once an attempt
    was made on any version: the attempt's foreign keys say so."""
    require_admin(principal)
    assessment = await get_scoped(
        session,
        Assessment,
        assessment_id,
        principal.organization_id,
        what="assessment",
        error=AssessmentNotFound,
    )
    versions = select(AssessmentVersion.id).where(AssessmentVersion.assessment_id == assessment.id)
    administrations = select(Administration.id).where(
        Administration.assessment_version_id.in_(versions)
    )
    try:
        async with session.begin_nested():
            await _delete_administration_rows(session, administrations)
            await session.execute(
                delete(AssessmentVersion).where(AssessmentVersion.assessment_id == assessment.id)
            )
            await session.execute(delete(Assessment).where(Assessment.id == assessment.id))
    except IntegrityError:
        raise AssessmentInUse("attempts were made on this assessment; archive it instead") from None
    await _audit(session, principal, "assessment.deleted", assessment_id, {"slug": assessment.slug})


async def _delete_administration_rows(session: AsyncSession, ids: Any) -> None:
    await session.execute(
        delete(AdministrationProctor).where(AdministrationProctor.administration_id.in_(ids))
    )
    await session.execute(delete(RosterEntry).where(RosterEntry.administration_id.in_(ids)))
    await session.execute(delete(Administration).where(Administration.id.in_(ids)))


async def archive_administration(
    session: AsyncSession,
    principal: Principal,
    administration_id: uuid.UUID,
    *,
    archived: bool = True,
) -> Administration:
    """Hide an administration from listings (``archived=False`` restores it); reads by id,
    its roster and attempts are unaffected. Idempotent."""
    require_admin(principal)
    administration = await get_administration(session, principal, administration_id)
    await _set_archived(session, principal, administration, archived, "administration")
    return administration


async def delete_administration(
    session: AsyncSession, principal: Principal, administration_id: uuid.UUID
) -> None:
    """Delete an administration with its roster and proctors (admins). Refused
    (AdministrationInUse, nothing deleted) once an attempt was made in it."""
    require_admin(principal)
    administration = await get_administration(session, principal, administration_id)
    try:
        async with session.begin_nested():
            await _delete_administration_rows(
                session, select(Administration.id).where(Administration.id == administration.id)
            )
    except IntegrityError:
        raise AdministrationInUse(
            "attempts were made in this administration; archive it instead"
        ) from None
    await _audit(
        session,
        principal,
        "administration.deleted",
        administration_id,
        target_type="administration",
    )


async def _assessments_using(
    session: AsyncSession,
    organization_id: uuid.UUID,
    bank_ids: Sequence[uuid.UUID],
    item_ids: Sequence[uuid.UUID],
) -> str | None:
    """The first assessment version whose definition or pinned form names one of the banks
    or items (fixed items, selections, pinned pools), for the bank's deletion guard."""
    wanted = {str(i) for i in (*bank_ids, *item_ids)}
    if not wanted:
        return None
    rows = await session.execute(
        select(
            Assessment.slug,
            AssessmentVersion.version,
            AssessmentVersion.definition,
            AssessmentVersion.pinned,
        )
        .join(Assessment, Assessment.id == AssessmentVersion.assessment_id)
        .where(AssessmentVersion.organization_id == organization_id)
        .order_by(Assessment.slug, AssessmentVersion.version)
    )
    for slug, version, definition, pinned in rows:
        if _names_any((definition, pinned), wanted):
            return f"assessment {slug!r} version {version} uses it"
    return None


def _names_any(document: Any, wanted: set[str]) -> bool:
    if isinstance(document, str):
        return document in wanted
    if isinstance(document, dict):
        return any(_names_any(v, wanted) for v in document.values())
    if isinstance(document, (list, tuple)):
        return any(_names_any(v, wanted) for v in document)
    return False


content_service.register_deletion_check(_assessments_using)


# --- rosters and access codes ------------------------------------------------------------


def new_access_code() -> str:
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return "-".join(raw[i : i + 4] for i in range(0, CODE_LENGTH, 4))


def normalize_code(code: str) -> str:
    """Upper case without separators; the look-alikes O, I and L read as 0, 1 and 1."""
    cleaned = "".join(ch for ch in code.upper() if ch.isalnum())
    return cleaned.translate(str.maketrans("OIL", "011"))


def code_hmac(settings: Settings, code: str) -> str:
    return keyed_hash(settings, "access-code", normalize_code(code))


async def _overlapping(
    session: AsyncSession, administration: Administration, candidate_id: uuid.UUID
) -> uuid.UUID | None:
    """Another live administration of the same assessment, with an overlapping window,
    that already has this candidate on its roster."""
    version = await session.get(AssessmentVersion, administration.assessment_version_id)
    assert version is not None
    same_assessment = select(AssessmentVersion.id).where(
        AssessmentVersion.assessment_id == version.assessment_id
    )
    row = (
        await session.execute(
            select(Administration.id)
            .join(RosterEntry, RosterEntry.administration_id == Administration.id)
            .where(
                RosterEntry.candidate_id == candidate_id,
                Administration.id != administration.id,
                Administration.cancelled_at.is_(None),
                Administration.assessment_version_id.in_(same_assessment),
                Administration.opens_at < administration.closes_at,
                Administration.closes_at > administration.opens_at,
            )
            .limit(1)
        )
    ).first()
    return row[0] if row else None


@dataclass
class IssuedEntry:
    entry: RosterEntry
    code: str | None


def entry_read(entry: RosterEntry, code: str | None = None) -> schemas.RosterEntryRead:
    return schemas.RosterEntryRead(
        id=entry.id,
        candidate_id=entry.candidate_id,
        accommodations=schemas.Accommodations(
            extra_time_multiplier=entry.extra_time_multiplier,
            extra_attempts=entry.extra_attempts,
            extra_breaks=entry.extra_breaks,
            accessibility_supports=list(entry.accessibility_supports or []),
        ),
        code_active=entry.access_code_hmac is not None and entry.code_revoked_at is None,
        code_issued_at=entry.code_issued_at,
        access_code=code,
    )


async def add_to_roster(
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    administration_id: uuid.UUID,
    entries: Sequence[schemas.RosterAdd],
    *,
    row_labels: Sequence[int] | None = None,
) -> list[IssuedEntry]:
    """Add candidates with their accommodations and issue each an access code. Every
    problem is reported per row (422 with ``problems``) and then nothing is added."""
    require_admin(principal)
    administration = await get_administration(session, principal, administration_id)
    if administration.cancelled_at is not None:
        raise AdministrationCancelled("this administration was cancelled")
    labels = list(row_labels) if row_labels is not None else list(range(1, len(entries) + 1))
    problems: list[schemas.RowProblem] = []
    existing = set(
        (
            await session.execute(
                select(RosterEntry.candidate_id).where(
                    RosterEntry.administration_id == administration.id
                )
            )
        ).scalars()
    )
    seen: set[uuid.UUID] = set()
    for label, entry in zip(labels, entries, strict=True):
        candidate = await session.get(Candidate, entry.candidate_id)
        if candidate is None or candidate.organization_id != principal.organization_id:
            problems.append(
                schemas.RowProblem(row=label, problem=f"unknown candidate {entry.candidate_id}")
            )
        elif candidate.erased_at is not None:
            problems.append(schemas.RowProblem(row=label, problem="this candidate was erased"))
        elif entry.candidate_id in existing or entry.candidate_id in seen:
            problems.append(
                schemas.RowProblem(row=label, problem="candidate is already on the roster")
            )
        else:
            clash = await _overlapping(session, administration, entry.candidate_id)
            if clash is not None:
                problems.append(
                    schemas.RowProblem(
                        row=label,
                        problem=f"candidate is rostered in administration {clash} of the same "
                        "assessment, whose window overlaps this one",
                    )
                )
        seen.add(entry.candidate_id)
    if problems:
        raise RosterRejected(problems)
    issued: list[IssuedEntry] = []
    now = utcnow()
    for entry in entries:
        code = new_access_code()
        row = RosterEntry(
            organization_id=principal.organization_id,
            administration_id=administration.id,
            candidate_id=entry.candidate_id,
            extra_time_multiplier=entry.accommodations.extra_time_multiplier,
            extra_attempts=entry.accommodations.extra_attempts,
            extra_breaks=entry.accommodations.extra_breaks,
            accessibility_supports=list(entry.accommodations.accessibility_supports),
            access_code_hmac=code_hmac(settings, code),
            code_issued_at=now,
        )
        session.add(row)
        issued.append(IssuedEntry(row, code))
    await session.flush()
    await audit.record_many(
        session,
        organization_id=principal.organization_id,
        events=[
            audit.PendingEvent(
                "roster.added",
                principal.actor,
                "roster_entry",
                i.entry.id,
                {
                    "administration_id": str(administration.id),
                    "candidate_id": str(i.entry.candidate_id),
                    "extra_time_multiplier": i.entry.extra_time_multiplier,
                    "extra_attempts": i.entry.extra_attempts,
                    "extra_breaks": i.entry.extra_breaks,
                    "accessibility_supports": list(i.entry.accessibility_supports),
                },
            )
            for i in issued
        ],
    )
    return issued


MAX_CSV_ROWS = 20_000


async def import_roster_csv(
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    administration_id: uuid.UUID,
    text: str,
) -> list[IssuedEntry]:
    """A roster from CSV: a header row with ``external_id`` or ``email`` (the candidate),
    and optionally ``extra_time_multiplier``, ``extra_attempts``, ``extra_breaks``,
    ``accessibility_supports`` (names separated by spaces, commas or semicolons) and
    ``locale`` (the candidate's language, set on the candidate; empty keeps it). All rows
    or none: each problem is reported with its row number (the header is row 1)."""
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in (reader.fieldnames or [])]
    if not {"external_id", "email"} & set(header):
        raise RosterCsvInvalid("the CSV needs a header row with an external_id or email column")
    unknown = set(header) - set(schemas.RosterCsvRow.model_fields)
    if unknown:
        raise RosterCsvInvalid(f"unknown CSV columns: {', '.join(sorted(unknown))}")
    problems: list[schemas.RowProblem] = []
    entries: list[schemas.RosterAdd] = []
    labels: list[int] = []
    languages: dict[uuid.UUID, str] = {}
    for number, raw in enumerate(reader, start=2):
        if number > MAX_CSV_ROWS + 1:
            raise RosterCsvInvalid(f"the CSV has more than {MAX_CSV_ROWS} rows")
        values = {k.strip(): (v or "").strip() for k, v in raw.items() if k is not None}
        values = {k: v for k, v in values.items() if v != ""}
        try:
            row = schemas.RosterCsvRow.model_validate(values)
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first["loc"])
            problems.append(schemas.RowProblem(row=number, problem=f"{field}: {first['msg']}"))
            continue
        stmt = scoped(select(Candidate.id), Candidate, principal.organization_id)
        if row.external_id:
            stmt = stmt.where(Candidate.external_id == row.external_id)
            label = f"external_id {row.external_id!r}"
        elif row.email:
            stmt = stmt.where(Candidate.email == str(row.email).lower())
            label = f"email {row.email}"
        else:
            problems.append(schemas.RowProblem(row=number, problem="no external_id or email"))
            continue
        found = (await session.execute(stmt.limit(2))).scalars().all()
        if len(found) != 1:
            problems.append(
                schemas.RowProblem(
                    row=number,
                    problem=f"no candidate with {label}"
                    if not found
                    else f"several candidates have {label}",
                )
            )
            continue
        if row.locale is not None:
            languages[found[0]] = row.locale
        entries.append(
            schemas.RosterAdd(
                candidate_id=found[0],
                accommodations=schemas.Accommodations(
                    extra_time_multiplier=row.extra_time_multiplier,
                    extra_attempts=row.extra_attempts,
                    extra_breaks=row.extra_breaks,
                    accessibility_supports=row.accessibility_supports,
                ),
            )
        )
        labels.append(number)
    if problems:
        raise RosterRejected(problems)
    if not entries:
        raise RosterCsvInvalid("the CSV has no rows")
    issued = await add_to_roster(
        session, settings, principal, administration_id, entries, row_labels=labels
    )
    await _set_candidate_languages(session, principal, languages)
    return issued


async def _set_candidate_languages(
    session: AsyncSession, principal: Principal, languages: dict[uuid.UUID, str]
) -> None:
    """A roster's language column: each candidate's language, audited as a change of the
    candidate (only where it changes)."""
    changed: list[uuid.UUID] = []
    for candidate_id, locale in languages.items():
        candidate = await session.get(Candidate, candidate_id)
        if candidate is not None and candidate.locale != locale:
            candidate.locale = locale
            changed.append(candidate_id)
    if not changed:
        return
    await session.flush()
    await audit.record_many(
        session,
        organization_id=principal.organization_id,
        events=[
            audit.PendingEvent(
                "candidate.updated",
                principal.actor,
                "candidate",
                candidate_id,
                {"fields": ["locale"]},
            )
            for candidate_id in changed
        ],
    )


async def list_roster(
    session: AsyncSession, principal: Principal, administration_id: uuid.UUID
) -> Sequence[RosterEntry]:
    administration = await get_administration(session, principal, administration_id)
    return (
        (
            await session.execute(
                select(RosterEntry)
                .where(RosterEntry.administration_id == administration.id)
                .order_by(RosterEntry.id)
            )
        )
        .scalars()
        .all()
    )


async def _entry(
    session: AsyncSession, principal: Principal, administration_id: uuid.UUID, entry_id: uuid.UUID
) -> RosterEntry:
    administration = await get_administration(session, principal, administration_id)
    entry = await session.get(RosterEntry, entry_id)
    if entry is None or entry.administration_id != administration.id:
        raise RosterEntryNotFound(f"roster entry {entry_id} not found")
    return entry


async def update_accommodations(
    session: AsyncSession,
    principal: Principal,
    administration_id: uuid.UUID,
    entry_id: uuid.UUID,
    data: schemas.Accommodations,
) -> RosterEntry:
    require_admin(principal)
    entry = await _entry(session, principal, administration_id, entry_id)
    entry.extra_time_multiplier = data.extra_time_multiplier
    entry.extra_attempts = data.extra_attempts
    entry.extra_breaks = data.extra_breaks
    entry.accessibility_supports = list(data.accessibility_supports)
    await session.flush()
    await _audit(
        session,
        principal,
        "roster.accommodations_changed",
        entry.id,
        data.model_dump(),
        target_type="roster_entry",
    )
    # The extra time applies to a live attempt too: its deadline is computed again.
    enqueue_after_commit(
        session,
        "delivery.recompute_deadlines",
        roster_entry_id=str(entry.id),
        reason="the candidate's accommodations changed",
    )
    return entry


async def reissue_code(
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    administration_id: uuid.UUID,
    entry_id: uuid.UUID,
) -> IssuedEntry:
    """A new code for the entry; the old one stops working at once."""
    require_admin(principal)
    entry = await _entry(session, principal, administration_id, entry_id)
    code = new_access_code()
    entry.access_code_hmac = code_hmac(settings, code)
    entry.code_issued_at = utcnow()
    entry.code_revoked_at = None
    await session.flush()
    await _revoke_attempt_credentials(session, entry.id)
    await _audit(session, principal, "roster.code_reissued", entry.id, target_type="roster_entry")
    return IssuedEntry(entry, code)


async def revoke_code(
    session: AsyncSession, principal: Principal, administration_id: uuid.UUID, entry_id: uuid.UUID
) -> RosterEntry:
    require_admin(principal)
    entry = await _entry(session, principal, administration_id, entry_id)
    if entry.code_revoked_at is None:
        entry.code_revoked_at = utcnow()
        await session.flush()
        await _revoke_attempt_credentials(session, entry.id)
        await _audit(
            session, principal, "roster.code_revoked", entry.id, target_type="roster_entry"
        )
    return entry


async def _revoke_attempt_credentials(session: AsyncSession, entry_id: uuid.UUID) -> None:
    """A new or revoked code also ends every credential handed out for the entry's
    attempts (the attempt credential is derived from its epoch). Written against the
    attempt table by name: delivery builds on this domain, not the other way round."""
    await session.execute(
        text(
            "UPDATE attempt SET credential_epoch = credential_epoch + 1 WHERE roster_entry_id = :e"
        ),
        {"e": entry_id.hex if session.get_bind().dialect.name == "sqlite" else entry_id},
    )


async def find_by_code(session: AsyncSession, settings: Settings, code: str) -> RosterEntry | None:
    """The roster entry an access code opens: one indexed equality lookup on its HMAC (no
    password hashing on the start path). Revoked codes open nothing."""
    if not 8 <= len(code) <= 64:
        return None
    entry = (
        await session.execute(
            select(RosterEntry).where(RosterEntry.access_code_hmac == code_hmac(settings, code))
        )
    ).scalar_one_or_none()
    if entry is None or entry.code_revoked_at is not None:
        return None
    return entry
