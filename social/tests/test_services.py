"""Connecting, reconnecting, disconnecting and token health, run against the sandbox's Graph API."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone

from accounts.models import AuditEvent, Membership
from accounts.tests.factories import MembershipFactory
from sandbox import models as sb
from sandbox.testing import sandbox_http_fixture, user_token  # noqa: F401 - fixture
from social import services
from social.exceptions import ConnectRefused
from social.models import Platform, SocialAccount
from social.services import UserToken
from social.tests.factories import SocialAccountFactory

pytestmark = pytest.mark.django_db

BAKERY, CATERING, GALLERY, OTHER_SHOP = "104857600123456", "104857600234567", "104857600456789", "104857600654321"
BAKERY_IG = "17841400000000000"
MARCO, ANNA, OLGA = "10215241773831025", "10215241773839999", "10215241773830001"


@pytest.fixture
def replayed(monkeypatch):
    """Accounts whose stored webhook events were replayed on connect: through the real path, the
    `account_connected` signal sent after commit and the inbox's receiver (inbox/signals.py)."""
    import inbox.ingest.replay as webhooks

    calls: list[str] = []
    monkeypatch.setattr(webhooks, "webhook_events_replay_for_account", lambda account: calls.append(account.account_id))
    return calls


def token(**kwargs) -> UserToken:
    return UserToken(token=user_token(**kwargs), expires_at=timezone.now() + timedelta(days=60))


@pytest.fixture(autouse=True)
def _on_commit(django_capture_on_commit_callbacks):
    global _capture
    _capture = django_capture_on_commit_callbacks


def committed():
    """Run what the service scheduled for after commit (the test transaction never commits)."""
    return _capture(execute=True)


def connect(business, member, *, pages=(BAKERY,), instagram=(), **token_kwargs):
    with committed():
        return services.accounts_connect(
            business=business, actor=member, user_token=token(**token_kwargs), page_ids=pages, instagram_ids=instagram
        )


def test_pages_fetch_lists_every_page_with_its_problems(sandbox_http, business, member):
    options = {o.id: o for o in services.facebook_pages_fetch(business=business, user_token=token(fb_id=ANNA))}
    assert set(options) == {"104857600345678", GALLERY}
    assert options["104857600345678"].problem == ""
    assert "MESSAGING" in options[GALLERY].problem
    assert options[GALLERY].tasks == ["ANALYZE", "ADVERTISE"]


def test_pages_fetch_follows_pagination(sandbox_http, business, member):
    user = sb.FacebookUser.objects.get(fb_id=MARCO)
    for n in range(105):
        page = sb.Page.objects.create(page_id=f"20000000000{n:04d}", name=f"Extra {n:03d}")
        sb.PageRole.objects.create(user=user, page=page, tasks=["MESSAGING", "MANAGE"])
    options = services.facebook_pages_fetch(business=business, user_token=token())
    assert len(options) == 107
    assert len({o.id for o in options}) == 107
    assert sb.GraphCall.objects.filter(path="/me/accounts").count() == 2  # 100 per page


def test_pages_fetch_explains_a_declined_permission(sandbox_http, business, member):
    scopes = ["pages_show_list", "pages_manage_metadata", "public_profile"]
    options = services.facebook_pages_fetch(business=business, user_token=token(scopes=scopes))
    bakery = next(o for o in options if o.id == BAKERY)
    assert "pages_messaging" in bakery.problem
    assert "pages_messaging" in bakery.instagram_problem or "can't be connected" in bakery.instagram_problem


def test_connect_creates_an_encrypted_subscribed_account(sandbox_http, business, member, replayed):
    result = connect(business, member)
    assert result.refused == [] and result.warnings == []
    account = SocialAccount.objects.get(account_id=BAKERY)
    assert account.business == business and account.status == SocialAccount.Status.ACTIVE
    assert account.account_name == "Bakery Rossi" and account.username == "bakeryrossi"
    assert account.category == "Bakery" and account.category_list == [{"id": "197048876974495", "name": "Bakery"}]
    assert account.followers_count == 1923 and account.fan_count == 1840
    assert "MESSAGING" in account.tasks and "pages_messaging" in account.permissions
    assert account.picture_url.endswith(f"/sandbox/cdn/page-{BAKERY}.png")
    assert account.connected_by == member and account.subscribed_at is not None
    assert account.user_token_expires_at is not None
    # The page token is the sandbox's Page token; in the database it is ciphertext only.
    page_token = sb.Token.objects.get(token=account.access_token)
    assert page_token.kind == sb.Token.Kind.PAGE and page_token.page.page_id == BAKERY
    with connection.cursor() as cursor:
        cursor.execute("SELECT access_token, refresh_token FROM social_accounts WHERE id = %s", [account.pk])
        raw_access, raw_refresh = cursor.fetchone()
    assert account.access_token not in raw_access and account.refresh_token not in raw_refresh
    assert raw_access.startswith("gAAAA")
    subscription = sb.Subscription.objects.get(page__page_id=BAKERY)
    assert "messages" in subscription.fields and "message_echoes" in subscription.fields
    assert replayed == [BAKERY]
    event = AuditEvent.objects.get(action="social.account.connected")
    assert event.business == business and event.actor == member and event.target_id == str(account.pk)


def test_connect_instagram_brings_its_page_along(sandbox_http, business, member, replayed):
    result = connect(business, member, pages=(), instagram=(BAKERY_IG,))
    assert not result.refused
    page = SocialAccount.objects.get(platform=Platform.FACEBOOK, account_id=BAKERY)
    ig = SocialAccount.objects.get(platform=Platform.INSTAGRAM, account_id=BAKERY_IG)
    assert ig.page == page and ig.send_account == page and ig.business == business
    assert ig.username == "bakeryrossi" and ig.followers_count == 3120
    assert ig.access_token == "" and ig.refresh_token == ""
    assert set(replayed) == {BAKERY, BAKERY_IG}


def test_reconnect_updates_tokens_in_place(sandbox_http, business, member, replayed):
    connect(business, member)
    first = SocialAccount.objects.get(account_id=BAKERY)
    services.account_mark_needs_reconnect(account=first, reason="Token expired")
    connect(business, member)
    again = SocialAccount.objects.get(account_id=BAKERY)
    assert again.pk == first.pk
    assert again.access_token != first.access_token
    assert again.status == SocialAccount.Status.ACTIVE and again.status_reason == ""
    assert SocialAccount.objects.count() == 1
    assert AuditEvent.objects.filter(action="social.account.reconnected", target_id=str(first.pk)).exists()


def test_a_page_of_another_business_is_refused_without_touching_it(sandbox_http, business, member,
                                                                   other_business, other_member, replayed):
    connect(business, member)
    owned = SocialAccount.objects.get(account_id=BAKERY)
    result = connect(other_business, other_member, fb_id=OLGA, pages=(BAKERY, OTHER_SHOP))
    assert [r.account_id for r in result.refused] == [BAKERY]
    assert "another business" in str(result.refused[0])
    assert [a.account_id for a in result.connected] == [OTHER_SHOP]
    owned.refresh_from_db()
    assert owned.business == business and owned.access_token != ""
    assert SocialAccount.objects.get(account_id=OTHER_SHOP).business == other_business


def test_a_page_without_the_messaging_task_is_refused(sandbox_http, business, member, replayed):
    result = connect(business, member, fb_id=ANNA, pages=(GALLERY,))
    assert result.connected == []
    assert "MESSAGING" in str(result.refused[0])
    assert not SocialAccount.objects.filter(account_id=GALLERY).exists()
    assert not sb.Subscription.objects.filter(page__page_id=GALLERY).exists()


def test_a_page_not_granted_in_the_dialog_is_refused(sandbox_http, business, member, replayed):
    result = connect(business, member, page_ids=[CATERING], pages=(BAKERY,))
    assert result.connected == []
    assert "no longer lists" in str(result.refused[0])


def test_an_invalid_user_token_refuses_the_whole_connect(sandbox_http, business, member):
    user_token_value = user_token()
    sb.Token.objects.filter(token=user_token_value).update(invalid_subcode=460)
    with pytest.raises(ConnectRefused):
        services.accounts_connect(business=business, actor=member, user_token=UserToken(user_token_value),
                                  page_ids=[BAKERY])


def test_a_failed_subscription_still_connects_with_a_warning(sandbox_http, business, member, replayed):
    sb.Fault.objects.create(path=f"/{BAKERY}/subscribed_apps", method="POST", remaining=5, http_status=500, code=2)
    result = connect(business, member)
    account = SocialAccount.objects.get(account_id=BAKERY)
    assert account.subscribed_at is None and result.warnings


def test_disconnect_unsubscribes_clears_tokens_and_keeps_history(sandbox_http, business, member, replayed):
    connect(business, member, instagram=(BAKERY_IG,))
    page = SocialAccount.objects.get(account_id=BAKERY)
    services.account_disconnect(account=page, actor=member)
    page.refresh_from_db()
    assert page.status == SocialAccount.Status.DISCONNECTED and not page.is_active
    assert page.access_token == "" and page.refresh_token == "" and page.disconnected_at is not None
    assert not sb.Subscription.objects.filter(page__page_id=BAKERY).exists()
    ig = SocialAccount.objects.get(account_id=BAKERY_IG)
    assert ig.status == SocialAccount.Status.DISCONNECTED
    events = AuditEvent.objects.filter(action="social.account.disconnected")
    assert {e.target_id for e in events} == {str(page.pk), str(ig.pk)}
    assert events.get(target_id=str(page.pk)).metadata["unsubscribed"] is True


def test_disconnect_happens_even_when_meta_refuses_the_unsubscribe(sandbox_http, business, member, replayed):
    connect(business, member)
    page = SocialAccount.objects.get(account_id=BAKERY)
    sb.Token.objects.filter(token=page.access_token).update(invalid_subcode=460)
    services.account_disconnect(account=page, actor=member)
    page.refresh_from_db()
    assert page.status == SocialAccount.Status.DISCONNECTED and page.access_token == ""
    event = AuditEvent.objects.get(action="social.account.disconnected")
    assert event.metadata["unsubscribed"] is False and "190" in event.metadata["unsubscribe_error"]


def test_mark_needs_reconnect_tells_owners_and_admins_once(business, member):
    MembershipFactory(business=business, role=Membership.Role.ADMIN, user__email="admin@bakery.example")
    MembershipFactory(business=business, role=Membership.Role.AGENT, user__email="agent@bakery.example")
    page = SocialAccountFactory(business=business, account_name="Bakery Rossi")
    ig = SocialAccountFactory(business=business, platform=Platform.INSTAGRAM, page=page, access_token="")
    with committed():
        assert services.account_mark_needs_reconnect(account=page, reason="Error validating access token") is True
        assert services.account_mark_needs_reconnect(account=page, reason="again") is False
    page.refresh_from_db()
    ig.refresh_from_db()
    assert page.status == ig.status == SocialAccount.Status.NEEDS_RECONNECT
    assert page.status_reason == "Error validating access token"
    assert len(mail.outbox) == 1
    assert sorted(mail.outbox[0].to) == ["admin@bakery.example", "owner@bakery.example"]
    assert "Bakery Rossi" in mail.outbox[0].subject and "/social/" in mail.outbox[0].body
    assert AuditEvent.objects.filter(action="social.account.needs_reconnect").count() == 1


def test_a_disconnected_account_is_not_flagged(business):
    page = SocialAccountFactory(business=business, status=SocialAccount.Status.DISCONNECTED)
    assert services.account_mark_needs_reconnect(account=page, reason="x") is False
    assert mail.outbox == []


def test_token_check_keeps_a_healthy_page(sandbox_http, business, member, replayed):
    connect(business, member)
    account = SocialAccount.objects.get(account_id=BAKERY)
    assert services.account_check_token(account=account) == "ok"
    account.refresh_from_db()
    assert account.status == SocialAccount.Status.ACTIVE and account.expires_at is None
    assert account.token_checked_at is not None


def test_token_check_flags_an_invalidated_token(sandbox_http, business, member, replayed):
    connect(business, member)
    account = SocialAccount.objects.get(account_id=BAKERY)
    sb.Token.objects.filter(token=account.refresh_token).update(invalid_subcode=460)  # password changed
    with committed():
        assert services.account_check_token(account=account) == "needs_reconnect"
    account.refresh_from_db()
    assert account.status == SocialAccount.Status.NEEDS_RECONNECT and "password" in account.status_reason
    assert len(mail.outbox) == 1


def test_token_check_flags_a_lost_permission(sandbox_http, business, member, replayed):
    connect(business, member)
    account = SocialAccount.objects.get(account_id=BAKERY)
    page_token = sb.Token.objects.get(token=account.access_token)
    page_token.scopes = [s for s in page_token.scopes if s != "pages_messaging"]
    page_token.save()
    assert services.account_check_token(account=account) == "needs_reconnect"
    account.refresh_from_db()
    assert "pages_messaging" in account.status_reason


def test_token_check_extends_a_user_token_close_to_expiry(sandbox_http, business, member, replayed):
    connect(business, member)
    account = SocialAccount.objects.get(account_id=BAKERY)
    old_user, old_page = account.refresh_token, account.access_token
    SocialAccount.objects.filter(pk=account.pk).update(user_token_expires_at=timezone.now() + timedelta(days=3))
    account.refresh_from_db()
    assert services.account_check_token(account=account) == "refreshed"
    account.refresh_from_db()
    assert account.refresh_token != old_user and account.access_token != old_page
    assert account.user_token_expires_at > timezone.now() + timedelta(days=50)
    assert sb.Token.objects.get(token=account.access_token).page.page_id == BAKERY
    assert AuditEvent.objects.filter(action="social.token.refreshed").exists()


def test_a_failed_refresh_is_not_fatal(sandbox_http, business, member, replayed):
    connect(business, member)
    account = SocialAccount.objects.get(account_id=BAKERY)
    SocialAccount.objects.filter(pk=account.pk).update(user_token_expires_at=timezone.now() + timedelta(days=3))
    sb.Fault.objects.create(path="/oauth/access_token", remaining=1, http_status=400, code=190)
    account.refresh_from_db()
    assert services.account_check_token(account=account) == "ok"
    account.refresh_from_db()
    assert account.status == SocialAccount.Status.ACTIVE
    assert AuditEvent.objects.filter(action="social.token.refresh_failed").exists()


def test_subscription_check_restores_a_dropped_subscription(sandbox_http, business, member, replayed):
    connect(business, member)
    account = SocialAccount.objects.get(account_id=BAKERY)
    assert services.account_check_subscription(account=account) is True
    sb.Subscription.objects.filter(page__page_id=BAKERY).delete()
    assert services.account_check_subscription(account=account) is False
    assert sb.Subscription.objects.filter(page__page_id=BAKERY).exists()
    assert AuditEvent.objects.filter(action="social.subscription.restored").exists()


def test_no_token_is_ever_written_to_the_audit_log(sandbox_http, business, member, replayed, caplog):
    caplog.set_level("DEBUG")
    connect(business, member, instagram=(BAKERY_IG,))
    account = SocialAccount.objects.get(account_id=BAKERY)
    services.account_check_token(account=account)
    services.account_disconnect(account=account, actor=member)
    tokens = list(sb.Token.objects.values_list("token", flat=True))
    assert tokens
    dumped = json.dumps(list(AuditEvent.objects.values("action", "metadata", "target_id")))
    assert AuditEvent.objects.filter(action="graph.call").count() >= 6
    for value in tokens:
        assert value not in dumped
        assert value not in caplog.text


def test_connect_announces_each_account_after_commit_and_a_failing_receiver_does_not_fail_it(
        sandbox_http, business, member, replayed, caplog):
    from social.signals import account_connected

    seen: list[tuple[str, bool]] = []

    def broken(sender, account, **kwargs):
        seen.append((account.account_id, connection.in_atomic_block))
        raise RuntimeError("receiver down")

    account_connected.connect(broken, dispatch_uid="test.broken")
    try:
        with committed() as callbacks:
            result = services.accounts_connect(
                business=business, actor=member, user_token=token(), page_ids=(BAKERY,), instagram_ids=(BAKERY_IG,)
            )
            assert seen == [] and replayed == []  # nothing before the commit
        assert len(callbacks) >= 2
    finally:
        account_connected.disconnect(dispatch_uid="test.broken")
    assert {a.account_id for a in result.connected} == {BAKERY, BAKERY_IG} and not result.refused
    assert {account_id for account_id, _ in seen} == {BAKERY, BAKERY_IG}
    assert set(replayed) == {BAKERY, BAKERY_IG}  # the inbox's receiver still ran
    assert "receiver down" in caplog.text


def test_connect_audits_pages_and_instagram_accounts_as_before(sandbox_http, business, member, replayed):
    connect(business, member, instagram=(BAKERY_IG,))
    page = AuditEvent.objects.get(action="social.account.connected", metadata__platform=Platform.FACEBOOK)
    ig = AuditEvent.objects.get(action="social.account.connected", metadata__platform=Platform.INSTAGRAM)
    assert page.metadata == {"platform": "FACEBOOK", "account_id": BAKERY, "name": "Bakery Rossi", "subscribed": True}
    assert ig.metadata == {"platform": "INSTAGRAM", "account_id": BAKERY_IG,
                           "name": ig.metadata["name"], "page_id": BAKERY}
    connect(business, member, instagram=(BAKERY_IG,))
    assert AuditEvent.objects.filter(action="social.account.reconnected").count() == 2


def test_a_transient_meta_error_during_connect_is_shown_not_retried(sandbox_http, business, member, replayed):
    # A web request never sleeps to retry: one subscribe call, and staff are told it is pending.
    sb.Fault.objects.create(path=f"/{BAKERY}/subscribed_apps", method="POST", remaining=1, http_status=500, code=2)
    result = connect(business, member)
    assert result.warnings and SocialAccount.objects.get(account_id=BAKERY).subscribed_at is None
    assert not sb.Fault.objects.filter(remaining__gt=0).exists()
    calls = AuditEvent.objects.filter(action="graph.call", metadata__path=f"/{BAKERY}/subscribed_apps")
    assert calls.count() == 1
