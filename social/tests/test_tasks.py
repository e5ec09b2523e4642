"""Beat tasks fan out per account; per-account tasks run the health checks and retry transient failures."""

from __future__ import annotations

from datetime import timedelta

import pytest
from celery.exceptions import Retry
from django.core import mail
from django.utils import timezone

from config.inprocess_tasks import InProcessTask
from sandbox import models as sb
from sandbox.testing import sandbox_http_fixture, user_token  # noqa: F401 - fixture
from social import services, tasks
from social.graph import GraphPermissionError, RateLimitError, TransientGraphError
from social.models import Platform, SocialAccount
from social.services import UserToken
from social.tests.factories import SocialAccountFactory

pytestmark = pytest.mark.django_db

BAKERY, CATERING = "104857600123456", "104857600234567"


@pytest.fixture
def connected(sandbox_http, business, member, monkeypatch):
    import inbox.ingest.replay as webhooks

    monkeypatch.setattr(webhooks, "webhook_events_replay_for_account", lambda account: 0)
    services.accounts_connect(
        business=business, actor=member, user_token=UserToken(user_token(), timezone.now() + timedelta(days=60)),
        page_ids=[BAKERY, CATERING],
    )
    return {a.account_id: a for a in SocialAccount.objects.all()}


def test_beat_tasks_fan_out_to_active_pages_only(business, monkeypatch):
    active = SocialAccountFactory(business=business)
    SocialAccountFactory(business=business, status=SocialAccount.Status.NEEDS_RECONNECT)
    SocialAccountFactory(business=business, status=SocialAccount.Status.DISCONNECTED, access_token="")
    SocialAccountFactory(business=business, platform=Platform.INSTAGRAM, page=active, access_token="")
    checked, subscribed = [], []
    monkeypatch.setattr(tasks.account_token_check, "delay", checked.append)
    monkeypatch.setattr(tasks.account_subscription_check, "delay", subscribed.append)
    assert tasks.tokens_check_all() == 1 and checked == [active.pk]
    assert tasks.subscriptions_check_all() == 1 and subscribed == [active.pk]


def test_token_check_all_flags_only_the_broken_page(connected, django_capture_on_commit_callbacks):
    sb.Token.objects.filter(token=connected[CATERING].access_token).update(invalid_subcode=467)
    with django_capture_on_commit_callbacks(execute=True):
        tasks.tokens_check_all()
    statuses = dict(SocialAccount.objects.values_list("account_id", "status"))
    assert statuses == {BAKERY: "active", CATERING: "needs_reconnect"}
    assert len(mail.outbox) == 1 and "Rossi Catering" in mail.outbox[0].subject


def test_subscriptions_check_all_resubscribes_a_dropped_page(connected):
    sb.Subscription.objects.filter(page__page_id=CATERING).delete()
    tasks.subscriptions_check_all()
    assert set(sb.Subscription.objects.values_list("page__page_id", flat=True)) == {BAKERY, CATERING}
    assert tasks.account_subscription_check(connected[BAKERY].pk) == "subscribed"


def test_per_account_tasks_skip_missing_or_inactive_accounts(business):
    assert tasks.account_token_check(999999) == "missing"
    gone = SocialAccountFactory(business=business, status=SocialAccount.Status.DISCONNECTED, access_token="")
    assert tasks.account_subscription_check(gone.pk) == "skipped"
    assert tasks.account_token_check(gone.pk) == "skipped"


@pytest.mark.parametrize(("error", "low", "high"), [
    (RateLimitError("slow down", retry_after=420), 420, 420),  # Meta's own wait
    (TransientGraphError("Meta is down"), 0, tasks.HEALTH_RETRY_BACKOFF),  # backoff with full jitter
])
def test_transient_failures_are_retried_later(business, monkeypatch, error, low, high):
    account = SocialAccountFactory(business=business)

    def failing(**kwargs):
        raise error

    monkeypatch.setattr(services, "account_check_token", failing)
    countdowns = []

    def retry(self, *args, countdown=None, **kwargs):
        countdowns.append(countdown)
        return Retry(exc=kwargs.get("exc"), when=countdown)

    # What config.tasks.RetryingTask hands to Celery: the countdown, never a sleep.
    monkeypatch.setattr(InProcessTask, "retry", retry)
    result = tasks.account_token_check.apply((account.pk,))
    assert result.state == "RETRY"
    assert len(countdowns) == 1 and low <= countdowns[0] <= high


def test_a_transient_failure_is_retried_until_max_retries_then_raised(business, monkeypatch):
    account = SocialAccountFactory(business=business)
    runs = []

    def failing(**kwargs):
        runs.append(1)
        raise TransientGraphError("Meta is down")

    monkeypatch.setattr(services, "account_check_token", failing)
    result = tasks.account_token_check.apply((account.pk,))  # eager: the retries run at once
    assert result.failed() and isinstance(result.result, TransientGraphError)
    assert len(runs) == tasks.MAX_RETRIES + 1


def test_a_permanent_failure_is_not_retried(business, monkeypatch):
    account = SocialAccountFactory(business=business)
    runs = []

    def failing(**kwargs):
        runs.append(1)
        raise GraphPermissionError("no")

    monkeypatch.setattr(services, "account_check_token", failing)
    assert tasks.account_token_check.apply((account.pk,)).failed()
    assert len(runs) == 1


def test_reconnect_email_is_not_sent_once_the_account_is_back(business, member):
    account = SocialAccountFactory(business=business)
    assert tasks.account_notify_reconnect(account.pk) == 0
    SocialAccount.objects.filter(pk=account.pk).update(status=SocialAccount.Status.NEEDS_RECONNECT)
    assert tasks.account_notify_reconnect(account.pk) == 1
    assert mail.outbox[0].to == [member.email]


def test_a_mail_server_outage_is_retried_later(business, monkeypatch):
    account = SocialAccountFactory(business=business, status=SocialAccount.Status.NEEDS_RECONNECT)

    def down(**kwargs):
        raise ConnectionRefusedError("mail server down")

    monkeypatch.setattr(services, "business_notify_reconnect", down)
    countdowns = []

    def retry(self, *args, countdown=None, **kwargs):
        countdowns.append(countdown)
        return Retry(exc=kwargs.get("exc"), when=countdown)

    monkeypatch.setattr(InProcessTask, "retry", retry)
    assert tasks.account_notify_reconnect.apply((account.pk,)).state == "RETRY"
    assert len(countdowns) == 1 and 0 <= countdowns[0] <= 300
