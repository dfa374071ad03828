"""Database plumbing: the declarative base, portable column types and the engine.

Two dialects are supported: PostgreSQL through asyncpg (production) and SQLite through
aiosqlite (the embedded default). Portable types keep both behaving the same: timestamps
are timezone-aware UTC on both, JSON is JSONB on PostgreSQL.

Transactions on SQLite: pysqlite's own transaction handling is switched off and the engine
emits ``BEGIN`` itself, ``BEGIN IMMEDIATE`` on the writer engine, so a writing transaction
takes the write lock up front and waits ``busy_timeout`` for it instead of failing later
with "database is locked" when it upgrades a read lock.

Connections PostgreSQL has ended (a restart, ``pg_terminate_backend``, a session timeout)
are not handed out again: one found closed when it leaves the pool is replaced there and
then, and one a statement failed on because its session ended is closed rather than put
back (see :func:`connection_is_broken`).
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import JSON, DateTime, MetaData, String, TypeDecorator, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Dialect, ExceptionContext, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection

from waa_ads.core.settings import Settings

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

JSONType = JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> datetime:
    """Now, timezone-aware UTC (microsecond precision, which both dialects store)."""
    return datetime.now(UTC)


def uuid7() -> uuid.UUID:
    """A time-ordered UUID (RFC 9562 version 7): ids sort by creation, keeping indexes local."""
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(secrets.token_bytes(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= ((rand >> 62) & 0xFFF) << 64
    value |= 0b10 << 62
    value |= rand & ((1 << 62) - 1)
    return uuid.UUID(int=value)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp that reads back identically on PostgreSQL and SQLite.

    Naive datetimes are refused on the way in: the caller must say what time zone it means.
    SQLite stores a fixed-width ISO-8601 string, so text order is time order.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(32))
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use a timezone-aware UTC datetime")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            # %Y does not pad years before 1000 ("360-06-12"), which would not read back
            # (nor sort as text): the year is padded to four digits by hand.
            return f"{value.year:04d}" + value.strftime("-%m-%dT%H:%M:%S.%fZ")
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        assert isinstance(value, datetime)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSONType}


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _install_sqlite_hooks(
    engine: AsyncEngine, busy_timeout_ms: int, *, foreign_keys: bool = True
) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # Take transaction control away from pysqlite; the "begin" hook below emits BEGIN.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute(f"PRAGMA foreign_keys = {'ON' if foreign_keys else 'OFF'}")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


class ConnectionLost(ConnectionError):
    """PostgreSQL ended the session of the connection a statement was about to run on (a
    restart, ``pg_terminate_backend``, a session timeout). It is raised from asyncpg's own
    error (its protocol met the server's farewell outside any statement); the connection
    has been closed, and the request can be sent again."""


# PostgreSQL states that end the session: admin or crash shutdown, cannot connect now; and
# the connection-exception class 08.
_SESSION_ENDING_STATES = ("57P01", "57P02", "57P03")

# What asyncpg raises when a statement starts on a connection whose protocol is still
# discarding a message the server sent while no statement ran (state 2, "consuming an
# error"). asyncpg refuses a second statement on a busy connection with an InterfaceError
# before it gets this far, so this state without a statement in progress means the server
# spoke unasked, which it does only to end the session (a FATAL ErrorResponse, just before
# it closes the socket).
_ENDED_SESSION_MESSAGE = re.compile(r"another operation \(2\) is in progress")

#: How long a connection that met another asyncpg protocol error is watched for the server
#: closing it (which follows the server's FATAL message at once) before the error is taken
#: for a bug.
CLOSE_GRACE_S = 0.5


def ended_session_error(exc: BaseException) -> bool:
    """Whether ``exc`` is asyncpg's ``InternalClientError`` for a statement started on a
    connection whose session the server has just ended (see ``_ENDED_SESSION_MESSAGE``),
    or SQLAlchemy's translation of it (raised from it)."""
    for error in (exc, exc.__cause__):
        if isinstance(error, asyncpg.exceptions.InternalClientError):
            return bool(_ENDED_SESSION_MESSAGE.search(str(error)))
    return False


def connection_is_broken(exc: BaseException, driver: Any | None = None) -> bool:
    """Whether the connection ``exc`` was raised on must be closed rather than reused.

    A PostgreSQL error answered by the server (a constraint, a lock timeout, a syntax
    error) leaves the connection ready for the next statement, unless the answer is that
    the session is ending. Anything else escaping a statement (the connection closed or
    reset, an asyncpg protocol or interface error, a cancelled or timed-out wait) may have
    left the connection in the middle of an exchange with the server: it is not trusted
    again.
    """
    if driver is not None and driver.is_closed():
        return True
    if isinstance(exc, asyncpg.PostgresError):
        state = getattr(exc, "sqlstate", None) or ""
        return state in _SESSION_ENDING_STATES or state.startswith("08")
    return True


async def _closes_within(driver: Any, seconds: float) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not driver.is_closed():
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(0.01)
    return True


def _install_postgres_hooks(engine: AsyncEngine) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine.pool, "checkout")
    def _on_checkout(
        _dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: PoolProxiedConnection
    ) -> None:
        # A connection the server closed while it sat in the pool (a restart): the pool
        # replaces it when this is raised, so no request meets it. A local check, with no
        # round trip (unlike a pre-ping).
        driver = record.driver_connection
        if driver is not None and driver.is_closed():
            raise sa_exc.DisconnectionError("the server closed this pooled connection")

    @event.listens_for(sync_engine, "handle_error")
    def _on_error(context: ExceptionContext) -> None:
        # SQLAlchemy counts a disconnect only once the connection is closed; a statement
        # that starts between the server's farewell and the socket closing gets asyncpg's
        # protocol error instead. It is a disconnect too: the connection (and the pool, as
        # for any disconnect) is invalidated, and the error says so.
        if ended_session_error(context.original_exception):
            context.is_disconnect = True


class Database:
    """An engine with a reader and a writer session factory.

    On PostgreSQL both factories are the same. On SQLite the writer begins its
    transactions with ``BEGIN IMMEDIATE``.
    """

    def __init__(
        self,
        url: str,
        *,
        echo: bool = False,
        pool_size: int = 10,
        sqlite_busy_timeout_ms: int = 15_000,
        sqlite_foreign_keys: bool = True,
    ) -> None:
        """``sqlite_foreign_keys=False`` is for migrations only: SQLite alters a table by
        copying it and dropping the old one, and with foreign keys on, that drop would
        delete every row that cascades from the old table."""
        self.url = url
        self.dialect_name = make_url(url).get_backend_name()
        kwargs: dict[str, Any] = {"echo": echo}
        if self.dialect_name == "sqlite":
            database = make_url(url).database
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"timeout": sqlite_busy_timeout_ms / 1000}
        else:
            # Up to twice ``pool_size`` connections, as before, but all of them kept once
            # opened: "overflow" connections would be closed on every return when the pool
            # is full, so a busy process opened and closed a connection per request.
            # Connections are opened on demand, so an idle process still holds few.
            kwargs["pool_size"] = 2 * pool_size
            kwargs["max_overflow"] = 0
            # No pre-ping: it costs a round trip on every checkout of the hot paths; stale
            # connections are recycled instead, and a dropped one fails one request.
            kwargs["pool_recycle"] = 1800
        self._statement_slots: tuple[asyncio.AbstractEventLoop, asyncio.Semaphore] | None = None
        self._statement_slot_count = 2 * pool_size
        self.engine = create_async_engine(url, **kwargs)
        if self.dialect_name == "sqlite":
            _install_sqlite_hooks(
                self.engine, sqlite_busy_timeout_ms, foreign_keys=sqlite_foreign_keys
            )
            self.write_engine = self.engine.execution_options(sqlite_begin="IMMEDIATE")
        else:
            _install_postgres_hooks(self.engine)
            self.write_engine = self.engine
        self.reader = async_sessionmaker(self.engine, expire_on_commit=False)
        self.writer = async_sessionmaker(self.write_engine, expire_on_commit=False)

    @asynccontextmanager
    async def transaction(self, *, write: bool = True) -> AsyncIterator[AsyncSession]:
        """One unit of work: commits when the block ends cleanly, rolls back otherwise.

        This and the request dependency are the only places that commit.
        """
        factory = self.writer if write else self.reader
        async with factory() as session:
            try:
                yield session
            except BaseException:
                await session.rollback()
                raise
            await session.commit()

    @asynccontextmanager
    async def driver_connection(self) -> AsyncIterator[Any]:
        """A pooled connection's own driver connection (asyncpg's on PostgreSQL), outside
        any transaction: each statement run on it is a transaction of its own, committed
        when the statement returns. For hot paths that are one statement; SQLAlchemy's
        adapter only sends ``BEGIN`` once it executes something itself, which it does not
        here, and the pool's reset on return is then a no-op.

        Because that reset does nothing, the connection is checked here when a statement
        fails on it: if the failure may have left it mid-exchange or its session has ended
        (:func:`connection_is_broken`), it is closed and its place in the pool refilled on
        the next checkout. asyncpg's protocol error for a session the server has just ended
        is raised as :class:`ConnectionLost` (an outage, answered 503), as is one on a
        connection the server closes within ``CLOSE_GRACE_S``; any other error is raised
        as it is."""
        # Waiting here, first come first served, rather than in the pool's queue: there a
        # request that just arrived can take a connection handed back before the one
        # woken for it runs, which then queues again at the end, so with hundreds of
        # requests waiting a few of them waited for many seconds.
        loop = asyncio.get_running_loop()
        if self._statement_slots is None or self._statement_slots[0] is not loop:
            self._statement_slots = (loop, asyncio.Semaphore(self._statement_slot_count))
        async with self._statement_slots[1], self.write_engine.connect() as conn:
            raw = await conn.get_raw_connection()
            driver: Any = raw.driver_connection
            try:
                yield driver
            except GeneratorExit:
                raise
            except BaseException as exc:
                if self.dialect_name != "postgresql" or not connection_is_broken(exc, driver):
                    raise
                lost = isinstance(exc, asyncpg.exceptions.InternalClientError) and (
                    ended_session_error(exc) or await _closes_within(driver, CLOSE_GRACE_S)
                )
                # Closed at once (no goodbye to a server that may be gone), then dropped
                # from the pool, which opens a new connection in its place when next asked.
                driver.terminate()
                await conn.invalidate(exc)
                if lost:
                    raise ConnectionLost("PostgreSQL ended this connection's session") from exc
                raise

    async def dispose(self) -> None:
        await self.engine.dispose()


def database_from_settings(settings: Settings) -> Database:
    return Database(
        settings.resolved_database_url,
        echo=settings.database_echo,
        pool_size=settings.database_pool_size,
        sqlite_busy_timeout_ms=settings.sqlite_busy_timeout_ms,
    )


def sqlite_path_of(url: str) -> str | None:
    """The file a SQLite URL points at, or None for other dialects and memory databases."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return os.fspath(parsed.database)


def _dialect_insert(session: AsyncSession, model: Any) -> Any:
    if session.get_bind().dialect.name == "sqlite":
        return sqlite_insert(model)
    return pg_insert(model)


async def insert_ignore(session: AsyncSession, model: Any, values: dict[str, Any]) -> None:
    """``INSERT ... ON CONFLICT DO NOTHING`` on either dialect."""
    await session.execute(_dialect_insert(session, model).values(values).on_conflict_do_nothing())


async def upsert(
    session: AsyncSession,
    model: Any,
    values: dict[str, Any],
    *,
    index_elements: list[str],
    update_columns: list[str],
) -> None:
    """``INSERT ... ON CONFLICT (index_elements) DO UPDATE`` of ``update_columns``."""
    stmt = _dialect_insert(session, model).values(values)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=index_elements,
            set_={c: stmt.excluded[c] for c in update_columns},
        )
    )
