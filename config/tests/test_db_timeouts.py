"""A hung database answers the Django webhook view with a 503 within seconds, not after 30 s or never."""

from __future__ import annotations

import subprocess
import sys
import time
from urllib.parse import quote

import psycopg
import pytest
from django.db import connection

from config.tests.test_settings import ROOT, clean_environ

pytestmark = [
    # Transactional: the subprocess commits through its own connection; the tables are flushed after.
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="statement_timeout is PostgreSQL's"),
]

SECRET = "statement-timeout-test-secret"
# A webhook POST through Django's request cycle in a fresh process, which reads DB_STATEMENT_TIMEOUT_MS
# as a web process does; it prints the status and how long the answer took.
POST_WEBHOOK = f"""
import hashlib, hmac, time
import django
django.setup()
from django.test import Client
body = b'{{"object": "page", "entry": []}}'
signature = "sha256=" + hmac.new({SECRET!r}.encode(), body, hashlib.sha256).hexdigest()
started = time.monotonic()
response = Client().post("/webhooks/facebook/", body, content_type="application/json",
                         headers={{"x-hub-signature-256": signature, "host": "localhost"}})
print(response.status_code, response.get("Retry-After"), round(time.monotonic() - started, 2))
"""


def post_webhook_in_a_web_process(**env: str) -> subprocess.CompletedProcess:
    settings = connection.settings_dict
    credentials = settings["USER"] + (f":{quote(settings['PASSWORD'], safe='')}" if settings["PASSWORD"] else "")
    database_url = f"postgres://{credentials}@{settings['HOST']}:{settings['PORT'] or 5432}/{settings['NAME']}"
    return subprocess.run(
        [sys.executable, "-c", POST_WEBHOOK], cwd=ROOT, capture_output=True, text=True, timeout=30, check=False,
        env={**clean_environ(), "DJANGO_SETTINGS_MODULE": "config.settings.test", "DATABASE_URL": database_url,
             "FACEBOOK_APP_SECRET": SECRET, "INBOX_WEBHOOK_WAKE_URL": "", **env},
    )


@pytest.fixture
def locked_webhook_table():
    """Another session holds an exclusive lock on the webhook table, as a stuck migration or a hung
    database would: every INSERT waits on it."""
    settings = connection.settings_dict
    with psycopg.connect(dbname=settings["NAME"], user=settings["USER"], host=settings["HOST"],
                         port=settings["PORT"] or 5432, password=settings["PASSWORD"] or None) as holder:
        holder.execute("LOCK TABLE inbox_webhookevent IN ACCESS EXCLUSIVE MODE")
        yield
        holder.rollback()


def test_a_locked_table_answers_the_webhook_view_with_a_503_within_the_statement_timeout(locked_webhook_table):
    started = time.monotonic()
    result = post_webhook_in_a_web_process(DB_STATEMENT_TIMEOUT_MS="1000")
    assert result.returncode == 0, result.stderr[-3000:]
    status, retry_after, seconds = result.stdout.split()
    assert (status, retry_after) == ("503", "5")
    assert float(seconds) < 3
    assert time.monotonic() - started < 20


def test_without_the_lock_the_same_process_stores_the_webhook():
    result = post_webhook_in_a_web_process(DB_STATEMENT_TIMEOUT_MS="1000")
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split()[0] == "200"
