"""What happened in the inbox, announced to the apps above it (outbound webhooks), which inbox never imports.

Each signal is sent once the transaction that made the change has committed, so a receiver reads
the rows as stored, and nothing is announced for a change that rolled back. Arguments:
``business_id`` and ``ids`` (of the messages or conversations concerned, sorted). A receiver that
fails is logged, never raised into the caller (the ingest's drain, a staff action): its change is
already committed. With no receiver connected, nothing at all is registered (the ingest's hot path).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from functools import partial

from django.db import transaction
from django.dispatch import Signal

logger = logging.getLogger(__name__)

message_created = Signal()  # ids: ChatMessage
message_status_changed = Signal()  # ids: ChatMessage (outbound: sent, delivered, read, failed)
conversation_created = Signal()  # ids: Conversation
conversation_assigned = Signal()  # ids: Conversation (given to a member)
conversation_resolved = Signal()  # ids: Conversation


def emit_on_commit(signal: Signal, *, business_id: int, ids: Iterable[int]) -> None:
    """Send ``signal`` for these rows of the business after the current transaction commits."""
    if not signal.has_listeners():
        return
    ids = sorted({int(pk) for pk in ids})
    if ids:
        transaction.on_commit(partial(_send, signal, business_id, ids))


def _send(signal: Signal, business_id: int, ids: list[int]) -> None:
    for receiver, result in signal.send_robust(sender=None, business_id=business_id, ids=ids):
        if isinstance(result, Exception):
            logger.error("Inbox event receiver %r failed for business %s", receiver, business_id, exc_info=result)
