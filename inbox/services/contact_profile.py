"""What staff keep about a customer (the contact panel): notes and short details, and one person across
identities (their Messenger and Instagram contacts joined, or taken apart again).

Every change is audited and, after commit, the panels of every open screen showing a conversation of
the customer are rendered again and pushed to the business (`inbox.realtime.publish_html_on_commit`).
A person never spans businesses: both contacts of a merge are loaded through `for_business()`, and a
contact of another business is refused.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import transaction
from django.template.loader import render_to_string

from accounts.services import audit_record
from inbox import selectors
from inbox.models import Contact, Conversation, Person
from inbox.realtime import publish_html_on_commit
from inbox.text import clean_text

if TYPE_CHECKING:
    from collections.abc import Iterable

    from accounts.models import Business, User

NOTES_MAX_CHARS = 5000
ATTRIBUTES_MAX = 30
ATTRIBUTE_KEY_MAX = 40
ATTRIBUTE_VALUE_MAX = 200
# A push renders at most this many panels (a person's conversations); the rest catch up when opened.
MAX_PANELS_PER_PUSH = 20
PANEL_LIVE_TEMPLATE = "inbox/_contact_panel.html#live"


class ContactProfileError(Exception):
    """A change that cannot be made as asked; the message is shown to staff as it is."""


# --- notes and details ----------------------------------------------------------------------------------


def _refuse_nul(value: str, what: str) -> None:
    if "\x00" in value:
        raise ContactProfileError(f"{what} cannot contain a NUL character.")


def notes_clean(notes: str) -> str:
    notes = (notes or "").replace("\r\n", "\n").strip()
    _refuse_nul(notes, "Notes")
    if len(notes) > NOTES_MAX_CHARS:
        raise ContactProfileError(f"Keep the notes to {NOTES_MAX_CHARS:,} characters.")
    return clean_text(notes)


def attributes_clean(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Rows of (name, value) as typed into a dict; empty rows are skipped, anything else wrong is refused."""
    cleaned: dict[str, str] = {}
    seen: set[str] = set()
    for raw_key, raw_value in pairs:
        key, value = " ".join((raw_key or "").split()), (raw_value or "").strip()
        if not key and not value:
            continue
        _refuse_nul(key, "A detail's name")
        _refuse_nul(value, "A detail's value")
        if not key:
            raise ContactProfileError("Give each detail a name.")
        if len(key) > ATTRIBUTE_KEY_MAX:
            raise ContactProfileError(f"Keep a detail's name to {ATTRIBUTE_KEY_MAX} characters.")
        if len(value) > ATTRIBUTE_VALUE_MAX:
            raise ContactProfileError(f"Keep a detail's value to {ATTRIBUTE_VALUE_MAX} characters.")
        if key.casefold() in seen:
            raise ContactProfileError(f"“{key}” is there twice.")
        seen.add(key.casefold())
        cleaned[clean_text(key)] = clean_text(value)
    if len(cleaned) > ATTRIBUTES_MAX:
        raise ContactProfileError(f"Keep to {ATTRIBUTES_MAX} details.")
    return cleaned


@transaction.atomic
def contact_profile_update(
    *, business: Business, user: User, contact: Contact, notes: str, attributes: Iterable[tuple[str, str]] | dict
) -> Contact:
    """Save the contact's notes and details (all of them, as the panel's form shows them)."""
    _check_business(business, contact)
    notes = notes_clean(notes)
    cleaned = attributes_clean(attributes.items() if isinstance(attributes, dict) else attributes)
    # Locked: two members saving at once are applied one after the other, never half of each.
    contact = Contact.objects.for_business(business).select_for_update().get(pk=contact.pk)
    notes_changed = contact.notes != notes
    changed_keys = sorted({key for key, _ in set(contact.attributes.items()) ^ set(cleaned.items())})
    if not notes_changed and not changed_keys:
        return contact
    contact.notes, contact.attributes = notes, cleaned
    contact.save(update_fields=["notes", "attributes"])
    # What changed, not the words: notes are the business's own record of a person.
    audit_record(
        action="contact.profile_updated",
        business=business,
        actor=user,
        target=contact,
        metadata={"notes": notes_changed, "attributes": changed_keys},
    )
    _publish_panels(business=business, contact_ids=[contact.pk])
    return contact


# --- one person across identities --------------------------------------------------------------------------


def _check_business(business: Business, *contacts: Contact) -> None:
    if any(contact.business_id != business.pk for contact in contacts):
        raise ContactProfileError("That contact is not one of this business's customers.")


def _person_contact_ids(business: Business, person_ids: Iterable[int | None]) -> list[int]:
    wanted = {pk for pk in person_ids if pk is not None}
    if not wanted:
        return []
    return list(Contact.objects.for_business(business).filter(person_id__in=wanted).values_list("pk", flat=True))


@transaction.atomic
def contacts_merge(*, business: Business, user: User, contact: Contact, other: Contact) -> Person:
    """Join ``other`` (and anyone already joined to it) to ``contact``'s person, made on the first merge."""
    _check_business(business, contact, other)
    if contact.pk == other.pk:
        raise ContactProfileError("Pick another contact: this is the same one.")
    locked = {
        c.pk: c
        for c in Contact.objects.for_business(business).select_for_update().filter(pk__in=[contact.pk, other.pk])
    }
    contact, other = locked[contact.pk], locked[other.pk]
    if contact.person_id is not None and contact.person_id == other.person_id:
        raise ContactProfileError("These two are already the same person.")
    before = _person_contact_ids(business, [contact.person_id, other.person_id])
    keep_id = contact.person_id or other.person_id
    person = (
        Person.objects.for_business(business).get(pk=keep_id)
        if keep_id is not None
        else Person.objects.create(business=business)
    )
    # Everyone of the other person comes along; that person is left empty and goes.
    dropped_id = other.person_id if other.person_id not in (None, keep_id) else None
    joining = sorted({contact.pk, other.pk, *_person_contact_ids(business, [dropped_id])})
    Contact.objects.for_business(business).filter(pk__in=joining).update(person=person)
    if dropped_id is not None:
        Person.objects.for_business(business).filter(pk=dropped_id).delete()
    audit_record(
        action="contact.merged",
        business=business,
        actor=user,
        target=contact,
        metadata={"person": person.pk, "contacts": joining},
    )
    _publish_panels(business=business, contact_ids={contact.pk, other.pk, *before, *joining})
    return person


@transaction.atomic
def contact_split(*, business: Business, user: User, contact: Contact) -> None:
    """Take ``contact`` out of its person; a person left with one identity is no person any more."""
    _check_business(business, contact)
    contact = Contact.objects.for_business(business).select_for_update().get(pk=contact.pk)
    person_id = contact.person_id
    if person_id is None:
        raise ContactProfileError("This contact is not joined to anyone.")
    members = _person_contact_ids(business, [person_id])
    contact.person = None
    contact.save(update_fields=["person"])
    if len(members) <= 2:
        Contact.objects.for_business(business).filter(person_id=person_id).update(person=None)
        Person.objects.for_business(business).filter(pk=person_id).delete()
    audit_record(
        action="contact.split",
        business=business,
        actor=user,
        target=contact,
        metadata={"person": person_id},
    )
    _publish_panels(business=business, contact_ids=members)


# --- the panels on open screens ----------------------------------------------------------------------------


def contact_panels_html(*, business: Business, conversation_ids: Iterable[int]) -> str:
    """The live part of these conversations' contact panels (what the push and the actions' answers carry)."""
    parts = []
    for pk in sorted(set(conversation_ids))[:MAX_PANELS_PER_PUSH]:
        conversation = selectors.conversation_queryset(business=business).filter(pk=pk).first()
        if conversation is None:
            continue  # deleted meanwhile
        panel = selectors.contact_panel(business=business, conversation=conversation)
        parts.append(render_to_string(PANEL_LIVE_TEMPLATE, {"panel": panel, "live": True}).strip())
    return "\n".join(parts)


def _publish_panels(*, business: Business, contact_ids: Iterable[int]) -> None:
    contact_ids = sorted(set(contact_ids))
    conversation_ids = list(
        Conversation.objects.for_business(business)
        .filter(contact_id__in=contact_ids)
        .order_by("-last_message_at", "-id")
        .values_list("pk", flat=True)[:MAX_PANELS_PER_PUSH]
    )
    if conversation_ids:
        publish_html_on_commit(
            business_id=business.pk,
            render=lambda: contact_panels_html(business=business, conversation_ids=conversation_ids),
        )
