"""Unread badges have one source (`inbox_counters`) and equal the list after every action."""

from __future__ import annotations

import re
from unittest import mock

import pytest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from inbox.models import Conversation
from inbox.realtime import COUNTERS_TEMPLATE, render_live
from inbox.selectors import inbox_counters
from inbox.tests.factories import ChatMessageFactory, ContactFactory, ConversationFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def _unread(page, name: str, **kwargs) -> Conversation:
    conversation = ConversationFactory(
        contact=ContactFactory(account=page, name=name), unread_count=1, last_inbound_at=timezone.now(), **kwargs
    )
    ChatMessageFactory(conversation=conversation, is_read=False)
    return conversation


def _fresh_counters(business) -> str:
    return render_to_string(COUNTERS_TEMPLATE, {"counters": inbox_counters(business=business)}).strip()


def _unread_list_count(client) -> int:
    html = client.get(reverse("inbox:conversation_list"), {"unread": "1"}).content.decode()
    return len(re.findall(r'<li id="conversation-\d+"', html))


def _badge(html: str) -> int:
    match = re.search(r'id="unread-total"[^>]*data-count="(\d+)"', html)
    return int(match.group(1))


def test_counters_count_only_what_the_unread_list_shows(business, page, other_page):
    _unread(page, "Open one")
    _unread(page, "Open two")
    _unread(page, "Resolved but unread", status=Conversation.Status.RESOLVED)
    ConversationFactory(contact=ContactFactory(account=page), unread_count=0)
    _unread(other_page, "Another business")
    counters = inbox_counters(business=business)
    assert counters.unread_conversations == 2
    assert [(a.account.pk, a.unread_conversations) for a in counters.accounts] == [(page.pk, 2)]


@pytest.mark.parametrize(
    ("name", "data", "status"),
    [
        ("conversation_resolve", {}, "open"),
        ("conversation_reopen", {}, "resolved"),
        ("conversation_pending", {}, "open"),
        ("conversation_unsnooze", {}, "snoozed"),
        ("conversation_snooze", {"preset": "1h"}, "open"),
        ("conversation_unread", {}, "open"),
        ("conversation_unread", {}, "resolved"),
        ("conversation_read", {}, "open"),
        ("conversation_priority", {"priority": "urgent"}, "open"),
        ("reply", {"text": "We open at 9"}, "open"),
    ],
)
def test_every_action_answers_with_the_counters_the_push_sends(client_member, business, page, name, data, status):
    _unread(page, "Someone else")
    conversation = _unread(page, "Giulia", status=status)
    if name == "conversation_unread":
        Conversation.objects.filter(pk=conversation.pk).update(unread_count=0)
    with mock.patch("inbox.tasks.message_send.apply_async"):
        response = client_member.post(reverse(f"inbox:{name}", args=[conversation.public_id]), data, **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    expected = _fresh_counters(business)
    assert expected in html
    # The very markup a push renders now, so the acting page and everyone else's agree.
    assert render_live(business_id=business.pk).strip() == expected
    # And the badge is the Unread list's length.
    assert _badge(html) == _unread_list_count(client_member)


def test_resolving_an_unread_conversation_takes_it_out_of_the_badges(client_member, business, page):
    _unread(page, "Stays")
    conversation = _unread(page, "Resolved now")
    before = client_member.get(reverse("inbox:conversation_list")).content.decode()
    assert _badge(before) == 2
    response = client_member.post(reverse("inbox:conversation_resolve", args=[conversation.public_id]), **HTMX)
    html = response.content.decode()
    assert _badge(html) == 1 == _unread_list_count(client_member)
    assert re.search(rf'id="unread-account-{page.pk}"[^>]*>1<', html)
    reopened = client_member.post(reverse("inbox:conversation_reopen", args=[conversation.public_id]), **HTMX)
    assert _badge(reopened.content.decode()) == 2 == _unread_list_count(client_member)


def test_opening_a_conversation_brings_its_row_and_the_counters_along(client_member, business, page):
    _unread(page, "Waiting")
    conversation = _unread(page, "Opened")
    response = client_member.get(reverse("inbox:conversation_detail", args=[conversation.public_id]), **HTMX)
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="conversation-pane"')
    fragments = html.split("<template data-live-fragments>", 1)[1].split("</template>", 1)[0]
    assert _fresh_counters(business) in fragments
    assert _badge(fragments) == 1 == _unread_list_count(client_member)
    assert f'id="conversation-{conversation.pk}"' in fragments and 'data-unread="0"' in fragments
    # The pane already holds the header and composer: they are not repeated.
    assert f'id="conversation-header-{conversation.pk}"' not in fragments


def test_opening_a_read_conversation_changes_no_badge_and_brings_nothing_along(client_member, page):
    conversation = ConversationFactory(contact=ContactFactory(account=page), unread_count=0)
    html = client_member.get(reverse("inbox:conversation_detail", args=[conversation.public_id]), **HTMX).content.decode()
    assert "data-live-fragments" not in html


def test_a_whole_conversation_page_carries_no_extra_fragments(client_member, page):
    conversation = _unread(page, "Opened")
    html = client_member.get(reverse("inbox:conversation_detail", args=[conversation.public_id])).content.decode()
    assert "data-live-fragments" not in html
    assert _badge(html) == 0


def test_the_dashboard_counts_unread_as_the_badges_do(client_member, business, page):
    _unread(page, "Open")
    _unread(page, "Resolved", status=Conversation.Status.RESOLVED)
    response = client_member.get(reverse("inbox:dashboard"))
    [row] = response.context["rows"]
    assert row.unread_conversations == 1 == inbox_counters(business=business).unread_conversations
    assert row.unread_messages == 1
    assert _badge(response.content.decode()) == 1
