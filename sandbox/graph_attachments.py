"""The Attachment Upload API and what the Send API checks of a richer message (docs/messenger-platform.md,
"Richer replies"): `POST /{page-id}/message_attachments` (multipart `message` + `filedata`) answers
`{"attachment_id": "..."}`; a send may then name it, carry `quick_replies` and `reply_to`, or be a
`react` / `unreact` sender action with its `payload`.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

from sandbox.graph import MetaError, _page_for_page_token, _require_scope
from sandbox.models import UploadedAttachment

if TYPE_CHECKING:
    from sandbox.graph import Auth, GraphRequest

MAX_BYTES = 25 * 1024 * 1024  # Meta's limit for any asset
IMAGE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp"}
TYPES = {"image", "audio", "video", "file"}
MAX_QUICK_REPLIES = 13
QUICK_REPLY_TITLE_MAX = 20
QUICK_REPLY_PAYLOAD_MAX = 1000
REACTIONS = {"❤️", "❤", "👍", "😂", "😮", "😢", "😡", "😊", "love", "like", "smile", "wow", "sad", "angry"}


def upload(request: GraphRequest, auth: Auth, object_id: str) -> dict:
    if request.method != "POST":
        raise MetaError(f"Unsupported {request.method.lower()} request.", code=100)
    page = _page_for_page_token(auth, object_id)
    _require_scope(auth, "pages_messaging", code=230)
    attachment = _dict(request.body.get("message")).get("attachment")
    if not isinstance(attachment, dict):
        raise MetaError("(#100) The parameter message is required", code=100)
    kind = attachment.get("type")
    if kind not in TYPES:
        raise MetaError("(#100) param message[attachment][type] must be one of {image, audio, video, file}", code=100)
    filedata = request.files.get("filedata")
    if filedata is None:
        raise MetaError("(#100) Upload attachment failure: the parameter filedata is required", code=100)
    content_type = (getattr(filedata, "content_type", "") or "").lower()
    size = filedata.size or 0
    if size == 0:
        raise MetaError("(#100) Upload attachment failure: the file is empty", code=100)
    if size > MAX_BYTES:
        raise MetaError("(#100) Upload attachment failure: the file is larger than 25 MB", code=100)
    if kind == "image" and content_type not in IMAGE_TYPES:
        raise MetaError(f"(#100) Upload attachment failure: {content_type or 'this file'} is not an image", code=100)
    if kind in ("audio", "video") and not content_type.startswith(f"{kind}/"):
        raise MetaError(f"(#100) Upload attachment failure: {content_type or 'this file'} is not {kind}", code=100)
    stored = UploadedAttachment.objects.create(
        page=page, attachment_id=str(10**15 + secrets.randbelow(9 * 10**15)), type=kind,
        filename=str(getattr(filedata, "name", "") or "")[:255], content_type=content_type[:127], size=size,
        content=filedata.read(),
    )
    return {"attachment_id": stored.attachment_id}


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def check_send(body: dict, object_id: str) -> None:
    """What the Send API refuses of an attachment id, quick replies, reply_to and reactions, as Meta words it."""
    action = body.get("sender_action")
    if action in ("react", "unreact"):
        payload = _dict(body.get("payload"))
        if not payload.get("message_id"):
            raise MetaError("(#100) param payload[message_id] is required for sender_action react", code=100)
        if action == "react" and str(payload.get("reaction") or "") not in REACTIONS:
            raise MetaError("(#100) param payload[reaction] is not a supported reaction", code=100)
        return
    message = _dict(body.get("message"))
    attachment_id = _dict(_dict(message.get("attachment")).get("payload")).get("attachment_id")
    if attachment_id and not UploadedAttachment.objects.filter(
        attachment_id=str(attachment_id), page__page_id=object_id
    ).exists():
        raise MetaError("(#100) Invalid attachment_id", code=100)
    quick_replies = message.get("quick_replies")
    if quick_replies is not None:
        if not isinstance(quick_replies, list) or len(quick_replies) > MAX_QUICK_REPLIES:
            raise MetaError(f"(#100) param message[quick_replies] must have at most {MAX_QUICK_REPLIES} elements",
                            code=100)
        for item in quick_replies:
            if not isinstance(item, dict) or item.get("content_type") not in ("text", "user_phone_number",
                                                                                "user_email"):
                raise MetaError("(#100) param message[quick_replies][content_type] is invalid", code=100)
            if item["content_type"] == "text":
                if not item.get("title") or len(str(item["title"])) > QUICK_REPLY_TITLE_MAX:
                    raise MetaError("(#100) param message[quick_replies][title] must be 1 to 20 characters",
                                    code=100)
                if not item.get("payload") or len(str(item["payload"])) > QUICK_REPLY_PAYLOAD_MAX:
                    raise MetaError("(#100) param message[quick_replies][payload] must be 1 to 1000 characters",
                                    code=100)
    reply_to = body.get("reply_to")
    if reply_to is not None and not (isinstance(reply_to, dict) and reply_to.get("mid")):
        raise MetaError("(#100) param reply_to[mid] is required", code=100)
