"""Attachments: a row at once, a copy in our storage soon after (docs/messenger-platform.md §4.3–§4.5, §11).

Meta's CDN links expire within hours or days, so each downloadable attachment is fetched by its own
retried task right after the message is committed (the rows are inserted by
``inbox.ingest.attachments``). A failed download leaves the attachment FAILED with its error and
never touches the message. Stickers, locations, fallback links and templates
have nothing worth copying: they are SKIPPED and their payload is kept for display. Storing can be
turned off per platform (``INBOX_STORE_MEDIA``), e.g. where Instagram's policy forbids it.
"""

from __future__ import annotations

import logging
import mimetypes
import posixpath
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import F, Q
from django.db.models.functions import Greatest
from django.utils import timezone
from django.utils.text import get_valid_filename

from config.tasks import enqueue_on_commit
from inbox.models import Attachment
from inbox.realtime import publish_on_commit
from inbox.text import clean_text

logger = logging.getLogger(__name__)

# The periodic retry gives up after this many tries in total, or once Meta's link has surely expired.
MAX_TOTAL_ATTEMPTS = 10
RETRY_WINDOW = timedelta(days=3)
# A pending attachment this old lost its task (broker outage) and is queued again.
STALE_PENDING_AFTER = timedelta(minutes=10)
# States a download may still change; STORED and SKIPPED are final.
_RETRYABLE = (Attachment.State.PENDING, Attachment.State.FAILED)

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
}


def attachment_label(attachment_type: str) -> str:
    return LABELS.get(attachment_type, "Attachment")


def store_media_enabled(*, platform: str) -> bool:
    return bool(getattr(settings, "INBOX_STORE_MEDIA", {}).get(platform, True))


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

    if attachment.state in (Attachment.State.STORED, Attachment.State.SKIPPED):
        return attachment
    message = attachment.message
    if not store_media_enabled(platform=message.platform):
        Attachment.objects.filter(pk=attachment.pk, state__in=_RETRYABLE).update(state=Attachment.State.SKIPPED)
        attachment.state = Attachment.State.SKIPPED
        return attachment
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
            file=name, mime_type=content_type, size=len(content), state=Attachment.State.STORED,
            stored_at=timezone.now(), error="",
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
            | Q(state=Attachment.State.PENDING, created_at__lt=now - STALE_PENDING_AFTER,
                created_at__gte=now - RETRY_WINDOW)
        )
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )
    for attachment_id in ids:
        attachment_download_enqueue(attachment_id=attachment_id)
    return len(ids)
