"""The embedded default: SQLite, in-memory channel layer, eager Celery, the Messenger sandbox."""

from __future__ import annotations

from .sandbox import *  # noqa: F403
from .sandbox import env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
EMAIL_BACKEND = env("DJANGO_EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
