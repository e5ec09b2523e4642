"""Receiving one webhook POST (docs/messenger-platform.md §2, §5): verify, store the exact bytes, answer.

Every step is written here once, for the two front doors that call it: the Django view
(``inbox.webhooks``) and the ASGI adapter (``inbox.webhook_asgi``), which only differ in how they
read the request, reach the database and send the answer. The GET handshake that subscribes the
endpoint is ``subscription_answer``.

1. ``refused_unsigned``: 403 without ``X-Hub-Signature-256``, before the body is read;
2. ``too_large``: 413 over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (Django's own limit for a body);
3. ``refused_forged``: 403 when the signature does not match the raw bytes (nothing stored);
4. ``webhook_event_store`` / ``webhook_event_astore``: one INSERT (``INSERT_SQL``) of the body as a
   pending ``WebhookEvent``; a database error is a 503 with ``Retry-After`` so Meta redelivers;
5. the drain is woken once the row is committed (``inbox.ingest.wake``), never before the answer.

The body is never parsed: a body Meta signed is stored even if it is not JSON, and processing marks
it failed.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from inbox.facebook.signature import verify_signature
from inbox.ingest.wake import webhook_events_wake

# The view's logger: operators filter on it, whichever front door answered.
logger = logging.getLogger("inbox.webhooks")

RETRY_AFTER_SECONDS = 5

# The one INSERT of a received event. Written out rather than built from the model so that both front
# doors run the same statement, with the same defaults as ``WebhookEvent``'s fields (pending, nothing
# tried yet). A NOT NULL column added to the model must be added here (inbox/tests/test_receive.py).
INSERT_SQL = (
    "INSERT INTO inbox_webhookevent"
    " (body, signature, received_at, state, attempts, last_error, object_type, account_ids, unroutable_account_ids)"
    " VALUES (%s, %s, %s, 'pending', 0, '', '', '[]', '[]')"
)


@dataclass(frozen=True)
class Answer:
    """What the endpoint answers: a short plain-text body and its status."""

    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()


# The endpoint's path as config/urls.py mounts it (webhooks/ + inbox/webhook_urls.py), for the ASGI
# adapter, which must not reverse() it: that loads the whole URLconf. A test checks reverse() agrees.
FACEBOOK_WEBHOOK_PATH = "/webhooks/facebook/"

ACCEPTED = Answer(200, b"EVENT_RECEIVED")
FORBIDDEN = Answer(403, b"Forbidden")
TOO_LARGE = Answer(413, b"Request body too large")
UNAVAILABLE = Answer(503, b"Service unavailable", (("Retry-After", str(RETRY_AFTER_SECONDS)),))


def subscription_answer(mode: str, token: str, challenge: str) -> Answer:
    """The subscription handshake (GET ``hub.mode``, ``hub.verify_token``, ``hub.challenge``): echo the
    challenge when the verify token matches, else 403."""
    expected = settings.FACEBOOK_VERIFY_TOKEN
    if expected and mode == "subscribe" and constant_time_compare(token, expected):
        return Answer(200, challenge.encode(), (("Content-Type", "text/plain; charset=utf-8"),))
    logger.warning("Webhook verification refused (mode=%r)", mode)
    return FORBIDDEN


def refused_unsigned(signature: str | bytes | None) -> Answer | None:
    if signature:
        return None
    logger.warning("Webhook POST without X-Hub-Signature-256 refused")
    return FORBIDDEN


def body_limit() -> int | None:
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE


def announced_too_large(content_length: str | bytes | None) -> bool:
    """True when ``Content-Length`` alone says the body is over the limit (it is then never read)."""
    limit = body_limit()
    if limit is None or not content_length:
        return False
    try:
        return int(content_length) > limit
    except ValueError:
        return False


def too_large(content_length: str | bytes | None) -> Answer:
    if isinstance(content_length, bytes):
        content_length = content_length.decode("latin-1")
    logger.error("Webhook body over DATA_UPLOAD_MAX_MEMORY_SIZE refused (Content-Length %s)", content_length)
    return TOO_LARGE


def refused_forged(body: bytes, signature: str) -> Answer | None:
    if verify_signature(body, signature, settings.FACEBOOK_APP_SECRET):
        return None
    # A forgery or a misconfigured app secret: either way nothing is stored, and it must be noticed.
    logger.warning("Webhook POST with an invalid signature refused (%d bytes)", len(body))
    return FORBIDDEN


def insert_params(body: bytes, signature: str, received_at: Any = None) -> tuple[Any, ...]:
    """The parameters of ``INSERT_SQL``; ``received_at`` as the database driver takes it (default: now)."""
    return (body, signature, timezone.now() if received_at is None else received_at)


def unavailable(*, timed_out: float | None = None) -> Answer:
    # Meta redelivers on any non-200, so the message is not lost while the database is down.
    if timed_out is not None:
        logger.error("Webhook event could not be stored within %.0f s; answering 503 so Meta retries", timed_out)
    else:
        logger.exception("Webhook event could not be stored; answering 503 so Meta retries")
    return UNAVAILABLE


def webhook_event_store(body: bytes, signature: str) -> Answer:
    """Store a verified POST through Django's connection; the drain is woken after the commit."""
    try:
        with connection.cursor() as cursor:
            # In the database's own datetime format (SQLite compares received_at as text).
            received_at = connection.ops.adapt_datetimefield_value(timezone.now())
            cursor.execute(INSERT_SQL, insert_params(body, signature, received_at))
    except DatabaseError:
        return unavailable()
    transaction.on_commit(webhook_events_wake)
    return ACCEPTED


async def webhook_event_astore(pool: Any, body: bytes, signature: str, *, acquire_timeout: float) -> Answer:
    """Store a verified POST through a psycopg async pool in autocommit (committed on return).

    Any failure is a 503; the caller wakes the drain (``webhook_events_awake``) after answering.
    """
    try:
        async with pool.connection(timeout=acquire_timeout) as conn:
            await conn.execute(INSERT_SQL, insert_params(body, signature))
    except asyncio.CancelledError:
        raise
    except Exception:
        return unavailable()
    return ACCEPTED
