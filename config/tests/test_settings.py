"""Production settings refuse to boot without their secrets and pass the deploy check with them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]

PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "DJANGO_SECRET_KEY": "x" * 20 + "A-long-random-production-secret-key-0123456789",
    "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    "FACEBOOK_APP_SECRET": "production-app-secret",
    "DJANGO_ALLOWED_HOSTS": "inbox.example.com",
    "DATABASE_URL": "sqlite:////tmp/social-inbox-deploy-check.sqlite3",
}


def clean_environ() -> dict[str, str]:
    """This process's environment without any setting a production subprocess must not inherit."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "FACEBOOK_", "FIELD_", "SANDBOX"))}


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env={**clean_environ(), **env}, capture_output=True, text=True,
        timeout=60, check=False,
    )


@pytest.mark.parametrize("missing", ["DJANGO_SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "FACEBOOK_APP_SECRET"])
def test_production_refuses_to_start_without_a_secret(missing):
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != missing}
    result = manage("check", env=env)
    assert result.returncode != 0
    assert f"{missing} must be set in production" in result.stderr


def test_production_passes_the_deploy_check_with_its_secrets():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_never_installs_the_sandbox():
    code = "from django.conf import settings; print(settings.SANDBOX, 'sandbox' in settings.INSTALLED_APPS)"
    result = manage("shell", "-v", "0", "-c", code, env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "False"]


def test_production_refuses_an_invalid_encryption_key():
    result = manage("check", env={**PRODUCTION_ENV, "FIELD_ENCRYPTION_KEYS": "not-a-fernet-key"})
    assert result.returncode != 0
    assert "social.E002" in result.stderr + result.stdout


def python(code: str, *, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env={**clean_environ(), **env}, capture_output=True, text=True,
        timeout=60, check=False,
    )


def production_settings(*names: str, **env: str) -> list[str]:
    """repr() of each setting of a production process with PRODUCTION_ENV + ``env``, one per line."""
    code = "from django.conf import settings\n" + "".join(f"print(repr({name}))\n" for name in names)
    result = manage("shell", "-v", "0", "-c", code, env={**PRODUCTION_ENV, **env})
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


POSTGRES_URL = "postgres://inbox@127.0.0.1:5432/inbox"  # settings only: nothing connects


def test_an_explicit_email_backend_wins_over_email_url():
    console = "django.core.mail.backends.console.EmailBackend"
    assert production_settings("settings.EMAIL_BACKEND", "settings.EMAIL_HOST", DJANGO_EMAIL_BACKEND=console,
                               EMAIL_URL="smtp+tls://user:pw@smtp.example.com:587") == [repr(console),
                                                                                       "'smtp.example.com'"]
    # Without it, EMAIL_URL's scheme picks the backend.
    assert production_settings("settings.EMAIL_BACKEND", EMAIL_URL="smtp+tls://user:pw@smtp.example.com:587") == [
        "'django.core.mail.backends.smtp.EmailBackend'"
    ]
    assert production_settings("settings.EMAIL_BACKEND", EMAIL_URL="consolemail://") == [repr(console)]


def test_production_trusts_a_proxy_for_the_client_address_only_when_told():
    names = ("__import__('allauth.app_settings').app_settings.TRUSTED_PROXY_COUNT",
             "__import__('allauth.app_settings').app_settings.TRUSTED_CLIENT_IP_HEADER")
    assert production_settings(*names) == ["0", "None"]
    assert production_settings(*names, DJANGO_TRUSTED_PROXY_COUNT="1", DJANGO_TRUSTED_CLIENT_IP_HEADER="X-Real-IP") == [
        "1", "'X-Real-IP'"
    ]


def test_production_keeps_sessions_out_of_the_cache_and_the_wake_flag_on_redis():
    """Login rate limits fail open with Redis down; sessions never need it; the drain's wake-up flag is
    on the same Redis, shared by the web and worker processes."""
    code = (
        "from django.conf import settings; from django.core.cache import caches\n"
        "from inbox.ingest.wake import drain_flag\n"
        "print(settings.SESSION_ENGINE)\n"
        "print(type(caches['default']).__name__, type(drain_flag()).__name__, drain_flag().url)\n"
    )
    result = manage("shell", "-v", "0", "-c", code, env={**PRODUCTION_ENV, "REDIS_URL": "redis://127.0.0.1:6390/0"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["django.contrib.sessions.backends.db",
                                          "FailOpenRedisCache RedisDrainFlag redis://127.0.0.1:6390/0"]


def test_the_statement_timeout_and_the_pool_timeout_come_from_the_environment():
    options = "settings.DATABASES['default']['OPTIONS']"
    env = {"DATABASE_URL": POSTGRES_URL, "DJANGO_DB_POOL": "1"}
    assert production_settings(f"{options}.get('options')", f"{options}['pool']['timeout']", **env) == ["None", "5.0"]
    assert production_settings(f"{options}.get('options')", f"{options}['pool']['timeout']",
                               DB_STATEMENT_TIMEOUT_MS="1500", DB_POOL_TIMEOUT="2", **env) == [
        "'-c statement_timeout=1500'", "2.0"
    ]


@pytest.mark.parametrize("module", ["config.wsgi", "config.asgi"])
def test_web_processes_default_to_a_five_second_statement_timeout(module):
    code = (f"import {module}\nfrom django.conf import settings\n"
            "print(settings.DATABASES['default']['OPTIONS'].get('options'))")
    result = python(code, env={**PRODUCTION_ENV, "DATABASE_URL": POSTGRES_URL})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[0] == "-c statement_timeout=5000"
    result = python(code, env={**PRODUCTION_ENV, "DATABASE_URL": POSTGRES_URL, "DB_STATEMENT_TIMEOUT_MS": "0"})
    assert result.stdout.split("\n")[0] == "None"


@pytest.mark.parametrize("module", ["config.wsgi", "config.asgi", "config.celery_app"])
def test_a_process_without_a_settings_module_refuses_to_start(module):
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "DJANGO_SETTINGS_MODULE"}
    result = python(f"import {module}", env=env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "set DJANGO_SETTINGS_MODULE=config.settings.production (or config.settings.local for development)" in (
        result.stderr
    )


def test_manage_py_still_defaults_to_the_development_settings():
    result = manage("shell", "-v", "0", "-c", "from django.conf import settings; print(settings.SETTINGS_MODULE)",
                    env={})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "config.settings.local"
