"""The one broadcast path: after commit, tell every open inbox page of a business what changed.

Services call `publish_on_commit(...)`; nothing is sent for a transaction that rolls back.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)


def business_group(business_id: int) -> str:
    return f"inbox.business.{business_id}"


def publish_on_commit(
    *, business_id: int, conversation_ids: Iterable[int] = (), message_ids: Iterable[int] = ()
) -> None:
    conversation_ids, message_ids = tuple(conversation_ids), tuple(message_ids)
    transaction.on_commit(
        lambda: publish(business_id=business_id, conversation_ids=conversation_ids, message_ids=message_ids)
    )


def publish(*, business_id: int, conversation_ids: Iterable[int] = (), message_ids: Iterable[int] = ()) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    event = {"type": "inbox.changed", "conversation_ids": list(conversation_ids), "message_ids": list(message_ids)}
    try:
        async_to_sync(layer.group_send)(business_group(business_id), event)
    except Exception:
        # A broadcast is best effort: the rows are committed and pages catch up on reconnect.
        logger.exception("Broadcast to business %s failed", business_id)
