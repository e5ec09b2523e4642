"""Receivers of the inbox's and social's events (sent in the change's transaction): each becomes deliveries.

Connected in ``OutboundConfig.ready``. The inbox sends these for every message it stores, so the
first question, whether the business has an active endpoint at all, is answered from the cache
(``business_has_active_endpoint``): a business without one costs no query.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import partial

from django.db import transaction
from django.dispatch import Signal

from inbox import events as inbox_events
from outbound.deliveries import deliveries_create
from outbound.endpoints import business_has_active_endpoint, business_known_without_endpoint
from outbound.payloads import documents_for
from social.signals import account_needs_reconnect

logger = logging.getLogger(__name__)

SIGNALS: dict[str, Signal] = {
    "message.created": inbox_events.message_created,
    "message.status_changed": inbox_events.message_status_changed,
    "conversation.created": inbox_events.conversation_created,
    "conversation.assigned": inbox_events.conversation_assigned,
    "conversation.resolved": inbox_events.conversation_resolved,
    "account.needs_reconnect": account_needs_reconnect,
}


def event_received(event: str, *, business_id: int, ids: Sequence[int]) -> list[int]:
    """Deliveries for an event of these rows; the ids of those created (none without an endpoint)."""
    if not ids or not business_has_active_endpoint(business_id):
        return []
    documents = documents_for(event, business_id=business_id, ids=ids)
    return deliveries_create(business_id=business_id, event=event, documents=documents)


def _receiver(event: str, sender, *, business_id: int, ids: Sequence[int], **kwargs) -> None:
    # In the transaction of the change (inbox.events): the deliveries commit with it. A savepoint of
    # their own, so a failure here is undone alone and never breaks the change; none for a business
    # the cache knows has no endpoint (most), whose savepoint would cost the drain two round trips.
    if not ids or business_known_without_endpoint(business_id):
        return
    with transaction.atomic():
        event_received(event, business_id=business_id, ids=ids)


# Kept at module level: signals hold their receivers weakly.
_RECEIVERS = {event: partial(_receiver, event) for event in SIGNALS}


def connect() -> None:
    for event, signal in SIGNALS.items():
        signal.connect(_RECEIVERS[event], weak=False, dispatch_uid=f"outbound.{event}")
