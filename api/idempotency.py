"""`Idempotency-Key` for writes: the first answer is kept, and a repeat of the key gets it back unchanged
and does nothing again (a retried POST after a lost answer sends no second reply)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING

from django.db import IntegrityError, transaction
from django.utils import timezone

from api.errors import ApiError
from api.models import IdempotentRequest

if TYPE_CHECKING:
    from api.models import ApiKey

KEY_MAX_LENGTH = 255
# How long a key's first answer is kept: a client retries within minutes, not days.
KEEP_FOR = timedelta(days=1)


def _fingerprint(method: str, path: str, body: object) -> str:
    raw = json.dumps([method, path, body], sort_keys=True, default=str)
    return hashlib.sha256(raw.encode()).hexdigest()


def run_once(
    *, api_key: ApiKey, key: str | None, method: str, path: str, body: object, run: Callable[[], tuple[int, dict]]
) -> tuple[int, dict]:
    """`run()` once per (API key, idempotency key); without a key, simply `run()`. Returns (status, body)."""
    if not key:
        return run()
    if len(key) > KEY_MAX_LENGTH:
        raise ApiError(400, "invalid_idempotency_key", f"Idempotency-Key is at most {KEY_MAX_LENGTH} characters.")
    fingerprint = _fingerprint(method, path, body)
    try:
        with transaction.atomic():
            # The row is written first, in the write's transaction: a concurrent repeat waits on the
            # unique index until this commits (and then finds the answer) or rolls back (and runs).
            row = IdempotentRequest.objects.create(api_key=api_key, key=key, fingerprint=fingerprint)
            status, answer = run()
            row.status_code, row.response = status, answer
            row.save(update_fields=["status_code", "response"])
            return status, answer
    except IntegrityError:
        pass
    first = IdempotentRequest.objects.filter(api_key=api_key, key=key).first()
    if first is None or not first.status_code:
        raise ApiError(409, "idempotency_conflict", "A request with this Idempotency-Key is still being handled.")
    if first.fingerprint != fingerprint:
        raise ApiError(
            422, "idempotency_key_reused", "This Idempotency-Key was used for a different request; use a new key."
        )
    return first.status_code, first.response


def idempotency_prune(*, now=None) -> int:
    """Forget answers older than KEEP_FOR (daily); a repeat after that is a new request."""
    cutoff = (now or timezone.now()) - KEEP_FOR
    deleted, _ = IdempotentRequest.objects.filter(created_at__lt=cutoff).delete()
    return deleted
