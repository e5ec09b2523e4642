"""Access that will end: the banner on every page, and one email to owners and admins at 10, 3 and 1 days."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent, Membership
from accounts.tests.factories import MembershipFactory
from social.models import SocialAccount
from social.tests.factories import SocialAccountFactory
from social.token_expiry import banner_accounts, threshold_due, token_expiry_warn_all

pytestmark = pytest.mark.django_db


def _expiring(business, *, days: float, user_token: bool = True, **kwargs) -> SocialAccount:
    when = timezone.now() + timedelta(days=days)
    return SocialAccountFactory(
        business=business,
        user_token_expires_at=when if user_token else None,
        expires_at=None if user_token else when,
        **kwargs,
    )


@pytest.mark.parametrize(
    ("days_left", "warned", "due"),
    [(20, [], None), (10, [], 10), (9, [10], None), (3, [10], 3), (2, [], 3), (0, [10, 3], 1), (0, [10, 3, 1], None)],
)
def test_the_warning_lines(days_left, warned, due):
    assert threshold_due(days_left=days_left, warned=warned) == due


def test_owners_and_admins_are_emailed_once_per_line(business, member):
    MembershipFactory(business=business, role=Membership.Role.ADMIN, user__email="admin@bakery.example")
    MembershipFactory(business=business, role=Membership.Role.AGENT, user__email="agent@bakery.example")
    account = _expiring(business, days=9.5, account_name="Bakery Rossi")
    now = timezone.now()

    assert token_expiry_warn_all(now=now) == 1
    assert len(mail.outbox) == 1
    assert sorted(mail.outbox[0].to) == ["admin@bakery.example", "owner@bakery.example"]
    assert "Access to Bakery Rossi ends in 9 days" in mail.outbox[0].subject
    assert reverse("social:account_list") in mail.outbox[0].body
    assert account.access_token not in mail.outbox[0].body

    assert token_expiry_warn_all(now=now + timedelta(hours=6)) == 0  # the 10-day line was warned
    assert token_expiry_warn_all(now=now + timedelta(days=7)) == 1  # 2 days left: the 3-day line
    assert token_expiry_warn_all(now=now + timedelta(days=8, hours=12)) == 1  # under a day: the last line
    assert token_expiry_warn_all(now=now + timedelta(days=8, hours=13)) == 0
    assert len(mail.outbox) == 3
    assert AuditEvent.objects.filter(action="social.token.expiry_warned", business=business).count() == 3


def test_a_new_expiry_date_starts_the_warnings_again(business, member):
    account = _expiring(business, days=2)
    assert token_expiry_warn_all() == 1
    account.refresh_from_db()
    account.user_token_expires_at = timezone.now() + timedelta(days=8)  # extended, and expiring again
    account.save()
    assert token_expiry_warn_all() == 1
    assert len(mail.outbox) == 2


def test_no_warning_for_far_expired_disconnected_or_other_platforms(business, member):
    _expiring(business, days=40)
    _expiring(business, days=-1)  # already expired: the token check flags it for reconnecting instead
    _expiring(business, days=5, status=SocialAccount.Status.DISCONNECTED)
    _expiring(business, days=5, status=SocialAccount.Status.NEEDS_RECONNECT)
    assert token_expiry_warn_all() == 0
    assert mail.outbox == []


def test_the_banner_names_expiring_and_broken_accounts_of_this_business_only(client_member, business, other_business):
    _expiring(business, days=4.5, account_name="Bakery Rossi", user_token=False)
    SocialAccountFactory(business=business, account_name="Old Page", status=SocialAccount.Status.NEEDS_RECONNECT)
    _expiring(other_business, days=2, account_name="Someone Else's Page")
    reconnect, expiring = banner_accounts(business=business)
    assert reconnect == ["Old Page"]
    assert [(e.name, e.days_left) for e in expiring] == [("Bakery Rossi", 4)]

    html = client_member.get(reverse("social:account_list")).content.decode()
    assert "Access to Bakery Rossi ends in 4 days" in html
    assert "Old Page needs reconnecting" in html
    assert "Someone Else" not in html


def _banners(html: str) -> str:
    return " ".join(re.findall(r'<div class="banner" role="(?:alert|status)">(.*?)</div>', html, flags=re.S))


def test_the_inbox_shows_the_banner_every_page_shows_without_a_query_of_its_own(client_member, business, other_business):
    """The inbox reads every connected account for its badges and builds the banner from them
    (``banner_of``); other pages query the flagged accounts (``banner_accounts``). Both say the same."""
    _expiring(business, days=4.5, account_name="Bakery Rossi", user_token=False)
    _expiring(business, days=2.5, account_name="Corner Cafe")
    _expiring(business, days=30, account_name="Far Away Page")
    _expiring(business, days=-1, account_name="Lapsed Page")
    _expiring(business, days=2, account_name="Gone Page", status=SocialAccount.Status.DISCONNECTED)
    SocialAccountFactory(business=business, account_name="Old Page", status=SocialAccount.Status.NEEDS_RECONNECT)
    _expiring(other_business, days=2, account_name="Someone Else's Page")

    pages = _banners(client_member.get(reverse("social:account_list")).content.decode())
    with CaptureQueriesContext(connection) as queries:
        inbox = _banners(client_member.get(reverse("inbox:conversation_list")).content.decode())

    assert "Access to Corner Cafe ends in 2 days; Access to Bakery Rossi ends in 4 days" in pages
    assert "Old Page needs reconnecting" in pages
    for absent in ("Far Away", "Lapsed", "Gone Page", "Someone Else"):
        assert absent not in pages
    assert " ".join(inbox.split()) == " ".join(pages.split())
    assert sum('FROM "social_accounts"' in q["sql"] for q in queries.captured_queries) == 1


def test_the_daily_warning_is_scheduled():
    entry = settings.CELERY_BEAT_SCHEDULE["warn-expiring-tokens"]
    assert entry == {"task": "social.tasks.token_expiry_warn_all", "schedule": 24 * 3600.0}
