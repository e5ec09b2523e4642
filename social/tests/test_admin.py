from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.tests.factories import UserFactory
from social.tests.factories import SocialAccountFactory

pytestmark = pytest.mark.django_db

PAGE_TOKEN = "EAAPageTokenNeverInTheAdmin1234567890"
USER_TOKEN = "EAAUserTokenNeverInTheAdmin1234567890"


@pytest.fixture
def operator_client(client):
    client.force_login(UserFactory(email="ops@example.com", is_staff=True, is_superuser=True))
    return client


def test_admin_never_renders_a_token(operator_client, business):
    account = SocialAccountFactory(business=business, access_token=PAGE_TOKEN, refresh_token=USER_TOKEN)
    for url in (
        reverse("admin:social_socialaccount_changelist"),
        reverse("admin:social_socialaccount_change", args=[account.pk]),
        reverse("admin:social_socialaccount_changelist") + "?q=EAA",
    ):
        response = operator_client.get(url)
        assert response.status_code == 200
        body = response.content.decode()
        assert PAGE_TOKEN not in body and USER_TOKEN not in body
        # Not even the ciphertext is shown.
        assert "gAAAAA" not in body


def test_admin_cannot_set_a_token_through_the_form(operator_client, business):
    account = SocialAccountFactory(business=business, access_token=PAGE_TOKEN)
    response = operator_client.get(reverse("admin:social_socialaccount_change", args=[account.pk]))
    assert 'name="access_token"' not in response.content.decode()
    assert 'name="refresh_token"' not in response.content.decode()


def test_admin_shows_which_business_owns_the_page(operator_client, business):
    SocialAccountFactory(business=business, account_name="Bakery Page")
    body = operator_client.get(reverse("admin:social_socialaccount_changelist")).content.decode()
    assert "Bakery Page" in body and business.name in body


@pytest.mark.parametrize(
    "model", ["accounts.user", "accounts.business", "accounts.membership", "accounts.auditevent",
              "social.socialaccount", "inbox.webhookevent", "inbox.contact", "inbox.conversation",
              "inbox.chatmessage", "inbox.attachment", "inbox.pendingmessageupdate"],
)
def test_every_model_has_a_working_admin_changelist(operator_client, model):
    app_label, model_name = model.split(".")
    response = operator_client.get(reverse(f"admin:{app_label}_{model_name}_changelist"))
    assert response.status_code == 200
