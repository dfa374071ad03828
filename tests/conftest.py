"""The test harness every domain's tests live with.

Database tests run twice, once per backend (``[sqlite]`` and ``[postgresql]`` in test ids).
Each backend gets one migrated template per run; ``db_session`` runs a test inside a
transaction that is rolled back (commits inside become savepoint releases), and
``fresh_database`` hands a test its own copy of the template when it needs real commits
from several connections (concurrency tests).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from sqlalchemy.ext.asyncio import AsyncSession

from tests.dbharness import PostgresDatabases, SqliteDatabases
from tests.services import require_postgres
from waa_ads.core.db import Database
from waa_ads.core.deps import get_session, get_write_session
from waa_ads.core.settings import Environment, Settings
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

TEST_SECRET = "test-secret-key-that-is-long-enough-0123456789"


def make_settings(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "env": Environment.test,
        "secret_key": TEST_SECRET,
        "data_dir": Path(tempfile.mkdtemp(prefix="waa-data-")),
        "log_json": True,
        # Cheap Argon2id parameters: tests only.
        "argon2_time_cost": 1,
        "argon2_memory_kib": 8,
        "argon2_parallelism": 1,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


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
    """The shared database of this backend; tests reach it through ``db_session``."""
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
async def db_session(database: Database) -> AsyncIterator[AsyncSession]:
    """A session inside a transaction that is rolled back after the test."""
    async with database.write_engine.connect() as conn:
        outer = await conn.begin()
        session = AsyncSession(
            bind=conn, expire_on_commit=False, join_transaction_mode="create_savepoint"
        )
        try:
            yield session
        finally:
            await session.close()
            if outer.is_active:
                await outer.rollback()


@pytest.fixture
def settings() -> Settings:
    return make_settings()


@pytest_asyncio.fixture
async def app(
    settings: Settings, database: Database, db_session: AsyncSession
) -> AsyncIterator[FastAPI]:
    """The app wired to the test's rolled-back session: what a request commits, the test
    sees, and nothing survives the test."""
    application = create_app(settings, database=database)

    async def _session() -> AsyncIterator[AsyncSession]:
        # A savepoint stands in for the request's transaction: released when the route
        # returns, rolled back when it raises, as the real dependency commits or rolls back.
        nested = await db_session.begin_nested()
        try:
            yield db_session
        except BaseException:
            await nested.rollback()
            raise
        await nested.commit()

    application.dependency_overrides[get_session] = _session
    application.dependency_overrides[get_write_session] = _session
    async with application.router.lifespan_context(application):
        yield application


@pytest_asyncio.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest_asyncio.fixture
async def live_app(settings: Settings, fresh_database: Database) -> AsyncIterator[FastAPI]:
    """The app on a database of its own, with real commits (no rolled-back session): for
    flows whose side effects commit in their own transactions (token stores, rate limits)."""
    application = create_app(settings, database=fresh_database)
    async with application.router.lifespan_context(application):
        yield application


@pytest_asyncio.fixture
async def live_client(live_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=live_app)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as c:
        yield c
