"""The reply window's chip in the conversation header: how long staff may still reply, and how.

Rendered wherever the header is (the page, the htmx pane, the live push); the page script
(static/js/reply_window.js) counts it down from ``data-deadline`` with the same wording as
``countdown_text``, and asks the server again when the deadline passes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django import template
from django.utils import timezone

from inbox.reply_window import reply_window
from inbox.selectors import EXPIRING_SOON

if TYPE_CHECKING:
    from inbox.models import Conversation

register = template.Library()

HOUR = 3600
DAY = 24 * HOUR


@dataclass(frozen=True)
class Chip:
    state: str  # "open", "soon" (open, under EXPIRING_SOON left), "human" or "closed"
    text: str
    label: str  # the whole sentence, for the title and screen readers
    deadline: datetime | None = None
    from_ad: bool = False


def countdown_text(seconds: float, *, human_agent: bool = False) -> str:
    """The chip's words: "6d 4h left", "23h left", "1h 12m left", "Closes in 9 min", and "Human agent:
    6d left" after the standard window. Mirrors static/js/reply_window.js's format()."""
    seconds = max(int(seconds), 0)
    days, hours, minutes = seconds // DAY, seconds % DAY // HOUR, seconds % HOUR // 60
    if human_agent:
        # Days to the nearest one: just after the 24 hours close, "6d left" (of the 7).
        if seconds >= 2 * DAY:
            return f"Human agent: {round(seconds / DAY)}d left"
        if seconds >= HOUR:
            return f"Human agent: {seconds // HOUR}h left"
        return f"Human agent: {max(minutes, 1)} min left"
    if days:
        return f"{days}d {hours}h left" if hours else f"{days}d left"
    if seconds >= 2 * HOUR:
        return f"{hours}h left"
    if hours:
        return f"{hours}h {minutes}m left"
    return f"Closes in {max(minutes, 1)} min"


def reply_window_chip_for(conversation: Conversation, *, now: datetime | None = None) -> Chip | None:
    """The chip for this conversation now; None when the window is not what stops a reply (no
    message from the customer yet, a page to reconnect, a website visitor)."""
    now = now or timezone.now()
    window = reply_window(conversation=conversation, now=now)
    if window.state == "open" and window.until is not None:
        left = (window.until - now).total_seconds()
        text = countdown_text(left)
        if text.startswith("Closes"):
            label = f"The reply window c{text[1:]}"
        else:
            label = f"Reply window{' (opened from an ad)' if window.from_ad else ''}: {text}"
        state = "soon" if window.until - now < EXPIRING_SOON else "open"
        return Chip(state=state, text=text, label=label, deadline=window.until, from_ad=window.from_ad)
    if window.state == "human_agent" and window.until is not None:
        text = countdown_text((window.until - now).total_seconds(), human_agent=True)
        return Chip(
            state="human",
            text=text,
            deadline=window.until,
            label=f"The 24-hour window has closed; replies go as a human agent message. {text}",
        )
    if window.state == "locked" and window.closed_at is not None:
        return Chip(state="closed", text="Window closed", label=window.reason)
    return None


@register.inclusion_tag("inbox/_reply_window_chip.html")
def reply_window_chip(conversation: Conversation) -> dict[str, object]:
    return {"chip": reply_window_chip_for(conversation), "conversation": conversation, "soon": EXPIRING_SOON}


@register.filter
def seconds(value: timedelta) -> int:
    return int(value.total_seconds())
