"""Reactions, edits and deletes applied to a stored message (docs/messenger-platform.md §4.10, §4.12, §4.13).

Each carries its event time (``ts``, ms) so a redelivered update is recognised and an older one
arriving after a newer one is ignored; the caller locks the message row (select_for_update). The
same functions apply the updates that waited for their message (``PendingMessageUpdate``).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from inbox.models import ChatMessage, Conversation, PendingMessageUpdate
from inbox.text import clean_text, truncate

if TYPE_CHECKING:
    from social.models import SocialAccount

logger = logging.getLogger(__name__)

PREVIEW_LENGTH: int = Conversation._meta.get_field("last_message_preview").max_length or 255
DELETED_PREVIEW = "Message unsent"


def message_update_apply(
    *, message: ChatMessage, kind: str, payload: dict[str, Any], account: SocialAccount
) -> bool:
    """Apply a reaction, edit or delete to ``message`` unless already applied or outdated; True if it changed."""
    if kind == PendingMessageUpdate.Kind.REACTION:
        changed = _apply_reaction(message, payload=payload, account=account)
    elif kind == PendingMessageUpdate.Kind.EDIT:
        changed = _apply_edit(message, payload=payload)
    elif kind == PendingMessageUpdate.Kind.DELETE:
        changed = _apply_delete(message)
    else:  # pragma: no cover
        logger.warning("Unknown message update kind %r", kind)
        return False
    return changed


def _newer(stamp: int | None, previous: int | None) -> bool:
    """Whether an update stamped ``stamp`` should replace one stamped ``previous`` (None = unknown)."""
    return previous is None or stamp is None or stamp >= previous


def _apply_reaction(message: ChatMessage, *, payload: dict[str, Any], account: SocialAccount) -> bool:
    # The page can react to the customer's messages too; that is not "the customer's reaction".
    by_page = payload.get("sender_id") == account.account_id
    key = "page_reaction" if by_page else "reaction"
    previous = (message.extra.get(key) or {}).get("ts")
    if not _newer(payload.get("ts"), previous):
        return False  # an older reaction arriving late
    value = "" if payload.get("action") == "unreact" else (payload.get("emoji") or payload.get("reaction") or "")
    value = clean_text(value, max_length=32)
    extra = {**message.extra, key: {k: payload.get(k) for k in ("action", "reaction", "emoji", "ts")}}
    if extra == message.extra and (by_page or message.reaction == value):
        return False
    message.extra = extra
    fields = ["extra", "updated_at"]
    if not by_page:
        message.reaction = value
        fields.append("reaction")
    message.save(update_fields=fields)
    return True


def _apply_edit(message: ChatMessage, *, payload: dict[str, Any]) -> bool:
    edits = list(message.extra.get("edits") or [])
    stamp, num_edit = payload.get("ts"), payload.get("num_edit") or 0
    if any(e.get("ts") == stamp and e.get("num_edit") == num_edit for e in edits):
        return False  # this very edit was applied already
    if num_edit and message.edit_count >= num_edit:
        return False  # a later edit already replaced the text
    text = clean_text(payload.get("text"))
    edits.append({"text": message.content, "num_edit": num_edit, "ts": stamp,
                  "edited_at": timezone.now().isoformat()})
    message.content = text
    message.extra = {**message.extra, "edits": edits}
    message.edit_count = min(max(message.edit_count + 1, num_edit), 32767)
    message.save(update_fields=["content", "extra", "edit_count", "updated_at"])
    if not message.is_deleted:
        # Only the latest message is the conversation's preview.
        Conversation.objects.filter(pk=message.conversation_id, last_message_at__lte=message.timestamp).update(
            last_message_preview=truncate(" ".join(text.split()), PREVIEW_LENGTH)
        )
    return True


def _apply_delete(message: ChatMessage) -> bool:
    if message.is_deleted:
        return False
    message.is_deleted = True
    message.save(update_fields=["is_deleted", "updated_at"])
    # The text stays in the row (audit) but must not show in the list.
    Conversation.objects.filter(pk=message.conversation_id, last_message_at__lte=message.timestamp).update(
        last_message_preview=DELETED_PREVIEW
    )
    return True


