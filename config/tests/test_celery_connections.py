"""A Celery worker keeps its database connection between tasks, as a web process does between
requests (CONN_MAX_AGE, CONN_HEALTH_CHECKS), instead of opening one per task."""

from __future__ import annotations

import time

import pytest
from celery.fixups.django import DjangoWorkerFixup
from celery.signals import task_postrun, task_prerun
from django.db import connection

from config.celery_app import app

pytestmark = [
    # Outside a test transaction: closing old connections inside one would end it.
    pytest.mark.django_db(transaction=True),
    # Workers run beside PostgreSQL; closing the tests' in-memory SQLite database would drop it.
    pytest.mark.skipif(connection.vendor != "postgresql", reason="Celery workers run with PostgreSQL"),
]


@pytest.fixture
def task():
    """A task as a worker runs it (its request is not eager)."""
    from inbox.tasks import webhook_events_drain as task

    assert not task.request.is_eager
    return task


def _run_between_tasks(task) -> None:
    """What a worker runs around a task: Celery's Django fix-up, then every receiver of the signals."""
    fixup = DjangoWorkerFixup(app)
    fixup.on_task_prerun(sender=task)
    task_prerun.send(sender=task, task_id="t", task=task, args=(), kwargs={})
    fixup.on_task_postrun(sender=task)
    task_postrun.send(sender=task, task_id="t", task=task, args=(), kwargs={}, retval=None, state="SUCCESS")


def test_a_connection_within_its_max_age_serves_the_next_task(task):
    connection.ensure_connection()
    opened = connection.connection
    connection.close_at = time.monotonic() + 60  # as with CONN_MAX_AGE = 60 (the tests' settings say 0)

    _run_between_tasks(task)
    connection.ensure_connection()

    assert connection.connection is opened


def test_a_connection_past_its_max_age_is_closed_between_tasks(task):
    connection.ensure_connection()
    connection.close_at = time.monotonic() - 1

    _run_between_tasks(task)

    assert connection.connection is None


def test_a_broken_connection_is_closed_between_tasks(task):
    connection.ensure_connection()
    connection.close_at = time.monotonic() + 60
    connection.errors_occurred = True
    connection.connection.close()  # the server went away

    _run_between_tasks(task)

    assert connection.connection is None
