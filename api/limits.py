"""Per-key request rate (a fixed one-minute window in the shared cache) and the request body's size.

The counter lives in the default cache, so every web worker counts against the same limit (Redis in
production, the process's memory in the embedded default). If the cache fails the request is let
through: the limit protects the service, and an outage of the cache must not stop every integration.
"""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.core.cache import cache

from api.errors import ApiError

logger = logging.getLogger(__name__)
WINDOW_SECONDS = 60


def rate_limit_check(*, key_id: int) -> None:
    limit = settings.API_RATE_LIMIT_PER_MINUTE
    now = time.time()
    window = int(now // WINDOW_SECONDS)
    counter = f"api:rate:{key_id}:{window}"
    try:
        cache.add(counter, 0, timeout=WINDOW_SECONDS + 5)
        count = cache.incr(counter)
    except ValueError:  # expired between add and incr
        cache.set(counter, 1, timeout=WINDOW_SECONDS + 5)
        count = 1
    except Exception:  # the cache is down: fail open (see the module's docstring)
        logger.warning("API rate limit not checked: the cache failed", exc_info=True)
        return
    if count > limit:
        retry_after = max(1, int((window + 1) * WINDOW_SECONDS - now + 0.999))
        raise ApiError(
            429, "rate_limited", f"At most {limit} requests a minute per key; try again in {retry_after} s.",
            headers={"Retry-After": str(retry_after)},
        )


def body_size_check(request) -> None:
    limit = settings.API_MAX_BODY_BYTES
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        raise ApiError(413, "body_too_large", f"The request body may be at most {limit} bytes.")
