"""Contacts and conversations: race-free creation and the sender's profile (docs/messenger-platform.md §8).

Two webhook events for a new customer can be processed at the same moment by two workers; the
unique constraints (account, external_id) and (account, contact) decide who creates the row and
the other one reads it (``_get_or_create``). The profile (name, picture) comes later from the Graph
API in its own retried task: until then staff see the PSID / IGSID, and a failure there never
touches the message.
"""

from __future__ import annotations

import logging
import mimetypes
from collections.abc import Set as AbstractSet
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from django.core.files.base import ContentFile
from django.db import IntegrityError, models, transaction
from django.db.models import Subquery
from django.utils import timezone

from config.tasks import enqueue_on_commit
from inbox.models import ChatMessage, Contact, Conversation
from inbox.realtime import publish_on_commit
from inbox.services.rows import insert_ignoring_conflicts
from inbox.text import clean_text

if TYPE_CHECKING:
    from social.models import SocialAccount

logger = logging.getLogger(__name__)

M = TypeVar("M", bound=models.Model)

# A contact whose profile is still pending this long after creation lost its task (broker outage):
# the next message asks again. A failed lookup is retried on a new message after a day.
PROFILE_PENDING_RETRY_AFTER = timedelta(minutes=10)
PROFILE_FAILED_RETRY_AFTER = timedelta(days=1)
PICTURE_MAX_BYTES = 5 * 1024 * 1024


def _get_or_create(model: type[M], *, lookup: dict[str, Any], defaults: dict[str, Any]) -> tuple[M, bool]:
    """Read, else insert in a savepoint; on a unique violation another worker won, so read its row.

    Unlike a read-then-insert, this never creates two rows and never fails the caller's transaction.
    """
    row = model._default_manager.filter(**lookup).first()
    if row is not None:
        return row, False
    try:
        with transaction.atomic():
            return model._default_manager.create(**lookup, **defaults), True
    except IntegrityError:
        row = model._default_manager.filter(**lookup).first()
        if row is None:  # the violation was not the lookup's constraint: a real error
            raise
        return row, False


def contact_get_or_create(*, account: SocialAccount, external_id: str) -> tuple[Contact, bool]:
    return _get_or_create(
        Contact,
        lookup={"account": account, "external_id": clean_text(external_id, max_length=64)},
        defaults={"business_id": account.business_id, "platform": account.platform},
    )


def conversation_get_or_create(
    *, account: SocialAccount, contact: Contact, timestamp: datetime
) -> tuple[Conversation, bool]:
    return _get_or_create(
        Conversation,
        lookup={"account": account, "contact": contact},
        defaults={
            "business_id": account.business_id,
            "platform": account.platform,
            "participant_ids": [contact.external_id],
            "participant_names": [contact.display_name],
            # Moved forward by the message that created it; never "now" for an old redelivery.
            "last_message_at": timestamp,
        },
    )


def conversations_get_or_create(
    *, account: SocialAccount, first_seen: dict[str, datetime], lookup_only: AbstractSet[str] = frozenset()
) -> tuple[dict[str, Conversation], set[int]]:
    """The conversations with many customers of ``account`` in a few queries, creating the missing
    ones (for the ids of ``first_seen``, with the time of their first message) but not for
    ``lookup_only``. Returns them by external id, contacts attached, and the ids of the contacts
    created here.

    Rows are inserted in key order and without failing on a conflict, so two workers creating the
    same customers at once neither deadlock nor fail: the loser reads the winner's rows.
    """
    wanted = set(first_seen) | set(lookup_only)
    found = {
        c.contact.external_id: c
        for c in Conversation.objects.select_related("contact").filter(
            account=account, contact__external_id__in=wanted
        )
    }
    missing = sorted(set(first_seen) - set(found))
    if not missing:
        return found, set()
    created_ids = {
        pk
        for (pk,) in insert_ignoring_conflicts(
            [
                Contact(business_id=account.business_id, account=account, platform=account.platform, external_id=i)
                for i in missing
            ],
            returning=("pk",),
        )
    }
    contacts = sorted(
        Contact.objects.filter(account=account, external_id__in=missing), key=lambda contact: contact.pk
    )
    insert_ignoring_conflicts(
        [
            Conversation(
                business_id=account.business_id,
                platform=account.platform,
                account=account,
                contact=contact,
                participant_ids=[contact.external_id],
                participant_names=[contact.display_name],
                last_message_at=first_seen[contact.external_id],
            )
            for contact in contacts
        ],
        returning=("pk",),
    )
    for conversation in Conversation.objects.select_related("contact").filter(account=account, contact__in=contacts):
        found[conversation.contact.external_id] = conversation
    return found, created_ids


def conversation_find(*, account: SocialAccount, external_id: str) -> Conversation | None:
    """The conversation with a customer, contact included, in one query; None if there is none yet.

    The contact is found by a subquery on its unique (account, external_id) index, so the plan is
    two index lookups whatever the table statistics say (a plain join may scan every conversation
    of the account while statistics are stale).
    """
    contact_id = Contact.objects.filter(account=account, external_id=external_id).values("pk")[:1]
    return (
        Conversation.objects.select_related("contact")
        .filter(account=account, contact_id=Subquery(contact_id))
        .first()
    )


def contact_profile_needed(*, contact: Contact, created: bool) -> bool:
    """Whether to (re)queue the profile lookup for a contact seen in a new message."""
    if created:
        return True
    now = timezone.now()
    if contact.profile_state == Contact.ProfileState.PENDING:
        return contact.created_at is not None and now - contact.created_at > PROFILE_PENDING_RETRY_AFTER
    if contact.profile_state == Contact.ProfileState.FAILED:
        return contact.profile_fetched_at is None or now - contact.profile_fetched_at > PROFILE_FAILED_RETRY_AFTER
    return False


def contact_profile_fetch_enqueue(*, contact_id: int) -> None:
    """Queue the profile lookup after commit; a broker failure only delays the name."""
    enqueue_on_commit("inbox.tasks.contact_profile_fetch", contact_id)


def _profile_fields(*, data: dict[str, Any]) -> dict[str, str]:
    """Name, username and picture URL from a Graph ``/{psid}`` answer, for either platform."""
    first = clean_text(data.get("first_name")).strip()
    last = clean_text(data.get("last_name")).strip()
    name = " ".join(part for part in (first, last) if part) or clean_text(data.get("name")).strip()
    username = clean_text(data.get("username")).strip()
    picture = clean_text(data.get("profile_pic")).strip()
    too_long = len(picture) > (Contact._meta.get_field("picture_url").max_length or 1000)
    if too_long or not picture.startswith(("https://", "http://")):
        picture = ""
    return {"name": clean_text(name, max_length=255), "username": clean_text(username, max_length=255),
            "picture_url": picture}


def contact_profile_store(*, contact: Contact, data: dict[str, Any]) -> Contact:
    """Save a fetched profile and show the name wherever the id was shown."""
    fields = _profile_fields(data=data)
    now = timezone.now()
    with transaction.atomic():
        Contact.objects.filter(pk=contact.pk).update(
            **fields, profile_state=Contact.ProfileState.FETCHED, profile_fetched_at=now
        )
        contact.refresh_from_db()
        name = contact.display_name
        conversation_ids = list(Conversation.objects.filter(contact=contact).values_list("pk", flat=True))
        Conversation.objects.filter(pk__in=conversation_ids).update(
            participant_ids=[contact.external_id], participant_names=[name], updated_at=now
        )
        ChatMessage.objects.filter(
            conversation_id__in=conversation_ids, direction=ChatMessage.Direction.INBOUND
        ).exclude(sender_name=name).update(sender_name=name)
        publish_on_commit(business_id=contact.business_id, conversation_ids=conversation_ids)
    return contact


def contact_profile_mark_failed(*, contact: Contact, error: str) -> None:
    logger.warning("Profile lookup of contact %s failed: %s", contact.pk, error)
    Contact.objects.filter(pk=contact.pk).exclude(profile_state=Contact.ProfileState.FETCHED).update(
        profile_state=Contact.ProfileState.FAILED, profile_fetched_at=timezone.now()
    )


def contact_profile_fetch(*, contact: Contact) -> Contact:
    """Ask the Graph API for the sender's profile and store it.

    Raises the client's errors (``TransientGraphError`` is retried by the task; anything else is a
    permanent failure the task records with ``contact_profile_mark_failed``).
    """
    from social.graph import GraphClient

    client = GraphClient.for_account(contact.account)
    data = client.user_profile(user_id=contact.external_id, platform=contact.platform)
    contact = contact_profile_store(contact=contact, data=data if isinstance(data, dict) else {})
    if contact.picture_url:
        _contact_picture_store(contact=contact, client=client)
    return contact


def _contact_picture_store(*, contact: Contact, client: Any) -> None:
    """Keep a copy of the profile picture (Meta's URL expires within days, §11); best effort."""
    from social.graph import DownloadRefused, GraphAPIError

    try:
        content, content_type = client.download(contact.picture_url, max_bytes=PICTURE_MAX_BYTES)
    except GraphAPIError as exc:
        # A refused URL (not Meta's media, or our own network: social/safe_fetch.py) is worth a warning.
        level = logging.WARNING if isinstance(exc, DownloadRefused) else logging.INFO
        logger.log(level, "Profile picture of contact %s not stored: %s", contact.pk, exc)
        return
    extension = mimetypes.guess_extension((content_type or "").split(";")[0].strip()) or ".jpg"
    old = contact.picture.name if contact.picture else ""
    contact.picture.save(f"contact-{contact.pk}{extension}", ContentFile(content), save=False)
    Contact.objects.filter(pk=contact.pk).update(picture=contact.picture.name)
    if old and old != contact.picture.name:
        contact.picture.storage.delete(old)
