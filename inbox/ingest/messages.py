"""Storing drafts as messages, once each: one row per ``(account, mid)``.

``INSERT ... ON CONFLICT (account, mid) DO NOTHING`` decides: a draft whose mid is already stored
(a redelivery, a replay, another worker) is skipped, and nothing else happens for it (no counter
moves, no task is queued). Rows go in mid order, so two workers inserting overlapping drafts take
the unique index's locks in the same order (no deadlock).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from inbox import events
from inbox.ingest.attachments import attachments_create
from inbox.ingest.changes import Touched
from inbox.ingest.drafts import MessageDraft
from inbox.ingest.rows import insert_ignoring_conflicts
from inbox.models import ChatMessage, Conversation
from inbox.reply_window import reply_window
from inbox.text import clean_text

if TYPE_CHECKING:
    from social.models import SocialAccount

NAME_LENGTH = ChatMessage._meta.get_field("sender_name").max_length
Status = ChatMessage.Status


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """A draft this call stored, with its new id and its conversation."""

    pk: int
    draft: MessageDraft
    conversation: Conversation


def messages_store(
    account: SocialAccount, drafts: Sequence[MessageDraft], conversations: Mapping[str, Conversation],
    *, announce: bool = True,
) -> list[StoredMessage]:
    """Insert the drafts not stored yet (the first of two drafts with one mid wins), with their
    attachments; returns those stored here, in the drafts' order.

    ``conversations``: by customer id, one for every draft's customer (``conversations_for``).
    ``announce``: tell other systems of the new messages (``inbox.events``; not for a history import).
    """
    stored: list[StoredMessage] = []
    for chunk in _chunks(_unique(drafts)):
        stored.extend(_insert(account, chunk, conversations))
    by_message = {message.pk: message.draft.attachments for message in stored if message.draft.attachments}
    if by_message:
        attachments_create(business_id=account.business_id, platform=account.platform, by_message=by_message)
    if announce:
        events.emit(events.message_created, business_id=account.business_id, ids=[m.pk for m in stored])
    return stored


def messages_changes(stored: Sequence[StoredMessage]) -> Touched:
    """What the new messages change on open screens."""
    changes = Touched()
    for message in stored:
        conversation = message.conversation
        changes.conversation_ids.add(conversation.pk)
        changes.message_ids.add(message.pk)
        if message.draft.inbound and (
            conversation.status != Conversation.Status.OPEN or reply_window(conversation=conversation).state != "open"
        ):
            # A customer's message reopens a resolved, pending or snoozed conversation and opens a
            # closed reply window: then the header (its status actions) and the composer change.
            changes.pane_ids.add(conversation.pk)
    return changes


def _unique(drafts: Sequence[MessageDraft]) -> list[MessageDraft]:
    seen: set[str] = set()
    unique = []
    for draft in drafts:
        if draft.mid not in seen:
            seen.add(draft.mid)
            unique.append(draft)
    return unique


def _chunks(drafts: list[MessageDraft]) -> list[list[MessageDraft]]:
    """Split where a draft answers an earlier draft: the message it answers must be stored first,
    for its id (a statement does not see the rows it inserts)."""
    chunks: list[list[MessageDraft]] = [[]]
    mids: set[str] = set()
    for draft in drafts:
        if draft.reply_to_mid and draft.reply_to_mid in mids:
            chunks.append([])
            mids = set()
        chunks[-1].append(draft)
        mids.add(draft.mid)
    return [chunk for chunk in chunks if chunk]


def _insert(
    account: SocialAccount, drafts: list[MessageDraft], conversations: Mapping[str, Conversation]
) -> list[StoredMessage]:
    reply_mids = {draft.reply_to_mid for draft in drafts if draft.reply_to_mid}
    answered: dict[str, int] = {}
    if reply_mids:
        answered = {
            mid or "": pk
            for mid, pk in ChatMessage.objects.filter(account=account, message_id__in=reply_mids).values_list(
                "message_id", "pk"
            )
        }
    ordered = sorted(drafts, key=lambda draft: draft.mid)
    inserted = {
        mid: pk
        for pk, mid in insert_ignoring_conflicts(
            ChatMessage,
            [_row(account, draft, conversations[draft.customer_id], answered) for draft in ordered],
            conflict=("account", "message_id"),
            returning=("pk", "message_id"),
        )
    }
    return [
        StoredMessage(pk=inserted[draft.mid], draft=draft, conversation=conversations[draft.customer_id])
        for draft in drafts
        if draft.mid in inserted
    ]


def _row(
    account: SocialAccount, draft: MessageDraft, conversation: Conversation, answered: Mapping[str, int]
) -> dict[str, Any]:
    inbound = draft.inbound
    return {
        "business_id": account.business_id,
        "platform": account.platform,
        "account_id": account.pk,
        "conversation_id": conversation.pk,
        "message_id": draft.mid,
        "direction": draft.direction,
        "kind": draft.kind,
        "source": draft.source,
        "sender_id": draft.sender_id,
        "sender_name": clean_text(
            conversation.contact.display_name if inbound else account.account_name, max_length=NAME_LENGTH
        ),
        "content": draft.content,
        "media_urls": [clean_text(a.url) for a in draft.attachments if a.url],
        "timestamp": draft.timestamp,
        "received_at": draft.received_at,
        "status": Status.RECEIVED if inbound else Status.SENT,
        "sent_at": None if inbound else draft.timestamp,
        "extra": draft.extra,
        "reply_to_mid": draft.reply_to_mid,
        "reply_to_id": answered.get(draft.reply_to_mid) if draft.reply_to_mid else None,
    }
