"""Builders for Meta Messenger / Instagram webhook payloads, shaped like docs/messenger-platform.md §3–§4.

Used by the customer simulator, the sandbox Graph server, tests and benchmarks. Each event builder
returns one item of ``entry.messaging[]``; wrap items with ``entry()`` and ``envelope()``, then
``encode()`` and ``sign()`` the exact bytes Meta would send.

All builders are pure (no settings, no ORM); ids and timestamps default to fresh, unique values so
repeated calls make distinct messages unless the caller pins ``mid`` / ``timestamp_ms``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import secrets
import time
from typing import Any

import requests

SIGNATURE_HEADER = "X-Hub-Signature-256"

_counter = itertools.count(1)


def now_ms() -> int:
    return int(time.time() * 1000)


def new_mid(prefix: str = "m_") -> str:
    """A fresh opaque message id shaped like Meta's current ``m_<base64url>`` ids (§3.2)."""
    raw = f"sandbox:{now_ms()}:{next(_counter)}:{secrets.token_hex(6)}".encode()
    return prefix + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def envelope(*, object_type: str, entries: list[dict]) -> dict:
    """The top-level body: ``object`` is "page" (Messenger) or "instagram"."""
    return {"object": object_type, "entry": list(entries)}


def entry(*, account_id: str, events: list[dict], field: str = "messaging", time_ms: int | None = None) -> dict:
    """One ``entry``: ``account_id`` is the Page id (or IG professional account id); ``field`` is
    "messaging" or "standby" (handover protocol, §4.15)."""
    return {"id": str(account_id), "time": time_ms if time_ms is not None else now_ms(), field: list(events)}


def _item(*, sender: str, recipient: str, timestamp_ms: int | None, **body: Any) -> dict:
    return {
        "sender": {"id": str(sender)},
        "recipient": {"id": str(recipient)},
        "timestamp": timestamp_ms if timestamp_ms is not None else now_ms(),
        **body,
    }


def text_message(
    *,
    page_id: str,
    psid: str,
    text: str,
    mid: str | None = None,
    timestamp_ms: int | None = None,
    reply_to_mid: str | None = None,
    quick_reply: str | None = None,
) -> dict:
    """A customer's text message (§4.1), optionally a quick reply tap or a reply to ``reply_to_mid`` (§4.2)."""
    message: dict[str, Any] = {"mid": mid or new_mid(), "text": text}
    if quick_reply is not None:
        message["quick_reply"] = {"payload": quick_reply}
    if reply_to_mid is not None:
        message["reply_to"] = {"mid": reply_to_mid}
    return _item(sender=psid, recipient=page_id, timestamp_ms=timestamp_ms, message=message)


def attachment_message(
    *,
    page_id: str,
    psid: str,
    type: str,
    url: str | None,
    mid: str | None = None,
    timestamp_ms: int | None = None,
    **payload: Any,
) -> dict:
    """A customer message with one attachment (§4.3–§4.5, §4.14).

    ``type`` is Meta's (image, video, audio, file, sticker, location, fallback, share, story_mention,
    ig_reel, template …). Extra keyword arguments go into ``payload`` (``sticker_id=…``,
    ``coordinates={"lat":…, "long":…}``). For ``fallback`` a ``title`` keyword is put next to the
    payload like Meta's legacy shape does.
    """
    title = payload.pop("title", None)
    body: dict[str, Any] = dict(payload)
    if url is not None:
        body["url"] = url
    attachment: dict[str, Any] = {"type": type, "payload": body or None}
    if type == "location" and not body:
        attachment["payload"] = {"coordinates": {"lat": 48.8566, "long": 2.3522}}
    if title is not None:
        attachment["title"] = title
    message = {"mid": mid or new_mid(), "attachments": [attachment]}
    return _item(sender=psid, recipient=page_id, timestamp_ms=timestamp_ms, message=message)


def echo(
    *,
    page_id: str,
    psid: str,
    text: str,
    mid: str,
    app_id: str | int | None = None,
    metadata: str | None = None,
    timestamp_ms: int | None = None,
) -> dict:
    """An echo of a message sent by the Page (§4.6): sender and recipient are swapped.

    ``app_id`` None means a reply typed in Meta's own apps (Page Inbox / Business Suite);
    our own sends carry our app id and the ``metadata`` we passed on send.
    """
    message: dict[str, Any] = {"is_echo": True}
    if app_id is not None:
        message["app_id"] = int(app_id) if str(app_id).isdigit() else app_id
    if metadata is not None:
        message["metadata"] = metadata
    message["mid"] = mid
    message["text"] = text
    return _item(sender=page_id, recipient=psid, timestamp_ms=timestamp_ms, message=message)


def delivery(*, page_id: str, psid: str, mids: list[str], watermark_ms: int) -> dict:
    """A delivery receipt (§4.7); Meta's example carries no ``timestamp`` but real ones often do."""
    body: dict[str, Any] = {"watermark": watermark_ms}
    if mids:
        body = {"mids": list(mids), **body}
    return _item(sender=psid, recipient=page_id, timestamp_ms=watermark_ms, delivery=body)


def read(*, page_id: str, psid: str, watermark_ms: int | None = None, mid: str | None = None) -> dict:
    """A read receipt: Messenger sends a ``watermark`` (§4.8), Instagram the last seen ``mid`` (§4.14)."""
    body: dict[str, Any] = {}
    if watermark_ms is not None:
        body["watermark"] = watermark_ms
    if mid is not None:
        body["mid"] = mid
    if not body:
        body["watermark"] = now_ms()
    return _item(sender=psid, recipient=page_id, timestamp_ms=None, read=body)


def reaction(
    *,
    page_id: str,
    psid: str,
    mid: str,
    action: str = "react",
    reaction: str = "love",
    emoji: str = "\u2764\ufe0f",
    timestamp_ms: int | None = None,
) -> dict:
    """A reaction to message ``mid`` (§4.10); on ``unreact`` only ``action`` and ``mid`` are sent."""
    body: dict[str, Any] = {"action": action, "mid": mid}
    if action == "react":
        body = {"reaction": reaction, "emoji": emoji, **body}
    return _item(sender=psid, recipient=page_id, timestamp_ms=timestamp_ms, reaction=body)


def postback(
    *,
    page_id: str,
    psid: str,
    title: str = "Get Started",
    payload: str = "GET_STARTED",
    mid: str | None = None,
    referral: dict | None = None,
    timestamp_ms: int | None = None,
) -> dict:
    """A postback button / Get Started / persistent-menu tap (§4.9)."""
    body: dict[str, Any] = {"mid": mid or new_mid(), "title": title, "payload": payload}
    if referral is not None:
        body["referral"] = referral
    return _item(sender=psid, recipient=page_id, timestamp_ms=timestamp_ms, postback=body)


def referral(
    *,
    page_id: str,
    psid: str,
    ref: str = "sandbox-link",
    source: str = "SHORTLINK",
    type: str = "OPEN_THREAD",
    ad_id: str | None = None,
    ads_context_data: dict | None = None,
    timestamp_ms: int | None = None,
) -> dict:
    """An existing thread re-entered from an m.me link (default) or an ad (``source="ADS"``, §4.11)."""
    body: dict[str, Any] = {"ref": ref}
    if ad_id is not None:
        body["ad_id"] = ad_id
    body.update({"source": source, "type": type})
    if ads_context_data is not None:
        body["ads_context_data"] = ads_context_data
    return _item(sender=psid, recipient=page_id, timestamp_ms=timestamp_ms, referral=body)


def edit(*, page_id: str, psid: str, mid: str, text: str, num_edit: int = 1, timestamp_ms: int | None = None) -> dict:
    """The customer edited message ``mid`` (§4.12)."""
    body = {"mid": mid, "text": text, "num_edit": num_edit}
    return _item(sender=psid, recipient=page_id, timestamp_ms=timestamp_ms, message_edit=body)


def deleted(*, page_id: str, psid: str, mid: str, timestamp_ms: int | None = None) -> dict:
    """The customer unsent message ``mid`` (§4.13: a ``message`` with ``is_deleted: true``)."""
    return _item(sender=psid, recipient=page_id, timestamp_ms=timestamp_ms, message={"mid": mid, "is_deleted": True})


def encode(payload: dict) -> bytes:
    """Compact JSON as Meta sends it: ASCII only (``\\uXXXX`` lowercase, surrogate pairs for emoji),
    ``/`` as ``\\/`` and ``@`` as ``\\u0040`` (§2.2).

    Both characters can only occur inside JSON strings, so a plain replacement is safe.
    """
    text = json.dumps(payload, ensure_ascii=True, separators=(",", ":"))
    return text.replace("/", "\\/").replace("@", "\\u0040").encode("ascii")


def sign(body: bytes, secret: str) -> str:
    """The ``X-Hub-Signature-256`` header value for ``body``: ``"sha256=<hex>"``."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def post_webhook(
    url: str, body: bytes, secret: str, *, timeout: float = 10, session: requests.Session | None = None
) -> int:
    """POST ``body`` signed with ``secret`` to ``url``; returns the HTTP status.

    Pass a ``session`` to reuse connections when sending many.
    """
    response = (session or requests).post(
        url,
        data=body,
        headers={"Content-Type": "application/json", SIGNATURE_HEADER: sign(body, secret)},
        timeout=timeout,
        verify=_verify_tls(),
    )
    return response.status_code


def _verify_tls() -> bool:
    """Whether webhook POSTs check the receiver's certificate: always, except for the standalone
    sandbox beside a trial stack (config/settings/sandbox_server.py), whose proxy is self-signed."""
    from django.conf import settings

    return not settings.configured or getattr(settings, "SANDBOX_WEBHOOK_VERIFY_TLS", True)


__all__ = [
    "SIGNATURE_HEADER",
    "attachment_message",
    "deleted",
    "delivery",
    "echo",
    "edit",
    "encode",
    "entry",
    "envelope",
    "new_mid",
    "now_ms",
    "post_webhook",
    "postback",
    "reaction",
    "read",
    "referral",
    "sign",
    "text_message",
]
