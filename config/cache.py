"""The default cache: Django's RedisCache, except that login rate limiting survives a Redis outage.

allauth keeps its rate-limit counters (and the short lock around them) in the default cache. With
plain RedisCache an unreachable Redis turns every sign-in into a 500, so nobody, staff included,
can log in until Redis is back. Here a Redis error on a rate-limit key fails open: the attempt is
allowed, as if no attempt had been counted yet, and a warning is logged. Every other key behaves
exactly as with RedisCache (errors propagate), because other callers rely on the cache's answer
(the reply send lease in inbox/services/replies.py must not be granted by a failure).

After a failure, rate-limit keys skip Redis for ``RETRY_AFTER_SECONDS`` in this process, so a Redis
that hangs rather than refuses costs one short socket timeout, not one per cache call of every login.

Sessions do not live in the cache (SESSION_ENGINE is the database), so logging in needs only PostgreSQL.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache
from django.utils.functional import cached_property
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

# allauth's keys: "allauth:rl:<app>:<action>:<rate>:<source>" and the same with ":lock" appended.
FAIL_OPEN_PREFIXES = ("allauth:rl:",)
RETRY_AFTER_SECONDS = 5.0
# Redis answers a healthy cache call in well under a millisecond; a login must not wait for a hung one.
SOCKET_TIMEOUTS = {"socket_connect_timeout": 1.0, "socket_timeout": 1.0}

# Until when (time.monotonic()) rate-limit keys skip each Redis location, shared by the threads of a process.
_down_until: dict[str, float] = {}


class FailOpenRedisCache(RedisCache):
    """RedisCache whose rate-limit keys (``FAIL_OPEN_PREFIXES``) fail open when Redis fails."""

    @cached_property
    def _cache(self):
        # Short socket timeouts unless OPTIONS sets its own.
        return self._class(self._servers, **{**SOCKET_TIMEOUTS, **self._options})

    def add(self, key: str, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> bool:
        # True: allauth's lock counts as taken, so the attempt goes ahead instead of waiting.
        return self._fail_open(key, True, super().add, key, value, timeout, version)

    def get(self, key: str, default: Any = None, version: int | None = None) -> Any:
        # The default: no earlier attempt is known, so the attempt is within every limit.
        return self._fail_open(key, default, super().get, key, default, version)

    def set(self, key: str, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> None:
        return self._fail_open(key, None, super().set, key, value, timeout, version)

    def delete(self, key: str, version: int | None = None) -> bool:
        return self._fail_open(key, False, super().delete, key, version)

    def _fail_open(self, key: str, fallback: Any, call: Any, *args: Any) -> Any:
        if not key.startswith(FAIL_OPEN_PREFIXES):
            return call(*args)
        location = self._servers[0]
        if time.monotonic() < _down_until.get(location, 0.0):
            return fallback
        try:
            return call(*args)
        except RedisError as exc:
            _down_until[location] = time.monotonic() + RETRY_AFTER_SECONDS
            logger.warning(
                "Cache unavailable (%s); login rate limiting is off for the next %.0f s",
                type(exc).__name__, RETRY_AFTER_SECONDS,
            )
            return fallback
