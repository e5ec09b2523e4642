"""``X-Hub-Signature-256`` computation and verification for Meta webhooks (docs/messenger-platform.md §2).

Meta signs the exact bytes it sends: an ASCII body where non-ASCII text, ``/`` and ``@`` arrive as
``\\uXXXX`` / ``\\/`` escapes. Decoding and re-serialising the JSON almost never reproduces those
bytes, so both functions take the raw request body (``request.body``) and never parse it.
The key is the App Secret, not the webhook verify token.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Final

PREFIX: Final = "sha256="

# Meta sends 64 lowercase hex digits. Anything else is rejected before comparing, which also keeps
# non-ASCII input away from hmac.compare_digest (it raises TypeError on non-ASCII str).
_HEADER_RE: Final = re.compile(r"sha256=[0-9a-f]{64}")


def compute_signature(body: bytes, secret: str) -> str:
    """Return the header value Meta would send for ``body``: ``"sha256=" + hex HMAC-SHA256``."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return PREFIX + digest


def verify_signature(body: bytes, header: str | None, secret: str) -> bool:
    """True only if ``header`` is a well-formed ``sha256=<64 hex>`` matching ``body`` under ``secret``.

    An empty secret is refused outright: with a missing setting, anyone could otherwise forge a
    signature keyed by ``b""``.
    """
    if not secret or not header or not isinstance(header, str):
        return False
    if _HEADER_RE.fullmatch(header) is None:
        return False
    # Constant-time so response timing does not leak how many leading characters matched.
    return hmac.compare_digest(compute_signature(body, secret), header)


__all__ = ["PREFIX", "compute_signature", "verify_signature"]
