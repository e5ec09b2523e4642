"""Connecting a page keeps who connected it (settings.profile) and the page's metadata (settings.pages),
never a token: what an account's API document shows as `settings`."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from api.documents import account_document
from sandbox.testing import sandbox_http_fixture, user_token  # noqa: F401 - fixture
from social import services
from social.models import Platform, SocialAccount

pytestmark = pytest.mark.django_db

BAKERY, BAKERY_IG, MARCO = "104857600123456", "17841400000000000", "10215241773831025"


def _connect(business, member, django_capture_on_commit_callbacks, **kwargs):
    token = services.UserToken(token=user_token(fb_id=MARCO), expires_at=timezone.now() + timedelta(days=60))
    with django_capture_on_commit_callbacks(execute=False):
        return services.accounts_connect(business=business, actor=member, user_token=token, **kwargs)


def test_connect_stores_the_connecting_profile_and_page_metadata(
    sandbox_http, business, member, django_capture_on_commit_callbacks
):
    _connect(business, member, django_capture_on_commit_callbacks, page_ids=[BAKERY], instagram_ids=[BAKERY_IG])
    page = SocialAccount.objects.get(platform=Platform.FACEBOOK, account_id=BAKERY)
    profile = page.settings["profile"]
    assert profile["id"] == MARCO and profile["name"]
    assert profile["picture"].endswith(f"user-{MARCO}.png")
    pages = page.settings["pages"]
    assert (pages["id"], pages["name"], pages["category"]) == (BAKERY, "Bakery Rossi", "Bakery")
    assert "MESSAGING" in pages["tasks"]
    instagram = SocialAccount.objects.get(platform=Platform.INSTAGRAM, account_id=BAKERY_IG)
    assert instagram.settings["profile"] == profile and instagram.settings["pages"]["id"] == BAKERY_IG
    for account in (page, instagram):
        stored = json.dumps(account.settings)
        assert "token" not in stored
        assert page.access_token not in stored and page.refresh_token not in stored
        document = json.dumps(account_document(account))
        assert page.access_token not in document and page.refresh_token not in document
        assert account_document(account)["settings"]["profile"] == profile
