"""A member's notification choices: per business, only their own, shown on the profile page."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import Membership
from accounts.tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db

URL = "accounts:alert_preferences"


def _choices(user, business) -> tuple[bool, bool, bool, bool]:
    return Membership.objects.values_list(
        "notify_new_conversations", "notify_assigned_messages", "notify_mentions", "notify_sound"
    ).get(user=user, business=business)


def test_defaults_all_on_but_sound(member, business):
    assert _choices(member, business) == (True, True, True, False)


def test_profile_shows_the_choices(client_member):
    html = client_member.get(reverse("accounts:profile")).content.decode()
    assert 'id="alert-preferences"' in html and "Turn on desktop notifications" in html
    assert 'name="notify_mentions" checked' in html and 'name="notify_sound">' in html


def test_saving_changes_only_the_current_business_membership(client_member, member, business, other_business):
    elsewhere = MembershipFactory(user=member, business=other_business)
    response = client_member.post(reverse(URL), {"notify_mentions": "on", "notify_sound": "on"})
    assert response.status_code == 302 and response.url == reverse("accounts:profile")
    assert _choices(member, business) == (False, False, True, True)
    elsewhere.refresh_from_db()
    assert (elsewhere.notify_mentions, elsewhere.notify_sound, elsewhere.notify_new_conversations) == (
        True,
        False,
        True,
    )


def test_htmx_answer_is_the_section(client_member, member, business):
    response = client_member.post(reverse(URL), {"notify_new_conversations": "on"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="alert-preferences"' in html and "Saved." in html and "<html" not in html
    assert _choices(member, business) == (True, False, False, False)


def test_another_business_member_cannot_touch_ours(client_other, member, business):
    # Olga's POST changes Olga's own membership in her business; ours is untouched.
    client_other.post(reverse(URL), {})
    assert _choices(member, business) == (True, True, True, False)


def test_a_tab_left_on_another_business_changes_nothing(client_member, member, business, other_business):
    MembershipFactory(user=member, business=other_business)
    # The page was rendered for the other business (another tab switched since): refused with a notice.
    response = client_member.post(
        reverse(URL), {}, HTTP_HX_REQUEST="true", HTTP_X_INBOX_BUSINESS=str(other_business.pk)
    )
    assert response.status_code != 200 and response.headers.get("X-Inbox-Notice")
    assert _choices(member, business) == (True, True, True, False)
    assert _choices(member, other_business) == (True, True, True, False)


def test_get_is_not_allowed_and_anonymous_is_sent_to_sign_in(client_member, client):
    assert client_member.get(reverse(URL)).status_code == 405
    client.logout()
    response = client.post(reverse(URL), {})
    assert response.status_code == 302 and "login" in response.url
