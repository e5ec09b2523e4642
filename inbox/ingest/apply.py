"""Applying parsed webhook events, idempotently: the one entry point of the ingest (``apply``).

Everything here may run twice for the same event (Meta redelivers, workers are killed mid-task,
operators replay), and two workers may handle the same customer at once. The rules that make that
harmless live with each step, which this module calls in order for each account's events:

1. ``conversations``: the contacts and conversations the events need, read or inserted on their
   unique constraints;
2. ``drafts`` → ``messages``: customers' messages (and postbacks, referrals) are collected while
   they follow one another and stored together, once per ``(account, mid)``; a mid already stored
   changes nothing else;
3. ``bumps``: their conversations' counters and "latest" fields, moved forward in SQL; and
   ``ad_referrals``: a click-to-Messenger ad's click and the first message after it (the 7-day window);
4. ``updates``: reactions, edits and deletes that waited for these messages;
5. every other event in its turn, once the messages before it are stored: echoes (``echoes``),
   reactions, edits and deletes (``updates``), platform notices (``notices``: policy enforcement,
   handover, opt-ins), comments on posts and media (``comments``), and receipts (``receipts``),
   which go last.

One mode: a batch is applied in one transaction (a savepoint in the caller's). If anything raises
but a database outage, it is rolled back and each event is applied again on its own, in its own
savepoint; an event that still fails is returned in ``Changes.failures`` and the others apply.
Database outages (``OperationalError`` / ``InterfaceError``) are re-raised so the task retries.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from django.db import InterfaceError, OperationalError, transaction

from inbox.facebook.events import (
    AppRoles,
    CommentChange,
    Delivery,
    Event,
    MessageDeleted,
    MessageEdit,
    MessageEvent,
    OptIn,
    PolicyEnforcement,
    Reaction,
    Read,
    ThreadControl,
    Unknown,
)
from inbox.ingest.ad_referrals import ad_referrals_apply
from inbox.ingest.bumps import conversation_bumps_apply
from inbox.ingest.changes import Changes, Failure, Touched
from inbox.ingest.comments import comment_apply, private_reply_echo_apply
from inbox.ingest.conversations import conversations_for
from inbox.ingest.drafts import MessageDraft, customer_message
from inbox.ingest.echoes import echo_answered, echo_confirm, echo_draft, echo_ours
from inbox.ingest.messages import StoredMessage, messages_changes, messages_store
from inbox.ingest.notices import account_notice_apply, thread_notice_apply
from inbox.ingest.receipts import receipt_apply
from inbox.ingest.standby import standby_apply
from inbox.ingest.updates import update_apply, updates_waiting_apply
from inbox.models import Conversation

if TYPE_CHECKING:
    from social.models import SocialAccount

logger = logging.getLogger(__name__)

ERROR_LENGTH = 1000


def apply(events_by_account: Mapping[SocialAccount, Sequence[Event]]) -> Changes:
    """Apply each account's events in order; returns what changed (by business) and the events that
    failed. Runs in the caller's transaction (the drain's), or in its own when there is none."""
    try:
        with transaction.atomic():
            changes = Changes()
            # Accounts in id order: two drains applying overlapping batches lock their rows (conversations,
            # their search text) account by account in the same order, so neither waits on the other in a circle.
            for account, events in sorted(events_by_account.items(), key=lambda item: item[0].pk):
                changes.add(account.business_id, _apply_account(account, events))
            return changes
    except (OperationalError, InterfaceError):
        raise
    except Exception as exc:
        error = exc
    one_by_one = [(account, event) for account, events in events_by_account.items() for event in _ordered(events)]
    if len(one_by_one) == 1:  # nothing to retry apart
        account, event = one_by_one[0]
        logger.error("Webhook %s for account %s failed", type(event).__name__, account.pk, exc_info=error)
        return Changes(failures=[_failure(event, error)])
    logger.error("A batch of webhook events failed; applying them one by one", exc_info=error)
    changes = Changes()
    for account, event in one_by_one:
        try:
            with transaction.atomic():
                changes.add(account.business_id, _apply_account(account, [event]))
        except (OperationalError, InterfaceError):
            raise
        except Exception as exc:
            logger.exception("Webhook %s for account %s failed", type(event).__name__, account.pk)
            changes.failures.append(_failure(event, exc))
    return changes


def _failure(event: Event, exc: Exception) -> Failure:
    mid = getattr(event, "mid", "") or ""
    return Failure(event=event, error=f"{type(event).__name__} {mid}: {type(exc).__name__}: {exc}"[:ERROR_LENGTH])


def _ordered(events: Sequence[Event]) -> list[Event]:
    """Receipts last: they only ever move statuses forward, and a receipt batched before the message
    or echo it covers would otherwise apply on a replay but not the first time."""
    return [e for e in events if not isinstance(e, Delivery | Read)] + [e for e in events if isinstance(e, Delivery | Read)]


def _apply_account(account: SocialAccount, events: Sequence[Event]) -> Touched:
    ordered = _ordered(events)
    changes = Touched()
    conversations = conversations_for(account, ordered, changes)
    waiting: list[MessageDraft] = []  # customers' messages stored together before the next other event
    for event in ordered:
        draft = customer_message(event)
        if draft is not None:
            waiting.append(draft)
            continue
        if waiting:
            _, stored_changes = _store(account, waiting, conversations)
            changes.update(stored_changes)
            waiting = []
        changes.update(_apply_other(account, event, conversations))
    if waiting:
        _, stored_changes = _store(account, waiting, conversations)
        changes.update(stored_changes)
    return changes


def _store(
    account: SocialAccount, drafts: Sequence[MessageDraft], conversations: Mapping[str, Conversation]
) -> tuple[list[StoredMessage], Touched]:
    """Store messages, then what follows them: their conversations' bumps and their waiting updates."""
    stored = messages_store(account, drafts, conversations)
    conversation_bumps_apply(stored)
    ad_referrals_apply(stored)  # a click-to-Messenger ad's 7-day window (docs/messenger-platform.md §6.7)
    changes = messages_changes(stored)
    changes.update(standby_apply(stored))  # another app owned these threads (Handover Protocol)
    changes.update(updates_waiting_apply(account, stored))
    return stored, changes


def _apply_other(account: SocialAccount, event: Event, conversations: Mapping[str, Conversation]) -> Touched:
    if isinstance(event, MessageEvent):  # an echo: customers' messages are drafts
        ours = echo_ours(account, event)
        if ours is not None:
            return echo_confirm(ours, event)
        stored, changes = _store(account, [echo_draft(event)], conversations)
        for message in stored:
            echo_answered(message)
        changes.update(private_reply_echo_apply(account, event, conversations))  # a comment's private reply
        return changes
    if isinstance(event, CommentChange):  # comments on posts and media: threads of their own
        return comment_apply(account, event)
    if isinstance(event, Reaction | MessageEdit | MessageDeleted):
        return update_apply(account, event)
    if isinstance(event, Delivery | Read):
        return receipt_apply(account, event, conversations)
    if isinstance(event, PolicyEnforcement | AppRoles):
        return account_notice_apply(account, event)
    if isinstance(event, ThreadControl | OptIn):
        return thread_notice_apply(account, event, conversations)
    if isinstance(event, Unknown):
        logger.info("Skipped webhook event of kind %r for account %s", event.kind, account.pk)
    else:  # pragma: no cover - a new event class without a handler
        logger.warning("No handler for %s", type(event).__name__)
    return Touched()
