"""Read state and triage of conversations: read, unread, statuses (open, pending, snoozed, resolved), priority.

Every change is one UPDATE (never a read-modify-save that could overwrite what ingest wrote in the
meantime), an AuditEvent, and a live push to the business's other open pages after commit.
"""

from __future__ import annotations

import datetime as dt
import logging
import zoneinfo
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import transaction
from django.db.models import OuterRef, Q, Subquery
from django.utils import timezone

from accounts.services import audit_record, audit_record_many
from config.tasks import enqueue_on_commit
from inbox import events
from inbox.models import ChatMessage, Conversation
from inbox.realtime import publish_on_commit
from inbox.reply_window import reply_window

if TYPE_CHECKING:
    from collections.abc import Iterable

    from accounts.models import Business, User

logger = logging.getLogger(__name__)


class ConversationError(Exception):
    """A change staff asked for that does not apply."""


def _refresh(conversation: Conversation) -> Conversation:
    conversation.refresh_from_db(
        fields=["status", "snoozed_until", "priority", "unread_count", "last_message_at", "updated_at"]
    )
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


def _business_ids(business: Business, conversation_ids: Iterable[int]):
    return Conversation.objects.for_business(business).filter(pk__in={int(pk) for pk in conversation_ids})


@transaction.atomic
def conversations_mark_read(*, business: Business, user: User, conversation_ids: Iterable[int]) -> list[int]:
    """Mark these conversations of the business read by this user; returns the ids that changed.

    Rows with nothing unread (and another business's) are left alone. A fixed number of statements
    however many rows: one locked read, one UPDATE of their messages, one of the rows, one audit
    INSERT, one push. Meta is not told "seen" (as opening one does): nobody has read them yet.
    """
    ids = _locked_ids(business, conversation_ids, unread_count__gt=0)
    if not ids:
        return []
    ChatMessage.objects.for_business(business).filter(
        conversation_id__in=ids, direction=ChatMessage.Direction.INBOUND, is_read=False
    ).update(is_read=True, read_at=timezone.now(), read_by=user)
    Conversation.objects.filter(pk__in=ids).update(unread_count=0)
    audit_record_many(
        action="conversation.read",
        business=business,
        actor=user,
        target_type=Conversation._meta.label_lower,
        targets=[(pk, None) for pk in ids],
    )
    publish_on_commit(business_id=business.pk, conversation_ids=ids)
    return ids


def _locked_ids(business: Business, conversation_ids: Iterable[int], **condition: object) -> list[int]:
    """The ids of these conversations of the business that meet ``condition``, locked in id order (the
    order every writer locks conversations in)."""
    return list(
        _business_ids(business, conversation_ids)
        .filter(**condition)
        .select_for_update()
        .order_by("pk")
        .values_list("pk", flat=True)
    )


@transaction.atomic
def conversations_mark_unread(*, business: Business, user: User, conversation_ids: Iterable[int]) -> list[int]:
    """Put these conversations of the business back in everyone's unread list; returns the ids that changed.

    As `conversation_mark_unread` for each (its latest customer message is unread again), but rows
    already unread are left alone. One locked read, two UPDATEs, one audit INSERT, one push.
    """
    ids = _locked_ids(business, conversation_ids, unread_count=0)
    if not ids:
        return []
    latest = (
        ChatMessage.objects.filter(conversation_id=OuterRef("pk"), direction=ChatMessage.Direction.INBOUND)
        .order_by("-timestamp", "-id")
        .values("pk")[:1]
    )
    latest_ids = (
        Conversation.objects.filter(pk__in=ids).annotate(latest=Subquery(latest)).filter(latest__isnull=False)
    ).values("latest")
    ChatMessage.objects.for_business(business).filter(pk__in=latest_ids).update(
        is_read=False, read_at=None, read_by=None
    )
    Conversation.objects.filter(pk__in=ids, unread_count=0).update(unread_count=1)
    audit_record_many(
        action="conversation.unread",
        business=business,
        actor=user,
        target_type=Conversation._meta.label_lower,
        targets=[(pk, None) for pk in ids],
    )
    publish_on_commit(business_id=business.pk, conversation_ids=ids)
    return ids


# --- statuses: open, pending (waiting for the customer), snoozed until a time, resolved -------------

# How far ahead a conversation may be snoozed.
SNOOZE_MAX = dt.timedelta(days=365)
# The snooze menu's choices, in the staff member's time zone (`snooze_preset_until`).
SNOOZE_PRESETS = {
    "1h": "In 1 hour",
    "tonight": "Tonight, 18:00",
    "tomorrow": "Tomorrow, 09:00",
    "next_week": "Next week, Monday 09:00",
}
EVENING = dt.time(18, 0)
MORNING = dt.time(9, 0)

_STATUS_ACTIONS: dict[str, str] = {
    Conversation.Status.OPEN: "conversation.reopened",
    Conversation.Status.PENDING: "conversation.pending",
    Conversation.Status.SNOOZED: "conversation.snoozed",
    Conversation.Status.RESOLVED: "conversation.resolved",
}


def snooze_zone(name: str | None) -> dt.tzinfo:
    """The staff member's time zone by its IANA name (the browser's); the site's for anything unknown."""
    if name:
        try:
            return zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            pass
    return timezone.get_default_timezone()


def snooze_preset_until(preset: str, *, tz: dt.tzinfo, now: dt.datetime | None = None) -> dt.datetime:
    """When a snooze preset ends, as staff in ``tz`` mean it. "Tonight" once 18:00 has passed is
    tomorrow's 18:00; "next week" is the coming Monday (a week on from a Monday) at 09:00."""
    now = now or timezone.now()
    local = now.astimezone(tz)
    if preset == "1h":
        return now + dt.timedelta(hours=1)
    if preset == "tonight":
        until = _at(local.date(), EVENING, tz)
        return until if until > now else _at(local.date() + dt.timedelta(days=1), EVENING, tz)
    if preset == "tomorrow":
        return _at(local.date() + dt.timedelta(days=1), MORNING, tz)
    if preset == "next_week":
        return _at(local.date() + dt.timedelta(days=7 - local.weekday()), MORNING, tz)
    raise ConversationError("Unknown snooze choice.")


def snooze_local_until(value: dt.datetime, *, tz: dt.tzinfo) -> dt.datetime:
    """A date and time typed by staff (no zone, as a datetime-local input sends it) in their zone."""
    if timezone.is_aware(value):
        return value
    return _at(value.date(), value.time(), tz)


def _at(day: dt.date, time: dt.time, tz: dt.tzinfo) -> dt.datetime:
    # A wall time skipped by a DST change is taken as the hour after; a repeated one as the first.
    return dt.datetime.combine(day, time, tzinfo=tz).astimezone(dt.UTC).astimezone(tz)


def snooze_check(until: dt.datetime, *, now: dt.datetime | None = None) -> None:
    """A snooze ends in the future and within SNOOZE_MAX."""
    now = now or timezone.now()
    if until <= now:
        raise ConversationError("Pick a time in the future.")
    if until > now + SNOOZE_MAX:
        raise ConversationError("Snooze for a year at most.")


@transaction.atomic
def conversations_set_status(
    *,
    business: Business,
    user: User | None,
    conversation_ids: Iterable[int],
    status: str,
    snoozed_until: dt.datetime | None = None,
    only_from: Iterable[str] | None = None,
    action: str = "",
) -> list[int]:
    """Move these conversations of the business to ``status``; returns the ids that changed.

    SNOOZED needs ``snoozed_until`` (checked by `snooze_check`); any other status clears it.
    ``only_from`` limits the change to conversations in those statuses. Rows already in the state
    asked for are left alone (no audit, no push). One locked read of the rows that change, one
    UPDATE of only status fields (what ingest writes meanwhile stays), an audit event each (one INSERT),
    one push.
    """
    if status not in Conversation.Status.values:
        raise ConversationError("Unknown status.")
    if status == Conversation.Status.SNOOZED:
        if snoozed_until is None:
            raise ConversationError("Say until when.")
        snooze_check(snoozed_until)
    else:
        snoozed_until = None
    rows = Conversation.objects.for_business(business).filter(pk__in={int(pk) for pk in conversation_ids})
    if only_from is not None:
        rows = rows.filter(status__in=list(only_from))
    same = Q(status=status) & (Q(snoozed_until=snoozed_until) if snoozed_until else Q(snoozed_until__isnull=True))
    changing = list(rows.exclude(same).select_for_update().order_by("pk").values_list("pk", "status"))
    if not changing:
        return []
    ids = [pk for pk, _ in changing]
    Conversation.objects.filter(pk__in=ids).update(
        status=status, snoozed_until=snoozed_until, updated_at=timezone.now()
    )
    action = action or _STATUS_ACTIONS[status]
    until = {"until": snoozed_until.isoformat()} if snoozed_until else {}
    audit_record_many(
        action=action,
        business=business,
        actor=user,
        target_type=Conversation._meta.label_lower,
        targets=[(pk, {"from": previous, **until}) for pk, previous in changing],
    )
    publish_on_commit(business_id=business.pk, conversation_ids=ids)
    resolved = ids if status == Conversation.Status.RESOLVED else []
    events.emit(events.conversation_resolved, business_id=business.pk, ids=resolved)
    return ids


def _status_change(conversation: Conversation, user: User, status: str, **kwargs) -> Conversation:
    conversations_set_status(
        business=conversation.business, user=user, conversation_ids=[conversation.pk], status=status, **kwargs
    )
    return _refresh(conversation)


def conversation_resolve(*, conversation: Conversation, user: User) -> Conversation:
    return _status_change(conversation, user, Conversation.Status.RESOLVED)


def conversation_reopen(*, conversation: Conversation, user: User) -> Conversation:
    return _status_change(conversation, user, Conversation.Status.OPEN)


def conversation_mark_pending(*, conversation: Conversation, user: User) -> Conversation:
    return _status_change(conversation, user, Conversation.Status.PENDING)


def conversation_snooze(*, conversation: Conversation, user: User, until: dt.datetime) -> Conversation:
    return _status_change(conversation, user, Conversation.Status.SNOOZED, snoozed_until=until)


def conversation_unsnooze(*, conversation: Conversation, user: User) -> Conversation:
    """Wake a snoozed conversation now (anything else is left as it is)."""
    return _status_change(
        conversation,
        user,
        Conversation.Status.OPEN,
        only_from=[Conversation.Status.SNOOZED],
        action="conversation.unsnoozed",
    )


# Rows woken per UPDATE: bounded statements and pushes however many fell due at once.
WAKE_BATCH = 500


def conversations_wake_snoozed(*, now: dt.datetime | None = None) -> int:
    """Open every snoozed conversation whose time has come; returns how many. Periodic (every minute).

    Per batch: the due rows locked (ones another worker holds are skipped), one UPDATE, one push per
    business. Not audited per row: it is no one's action, the snooze was.
    """
    now = now or timezone.now()
    woken = 0
    while True:
        with transaction.atomic():
            due = list(
                Conversation.objects.filter(status=Conversation.Status.SNOOZED, snoozed_until__lte=now)
                .select_for_update(skip_locked=True)
                .order_by("snoozed_until", "pk")
                .values_list("pk", "business_id")[:WAKE_BATCH]
            )
            if not due:
                return woken
            Conversation.objects.filter(pk__in=[pk for pk, _ in due], status=Conversation.Status.SNOOZED).update(
                status=Conversation.Status.OPEN, snoozed_until=None, updated_at=timezone.now()
            )
            by_business: dict[int, list[int]] = {}
            for pk, business_id in due:
                by_business.setdefault(business_id, []).append(pk)
            for business_id, ids in by_business.items():
                publish_on_commit(business_id=business_id, conversation_ids=ids)
        woken += len(due)
        if len(due) < WAKE_BATCH:
            return woken


@transaction.atomic
def conversation_set_priority(*, conversation: Conversation, user: User, priority: str) -> Conversation:
    if priority not in Conversation.Priority.values:
        raise ConversationError("Unknown priority.")
    previous = Conversation.objects.filter(pk=conversation.pk).values_list("priority", flat=True).first()
    if previous != priority:
        Conversation.objects.filter(pk=conversation.pk).update(priority=priority, updated_at=timezone.now())
        _changed(
            conversation=conversation,
            user=user,
            action="conversation.priority_changed",
            **{"from": previous, "to": priority},
        )
    return _refresh(conversation)
