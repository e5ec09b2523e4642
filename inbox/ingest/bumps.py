"""New messages recorded on their conversations, computed by the database.

``last_message_*`` only move forward (an older message arriving late leaves them alone); the unread
counter is incremented in SQL (``unread_count + n``) so concurrent workers never lose a count; a
customer writing again reopens a resolved, pending or snoozed conversation (and ends its snooze).
Each conversation is written once per call, in id order, so two workers applying overlapping
messages lock conversation rows in the same order.
One statement shape, sent for every conversation in one ``executemany`` (the ORM would build and
compile an expression tree per row).

Replied and unread are decided by message time, not arrival: Meta may deliver the page's reply (an
echo) before the customer's message it answers. A customer's message older than the page's latest
sent reply is already answered: it is stored replied and read, and adds nothing to the unread count.
The conversations are locked (in id order) before the latest reply is read, so a reply stored by
another worker at the same moment is either seen here, or sees these messages when it marks what it
answered (``echoes.echo_answered``).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import datetime

from django.db import connection
from django.db.models import Max
from django.utils import timezone

from inbox.ingest.messages import StoredMessage
from inbox.models import ChatMessage, Conversation

# Outbound messages that reached the customer: a reply still queued or failed answers nothing yet.
REPLIED_STATUSES = (ChatMessage.Status.SENT, ChatMessage.Status.DELIVERED, ChatMessage.Status.READ)


@dataclass(frozen=True, slots=True)
class Bump:
    """What new messages change on one conversation."""

    timestamp: datetime
    preview: str
    direction: str
    inbound: int = 0  # customers' messages to count as unread (those not answered already)
    last_inbound_at: datetime | None = None

    def __add__(self, later: Bump) -> Bump:
        """Both bumps together; of equal times the later one wins, as if the updates ran in turn."""
        newest = later if later.timestamp >= self.timestamp else self
        inbound_times = [t for t in (self.last_inbound_at, later.last_inbound_at) if t is not None]
        return Bump(
            timestamp=newest.timestamp,
            preview=newest.preview,
            direction=newest.direction,
            inbound=self.inbound + later.inbound,
            last_inbound_at=max(inbound_times) if inbound_times else None,
        )


def bumps_for(stored: Sequence[StoredMessage], answered: AbstractSet[int] = frozenset()) -> dict[int, Bump]:
    """The bump of each conversation these new messages belong to (``answered``: the ids of
    customers' messages a later reply already answered, which are not unread)."""
    bumps: dict[int, Bump] = {}
    for message in stored:
        draft = message.draft
        bump = Bump(
            timestamp=draft.timestamp,
            preview=draft.preview,
            direction=draft.direction,
            inbound=int(draft.inbound and message.pk not in answered),
            last_inbound_at=draft.timestamp if draft.inbound else None,
        )
        current = bumps.get(message.conversation.pk)
        bumps[message.conversation.pk] = bump if current is None else current + bump
    return bumps


def answered_late(stored: Sequence[StoredMessage]) -> set[int]:
    """Mark the new customers' messages that are older than their conversation's latest sent reply
    as replied and read; returns their ids. Locks the conversations (in id order) first."""
    inbound = [message for message in stored if message.draft.inbound]
    if not inbound:
        return set()
    conversation_ids = sorted({message.conversation.pk for message in inbound})
    # Two statements, not one: the latest reply is read after the lock is held, with a snapshot that
    # sees a reply committed by whoever held it (a subquery of the locking statement would not).
    list(Conversation.objects.select_for_update().filter(pk__in=conversation_ids).order_by("pk").values_list("pk"))
    latest_reply = dict(
        ChatMessage.objects.filter(
            conversation_id__in=conversation_ids, direction=ChatMessage.Direction.OUTBOUND, status__in=REPLIED_STATUSES
        )
        .values("conversation_id")
        .annotate(at=Max("timestamp"))
        .values_list("conversation_id", "at")
    )
    answered = {
        message.pk
        for message in inbound
        if (at := latest_reply.get(message.conversation.pk)) is not None and message.draft.timestamp <= at
    }
    if answered:
        ChatMessage.objects.filter(pk__in=answered).update(is_replied=True, is_read=True)
    return answered


def conversation_bumps_apply(stored: Sequence[StoredMessage]) -> None:
    """Record new messages on their conversations: one UPDATE per conversation, in id order."""
    bumps = bumps_for(stored, answered_late(stored))
    if not bumps:
        return
    ops = connection.ops
    now = ops.adapt_datetimefield_value(timezone.now())
    plain, inbound = [], []
    for conversation_id in sorted(bumps):
        bump = bumps[conversation_id]
        when = ops.adapt_datetimefield_value(bump.timestamp)
        row = [when, bump.preview, when, bump.direction, when, when, now]
        if bump.last_inbound_at is not None:
            last_inbound = ops.adapt_datetimefield_value(bump.last_inbound_at)
            inbound.append(
                [
                    *row, bump.inbound, last_inbound, last_inbound, bump.inbound, Conversation.Status.OPEN,
                    bump.inbound, conversation_id,
                ]
            )
        else:
            plain.append([*row, conversation_id])
    update, inbound_fields = _bump_sql()
    with connection.cursor() as cursor:
        if plain:
            cursor.executemany(update.format(inbound=""), plain)
        if inbound:
            cursor.executemany(update.format(inbound=inbound_fields), inbound)


@functools.cache
def _bump_sql() -> tuple[str, str]:
    """The UPDATE, built from the model (no input reaches it)."""
    column = {f.name: connection.ops.quote_name(f.column or f.name) for f in Conversation._meta.concrete_fields}
    at, preview, direction = column["last_message_at"], column["last_message_preview"], column["last_message_direction"]
    inbound_at = column["last_inbound_at"]
    # Every right-hand side sees the row as it was before this UPDATE (standard SQL; PostgreSQL and SQLite).
    update = (
        f"UPDATE {connection.ops.quote_name(Conversation._meta.db_table)} SET "  # noqa: S608
        f"{preview} = CASE WHEN {at} <= %s THEN %s ELSE {preview} END, "
        f"{direction} = CASE WHEN {at} <= %s THEN %s ELSE {direction} END, "
        f"{at} = CASE WHEN {at} < %s THEN %s ELSE {at} END, "
        f"{column['updated_at']} = %s{{inbound}} WHERE {column['id']} = %s"
    )
    inbound = (
        f", {column['unread_count']} = {column['unread_count']} + %s, "
        f"{inbound_at} = CASE WHEN {inbound_at} IS NULL OR {inbound_at} < %s THEN %s ELSE {inbound_at} END, "
        # A customer writing again reopens a resolved, pending or snoozed conversation, and a snooze
        # ends (not for a message already answered).
        f"{column['status']} = CASE WHEN %s > 0 THEN %s ELSE {column['status']} END, "
        f"{column['snoozed_until']} = CASE WHEN %s > 0 THEN NULL ELSE {column['snoozed_until']} END"
    )
    return update, inbound
