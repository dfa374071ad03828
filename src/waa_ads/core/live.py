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
from collections.abc import AsyncIterator, Mapping, Sequence
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
#: Messages waiting to be published, at most, and how many go in one round trip.
PUBLISH_BACKLOG: Final = 10_000
PUBLISH_BATCH: Final = 200

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

    async def publish_many(self, messages: Sequence[tuple[str, Mapping[str, Any]]]) -> None:
        """:meth:`publish` each ``(channel, message)``, in order, in one round trip."""

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

    async def publish_many(self, messages: Sequence[tuple[str, Mapping[str, Any]]]) -> None:
        for channel, message in messages:
            await self.publish(channel, message)

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
        await self._redis.publish(PREFIX + channel, _dumps(message))

    async def publish_many(self, messages: Sequence[tuple[str, Mapping[str, Any]]]) -> None:
        pipe = self._redis.pipeline(transaction=False)
        for channel, message in messages:
            pipe.publish(PREFIX + channel, _dumps(message))
        await pipe.execute()

    @asynccontextmanager
    async def subscribe(self, *channels: str) -> AsyncIterator[Subscription]:
        subscription = Subscription(frozenset(channels))
        async with self._lock:
            new = self._hub.add(subscription)
            if new:
                try:
                    await self._listen(new)
                except BaseException:
                    # Not listening after all: forget the subscriber, so the next one to
                    # come subscribes again (else the channel stays silent here for good).
                    self._hub.remove(subscription)
                    if not self._hub.subscribers and self._pubsub is not None:
                        pubsub, self._pubsub = self._pubsub, None
                        with contextlib.suppress(Exception):
                            await pubsub.aclose()
                    raise
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


def _dumps(message: Mapping[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"))


def bus_for(redis: Any) -> LiveBus:
    """Redis pub/sub when the app has Redis, in-memory otherwise."""
    return RedisBus(redis) if redis is not None else LocalBus()


# --- the process's bus, and publishing after commit -------------------------------------------


class _Publisher:
    """Publishes what :func:`publish_soon` is given, in order, from one task per loop and
    bus: at most one connection busy publishing, messages sent in batches (a pipeline on
    Redis), and a bounded backlog (beyond it, news is dropped and counted) so that a burst
    never takes the connections the rest of the process needs from the Redis pool."""

    def __init__(self, bus: LiveBus, loop: asyncio.AbstractEventLoop) -> None:
        self.bus = bus
        self.loop = loop
        self.queue: asyncio.Queue[tuple[str, Message]] = asyncio.Queue(PUBLISH_BACKLOG)
        self.dropped = 0
        self.task = loop.create_task(self._run(), name="live-bus-publisher")

    def put(self, channel: str, message: Message) -> None:
        try:
            self.queue.put_nowait((channel, message))
        except asyncio.QueueFull:
            self.dropped += 1

    async def _run(self) -> None:
        while True:
            batch = [await self.queue.get()]
            while len(batch) < PUBLISH_BATCH and not self.queue.empty():
                batch.append(self.queue.get_nowait())
            try:
                await self.bus.publish_many(batch)
            except Exception:
                log.warning("live_bus.publish_failed", count=len(batch), exc_info=True)
            finally:
                for _ in batch:
                    self.queue.task_done()


class _Process:
    """The bus this process publishes to, and its publisher."""

    bus: LiveBus | None = None
    publisher: _Publisher | None = None


_process = _Process()


def install(bus: LiveBus | None) -> LiveBus | None:
    """Make ``bus`` the one this process publishes to (the app's lifespan does); returns
    the one it replaces. ``None``: publish nothing."""
    previous, _process.bus = _process.bus, bus
    publisher = _process.publisher
    if publisher is not None and publisher.bus is not bus:
        publisher.task.cancel()
        _process.publisher = None
    return previous


def current() -> LiveBus | None:
    return _process.bus


def publish_soon(channel: str, message: Mapping[str, Any]) -> None:
    """Publish without waiting (in the background, in order); a failure is logged, never
    raised: a live message is news, not state."""
    bus = _process.bus
    if bus is None:
        return
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return
    publisher = _process.publisher
    if publisher is None or publisher.loop is not loop or publisher.task.done():
        if publisher is not None:
            publisher.task.cancel()
        publisher = _process.publisher = _Publisher(bus, loop)
    publisher.put(channel, dict(message))


async def drain() -> None:
    """Wait until what was handed to :func:`publish_soon` is published (tests, benches)."""
    publisher = _process.publisher
    if publisher is not None and publisher.loop is asyncio.get_running_loop():
        await publisher.queue.join()


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
