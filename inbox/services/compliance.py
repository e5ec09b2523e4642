"""Customers' data deleted for good (docs/compliance.md): a message the customer unsent, and everything
stored about a person Meta asks us to forget through the data-deletion callback.

A purged message stays as a tombstone (``is_deleted``, nothing in it) so the thread keeps its order,
its counters and the replies quoting it; its text, media links, payloads (quick replies, referral,
edit history) and attachments go, and the attachments' files are deleted from storage once the
transaction commits (a file deleted before a rollback could not come back). A download running at
the same moment finds its row gone and removes its own file (``inbox.services.media``).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts.models import Business
from accounts.services import audit_record
from config.tasks import enqueue_on_commit
from inbox.models import (
    Attachment,
    ChatMessage,
    Contact,
    Conversation,
    DataDeletionRequest,
    Notification,
    PendingMessageUpdate,
    Person,
    conversation_participants,
)
from inbox.realtime import publish_on_commit

logger = logging.getLogger(__name__)

# Bounded statements: a person's thread may hold thousands of messages.
BATCH = 500
UNSENT = "unsent"
DATA_DELETION = "data_deletion"
# What staff see instead of the name of a customer whose data was deleted (a label, nothing of theirs).
DELETED_CONTACT_NAME = "Deleted customer"
# What the public status page calls each count (never what the rows held).
COUNT_LABELS = {
    "login_links": "Facebook sign-in links",
    "login_tokens": "Facebook sign-in tokens",
    "page_profiles": "Profiles stored with pages you connected",
    "contacts": "Customer profiles anonymised",
    "persons": "Customer records joining your identities",
    "conversations": "Conversations emptied",
    "messages": "Messages emptied",
    "attachments": "Attachments deleted",
    "files": "Stored files deleted",
}
# A request still RECEIVED this long after it arrived lost its task (broker outage): queued again.
STALE_AFTER = timedelta(hours=1)


# --- purging messages ------------------------------------------------------------------------------------------


def files_delete_on_commit(names: Iterable[str]) -> None:
    names = [name for name in names if name]
    if not names:
        return

    def delete() -> None:
        for name in names:
            try:
                default_storage.delete(name)
            except OSError:  # already gone, or storage down: the row no longer names it either way
                logger.warning("Could not delete stored file %s", name)

    transaction.on_commit(delete)


def attachments_delete(attachments: QuerySet[Attachment]) -> int:
    """Delete these attachment rows and, after commit, their stored files; returns how many files."""
    rows = list(attachments.values_list("pk", "file"))
    files = [name for _, name in rows if name]
    Attachment.objects.filter(pk__in=[pk for pk, _ in rows]).delete()
    files_delete_on_commit(files)
    return len(files)


def messages_purge(messages: QuerySet[ChatMessage], *, reason: str = UNSENT) -> Counter[str]:
    """Empty these messages to tombstones, in batches; returns counts (messages, attachments, files)."""
    counts: Counter[str] = Counter()
    ids = list(messages.order_by().values_list("pk", flat=True))
    for start in range(0, len(ids), BATCH):
        batch = ids[start:start + BATCH]
        attachments = Attachment.objects.filter(message_id__in=batch)
        counts["attachments"] += attachments.count()
        counts["files"] += attachments_delete(attachments)
        fields = {
            "content": "", "media_urls": [], "extra": {"purged": reason}, "reaction": "", "is_deleted": True,
            "updated_at": timezone.now(),
        }
        if reason == DATA_DELETION:
            # The customer's own id and name on their messages (staff names on replies are the business's).
            ChatMessage.objects.filter(pk__in=batch, direction=ChatMessage.Direction.INBOUND).update(
                sender_id="", sender_name=""
            )
        counts["messages"] += ChatMessage.objects.filter(pk__in=batch).update(**fields)
    return counts


def message_unsent_purge(message: ChatMessage) -> None:
    """The customer unsent ``message``: keep only its tombstone (called by ingest, row locked)."""
    messages_purge(ChatMessage.objects.filter(pk=message.pk), reason=UNSENT)
    # An edit of it still waiting (it arrived before the message) must not bring the text back.
    PendingMessageUpdate.objects.filter(account_id=message.account_id, target_mid=message.message_id).delete()
    message.refresh_from_db()


# --- forgetting a person ------------------------------------------------------------------------------------


def _user_hash(uid: str) -> str:
    # Keyed: app-scoped ids are short numbers, a plain hash of one is easily reversed.
    return hmac.new(settings.SECRET_KEY.encode("utf-8"), uid.encode("utf-8"), hashlib.sha256).hexdigest()


def data_deletion_request_receive(*, uid: str) -> DataDeletionRequest:
    """Record Meta's request to delete ``uid``'s data and queue the work; the same person asking again
    gets the same request (and code) back, and the work runs again for anything stored since."""
    user_hash = _user_hash(uid)
    for _ in range(2):  # a concurrent first request for the same person wins the INSERT; read it then
        try:
            with transaction.atomic():
                request = DataDeletionRequest.objects.select_for_update().filter(user_hash=user_hash).first()
                if request is None:
                    request = DataDeletionRequest.objects.create(
                        confirmation_code=secrets.token_urlsafe(18), user_hash=user_hash, user_id=uid
                    )
                elif request.status == DataDeletionRequest.Status.DONE or not request.user_id:
                    request.user_id, request.status, request.completed_at = uid, DataDeletionRequest.Status.RECEIVED, None
                    request.save(update_fields=["user_id", "status", "completed_at"])
                enqueue_on_commit("inbox.tasks.data_deletion_run", request.pk)
                return request
        except IntegrityError:
            continue
    raise RuntimeError("Could not record the data deletion request.")  # pragma: no cover


def data_deletion_run(*, request_id: int) -> DataDeletionRequest | None:
    """Delete everything stored about the request's person, record counts, forget the id. Idempotent."""
    from social.compliance import facebook_user_data_delete

    with transaction.atomic():
        request = DataDeletionRequest.objects.select_for_update().filter(pk=request_id).first()
        if request is None or request.status == DataDeletionRequest.Status.DONE or not request.user_id:
            return request
        request.status, request.started_at = DataDeletionRequest.Status.IN_PROGRESS, timezone.now()
        request.save(update_fields=["status", "started_at"])
        uid = request.user_id
        login = facebook_user_data_delete(uid=uid)
        per_business: dict[int, Counter[str]] = {pk: Counter(c) for pk, c in login.business_counts.items()}
        for business_id, counts in person_data_delete(uid=uid).items():
            per_business.setdefault(business_id, Counter()).update(counts)
        for business in Business.objects.filter(pk__in=[pk for pk, c in per_business.items() if +c]):
            audit_record(
                action="compliance.data_deleted", business=business, target=request,
                metadata=dict(sorted(per_business[business.pk].items())),
            )
        total = Counter(request.counts or {})
        total.update({k: v for k, v in login.counts.items() if k != "page_profiles"})
        for counts in per_business.values():
            total.update({k: v for k, v in counts.items() if k != "login_links"})
        request.counts = dict(sorted(total.items()))
        request.status, request.completed_at, request.user_id = DataDeletionRequest.Status.DONE, timezone.now(), ""
        request.save(update_fields=["counts", "status", "completed_at", "user_id"])
    return request


def data_deletion_requeue_stale(*, now: datetime | None = None) -> int:
    """Queue again the requests whose task was lost (still waiting long after they arrived)."""
    now = now or timezone.now()
    ids = list(
        DataDeletionRequest.objects.filter(received_at__lt=now - STALE_AFTER)
        .exclude(status=DataDeletionRequest.Status.DONE).exclude(user_id="").values_list("pk", flat=True)[:BATCH]
    )
    for pk in ids:
        enqueue_on_commit("inbox.tasks.data_deletion_run", pk)
    return len(ids)


def person_data_delete(*, uid: str) -> dict[int, Counter[str]]:
    """In every business: the contacts Meta links to ``uid`` (their platform id is it, or their comment
    threads' commenter id), the other identities staff joined to the same person, their conversations' messages purged to tombstones and
    the contacts anonymised. Returns counts per business."""
    results: dict[int, Counter[str]] = {}
    matched = Contact.objects.filter(external_id=uid)
    people = set(matched.exclude(person=None).values_list("person_id", flat=True))
    # A commenter's threads stand on contacts of their own (one per post), named by the thread's commenter id.
    commenter = Conversation.objects.filter(kind=Conversation.Kind.COMMENTS, commenter_id=uid).values("contact_id")
    contacts = list(Contact.objects.filter(Q(external_id=uid) | Q(person_id__in=people) | Q(pk__in=commenter)))
    for contact in contacts:
        counts = results.setdefault(contact.business_id, Counter())
        counts.update(_contact_forget(contact))
    for person in Person.objects.filter(pk__in=people):
        results.setdefault(person.business_id, Counter())["persons"] += 1
    Person.objects.filter(pk__in=people).delete()
    return results


def _contact_forget(contact: Contact) -> Counter[str]:
    counts: Counter[str] = Counter(contacts=1)
    conversations = list(Conversation.objects.filter(contact=contact).select_related("account"))
    counts["conversations"] = len(conversations)
    counts.update(messages_purge(ChatMessage.objects.filter(conversation__in=conversations), reason=DATA_DELETION))
    Notification.objects.filter(conversation__in=conversations).update(text="")
    files_delete_on_commit([contact.picture.name or ""] if contact.picture else [])
    Contact.objects.filter(pk=contact.pk).update(
        # The id Meta knows them by goes too: a new message from them starts a new contact.
        external_id=f"deleted:{contact.pk}", user_ref="", name=DELETED_CONTACT_NAME, username="", picture_url="", picture="",
        notes="", attributes={}, person=None,
        profile_state=Contact.ProfileState.FETCHED, profile_fetched_at=timezone.now(),
    )
    contact.refresh_from_db()
    for conversation in conversations:
        ids, names = conversation_participants(contact=contact, account=conversation.account)
        Conversation.objects.filter(pk=conversation.pk).update(
            participant_ids=ids, participant_names=names, last_message_preview="", updated_at=timezone.now(),
            commenter_id="",
        )
    publish_on_commit(business_id=contact.business_id, conversation_ids=[c.pk for c in conversations])
    return counts
