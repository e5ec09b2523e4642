"""Queueing Celery tasks from services (after the transaction commits, never failing the caller), and
the one retry policy of the tasks that call Meta (``RetryingTask``).

Services name tasks by their registered name (``"inbox.tasks.message_send"``) instead of importing
the tasks module, which imports the services: the name is resolved only when the task is queued.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from typing import Any

from celery.utils.time import get_exponential_backoff_interval
from django.db import InterfaceError, OperationalError, transaction

from config.inprocess_tasks import InProcessTask

logger = logging.getLogger(__name__)

# One quick retry only: callers (a webhook's ack, a reply) must stay fast, and every queued task has
# a periodic task or a button that queues it again once the broker is back.
ENQUEUE_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.1, "interval_max": 0.1}


def task_by_name(name: str) -> Any:
    """The task object registered as ``name`` (``<module>.<function>``), importing its module."""
    module, _, attribute = name.rpartition(".")
    return getattr(importlib.import_module(module), attribute)


def enqueue(name: str, *args: Any, on_error: Callable[[], object] | None = None, **options: Any) -> bool:
    """Queue ``name(*args)`` now; a broker failure is logged (and ``on_error`` called), not raised."""
    try:
        task_by_name(name).apply_async(args, retry_policy=ENQUEUE_RETRY_POLICY, **options)
    except Exception:
        logger.exception("Could not queue %s%r", name, args)
        if on_error is not None:
            on_error()
        return False
    return True


def enqueue_on_commit(name: str, *args: Any, on_error: Callable[[], object] | None = None, **options: Any) -> None:
    """Queue ``name(*args)`` once the current transaction commits (at once outside one).

    Nothing is queued for a transaction that rolls back, and the task always sees the rows its
    caller wrote.
    """
    transaction.on_commit(lambda: enqueue(name, *args, on_error=on_error, **options))


# RETRIES
# ------------------------------------------------------------------------------
class RetryLater(Exception):
    """A failure worth trying again later (Meta is down or throttling, the broker of a lease is busy).

    ``retry_after`` is the wait the other side asked for, in seconds, when it said one.
    Higher layers subclass it (``social.graph.TransientGraphError``), so the task class below
    retries them without this module knowing their kinds.
    """

    retry_after: int | None = None


# The database is restarting, failing over or dropped the connection: the same work will succeed.
DATABASE_UNAVAILABLE: tuple[type[Exception], ...] = (OperationalError, InterfaceError)


class RetryingTask(InProcessTask):
    """The base of every task that talks to Meta or may meet the database down: Celery owns the retries.

    A ``RetryLater`` or an unavailable database is retried with exponential backoff and full jitter
    (so a fleet of workers doesn't hammer Meta in step), at most ``max_retries`` times, after the
    ``retry_after`` Meta gave when it rate-limits. Nothing sleeps in a worker: the retry is queued
    with its countdown (on the in-process runner's lane in the embedded default).
    A task records its permanent failure itself: ``will_retry(exc)`` says whether this failure is
    its last.
    """

    autoretry_for = (RetryLater, *DATABASE_UNAVAILABLE)
    retry_backoff = 2
    retry_backoff_max = 300
    retry_jitter = True
    max_retries = 5
    acks_late = True

    def retry(self, args=None, kwargs=None, exc=None, throw=True, eta=None, countdown=None, max_retries=None,
              **options):
        if eta is None:
            countdown = _after_meta_wait(exc, countdown)
        return super().retry(args=args, kwargs=kwargs, exc=exc, throw=throw, eta=eta, countdown=countdown,
                             max_retries=max_retries, **options)

    def hand_over(self, name: str, *args: Any, exc: BaseException) -> bool:
        """Queue ``name(*args)`` as the retry of a try that ``exc`` ended in this task: counted as its
        first retry, after the same backoff (or Meta's wait). For a task that does the work of many
        (one lookup per customer of a batch) and leaves each failure to retry on its own."""
        backoff = get_exponential_backoff_interval(
            factor=int(self.retry_backoff), retries=0, maximum=self.retry_backoff_max, full_jitter=self.retry_jitter,
        )
        return enqueue(name, *args, retries=1, countdown=_after_meta_wait(exc, backoff))

    def will_retry(self, exc: BaseException) -> bool:
        """True when this failure is queued again (a retried kind with tries left), False on the last try."""
        retried = isinstance(exc, tuple(self.autoretry_for or ()))  # type: ignore[arg-type]
        return retried and (self.max_retries is None or self.request.retries < self.max_retries)


def _after_meta_wait(exc: BaseException | None, countdown: float | None) -> float | None:
    retry_after = getattr(exc, "retry_after", None)
    if retry_after:
        # Meta said when it will answer again (rate limits, §12): sooner would only be refused.
        return max(int(retry_after), int(countdown or 0))
    return countdown
