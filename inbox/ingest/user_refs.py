"""Chat plugin visitors known by ``user_ref``, and their merge into the PSID's conversation (docs/messenger-platform.md §4.16).

Messenger's chat plugin (and Meta's current postback example) may name the person by ``sender.user_ref``
instead of a PSID. Such a visitor is stored as a contact of their own, keyed by the reference
(``inbox.services.contacts.user_ref_key``), with their own conversation. When Meta later sends an
event carrying both the PSID and the same reference (``sender.id`` with ``sender.user_ref``, or an
opt-in's ``optin.user_ref`` next to a sender), the visitor's messages move to the PSID's
conversation, its counters and "latest" fields are recomputed from both rows, the visitor's contact
(and with it their conversation) is deleted, and the PSID's contact keeps the reference, so later
reference-only events go straight to it.

Safe to run twice and from two workers: both conversation rows are locked in id order before
anything moves, a merge already done finds no visitor and changes nothing, and the unique
constraint on ``(account, user_ref)`` keeps one contact per reference (a worker that lost a race
fails its batch, which is applied again one event at a time and then finds the merged contact).
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from datetime import datetime
from typing import TYPE_CHECKING

from django.utils import timezone

from inbox.models import ChatMessage, Contact, Conversation
from inbox.services.contacts import is_user_ref_key, user_ref_key

if TYPE_CHECKING:
    from social.models import SocialAccount


def user_refs_linked(*, account: SocialAccount, user_refs: AbstractSet[str]) -> dict[str, str]:
    """The PSID each of these references was already linked to, by reference."""
    if not user_refs:
        return {}
    return {
        user_ref: external_id
        for user_ref, external_id in Contact.objects.filter(account=account, user_ref__in=user_refs).values_list(
            "user_ref", "external_id"
        )
        if not is_user_ref_key(external_id)
    }


def user_refs_pending(*, account: SocialAccount, links: Mapping[str, str]) -> dict[str, datetime]:
    """For each PSID whose reference still has a visitor's conversation, when that conversation began."""
    if not links:
        return {}
    psid_by_key = {user_ref_key(user_ref): psid for psid, user_ref in links.items()}
    return {
        psid_by_key[external_id]: min(first, created) if first else created
        for external_id, first, created in Conversation.objects.filter(
            account=account, contact__external_id__in=psid_by_key
        ).values_list("contact__external_id", "last_message_at", "created_at")
    }


def user_ref_merge(*, account: SocialAccount, conversation: Conversation, user_ref: str) -> bool:
    """Merge the visitor known by ``user_ref`` into ``conversation`` (the PSID's) and record the
    reference on its contact; whether anything changed."""
    contact = conversation.contact
    if contact.user_ref == user_ref:
        return False
    visitor = Contact.objects.filter(account=account, external_id=user_ref_key(user_ref)).first()
    if visitor is not None:
        theirs = Conversation.objects.filter(account=account, contact=visitor).values_list("pk", flat=True).first()
        if theirs is not None:
            _conversation_merge(into=conversation.pk, source=theirs)
        # Deletes their (now empty) conversation too; the reference is free for the PSID's contact.
        Contact.objects.filter(pk=visitor.pk).delete()
    changed = Contact.objects.filter(pk=contact.pk).exclude(user_ref=user_ref).update(user_ref=user_ref)
    contact.user_ref = user_ref
    return bool(visitor is not None or changed)


def _conversation_merge(*, into: int, source: int) -> None:
    """Move ``source``'s messages into ``into`` and recompute ``into``'s counters from both rows."""
    rows = {
        row.pk: row for row in Conversation.objects.select_for_update().filter(pk__in=(into, source)).order_by("pk")
    }
    target, other = rows.get(into), rows.get(source)
    if target is None or other is None:
        return
    ChatMessage.objects.filter(conversation_id=source).update(conversation_id=into, updated_at=timezone.now())
    # A conversation without messages yet has no direction: the other row's latest message wins.
    newest = max(
        (row for row in (target, other) if row.last_message_direction),
        key=lambda row: (row.last_message_at, row.pk == into),
        default=target,
    )
    Conversation.objects.filter(pk=into).update(
        last_message_at=newest.last_message_at,
        last_message_preview=newest.last_message_preview,
        last_message_direction=newest.last_message_direction,
        unread_count=target.unread_count + other.unread_count,
        last_inbound_at=_latest(target.last_inbound_at, other.last_inbound_at),
        delivered_watermark=_latest(target.delivered_watermark, other.delivered_watermark),
        read_watermark=_latest(target.read_watermark, other.read_watermark),
        status=Conversation.Status.OPEN if Conversation.Status.OPEN in (target.status, other.status) else target.status,
        priority=target.priority if target.priority != Conversation.Priority.NONE else other.priority,
        updated_at=timezone.now(),
    )


def _latest(*values: datetime | None) -> datetime | None:
    present = [value for value in values if value is not None]
    return max(present) if present else None
