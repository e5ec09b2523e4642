"""Read state and triage of conversations: read, unread, archive, reopen, priority.

Every change is one UPDATE (never a read-modify-save that could overwrite what ingest wrote in the
meantime), an AuditEvent, and a live push to the business's other open pages after commit.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.services import audit_record
from config.tasks import enqueue_on_commit
from inbox.models import ChatMessage, Conversation
from inbox.realtime import publish_on_commit
from inbox.reply_window import reply_window

if TYPE_CHECKING:
    from accounts.models import User

logger = logging.getLogger(__name__)


class ConversationError(Exception):
    """A change staff asked for that does not apply."""


def _refresh(conversation: Conversation) -> Conversation:
    conversation.refresh_from_db(fields=["status", "priority", "unread_count", "last_message_at", "updated_at"])
    return conversation


def _changed(*, conversation: Conversation, user: User, action: str, **metadata) -> None:
    audit_record(
        action=action, business=conversation.business, actor=user, target=conversation, metadata=metadata or None
    )
    publish_on_commit(business_id=conversation.business_id, conversation_ids=[conversation.pk])


@transaction.atomic
def conversation_mark_read(*, conversation: Conversation, user: User) -> int:
    """Mark the customer's messages read by this user; returns how many were unread.

    Nothing is written, audited or pushed when there was nothing unread: every unread inbound
    message counts in `unread_count` (ingest increments it in the same transaction), so a
    conversation showing 0 is opened without touching its messages.
    """
    if conversation.unread_count == 0:
        return 0
    now = timezone.now()
    unread = ChatMessage.objects.filter(
        conversation=conversation, direction=ChatMessage.Direction.INBOUND, is_read=False
    )
    marked = unread.update(is_read=True, read_at=now, read_by=user)
    cleared = Conversation.objects.filter(pk=conversation.pk, unread_count__gt=0).update(unread_count=0)
    if not marked and not cleared:
        return 0
    conversation.unread_count = 0
    _changed(conversation=conversation, user=user, action="conversation.read", messages=marked)
    if getattr(settings, "INBOX_SEND_MARK_SEEN", True) and marked:
        _enqueue_mark_seen(conversation_id=conversation.pk)
    return marked


def _enqueue_mark_seen(*, conversation_id: int) -> None:
    enqueue_on_commit("inbox.tasks.conversation_mark_seen", conversation_id)


def conversation_send_seen(*, conversation_id: int) -> bool:
    """Tell Meta the page has seen the customer's messages (best effort: a failure only logs)."""
    from social.graph import GraphAPIError
    from social.services import account_graph_client

    conversation = (
        Conversation.objects.select_related("account", "account__page", "contact").filter(pk=conversation_id).first()
    )
    if conversation is None or not reply_window(conversation=conversation).allowed:
        # Sender actions follow the messaging window too; outside it Meta would refuse.
        return False
    try:
        account_graph_client(conversation.account).send_sender_action(
            recipient_id=conversation.contact.external_id, action="mark_seen"
        )
    except GraphAPIError as exc:
        logger.info("mark_seen for conversation %s failed: %s", conversation_id, getattr(exc, "message", exc))
        return False
    return True


@transaction.atomic
def conversation_mark_unread(*, conversation: Conversation, user: User) -> Conversation:
    """Put the conversation back in everyone's unread list: its latest customer message is unread again."""
    latest = (
        ChatMessage.objects.filter(conversation=conversation, direction=ChatMessage.Direction.INBOUND)
        .order_by("-timestamp", "-id")
        .values_list("pk", flat=True)
        .first()
    )
    if latest is not None:
        ChatMessage.objects.filter(pk=latest).update(is_read=False, read_at=None, read_by=None)
    Conversation.objects.filter(pk=conversation.pk, unread_count=0).update(unread_count=1)
    _changed(conversation=conversation, user=user, action="conversation.unread")
    return _refresh(conversation)


@transaction.atomic
def conversation_archive(*, conversation: Conversation, user: User) -> Conversation:
    return _set_status(conversation=conversation, user=user, status=Conversation.Status.ARCHIVED)


@transaction.atomic
def conversation_reopen(*, conversation: Conversation, user: User) -> Conversation:
    return _set_status(conversation=conversation, user=user, status=Conversation.Status.OPEN)


def _set_status(*, conversation: Conversation, user: User, status: str) -> Conversation:
    updated = Conversation.objects.filter(pk=conversation.pk).exclude(status=status).update(
        status=status, updated_at=timezone.now()
    )
    if updated:
        action = "conversation.archived" if status == Conversation.Status.ARCHIVED else "conversation.reopened"
        _changed(conversation=conversation, user=user, action=action)
    return _refresh(conversation)


@transaction.atomic
def conversation_set_priority(*, conversation: Conversation, user: User, priority: str) -> Conversation:
    if priority not in Conversation.Priority.values:
        raise ConversationError("Unknown priority.")
    previous = Conversation.objects.filter(pk=conversation.pk).values_list("priority", flat=True).first()
    if previous != priority:
        Conversation.objects.filter(pk=conversation.pk).update(priority=priority, updated_at=timezone.now())
        _changed(conversation=conversation, user=user, action="conversation.priority_changed",
                 **{"from": previous, "to": priority})
    return _refresh(conversation)
