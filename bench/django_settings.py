"""Production settings, adjusted only where a loopback benchmark must differ.

- Static files: the manifest storage needs `collectstatic` output in STATIC_ROOT (part of the repo
  tree); the benchmarks use the plain storage and let WhiteNoise serve straight from the finders.
- Cookies: the browser benchmark talks plain http to 127.0.0.1, where a Secure session cookie is never
  sent back, so the session and CSRF cookies are not marked Secure here.
Everything else (middleware, DEBUG off, database, cache, channel layer, Celery) is production's.
"""

from __future__ import annotations

from config.settings.production import *  # noqa: F403
from config.settings.production import STORAGES

STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
