"""The Messenger sandbox wiring shared by local.py and test.py (never imported by production.py).

The sandbox serves Meta's OAuth dialog and Graph API under /sandbox/ of this same server, so the
production code path runs unchanged and can tell it from Meta only by the base URL.
"""

from __future__ import annotations

import base64
import hashlib
import os
from urllib.parse import urlsplit

from .base import *  # noqa: F403
from .base import FACEBOOK_GRAPH_VERSION, INSTALLED_APPS, SITE_URL, env, facebook_provider_settings

SANDBOX = env.bool("SANDBOX", default=True)
# daphne's `runserver` serves HTTP and WebSocket in development. Production never runs it, and its
# Twisted stack would add ~200 modules to every web worker. The sandbox comes first, so its `runserver`
# (which points the URLs below at the address it serves) wraps daphne's.
INSTALLED_APPS = [*(["sandbox"] if SANDBOX else []), "daphne", *INSTALLED_APPS]

# Development-only secrets: fixed strings, never valid in production (production.py has no defaults).
SECRET_KEY = env("DJANGO_SECRET_KEY", default="dev-only-insecure-secret-key-for-the-embedded-default")
FACEBOOK_APP_ID = env("FACEBOOK_APP_ID", default="100000000000001")
FACEBOOK_APP_SECRET = env("FACEBOOK_APP_SECRET", default="sandbox-app-secret")
FACEBOOK_VERIFY_TOKEN = env("FACEBOOK_VERIFY_TOKEN", default="sandbox-verify-token")
FACEBOOK_GRAPH_URL = env("FACEBOOK_GRAPH_URL", default=f"{SITE_URL}/sandbox/graph/{FACEBOOK_GRAPH_VERSION}")
FACEBOOK_DIALOG_URL = env("FACEBOOK_DIALOG_URL", default=f"{SITE_URL}/sandbox/dialog/oauth")
SOCIALACCOUNT_PROVIDERS = facebook_provider_settings(
    graph_url=FACEBOOK_GRAPH_URL, dialog_url=FACEBOOK_DIALOG_URL, app_id=FACEBOOK_APP_ID, app_secret=FACEBOOK_APP_SECRET
)
# Where the sandbox posts the webhooks it generates (customer messages, echoes, receipts).
SANDBOX_WEBHOOK_URL = env("SANDBOX_WEBHOOK_URL", default=f"{SITE_URL}/webhooks/facebook/")
# The defaults above name port 8000; `manage.py runserver` replaces those not given here with the
# address it actually serves, on any port, and `simulate_customer` finds it (config/served_url.py).
SANDBOX_EXPLICIT_URLS = [
    name for name in ("SITE_URL", "FACEBOOK_GRAPH_URL", "FACEBOOK_DIALOG_URL", "SANDBOX_WEBHOOK_URL")
    if name in os.environ
]
# The sandbox serves its fake media and profile pictures from this machine: media fetches may reach
# a local address at its origins (the site's, and the Graph URL's while it is the sandbox) and no other.
MEDIA_FETCH_LOCAL_ORIGINS = list(dict.fromkeys(
    f"{urlsplit(url).scheme}://{urlsplit(url).netloc}"
    for url in (SITE_URL, FACEBOOK_GRAPH_URL) if url == SITE_URL or "/sandbox/" in url
))


def _dev_fernet_key(secret: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(f"field-encryption:{secret}".encode()).digest()).decode()


FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[_dev_fernet_key(SECRET_KEY)])
