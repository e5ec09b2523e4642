"""Reply collisions: someone else answered the customer after this member's page was loaded.

The reply composer carries ``seen``: the id of the newest message the page had when the member
started writing (the page's script keeps it current while the box is empty, and stops once they
type). An outbound message stored after it by anyone else (a teammate, or someone answering from
Meta's own apps, whose echo has no sender here) means two people may be answering the same
customer: the reply is held and the member warned, until they send again with
``confirm_collision=1``. A page that sends no ``seen`` (no script) is never held.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from django.utils import timezone
from django.utils.timesince import timesince

from accounts.selectors import member_display_name
from inbox.models import ChatMessage

if TYPE_CHECKING:
    from accounts.models import User
    from inbox.models import Conversation

MAX_ID = 2**63 - 1


@dataclass(frozen=True)
class Collision:
    who: str
    sent_at: datetime
    # The newest such message: the page has now been told about it, so it becomes what was seen.
    message_id: int

    def warning(self, *, now: datetime | None = None) -> str:
        now = now or timezone.now()
        seconds = (now - self.sent_at).total_seconds()
        ago = f"{max(1, int(seconds))} s" if seconds < 60 else timesince(self.sent_at, now, depth=1)
        return f"{self.who} replied {ago} ago — read it, then send again."


def seen_message_id(value: object) -> int | None:
    """The composer's ``seen`` field as an id, or None when absent or not an id (never held then)."""
    if not isinstance(value, str) or not value.isdigit() or len(value) > 19:
        return None
    number = int(value)
    return number if 0 <= number <= MAX_ID else None


def reply_collision(*, conversation: Conversation, user: User, seen_id: int | None) -> Collision | None:
    """The newest reply someone other than `user` stored after message `seen_id`, if any: one query."""
    if seen_id is None:
        return None
    message = (
        ChatMessage.objects.filter(
            business_id=conversation.business_id,
            conversation=conversation,
            direction=ChatMessage.Direction.OUTBOUND,
            kind=ChatMessage.Kind.MESSAGE,
            pk__gt=seen_id,
        )
        # A NULL sender (a reply from Meta's apps) is someone else too: exclude() keeps NULLs.
        .exclude(sent_by=user)
        .select_related("sent_by")
        .order_by("-pk")
        .first()
    )
    if message is None:
        return None
    if message.sent_by is not None:
        who = member_display_name(message.sent_by)
    elif message.source == ChatMessage.Source.META:
        who = "Someone using Meta's apps"
    else:
        who = "Someone else"
    return Collision(who=who, sent_at=message.timestamp, message_id=message.pk)
