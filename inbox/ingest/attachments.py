"""The attachment rows of newly stored messages, and their downloads queued (docs/messenger-platform.md §4.3–§4.5).

Each attachment with a link is either copied by its own task right after the message is committed
(``inbox.services.media``), or keeps Meta's link only (``LINK``, with when it expires where the link
says): Instagram media unless the business opted in, story media always, any platform the operator
switched off (``INBOX_STORE_MEDIA``). Stickers, hearts, locations, fallback links and templates have
nothing worth copying: they are SKIPPED and their payload is kept for display. Nothing is fetched
here: this runs inside the drain's transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from inbox.facebook import events
from inbox.models import Attachment, ChatMessage
from inbox.services.media import (
    NEVER_STORED_TYPES,
    NOT_DOWNLOADED_TYPES,
    attachment_download_enqueue,
    instagram_media_opted_in,
    link_expiry,
    media_stored,
)
from inbox.text import clean_json, clean_text

if TYPE_CHECKING:
    from datetime import datetime

State = Attachment.State


def attachments_create(
    *, business_id: int, platform: str, by_message: Mapping[int, tuple[events.Attachment, ...]]
) -> list[Attachment]:
    """Insert one row per attachment of these new messages (by message id) in one query, and queue
    the downloads after commit."""
    opted_in = platform == events.INSTAGRAM and instagram_media_opted_in(business_id=business_id)
    sent_at = _story_times(by_message)
    rows = []
    for message_id, attachments in by_message.items():
        for position, item in enumerate(attachments):
            payload = clean_json(item.payload)
            if item.title:
                payload.setdefault("title", clean_text(item.title))
            if item.sticker_id:
                # Meta may name the sticker beside the attachment only (message.sticker_id).
                payload.setdefault("sticker_id", clean_text(item.sticker_id))
            url = clean_text(item.url)
            kind = clean_text(item.type, max_length=32)
            state, expires = State.SKIPPED, None
            if url and item.type not in NOT_DOWNLOADED_TYPES:
                if media_stored(platform=platform, attachment_type=item.type, instagram_opted_in=opted_in):
                    state = State.PENDING
                else:
                    state = State.LINK
                    expires = link_expiry(url, attachment_type=item.type, sent_at=sent_at.get(message_id))
            rows.append(
                Attachment(
                    business_id=business_id,
                    message_id=message_id,
                    position=position,
                    type=kind,
                    url=url,
                    name=clean_text(item.title or "", max_length=255),
                    payload=payload,
                    state=state,
                    link_expires_at=expires,
                )
            )
    if not rows:
        return []
    created = Attachment.objects.bulk_create(rows)
    pending = [row.pk for row in created if row.state == State.PENDING]
    if any(pk is None for pk in pending):  # a backend that cannot return ids from a bulk insert
        pending = list(
            Attachment.objects.filter(message_id__in=list(by_message), state=State.PENDING)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
    for attachment_id in pending:
        # Queued after the drain's commit, on a worker (the in-process runner's lane on the embedded
        # default): never fetched inside the webhook's request or this transaction.
        attachment_download_enqueue(attachment_id=attachment_id)
    return created


def _story_times(by_message: Mapping[int, tuple[events.Attachment, ...]]) -> dict[int, datetime]:
    """When each message carrying a story was sent (a story's link lives 24 hours from then)."""
    ids = [pk for pk, items in by_message.items() if any(a.type in NEVER_STORED_TYPES for a in items)]
    if not ids:
        return {}
    return dict(ChatMessage.objects.filter(pk__in=ids).values_list("pk", "timestamp"))
