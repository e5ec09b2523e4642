"""Messaging windows (docs/messenger-platform.md §6.7): how staff may reply to a conversation now.

Inside 24 h of the customer's last message a reply is a RESPONSE; after that, only a human may
reply, with MESSAGE_TAG + HUMAN_AGENT, up to 7 days, and only when the account is approved for it.
Otherwise the composer is locked and says why.

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


@dataclass(frozen=True)
class ReplyWindow:
    state: str  # "open", "human_agent" or "locked"
    messaging_type: str = ""
    tag: str = ""
    reason: str = ""
    # When the current way of replying ends (open / human_agent), or when replying stopped (locked).
    until: datetime | None = None
    closed_at: datetime | None = None

    @property
    def allowed(self) -> bool:
        return self.state != "locked"


def reply_window(*, conversation: Conversation, now: datetime | None = None) -> ReplyWindow:
    """How staff may reply to this conversation now, or why they cannot."""
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
    last = conversation.last_inbound_at
    if last is None:
        return ReplyWindow(
            state="locked", reason="Meta only allows replies after the customer has written to the page."
        )
    if now < last + RESPONSE_WINDOW:
        return ReplyWindow(state="open", messaging_type="RESPONSE", until=last + RESPONSE_WINDOW)
    if account.human_agent_enabled and now < last + HUMAN_AGENT_WINDOW:
        return ReplyWindow(
            state="human_agent", messaging_type="MESSAGE_TAG", tag="HUMAN_AGENT", until=last + HUMAN_AGENT_WINDOW,
            closed_at=last + RESPONSE_WINDOW,
        )
    if account.human_agent_enabled:
        return ReplyWindow(
            state="locked", closed_at=last + HUMAN_AGENT_WINDOW,
            reason="Meta allows human replies only within 7 days of the customer's last message.",
        )
    return ReplyWindow(
        state="locked", closed_at=last + RESPONSE_WINDOW,
        reason="Meta allows replies only within 24 hours of the customer's last message.",
    )
