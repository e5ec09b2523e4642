"""Settings for the test suite: the embedded default unless DATABASE_URL / REDIS_URL are set."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .sandbox import *  # noqa: F403
from .sandbox import CHANNEL_LAYERS, DATABASES, REDIS_URL, env

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Unit tests run tasks in-process; the integration tier's real worker runs with this set to false.
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=True)
CELERY_BROKER_URL = "memory://"
# Connecting a page would start a history import (more Graph calls) in every test that connects one;
# the history tests turn it on.
INBOX_HISTORY_IMPORT_ON_CONNECT = False
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# The drain's wake-up flag: in-process for the unit tests; with REDIS_URL, shared with the real
# worker of the integration tier, as in production.
INBOX_WEBHOOK_WAKE_URL = env("REDIS_URL", default="") or "memory://"


def _redis_url_of_worker(url: str, worker: str) -> str:
    """REDIS_URL's server, the DB `worker` (gw0, gw1, …) numbers after REDIS_URL's own (of 16)."""
    base, _, db = url.rstrip("/").rpartition("/")
    if not db.isdigit() or not base.startswith(("redis://", "rediss://")) or base.endswith("/"):
        base, db = url.rstrip("/"), "0"
    return f"{base}/{(int(db) + int(worker.removeprefix('gw'))) % 16}"


# pytest-xdist runs the unit tier in several processes, each on a test database of its own; each gets a
# Redis DB of its own too (channel layer groups, the drain's flag, rate limits), or one worker's business 1
# would hear another's. A run without xdist (the integration tier beside its real worker) keeps REDIS_URL's.
_xdist_worker = os.environ.get("PYTEST_XDIST_WORKER", "")
if REDIS_URL and _xdist_worker.startswith("gw"):
    REDIS_URL = _redis_url_of_worker(REDIS_URL, _xdist_worker)
    os.environ["REDIS_URL"] = REDIS_URL  # the tests that read the environment see the same
    INBOX_WEBHOOK_WAKE_URL = REDIS_URL
    if "hosts" in CHANNEL_LAYERS["default"].get("CONFIG", {}):
        CHANNEL_LAYERS["default"]["CONFIG"]["hosts"][0]["address"] = REDIS_URL
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
elif DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, as the embedded default uses (WAL, writers wait for each other), not Django's shared-cache
    # in-memory database, where a write meeting another thread's lock fails at once ("database table is
    # locked"): the tests that run tasks on background threads need the real behaviour.
    _test_db = Path(tempfile.gettempdir()) / f"social-inbox-test-{os.getpid()}.sqlite3"
    DATABASES["default"]["TEST"] = {"NAME": str(_test_db)}
