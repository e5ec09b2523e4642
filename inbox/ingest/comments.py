"""Comments on posts and media (``CommentChange``), applied idempotently, and the private reply's echo.

A comment thread is a ``Conversation`` of kind ``comments``, one per commenter per post (as Chatwoot
does): staff answer, assign and resolve a person, not a post where hundreds of people talk at once,
and a private reply goes to one person. Because a contact has one conversation per account (the
unique ``(account, contact)``), the thread's contact stands for "this person on this post": its
``external_id`` is a key made from both (``comment_contact_key``), never a PSID, so no Messenger event
lands in it and no profile lookup is queued for it. The commenter's own id is kept on the conversation.

Each comment is a ``ChatMessage`` of kind ``comment`` whose ``message_id`` is Meta's comment id, stored
once per ``(account, mid)`` like messages (``rows.insert_ignoring_conflicts``). Edits, removals and
hides change that row. The page's own comments (``from.id`` is the account) are outbound and go to
the thread of the comment they answer; one typed here is confirmed by Meta's comment id, or by its text
when the webhook overtook the answer of ``POST /{comment-id}/comments``.

A private reply is sent with ``metadata`` naming the comment (``PRIVATE_REPLY_METADATA``); its echo
comes from the commenter's Messenger conversation (their PSID), which the comment thread then links to.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from typing import TYPE_CHECKING, Any

from django.db.models import F
from django.utils import timezone

from inbox.facebook.events import CommentChange, MessageEvent
from inbox.ingest.changes import Touched
from inbox.ingest.rows import insert_ignoring_conflicts
from inbox.models import ChatMessage, Contact, Conversation, conversation_participants
from inbox.services.comments import PRIVATE_REPLY_METADATA, comment_post_fetch_enqueue
from inbox.text import clean_text

if TYPE_CHECKING:
    from collections.abc import Mapping

    from social.models import SocialAccount

logger = logging.getLogger(__name__)

COMMENT_CONTACT_PREFIX = "comment:"
MID_LENGTH = ChatMessage._meta.get_field("message_id").max_length
PREVIEW_LENGTH = Conversation._meta.get_field("last_message_preview").max_length
EXCERPT_LENGTH = Conversation._meta.get_field("post_excerpt").max_length
NAME_LENGTH = ChatMessage._meta.get_field("sender_name").max_length
Kind, Direction, Status = ChatMessage.Kind, ChatMessage.Direction, ChatMessage.Status


def comment_contact_key(*, post_id: str, commenter_id: str) -> str:
    """The thread contact's ``external_id``: fixed length, whatever the lengths of Meta's ids."""
    digest = hashlib.sha256(f"{post_id}\n{commenter_id}".encode()).hexdigest()[:40]
    return COMMENT_CONTACT_PREFIX + digest


def comment_apply(account: SocialAccount, event: CommentChange) -> Touched:
    """Store or update the comment ``event`` names; what changed on open screens."""
    mid = clean_text(event.comment_id, max_length=MID_LENGTH)
    if event.verb == "add":
        if event.sender_id == account.account_id:
            return _own_comment(account, event, mid)
        return _customer_comment(account, event, mid)
    message = ChatMessage.objects.filter(account=account, message_id=mid, kind=Kind.COMMENT).first()
    if message is None:
        # An edit or removal of a comment we never stored (before connecting): nothing to show.
        logger.info("Comment %s of account %s is not stored; %s ignored", mid, account.pk, event.verb)
        return Touched()
    return _update(message, event)


def _thread_of(account: SocialAccount, event: CommentChange) -> Conversation:
    """The commenter's thread on this post, created the first time (two workers: the constraints decide)."""
    commenter = clean_text(event.sender_id, max_length=64)
    key = comment_contact_key(post_id=event.post_id, commenter_id=commenter)
    name = clean_text(event.sender_name, max_length=255)
    instagram = event.platform == "INSTAGRAM"
    insert_ignoring_conflicts(
        Contact,
        [{
            "business_id": account.business_id, "account_id": account.pk, "platform": account.platform,
            "external_id": key, "name": "" if instagram else name, "username": name if instagram else "",
            # Meta named them in the comment; their profile is not for us to look up by this key.
            "profile_state": Contact.ProfileState.FETCHED, "profile_fetched_at": timezone.now(),
        }],
        conflict=("account", "external_id"),
        returning=("pk",),
    )
    contact = Contact.objects.get(account=account, external_id=key)
    participant_ids, participant_names = conversation_participants(contact=contact, account=account)
    when = event.timestamp or timezone.now()
    created = insert_ignoring_conflicts(
        Conversation,
        [{
            "business_id": account.business_id, "platform": account.platform, "account_id": account.pk,
            "contact_id": contact.pk, "participant_ids": participant_ids, "participant_names": participant_names,
            "last_message_at": when, "kind": Conversation.Kind.COMMENTS,
            "post_id": clean_text(event.post_id, max_length=128), "commenter_id": commenter,
            "post_permalink": _url(event.post_permalink, 1000), "post_picture": _url(event.post_picture, 2000),
            "post_excerpt": _post_excerpt(event),
        }],
        conflict=("account", "contact"),
        returning=("pk",),
    )
    conversation = Conversation.objects.select_related("contact").get(account=account, contact=contact)
    conversation.account = account
    if created:
        comment_post_fetch_enqueue(conversation_id=conversation.pk)
    return conversation


def _post_excerpt(event: CommentChange) -> str:
    found = event.raw.get("post")
    post: dict = found if isinstance(found, dict) else {}
    text = post.get("message") if isinstance(post.get("message"), str) else ""
    if not text and event.media_product_type:
        text = {"REELS": "Reel", "STORY": "Story", "AD": "Ad"}.get(event.media_product_type, "Post")
    return clean_text(text, max_length=EXCERPT_LENGTH)


def _url(value: str, length: int) -> str:
    return value[:length] if value.startswith(("https://", "http://")) else ""


def _row(account: SocialAccount, conversation: Conversation, event: CommentChange, mid: str, *,
         inbound: bool) -> dict[str, Any]:
    when = event.timestamp or timezone.now()
    return {
        "business_id": account.business_id, "platform": account.platform, "account_id": account.pk,
        "conversation_id": conversation.pk, "message_id": mid,
        "direction": Direction.INBOUND if inbound else Direction.OUTBOUND, "kind": Kind.COMMENT,
        "source": ChatMessage.Source.CUSTOMER if inbound else ChatMessage.Source.META,
        "sender_id": clean_text(event.sender_id, max_length=64),
        "sender_name": clean_text(
            conversation.contact.display_name if inbound else account.account_name, max_length=NAME_LENGTH
        ),
        "content": clean_text(event.text), "timestamp": when, "received_at": event.received_at,
        "status": Status.RECEIVED if inbound else Status.SENT, "sent_at": None if inbound else when,
        "extra": {"comment": {"post_id": clean_text(event.post_id, max_length=128),
                              "parent_id": clean_text(event.parent_id, max_length=MID_LENGTH)}},
        "reply_to_mid": clean_text(event.parent_id, max_length=MID_LENGTH),
    }


def _customer_comment(account: SocialAccount, event: CommentChange, mid: str) -> Touched:
    conversation = _thread_of(account, event)
    inserted = insert_ignoring_conflicts(
        ChatMessage, [_row(account, conversation, event, mid, inbound=True)],
        conflict=("account", "message_id"), returning=("pk",),
    )
    if not inserted:
        return Touched()  # a redelivery
    (pk,), when = inserted[0], event.timestamp or timezone.now()
    bump: dict[str, Any] = {"unread_count": F("unread_count") + 1, "updated_at": timezone.now()}
    if when >= conversation.last_message_at or conversation.last_message_preview == "":
        bump.update(last_message_at=when, last_message_preview=clean_text(event.text, max_length=PREVIEW_LENGTH),
                    last_message_direction=Direction.INBOUND)
    if conversation.status != Conversation.Status.OPEN:
        bump.update(status=Conversation.Status.OPEN, snoozed_until=None)
    Conversation.objects.filter(pk=conversation.pk).update(**bump)
    return Touched(conversation_ids={conversation.pk}, message_ids={pk}, pane_ids={conversation.pk})


def _own_comment(account: SocialAccount, event: CommentChange, mid: str) -> Touched:
    parent = clean_text(event.parent_id, max_length=MID_LENGTH)
    answered = (
        ChatMessage.objects.select_related("conversation__contact")
        .filter(account=account, message_id=parent, kind=Kind.COMMENT).first() if parent else None
    )
    if answered is None:
        # The page's own post comment, or an answer to a comment we never stored: no thread to put it in.
        logger.info("Page comment %s of account %s answers no stored comment; ignored", mid, account.pk)
        return Touched()
    conversation = answered.conversation
    if ChatMessage.objects.filter(account=account, message_id=mid).exists():
        return Touched()  # ours, already confirmed by Meta's answer; or a redelivery
    ours = (
        ChatMessage.objects.filter(
            conversation=conversation, kind=Kind.COMMENT, direction=Direction.OUTBOUND, message_id__isnull=True,
            content=clean_text(event.text), reply_to_mid=parent,
        ).order_by("pk").first()
    )
    if ours is not None:
        ChatMessage.objects.filter(pk=ours.pk).update(
            message_id=mid, status=Status.SENT, sent_at=event.timestamp or timezone.now(), error="",
            updated_at=timezone.now(),
        )
        return Touched(conversation_ids={conversation.pk}, message_ids={ours.pk})
    inserted = insert_ignoring_conflicts(
        ChatMessage, [_row(account, conversation, event, mid, inbound=False)],
        conflict=("account", "message_id"), returning=("pk",),
    )
    if not inserted:
        return Touched()
    ChatMessage.objects.filter(pk=answered.pk).update(is_replied=True, is_read=True)
    Conversation.objects.filter(pk=conversation.pk).update(
        last_message_at=event.timestamp or timezone.now(), last_message_direction=Direction.OUTBOUND,
        last_message_preview=clean_text(event.text, max_length=PREVIEW_LENGTH), updated_at=timezone.now(),
    )
    return Touched(conversation_ids={conversation.pk}, message_ids={inserted[0][0]})


def _update(message: ChatMessage, event: CommentChange) -> Touched:
    extra = dict(message.extra or {})
    comment = dict(extra.get("comment") or {})
    fields: dict[str, Any] = {}
    if event.verb == "edited":
        text = clean_text(event.text)
        if text == message.content:
            return Touched()  # a redelivery of the same edit
        comment["previous"] = [*comment.get("previous", [])[-9:], message.content]
        fields.update(content=text, edit_count=F("edit_count") + 1)
    elif event.verb == "remove":
        if message.is_deleted:
            return Touched()
        fields["is_deleted"] = True
    else:  # hide / unhide
        hidden = event.verb == "hide"
        if bool(comment.get("hidden")) == hidden:
            return Touched()
        comment["hidden"] = hidden
    extra["comment"] = comment
    ChatMessage.objects.filter(pk=message.pk).update(**fields, extra=extra, updated_at=timezone.now())
    return Touched(conversation_ids={message.conversation_id}, message_ids={message.pk})


def private_reply_echo_apply(
    account: SocialAccount, event: MessageEvent, conversations: Mapping[str, Conversation]
) -> Touched:
    """The echo of a private reply sent from here: link the comment thread to the commenter's Messenger
    conversation (the echo names their PSID) and mark the reply sent."""
    metadata = event.metadata or ""
    if not event.is_echo or not metadata.startswith(PRIVATE_REPLY_METADATA):
        return Touched()
    try:
        public_id = uuid.UUID(metadata.removeprefix(PRIVATE_REPLY_METADATA))
    except ValueError:  # not a UUID: someone else's metadata
        return Touched()
    comment = ChatMessage.objects.filter(account=account, kind=Kind.COMMENT, public_id=public_id).first()
    messenger = conversations.get(clean_text(event.customer_id, max_length=64))
    if comment is None or messenger is None:
        return Touched()
    extra = dict(comment.extra or {})
    reply = dict(extra.get("private_reply") or {})
    reply.update(
        state="sent", mid=clean_text(event.mid, max_length=MID_LENGTH), conversation_id=messenger.pk,
        conversation_public_id=str(messenger.public_id),
    )
    extra["private_reply"] = reply
    ChatMessage.objects.filter(pk=comment.pk).update(extra=extra, updated_at=timezone.now())
    Conversation.objects.filter(pk=comment.conversation_id).update(
        linked_conversation_id=messenger.pk, updated_at=timezone.now()
    )
    return Touched(conversation_ids={comment.conversation_id}, message_ids={comment.pk},
                   pane_ids={comment.conversation_id})
