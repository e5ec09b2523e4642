"""Delivery and read receipts (docs/messenger-platform.md §4.7, §4.8, §4.14): outbound statuses move forward only.

received < queued < sent < delivered < read; failed is never touched. Receipts can arrive late, twice
or out of order, so each one only raises the conversation's watermarks (kept as a maximum) and only
moves messages whose status is below the new one; a stale receipt matches nothing. A receipt for a
conversation we do not have is skipped. A receipt without a sender (Instagram's read carries only
``read.mid``) is applied to the conversation of the message it names, looked up in the account the
entry routed to. Receipts are applied after the other events of a batch
(``inbox.ingest.apply``), so their effect does not depend on the order Meta batched them in.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db.models import DateTimeField, F, Q, QuerySet, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from inbox import events
from inbox.facebook.events import Delivery, Read
from inbox.ingest.changes import Touched
from inbox.ingest.conversations import customer_id
from inbox.models import ChatMessage, Conversation
from inbox.text import clean_text

if TYPE_CHECKING:
    from social.models import SocialAccount

logger = logging.getLogger(__name__)

MID_LENGTH = ChatMessage._meta.get_field("message_id").max_length
Status = ChatMessage.Status


def receipt_apply(
    account: SocialAccount, event: Delivery | Read, conversations: Mapping[str, Conversation]
) -> Touched:
    """Apply a receipt to its conversation (``conversations``: by customer id), or, when it has no
    sender (Instagram's read names only the message seen), to the conversation of the message it names."""
    customer = customer_id(event)
    conversation = conversations.get(customer) if customer else _named_conversation(account, event)
    if conversation is None:
        kind = "Delivery" if isinstance(event, Delivery) else "Read"
        logger.info("%s receipt for an unknown conversation on account %s skipped", kind, account.pk)
        return Touched()
    if isinstance(event, Delivery):
        changed, message_ids = receipt_delivery_apply(conversation=conversation, event=event)
    else:
        changed, message_ids = receipt_read_apply(conversation=conversation, event=event)
    if not changed:
        return Touched()
    events.emit(events.message_status_changed, business_id=account.business_id, ids=message_ids)
    return Touched(conversation_ids={conversation.pk}, message_ids=set(message_ids))


def _named_conversation(account: SocialAccount, event: Delivery | Read) -> Conversation | None:
    """The conversation of the message a receipt names, among this account's messages only."""
    mids = [event.mid] if isinstance(event, Read) and event.mid else list(event.mids if isinstance(event, Delivery) else ())
    if not mids:
        return None
    conversation_id = (
        ChatMessage.objects.filter(account=account, message_id__in=[clean_text(m, max_length=MID_LENGTH) for m in mids])
        .values_list("conversation_id", flat=True)
        .first()
    )
    if conversation_id is None:
        return None
    conversation = Conversation.objects.filter(pk=conversation_id).first()
    if conversation is not None:
        conversation.account = account  # the caller's row: saves a query
    return conversation


def _dt(value: datetime) -> Value:
    return Value(value, output_field=DateTimeField())


def _outbound(conversation: Conversation) -> QuerySet[ChatMessage]:
    return ChatMessage.objects.filter(conversation=conversation, direction=ChatMessage.Direction.OUTBOUND)


def _sent_by(watermark: datetime) -> Q:
    """Outbound messages sent at or before ``watermark`` (when staff pressed send if sent_at is unknown)."""
    return Q(sent_at__lte=watermark) | Q(sent_at__isnull=True, timestamp__lte=watermark)


def _move_status(queryset: QuerySet[ChatMessage], *, to: str, fields: dict[str, Any]) -> list[int]:
    ids = list(queryset.values_list("pk", flat=True))
    if ids:
        ChatMessage.objects.filter(pk__in=ids).update(status=to, updated_at=timezone.now(), **fields)
    return ids


def _raise_watermark(conversation: Conversation, *, field_name: str, watermark: datetime) -> bool:
    """Keep the highest receipt seen; a late or repeated one changes nothing."""
    newer = Q(**{f"{field_name}__isnull": True}) | Q(**{f"{field_name}__lt": watermark})
    return bool(Conversation.objects.filter(newer, pk=conversation.pk).update(**{field_name: watermark}))


def receipt_delivery_apply(*, conversation: Conversation, event: Delivery) -> tuple[bool, list[int]]:
    """Mark outbound messages delivered (named by mid, or sent up to the watermark).

    Returns whether anything changed and the ids of the messages that moved.
    """
    moved: list[int] = []
    stamp = event.watermark or event.timestamp or timezone.now()
    if event.mids:
        mids = [clean_text(m, max_length=MID_LENGTH) for m in event.mids]
        moved += _move_status(
            _outbound(conversation).filter(message_id__in=mids, status__in=(Status.QUEUED, Status.SENT)),
            to=Status.DELIVERED,
            fields={"delivered_at": Coalesce(F("delivered_at"), _dt(stamp))},
        )
    raised = False
    if event.watermark is not None:
        raised = _raise_watermark(conversation, field_name="delivered_watermark", watermark=event.watermark)
        moved += _move_status(
            _outbound(conversation).filter(_sent_by(event.watermark), status=Status.SENT),
            to=Status.DELIVERED,
            fields={"delivered_at": Coalesce(F("delivered_at"), _dt(event.watermark))},
        )
    return bool(moved or raised), moved


def receipt_read_apply(*, conversation: Conversation, event: Read) -> tuple[bool, list[int]]:
    """Mark outbound messages read: up to the watermark (Messenger) or up to the named mid (Instagram).

    Returns whether anything changed and the ids of the messages that moved.
    """
    watermark = event.watermark
    named: list[int] = []
    if event.mid:
        # Instagram names the last message seen: it and everything sent before it were read.
        seen = (
            ChatMessage.objects.filter(
                account_id=conversation.account_id, message_id=clean_text(event.mid, max_length=MID_LENGTH)
            )
            .only("pk", "timestamp", "sent_at", "conversation_id")
            .first()
        )
        if seen is not None and seen.conversation_id == conversation.pk:
            seen_at = seen.sent_at or seen.timestamp
            watermark = max(watermark, seen_at) if watermark else seen_at
            named = _move_status(
                _outbound(conversation).filter(pk=seen.pk, status__in=(Status.QUEUED, Status.SENT, Status.DELIVERED)),
                to=Status.READ,
                fields={"seen_at": Coalesce(F("seen_at"), _dt(event.timestamp or seen_at)),
                        "delivered_at": Coalesce(F("delivered_at"), _dt(event.timestamp or seen_at))},
            )
        elif seen is None:
            logger.info("Read receipt names a message not stored on account %s", conversation.account_id)
    if watermark is None:
        return bool(named), named
    raised = _raise_watermark(conversation, field_name="read_watermark", watermark=watermark)
    raised = _raise_watermark(conversation, field_name="delivered_watermark", watermark=watermark) or raised
    moved = named + _move_status(
        _outbound(conversation).filter(_sent_by(watermark), status__in=(Status.SENT, Status.DELIVERED)),
        to=Status.READ,
        fields={"seen_at": Coalesce(F("seen_at"), _dt(watermark)),
                "delivered_at": Coalesce(F("delivered_at"), _dt(watermark))},
    )
    return bool(moved or raised), moved
