"""Staff actions on comments: a public reply, hide / unhide, delete, and a private reply in Messenger.

A public reply and a private reply are background sends (``inbox.tasks.comment_reply_send``,
``inbox.tasks.comment_private_reply_send``, retried by the base task on Meta's transient errors); hide
and delete are asked of Meta while staff wait, and Meta's refusal is shown to them as it is. Each action
is audited and pushed to every open screen of the business.

Meta's rules for a private reply, checked here before calling it: one per comment, within 7 days of
the comment. It goes through the Send API with ``recipient: {comment_id}`` and ``metadata`` naming the
comment, so the echo (from the commenter's PSID) links the comment thread to the Messenger conversation
it continues in (``inbox.ingest.comments.private_reply_echo_apply``).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone

from accounts.services import audit_record
from config.tasks import enqueue_on_commit
from inbox.models import ChatMessage, Conversation
from inbox.realtime import publish_on_commit
from inbox.text import clean_text

if TYPE_CHECKING:
    import uuid

    from accounts.models import Business, User

logger = logging.getLogger(__name__)

PRIVATE_REPLY_METADATA = "comment-private-reply:"
PRIVATE_REPLY_WINDOW = timedelta(days=7)
# Meta's limits: a comment of up to 8,000 characters; a Messenger text of 2,000, an Instagram one of 1,000 bytes.
COMMENT_TEXT_MAX = 8000
MESSENGER_TEXT_MAX = 2000
INSTAGRAM_TEXT_MAX_BYTES = 1000
Kind, Direction, Status = ChatMessage.Kind, ChatMessage.Direction, ChatMessage.Status


class CommentError(Exception):
    """An action that cannot be done as asked; the message is shown to staff as it is."""


def _instagram(message: ChatMessage) -> bool:
    return message.platform == "INSTAGRAM"


def _check_comment(comment: ChatMessage, *, customers_only: bool = True) -> None:
    if comment.kind != Kind.COMMENT or not comment.message_id:
        raise CommentError("That is not a comment Meta knows.")
    if customers_only and comment.direction != Direction.INBOUND:
        raise CommentError("Only a customer's comment can be answered or hidden this way.")
    if comment.is_deleted:
        raise CommentError("This comment was deleted.")


def _text(text: str, *, limit: int, what: str) -> str:
    text = clean_text(text).strip()
    if not text:
        raise CommentError(f"Write the {what} first.")
    if len(text) > limit:
        raise CommentError(f"The {what} is too long: at most {limit:,} characters.")
    return text


def _publish(comment: ChatMessage, *message_ids: int, pane: bool = False) -> None:
    publish_on_commit(
        business_id=comment.business_id, conversation_ids=[comment.conversation_id],
        message_ids=[comment.pk, *message_ids], pane_ids=[comment.conversation_id] if pane else (),
    )


# --- public reply -----------------------------------------------------------------------------------


def comment_reply_public(*, comment: ChatMessage, user: User, text: str) -> ChatMessage:
    """Queue a public reply under ``comment`` (sent after commit); returns the queued reply."""
    _check_comment(comment, customers_only=False)
    text = _text(text, limit=COMMENT_TEXT_MAX, what="reply")
    now = timezone.now()
    with transaction.atomic():
        reply = ChatMessage.objects.create(
            business_id=comment.business_id, platform=comment.platform, account_id=comment.account_id,
            conversation_id=comment.conversation_id, direction=Direction.OUTBOUND, kind=Kind.COMMENT,
            source=ChatMessage.Source.INBOX, sender_id=comment.account.account_id,
            sender_name=clean_text(user.display_name, max_length=255), content=text, timestamp=now,
            status=Status.QUEUED, is_read=True, sent_by=user, reply_to=comment, reply_to_mid=comment.message_id or "",
            extra={"comment": {"post_id": comment.conversation.post_id, "parent_id": comment.message_id}},
        )
        ChatMessage.objects.filter(pk=comment.pk).update(is_replied=True, is_read=True)
        Conversation.objects.filter(pk=comment.conversation_id, last_message_at__lte=now).update(
            last_message_at=now, last_message_preview=clean_text(text, max_length=255),
            last_message_direction=Direction.OUTBOUND,
        )
        audit_record(action="comment.reply_queued", business=comment.business, actor=user, target=reply,
                     metadata={"conversation_id": comment.conversation_id, "comment_id": comment.message_id})
        enqueue_on_commit("inbox.tasks.comment_reply_send", reply.pk, on_error=lambda: comment_reply_fail(
            message_id=reply.pk, error="The reply could not be queued for sending. Try again."))
        _publish(comment, reply.pk)
    return reply


def comment_reply_deliver(*, message_id: int) -> str:
    """Post one queued public reply; "sent", "failed" or "skipped". A transient Meta error is raised
    for the task to retry."""
    from social.graph import GraphAPIError, TransientGraphError
    from social.services import account_graph_client

    reply = ChatMessage.objects.select_related("account", "business").filter(
        pk=message_id, kind=Kind.COMMENT, direction=Direction.OUTBOUND
    ).first()
    if reply is None or reply.message_id or reply.status != Status.QUEUED:
        return "skipped"
    client = account_graph_client(reply.account)
    try:
        result = client.comment_reply(comment_id=reply.reply_to_mid, message=reply.content,
                                      instagram=_instagram(reply))
    except TransientGraphError:
        raise
    except GraphAPIError as exc:
        comment_reply_fail(message_id=reply.pk, error=exc.message or str(exc), error_code=exc.code)
        return "failed"
    new_id = clean_text(str(result.get("id") or ""), max_length=255)
    with transaction.atomic():
        if new_id:
            # Meta's webhook of this reply may have overtaken its answer and been stored on its own.
            ChatMessage.objects.filter(account_id=reply.account_id, message_id=new_id).exclude(pk=reply.pk).delete()
        ChatMessage.objects.filter(pk=reply.pk).update(
            message_id=new_id or None, status=Status.SENT, sent_at=timezone.now(), error="", error_code=None,
        )
        audit_record(action="comment.reply_sent", business=reply.business, target=reply,
                     metadata={"conversation_id": reply.conversation_id, "comment_id": new_id})
        publish_on_commit(business_id=reply.business_id, conversation_ids=[reply.conversation_id],
                          message_ids=[reply.pk])
    return "sent"


def comment_reply_fail(*, message_id: int, error: str, error_code: int | None = None) -> bool:
    """Mark a queued public reply failed with Meta's reason; True when this call changed it."""
    with transaction.atomic():
        reply = ChatMessage.objects.select_related("business").filter(pk=message_id).first()
        if reply is None:
            return False
        error = clean_text(error)[:2000]
        updated = ChatMessage.objects.filter(pk=message_id, status=Status.QUEUED, message_id__isnull=True).update(
            status=Status.FAILED, error=error, error_code=error_code
        )
        if updated:
            audit_record(action="comment.reply_failed", business=reply.business, target=reply,
                         metadata={"conversation_id": reply.conversation_id, "error": error[:500]})
            publish_on_commit(business_id=reply.business_id, conversation_ids=[reply.conversation_id],
                              message_ids=[message_id])
    return bool(updated)


# --- hide and delete (staff wait for Meta's answer) ------------------------------------------------


def comment_hide(*, comment: ChatMessage, user: User, hidden: bool) -> ChatMessage:
    """Hide (or show again) a customer's comment on Meta; raises ``CommentError`` with Meta's refusal."""
    from social.graph import GraphAPIError
    from social.services import account_graph_client

    _check_comment(comment)
    client = account_graph_client(comment.account, actor=user)
    try:
        client.comment_hide(comment_id=comment.message_id or "", hidden=hidden, instagram=_instagram(comment))
    except GraphAPIError as exc:
        raise CommentError(f"Meta refused: {exc.message or exc}") from exc
    with transaction.atomic():
        extra = dict(comment.extra or {})
        extra["comment"] = {**(extra.get("comment") or {}), "hidden": hidden}
        ChatMessage.objects.filter(pk=comment.pk).update(extra=extra, updated_at=timezone.now())
        audit_record(action="comment.hidden" if hidden else "comment.unhidden", business=comment.business,
                     actor=user, target=comment,
                     metadata={"conversation_id": comment.conversation_id, "comment_id": comment.message_id})
        _publish(comment)
    comment.extra = extra
    return comment


def comment_delete(*, comment: ChatMessage, user: User) -> ChatMessage:
    """Delete a comment on Meta (a customer's or the page's own); raises ``CommentError`` with Meta's refusal."""
    from social.graph import GraphAPIError
    from social.services import account_graph_client

    _check_comment(comment, customers_only=False)
    client = account_graph_client(comment.account, actor=user)
    try:
        client.comment_delete(comment_id=comment.message_id or "")
    except GraphAPIError as exc:
        raise CommentError(f"Meta refused: {exc.message or exc}") from exc
    with transaction.atomic():
        ChatMessage.objects.filter(pk=comment.pk).update(is_deleted=True, updated_at=timezone.now())
        audit_record(action="comment.deleted", business=comment.business, actor=user, target=comment,
                     metadata={"conversation_id": comment.conversation_id, "comment_id": comment.message_id})
        _publish(comment)
    comment.is_deleted = True
    return comment


# --- private reply -----------------------------------------------------------------------------------


def private_reply_problem(comment: ChatMessage, *, now: Any = None) -> str:
    """Why Meta would refuse a private reply to ``comment`` now; "" when it may be sent."""
    if comment.kind != Kind.COMMENT or comment.direction != Direction.INBOUND or not comment.message_id:
        return "Only a customer's comment can get a private reply."
    if comment.is_deleted:
        return "This comment was deleted."
    state = ((comment.extra or {}).get("private_reply") or {}).get("state")
    if state in ("queued", "sent"):
        return "A private reply was already sent for this comment: Meta allows one per comment."
    age = (now or timezone.now()) - comment.timestamp
    if age > PRIVATE_REPLY_WINDOW:
        return f"Meta allows a private reply within 7 days of the comment; this one is {age.days} days old."
    return ""


def comment_private_reply(*, comment: ChatMessage, user: User, text: str) -> ChatMessage:
    """Queue the one private reply Meta allows for ``comment``; raises ``CommentError`` when Meta would refuse."""
    text = _text(text, limit=MESSENGER_TEXT_MAX, what="private reply")
    if _instagram(comment) and len(text.encode()) > INSTAGRAM_TEXT_MAX_BYTES:
        raise CommentError(f"The private reply is too long: Instagram takes at most {INSTAGRAM_TEXT_MAX_BYTES:,} bytes.")
    with transaction.atomic():
        # Locked: two staff pressing send at once must not both pass the one-per-comment rule.
        locked = ChatMessage.objects.select_for_update().get(pk=comment.pk)
        problem = private_reply_problem(locked)
        if problem:
            raise CommentError(problem)
        extra = dict(locked.extra or {})
        extra["private_reply"] = {"state": "queued", "text": text, "by": user.pk, "by_name": user.display_name,
                                  "at": timezone.now().isoformat()}
        ChatMessage.objects.filter(pk=comment.pk).update(extra=extra, is_replied=True, is_read=True,
                                                         updated_at=timezone.now())
        audit_record(action="comment.private_reply_queued", business=comment.business, actor=user, target=comment,
                     metadata={"conversation_id": comment.conversation_id, "comment_id": comment.message_id})
        enqueue_on_commit("inbox.tasks.comment_private_reply_send", comment.pk, on_error=lambda: private_reply_fail(
            comment_id=comment.pk, error="The private reply could not be queued for sending. Try again."))
        _publish(comment, pane=True)
    comment.extra = extra
    return comment


def _private_reply_update(comment_id: int, **fields: Any) -> ChatMessage | None:
    """Merge ``fields`` into the comment's private reply, on a locked row (the echo may write it too)."""
    comment = ChatMessage.objects.select_for_update().select_related("business").filter(pk=comment_id).first()
    if comment is None:
        return None
    extra = dict(comment.extra or {})
    extra["private_reply"] = {**(extra.get("private_reply") or {}), **fields}
    ChatMessage.objects.filter(pk=comment_id).update(extra=extra, updated_at=timezone.now())
    comment.extra = extra
    return comment


def comment_private_reply_deliver(*, comment_id: int) -> str:
    """Send a queued private reply; "sent", "failed" or "skipped". A transient error is raised for the
    task to retry."""
    from social.graph import GraphAPIError, TransientGraphError
    from social.services import account_graph_client

    comment = ChatMessage.objects.select_related("account").filter(pk=comment_id, kind=Kind.COMMENT).first()
    reply = ((comment.extra or {}).get("private_reply") or {}) if comment else {}
    if comment is None or reply.get("state") != "queued":
        return "skipped"
    client = account_graph_client(comment.account)
    try:
        result = client.private_reply(comment_id=comment.message_id or "", text=str(reply.get("text") or ""),
                                      metadata=f"{PRIVATE_REPLY_METADATA}{comment.public_id}")
    except TransientGraphError:
        raise
    except GraphAPIError as exc:
        private_reply_fail(comment_id=comment.pk, error=exc.message or str(exc), error_code=exc.code)
        return "failed"
    with transaction.atomic():
        updated = _private_reply_update(comment.pk, state="sent",
                                        mid=clean_text(str(result.get("message_id") or ""), max_length=255))
        if updated is not None:
            audit_record(action="comment.private_reply_sent", business=updated.business, target=updated,
                         metadata={"conversation_id": updated.conversation_id})
            _publish(updated, pane=True)
    return "sent"


def private_reply_fail(*, comment_id: int, error: str, error_code: int | None = None) -> bool:
    """Record Meta's refusal of a queued private reply (staff may then try again)."""
    with transaction.atomic():
        comment = ChatMessage.objects.filter(pk=comment_id).first()
        if comment is None or ((comment.extra or {}).get("private_reply") or {}).get("state") != "queued":
            return False
        error = clean_text(error)[:500]
        updated = _private_reply_update(comment_id, state="failed", error=error, error_code=error_code)
        if updated is not None:
            audit_record(action="comment.private_reply_failed", business=updated.business, target=updated,
                         metadata={"conversation_id": updated.conversation_id, "error": error})
            _publish(updated, pane=True)
    return True


# --- the post a thread is on --------------------------------------------------------------------------


def comment_post_fetch_enqueue(*, conversation_id: int) -> None:
    """Ask Meta what a new comment thread's post says (its webhook names the post only)."""
    enqueue_on_commit("inbox.tasks.comment_post_fetch", conversation_id)


def comment_post_fetch(*, conversation_id: int) -> bool:
    """Store the post's excerpt, link and picture on the thread; False when Meta would not say (the thread
    keeps "a post"). A transient Meta error is raised for the task to retry."""
    from social.graph import GraphAPIError, TransientGraphError
    from social.services import account_graph_client

    conversation = Conversation.objects.select_related("account").filter(
        pk=conversation_id, kind=Conversation.Kind.COMMENTS
    ).first()
    if conversation is None or not conversation.post_id:
        return False
    instagram = conversation.platform == "INSTAGRAM"
    try:
        details = account_graph_client(conversation.account).post_details(post_id=conversation.post_id,
                                                                          instagram=instagram)
    except TransientGraphError:
        raise
    except GraphAPIError as exc:
        logger.info("Post %s of conversation %s not readable: %s", conversation.post_id, conversation_id, exc)
        return False
    text = details.get("caption" if instagram else "message")
    link = details.get("permalink" if instagram else "permalink_url")
    picture = (details.get("thumbnail_url") or details.get("media_url")) if instagram else details.get("full_picture")
    fields: dict[str, Any] = {}
    if isinstance(text, str) and text.strip():
        fields["post_excerpt"] = clean_text(" ".join(text.split()), max_length=255)
    if isinstance(link, str) and link.startswith("https://"):
        fields["post_permalink"] = link[:1000]
    if isinstance(picture, str) and picture.startswith("https://"):
        fields["post_picture"] = picture[:2000]
    if not fields:
        return False
    with transaction.atomic():
        Conversation.objects.filter(pk=conversation_id).update(**fields, updated_at=timezone.now())
        publish_on_commit(business_id=conversation.business_id, conversation_ids=[conversation_id],
                          pane_ids=[conversation_id])
    return True


def comment_get(*, business: Business, public_id: uuid.UUID) -> ChatMessage:
    """A comment of this business by its public id (``ChatMessage.DoesNotExist`` for anyone else's)."""
    return (
        ChatMessage.objects.for_business(business)
        .select_related("account", "business", "conversation")
        .get(public_id=public_id, kind=Kind.COMMENT)
    )
