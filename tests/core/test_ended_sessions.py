"""PostgreSQL ending the app's connections (a restart, ``pg_terminate_backend``) is an
outage of a moment: the requests that meet it answer 503 with ``Retry-After``, never 500,
and the next ones succeed on new connections, with the app still running.

The app reaches PostgreSQL through a small TCP relay, so a test can also hold back the
socket's closing after the server's farewell ("terminating connection due to administrator
command"): a statement started in that gap is the one that met asyncpg's protocol error
("cannot switch to state 12; another operation (2) is in progress") during a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.engine import make_url

from tests.support.exams import begin, exam
from tests.support.factories import Factory
from waa_ads.core.db import ConnectionLost, Database
from waa_ads.core.errors import UNAVAILABLE_RETRY_AFTER_S, is_unavailable
from waa_ads.core.settings import Settings
from waa_ads.delivery.models import Response
from waa_ads.main import create_app

pytestmark = [
    pytest.mark.asyncio,
    pytest.mark.parametrize("backend", ["postgresql"], indirect=True),
]


class Relay:
    """Relays TCP connections to PostgreSQL. With ``hold`` set, a connection the server
    ends has the server's last bytes passed on at once but its closing held back until
    ``hold`` is set."""

    def __init__(self, host: str, port: int) -> None:
        self.upstream = (host, port)
        self.hold: asyncio.Event | None = None
        self.open = 0
        self.ended_by_server = 0
        self._changed = asyncio.Event()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        self.release()
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def release(self) -> None:
        if self.hold is not None:
            self.hold.set()

    async def wait_ended(self, count: int) -> None:
        """Until the server has ended ``count`` relayed connections (its bytes passed on)."""
        async with asyncio.timeout(10):
            while self.ended_by_server < count:
                self._changed.clear()
                await self._changed.wait()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.open += 1
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
            await asyncio.gather(
                self._pump(reader, up_writer, from_server=False),
                self._pump(up_reader, writer, from_server=True),
            )
        finally:
            self.open -= 1
            self._tasks.discard(task)

    async def _pump(
        self, source: asyncio.StreamReader, sink: asyncio.StreamWriter, *, from_server: bool
    ) -> None:
        try:
            while data := await source.read(65536):
                sink.write(data)
                await sink.drain()
        except OSError:
            pass
        finally:
            if from_server:
                self.ended_by_server += 1
                self._changed.set()
                if self.hold is not None:
                    await self.hold.wait()
            sink.close()
            with contextlib.suppress(OSError):
                await sink.wait_closed()


@pytest_asyncio.fixture
async def relay(fresh_database: Database) -> AsyncIterator[Relay]:
    url = make_url(fresh_database.url)
    relay = Relay(url.host or "127.0.0.1", url.port or 5432)
    await relay.start()
    yield relay
    await relay.stop()


@pytest_asyncio.fixture
async def relayed_app(
    settings: Settings, fresh_database: Database, relay: Relay
) -> AsyncIterator[FastAPI]:
    """The app on the test's own database, through the relay."""
    port = relay._server.sockets[0].getsockname()[1] if relay._server else 0
    url = make_url(fresh_database.url).set(host="127.0.0.1", port=port)
    database = Database(url.render_as_string(hide_password=False), pool_size=5)
    application = create_app(settings, database=database)
    try:
        async with application.router.lifespan_context(application):
            yield application
    finally:
        relay.release()  # a held socket would keep the pool's closing waiting
        await database.dispose()


@pytest_asyncio.fixture
async def relayed_client(relayed_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=relayed_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as c:
        yield c


async def _terminate_backends(fresh_database: Database) -> int:
    """``pg_terminate_backend`` every other session on the test's database, from a
    connection of its own: what a fast shutdown does to them. Returns how many."""
    url = make_url(fresh_database.url)
    admin = await asyncpg.connect(
        host=url.host, port=url.port, user=url.username, password=url.password, database="postgres"
    )
    try:
        ended = await admin.fetch(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = $1 AND pid <> pg_backend_pid()",
            url.database,
        )
        return len(ended)
    finally:
        await admin.close()


async def _fill_pool(app: FastAPI, connections: int) -> None:
    """Leave ``connections`` open connections in the app's pool."""
    engine = app.state.db.engine
    async with contextlib.AsyncExitStack() as stack:
        for _ in range(connections):
            conn = await stack.enter_async_context(engine.connect())
            await conn.exec_driver_sql("SELECT 1")


def _assert_503(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == str(UNAVAILABLE_RETRY_AFTER_S)
    assert response.json()["type"].endswith("/service-unavailable")


async def _stored_seq(app: FastAPI, attempt_id: str) -> int:
    async with app.state.db.transaction(write=False) as session:
        seq = await session.scalar(
            select(Response.seq).where(
                Response.attempt_id == uuid.UUID(attempt_id), Response.item_ref == "Q1"
            )
        )
    return int(seq or 0)


async def _warm_attempt(
    client: httpx.AsyncClient, app: FastAPI
) -> tuple[str, dict[str, str], Factory]:
    make = Factory(app.state.auth)
    ex = await exam(client, make, candidates=1)
    attempt_id, headers = await begin(client, ex.codes[0])
    # The first save teaches this process the form: the next ones take autosave's short way
    # (one statement on a pooled connection's own asyncpg connection).
    first = await client.put(
        f"/api/v1/attempts/{attempt_id}/responses/Q1",
        json={"seq": 1, "value": "A"},
        headers=headers,
    )
    assert first.status_code == 200, first.text
    return attempt_id, headers, make


async def test_connections_ended_while_pooled_are_replaced_without_a_failed_request(
    relayed_app: FastAPI, relayed_client: httpx.AsyncClient, relay: Relay, fresh_database: Database
) -> None:
    attempt_id, headers, _ = await _warm_attempt(relayed_client, relayed_app)
    await _fill_pool(relayed_app, 3)
    pooled = relay.open
    assert await _terminate_backends(fresh_database) >= pooled
    await relay.wait_ended(pooled)
    await asyncio.sleep(0.1)  # the app's side of the sockets sees them closed

    for seq in (2, 3):  # autosave's short way, twice (the first pooled connection is gone)
        saved = await relayed_client.put(
            f"/api/v1/attempts/{attempt_id}/responses/Q1",
            json={"seq": seq, "value": "B"},
            headers=headers,
        )
        assert saved.status_code == 200, saved.text
        assert saved.json()["current_seq"] == seq
    read = await relayed_client.get(f"/api/v1/attempts/{attempt_id}", headers=headers)
    assert read.status_code == 200, read.text
    assert await _stored_seq(relayed_app, attempt_id) == 3


async def test_a_statement_between_the_farewell_and_the_close_is_503_then_saves_work(
    relayed_app: FastAPI, relayed_client: httpx.AsyncClient, relay: Relay, fresh_database: Database
) -> None:
    attempt_id, headers, _ = await _warm_attempt(relayed_client, relayed_app)
    await _fill_pool(relayed_app, 3)
    pooled = relay.open
    relay.hold = asyncio.Event()
    assert await _terminate_backends(fresh_database) >= pooled
    await relay.wait_ended(pooled)
    await asyncio.sleep(0.1)  # the farewell reached the app's connections; they are not closed

    save = f"/api/v1/attempts/{attempt_id}/responses/Q1"
    # Autosave's short way: the raw asyncpg connection is mid-way in its protocol.
    _assert_503(await relayed_client.put(save, json={"seq": 2, "value": "B"}, headers=headers))
    # A routed read (SQLAlchemy's session) on another of those connections.
    _assert_503(await relayed_client.get(f"/api/v1/attempts/{attempt_id}", headers=headers))

    relay.hold.set()  # the sockets close, as they do right after the farewell
    await asyncio.sleep(0.1)
    for seq in (2, 3):
        saved = await relayed_client.put(save, json={"seq": seq, "value": "C"}, headers=headers)
        assert saved.status_code == 200, saved.text
        assert saved.json()["current_seq"] == seq
    read = await relayed_client.get(f"/api/v1/attempts/{attempt_id}", headers=headers)
    assert read.status_code == 200, read.text
    assert await _stored_seq(relayed_app, attempt_id) == 3


async def test_driver_connection_keeps_a_connection_after_an_sql_error_and_drops_it_after_a_cancel(
    fresh_database: Database,
) -> None:
    db = Database(fresh_database.url, pool_size=1)  # one connection, reused when it can be
    try:
        async with db.driver_connection() as conn:
            first = await conn.fetchval("SELECT pg_backend_pid()")
        with pytest.raises(asyncpg.DivisionByZeroError):
            async with db.driver_connection() as conn:
                await conn.fetchval("SELECT 1 / 0")
        async with db.driver_connection() as conn:
            assert await conn.fetchval("SELECT pg_backend_pid()") == first  # kept

        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.2), db.driver_connection() as conn:
                await conn.fetchval("SELECT pg_sleep(5)")
        async with db.driver_connection() as conn:
            again = await conn.fetchval("SELECT pg_backend_pid()")
            assert again != first  # a new connection, not the interrupted one
            assert await conn.fetchval("SELECT 41 + 1") == 42
    finally:
        await db.dispose()


async def test_driver_connection_raises_connection_lost_for_an_ended_session(
    fresh_database: Database, relay: Relay
) -> None:
    url = make_url(fresh_database.url)
    port = relay._server.sockets[0].getsockname()[1] if relay._server else 0
    db = Database(url.set(host="127.0.0.1", port=port).render_as_string(False), pool_size=1)
    try:
        async with db.driver_connection() as conn:
            assert await conn.fetchval("SELECT 1") == 1
        relay.hold = asyncio.Event()
        await _terminate_backends(fresh_database)
        await relay.wait_ended(1)
        await asyncio.sleep(0.1)
        with pytest.raises(ConnectionLost) as lost:
            async with db.driver_connection() as conn:
                await conn.fetchval("SELECT 1")
        assert isinstance(lost.value.__cause__, asyncpg.exceptions.InternalClientError)
        assert is_unavailable(lost.value)
        relay.hold.set()
        async with db.driver_connection() as conn:
            assert await conn.fetchval("SELECT 2") == 2
    finally:
        relay.release()
        await db.dispose()


async def test_two_statements_at_once_on_one_connection_is_still_a_bug(
    fresh_database: Database,
) -> None:
    """Not every asyncpg interface error is an outage: using one connection for two
    statements at once is a bug, answered 500."""
    db = Database(fresh_database.url, pool_size=1)
    try:
        async with db.driver_connection() as conn:
            slow = asyncio.create_task(conn.fetchval("SELECT pg_sleep(0.2)"))
            await asyncio.sleep(0.05)
            with pytest.raises(asyncpg.InterfaceError) as misuse:
                await conn.fetchval("SELECT 1")
            await slow
        assert "another operation is in progress" in str(misuse.value)
        assert not is_unavailable(misuse.value)
        async with db.driver_connection() as conn:  # and the pool goes on
            assert await conn.fetchval("SELECT 1") == 1
    finally:
        await db.dispose()
    assert is_unavailable(
        asyncpg.exceptions.InternalClientError(
            "cannot switch to state 12; another operation (2) is in progress"
        )
    )
    assert not is_unavailable(
        asyncpg.exceptions.InternalClientError(
            "cannot switch to state 12; another operation (11) is in progress"
        )
    )
