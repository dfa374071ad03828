"""Media a package brings but the media check refuses when the import stores it: the item
using it (or every item using the shared stimulus it belongs to) is rejected with the file
and the check's reason, the other items are stored in a partial import, and an all-or-nothing
import stores no item."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.support.factories import Factory
from tests.support.items import choice_item, package
from tests.support.stimuli import PASSAGE_ID, stimulus_package
from waa_ads.auth.deps import Principal
from waa_ads.content import schemas, service, transfer
from waa_ads.content.errors import ImportRejected
from waa_ads.content.models import Item
from waa_ads.core.storage import LocalBlobStore

pytestmark = pytest.mark.asyncio

#: Bytes the media check recognizes as no picture at all.
NOT_A_PICTURE = b"this is not a picture"


async def _bank(make: Factory, session: AsyncSession, slug: str) -> tuple[Principal, uuid.UUID]:
    org = await make.organization()
    principal = Principal.system(org.id)
    bank = await service.create_bank(session, principal, schemas.BankCreate(slug=slug, name=slug))
    return principal, bank.id


async def _identifiers(session: AsyncSession, bank_id: uuid.UUID) -> list[str]:
    found = await session.execute(select(Item.identifier).where(Item.bank_id == bank_id))
    return sorted(found.scalars())


async def test_an_items_refused_media_rejects_that_item_with_the_file_and_why(
    make: Factory, db_session: AsyncSession, tmp_path: Path
) -> None:
    principal, bank_id = await _bank(make, db_session, "media-refused")
    blobs = LocalBlobStore(tmp_path)
    candidates = transfer.candidates_from_bytes("p.zip", package("Q1", "Q2"))
    broken = next(c for c in candidates if c.item is not None and c.item.identifier == "Q2")
    (path,) = broken.media
    broken.media = {path: NOT_A_PICTURE}

    with pytest.raises(ImportRejected):
        await transfer.import_items(db_session, blobs, principal, bank_id, candidates)
    assert await _identifiers(db_session, bank_id) == []

    report = await transfer.import_items(
        db_session, blobs, principal, bank_id, candidates, mode="partial"
    )
    by_id = {o.identifier: o for o in report.outcomes}
    assert by_id["Q1"].status == "imported"
    assert by_id["Q2"].status == "rejected"
    reason = by_id["Q2"].reason or ""
    assert reason.startswith(f"media {path}: ") and len(reason) > len(f"media {path}: ")
    assert await _identifiers(db_session, bank_id) == ["Q1"]


async def test_a_shared_stimulus_refused_media_rejects_every_item_using_it(
    make: Factory, db_session: AsyncSession, tmp_path: Path
) -> None:
    principal, bank_id = await _bank(make, db_session, "stimulus-media-refused")
    blobs = LocalBlobStore(tmp_path)
    candidates = transfer.candidates_from_bytes("tide.zip", stimulus_package("TIDE-1", "TIDE-2"))
    candidates += transfer.candidates_from_bytes("LAST.xml", choice_item("LAST", "Last").encode())
    for candidate in candidates:
        for packaged in candidate.stimuli:
            packaged.media = dict.fromkeys(packaged.media, NOT_A_PICTURE)
    (path,) = {path for c in candidates for s in c.stimuli for path in s.media}

    with pytest.raises(ImportRejected):
        await transfer.import_items(db_session, blobs, principal, bank_id, candidates)
    assert await _identifiers(db_session, bank_id) == []

    report = await transfer.import_items(
        db_session, blobs, principal, bank_id, candidates, mode="partial"
    )
    by_id = {o.identifier: o for o in report.outcomes}
    assert by_id["LAST"].status == "imported"
    prefix = f"its shared stimulus {PASSAGE_ID!r}: media {path}: "
    for identifier in ("TIDE-1", "TIDE-2"):
        assert by_id[identifier].status == "rejected"
        reason = by_id[identifier].reason or ""
        assert reason.startswith(prefix) and len(reason) > len(prefix)
    assert await _identifiers(db_session, bank_id) == ["LAST"]
