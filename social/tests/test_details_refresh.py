"""A page's public details (name, category, followers, picture) are refreshed daily, not frozen at connect time."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from sandbox import models as sb
from sandbox.testing import sandbox_http_fixture, user_token  # noqa: F401 - fixture
from social import services, tasks
from social.models import Platform, SocialAccount
from social.services import UserToken

pytestmark = pytest.mark.django_db

BAKERY, BAKERY_INSTAGRAM = "104857600123456", "17841400000000000"


@pytest.fixture
def connected(sandbox_http, business, member, monkeypatch):
    import inbox.ingest.replay as webhooks

    monkeypatch.setattr(webhooks, "webhook_events_replay_for_account", lambda account: 0)
    services.accounts_connect(
        business=business,
        actor=member,
        user_token=UserToken(user_token(), timezone.now() + timedelta(days=60)),
        page_ids=[BAKERY],
        instagram_ids=[BAKERY_INSTAGRAM],
    )
    return {(a.platform, a.account_id): a for a in SocialAccount.objects.all()}


def test_the_daily_refresh_brings_what_changed_on_meta(connected):
    page = connected[(Platform.FACEBOOK, BAKERY)]
    instagram = connected[(Platform.INSTAGRAM, BAKERY_INSTAGRAM)]
    sb.Page.objects.filter(page_id=BAKERY).update(
        name="Bakery Rossi & Figli",
        category="Patisserie",
        followers_count=4321,
        fan_count=4000,
        ig_followers_count=987,
    )

    assert tasks.details_refresh_all.run() == 2  # one task per active account (run in process here)
    page.refresh_from_db()
    instagram.refresh_from_db()
    assert (page.account_name, page.category, page.followers_count, page.fan_count) == (
        "Bakery Rossi & Figli",
        "Patisserie",
        4321,
        4000,
    )
    assert instagram.followers_count == 987
    assert "details_refreshed_at" in page.settings


def test_an_account_that_cannot_be_asked_is_left_as_it_is(connected):
    page = connected[(Platform.FACEBOOK, BAKERY)]
    SocialAccount.objects.filter(pk=page.pk).update(status=SocialAccount.Status.NEEDS_RECONNECT)
    page.refresh_from_db()
    assert services.account_details_refresh(account=page) is False
    sb.Page.objects.filter(page_id=BAKERY).update(followers_count=1)
    SocialAccount.objects.filter(pk=page.pk).update(status=SocialAccount.Status.ACTIVE)
    page.refresh_from_db()
    sb.Token.objects.update(invalid_subcode=460)  # Meta now refuses the token
    assert services.account_details_refresh(account=page) is False
    page.refresh_from_db()
    assert page.followers_count != 1
    assert page.status == SocialAccount.Status.NEEDS_RECONNECT  # the client's hook flagged it


def test_the_refresh_is_scheduled_daily():
    entry = settings.CELERY_BEAT_SCHEDULE["refresh-page-details"]
    assert entry == {"task": "social.tasks.details_refresh_all", "schedule": 24 * 3600.0}
