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
