"""Celery tasks of outbound webhooks: thin interfaces over outbound/deliveries.py.

A failed try is retried by Celery (the project's ``RetryingTask``) after the delay the delivery
recorded: ``DeliveryRetry.retry_after``. A retry that arrives early (a broker redelivering a long
countdown) finds the delivery not due and does nothing; the periodic requeue sends what a lost
task left waiting.
"""

from __future__ import annotations

from celery import shared_task

from config.tasks import RetryingTask, RetryLater


class DeliveryRetry(RetryLater):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"Webhook delivery retried in {retry_after}s")
        self.retry_after = retry_after


@shared_task(bind=True, base=RetryingTask, name="outbound.tasks.delivery_send", max_retries=None)
def delivery_send(self, delivery_id: int) -> str:
    from outbound.deliveries import delivery_attempt

    outcome = delivery_attempt(delivery_id=delivery_id)
    if outcome.retry_in is not None:
        raise DeliveryRetry(outcome.retry_in)
    return outcome.state


@shared_task(base=RetryingTask, name="outbound.tasks.deliveries_requeue_due")
def deliveries_requeue_due() -> int:
    from outbound.deliveries import deliveries_requeue_due as requeue

    return requeue()


@shared_task(base=RetryingTask, name="outbound.tasks.deliveries_prune")
def deliveries_prune() -> int:
    from outbound.deliveries import deliveries_prune as prune

    return prune()
