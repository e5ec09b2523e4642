"""One comment of a comment thread, rendered in Python (``message_bubble.message_html`` calls it for
``kind == "comment"``): who wrote it, its text, whether it is hidden, edited or deleted, and, for a
customer's comment, the staff actions (reply publicly, reply privately, hide / unhide, delete).

Forms post with htmx and answer live fragments (``data-live-response``, static/js/inbox.js places them);
without JavaScript they post and redirect. Every value is escaped here or is a helper's safe markup.
"""

from __future__ import annotations

import uuid
from html import escape
from typing import Any

from accounts.templatetags.staff_tags import member_name
from inbox.pk_urls import public_url
from inbox.selectors import sort_key
from inbox.services.comments import private_reply_problem
from inbox.templatetags.inbox_tags import iso, short_time

COMMENT_ICON = (
    '<svg class="icon" viewBox="0 0 24 24" aria-hidden="true"><path fill="none" stroke="currentColor" '
    'stroke-width="2" stroke-linejoin="round" d="M4 5h16v11H9l-5 4z"/><path stroke="currentColor" '
    'stroke-width="2" stroke-linecap="round" d="M8 9.5h8M8 12.5h5"/></svg>'
)


def _t(value: Any) -> str:
    return escape(str(value if value is not None else ""))


def _csrf(context: dict) -> str:
    token = context.get("csrf_token")
    if token and str(token) != "NOTPROVIDED":
        return f'<input type="hidden" name="csrfmiddlewaretoken" value="{escape(str(token))}">'
    return ""


def _form(url: str, context: dict, inner: str, *, css: str = "comment-form") -> str:
    return (
        f'<form class="{css}" method="post" action="{url}" hx-post="{url}" hx-swap="none" data-live-response>'
        f"{_csrf(context)}{inner}</form>"
    )


def _text_form(name: str, url: str, context: dict, *, label: str, button: str, pk: int) -> str:
    field = f"comment-{name}-{pk}"
    return _form(url, context, (
        f'<label class="visually-hidden" for="{field}">{label}</label>'
        f'<textarea id="{field}" name="text" rows="2" required placeholder="{label}" data-comment-text></textarea>'
        f'<button class="small" type="submit">{button}</button>'
    ))


def _private_reply_line(m: Any, reply: dict) -> str:
    state = reply.get("state")
    if state == "failed":
        error = f": {_t(reply.get('error'))}" if reply.get("error") else ""
        return f'<p class="comment-private is-failed" role="alert">Private reply not sent{error}</p>'
    if state == "queued":
        return '<p class="comment-private" role="status">Private reply sending…</p>'
    link = ""
    if reply.get("conversation_public_id"):
        url = public_url("inbox:conversation_detail", uuid.UUID(reply["conversation_public_id"]))
        link = f' → <a href="{url}" data-comment-conversation>open the conversation</a>'
    return f'<p class="comment-private is-sent" role="status">Private reply sent{link}</p>'


def _actions(m: Any, context: dict) -> str:
    pk = int(m.pk)
    parts = [_text_form("reply", public_url("inbox:comment_reply", m.public_id), context, label="Reply publicly",
                        button="Reply publicly", pk=pk)]
    inbound = m.direction == "inbound"
    if inbound:
        problem = private_reply_problem(m)
        if problem:
            parts.append(f'<p class="comment-note muted">{_t(problem)}</p>')
        else:
            parts.append(_text_form("private", public_url("inbox:comment_private_reply", m.public_id), context,
                                    label="Reply privately in Messenger", button="Send private reply", pk=pk))
        hidden = bool(((m.extra or {}).get("comment") or {}).get("hidden"))
        parts.append(_form(public_url("inbox:comment_hide", m.public_id), context, (
            f'<input type="hidden" name="hidden" value="{"0" if hidden else "1"}">'
            f'<button class="small secondary" type="submit">{"Unhide" if hidden else "Hide"}</button>'
        ), css="comment-form comment-inline"))
    parts.append(_form(public_url("inbox:comment_delete", m.public_id), context, (
        '<button class="small secondary danger" type="submit" data-confirm="Delete this comment on Meta?">'
        "Delete</button>"
    ), css="comment-form comment-inline"))
    return (
        '<details class="comment-actions"><summary class="button small secondary">Reply or moderate</summary>'
        f'<div class="comment-actions-body">{"".join(parts)}</div></details>'
    )


def comment_html(m: Any, context: dict) -> str:
    comment = (m.extra or {}).get("comment") or {}
    hidden = bool(comment.get("hidden"))
    direction = escape(m.direction)
    classes = f"msg msg-{direction} msg-comment" + (" is-deleted" if m.is_deleted else "") + (
        " is-hidden-comment" if hidden else "") + (" is-failed" if m.status == "failed" else "")
    who = _t(member_name(m.sent_by)) if m.sent_by_id is not None else _t(m.sender_name)
    chips = []
    if comment.get("parent_id") and m.direction == "inbound":
        chips.append('<span class="chip comment-chip">Reply to a comment</span>')
    if hidden:
        chips.append('<span class="chip comment-chip">Hidden</span>')
    if m.edit_count:
        chips.append('<span class="chip comment-chip">Edited</span>')
    if m.is_deleted:
        body = '<p class="msg-text msg-deleted">This comment was deleted</p>'
    else:
        body = f'<p class="msg-text">{_t(m.content).replace(chr(10), "<br>")}</p>'
    status = ""
    if m.direction == "outbound":
        label = {"queued": "Sending…", "failed": "Not sent", "sent": "Posted"}.get(m.status, _t(m.status))
        error = f": {_t(m.error)}" if m.status == "failed" and m.error else ""
        status = f'<span class="comment-status comment-{escape(m.status)}">{label}{error}</span>'
    reply = (m.extra or {}).get("private_reply") or {}
    private = _private_reply_line(m, reply) if reply else ""
    actions = "" if m.is_deleted or not m.message_id else _actions(m, context)
    return (
        f'<article id="message-{int(m.pk)}" class="{classes}" data-live="message" '
        f'data-conversation="{int(m.conversation_id)}" data-sort="{sort_key(m.timestamp, m.pk)}" '
        f'data-direction="{direction}" data-comment="{_t(m.message_id or "")}">'
        f'<div class="bubble comment-bubble"><p class="comment-who">{COMMENT_ICON}<span>{who}</span>'
        f'{"".join(chips)}</p>{body}</div>'
        f'<footer class="msg-meta"><time datetime="{iso(m.timestamp)}" data-format="time">'
        f"{short_time(m.timestamp)}</time>{status}</footer>{private}{actions}</article>"
    )
