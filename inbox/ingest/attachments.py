"""The attachment rows of newly stored messages, and their downloads queued (docs/messenger-platform.md §4.3–§4.5).

Meta's CDN links expire, so each downloadable attachment is copied by its own task right after the
message is committed (``inbox.services.media``). Stickers, locations, fallback links and templates
have nothing worth copying: they are SKIPPED and their payload is kept for display, as is every
attachment of a platform whose media is not stored (``INBOX_STORE_MEDIA``).
"""

from __future__ import annotations

from collections.abc import Mapping

from inbox.facebook import events
from inbox.models import Attachment
from inbox.services.media import attachment_download_enqueue, store_media_enabled
from inbox.text import clean_json, clean_text

# Nothing to copy: the payload (sticker id, coordinates, link, template) is the content.
NOT_DOWNLOADED_TYPES = frozenset({"sticker", "location", "fallback", "template"})


def attachments_create(
    *, business_id: int, platform: str, by_message: Mapping[int, tuple[events.Attachment, ...]]
) -> list[Attachment]:
    """Insert one row per attachment of these new messages (by message id) in one query, and queue
    the downloads after commit."""
    store = store_media_enabled(platform=platform)
    rows = []
    for message_id, attachments in by_message.items():
        for position, item in enumerate(attachments):
            payload = clean_json(item.payload)
            if item.title:
                payload.setdefault("title", clean_text(item.title))
            url = clean_text(item.url)
            downloadable = bool(url) and item.type not in NOT_DOWNLOADED_TYPES and store
            rows.append(
                Attachment(
                    business_id=business_id,
                    message_id=message_id,
                    position=position,
                    type=clean_text(item.type, max_length=32),
                    url=url,
                    name=clean_text(item.title or "", max_length=255),
                    payload=payload,
                    state=Attachment.State.PENDING if downloadable else Attachment.State.SKIPPED,
                )
            )
    if not rows:
        return []
    created = Attachment.objects.bulk_create(rows)
    pending = [row.pk for row in created if row.state == Attachment.State.PENDING]
    if any(pk is None for pk in pending):  # a backend that cannot return ids from a bulk insert
        pending = list(
            Attachment.objects.filter(message_id__in=list(by_message), state=Attachment.State.PENDING)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
    for attachment_id in pending:
        attachment_download_enqueue(attachment_id=attachment_id)
    return created
