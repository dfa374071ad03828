"""Shared stimuli of a bank: passages, pictures and tables that several items are shown
beside (QTI ``qti-assessment-stimulus``).

A stimulus belongs to one bank and is named by its ``identifier`` there, as items name it
(``qti-assessment-stimulus-ref``). Its versions are immutable: a change stores the next
version, and storing the same content again stores nothing. An item version pins the
stimulus version it is shown with when it is stored (``metadata.stimuli``: identifier to
content hash, as ``metadata.media`` pins pictures), so a published item keeps showing
exactly what its candidates saw, and a new item version takes the newest stimulus.

A stimulus can be archived: it is left out of the bank's list, and an item may no longer
take it as a new reference, but the items that already use it keep showing it (their
versions pinned it). A stimulus no item uses can be deleted; one that items use cannot
(:class:`StimulusInUse`, 409): archive it instead.

Services flush, never commit; every change is audited (``stimulus.created``,
``stimulus.version_created``, ``stimulus.archived``, ``stimulus.restored``,
``stimulus.deleted``), naming people by id only.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

from sqlalchemy import String, cast, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from waa_ads.audit import service as audit
from waa_ads.auth.deps import Principal
from waa_ads.content import service
from waa_ads.content.errors import (
    BankNotFound,
    BankWriteForbidden,
    MediaNotFound,
    StimulusArchived,
    StimulusIdentifierTaken,
    StimulusInUse,
    StimulusInvalid,
    StimulusMissing,
    StimulusNotFound,
)
from waa_ads.content.interchange.qti.stimulus import parse_stimulus, write_stimulus
from waa_ads.content.item.definition import ItemDefinition, ItemFormatError
from waa_ads.content.item.stimulus import StimulusDefinition
from waa_ads.content.models import Item, ItemVersion, MediaAsset, Stimulus, StimulusVersion
from waa_ads.content.render.candidate import stimulus_view
from waa_ads.core.db import utcnow
from waa_ads.core.pagination import paginate
from waa_ads.core.tenancy import get_scoped, scoped

StoreStatus = Literal["imported", "new_version", "unchanged"]


def parse_source(source_format: str, content: str | dict[str, Any]) -> StimulusDefinition:
    """A stimulus from what an author sends: QTI XML text or the stored form. Anything
    malformed is :class:`StimulusInvalid` (422) naming the element and line."""
    try:
        if source_format == "qti":
            if not isinstance(content, str):
                raise ItemFormatError("a QTI stimulus is sent as XML text")
            return parse_stimulus(content.encode("utf-8"))
        if not isinstance(content, dict):
            raise ItemFormatError("a stored stimulus is sent as a JSON object")
        stimulus = StimulusDefinition.from_dict(content)
        # The stored form's body is sanitized again, as a QTI body would be.
        return parse_stimulus_body(stimulus)
    except ItemFormatError as exc:
        raise StimulusInvalid(exc.detail) from None


def parse_stimulus_body(stimulus: StimulusDefinition) -> StimulusDefinition:
    """``stimulus`` with its body put through the stimulus reader (sanitized, checked)."""
    read = parse_stimulus(write_stimulus(stimulus))
    return stimulus.model_copy(update={"body": read.body})


def content_hash(definition: StimulusDefinition) -> str:
    """The SHA-256 of the stored form without its import notes (what candidates see)."""
    stored = definition.model_copy(update={"import_notes": ()}).to_dict()
    return service.content_hash(stored)


async def _writable_bank(session: AsyncSession, principal: Principal, bank_id: uuid.UUID) -> None:
    access = await service.bank_access(session, principal, bank_id)
    if not access.can_write:
        raise BankWriteForbidden("you may not change stimuli in this bank")


async def check_media(
    session: AsyncSession, organization_id: uuid.UUID, media: Mapping[str, str]
) -> None:
    """Each SHA-256 given for a media path names a media asset of the organization."""
    for path, sha in media.items():
        found = (
            await session.execute(
                select(MediaAsset.id).where(
                    MediaAsset.organization_id == organization_id, MediaAsset.sha256 == sha
                )
            )
        ).first()
        if found is None:
            raise MediaNotFound(f"no media asset with SHA-256 {sha} (for {path!r})")


def _version_row(
    principal: Principal,
    stimulus: Stimulus,
    number: int,
    definition: StimulusDefinition,
    digest: str,
    change_note: str | None,
) -> StimulusVersion:
    return StimulusVersion(
        organization_id=stimulus.organization_id,
        stimulus_id=stimulus.id,
        version=number,
        definition=definition.to_dict(),
        content_hash=digest,
        title=definition.title,
        language=definition.language,
        change_note=change_note,
        created_by=principal.actor.id,
        created_at=utcnow(),
    )


async def _newest(session: AsyncSession, stimulus: Stimulus) -> StimulusVersion:
    return (
        await session.execute(
            select(StimulusVersion).where(
                StimulusVersion.stimulus_id == stimulus.id,
                StimulusVersion.version == stimulus.latest_version,
            )
        )
    ).scalar_one()


async def store(
    session: AsyncSession,
    principal: Principal,
    bank_id: uuid.UUID,
    definition: StimulusDefinition,
    *,
    change_note: str | None = None,
    audit_data: Mapping[str, object] | None = None,
    create_only: bool = False,
) -> tuple[Stimulus, StimulusVersion, StoreStatus]:
    """Store ``definition`` in the bank: a new stimulus (version 1), else the next version
    of the stimulus with its identifier, else nothing when that stimulus's newest version
    has the same content (``unchanged``). ``create_only``: an identifier the bank holds
    is :class:`StimulusIdentifierTaken` (409)."""
    await _writable_bank(session, principal, bank_id)
    digest = content_hash(definition)
    existing = (
        await session.execute(
            select(Stimulus)
            .where(Stimulus.bank_id == bank_id, Stimulus.identifier == definition.identifier)
            .with_for_update()
        )
    ).scalar_one_or_none()
    if existing is not None and create_only:
        raise StimulusIdentifierTaken(
            f"a stimulus with identifier {definition.identifier!r} already exists in this bank"
        )
    if existing is not None and existing.content_hash == digest:
        return existing, await _newest(session, existing), "unchanged"
    if existing is None:
        stimulus = Stimulus(
            organization_id=principal.organization_id,
            bank_id=bank_id,
            identifier=definition.identifier,
            latest_version=1,
            title=definition.title,
            language=definition.language,
            content_hash=digest,
        )
        try:
            # Two requests adding the same identifier at once: the second is told so (409)
            # instead of failing its whole transaction.
            async with session.begin_nested():
                session.add(stimulus)
                await session.flush()
        except IntegrityError:
            raise StimulusIdentifierTaken(
                f"a stimulus with identifier {definition.identifier!r} was just added to this "
                "bank; try again to store a new version of it"
            ) from None
        action, status, number = "stimulus.created", "imported", 1
    else:
        stimulus = existing
        number = stimulus.latest_version + 1
        stimulus.latest_version = number
        stimulus.title = definition.title
        stimulus.language = definition.language
        stimulus.content_hash = digest
        stimulus.updated_at = utcnow()
        action, status = "stimulus.version_created", "new_version"
    version = _version_row(principal, stimulus, number, definition, digest, change_note)
    session.add(version)
    await session.flush()
    await audit.record(
        session,
        organization_id=stimulus.organization_id,
        action=action,
        actor=principal.actor,
        target_type="stimulus",
        target_id=stimulus.id,
        data={"version": number, "content_hash": digest, **(audit_data or {})},
    )
    return stimulus, version, status  # type: ignore[return-value]


async def update(
    session: AsyncSession,
    principal: Principal,
    stimulus_id: uuid.UUID,
    definition: StimulusDefinition,
    *,
    change_note: str | None = None,
) -> tuple[Stimulus, StimulusVersion]:
    """The next version of a stimulus (none when the content is the same). Items
    already stored keep the version they pinned; their next version takes this one."""
    stimulus = await get(session, principal, stimulus_id)
    if definition.identifier != stimulus.identifier:
        raise StimulusInvalid(
            f"the stimulus's identifier is {stimulus.identifier!r}; a version cannot change it"
        )
    row, version, _ = await store(
        session, principal, stimulus.bank_id, definition, change_note=change_note
    )
    return row, version


async def get(session: AsyncSession, principal: Principal, stimulus_id: uuid.UUID) -> Stimulus:
    """A stimulus of a bank the caller may read (404 otherwise, as if it did not exist)."""
    stimulus = await get_scoped(
        session,
        Stimulus,
        stimulus_id,
        principal.organization_id,
        what="stimulus",
        error=StimulusNotFound,
    )
    try:
        await service.bank_access(session, principal, stimulus.bank_id)
    except BankNotFound:
        raise StimulusNotFound(f"stimulus {stimulus_id} not found") from None
    return stimulus


async def get_version(
    session: AsyncSession, principal: Principal, stimulus_id: uuid.UUID, number: int | None
) -> tuple[Stimulus, StimulusVersion]:
    stimulus = await get(session, principal, stimulus_id)
    wanted = number if number is not None else stimulus.latest_version
    row = (
        await session.execute(
            select(StimulusVersion).where(
                StimulusVersion.stimulus_id == stimulus.id, StimulusVersion.version == wanted
            )
        )
    ).scalar_one_or_none()
    if row is None:
        raise StimulusNotFound(f"stimulus {stimulus_id} has no version {wanted}")
    return stimulus, row


async def list_in_bank(
    session: AsyncSession,
    principal: Principal,
    bank_id: uuid.UUID,
    *,
    text: str | None = None,
    archived: bool = False,
    cursor: str | None = None,
    limit: int = 50,
) -> tuple[Sequence[Stimulus], str | None]:
    """The bank's stimuli (``text``: in the identifier or title), by id; archived ones
    only with ``archived``."""
    await service.bank_access(session, principal, bank_id)
    stmt = scoped(select(Stimulus), Stimulus, principal.organization_id).where(
        Stimulus.bank_id == bank_id
    )
    if not archived:
        stmt = stmt.where(Stimulus.archived_at.is_(None))
    if text:
        needle = text.lower()
        stmt = stmt.where(
            Stimulus.identifier.icontains(needle, autoescape=True)
            | Stimulus.title.icontains(needle, autoescape=True)
        )
    return await paginate(session, stmt, Stimulus.id, cursor=cursor, limit=limit)


def _refers_to(definition: Mapping[str, Any], identifier: str) -> bool:
    """Whether a stored item definition names the stimulus ``identifier``."""
    refs = definition.get("stimuli") or ()
    named = {r.get("identifier") for r in refs if isinstance(r, Mapping)}
    pins = (definition.get("metadata") or {}).get("stimuli") or {}
    return identifier in named or identifier in pins


async def _referring_versions(
    session: AsyncSession, stimulus: Stimulus, *, latest: bool
) -> list[tuple[Item, ItemVersion]]:
    """The item versions of the stimulus's bank that refer to it (``latest``: each item's
    newest version only), by item identifier."""
    stmt = (
        select(Item, ItemVersion)
        .join(ItemVersion, ItemVersion.item_id == Item.id)
        .where(
            Item.organization_id == stimulus.organization_id,
            Item.bank_id == stimulus.bank_id,
            # A coarse filter in the database; the definition is checked below.
            cast(ItemVersion.definition, String).contains(stimulus.identifier, autoescape=True),
        )
        .order_by(Item.identifier, ItemVersion.version)
    )
    if latest:
        stmt = stmt.where(ItemVersion.version == Item.latest_version)
    rows = (await session.execute(stmt)).all()
    return [
        (item, version)
        for item, version in rows
        if _refers_to(version.definition, stimulus.identifier)
    ]


async def items_using(
    session: AsyncSession, principal: Principal, stimulus_id: uuid.UUID
) -> list[tuple[Item, ItemVersion]]:
    """The items whose newest version refers to the stimulus, with that version, by item
    identifier (archived items included)."""
    stimulus = await get(session, principal, stimulus_id)
    return await _referring_versions(session, stimulus, latest=True)


async def _set_archived(
    session: AsyncSession, principal: Principal, stimulus_id: uuid.UUID, archived: bool
) -> Stimulus:
    stimulus = await get(session, principal, stimulus_id)
    await _writable_bank(session, principal, stimulus.bank_id)
    if (stimulus.archived_at is not None) != archived:
        stimulus.archived_at = utcnow() if archived else None
        await session.flush()
        await audit.record(
            session,
            organization_id=stimulus.organization_id,
            action="stimulus.archived" if archived else "stimulus.restored",
            actor=principal.actor,
            target_type="stimulus",
            target_id=stimulus.id,
            data={"identifier": stimulus.identifier},
        )
    return stimulus


async def archive(session: AsyncSession, principal: Principal, stimulus_id: uuid.UUID) -> Stimulus:
    """Leave the stimulus out of the bank's list and of new references; the items that
    use it keep showing it. Idempotent."""
    return await _set_archived(session, principal, stimulus_id, True)


async def restore(session: AsyncSession, principal: Principal, stimulus_id: uuid.UUID) -> Stimulus:
    return await _set_archived(session, principal, stimulus_id, False)


async def delete_stimulus(
    session: AsyncSession, principal: Principal, stimulus_id: uuid.UUID
) -> None:
    """Delete a stimulus with its versions. Refused (:class:`StimulusInUse`, nothing
    deleted) while any version of an item refers to it."""
    stimulus = await get(session, principal, stimulus_id)
    await _writable_bank(session, principal, stimulus.bank_id)
    users = {item.id for item, _ in await _referring_versions(session, stimulus, latest=False)}
    if users:
        count = len(users)
        raise StimulusInUse(
            f"{count} {'item uses' if count == 1 else 'items use'} the shared stimulus "
            f"{stimulus.identifier!r}; archive it instead",
            extra={"items": count},
        )
    await session.execute(delete(StimulusVersion).where(StimulusVersion.stimulus_id == stimulus.id))
    await session.execute(delete(Stimulus).where(Stimulus.id == stimulus.id))
    await audit.record(
        session,
        organization_id=stimulus.organization_id,
        action="stimulus.deleted",
        actor=principal.actor,
        target_type="stimulus",
        target_id=stimulus.id,
        data={"identifier": stimulus.identifier, "bank_id": str(stimulus.bank_id)},
    )


async def delete_in_bank(session: AsyncSession, bank_id: uuid.UUID) -> None:
    """Delete a bank's stimuli with their versions (the bank's deletion, whose checks
    have passed: no item that an attempt saw is left to pin them)."""
    ids = select(Stimulus.id).where(Stimulus.bank_id == bank_id)
    await session.execute(delete(StimulusVersion).where(StimulusVersion.stimulus_id.in_(ids)))
    await session.execute(delete(Stimulus).where(Stimulus.bank_id == bank_id))


# --- items' references --------------------------------------------------------------------


async def pin(
    session: AsyncSession, bank_id: uuid.UUID, definition: ItemDefinition
) -> ItemDefinition:
    """``definition`` with each stimulus it refers to pinned to the bank's newest version
    of it (``metadata.stimuli``: identifier to content hash); an item without references
    comes back as it is (any stale pins dropped). A stimulus the bank does not hold is
    :class:`StimulusMissing` (422) naming each one missing."""
    pinned_before = definition.metadata.get("stimuli")
    if not definition.stimuli:
        if pinned_before is None:
            return definition
        metadata = {k: v for k, v in definition.metadata.items() if k != "stimuli"}
        return definition.model_copy(update={"metadata": metadata})
    wanted = [ref.identifier for ref in definition.stimuli]
    rows = (
        await session.execute(
            select(Stimulus.identifier, Stimulus.content_hash, Stimulus.archived_at).where(
                Stimulus.bank_id == bank_id, Stimulus.identifier.in_(wanted)
            )
        )
    ).all()
    held = {identifier: digest for identifier, digest, _ in rows}
    archived = [identifier for identifier, _, when in rows if when is not None]
    missing = [identifier for identifier in wanted if identifier not in held]
    if missing:
        raise StimulusMissing(
            f"item {definition.identifier!r} refers to the shared "
            f"{'stimulus' if len(missing) == 1 else 'stimuli'} "
            + ", ".join(repr(m) for m in missing)
            + ", which the bank does not hold: add "
            + ("it" if len(missing) == 1 else "them")
            + " first (POST /api/v1/banks/{id}/stimuli) or import the package that holds "
            + ("it" if len(missing) == 1 else "them"),
            extra={"missing": missing},
        )
    if archived:
        # An archived stimulus stays with the items that already use it, and is not taken
        # up by any other.
        used = await _used_before(session, bank_id, definition.identifier)
        refused = [
            identifier for identifier in wanted if identifier in archived and identifier not in used
        ]
        if refused:
            raise StimulusArchived(
                f"item {definition.identifier!r} refers to the archived shared "
                f"{'stimulus' if len(refused) == 1 else 'stimuli'} "
                + ", ".join(repr(r) for r in refused)
                + ": restore "
                + ("it" if len(refused) == 1 else "them")
                + " first, or refer to another stimulus",
                extra={"archived": refused},
            )
    pins = {identifier: held[identifier] for identifier in wanted}
    return definition.model_copy(update={"metadata": {**definition.metadata, "stimuli": pins}})


async def _used_before(session: AsyncSession, bank_id: uuid.UUID, identifier: str) -> set[str]:
    """The stimuli the newest stored version of the bank's item ``identifier`` refers to
    (none for an item the bank does not hold yet)."""
    stored = (
        await session.execute(
            select(ItemVersion.definition)
            .join(Item, ItemVersion.item_id == Item.id)
            .where(
                Item.bank_id == bank_id,
                Item.identifier == identifier,
                ItemVersion.version == Item.latest_version,
            )
        )
    ).scalar_one_or_none()
    if stored is None:
        return set()
    refs = stored.get("stimuli") or ()
    pins = (stored.get("metadata") or {}).get("stimuli") or {}
    named = {str(r.get("identifier")) for r in refs if isinstance(r, Mapping)}
    return named | {str(identifier) for identifier in pins}


MediaUrl = Callable[[str], str]


def _resolver(media: Mapping[str, str], media_url: MediaUrl) -> Callable[[str], str]:
    def norm(path: str) -> str:
        return "/".join(p for p in path.split("/") if p not in ("", ".", ".."))

    by_path = {norm(known): sha for known, sha in media.items()}

    def resolve(path: str) -> str:
        wanted = norm(path)
        for known, sha in by_path.items():
            if known == wanted or known.endswith("/" + wanted) or wanted.endswith("/" + known):
                return media_url(sha)
        return path

    return resolve


async def candidate_stimuli(
    session: AsyncSession,
    organization_id: uuid.UUID,
    definition: ItemDefinition,
    *,
    media_url: MediaUrl | None = None,
) -> list[dict[str, Any]]:
    """The stimuli an item version is shown with, as a candidate's player receives them
    (:func:`~waa_ads.content.render.candidate.stimulus_view`), in the item's order: each
    the version the item pinned. A pin the organization no longer holds (its bank was
    deleted) is left out."""
    pins: Mapping[str, str] = definition.metadata.get("stimuli") or {}
    if not definition.stimuli or not pins:
        return []
    url = media_url or service.staff_media_url
    hashes = sorted(set(pins.values()))
    rows = (
        await session.execute(
            select(StimulusVersion.content_hash, StimulusVersion.definition).where(
                StimulusVersion.organization_id == organization_id,
                StimulusVersion.content_hash.in_(hashes),
            )
        )
    ).all()
    by_hash: dict[str, dict[str, Any]] = {digest: stored for digest, stored in rows}  # noqa: C416
    shown: list[dict[str, Any]] = []
    for ref in definition.stimuli:
        stored = by_hash.get(pins.get(ref.identifier, ""))
        if stored is None:
            continue
        stimulus = StimulusDefinition.from_dict(stored)
        media = stimulus.metadata.get("media") or {}
        shown.append(stimulus_view(stimulus, resolve_media=_resolver(media, url)))
    return shown


async def for_item_version(
    session: AsyncSession, version: ItemVersion, *, media_url: MediaUrl | None = None
) -> list[dict[str, Any]]:
    """:func:`candidate_stimuli` of a stored item version."""
    stimuli_pins = (version.definition.get("metadata") or {}).get("stimuli")
    if not stimuli_pins:
        return []
    return await candidate_stimuli(
        session,
        version.organization_id,
        ItemDefinition.from_dict(version.definition),
        media_url=media_url,
    )


def preview(version: StimulusVersion) -> dict[str, Any]:
    """A stored version as a candidate sees it, media behind the staff media route."""
    stimulus = StimulusDefinition.from_dict(version.definition)
    media = stimulus.metadata.get("media") or {}
    return stimulus_view(stimulus, resolve_media=_resolver(media, service.staff_media_url))


async def pinned_definitions(
    session: AsyncSession, organization_id: uuid.UUID, pins: Mapping[str, str]
) -> dict[str, StimulusDefinition]:
    """The stimulus versions (by content hash) that items pinned."""
    if not pins:
        return {}
    rows = (
        await session.execute(
            select(StimulusVersion.content_hash, StimulusVersion.definition).where(
                StimulusVersion.organization_id == organization_id,
                StimulusVersion.content_hash.in_(sorted(set(pins.values()))),
            )
        )
    ).all()
    return {digest: StimulusDefinition.from_dict(stored) for digest, stored in rows}
