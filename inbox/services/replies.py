"""Replies from the inbox through Meta's Send API (docs/messenger-platform.md §6).

`reply_send` stores the reply at once (queued, with a `client_token` passed to Meta as `metadata`, so
the echo is matched to this row instead of being stored again) and hands it to the `message_send`
task after commit. The task calls `reply_deliver`, which never sends a row twice: a row that already
has Meta's `mid` (our answer, or the echo that beat it) or is no longer queued is left alone, and
concurrent workers are kept apart by a short lease.

Messaging windows (§6.7) are `inbox.reply_window`'s: a reply is sent only while one is open.

Files go one a message, uploaded through Meta's Attachment Upload API by the task and sent by their
`attachment_id`; quick replies and a quoted message (`reply_to`) ride on the Send API call
(docs/messenger-platform.md, "Richer replies").
"""

from __future__ import annotations

import logging
import mimetypes
import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from django.utils.text import capfirst

from accounts.services import audit_record
from config.tasks import RetryLater, enqueue_on_commit
from inbox import events
from inbox.models import Attachment, ChatMessage, Conversation
from inbox.realtime import publish_on_commit
from inbox.reply_window import ReplyWindow, reply_window
from inbox.services.assignment import conversation_assign_on_reply
from inbox.text import clean_text, truncate
from social.models import Platform

if TYPE_CHECKING:
    from django.core.files.uploadedfile import UploadedFile

    from accounts.models import User

logger = logging.getLogger(__name__)

# Messenger allows 2000 characters; Instagram 1000 bytes of UTF-8 (§6.4).
FACEBOOK_MAX_CHARS = 2000
INSTAGRAM_MAX_BYTES = 1000
# The Attachment Upload API takes any asset up to 25 MB; Instagram images up to 8 MB (§6.4).
ATTACHMENT_MAX_BYTES = 25 * 1024 * 1024
INSTAGRAM_IMAGE_MAX_BYTES = 8 * 1024 * 1024
MAX_FILES = 10
MESSENGER_IMAGE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp"}
INSTAGRAM_TYPES = {
    "image": {"image/png", "image/jpeg", "image/gif"},
    "video": {"video/mp4", "video/ogg", "video/x-msvideo", "video/avi", "video/quicktime", "video/webm"},
    "audio": {"audio/aac", "audio/mp4", "audio/x-m4a", "audio/m4a", "audio/wav", "audio/x-wav"},
    "file": {"application/pdf"},
}
BLOCKED_FILE_TYPES = {"application/x-msdownload", "application/x-msdos-program", "application/x-sh",
                      "application/x-executable", "application/vnd.microsoft.portable-executable"}
BLOCKED_EXTENSIONS = {"exe", "bat", "cmd", "com", "msi", "scr", "vbs", "js", "jar", "sh", "apk", "dll", "ps1"}
MAX_QUICK_REPLIES = 13
QUICK_REPLY_TITLE_MAX = 20
QUICK_REPLY_PAYLOAD_MAX = 1000
ATTACHMENT_URL_MAX_AGE = int(timedelta(days=7).total_seconds())
ATTACHMENT_URL_SALT = "inbox.attachment.public"
# Longer than the Graph client's read timeout, so a worker still waiting on Meta keeps its lease.
SEND_LEASE_SECONDS = 120
MAX_SEND_ATTEMPTS = 6  # the first try and message_send's 5 retries


class ReplyError(Exception):
    """A reply that cannot be sent as asked; the message is shown to staff as it is."""


# Set on a reply whose send may have reached Meta (read timeout, bare 5xx) until its echo confirms it.
UNCONFIRMED_KEY = "send_unconfirmed"
UNCONFIRMED_ERROR = (
    "Meta did not confirm this reply and it may have been delivered. Check the conversation in Messenger "
    "before retrying, so the customer does not get it twice."
)


class ReplyRetryLater(RetryLater):
    """Meta had a transient problem: try the same row again after `countdown` seconds (the task does)."""

    def __init__(self, message: str, *, countdown: int) -> None:
        super().__init__(message)
        self.countdown = countdown
        self.retry_after = countdown


def _check_text(*, text: str, platform: str) -> None:
    if platform == Platform.INSTAGRAM and len(text.encode("utf-8")) > INSTAGRAM_MAX_BYTES:
        raise ReplyError(f"Instagram accepts at most {INSTAGRAM_MAX_BYTES} bytes of text; shorten the reply.")
    if len(text) > FACEBOOK_MAX_CHARS:
        raise ReplyError(f"Messenger accepts at most {FACEBOOK_MAX_CHARS} characters; shorten the reply.")


def attachment_type_for(content_type: str) -> str:
    """The Send API attachment type for a file's content type."""
    major = (content_type or "").split("/", 1)[0]
    return major if major in ("image", "video", "audio") else "file"


def _content_type(upload: UploadedFile) -> str:
    content_type = upload.content_type or mimetypes.guess_type(upload.name or "")[0] or "application/octet-stream"
    # A browser's recording says "audio/webm;codecs=opus": the codec is no part of the type.
    return content_type.split(";", 1)[0].strip().lower()


def _check_upload(upload: UploadedFile, *, platform: str = Platform.FACEBOOK) -> tuple[str, str]:
    """The Send API type and content type of a file Meta accepts, or a ReplyError saying why not."""
    content_type = _content_type(upload)
    kind = attachment_type_for(content_type)
    name = clean_text(upload.name or "the file", max_length=80)
    if upload.size == 0:
        raise ReplyError(f"{name} is empty.")
    if platform == Platform.INSTAGRAM:
        accepted = INSTAGRAM_TYPES.get(kind)
        if accepted is None or content_type not in accepted:
            raise ReplyError(f"Instagram does not accept {name} ({content_type}): send a PNG, JPEG or GIF image, "
                             "an MP4, MOV or WebM video, M4A, AAC or WAV audio, or a PDF.")
        limit = INSTAGRAM_IMAGE_MAX_BYTES if kind == "image" else ATTACHMENT_MAX_BYTES
    else:
        if kind == "image" and content_type not in MESSENGER_IMAGE_TYPES:
            kind = "file"  # Messenger shows other images (SVG, HEIC …) as a file to download
        if kind == "file" and (content_type in BLOCKED_FILE_TYPES
                               or (upload.name or "").lower().rsplit(".", 1)[-1] in BLOCKED_EXTENSIONS):
            raise ReplyError(f"Messenger does not accept programs and scripts ({name}).")
        limit = ATTACHMENT_MAX_BYTES
    if upload.size is not None and upload.size > limit:
        raise ReplyError(f"{name} is too large: Meta accepts {kind}s of at most {limit // (1024 * 1024)} MB.")
    return kind, content_type


def _quick_replies(items: list[dict] | None) -> list[dict]:
    """Meta's quick reply buttons from [{title, payload?}]: at most 13, a title of 1 to 20 characters."""
    if not items:
        return []
    if len(items) > MAX_QUICK_REPLIES:
        raise ReplyError(f"Meta shows at most {MAX_QUICK_REPLIES} quick replies; remove {len(items) - MAX_QUICK_REPLIES}.")
    cleaned = []
    for item in items:
        title = clean_text(str(item.get("title") or "")).strip()
        payload = clean_text(str(item.get("payload") or "")).strip() or title
        if not title:
            raise ReplyError("Every quick reply needs a title.")
        if len(title) > QUICK_REPLY_TITLE_MAX:
            raise ReplyError(f"Quick reply “{truncate(title, 30)}” is too long: at most {QUICK_REPLY_TITLE_MAX} characters.")
        if len(payload) > QUICK_REPLY_PAYLOAD_MAX:
            raise ReplyError(f"A quick reply's payload is at most {QUICK_REPLY_PAYLOAD_MAX} characters.")
        cleaned.append({"content_type": "text", "title": title, "payload": payload})
    return cleaned


def _outbound(*, conversation: Conversation, user: User, text: str, now: datetime, window: ReplyWindow) -> ChatMessage:
    return ChatMessage.objects.create(
        business_id=conversation.business_id,
        platform=conversation.platform,
        account_id=conversation.account_id,
        conversation=conversation,
        direction=ChatMessage.Direction.OUTBOUND,
        kind=ChatMessage.Kind.MESSAGE,
        source=ChatMessage.Source.INBOX,
        sender_id=conversation.account.account_id,
        sender_name=clean_text(user.display_name, max_length=255),
        content=text,
        timestamp=now,
        status=ChatMessage.Status.QUEUED,
        is_read=True,
        sent_by=user,
        client_token=uuid.uuid4().hex,
        messaging_type=window.messaging_type,
    )


def reply_send_all(
    *, conversation: Conversation, user: User, text: str, upload: UploadedFile | None = None,
    uploads: list[UploadedFile] | None = None, quick_replies: list[dict] | None = None,
    reply_to: ChatMessage | None = None,
) -> list[ChatMessage]:
    """Queue a reply: one message per file (Messenger takes one attachment a message), then the text.

    The messages of one reply share `extra["reply_group"]`. Quick replies go on the last message (the
    buttons show under the newest one); `reply_to` (a message of this conversation Meta knows) is quoted
    by the text, or by the first file when there is no text.
    """
    text = clean_text(text).strip()
    files = ([upload] if upload is not None else []) + list(uploads or [])
    if not text and not files:
        raise ReplyError("Write a reply or attach a file.")
    if len(files) > MAX_FILES:
        raise ReplyError(f"Send at most {MAX_FILES} files at once.")
    if text:
        _check_text(text=text, platform=conversation.platform)
    checked = [(f, *_check_upload(f, platform=conversation.platform)) for f in files]
    buttons = _quick_replies(quick_replies)
    if reply_to is not None and (reply_to.conversation_id != conversation.pk or not reply_to.message_id
                                 or reply_to.kind != ChatMessage.Kind.MESSAGE):
        raise ReplyError("That message cannot be quoted: it is not a message of this conversation Meta knows.")
    now = timezone.now()
    window = reply_window(conversation=conversation, now=now)
    if not window.allowed:
        raise ReplyError(window.reason)

    with transaction.atomic():
        created: list[ChatMessage] = []
        for position, (file, kind, content_type) in enumerate(checked):
            # A microsecond apart, so the files keep their order and the text sorts after them.
            at = now + timedelta(microseconds=position)
            message = _outbound(conversation=conversation, user=user, text="", now=at, window=window)
            name = clean_text(file.name or "file", max_length=200)
            attachment = Attachment(
                business_id=conversation.business_id, message=message, position=0, type=kind, name=name,
                mime_type=content_type[:127], size=file.size, state=Attachment.State.STORED, stored_at=now,
            )
            attachment.file.save(name, file, save=False)
            attachment.save()
            created.append(message)
        if text:
            later = now + timedelta(microseconds=len(created))
            created.append(_outbound(conversation=conversation, user=user, text=text, now=later, window=window))
        _decorate(created, buttons=buttons, reply_to=reply_to, has_text=bool(text))
        last = created[-1]
        conversation_assign_on_reply(conversation=conversation, user=user)
        preview = truncate(text, 255) if text else f"[{checked[-1][1]}]"
        Conversation.objects.filter(pk=conversation.pk, last_message_at__lte=last.timestamp).update(
            last_message_at=last.timestamp, last_message_preview=preview,
            last_message_direction=ChatMessage.Direction.OUTBOUND,
        )
        for message in created:
            metadata: dict[str, Any] = {"conversation_id": conversation.pk, "messaging_type": window.messaging_type,
                                        "attachment": message.content == ""}
            if message.extra.get("quick_replies"):
                metadata["quick_replies"] = len(message.extra["quick_replies"])
            if message.reply_to_mid:
                metadata["reply_to"] = message.reply_to_mid
            audit_record(action="message.reply_queued", business=conversation.business, actor=user, target=message,
                         metadata=metadata)
            _enqueue_send(message_id=message.pk)
        publish_on_commit(
            business_id=conversation.business_id, conversation_ids=[conversation.pk],
            message_ids=[m.pk for m in created],
        )
        events.emit(events.message_created, business_id=conversation.business_id, ids=[m.pk for m in created])
    return created


def _decorate(created: list[ChatMessage], *, buttons: list[dict], reply_to: ChatMessage | None, has_text: bool) -> None:
    """Group the reply's messages, put the quick replies on the last and the quote on the text (or first file)."""
    group = uuid.uuid4().hex if len(created) > 1 else ""
    quoting = created[-1] if has_text else created[0]
    for message in created:
        fields: list[str] = []
        if group:
            message.extra = {**message.extra, "reply_group": group}
            fields.append("extra")
        if buttons and message is created[-1]:
            message.extra = {**message.extra, "quick_replies": buttons}
            fields.append("extra")
        if reply_to is not None and message is quoting:
            message.reply_to, message.reply_to_mid = reply_to, reply_to.message_id or ""
            fields += ["reply_to", "reply_to_mid"]
        if fields:
            message.save(update_fields=sorted(set(fields)))


def reply_send(
    *, conversation: Conversation, user: User, text: str, upload: UploadedFile | None = None, **options: Any
) -> ChatMessage:
    """Queue a reply and send it after commit. With files and text, returns the text message."""
    return reply_send_all(conversation=conversation, user=user, text=text, upload=upload, **options)[-1]


def reply_retry(*, message: ChatMessage, user: User) -> ChatMessage:
    """A new attempt for a failed reply: the same row and `client_token`, so Meta's echo still matches."""
    if message.direction != ChatMessage.Direction.OUTBOUND or message.source != ChatMessage.Source.INBOX:
        raise ReplyError("Only replies sent from the inbox can be retried.")
    if message.status != ChatMessage.Status.FAILED or message.message_id:
        raise ReplyError("This reply is not failed.")
    window = reply_window(conversation=message.conversation)
    if not window.allowed:
        raise ReplyError(window.reason)
    with transaction.atomic():
        updated = ChatMessage.objects.filter(
            pk=message.pk, status=ChatMessage.Status.FAILED, message_id__isnull=True
        ).update(
            status=ChatMessage.Status.QUEUED, error="", error_code=None, messaging_type=window.messaging_type,
            extra={k: v for k, v in message.extra.items() if k != UNCONFIRMED_KEY},
        )
        if not updated:
            raise ReplyError("This reply is not failed.")
        audit_record(
            action="message.reply_retried", business=message.conversation.business, actor=user, target=message,
            metadata={"conversation_id": message.conversation_id},
        )
        _enqueue_send(message_id=message.pk)
        publish_on_commit(
            business_id=message.business_id, conversation_ids=[message.conversation_id], message_ids=[message.pk]
        )
    message.refresh_from_db()
    return message


def _enqueue_send(*, message_id: int) -> None:
    # The broker is unreachable: say so on the reply, whose Retry button queues it again.
    enqueue_on_commit("inbox.tasks.message_send", message_id, on_error=lambda: reply_fail(
        message_id=message_id, error="The reply could not be queued for sending. Try again."))


def attachment_public_url(*, attachment: Attachment) -> str:
    """An absolute, signed URL Meta could fetch the file from (no login; expires after a week).

    Replies no longer send files by link (they are uploaded, `_uploaded_id`); the view behind these
    links stays so the links handed to Meta before keep working until they expire."""
    token = signing.dumps({"a": attachment.pk, "b": attachment.business_id}, salt=ATTACHMENT_URL_SALT, compress=True)
    path = reverse("inbox:attachment_public", kwargs={"token": token})
    return settings.SITE_URL.rstrip("/") + path


def attachment_from_public_token(token: str) -> Attachment | None:
    try:
        data = signing.loads(token, salt=ATTACHMENT_URL_SALT, max_age=ATTACHMENT_URL_MAX_AGE)
    except signing.BadSignature:
        return None
    return Attachment.objects.filter(pk=data.get("a"), business_id=data.get("b")).first()


def reply_fail(*, message_id: int, error: str, error_code: int | None = None) -> bool:
    """Mark a queued reply failed with Meta's reason; True when this call changed it."""
    with transaction.atomic():
        message = ChatMessage.objects.select_related("business").filter(pk=message_id).first()
        if message is None:
            return False
        error = clean_text(error)[:2000]
        updated = ChatMessage.objects.filter(
            pk=message_id, status=ChatMessage.Status.QUEUED, message_id__isnull=True
        ).update(status=ChatMessage.Status.FAILED, error=error, error_code=error_code)
        if updated:
            audit_record(
                action="message.reply_failed", business=message.business, target=message,
                metadata={"conversation_id": message.conversation_id, "error": error[:500], "error_code": error_code},
            )
            publish_on_commit(
                business_id=message.business_id, conversation_ids=[message.conversation_id], message_ids=[message_id]
            )
            events.emit(events.message_status_changed, business_id=message.business_id, ids=[message_id])
    return bool(updated)


def _retry_countdown(*, exc: Exception, attempt: int) -> int:
    retry_after = getattr(exc, "retry_after", None)
    if retry_after:
        return int(retry_after)
    # After a read timeout or a bare 5xx Meta may have accepted the message: wait long enough for
    # its echo (which stops the retry) before trying again.
    base = 30 if getattr(exc, "may_have_succeeded", False) or getattr(exc, "http_status", None) is None else 10
    return min(base * 2 ** max(attempt - 1, 0), 900)


def _error_text(exc: Exception) -> str:
    return clean_text(getattr(exc, "message", "") or str(exc) or exc.__class__.__name__)


def reply_deliver(*, message_id: int) -> str:
    """Send one queued reply to Meta; returns "sent", "failed" or "skipped".

    Raises ReplyRetryLater on a transient Meta error (the task retries the same row later).
    """
    from inbox.services.handover import thread_owned_elsewhere
    from social.graph import GraphAPIError, ThreadOwnedElsewhereError, TokenInvalidError, TransientGraphError
    from social.services import account_graph_client

    message = (
        ChatMessage.objects.select_related("business", "account", "account__page", "conversation__contact")
        .filter(pk=message_id, direction=ChatMessage.Direction.OUTBOUND)
        .exclude(kind=ChatMessage.Kind.NOTE)  # a private note is never sent, whatever its row says
        .first()
    )
    if message is None or message.message_id or message.status != ChatMessage.Status.QUEUED:
        return "skipped"
    if message.extra.get(UNCONFIRMED_KEY):
        # An earlier attempt may have reached Meta and no echo has confirmed it since: sending again
        # could deliver the reply twice, so staff decide (the Retry button) instead of a timer.
        reply_fail(message_id=message.pk, error=UNCONFIRMED_ERROR)
        return "failed"
    lease = f"inbox:reply-send:{message.pk}"
    if not cache.add(lease, "1", timeout=SEND_LEASE_SECONDS):
        # Another worker is sending this row right now; look again once its lease has run out.
        raise ReplyRetryLater("Another worker is sending this reply.", countdown=SEND_LEASE_SECONDS)
    try:
        conversation = message.conversation
        conversation.account = message.account
        # HUMAN_AGENT is for a person's reply only (§6.7): a row nobody in the inbox wrote is refused
        # after the standard window rather than tagged.
        window = reply_window(conversation=conversation, human=message.sent_by_id is not None)
        if not window.allowed:
            reply_fail(message_id=message.pk, error=window.reason)
            return "failed"
        ChatMessage.objects.filter(pk=message.pk).update(
            send_attempts=F("send_attempts") + 1, messaging_type=window.messaging_type
        )
        attachment = next(iter(message.attachments.all()), None)
        client = account_graph_client(message.account)
        try:
            attachment_id = _uploaded_id(client=client, attachment=attachment) if attachment else None
            result = client.send_message(
                recipient_id=conversation.contact.external_id,
                messaging_type=window.messaging_type,
                text=message.content or None,
                attachment_id=attachment_id,
                attachment_type=attachment.type if attachment else None,
                quick_replies=message.extra.get("quick_replies") or None,
                reply_to_mid=message.reply_to_mid or None,
                tag=window.tag or None,
                metadata=message.client_token,
            )
        except TokenInvalidError as exc:
            # The client has flagged the page for reconnection (social.services.graph_client).
            reply_fail(
                message_id=message.pk, error_code=exc.code,
                error=f"The page's access to Messenger was revoked; reconnect it and retry. ({_error_text(exc)})",
            )
            return "failed"
        except TransientGraphError as exc:
            attempts = message.send_attempts + 1
            fields: dict[str, Any] = {
                "error": f"Meta is not answering; retrying. ({_error_text(exc)})", "error_code": exc.code,
            }
            if getattr(exc, "may_have_succeeded", False):
                # The next run only checks whether the echo arrived; it never sends again.
                fields["extra"] = {**message.extra, UNCONFIRMED_KEY: True}
                fields["error"] = f"Waiting for Meta to confirm the reply. ({_error_text(exc)})"
            ChatMessage.objects.filter(pk=message.pk, status=ChatMessage.Status.QUEUED).update(**fields)
            publish_on_commit(
                business_id=message.business_id, conversation_ids=[conversation.pk], message_ids=[message.pk]
            )
            raise ReplyRetryLater(_error_text(exc), countdown=_retry_countdown(exc=exc, attempt=attempts)) from exc
        except ThreadOwnedElsewhereError as exc:
            # Another app (Page Inbox, a bot) owns the thread: say who, and how to get it back.
            thread_owned_elsewhere(conversation=conversation)
            reply_fail(
                message_id=message.pk, error_code=exc.code,
                error=f"{capfirst(conversation.thread_owner_name or 'another app')} controls this conversation: use Take control "
                f"in the header, then retry. ({_error_text(exc)})",
            )
            return "failed"
        except GraphAPIError as exc:
            reply_fail(message_id=message.pk, error=_error_text(exc), error_code=exc.code)
            return "failed"
        _record_sent(message=message, mid=str(result.get("message_id") or ""))
        return "sent"
    finally:
        cache.delete(lease)


def _uploaded_id(*, client: Any, attachment: Attachment) -> str:
    """The file's reusable `attachment_id`, uploading it through the Attachment Upload API the first time.

    Kept on the attachment, so a retry after a failed send does not upload the file again (Meta keeps
    reusable ids 90 days; a reply is retried within days).
    """
    from social.graph import GraphAPIError, TransientGraphError

    known = (attachment.payload or {}).get("attachment_id")
    if known:
        return str(known)
    try:
        with attachment.file.open("rb") as content:
            answer = client.upload_attachment(
                attachment_type=attachment.type, filename=attachment.name or "file", content=content,
                content_type=attachment.mime_type or "application/octet-stream",
            )
    except TransientGraphError as exc:
        # An upload that may have reached Meta only costs a second upload: never "unconfirmed".
        exc.may_have_succeeded = False
        raise
    attachment_id = str(answer.get("attachment_id") or "")
    if not attachment_id:
        raise GraphAPIError("Meta's Attachment Upload API answered without an attachment_id.")
    attachment.payload = {**(attachment.payload or {}), "attachment_id": attachment_id}
    Attachment.objects.filter(pk=attachment.pk).update(payload=attachment.payload)
    return attachment_id


def _record_sent(*, message: ChatMessage, mid: str) -> None:
    now = timezone.now()
    with transaction.atomic():
        if mid:
            try:
                with transaction.atomic():
                    ChatMessage.objects.filter(pk=message.pk, message_id__isnull=True).update(message_id=mid)
            except IntegrityError:
                # The echo was stored as a row of its own before it could be matched; keep ours
                # without the mid rather than lose the sent state.
                logger.warning("Reply %s: mid %s already belongs to another row", message.pk, mid)
        sent = ChatMessage.objects.filter(pk=message.pk, status=ChatMessage.Status.QUEUED).update(
            status=ChatMessage.Status.SENT, error="", error_code=None
        )
        events.emit(events.message_status_changed, business_id=message.business_id, ids=[message.pk] if sent else [])
        ChatMessage.objects.filter(pk=message.pk, sent_at__isnull=True).update(sent_at=now)
        # Everything the customer wrote before this reply has now been answered.
        ChatMessage.objects.filter(
            conversation_id=message.conversation_id, direction=ChatMessage.Direction.INBOUND, is_replied=False,
            timestamp__lte=message.timestamp,
        ).update(is_replied=True)
        audit_record(
            action="message.reply_sent", business=message.business, actor=message.sent_by, target=message,
            metadata={"conversation_id": message.conversation_id, "mid": mid,
                      "messaging_type": message.messaging_type or ""},
        )
        publish_on_commit(
            business_id=message.business_id, conversation_ids=[message.conversation_id], message_ids=[message.pk]
        )


def reply_give_up(*, message_id: int, error: str) -> None:
    """The last transient failure: the reply is failed, and staff may retry it by hand."""
    reply_fail(message_id=message_id, error=f"Meta did not accept the reply after {MAX_SEND_ATTEMPTS} tries: {error}")
