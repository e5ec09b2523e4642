"""The Messenger sandbox wiring shared by local.py and test.py (never imported by production.py).

The sandbox serves Meta's OAuth dialog and Graph API under /sandbox/ of this same server, so the
production code path runs unchanged and can tell it from Meta only by the base URL.
"""

from __future__ import annotations

import base64
import hashlib

from .base import *  # noqa: F403
from .base import FACEBOOK_GRAPH_VERSION, INSTALLED_APPS, SITE_URL, env, facebook_provider_settings

SANDBOX = env.bool("SANDBOX", default=True)
if SANDBOX:
    INSTALLED_APPS = [*INSTALLED_APPS, "sandbox"]

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


def _dev_fernet_key(secret: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(f"field-encryption:{secret}".encode()).digest()).decode()


FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[_dev_fernet_key(SECRET_KEY)])
