"""Stored webhook events processed again: replays (admin, command, a newly connected account) and
the recovery of events whose drain was lost (docs/messenger-platform.md §5).

Processing is idempotent, so replaying an event already applied changes nothing; each replayed
event is set back to ``pending`` first, so a lost task is picked up by the requeue task.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from config.tasks import enqueue_on_commit
from inbox.ingest.wake import webhook_events_wake
from inbox.models import WebhookEvent
from social.models import Platform, SocialAccount

logger = logging.getLogger(__name__)

State = WebhookEvent.State
REPLAY_CHUNK = 500
OBJECT_TYPES = {Platform.FACEBOOK: "page", Platform.INSTAGRAM: "instagram"}


def webhook_event_enqueue(*, event_id: int) -> None:
    """Queue one event's own task after commit: replays, which must touch only what was chosen."""

    # A broker failure is logged; the event stays pending for the requeue task.
    enqueue_on_commit("inbox.tasks.webhook_event_process", event_id)


def webhook_events_replay(*, event_ids: Iterable[int]) -> int:
    """Process the given events again (admin action, command, reconnect); returns how many were queued."""
    ids = sorted(set(event_ids))
    count = 0
    for start in range(0, len(ids), REPLAY_CHUNK):
        chunk = ids[start : start + REPLAY_CHUNK]
        with transaction.atomic():
            found = list(WebhookEvent.objects.filter(pk__in=chunk).values_list("pk", flat=True))
            WebhookEvent.objects.filter(pk__in=found).update(state=State.PENDING)
            for event_id in found:
                webhook_event_enqueue(event_id=event_id)
        count += len(found)
    return count


def webhook_events_for_account(account: SocialAccount) -> list[int]:
    """Ids of the events left unroutable (or failed) that name ``account``'s id."""
    events = WebhookEvent.objects.filter(
        state__in=(State.UNROUTABLE, State.FAILED), object_type=OBJECT_TYPES.get(Platform(account.platform), "")
    )
    if connection.features.supports_json_field_contains:
        return list(
            events.filter(unroutable_account_ids__contains=[account.account_id]).values_list("pk", flat=True)
        )
    # SQLite has no JSON containment: filter the (few) unroutable rows in Python.
    return [
        pk
        for pk, account_ids in events.values_list("pk", "unroutable_account_ids").iterator()
        if account.account_id in (account_ids or ())
    ]


def webhook_events_replay_for_account(account: SocialAccount) -> int:
    """Replay what arrived for ``account`` before it was connected; call it when a page connects.

    Returns the number of events queued. Safe to call more than once.
    """
    event_ids = webhook_events_for_account(account)
    if event_ids:
        logger.info("Replaying %d webhook event(s) for account %s", len(event_ids), account.pk)
    return webhook_events_replay(event_ids=event_ids)


def webhook_events_requeue_stale(*, older_than_seconds: int | None = None) -> int:
    """Wake a drain when events are still pending after a while (their drain was lost: broker down,
    worker killed); returns how many such events there are."""
    seconds = settings.INBOX_WEBHOOK_REQUEUE_AFTER_SECONDS if older_than_seconds is None else older_than_seconds
    cutoff = timezone.now() - timedelta(seconds=seconds)
    stale = WebhookEvent.objects.filter(state=State.PENDING, received_at__lt=cutoff).count()
    if stale:
        logger.warning("%d webhook event(s) still pending after %d s; waking a drain", stale, seconds)
        webhook_events_wake(force=True)
    return stale
