"""Contacts: the sender's profile (docs/messenger-platform.md §8).

Contacts and conversations are created by the ingest (``inbox.ingest.conversations``). The profile
(name, picture) comes later from the Graph API in its own retried task: until then staff see the
PSID / IGSID, and a failure there never touches the message.
"""

from __future__ import annotations

import hashlib
import logging
import mimetypes
from collections.abc import Collection
from datetime import timedelta
from typing import Any

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from config.tasks import enqueue_on_commit
from inbox.models import ChatMessage, Contact, Conversation, conversation_participants
from inbox.realtime import publish_on_commit
from inbox.text import clean_text

logger = logging.getLogger(__name__)

# A contact whose profile is still pending this long after creation lost its task (broker outage):
# the next message asks again. A failed lookup is retried on a new message after a day.
PROFILE_PENDING_RETRY_AFTER = timedelta(minutes=10)
PROFILE_FAILED_RETRY_AFTER = timedelta(days=1)
PICTURE_MAX_BYTES = 5 * 1024 * 1024

# A chat plugin visitor Meta names by ``user_ref`` only is stored under this key until an event links
# the reference to a PSID (``inbox.ingest.user_refs``); the key never looks like a PSID.
USER_REF_PREFIX = Contact.USER_REF_PREFIX
EXTERNAL_ID_LENGTH = Contact._meta.get_field("external_id").max_length or 64


def user_ref_key(user_ref: str) -> str:
    """The contact key of a visitor known by ``user_ref`` only (a digest when the reference is long)."""
    key = USER_REF_PREFIX + user_ref
    if len(key) <= EXTERNAL_ID_LENGTH:
        return key
    return USER_REF_PREFIX + hashlib.sha256(user_ref.encode()).hexdigest()[: EXTERNAL_ID_LENGTH - len(USER_REF_PREFIX)]


def is_user_ref_key(external_id: str) -> bool:
    return external_id.startswith(USER_REF_PREFIX)


def contact_profile_needed(*, contact: Contact, created: bool) -> bool:
    """Whether to (re)queue the profile lookup for a contact seen in a new message."""
    if is_user_ref_key(contact.external_id):
        return False  # Meta has no profile for a reference, only for a PSID
    if created:
        return True
    now = timezone.now()
    if contact.profile_state == Contact.ProfileState.PENDING:
        return contact.created_at is not None and now - contact.created_at > PROFILE_PENDING_RETRY_AFTER
    if contact.profile_state == Contact.ProfileState.FAILED:
        return contact.profile_fetched_at is None or now - contact.profile_fetched_at > PROFILE_FAILED_RETRY_AFTER
    return False


def contact_profiles_fetch_enqueue(*, contact_ids: Collection[int]) -> None:
    """Queue the profile lookups of these contacts after commit, in one task; a broker failure only
    delays the names.

    One task for a batch's new customers, not one each: publishing a task costs the drain about as
    much as storing a message, and a burst of first messages is mostly new customers.
    """
    if contact_ids:
        enqueue_on_commit("inbox.tasks.contact_profiles_fetch", sorted(contact_ids))


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
        participant_ids, participant_names = conversation_participants(contact=contact, account=contact.account)
        conversation_ids = list(Conversation.objects.filter(contact=contact).values_list("pk", flat=True))
        Conversation.objects.filter(pk__in=conversation_ids).update(
            participant_ids=participant_ids, participant_names=participant_names, updated_at=now
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
    from social.services import account_graph_client

    client = account_graph_client(contact.account)
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
