"""The drain: stored webhook events claimed in batches and applied (docs/messenger-platform.md §3, §5).

The endpoint stores each signed POST as a pending ``WebhookEvent`` and wakes a drain
(``inbox.ingest.wake``). A drain claims the pending events, oldest first, in batches, and for each
batch, in one transaction: parses every body and routes its entries to connected accounts
(``routing``), applies all their events (``apply``), records the time of the latest webhook on each
account, queues one live push per business, and records each event's outcome on its row:

- ``processed``: everything applied;
- ``unroutable``: some entry ids match no connected account (``unroutable_account_ids``); the
  events of those entries are replayed when the account connects (``replay``);
- ``failed``: the body is not a webhook envelope, or some of its events failed (``last_error``);
  the rest applied, and a replay retries only what is missing because applying is idempotent;
- ``test``: a sample sent by the Test button of Meta's App Dashboard (entry id "0",
  ``meta_test_events``): nothing is applied, and it is neither a failure nor unroutable.

A database outage is not a failure of the event: the exception propagates so the task retries, and
the rows stay ``pending`` (the transaction rolled back) for ``webhook_events_requeue_stale``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import F
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from inbox.facebook.events import Event, MessageEvent
from inbox.ingest.apply import apply
from inbox.ingest.changes import Changes
from inbox.ingest.event_hours import event_hours_add
from inbox.ingest.routing import Parsed, accounts_for, parse
from inbox.ingest.wake import drain_flag_clear, webhook_events_wake
from inbox.latency import drain_samples_on_commit
from inbox.models import WebhookEvent
from inbox.realtime import publish_on_commit
from inbox.services.alerts import alerts_publish_on_commit
from inbox.text import clean_text
from social.models import SocialAccount

logger = logging.getLogger(__name__)

State = WebhookEvent.State
ERROR_LENGTH = 10_000


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
    """Claim up to ``limit`` pending events, oldest first, and process them in one transaction.

    Returns the number claimed. The batch shares its queries (accounts, conversations, waiting
    updates), writes each conversation once, and is pushed once per business.
    """
    claimed: list[int] = []
    try:
        with transaction.atomic():
            _commit_without_waiting_for_disk()
            events = [
                Stored(pk=pk, body=body, received_at=received_at, first=attempts == 0)
                for pk, body, received_at, attempts in WebhookEvent.objects.select_for_update(skip_locked=True)
                .filter(state=State.PENDING)
                .order_by("received_at", "pk")
                .values_list("pk", "body", "received_at", "attempts")[:limit]
            ]
            claimed = [event.pk for event in events]
            if events:
                _process(events)
            return len(events)
    except (OperationalError, InterfaceError):
        raise
    except Exception as exc:
        # Not an event's fault (those are recorded by ``apply``): a bug. Keep it on the rows.
        logger.exception("A batch of webhook events could not be processed")
        _record_failed(claimed, exc)
        return len(claimed)


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
            _process([Stored(pk=event.pk, body=event.body, received_at=event.received_at, first=event.attempts == 0)])
            return event
    except (OperationalError, InterfaceError):
        raise
    except Exception as exc:
        logger.exception("Webhook event %s could not be processed", event_id)
        _record_failed([event_id], exc)
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


@dataclass(frozen=True, slots=True)
class Stored:
    """A claimed webhook event: what processing reads of its row."""

    pk: int
    body: bytes | memoryview  # as the driver returns it
    received_at: datetime
    first: bool = True  # never processed before (a replay is not counted again in the hourly counts)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What is recorded on a webhook event's row once it was processed."""

    state: str
    object_type: str
    account_ids: tuple[str, ...]
    unroutable_account_ids: tuple[str, ...] = ()
    error: str = ""


def _process(events: Sequence[Stored]) -> None:
    """Parse, route and apply ``events`` in the caller's transaction, and record their outcomes."""
    parsed = {event.pk: _parse(event) for event in events}
    accounts = accounts_for(parsed.values())
    by_account: dict[SocialAccount, list[Event]] = {}
    origin: dict[int, int] = {}  # id() of each routed event -> its webhook event's pk
    received: dict[SocialAccount, datetime] = {}
    for event in events:
        item = parsed[event.pk]
        platform = item.platform or ""
        for routed in item.events if item.platform is not None else ():
            account = accounts.get((platform, routed.account_id))
            if account is not None:
                routed = replace(routed, received_at=event.received_at)  # each message is stamped with it
                by_account.setdefault(account, []).append(routed)
                origin[id(routed)] = event.pk
        for account_id in item.account_ids:
            account = accounts.get((platform, account_id))
            if account is not None:
                received[account] = max(received.get(account, event.received_at), event.received_at)

    changes = apply(by_account) if by_account else Changes()
    errors: dict[int, list[str]] = {}
    for failure in changes.failures:
        account_id = failure.event.account_id
        errors.setdefault(origin[id(failure.event)], []).append(f"entry {account_id}: {failure.error}")
    _mark_webhooks_seen(received)
    for business_id, touched in changes.touched.items():
        if touched:
            publish_on_commit(
                business_id=business_id,
                conversation_ids=sorted(touched.conversation_ids),
                message_ids=sorted(touched.message_ids),
                pane_ids=sorted(touched.pane_ids),
            )
            # Browser notifications for new customer messages, to the members who asked for them.
            alerts_publish_on_commit(business_id=business_id, message_ids=sorted(touched.message_ids))
    # After the pushes above (on_commit callbacks run in order): how long customers' messages took.
    drain_samples_on_commit(messages={
        account.pk: [(e.timestamp, e.received_at) for e in routed if _is_customer_message(e) and e.received_at]
        for account, routed in by_account.items()
    })
    _record_outcomes(
        {event.pk: _outcome(event.pk, parsed[event.pk], accounts, errors.get(event.pk, [])) for event in events}
    )
    event_hours_add(
        (parsed[event.pk].object_type, parsed[event.pk].account_ids, event.received_at)
        for event in events
        if event.first and not parsed[event.pk].is_test
    )


def _is_customer_message(event: Event) -> bool:
    return isinstance(event, MessageEvent) and not event.is_echo


def _parse(event: Stored) -> Parsed:
    """Parse one body; a bug in parsing fails this event only."""
    try:
        return parse(event_id=event.pk, body=event.body)
    except Exception as exc:
        logger.exception("Webhook event %s could not be parsed", event.pk)
        return Parsed(error=f"{type(exc).__name__}: {exc}")


def _outcome(
    event_id: int, parsed: Parsed, accounts: dict[tuple[str, str], SocialAccount], errors: list[str]
) -> Outcome:
    processed = Outcome(state=State.PROCESSED, object_type=parsed.object_type, account_ids=parsed.account_ids)
    if parsed.error:
        return replace(processed, state=State.FAILED, error=parsed.error)
    if parsed.is_test:  # the App Dashboard's Test button: nothing to route, nothing failed
        return replace(processed, state=State.TEST)
    if parsed.platform is None:  # an object we do not subscribe to
        return processed
    unroutable = tuple(i for i in parsed.account_ids if (parsed.platform, i) not in accounts)
    if errors:
        return replace(processed, state=State.FAILED, unroutable_account_ids=unroutable, error="\n".join(errors))
    if unroutable:
        logger.info("Webhook event %s names unconnected account(s) %s", event_id, ", ".join(unroutable))
        return replace(
            processed, state=State.UNROUTABLE, unroutable_account_ids=unroutable,
            error=f"No connected account for entry id(s): {', '.join(unroutable)}",
        )
    return processed


def _mark_webhooks_seen(received: dict[SocialAccount, datetime]) -> None:
    """One UPDATE per account: the time Meta delivered its latest event (not now), so a replay
    changes nothing."""
    for account, received_at in sorted(received.items(), key=lambda item: item[0].pk):
        SocialAccount.objects.filter(pk=account.pk).update(
            last_webhook_at=Greatest(Coalesce(F("last_webhook_at"), received_at), received_at)
        )


def _record_outcomes(outcomes: dict[int, Outcome]) -> None:
    """One UPDATE for all the events with the same outcome (the usual: processed, from one page)."""
    groups: dict[Outcome, list[int]] = {}
    for pk, outcome in outcomes.items():
        groups.setdefault(outcome, []).append(pk)
    now = timezone.now()
    for outcome, pks in groups.items():
        WebhookEvent.objects.filter(pk__in=pks).update(
            state=outcome.state,
            last_error=clean_text(outcome.error)[:ERROR_LENGTH],
            processed_at=now,
            attempts=F("attempts") + 1,
            object_type=outcome.object_type,
            account_ids=list(outcome.account_ids),
            unroutable_account_ids=list(outcome.unroutable_account_ids),
        )


def _record_failed(event_ids: list[int], exc: Exception) -> None:
    """Record an unexpected error on events whose processing rolled back; never lose the rows."""
    if not event_ids:
        return
    WebhookEvent.objects.filter(pk__in=event_ids).exclude(state=State.PROCESSED).update(
        state=State.FAILED,
        last_error=clean_text(f"{type(exc).__name__}: {exc}")[:ERROR_LENGTH],
        attempts=F("attempts") + 1,
        processed_at=timezone.now(),
    )
