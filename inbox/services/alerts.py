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
from typing import NamedTuple

from django.db import transaction
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from accounts.models import Membership
from inbox.models import ChatMessage, contact_display_name
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


def _body(content: str) -> str:
    text = " ".join((content or "").split())
    return truncate(text, BODY_CHARS) if text else "Sent an attachment"


class _Message(NamedTuple):
    """What an alert says of a message and its conversation (tuples, not models: a busy batch holds
    hundreds of messages, and building model instances for them was most of this function's time)."""

    pk: int
    conversation_id: int
    content: str
    created_at: datetime
    conversation_public_id: uuid.UUID
    assignee_id: int | None
    conversation_created_at: datetime
    contact_name: str
    contact_username: str
    contact_external_id: str


def message_alerts(
    *, business_id: int, message_ids: Iterable[int], now: datetime | None = None
) -> dict[int, list[Alert]]:
    """Alerts per member (user id) for the new customer messages among ``message_ids``: at most two queries."""
    ids = sorted({int(pk) for pk in message_ids})
    if not ids:
        return {}
    now = now or timezone.now()
    messages = [
        _Message(*row)
        for row in ChatMessage.objects.filter(
            business_id=business_id,
            pk__in=ids,
            direction=ChatMessage.Direction.INBOUND,
            kind=ChatMessage.Kind.MESSAGE,
            is_deleted=False,
            edit_count=0,
            created_at__gte=now - RECENT,
        )
        .order_by("pk")
        .values_list(
            "pk", "conversation_id", "content", "created_at", "conversation__public_id", "conversation__assignee_id",
            "conversation__created_at", "conversation__contact__name", "conversation__contact__username",
            "conversation__contact__external_id",
        )
    ]
    if not messages:
        return {}
    # The newest message per conversation speaks for it; the first one says whether it is new.
    newest: dict[int, _Message] = {}
    first: dict[int, _Message] = {}
    for message in messages:
        newest[message.conversation_id] = message
        first.setdefault(message.conversation_id, message)
    names = {
        conversation_id: contact_display_name(
            name=message.contact_name, username=message.contact_username, external_id=message.contact_external_id
        )
        for conversation_id, message in newest.items()
    }
    choices = Membership.objects.filter(business_id=business_id).values_list(
        "user_id", "notify_new_conversations", "notify_assigned_messages", "notify_sound"
    )
    alerts: dict[int, list[Alert]] = {}
    for user_id, on_new, on_assigned, sound in choices:
        for conversation_id, message in newest.items():
            name = names[conversation_id]
            if on_assigned and message.assignee_id == user_id:
                alert = Alert(
                    kind=ASSIGNED_MESSAGE,
                    conversation_id=conversation_id,
                    conversation_public_id=message.conversation_public_id,
                    title=name,
                    body=_body(message.content),
                    sound=sound,
                    key=f"m{message.pk}",
                )
            elif on_new and _is_new(first[conversation_id]):
                alert = Alert(
                    kind=NEW_CONVERSATION,
                    conversation_id=conversation_id,
                    conversation_public_id=message.conversation_public_id,
                    title=f"New conversation · {name}",
                    body=_body(message.content),
                    sound=sound,
                    key=f"c{conversation_id}",
                )
            else:
                continue
            alerts.setdefault(user_id, []).append(alert)
    return alerts


def _is_new(first_message: _Message) -> bool:
    """The conversation was opened by this batch's first message of it."""
    return abs(first_message.created_at - first_message.conversation_created_at) <= FIRST_MESSAGE_WITHIN


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
