"""Private notes: staff write to each other inside a conversation; the customer never sees them.

A note is a `ChatMessage` of kind NOTE with direction INTERNAL, so every path that talks to Meta
(the `message_send` task, retries, the Retry button) passes it by: they all read outbound rows only,
and `reply_deliver` excludes notes by kind as well. A note has no `mid` and no `client_token`, so no
echo, receipt, reaction or edit from Meta can ever match it.

What a note does not change, by decision:
- the customer side of the conversation: the reply window, the replied state of customer messages,
  unread counts, and the row's latest message (time, preview, direction) stay as they were, so the
  list keeps its order and the row never shows a note as if it were a message to or from the customer;
- it is not a reply: `is_replied` of the customer's messages is untouched.

Mentions: `@Name` (a member's display name, or the local part of their email) names a member of this
business; anything else after an @ is plain text. Each mentioned member gets a row in `NoteMention`
(the *Mentions* view) and a "mentioned" notification; the author is never notified of themself.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

from accounts.selectors import member_display_name
from accounts.services import audit_record
from inbox.models import ChatMessage, NoteMention
from inbox.realtime import publish_on_commit
from inbox.services.notifications import notification_create
from inbox.text import clean_text, truncate

if TYPE_CHECKING:
    from accounts.models import Business, User
    from inbox.models import Conversation

NOTE_MAX_CHARS = 5000
MENTIONS_KEY = "mentions"
MENTION_TEXT_KEY = "mention_text"
_WORD = re.compile(r"\w", re.UNICODE)


class NoteError(Exception):
    """A note that cannot be stored as written; the message is shown to staff as it is."""


def _member_names(*, business: Business) -> list[tuple[str, int]]:
    """(name, user id) for every way a member can be mentioned, the longest first."""
    from accounts.models import Membership

    names: list[tuple[str, int]] = []
    for membership in Membership.objects.for_business(business).select_related("user"):
        user = membership.user
        for name in {member_display_name(user), user.email.split("@")[0]}:
            if name:
                names.append((name.casefold(), user.pk))
    return sorted(names, key=lambda pair: -len(pair[0]))


def _mention_matches(*, business: Business, text: str) -> list[tuple[int, str]]:
    """(user id, the text after @ that named them) for each mention of a member, in order."""
    if "@" not in text:
        return []
    names = _member_names(business=business)
    folded = text.casefold()
    found: list[tuple[int, str]] = []
    for match in re.finditer("@", text):
        start = match.end()
        if match.start() > 0 and _WORD.match(text[match.start() - 1]):
            continue  # an email address, not a mention
        for name, user_id in names:
            end = start + len(name)
            # casefold() can change a string's length; compare on the folded text, cut the original.
            if (
                folded[start:end] == name
                and len(folded) == len(text)
                and (end == len(text) or not _WORD.match(text[end]))
            ):
                found.append((user_id, text[start:end]))
                break
    return found


def mentions_parse(*, business: Business, text: str) -> list[int]:
    """The ids of this business's members named with @ in the text, in order of first mention."""
    ids: list[int] = []
    for user_id, _ in _mention_matches(business=business, text=text):
        if user_id not in ids:
            ids.append(user_id)
    return ids


def note_create(*, conversation: Conversation, user: User, text: str) -> ChatMessage:
    """Store a private note (never sent), record its mentions, notify the mentioned, push it live."""
    text = clean_text(text).strip()
    if not text:
        raise NoteError("Write a note.")
    if len(text) > NOTE_MAX_CHARS:
        raise NoteError(f"A note may have at most {NOTE_MAX_CHARS} characters.")
    business = conversation.business
    matches = _mention_matches(business=business, text=text)
    mentioned = list(dict.fromkeys(user_id for user_id, _ in matches))
    # The words that named someone, so the thread can mark them without looking the members up again.
    named = sorted({f"@{words}" for _, words in matches}, key=len, reverse=True)
    now = timezone.now()
    with transaction.atomic():
        note = ChatMessage.objects.create(
            business_id=conversation.business_id,
            platform=conversation.platform,
            account_id=conversation.account_id,
            conversation=conversation,
            direction=ChatMessage.Direction.INTERNAL,
            kind=ChatMessage.Kind.NOTE,
            source=ChatMessage.Source.INBOX,
            sender_name=clean_text(member_display_name(user), max_length=255),
            content=text,
            timestamp=now,
            status=ChatMessage.Status.RECEIVED,
            is_read=True,
            sent_by=user,
            extra={MENTIONS_KEY: mentioned, MENTION_TEXT_KEY: named} if mentioned else {},
        )
        NoteMention.objects.bulk_create(
            [
                NoteMention(
                    business_id=conversation.business_id,
                    note=note,
                    conversation=conversation,
                    user_id=user_id,
                    created_at=now,
                )
                for user_id in mentioned
            ]
        )
        audit_record(
            action="message.note_added",
            business=business,
            actor=user,
            target=note,
            metadata={"conversation_id": conversation.pk, "mentions": mentioned},
        )
        if mentioned:
            from accounts.models import User as UserModel

            author = member_display_name(user)
            excerpt = truncate(" ".join(text.split()), 120)
            for recipient in UserModel.objects.filter(pk__in=mentioned):
                notification_create(
                    business=business,
                    recipient=recipient,
                    kind="mentioned",
                    conversation=conversation,
                    actor=user,
                    text=f"{author} mentioned you: {excerpt}",
                )
        publish_on_commit(business_id=conversation.business_id, message_ids=[note.pk])
    return note
