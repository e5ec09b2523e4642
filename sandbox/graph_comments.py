"""Comments on posts and Instagram media, as Meta serves them (docs/messenger-platform.md "Comments on
posts and media"): the Graph endpoints, the private reply through the Send API, the webhooks, and the
control endpoints that make people comment and answer.

Graph (routed from ``sandbox.graph._route``):

* ``POST /{comment-id}/comments`` {message} (Page) and ``POST /{ig-comment-id}/replies`` {message}
  (Instagram): a public reply, ``{"id": "<new comment id>"}``;
* ``POST /{comment-id}`` {is_hidden} (Page) / {hide} (Instagram): ``{"success": true}``;
* ``DELETE /{comment-id}``: ``{"success": true}``; ``GET /{comment-id}``: the comment;
* ``POST /{page-id}/messages`` with ``recipient: {"comment_id"}``: the one private reply of a comment,
  within 7 days of it, answered ``{"message_id"}`` without ``recipient_id``; then the echo arrives from
  the commenter's PSID, as Meta sends it.

A comment id the sandbox does not know falls through to the node lookup: Meta's code 100.
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.utils.crypto import get_random_string
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from sandbox import payloads
from sandbox.graph import (
    MetaError,
    _page_for_page_token,
    _receipts_start,
    _select,
    cdn_url,
    customer_message_received,
    page_and_platform,
)
from sandbox.models import Comment, Config, Customer, Page, Post, SentMessage

if TYPE_CHECKING:
    from sandbox.graph import Auth, GraphRequest

logger = logging.getLogger(__name__)

PRIVATE_REPLY_WINDOW = timedelta(days=7)
COMMENT_MAX = 8000


# --- ids and webhook bodies (Meta's shapes) ----------------------------------------------------------


def _digits(count: int) -> str:
    return get_random_string(count, allowed_chars="0123456789")


def new_post_id(page: Page, *, instagram: bool) -> str:
    """A Page post is ``<page id>_<post number>``; an Instagram media id is a bare number."""
    return _digits(17) if instagram else f"{page.page_id}_{_digits(15)}"


def new_comment_id(post: Post) -> str:
    """A Page comment is ``<post number>_<comment number>``; an Instagram comment a bare number."""
    return _digits(17) if post.instagram else f"{post.post_id.split('_')[-1]}_{_digits(15)}"


def permalink(post: Post) -> str:
    if post.instagram:
        return f"https://www.instagram.com/p/{post.post_id}/"
    return f"https://www.facebook.com/{post.post_id.replace('_', '/posts/')}"


def feed_value(comment: Comment, *, verb: str) -> dict[str, Any]:
    """The ``value`` of a Page ``feed`` change for a comment (Webhooks reference, Page, ``feed``)."""
    post = comment.post
    value: dict[str, Any] = {
        "from": {"id": comment.from_id, "name": comment.from_name},
        "post": {"status_type": "mobile_status_update", "is_published": True,
                 "updated_time": timezone.now().strftime("%Y-%m-%dT%H:%M:%S+0000"),
                 "permalink_url": permalink(post), "promotion_status": "inactive", "id": post.post_id},
        "post_id": post.post_id,
        "comment_id": comment.comment_id,
        "created_time": int(comment.created_time.timestamp()),
        "item": "comment",
        "parent_id": comment.parent_id or post.post_id,
        "verb": verb,
    }
    if verb in ("add", "edited"):
        value["message"] = comment.text
    return value


def instagram_value(comment: Comment) -> dict[str, Any]:
    """The ``value`` of an Instagram ``comments`` change (Instagram Webhooks reference, ``comments``)."""
    value: dict[str, Any] = {
        "from": {"id": comment.from_id, "username": comment.from_name},
        "media": {"id": comment.post.post_id, "media_product_type": comment.post.media_product_type or "FEED"},
        "id": comment.comment_id,
        "text": comment.text,
    }
    if comment.parent_id:
        value["parent_id"] = comment.parent_id
    return value


def webhook_body(comment: Comment, *, verb: str = "add") -> bytes:
    """The signed-to-be body Meta POSTs for this comment change (``None``-free, Meta's encoding)."""
    post = comment.post
    if post.instagram:
        change = {"field": "comments", "value": instagram_value(comment)}
        account_id, object_type = post.page.ig_id, "instagram"
    else:
        change = {"field": "feed", "value": feed_value(comment, verb=verb)}
        account_id, object_type = post.page.page_id, "page"
    entry = {"id": account_id, "time": int(timezone.now().timestamp()), "changes": [change]}
    return payloads.encode(payloads.envelope(object_type=object_type, entries=[entry]))


def _webhook_url() -> str:
    return Config.get().webhook_url or settings.SANDBOX_WEBHOOK_URL


def _post_now(body: bytes) -> int:
    return payloads.post_webhook(_webhook_url(), body, settings.FACEBOOK_APP_SECRET)


def _post_later(body: bytes) -> None:
    """After a Graph call, Meta's webhook follows on its own (when the sandbox sends receipts at all)."""
    if not Config.get().send_receipts:
        return
    url = _webhook_url()

    def run() -> None:
        try:
            payloads.post_webhook(url, body, settings.FACEBOOK_APP_SECRET, timeout=10)
        except Exception as exc:  # the app may be down; Meta would retry, the sandbox just logs
            logger.warning("Sandbox comment webhook to %s failed: %s", url, exc)

    transaction.on_commit(lambda: threading.Thread(target=run, name="sandbox-comment-webhook", daemon=True).start())


# --- Graph -----------------------------------------------------------------------------------------


def comment_for(auth: Auth, comment_id: str) -> Comment | None:
    """The comment, when it exists and the caller's Page token may act on it."""
    comment = Comment.objects.select_related("post__page").filter(comment_id=comment_id).first()
    if comment is None or comment.deleted:
        return None
    if auth.kind != "PAGE" or auth.token is None or auth.token.page_id != comment.post.page_id:
        return None
    return comment


def handle(request: GraphRequest, auth: Auth, parts: list[str]) -> dict | None:
    """Answer a call about a comment, or None when ``parts`` names no comment (the caller goes on)."""
    if len(parts) == 1 and request.method == "GET":
        post = Post.objects.select_related("page").filter(post_id=parts[0]).first()
        if post is not None and auth.kind == "PAGE" and auth.token is not None and auth.token.page_id == post.page_id:
            return _post_node(request, post)
    comment = comment_for(auth, parts[0])
    if comment is None:
        return None
    if len(parts) == 1:
        if request.method == "GET":
            return _comment_node(comment)
        if request.method == "DELETE":
            return _delete(comment)
        if request.method == "POST":
            return _hide(request, comment)
    if len(parts) == 2 and request.method == "POST":
        edge = "replies" if comment.post.instagram else "comments"
        if parts[1] == edge:
            return _reply(request, comment)
    raise MetaError(f"Unknown path components: /{'/'.join(parts[1:])}", code=2500)


def _post_node(request: GraphRequest, post: Post) -> dict:
    picture = cdn_url(request.base_url, f"post-{post.post_id}.png")
    if post.instagram:
        full = {"id": post.post_id, "caption": post.message, "permalink": permalink(post), "media_type": "IMAGE",
                "media_url": picture, "media_product_type": post.media_product_type or "FEED"}
        return _select(full, request.params.get("fields"), "id")
    full = {"id": post.post_id, "message": post.message, "permalink_url": permalink(post), "full_picture": picture,
            "created_time": post.created_at.strftime("%Y-%m-%dT%H:%M:%S+0000")}
    return _select(full, request.params.get("fields"), "id,message,created_time")


def _comment_node(comment: Comment) -> dict:
    if comment.post.instagram:
        return {"id": comment.comment_id, "text": comment.text, "hidden": comment.hidden,
                "from": {"id": comment.from_id, "username": comment.from_name},
                "timestamp": comment.created_time.strftime("%Y-%m-%dT%H:%M:%S+0000")}
    return {"id": comment.comment_id, "message": comment.text, "is_hidden": comment.hidden,
            "from": {"id": comment.from_id, "name": comment.from_name},
            "created_time": comment.created_time.strftime("%Y-%m-%dT%H:%M:%S+0000")}


def _param(request: GraphRequest, name: str) -> Any:
    return request.body.get(name, request.params.get(name))


def _flag(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def _hide(request: GraphRequest, comment: Comment) -> dict:
    name = "hide" if comment.post.instagram else "is_hidden"
    hidden = _flag(_param(request, name))
    if hidden is None:
        raise MetaError(f"(#100) The parameter {name} is required", code=100)
    if comment.from_page:
        raise MetaError("(#100) A Page cannot hide its own comment", code=100)
    changed = comment.hidden != hidden
    comment.hidden = hidden
    comment.save(update_fields=["hidden"])
    if changed and not comment.post.instagram:
        _post_later(webhook_body(comment, verb="hide" if hidden else "unhide"))
    return {"success": True}


def _delete(comment: Comment) -> dict:
    comment.deleted = True
    comment.save(update_fields=["deleted"])
    if not comment.post.instagram:
        _post_later(webhook_body(comment, verb="remove"))
    return {"success": True}


def _reply(request: GraphRequest, comment: Comment) -> dict:
    message = _param(request, "message")
    if not isinstance(message, str) or not message.strip():
        raise MetaError("(#100) The parameter message is required", code=100)
    if len(message) > COMMENT_MAX:
        raise MetaError(f"(#100) Length of param message must be less than or equal to {COMMENT_MAX}", code=100)
    page, post = comment.post.page, comment.post
    reply = Comment.objects.create(
        post=post, comment_id=new_comment_id(post), parent_id=comment.comment_id,
        from_id=page.ig_id if post.instagram else page.page_id,
        from_name=page.ig_username if post.instagram else page.name, from_page=True, text=message,
    )
    _post_later(webhook_body(reply))
    return {"id": reply.comment_id}


def private_reply(request: GraphRequest, auth: Auth, object_id: str) -> dict:
    """Send API with ``recipient: {"comment_id"}``: one message to the commenter (Meta's rules)."""
    page = _page_for_page_token(auth, object_id)
    comment_id = str((request.body.get("recipient") or {}).get("comment_id") or "")
    comment = Comment.objects.select_related("post__page").filter(comment_id=comment_id, post__page=page).first()
    if comment is None or comment.deleted or comment.from_page:
        raise MetaError("(#100) No matching comment found for recipient comment_id", code=100)
    if comment.private_reply_mid:
        raise MetaError("(#10900) Activity already replied to", code=10900)
    if timezone.now() - comment.created_time > PRIVATE_REPLY_WINDOW:
        raise MetaError("(#10903) This activity can't be replied to", code=10903)
    message = request.body.get("message") or {}
    text = message.get("text")
    if not isinstance(text, str) or not text:
        raise MetaError("(#100) param message must be non-empty.", code=100)
    limit, size = (1000, len(text.encode())) if comment.post.instagram else (2000, len(text))
    if size > limit:
        raise MetaError(f"(#100) Length of param message[text] must be less than or equal to {limit}", code=100)
    mid = payloads.new_mid()
    SentMessage.objects.create(page=page, recipient_id=comment.from_id, message_id=mid, body=request.body)
    comment.private_reply_mid = mid
    comment.save(update_fields=["private_reply_mid"])
    config = Config.get()
    if config.send_receipts:
        instagram = comment.post.instagram
        _receipts_start(
            url=_webhook_url(), object_type="instagram" if instagram else "page",
            account_id=page.ig_id if instagram else page.page_id, psid=comment.from_id, mid=mid, message=message,
            delays=(config.echo_delay, config.read_delay), instagram=instagram,
        )
    return {"message_id": mid}


# --- control endpoints -----------------------------------------------------------------------------


def _json(request: HttpRequest) -> dict:
    try:
        data = json.loads(request.body or b"{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _commenter(page: Page, platform: str, account_id: str, given: Any) -> Customer:
    """The person who comments: ``from`` {id, name} when given, else the page's first customer (who can
    then answer a private reply in Messenger)."""
    given = given if isinstance(given, dict) else {}
    psid = str(given.get("id") or "")
    if not psid:
        psid = page.customers.filter(platform=platform).order_by("pk").values_list("psid", flat=True).first() or ""
    if not psid:
        from sandbox.customers import default_psid

        psid = default_psid(account_id, instagram=platform == Customer.Platform.INSTAGRAM)
    if not Customer.objects.filter(psid=psid).exists():
        customer_message_received(psid=psid, page_id=account_id, name=str(given.get("name") or ""))
        Customer.objects.filter(psid=psid).update(last_message_at=None)  # a comment opens no Messenger window
    return Customer.objects.get(psid=psid)


@csrf_exempt
@require_http_methods(["POST"])
def control_comment(request: HttpRequest) -> JsonResponse:
    """Someone comments: {page_id, post_id?, text, from? {id, name}, instagram?, parent_id?, age_days?}.

    ``page_id`` is the Page (or, with ``instagram``, the Page whose Instagram account is meant; its
    Instagram id works too). An unknown ``post_id`` is created (with ``post_text``); ``age_days`` dates the
    comment in the past. The ``feed`` / ``comments`` webhook goes out at once; answers its status.
    """
    data = _json(request)
    account_id = str(data.get("page_id") or "")
    page, platform = page_and_platform(account_id) if account_id else (None, "")
    if page is None:
        return JsonResponse({"error": "page_id of a sandbox page or Instagram account is required"}, status=400)
    if data.get("instagram"):
        platform = Customer.Platform.INSTAGRAM
    instagram = platform == Customer.Platform.INSTAGRAM
    if instagram and not page.ig_id:
        return JsonResponse({"error": "this page has no Instagram account"}, status=400)
    text = str(data.get("text") or "")[:COMMENT_MAX]
    if not text:
        return JsonResponse({"error": "text is required"}, status=400)
    account_id = page.ig_id if instagram else page.page_id
    post_id = str(data.get("post_id") or "")
    post = Post.objects.filter(post_id=post_id, page=page).first() if post_id else None
    if post is None:
        post = Post.objects.create(
            page=page, post_id=post_id or new_post_id(page, instagram=instagram), instagram=instagram,
            message=str(data.get("post_text") or "Our new collection is here!")[:2000],
            media_product_type="FEED" if instagram else "",
        )
    customer = _commenter(page, platform, account_id, data.get("from"))
    parent_id = str(data.get("parent_id") or "")
    try:
        age = timedelta(days=float(data.get("age_days") or 0))
    except (TypeError, ValueError):
        return JsonResponse({"error": "age_days must be a number"}, status=400)
    comment = Comment.objects.create(
        post=post, comment_id=new_comment_id(post), parent_id=parent_id, from_id=customer.psid,
        from_name=customer.username if instagram else customer.name, text=text,
        created_time=timezone.now() - age,
    )
    try:
        status = _post_now(webhook_body(comment))
    except Exception as exc:  # the receiver is down or unreachable: say so to the caller
        return JsonResponse({"error": f"the webhook could not be delivered ({type(exc).__name__})",
                             "comment_id": comment.comment_id}, status=502)
    return JsonResponse({"status": status, "comment_id": comment.comment_id, "post_id": post.post_id,
                         "from": {"id": customer.psid}}, status=200 if status == 200 else 502)


@csrf_exempt
@require_http_methods(["POST"])
def control_comment_answer(request: HttpRequest) -> JsonResponse:
    """The commenter answers the private reply to their comment: {comment_id, text}. A normal messaging
    webhook from their PSID, as Meta sends it once they write back."""
    from sandbox import graph_handover

    data = _json(request)
    comment = Comment.objects.select_related("post__page").filter(comment_id=str(data.get("comment_id") or "")).first()
    if comment is None:
        return JsonResponse({"error": "no such comment"}, status=404)
    if not comment.private_reply_mid:
        return JsonResponse({"error": "this comment has no private reply to answer"}, status=400)
    page, instagram = comment.post.page, comment.post.instagram
    account_id = page.ig_id if instagram else page.page_id
    customer_message_received(psid=comment.from_id, page_id=account_id)  # their answer opens the window
    text = str(data.get("text") or "Thanks for the message!")[:2000]
    body = payloads.encode(payloads.envelope(
        object_type="instagram" if instagram else "page",
        entries=[payloads.entry(account_id=account_id, field=graph_handover.webhook_field(account_id, comment.from_id),
                                events=[payloads.text_message(page_id=account_id, psid=comment.from_id, text=text)])],
    ))
    try:
        status = _post_now(body)
    except Exception as exc:
        return JsonResponse({"error": f"the webhook could not be delivered ({type(exc).__name__})"}, status=502)
    return JsonResponse({"status": status, "psid": comment.from_id}, status=200 if status == 200 else 502)
