"""Reactions, edits and deletes applied to a stored message (docs/messenger-platform.md §4.10, §4.12, §4.13).

Each carries its event time (``ts``, ms) so a redelivered update is recognised and an older one
arriving after a newer one is ignored; the message row is locked (select_for_update) while it
changes. An update naming a message not stored yet (it is late, or was sent before the page was
connected) waits as a ``PendingMessageUpdate`` and is applied when the message is stored
(``updates_waiting_apply``), after the message's conversation was bumped, so an edit of the latest
message is its new preview.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from inbox.facebook.events import MessageDeleted, MessageEdit, Reaction
from inbox.ingest.changes import Touched, touched
from inbox.ingest.drafts import MID_LENGTH, PREVIEW_LENGTH, ms
from inbox.ingest.messages import StoredMessage
from inbox.models import ChatMessage, Conversation, PendingMessageUpdate
from inbox.services.compliance import message_unsent_purge
from inbox.text import clean_json, clean_text, truncate

if TYPE_CHECKING:
    from social.models import SocialAccount

logger = logging.getLogger(__name__)

DELETED_PREVIEW = "Message unsent"
Kind = PendingMessageUpdate.Kind


def update_apply(account: SocialAccount, event: Reaction | MessageEdit | MessageDeleted) -> Touched:
    """Apply the update to its message, or keep it waiting for the message."""
    kind, payload = _kind_and_payload(event)
    mid = clean_text(event.mid, max_length=MID_LENGTH)
    payload = clean_json(payload)
    message = ChatMessage.objects.select_for_update().filter(account=account, message_id=mid).first()
    if message is not None:
        if message_update_apply(message=message, kind=kind, payload=payload, account=account):
            return touched(conversation_id=message.conversation_id, message_ids=[message.pk])
        return Touched()
    waiting = PendingMessageUpdate.objects.filter(account=account, target_mid=mid, kind=kind)
    if not any(update.payload == payload for update in waiting):
        PendingMessageUpdate.objects.create(
            business_id=account.business_id,
            account=account,
            target_mid=mid,
            kind=kind,
            payload=payload,
            event_timestamp=event.timestamp,
        )
    return Touched()


def updates_waiting_apply(account: SocialAccount, stored: Sequence[StoredMessage]) -> Touched:
    """Apply the updates that waited for these newly stored messages, oldest first, and drop them."""
    changes = Touched()
    if not stored:
        return changes
    waiting = list(
        PendingMessageUpdate.objects.filter(account=account, target_mid__in={m.draft.mid for m in stored})
        .order_by("event_timestamp", "pk")
    )
    if not waiting:
        return changes
    messages = {
        message.message_id: message
        for message in ChatMessage.objects.select_for_update().filter(pk__in=[m.pk for m in stored])
    }
    for update in waiting:
        message = messages[update.target_mid]
        if message_update_apply(message=message, kind=update.kind, payload=update.payload, account=account):
            changes.update(touched(conversation_id=message.conversation_id, message_ids=[message.pk]))
    PendingMessageUpdate.objects.filter(pk__in=[update.pk for update in waiting]).delete()
    return changes


def message_update_apply(
    *, message: ChatMessage, kind: str, payload: dict[str, Any], account: SocialAccount
) -> bool:
    """Apply a reaction, edit or delete to ``message`` unless already applied or outdated; True if it changed."""
    if kind == Kind.REACTION:
        return _apply_reaction(message, payload=payload, account=account)
    if kind == Kind.EDIT:
        return _apply_edit(message, payload=payload)
    if kind == Kind.DELETE:
        return _apply_delete(message)
    logger.warning("Unknown message update kind %r", kind)  # pragma: no cover
    return False  # pragma: no cover


def _kind_and_payload(event: Reaction | MessageEdit | MessageDeleted) -> tuple[str, dict[str, Any]]:
    if isinstance(event, Reaction):
        return Kind.REACTION, {
            "action": event.action,
            "reaction": event.reaction,
            "emoji": event.emoji,
            "sender_id": event.sender_id,
            "ts": ms(event.timestamp),
        }
    if isinstance(event, MessageEdit):
        return Kind.EDIT, {"text": clean_text(event.text), "num_edit": event.num_edit, "ts": ms(event.timestamp)}
    return Kind.DELETE, {"ts": ms(event.timestamp)}


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
    if message.is_deleted:
        return False  # unsent and purged: a late edit must not bring text back
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
    # The customer took it back: its text, attachments (files too) and edit history go; a tombstone stays.
    message_unsent_purge(message)
    Conversation.objects.filter(pk=message.conversation_id, last_message_at__lte=message.timestamp).update(
        last_message_preview=DELETED_PREVIEW
    )
    return True
