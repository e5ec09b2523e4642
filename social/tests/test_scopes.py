"""Least privilege: signing in asks Facebook only who the person is; connecting asks only what the inbox uses."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings
from django.urls import reverse

from social import oauth

pytestmark = pytest.mark.django_db

SIGN_IN = {"email", "public_profile"}
CONNECT = {"pages_show_list", "pages_messaging", "pages_manage_metadata", "pages_read_engagement",
           "pages_read_user_content", "pages_manage_engagement",  # comments: read them, reply, hide, delete
           "instagram_basic", "instagram_manage_messages", "instagram_manage_comments"}


def _scope(response) -> set[str]:
    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert location.path.endswith("/dialog/oauth")
    (scope,) = parse_qs(location.query)["scope"]
    return set(scope.split(","))


def test_signing_in_with_facebook_asks_only_for_email_and_public_profile(client):
    assert _scope(client.post("/accounts/facebook/login/?process=login")) == SIGN_IN


def test_connecting_asks_only_for_the_page_and_instagram_permissions_used(client_member):
    assert _scope(client_member.post(reverse("social:connect_start"))) == CONNECT


def test_reconnecting_asks_for_the_same_permissions(client_member, page):
    assert _scope(client_member.post(reverse("social:account_reconnect", args=[page.public_id]))) == CONNECT


def test_every_permission_asked_for_is_explained_in_one_line():
    explained = dict(oauth.connect_permissions())
    assert set(explained) == CONNECT == set(oauth.CONNECT_PERMISSIONS)
    assert all(why and "\n" not in why for why in explained.values())
    assert "business_management" not in settings.FACEBOOK_CONNECT_SCOPES


def test_the_page_picker_explains_the_permissions(client_member, business, monkeypatch):
    from social import services
    from social.services import UserToken

    monkeypatch.setattr(services, "facebook_pages_fetch", lambda **kwargs: [])
    session = client_member.session
    oauth.token_stash(session, user_token=UserToken(token="EAAtest", expires_at=None), business_id=business.pk)
    session.save()
    html = client_member.get(reverse("social:connect_pages")).content.decode()
    for scope, why in oauth.connect_permissions():
        assert f"<code>{scope}</code>" in html
        assert why.replace("'", "&#x27;") in html


def test_the_pages_screen_explains_each_permission_before_metas_dialog(client_member):
    """The consent step: staff read what Connect Facebook asks for before Meta's dialog opens."""
    response = client_member.get(reverse("social:account_list"))
    body = response.content.decode()
    for scope in CONNECT:
        assert f"<code>{scope}</code>" in body
    assert "business_management" not in body


def test_an_agent_is_not_shown_the_connect_permissions(client, business):
    from accounts.models import Membership
    from accounts.tests.factories import MembershipFactory

    agent = MembershipFactory(business=business, role=Membership.Role.AGENT).user
    client.force_login(agent)
    assert "pages_messaging" not in client.get(reverse("social:account_list")).content.decode()
