"""Messaging windows (docs/messenger-platform.md §6.7): how staff may reply to a conversation now.

The standard window is 24 h after the customer's last message, or 7 days after their first message
following a click-to-Messenger ad, whichever ends later; inside it a reply is a RESPONSE. After it,
only a person typing in the inbox may reply, with MESSAGE_TAG + HUMAN_AGENT, up to 7 days after the
customer's last message, and only when the account is approved for it. Anything sent without a
person behind it (``human=False``) never carries the tag. Otherwise the composer is locked and says why.

A pure function of the conversation and its account, low in the inbox's layers: the live push
(inbox.realtime), replies, ingest and the views all read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from inbox.models import Contact, Conversation
from social.models import SocialAccount

RESPONSE_WINDOW = timedelta(hours=24)
HUMAN_AGENT_WINDOW = timedelta(days=7)
# From the customer's first message after clicking a click-to-Messenger ad (Conversation.ad_window_opened_at).
AD_WINDOW = timedelta(days=7)


@dataclass(frozen=True)
class ReplyWindow:
    state: str  # "open", "human_agent" or "locked"
    messaging_type: str = ""
    tag: str = ""
    reason: str = ""
    # When the current way of replying ends (open / human_agent), or when replying stopped (locked).
    until: datetime | None = None
    closed_at: datetime | None = None
    # Open past the 24 hours because the customer came from a click-to-Messenger ad.
    from_ad: bool = False

    @property
    def allowed(self) -> bool:
        return self.state != "locked"


def standard_window_end(conversation: Conversation) -> datetime | None:
    """When the standard messaging window closes; None before the customer has written."""
    last = conversation.last_inbound_at
    if last is None:
        return None
    end = last + RESPONSE_WINDOW
    opened = conversation.ad_window_opened_at
    if opened is not None and opened + AD_WINDOW > end:
        end = opened + AD_WINDOW
    return end


def reply_window(*, conversation: Conversation, now: datetime | None = None, human: bool = True) -> ReplyWindow:
    """How staff may reply to this conversation now, or why they cannot.

    ``human``: the reply was written by a person in the inbox (a retry of it too). A send without one
    never gets the HUMAN_AGENT tag: after the standard window it is refused instead.
    """
    now = now or timezone.now()
    account = conversation.account
    if account.status != SocialAccount.Status.ACTIVE:
        return ReplyWindow(
            state="locked", reason=f"{account.account_name or 'This page'} needs reconnecting before you can reply."
        )
    if any(str(participant).startswith(Contact.USER_REF_PREFIX) for participant in conversation.participant_ids or ()):
        # Known by the chat plugin's reference only: the Send API would need it instead of a PSID.
        return ReplyWindow(
            state="locked",
            reason="This visitor wrote from the chat plugin on your website; you can reply once they write in Messenger.",
        )
    if conversation.kind == "comments":
        # Its contact is the commenter on one post, not a PSID: comments are answered one by one.
        return ReplyWindow(
            state="locked", reason="Answer each comment: reply publicly, or privately in Messenger (Reply or moderate).",
        )
    last = conversation.last_inbound_at
    end = standard_window_end(conversation)
    if last is None or end is None:
        return ReplyWindow(
            state="locked", reason="Meta only allows replies after the customer has written to the page."
        )
    if now < end:
        return ReplyWindow(state="open", messaging_type="RESPONSE", until=end, from_ad=end > last + RESPONSE_WINDOW)
    if not human:
        return ReplyWindow(
            state="locked",
            closed_at=end,
            reason="Only replies written by a person may be sent after the standard messaging window.",
        )
    if account.human_agent_enabled and now < last + HUMAN_AGENT_WINDOW:
        return ReplyWindow(
            state="human_agent",
            messaging_type="MESSAGE_TAG",
            tag="HUMAN_AGENT",
            until=last + HUMAN_AGENT_WINDOW,
            closed_at=end,
        )
    if account.human_agent_enabled:
        return ReplyWindow(
            state="locked",
            closed_at=max(end, last + HUMAN_AGENT_WINDOW),
            reason="Meta allows human replies only within 7 days of the customer's last message.",
        )
    if end > last + RESPONSE_WINDOW:
        return ReplyWindow(
            state="locked",
            closed_at=end,
            reason="Meta allows replies only within 7 days of the customer's first message after an ad.",
        )
    return ReplyWindow(
        state="locked",
        closed_at=end,
        reason="Meta allows replies only within 24 hours of the customer's last message.",
    )
