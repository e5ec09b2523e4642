from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client
from django.urls import reverse

from accounts.middleware import SESSION_KEY
from accounts.models import Membership
from accounts.tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_anonymous_visitors_are_sent_to_login(client):
    for name in ("accounts:team", "accounts:business_list", "accounts:business_create"):
        response = client.get(reverse(name))
        assert response.status_code == 302
        assert reverse("account_login") in response["Location"]


def _confirmation_link(message) -> str:
    found = re.search(r"https?://[^/\s]+(/accounts/confirm-email/[^\s]+/)", message.body)
    assert found, message.body
    return found.group(1)


def test_email_signup_needs_a_verified_address_before_anything_is_shown(client):
    response = client.post(
        reverse("account_signup"),
        {"email": "new@shop.test", "password1": "a-long-passphrase-42", "password2": "a-long-passphrase-42"},
    )
    assert response.status_code == 302 and response["Location"] == reverse("account_email_verification_sent")
    # Not signed in until the address is confirmed; signing in leads back to the confirmation notice.
    assert "_auth_user_id" not in client.session
    assert client.get(reverse("accounts:team"))["Location"].startswith(reverse("account_login"))
    response = client.post(reverse("account_login"), {"login": "new@shop.test", "password": "a-long-passphrase-42"})
    assert response["Location"] == reverse("account_email_verification_sent")
    assert "_auth_user_id" not in client.session
    assert len(mail.outbox) == 1
    # The confirmation email is branded: no "example.com" from the Sites framework.
    message = mail.outbox[0]
    assert message.subject.startswith("[Social Inbox] ") and "example.com" not in message.subject + message.body
    response = client.post(_confirmation_link(message))
    assert response.status_code == 302
    response = client.post(reverse("account_login"), {"login": "new@shop.test", "password": "a-long-passphrase-42"})
    assert response.status_code == 302 and int(client.session["_auth_user_id"])
    # A new user without a business is asked to create one.
    response = client.get(reverse("accounts:team"))
    assert response["Location"] == reverse("accounts:business_create")
    response = client.post(reverse("accounts:business_create"), {"name": "New Shop"})
    assert response.status_code == 302
    assert Membership.objects.get(user__email="new@shop.test").role == "owner"
    client.post(reverse("account_logout"))
    assert client.get(reverse("accounts:team")).status_code == 302
    response = client.post(reverse("account_login"), {"login": "new@shop.test", "password": "a-long-passphrase-42"})
    assert response.status_code == 302
    assert client.get(reverse("accounts:team")).status_code == 200


def test_signup_with_a_taken_address_answers_as_for_a_new_one(client, member):
    def sign_up(email: str):
        response = Client().post(reverse("account_signup"), {
            "email": email, "password1": "a-long-passphrase-42", "password2": "a-long-passphrase-42"}, follow=True)
        html = response.content.decode().replace(email, "<email>")
        return response.status_code, response.redirect_chain, re.sub(r'"X-CSRFToken": "\w+"', "", html)

    assert sign_up(member.email) == sign_up("brand-new@shop.test")
    # The existing account is untouched; its owner is told someone tried to sign up with their address.
    assert get_user_model().objects.filter(email=member.email).count() == 1
    assert member.__class__.objects.get(pk=member.pk).check_password("correct horse battery staple")
    [existing, new] = mail.outbox
    assert existing.to == [member.email] and new.to == ["brand-new@shop.test"]
    assert "example.com" not in existing.subject + existing.body


def test_password_reset_sends_an_email(client, member):
    client.post(reverse("account_reset_password"), {"email": member.email})
    assert len(mail.outbox) == 1
    assert member.email in mail.outbox[0].to
    # allauth's emails carry the product's name, not the Sites framework's "example.com".
    assert mail.outbox[0].subject.startswith("[Social Inbox] ")
    assert "example.com" not in mail.outbox[0].subject + mail.outbox[0].body


def test_switching_to_a_business_of_which_one_is_not_a_member_is_a_404(client_other, business):
    response = client_other.post(reverse("accounts:business_switch", args=[business.pk]))
    assert response.status_code == 404


def test_a_user_in_two_businesses_switches_between_them(client, member, business, other_business):
    MembershipFactory(user=member, business=other_business, role="agent")
    client.force_login(member)
    client.post(reverse("accounts:business_switch", args=[other_business.pk]))
    assert client.session[SESSION_KEY] == other_business.pk
    assert other_business.name in client.get(reverse("accounts:team")).content.decode()
    client.post(reverse("accounts:business_switch", args=[business.pk]))
    assert business.name in client.get(reverse("accounts:team")).content.decode()


def test_a_stale_session_business_falls_back_to_a_business_of_the_user(client, member, business, other_business):
    client.force_login(member)
    session = client.session
    session[SESSION_KEY] = other_business.pk  # not theirs
    session.save()
    body = client.get(reverse("accounts:team")).content.decode()
    assert business.name in body and other_business.name not in body


def test_owner_removes_staff_after_confirming(client_member, business):
    agent = MembershipFactory(business=business, role="agent")
    html = client_member.get(reverse("accounts:team")).content.decode()
    assert 'name="confirm" value="yes" required' in html  # the browser asks before it posts
    response = client_member.post(reverse("accounts:member_remove", args=[agent.pk]), follow=True)
    assert "was not removed: confirm the removal first" in response.content.decode()
    assert Membership.objects.filter(pk=agent.pk).exists()
    response = client_member.post(reverse("accounts:member_remove", args=[agent.pk]), {"confirm": "yes"}, follow=True)
    assert "was removed" in response.content.decode()
    assert not Membership.objects.filter(pk=agent.pk).exists()


def test_an_agent_cannot_manage_the_team(client, business):
    agent = MembershipFactory(business=business, role="agent")
    other_agent = MembershipFactory(business=business, role="agent")
    client.force_login(agent.user)
    assert client.post(reverse("accounts:invitation_create"), {"email": "x@example.com", "role": "agent"}).status_code == 403
    assert client.post(reverse("accounts:member_remove", args=[other_agent.pk]), {"confirm": "yes"}).status_code == 403
    assert client.post(reverse("accounts:member_role", args=[other_agent.pk]), {"role": "owner"}).status_code == 403
    assert Membership.objects.filter(pk=other_agent.pk, role="agent").exists()


def test_another_business_cannot_touch_our_memberships(client_other, business):
    agent = MembershipFactory(business=business, role="agent")
    assert client_other.post(reverse("accounts:member_remove", args=[agent.pk]), {"confirm": "yes"}).status_code == 404
    assert client_other.post(reverse("accounts:member_role", args=[agent.pk]), {"role": "owner"}).status_code == 404
    assert Membership.objects.filter(pk=agent.pk, role="agent").exists()


def test_team_page_lists_only_our_staff(client_member, business, other_member):
    body = client_member.get(reverse("accounts:team")).content.decode()
    assert other_member.email not in body


def test_user_manager_normalises_email():
    user = UserFactory(email="Someone@Example.COM")
    assert user.email == "someone@example.com"
