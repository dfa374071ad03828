"""Request-scoped dependencies shared by every domain's router."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from waa_ads.core.db import Database
from waa_ads.core.settings import Settings

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


# Async on purpose: FastAPI runs a plain ``def`` dependency in the thread pool, a hop per
# request for what is an attribute read.
async def get_database(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


async def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_session(
    request: Request, db: Annotated[Database, Depends(get_database)]
) -> AsyncIterator[AsyncSession]:
    """The request's unit of work, shared by every dependency of the request: commits once
    when the route returns, before the response is sent (``scope="function"`` below), and
    rolls back if the route raised. Reading methods get a transaction that takes no write
    lock on SQLite.

    Services only ``flush()``; this and :meth:`Database.transaction` are the only commits.
    """
    async with db.transaction(write=request.method not in READ_METHODS) as session:
        yield session


async def get_write_session(
    db: Annotated[Database, Depends(get_database)],
) -> AsyncIterator[AsyncSession]:
    """A writing unit of work even for a GET: for reads that may have to write (a GET on an
    attempt expires it when its time is up). On SQLite this takes the write lock up front,
    instead of failing to upgrade a read snapshot later."""
    async with db.transaction(write=True) as session:
        yield session


#: The request's session, committed before the 2xx leaves the server.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]
DatabaseDep = Annotated[Database, Depends(get_database)]
WriteSessionDep = Annotated[AsyncSession, Depends(get_write_session, scope="function")]
