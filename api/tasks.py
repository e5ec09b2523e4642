"""Celery interfaces of the API (scheduled in CELERY_BEAT_SCHEDULE)."""

from __future__ import annotations

from celery import shared_task

from api.idempotency import idempotency_prune


@shared_task
def idempotency_keys_prune() -> int:
    return idempotency_prune()
