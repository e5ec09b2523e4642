"""Meta's ``signed_request``: what the data-deletion and deauthorize callbacks POST (docs/compliance.md).

The form field is ``<signature>.<payload>``, both base64url without padding: the payload is JSON
(``algorithm``, ``user_id`` — the app-scoped id —, ``issued_at``, ``expires``…) and the signature is
HMAC-SHA256 of the *encoded* payload with the app secret. Pure functions: nothing here touches the
database, so a request that fails any check changes nothing.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from dataclasses import dataclass, field
from typing import Any

ALGORITHM = "HMAC-SHA256"
# Meta posts the callback the moment the person acts; a request older than this is a replay.
MAX_AGE_SECONDS = 24 * 3600
# Clocks differ a little; a request "from the future" beyond this is refused too.
CLOCK_SKEW_SECONDS = 300
MAX_LENGTH = 8192


class SignedRequestError(ValueError):
    """The signed_request cannot be trusted; the message says why (safe to show to the caller)."""


@dataclass(frozen=True)
class SignedRequest:
    user_id: str
    issued_at: int
    payload: dict[str, Any] = field(default_factory=dict)


def _b64decode(part: str, *, what: str) -> bytes:
    try:
        # Meta leaves the padding off (and sometimes adds a stray "="): normalise, then decode strictly.
        raw = part.rstrip("=").encode("ascii")
        return base64.b64decode(raw + b"=" * (-len(raw) % 4), altchars=b"-_", validate=True)
    except (UnicodeEncodeError, binascii.Error, ValueError) as exc:
        raise SignedRequestError(f"The signed_request's {what} is not valid base64url.") from exc


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def signed_request_parse(
    signed_request: str, *, secret: str, now: float | None = None, max_age: int = MAX_AGE_SECONDS
) -> SignedRequest:
    """Verify ``signed_request`` with the app ``secret`` and return its payload.

    Raises ``SignedRequestError`` when it is missing, malformed, not HMAC-SHA256, signed with
    another secret, too old, or names no user.
    """
    if not secret:
        raise SignedRequestError("The app secret is not configured; signed requests cannot be verified.")
    if not signed_request:
        raise SignedRequestError("The signed_request field is missing.")
    if len(signed_request) > MAX_LENGTH:
        raise SignedRequestError("The signed_request is too long.")
    encoded_signature, dot, encoded_payload = signed_request.strip().partition(".")
    if not dot or not encoded_signature or not encoded_payload:
        raise SignedRequestError("The signed_request is not '<signature>.<payload>'.")
    signature = _b64decode(encoded_signature, what="signature")
    try:
        payload = json.loads(_b64decode(encoded_payload, what="payload"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SignedRequestError("The signed_request's payload is not JSON.") from exc
    if not isinstance(payload, dict):
        raise SignedRequestError("The signed_request's payload is not a JSON object.")
    if str(payload.get("algorithm", "")).upper() != ALGORITHM:
        raise SignedRequestError(f"The signed_request's algorithm must be {ALGORITHM}.")
    # Signed over the payload exactly as sent (its base64url text), not over the decoded JSON.
    expected = hmac.new(secret.encode("utf-8"), encoded_payload.encode("ascii"), hashlib.sha256).digest()
    if not hmac.compare_digest(expected, signature):
        raise SignedRequestError("The signed_request's signature does not match the app secret.")
    user_id, issued_at = payload.get("user_id"), payload.get("issued_at")
    if not isinstance(user_id, str | int) or isinstance(user_id, bool) or not str(user_id).strip():
        raise SignedRequestError("The signed_request names no user_id.")
    if not isinstance(issued_at, int) or isinstance(issued_at, bool):
        raise SignedRequestError("The signed_request has no issued_at time.")
    now = time.time() if now is None else now
    if issued_at < now - max_age:
        raise SignedRequestError("The signed_request has expired.")
    if issued_at > now + CLOCK_SKEW_SECONDS:
        raise SignedRequestError("The signed_request is issued in the future.")
    return SignedRequest(user_id=str(user_id).strip()[:64], issued_at=issued_at, payload=payload)


def signed_request_build(payload: dict[str, Any], *, secret: str) -> str:
    """A ``signed_request`` for ``payload`` as Meta builds one (the sandbox and tests use it)."""
    body = {"algorithm": ALGORITHM, **payload}
    encoded_payload = _b64encode(json.dumps(body, separators=(",", ":")).encode("utf-8"))
    signature = hmac.new(secret.encode("utf-8"), encoded_payload.encode("ascii"), hashlib.sha256).digest()
    return f"{_b64encode(signature)}.{encoded_payload}"
