"""Live messages between processes: a small publish/subscribe bus for screens that follow
what happens (a proctor's live view, a candidate's clock).

A message is a JSON object published on a named channel; every subscriber of that channel,
in any API process, receives it. Two implementations behind one protocol:

- :class:`RedisBus` (``WAA_REDIS_URL`` set): messages go through Redis pub/sub, so an event
  raised on process A reaches a subscriber connected to process B. Each process keeps ONE
  pub/sub connection, whatever the number of subscribers, and subscribes it to a channel
  while at least one local subscriber wants it; a reader task fans each message out to the
  local subscribers' queues.
- :class:`LocalBus` (the embedded default, one process): the same fan-out, in memory.

Delivery is at most once and best effort: the screens that listen also read the state
when they open (and re-read it when told something changed), so a message lost to a
restart costs a refresh, never data. A subscriber that does not keep up loses its oldest
messages rather than growing without bound.

Publishing from a unit of work goes through :func:`publish_after_commit`: the message is
buffered on the session and published only once the outermost transaction commits (a
rolled-back change announces nothing, and a listener that re-reads finds the change).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any, Final, Protocol

import structlog
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

log = structlog.get_logger(__name__)

#: Redis channels of the bus are ``waa:live:<channel>``.
PREFIX: Final = "waa:live:"
#: Messages a subscriber may have waiting before the oldest are dropped.
QUEUE_SIZE: Final = 256

Message = dict[str, Any]


class Subscription:
    """What one subscriber receives: ``(channel, message)`` pairs, in order, from the
    moment it subscribed."""

    def __init__(self, channels: frozenset[str]) -> None:
        self.channels = channels
        self._queue: asyncio.Queue[tuple[str, Message]] = asyncio.Queue(QUEUE_SIZE)
        self.dropped = 0

    def deliver(self, channel: str, message: Message) -> None:
        if self._queue.full():
            # A slow reader loses the oldest news, never blocks the bus.
            self._queue.get_nowait()
            self.dropped += 1
        self._queue.put_nowait((channel, message))

    async def get(self) -> tuple[str, Message]:
        return await self._queue.get()

    def get_nowait(self) -> tuple[str, Message] | None:
        try:
            return self._queue.get_nowait()
        except asyncio.QueueEmpty:
            return None

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> tuple[str, Message]:
        return await self.get()


class LiveBus(Protocol):
    async def publish(self, channel: str, message: Mapping[str, Any]) -> None:
        """Send ``message`` to every subscriber of ``channel`` (in every process)."""

    def subscribe(self, *channels: str) -> contextlib.AbstractAsyncContextManager[Subscription]:
        """Receive the messages of ``channels`` for the length of the block."""

    async def aclose(self) -> None: ...


class _Hub:
    """This process's subscribers, by channel."""

    def __init__(self) -> None:
        self.subscribers: dict[str, set[Subscription]] = {}

    def add(self, subscription: Subscription) -> list[str]:
        """Register; the channels nobody here listened to before."""
        new = []
        for channel in subscription.channels:
            listeners = self.subscribers.setdefault(channel, set())
            if not listeners:
                new.append(channel)
            listeners.add(subscription)
        return new

    def remove(self, subscription: Subscription) -> list[str]:
        """Unregister; the channels nobody here listens to any more."""
        gone = []
        for channel in subscription.channels:
            listeners = self.subscribers.get(channel)
            if listeners is None:
                continue
            listeners.discard(subscription)
            if not listeners:
                del self.subscribers[channel]
                gone.append(channel)
        return gone

    def deliver(self, channel: str, message: Message) -> None:
        for subscription in tuple(self.subscribers.get(channel, ())):
            subscription.deliver(channel, message)


class LocalBus:
    """The bus of a single process: messages go straight to its subscribers."""

    def __init__(self) -> None:
        self._hub = _Hub()

    async def publish(self, channel: str, message: Mapping[str, Any]) -> None:
        # Through JSON, as over Redis: a subscriber never shares the publisher's objects.
        self._hub.deliver(channel, json.loads(json.dumps(message)))

    @asynccontextmanager
    async def subscribe(self, *channels: str) -> AsyncIterator[Subscription]:
        subscription = Subscription(frozenset(channels))
        self._hub.add(subscription)
        try:
            yield subscription
        finally:
            self._hub.remove(subscription)

    async def aclose(self) -> None:
        return None


class RedisBus:
    """The bus across processes: Redis pub/sub, one connection per process for all its
    subscribers. Publishing uses the client's ordinary connection pool."""

    def __init__(self, redis: Any) -> None:
        self._redis = redis
        self._hub = _Hub()
        self._pubsub: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._ready = asyncio.Event()

    async def publish(self, channel: str, message: Mapping[str, Any]) -> None:
        await self._redis.publish(PREFIX + channel, json.dumps(message, separators=(",", ":")))

    @asynccontextmanager
    async def subscribe(self, *channels: str) -> AsyncIterator[Subscription]:
        subscription = Subscription(frozenset(channels))
        async with self._lock:
            new = self._hub.add(subscription)
            if new:
                await self._listen(new)
        try:
            yield subscription
        finally:
            async with self._lock:
                gone = self._hub.remove(subscription)
                if gone and self._pubsub is not None:
                    with contextlib.suppress(Exception):
                        await self._pubsub.unsubscribe(*(PREFIX + c for c in gone))

    async def _listen(self, channels: list[str]) -> None:
        if self._pubsub is None:
            self._pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        # SUBSCRIBE is acknowledged before it returns, so a message published after
        # subscribe() has returned is received.
        await self._pubsub.subscribe(*(PREFIX + c for c in channels))
        if self._reader is None or self._reader.done():
            self._reader = asyncio.create_task(self._read(), name="live-bus-reader")

    async def _read(self) -> None:
        pubsub = self._pubsub
        while True:
            try:
                raw = await pubsub.get_message(timeout=1.0)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("live_bus.read_failed", exc_info=True)
                await asyncio.sleep(1.0)
                # The client reconnects and re-subscribes on the next read.
                continue
            if raw is None or raw.get("type") != "message":
                if not self._hub.subscribers:
                    await asyncio.sleep(0.05)
                continue
            channel = raw["channel"]
            if isinstance(channel, bytes):
                channel = channel.decode()
            try:
                message = json.loads(raw["data"])
            except ValueError:
                continue
            if isinstance(message, dict):
                self._hub.deliver(channel.removeprefix(PREFIX), message)

    async def aclose(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
            self._reader = None
        if self._pubsub is not None:
            with contextlib.suppress(Exception):
                await self._pubsub.aclose()
            self._pubsub = None


def bus_for(redis: Any) -> LiveBus:
    """Redis pub/sub when the app has Redis, in-memory otherwise."""
    return RedisBus(redis) if redis is not None else LocalBus()


# --- the process's bus, and publishing after commit -------------------------------------------

_current: LiveBus | None = None
_tasks: set[asyncio.Task[None]] = set()


def install(bus: LiveBus | None) -> LiveBus | None:
    """Make ``bus`` the one this process publishes to (the app's lifespan does); returns
    the one it replaces. ``None``: publish nothing."""
    global _current
    previous, _current = _current, bus
    return previous


def current() -> LiveBus | None:
    return _current


def publish_soon(channel: str, message: Mapping[str, Any]) -> None:
    """Publish without waiting (fire and forget, on the running loop); a failure is logged,
    never raised: a live message is news, not state."""
    bus = _current
    if bus is None:
        return
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return
    task = loop.create_task(_publish(bus, channel, dict(message)))
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)


async def _publish(bus: LiveBus, channel: str, message: Message) -> None:
    try:
        await bus.publish(channel, message)
    except Exception:
        log.warning("live_bus.publish_failed", channel=channel, exc_info=True)


async def drain() -> None:
    """Wait for the messages being published (tests, shutdown)."""
    while _tasks:
        await asyncio.gather(*tuple(_tasks), return_exceptions=True)


_PENDING: Final = "waa_live_pending"
_HOOKED: Final = "waa_live_hooked"


def publish_after_commit(
    session: AsyncSession | Session, channel: str, message: Mapping[str, Any]
) -> None:
    """Publish ``message`` once the session's outermost transaction commits; forgotten
    if it rolls back (a rolled-back savepoint drops what was buffered inside it)."""
    sync = session.sync_session if isinstance(session, AsyncSession) else session
    if not sync.info.get(_HOOKED):
        event.listen(sync, "after_commit", _after_commit)
        event.listen(sync, "after_soft_rollback", _after_soft_rollback)
        sync.info[_HOOKED] = True
    transaction = sync.get_nested_transaction() or sync.get_transaction() or sync.begin()
    sync.info.setdefault(_PENDING, []).append((transaction, channel, dict(message)))


def _after_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint released; only the outermost commit counts
    pending = session.info.pop(_PENDING, [])
    for _, channel, message in pending:
        publish_soon(channel, message)


def _within(transaction: SessionTransaction | None, ancestor: SessionTransaction) -> bool:
    while transaction is not None:
        if transaction is ancestor:
            return True
        transaction = transaction.parent
    return False


def _after_soft_rollback(session: Session, previous_transaction: SessionTransaction) -> None:
    pending = session.info.get(_PENDING)
    if pending:
        session.info[_PENDING] = [p for p in pending if not _within(p[0], previous_transaction)]
