"""Comments on a Page's posts and on Instagram media, from ``entry[].changes[]`` (docs/messenger-platform.md
"Comments on posts and media").

Pure, like ``inbox.facebook.parsing`` (which calls ``comment_change`` for the ``feed`` and ``comments``
fields): a change becomes a ``CommentChange``, ``None`` when it is a kind of change we do not show
(a new post, a reaction, a like), or raises ``ValueError`` with a reason safe to log (no comment text).

Meta's shapes, from its published examples:

* Page ``feed`` (Webhooks reference, "Page" object, field ``feed``)::

    {"field": "feed", "value": {"from": {"id": "<USER_ID>", "name": "Test User"},
     "post": {"status_type": "added_photos", "is_published": true, "permalink_url": "https://...",
              "id": "<PAGE_POST_ID>"},
     "message": "Example comment", "post_id": "<PAGE_POST_ID>", "comment_id": "<COMMENT_ID>",
     "created_time": 1668708302, "item": "comment", "parent_id": "<PARENT_ID>", "verb": "add"}}

  ``parent_id`` is the post's id for a comment on the post, a comment's id for a reply to it.
* Instagram ``comments`` (Instagram Webhooks reference, field ``comments``)::

    {"field": "comments", "value": {"from": {"id": "232323232", "username": "test"},
     "media": {"id": "123123123", "media_product_type": "FEED"}, "id": "17865799348089039",
     "parent_id": "1231231234", "text": "This is an example."}}

  Instagram sends new comments only (no edits, removals or hides), timed by ``entry.time``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Final

from inbox.facebook.events import FACEBOOK, INSTAGRAM, CommentChange, Platform

COMMENT_FIELDS: Final = frozenset({"feed", "comments"})
FEED_VERBS: Final = frozenset({"add", "edited", "remove", "hide", "unhide"})

TimeParser = Callable[[object], datetime | None]


def _id(value: object) -> str:
    if isinstance(value, bool):
        return ""
    if isinstance(value, int):
        return str(value)
    return value if isinstance(value, str) else ""


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def comment_change(
    *, field: str, value: dict[str, Any], platform: Platform, account_id: str, entry_time: object,
    parse_time: TimeParser,
) -> CommentChange | None:
    """The comment a ``feed`` (Page) or ``comments`` (Instagram) change is about; see the module docstring."""
    if platform == INSTAGRAM and field == "comments":
        return _instagram(value, account_id=account_id, entry_time=entry_time, parse_time=parse_time)
    if platform == FACEBOOK and field == "feed":
        return _feed(value, account_id=account_id, entry_time=entry_time, parse_time=parse_time)
    return None


def _feed(value: dict[str, Any], *, account_id: str, entry_time: object, parse_time: TimeParser) -> CommentChange | None:
    if value.get("item") != "comment":
        return None  # posts, reactions, likes, shares: not a conversation
    comment_id = _id(value.get("comment_id"))
    if not comment_id:
        raise ValueError("feed comment has no comment_id")
    verb = _str(value.get("verb"))
    if verb not in FEED_VERBS:
        raise ValueError(f"feed comment verb {verb[:20]!r} is not one of {sorted(FEED_VERBS)}")
    sender = _dict(value.get("from"))
    sender_id = _id(sender.get("id"))
    if not sender_id and verb == "add":
        raise ValueError("feed comment has no from.id")
    post = _dict(value.get("post"))
    post_id = _id(value.get("post_id")) or _id(post.get("id"))
    parent_id = _id(value.get("parent_id"))
    return CommentChange(
        platform=FACEBOOK,
        account_id=account_id,
        sender_id=sender_id,
        recipient_id=account_id,
        timestamp=parse_time(value.get("created_time")) or parse_time(entry_time),
        raw=value,
        comment_id=comment_id,
        verb=verb,
        post_id=post_id,
        # A comment on the post names the post as its parent: only a reply has a parent comment.
        parent_id="" if parent_id == post_id else parent_id,
        text=_str(value.get("message")),
        sender_name=_str(sender.get("name")),
        post_permalink=_str(post.get("permalink_url")),
    )


def _instagram(
    value: dict[str, Any], *, account_id: str, entry_time: object, parse_time: TimeParser
) -> CommentChange:
    comment_id = _id(value.get("id"))
    if not comment_id:
        raise ValueError("instagram comment has no id")
    sender = _dict(value.get("from"))
    sender_id = _id(sender.get("id"))
    if not sender_id:
        raise ValueError("instagram comment has no from.id")
    media = _dict(value.get("media"))
    return CommentChange(
        platform=INSTAGRAM,
        account_id=account_id,
        sender_id=sender_id,
        recipient_id=account_id,
        timestamp=parse_time(entry_time),
        raw=value,
        comment_id=comment_id,
        verb="add",
        post_id=_id(media.get("id")),
        parent_id=_id(value.get("parent_id")),
        text=_str(value.get("text")),
        sender_name=_str(sender.get("username")),
        media_product_type=_str(media.get("media_product_type")),
    )


__all__ = ["COMMENT_FIELDS", "comment_change"]
