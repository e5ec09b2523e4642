"""Changing a member's role on the team page says what happened: done, refused, or nothing to do."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import Membership
from accounts.tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def agent(business):
    return MembershipFactory(
        business=business, role="agent", user__email="agent@bakery.example", user__name="Ada Agent"
    )


@pytest.fixture
def admin(business):
    return MembershipFactory(business=business, role="admin", user__email="admin@bakery.example")


def _flash(response) -> str:
    html = response.content.decode()
    start = html.index('<ul class="flash"')
    return html[start : html.index("</ul>", start)]


def test_a_role_change_is_confirmed(client_member, agent):
    response = client_member.post(reverse("accounts:member_role", args=[agent.pk]), {"role": "admin"}, follow=True)
    assert 'class="flash-success"' in _flash(response)
    assert "The role of Ada Agent is now Admin." in _flash(response)
    assert Membership.objects.get(pk=agent.pk).role == "admin"


def test_choosing_the_same_role_says_nothing_changed(client_member, agent):
    response = client_member.post(reverse("accounts:member_role", args=[agent.pk]), {"role": "agent"}, follow=True)
    assert "was already Agent; nothing changed" in _flash(response)


def test_a_refused_change_is_shown_as_an_error(client, admin, business, member):
    owner = Membership.objects.get(business=business, user=member)
    client.force_login(admin.user)
    response = client.post(reverse("accounts:member_role", args=[admin.pk]), {"role": "owner"}, follow=True)
    flash = _flash(response)
    assert 'class="flash-error"' in flash and "was not changed" in flash and "Only an owner" in flash
    assert Membership.objects.get(pk=admin.pk).role == "admin"
    assert Membership.objects.get(pk=owner.pk).role == "owner"


def test_an_unknown_role_is_an_error_not_silence(client_member, agent):
    response = client_member.post(reverse("accounts:member_role", args=[agent.pk]), {"role": "king"}, follow=True)
    assert 'class="flash-error"' in _flash(response) and "choose one of the roles" in _flash(response)
    assert Membership.objects.get(pk=agent.pk).role == "agent"


def test_another_business_member_is_a_404(client_member, other_business):
    stranger = MembershipFactory(business=other_business, role="agent")
    response = client_member.post(reverse("accounts:member_role", args=[stranger.pk]), {"role": "admin"})
    assert response.status_code == 404
    assert Membership.objects.get(pk=stranger.pk).role == "agent"
