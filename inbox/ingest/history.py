"""Earlier messages from Meta's Conversations API, stored by the ingest's own steps (docs/messenger-platform.md
"History import").

One call of ``history_page_import`` handles one page of a page's conversations (most recently
updated first): it reads each thread's messages back to the walk's cut-off, turns them into
``MessageDraft`` values and stores them with ``apply_history``, which uses the webhook path's
storage, so a message is stored once per ``(account, mid)`` whichever came first, the import or
its webhook. Meta is asked first, outside any transaction; the page's messages and the walk's new
cursor are then committed together, so a task that dies or fails is repeated from the same page
and stores nothing twice.

Quiet (an import): the messages arrive read, no unread count moves, nothing reopens, and no push
goes out per message (the walk pushes the list once when it ends). A reconciliation recovers what
a lost webhook would have brought, so its messages count as a late webhook's would.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import Q

from inbox.facebook.events import Attachment
from inbox.ingest.bumps import answered_late, bumps_for, conversation_bumps_apply
from inbox.ingest.conversations import EXTERNAL_ID_LENGTH, conversations_get_or_create
from inbox.ingest.drafts import MID_LENGTH, PREVIEW_LENGTH, SENDER_LENGTH, MessageDraft
from inbox.ingest.echoes import echo_answered
from inbox.ingest.messages import StoredMessage, messages_store
from inbox.models import ChatMessage, Conversation, HistoryImport
from inbox.services.history_import import history_import_advance, history_import_fail, history_import_running
from inbox.services.media import attachment_label
from inbox.text import clean_text, truncate
from social.models import Platform, SocialAccount
from social.services import account_graph_client

if TYPE_CHECKING:
    from social.graph import GraphClient

logger = logging.getLogger(__name__)

PAGE_SIZE = 25  # conversations per page (one task each)
MESSAGE_PAGE_SIZE = 25
# Older messages of one thread are read at most this many pages back (Meta keeps a thread's
# details for its most recent messages only).
MAX_THREAD_PAGES = 10

Direction = ChatMessage.Direction


# THE WALK, ONE PAGE AT A TIME
# ------------------------------------------------------------------------------
def history_page_import(*, import_id: int) -> HistoryImport | None:
    """Fetch and store the next page of the walk's conversations; queues the page after it."""
    history = HistoryImport.objects.select_related("account__page", "account__business").filter(pk=import_id).first()
    if history is None or not history.is_active:
        return history
    account = history.account
    if account.status != SocialAccount.Status.ACTIVE:
        history_import_fail(import_id=history.pk, error="The page is not connected; reconnect it to import.")
        return history
    history_import_running(history)
    client = account_graph_client(account)
    body = client.conversations(
        platform="instagram" if account.platform == Platform.INSTAGRAM else "messenger",
        after=history.cursor, limit=PAGE_SIZE, message_limit=MESSAGE_PAGE_SIZE,
    )
    threads, ended = [], False
    for item in body.get("data") or []:
        updated = meta_time(item.get("updated_time"))
        if updated is not None and updated < history.since:
            ended = True  # newest first: every later conversation is older still
            break
        threads.append((item, updated, _thread_messages(client, item, since=history.since)))
    paging = body.get("paging") or {}
    after = str((paging.get("cursors") or {}).get("after") or "")
    more = not ended and bool(paging.get("next")) and bool(after) and bool(threads)
    times = [updated for _, updated, _ in threads if updated is not None]
    with transaction.atomic():
        stored = 0
        for item, _, messages in threads:
            stored += len(apply_history(account, thread_drafts(account, item, messages),
                                        quiet=history.kind == HistoryImport.Kind.IMPORT))
        history_import_advance(
            history, cursor=after, more=more, conversations=len(threads), messages=stored,
            reached=history.since if not more else (min(times) if times else None),
        )
    return history


def _thread_messages(client: GraphClient, item: dict, *, since: datetime) -> list[dict]:
    """The thread's messages from ``since`` on: those that came with the conversation, then older
    pages of ``/{conversation-id}/messages`` while they are still recent enough."""
    block = item.get("messages") or {}
    messages = list(block.get("data") or [])
    paging = block.get("paging") or {}
    for _ in range(MAX_THREAD_PAGES):
        after = (paging.get("cursors") or {}).get("after")
        oldest = meta_time(messages[-1].get("created_time")) if messages else None
        if not paging.get("next") or not after or oldest is None or oldest < since:
            break
        page = client.thread_messages(str(item.get("id") or ""), after=after, limit=MESSAGE_PAGE_SIZE)
        messages.extend(page.get("data") or [])
        paging = page.get("paging") or {}
    return [m for m in messages if (at := meta_time(m.get("created_time"))) is not None and at >= since]


# META'S MESSAGES AS DRAFTS
# ------------------------------------------------------------------------------
def meta_time(value: Any) -> datetime | None:
    """Meta's "2026-11-14T10:12:33+0000"; None when absent or unreadable."""
    if not isinstance(value, str) or not value:
        return None
    for parse in (lambda v: datetime.strptime(v, "%Y-%m-%dT%H:%M:%S%z"), datetime.fromisoformat):
        try:
            parsed = parse(value)
        except ValueError:
            continue
        if parsed.tzinfo is not None:
            return parsed
    return None


def thread_drafts(account: SocialAccount, item: dict, messages: Sequence[dict]) -> list[MessageDraft]:
    """One draft per message of a conversation, customers' inbound and the page's outbound."""
    ours = {account.account_id, account.send_account.account_id}
    participants = [str(p.get("id") or "") for p in ((item.get("participants") or {}).get("data") or [])]
    customer = next((p for p in participants if p and p not in ours), "")
    drafts = []
    for message in messages:
        draft = _draft(message, ours=ours, customer=customer)
        if draft is not None:
            drafts.append(draft)
    return drafts


def _draft(message: dict, *, ours: set[str], customer: str) -> MessageDraft | None:
    mid, at = str(message.get("id") or ""), meta_time(message.get("created_time"))
    sender = str((message.get("from") or {}).get("id") or "")
    if not mid or at is None or not sender:
        return None
    outbound = sender in ours
    if not customer:
        recipients = ((message.get("to") or {}).get("data") or [{}])
        customer = str(recipients[0].get("id") or "") if outbound else sender
    if not customer:
        return None
    text = clean_text(str(message.get("message") or ""))
    attachments = _attachments(message)
    return MessageDraft(
        customer_id=clean_text(customer, max_length=EXTERNAL_ID_LENGTH),
        mid=clean_text(mid, max_length=MID_LENGTH),
        direction=Direction.OUTBOUND if outbound else Direction.INBOUND,
        source=ChatMessage.Source.META if outbound else ChatMessage.Source.CUSTOMER,
        timestamp=at,
        sender_id=clean_text(sender, max_length=SENDER_LENGTH),
        content=text,
        extra={"history": True},
        attachments=attachments,
        preview=_preview(text, attachments),
    )


def _attachments(message: dict) -> tuple[Attachment, ...]:
    """The Conversations API's attachments (image_data, video_data, file_url) and sticker."""
    found = []
    for item in (message.get("attachments") or {}).get("data") or []:
        mime = str(item.get("mime_type") or "")
        if item.get("image_data"):
            found.append(Attachment(type="image", url=str(item["image_data"].get("url") or "") or None))
        elif item.get("video_data"):
            found.append(Attachment(type="video", url=str(item["video_data"].get("url") or "") or None))
        elif item.get("file_url"):
            kind = "audio" if mime.startswith("audio/") else "file"
            found.append(Attachment(type=kind, url=str(item["file_url"]), title=str(item.get("name") or "") or None))
    if message.get("sticker"):
        found.append(Attachment(type="sticker", url=str(message["sticker"])))
    return tuple(found)


def _preview(text: str, attachments: tuple[Attachment, ...]) -> str:
    if text.strip():
        return truncate(" ".join(text.split()), PREVIEW_LENGTH)
    return attachment_label(attachments[0].type) if attachments else ""


# STORING
# ------------------------------------------------------------------------------
def apply_history(account: SocialAccount, drafts: Sequence[MessageDraft], *, quiet: bool = True) -> list[StoredMessage]:
    """Store the drafts not stored yet (by ``(account, mid)``, as webhooks are) in their customers'
    conversations, created if need be; returns those stored here.

    ``quiet``: read on arrival, no unread count, nothing reopened, nothing announced to other systems
    (outbound webhooks). Either way a page's reply
    answers what the customer wrote before it, and a conversation's latest fields only move forward.
    """
    if not drafts:
        return []
    first_seen: dict[str, datetime] = {}
    for draft in drafts:
        first_seen[draft.customer_id] = min(first_seen.get(draft.customer_id, draft.timestamp), draft.timestamp)
    # An import is history, not news: other systems (outbound webhooks) hear of what a reconciliation
    # recovers, as they would have of its lost webhook, not of every earlier conversation imported.
    conversations = conversations_get_or_create(account=account, first_seen=first_seen, announce=not quiet)
    stored = messages_store(account, drafts, conversations, announce=not quiet)
    if not stored:
        return []
    if quiet:
        inbound = [m.pk for m in stored if m.draft.inbound]
        if inbound:
            ChatMessage.objects.filter(pk__in=inbound).update(is_read=True)
        answered_late(stored)  # replied: older than the conversation's latest reply
        _bumps_quiet(stored)
    else:
        conversation_bumps_apply(stored)
    for reply in _newest_replies(stored):
        echo_answered(reply)  # a reply answers what the customer wrote before it
    return stored


def _newest_replies(stored: Sequence[StoredMessage]) -> list[StoredMessage]:
    newest: dict[int, StoredMessage] = {}
    for message in stored:
        if message.draft.inbound:
            continue
        current = newest.get(message.conversation.pk)
        if current is None or message.draft.timestamp > current.draft.timestamp:
            newest[message.conversation.pk] = message
    return [newest[pk] for pk in sorted(newest)]


def _bumps_quiet(stored: Sequence[StoredMessage]) -> None:
    """The conversations' latest message and the customer's latest time, moved forward only."""
    for conversation_id, bump in sorted(bumps_for(stored).items()):
        Conversation.objects.filter(pk=conversation_id, last_message_at__lte=bump.timestamp).update(last_message_at=bump.timestamp, last_message_preview=bump.preview,
                 last_message_direction=bump.direction)
        if bump.last_inbound_at is not None:
            Conversation.objects.filter(pk=conversation_id).filter(
                Q(last_inbound_at__isnull=True) | Q(last_inbound_at__lt=bump.last_inbound_at)
            ).update(last_inbound_at=bump.last_inbound_at)

