"""Prometheus metrics: what the processes count, and what the database says at scrape time.

Counted where it happens (prometheus-client):
- ``inbox_webhook_answers_total{status}``: every answer to a webhook POST, from the Django view and the
  ASGI adapter alike (200 stored, 403 unsigned or forged, 413 too large, 503 database unavailable);
- ``inbox_replies_total{outcome}``: replies handed to Meta (sent, failed, retry);
- ``inbox_push_seconds``: how long a live push took to render and hand to the channel layer.

Read from the database when Prometheus scrapes (`QueueCollector`), because they are states, not events,
and every process would see a different share of them: webhook events waiting to be applied, the age of
the oldest one (the drain's lag), and those that failed or found no page. Each is one indexed query.

Several processes count (gunicorn's workers, the ASGI workers, Celery's): with
``PROMETHEUS_MULTIPROC_DIR`` set (deploy/bin/* set it; empty it before the processes start) they write
their counts to files there and the scrape adds them up; without it (the embedded default, one process)
the counts live in the process. `/metrics` answers only a request carrying ``METRICS_TOKEN`` as a bearer
token, and is off (404) while no token is set.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.views.decorators.cache import never_cache
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

WEBHOOK_ANSWERS = Counter("inbox_webhook_answers", "Answers to Meta's webhook POSTs, by HTTP status.", ["status"])
REPLIES = Counter("inbox_replies", "Replies handed to Meta's Send API, by outcome.", ["outcome"])
PUSH_SECONDS = Histogram(
    "inbox_push_seconds",
    "Rendering a live push and handing it to the channel layer.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)


def webhook_answered(status: int) -> None:
    WEBHOOK_ANSWERS.labels(status=str(status)).inc()


def reply_outcome(outcome: str) -> None:
    REPLIES.labels(outcome=outcome).inc()


@contextmanager
def push_timer() -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        PUSH_SECONDS.observe(time.perf_counter() - started)


class QueueCollector(Collector):
    """The webhook events' queue as the database holds it, read at scrape time."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from django.db.models import Min

        from inbox.models import WebhookEvent

        State = WebhookEvent.State
        pending = WebhookEvent.objects.filter(state=State.PENDING)
        oldest = pending.aggregate(oldest=Min("received_at"))["oldest"]
        lag = (timezone.now() - oldest).total_seconds() if oldest else 0.0
        events = GaugeMetricFamily(
            "inbox_webhook_events",
            "Stored webhook events not applied: waiting, failed, or for no connected page.",
            labels=["state"],
        )
        for state in (State.PENDING, State.FAILED, State.UNROUTABLE):
            events.add_metric([state], WebhookEvent.objects.filter(state=state).count())
        yield events
        yield GaugeMetricFamily(
            "inbox_drain_lag_seconds", "Age of the oldest webhook event still waiting to be applied.", value=lag
        )


def registry() -> CollectorRegistry:
    """The counts of every process (multiprocess mode) or of this one, plus the queue's gauges."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        scraped = CollectorRegistry()
        MultiProcessCollector(scraped)
    else:
        scraped = CollectorRegistry()
        for collector in (WEBHOOK_ANSWERS, REPLIES, PUSH_SECONDS):
            scraped.register(collector)
    scraped.register(QueueCollector())
    return scraped


@never_cache
def metrics(request: HttpRequest) -> HttpResponse:
    token = getattr(settings, "METRICS_TOKEN", "")
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not token or not given or not constant_time_compare(given, token):
        raise Http404("No metrics here.")
    return HttpResponse(generate_latest(registry()), content_type=CONTENT_TYPE_LATEST)


__all__ = ["metrics", "push_timer", "reply_outcome", "webhook_answered"]
