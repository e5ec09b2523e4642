"""What the process entry points (config/wsgi.py, config/asgi.py, config/celery_app.py) check first.

They name no settings module of their own: the development settings (config.settings.local) carry
the sandbox and fixed development secrets, so a production process started without
DJANGO_SETTINGS_MODULE must stop rather than quietly run as development. `manage.py` alone keeps
config.settings.local as its default, for development.
"""

from __future__ import annotations

import os

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

MISSING_SETTINGS_MODULE = (
    "DJANGO_SETTINGS_MODULE is not set: set DJANGO_SETTINGS_MODULE=config.settings.production "
    "(or config.settings.local for development)."
)
# Web processes answer within seconds: a statement running longer is cancelled (the webhook view
# answers 503 and Meta retries). Workers and management commands keep no limit unless they set one.
WEB_STATEMENT_TIMEOUT_MS = "5000"


def require_settings_module() -> None:
    if not os.environ.get("DJANGO_SETTINGS_MODULE"):
        raise ImproperlyConfigured(MISSING_SETTINGS_MODULE)


def prepare_web_process() -> None:
    """Called by the WSGI and ASGI entry points, which normally run before Django loads the settings."""
    require_settings_module()
    if not settings.configured:
        # Not when imported into a process already set up (runserver, tests): its settings are
        # loaded, and its subprocesses (workers) must not inherit a web process's limit.
        os.environ.setdefault("DB_STATEMENT_TIMEOUT_MS", WEB_STATEMENT_TIMEOUT_MS)
