"""The one broadcast path: after commit, tell every open inbox page of a business what changed.

Services call `publish_on_commit(...)`; nothing is sent for a transaction that rolls back. The push
is HTML: the very partials the pages render (conversation row, conversation header, composer,
message, counters), rendered once here and sent in one `group_send` to the business's group. The
consumer forwards it without a query (but for a recheck of its permission at most once a second,
`inbox.access`); the page's script places each fragment by its id, so a page showing another
conversation finds no target for these messages and only its list changes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from django.db import transaction
from django.template.loader import render_to_string

from config import channel_send
from config.metrics import push_timer
from inbox.reply_window import reply_window

logger = logging.getLogger(__name__)

# A push stays small (a WebSocket frame is capped at 1 MiB by the servers): past this many messages,
# or conversation rows, the pages are told to fetch what they show instead.
MAX_MESSAGES_PER_PUSH = 50
MAX_ROWS_PER_PUSH = 50

ROWS_TEMPLATE = "inbox/conversation_list.html#live-rows"
COUNTERS_TEMPLATE = "inbox/conversation_list.html#counters"
HEADER_TEMPLATE = "inbox/conversation_detail.html#conversation-header"
COMPOSER_TEMPLATE = "inbox/conversation_detail.html#composer"
MESSAGES_TEMPLATE = "inbox/conversation_detail.html#live-messages"
RESYNC_TEMPLATE = "inbox/conversation_detail.html#resync"


def business_group(business_id: int) -> str:
    return f"inbox.business.{business_id}"


def member_group(business_id: int, user_id: int) -> str:
    """One member's open screens of one business (their bell, their notifications)."""
    return f"inbox.user.{business_id}.{user_id}"


def publish_on_commit(
    *, business_id: int, conversation_ids: Iterable[int] = (), message_ids: Iterable[int] = (),
    pane_ids: Iterable[int] | None = None,
) -> None:
    conversation_ids, message_ids = tuple(conversation_ids), tuple(message_ids)
    pane_ids = None if pane_ids is None else tuple(pane_ids)
    transaction.on_commit(
        lambda: publish(
            business_id=business_id, conversation_ids=conversation_ids, message_ids=message_ids, pane_ids=pane_ids
        )
    )


def render_live(
    *, business_id: int, conversation_ids: Iterable[int] = (), message_ids: Iterable[int] = (),
    pane_ids: Iterable[int] | None = None,
) -> str:
    """The HTML fragments for these rows and messages, plus the business's unread counters.

    Also what the action views answer to htmx, so a staff member's own page and everyone else's
    are updated by the same markup. ``pane_ids`` limits the open-conversation header and composer
    to those conversations (ingest knows when a new message cannot have changed them); None
    renders them for every conversation.
    """
    from inbox.selectors import conversations_by_ids, inbox_counters, message_conversation_ids, messages_by_ids

    conversation_ids = sorted({int(pk) for pk in conversation_ids})
    message_ids = sorted({int(pk) for pk in message_ids})
    parts: list[str] = []
    if len(conversation_ids) > MAX_ROWS_PER_PUSH:
        # A batch that touched many conversations: the newest rows go as HTML, the list reloads, and
        # a page showing one of the others reloads its pane.
        dropped, conversation_ids = conversation_ids[:-MAX_ROWS_PER_PUSH], conversation_ids[-MAX_ROWS_PER_PUSH:]
        parts.append(render_to_string(RESYNC_TEMPLATE, {"conversation_ids": dropped, "list": True}))
    panes = None if pane_ids is None else {int(pk) for pk in pane_ids}
    rows = conversations_by_ids(business_id=business_id, ids=conversation_ids)
    if rows:
        parts.append(render_to_string(ROWS_TEMPLATE, {"rows": rows}))
    for conversation in rows:
        if panes is not None and conversation.pk not in panes:
            continue
        context = {"c": conversation, "conversation": conversation, "live": True}
        parts.append(render_to_string(HEADER_TEMPLATE, context))
        parts.append(
            render_to_string(COMPOSER_TEMPLATE, {**context, "window": reply_window(conversation=conversation)})
        )
    if len(message_ids) > MAX_MESSAGES_PER_PUSH:
        # The newest messages go as HTML; a page showing a conversation of the others reloads it.
        dropped = message_ids[:-MAX_MESSAGES_PER_PUSH]
        messages = messages_by_ids(business_id=business_id, ids=message_ids[-MAX_MESSAGES_PER_PUSH:])
        resync = sorted(message_conversation_ids(business_id=business_id, ids=dropped))
        parts.append(render_to_string(RESYNC_TEMPLATE, {"conversation_ids": resync}))
    else:
        messages = messages_by_ids(business_id=business_id, ids=message_ids)
    if messages:
        parts.append(render_to_string(MESSAGES_TEMPLATE, {"messages": messages}))
    parts.append(render_to_string(COUNTERS_TEMPLATE, {"counters": inbox_counters(business_id=business_id)}))
    return "\n".join(part.strip() for part in parts)


def publish(
    *, business_id: int, conversation_ids: Iterable[int] = (), message_ids: Iterable[int] = (),
    pane_ids: Iterable[int] | None = None,
) -> None:
    if not channel_send.has_layer():
        return
    try:
        with push_timer():
            html = render_live(
                business_id=business_id, conversation_ids=conversation_ids, message_ids=message_ids,
                pane_ids=pane_ids,
            )
            channel_send.group_send(business_group(business_id), {"type": "inbox.html", "html": html})
    except Exception:
        # A broadcast is best effort: the rows are committed and pages catch up on reconnect.
        logger.exception("Broadcast to business %s failed", business_id)


# --- one member's screens ---------------------------------------------------------------------------

BELL_TEMPLATE = "inbox/_notification_bell.html"


def render_member_live(*, business_id: int, user_id: int) -> str:
    """What a member's own screens show of their notifications: the bell with its unread count."""
    from inbox.selectors import notification_unread_count

    unread = notification_unread_count(business_id=business_id, user_id=user_id)
    return render_to_string(BELL_TEMPLATE, {"unread": unread, "live": True}).strip()


def publish_to_user(*, business_id: int, user_id: int, html: str | None = None) -> None:
    """Send HTML (by default the member's bell) to every open screen of this member in this business."""
    if not channel_send.has_layer():
        return
    try:
        if html is None:
            html = render_member_live(business_id=business_id, user_id=user_id)
        channel_send.group_send(member_group(business_id, user_id), {"type": "inbox.html", "html": html})
    except Exception:
        logger.exception("Push to member %s of business %s failed", user_id, business_id)


def publish_to_user_on_commit(*, business_id: int, user_id: int) -> None:
    transaction.on_commit(lambda: publish_to_user(business_id=business_id, user_id=user_id))


# --- fragments a feature renders itself (the contact panel) -------------------------------------------


def publish_html_on_commit(*, business_id: int, render: Callable[[], str]) -> None:
    """After commit, send the fragments ``render()`` returns then (each with an id the page places) to every
    open screen of the business: rendered after the commit, they show the committed rows."""

    def send() -> None:
        if not channel_send.has_layer():
            return
        try:
            html = render()
            if html:
                channel_send.group_send(business_group(business_id), {"type": "inbox.html", "html": html})
        except Exception:
            logger.exception("Broadcast to business %s failed", business_id)

    transaction.on_commit(send)
