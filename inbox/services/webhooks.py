"""Stored webhook events: processing, replay and recovery (docs/messenger-platform.md §3, §5).

The endpoint stores each signed POST as a ``WebhookEvent`` and wakes a drain
(``webhook_events_wake``), which claims the pending events in batches and applies each batch in one
transaction (``webhook_events_process_batch``). Processing parses the body, routes every entry by its id to the connected account of that platform,
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
import time
from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from config.tasks import enqueue_on_commit
from inbox.facebook.parsing import OBJECT_PLATFORMS, PayloadError, parse_body, parse_payload
from inbox.ingest.wake import drain_flag_clear, webhook_events_wake
from inbox.models import WebhookEvent
from inbox.realtime import publish_on_commit
from inbox.services.ingest import AccountBatch, Bump, Changes, bump_merge, conversation_bumps_apply, events_apply
from inbox.text import clean_text
from social.models import Platform, SocialAccount

if TYPE_CHECKING:
    from inbox.facebook.events import Event

logger = logging.getLogger(__name__)

State = WebhookEvent.State
ERROR_LENGTH = 10_000
REPLAY_CHUNK = 500
OBJECT_TYPES = {Platform.FACEBOOK: "page", Platform.INSTAGRAM: "instagram"}


def webhook_event_enqueue(*, event_id: int) -> None:
    """Queue one event's own task after commit: replays, which must touch only what was chosen."""

    # A broker failure is logged; the event stays pending for the requeue task.
    enqueue_on_commit("inbox.tasks.webhook_event_process", event_id)


def webhook_events_drain(*, batch_size: int | None = None, seconds: float | None = None) -> int:
    """Process pending events in batches until none is left or ``seconds`` have passed; returns how many.

    Two drains may run at once (two workers): each claims rows the other has not locked. A drain
    that runs out of time queues the next one, so other tasks (replies) get a worker in between.
    """
    batch_size = batch_size or settings.INBOX_WEBHOOK_BATCH_SIZE
    seconds = settings.INBOX_WEBHOOK_DRAIN_SECONDS if seconds is None else seconds
    drain_flag_clear()
    deadline = time.monotonic() + seconds
    total = 0
    while True:
        claimed = webhook_events_process_batch(limit=batch_size)
        total += claimed
        if claimed < batch_size:
            return total
        if time.monotonic() >= deadline:
            webhook_events_wake()
            return total


def webhook_events_process_batch(*, limit: int) -> int:
    """Claim up to ``limit`` pending events, oldest first, and apply them in one transaction.

    Returns the number claimed. The batch shares queries (accounts, conversations, waiting updates),
    writes each conversation once, and is broadcast once per business. If applying it raises
    anything but a database outage, it is rolled back and each event is processed on its own, so a
    bad event is recorded on its row while the others still apply.
    """
    events: list[WebhookEvent] = []
    try:
        with transaction.atomic():
            _commit_without_waiting_for_disk()
            events = list(
                WebhookEvent.objects.select_for_update(skip_locked=True)
                .filter(state=State.PENDING)
                .order_by("received_at", "pk")[:limit]
            )
            if events:
                _apply_stored(events)
            return len(events)
    except (OperationalError, InterfaceError):
        raise
    except Exception:
        logger.exception("A batch of webhook events failed; processing them one by one")
    event_ids = [event.pk for event in events]
    for event_id in event_ids:
        webhook_event_process(event_id=event_id)
    return len(event_ids)


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
            _apply_stored([event])
            return event
    except (OperationalError, InterfaceError):
        raise
    except Exception as exc:
        # A bug rather than bad input (that is handled in _apply_stored): record it, never lose the row.
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


OUTCOME_FIELDS = ["state", "last_error", "processed_at", "attempts", "object_type", "account_ids", "unroutable_account_ids"]


def _outcome(event: WebhookEvent, *, state: str, error: str = "") -> None:
    event.state = state
    event.last_error = clean_text(error)[:ERROR_LENGTH]
    event.processed_at = timezone.now()


@dataclass
class _Parsed:
    """A stored event, parsed and routed (``platform`` None: nothing to apply, outcome already set)."""

    event: WebhookEvent
    platform: str | None = None
    events: list[Event] = dataclass_field(default_factory=list)


def _parse(event: WebhookEvent) -> _Parsed:
    """Parse and describe the event on its row (not saved); sets the outcome when nothing applies."""
    event.attempts += 1
    parsed = _Parsed(event=event)
    try:
        data = parse_body(bytes(event.body))
        object_type = data.get("object")
        event.object_type = clean_text(object_type, max_length=32) if isinstance(object_type, str) else ""
        result = parse_payload(data)
    except PayloadError as exc:
        logger.warning("Webhook event %s is not a webhook envelope: %s", event.pk, exc)
        _outcome(event, state=State.FAILED, error=str(exc))
        return parsed
    for reason in result.skipped:
        logger.info("Webhook event %s: skipped %s", event.pk, reason)
    event.account_ids = _entry_ids(data)
    event.unroutable_account_ids = []
    parsed.platform = OBJECT_PLATFORMS.get(data["object"])
    if parsed.platform is None:
        _outcome(event, state=State.PROCESSED)
    parsed.events = result.events
    return parsed


def _accounts(platform_ids: dict[str, set[str]]) -> dict[tuple[str, str], SocialAccount]:
    """The connected accounts named by these entry ids, in one query; a disconnected page is not
    routed (its events wait for a reconnect, which replays them)."""
    condition = Q()
    for platform, ids in platform_ids.items():
        condition |= Q(platform=platform, account_id__in=ids)
    if not condition:
        return {}
    return {
        (account.platform, account.account_id): account
        for account in SocialAccount.objects.filter(condition).exclude(status=SocialAccount.Status.DISCONNECTED)
    }


def _route(parsed: _Parsed, accounts: dict[tuple[str, str], SocialAccount]) -> None:
    """Name the unroutable entries and set the outcome of an event whose events all apply."""
    event = parsed.event
    unroutable = [i for i in event.account_ids if (parsed.platform, i) not in accounts]
    event.unroutable_account_ids = unroutable
    if unroutable:
        logger.info("Webhook event %s names unconnected account(s) %s", event.pk, ", ".join(unroutable))
        _outcome(event, state=State.UNROUTABLE, error=f"No connected account for entry id(s): {', '.join(unroutable)}")
    else:
        _outcome(event, state=State.PROCESSED)


def _mark_webhooks_seen(received: dict[int, datetime]) -> None:
    """One UPDATE per account: the time Meta delivered its latest event (not now), so a replay
    changes nothing."""
    for account_pk, received_at in sorted(received.items()):
        SocialAccount.objects.filter(pk=account_pk).update(
            last_webhook_at=Greatest(Coalesce(F("last_webhook_at"), received_at), received_at)
        )


def _publish(changes_by_business: dict[int, Changes]) -> None:
    for business_id, changes in changes_by_business.items():
        if changes:
            publish_on_commit(
                business_id=business_id,
                conversation_ids=sorted(changes.conversation_ids),
                message_ids=sorted(changes.message_ids),
                pane_ids=sorted(changes.pane_ids),
            )


def _apply_stored(events: list[WebhookEvent]) -> None:
    """Apply stored events in the caller's transaction, sharing every query they can.

    A batch applies without savepoints: any exception propagates, and the caller rolls back and
    applies each event on its own. A lone event that holds several (Meta batches them) isolates
    each in a savepoint instead, so one bad event is recorded on the row and the others still apply.
    """
    parsed = [_parse(event) for event in events]
    isolate = len(parsed) == 1 and len(parsed[0].events) > 1
    platform_ids: dict[str, set[str]] = {}
    for item in parsed:
        if item.platform is not None:
            platform_ids.setdefault(item.platform, set()).update(item.event.account_ids)
    accounts = _accounts(platform_ids)

    by_account: dict[int, list[Event]] = {}
    received: dict[int, datetime] = {}
    for item in parsed:
        if item.platform is None:
            continue
        _route(item, accounts)
        for routed in item.events:
            account = accounts.get((item.platform, routed.account_id))
            if account is not None:
                by_account.setdefault(account.pk, []).append(routed)
        for account_id in item.event.account_ids:
            account = accounts.get((item.platform, account_id))
            if account is not None:
                received[account.pk] = max(received.get(account.pk, item.event.received_at), item.event.received_at)

    accounts_by_pk = {account.pk: account for account in accounts.values()}
    changes_by_business: dict[int, Changes] = {}
    bumps: dict[int, Bump] = {}
    errors: list[str] = []
    for account_pk, account_events in by_account.items():
        account = accounts_by_pk[account_pk]
        batch = AccountBatch(account=account, events=account_events)
        batch.prefetch(account_events)
        applied = events_apply(account=account, events=account_events, isolate=isolate, batch=batch)
        errors.extend(f"entry {account.account_id}: {error}" for error in applied.errors)
        changes_by_business.setdefault(account.business_id, Changes()).update(applied.changes)
        for conversation_id, bump in batch.bumps.items():
            bump_merge(bumps, conversation_id, bump)
    conversation_bumps_apply(bumps)
    _mark_webhooks_seen(received)
    _publish(changes_by_business)
    if errors:  # only a lone, isolated event collects errors
        _outcome(parsed[0].event, state=State.FAILED, error="\n".join(errors))
    _save_outcomes(events)


def _save_outcomes(events: list[WebhookEvent]) -> None:
    """Write the outcomes: one UPDATE for the (usual) processed events of a page, one per other event."""
    groups: dict[tuple[str, tuple[str, ...]], list[int]] = {}
    for event in events:
        if event.state == State.PROCESSED and not event.last_error and not event.unroutable_account_ids:
            groups.setdefault((event.object_type, tuple(event.account_ids)), []).append(event.pk)
        else:
            event.save(update_fields=OUTCOME_FIELDS)
    now = timezone.now()
    for (object_type, account_ids), pks in groups.items():
        WebhookEvent.objects.filter(pk__in=pks).update(
            state=State.PROCESSED, last_error="", processed_at=now, attempts=F("attempts") + 1,
            object_type=object_type, account_ids=list(account_ids), unroutable_account_ids=[],
        )


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
