"""What happened in the inbox, announced to the apps above it (outbound webhooks), which inbox never imports.

Each signal is sent inside the transaction that made the change, so what a receiver writes (an
outbound webhook's delivery row) commits with the change or rolls back with it: no event is lost
between the change's commit and its announcement, and none is announced for a change that rolled
back. A receiver reads the rows as this transaction wrote them and queues its own work after commit.
A receiver writes in a savepoint of its own: one that fails is logged and undone, never raised into
the caller (the ingest's drain, a staff action). Arguments: ``business_id`` and ``ids`` (of the messages or
conversations concerned, sorted). With no receiver connected, nothing happens at all (the ingest's
hot path).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.dispatch import Signal

logger = logging.getLogger(__name__)

message_created = Signal()  # ids: ChatMessage
message_status_changed = Signal()  # ids: ChatMessage (outbound: sent, delivered, read, failed)
conversation_created = Signal()  # ids: Conversation
conversation_assigned = Signal()  # ids: Conversation (given to a member)
conversation_resolved = Signal()  # ids: Conversation


def emit(signal: Signal, *, business_id: int, ids: Iterable[int]) -> None:
    """Send ``signal`` for these rows of the business now, in the caller's transaction.

    A receiver that writes does so in its own savepoint (``transaction.atomic()``), so a failure of
    its statements is undone alone and the caller's transaction goes on.
    """
    if not signal.has_listeners():
        return
    ids = sorted({int(pk) for pk in ids})
    if not ids:
        return
    for receiver, result in signal.send_robust(sender=None, business_id=business_id, ids=ids):
        if isinstance(result, Exception):
            logger.error("Inbox event receiver %r failed for business %s", receiver, business_id, exc_info=result)
