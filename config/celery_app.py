from __future__ import annotations

import logging

from celery import Celery
from celery.signals import after_setup_logger, after_setup_task_logger

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
