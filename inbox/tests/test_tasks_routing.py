"""Which queue each task goes to: what staff wait for is taken before background work."""

from __future__ import annotations

import pytest
from django.conf import settings

from config.celery_app import app


@pytest.mark.parametrize(
    ("task", "queue"),
    [
        ("inbox.tasks.webhook_events_drain", "live"),
        ("inbox.tasks.webhook_event_process", "live"),
        ("inbox.tasks.message_send", "live"),
        ("inbox.tasks.conversation_mark_seen", "live"),
        ("inbox.tasks.contact_profile_fetch", "celery"),
        ("inbox.tasks.contact_profiles_fetch", "celery"),
        ("inbox.tasks.attachment_download", "celery"),
        ("inbox.tasks.webhook_events_requeue_stale", "celery"),
    ],
)
def test_tasks_are_routed_by_who_waits_for_them(task, queue):
    app.loader.import_default_modules()  # the worker's task autodiscovery
    assert task in app.tasks
    assert app.amqp.router.route({}, task)["queue"].name == queue


def test_workers_take_the_live_queue_first():
    assert [q.name for q in app.conf.task_queues] == ["live", "celery"]
    # Each queue has its own routing key: a message never reaches both.
    assert [q.routing_key for q in app.conf.task_queues] == ["live", "celery"]
    assert settings.CELERY_BROKER_TRANSPORT_OPTIONS["queue_order_strategy"] == "priority"
