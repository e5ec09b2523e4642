"""Stored webhook events: processing, replay and recovery (meta-platform.md §3, §5).

The endpoint stores each signed POST as a ``WebhookEvent`` and queues ``webhook_event_process``.
Processing parses the body, routes every entry by its id to the connected account of that platform,
applies the events (``inbox.services.ingest``) and records the outcome on the row:

- ``processed``: everything applied;
- ``unroutable``: some entry ids match no connected account (``unroutable_account_ids``); the
  events of those entries are replayed by ``webhook_events_replay_for_account`` when it connects;
- ``failed``: the body is not a webhook envelope, or some events raised (``last_error``); the rest
  of the batch is applied, and a replay retries only what is missing because applying is idempotent.

A database outage is not a failure of the event: the exception propagates so the task retries, and
the row stays ``pending`` (its transaction rolled back) for ``webhook_events_requeue_stale``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import F
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from inbox.facebook.parsing import OBJECT_PLATFORMS, PayloadError, parse_body, parse_payload
from inbox.models import WebhookEvent
from inbox.realtime import publish_on_commit
from inbox.services.ingest import Changes, events_apply
from inbox.text import clean_text
from social.models import Platform, SocialAccount

if TYPE_CHECKING:
    from inbox.facebook.events import Event

logger = logging.getLogger(__name__)

State = WebhookEvent.State
ERROR_LENGTH = 10_000
REPLAY_CHUNK = 500
OBJECT_TYPES = {Platform.FACEBOOK: "page", Platform.INSTAGRAM: "instagram"}


# One quick retry only: the webhook ack must stay fast, and the requeue task covers a longer outage.
ENQUEUE_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.1, "interval_max": 0.1}


def webhook_event_enqueue(*, event_id: int) -> None:
    """Hand the event to a worker after commit; a broker outage leaves it pending for the requeue task."""

    def enqueue() -> None:
        from inbox.tasks import webhook_event_process as webhook_event_process_task

        try:
            webhook_event_process_task.apply_async((event_id,), retry_policy=ENQUEUE_RETRY_POLICY)
        except Exception:
            logger.exception("Could not enqueue webhook event %s; it stays pending for the requeue task", event_id)

    transaction.on_commit(enqueue)


def webhook_event_process(*, event_id: int) -> WebhookEvent | None:
    """Process one stored event; safe to run any number of times, also concurrently.

    Returns the event, or None when it does not exist or another worker holds it right now. An
    event already ``processed`` is left alone (``webhook_events_replay`` resets it to pending first).
    Raises only ``OperationalError`` / ``InterfaceError`` (database unavailable: retry later).
    """
    try:
        with transaction.atomic():
            _commit_without_waiting_for_disk()
            # skip_locked: a second worker given the same event (requeue, replay) leaves it to the first.
            event = WebhookEvent.objects.select_for_update(skip_locked=True).filter(pk=event_id).first()
            if event is None or event.state == State.PROCESSED:
                return event
            _process(event)
            return event
    except (OperationalError, InterfaceError):
        raise
    except Exception as exc:
        # A bug rather than bad input (that is handled in _process): record it, never lose the row.
        logger.exception("Webhook event %s could not be processed", event_id)
        WebhookEvent.objects.filter(pk=event_id).update(
            state=State.FAILED,
            last_error=clean_text(f"{type(exc).__name__}: {exc}")[:ERROR_LENGTH],
            attempts=F("attempts") + 1,
            processed_at=timezone.now(),
        )
        return None


def _commit_without_waiting_for_disk() -> None:
    """Let PostgreSQL acknowledge this transaction's COMMIT before its WAL reaches the disk.

    Safe here, and only here: the raw event was committed durably before Meta got its 200. If a
    crash loses this commit, the event is still `pending` and is applied again, idempotently, by
    the requeue task. The worker stops waiting on an fsync per event.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


def _entry_ids(data: dict[str, Any]) -> list[str]:
    ids: list[str] = []
    for entry in data.get("entry") or ():
        value = entry.get("id") if isinstance(entry, dict) else None
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if isinstance(value, str) and value and value not in ids:
            ids.append(clean_text(value, max_length=64))
    return ids


def _finish(event: WebhookEvent, *, state: str, error: str = "") -> None:
    event.state = state
    event.last_error = clean_text(error)[:ERROR_LENGTH]
    event.processed_at = timezone.now()
    event.save(
        update_fields=[
            "state", "last_error", "processed_at", "attempts", "object_type", "account_ids", "unroutable_account_ids"
        ]
    )


def _process(event: WebhookEvent) -> None:
    event.attempts += 1
    try:
        data = parse_body(bytes(event.body))
        object_type = data.get("object")
        event.object_type = clean_text(object_type, max_length=32) if isinstance(object_type, str) else ""
        result = parse_payload(data)
    except PayloadError as exc:
        logger.warning("Webhook event %s is not a webhook envelope: %s", event.pk, exc)
        _finish(event, state=State.FAILED, error=str(exc))
        return
    for reason in result.skipped:
        logger.info("Webhook event %s: skipped %s", event.pk, reason)
    entry_ids = _entry_ids(data)
    event.account_ids = entry_ids
    platform = OBJECT_PLATFORMS.get(data["object"])
    if platform is None:
        event.unroutable_account_ids = []
        _finish(event, state=State.PROCESSED)
        return

    # Every account of the batch in one query; a disconnected page is not routed (its events wait
    # for a reconnect, which replays them).
    accounts = {
        account.account_id: account
        for account in SocialAccount.objects.filter(platform=platform, account_id__in=entry_ids).exclude(
            status=SocialAccount.Status.DISCONNECTED
        )
    }
    unroutable = [account_id for account_id in entry_ids if account_id not in accounts]
    event.unroutable_account_ids = unroutable

    by_account: dict[str, list[Event]] = {}
    for parsed in result.events:
        by_account.setdefault(parsed.account_id, []).append(parsed)
    changes_by_business: dict[int, Changes] = {}
    errors: list[str] = []
    for account_id, account_events in by_account.items():
        account = accounts.get(account_id)
        if account is None:
            continue
        # A savepoint per event only when there are other events to protect from a failing one.
        applied = events_apply(account=account, events=account_events, isolate=len(result.events) > 1)
        errors.extend(f"entry {account_id}: {error}" for error in applied.errors)
        changes_by_business.setdefault(account.business_id, Changes()).update(applied.changes)

    # One UPDATE per entry; the time Meta delivered it (not now), so a replay changes nothing.
    received_at = event.received_at
    for account in accounts.values():
        SocialAccount.objects.filter(pk=account.pk).update(
            last_webhook_at=Greatest(Coalesce(F("last_webhook_at"), received_at), received_at)
        )
    for business_id, changes in changes_by_business.items():
        if changes:
            publish_on_commit(
                business_id=business_id,
                conversation_ids=sorted(changes.conversation_ids),
                message_ids=sorted(changes.message_ids),
            )

    if errors:
        _finish(event, state=State.FAILED, error="\n".join(errors))
    elif unroutable:
        logger.info("Webhook event %s names unconnected account(s) %s", event.pk, ", ".join(unroutable))
        _finish(event, state=State.UNROUTABLE, error=f"No connected account for entry id(s): {', '.join(unroutable)}")
    else:
        _finish(event, state=State.PROCESSED)


def webhook_events_replay(*, event_ids: Iterable[int]) -> int:
    """Process the given events again (admin action, command, reconnect); returns how many were queued.

    Each is set back to ``pending`` first, so a lost task is picked up by the requeue task, and
    processing is idempotent, so replaying a processed event changes nothing.
    """
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
        state__in=(State.UNROUTABLE, State.FAILED), object_type=OBJECT_TYPES.get(account.platform, "")
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


def webhook_events_requeue_stale(*, older_than_seconds: int | None = None, limit: int = 1000) -> int:
    """Queue again events still pending after a while: their task was lost (broker down, worker killed)."""
    seconds = settings.INBOX_WEBHOOK_REQUEUE_AFTER_SECONDS if older_than_seconds is None else older_than_seconds
    cutoff = timezone.now() - timedelta(seconds=seconds)
    event_ids = list(
        WebhookEvent.objects.filter(state=State.PENDING, received_at__lt=cutoff)
        .order_by("received_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    for event_id in event_ids:
        webhook_event_enqueue(event_id=event_id)
    if event_ids:
        logger.warning("Re-enqueued %d stale pending webhook event(s)", len(event_ids))
    return len(event_ids)
