"""Health endpoints for load balancers and orchestrators, answered before any other middleware.

- ``/healthz``: the process is up and answering (no dependency is touched), for liveness probes;
- ``/readyz``: it can serve: the database answers, and, where configured, Redis (cache and channel
  layer) and the Celery broker do; 503 with the failing part named otherwise, for readiness probes.

First in MIDDLEWARE, so a probe is answered whatever its Host header (probes use the pod's address,
which ALLOWED_HOSTS rightly does not list) and over plain HTTP (no SSL redirect), and costs no
session, user or CSRF work. The answer names parts, never addresses or credentials.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

from django.conf import settings
from django.db import connections
from django.http import HttpRequest, HttpResponse

logger = logging.getLogger(__name__)

# A readiness probe must answer before the orchestrator gives up on it (often 1 s): each check is bounded.
CHECK_TIMEOUT_SECONDS = 0.8


def _database() -> None:
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT 1")


def _redis() -> None:
    import redis

    client = redis.Redis.from_url(
        settings.REDIS_URL, socket_timeout=CHECK_TIMEOUT_SECONDS, socket_connect_timeout=CHECK_TIMEOUT_SECONDS
    )
    try:
        client.ping()
    finally:
        client.close()


def _broker() -> None:
    from config.celery_app import app

    with app.connection_for_write() as connection:
        connection.ensure_connection(max_retries=1, timeout=CHECK_TIMEOUT_SECONDS)


def readiness_checks() -> dict[str, Callable[[], None]]:
    checks: dict[str, Callable[[], None]] = {"database": _database}
    if settings.REDIS_URL:
        checks["redis"] = _redis
    if not settings.CELERY_TASK_ALWAYS_EAGER and settings.CELERY_BROKER_URL != settings.REDIS_URL:
        checks["broker"] = _broker  # the same Redis is checked once
    return checks


def readiness() -> tuple[bool, dict[str, str]]:
    results: dict[str, str] = {}
    for name, check in readiness_checks().items():
        try:
            check()
        except Exception as exc:  # any failure means "not ready"; the log says which and why
            logger.warning("Readiness check %s failed: %s", name, type(exc).__name__)
            results[name] = "unavailable"
        else:
            results[name] = "ok"
    return all(value == "ok" for value in results.values()), results


class HealthCheckMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path == "/healthz":
            return _answer(200, {"status": "ok"})
        if request.path == "/readyz":
            ready, parts = readiness()
            return _answer(200 if ready else 503, {"status": "ok" if ready else "unavailable", **parts})
        return self.get_response(request)


def _answer(status: int, data: dict[str, str]) -> HttpResponse:
    response = HttpResponse(json.dumps(data), status=status, content_type="application/json")
    response["Cache-Control"] = "no-store"
    return response
