"""The contacts and conversations a set of events needs, read or created in a few queries.

Two workers may see a new customer at the same moment; the unique constraints (account,
external_id) and (account, contact) decide who creates each row and the other reads it
(``rows.insert_ignoring_conflicts``). Rows are inserted in key order, so two workers creating the
same customers at once neither deadlock nor fail. A contact seen in a new message whose profile is
still unknown gets its profile lookup queued (``inbox.services.contacts``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from collections.abc import Set as AbstractSet
from datetime import datetime
from typing import TYPE_CHECKING

from django.utils import timezone

from inbox.facebook.events import Delivery, Event, MessageEvent, Postback, Read, Referral
from inbox.ingest.rows import insert_ignoring_conflicts
from inbox.models import Contact, Conversation
from inbox.services.contacts import contact_profile_fetch_enqueue, contact_profile_needed
from inbox.text import clean_text

if TYPE_CHECKING:
    from social.models import SocialAccount

EXTERNAL_ID_LENGTH = Contact._meta.get_field("external_id").max_length


def customer_id(event: Event) -> str:
    """The customer an event is about (the recipient of an echo), as stored on the contact."""
    raw = event.customer_id if isinstance(event, MessageEvent) else event.sender_id
    return clean_text(raw, max_length=EXTERNAL_ID_LENGTH)


def conversations_for(account: SocialAccount, events: Iterable[Event]) -> dict[str, Conversation]:
    """The conversations these events need, by the customer's external id, contacts attached.

    Messages, postbacks and referrals create their customer's conversation (dated by the first
    message); receipts only look theirs up.
    """
    first_seen: dict[str, datetime] = {}
    lookup_only: set[str] = set()
    now = timezone.now()
    for event in events:
        if isinstance(event, MessageEvent | Postback | Referral):
            customer = customer_id(event)
            when = event.timestamp or now
            if customer:
                first_seen[customer] = min(first_seen.get(customer, when), when)
        elif isinstance(event, Delivery | Read) and event.sender_id:
            lookup_only.add(customer_id(event))
    return conversations_get_or_create(account=account, first_seen=first_seen, lookup_only=lookup_only)


def conversations_get_or_create(
    *, account: SocialAccount, first_seen: Mapping[str, datetime], lookup_only: AbstractSet[str] = frozenset()
) -> dict[str, Conversation]:
    """The conversations with these customers of ``account``, creating the missing ones for the ids
    of ``first_seen`` (with the time of their first message) but not for ``lookup_only``."""
    found = conversations_find(account=account, external_ids=set(first_seen) | set(lookup_only))
    missing = sorted(set(first_seen) - set(found))
    created: set[int] = set()
    if missing:
        created = _create(account=account, first_seen=first_seen, missing=missing)
        found.update(conversations_find(account=account, external_ids=set(missing)))
    for conversation in found.values():
        conversation.account = account  # the caller's row: saves a query per conversation
        if contact_profile_needed(contact=conversation.contact, created=conversation.contact_id in created):
            contact_profile_fetch_enqueue(contact_id=conversation.contact_id)
    return found


def conversations_find(*, account: SocialAccount, external_ids: AbstractSet[str]) -> dict[str, Conversation]:
    """The stored conversations with these customers, contacts attached, in one query."""
    if not external_ids:
        return {}
    return {
        conversation.contact.external_id: conversation
        for conversation in Conversation.objects.select_related("contact").filter(
            account=account, contact__external_id__in=external_ids
        )
    }


def _create(*, account: SocialAccount, first_seen: Mapping[str, datetime], missing: list[str]) -> set[int]:
    """Insert the contacts and conversations not stored yet; the ids of the contacts created here."""
    created = {
        pk
        for (pk,) in insert_ignoring_conflicts(
            Contact,
            [
                {"business_id": account.business_id, "account_id": account.pk, "platform": account.platform,
                 "external_id": external_id}
                for external_id in missing
            ],
            conflict=("account", "external_id"),
            returning=("pk",),
        )
    }
    # A contact may exist without its conversation (another worker is between the two inserts).
    contacts = Contact.objects.filter(account=account, external_id__in=missing).order_by("pk")
    insert_ignoring_conflicts(
        Conversation,
        [
            {
                "business_id": account.business_id,
                "platform": account.platform,
                "account_id": account.pk,
                "contact_id": contact.pk,
                "participant_ids": [contact.external_id],
                "participant_names": [contact.display_name],
                # Moved forward by the messages that follow; never "now" for an old redelivery.
                "last_message_at": first_seen[contact.external_id],
            }
            for contact in contacts
        ],
        conflict=("account", "contact"),
        returning=("pk",),
    )
    return created
