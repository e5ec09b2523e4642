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

from inbox import events
from inbox.facebook.events import Delivery, Event, MessageEvent, Postback, Read, Referral
from inbox.ingest.changes import Touched
from inbox.ingest.rows import insert_ignoring_conflicts
from inbox.ingest.user_refs import user_ref_merge, user_refs_linked, user_refs_pending
from inbox.models import Contact, Conversation, conversation_participants
from inbox.services.assignment import conversations_auto_assign
from inbox.services.contacts import (
    contact_profile_needed,
    contact_profiles_fetch_enqueue,
    is_user_ref_key,
    user_ref_key,
)
from inbox.text import clean_text

if TYPE_CHECKING:
    from social.models import SocialAccount

EXTERNAL_ID_LENGTH = Contact._meta.get_field("external_id").max_length
USER_REF_LENGTH = Contact._meta.get_field("user_ref").max_length


def customer_id(event: Event) -> str:
    """The customer an event is about (the recipient of an echo), as stored on the contact: the
    PSID / IGSID, or for a chat plugin visitor Meta names by ``user_ref`` only, that reference's key."""
    raw = event.customer_id if isinstance(event, MessageEvent) else event.sender_id
    if not raw and event.user_ref and _by_visitor(event):
        return user_ref_key(clean_text(event.user_ref, max_length=USER_REF_LENGTH))
    return clean_text(raw, max_length=EXTERNAL_ID_LENGTH)


def _by_visitor(event: Event) -> bool:
    """Whether a reference-only event is the visitor's own (a message, tap or receipt in the chat
    plugin); a checkbox plugin opt-in's reference names no thread until the person writes."""
    if isinstance(event, MessageEvent):
        return not event.is_echo
    return isinstance(event, Postback | Referral | Delivery | Read)


def conversations_for(
    account: SocialAccount, events: Iterable[Event], changes: Touched | None = None
) -> dict[str, Conversation]:
    """The conversations these events need, by the customer's external id, contacts attached.

    Messages, postbacks and referrals create their customer's conversation (dated by the first
    message); receipts only look theirs up. A visitor known by ``user_ref`` only gets a conversation
    of their own, until an event names their PSID next to the reference: then it is merged into the
    PSID's (``user_refs``), and later reference-only events go to the PSID's conversation too. The
    conversations a merge changed are added to ``changes``.
    """
    first_seen: dict[str, datetime] = {}
    lookup_only: set[str] = set()
    references: dict[str, str] = {}  # user_ref key -> user_ref, for visitors known by it only
    links: dict[str, str] = {}  # PSID -> the user_ref Meta sent with it
    now = timezone.now()
    for event in events:
        customer = customer_id(event)
        if not customer:
            continue
        if is_user_ref_key(customer):
            references[customer] = clean_text(event.user_ref, max_length=USER_REF_LENGTH)
        elif event.user_ref:
            links[customer] = clean_text(event.user_ref, max_length=USER_REF_LENGTH)
        if isinstance(event, MessageEvent | Postback | Referral):
            when = event.timestamp or now
            first_seen[customer] = min(first_seen.get(customer, when), when)
        elif isinstance(event, Delivery | Read):
            lookup_only.add(customer)
    # A reference already linked to a PSID, or linked by an event of this batch, is that PSID's customer.
    linked = user_refs_linked(account=account, user_refs=set(references.values()))
    linked.update({user_ref: psid for psid, user_ref in links.items()})
    aliases = {key: linked[ref] for key, ref in references.items() if ref in linked}
    for key, psid in aliases.items():
        if key in first_seen:
            first_seen[psid] = min(first_seen.get(psid, first_seen[key]), first_seen.pop(key))
        elif key in lookup_only:
            lookup_only.add(psid)
        lookup_only.discard(key)
    # A link creates the PSID's conversation when there is a visitor's conversation to merge into it.
    for psid, since in user_refs_pending(account=account, links=links).items():
        first_seen.setdefault(psid, since)
    found = conversations_get_or_create(
        account=account, first_seen=first_seen, lookup_only=lookup_only, user_refs=references
    )
    for psid, user_ref in sorted(links.items()):
        conversation = found.get(psid)
        if conversation is not None:
            merged = user_ref_merge(account=account, conversation=conversation, user_ref=user_ref)
            if merged and changes is not None:
                changes.conversation_ids.add(conversation.pk)
                changes.pane_ids.add(conversation.pk)
            aliases.setdefault(user_ref_key(user_ref), psid)
    for key, psid in aliases.items():
        if psid in found:
            found[key] = found[psid]
    return found


def conversations_get_or_create(
    *,
    account: SocialAccount,
    first_seen: Mapping[str, datetime],
    lookup_only: AbstractSet[str] = frozenset(),
    user_refs: Mapping[str, str] | None = None,
    announce: bool = True,
) -> dict[str, Conversation]:
    """The conversations with these customers of ``account``, creating the missing ones for the ids
    of ``first_seen`` (with the time of their first message) but not for ``lookup_only``.
    ``user_refs``: the reference of each visitor's key (``user_ref_key``) among them. ``announce``:
    tell other systems of the conversations created (``inbox.events``; not for a history import)."""
    found = conversations_find(account=account, external_ids=set(first_seen) | set(lookup_only))
    missing = sorted(set(first_seen) - set(found))
    created: set[int] = set()
    if missing:
        created = _create(
            account=account, first_seen=first_seen, missing=missing, user_refs=user_refs or {}, announce=announce
        )
        found.update(conversations_find(account=account, external_ids=set(missing)))
    profiles_needed = set()
    for conversation in found.values():
        conversation.account = account  # the caller's row: saves a query per conversation
        if contact_profile_needed(contact=conversation.contact, created=conversation.contact_id in created):
            profiles_needed.add(conversation.contact_id)
    contact_profiles_fetch_enqueue(contact_ids=profiles_needed)
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


def _create(
    *, account: SocialAccount, first_seen: Mapping[str, datetime], missing: list[str], user_refs: Mapping[str, str],
    announce: bool = True,
) -> set[int]:
    """Insert the contacts and conversations not stored yet; the ids of the contacts created here."""
    created = {
        pk
        for (pk,) in insert_ignoring_conflicts(
            Contact,
            [
                {"business_id": account.business_id, "account_id": account.pk, "platform": account.platform,
                 "external_id": external_id, "user_ref": user_refs.get(external_id, "")}
                for external_id in missing
            ],
            conflict=("account", "external_id"),
            returning=("pk",),
        )
    }
    # A contact may exist without its conversation (another worker is between the two inserts).
    contacts = Contact.objects.filter(account=account, external_id__in=missing).order_by("pk")
    rows = []
    for contact in contacts:
        participant_ids, participant_names = conversation_participants(contact=contact, account=account)
        rows.append(
            {
                "business_id": account.business_id,
                "platform": account.platform,
                "account_id": account.pk,
                "contact_id": contact.pk,
                "participant_ids": participant_ids,
                "participant_names": participant_names,
                # Moved forward by the messages that follow; never "now" for an old redelivery.
                "last_message_at": first_seen[contact.external_id],
            }
        )
    inserted = insert_ignoring_conflicts(Conversation, rows, conflict=("account", "contact"), returning=("pk",))
    if announce:
        events.emit(events.conversation_created, business_id=account.business_id, ids=[pk for (pk,) in inserted])
    if account.auto_assign:
        conversations_auto_assign(account=account, conversation_ids=[pk for (pk,) in inserted])
    return created
