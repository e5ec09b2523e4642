"""The Messenger sandbox as a server of its own, standing in for Meta beside the production stack.

`make prod` (scripts/prod.sh) runs it when no real Meta app is configured: the production settings
never install the sandbox, so it runs in its own process with these settings and its own database
(SANDBOX_DATABASE_URL, a SQLite file by default), never the product's PostgreSQL or Redis. It shares
FACEBOOK_APP_ID / FACEBOOK_APP_SECRET with the stack (webhook signatures, app tokens) and posts its
webhooks to SANDBOX_WEBHOOK_URL, the stack's proxy.
"""

from __future__ import annotations

from .sandbox import *  # noqa: F403
from .sandbox import BASE_DIR, SQLITE_OPTIONS, env

DEBUG = False
DATABASES = {"default": env.db("SANDBOX_DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'var' / 'sandbox.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several request threads write (Graph calls, webhook threads).
    DATABASES["default"]["OPTIONS"] = dict(SQLITE_OPTIONS)
# Cookies ignore ports, and browsers treat http://127.0.0.1 as secure: under the product's cookie
# names, a visit to the dialog would send the product's session cookie here, where no such session
# exists, and Django would delete it: the person returns to the product signed out.
SESSION_COOKIE_NAME = "sandbox_sessionid"
CSRF_COOKIE_NAME = "sandbox_csrftoken"
# Nothing of the product's shared state: no Redis cache, channel layer or broker.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
CELERY_BROKER_URL = "memory://localhost/"
CELERY_TASK_ALWAYS_EAGER = True
INBOX_WEBHOOK_WAKE_URL = ""
EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
# The dialog's styles come from the app directories (the stack's collectstatic does not know the
# sandbox), served by WhiteNoise without a manifest.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
# A trial's proxy has a self-signed certificate; a real Meta would refuse it, the sandbox may not.
SANDBOX_WEBHOOK_VERIFY_TLS = env.bool("SANDBOX_WEBHOOK_VERIFY_TLS", default=False)
if not SANDBOX_WEBHOOK_VERIFY_TLS:
    # Said once here rather than warned on every webhook the sandbox posts.
    import warnings

    from urllib3.exceptions import InsecureRequestWarning

    warnings.filterwarnings("ignore", category=InsecureRequestWarning)
