"""One row of the conversation list, rendered in Python: `{% conversation_row c %}`.

The row is the inbox's hottest markup: a list page has 50 of them, every push carries some, and as
a template partial it cost ~0.2 ms a row (≈ 37 variable lookups, a `{% url %}` and four tags each),
a fifth of the list page's budget (docs/quality-targets.md). Built in Python as one string, the way
Django's admin builds its change list's cells, a row costs about a fifth of that. Every value is
escaped with the standard library's `html.escape` (what Django's `escape` calls, without its
lazy-string wrapper, which was half of the remaining cost) or is an int, or is the SafeString of a
helper that escaped its own; the icons are the same safe strings the templates use.

What a row shows: the customer (avatar, name), the last message's time and preview, the unread
count, the page, the assignee, the priority and status chips, and the labels. Its data attributes
are what static/js/inbox.js and bulk.js read to place and filter rows live.
"""

from __future__ import annotations

import uuid
from html import escape
from typing import Any

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from inbox.pk_urls import public_url
from inbox.selectors import sort_key
from inbox.templatetags.assignment_tags import assignee_avatar
from inbox.templatetags.comment_bubble import COMMENT_ICON
from inbox.templatetags.inbox_tags import avatar, iso, platform_icon, priority_chip, short_time

register = template.Library()

def detail_url(public_id: uuid.UUID) -> str:
    return public_url("inbox:conversation_detail", public_id)


def _status_chip(c: Any) -> SafeString:
    if c.status == "snoozed":
        return format_html(
            '<span class="chip chip-status">Snoozed until <time datetime="{}" data-format="long">{}</time></span>',
            iso(c.snoozed_until),
            short_time(c.snoozed_until),
        )
    if c.status == "pending":
        return mark_safe('<span class="chip chip-status">Pending</span>')
    if c.status == "resolved":
        return mark_safe('<span class="chip chip-status">Resolved</span>')
    return mark_safe("")


def _label_line(labels: list[Any]) -> str:
    if not labels:
        return ""
    chips = "".join(
        f'<span class="label-chip label-{escape(label.colour)}"><span class="visually-hidden">Label: </span>'
        f"{escape(label.name)}</span>"
        for label in labels
    )
    return f'<span class="conv-line conv-labels">{chips}</span>'


@register.simple_tag
def conversation_row(c: Any) -> SafeString:
    contact, account = c.contact, c.account
    name = escape(contact.display_name)
    labels = c.chip_labels
    url = escape(detail_url(c.public_id))
    pk, unread_count = int(c.pk), int(c.unread_count)
    status = escape(c.status)
    classes = "conv-row" + (" is-unread" if unread_count else "") + ("" if c.status == "open" else f" is-{status}")
    unread = (
        f'<span class="unread-badge" title="{unread_count} unread">{unread_count}'
        '<span class="visually-hidden"> unread</span></span>'
        if unread_count
        else ""
    )
    you = '<span class="conv-you">You: </span>' if c.last_message_direction == "outbound" else ""
    # Every value is escaped here (escape(), int()) or is a SafeString of a helper that escaped its own.
    return mark_safe(  # noqa: S308
        f'<li id="conversation-{pk}" class="{classes}" data-live="row"'
        f' data-sort="{sort_key(c.last_message_at, pk)}" data-status="{status}" data-unread="{unread_count}"'
        f' data-priority="{escape(c.priority)}" data-account="{escape(str(c.account.public_id))}"'
        f' data-assignee="{_id(c.assignee_id)}" data-team="{_id(c.team_id)}"'
        f' data-labels="{"".join(f" {int(label.pk)}" for label in labels)}">'
        f'<label class="conv-select-box"><input type="checkbox" class="conv-select" name="ids" value="{pk}"'
        f' form="bulk-form" aria-label="Select the conversation with {name}"></label>'
        f'<a class="conv-link" href="{url}" hx-get="{url}" hx-target="#conversation-pane" hx-swap="outerHTML"'
        f' hx-push-url="true">{avatar(contact)}<span class="conv-body">'
        f'<span class="conv-line"><span class="conv-name">{_comment_mark(c)}{name}</span>'
        f'<time class="conv-time" datetime="{iso(c.last_message_at)}" data-format="short">'
        f"{escape(short_time(c.last_message_at))}</time></span>"
        f"{_post_line(c)}"
        f'<span class="conv-line"><span class="conv-preview">{you}'
        f"{escape(c.last_message_preview or 'No messages yet')}</span>{unread}</span>"
        f'<span class="conv-line conv-meta"><span class="conv-page">{platform_icon(c.platform)}'
        f'<span class="conv-page-name">{escape(account.account_name or account.account_id)}</span></span>'
        f'<span class="conv-chips">{assignee_avatar(c.assignee, "xs")}'
        f"{priority_chip(c.priority, c.get_priority_display())}{_status_chip(c)}</span></span>"
        f"{_label_line(labels)}</span></a></li>"
    )


def _comment_mark(c: Any) -> str:
    """A comment thread: the comment icon, and the post it is on (on its own line, under the name)."""
    if getattr(c, "kind", "messages") != "comments":
        return ""
    return (
        f'<span class="conv-comment" title="Comments on a post">{COMMENT_ICON}'
        '<span class="visually-hidden">Comments: </span></span>'
    )


def _post_line(c: Any) -> str:
    if getattr(c, "kind", "messages") != "comments":
        return ""
    return f'<span class="conv-line conv-post">Comment on: {escape(c.post_excerpt or "a post")}</span>'



def _id(value: int | None) -> str:
    return "" if value is None else str(int(value))
