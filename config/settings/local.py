"""The embedded default: SQLite, in-memory channel layer, Celery tasks in process (after the response), the sandbox."""

from __future__ import annotations

from .sandbox import *  # noqa: F403
from .sandbox import REDIS_URL, env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
EMAIL_BACKEND = env("DJANGO_EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")

# TASKS
# ------------------------------------------------------------------------------
# Without a broker, a server started by `manage.py runserver` runs the Celery tasks on background
# threads after the response, never inside the request (config/inprocess_tasks.py). Management
# commands still run them eagerly in place, and finish them before they exit.
TASKS_IN_BACKGROUND_THREAD = env.bool("TASKS_IN_BACKGROUND_THREAD", default=True)
if not REDIS_URL:
    # The drain's "already queued" flag, shared by the request and task threads of this one process.
    INBOX_WEBHOOK_WAKE_URL = "memory://"
    # Task threads broadcast too: the layer hands their sends to the server's event loop.
    CHANNEL_LAYERS = {"default": {"BACKEND": "config.inprocess_channels.InMemoryChannelLayer"}}
