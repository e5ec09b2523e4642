"""channels' in-memory layer, safe to send to from the in-process task threads (config/inprocess_tasks.py).

The layer's queues belong to the server's event loop, where the consumers wait on them. A task
thread broadcasts with ``async_to_sync(layer.group_send)``, which runs on a loop of its own: waking
a waiter of another loop from there is not thread-safe, and the page would get the push only when
the server's loop next woke up for some other reason. Sends from another loop are handed to the
server's loop instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from channels.layers import InMemoryChannelLayer as BaseInMemoryChannelLayer

HANDOVER_TIMEOUT_SECONDS = 5.0


class InMemoryChannelLayer(BaseInMemoryChannelLayer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._home: asyncio.AbstractEventLoop | None = None

    def _settle(self) -> None:
        """The loop of the first consumer is the server's: the queues are waited on there."""
        if self._home is None or self._home.is_closed():
            self._home = asyncio.get_running_loop()

    async def _at_home(self, call: Callable[[], Awaitable[Any]]) -> Any:
        home = self._home
        if home is None or home is asyncio.get_running_loop() or home.is_closed() or not home.is_running():
            return await call()
        future = asyncio.run_coroutine_threadsafe(call(), home)
        return await asyncio.wait_for(asyncio.wrap_future(future), HANDOVER_TIMEOUT_SECONDS)

    async def receive(self, channel: str) -> dict:
        self._settle()
        return await super().receive(channel)

    async def group_add(self, group: str, channel: str) -> None:
        self._settle()
        await super().group_add(group, channel)

    async def send(self, channel: str, message: dict) -> None:
        await self._at_home(lambda: super(InMemoryChannelLayer, self).send(channel, message))

    async def group_send(self, group: str, message: dict) -> None:
        await self._at_home(lambda: super(InMemoryChannelLayer, self).group_send(group, message))
