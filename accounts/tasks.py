"""Celery interfaces of accounts (scheduled in CELERY_BEAT_SCHEDULE)."""

from __future__ import annotations

import logging

from celery import shared_task

logger = logging.getLogger(__name__)


@shared_task
def audit_retention_enforce() -> int:
    """Delete the audit rows each business keeps no longer (daily); a missed day is caught up the next."""
    from accounts.activity import audit_retention_enforce as enforce

    deleted = enforce()
    if deleted:
        logger.info("Activity log retention deleted %s audit rows", deleted)
    return deleted
