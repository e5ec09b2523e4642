"""The sandbox sends Meta's compliance callbacks, signed as Meta signs them, to the app's URLs."""

from __future__ import annotations

from unittest import mock

import pytest
from allauth.socialaccount.models import SocialAccount as LoginLink
from django.conf import settings
from django.test import Client, TestCase
from django.urls import reverse

from inbox.models import DataDeletionRequest
from sandbox.models import FacebookUser, Token
from social.models import SocialAccount
from social.signed_request import signed_request_parse

pytestmark = pytest.mark.django_db


@pytest.fixture
def fb_user(member):
    LoginLink.objects.create(user=member, provider="facebook", uid="10150000000000001")
    return FacebookUser.objects.create(fb_id="10150000000000001", name="Maria Rossi")


@pytest.fixture
def app_receives():
    """Route the sandbox's POST to SITE_URL through this process's app; records what was sent."""
    sent: list[dict] = []
    app = Client()

    def post(url, data, timeout):
        assert url.startswith(settings.SITE_URL)
        sent.append({"url": url, **data})
        with TestCase.captureOnCommitCallbacks(execute=True):
            response = app.post(url.removeprefix(settings.SITE_URL.rstrip("/")), data)
        fake = mock.Mock(status_code=response.status_code, ok=response.status_code < 400, text="")
        fake.json.return_value = response.json()
        return fake

    with mock.patch("sandbox.compliance.requests.post", side_effect=post):
        yield sent


def test_data_deletion_is_sent_signed_and_answered_with_a_code(client, fb_user, app_receives):
    response = client.post(reverse("sandbox:control_data_deletion"), {"user_id": fb_user.fb_id},
                           content_type="application/json")

    assert response.status_code == 200
    (sent,) = app_receives
    assert sent["url"] == settings.SITE_URL + "/meta/data-deletion/"
    parsed = signed_request_parse(sent["signed_request"], secret=settings.FACEBOOK_APP_SECRET)
    assert parsed.user_id == fb_user.fb_id and parsed.payload["algorithm"] == "HMAC-SHA256"
    answer = response.json()["answer"]
    assert answer["confirmation_code"] == DataDeletionRequest.objects.get().confirmation_code
    assert not LoginLink.objects.filter(uid=fb_user.fb_id).exists()


def test_deauthorize_ends_the_users_tokens_and_tells_the_app(client, fb_user, member, page, app_receives):
    page.connected_by = member
    page.save()
    token = Token.objects.create(token="EAASsandboxusertoken", kind=Token.Kind.USER, user=fb_user)

    response = client.post(reverse("sandbox:control_deauthorize"), {"user_id": fb_user.fb_id},
                           content_type="application/json")

    assert response.status_code == 200 and response.json()["answer"]["pages_to_reconnect"] == 1
    token.refresh_from_db()
    assert token.invalid_subcode == 458
    page.refresh_from_db()
    assert page.status == SocialAccount.Status.NEEDS_RECONNECT


def test_an_unknown_user_is_400(client, app_receives):
    response = client.post(reverse("sandbox:control_deauthorize"), {"user_id": "nobody"},
                           content_type="application/json")
    assert response.status_code == 400 and not app_receives
