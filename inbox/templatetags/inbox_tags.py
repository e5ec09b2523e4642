"""Small presentation helpers for the inbox templates."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from django import template
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from accounts.avatars import AVATAR_COLOURS
from inbox.selectors import sort_key as _sort_key
from inbox.services.conversations import SNOOZE_PRESETS
from inbox.services.media import THUMBS_UP_STICKER_IDS, link_expiry
from inbox.services.media import attachment_label as _attachment_label
from inbox.services.media import link_expired as _link_expired
from social.safe_fetch import origin_allowed

if TYPE_CHECKING:
    from datetime import datetime

register = template.Library()



@register.filter
def initials(name: str) -> str:
    """Up to two letters for an avatar without a picture."""
    words = [w for w in (name or "").replace("@", " ").split() if w[:1].isalnum()]
    if not words:
        return "?"
    letters = words[0][:1] + (words[-1][:1] if len(words) > 1 else "")
    return letters.upper()


@register.filter
def avatar_colour(value: Any) -> int:
    """A stable colour slot per contact, so a customer keeps their colour everywhere."""
    try:
        return int(value) % AVATAR_COLOURS
    except (TypeError, ValueError):
        return 0


@register.simple_tag
def sort_key(when: datetime, pk: int) -> str:
    return _sort_key(when, pk)


@register.filter
def attachment_label(attachment_type: str) -> str:
    return _attachment_label(attachment_type)


@register.simple_tag
def query(base: dict[str, str] | None = None, **changes: Any) -> str:
    """`?...` with the current filters changed; a value of None or "" removes the key."""
    params = dict(base or {})
    for key, value in changes.items():
        if value in (None, "", False):
            params.pop(key, None)
        else:
            params[key] = str(value)
    return "?" + urlencode(params) if params else "?"


@register.filter
def map_url(payload: dict[str, Any]) -> str:
    """An OpenStreetMap link for a shared location, or "" when the payload has no coordinates."""
    coords = (payload or {}).get("coordinates") or payload or {}
    lat: Any = coords.get("lat")
    lon: Any = coords.get("long", coords.get("lng"))
    try:
        lat, lon = float(lat), float(lon)
    except (TypeError, ValueError):
        return ""
    return f"https://www.openstreetmap.org/?mlat={lat:.6f}&mlon={lon:.6f}#map=16/{lat:.6f}/{lon:.6f}"


@register.filter
def link_url(attachment: Any) -> str:
    """Where a shared link or post points (fallback attachments carry it in several places)."""
    payload = getattr(attachment, "payload", None) or {}
    for candidate in (payload.get("url"), payload.get("URL"), getattr(attachment, "url", "")):
        if isinstance(candidate, str) and candidate.startswith(("https://", "http://")):
            return candidate
    return ""


@register.filter
def safe_url(value: Any) -> str:
    """Only http(s) links reach an href or src; anything else (javascript:, data:) is dropped."""
    return value if isinstance(value, str) and value.startswith(("https://", "http://")) else ""


@register.filter
def media_url(value: Any) -> str:
    """A remote media link a page may load (``<img>``, ``<video>``): from an allowed media origin only."""
    url = safe_url(value)
    return url if url and origin_allowed(url) else ""


@register.filter
def quote_path(value: str) -> str:
    return quote(value or "")


@register.filter
def visible_attachments(message: Any) -> list[Any]:
    """The message's attachments, without the legacy image copy Meta sends next to a sticker (§4.4)."""
    items = list(message.attachments.all())
    if any(a.type == "sticker" for a in items):
        items = [a for a in items if not (a.type == "image" and (a.payload or {}).get("sticker_id"))]
    return items


@register.filter
def story_reply(message: Any) -> dict[str, Any] | None:
    """The Instagram story a message replies to (or mentions the page in), if any.

    Its ``url`` is dropped once the story has surely expired (24 hours after the message, or the
    link's own expiry), so the page says it is no longer available instead of a dead link.
    """
    extra = getattr(message, "extra", None) or {}
    story = extra.get("reply_to_story")
    if isinstance(story, dict):
        found = dict(story)
    elif isinstance(extra.get("story_mention"), dict):
        found = {**extra["story_mention"], "mention": True}
    else:
        return None
    raw_url = found.get("url")
    url = raw_url if isinstance(raw_url, str) else ""
    expires = link_expiry(url, attachment_type="story_mention", sent_at=getattr(message, "timestamp", None))
    if expires is not None and timezone.now() >= expires:
        found["url"] = ""
    return found


@register.filter
def link_expired(attachment: Any) -> bool:
    """Meta's link of an attachment shown from it has expired: the page says so instead of showing it.

    Not said of a stored copy, nor of a failed download (which says it was not stored).
    """
    return attachment.state not in ("stored", "failed") and _link_expired(attachment)


@register.filter
def remote_src(attachment: Any) -> str:
    """Meta's link an attachment is shown from while we have no copy of it, or "".

    Not for a stored copy (ours is shown) or a failed download (its link is as good as dead), nor
    once the link has expired, nor from an origin the page may not load.
    """
    if attachment.state in ("stored", "failed") or _link_expired(attachment):
        return ""
    return media_url(attachment.url)


@register.filter
def thumbs_up(attachment: Any) -> bool:
    """Messenger's like button (a sticker): shown as the emoji, never fetched."""
    return str((attachment.payload or {}).get("sticker_id") or "") in THUMBS_UP_STICKER_IDS


# Markup used on every row of every list: tags written in Python, because an {% include %} per row
# costs more than the rest of the row.
MESSENGER_ICON = mark_safe(
    '<svg class="icon icon-messenger" viewBox="0 0 24 24" aria-label="Messenger" role="img"><path fill="currentColor" '
    'd="M12 2.5c-5.4 0-9.5 3.9-9.5 9.2 0 2.8 1.1 5.2 3 6.9v3.2l3-1.7c1.1.3 2.2.5 3.5.5 5.4 0 9.5-3.9 9.5-9.1S17.4 '
    '2.5 12 2.5zm1 12.2-2.4-2.6-4.7 2.6 5.2-5.5 2.5 2.6 4.6-2.6z"/></svg>'
)
INSTAGRAM_ICON = mark_safe(
    '<svg class="icon icon-instagram" viewBox="0 0 24 24" aria-label="Instagram" role="img"><rect x="3.5" y="3.5" '
    'width="17" height="17" rx="5" fill="none" stroke="currentColor" stroke-width="2"/><circle cx="12" cy="12" r="4" '
    'fill="none" stroke="currentColor" stroke-width="2"/><circle cx="17.2" cy="6.8" r="1.2" fill="currentColor"/></svg>'
)
FLAG_ICON = mark_safe(
    '<svg class="icon" viewBox="0 0 24 24" aria-hidden="true"><path fill="currentColor" d="M5 3h2v18H5zM8 4h10l-2.5 '
    '4L18 12H8z"/></svg>'
)


@register.simple_tag
def platform_icon(platform: str) -> SafeString:
    return INSTAGRAM_ICON if platform == "INSTAGRAM" else MESSENGER_ICON


@register.simple_tag
def avatar(contact: Any, size: str = "") -> SafeString:
    """The customer's stored picture, Meta's link while it is not stored, or their initials."""
    classes = f"avatar avatar-c{avatar_colour(contact.pk)}" + (f" avatar-{size}" if size else "")
    inner: str
    if contact.picture:
        inner = format_html('<img src="{}" alt="" loading="lazy">', reverse("inbox:contact_picture", args=[contact.pk]))
    elif media_url(contact.picture_url):
        inner = format_html('<img src="{}" alt="" loading="lazy" referrerpolicy="no-referrer">', contact.picture_url)
    else:
        inner = initials(contact.display_name)
    return format_html('<span class="{}" aria-hidden="true">{}</span>', classes, inner)


@register.simple_tag
def priority_chip(priority: str, label: str) -> SafeString:
    if not priority or priority == "none":
        return mark_safe("")
    icon = FLAG_ICON if priority in ("urgent", "high") else ""
    return format_html('<span class="chip chip-priority priority-{}" title="Priority">{}{}</span>', priority, icon, label)


@register.filter
def iso(value: datetime | None) -> str:
    """ISO 8601 for <time datetime>; the page script shows it in the reader's own time zone."""
    return value.isoformat() if value else ""


@register.simple_tag
def snooze_presets() -> list[tuple[str, str]]:
    """The snooze menu's choices: (value, label)."""
    return list(SNOOZE_PRESETS.items())


@register.filter
def short_time(value: datetime | None) -> str:
    """The server's fallback text for a <time> until the script localises it (cheaper than |date).

    No leading zero on the hour ("5 Dec 9:05"), like the script's own.
    """
    return f"{value.day} {value:%b} {value.hour}:{value:%M}" if value else ""


# A bubble (and its live push) shows this much of a message; an 8 MB message rendered whole froze
# every open inbox. The whole text stays stored and one click away (views.message_text).
MESSAGE_TEXT_SHOWN = 20_000


@dataclass(frozen=True)
class ShownText:
    text: str
    length: int  # of the whole text

    @property
    def shortened(self) -> bool:
        return self.length > len(self.text)


@register.filter
def shown_text(content: str | None) -> ShownText:
    """The part of a message's text its bubble shows, and how long the whole is."""
    content = content or ""
    return ShownText(text=content[:MESSAGE_TEXT_SHOWN], length=len(content))
