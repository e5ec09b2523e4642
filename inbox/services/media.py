"""Attachments: a row at once, then a copy in our storage or Meta's link only (docs/messenger-platform.md §4.3–§4.5, §11).

What is stored depends on the platform (README, "What is stored for each platform, and why"):

- Messenger: Meta's CDN links expire within hours or days, so each downloadable attachment is
  copied by its own retried task right after the message is committed (the rows are inserted by
  ``inbox.ingest.attachments``).
- Instagram: Meta's Instagram messaging rules say media must not be stored or cached (story
  mentions above all), so by default the row keeps Meta's link only (``LINK``): the staff's browser
  shows it from Meta's CDN while it lives, and the page says it expired after
  (``link_expires_at``). A business may opt in to storing Instagram media other than stories
  (``Business.instagram_media_store``); story media is never stored.
- The operator's ``INBOX_STORE_MEDIA`` comes first: a platform switched off there is never stored,
  whatever a business chose.

A failed download leaves the attachment FAILED with its error and never touches the message.
Stickers, hearts, locations, fallback links and templates have nothing worth copying: they are
SKIPPED and their payload is kept for display. Nothing here runs in the webhook's request: the
download is a task queued after the drain's transaction commits, and expiry is read from the link
itself, never by fetching it.
"""

from __future__ import annotations

import logging
import mimetypes
import posixpath
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import F, Q
from django.db.models.functions import Greatest
from django.utils import timezone
from django.utils.text import get_valid_filename

from config.tasks import enqueue_on_commit
from inbox.facebook.events import INSTAGRAM
from inbox.models import Attachment
from inbox.realtime import publish_on_commit
from inbox.text import clean_text

logger = logging.getLogger(__name__)

# The periodic retry gives up after this many tries in total, or once Meta's link has surely expired.
MAX_TOTAL_ATTEMPTS = 10
RETRY_WINDOW = timedelta(days=3)
# A pending attachment this old lost its task (broker outage) and is queued again.
STALE_PENDING_AFTER = timedelta(minutes=10)
# States a download may still change; STORED, SKIPPED and LINK are final.
_RETRYABLE = (Attachment.State.PENDING, Attachment.State.FAILED)
_FINAL = (Attachment.State.STORED, Attachment.State.SKIPPED, Attachment.State.LINK)

# Nothing to copy: the payload (sticker id, coordinates, link, template) is the content.
NOT_DOWNLOADED_TYPES = frozenset({"sticker", "like_heart", "location", "fallback", "template"})
# Stories (a mention of the business, a story shared in the thread) must never be stored or cached
# (Meta's Instagram story mention rules), whatever the business chose.
NEVER_STORED_TYPES = frozenset({"story_mention", "ig_story"})
# A story disappears 24 hours after it was posted; its link cannot outlive it.
STORY_LIFETIME = timedelta(hours=24)
# Messenger's like button: a sticker in three sizes (small, medium, large), shown as the emoji.
THUMBS_UP_STICKER_IDS = frozenset({"369239263222822", "369239343222814", "369239383222810"})

LABELS = {
    "image": "Photo",
    "video": "Video",
    "audio": "Voice message",
    "file": "File",
    "sticker": "Sticker",
    "location": "Location",
    "fallback": "Link",
    "share": "Shared post",
    "story_mention": "Mentioned you in their story",
    "reel": "Reel",
    "ig_reel": "Reel",
    "post": "Post",
    "ig_post": "Post",
    "template": "Template",
    "like_heart": "\u2764\ufe0f",
}


def attachment_label(attachment_type: str) -> str:
    return LABELS.get(attachment_type, "Attachment")


def store_media_enabled(*, platform: str) -> bool:
    """The operator's switch (``INBOX_STORE_MEDIA``): False means never stored on this platform."""
    return bool(getattr(settings, "INBOX_STORE_MEDIA", {}).get(platform, True))


def instagram_media_opted_in(*, business_id: int) -> bool:
    """Whether this business chose to store Instagram media (off unless it did)."""
    from accounts.models import Business

    return bool(Business.objects.filter(pk=business_id).values_list("instagram_media_store", flat=True).first())


def media_stored(*, platform: str, attachment_type: str, instagram_opted_in: bool) -> bool:
    """Whether an attachment with a link is copied into our storage, or keeps the link only.

    The operator's switch can only forbid; on Instagram the business must also have opted in,
    and a story is never stored.
    """
    if not store_media_enabled(platform=platform):
        return False
    if platform == INSTAGRAM:
        return instagram_opted_in and attachment_type not in NEVER_STORED_TYPES
    return True


def link_expiry(url: str, *, attachment_type: str = "", sent_at: datetime | None = None) -> datetime | None:
    """When Meta's link stops working, if that can be told without fetching it; None when unknown.

    Meta's CDN signs its links with ``oe=``, the expiry as hexadecimal Unix seconds
    (``…_n.jpg?…&oh=…&oe=6760A1B2``); a story lives 24 hours after it was sent. Instagram's
    ``lookaside.fbsbx.com/ig_messaging_cdn`` links carry no expiry: they are shown until then.
    """
    candidates: list[datetime] = []
    try:
        values = parse_qs(urlsplit(url or "").query).get("oe") or []
    except ValueError:
        values = []
    for value in values[:1]:
        try:
            seconds = int(value, 16)
            candidates.append(datetime.fromtimestamp(seconds, tz=UTC))
        except (ValueError, OverflowError, OSError):
            pass
    if attachment_type in NEVER_STORED_TYPES and sent_at is not None:
        candidates.append(sent_at + STORY_LIFETIME)
    return min(candidates) if candidates else None


def link_expired(attachment: Attachment, *, now: datetime | None = None) -> bool:
    """True once the link an attachment is shown from has surely stopped working."""
    expires = attachment.link_expires_at or link_expiry(attachment.url, attachment_type=attachment.type)
    return expires is not None and (now or timezone.now()) >= expires


def _keep_link(attachment: Attachment) -> Attachment:
    """Policy says link only: the row becomes LINK (if a download may still change it)."""
    expires = attachment.link_expires_at or link_expiry(
        attachment.url, attachment_type=attachment.type, sent_at=attachment.message.timestamp
    )
    Attachment.objects.filter(pk=attachment.pk, state__in=_RETRYABLE).update(
        state=Attachment.State.LINK, link_expires_at=expires
    )
    attachment.refresh_from_db()
    return attachment


def attachment_download_enqueue(*, attachment_id: int) -> None:
    # A broker failure is logged: attachments_retry_failed picks stale pending rows up once it is back.
    enqueue_on_commit("inbox.tasks.attachment_download", attachment_id)


def _file_name(*, attachment: Attachment, content_type: str) -> str:
    base = posixpath.basename(urlsplit(attachment.url).path) or ""
    base = get_valid_filename(base)[:100] if base else ""
    stem, extension = posixpath.splitext(base)
    if not extension:
        extension = mimetypes.guess_extension(content_type.split(";")[0].strip()) or ""
    stem = stem or f"{attachment.type}-{attachment.pk}"
    return f"{stem}{extension}"


def attachment_download(*, attachment: Attachment) -> Attachment:
    """Copy one attachment into storage.

    Raises the client's ``GraphAPIError`` family on failure (the task decides whether to retry),
    except a URL our fetch policy refuses (social/safe_fetch.py): that is recorded on the attachment
    at once, for good. Idempotent: a stored or skipped attachment is left alone, and of two
    concurrent downloads only one is recorded (the other's file is removed).
    """
    from social.graph import DownloadRefused
    from social.services import account_graph_client

    if attachment.state in _FINAL:
        return attachment
    message = attachment.message
    # Asked again here: the business's choice may have changed since the row was queued (a
    # retry, a replay), and a story must never be fetched whatever the row says.
    opted_in = message.platform == INSTAGRAM and instagram_media_opted_in(business_id=attachment.business_id)
    if not media_stored(platform=message.platform, attachment_type=attachment.type, instagram_opted_in=opted_in):
        return _keep_link(attachment)
    Attachment.objects.filter(pk=attachment.pk).update(attempts=F("attempts") + 1)
    client = account_graph_client(message.account)
    try:
        content, content_type = client.download(attachment.url, max_bytes=settings.INBOX_MEDIA_MAX_BYTES)
    except DownloadRefused as exc:
        attachment_mark_failed(attachment_id=attachment.pk, error=f"Refused: {exc.message}", final=True)
        attachment.refresh_from_db()
        return attachment
    content_type = clean_text(content_type or "application/octet-stream", max_length=127)
    wanted = attachment.file.field.generate_filename(
        attachment, _file_name(attachment=attachment, content_type=content_type)
    )
    name = attachment.file.storage.save(
        wanted,
        ContentFile(content),
    )
    with transaction.atomic():
        updated = Attachment.objects.filter(pk=attachment.pk, state__in=_RETRYABLE).update(
            file=name,
            mime_type=content_type,
            size=len(content),
            state=Attachment.State.STORED,
            stored_at=timezone.now(),
            error="",
        )
        if updated:
            publish_on_commit(
                business_id=attachment.business_id,
                conversation_ids=[message.conversation_id],
                message_ids=[message.pk],
            )
    if not updated:
        attachment.file.storage.delete(name)
    attachment.refresh_from_db()
    return attachment


def attachment_mark_failed(*, attachment_id: int, error: str, final: bool = False) -> None:
    """The message stays as it is; the attachment shows it could not be stored, and why.

    ``final``: trying again cannot help (the URL was refused), so the periodic retry skips it.
    """
    logger.warning("Attachment %s could not be stored: %s", attachment_id, error)
    with transaction.atomic():
        attachment = Attachment.objects.select_related("message").filter(pk=attachment_id).first()
        if attachment is None:
            return
        # Every try used up is how attachments_retry_failed knows to leave a row alone.
        tries = {"attempts": Greatest(F("attempts"), MAX_TOTAL_ATTEMPTS)} if final else {}
        updated = Attachment.objects.filter(pk=attachment_id, state__in=_RETRYABLE).update(
            state=Attachment.State.FAILED, error=clean_text(error)[:2000], **tries
        )
        if updated:
            publish_on_commit(
                business_id=attachment.business_id,
                conversation_ids=[attachment.message.conversation_id],
                message_ids=[attachment.message_id],
            )


def attachments_retry_failed(*, limit: int = 500) -> int:
    """Queue again failed downloads that may still succeed, and pending ones whose task was lost."""
    now = timezone.now()
    ids = list(
        Attachment.objects.filter(
            Q(state=Attachment.State.FAILED, attempts__lt=MAX_TOTAL_ATTEMPTS, created_at__gte=now - RETRY_WINDOW)
            | Q(
                state=Attachment.State.PENDING,
                created_at__lt=now - STALE_PENDING_AFTER,
                created_at__gte=now - RETRY_WINDOW,
            )
        )
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )
    for attachment_id in ids:
        attachment_download_enqueue(attachment_id=attachment_id)
    return len(ids)
