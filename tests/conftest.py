"""The test harness every domain's tests live with (helpers are in ``tests/support``).

Database tests run twice, once per backend (``[sqlite]`` and ``[postgresql]`` in test ids).
Each backend gets one migrated template per run and one shared copy of it. A test works in
a transaction on that copy which is rolled back when it ends: ``db_session`` is the test's
own session in it, ``db`` the database the app sees (every unit of work a savepoint in the
same transaction), ``app``/``client`` the app on ``db``, and ``make`` builds data in
``db_session``. ``fresh_database`` (with ``live_app``, ``live_client``, ``live_make``)
hands a test its own copy of the template, for tests whose commits must be real: several
connections at once, other processes, commit and rollback themselves.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from tests.support.databases import PostgresDatabases, RolledBackDatabase, SqliteDatabases
from tests.support.factories import Factory
from tests.support.services import require_postgres
from tests.support.settings import make_settings
from waa_ads.auth.service import build_auth
from waa_ads.core.db import Database
from waa_ads.core.logging import configure_logging
from waa_ads.core.settings import Settings
from waa_ads.main import create_app

hypothesis_settings.register_profile(
    "ci",
    max_examples=50,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
hypothesis_settings.register_profile("dev", max_examples=30, deadline=None)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session", autouse=True)
def _json_logs() -> None:
    """Log as the app does in production, one JSON line per event, from the first test on
    (unconfigured, structlog renders every logged exception as a highlighted traceback,
    which costs seconds)."""
    configure_logging("INFO", json=True)


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    if name == "postgresql":
        require_postgres()
    return name


@pytest_asyncio.fixture(scope="session")
async def databases(
    backend: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[PostgresDatabases | SqliteDatabases]:
    harness: PostgresDatabases | SqliteDatabases
    if backend == "postgresql":
        harness = PostgresDatabases(require_postgres())
    else:
        harness = SqliteDatabases(tmp_path_factory.mktemp("sqlite"))
    await harness.create_template()
    yield harness
    await harness.drop_all()


@pytest_asyncio.fixture(scope="session")
async def database(databases: PostgresDatabases | SqliteDatabases) -> AsyncIterator[Database]:
    """The shared database of this backend; tests reach it through ``db``/``db_session``."""
    url = await databases.copy()
    db = Database(url, pool_size=5)
    yield db
    await db.dispose()
    await databases.drop(url)


@pytest_asyncio.fixture
async def fresh_database(
    databases: PostgresDatabases | SqliteDatabases,
) -> AsyncIterator[Database]:
    """A database of the test's own, for tests whose commits must be real."""
    url = await databases.copy()
    db = Database(url, pool_size=10)
    yield db
    await db.dispose()
    await databases.drop(url)


@pytest_asyncio.fixture
async def db_connection(database: Database) -> AsyncIterator[AsyncConnection]:
    """The test's connection to the shared database, in a transaction rolled back at the
    end (on SQLite it holds the write lock: the shared database has one test at a time)."""
    async with database.write_engine.connect() as conn:
        outer = await conn.begin()
        try:
            yield conn
        finally:
            if outer.is_active:
                await outer.rollback()


@pytest_asyncio.fixture
async def db_session(db_connection: AsyncConnection) -> AsyncIterator[AsyncSession]:
    """The test's own session in the rolled-back transaction (commits inside become
    savepoint releases)."""
    session = AsyncSession(
        bind=db_connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
    )
    # Its savepoint comes first, so it encloses every unit of work the app opens later.
    await session.connection()
    try:
        yield session
    finally:
        await session.close()


@pytest_asyncio.fixture
async def db(
    database: Database, db_connection: AsyncConnection, db_session: AsyncSession
) -> RolledBackDatabase:
    """The database as the app sees it: its units of work are savepoints in the test's
    transaction (inside ``db_session``'s), so they commit for the test and vanish after it."""
    return RolledBackDatabase(database, db_connection)


@pytest.fixture
def settings() -> Settings:
    return make_settings()


@pytest_asyncio.fixture
async def make(settings: Settings, db: RolledBackDatabase, db_session: AsyncSession) -> Factory:
    """Test data added and flushed in the test's own session."""
    return Factory(build_auth(settings, db, None), db_session)


@pytest_asyncio.fixture
async def app(settings: Settings, db: RolledBackDatabase) -> AsyncIterator[FastAPI]:
    """The app on the test's rolled-back database: what a request commits, the test sees,
    and nothing survives the test."""
    application = create_app(settings, database=db)
    async with application.router.lifespan_context(application):
        yield application


@pytest_asyncio.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as c:
        yield c


@pytest_asyncio.fixture
async def live_app(settings: Settings, fresh_database: Database) -> AsyncIterator[FastAPI]:
    """The app on a database of its own, with real commits: for tests of concurrent
    requests, and of data other connections or processes must see."""
    application = create_app(settings, database=fresh_database)
    async with application.router.lifespan_context(application):
        yield application


@pytest_asyncio.fixture
async def live_client(live_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=live_app)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as c:
        yield c


@pytest.fixture
def live_make(live_app: FastAPI) -> Factory:
    """Test data, each piece committed in a unit of work of its own."""
    return Factory(live_app.state.auth)
