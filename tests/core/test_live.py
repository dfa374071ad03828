"""The live bus: in memory (one process) and over Redis pub/sub (between processes, each
with its own bus and connection, as two API processes have), and publishing only once the
unit of work commits."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
import redis.asyncio as aioredis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from tests.support.services import require_redis
from waa_ads.core import live
from waa_ads.core.live import LocalBus, RedisBus

pytestmark = pytest.mark.asyncio


def _channel() -> str:
    return f"test:{uuid.uuid4()}"


async def _next(subscription: live.Subscription) -> tuple[str, live.Message]:
    return await asyncio.wait_for(subscription.get(), 2.0)


async def test_the_local_bus_delivers_to_each_subscriber_of_the_channel() -> None:
    bus = LocalBus()
    one, other = _channel(), _channel()
    async with bus.subscribe(one) as first, bus.subscribe(one, other) as second:
        await bus.publish(one, {"n": 1})
        await bus.publish(other, {"n": 2})
        assert await _next(first) == (one, {"n": 1})
        assert await _next(second) == (one, {"n": 1})
        assert await _next(second) == (other, {"n": 2})
        assert first.get_nowait() is None
    await bus.publish(one, {"n": 3})  # nobody listens any more: nothing is kept
    assert first.get_nowait() is None


async def test_a_subscriber_that_does_not_keep_up_loses_the_oldest_news() -> None:
    bus = LocalBus()
    channel = _channel()
    async with bus.subscribe(channel) as slow:
        for n in range(live.QUEUE_SIZE + 5):
            await bus.publish(channel, {"n": n})
        assert slow.dropped == 5
        assert (await _next(slow))[1] == {"n": 5}


@pytest_asyncio.fixture
async def two_processes() -> AsyncIterator[tuple[RedisBus, RedisBus, Any]]:
    """Two buses on connections of their own (two API processes) and a third client."""
    url = require_redis()
    clients: list[Any] = [aioredis.Redis.from_url(url) for _ in range(3)]
    a, b = RedisBus(clients[0]), RedisBus(clients[1])
    try:
        yield a, b, clients[2]
    finally:
        await a.aclose()
        await b.aclose()
        for client in clients:
            await client.aclose()


async def test_news_published_in_one_process_reaches_a_subscriber_in_another(
    two_processes: tuple[RedisBus, RedisBus, Any],
) -> None:
    a, b, observer = two_processes
    channel, unrelated = _channel(), _channel()
    async with b.subscribe(channel) as first, b.subscribe(channel) as second:
        async with b.subscribe(unrelated) as third:
            # One subscription per channel and process, however many subscribers it has.
            counts: dict[Any, int] = dict(await observer.pubsub_numsub(live.PREFIX + channel))
            assert counts[(live.PREFIX + channel).encode()] == 1
            await a.publish(channel, {"event": "paused", "attempt_id": "x"})
            assert await _next(first) == (channel, {"event": "paused", "attempt_id": "x"})
            assert await _next(second) == (channel, {"event": "paused", "attempt_id": "x"})
            assert third.get_nowait() is None
        # The last subscriber of a channel gone: the process unsubscribes from it.
        counts = dict(await observer.pubsub_numsub(live.PREFIX + unrelated))
        assert counts[(live.PREFIX + unrelated).encode()] == 0
        await a.publish(channel, {"n": 2})
        assert (await _next(first))[1] == {"n": 2}


async def test_a_subscriber_in_the_publishing_process_hears_it_once(
    two_processes: tuple[RedisBus, RedisBus, Any],
) -> None:
    a, _, _ = two_processes
    channel = _channel()
    async with a.subscribe(channel) as here:
        await a.publish(channel, {"n": 1})
        assert await _next(here) == (channel, {"n": 1})
        await asyncio.sleep(0.2)
        assert here.get_nowait() is None


async def test_news_is_published_after_the_commit_and_never_after_a_rollback() -> None:
    engine = create_async_engine("sqlite+aiosqlite://")
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    bus = LocalBus()
    previous = live.install(bus)
    channel = _channel()
    try:
        async with bus.subscribe(channel) as news:
            async with sessions() as session:
                await session.execute(text("select 1"))
                live.publish_after_commit(session, channel, {"n": "committed"})
                await asyncio.sleep(0)
                assert news.get_nowait() is None  # nothing before the commit
                await session.commit()
            await live.drain()
            assert await _next(news) == (channel, {"n": "committed"})

            async with sessions() as session:
                await session.execute(text("select 1"))
                live.publish_after_commit(session, channel, {"n": "rolled back"})
                await session.rollback()
                await session.commit()

            session2: AsyncSession
            async with sessions() as session2:
                await session2.execute(text("select 1"))
                savepoint = await session2.begin_nested()
                live.publish_after_commit(session2, channel, {"n": "in a savepoint"})
                await savepoint.rollback()
                live.publish_after_commit(session2, channel, {"n": "kept"})
                await session2.commit()
            await live.drain()
            assert await _next(news) == (channel, {"n": "kept"})
            assert news.get_nowait() is None
    finally:
        live.install(previous)
        await engine.dispose()


async def test_a_failed_subscribe_leaves_the_channel_free_to_subscribe_again() -> None:
    """Redis unreachable at SUBSCRIBE: the caller hears the error, and once Redis answers
    again the next subscriber of the same channel gets the news."""
    url = require_redis()
    client: Any = aioredis.Redis.from_url(url)
    publisher: Any = aioredis.Redis.from_url(url)
    bus = RedisBus(client)
    channel = _channel()
    kwargs = client.connection_pool.connection_kwargs
    port = kwargs["port"]
    try:
        kwargs["port"] = 1  # nothing listens there: the connection is refused
        with pytest.raises(Exception):  # noqa: B017, PT011 - whatever the client raises
            async with bus.subscribe(channel):
                pass
        kwargs["port"] = port
        client.connection_pool.reset()  # Redis is back: new connections reach it
        async with bus.subscribe(channel) as news:
            await RedisBus(publisher).publish(channel, {"n": 1})
            assert await _next(news) == (channel, {"n": 1})
    finally:
        kwargs["port"] = port
        await bus.aclose()
        await client.aclose()
        await publisher.aclose()
