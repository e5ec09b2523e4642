"""Settings shared by every environment.

Everything that differs between the embedded default and the production stack comes from the
environment (django-environ); `.env.example` lists every variable.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import environ
from kombu import Queue

BASE_DIR = Path(__file__).resolve(strict=True).parent.parent.parent
env = environ.Env()

if env.bool("DJANGO_READ_DOT_ENV_FILE", default=False):
    # Real environment variables win over the file.
    env.read_env(str(BASE_DIR / ".env"))

# GENERAL
# ------------------------------------------------------------------------------
DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env("DJANGO_SECRET_KEY", default="")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en-us"
USE_I18N = True
USE_TZ = True
SITE_ID = 1

# DATABASES
# ------------------------------------------------------------------------------
# https://docs.djangoproject.com/en/5.2/ref/settings/#databases
# WAL + IMMEDIATE transactions let the webhook, the in-process tasks and the sandbox write from
# several threads of one process without "database is locked" errors.
SQLITE_OPTIONS = {
    "transaction_mode": "IMMEDIATE",
    "timeout": 20,
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
}
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = dict(SQLITE_OPTIONS)
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # A hung database answers the webhook with a 503 in seconds (Meta retries) instead of never.
    DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = env.int("DB_CONNECT_TIMEOUT", default=3)
    # A statement that runs longer is cancelled, so a locked table or a hung database answers the
    # webhook view with a 503 in seconds. The web entry points (config/wsgi.py, config/asgi.py)
    # default it to 5000 ms; workers and management commands (migrate) have no limit unless set.
    DB_STATEMENT_TIMEOUT_MS = env.int("DB_STATEMENT_TIMEOUT_MS", default=0)
    if DB_STATEMENT_TIMEOUT_MS > 0:
        _options = DATABASES["default"]["OPTIONS"]
        _options["options"] = f"{_options.get('options', '')} -c statement_timeout={DB_STATEMENT_TIMEOUT_MS}".strip()
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# URLS
# ------------------------------------------------------------------------------
ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

# APPS
# ------------------------------------------------------------------------------
DJANGO_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.sites",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.admin",
]
THIRD_PARTY_APPS = [
    "channels",
    "csp",
    "django_htmx",
    "template_partials",
    "django_celery_beat",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.facebook",
]
LOCAL_APPS = [
    "accounts",
    "social",
    "inbox",
    "outbound",
    "api",
]
INSTALLED_APPS = DJANGO_APPS + THIRD_PARTY_APPS + LOCAL_APPS

# The Messenger sandbox (a fake Meta, `sandbox/`) is added by local.py and test.py, never by production.py.
SANDBOX = False
# Where this installation is reachable; the sandbox posts its webhooks here.
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000")

# AUTHENTICATION
# ------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "inbox:conversation_list"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# MIDDLEWARE
# ------------------------------------------------------------------------------
MIDDLEWARE = [
    # First: load balancers' probes are answered whatever their Host, over plain HTTP (config/health.py).
    "config.health.HealthCheckMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Pages gzipped (static files are WhiteNoise's, above); why here and not in nginx: config/compression.py.
    "config.compression.PageGZipMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "accounts.middleware.CurrentBusinessMiddleware",
    "csp.middleware.CSPMiddleware",
    # Innermost: a failed htmx request gets a notice, never a whole page (config/htmx_errors.py).
    "config.htmx_errors.HtmxErrorMiddleware",
]

# STATIC AND MEDIA
# ------------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# django-ninja's Swagger UI files (static/ninja/…) for the API's docs page (api/api.py), found without
# importing ninja: listing it in INSTALLED_APPS would load it and pydantic in every process (12 MiB).
_ninja = importlib.util.find_spec("ninja")
if _ninja is None or _ninja.origin is None:
    raise RuntimeError("django-ninja is not installed (requirements.txt)")
STATICFILES_DIRS = [BASE_DIR / "static", Path(_ninja.origin).parent / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = env("MEDIA_ROOT", default=str(BASE_DIR / "media"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
# Meta batches up to 1000 updates in one POST; the default 2.5 MB would refuse a legitimate batch.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=10 * 1024 * 1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# REST API (api/, docs/api.md)
# ------------------------------------------------------------------------------
# Requests per minute per API key (429 with Retry-After beyond), and the largest request body (413).
API_RATE_LIMIT_PER_MINUTE = env.int("API_RATE_LIMIT_PER_MINUTE", default=120)
API_MAX_BODY_BYTES = env.int("API_MAX_BODY_BYTES", default=64 * 1024)

# TEMPLATES
# ------------------------------------------------------------------------------
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.debug",
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.current_business",
                "social.context_processors.reconnect_banner",
                "config.navigation.nav_section",
            ],
        },
    },
]

# SECURITY
# ------------------------------------------------------------------------------
# https://django-csp.readthedocs.io/ — scripts and styles only from ourselves (htmx is served by us).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:", "https:"],
        "media-src": ["'self'", "https:"],
        "connect-src": ["'self'", "ws:", "wss:"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "base-uri": ["'self'"],
    }
}
SESSION_COOKIE_HTTPONLY = True
# Sessions live in the database, never in the cache: a Redis outage must not log everyone out or
# stop anyone from logging in (config/cache.py).
SESSION_ENGINE = "django.contrib.sessions.backends.db"
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the cookie-free meta tag, not here
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"

# Tracebacks on the debug page and in error emails hide tokens (config/errors.py).
DEFAULT_EXCEPTION_REPORTER_FILTER = "config.errors.TokenSafeExceptionReporterFilter"
DEFAULT_EXCEPTION_REPORTER = "config.errors.TokenSafeExceptionReporter"

# EMAIL
# ------------------------------------------------------------------------------
EMAIL_BACKEND = env("DJANGO_EMAIL_BACKEND", default="django.core.mail.backends.smtp.EmailBackend")
DEFAULT_FROM_EMAIL = env("DJANGO_DEFAULT_FROM_EMAIL", default="Social Inbox <noreply@localhost>")

# CACHES
# ------------------------------------------------------------------------------
REDIS_URL = env("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        # Login rate limits live here and fail open while Redis is down (config/cache.py).
        "default": {"BACKEND": "config.cache.FailOpenRedisCache", "LOCATION": REDIS_URL},
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# CHANNELS
# ------------------------------------------------------------------------------
# https://channels.readthedocs.io/en/stable/topics/channel_layers.html
CHANNEL_LAYERS: dict[str, dict[str, Any]]
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # channels_redis blocks 5 s on Redis per receive; redis-py's default read timeout is also 5 s,
            # so without a longer one every idle socket fails with a TimeoutError and reconnects.
            "CONFIG": {
                "hosts": [{"address": REDIS_URL, "socket_timeout": 10}], "capacity": 1500, "expiry": 30,
            },
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# CELERY
# ------------------------------------------------------------------------------
# https://docs.celeryq.dev/en/stable/userguide/configuration.html
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL or "memory://localhost/")
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
# Without a broker the tasks run in-process, so the embedded default needs nothing running.
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=CELERY_BROKER_URL.startswith("memory://"))
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_TIMEZONE = TIME_ZONE
# Celery's Django fix-up closes every database connection before and after each task unless this is
# set (then only every 2 × N tasks): each drain opened a new PostgreSQL connection, 3-4 ms on a
# message's way to the screen. With it out of the way, config/celery_app.py does what Django does
# around a request instead, so CONN_MAX_AGE and CONN_HEALTH_CHECKS hold for tasks too.
CELERY_DB_REUSE_MAX = 1_000_000_000
# A task is acknowledged only when it finished, so a worker killed mid-task hands it to another;
# every task is idempotent for that reason.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 4
# Short socket timeouts: a hung broker must not hang the webhook's answer (the row is stored and
# the requeue task hands it over later).
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": 3600, "socket_connect_timeout": 2, "socket_timeout": 3,
    # Workers take from the queues in the order of CELERY_TASK_QUEUES, not round robin (Redis).
    "queue_order_strategy": "priority",
}
# Work someone is waiting for (applying webhooks, sending replies) never queues behind background
# work (profile lookups and downloads wait on Meta and pile up): it has its own queue, which every
# worker takes from first. A deployment can also give it its own workers (`-Q live`).
CELERY_TASK_QUEUES = (Queue("live", routing_key="live"), Queue("celery", routing_key="celery"))
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_ROUTES = {
    "inbox.tasks.webhook_events_drain": {"queue": "live"},
    "inbox.tasks.webhook_event_process": {"queue": "live"},
    "inbox.tasks.message_send": {"queue": "live"},
    "inbox.tasks.conversation_mark_seen": {"queue": "live"},
    "inbox.tasks.sender_action_send": {"queue": "live"},
    "inbox.tasks.message_reaction_send": {"queue": "live"},
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BEAT_SCHEDULE = {
    "requeue-stale-webhook-events": {"task": "inbox.tasks.webhook_events_requeue_stale", "schedule": 60.0},
    "retry-attachment-downloads": {"task": "inbox.tasks.attachments_retry_failed", "schedule": 300.0},
    # In seconds, so the embedded default's in-process runner runs it too (config/inprocess_tasks.py).
    "wake-snoozed-conversations": {"task": "inbox.tasks.conversations_wake_snoozed", "schedule": 60.0},
    "check-token-health": {"task": "social.tasks.tokens_check_all", "schedule": 6 * 3600.0},
    "check-page-subscriptions": {"task": "social.tasks.subscriptions_check_all", "schedule": 6 * 3600.0},
    "expire-activity-log": {"task": "accounts.tasks.audit_retention_enforce", "schedule": 24 * 3600.0},
    "expire-customer-data": {"task": "inbox.tasks.data_retention_enforce", "schedule": 24 * 3600.0},
    "warn-expiring-tokens": {"task": "social.tasks.token_expiry_warn_all", "schedule": 24 * 3600.0},
    "refresh-page-details": {"task": "social.tasks.details_refresh_all", "schedule": 24 * 3600.0},
    "reports-rollup": {"task": "inbox.report_tasks.reports_rollup", "schedule": 60.0},
    "reconcile-history": {"task": "inbox.tasks.history_reconcile_all", "schedule": 24 * 3600.0},
    "requeue-outbound-webhooks": {"task": "outbound.tasks.deliveries_requeue_due", "schedule": 300.0},
    "prune-outbound-webhooks": {"task": "outbound.tasks.deliveries_prune", "schedule": 24 * 3600.0},
    "prune-api-idempotency-keys": {"task": "api.tasks.idempotency_keys_prune", "schedule": 24 * 3600.0},
}

# How many days of earlier conversations a newly connected page imports (a page's own
# `settings["history_days"]` wins), and whether connecting a page starts that import.
INBOX_HISTORY_DAYS = env.int("INBOX_HISTORY_DAYS", default=30)
INBOX_HISTORY_IMPORT_ON_CONNECT = env.bool("INBOX_HISTORY_IMPORT_ON_CONNECT", default=True)

# ALLAUTH
# ------------------------------------------------------------------------------
# https://docs.allauth.org/en/latest/account/configuration.html
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
# No business data before the address is proved: a new account confirms its email before it can sign in.
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
# Confirming the address in the browser that signed up (also after "Continue with Facebook") signs in.
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
# Sign-up with a taken address answers exactly as for a new one (allauth emails the address's owner instead).
ACCOUNT_PREVENT_ENUMERATION = True
# How long an invitation link to join a business stays valid (seconds; accounts/services.py).
ACCOUNTS_INVITATION_TTL = env.int("ACCOUNTS_INVITATION_TTL", default=7 * 24 * 3600)
ACCOUNT_ADAPTER = "accounts.adapters.AccountAdapter"
ACCOUNT_LOGOUT_ON_GET = False
SOCIALACCOUNT_ADAPTER = "accounts.adapters.SocialAccountAdapter"
SOCIALACCOUNT_STORE_TOKENS = False  # page and user tokens live encrypted in social.SocialAccount
SOCIALACCOUNT_EMAIL_AUTHENTICATION = True
SOCIALACCOUNT_EMAIL_AUTHENTICATION_AUTO_CONNECT = True
# Login rate limits count per client address. Behind the reverse proxy every request comes from the
# proxy, so one visitor's bad passwords would lock everyone out. Trust the client address the proxy
# sends, in X-Forwarded-For (the entry added by the N-th proxy from us, N = DJANGO_TRUSTED_PROXY_COUNT;
# 1 behind one nginx) or in a header it sets (e.g. X-Real-IP), and only when configured: without a
# proxy a client can send either header itself.
ALLAUTH_TRUSTED_PROXY_COUNT = env.int("DJANGO_TRUSTED_PROXY_COUNT", default=0)
ALLAUTH_TRUSTED_CLIENT_IP_HEADER = env("DJANGO_TRUSTED_CLIENT_IP_HEADER", default=None)

# FACEBOOK / META
# ------------------------------------------------------------------------------
FACEBOOK_APP_ID = env("FACEBOOK_APP_ID", default="")
FACEBOOK_APP_SECRET = env("FACEBOOK_APP_SECRET", default="")
FACEBOOK_VERIFY_TOKEN = env("FACEBOOK_VERIFY_TOKEN", default="")
FACEBOOK_GRAPH_VERSION = env("FACEBOOK_GRAPH_VERSION", default="v25.0")
FACEBOOK_GRAPH_URL = env("FACEBOOK_GRAPH_URL", default=f"https://graph.facebook.com/{FACEBOOK_GRAPH_VERSION}")
FACEBOOK_DIALOG_URL = env("FACEBOOK_DIALOG_URL", default=f"https://www.facebook.com/{FACEBOOK_GRAPH_VERSION}/dialog/oauth")
# Signing in with Facebook (allauth's provider) asks only who the person is.
FACEBOOK_SIGNIN_SCOPES = ["email", "public_profile"]
# Connecting Pages (social/oauth.py) asks only for what the inbox uses; social/oauth.py says why for
# each, on the consent step. Not business_management: no call here needs it (docs/messenger-platform.md §7.6).
FACEBOOK_CONNECT_SCOPES = [
    "pages_show_list",
    "pages_messaging",
    "pages_manage_metadata",
    "pages_read_engagement",
    "pages_read_user_content",
    "pages_manage_engagement",
    "instagram_basic",
    "instagram_manage_messages",
    "instagram_manage_comments",
]
# The older name of the connect scopes, still read by the sandbox's seeders, scripts and browser tests.
FACEBOOK_LOGIN_SCOPES = FACEBOOK_CONNECT_SCOPES
FACEBOOK_WEBHOOK_FIELDS = [
    "messages",
    "message_echoes",
    "message_reads",
    "message_deliveries",
    "messaging_postbacks",
    "message_reactions",
    "message_edits",
    "messaging_referrals",
    "standby",
    # Shown to staff, never answered: thread-control changes and opt-ins as lines in the thread, policy
    # warnings and blocks as a banner on the page's inbox (inbox/ingest/notices.py).
    "messaging_handovers",
    "messaging_optins",
    "messaging_policy_enforcement",
    # Comments on the Page's posts (item "comment" of the feed), shown as comment threads (inbox/ingest/comments.py).
    "feed",
]
# Instagram's fields are the app's (App Dashboard, object "instagram"), not a Page subscription's:
# messaging, and comments on the account's media.
INSTAGRAM_WEBHOOK_FIELDS = ["messages", "messaging_postbacks", "messaging_seen", "message_reactions", "comments"]


def facebook_provider_settings(*, graph_url: str, dialog_url: str, app_id: str, app_secret: str) -> dict:
    """allauth's Facebook provider reads these at import time (docs/messenger-platform.md §14)."""
    return {
        "facebook": {
            "METHOD": "oauth2",
            "SCOPE": FACEBOOK_SIGNIN_SCOPES,
            "VERSION": FACEBOOK_GRAPH_VERSION,
            "GRAPH_API_URL": graph_url,
            "AUTHORIZE_URL": dialog_url,
            "FIELDS": ["id", "email", "name", "first_name", "last_name"],
            "APP": {"client_id": app_id, "secret": app_secret, "key": ""},
            # The same provider, reading the URLs above per request (social/facebook_login/).
            "provider_class": "social.facebook_login.provider.FacebookProvider",
        }
    }


SOCIALACCOUNT_PROVIDERS = facebook_provider_settings(
    graph_url=FACEBOOK_GRAPH_URL, dialog_url=FACEBOOK_DIALOG_URL, app_id=FACEBOOK_APP_ID, app_secret=FACEBOOK_APP_SECRET
)
GRAPH_API_TIMEOUT = (3.05, 15)  # connect, read (seconds)

# ENCRYPTION
# ------------------------------------------------------------------------------
# Comma-separated Fernet keys, newest first: the first encrypts, all decrypt.
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[])

# INBOX
# ------------------------------------------------------------------------------
# Whether attachments may be copied into our storage, per platform: the operator's switch, which can
# only forbid. FACEBOOK on: Messenger media is copied (Meta's links expire). INSTAGRAM on: a business
# may opt in to storing its Instagram media (Business settings); without that opt-in, which is the
# default, Instagram media keeps Meta's link only, as Meta's Instagram messaging rules ask. INSTAGRAM
# off: never stored, whatever a business chose. Story media is never stored either way. See README,
# "What is stored for each platform, and why".
INBOX_STORE_MEDIA = {
    "FACEBOOK": env.bool("INBOX_STORE_MEDIA_FACEBOOK", default=True),
    "INSTAGRAM": env.bool("INBOX_STORE_MEDIA_INSTAGRAM", default=True),
}
INBOX_MEDIA_MAX_BYTES = 25 * 1024 * 1024
# Media URLs named by webhooks and Graph answers are fetched only from these origins, and only from
# public addresses (social/safe_fetch.py): Meta's media hosts over https; "*." matches any subdomain.
MEDIA_FETCH_ALLOWED_ORIGINS = env.list("MEDIA_FETCH_ALLOWED_ORIGINS", default=[
    "https://*.fbcdn.net", "https://*.fbsbx.com", "https://*.cdninstagram.com", "https://lookaside.facebook.com",
])
# Origins fetched even from a local address: the sandbox's own, in development only (sandbox.py).
MEDIA_FETCH_LOCAL_ORIGINS: list[str] = []
# Wall-clock cap of one media fetch, its redirects and a slowly sent body included.
MEDIA_FETCH_TOTAL_SECONDS = 20
# Outbound webhooks (outbound/) reach public addresses only; a local receiver may be allowed in
# development and the sandbox (DEBUG or SANDBOX), never in production.
OUTBOUND_WEBHOOKS_ALLOW_PRIVATE = env.bool("OUTBOUND_WEBHOOKS_ALLOW_PRIVATE", default=False)
# A pending webhook event older than this is handed to a worker again (broker outage recovery).
INBOX_WEBHOOK_REQUEUE_AFTER_SECONDS = 120
# A drain applies this many stored events per transaction, and hands over to the next drain task
# after this long so replies queued meanwhile get a worker. A batch this large only forms under a
# backlog; it shares the batch's queries and its one push among more messages (bench/README.md:
# one message per POST, 983/s end to end with 250, 1,091/s with 500, ack p99 unchanged).
INBOX_WEBHOOK_BATCH_SIZE = env.int("INBOX_WEBHOOK_BATCH_SIZE", default=500)
INBOX_WEBHOOK_DRAIN_SECONDS = 5.0
# Answer webhook POSTs in the ASGI event loop, before Django's request cycle (inbox/webhook_asgi.py;
# PostgreSQL only). Off: the Django view answers them.
INBOX_WEBHOOK_FAST_PATH = env.bool("INBOX_WEBHOOK_FAST_PATH", default=True)
# Its database connections per ASGI worker process (a psycopg pool that grows as needed). At
# saturation (64 concurrent POSTs on 2 workers) 4 made requests queue for a connection, which costs
# CPU per ack; 8 and 16 measured alike (bench/README.md), and 8 keeps 2 workers to 16 of
# PostgreSQL's 100 connections.
INBOX_WEBHOOK_FAST_PATH_POOL_SIZE = env.int("INBOX_WEBHOOK_FAST_PATH_POOL_SIZE", default=8)
# Where the endpoint flags "a drain is queued" (one broker publish per burst, not per webhook;
# inbox/ingest/wake.py): a Redis shared by the web and worker processes, "memory://" when tasks run
# in the web process itself, "" for no flag (a drain per webhook).
INBOX_WEBHOOK_WAKE_URL = env("INBOX_WEBHOOK_WAKE_URL", default=REDIS_URL)
# The ASGI adapter sets that flag at most once per this many seconds per worker process (the acks in
# between ask for one more after it): a message may wait this much longer for its drain.
INBOX_WEBHOOK_WAKE_INTERVAL = env.float("INBOX_WEBHOOK_WAKE_INTERVAL", default=0.005)
INBOX_PAGE_SIZE = 50
# Opening a conversation also tells Meta the page has seen it (the customer sees "Seen"); best effort.
INBOX_SEND_MARK_SEEN = env.bool("INBOX_SEND_MARK_SEEN", default=True)

# LOGGING
# ------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact_tokens": {"()": "config.logging.RedactTokensFilter"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact_tokens"]},
    },
    "root": {"handlers": ["console"], "level": env("DJANGO_LOG_LEVEL", default="INFO")},
    "loggers": {
        # runserver's request log prints query strings; route it through the redacting handler.
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django.db.backends": {"level": "WARNING"},
        "urllib3": {"level": "WARNING"},
    },
}

# OPERATIONS
# ------------------------------------------------------------------------------
# /metrics answers a Prometheus scraper presenting this as a bearer token; unset, it is off (404).
# Several processes count into PROMETHEUS_MULTIPROC_DIR when it is set (config/metrics.py).
METRICS_TOKEN = env("METRICS_TOKEN", default="")
