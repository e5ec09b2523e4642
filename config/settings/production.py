"""The production stack: PostgreSQL, Redis, Celery workers, graph.facebook.com.

Refuses to start without its secrets; `manage.py check --deploy --fail-level WARNING` is clean.
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import CONTENT_SECURITY_POLICY, FACEBOOK_DIALOG_URL, MEDIA_FETCH_ALLOWED_ORIGINS, env

SANDBOX = False  # the sandbox app is never installed here


def _required(name: str) -> str:
    value = env(name, default="")
    if not value:
        raise ImproperlyConfigured(f"{name} must be set in production.")
    return value


SECRET_KEY = _required("DJANGO_SECRET_KEY")
FACEBOOK_APP_SECRET = _required("FACEBOOK_APP_SECRET")
FIELD_ENCRYPTION_KEYS = [key for key in _required("FIELD_ENCRYPTION_KEYS").split(",") if key.strip()]
DEBUG = env.bool("DJANGO_DEBUG", default=False)

# SECURITY
# ------------------------------------------------------------------------------
# https://docs.djangoproject.com/en/5.2/howto/deployment/checklist/
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
# The Facebook login form redirects to Meta's dialog; browsers apply form-action to that redirect.
CONTENT_SECURITY_POLICY["DIRECTIVES"]["form-action"] = ["'self'", FACEBOOK_DIALOG_URL.split("/v")[0]]
# Media URLs come from webhooks: never fetched from a local address, nor over plain http.
MEDIA_FETCH_LOCAL_ORIGINS: list[str] = []
if any(not origin.startswith("https://") for origin in MEDIA_FETCH_ALLOWED_ORIGINS):
    raise ImproperlyConfigured("MEDIA_FETCH_ALLOWED_ORIGINS must list https:// origins only in production.")

# EMAIL
# ------------------------------------------------------------------------------
# EMAIL_URL sets the server, credentials and (from its scheme) a backend; an explicit
# DJANGO_EMAIL_BACKEND wins over that backend.
EMAIL_URL = env.email_url("EMAIL_URL", default="smtp://localhost:25")
vars().update(EMAIL_URL)
EMAIL_BACKEND = env("DJANGO_EMAIL_BACKEND", default=EMAIL_URL["EMAIL_BACKEND"])

# DATABASES
# ------------------------------------------------------------------------------
# Under ASGI a persistent connection per request thread exhausts PostgreSQL (docs/serving.md);
# ASGI processes set DJANGO_DB_POOL=1 to use psycopg's pool instead.
if env.bool("DJANGO_DB_POOL", default=False):
    from .base import DATABASES

    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # timeout: how long a request waits for a free connection before failing (the webhook view
    # answers 503), instead of psycopg's default 30 s while a hung database holds every connection.
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 2, "max_size": 10, "timeout": env.float("DB_POOL_TIMEOUT", default=5.0),
    }
