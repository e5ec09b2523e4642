"""New messages recorded on their conversations, computed by the database.

``last_message_*`` only move forward (an older message arriving late leaves them alone); the unread
counter is incremented in SQL (``unread_count + n``) so concurrent workers never lose a count; a
customer writing again reopens an archived conversation. Each conversation is written once per call,
in id order, so two workers applying overlapping messages lock conversation rows in the same order.
One statement shape, sent for every conversation in one ``executemany`` (the ORM would build and
compile an expression tree per row).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import connection
from django.utils import timezone

from inbox.ingest.messages import StoredMessage
from inbox.models import Conversation


@dataclass(frozen=True, slots=True)
class Bump:
    """What new messages change on one conversation."""

    timestamp: datetime
    preview: str
    direction: str
    inbound: int = 0
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


def bumps_for(stored: Sequence[StoredMessage]) -> dict[int, Bump]:
    """The bump of each conversation these new messages belong to."""
    bumps: dict[int, Bump] = {}
    for message in stored:
        draft = message.draft
        bump = Bump(
            timestamp=draft.timestamp,
            preview=draft.preview,
            direction=draft.direction,
            inbound=int(draft.inbound),
            last_inbound_at=draft.timestamp if draft.inbound else None,
        )
        current = bumps.get(message.conversation.pk)
        bumps[message.conversation.pk] = bump if current is None else current + bump
    return bumps


def conversation_bumps_apply(stored: Sequence[StoredMessage]) -> None:
    """Record new messages on their conversations: one UPDATE per conversation, in id order."""
    bumps = bumps_for(stored)
    if not bumps:
        return
    ops = connection.ops
    now = ops.adapt_datetimefield_value(timezone.now())
    plain, inbound = [], []
    for conversation_id in sorted(bumps):
        bump = bumps[conversation_id]
        when = ops.adapt_datetimefield_value(bump.timestamp)
        row = [when, bump.preview, when, bump.direction, when, when, now]
        if bump.inbound:
            last_inbound = ops.adapt_datetimefield_value(bump.last_inbound_at or bump.timestamp)
            inbound.append([*row, bump.inbound, last_inbound, last_inbound, Conversation.Status.OPEN, conversation_id])
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
        # A customer writing again reopens an archived conversation.
        f"{column['status']} = %s"
    )
    return update, inbound
