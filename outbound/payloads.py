"""The documents events carry, from api/documents.py (the REST API's shapes), loaded in a few queries.

``data`` of an event is one document: a message for ``message.*``, a conversation for
``conversation.*``, an account (never a token) for ``account.*``. Rows are read through the REST API's
querysets for the business that sent the signal (`.for_business()`, tokens deferred), so an id of
another business yields nothing and a document is the same whichever way it leaves.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from api.documents import account_document, conversation_document, message_document
from api.selectors import account_queryset, conversation_queryset, message_queryset
from inbox.selectors import labels_prefetch


def _messages(business_id: int, ids: Sequence[int]) -> list[dict]:
    rows = message_queryset(business=business_id).filter(pk__in=ids).order_by("pk")
    return [message_document(row) for row in rows]


def _conversations(business_id: int, ids: Sequence[int]) -> list[dict]:
    rows = list(conversation_queryset(business=business_id).filter(pk__in=ids).order_by("pk"))
    labels_prefetch(rows)
    return [conversation_document(row) for row in rows]


def _accounts(business_id: int, ids: Sequence[int]) -> list[dict]:
    rows = account_queryset(business=business_id).filter(pk__in=ids).order_by("pk")
    return [account_document(row) for row in rows]


DOCUMENTS: dict[str, Callable[[int, Sequence[int]], list[dict]]] = {
    "message.created": _messages,
    "message.status_changed": _messages,
    "conversation.created": _conversations,
    "conversation.assigned": _conversations,
    "conversation.resolved": _conversations,
    "account.needs_reconnect": _accounts,
}


def documents_for(event: str, *, business_id: int, ids: Sequence[int]) -> list[dict]:
    return DOCUMENTS[event](business_id, ids)


def event_payload(*, event_id: str, event: str, created_at: datetime, data: dict) -> dict[str, Any]:
    """The body of a delivery: the event's id, type, time and business (its slug), and its document."""
    return {
        "id": event_id,
        "type": event,
        "createdAt": created_at.isoformat().replace("+00:00", "Z"),
        "business": data.get("business", ""),
        "data": data,
    }
