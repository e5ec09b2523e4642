"""Waking the drain once stored webhook events are committed (one drain task per burst).

One drain task is queued per burst, not one task per webhook: the first event sets a flag and
queues a drain, the next ones see the flag and return. The drain clears the flag *before* it claims
events (``drain_flag_clear``), so an event committed after that queues the next drain, and an event
committed before it is claimed by this one: none is left waiting. Publishing to the broker is the
most expensive step of an ack; this keeps it off most of them. A broker or Redis outage only delays
the drain: the events are stored, and the requeue task wakes a drain once the broker is back.

The flag lives where ``INBOX_WEBHOOK_WAKE_URL`` says:
- ``redis://…``: a key on that Redis, shared by the web and worker processes (production);
- ``memory://``: a flag in this process, for the embedded default and the unit tests, where tasks
  run in the process that stored the event;
- ``""``: no flag, a drain per webhook (a process-local flag beside a real worker would never be
  cleared by the drain).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import weakref
from functools import lru_cache
from typing import Any, Protocol

from django.conf import settings

from config.tasks import enqueue

logger = logging.getLogger(__name__)

# Set while a drain task is queued and not yet started. It expires on its own, so a lost task only
# delays the next wake-up by this long.
DRAIN_QUEUED_KEY = "inbox:webhook-drain-queued"
DRAIN_QUEUED_SECONDS = 2
DRAIN_TASK = "inbox.tasks.webhook_events_drain"
# A wake-up must never hold an ack: Redis answers in well under a millisecond when healthy.
REDIS_TIMEOUT_SECONDS = 1.0


class DrainFlag(Protocol):
    """"A drain is queued and has not started yet", shared by whoever stores and drains events."""

    def claim(self) -> bool:
        """Set the flag; True when it was not set (the caller must queue a drain)."""

    async def aclaim(self) -> bool:
        """``claim`` for an event loop."""

    def clear(self) -> None:
        """A drain starts: the next stored event queues the next drain."""


class MemoryDrainFlag:
    """The flag in this process (threads share it): request threads and in-process task threads."""

    def __init__(self, seconds: float = DRAIN_QUEUED_SECONDS) -> None:
        self.seconds = seconds
        self._lock = threading.Lock()
        self._until = 0.0

    def claim(self) -> bool:
        with self._lock:
            now = time.monotonic()
            if now < self._until:
                return False
            self._until = now + self.seconds
            return True

    async def aclaim(self) -> bool:
        return self.claim()

    def clear(self) -> None:
        with self._lock:
            self._until = 0.0


class RedisDrainFlag:
    """The flag as a Redis key (``SET NX EX``), through redis-py: one sync client per process and one
    asyncio client per event loop (a client's connections belong to the loop that opened them)."""

    def __init__(self, url: str, *, key: str = DRAIN_QUEUED_KEY, seconds: int = DRAIN_QUEUED_SECONDS) -> None:
        from redis import Redis

        self.url, self.key, self.seconds = url, key, seconds
        self._sync = Redis.from_url(url, socket_timeout=REDIS_TIMEOUT_SECONDS,
                                    socket_connect_timeout=REDIS_TIMEOUT_SECONDS)
        self._async: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = weakref.WeakKeyDictionary()

    def claim(self) -> bool:
        return bool(self._sync.set(self.key, 1, nx=True, ex=self.seconds))

    async def aclaim(self) -> bool:
        return bool(await self._async_client().set(self.key, 1, nx=True, ex=self.seconds))

    def clear(self) -> None:
        self._sync.delete(self.key)

    def is_set(self) -> bool:
        return bool(self._sync.exists(self.key))

    def _async_client(self) -> Any:
        loop = asyncio.get_running_loop()
        client = self._async.get(loop)
        if client is None:
            from redis.asyncio import Redis

            client = self._async[loop] = Redis.from_url(
                self.url, max_connections=8, socket_timeout=REDIS_TIMEOUT_SECONDS,
                socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
            )
        return client

    async def aclose(self) -> None:
        """Close this loop's asyncio client (tests run one loop per test; a server simply exits)."""
        client = self._async.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()


@lru_cache(maxsize=4)
def _flag_for(url: str) -> DrainFlag | None:
    if not url:
        return None
    if url.startswith("memory:"):
        return MemoryDrainFlag()
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisDrainFlag(url)
    raise ValueError(f"INBOX_WEBHOOK_WAKE_URL must be redis://…, memory:// or empty, not {url!r}")


def drain_flag() -> DrainFlag | None:
    """The flag ``INBOX_WEBHOOK_WAKE_URL`` names (one object per URL and process); None without one."""
    return _flag_for(settings.INBOX_WEBHOOK_WAKE_URL)


def webhook_events_wake(*, force: bool = False) -> None:
    """Make sure a worker will drain the pending events; call it once a stored event is committed."""
    flag = drain_flag()
    if flag is not None and not force:
        try:
            if not flag.claim():
                return
        except Exception:
            logger.warning("Drain flag unavailable (Redis down?); queueing a drain anyway")
    enqueue(DRAIN_TASK)


class _LoopWaker:
    """The event loop's ``webhook_events_wake``: at most one flag round trip per ``interval`` per loop.

    Under load many acks finish while a ``SET NX`` is on its way or was just sent; each of them only
    asks for one more round trip after it, instead of one each (the round trip costs an ack more CPU
    than its INSERT's share). That is enough: a claim *sent after* an event's commit covers it (either
    it queues a drain, or the flag was set by a drain that has not cleared it yet, so that drain will
    claim the event). An event waits at most ``interval`` longer for its drain.
    """

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.running = False
        self.again = False

    async def wake(self, flag: DrainFlag | None) -> None:
        if self.running:
            self.again = True
            return
        self.running = True
        try:
            while True:
                self.again = False
                started = time.monotonic()
                await _wake_once(flag)
                # Still "running" until the interval is over: acks meanwhile ask for the next claim.
                await asyncio.sleep(max(0.0, self.interval - (time.monotonic() - started)))
                if not self.again:
                    return
        finally:
            self.running = False


_loop_wakers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopWaker] = weakref.WeakKeyDictionary()


async def _wake_once(flag: DrainFlag | None) -> None:
    if flag is not None:
        try:
            if not await flag.aclaim():
                return
        except Exception:
            logger.warning("Drain flag unavailable (Redis down?); queueing a drain anyway")
    # Once per burst: publishing through Celery's (blocking) client off the event loop.
    await asyncio.to_thread(enqueue, DRAIN_TASK)


async def webhook_events_awake() -> None:
    """``webhook_events_wake`` for an event loop (the ASGI adapter), coalescing concurrent wake-ups."""
    loop = asyncio.get_running_loop()
    waker = _loop_wakers.get(loop)
    if waker is None:
        waker = _loop_wakers[loop] = _LoopWaker(settings.INBOX_WEBHOOK_WAKE_INTERVAL)
    await waker.wake(drain_flag())


def drain_flag_clear() -> None:
    """Called by a drain before it claims events: the next committed event queues the next drain."""
    flag = drain_flag()
    try:
        if flag is not None:
            flag.clear()
    except Exception:
        logger.warning("Drain flag unavailable (Redis down?); draining anyway")
