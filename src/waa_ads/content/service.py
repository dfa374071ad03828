"""Item bank rules: banks and their permissions, items and their immutable versions, the
draft -> in review -> published -> retired workflow, search.

Services flush, never commit. Every change is audited, naming people by id only.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from waa_ads.audit import service as audit
from waa_ads.auth.deps import Principal
from waa_ads.auth.errors import RoleRequired, UserNotFound
from waa_ads.auth.models import Organization, Role, User
from waa_ads.content import schemas, stimuli
from waa_ads.content.errors import (
    BankInUse,
    BankNotFound,
    BankReviewerRequired,
    BankSlugTaken,
    BankWriteForbidden,
    ItemIdentifierChanged,
    ItemIdentifierTaken,
    ItemInUse,
    ItemIsTranslation,
    ItemNotFound,
    ItemNotPublished,
    ItemVersionNotFound,
    ItemVersionStale,
    ItemVersionWrongStatus,
    LanguageNotSupported,
    RubricNeedsExtendedText,
    RubricVersionNotFound,
    TranslationExists,
    TranslationMismatch,
)
from waa_ads.content.item import templates
from waa_ads.content.item.definition import InteractionType, ItemDefinition
from waa_ads.content.item.variants import variant_mismatch
from waa_ads.content.models import (
    BankMember,
    BankPermission,
    Item,
    ItemBank,
    ItemTag,
    ItemVersion,
    RubricVersion,
    VersionStatus,
)
from waa_ads.content.render.candidate import candidate_view
from waa_ads.content.render.feedback import candidate_feedback
from waa_ads.core import i18n
from waa_ads.core.db import Base, utcnow, uuid7
from waa_ads.core.pagination import paginate
from waa_ads.core.tenancy import get_scoped, scoped

# --- access ------------------------------------------------------------------------------


@dataclass(frozen=True)
class BankAccess:
    bank: ItemBank
    can_write: bool
    can_review: bool


async def bank_access(
    session: AsyncSession, principal: Principal, bank_id: uuid.UUID
) -> BankAccess:
    """The caller's rights on a bank. A bank the caller may not read is a 404, as if it did
    not exist. Admins may do everything; others need a row in ``bank_member``."""
    bank = await get_scoped(
        session, ItemBank, bank_id, principal.organization_id, what="item bank", error=BankNotFound
    )
    if principal.has_any(Role.admin):
        return BankAccess(bank, True, True)
    member = (
        await session.execute(
            select(BankMember.permission).where(
                BankMember.bank_id == bank.id, BankMember.user_id == principal.user_id
            )
        )
    ).scalar_one_or_none()
    if member is None or not principal.has_any(Role.author):
        raise BankNotFound(f"item bank {bank_id} not found")
    return BankAccess(bank, True, member == BankPermission.reviewer.value)


def _require_write(access: BankAccess) -> None:
    if not access.can_write:
        raise BankWriteForbidden("you may not change items in this bank")


# --- banks -------------------------------------------------------------------------------


async def create_bank(
    session: AsyncSession, principal: Principal, data: schemas.BankCreate
) -> ItemBank:
    if not principal.has_any(Role.admin, Role.author):
        raise RoleRequired("creating an item bank needs the admin or author role")
    taken = (
        await session.execute(
            scoped(select(ItemBank.id), ItemBank, principal.organization_id).where(
                ItemBank.slug == data.slug
            )
        )
    ).first()
    if taken is not None:
        raise BankSlugTaken(f"an item bank with slug {data.slug!r} already exists")
    bank = ItemBank(organization_id=principal.organization_id, **data.model_dump())
    session.add(bank)
    await session.flush()
    if not principal.has_any(Role.admin):
        # Whoever creates a bank may write and review in it.
        session.add(
            BankMember(
                organization_id=principal.organization_id,
                bank_id=bank.id,
                user_id=principal.user_id,
                permission=BankPermission.reviewer.value,
            )
        )
        await session.flush()
    await audit.record(
        session,
        organization_id=principal.organization_id,
        action="item_bank.created",
        actor=principal.actor,
        target_type="item_bank",
        target_id=bank.id,
    )
    return bank


async def list_banks(
    session: AsyncSession, principal: Principal, *, archived: bool = False
) -> Sequence[ItemBank]:
    """The banks the caller may read; archived ones only with ``archived``."""
    stmt = scoped(select(ItemBank), ItemBank, principal.organization_id).order_by(ItemBank.slug)
    if not archived:
        stmt = stmt.where(ItemBank.archived_at.is_(None))
    if not principal.has_any(Role.admin):
        stmt = stmt.join(BankMember, BankMember.bank_id == ItemBank.id).where(
            BankMember.user_id == principal.user_id
        )
    return (await session.execute(stmt)).scalars().all()


async def update_bank(
    session: AsyncSession, principal: Principal, bank_id: uuid.UUID, data: schemas.BankUpdate
) -> ItemBank:
    access = await bank_access(session, principal, bank_id)
    if not access.can_review:
        raise BankReviewerRequired("changing a bank's settings needs the reviewer permission")
    changes = data.model_dump(exclude_unset=True)
    for key, value in changes.items():
        setattr(access.bank, key, value)
    await session.flush()
    await audit.record(
        session,
        organization_id=principal.organization_id,
        action="item_bank.updated",
        actor=principal.actor,
        target_type="item_bank",
        target_id=bank_id,
        data={"fields": sorted(changes)},
    )
    return access.bank


async def set_member(
    session: AsyncSession, principal: Principal, bank_id: uuid.UUID, data: schemas.BankMemberSet
) -> BankMember:
    if not principal.has_any(Role.admin):
        raise RoleRequired("bank permissions are granted by admins")
    bank = await get_scoped(
        session, ItemBank, bank_id, principal.organization_id, what="item bank", error=BankNotFound
    )
    await get_scoped(
        session, User, data.user_id, principal.organization_id, what="user", error=UserNotFound
    )
    member = (
        await session.execute(
            select(BankMember).where(
                BankMember.bank_id == bank.id, BankMember.user_id == data.user_id
            )
        )
    ).scalar_one_or_none()
    if member is None:
        member = BankMember(
            organization_id=principal.organization_id,
            bank_id=bank.id,
            user_id=data.user_id,
            permission=data.permission.value,
        )
        session.add(member)
    else:
        member.permission = data.permission.value
    await session.flush()
    await audit.record(
        session,
        organization_id=principal.organization_id,
        action="item_bank.member_set",
        actor=principal.actor,
        target_type="item_bank",
        target_id=bank.id,
        data={"user_id": str(data.user_id), "permission": data.permission.value},
    )
    return member


async def remove_member(
    session: AsyncSession, principal: Principal, bank_id: uuid.UUID, user_id: uuid.UUID
) -> None:
    if not principal.has_any(Role.admin):
        raise RoleRequired("bank permissions are granted by admins")
    bank = await get_scoped(
        session, ItemBank, bank_id, principal.organization_id, what="item bank", error=BankNotFound
    )
    await session.execute(
        delete(BankMember).where(BankMember.bank_id == bank.id, BankMember.user_id == user_id)
    )
    await audit.record(
        session,
        organization_id=principal.organization_id,
        action="item_bank.member_removed",
        actor=principal.actor,
        target_type="item_bank",
        target_id=bank.id,
        data={"user_id": str(user_id)},
    )


# --- archiving and deleting -------------------------------------------------------------

#: What other domains say uses items or banks (an assessment that pins an item or draws
#: from a bank): given the organization, the bank ids and the item ids about to be deleted,
#: a sentence naming the first user, or None. Registered by those domains (content may not
#: import them); attempts and results are guarded by their foreign keys as well.
DeletionCheck = Callable[
    [AsyncSession, uuid.UUID, Sequence[uuid.UUID], Sequence[uuid.UUID]], Awaitable[str | None]
]
_deletion_checks: list[DeletionCheck] = []


def register_deletion_check(check: DeletionCheck) -> None:
    if check not in _deletion_checks:
        _deletion_checks.append(check)


async def _users_of(
    session: AsyncSession,
    organization_id: uuid.UUID,
    bank_ids: Sequence[uuid.UUID],
    item_ids: Sequence[uuid.UUID],
) -> str | None:
    for check in _deletion_checks:
        reason = await check(session, organization_id, bank_ids, item_ids)
        if reason is not None:
            return reason
    return None


async def _delete_items(session: AsyncSession, item_ids: Sequence[uuid.UUID]) -> bool:
    """Delete items with their versions and tags in a savepoint; False (nothing deleted)
    when a row elsewhere still refers to one (an attempt's form, a result: their foreign
    keys restrict)."""
    if not item_ids:
        return True
    try:
        async with session.begin_nested():
            await session.execute(delete(ItemTag).where(ItemTag.item_id.in_(item_ids)))
            await session.execute(delete(ItemVersion).where(ItemVersion.item_id.in_(item_ids)))
            await session.execute(delete(Item).where(Item.id.in_(item_ids)))
    except IntegrityError:
        return False
    return True


async def _set_bank_archived(
    session: AsyncSession, principal: Principal, bank_id: uuid.UUID, archived: bool
) -> ItemBank:
    access = await bank_access(session, principal, bank_id)
    if not access.can_review:
        raise BankReviewerRequired("archiving a bank needs the reviewer permission")
    bank = access.bank
    if (bank.archived_at is not None) != archived:
        bank.archived_at = utcnow() if archived else None
        await session.flush()
        await audit.record(
            session,
            organization_id=principal.organization_id,
            action="item_bank.archived" if archived else "item_bank.restored",
            actor=principal.actor,
            target_type="item_bank",
            target_id=bank.id,
        )
    return bank


async def archive_bank(session: AsyncSession, principal: Principal, bank_id: uuid.UUID) -> ItemBank:
    """Hide a bank from listings (reads by id, its items and everything that used them are
    kept); idempotent."""
    return await _set_bank_archived(session, principal, bank_id, True)


async def restore_bank(session: AsyncSession, principal: Principal, bank_id: uuid.UUID) -> ItemBank:
    return await _set_bank_archived(session, principal, bank_id, False)


async def delete_bank(session: AsyncSession, principal: Principal, bank_id: uuid.UUID) -> None:
    """Delete a bank with its items, their versions, its shared stimuli and its permissions
    (admins). Refused (BankInUse, nothing deleted) when an assessment or an attempt uses
    any of its items."""
    if not principal.has_any(Role.admin):
        raise RoleRequired("deleting an item bank needs the admin role")
    bank = (await bank_access(session, principal, bank_id)).bank
    item_ids = list(
        (await session.execute(select(Item.id).where(Item.bank_id == bank.id))).scalars()
    )
    reason = await _users_of(session, principal.organization_id, [bank.id], item_ids)
    if reason is not None:
        raise BankInUse(f"the bank is in use ({reason}); archive it instead")
    if not await _delete_items(session, item_ids):
        raise BankInUse("attempts or results used items of this bank; archive it instead")
    await session.execute(delete(BankMember).where(BankMember.bank_id == bank.id))
    await stimuli.delete_in_bank(session, bank.id)
    await session.execute(delete(ItemBank).where(ItemBank.id == bank.id))
    await audit.record(
        session,
        organization_id=principal.organization_id,
        action="item_bank.deleted",
        actor=principal.actor,
        target_type="item_bank",
        target_id=bank_id,
        data={"slug": bank.slug, "items": len(item_ids)},
    )


async def _set_item_archived(
    session: AsyncSession, principal: Principal, item_id: uuid.UUID, archived: bool
) -> Item:
    item = await get_item(session, principal, item_id)
    _require_write(await bank_access(session, principal, item.bank_id))
    if (item.archived_at is not None) != archived:
        item.archived_at = utcnow() if archived else None
        await session.flush()
        await _audit_item(
            session,
            principal,
            item,
            "item.archived" if archived else "item.restored",
            item.latest_version,
        )
    return item


async def archive_item(session: AsyncSession, principal: Principal, item_id: uuid.UUID) -> Item:
    """Hide an item from searches and exports (reads by id, assessments and attempts that
    use it are unaffected); idempotent."""
    return await _set_item_archived(session, principal, item_id, True)


async def restore_item(session: AsyncSession, principal: Principal, item_id: uuid.UUID) -> Item:
    return await _set_item_archived(session, principal, item_id, False)


async def delete_item(session: AsyncSession, principal: Principal, item_id: uuid.UUID) -> None:
    """Delete an item with all its versions. Refused (ItemInUse, nothing deleted) when an
    assessment, an attempt or a result uses any of its versions."""
    item = await get_item(session, principal, item_id)
    _require_write(await bank_access(session, principal, item.bank_id))
    reason = await _users_of(session, principal.organization_id, [], [item.id])
    if reason is not None:
        raise ItemInUse(f"the item is in use ({reason}); archive it instead")
    if not await _delete_items(session, [item.id]):
        raise ItemInUse("an attempt or a result used this item; archive it instead")
    await audit.record(
        session,
        organization_id=principal.organization_id,
        action="item.deleted",
        actor=principal.actor,
        target_type="item",
        target_id=item_id,
        data={"identifier": item.identifier, "bank_id": str(item.bank_id)},
    )


async def list_members(
    session: AsyncSession, principal: Principal, bank_id: uuid.UUID
) -> Sequence[BankMember]:
    access = await bank_access(session, principal, bank_id)
    return (
        (
            await session.execute(
                select(BankMember)
                .where(BankMember.bank_id == access.bank.id)
                .order_by(BankMember.id)
            )
        )
        .scalars()
        .all()
    )


# --- languages -----------------------------------------------------------------------------


def language_code(tag: str | None) -> str | None:
    """The product language (a code of ``i18n.LANGUAGES``) a document's language tag
    names: the tag itself, in any case, or its primary language (``fr-CA`` is ``fr``);
    None when the product does not speak it."""
    if not tag:
        return None
    by_lower = {code.lower(): code for code in i18n.LANGUAGES}
    wanted = tag.strip().replace("_", "-").lower()
    return by_lower.get(wanted) or by_lower.get(wanted.split("-")[0])


def check_language(code: str) -> str:
    """``code`` if the product speaks it, else :class:`LanguageNotSupported` (422)."""
    if code not in i18n.LANGUAGES:
        raise LanguageNotSupported(
            f"{code!r} is not a language of this product; use one of "
            + ", ".join(sorted(i18n.LANGUAGES)),
            extra={"languages": sorted(i18n.LANGUAGES)},
        )
    return code


async def default_language(session: AsyncSession, organization_id: uuid.UUID) -> str:
    """The language of items that name none: the organization's default, else English."""
    code = (
        await session.execute(
            select(Organization.default_locale).where(Organization.id == organization_id)
        )
    ).scalar_one_or_none()
    return code if code is not None and code in i18n.LANGUAGES else i18n.DEFAULT


# --- items -------------------------------------------------------------------------------


def content_hash(definition: dict[str, object]) -> str:
    return hashlib.sha256(
        json.dumps(definition, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()


async def _check_rubric(
    session: AsyncSession,
    organization_id: uuid.UUID,
    rubric_version_id: uuid.UUID | None,
    definition: ItemDefinition,
) -> None:
    """A rubric attaches to an item that people (or models) score: one with an
    extended-text interaction."""
    if rubric_version_id is None:
        return
    await get_scoped(
        session,
        RubricVersion,
        rubric_version_id,
        organization_id,
        what="rubric version",
        error=RubricVersionNotFound,
    )
    if not any(i.type is InteractionType.EXTENDED_TEXT for i in definition.interactions):
        raise RubricNeedsExtendedText(
            "a rubric can only be attached to an item with an extended-text interaction"
        )


def _version_values(
    item: ItemDefinition,
    metadata: schemas.ItemMetadata,
    rubric_version_id: uuid.UUID | None,
    change_note: str | None,
) -> dict[str, Any]:
    """The columns of a version that come from its item and bank metadata."""
    # What the document says of itself (a native item's metadata.tags and subject) fills
    # what the caller left empty, so an imported item is drawn by its tags like one whose
    # tags were sent beside it.
    metadata = metadata.or_document(item.metadata)
    definition = item.to_dict()
    return {
        "definition": definition,
        "content_hash": content_hash(definition),
        "title": item.title,
        "interaction_types": sorted({i.type.value for i in item.interactions}),
        "tags": sorted(set(metadata.tags)),
        "subject": metadata.subject,
        "language": item.language,
        "standards": list(metadata.standards),
        "estimated_time_s": metadata.estimated_time_s,
        "rubric_version_id": rubric_version_id,
        "change_note": change_note,
    }


def _fill_version(
    version: ItemVersion,
    item: ItemDefinition,
    metadata: schemas.ItemMetadata,
    rubric_version_id: uuid.UUID | None,
    change_note: str | None,
) -> None:
    for key, value in _version_values(item, metadata, rubric_version_id, change_note).items():
        setattr(version, key, value)


def _summary_values(
    identifier: str,
    version: int,
    status: str,
    title: str,
    interaction_types: Sequence[str],
    tags: Sequence[str],
    subject: str | None,
) -> dict[str, Any]:
    """The item row's summary of its newest version."""
    parts = [identifier, title, subject or "", " ".join(tags)]
    return {
        "latest_version": version,
        "status": status,
        "title": title,
        "interaction_types": list(interaction_types),
        "search_types": "|" + "".join(f"{t}|" for t in interaction_types),
        "tags": list(tags),
        "subject": subject,
        "search_text": " ".join(p for p in parts if p).lower()[:4000],
    }


def _copy_summary(item: Item, version: ItemVersion) -> None:
    """Copy the newest version's summary onto the item row."""
    summary = _summary_values(
        item.identifier,
        version.version,
        version.status,
        version.title,
        version.interaction_types,
        version.tags,
        version.subject,
    )
    for key, value in summary.items():
        setattr(item, key, value)


async def _sync_summary(session: AsyncSession, item: Item, version: ItemVersion) -> None:
    """Copy the newest version's summary onto the item row and its tag rows."""
    _copy_summary(item, version)
    await session.execute(delete(ItemTag).where(ItemTag.item_id == item.id))
    for tag in version.tags:
        session.add(ItemTag(item_id=item.id, tag=tag, organization_id=item.organization_id))
    await session.flush()


def metadata_of(version: ItemVersion) -> schemas.ItemMetadata:
    return schemas.ItemMetadata(
        tags=version.tags,
        subject=version.subject,
        standards=version.standards,
        estimated_time_s=version.estimated_time_s,
    )


@dataclass(frozen=True)
class NewItem:
    """One item to create with :func:`create_items`."""

    definition: ItemDefinition
    metadata: schemas.ItemMetadata
    rubric_version_id: uuid.UUID | None = None
    change_note: str | None = None
    audit_data: dict[str, object] | None = None
    #: The item's language (a code of ``i18n.LANGUAGES``); None: the one the document
    #: declares if the product speaks it, else the organization's default.
    language: str | None = None
    #: The item this one translates (see :func:`create_translation`).
    translation_of: uuid.UUID | None = None


async def create_item(
    session: AsyncSession,
    principal: Principal,
    bank_id: uuid.UUID,
    definition: ItemDefinition,
    *,
    metadata: schemas.ItemMetadata,
    rubric_version_id: uuid.UUID | None = None,
    change_note: str | None = None,
    audit_data: dict[str, object] | None = None,
    language: str | None = None,
) -> tuple[Item, ItemVersion]:
    new = NewItem(definition, metadata, rubric_version_id, change_note, audit_data, language)
    ((item, version),) = await create_items(session, principal, bank_id, [new])
    return item, version


#: Items whose rows :func:`insert_items` builds and writes at a time.
BULK_CHUNK = 1000


@dataclass(frozen=True, slots=True)
class CreatedItem:
    """An item :func:`insert_items` stored: its id and its first version's number."""

    item_id: uuid.UUID
    version: int
    status: str


@dataclass
class _NewRows:
    """Complete rows (every column given) of the items, versions and tags to create."""

    items: list[dict[str, Any]]
    versions: list[dict[str, Any]]
    tags: list[dict[str, Any]]


def _with_language(new: NewItem) -> NewItem:
    """A language given beside the document is written into it (its ``xml:lang`` when
    exported), unless the document already says it."""
    if new.language is None or language_code(new.definition.language) == new.language:
        return new
    definition = new.definition.model_copy(update={"language": new.language})
    return dataclasses.replace(new, definition=definition)


async def _with_stimuli(
    session: AsyncSession, bank_id: uuid.UUID, new_items: Sequence[NewItem]
) -> list[NewItem]:
    """Each item with the shared stimuli it refers to pinned to the bank's newest versions
    (content/stimuli.py); a stimulus the bank lacks refuses the batch (StimulusMissing)."""
    pinned: list[NewItem] = []
    for new in new_items:
        definition = await stimuli.pin(session, bank_id, new.definition)
        pinned.append(
            new if definition is new.definition else dataclasses.replace(new, definition=definition)
        )
    return pinned


async def _check_new_items(
    session: AsyncSession,
    principal: Principal,
    bank_id: uuid.UUID,
    new_items: Sequence[NewItem],
    publish: bool,
) -> str:
    """Check that the items may be created, in one round of checks; returns the language
    of items that name none (the organization's default)."""
    access = await bank_access(session, principal, bank_id)
    _require_write(access)
    if publish and access.bank.review_required and not access.can_review:
        raise BankReviewerRequired("this bank requires a reviewer to publish")
    identifiers = [n.definition.identifier for n in new_items]
    duplicates = {i for i, count in Counter(identifiers).items() if count > 1}
    taken = set(
        (
            await session.execute(
                select(Item.identifier).where(
                    Item.bank_id == bank_id, Item.identifier.in_(identifiers)
                )
            )
        ).scalars()
    )
    if duplicates or taken:
        clash = sorted(duplicates | taken)[0]
        raise ItemIdentifierTaken(f"an item with identifier {clash!r} already exists in this bank")
    for new in new_items:
        await _check_rubric(
            session, principal.organization_id, new.rubric_version_id, new.definition
        )
        if new.language is not None:
            check_language(new.language)
    return await default_language(session, principal.organization_id)


def _new_item_rows(
    principal: Principal,
    bank_id: uuid.UUID,
    new_items: Sequence[NewItem],
    publish: bool,
    default: str,
) -> _NewRows:
    """The rows of checked new items."""
    now = utcnow()
    organization_id = principal.organization_id
    status = VersionStatus.published.value if publish else VersionStatus.draft.value
    rows = _NewRows([], [], [])
    for new in new_items:
        item_id = uuid7()
        values = _version_values(
            new.definition, new.metadata, new.rubric_version_id, new.change_note
        )
        rows.versions.append(
            {
                "id": uuid7(),
                "organization_id": organization_id,
                "item_id": item_id,
                "version": 1,
                "status": status,
                **values,
                "statistics": {},
                "irt": {},
                "created_by": principal.actor.id,
                "created_at": now,
                "submitted_at": None,
                "published_at": now if publish else None,
                "published_by": principal.actor.id if publish else None,
                "retired_at": None,
            }
        )
        rows.items.append(
            {
                "id": item_id,
                "organization_id": organization_id,
                "bank_id": bank_id,
                "identifier": new.definition.identifier,
                "published_version": 1 if publish else None,
                **_summary_values(
                    new.definition.identifier,
                    1,
                    status,
                    values["title"],
                    values["interaction_types"],
                    values["tags"],
                    values["subject"],
                ),
                "archived_at": None,
                "language": new.language or language_code(new.definition.language) or default,
                "translation_of": new.translation_of,
                "created_at": now,
                "updated_at": now,
            }
        )
        rows.tags.extend(
            {"item_id": item_id, "tag": tag, "organization_id": organization_id}
            for tag in values["tags"]
        )
    return rows


async def _audit_created(
    session: AsyncSession, principal: Principal, rows: _NewRows, new_items: Sequence[NewItem]
) -> None:
    await audit.record_many(
        session,
        organization_id=principal.organization_id,
        events=[
            audit.PendingEvent(
                "item.created",
                principal.actor,
                "item",
                version["item_id"],
                {
                    "version": 1,
                    "status": version["status"],
                    "content_hash": version["content_hash"],
                    **(new.audit_data or {}),
                },
            )
            for version, new in zip(rows.versions, new_items, strict=True)
        ],
    )


async def create_items(
    session: AsyncSession,
    principal: Principal,
    bank_id: uuid.UUID,
    new_items: Sequence[NewItem],
    *,
    publish: bool = False,
) -> list[tuple[Item, ItemVersion]]:
    """Create items (each a version 1, a draft or, with ``publish``, published) in one
    bank, with one round of checks, batched inserts and one audit append; a duplicate
    identifier (in the bank or the batch) is a 409 and nothing is created.

    Returns the ORM rows, attached to the session; :func:`insert_items` does the same
    work without them, for bulk work."""
    new_items = [_with_language(new) for new in new_items]
    default = await _check_new_items(session, principal, bank_id, new_items, publish)
    new_items = await _with_stimuli(session, bank_id, new_items)
    rows = _new_item_rows(principal, bank_id, new_items, publish, default)
    created = [
        (Item(**item), ItemVersion(**version))
        for item, version in zip(rows.items, rows.versions, strict=True)
    ]
    for item, version in created:
        session.add(item)
        session.add(version)
    session.add_all(ItemTag(**tag) for tag in rows.tags)
    await session.flush()
    await _audit_created(session, principal, rows, new_items)
    return created


async def insert_items(
    session: AsyncSession,
    principal: Principal,
    bank_id: uuid.UUID,
    new_items: Sequence[NewItem],
    *,
    publish: bool = False,
) -> list[CreatedItem]:
    """:func:`create_items` for bulk work (imports): the same checks, rows and audit
    events, written with one bulk insert per table (``COPY`` on PostgreSQL) per
    ``BULK_CHUNK`` items and without ORM objects, so that only one chunk's rows are in
    memory at a time. All of it is in the caller's transaction. The session's identity
    map does not hold the new rows."""
    new_items = [_with_language(new) for new in new_items]
    default = await _check_new_items(session, principal, bank_id, new_items, publish)
    new_items = await _with_stimuli(session, bank_id, new_items)
    created: list[CreatedItem] = []
    for start in range(0, len(new_items), BULK_CHUNK):
        chunk = new_items[start : start + BULK_CHUNK]
        rows = _new_item_rows(principal, bank_id, chunk, publish, default)
        await _bulk_insert(session, Item, rows.items)
        await _bulk_insert(session, ItemVersion, rows.versions)
        await _bulk_insert(session, ItemTag, rows.tags)
        await _audit_created(session, principal, rows, chunk)
        created.extend(
            CreatedItem(version["item_id"], version["version"], version["status"])
            for version in rows.versions
        )
    return created


async def _bulk_insert(
    session: AsyncSession, model: type[Base], rows: Sequence[dict[str, Any]]
) -> None:
    """Insert complete rows of ``model``'s table (a value for every column: no defaults
    are applied) in the session's transaction: ``COPY`` on PostgreSQL, one
    ``executemany`` elsewhere. The session's identity map is not involved.

    Values go through each column type's bind processing first, so ``COPY`` receives
    exactly what an ``INSERT`` of the same rows would send."""
    if not rows:
        return
    table = model.__table__
    assert isinstance(table, Table)
    columns = list(table.columns.keys())
    if set(rows[0]) != set(columns):
        raise ValueError(
            f"rows for {table.name} must give every column; got {sorted(rows[0])}, "
            f"columns {sorted(columns)}"
        )
    connection = await session.connection()
    dialect = connection.dialect
    if dialect.name != "postgresql" or dialect.driver != "asyncpg":
        await session.execute(table.insert(), list(rows))
        return
    processors = [
        (key, table.columns[key].type.dialect_impl(dialect).bind_processor(dialect))
        for key in columns
    ]
    records = [
        tuple(row[key] if process is None else process(row[key]) for key, process in processors)
        for row in rows
    ]
    raw = (await connection.get_raw_connection()).driver_connection
    assert raw is not None
    if not raw.is_in_transaction():
        # SQLAlchemy's adapter sends BEGIN with the first statement it runs; COPY must
        # run inside that transaction to commit or roll back with everything else.
        await session.execute(select(1))
    await raw.copy_records_to_table(
        table.name, records=records, columns=columns, schema_name=table.schema
    )


async def get_item(session: AsyncSession, principal: Principal, item_id: uuid.UUID) -> Item:
    item = await get_scoped(
        session, Item, item_id, principal.organization_id, what="item", error=ItemNotFound
    )
    try:
        await bank_access(session, principal, item.bank_id)
    except BankNotFound:
        # An item in a bank the caller may not read is as absent as one that never existed.
        raise ItemNotFound(f"item {item_id} not found") from None
    return item


async def get_version(
    session: AsyncSession, principal: Principal, item_id: uuid.UUID, version: int | None = None
) -> tuple[Item, ItemVersion]:
    item = await get_item(session, principal, item_id)
    number = version if version is not None else item.latest_version
    row = (
        await session.execute(
            select(ItemVersion).where(ItemVersion.item_id == item.id, ItemVersion.version == number)
        )
    ).scalar_one_or_none()
    if row is None:
        raise ItemVersionNotFound(f"item {item_id} has no version {number}")
    return item, row


async def list_versions(
    session: AsyncSession, principal: Principal, item_id: uuid.UUID
) -> Sequence[ItemVersion]:
    item = await get_item(session, principal, item_id)
    return (
        (
            await session.execute(
                select(ItemVersion)
                .where(ItemVersion.item_id == item.id)
                .order_by(ItemVersion.version)
            )
        )
        .scalars()
        .all()
    )


async def update_item(
    session: AsyncSession,
    principal: Principal,
    item_id: uuid.UUID,
    *,
    definition: ItemDefinition | None,
    metadata: schemas.ItemMetadata | None,
    rubric_version_id: uuid.UUID | None,
    change_note: str | None,
    expected_version: int | None,
    language: str | None = None,
) -> tuple[Item, ItemVersion]:
    """Change the draft in place (an item in review returns to draft), or start a new draft
    version when the newest version is published or retired: published versions never
    change.

    ``language`` (checked against ``i18n.LANGUAGES``) changes the item's language; without
    it an item that translates none follows what a new document declares, when the
    product speaks it. A translation's new document must still match its source
    (:class:`TranslationMismatch`)."""
    item, latest = await get_version(session, principal, item_id)
    # Lock the version: an edit and a publish of the same draft must not interleave. FOR NO
    # KEY UPDATE (not FOR UPDATE): rows that merely refer to the version (a rating task, an
    # attempt's item) take FOR KEY SHARE in their foreign-key checks and must not wait for
    # an edit, which could deadlock with a transaction that wrote its audit event first.
    await session.refresh(latest, with_for_update={"key_share": True})
    access = await bank_access(session, principal, item.bank_id)
    _require_write(access)
    if expected_version is not None and expected_version != latest.version:
        raise ItemVersionStale(
            f"the newest version is {latest.version}, not {expected_version}; reload and retry"
        )
    if definition is not None and definition.identifier != item.identifier:
        raise ItemIdentifierChanged(
            f"the item's identifier is {item.identifier!r}; a version cannot change it"
        )
    current = ItemDefinition.from_dict(latest.definition)
    new_definition = definition or current
    new_language = item.language
    if language is not None:
        new_language = check_language(language)
    elif definition is not None and item.translation_of is None:
        new_language = language_code(definition.language) or item.language
    if item.translation_of is not None:
        if definition is not None:
            await _check_variant(session, item.translation_of, definition)
        new_definition = new_definition.model_copy(update={"language": new_language})
    if new_language != item.language:
        await _check_language_free(session, item, new_language)
        item.language = new_language
    if language is not None and language_code(new_definition.language) != new_language:
        new_definition = new_definition.model_copy(update={"language": new_language})
    new_definition = await stimuli.pin(session, item.bank_id, new_definition)
    new_metadata = metadata or metadata_of(latest)
    rubric = rubric_version_id if rubric_version_id is not None else latest.rubric_version_id
    await _check_rubric(session, principal.organization_id, rubric, new_definition)
    if latest.status in (VersionStatus.draft.value, VersionStatus.in_review.value):
        target = latest
        target.status = VersionStatus.draft.value
        target.submitted_at = None
        action = "item.draft_updated"
    else:
        target = ItemVersion(
            organization_id=item.organization_id,
            item_id=item.id,
            version=latest.version + 1,
            status=VersionStatus.draft.value,
            created_by=principal.actor.id,
            created_at=utcnow(),
        )
        session.add(target)
        action = "item.version_created"
    _fill_version(target, new_definition, new_metadata, rubric, change_note)
    await session.flush()
    await _sync_summary(session, item, target)
    item.updated_at = utcnow()
    await audit.record(
        session,
        organization_id=item.organization_id,
        action=action,
        actor=principal.actor,
        target_type="item",
        target_id=item.id,
        data={"version": target.version, "content_hash": target.content_hash},
    )
    return item, target


# --- translations --------------------------------------------------------------------------


async def _newest(session: AsyncSession, item: Item) -> tuple[ItemDefinition, uuid.UUID | None]:
    """The definition and rubric of the item's published version, else its newest."""
    version = item.published_version or item.latest_version
    definition, rubric = (
        await session.execute(
            select(ItemVersion.definition, ItemVersion.rubric_version_id).where(
                ItemVersion.item_id == item.id, ItemVersion.version == version
            )
        )
    ).one()
    return ItemDefinition.from_dict(definition), rubric


async def _check_variant(
    session: AsyncSession, source_id: uuid.UUID, definition: ItemDefinition
) -> None:
    source = await session.get(Item, source_id)
    assert source is not None
    problem = variant_mismatch((await _newest(session, source))[0], definition)
    if problem is not None:
        raise TranslationMismatch(
            f"a translation is answered and scored as its source, but {problem}",
            extra={"source_item_id": str(source_id)},
        )


async def _check_language_free(session: AsyncSession, item: Item, language: str) -> None:
    """No other member of the item's group of variants (its source and the source's
    translations) is in ``language``."""
    source_id = item.translation_of or item.id
    taken = (
        await session.execute(
            select(Item.id).where(
                (Item.id == source_id) | (Item.translation_of == source_id),
                Item.id != item.id,
                Item.language == language,
            )
        )
    ).first()
    if taken is not None:
        raise TranslationExists(
            f"item {taken[0]} of the same group is already in {language!r}",
            extra={"item_id": str(taken[0]), "language": language},
        )


#: The key of an item document's metadata naming the item (by identifier, in the same
#: bank) it translates.
TRANSLATION_OF = "translation_of"


async def link_imported_translations(
    session: AsyncSession, bank_id: uuid.UUID, imported: Sequence[tuple[uuid.UUID, ItemDefinition]]
) -> list[str]:
    """Link each newly imported item whose document names the item it translates
    (``metadata.translation_of``: an identifier in the bank) to that item, as
    :func:`create_translation` would have made it. One that cannot be (no such item, no
    language the product speaks, a language taken, not answerable as the item) stays an
    item of its own; the returned warnings say why, one per item."""
    warnings: list[str] = []
    for item_id, definition in imported:
        named = definition.metadata.get(TRANSLATION_OF)
        if not isinstance(named, str):
            continue
        where = f"{definition.identifier}: not linked as a translation of {named!r}"
        source = (
            await session.execute(
                select(Item).where(
                    Item.bank_id == bank_id,
                    Item.identifier == named,
                    Item.translation_of.is_(None),
                )
            )
        ).scalar_one_or_none()
        code = language_code(definition.language)
        if source is None:
            warnings.append(f"{where}: the bank has no such item")
            continue
        if code is None or code == source.language:
            warnings.append(f"{where}: its language is not another language of the product")
            continue
        taken = (
            await session.execute(
                select(Item.id).where(Item.translation_of == source.id, Item.language == code)
            )
        ).first()
        problem = variant_mismatch((await _newest(session, source))[0], definition)
        if taken is not None or problem is not None:
            warnings.append(f"{where}: " + (problem or f"it has a translation in {code!r}"))
            continue
        await session.execute(
            update(Item)
            .where(Item.id == item_id)
            .values(translation_of=source.id, language=code)
            .execution_options(synchronize_session="fetch")
        )
    return warnings


def translation_identifier(source_identifier: str, language: str) -> str:
    """A translation's identifier in its bank: its source's with the language appended
    (identifiers are unique per bank)."""
    return f"{source_identifier[: 200 - len(language) - 1]}.{language}"


async def create_translation(
    session: AsyncSession,
    principal: Principal,
    item_id: uuid.UUID,
    definition: ItemDefinition,
    *,
    language: str | None,
    change_note: str | None = None,
    publish: bool = False,
) -> tuple[Item, ItemVersion]:
    """Add ``definition`` as the item's variant in ``language`` (None: the language the
    document declares): a new item of the same bank, linked to the source, whose
    identifier is :func:`translation_identifier` and which carries no tags of its own
    (assessments draw the source; delivery shows the variant in its place).

    Refused: a language the product does not speak (422), the source's own language or
    one it already has a translation in (409 :class:`TranslationExists`), a translation
    as the source (409 :class:`ItemIsTranslation`), a document not answerable as the
    source (422 :class:`TranslationMismatch`)."""
    source = await get_item(session, principal, item_id)
    if source.translation_of is not None:
        raise ItemIsTranslation(
            f"item {item_id} is a translation; translate its source {source.translation_of}",
            extra={"source_item_id": str(source.translation_of)},
        )
    _require_write(await bank_access(session, principal, source.bank_id))
    code = language if language is not None else language_code(definition.language)
    if code is None:
        raise LanguageNotSupported(
            "name the translation's language (the document declares "
            + (repr(definition.language) if definition.language else "none")
            + "); use one of "
            + ", ".join(sorted(i18n.LANGUAGES)),
            extra={"languages": sorted(i18n.LANGUAGES)},
        )
    check_language(code)
    if code == source.language:
        raise TranslationExists(
            f"the item itself is in {code!r}", extra={"item_id": str(source.id), "language": code}
        )
    await _check_language_free(session, source, code)
    await _check_variant(session, source.id, definition)
    identifier = translation_identifier(source.identifier, code)
    # The document names its item, so an export (native) and an import keep the link.
    variant = definition.model_copy(
        update={
            "identifier": identifier,
            "language": code,
            "metadata": {**definition.metadata, TRANSLATION_OF: source.identifier},
        }
    )
    # The translation is rated with its source's rubric, as it is scored as its source.
    _, rubric_version_id = await _newest(session, source)
    new = NewItem(
        variant,
        schemas.ItemMetadata(),
        rubric_version_id=rubric_version_id,
        change_note=change_note,
        audit_data={"translation_of": str(source.id), "language": code},
        language=code,
        translation_of=source.id,
    )
    ((item, version),) = await create_items(
        session, principal, source.bank_id, [new], publish=publish
    )
    return item, version


async def list_translations(
    session: AsyncSession, principal: Principal, item_id: uuid.UUID
) -> Sequence[Item]:
    """The translations of an item (of its source, for a translation), by language."""
    item = await get_item(session, principal, item_id)
    source_id = item.translation_of or item.id
    return (
        (
            await session.execute(
                select(Item).where(Item.translation_of == source_id).order_by(Item.language)
            )
        )
        .scalars()
        .all()
    )


async def _transition(
    session: AsyncSession,
    item: Item,
    version: ItemVersion,
    expected: set[VersionStatus],
    new: VersionStatus,
) -> None:
    """Guarded state change: of two concurrent transitions only one finds the expected
    state."""
    values: dict[str, object] = {"status": new.value}
    now = utcnow()
    if new is VersionStatus.in_review:
        values["submitted_at"] = now
    elif new is VersionStatus.published:
        values["published_at"] = now
    elif new is VersionStatus.retired:
        values["retired_at"] = now
    changed = (
        await session.execute(
            update(ItemVersion)
            .where(
                ItemVersion.id == version.id,
                ItemVersion.status.in_([s.value for s in expected]),
            )
            .values(**values)
            .returning(ItemVersion.id)
        )
    ).first()
    if changed is None:
        allowed = " or ".join(sorted(s.value for s in expected))
        raise ItemVersionWrongStatus(
            f"version {version.version} is {version.status}; this needs it to be {allowed}"
        )
    await session.refresh(version)
    if version.version == item.latest_version:
        item.status = version.status
    item.updated_at = now
    await session.flush()


async def submit_for_review(
    session: AsyncSession, principal: Principal, item_id: uuid.UUID
) -> tuple[Item, ItemVersion]:
    item, version = await get_version(session, principal, item_id)
    _require_write(await bank_access(session, principal, item.bank_id))
    await _transition(session, item, version, {VersionStatus.draft}, VersionStatus.in_review)
    await _audit_item(session, principal, item, "item.submitted", version.version)
    return item, version


async def publish(
    session: AsyncSession, principal: Principal, item_id: uuid.UUID
) -> tuple[Item, ItemVersion]:
    """Publish the newest version. In a bank that requires review, only a reviewer may,
    and only a version in review; otherwise a draft may be published directly. The
    previously published version is retired (attempts that used it keep pointing at it)."""
    item, version = await get_version(session, principal, item_id)
    access = await bank_access(session, principal, item.bank_id)
    _require_write(access)
    if access.bank.review_required:
        if not access.can_review:
            raise BankReviewerRequired("this bank requires a reviewer to publish")
        expected = {VersionStatus.in_review}
    else:
        expected = {VersionStatus.draft, VersionStatus.in_review}
    previous = item.published_version
    await _transition(session, item, version, expected, VersionStatus.published)
    version.published_by = principal.actor.id
    if previous is not None and previous != version.version:
        await session.execute(
            update(ItemVersion)
            .where(
                ItemVersion.item_id == item.id,
                ItemVersion.version == previous,
                ItemVersion.status == VersionStatus.published.value,
            )
            .values(status=VersionStatus.retired.value, retired_at=utcnow())
        )
    item.published_version = version.version
    await session.flush()
    await _audit_item(session, principal, item, "item.published", version.version)
    return item, version


async def retire(
    session: AsyncSession, principal: Principal, item_id: uuid.UUID
) -> tuple[Item, ItemVersion]:
    item = await get_item(session, principal, item_id)
    _require_write(await bank_access(session, principal, item.bank_id))
    if item.published_version is None:
        raise ItemNotPublished("this item has no published version to retire")
    _, version = await get_version(session, principal, item_id, item.published_version)
    await _transition(session, item, version, {VersionStatus.published}, VersionStatus.retired)
    item.published_version = None
    await session.flush()
    await _audit_item(session, principal, item, "item.retired", version.version)
    return item, version


async def _audit_item(
    session: AsyncSession, principal: Principal, item: Item, action: str, version: int
) -> None:
    await audit.record(
        session,
        organization_id=item.organization_id,
        action=action,
        actor=principal.actor,
        target_type="item",
        target_id=item.id,
        data={"version": version},
    )


async def search_items(
    session: AsyncSession,
    principal: Principal,
    *,
    bank_id: uuid.UUID | None,
    text: str | None,
    tags: list[str],
    interaction_type: str | None,
    status: VersionStatus | None,
    cursor: str | None,
    limit: int,
    archived: bool = False,
) -> tuple[Sequence[Item], str | None]:
    """Items matching every filter given; archived ones only with ``archived``."""
    # Translations are reached through their source (list_translations).
    stmt = scoped(select(Item), Item, principal.organization_id).where(
        Item.translation_of.is_(None)
    )
    if not archived:
        stmt = stmt.where(Item.archived_at.is_(None))
    if bank_id is not None:
        await bank_access(session, principal, bank_id)
        stmt = stmt.where(Item.bank_id == bank_id)
    elif not principal.has_any(Role.admin):
        readable = select(BankMember.bank_id).where(BankMember.user_id == principal.user_id)
        stmt = stmt.where(Item.bank_id.in_(readable))
    if text:
        stmt = stmt.where(Item.search_text.contains(text.lower(), autoescape=True))
    for tag in tags:
        stmt = stmt.where(
            Item.id.in_(
                select(ItemTag.item_id).where(
                    ItemTag.organization_id == principal.organization_id, ItemTag.tag == tag
                )
            )
        )
    if interaction_type:
        # JSON containment differs by dialect; the type list is short, so match its text.
        stmt = stmt.where(Item.search_types.contains(f"|{interaction_type}|"))
    if status is not None:
        stmt = stmt.where(Item.status == status.value)
    return await paginate(session, stmt, Item.id, cursor=cursor, limit=limit)


def staff_media_url(sha256: str) -> str:
    return f"/api/v1/media/sha256/{sha256}"


def candidate_payload(
    version: ItemVersion,
    seed: int | None,
    *,
    media_url: Callable[[str], str] = staff_media_url,
    template_seed: int | None = None,
    locale: str | None = None,
    shared_stimuli: list[dict[str, Any]] | None = None,
    supports: Iterable[str] = (),
) -> dict[str, Any]:
    """What a candidate's player receives for an item version; each media path of the item
    resolves to ``media_url(sha256)`` (staff previews: the signed-in media route). A cloned
    item shows the instance of ``template_seed`` (a preview without one: of seed 0). The
    words the renderer adds are in ``locale`` (the locale in force when ``None``).
    ``shared_stimuli``: the item's stimuli as :func:`stimuli.candidate_stimuli` renders
    them, sent as ``stimuli`` when there are any. ``supports``: the accessibility supports
    whose catalog cards are shown (the candidate's; content/item/supports.py)."""
    definition = ItemDefinition.from_dict(version.definition)
    if definition.is_template:
        definition = templates.instantiate(definition, template_seed or 0)
    refs: dict[str, str] = dict(definition.metadata.get("media") or {})

    def norm(path: str) -> str:
        return "/".join(p for p in path.split("/") if p not in ("", ".", ".."))

    by_path = {norm(known): sha for known, sha in refs.items()}

    def resolve(path: str) -> str:
        wanted = norm(path)
        for known, sha in by_path.items():
            if known == wanted or known.endswith("/" + wanted) or wanted.endswith("/" + known):
                return media_url(sha)
        return path

    payload = candidate_view(
        definition, shuffle_seed=seed, resolve_media=resolve, locale=locale, supports=supports
    )
    if shared_stimuli:
        payload["stimuli"] = shared_stimuli
    return payload


def candidate_item_feedback(
    definition: ItemDefinition,
    outcomes: dict[str, Any],
    *,
    media_url: Callable[[str], str] = staff_media_url,
) -> list[dict[str, Any]]:
    """The feedback ``outcomes`` (of response processing) select for ``definition`` (the
    item as the candidate saw it: a cloned item's instance), rendered like the item's body,
    each media path resolving to ``media_url(sha256)``. Only for a candidate whose
    assessment's feedback policy allows it (content/render/feedback.py)."""
    by_path = {
        "/".join(p for p in known.split("/") if p not in ("", ".", "..")): sha
        for known, sha in dict(definition.metadata.get("media") or {}).items()
    }

    def resolve(path: str) -> str:
        wanted = "/".join(p for p in path.split("/") if p not in ("", ".", ".."))
        for known, sha in by_path.items():
            if known == wanted or known.endswith("/" + wanted) or wanted.endswith("/" + known):
                return media_url(sha)
        return path

    return candidate_feedback(definition, outcomes, resolve_media=resolve)
