"""Signing deliveries, Stripe's way: ``X-SocialInbox-Signature: t=<unix seconds>,v1=<hex>``.

``v1`` is HMAC-SHA256 of ``"<t>.<body>"`` keyed by the endpoint's secret. Signing the timestamp with
the body lets a receiver refuse a captured delivery replayed later (``TOLERANCE_SECONDS``); several
``v1`` entries may appear while a secret is being rotated. The receiver in examples/webhook_receiver.py
verifies the same way without Django.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

SIGNATURE_HEADER = "X-SocialInbox-Signature"
EVENT_HEADER = "X-SocialInbox-Event"
DELIVERY_HEADER = "X-SocialInbox-Delivery"
TOLERANCE_SECONDS = 300
SECRET_PREFIX = "whsec_"


def secret_new() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def signature(secret: str, body: bytes, timestamp: int) -> str:
    signed = str(int(timestamp)).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signature_header(secret: str, body: bytes, timestamp: int) -> str:
    return f"t={int(timestamp)},v1={signature(secret, body, timestamp)}"


def signature_verify(
    secret: str, body: bytes, header: str, *, now: float, tolerance: int = TOLERANCE_SECONDS
) -> bool:
    """Whether ``header`` signs ``body`` with ``secret`` at a time within ``tolerance`` of ``now``."""
    timestamp, candidates = None, []
    for part in (header or "").split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1":
            candidates.append(value)
    if timestamp is None or abs(now - timestamp) > tolerance:
        return False
    expected = signature(secret, body, timestamp)
    return any(hmac.compare_digest(expected, candidate) for candidate in candidates)
