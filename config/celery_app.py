from __future__ import annotations

import logging

from celery import Celery
from celery.signals import after_setup_logger, after_setup_task_logger, task_postrun, task_prerun
from django.db import close_old_connections

from config.entrypoints import require_settings_module

# `celery -A config` names no settings: DJANGO_SETTINGS_MODULE must be set (config/entrypoints.py).
require_settings_module()

# The task class runs tasks on background threads of the embedded default (config/inprocess_tasks.py).
app = Celery("social_inbox", task_cls="config.inprocess_tasks:InProcessTask")
# https://docs.celeryq.dev/en/stable/django/first-steps-with-django.html
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@after_setup_logger.connect
@after_setup_task_logger.connect
def _redact_worker_logs(logger: logging.Logger, **kwargs) -> None:
    """The worker installs its own handlers; they get the same token redaction as Django's."""
    from config.logging import RedactTokensFilter

    for handler in logger.handlers:
        if not any(isinstance(f, RedactTokensFilter) for f in handler.filters):
            handler.addFilter(RedactTokensFilter())


@task_prerun.connect
@task_postrun.connect
def _close_old_connections(sender=None, **kwargs) -> None:
    """Around each task, what Django does around a request: close the connections past CONN_MAX_AGE
    or broken, and health-check the others before their next use (settings: CELERY_DB_REUSE_MAX).

    Not for eager tasks (the embedded default's runner, tests): they run on the caller's connection,
    maybe inside its transaction, and the runner looks after its own threads' connections.
    """
    if getattr(getattr(sender, "request", None), "is_eager", False):
        return
    close_old_connections()
