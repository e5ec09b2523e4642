from __future__ import annotations

import pytest
from django.core import mail
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


def test_email_signup_login_and_logout_work(client):
    response = client.post(
        reverse("account_signup"),
        {"email": "new@example.com", "password1": "a-long-passphrase-42", "password2": "a-long-passphrase-42"},
    )
    assert response.status_code == 302
    # A new user without a business is asked to create one.
    response = client.get(reverse("accounts:team"))
    assert response["Location"] == reverse("accounts:business_create")
    response = client.post(reverse("accounts:business_create"), {"name": "New Shop"})
    assert response.status_code == 302
    assert Membership.objects.get(user__email="new@example.com").role == "owner"
    client.post(reverse("account_logout"))
    assert client.get(reverse("accounts:team")).status_code == 302
    response = client.post(reverse("account_login"), {"login": "new@example.com", "password": "a-long-passphrase-42"})
    assert response.status_code == 302
    assert client.get(reverse("accounts:team")).status_code == 200


def test_password_reset_sends_an_email(client, member):
    client.post(reverse("account_reset_password"), {"email": member.email})
    assert len(mail.outbox) == 1
    assert member.email in mail.outbox[0].to


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


def test_owner_adds_staff_by_email_who_gets_a_password_link(client_member, business):
    response = client_member.post(reverse("accounts:member_add"), {"email": "agent@bakery.example", "role": "agent"})
    assert response.status_code == 302
    assert Membership.objects.filter(business=business, user__email="agent@bakery.example", role="agent").exists()
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["agent@bakery.example"]


def test_owner_removes_staff(client_member, business):
    agent = MembershipFactory(business=business, role="agent")
    client_member.post(reverse("accounts:member_remove", args=[agent.pk]))
    assert not Membership.objects.filter(pk=agent.pk).exists()


def test_an_agent_cannot_manage_the_team(client, business):
    agent = MembershipFactory(business=business, role="agent")
    other_agent = MembershipFactory(business=business, role="agent")
    client.force_login(agent.user)
    assert client.post(reverse("accounts:member_add"), {"email": "x@example.com", "role": "agent"}).status_code == 403
    assert client.post(reverse("accounts:member_remove", args=[other_agent.pk])).status_code == 403
    assert client.post(reverse("accounts:member_role", args=[other_agent.pk]), {"role": "owner"}).status_code == 403
    assert Membership.objects.filter(pk=other_agent.pk, role="agent").exists()


def test_another_business_cannot_touch_our_memberships(client_other, business):
    agent = MembershipFactory(business=business, role="agent")
    assert client_other.post(reverse("accounts:member_remove", args=[agent.pk])).status_code == 404
    assert client_other.post(reverse("accounts:member_role", args=[agent.pk]), {"role": "owner"}).status_code == 404
    assert Membership.objects.filter(pk=agent.pk, role="agent").exists()


def test_team_page_lists_only_our_staff(client_member, business, other_member):
    body = client_member.get(reverse("accounts:team")).content.decode()
    assert other_member.email not in body


def test_user_manager_normalises_email():
    user = UserFactory(email="Someone@Example.COM")
    assert user.email == "someone@example.com"
