"""Security headers on real responses: CSP, framing, referrer, sniffing; HSTS and HTTPS in production."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.urls import reverse

from config.tests.test_settings import PRODUCTION_ENV, clean_environ

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]


def _csp_directives(header: str) -> dict[str, list[str]]:
    directives: dict[str, list[str]] = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            directives[words[0]] = words[1:]
    return directives


def assert_security_headers(response) -> None:
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    csp = _csp_directives(response["Content-Security-Policy"])
    # No inline script or style may run, and nobody may frame us.
    assert csp["script-src"] == ["'self'"]
    assert csp["style-src"] == ["'self'"]
    assert csp["default-src"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["base-uri"] == ["'self'"]
    assert "'self'" in csp["form-action"]
    for values in csp.values():
        assert "'unsafe-inline'" not in values
        assert "'unsafe-eval'" not in values
        assert "*" not in values


def test_the_login_page_carries_the_security_headers(client):
    response = client.get(reverse("account_login"))
    assert response.status_code == 200
    assert_security_headers(response)


def test_a_signed_in_page_carries_the_security_headers(client_member):
    response = client_member.get(reverse("accounts:team"))
    assert response.status_code == 200
    assert_security_headers(response)


def test_a_404_carries_the_security_headers(client_member):
    response = client_member.get("/no-such-page/")
    assert response.status_code == 404
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "Content-Security-Policy" in response


def test_the_webhook_endpoint_carries_no_session_cookie(client):
    # Meta's calls must not create sessions (and the endpoint must not depend on one).
    response = client.get(reverse("webhooks:facebook"), {"hub.mode": "subscribe", "hub.verify_token": "wrong"})
    assert response.status_code == 403
    assert "sessionid" not in response.cookies
    assert response["X-Content-Type-Options"] == "nosniff"


# Runs inside a process configured with config.settings.production (settings can be loaded once per process).
PRODUCTION_SCRIPT = r"""
import json, django
django.setup()
from django.core.management import call_command
from django.test import Client
from django.test.utils import override_settings

call_command("migrate", verbosity=0, interactive=False)
out = {}
client = Client(HTTP_HOST="inbox.example.com")
plain = client.get("/webhooks/facebook/", {"hub.mode": "subscribe", "hub.verify_token": "x"})
out["plain"] = {"status": plain.status_code, "location": plain.get("Location", "")}
secure = client.get("/webhooks/facebook/", {"hub.mode": "subscribe", "hub.verify_token": "x"}, secure=True)
out["secure"] = {"status": secure.status_code, "headers": dict(secure.headers)}
proxied = client.get("/webhooks/facebook/", {"hub.mode": "subscribe", "hub.verify_token": "x"},
                     HTTP_X_FORWARDED_PROTO="https")
out["proxied"] = {"status": proxied.status_code, "headers": dict(proxied.headers)}
# The manifest storage needs collectstatic; the page itself is what is checked here.
with override_settings(STORAGES={
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}):
    login = client.get("/accounts/login/", secure=True)
# The sandbox (a fake Meta with unauthenticated control endpoints) must not exist here.
out["sandbox"] = [client.get(path, secure=True).status_code
                  for path in ("/sandbox/", "/sandbox/control/faults", "/sandbox/graph/v25.0/me")]
out["login"] = {
    "status": login.status_code, "headers": dict(login.headers),
    "cookies": {name: {"secure": bool(m["secure"]), "httponly": bool(m["httponly"])} for name, m in login.cookies.items()},
}
print("RESULT" + json.dumps(out))
"""


@pytest.fixture(scope="module")
def production_responses() -> dict:
    env = {
        **clean_environ(),
        **PRODUCTION_ENV,
        "DATABASE_URL": "sqlite://:memory:",
        "REDIS_URL": "",
        "CELERY_BROKER_URL": "memory://",
    }
    result = subprocess.run(
        [sys.executable, "-c", PRODUCTION_SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    line = next(line for line in result.stdout.splitlines() if line.startswith("RESULT"))
    return json.loads(line.removeprefix("RESULT"))


def test_production_redirects_plain_http_to_https(production_responses):
    plain = production_responses["plain"]
    assert plain["status"] == 301
    assert plain["location"].startswith("https://inbox.example.com/webhooks/facebook/")


def test_production_sends_hsts_on_https(production_responses):
    for key in ("secure", "proxied", "login"):
        headers = production_responses[key]["headers"]
        hsts = headers["Strict-Transport-Security"]
        assert "max-age=31536000" in hsts
        assert "includeSubDomains" in hsts
        assert "preload" in hsts


def test_production_honours_the_proxy_https_header(production_responses):
    # Behind the TLS-terminating proxy the request is https: answered, not redirected in a loop.
    assert production_responses["proxied"]["status"] == 403


def test_production_pages_carry_the_security_headers(production_responses):
    login = production_responses["login"]
    assert login["status"] == 200
    headers = login["headers"]
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    csp = _csp_directives(headers["Content-Security-Policy"])
    assert csp["script-src"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'none'"]
    for values in csp.values():
        assert "'unsafe-inline'" not in values


def test_production_cookies_are_secure(production_responses):
    cookies = production_responses["login"]["cookies"]
    assert cookies, "the login page sets the CSRF cookie"
    for name, flags in cookies.items():
        assert flags["secure"], f"{name} cookie without Secure in production"
    if "sessionid" in cookies:
        assert cookies["sessionid"]["httponly"]


def test_production_serves_no_sandbox(production_responses):
    assert production_responses["sandbox"] == [404, 404, 404]
