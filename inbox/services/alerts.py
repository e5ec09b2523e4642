"""Alerts: what a member's open inbox raises as a browser notification (and, if they chose it, a sound).

Three things alert, each only for members who left it on (`accounts.Membership.notify_*`):

- a new conversation: every member with ``notify_new_conversations``;
- a new customer message in a conversation assigned to a member: that member, with
  ``notify_assigned_messages`` (instead of the "new conversation" alert when both apply);
- a mention in a private note: the member mentioned, with ``notify_mentions``
  (`inbox.services.notifications.notification_create`).

An alert is a small ``<template data-alert …>`` sent to the member's own group
(`realtime.member_group`), so it reaches that member's screens of that business only. The page
(static/js/alerts.js) decides what only it knows: whether permission was given, and that the
conversation is open on a visible tab (then nothing is shown).

Messages come from ingest after commit: one query for the new customer messages of the batch and,
only when there are some, one for the members' choices, however many members and messages.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from accounts.models import Membership
from inbox.models import ChatMessage, Conversation
from inbox.pk_urls import public_url
from inbox.realtime import publish_to_user
from inbox.text import truncate

logger = logging.getLogger(__name__)

NEW_CONVERSATION = "new_conversation"
ASSIGNED_MESSAGE = "assigned_message"
MENTION = "mention"
# A message re-pushed later (a reaction, an edit, a replay) is not news: only rows stored just now alert.
RECENT = timedelta(minutes=2)
# The first message of a conversation is stored a moment after the conversation, in the same batch.
FIRST_MESSAGE_WITHIN = timedelta(seconds=5)
BODY_CHARS = 140


@dataclass(frozen=True)
class Alert:
    kind: str
    conversation_id: int
    conversation_public_id: uuid.UUID
    title: str
    body: str
    sound: bool
    # The same key twice (the same message pushed again) is shown once by the page.
    key: str

    @property
    def url(self) -> str:
        return public_url("inbox:conversation_detail", self.conversation_public_id)


def alert_html(alert: Alert) -> str:
    """One alert for one member's open inbox; static/js/alerts.js turns it into a browser notification.

    Built with format_html (every value escaped), not a template: a busy batch raises an alert per
    member per new conversation, and a template render each was a fifth of the drain's time."""
    return format_html(
        '<template data-alert data-kind="{}" data-key="{}" data-conversation="{}" data-url="{}" data-title="{}" '
        'data-body="{}"{}></template>',
        alert.kind, alert.key, alert.conversation_id, alert.url, alert.title, alert.body,
        mark_safe(' data-sound="1"') if alert.sound else "",
    )


def _body(message: ChatMessage) -> str:
    text = " ".join((message.content or "").split())
    return truncate(text, BODY_CHARS) if text else "Sent an attachment"


def message_alerts(
    *, business_id: int, message_ids: Iterable[int], now: datetime | None = None
) -> dict[int, list[Alert]]:
    """Alerts per member (user id) for the new customer messages among ``message_ids``: at most two queries."""
    ids = sorted({int(pk) for pk in message_ids})
    if not ids:
        return {}
    now = now or timezone.now()
    messages = list(
        ChatMessage.objects.filter(
            business_id=business_id,
            pk__in=ids,
            direction=ChatMessage.Direction.INBOUND,
            kind=ChatMessage.Kind.MESSAGE,
            is_deleted=False,
            edit_count=0,
            created_at__gte=now - RECENT,
        )
        .select_related("conversation__contact")
        # Only what an alert says: a busy batch holds hundreds of messages.
        .only(
            "pk", "conversation_id", "content", "created_at", "conversation__public_id",
            "conversation__assignee_id", "conversation__created_at", "conversation__contact_id",
            "conversation__contact__name", "conversation__contact__username", "conversation__contact__external_id",
        )
        .order_by("pk")
    )
    if not messages:
        return {}
    # The newest message per conversation speaks for it; the first one says whether it is new.
    newest: dict[int, ChatMessage] = {}
    first: dict[int, ChatMessage] = {}
    for message in messages:
        newest[message.conversation_id] = message
        first.setdefault(message.conversation_id, message)
    choices = Membership.objects.filter(business_id=business_id).values_list(
        "user_id", "notify_new_conversations", "notify_assigned_messages", "notify_sound"
    )
    alerts: dict[int, list[Alert]] = {}
    for user_id, on_new, on_assigned, sound in choices:
        for conversation_id, message in newest.items():
            conversation: Conversation = message.conversation
            name = conversation.contact.display_name
            if on_assigned and conversation.assignee_id == user_id:
                alert = Alert(
                    kind=ASSIGNED_MESSAGE,
                    conversation_id=conversation_id,
                    conversation_public_id=conversation.public_id,
                    title=name,
                    body=_body(message),
                    sound=sound,
                    key=f"m{message.pk}",
                )
            elif on_new and _is_new(conversation, first[conversation_id]):
                alert = Alert(
                    kind=NEW_CONVERSATION,
                    conversation_id=conversation_id,
                    conversation_public_id=conversation.public_id,
                    title=f"New conversation · {name}",
                    body=_body(message),
                    sound=sound,
                    key=f"c{conversation_id}",
                )
            else:
                continue
            alerts.setdefault(user_id, []).append(alert)
    return alerts


def _is_new(conversation: Conversation, first_message: ChatMessage) -> bool:
    return abs(first_message.created_at - conversation.created_at) <= FIRST_MESSAGE_WITHIN


def alerts_publish(*, business_id: int, message_ids: Iterable[int]) -> int:
    """Push each concerned member their alerts (one push per member); returns how many members."""
    try:
        alerts = message_alerts(business_id=business_id, message_ids=message_ids)
        for user_id, items in alerts.items():
            publish_to_user(
                business_id=business_id, user_id=user_id, html="\n".join(alert_html(alert) for alert in items)
            )
    except Exception:
        # Best effort, like every push: the messages are stored and the list shows them.
        logger.exception("Alerts for business %s failed", business_id)
        return 0
    return len(alerts)


def alerts_publish_on_commit(*, business_id: int, message_ids: Iterable[int]) -> None:
    ids = tuple(message_ids)
    if ids:
        transaction.on_commit(lambda: alerts_publish(business_id=business_id, message_ids=ids))


def mention_alert_on_commit(
    *, business_id: int, user_id: int, conversation_id: int, conversation_public_id: uuid.UUID, notification_id: int,
    text: str, sound: bool,
) -> None:
    """The member was mentioned in a note (the caller checked that they want to be told)."""
    alert = Alert(
        kind=MENTION,
        conversation_id=conversation_id,
        conversation_public_id=conversation_public_id,
        title="You were mentioned",
        body=truncate(text, BODY_CHARS),
        sound=sound,
        key=f"n{notification_id}",
    )
    transaction.on_commit(lambda: publish_to_user(business_id=business_id, user_id=user_id, html=alert_html(alert)))
