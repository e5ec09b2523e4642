"""The Social Accounts page, the Connect flow, sign-in with Facebook, the banner, and tenancy."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.core import mail
from django.urls import reverse

from accounts.models import AuditEvent, Membership
from accounts.tests.factories import MembershipFactory
from sandbox import models as sb
from sandbox.testing import HOST, sandbox_http_fixture  # noqa: F401 - fixture
from social import oauth
from social.models import Platform, SocialAccount
from social.tests.factories import SocialAccountFactory

pytestmark = pytest.mark.django_db

BAKERY, CATERING, BAKERY_IG, GALLERY = "104857600123456", "104857600234567", "17841400000000000", "104857600456789"
MARCO, ANNA, OLGA = "10215241773831025", "10215241773839999", "10215241773830001"


@pytest.fixture
def banner(settings):
    """The reconnect banner's context processor is installed for every page."""
    assert "social.context_processors.reconnect_banner" in settings.TEMPLATES[0]["OPTIONS"]["context_processors"]


@pytest.fixture
def replay(monkeypatch):
    calls: list[str] = []
    import inbox.ingest.replay as webhooks

    monkeypatch.setattr(webhooks, "webhook_events_replay_for_account", lambda account: calls.append(account.account_id))
    return calls


def through_dialog(client, location: str, *, fb_id: str = MARCO, pages: list[str] | None = None,
                   scopes: list[str] | None = None, cancel: bool = False) -> str:
    """Follow a redirect to the sandbox dialog, pick a person and Pages, and return where Meta sends us back."""
    url = urlsplit(location)
    assert url.netloc == HOST and url.path == "/sandbox/dialog/oauth"
    params = {k: v[0] for k, v in parse_qs(url.query).items()}
    if cancel:
        response = client.post(url.path, {**params, "user": fb_id, "cancel": "1"})
    else:
        response = client.post(url.path, {
            **params, "user": fb_id, "allow": "1",
            "pages": pages if pages is not None else list(
                sb.PageRole.objects.filter(user__fb_id=fb_id).values_list("page__page_id", flat=True)),
            "scopes": scopes if scopes is not None else params["scope"].split(","),
        })
    assert response.status_code == 302
    back = urlsplit(response["Location"])
    return f"{back.path}?{back.query}"


def start_connect(client, **dialog) -> str:
    response = client.post(reverse("social:connect_start"))
    assert response.status_code == 302
    return through_dialog(client, response["Location"], **dialog)


def all_sandbox_tokens() -> list[str]:
    return list(sb.Token.objects.values_list("token", flat=True))


# THE PAGE ------------------------------------------------------------------------
def test_account_list_shows_the_business_accounts_only(client_member, page, other_page):
    response = client_member.get(reverse("social:account_list"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Bakery Rossi" in html and page.account_id in html
    assert "Other Shop" not in html and other_page.account_id not in html
    assert "Connect Facebook" in html and reverse("social:account_disconnect", args=[page.public_id]) in html
    assert page.access_token not in html and page.refresh_token not in html


def test_an_agent_sees_the_page_but_no_actions(client, business, page):
    agent = MembershipFactory(business=business, role=Membership.Role.AGENT).user
    client.force_login(agent)
    html = client.get(reverse("social:account_list")).content.decode()
    assert "Bakery Rossi" in html and "Connect Facebook" not in html and "Disconnect" not in html
    assert client.post(reverse("social:account_disconnect", args=[page.public_id])).status_code == 403
    assert client.post(reverse("social:connect_start")).status_code == 403


def test_an_anonymous_visitor_is_sent_to_sign_in(client):
    response = client.get(reverse("social:account_list"))
    assert response.status_code == 302 and reverse("account_login") in response["Location"]


@pytest.mark.parametrize("name", ["social:account_disconnect", "social:account_reconnect", "social:account_human_agent"])
def test_another_business_cannot_touch_an_account(client_other, page, name):
    response = client_other.post(reverse(name, args=[page.public_id]), {"enabled": "on"})
    assert response.status_code == 404
    page.refresh_from_db()
    assert page.status == SocialAccount.Status.ACTIVE and not page.human_agent_enabled


def test_actions_are_post_only(client_member, page):
    assert client_member.get(reverse("social:account_disconnect", args=[page.public_id])).status_code == 405
    assert client_member.get(reverse("social:connect_start")).status_code == 405


def test_disconnect_asks_for_confirmation_first(client_member, page):
    html = client_member.get(reverse("social:account_list")).content.decode()
    assert 'name="confirm" value="yes" required' in html  # the browser asks before it posts, without JavaScript
    response = client_member.post(reverse("social:account_disconnect", args=[page.public_id]), follow=True)
    assert "still connected: confirm the disconnection first" in response.content.decode()
    page.refresh_from_db()
    assert page.status == SocialAccount.Status.ACTIVE and page.access_token
    assert not AuditEvent.objects.filter(action="social.account.disconnected").exists()


def test_human_agent_toggle(client_member, page):
    client_member.post(reverse("social:account_human_agent", args=[page.public_id]), {"enabled": "on"})
    page.refresh_from_db()
    assert page.human_agent_enabled
    client_member.post(reverse("social:account_human_agent", args=[page.public_id]), {})
    page.refresh_from_db()
    assert not page.human_agent_enabled
    assert AuditEvent.objects.filter(action="social.account.human_agent").count() == 2


# CONNECTING ----------------------------------------------------------------------
def test_connect_flow_from_the_button_to_a_subscribed_account(sandbox_http, client_member, business, member, replay,
                                                              django_capture_on_commit_callbacks):
    callback = start_connect(client_member)
    assert callback.startswith(reverse("social:connect_callback"))
    response = client_member.get(callback)
    assert response["Location"] == reverse("social:connect_pages")
    # The user token waits in the session, encrypted; never in the page.
    session = Session.objects.get().get_decoded()
    stored = json.dumps(session)
    picker = client_member.get(reverse("social:connect_pages"))
    html = picker.content.decode()
    for token in all_sandbox_tokens():
        assert token not in stored and token not in html
    assert 'value="104857600123456"' in html and 'value="17841400000000000"' in html and "Rossi Catering" in html
    with django_capture_on_commit_callbacks(execute=True):
        response = client_member.post(reverse("social:connect_pages"), {"pages": [BAKERY], "instagram": [BAKERY_IG]})
    assert response["Location"] == reverse("social:account_list")
    accounts = SocialAccount.objects.for_business(business)
    assert set(accounts.values_list("account_id", flat=True)) == {BAKERY, BAKERY_IG}
    assert sb.Subscription.objects.filter(page__page_id=BAKERY).exists()
    assert replay == [BAKERY, BAKERY_IG]
    assert oauth.TOKEN_KEY not in Session.objects.get().get_decoded()
    listing = client_member.get(reverse("social:account_list")).content.decode()
    assert "Connected: Bakery Rossi" in listing


def test_refusals_are_explained_on_the_picker_and_on_submit(sandbox_http, client_member, business, replay,
                                                            other_business):
    SocialAccountFactory(business=other_business, account_id=BAKERY, account_name="Bakery Rossi")
    client_member.get(start_connect(client_member, fb_id=OLGA))
    html = client_member.get(reverse("social:connect_pages")).content.decode()
    assert "connected to another business" in html
    response = client_member.post(reverse("social:connect_pages"), {"pages": [BAKERY]}, follow=True)
    assert "connected to another business" in response.content.decode()
    assert SocialAccount.objects.get(account_id=BAKERY).business == other_business


def test_meta_failing_during_the_picker_shows_the_error_at_once(sandbox_http, client_member, replay, monkeypatch):
    # A web request never sleeps to retry: one call to /me/accounts, and the person is told to try again.
    import social.graph

    monkeypatch.setattr(social.graph.time, "sleep", lambda seconds: pytest.fail("the connect flow slept"))
    client_member.get(start_connect(client_member))
    sb.Fault.objects.create(path="/me/accounts", method="GET", remaining=3, http_status=500, code=2)
    response = client_member.get(reverse("social:connect_pages"), follow=True)
    assert "Facebook didn&#x27;t list your Pages" in response.content.decode()
    assert sb.Fault.objects.get().remaining == 2
    assert not SocialAccount.objects.exists()


def test_a_page_without_messaging_is_explained(sandbox_http, client_member, replay):
    client_member.get(start_connect(client_member, fb_id=ANNA))
    html = client_member.get(reverse("social:connect_pages")).content.decode()
    assert "doesn&#x27;t include messaging" in html or "doesn't include messaging" in html
    response = client_member.post(reverse("social:connect_pages"), {"pages": [GALLERY]}, follow=True)
    assert "MESSAGING" in response.content.decode()
    assert not SocialAccount.objects.filter(account_id=GALLERY).exists()


def test_a_declined_permission_is_explained(sandbox_http, client_member, replay):
    client_member.get(start_connect(client_member, scopes=["pages_show_list", "pages_manage_metadata"]))
    html = client_member.get(reverse("social:connect_pages")).content.decode()
    assert "pages_messaging" in html


def test_an_empty_choice_is_an_error_not_a_crash(sandbox_http, client_member, replay):
    client_member.get(start_connect(client_member))
    response = client_member.post(reverse("social:connect_pages"), {"pages": ["not-an-id"]})
    assert response.status_code == 200 and "not valid ids" in response.content.decode()
    response = client_member.post(reverse("social:connect_pages"), {})
    assert "Choose at least one" in response.content.decode()


def test_a_forged_or_stale_state_is_refused(sandbox_http, client_member, replay):
    callback = start_connect(client_member)
    forged = callback.replace("state=", "state=x")
    response = client_member.get(forged, follow=True)
    assert "expired or didn" in response.content.decode()
    assert client_member.get(callback).status_code == 302  # the state was used up by the forged attempt
    assert not SocialAccount.objects.exists()


def test_cancel_in_the_dialog_changes_nothing(sandbox_http, client_member, replay):
    callback = start_connect(client_member, cancel=True)
    response = client_member.get(callback, follow=True)
    assert "cancelled" in response.content.decode()
    assert not SocialAccount.objects.exists()


def test_a_state_from_another_business_is_refused(sandbox_http, client_member, member, other_business, replay):
    MembershipFactory(business=other_business, user=member)
    callback = start_connect(client_member)
    other = Membership.objects.get(user=member, business=other_business)
    client_member.post(reverse("accounts:business_switch", args=[other.business_id]))
    response = client_member.get(callback, follow=True)
    assert "expired or didn" in response.content.decode()


def test_picker_without_a_token_goes_back(client_member):
    response = client_member.get(reverse("social:connect_pages"))
    assert response["Location"] == reverse("social:account_list")


def test_reconnect_renews_the_account_in_place(sandbox_http, client_member, business, replay):
    client_member.get(start_connect(client_member))
    client_member.post(reverse("social:connect_pages"), {"pages": [BAKERY]})
    account = SocialAccount.objects.get(account_id=BAKERY)
    old_token = account.access_token
    SocialAccount.objects.filter(pk=account.pk).update(status=SocialAccount.Status.NEEDS_RECONNECT,
                                                       status_reason="token invalid")
    response = client_member.post(reverse("social:account_reconnect", args=[account.public_id]))
    callback = through_dialog(client_member, response["Location"])
    response = client_member.get(callback)
    assert response["Location"] == reverse("social:account_list")
    account.refresh_from_db()
    assert account.status == SocialAccount.Status.ACTIVE and account.access_token != old_token
    assert SocialAccount.objects.count() == 1
    assert AuditEvent.objects.filter(action="social.account.reconnected").exists()


def test_disconnect_view(sandbox_http, client_member, replay):
    client_member.get(start_connect(client_member))
    client_member.post(reverse("social:connect_pages"), {"pages": [BAKERY]})
    account = SocialAccount.objects.get(account_id=BAKERY)
    response = client_member.post(reverse("social:account_disconnect", args=[account.public_id]), {"confirm": "yes"},
                                  follow=True)
    assert "is disconnected" in response.content.decode()
    account.refresh_from_db()
    assert account.status == SocialAccount.Status.DISCONNECTED and account.access_token == ""
    assert not sb.Subscription.objects.filter(page__page_id=BAKERY).exists()


# SIGN IN WITH FACEBOOK (allauth) ----------------------------------------------------
def test_login_page_offers_facebook_and_email(client):
    html = client.get(reverse("account_login")).content.decode()
    assert "Continue with Facebook" in html and "/accounts/facebook/login/?process=login" in html
    assert 'name="login"' in html and 'name="password"' in html
    assert "Continue with Facebook" in client.get(reverse("account_signup")).content.decode()


def test_sign_up_with_facebook_through_allauth(sandbox_http, client):
    response = client.post("/accounts/facebook/login/?process=login")
    assert response.status_code == 302 and urlsplit(response["Location"]).netloc == HOST
    callback = through_dialog(client, response["Location"])
    assert callback.startswith("/accounts/facebook/login/callback/")
    response = client.get(callback)
    assert response.status_code == 302, response.content.decode()[:2000]
    # Email verification is mandatory and allauth does not take Facebook's word for the address: no session yet.
    assert response["Location"] == reverse("account_email_verification_sent")
    assert "_auth_user_id" not in client.session
    link = re.search(r"/accounts/confirm-email/\S+/", mail.outbox[-1].body).group(0)
    response = client.post(link)
    assert response.status_code == 302
    user = get_user_model().objects.get(email="marco@bakery-rossi.example")
    assert int(client.session["_auth_user_id"]) == user.pk
    # allauth got a long-lived token (exchanged by us) that only says who signed in: signing in grants
    # no Page permission, so nothing is kept for the Page picker.
    long_lived = sb.Token.objects.filter(user__fb_id=MARCO, long_lived=True).get()
    assert sorted(long_lived.scopes) == ["email", "public_profile"]
    assert oauth.TOKEN_KEY not in client.session
    assert long_lived.token not in json.dumps(dict(client.session))
    assert AuditEvent.objects.filter(action="graph.call", metadata__path="/oauth/access_token").count() == 2
    # Once a business exists, its Pages are chosen after the Connect dialog, which asks for them.
    client.post(reverse("accounts:business_create"), {"name": "Bakery Rossi"})
    assert "Choose the Pages to connect" not in client.get(reverse("social:account_list")).content.decode()
    assert client.get(reverse("social:connect_pages"))["Location"] == reverse("social:account_list")


def test_a_refused_facebook_sign_in_shows_an_error(sandbox_http, client):
    response = client.post("/accounts/facebook/login/?process=login")
    callback = through_dialog(client, response["Location"])
    sb.AuthCode.objects.update(used_at="2020-01-01T00:00:00Z")
    response = client.get(callback)
    assert response.status_code == 401 and "_auth_user_id" not in client.session
    assert "Social Inbox" in response.content.decode()  # allauth's error page, in the app's layout


# THE BANNER ---------------------------------------------------------------------------
def test_banner_appears_for_the_business_whose_account_needs_reconnecting(banner, client, business, member,
                                                                          other_member, page, other_page):
    SocialAccount.objects.filter(pk=page.pk).update(status=SocialAccount.Status.NEEDS_RECONNECT)
    client.force_login(member)
    html = client.get(reverse("accounts:team")).content.decode()
    assert "Bakery Rossi needs reconnecting" in html
    client.force_login(other_member)
    assert "needs reconnecting" not in client.get(reverse("accounts:team")).content.decode()


def test_banner_costs_one_query_when_a_page_shows_it(banner, client_member, page, django_assert_num_queries):
    from django.test import RequestFactory

    from social.context_processors import reconnect_banner

    request = RequestFactory().get("/")
    request.user = page.business.memberships.first().user
    request.session = {}
    request._cached_membership = page.business.memberships.select_related("business").first()
    with django_assert_num_queries(0):
        shown = reconnect_banner(request)["access_banner"]  # read when a page shows it
    with django_assert_num_queries(1):
        assert shown.reconnect == [] and shown.expiring == []
    with django_assert_num_queries(0):
        assert shown.reconnect == []


def test_instagram_reconnect_goes_through_its_page(sandbox_http, client_member, business, replay):
    client_member.get(start_connect(client_member))
    client_member.post(reverse("social:connect_pages"), {"instagram": [BAKERY_IG]})
    ig = SocialAccount.objects.get(platform=Platform.INSTAGRAM)
    SocialAccount.objects.update(status=SocialAccount.Status.NEEDS_RECONNECT)
    response = client_member.post(reverse("social:account_reconnect", args=[ig.public_id]))
    client_member.get(through_dialog(client_member, response["Location"]))
    assert set(SocialAccount.objects.values_list("status", flat=True)) == {SocialAccount.Status.ACTIVE}


@pytest.mark.parametrize("url", ["/accounts/login/", "/accounts/signup/", "/accounts/password/reset/",
                                 "/accounts/3rdparty/login/cancelled/", "/accounts/facebook/login/"])
def test_allauth_pages_use_the_app_layout(client, url):
    response = client.get(url)
    assert response.status_code == 200
    assert b'class="topbar"' in response.content and b"Social Inbox</title>" in response.content


def test_task_names_read_as_words():
    from social.templatetags.social_tags import task_label

    assert task_label("CREATE_CONTENT") == "Create content"
    assert task_label("MESSAGING") == "Messaging"
