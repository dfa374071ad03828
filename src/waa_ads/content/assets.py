"""Media assets (in the blob store, checked and de-duplicated) and versioned rubrics."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from waa_ads.audit import service as audit
from waa_ads.auth.deps import Principal
from waa_ads.auth.errors import RoleRequired
from waa_ads.auth.models import Role
from waa_ads.content.errors import (
    MediaNotFound,
    RubricKindChanged,
    RubricNotFound,
    RubricSlugTaken,
    RubricVersionNotFound,
)
from waa_ads.content.media.check import DEFAULT_POLICY, MediaCheck, MediaPolicy, check_media
from waa_ads.content.models import MediaAsset, Rubric, RubricVersion
from waa_ads.content.rubrics.document import parse_rubric, rubric_max_points, rubric_to_document
from waa_ads.core.db import utcnow
from waa_ads.core.storage import BlobStore
from waa_ads.core.tenancy import get_scoped, scoped


def require_author(principal: Principal) -> None:
    if not principal.has_any(Role.admin, Role.author):
        raise RoleRequired("this needs the admin or author role")


async def store_media(
    session: AsyncSession,
    blobs: BlobStore,
    principal: Principal | None,
    organization_id: uuid.UUID,
    data: bytes,
    *,
    filename: str | None,
    declared_type: str | None,
    policy: MediaPolicy = DEFAULT_POLICY,
    check: MediaCheck | None = None,
) -> tuple[MediaAsset, bool]:
    """Check the bytes (sniffed type, allow-list, size, active content), store them in the
    blob store under their SHA-256 and record the asset. The same bytes uploaded again give
    the existing asset back (created = False). Bad media raises before anything is stored.
    ``check``: the bytes were checked already as something else than media (a PCI module,
    content/interchange/pci.py)."""
    if check is None:
        check = check_media(data, declared_type=declared_type, filename=filename, policy=policy)
    existing = (
        await session.execute(
            scoped(select(MediaAsset), MediaAsset, organization_id).where(
                MediaAsset.sha256 == check.sha256
            )
        )
    ).scalar_one_or_none()
    if existing is not None:
        return existing, False
    await blobs.put(data, check.content_type)
    asset = MediaAsset(
        organization_id=organization_id,
        sha256=check.sha256,
        content_type=check.content_type,
        size=check.size,
        filename=filename,
        width=check.width,
        height=check.height,
        created_at=utcnow(),
    )
    session.add(asset)
    await session.flush()
    await audit.record(
        session,
        organization_id=organization_id,
        action="media.stored",
        actor=principal.actor if principal else audit.SYSTEM_ACTOR,
        target_type="media_asset",
        target_id=asset.id,
        data={"sha256": asset.sha256, "content_type": asset.content_type, "size": asset.size},
    )
    return asset, True


async def get_media(session: AsyncSession, principal: Principal, media_id: uuid.UUID) -> MediaAsset:
    return await get_scoped(
        session,
        MediaAsset,
        media_id,
        principal.organization_id,
        what="media asset",
        error=MediaNotFound,
    )


async def get_media_by_hash(session: AsyncSession, principal: Principal, sha256: str) -> MediaAsset:
    return await get_media_by_hash_in(session, principal.organization_id, sha256)


async def get_media_by_hash_in(
    session: AsyncSession, organization_id: uuid.UUID, sha256: str
) -> MediaAsset:
    asset = (
        await session.execute(
            scoped(select(MediaAsset), MediaAsset, organization_id).where(
                MediaAsset.sha256 == sha256.lower()
            )
        )
    ).scalar_one_or_none()
    if asset is None:
        raise MediaNotFound(f"no media asset with SHA-256 {sha256[:80]}")
    return asset


async def list_media(session: AsyncSession, principal: Principal) -> Sequence[MediaAsset]:
    stmt = scoped(select(MediaAsset), MediaAsset, principal.organization_id)
    return (await session.execute(stmt.order_by(MediaAsset.id))).scalars().all()


# --- rubrics -----------------------------------------------------------------------------


async def create_rubric(
    session: AsyncSession,
    principal: Principal | None,
    organization_id: uuid.UUID,
    *,
    slug: str,
    source_yaml: str,
) -> tuple[Rubric, RubricVersion]:
    if principal is not None:
        require_author(principal)
    parsed = parse_rubric(source_yaml)
    taken = (
        await session.execute(
            scoped(select(Rubric.id), Rubric, organization_id).where(Rubric.slug == slug)
        )
    ).first()
    if taken is not None:
        raise RubricSlugTaken(f"a rubric with slug {slug!r} already exists")
    rubric = Rubric(
        organization_id=organization_id,
        slug=slug,
        title=parsed.title,
        kind=parsed.kind,
        latest_version=1,
    )
    session.add(rubric)
    await session.flush()
    version = await _add_rubric_version(session, principal, rubric, 1, source_yaml)
    return rubric, version


async def _add_rubric_version(
    session: AsyncSession,
    principal: Principal | None,
    rubric: Rubric,
    number: int,
    source_yaml: str,
) -> RubricVersion:
    parsed = parse_rubric(source_yaml)
    if parsed.kind != rubric.kind:
        raise RubricKindChanged(
            f"this rubric is {rubric.kind}; a new version cannot be {parsed.kind}"
        )
    version = RubricVersion(
        organization_id=rubric.organization_id,
        rubric_id=rubric.id,
        version=number,
        source_yaml=source_yaml,
        document=rubric_to_document(parsed),
        max_points=rubric_max_points(parsed),
        created_by=principal.actor.id if principal else None,
        created_at=utcnow(),
    )
    session.add(version)
    rubric.latest_version = number
    rubric.title = parsed.title
    await session.flush()
    await audit.record(
        session,
        organization_id=rubric.organization_id,
        action="rubric.version_created",
        actor=principal.actor if principal else audit.SYSTEM_ACTOR,
        target_type="rubric",
        target_id=rubric.id,
        data={"version": number},
    )
    return version


async def add_rubric_version(
    session: AsyncSession, principal: Principal, rubric_id: uuid.UUID, source_yaml: str
) -> tuple[Rubric, RubricVersion]:
    require_author(principal)
    rubric = await get_scoped(
        session, Rubric, rubric_id, principal.organization_id, what="rubric", error=RubricNotFound
    )
    version = await _add_rubric_version(
        session, principal, rubric, rubric.latest_version + 1, source_yaml
    )
    return rubric, version


async def list_rubrics(session: AsyncSession, principal: Principal) -> Sequence[Rubric]:
    stmt = scoped(select(Rubric), Rubric, principal.organization_id).order_by(Rubric.slug)
    return (await session.execute(stmt)).scalars().all()


async def get_rubric_version(
    session: AsyncSession, principal: Principal, rubric_id: uuid.UUID, version: int | None
) -> tuple[Rubric, RubricVersion]:
    rubric = await get_scoped(
        session, Rubric, rubric_id, principal.organization_id, what="rubric", error=RubricNotFound
    )
    number = version if version is not None else rubric.latest_version
    row = (
        await session.execute(
            select(RubricVersion).where(
                RubricVersion.rubric_id == rubric.id, RubricVersion.version == number
            )
        )
    ).scalar_one_or_none()
    if row is None:
        raise RubricVersionNotFound(f"rubric {rubric_id} has no version {number}")
    return rubric, row
