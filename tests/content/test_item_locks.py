"""An edit of an item holds its version against another edit or a publish, not against the
rows that merely refer to the version (an attempt's item, a rating task): their foreign-key
checks take FOR KEY SHARE, which must not wait for an edit in progress."""

from __future__ import annotations

import uuid

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from tests.support.exams import World
from tests.support.factories import Factory
from waa_ads.auth.deps import Principal
from waa_ads.content import service
from waa_ads.content.models import Item, ItemVersion
from waa_ads.content.schemas import ItemMetadata
from waa_ads.core.db import Database

pytestmark = [
    pytest.mark.asyncio,
    pytest.mark.parametrize("backend", ["postgresql"], indirect=True),
]


async def test_an_edit_in_progress_holds_back_edits_but_not_references(
    live_app: FastAPI, live_client: httpx.AsyncClient, live_make: Factory
) -> None:
    world = await World(live_client, live_make).setup()
    db: Database = live_app.state.db
    item_id = uuid.UUID(world.items["A1"])
    async with db.transaction(write=False) as session:
        published = await session.scalar(
            select(ItemVersion.id)
            .join(Item, Item.id == ItemVersion.item_id)
            .where(Item.id == item_id, ItemVersion.version == Item.published_version)
        )
    lock = "SELECT id FROM {table} WHERE id = :id FOR {mode} NOWAIT".format
    async with db.transaction() as editor:
        await service.update_item(
            editor,
            Principal.system(world.org.id),
            item_id,
            definition=None,
            metadata=ItemMetadata(tags=["edited"]),
            rubric_version_id=None,
            change_note="an edit in progress",
            expected_version=None,
        )
        async with db.transaction() as other:
            # A row referring to the published version can be written meanwhile...
            found = await other.scalar(
                text(lock(table=ItemVersion.__tablename__, mode="KEY SHARE")), {"id": published}
            )
            assert found == published
        async with db.transaction() as other:
            # ...while another edit (or a publish) of it waits.
            with pytest.raises(DBAPIError, match="could not obtain lock"):
                await other.execute(
                    text(lock(table=ItemVersion.__tablename__, mode="NO KEY UPDATE")),
                    {"id": published},
                )
