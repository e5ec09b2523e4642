"""Shared fixtures: two businesses with their staff and pages, so every test can check tenancy."""

from __future__ import annotations

import os

import pytest

# Fails any test during which a token or secret reached a log record (config/tests/log_guard.py).
pytest_plugins = ["config.tests.log_guard"]

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
    # A microphone that plays a tone, granted without asking: voice notes are recorded as staff record them.
    "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
]


@pytest.fixture(autouse=True)
def _media_storage(settings, tmp_path) -> None:
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture(autouse=True)
def _empty_cache():
    """Each test starts with an empty cache (rate limits) and no webhook drain flagged as queued."""
    from django.core.cache import cache

    from inbox.ingest.wake import drain_flag_clear

    def empty() -> None:
        cache.clear()
        drain_flag_clear()

    empty()
    yield
    empty()


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Playwright drives Debian's Chromium (its own browser download is unreachable here)."""
    return {
        **browser_type_launch_args,
        "executable_path": os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"),
        "args": [*browser_type_launch_args.get("args", []), *CHROMIUM_ARGS],
    }


@pytest.fixture
def business(db):
    from accounts.tests.factories import BusinessFactory

    return BusinessFactory(name="Bakery Rossi")


@pytest.fixture
def other_business(db):
    from accounts.tests.factories import BusinessFactory

    return BusinessFactory(name="Other Shop")


@pytest.fixture
def member(business):
    from accounts.tests.factories import MembershipFactory

    return MembershipFactory(business=business, user__email="owner@bakery.example").user


@pytest.fixture
def other_member(other_business):
    from accounts.tests.factories import MembershipFactory

    return MembershipFactory(business=other_business, user__email="owner@other.example").user


@pytest.fixture
def client_member(client, member):
    client.force_login(member)
    return client


@pytest.fixture
def client_other(client, other_member):
    """A logged-in member of another business: everything of `business` must be a 404 to them."""
    client.force_login(other_member)
    return client


@pytest.fixture
def page(business):
    from social.tests.factories import SocialAccountFactory

    return SocialAccountFactory(business=business, account_id="104857600123456", account_name="Bakery Rossi")


@pytest.fixture
def other_page(other_business):
    from social.tests.factories import SocialAccountFactory

    return SocialAccountFactory(business=other_business, account_id="104857600654321", account_name="Other Shop")
