"""Waking the drain once stored webhook events are committed (one drain task per burst)."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.cache import BaseCache, caches

from config.tasks import enqueue

logger = logging.getLogger(__name__)

# Set while a drain task is queued and not yet started (see ``webhook_events_wake``). It expires on
# its own, so a lost task only delays the next wake-up by this long.
DRAIN_QUEUED_KEY = "inbox:webhook-drain-queued"
DRAIN_QUEUED_SECONDS = 2


def webhook_events_wake(*, force: bool = False) -> None:
    """Make sure a worker will drain the pending events; call it once a stored event is committed.

    One drain task is queued per burst, not one task per webhook: the first event sets a flag and
    queues a drain, the next ones see the flag and return. The drain clears the flag *before* it
    claims events (``drain_flag_clear``), so an event committed after that queues the next drain,
    and an event committed before it is claimed by this one: none is left waiting. Publishing to
    the broker is the most expensive step of an ack; this keeps it off most of them. A broker or
    Redis outage only delays the drain: the events are stored, and the requeue task wakes a drain
    once the broker is back.
    """
    flags = _drain_flags()
    if flags is not None and not force:
        try:
            if not flags.add(DRAIN_QUEUED_KEY, 1, timeout=DRAIN_QUEUED_SECONDS):
                return
        except Exception:
            logger.warning("Drain flag unavailable (cache down?); queueing a drain anyway")
    enqueue("inbox.tasks.webhook_events_drain")


def drain_flag_clear() -> None:
    """Called by a drain before it claims events: the next committed event queues the next drain."""
    flags = _drain_flags()
    try:
        if flags is not None:
            flags.delete(DRAIN_QUEUED_KEY)
    except Exception:
        logger.warning("Drain flag unavailable (cache down?); draining anyway")


def _drain_flags() -> BaseCache | None:
    """The cache the web and worker processes share for the flag (``INBOX_WEBHOOK_WAKE_CACHE``);
    None (a drain per webhook) when there is none, e.g. a process-local cache beside a real worker."""
    alias = settings.INBOX_WEBHOOK_WAKE_CACHE
    return caches[alias] if alias else None
