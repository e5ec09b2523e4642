"""A minimal receiver of Social Inbox's outbound webhooks: standard library only, no Django.

Run it with the endpoint's signing secret (shown once when the endpoint was added or its secret
rotated):

    WEBHOOK_SECRET=whsec_... python examples/webhook_receiver.py 8080

It answers 2xx only to a delivery whose signature is right and recent; anything else gets 400, and
Social Inbox retries for a day. Deliveries may arrive twice (a retry after a lost answer, a replay):
deduplicate on the event's ``id`` (also in the ``X-SocialInbox-Delivery`` header).

The signature header is ``X-SocialInbox-Signature: t=<unix seconds>,v1=<hex>``, where ``v1`` is
HMAC-SHA256 of ``"<t>.<raw body>"`` keyed by the secret. Verify it over the raw bytes, before parsing.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

TOLERANCE_SECONDS = 300  # refuse a delivery signed longer ago than this (a captured one, replayed)
MAX_BODY_BYTES = 1024 * 1024


def verify(secret: str, body: bytes, header: str, *, now: float | None = None,
           tolerance: int = TOLERANCE_SECONDS) -> bool:
    """Whether ``header`` signs ``body`` with ``secret``, at a time within ``tolerance`` of now."""
    now = time.time() if now is None else now
    timestamp, signatures = None, []
    for part in (header or "").split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1":
            signatures.append(value)
    if timestamp is None or abs(now - timestamp) > tolerance:
        return False
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(expected, signature) for signature in signatures)


class Receiver(BaseHTTPRequestHandler):
    secret = ""
    seen: set[str] = set()  # event ids handled (use your database in real life)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            self._answer(413, "too large")
            return
        body = self.rfile.read(length)
        if not verify(self.secret, body, self.headers.get("X-SocialInbox-Signature", "")):
            self._answer(400, "bad signature")
            return
        event = json.loads(body)
        if event["id"] not in self.seen:
            self.seen.add(event["id"])
            print(f"{event['type']} {event['id']} for {event['business']}: {json.dumps(event['data'])[:200]}")
        self._answer(200, "ok")

    def _answer(self, status: int, text: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(text.encode())


def main() -> None:
    Receiver.secret = os.environ["WEBHOOK_SECRET"]
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8080
    HTTPServer(("127.0.0.1", port), Receiver).serve_forever()


if __name__ == "__main__":
    main()
