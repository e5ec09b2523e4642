"""Echoes: messages the page sent, coming back through the webhook (docs/messenger-platform.md §4.6).

An echo of our own send is matched to the row we stored when staff pressed send (by mid, or by the
``metadata`` we passed as the client token) and confirms it; any other echo was typed in Meta's own
apps and is stored as a new outbound message (``drafts.echo``), which answers what the customer
wrote before it.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db.models import Count, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from inbox.facebook.events import MessageEvent
from inbox.ingest import drafts
from inbox.ingest.changes import Touched, touched
from inbox.ingest.messages import StoredMessage
from inbox.models import ChatMessage, Conversation
from inbox.text import clean_text

if TYPE_CHECKING:
    from social.models import SocialAccount

Status = ChatMessage.Status


def echo_ours(account: SocialAccount, event: MessageEvent) -> ChatMessage | None:
    """The row of our own send this echo confirms, if there is one."""
    mid = clean_text(event.mid, max_length=drafts.MID_LENGTH)
    match = Q(message_id=mid)
    if event.metadata:
        match |= Q(client_token=clean_text(event.metadata, max_length=64))
    candidates = list(ChatMessage.objects.filter(account=account).filter(match)[:2])
    ours = next((m for m in candidates if event.metadata and m.client_token == event.metadata), None)
    return ours or next(iter(candidates), None)


def echo_draft(event: MessageEvent) -> drafts.MessageDraft:
    """The outbound message to store for an echo that is not ours."""
    own_app = bool(event.app_id) and event.app_id == str(settings.FACEBOOK_APP_ID)
    return drafts.echo(event, own_app=own_app)


def echo_confirm(message: ChatMessage, event: MessageEvent) -> Touched:
    """Our own send came back: record Meta's mid and move the status to at least ``sent``.

    The echo proves Meta accepted the message, so even a send we had marked failed (e.g. a timeout
    whose answer was lost) is sent. Delivered / read are left as they are.
    """
    fields: dict[str, Any] = {}
    if not message.message_id:
        fields["message_id"] = clean_text(event.mid, max_length=drafts.MID_LENGTH)
    if message.status in (Status.QUEUED, Status.FAILED, Status.RECEIVED):
        fields.update(status=Status.SENT, error="", error_code=None)
    if message.sent_at is None:
        fields["sent_at"] = _sent_at(event.timestamp)
    if not fields:
        return Touched()
    ChatMessage.objects.filter(pk=message.pk).update(**fields, updated_at=timezone.now())
    return touched(conversation_id=message.conversation_id, message_ids=[message.pk])


def echo_answered(stored: StoredMessage) -> None:
    """A reply typed in Meta's apps answers what the customer wrote before it, by Meta's times: an
    echo arriving late answers nothing written after it. The page has answered, so those messages
    are read too, and the conversation's unread count keeps only what the customer wrote after the
    reply. (A customer's message arriving after the reply that answers it is marked when it is
    stored, ``bumps.answered_late``.) The count is recomputed only when something was answered."""
    conversation_id = stored.conversation.pk
    inbound = ChatMessage.objects.filter(conversation_id=conversation_id, direction=ChatMessage.Direction.INBOUND)
    answered = inbound.filter(timestamp__lte=stored.draft.timestamp).filter(
        Q(is_replied=False) | Q(is_read=False)
    ).update(is_replied=True, is_read=True)
    if answered:
        Conversation.objects.filter(pk=conversation_id).update(unread_count=_unread_count(conversation_id))


def _unread_count(conversation_id: int) -> Coalesce:
    """The conversation's unread customer messages, counted in SQL (notices never count)."""
    unread = (
        ChatMessage.objects.filter(
            conversation_id=conversation_id, direction=ChatMessage.Direction.INBOUND, is_read=False
        )
        .exclude(kind=ChatMessage.Kind.NOTICE)
        .order_by()
        .values("conversation_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(unread), 0)


def _sent_at(timestamp: datetime | None) -> datetime:
    return timestamp or timezone.now()
