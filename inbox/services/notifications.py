"""Notifications: a member is told that a conversation was assigned to them or that a note mentions them.

`notification_create` stores one row for the recipient (never for the person who acted) and, after
commit, pushes the recipient's bell to their open screens of that business (`inbox.realtime`'s
per-member group). Reading is per member: `notifications_mark_read` marks some or all of theirs.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

from accounts.models import Membership
from inbox.models import Notification
from inbox.realtime import publish_to_user_on_commit
from inbox.services.alerts import mention_alert_on_commit
from inbox.text import clean_text, truncate

if TYPE_CHECKING:
    from accounts.models import Business, User
    from inbox.models import Conversation


def notification_create(
    *,
    business: Business,
    recipient: User,
    kind: str,
    conversation: Conversation | None,
    actor: User | None,
    text: str,
) -> Notification | None:
    """Tell `recipient` about something `actor` did; None when there is no one else to tell.

    Nobody is notified of their own action, and only a member of the business receives its
    notifications (a stale assignee or a removed member gets nothing).
    """
    if kind not in Notification.Kind.values:
        raise ValueError(f"Unknown notification kind: {kind!r}")
    if actor is not None and actor.pk == recipient.pk:
        return None
    if conversation is not None and conversation.business_id != business.pk:
        raise ValueError("The conversation belongs to another business.")
    # The membership's alert choices come with the check that the recipient is a member (one query).
    choices = (
        Membership.objects.filter(business=business, user=recipient).values_list("notify_mentions", "notify_sound").first()
    )
    if choices is None:
        return None
    with transaction.atomic():
        notification = Notification.objects.create(
            business=business,
            recipient=recipient,
            kind=kind,
            conversation=conversation,
            actor=actor,
            text=truncate(clean_text(text).strip(), 255),
        )
        publish_to_user_on_commit(business_id=business.pk, user_id=recipient.pk)
        if kind == Notification.Kind.MENTIONED and conversation is not None and choices[0]:
            mention_alert_on_commit(
                business_id=business.pk, user_id=recipient.pk, conversation_id=conversation.pk,
                conversation_public_id=conversation.public_id, notification_id=notification.pk, text=notification.text, sound=choices[1],
            )
    return notification


def notifications_mark_read(*, business: Business, user: User, ids: Iterable[int] | None = None) -> int:
    """Mark the member's unread notifications read (those with these ids, or all); returns how many."""
    qs = Notification.objects.for_business(business).filter(recipient=user, read_at__isnull=True)
    if ids is not None:
        qs = qs.filter(pk__in=list(ids))
    with transaction.atomic():
        count = qs.update(read_at=timezone.now())
        if count:
            publish_to_user_on_commit(business_id=business.pk, user_id=user.pk)
    return count
