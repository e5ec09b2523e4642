"""Messages to store, built from events: one ``MessageDraft`` value per message, nothing saved here.

A customer's message, a postback tap and a referral become inbound drafts; an echo the page sent
(and we did not) becomes an outbound one. Every text is cleaned of what the database refuses
(``inbox.text``) and every id cut to its column, so storing a draft cannot fail on its content.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.utils import timezone

from inbox.facebook.events import Attachment, Event, MessageEvent, Postback, Referral
from inbox.ingest.conversations import customer_id
from inbox.models import ChatMessage, Conversation
from inbox.services.media import attachment_label
from inbox.text import clean_json, clean_text, truncate

PREVIEW_LENGTH: int = Conversation._meta.get_field("last_message_preview").max_length or 255
MID_LENGTH = ChatMessage._meta.get_field("message_id").max_length
SENDER_LENGTH = ChatMessage._meta.get_field("sender_id").max_length
UNSUPPORTED_PREVIEW = "Unsupported message"

Direction = ChatMessage.Direction
Kind = ChatMessage.Kind
Source = ChatMessage.Source


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageDraft:
    """One message as it will be stored, and what its conversation's list row will show."""

    customer_id: str
    mid: str
    direction: str
    source: str
    timestamp: datetime
    sender_id: str
    kind: str = Kind.MESSAGE
    content: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    attachments: tuple[Attachment, ...] = ()
    reply_to_mid: str = ""
    preview: str = ""
    received_at: datetime | None = None  # when the webhook that carried it was stored

    @property
    def inbound(self) -> bool:
        return self.direction == Direction.INBOUND


def customer_message(event: Event) -> MessageDraft | None:
    """The draft of an event that only adds a customer's message; None for any other event."""
    if isinstance(event, MessageEvent) and not event.is_echo:
        return _inbound(event)
    if isinstance(event, Postback):
        return _postback(event)
    if isinstance(event, Referral):
        return _referral(event)
    return None


def echo(event: MessageEvent, *, own_app: bool) -> MessageDraft:
    """An echo of a message the page sent that we have no row for: typed in Meta's apps, or ours
    sent before this inbox stored its sends (``own_app``)."""
    return _draft(
        event,
        mid=event.mid,
        direction=Direction.OUTBOUND,
        source=Source.INBOX if own_app else Source.META,
        content=event.text,
        extra={**_message_extra(event), **({"app_id": event.app_id} if event.app_id else {})},
        attachments=event.attachments,
        reply_to_mid=event.reply_to_mid,
    )


def referral_text(*, source: str | None) -> str:
    if (source or "").upper() == "ADS":
        return "Opened the conversation from an ad"
    return "Opened the conversation from a link"


def synthetic_mid(kind: str, event: Event) -> str:
    """A stable id for events Meta sends without a mid, so redeliveries are recognised too."""
    stamp = ms(event.timestamp)
    if stamp is None:
        stamp_text = hashlib.sha256(json.dumps(event.raw, sort_keys=True, default=str).encode()).hexdigest()[:24]
    else:
        stamp_text = str(stamp)
    # A chat plugin visitor has no sender id: their reference tells two visitors' taps apart.
    return clean_text(f"{kind}:{event.sender_id or event.user_ref}:{stamp_text}", max_length=MID_LENGTH)


def ms(value: datetime | None) -> int | None:
    return None if value is None else int(value.timestamp() * 1000)


def _inbound(event: MessageEvent) -> MessageDraft:
    return _draft(
        event,
        mid=event.mid,
        direction=Direction.INBOUND,
        source=Source.CUSTOMER,
        content=event.text,
        extra=_message_extra(event),
        attachments=event.attachments,
        reply_to_mid=event.reply_to_mid,
        preview="" if not event.is_unsupported or event.text else UNSUPPORTED_PREVIEW,
    )


def _postback(event: Postback) -> MessageDraft:
    extra: dict[str, Any] = {"payload": event.payload}
    if event.referral:
        extra["referral"] = event.referral
    return _draft(
        event,
        mid=event.mid or synthetic_mid("postback", event),
        direction=Direction.INBOUND,
        source=Source.CUSTOMER,
        kind=Kind.POSTBACK,
        content=event.title or event.payload or "Button tapped",
        extra=extra,
    )


def _referral(event: Referral) -> MessageDraft:
    return _draft(
        event,
        mid=synthetic_mid("referral", event),
        direction=Direction.INBOUND,
        source=Source.CUSTOMER,
        kind=Kind.REFERRAL,
        content=referral_text(source=event.source),
        extra=dict(event.data),
    )


def _draft(
    event: MessageEvent | Postback | Referral,
    *,
    mid: str,
    direction: str,
    source: str,
    content: str,
    extra: dict[str, Any],
    kind: str = Kind.MESSAGE,
    attachments: tuple[Attachment, ...] = (),
    reply_to_mid: str | None = None,
    preview: str = "",
) -> MessageDraft:
    extra = clean_json(extra)
    if event.is_standby:
        extra["standby"] = True
    content = clean_text(content)
    return MessageDraft(
        customer_id=customer_id(event),
        mid=clean_text(mid, max_length=MID_LENGTH),
        direction=direction,
        source=source,
        kind=kind,
        timestamp=event.timestamp or timezone.now(),
        sender_id=clean_text(event.sender_id, max_length=SENDER_LENGTH),
        content=content,
        extra=extra,
        attachments=attachments,
        reply_to_mid=clean_text(reply_to_mid, max_length=MID_LENGTH) if reply_to_mid else "",
        preview=clean_text(preview or _preview(text=content, attachments=attachments)),
        received_at=event.received_at,
    )


def _message_extra(event: MessageEvent) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    if event.quick_reply_payload is not None:
        extra["quick_reply_payload"] = event.quick_reply_payload
    if event.reply_to_story:
        extra["reply_to_story"] = event.reply_to_story
    mention = next((a for a in event.attachments if a.type == "story_mention"), None)
    if mention is not None:
        extra["story_mention"] = {"url": mention.url}
    if event.referral:
        extra["referral"] = event.referral
    if event.is_unsupported:
        extra["is_unsupported"] = True
    return extra


def _preview(*, text: str, attachments: tuple[Attachment, ...] = ()) -> str:
    if text.strip():
        return truncate(" ".join(text.split()), PREVIEW_LENGTH)
    if attachments:
        return attachment_label(attachments[0].type)
    return ""
