"""The API's writes: each one the inbox's own service (the same rules, audit and live push as a click in
the inbox), acting as the key's user, with the service's refusals turned into API errors."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import transaction

from accounts.models import Membership
from api.errors import ApiError
from inbox.models import ChatMessage, Conversation, Label
from inbox.reply_window import reply_window
from inbox.services import assignment, conversations, labels, replies

if TYPE_CHECKING:
    from accounts.models import User


def reply(*, conversation: Conversation, actor: User, text: str) -> ChatMessage:
    """Queue a text reply (sent after commit by the inbox's `message_send` task, never twice)."""
    window = reply_window(conversation=conversation)
    if not window.allowed:
        raise ApiError(409, "reply_window_closed", window.reason or "The conversation can no longer be replied to.")
    try:
        return replies.reply_send(conversation=conversation, user=actor, text=text)
    except replies.ReplyError as exc:
        raise ApiError(422, "reply_refused", str(exc)) from None


def assign(*, conversation: Conversation, actor: User, email: str | None) -> Conversation:
    assignee = None
    if email:
        membership = (
            Membership.objects.for_business(conversation.business)
            .select_related("user")
            .filter(user__email__iexact=email.strip())
            .first()
        )
        if membership is None:
            raise ApiError(422, "invalid_assignee", "No member of this business has that email address.")
        assignee = membership.user
    try:
        assignment.conversation_assign(conversation=conversation, actor=actor, assignee=assignee)
    except assignment.AssignmentError as exc:
        raise ApiError(422, "invalid_assignee", str(exc)) from None
    return conversation


def set_status(*, conversation: Conversation, actor: User, status: str) -> Conversation:
    if status == Conversation.Status.RESOLVED:
        return conversations.conversation_resolve(conversation=conversation, user=actor)
    if status == Conversation.Status.OPEN:
        return conversations.conversation_reopen(conversation=conversation, user=actor)
    if status == Conversation.Status.PENDING:
        return conversations.conversation_mark_pending(conversation=conversation, user=actor)
    raise ApiError(422, "invalid_status", "status is open, pending or resolved (snoozing is the inbox's).")


def _label(*, conversation: Conversation, name: str) -> Label:
    label = Label.objects.for_business(conversation.business).filter(name__iexact=name.strip()).first()
    if label is None:
        raise ApiError(422, "invalid_label", "No label of that name; owners and admins create labels in Settings.")
    return label


def label_add(*, conversation: Conversation, actor: User, name: str) -> None:
    label = _label(conversation=conversation, name=name)
    labels.labels_add(business=conversation.business, user=actor, conversation_ids=[conversation.pk], label_ids=[label.pk])


def label_remove(*, conversation: Conversation, actor: User, name: str) -> None:
    label = _label(conversation=conversation, name=name)
    labels.labels_remove(
        business=conversation.business, user=actor, conversation_ids=[conversation.pk], label_ids=[label.pk]
    )


@transaction.atomic
def mark_read(*, conversation: Conversation, actor: User) -> int:
    return conversations.conversation_mark_read(conversation=conversation, user=actor)
