"""Login rate limits: per client behind the proxy, also on /admin/login/, and a Redis outage never a 500."""

from __future__ import annotations

import logging
import os
from unittest import mock

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth import SESSION_KEY
from django.core.cache.backends.redis import RedisCache
from django.test import override_settings
from django.urls import reverse
from redis.exceptions import ConnectionError as RedisConnectionError

from accounts.tests.factories import UserFactory
from config import cache as fail_open_cache

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"  # UserFactory's
TOO_MANY = "Too many failed login attempts"
MISMATCH = "The email address and/or password you specified are not correct."
# allauth's limit on failed logins per client address ("10/m/ip").
FAILED_LOGINS_PER_IP = 10
CLOSED_PORT_CACHE = {"default": {"BACKEND": "config.cache.FailOpenRedisCache", "LOCATION": "redis://127.0.0.1:6390/0"}}


@pytest.fixture(autouse=True)
def _redis_not_known_down():
    fail_open_cache._down_until.clear()
    yield
    fail_open_cache._down_until.clear()


def verified_user(**fields):
    user = UserFactory(**fields)
    EmailAddress.objects.update_or_create(user=user, email=user.email, defaults={"verified": True, "primary": True})
    return user


def bad_login(client, n: int, **headers):
    """A failed login for an address of its own, so only the per-address limit can count it."""
    return client.post(reverse("account_login"), {"login": f"nobody{n}@example.com", "password": "wrong"},
                       headers=headers)


def exhaust_failed_logins(client, **headers) -> None:
    for n in range(FAILED_LOGINS_PER_IP):
        response = bad_login(client, n, **headers)
        assert MISMATCH in response.content.decode()
    assert TOO_MANY in bad_login(client, 99, **headers).content.decode()


# -- the client address behind the proxy ---------------------------------------------------------


@override_settings(ALLAUTH_TRUSTED_PROXY_COUNT=1)
def test_behind_a_trusted_proxy_clients_sharing_its_address_are_limited_separately(client):
    # Both arrive from the proxy's address (REMOTE_ADDR 127.0.0.1); the proxy appended each one's own.
    exhaust_failed_logins(client, x_forwarded_for="203.0.113.7")
    response = bad_login(client, 100, x_forwarded_for="198.51.100.20")
    assert MISMATCH in response.content.decode()
    assert TOO_MANY not in response.content.decode()


@override_settings(ALLAUTH_TRUSTED_PROXY_COUNT=1)
def test_behind_a_trusted_proxy_only_the_address_it_appended_counts(client):
    # A client sending its own X-Forwarded-For gets the proxy's entry appended after it: that one counts.
    exhaust_failed_logins(client, x_forwarded_for="10.9.9.1, 203.0.113.7")
    assert TOO_MANY in bad_login(client, 100, x_forwarded_for="10.9.9.2, 203.0.113.7").content.decode()


@override_settings(ALLAUTH_TRUSTED_CLIENT_IP_HEADER="X-Real-IP")
def test_a_trusted_client_address_header_separates_clients(client):
    exhaust_failed_logins(client, x_real_ip="203.0.113.7")
    assert TOO_MANY not in bad_login(client, 100, x_real_ip="198.51.100.20").content.decode()


def test_without_a_trusted_proxy_x_forwarded_for_is_ignored(client, settings):
    assert settings.ALLAUTH_TRUSTED_PROXY_COUNT == 0
    assert settings.ALLAUTH_TRUSTED_CLIENT_IP_HEADER is None
    exhaust_failed_logins(client, x_forwarded_for="203.0.113.7")
    # A spoofed header does not make a new client: the limit holds.
    response = bad_login(client, 100, x_forwarded_for="198.51.100.20", x_real_ip="198.51.100.20")
    assert TOO_MANY in response.content.decode()


# -- the admin signs in through the limited login ------------------------------------------------


def test_admin_login_form_is_not_served_it_leads_to_the_rate_limited_login(client):
    staff = verified_user(is_staff=True, is_superuser=True)
    response = client.get(reverse("admin:login"), {"next": "/admin/"})
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('account_login')}?next=%2Fadmin%2F"
    # Even the right password posted to the admin's URL signs nobody in: no unlimited form is left.
    response = client.post(reverse("admin:login"), {"username": staff.email, "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
    assert SESSION_KEY not in client.session


def test_repeated_bad_admin_logins_are_limited(client):
    staff = verified_user(is_staff=True, is_superuser=True)
    login_url = f"{reverse('account_login')}?next=/admin/"
    for _ in range(5):  # allauth's limit per login name: 5 failures in 5 minutes
        response = client.post(login_url, {"login": staff.email, "password": "guess"})
        assert MISMATCH in response.content.decode()
    response = client.post(login_url, {"login": staff.email, "password": "guess"})
    assert TOO_MANY in response.content.decode()
    # The limit holds even for the right password, so guessing on cannot tell which one was right.
    response = client.post(login_url, {"login": staff.email, "password": PASSWORD})
    assert TOO_MANY in response.content.decode()
    assert SESSION_KEY not in client.session


def test_staff_sign_in_through_the_login_and_land_in_the_admin(client):
    staff = verified_user(is_staff=True, is_superuser=True)
    response = client.post(f"{reverse('account_login')}?next=/admin/", {"login": staff.email, "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200
    # Signed in, the admin's login URL moves on (to a safe `next` only).
    assert client.get(reverse("admin:login"), {"next": "/admin/accounts/"})["Location"] == "/admin/accounts/"
    assert client.get(reverse("admin:login"), {"next": "https://evil.example/"})["Location"] == reverse("admin:index")


def test_a_signed_in_user_who_is_not_staff_gets_a_403_not_a_redirect_loop(client):
    client.force_login(verified_user())
    response = client.get("/admin/")
    assert response.status_code == 302
    assert client.get(response["Location"]).status_code == 403


# -- Redis down ----------------------------------------------------------------------------------


@override_settings(CACHES=CLOSED_PORT_CACHE)
def test_with_the_cache_down_a_correct_login_succeeds(client, caplog):
    user = verified_user()
    with caplog.at_level(logging.WARNING, logger="config.cache"):
        response = client.post(reverse("account_login"), {"login": user.email, "password": PASSWORD})
    assert response.status_code == 302
    assert client.session[SESSION_KEY] == str(user.pk)  # the session lives in the database
    assert "login rate limiting is off" in caplog.text


@override_settings(CACHES=CLOSED_PORT_CACHE)
def test_with_the_cache_down_a_wrong_login_fails_normally(client):
    user = verified_user()
    for _ in range(2):  # the first finds Redis down, the next skips it
        response = client.post(reverse("account_login"), {"login": user.email, "password": "wrong"})
        assert response.status_code == 200
        assert MISMATCH in response.content.decode()
    assert SESSION_KEY not in client.session


def test_only_rate_limit_keys_fail_open():
    cache = fail_open_cache.FailOpenRedisCache("redis://127.0.0.1:6390/0", {})
    assert cache.add("allauth:rl:allauth.account:login:30/60.0/ip:ip:127.0.0.1:lock", True) is True
    assert cache.get("allauth:rl:allauth.account:login:30/60.0/ip:ip:127.0.0.1", []) == []
    # Other callers keep the error: a reply's send lease must never be granted by a failure.
    with pytest.raises(RedisConnectionError):
        cache.add("inbox:reply-send:1", "1", timeout=60)
    with pytest.raises(RedisConnectionError):
        cache.get("social.graph.throttle:page")


def test_after_a_failure_rate_limit_keys_skip_redis_for_a_while():
    cache = fail_open_cache.FailOpenRedisCache("redis://127.0.0.1:6390/0", {})
    with mock.patch.object(RedisCache, "get", side_effect=RedisConnectionError("down")) as get:
        assert cache.get("allauth:rl:a", []) == []
        assert cache.get("allauth:rl:b", []) == []
        assert get.call_count == 1
        fail_open_cache._down_until.clear()  # the window is over
        assert cache.get("allauth:rl:c", []) == []
        assert get.call_count == 2


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs Redis (REDIS_URL)")
def test_with_redis_up_the_fail_open_cache_still_limits(client):
    caches = {"default": {"BACKEND": "config.cache.FailOpenRedisCache", "LOCATION": os.environ["REDIS_URL"],
                          "KEY_PREFIX": f"test-login-limits-{os.getpid()}-{os.urandom(4).hex()}"}}
    with override_settings(CACHES=caches):
        exhaust_failed_logins(client)
