"""Click-to-Messenger ads on their conversations: the 7-day standard window (docs/messenger-platform.md §6.7).

Meta's policy: when a person sends their first message after clicking a Click-to-Messenger (or
Click-to-Direct) ad, the standard window may last up to 7 days from that message. So two times are
kept on the conversation: ``ad_referral_at``, the latest ad click (a referral whose ``source`` is
``ADS`` or that carries ``ads_context_data``: on its own, inside a postback, or on the message
itself), and ``ad_window_opened_at``, the customer's first message (a message, not a button tap) at
or after that click. ``inbox.reply_window`` reads them.

Both only move forward, written in SQL with the condition in the statement, so a redelivery, a replay
or a second worker cannot move them back. Conversations without an ad cost no statement.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from django.db.models import F, Q

from inbox.ingest.drafts import MessageDraft
from inbox.ingest.messages import StoredMessage
from inbox.models import ChatMessage, Conversation

Kind = ChatMessage.Kind


def is_ad_referral(referral: Mapping[str, Any] | None) -> bool:
    if not isinstance(referral, Mapping):
        return False
    return str(referral.get("source") or "").upper() == "ADS" or bool(referral.get("ads_context_data"))


def draft_ad_referral(draft: MessageDraft) -> bool:
    """Whether this customer's draft says they came from an ad: a referral, or a message or button
    tap that carries one."""
    if not draft.inbound:
        return False
    if draft.kind == Kind.REFERRAL:
        return is_ad_referral(draft.extra)
    return is_ad_referral(draft.extra.get("referral"))


def ad_referrals_apply(stored: Sequence[StoredMessage]) -> None:
    """Record the ad clicks among these new messages, and the first customer message after a click."""
    by_conversation: dict[int, list[StoredMessage]] = {}
    for message in stored:
        if message.draft.inbound:
            by_conversation.setdefault(message.conversation.pk, []).append(message)
    for conversation_id in sorted(by_conversation):
        messages = sorted(by_conversation[conversation_id], key=lambda m: (m.draft.timestamp, m.pk))
        conversation = messages[0].conversation
        clicked = conversation.ad_referral_at
        opened = conversation.ad_window_opened_at
        if clicked is None and not any(draft_ad_referral(m.draft) for m in messages):
            continue  # no ad, ever: nothing to read or write
        for message in messages:
            draft = message.draft
            if draft_ad_referral(draft) and (clicked is None or draft.timestamp > clicked):
                clicked = draft.timestamp
                _click_record(conversation_id, draft.timestamp)
            if draft.kind == Kind.MESSAGE and _waiting(clicked, opened) and clicked and draft.timestamp >= clicked:
                opened = draft.timestamp
                _opened_record(conversation_id, draft.timestamp)
        conversation.ad_referral_at, conversation.ad_window_opened_at = clicked, opened


def _waiting(clicked: datetime | None, opened: datetime | None) -> bool:
    """A click no message has followed yet."""
    return clicked is not None and (opened is None or opened < clicked)


def _click_record(conversation_id: int, at: datetime) -> None:
    Conversation.objects.filter(Q(ad_referral_at__isnull=True) | Q(ad_referral_at__lt=at), pk=conversation_id).update(
        ad_referral_at=at
    )


def _opened_record(conversation_id: int, at: datetime) -> None:
    # Only the first message after the latest click opens the window, as the database has it now.
    Conversation.objects.filter(
        Q(ad_window_opened_at__isnull=True) | Q(ad_window_opened_at__lt=F("ad_referral_at")),
        pk=conversation_id,
        ad_referral_at__lte=at,
    ).update(ad_window_opened_at=at)
