"""The sandbox's webhook POSTs check TLS certificates unless the standalone sandbox server turns it off."""

from __future__ import annotations

import importlib

import pytest
import responses

from sandbox import payloads as p

URL = "https://127.0.0.1:8443/webhooks/facebook/"


def _posted_verify() -> object:
    with responses.RequestsMock() as rsps:
        rsps.post(URL, body="EVENT_RECEIVED", status=200)
        assert p.post_webhook(URL, b"{}", "secret") == 200
        return rsps.calls[0].request.req_kwargs["verify"]


def test_webhooks_verify_certificates_by_default():
    # True, or the CA bundle requests picked from the environment: never False.
    verify = _posted_verify()
    assert verify is True or isinstance(verify, str)


def test_the_setting_turns_verification_off(settings):
    settings.SANDBOX_WEBHOOK_VERIFY_TLS = False
    assert _posted_verify() is False


@pytest.mark.parametrize(("value", "expected"), [(None, False), ("1", True), ("0", False)])
def test_sandbox_server_settings_skip_verification_unless_asked(monkeypatch, value, expected):
    # The standalone sandbox posts to a trial stack's self-signed proxy; a real certificate can opt in.
    if value is None:
        monkeypatch.delenv("SANDBOX_WEBHOOK_VERIFY_TLS", raising=False)
    else:
        monkeypatch.setenv("SANDBOX_WEBHOOK_VERIFY_TLS", value)
    monkeypatch.setenv("SANDBOX_DATABASE_URL", "sqlite:////tmp/sandbox-settings-test.sqlite3")
    monkeypatch.setenv("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/never-used")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/15")
    module = importlib.reload(importlib.import_module("config.settings.sandbox_server"))
    assert module.SANDBOX_WEBHOOK_VERIFY_TLS is expected
    # Its own database and no shared Redis state, whatever the stack's environment says.
    assert module.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3"
    assert module.DATABASES["default"]["NAME"] == "/tmp/sandbox-settings-test.sqlite3"
    assert module.CACHES["default"]["BACKEND"].endswith("LocMemCache")
    assert module.CHANNEL_LAYERS["default"]["BACKEND"] == "channels.layers.InMemoryChannelLayer"
    assert module.CELERY_TASK_ALWAYS_EAGER is True
    assert "sandbox" in module.INSTALLED_APPS
