from __future__ import annotations

import logging
import os

from celery import Celery
from celery.signals import after_setup_logger, after_setup_task_logger

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("social_inbox")
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
