"""Queueing Celery tasks from services: after the transaction commits, never failing the caller.

Services name tasks by their registered name (``"inbox.tasks.message_send"``) instead of importing
the tasks module, which imports the services: the name is resolved only when the task is queued.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from typing import Any

from django.db import transaction

logger = logging.getLogger(__name__)

# One quick retry only: callers (a webhook's ack, a reply) must stay fast, and every queued task has
# a periodic task or a button that queues it again once the broker is back.
ENQUEUE_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.1, "interval_max": 0.1}


def task_by_name(name: str) -> Any:
    """The task object registered as ``name`` (``<module>.<function>``), importing its module."""
    module, _, attribute = name.rpartition(".")
    return getattr(importlib.import_module(module), attribute)


def enqueue(name: str, *args: Any, on_error: Callable[[], None] | None = None, **options: Any) -> bool:
    """Queue ``name(*args)`` now; a broker failure is logged (and ``on_error`` called), not raised."""
    try:
        task_by_name(name).apply_async(args, retry_policy=ENQUEUE_RETRY_POLICY, **options)
    except Exception:
        logger.exception("Could not queue %s%r", name, args)
        if on_error is not None:
            on_error()
        return False
    return True


def enqueue_on_commit(name: str, *args: Any, on_error: Callable[[], None] | None = None, **options: Any) -> None:
    """Queue ``name(*args)`` once the current transaction commits (at once outside one).

    Nothing is queued for a transaction that rolls back, and the task always sees the rows its
    caller wrote.
    """
    transaction.on_commit(lambda: enqueue(name, *args, on_error=on_error, **options))
