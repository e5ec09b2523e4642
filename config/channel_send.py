"""Sending to a channel layer group from sync code: workers, WSGI views, on-commit callbacks.

``async_to_sync(layer.group_send)`` runs every call on a new event loop in a new thread, and
channels_redis keeps its Redis connections per event loop: each push connected to Redis, sent, and
closed the connection again, 2–3 ms of a message's way to the screen. Here each process has one
sending loop, on a daemon thread started at the first send (and again in a forked child, which
inherits neither the thread nor, safely, the parent's sockets), so the connections stay open.

Also usable from a thread that runs an event loop of its own (sync code under
``DJANGO_ALLOW_ASYNC_UNSAFE``, e.g. a browser test driving the ORM): the send runs on the sending
loop, never on the caller's.
"""

from __future__ import annotations

import asyncio
import os
import threading
from typing import Any

from channels.layers import get_channel_layer

# A group send is two Redis round trips; past this the caller logs a failure and goes on (the pages
# catch up on reconnect). The send itself may still complete on the sending loop.
SEND_TIMEOUT_SECONDS = 5.0

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_thread: threading.Thread | None = None
_loop_pid: int | None = None


def _sending_loop() -> asyncio.AbstractEventLoop:
    global _loop, _thread, _loop_pid
    with _lock:
        if _loop is None or _loop_pid != os.getpid():
            loop = asyncio.new_event_loop()
            _thread = threading.Thread(target=_run, args=(loop,), name="channel-layer-send", daemon=True)
            _thread.start()
            _loop, _loop_pid = loop, os.getpid()
        return _loop


def _run(loop: asyncio.AbstractEventLoop) -> None:
    loop.run_forever()
    # Stopped by close(): closed here, in its own thread, where channels_redis's wrapper of ``close``
    # can run the loop once more to close this loop's connections.
    loop.close()


def close() -> None:
    """Stop this process's sending loop and close its connections; the next send starts another.

    For code that empties the layer from an event loop of its own (the tests' fixtures):
    channels_redis's ``flush()`` closes the connections of every loop, which only works from the loop
    that owns them. Closing the sending loop closes its own first (channels_redis wraps ``close``).
    """
    global _loop, _thread
    with _lock:
        loop, thread, _loop, _thread = _loop, _thread, None, None
        if loop is None or thread is None or _loop_pid != os.getpid():
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join(SEND_TIMEOUT_SECONDS)


def has_layer() -> bool:
    """Whether a channel layer is configured (a push is rendered only when it can be sent)."""
    return get_channel_layer() is not None


def group_send(group: str, message: dict[str, Any], *, timeout: float = SEND_TIMEOUT_SECONDS) -> None:
    """Send ``message`` to ``group`` on the default channel layer and wait until it is handed over.

    Raises what the layer raises (Redis down) or ``TimeoutError``; does nothing without a layer.
    """
    layer = get_channel_layer()
    if layer is None:
        return
    asyncio.run_coroutine_threadsafe(layer.group_send(group, message), _sending_loop()).result(timeout)
