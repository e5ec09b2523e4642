"""One message of the thread, rendered in Python: `{% message_bubble m %}`.

The thread shows 50 messages a page and every push carries some. As a template partial a message
cost ~0.3 ms (≈ 40 variable lookups, a dozen `{% if %}` chains and `urlizetrunc` over its text): the
largest part of the conversation page (docs/quality-targets.md). Built in Python as one string, as the
list's rows are (`conversation_row.py`), it costs a fraction of that. Every value is escaped with the
standard library's `html.escape` or comes from a helper that returns escaped or safe markup.

Three shapes: a private note (`kind == "note"`), a system line (postback, referral, notice), and a
message bubble (customer or page: quote, story, attachments, text, reaction, meta line, failure).
"""

from __future__ import annotations

from html import escape
from typing import Any

from django import template
from django.contrib.humanize.templatetags.humanize import intcomma
from django.template.defaultfilters import filesizeformat, linebreaksbr
from django.utils.html import urlize
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import Truncator

from accounts.templatetags.staff_tags import member_name, staff_avatar
from inbox.pk_urls import pk_url, public_url
from inbox.selectors import sort_key
from inbox.templatetags.comment_bubble import comment_html
from inbox.templatetags.handover_tags import handover_app
from inbox.templatetags.inbox_tags import (
    attachment_label,
    iso,
    link_expired,
    link_url,
    map_url,
    remote_src,
    safe_url,
    short_time,
    shown_text,
    story_reply,
    thumbs_up,
    visible_attachments,
)
from inbox.templatetags.note_tags import note_parts

register = template.Library()

_NOTE_ICON = (
    '<svg class="icon" viewBox="0 0 24 24" aria-hidden="true"><rect x="5" y="10.5" width="14" height="10" rx="2.5" '
    'fill="none" stroke="currentColor" stroke-width="2"/><path d="M8.5 10.5V7.5a3.5 3.5 0 0 1 7 0v3" fill="none" '
    'stroke="currentColor" stroke-width="2"/></svg>'
)
_POSTBACK_ICON = (
    '<svg class="icon" viewBox="0 0 24 24" aria-hidden="true"><path fill="currentColor" d="M9 2a2 2 0 0 1 2 2v6.3l5.6 '
    "1.1a2 2 0 0 1 1.6 2.2l-.7 6.2A2.5 2.5 0 0 1 15 22h-4.4a2.5 2.5 0 0 1-2-1l-4-5.3a1.6 1.6 0 0 1 2.3-2.2L7 "
    '14.5V4a2 2 0 0 1 2-2z"/></svg>'
)
_NOTICE_ICON = (
    '<svg class="icon" viewBox="0 0 24 24" aria-hidden="true"><circle cx="12" cy="12" r="9" fill="none" '
    'stroke="currentColor" stroke-width="2"/><path d="M12 11v5.5M12 7.5v.3" stroke="currentColor" '
    'stroke-width="2.2" stroke-linecap="round"/></svg>'
)
_LINK_ICON = (
    '<svg class="icon" viewBox="0 0 24 24" aria-hidden="true"><path fill="none" stroke="currentColor" '
    'stroke-width="2" stroke-linecap="round" d="M10 14a4 4 0 0 0 5.7 0l3-3a4 4 0 0 0-5.7-5.7l-1 1M14 10a4 4 0 0 '
    '0-5.7 0l-3 3a4 4 0 0 0 5.7 5.7l1-1"/></svg>'
)
_FILE_ICON = (
    '<svg class="icon" viewBox="0 0 24 24" aria-hidden="true"><path fill="none" stroke="currentColor" '
    'stroke-width="2" stroke-linejoin="round" d="M6 3h8l4 4v14H6zM14 3v4h4"/></svg>'
)
_MAP_ICON = (
    '<svg class="icon" viewBox="0 0 24 24" aria-hidden="true"><path fill="currentColor" d="M12 2a7 7 0 0 0-7 7c0 '
    '5 7 13 7 13s7-8 7-13a7 7 0 0 0-7-7zm0 9.5A2.5 2.5 0 1 1 12 6.5a2.5 2.5 0 0 1 0 5z"/></svg>'
)
_TICKS = {
    "queued": '<svg class="icon" viewBox="0 0 24 24" aria-hidden="true"><circle cx="12" cy="12" r="8" fill="none" '
    'stroke="currentColor" stroke-width="2"/><path d="M12 8v4l3 2" fill="none" stroke="currentColor" '
    'stroke-width="2" stroke-linecap="round"/></svg>',
    "sent": '<svg class="icon" viewBox="0 0 24 24" aria-hidden="true"><path d="M5 12.5l4.5 4.5L19 7.5" fill="none" '
    'stroke="currentColor" stroke-width="2.2" stroke-linecap="round" stroke-linejoin="round"/></svg>',
    "delivered": '<svg class="icon icon-wide" viewBox="0 0 30 24" aria-hidden="true"><path d="M3 12.5l4.5 4.5L17 '
    '7.5M13 16l1 1 9.5-9.5" fill="none" stroke="currentColor" stroke-width="2.2" stroke-linecap="round" '
    'stroke-linejoin="round"/></svg>',
    "failed": '<svg class="icon" viewBox="0 0 24 24" aria-hidden="true"><circle cx="12" cy="12" r="9" '
    'fill="currentColor"/><path d="M12 7.5v5.5M12 16.2v.3" stroke="#fff" stroke-width="2.2" '
    'stroke-linecap="round"/></svg>',
}
_TICKS["read"] = _TICKS["delivered"]


def _text(value: Any) -> str:
    return escape(str(value)) if value is not None else ""


def _sliced(value: str | None, default: str) -> str:
    """`{{ value|slice:":300"|default:"…" }}`: at most 300 characters, escaped."""
    return escape((value or "")[:300] or default)


def _message_text(text: str) -> str:
    """`urlizetrunc:60|linebreaksbr`; urlize only looks at words with a dot, @ or colon, so text without
    one is only escaped (urlize is most of a plain bubble's cost)."""
    if "." in text or "@" in text or ":" in text:
        html = urlize(text, trim_url_limit=60, nofollow=True, autoescape=True)
    else:
        html = escape(text)
    return html.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "<br>")


def _opening(m: Any, classes: str, direction: str, context: dict) -> str:
    """The attributes every message's element carries (static/js/inbox.js places and finds it by them)."""
    match_id = context.get("match_id")
    match = f' data-match="{_text(context.get("match_q") or "")}"' if match_id is not None and m.pk == match_id else ""
    return (
        f'id="message-{m.pk}" class="{classes}" data-live="message" data-conversation="{m.conversation_id}" '
        f'data-sort="{sort_key(m.timestamp, m.pk)}" data-direction="{direction}"{match}'
    )


def _standby_app(m: Any) -> str:
    """The app that owned the thread when Meta delivered this message as a standby event."""
    return escape(handover_app((m.extra or {}).get("standby_app_id")))


def _time(m: Any) -> str:
    return f'<time datetime="{iso(m.timestamp)}" data-format="time">{short_time(m.timestamp)}</time>'


def _note(m: Any, context: dict) -> str:
    author = _text(member_name(m.sent_by))
    if m.is_deleted:
        body = '<p class="msg-text msg-deleted">This note was deleted</p>'
    else:
        parts = "".join(
            f'<strong class="mention">{escape(part)}</strong>' if is_mention else linebreaksbr(part)
            for part, is_mention in note_parts(m)
        )
        body = f'<p class="msg-text note-text">{parts}</p>'
    return (
        f'<article {_opening(m, "msg msg-note", "internal", context)} '
        f'data-author="{m.sent_by_id if m.sent_by_id is not None else ""}" aria-label="Private note by {author}"><div class="note-card"><p class="note-who">'
        f'<span class="note-label">{_NOTE_ICON}Private note</span>{staff_avatar(m.sent_by, "xs")}'
        f'<span class="note-author">{author}</span></p>{body}</div><footer class="msg-meta">'
        f'<span class="muted">Only your team sees this</span>{_time(m)}</footer></article>'
    )


def _system(m: Any, context: dict) -> str:
    extra = m.extra or {}
    if m.kind == "postback":
        text = f'{_POSTBACK_ICON} The customer tapped <strong>{_sliced(m.content, "a button")}</strong>'
        payload = extra.get("payload")
        if payload and payload != m.content:
            text += (
                f' <span class="msg-postback-payload" title="The button\'s payload">'
                f"{escape(Truncator(str(payload)).chars(120))}</span>"
            )
    elif m.kind == "notice":
        text = (
            f'{_NOTICE_ICON} <span class="msg-notice" title="From Meta">'
            f'{_sliced(m.content, "A notice from Meta")}</span>'
        )
    else:
        ads = extra.get("ads_context_data")
        ad_title = ads.get("ad_title") if isinstance(ads, dict) else None
        suffix = f" “{_text(ad_title)}”" if ad_title else (f" ({_text(extra['ref'])})" if extra.get("ref") else "")
        text = f"{_LINK_ICON} {_sliced(m.content, 'Opened the conversation from a link')}{suffix}"
    if extra.get("standby"):
        text += f'<span class="msg-standby">· received while {_standby_app(m)} had the thread</span>'
    return f'<div {_opening(m, "msg-system", "system", context)}><span class="msg-system-text">{text}</span>{_time(m)}</div>'


def _stored_or_remote(a: Any, src: str, *, stored: str, remote: str, expired: str, missing: str) -> str:
    if a.state == "stored":
        return stored
    if src:
        return remote
    return expired if link_expired(a) else missing


def _attachment(a: Any) -> str:
    src = remote_src(a)
    kind = a.type
    label = escape(attachment_label(kind))
    if kind == "sticker":
        if a.state == "stored":
            inner = f'<img src="{pk_url("inbox:attachment_download", a.pk)}" alt="Sticker" loading="lazy">'
        elif src:
            alt = "👍" if thumbs_up(a) else "Sticker"
            inner = f'<img src="{escape(src)}" alt="{alt}" loading="lazy" referrerpolicy="no-referrer">'
        elif thumbs_up(a):
            inner = '<span class="att-emoji" role="img" aria-label="Thumbs up">👍</span>'
        else:
            inner = '<span class="att-missing">Sticker</span>'
    elif kind == "like_heart":
        inner = '<span class="att-emoji att-heart" role="img" aria-label="Heart">❤️</span>'
    elif kind == "image":
        download = pk_url("inbox:attachment_download", a.pk)
        inner = _stored_or_remote(
            a, src,
            stored=f'<a href="{download}" target="_blank" rel="noopener"><img src="{download}" alt="{label}" '
            'loading="lazy"></a>',
            remote=f'<img src="{escape(src)}" alt="{label} (from Meta\'s link, which expires)" loading="lazy" '
            'referrerpolicy="no-referrer">',
            expired=f'<span class="att-missing att-expired">{label} expired on Meta\'s servers</span>',
            missing=f'<span class="att-missing">{label} not stored</span>',
        )
    elif kind in ("video", "audio"):
        tag, extra, what = (
            ("video", 'preload="metadata"', "Video") if kind == "video" else ("audio", 'preload="none"', "Voice message")
        )
        inner = _stored_or_remote(
            a, src,
            stored=f'<{tag} controls {extra} src="{pk_url("inbox:attachment_download", a.pk)}"></{tag}>',
            remote=f'<{tag} controls {extra} src="{escape(src)}"></{tag}>',
            expired=f'<span class="att-missing att-expired">{what} expired on Meta\'s servers</span>',
            missing=f'<span class="att-missing">{what} not stored</span>',
        )
    elif kind == "story_mention":
        if src:
            inner = (
                f'<a href="{escape(src)}" target="_blank" rel="noopener noreferrer"><img src="{escape(src)}" '
                'alt="Their story (from Meta\'s link; gone once the story expires)" loading="lazy" '
                'referrerpolicy="no-referrer"></a>'
            )
        else:
            inner = '<span class="att-missing att-expired">The story is no longer available</span>'
    elif kind == "file":
        name = _text(a.name or "File")
        if a.state == "stored":
            size = f'<span class="muted">{filesizeformat(a.size)}</span>' if a.size else ""
            inner = (
                f'<a class="att-file" href="{pk_url("inbox:attachment_download", a.pk)}?download=1" download>'
                f'{_FILE_ICON}<span class="att-file-name">{name}</span>{size}</a>'
            )
        elif a.state == "link" and src:
            inner = (
                f'<a class="att-file" href="{escape(src)}" target="_blank" rel="noopener noreferrer">{_FILE_ICON}'
                f'<span class="att-file-name">{name}</span><span class="muted">on Meta\'s servers</span></a>'
            )
        elif link_expired(a):
            inner = '<span class="att-missing att-expired">File expired on Meta\'s servers</span>'
        else:
            pending = " yet" if a.state == "pending" else ""
            inner = f'<span class="att-missing">File not stored{pending}</span>'
    elif kind == "location":
        where = map_url(a.payload)
        if where:
            inner = (
                f'<a class="att-link" href="{escape(where)}" target="_blank" rel="noopener noreferrer">{_MAP_ICON}'
                "Shared location · open map</a>"
            )
        else:
            inner = '<span class="att-missing">Shared location</span>'
    else:
        payload = a.payload if isinstance(a.payload, dict) else {}
        title = payload.get("title")
        link = link_url(a)
        if link:
            named = f": {_text(title or a.name)}" if (title or a.name) else ""
            inner = (
                f'<a class="att-link" href="{escape(link)}" target="_blank" rel="noopener noreferrer">{_LINK_ICON}'
                f"<span>{label}{named}</span></a>"
            )
        else:
            named = f": {_text(title)}" if title else ""
            inner = f'<span class="att-missing">{label}{named}</span>'
    return f'<div class="att att-{escape(kind)}">{inner}</div>'


def _quote(m: Any) -> str:
    if m.reply_to_id:
        quoted = m.reply_to
        who = (
            "Replying to you" if quoted.direction == "outbound"
            else f"Replying to {_text(quoted.sender_name or 'the customer')}"
        )
        text = escape(Truncator(quoted.content or "an attachment").chars(90))
        return f'<blockquote class="msg-quote"><span class="quote-who">{who}</span>{text}</blockquote>'
    if m.reply_to_mid:
        return '<blockquote class="msg-quote"><span class="quote-who">Replying to an earlier message</span></blockquote>'
    return ""


def _story(m: Any) -> str:
    story = story_reply(m)
    if not story:
        return ""
    who = "Mentioned you in their story" if story.get("mention") else "Replied to your story"
    url = safe_url(story.get("url"))
    link = (
        f'<a href="{escape(url)}" target="_blank" rel="noopener noreferrer">View story</a>' if url
        else '<span class="muted">The story is no longer available</span>'
    )
    return f'<div class="msg-story"><span class="quote-who">{who}</span>{link}</div>'


def _bubble_body(m: Any) -> str:
    if m.is_deleted:
        purged = (m.extra or {}).get("purged") == "data_deletion"
        said = "Removed at the customer’s request" if purged else "Message unsent"
        return f'<p class="msg-text msg-deleted">{said}</p>'
    parts = [_attachment(a) for a in visible_attachments(m)]
    if m.content:
        shown = shown_text(m.content)
        parts.append(f'<p class="msg-text">{_message_text(shown.text)}</p>')
        if shown.shortened:
            parts.append(
                f'<p class="msg-shortened muted">… message shortened, {intcomma(shown.length)} characters — '
                f'<a href="{public_url("inbox:message_text", m.public_id)}" target="_blank" rel="noopener">Show all</a></p>'
            )
    elif not m.attachments.all():
        unsupported = (m.extra or {}).get("is_unsupported")
        text = "A message this inbox cannot show" if unsupported else "(empty message)"
        parts.append(f'<p class="msg-text muted">{text}</p>')
    return "".join(parts)


def _meta_line(m: Any) -> str:
    parts = []
    outbound = m.direction == "outbound"
    if outbound:
        if m.source == "meta":
            parts.append('<span class="msg-source" title="Typed in Meta\'s own apps, not in this inbox">Sent from '
                         "Meta's apps</span>")
        elif m.sent_by_id is not None:
            parts.append(f'<span class="msg-author">{staff_avatar(m.sent_by, "xs")}{_text(member_name(m.sent_by))}</span>')
    parts.append(_time(m))
    if m.edit_count:
        parts.append('<span class="msg-edited">edited</span>')
    if (m.extra or {}).get("standby"):
        parts.append(
            '<span class="msg-standby" data-standby title="Meta delivered it as a standby event: another app owned '
            f'the thread">Received while {_standby_app(m)} had the thread</span>'
        )
    if outbound:
        status = _text(m.get_status_display())
        parts.append(
            f'<span class="tick tick-{escape(m.status)}" title="{status}">{_TICKS.get(m.status, "")}'
            f'<span class="tick-label">{status}</span></span>'
        )
    return f'<footer class="msg-meta">{"".join(parts)}</footer>'


def _failure(m: Any, context: dict) -> str:
    if m.status == "failed":
        error = f": {_text(m.error)}" if m.error else ""
        code = f' <span class="muted">(Meta error {_text(m.error_code)})</span>' if m.error_code else ""
        retry = ""
        if m.source == "inbox":
            url = public_url("inbox:message_retry", m.public_id)
            retry = (
                f'<form method="post" action="{url}" hx-post="{url}" hx-swap="none" data-live-response>{_csrf(context)}'
                '<button class="small" type="submit">Retry</button></form>'
            )
        return f'<div class="msg-failure" role="alert"><span>Not sent{error}{code}</span>{retry}</div>'
    if m.status == "queued" and m.error:
        return f'<div class="msg-retrying" role="status">{_text(m.error)}</div>'
    return ""


def _message(m: Any, context: dict) -> str:
    classes = f"msg msg-{escape(m.direction)}"
    if m.source == "meta":
        classes += " msg-from-meta"
    if m.status == "failed":
        classes += " is-failed"
    if m.is_deleted:
        classes += " is-deleted"
    author = "meta" if m.source == "meta" else (m.sent_by_id if m.sent_by_id is not None else "")
    reaction = (
        f'<span class="msg-reaction" title="Reaction from the customer">{_text(m.reaction)}</span>' if m.reaction else ""
    )
    return (
        f'<article {_opening(m, classes, escape(m.direction), context)} data-author="{author}">{_quote(m)}{_story(m)}'
        f'<div class="bubble">{_bubble_body(m)}{reaction}{_page_reaction(m, context)}</div>{_quick_replies(m)}'
        f'{_actions(m, context)}{_meta_line(m)}{_failure(m, context)}</article>'
    )


# The page's reactions staff can give (inbox.services.reactions.REACTIONS, kept here to stay a leaf).
_PAGE_REACTIONS = ("❤️", "👍", "😂", "😮", "😢", "😡")
_REPLY_ICON = (
    '<svg class="icon" viewBox="0 0 24 24" aria-hidden="true"><path d="M10 8V4.5L3 11l7 6.5V14c5 0 8.5 1.5 11 5.5-1-5'
    '-4-10.5-11-11.5z" fill="currentColor"/></svg>'
)


def _csrf(context: dict) -> str:
    token = context.get("csrf_token")
    return (
        f'<input type="hidden" name="csrfmiddlewaretoken" value="{escape(str(token))}">'
        if token and str(token) != "NOTPROVIDED" else ""
    )


def _reactable(m: Any) -> bool:
    return m.direction == "inbound" and bool(m.message_id) and not m.is_deleted


def _page_reaction(m: Any, context: dict) -> str:
    """The page's reaction (staff gave it): a button that takes it away."""
    if not getattr(m, "page_reaction", ""):
        return ""
    url = public_url("inbox:message_unreact", m.public_id)
    return (
        f'<form class="msg-page-reaction-form" method="post" action="{url}" hx-post="{url}" hx-swap="none" '
        f'data-live-response>{_csrf(context)}<button type="submit" class="msg-page-reaction" data-page-reaction '
        f'title="The page\'s reaction: remove it" aria-label="Remove the page\'s reaction {_text(m.page_reaction)}">'
        f"{_text(m.page_reaction)}</button></form>"
    )


def _quick_replies(m: Any) -> str:
    """The buttons a reply offered; on the customer's side, that they tapped one (and its payload)."""
    tapped = (m.extra or {}).get("quick_reply_payload") if m.direction == "inbound" else None
    if tapped is not None:
        return (
            f'<p class="msg-quick-reply-tap" title="The button\'s payload: {_text(Truncator(str(tapped)).chars(120))}">'
            "Tapped a quick reply</p>"
        )
    buttons = (m.extra or {}).get("quick_replies") if m.direction == "outbound" else None
    if not buttons:
        return ""
    chips = "".join(f'<li class="quick-reply-chip">{_text(b.get("title"))}</li>' for b in buttons if isinstance(b, dict))
    return f'<ul class="msg-quick-replies" aria-label="Quick replies offered">{chips}</ul>'


def _actions(m: Any, context: dict) -> str:
    """Reply to this message (quoted above the composer by js/composer.js) and react as the page."""
    if not _reactable(m):
        return ""
    quote = escape(Truncator(m.content or "an attachment").chars(90))
    reply = (
        f'<button type="button" class="msg-action" data-reply-to="{m.pk}" data-quote="{quote}" '
        f'title="Reply to this message">{_REPLY_ICON}<span class="visually-hidden">Reply to this message</span></button>'
    )
    if m.platform != "FACEBOOK":
        return f'<div class="msg-actions">{reply}</div>'
    url = public_url("inbox:message_react", m.public_id)
    choices = "".join(
        f'<button type="submit" name="reaction" value="{r}" class="react-choice" aria-label="React {r}">{r}</button>'
        for r in _PAGE_REACTIONS
    )
    picker = (
        '<details class="react-picker" data-react-picker><summary class="msg-action" title="React as the page">'
        '<span aria-hidden="true">☺</span><span class="visually-hidden">React as the page</span></summary>'
        f'<form class="react-choices" method="post" action="{url}" hx-post="{url}" hx-swap="none" data-live-response>'
        f"{_csrf(context)}{choices}</form></details>"
    )
    return f'<div class="msg-actions">{reply}{picker}</div>'


def message_html(m: Any, context: dict | None = None) -> SafeString:
    """The markup of one message of the thread (what `{% message_bubble m %}` writes)."""
    context = context or {}
    if m.kind == "note":
        html = _note(m, context)
    elif m.kind == "comment":
        html = comment_html(m, context)
    elif m.kind != "message":
        html = _system(m, context)
    else:
        html = _message(m, context)
    # Every value in it was escaped (escape(), int()) or is the safe markup of a helper that escaped its own.
    return mark_safe(html)  # noqa: S308


@register.simple_tag(takes_context=True)
def message_bubble(context: template.Context, m: Any) -> SafeString:
    return message_html(m, {key: context.get(key) for key in ("match_id", "match_q", "csrf_token")})

