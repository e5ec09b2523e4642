"""The top bar's business switcher: the member's businesses only, each with its unread count (one
query, capped at 99+), and a switch by POST."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.tests.factories import BusinessFactory, MembershipFactory
from inbox.models import Conversation
from inbox.selectors import UNREAD_COUNT_CAP, business_unread_list
from inbox.tests.factories import ContactFactory, ConversationFactory
from social.tests.factories import SocialAccountFactory

pytestmark = pytest.mark.django_db


def _unread(business, n: int, **extra) -> None:
    account = SocialAccountFactory(business=business)
    for _ in range(n):
        ConversationFactory(contact=ContactFactory(account=account), unread_count=1, **extra)


def test_counts_only_the_members_businesses_in_one_query(member, business, other_business, django_assert_num_queries):
    flowers = BusinessFactory(name="Verdi Flowers")
    MembershipFactory(user=member, business=flowers, role="agent")
    _unread(business, 2)
    _unread(flowers, 3)
    _unread(flowers, 4, status=Conversation.Status.RESOLVED)  # not in the Unread list: not counted
    _unread(other_business, 5)  # not a member: never listed, never counted
    with django_assert_num_queries(1):
        rows = business_unread_list(user_id=member.pk)
    assert [(r.name, r.unread_conversations) for r in rows] == [("Bakery Rossi", 2), ("Verdi Flowers", 3)]


def test_the_count_stops_at_the_cap(member, business):
    account = SocialAccountFactory(business=business)
    for _ in range(UNREAD_COUNT_CAP + 5):
        ConversationFactory(contact=ContactFactory(account=account), unread_count=1)
    [row] = business_unread_list(user_id=member.pk)
    assert row.unread_conversations == UNREAD_COUNT_CAP and row.capped


def test_the_top_bar_lists_them_with_counts_and_switches_by_post(client_member, member, business, other_business):
    flowers = BusinessFactory(name="Verdi Flowers")
    MembershipFactory(user=member, business=flowers, role="agent")
    _unread(flowers, 3)
    _unread(other_business, 7)
    html = client_member.get(reverse("accounts:team")).content.decode()
    switcher = html[
        html.index('<details class="biz-switch"') : html.index("</details>", html.index('class="biz-switch"'))
    ]
    assert "Verdi Flowers" in switcher and "Other Shop" not in switcher
    assert f'action="{reverse("accounts:business_switch", args=[flowers.pk])}"' in switcher
    assert 'aria-current="true"' in switcher and 'class="biz-elsewhere"' in switcher
    assert reverse("accounts:business_switch", args=[other_business.pk]) not in switcher


def test_switching_to_a_business_of_another_is_refused(client_member, other_business):
    response = client_member.post(reverse("accounts:business_switch", args=[other_business.pk]))
    assert response.status_code == 404


def test_access_ends_when_the_membership_is_taken_away(client_member, member, business):
    flowers = BusinessFactory(name="Verdi Flowers")
    membership = MembershipFactory(user=member, business=flowers, role="agent")
    assert "Verdi Flowers" in client_member.get(reverse("accounts:team")).content.decode()
    membership.delete()
    assert "Verdi Flowers" not in client_member.get(reverse("accounts:team")).content.decode()
    assert client_member.post(reverse("accounts:business_switch", args=[flowers.pk])).status_code == 404


def test_the_priority_filter_has_its_own_empty_state(client_member, page):
    html = client_member.get(reverse("inbox:conversation_list") + "?priority=any").content.decode()
    assert "No prioritised conversations" in html
    assert "New conversations appear here" not in html
