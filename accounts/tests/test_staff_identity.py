"""Staff identity: display names, initials avatars, the profile page, last activity on the team page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.template import Context, Template
from django.urls import reverse
from django.utils import timezone

from accounts.avatars import staff_colour, staff_initials
from accounts.models import AuditEvent, Membership
from accounts.selectors import member_choices, member_display_name
from accounts.services import membership_touch, user_display_name_set
from accounts.tests.factories import InvitationFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def _client(client, user, business):
    from accounts.middleware import SESSION_KEY

    client.force_login(user)
    session = client.session
    session[SESSION_KEY] = business.pk
    session.save()
    return client


# --- names and avatars ---------------------------------------------------------------------------------


def test_the_display_name_is_the_chosen_name_else_the_email_s_local_part():
    assert member_display_name(UserFactory(email="giulia.rossi@bakery.example", name="Giulia R.")) == "Giulia R."
    assert member_display_name(UserFactory(email="marco@bakery.example", name="")) == "marco"
    assert member_display_name(None) == "Someone"


def test_initials_and_a_stable_colour_per_user():
    assert staff_initials("Giulia Rossi") == "GR"
    assert staff_initials("marco") == "M"
    assert staff_initials("anna.maria_bianchi") == "AB"
    assert staff_initials("") == "?"
    assert staff_colour(7) == staff_colour(7)
    assert {staff_colour(i) for i in range(8)} == set(range(8))


def test_the_avatar_tag_renders_initials_on_the_user_s_colour():
    user = UserFactory(name="Giulia Rossi")
    html = Template('{% load staff_tags %}{% staff_avatar u "sm" %}|{{ u|member_name }}').render(Context({"u": user}))
    assert f"avatar-c{staff_colour(user.pk)}" in html and "avatar-sm" in html
    assert ">GR<" in html and 'aria-hidden="true"' in html
    assert html.endswith("|Giulia Rossi")


def test_the_avatar_escapes_the_name():
    user = UserFactory(name="<b>Eve</b> Hacker")
    html = Template('{% load staff_tags %}{% staff_avatar u "xs" True %}').render(Context({"u": user}))
    assert "<b>" not in html and "&lt;b&gt;Eve&lt;/b&gt; Hacker" in html


def test_member_choices_lists_this_business_only(business, other_business):
    a = MembershipFactory(business=business, user__name="Zoe").user
    b = MembershipFactory(business=business, user__name="", user__email="adam@bakery.example").user
    MembershipFactory(business=other_business, user__name="Stranger")
    assert member_choices(business=business) == [(b.pk, "adam", b.email), (a.pk, "Zoe", a.email)]


# --- the profile page ------------------------------------------------------------------------------------


def test_the_profile_page_changes_the_display_name(client, business, member):
    client = _client(client, member, business)
    assert client.get(reverse("accounts:profile")).status_code == 200
    response = client.post(reverse("accounts:profile"), {"name": "  Giulia   Rossi "})
    assert response.status_code == 302
    member.refresh_from_db()
    assert member.name == "Giulia Rossi" and member.display_name == "Giulia Rossi"
    event = AuditEvent.objects.get(action="user.display_name_changed")
    assert event.actor == member and event.metadata["new"] == "Giulia Rossi"


def test_an_empty_name_falls_back_to_the_email(client, business, member):
    client = _client(client, member, business)
    client.post(reverse("accounts:profile"), {"name": ""})
    member.refresh_from_db()
    assert member.display_name == "owner"


def test_a_name_with_an_at_sign_is_refused(client, business, member):
    old = member.name
    client = _client(client, member, business)
    response = client.post(reverse("accounts:profile"), {"name": "giulia@home"})
    assert response.status_code == 200
    assert "cannot contain" in response.content.decode()
    member.refresh_from_db()
    assert member.name == old
    with pytest.raises(Exception, match="cannot contain"):
        user_display_name_set(user=member, name="a@b")


def test_the_profile_page_needs_a_login(client):
    assert client.get(reverse("accounts:profile")).status_code == 302


def test_the_header_links_to_the_profile(client, business, member):
    html = _client(client, member, business).get(reverse("accounts:team")).content.decode()
    assert reverse("accounts:profile") in html


# --- last activity ------------------------------------------------------------------------------------------


def test_last_activity_is_written_at_most_once_a_minute(business, member):
    membership = Membership.objects.get(user=member, business=business)
    now = timezone.now()
    assert membership_touch(membership=membership, now=now) is True
    assert membership_touch(membership=membership, now=now + timedelta(seconds=30)) is False
    fresh = Membership.objects.get(pk=membership.pk)
    assert fresh.last_seen_at == now
    # Another process holding an older copy does not write either, until the minute has passed.
    assert membership_touch(membership=fresh, now=now + timedelta(seconds=59)) is False
    assert membership_touch(membership=fresh, now=now + timedelta(seconds=61)) is True


def test_the_bell_request_records_last_activity_without_a_write_per_request(
    client, business, member, django_assert_num_queries
):
    client = _client(client, member, business)
    client.get(reverse("inbox:notification_bell"))
    seen = Membership.objects.get(user=member, business=business).last_seen_at
    assert seen is not None
    client.get(reverse("inbox:notification_bell"))
    assert Membership.objects.get(user=member, business=business).last_seen_at == seen


def test_the_team_page_shows_names_avatars_and_last_activity(client, business, member):
    agent = MembershipFactory(business=business, user__name="Ada Agent", role="agent")
    Membership.objects.filter(pk=agent.pk).update(last_seen_at=timezone.now() - timedelta(hours=3))
    html = _client(client, member, business).get(reverse("accounts:team")).content.decode()
    assert "Ada Agent" in html and ">AA<" in html
    assert "Last active" in html and "3\xa0hours ago" in html
    assert "Not yet" in html  # the owner has never loaded a page with the bell
    Membership.objects.filter(pk=agent.pk).update(last_seen_at=timezone.now() - timedelta(seconds=50))
    assert "Active now" in _client(client, member, business).get(reverse("accounts:team")).content.decode()


def test_the_team_page_shows_pending_invitations_to_managers(client, business, member):
    InvitationFactory(business=business, email="newbie@bakery.example")
    html = _client(client, member, business).get(reverse("accounts:team")).content.decode()
    assert "Pending invitations" in html and "newbie@bakery.example" in html


def test_agents_see_no_invitations(client, business):
    agent = MembershipFactory(business=business, role="agent").user
    InvitationFactory(business=business, email="newbie@bakery.example")
    html = _client(client, agent, business).get(reverse("accounts:team")).content.decode()
    assert "newbie@bakery.example" not in html
