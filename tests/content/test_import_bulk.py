"""The import's bulk way of storing items: the same rows, audit events and checks as creating
items one by one; package items parsed once; the garbage collector paused and resumed."""

from __future__ import annotations

import gc
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.support.factories import Factory
from tests.support.items import choice_item, package
from waa_ads.audit.models import AuditEvent
from waa_ads.auth.deps import Principal
from waa_ads.content import schemas, service, transfer
from waa_ads.content.errors import ImportRejected, ItemIdentifierTaken
from waa_ads.content.interchange.native import load_native
from waa_ads.content.interchange.qti.common import MAX_ITEM_BYTES, safe_parser
from waa_ads.content.interchange.qti.package import (
    build_package,
    iter_package_items,
    read_package,
)
from waa_ads.content.interchange.qti.reader import parse_item
from waa_ads.content.item.definition import ItemFormatError
from waa_ads.content.models import Item, ItemTag, ItemVersion
from waa_ads.core.storage import LocalBlobStore

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "items"

#: Columns that differ between two banks by nature (ids, the bank, the moment).
_OWN = {"id", "item_id", "bank_id", "created_at", "updated_at", "published_at"}


def _new_items() -> list[service.NewItem]:
    native = load_native((FIXTURES / "native" / "capital.yaml").read_bytes())
    qti = parse_item((FIXTURES / "qti" / "match.v3p0.xml").read_bytes())
    unicode = parse_item(
        choice_item("unicode", "Ünïcödé — “quotes” &amp; &lt;escapes&gt;").encode()
    )
    metadata = schemas.ItemMetadata(
        tags=["geography", "europe", "europe"],
        subject="Géographie",
        standards=["STD.1", "STD.2"],
        estimated_time_s=90,
    )
    return [
        service.NewItem(native, metadata, change_note="first"),
        service.NewItem(qti, schemas.ItemMetadata(), audit_data={"imported_from": "x.zip"}),
        service.NewItem(unicode, schemas.ItemMetadata(tags=["ünï"])),
    ]


async def _stored(session: AsyncSession, bank_id: Any) -> list[dict[str, Any]]:
    """Each item of the bank as read back from the database (not the identity map)."""
    items = (
        (await session.execute(select(Item.__table__).where(Item.bank_id == bank_id)))
        .mappings()
        .all()
    )
    found = []
    for item in sorted(items, key=lambda row: str(row["identifier"])):
        version = (
            (
                await session.execute(
                    select(ItemVersion.__table__).where(ItemVersion.item_id == item["id"])
                )
            )
            .mappings()
            .one()
        )
        tags = (
            await session.execute(
                select(ItemTag.tag, ItemTag.organization_id).where(ItemTag.item_id == item["id"])
            )
        ).all()
        events = (
            await session.execute(
                select(AuditEvent.action, func.count())
                .where(AuditEvent.target_id == str(item["id"]))
                .group_by(AuditEvent.action)
            )
        ).all()
        for moment in ("created_at", "updated_at"):
            assert item[moment] is not None and item[moment].tzinfo is not None
        found.append(
            {
                "item": {k: v for k, v in item.items() if k not in _OWN},
                "version": {k: v for k, v in version.items() if k not in _OWN},
                "published_at set": version["published_at"] is not None,
                "tags": sorted(tags),
                "events": sorted(events),
            }
        )
    return found


@pytest.mark.asyncio
@pytest.mark.parametrize("publish", [False, True])
async def test_bulk_insert_stores_what_creating_items_stores(
    make: Factory, db_session: AsyncSession, publish: bool
) -> None:
    org = await make.organization()
    principal = Principal.system(org.id)
    one = await service.create_bank(
        db_session, principal, schemas.BankCreate(slug="bank-a", name="A")
    )
    bulk = await service.create_bank(
        db_session, principal, schemas.BankCreate(slug="bank-b", name="B")
    )

    created = await service.create_items(
        db_session, principal, one.id, _new_items(), publish=publish
    )
    inserted = await service.insert_items(
        db_session, principal, bulk.id, _new_items(), publish=publish
    )

    assert [(c.version, c.status) for c in inserted] == [(v.version, v.status) for _, v in created]
    by_orm, by_bulk = await _stored(db_session, one.id), await _stored(db_session, bulk.id)
    assert by_bulk == by_orm
    assert [row["item"]["identifier"] for row in by_bulk] == [
        "capital-of-france",
        "match",
        "unicode",
    ]
    capital = by_bulk[0]
    assert capital["version"]["tags"] == ["europe", "geography"]
    assert capital["version"]["standards"] == ["STD.1", "STD.2"]
    assert capital["version"]["statistics"] == {} and capital["version"]["irt"] == {}
    assert capital["published_at set"] is publish
    assert capital["events"] == [("item.created", 1)]
    # The rows written in bulk read back as items like any other.
    for stored in inserted:
        item, version = await service.get_version(db_session, principal, stored.item_id)
        assert (item.latest_version, version.status) == (1, stored.status)


@pytest.mark.asyncio
async def test_bulk_insert_refuses_an_identifier_taken_and_stores_nothing(
    make: Factory, db_session: AsyncSession
) -> None:
    org = await make.organization()
    principal = Principal.system(org.id)
    bank = await service.create_bank(
        db_session, principal, schemas.BankCreate(slug="bank-a", name="A")
    )
    await service.insert_items(db_session, principal, bank.id, _new_items()[:1])
    with pytest.raises(ItemIdentifierTaken):
        await service.insert_items(db_session, principal, bank.id, _new_items())
    again = _new_items()[1:]
    with pytest.raises(ItemIdentifierTaken):
        await service.insert_items(db_session, principal, bank.id, [*again, *again])
    count = await db_session.scalar(select(func.count()).where(Item.bank_id == bank.id))
    assert count == 1


def _collector_states() -> Sequence[bool]:
    states = [gc.isenabled()]
    with transfer.collector_paused():
        states.append(gc.isenabled())
        with transfer.collector_paused():
            states.append(gc.isenabled())
        states.append(gc.isenabled())
    states.append(gc.isenabled())
    return states


def test_the_collector_pause_nests_and_leaves_the_collector_as_it_found_it() -> None:
    assert gc.isenabled()
    assert _collector_states() == [True, False, False, False, True]
    gc.disable()
    try:
        assert _collector_states() == [False, False, False, False, False]
    finally:
        gc.enable()


@pytest.mark.asyncio
async def test_an_import_resumes_the_collector_whether_it_stores_or_is_refused(
    make: Factory, db_session: AsyncSession, tmp_path: Path
) -> None:
    org = await make.organization()
    principal = Principal.system(org.id)
    bank = await service.create_bank(
        db_session, principal, schemas.BankCreate(slug="bank-a", name="A")
    )
    blobs = LocalBlobStore(tmp_path)
    good = transfer.candidates_from_bytes("p.zip", package("Q1", "Q2"))
    assert gc.isenabled()
    report = await transfer.import_items(db_session, blobs, principal, bank.id, good)
    assert report.ok and gc.isenabled()
    broken = transfer.candidates_from_bytes("q.zip", package("Q3", with_media=False))
    with pytest.raises(ImportRejected):
        await transfer.import_items(db_session, blobs, principal, bank.id, broken)
    assert gc.isenabled()


def test_package_items_come_with_their_parsed_documents() -> None:
    data = package("Q1", "Q2", with_media=False)
    listed = read_package(data).items
    streamed = list(iter_package_items(data))
    assert [resource for resource, _ in streamed] == list(listed)
    for resource, document in streamed:
        # The picture is missing: refused, and no document comes with a refusal.
        assert not resource.ok and document is None
    single = build_package([("Q9", choice_item("Q9", "Nine").encode())], {})
    ((resource, document),) = list(iter_package_items(single))
    assert resource.ok and document is not None and resource.xml is not None
    assert parse_item(resource.xml, document=document) == parse_item(resource.xml)


@pytest.mark.parametrize("path", sorted((FIXTURES / "qti").glob("*.xml")), ids=lambda p: p.name)
def test_an_item_parsed_already_reads_as_when_parsed_from_its_bytes(path: Path) -> None:
    xml = path.read_bytes()
    document = etree.fromstring(xml, safe_parser())
    assert parse_item(xml, document=document) == parse_item(xml)


def test_an_item_parsed_already_is_still_refused_when_too_large() -> None:
    xml = choice_item("big", "Big").encode()
    document = etree.fromstring(xml, safe_parser())
    padded = xml + b" " * MAX_ITEM_BYTES
    with pytest.raises(ItemFormatError, match="larger than"):
        parse_item(padded, document=document)
    with pytest.raises(ItemFormatError, match="larger than"):
        parse_item(padded)


@pytest.mark.asyncio
async def test_bulk_insert_in_chunks_stores_every_item_in_order(
    make: Factory, db_session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    org = await make.organization()
    principal = Principal.system(org.id)
    bank = await service.create_bank(
        db_session, principal, schemas.BankCreate(slug="bank-a", name="A")
    )
    monkeypatch.setattr(service, "BULK_CHUNK", 2)
    new_items = [
        service.NewItem(
            parse_item(choice_item(f"Q{n}", f"Item {n}").encode()), schemas.ItemMetadata()
        )
        for n in range(5)
    ]
    inserted = await service.insert_items(db_session, principal, bank.id, new_items)
    stored = await _stored(db_session, bank.id)
    assert [row["item"]["identifier"] for row in stored] == [f"Q{n}" for n in range(5)]
    assert all(row["events"] == [("item.created", 1)] for row in stored)
    assert len({c.item_id for c in inserted}) == 5
    sequence = (
        (
            await db_session.execute(
                select(AuditEvent.target_id)
                .where(AuditEvent.target_id.in_([str(c.item_id) for c in inserted]))
                .order_by(AuditEvent.seq)
            )
        )
        .scalars()
        .all()
    )
    assert sequence == [str(c.item_id) for c in inserted]


def test_a_package_larger_than_a_batch_reads_every_item(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transfer, "PACKAGE_BATCH", 2)
    items = [(f"Q{n}", choice_item(f"Q{n}", f"Item {n}").encode()) for n in range(5)]
    found = transfer.candidates_from_bytes("p.zip", build_package(items, {}))
    assert [c.item.identifier if c.item else c.error for c in found] == [f"Q{n}" for n in range(5)]
